//! The built-in resources: names, scope, verbs, subresources, short names and categories,
//! as upstream's discovery documents list them, plus where each is stored.
//!
//! A resource may be served in several versions (HorizontalPodAutoscaler in autoscaling/v1
//! and v2) or under two groups (Event in core/v1 and events.k8s.io/v1); such variants share
//! one storage location and are converted on the way in and out.

/// Kinds that are answered on the spot and never stored (reviews, bindings).
pub const EPHEMERAL_KINDS: &[&str] = &[
    "Binding",
    "SelfSubjectAccessReview",
    "SelfSubjectRulesReview",
    "SelfSubjectReview",
];

/// The verbs of an ordinary read-write resource.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const NS_VERBS: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];
const CREATE_ONLY: &[&str] = &["create"];
const STATUS_VERBS: &[&str] = &["get", "patch", "update"];

/// A subresource listed in discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subresource {
    /// `status`, `scale`, `binding`, ...
    pub name: &'static str,
    /// Group of the object the subresource takes and returns.
    pub group: &'static str,
    /// Version of that object.
    pub version: &'static str,
    /// Kind of that object.
    pub kind: &'static str,
    /// Verbs.
    pub verbs: &'static [&'static str],
}

/// One served resource in one group/version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDef {
    /// API group ("" for core).
    pub group: String,
    /// Version served.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// URL plural (`deployments`).
    pub plural: String,
    /// Singular name (`deployment`).
    pub singular: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Verbs.
    pub verbs: Vec<&'static str>,
    /// Short names for kubectl (`deploy`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Subresources.
    pub subresources: Vec<Subresource>,
    /// Group under which objects are stored (differs for events.k8s.io).
    pub storage_group: String,
    /// Resource plural under which objects are stored.
    pub storage_plural: String,
    /// Version in which objects are stored; others are converted.
    pub storage_version: String,
    /// Name of the OpenAPI component schema of the kind, if any.
    pub schema: Option<String>,
    /// True when objects are not stored at all (reviews answered on the spot).
    pub ephemeral: bool,
    /// Served for a CustomResourceDefinition (not a built-in kind).
    pub custom: Option<CustomInfo>,
}

/// What a custom resource adds to its `ResourceDef`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomInfo {
    /// `additionalPrinterColumns` of the version.
    pub columns: Vec<PrinterColumn>,
    /// The `scale` subresource's paths, if any.
    pub scale: Option<ScalePaths>,
    /// Name of the CustomResourceDefinition.
    pub crd: String,
}

/// One `additionalPrinterColumns` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrinterColumn {
    /// Header.
    pub name: String,
    /// OpenAPI type (`string`, `integer`, `number`, `boolean`, `date`).
    pub type_: String,
    /// OpenAPI format.
    pub format: String,
    /// Description.
    pub description: String,
    /// 0 = shown by default; higher only with `-o wide`.
    pub priority: i64,
    /// Simple JSONPath of the value (`.spec.replicas`).
    pub json_path: String,
}

/// JSON paths of the scale subresource of a custom resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScalePaths {
    /// `.spec.replicas`-like path of the desired replicas.
    pub spec_replicas: String,
    /// `.status.replicas`-like path of the observed replicas.
    pub status_replicas: String,
    /// Path of the label selector string in status, if any.
    pub label_selector: Option<String>,
}

impl ResourceDef {
    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The `Target` used in error messages.
    pub fn target(&self) -> crate::status::Target<'_> {
        crate::status::Target {
            group: &self.group,
            resource: &self.plural,
            kind: &self.kind,
        }
    }

    /// Whether a subresource exists.
    pub fn has_subresource(&self, name: &str) -> bool {
        self.subresources.iter().any(|s| s.name == name)
    }

    /// Key prefix of all objects of this resource in the store, ending in `/`.
    pub fn storage_prefix(&self) -> String {
        storage_prefix(&self.storage_group, &self.storage_plural)
    }

    /// Key prefix of the objects of this resource in one namespace, ending in `/`.
    pub fn namespace_prefix(&self, namespace: &str) -> String {
        format!("{}{namespace}/", self.storage_prefix())
    }

    /// The store key of one object.
    pub fn key(&self, namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}{ns}/{name}", self.storage_prefix()),
            _ => format!("{}{name}", self.storage_prefix()),
        }
    }

    /// Whether this variant is the one objects are stored as.
    pub fn is_storage_version(&self) -> bool {
        self.group == self.storage_group && self.version == self.storage_version
    }
}

/// Key prefix for a storage location (`/registry/apps/deployments/`).
pub fn storage_prefix(group: &str, plural: &str) -> String {
    let g = if group.is_empty() { "core" } else { group };
    format!("/registry/{g}/{plural}/")
}

struct Def {
    gv: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    all: bool,
    subs: &'static [&'static str],
    verbs: &'static [&'static str],
}

const fn d(
    gv: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    all: bool,
    subs: &'static [&'static str],
) -> Def {
    Def {
        gv,
        kind,
        plural,
        namespaced,
        short,
        all,
        subs,
        verbs: ALL_VERBS,
    }
}

const NS: bool = true;
const CL: bool = false;

/// The built-in table, in the order discovery lists groups and resources.
const BUILT_IN: &[Def] = &[
    d("v1", "Binding", "bindings", NS, &[], false, &[]),
    d("v1", "ConfigMap", "configmaps", NS, &["cm"], false, &[]),
    d("v1", "Endpoints", "endpoints", NS, &["ep"], false, &[]),
    d("v1", "Event", "events", NS, &["ev"], false, &[]),
    d("v1", "LimitRange", "limitranges", NS, &["limits"], false, &[]),
    Def {
        verbs: NS_VERBS,
        ..d(
            "v1",
            "Namespace",
            "namespaces",
            CL,
            &["ns"],
            false,
            &["status", "finalize"],
        )
    },
    d("v1", "Node", "nodes", CL, &["no"], false, &["status"]),
    d(
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        NS,
        &["pvc"],
        false,
        &["status"],
    ),
    d(
        "v1",
        "PersistentVolume",
        "persistentvolumes",
        CL,
        &["pv"],
        false,
        &["status"],
    ),
    d(
        "v1",
        "Pod",
        "pods",
        NS,
        &["po"],
        true,
        &["binding", "eviction", "log", "status"],
    ),
    d(
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        NS,
        &["rc"],
        true,
        &["scale", "status"],
    ),
    d(
        "v1",
        "ResourceQuota",
        "resourcequotas",
        NS,
        &["quota"],
        false,
        &["status"],
    ),
    d("v1", "Secret", "secrets", NS, &[], false, &[]),
    d("v1", "ServiceAccount", "serviceaccounts", NS, &["sa"], false, &[]),
    d("v1", "Service", "services", NS, &["svc"], true, &["status"]),
    d(
        "apps/v1",
        "ControllerRevision",
        "controllerrevisions",
        NS,
        &[],
        false,
        &[],
    ),
    d(
        "apps/v1",
        "DaemonSet",
        "daemonsets",
        NS,
        &["ds"],
        true,
        &["status"],
    ),
    d(
        "apps/v1",
        "Deployment",
        "deployments",
        NS,
        &["deploy"],
        true,
        &["scale", "status"],
    ),
    d(
        "apps/v1",
        "ReplicaSet",
        "replicasets",
        NS,
        &["rs"],
        true,
        &["scale", "status"],
    ),
    d(
        "apps/v1",
        "StatefulSet",
        "statefulsets",
        NS,
        &["sts"],
        true,
        &["scale", "status"],
    ),
    d("events.k8s.io/v1", "Event", "events", NS, &["ev"], false, &[]),
    Def {
        verbs: CREATE_ONLY,
        ..d(
            "authentication.k8s.io/v1",
            "SelfSubjectReview",
            "selfsubjectreviews",
            CL,
            &[],
            false,
            &[],
        )
    },
    Def {
        verbs: CREATE_ONLY,
        ..d(
            "authorization.k8s.io/v1",
            "SelfSubjectRulesReview",
            "selfsubjectrulesreviews",
            CL,
            &[],
            false,
            &[],
        )
    },
    Def {
        verbs: CREATE_ONLY,
        ..d(
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview",
            "selfsubjectaccessreviews",
            CL,
            &[],
            false,
            &[],
        )
    },
    d(
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        NS,
        &["hpa"],
        true,
        &["status"],
    ),
    d(
        "autoscaling/v1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        NS,
        &["hpa"],
        true,
        &["status"],
    ),
    d("batch/v1", "CronJob", "cronjobs", NS, &["cj"], true, &["status"]),
    d("batch/v1", "Job", "jobs", NS, &[], true, &["status"]),
    d(
        "networking.k8s.io/v1",
        "IngressClass",
        "ingressclasses",
        CL,
        &[],
        false,
        &[],
    ),
    d(
        "networking.k8s.io/v1",
        "Ingress",
        "ingresses",
        NS,
        &["ing"],
        false,
        &["status"],
    ),
    d(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        "networkpolicies",
        NS,
        &["netpol"],
        false,
        &[],
    ),
    d(
        "policy/v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        NS,
        &["pdb"],
        false,
        &["status"],
    ),
    d(
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        CL,
        &[],
        false,
        &[],
    ),
    d(
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        "clusterroles",
        CL,
        &[],
        false,
        &[],
    ),
    d(
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        "rolebindings",
        NS,
        &[],
        false,
        &[],
    ),
    d(
        "rbac.authorization.k8s.io/v1",
        "Role",
        "roles",
        NS,
        &[],
        false,
        &[],
    ),
    d(
        "storage.k8s.io/v1",
        "StorageClass",
        "storageclasses",
        CL,
        &["sc"],
        false,
        &[],
    ),
    d(
        "admissionregistration.k8s.io/v1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        CL,
        &[],
        false,
        &[],
    ),
    d(
        "admissionregistration.k8s.io/v1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        CL,
        &[],
        false,
        &[],
    ),
    d(
        "apiregistration.k8s.io/v1",
        "APIService",
        "apiservices",
        CL,
        &[],
        false,
        &["status"],
    ),
    d(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        CL,
        &["crd", "crds"],
        false,
        &["status"],
    ),
    d(
        "scheduling.k8s.io/v1",
        "PriorityClass",
        "priorityclasses",
        CL,
        &["pc"],
        false,
        &[],
    ),
    d(
        "certificates.k8s.io/v1",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        CL,
        &["csr"],
        false,
        &["approval", "status"],
    ),
    d("coordination.k8s.io/v1", "Lease", "leases", NS, &[], false, &[]),
    d(
        "discovery.k8s.io/v1",
        "EndpointSlice",
        "endpointslices",
        NS,
        &[],
        false,
        &[],
    ),
];

fn split_gv(gv: &str) -> (&str, &str) {
    match gv.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", gv),
    }
}

fn subresource(parent: &Def, name: &'static str) -> Subresource {
    let (group, version) = split_gv(parent.gv);
    match name {
        "scale" => Subresource {
            name,
            group: "autoscaling",
            version: "v1",
            kind: "Scale",
            verbs: STATUS_VERBS,
        },
        "binding" => Subresource {
            name,
            group: "",
            version: "v1",
            kind: "Binding",
            verbs: CREATE_ONLY,
        },
        "eviction" => Subresource {
            name,
            group: "policy",
            version: "v1",
            kind: "Eviction",
            verbs: CREATE_ONLY,
        },
        // Answered with text, but discovery names the parent kind, as upstream.
        "log" => Subresource {
            name,
            group,
            version,
            kind: parent.kind,
            verbs: &["get"],
        },
        "finalize" => Subresource {
            name,
            group,
            version,
            kind: parent.kind,
            verbs: &["update"],
        },
        _ => Subresource {
            name,
            group,
            version,
            kind: parent.kind,
            verbs: STATUS_VERBS,
        },
    }
}

/// Where a built-in resource is stored: (group, plural, version).
fn storage_of(group: &str, version: &str, plural: &str) -> (&'static str, Option<&'static str>) {
    match (group, plural) {
        ("events.k8s.io", "events") => ("", Some("v1")),
        ("autoscaling", "horizontalpodautoscalers") => ("autoscaling", Some("v2")),
        _ => {
            let _ = version;
            ("", None)
        }
    }
}

/// Every built-in resource, in discovery order. Group variants of one resource share a
/// storage location (see `ResourceDef::storage_group`).
pub fn built_in() -> Vec<ResourceDef> {
    BUILT_IN
        .iter()
        .map(|def| {
            let (group, version) = split_gv(def.gv);
            let (sg, sv) = storage_of(group, version, def.plural);
            let (storage_group, storage_version) = match sv {
                Some(v) => (sg.to_string(), v.to_string()),
                None => (group.to_string(), version.to_string()),
            };
            let ephemeral = EPHEMERAL_KINDS.contains(&def.kind);
            ResourceDef {
                group: group.to_string(),
                version: version.to_string(),
                kind: def.kind.to_string(),
                plural: def.plural.to_string(),
                singular: def.kind.to_lowercase(),
                namespaced: def.namespaced,
                verbs: if def.kind == "Binding" {
                    CREATE_ONLY.to_vec()
                } else {
                    def.verbs.to_vec()
                },
                custom: None,
                short_names: def.short.iter().map(|s| s.to_string()).collect(),
                categories: if def.all {
                    vec!["all".to_string()]
                } else {
                    Vec::new()
                },
                subresources: def.subs.iter().map(|s| subresource(def, s)).collect(),
                storage_group,
                storage_plural: def.plural.to_string(),
                storage_version,
                schema: None,
                ephemeral,
            }
        })
        .collect()
}

/// Lookup over a set of served resources.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    resources: Vec<ResourceDef>,
}

impl Registry {
    /// Wraps a list of resources (in discovery order).
    pub fn new(resources: Vec<ResourceDef>) -> Self {
        Self { resources }
    }

    /// All resources.
    pub fn all(&self) -> &[ResourceDef] {
        &self.resources
    }

    /// The resource served at `group`/`version`/`plural`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceDef> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    /// The resource of a kind in a group/version.
    pub fn find_kind(&self, group: &str, version: &str, kind: &str) -> Option<&ResourceDef> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.kind == kind)
    }

    /// The variant stored for a resource (itself, if it is the storage version).
    pub fn storage_def(&self, def: &ResourceDef) -> Option<&ResourceDef> {
        self.resources.iter().find(|r| {
            r.group == def.storage_group && r.version == def.storage_version && r.plural == def.storage_plural
        })
    }

    /// Groups in discovery order, each with its versions in preference order.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in &self.resources {
            match out.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, versions)) => {
                    if !versions.contains(&r.version) {
                        versions.push(r.version.clone());
                    }
                }
                None => out.push((r.group.clone(), vec![r.version.clone()])),
            }
        }
        out
    }

    /// Adds (or replaces) a resource, e.g. when a CRD becomes established.
    pub fn upsert(&mut self, def: ResourceDef) {
        match self
            .resources
            .iter_mut()
            .find(|r| r.group == def.group && r.version == def.version && r.plural == def.plural)
        {
            Some(slot) => *slot = def,
            None => self.resources.push(def),
        }
    }

    /// Removes every version of `group`/`plural`.
    pub fn remove(&mut self, group: &str, plural: &str) {
        self.resources
            .retain(|r| !(r.group == group && r.plural == plural));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_locations() {
        let reg = Registry::new(built_in());
        let ev = reg.find("events.k8s.io", "v1", "events").unwrap();
        assert_eq!(ev.storage_prefix(), "/registry/core/events/");
        assert!(!ev.is_storage_version());
        assert_eq!(reg.storage_def(ev).unwrap().group, "");
        let hpa1 = reg.find("autoscaling", "v1", "horizontalpodautoscalers").unwrap();
        assert_eq!(hpa1.storage_version, "v2");
        let dep = reg.find("apps", "v1", "deployments").unwrap();
        assert_eq!(
            dep.key(Some("default"), "web"),
            "/registry/apps/deployments/default/web"
        );
        assert_eq!(dep.subresources[0].kind, "Scale");
        let ns = reg.find("", "v1", "namespaces").unwrap();
        assert_eq!(ns.key(Some("x"), "default"), "/registry/core/namespaces/default");
        assert_eq!(reg.groups()[0], ("".to_string(), vec!["v1".to_string()]));
        let autoscaling = reg
            .groups()
            .into_iter()
            .find(|(g, _)| g == "autoscaling")
            .unwrap();
        assert_eq!(autoscaling.1, vec!["v2", "v1"]);
    }
}
