//! Strategic-merge and list-type metadata of the built-in kinds.
//!
//! k8s-openapi's schemars output carries types and descriptions but not the
//! `x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`, `x-kubernetes-list-type` and
//! `x-kubernetes-list-map-keys` extensions of upstream's OpenAPI. Strategic merge patch cannot
//! work without them (containers would be replaced instead of merged by name), and kubectl
//! reads them too, so `apply` puts them back from the table below onto the property schemas.
//!
//! The table lists every annotated property of the schemas krust serves, with the values of
//! upstream's Kubernetes 1.33 API (the `+patchStrategy`, `+patchMergeKey`, `+listType` and
//! `+listMapKey` markers of the Go types). A test checks that each entry names an existing
//! schema and property, so a typo or a field dropped by a k8s-openapi upgrade fails loudly.

use serde_json::{Map, Value, json};

use crate::generate::KindSchema;

/// Extensions of one property.
#[derive(Debug, Clone, Copy)]
struct Field {
    property: &'static str,
    /// `x-kubernetes-patch-strategy` (`merge`, `retainKeys`, `merge,retainKeys`, `replace`).
    strategy: Option<&'static str>,
    /// `x-kubernetes-patch-merge-key`.
    merge_key: Option<&'static str>,
    /// `x-kubernetes-list-type` (`atomic`, `set`, `map`).
    list_type: Option<&'static str>,
    /// `x-kubernetes-list-map-keys`, for `map` lists.
    map_keys: &'static [&'static str],
}

const fn field(property: &'static str) -> Field {
    Field {
        property,
        strategy: None,
        merge_key: None,
        list_type: None,
        map_keys: &[],
    }
}

/// A list replaced as a whole.
const fn atomic(property: &'static str) -> Field {
    Field {
        list_type: Some("atomic"),
        ..field(property)
    }
}

/// A list of unique scalars.
const fn set(property: &'static str) -> Field {
    Field {
        list_type: Some("set"),
        ..field(property)
    }
}

/// A list of objects identified by `keys`.
const fn map(property: &'static str, keys: &'static [&'static str]) -> Field {
    Field {
        list_type: Some("map"),
        map_keys: keys,
        ..field(property)
    }
}

impl Field {
    /// Strategic merge by `key` (the common `patchStrategy:"merge"` with a merge key).
    const fn merge_by(self, key: &'static str) -> Field {
        self.strategy("merge").key(key)
    }

    const fn strategy(self, strategy: &'static str) -> Field {
        Field {
            strategy: Some(strategy),
            ..self
        }
    }

    const fn key(self, key: &'static str) -> Field {
        Field {
            merge_key: Some(key),
            ..self
        }
    }
}

/// Schema (short name, see `full_name`) → its annotated properties.
#[rustfmt::skip]
const TABLE: &[(&str, &[Field])] = &[
    ("apiextensions.v1.CustomResourceDefinitionNames", &[atomic("categories"), atomic("shortNames")]),
    ("apiextensions.v1.CustomResourceDefinitionSpec", &[atomic("versions")]),
    ("apiextensions.v1.CustomResourceDefinitionStatus", &[
        map("conditions", &["type"]), atomic("storedVersions"),
    ]),
    ("apiextensions.v1.CustomResourceDefinitionVersion", &[
        atomic("additionalPrinterColumns"), atomic("selectableFields"),
    ]),
    ("apiextensions.v1.JSONSchemaProps", &[
        atomic("allOf"), atomic("anyOf"), atomic("enum"), atomic("oneOf"), atomic("required"),
        atomic("x-kubernetes-list-map-keys"), map("x-kubernetes-validations", &["rule"]).merge_by("rule"),
    ]),
    ("apiextensions.v1.WebhookConversion", &[atomic("conversionReviewVersions")]),
    ("apps.v1.DaemonSetStatus", &[map("conditions", &["type"]).merge_by("type")]),
    ("apps.v1.DeploymentSpec", &[field("strategy").strategy("retainKeys")]),
    ("apps.v1.DeploymentStatus", &[map("conditions", &["type"]).merge_by("type")]),
    ("apps.v1.ReplicaSetStatus", &[map("conditions", &["type"]).merge_by("type")]),
    ("apps.v1.StatefulSetSpec", &[atomic("volumeClaimTemplates")]),
    ("apps.v1.StatefulSetStatus", &[map("conditions", &["type"]).merge_by("type")]),
    ("authorization.v1.FieldSelectorAttributes", &[atomic("requirements")]),
    ("authorization.v1.LabelSelectorAttributes", &[atomic("requirements")]),
    ("autoscaling.v2.HPAScalingRules", &[atomic("policies")]),
    ("autoscaling.v2.HorizontalPodAutoscalerSpec", &[atomic("metrics")]),
    ("autoscaling.v2.HorizontalPodAutoscalerStatus", &[
        map("conditions", &["type"]).merge_by("type"), atomic("currentMetrics"),
    ]),
    ("batch.v1.CronJobStatus", &[atomic("active")]),
    ("batch.v1.JobStatus", &[atomic("conditions").merge_by("type")]),
    ("batch.v1.PodFailurePolicy", &[atomic("rules")]),
    ("batch.v1.PodFailurePolicyOnExitCodesRequirement", &[set("values")]),
    ("batch.v1.PodFailurePolicyRule", &[atomic("onPodConditions")]),
    ("batch.v1.SuccessPolicy", &[atomic("rules")]),
    ("batch.v1.UncountedTerminatedPods", &[set("failed"), set("succeeded")]),
    ("core.v1.Capabilities", &[atomic("add"), atomic("drop")]),
    ("core.v1.CephFSPersistentVolumeSource", &[atomic("monitors")]),
    ("core.v1.CephFSVolumeSource", &[atomic("monitors")]),
    ("core.v1.ConfigMapProjection", &[atomic("items")]),
    ("core.v1.ConfigMapVolumeSource", &[atomic("items")]),
    ("core.v1.Container", &[
        atomic("args"), atomic("command"), map("env", &["name"]).merge_by("name"), atomic("envFrom"),
        map("ports", &["containerPort", "protocol"]).merge_by("containerPort"), atomic("resizePolicy"),
        map("volumeDevices", &["devicePath"]).merge_by("devicePath"),
        map("volumeMounts", &["mountPath"]).merge_by("mountPath"),
    ]),
    ("core.v1.ContainerImage", &[atomic("names")]),
    ("core.v1.ContainerStatus", &[
        map("allocatedResourcesStatus", &["name"]).merge_by("name"),
        map("volumeMounts", &["mountPath"]).merge_by("mountPath"),
    ]),
    ("core.v1.DownwardAPIProjection", &[atomic("items")]),
    ("core.v1.DownwardAPIVolumeSource", &[atomic("items")]),
    ("core.v1.EndpointSubset", &[atomic("addresses"), atomic("notReadyAddresses"), atomic("ports")]),
    ("core.v1.Endpoints", &[atomic("subsets")]),
    ("core.v1.EphemeralContainer", &[
        atomic("args"), atomic("command"), map("env", &["name"]).merge_by("name"), atomic("envFrom"),
        map("ports", &["containerPort", "protocol"]).merge_by("containerPort"), atomic("resizePolicy"),
        map("volumeDevices", &["devicePath"]).merge_by("devicePath"),
        map("volumeMounts", &["mountPath"]).merge_by("mountPath"),
    ]),
    ("core.v1.ExecAction", &[atomic("command")]),
    ("core.v1.FCVolumeSource", &[atomic("targetWWNs"), atomic("wwids")]),
    ("core.v1.HTTPGetAction", &[atomic("httpHeaders")]),
    ("core.v1.HostAlias", &[atomic("hostnames")]),
    ("core.v1.ISCSIPersistentVolumeSource", &[atomic("portals")]),
    ("core.v1.ISCSIVolumeSource", &[atomic("portals")]),
    ("core.v1.LimitRangeSpec", &[atomic("limits")]),
    ("core.v1.LinuxContainerUser", &[atomic("supplementalGroups")]),
    ("core.v1.LoadBalancerIngress", &[atomic("ports")]),
    ("core.v1.LoadBalancerStatus", &[atomic("ingress")]),
    ("core.v1.NamespaceSpec", &[atomic("finalizers")]),
    ("core.v1.NamespaceStatus", &[map("conditions", &["type"]).merge_by("type")]),
    ("core.v1.NodeAffinity", &[atomic("preferredDuringSchedulingIgnoredDuringExecution")]),
    ("core.v1.NodeSelector", &[atomic("nodeSelectorTerms")]),
    ("core.v1.NodeSelectorRequirement", &[atomic("values")]),
    ("core.v1.NodeSelectorTerm", &[atomic("matchExpressions"), atomic("matchFields")]),
    ("core.v1.NodeSpec", &[set("podCIDRs").strategy("merge"), atomic("taints")]),
    ("core.v1.NodeStatus", &[
        map("addresses", &["type"]).merge_by("type"), map("conditions", &["type"]).merge_by("type"),
        atomic("images"), atomic("runtimeHandlers"), atomic("volumesAttached"), atomic("volumesInUse"),
    ]),
    ("core.v1.PersistentVolumeClaimSpec", &[atomic("accessModes")]),
    ("core.v1.PersistentVolumeClaimStatus", &[
        atomic("accessModes"), map("conditions", &["type"]).merge_by("type"),
    ]),
    ("core.v1.PersistentVolumeSpec", &[atomic("accessModes"), atomic("mountOptions")]),
    ("core.v1.PodAffinity", &[
        atomic("preferredDuringSchedulingIgnoredDuringExecution"),
        atomic("requiredDuringSchedulingIgnoredDuringExecution"),
    ]),
    ("core.v1.PodAffinityTerm", &[
        atomic("matchLabelKeys"), atomic("mismatchLabelKeys"), atomic("namespaces"),
    ]),
    ("core.v1.PodAntiAffinity", &[
        atomic("preferredDuringSchedulingIgnoredDuringExecution"),
        atomic("requiredDuringSchedulingIgnoredDuringExecution"),
    ]),
    ("core.v1.PodDNSConfig", &[atomic("nameservers"), atomic("options"), atomic("searches")]),
    ("core.v1.PodSecurityContext", &[atomic("supplementalGroups"), atomic("sysctls")]),
    ("core.v1.PodSpec", &[
        map("containers", &["name"]).merge_by("name"),
        map("ephemeralContainers", &["name"]).merge_by("name"), map("hostAliases", &["ip"]).merge_by("ip"),
        map("imagePullSecrets", &["name"]).merge_by("name"),
        map("initContainers", &["name"]).merge_by("name"), atomic("readinessGates"),
        map("resourceClaims", &["name"]).strategy("merge,retainKeys").key("name"),
        map("schedulingGates", &["name"]).merge_by("name"), atomic("tolerations"),
        map("topologySpreadConstraints", &["topologyKey", "whenUnsatisfiable"]).merge_by("topologyKey"),
        map("volumes", &["name"]).strategy("merge,retainKeys").key("name"),
    ]),
    ("core.v1.PodStatus", &[
        map("conditions", &["type"]).merge_by("type"), atomic("containerStatuses"),
        atomic("ephemeralContainerStatuses"), atomic("hostIPs").merge_by("ip"),
        atomic("initContainerStatuses"), map("podIPs", &["ip"]).merge_by("ip"),
        map("resourceClaimStatuses", &["name"]).strategy("merge,retainKeys").key("name"),
    ]),
    ("core.v1.ProjectedVolumeSource", &[atomic("sources")]),
    ("core.v1.RBDPersistentVolumeSource", &[atomic("monitors")]),
    ("core.v1.RBDVolumeSource", &[atomic("monitors")]),
    ("core.v1.ReplicationControllerStatus", &[map("conditions", &["type"]).merge_by("type")]),
    ("core.v1.ResourceQuotaSpec", &[atomic("scopes")]),
    ("core.v1.ResourceRequirements", &[map("claims", &["name"])]),
    ("core.v1.ResourceStatus", &[map("resources", &["resourceID"])]),
    ("core.v1.ScopeSelector", &[atomic("matchExpressions")]),
    ("core.v1.ScopedResourceSelectorRequirement", &[atomic("values")]),
    ("core.v1.SecretProjection", &[atomic("items")]),
    ("core.v1.SecretVolumeSource", &[atomic("items")]),
    ("core.v1.ServiceAccount", &[atomic("imagePullSecrets"), map("secrets", &["name"]).merge_by("name")]),
    ("core.v1.ServiceSpec", &[
        atomic("clusterIPs"), atomic("externalIPs"), atomic("ipFamilies"),
        atomic("loadBalancerSourceRanges"), map("ports", &["port", "protocol"]).merge_by("port"),
    ]),
    ("core.v1.ServiceStatus", &[map("conditions", &["type"]).merge_by("type")]),
    ("core.v1.TopologySelectorLabelRequirement", &[atomic("values")]),
    ("core.v1.TopologySelectorTerm", &[atomic("matchLabelExpressions")]),
    ("core.v1.TopologySpreadConstraint", &[atomic("matchLabelKeys")]),
    ("discovery.v1.Endpoint", &[set("addresses")]),
    ("discovery.v1.EndpointHints", &[atomic("forNodes"), atomic("forZones")]),
    ("discovery.v1.EndpointSlice", &[atomic("endpoints"), atomic("ports")]),
    ("meta.v1.DeleteOptions", &[atomic("dryRun")]),
    ("meta.v1.FieldSelectorRequirement", &[atomic("values")]),
    ("meta.v1.LabelSelector", &[atomic("matchExpressions")]),
    ("meta.v1.LabelSelectorRequirement", &[atomic("values")]),
    ("meta.v1.ObjectMeta", &[
        set("finalizers").strategy("merge"), atomic("managedFields"),
        map("ownerReferences", &["uid"]).merge_by("uid"),
    ]),
    ("meta.v1.Status", &[atomic("details")]),
    ("meta.v1.StatusDetails", &[atomic("causes")]),
    ("networking.v1.HTTPIngressRuleValue", &[atomic("paths")]),
    ("networking.v1.IPBlock", &[atomic("except")]),
    ("networking.v1.IngressLoadBalancerIngress", &[atomic("ports")]),
    ("networking.v1.IngressLoadBalancerStatus", &[atomic("ingress")]),
    ("networking.v1.IngressSpec", &[atomic("rules"), atomic("tls")]),
    ("networking.v1.IngressTLS", &[atomic("hosts")]),
    ("networking.v1.NetworkPolicyEgressRule", &[atomic("ports"), atomic("to")]),
    ("networking.v1.NetworkPolicyIngressRule", &[atomic("from"), atomic("ports")]),
    ("networking.v1.NetworkPolicySpec", &[atomic("egress"), atomic("ingress"), atomic("policyTypes")]),
    ("policy.v1.PodDisruptionBudgetSpec", &[field("selector").strategy("replace")]),
    ("policy.v1.PodDisruptionBudgetStatus", &[map("conditions", &["type"]).merge_by("type")]),
    ("rbac.v1.AggregationRule", &[atomic("clusterRoleSelectors")]),
    ("rbac.v1.ClusterRole", &[atomic("rules")]),
    ("rbac.v1.ClusterRoleBinding", &[atomic("subjects")]),
    ("rbac.v1.PolicyRule", &[
        atomic("apiGroups"), atomic("nonResourceURLs"), atomic("resourceNames"), atomic("resources"),
        atomic("verbs"),
    ]),
    ("rbac.v1.Role", &[atomic("rules")]),
    ("rbac.v1.RoleBinding", &[atomic("subjects")]),
    ("storage.v1.StorageClass", &[atomic("allowedTopologies"), atomic("mountOptions")]),
];

/// `core.v1.Pod` → `io.k8s.api.core.v1.Pod`; `meta.v1.*` and `apiextensions.v1.*` live in
/// their own packages.
fn full_name(short: &str) -> String {
    if let Some(rest) = short.strip_prefix("meta.v1.") {
        format!("io.k8s.apimachinery.pkg.apis.meta.v1.{rest}")
    } else if let Some(rest) = short.strip_prefix("apiextensions.v1.") {
        format!("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.{rest}")
    } else {
        format!("io.k8s.api.{short}")
    }
}

fn extensions(field: &Field) -> Map<String, Value> {
    let mut ext = Map::new();
    if let Some(s) = field.strategy {
        ext.insert("x-kubernetes-patch-strategy".into(), json!(s));
    }
    if let Some(k) = field.merge_key {
        ext.insert("x-kubernetes-patch-merge-key".into(), json!(k));
    }
    if let Some(t) = field.list_type {
        ext.insert("x-kubernetes-list-type".into(), json!(t));
    }
    if !field.map_keys.is_empty() {
        ext.insert("x-kubernetes-list-map-keys".into(), json!(field.map_keys));
    }
    ext
}

/// Adds the table's extensions to the property schemas in `schemas` (next to a `$ref` when
/// the property is one), and drops `metadata` from the `required` list of every root kind:
/// k8s-openapi marks it required, upstream's OpenAPI does not.
pub(crate) fn apply(schemas: &mut Map<String, Value>, kinds: &[KindSchema]) {
    for (short, fields) in TABLE {
        let Some(props) = schemas
            .get_mut(&full_name(short))
            .and_then(|s| s.get_mut("properties"))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        for field in *fields {
            if let Some(Value::Object(prop)) = props.get_mut(field.property) {
                prop.extend(extensions(field));
            }
        }
    }
    for kind in kinds {
        let Some(Value::Object(root)) = schemas.get_mut(&kind.schema) else {
            continue;
        };
        let now_empty = match root.get_mut("required") {
            Some(Value::Array(required)) => {
                required.retain(|r| r != "metadata");
                required.is_empty()
            }
            _ => false,
        };
        if now_empty {
            root.remove("required");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::built_in;

    fn prop<'a>(schemas: &'a Map<String, Value>, short: &str, property: &str) -> &'a Value {
        &schemas[&full_name(short)]["properties"][property]
    }

    #[test]
    fn every_entry_names_an_existing_property() {
        let (schemas, _) = built_in();
        let mut missing = Vec::new();
        for (short, fields) in TABLE {
            let props = schemas.get(&full_name(short)).and_then(|s| s.get("properties"));
            for field in *fields {
                if props.and_then(|p| p.get(field.property)).is_none() {
                    missing.push(format!("{short}.{}", field.property));
                }
                let ty = props
                    .and_then(|p| p.get(field.property))
                    .and_then(|p| p.get("type"));
                if field.merge_key.is_some() || field.list_type == Some("map") {
                    assert_eq!(
                        ty,
                        Some(&json!("array")),
                        "{short}.{} is not a list",
                        field.property
                    );
                }
            }
        }
        assert!(
            missing.is_empty(),
            "table entries without a schema property: {missing:?}"
        );
    }

    #[test]
    fn well_known_entries() {
        let (s, _) = built_in();
        let containers = prop(&s, "core.v1.PodSpec", "containers");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-list-type"], "map");
        assert_eq!(containers["x-kubernetes-list-map-keys"], json!(["name"]));
        let ports = prop(&s, "core.v1.Container", "ports");
        assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
        assert_eq!(
            ports["x-kubernetes-list-map-keys"],
            json!(["containerPort", "protocol"])
        );
        assert_eq!(
            prop(&s, "core.v1.Container", "env")["x-kubernetes-patch-merge-key"],
            "name"
        );
        assert_eq!(
            prop(&s, "core.v1.Container", "volumeMounts")["x-kubernetes-patch-merge-key"],
            "mountPath"
        );
        let volumes = prop(&s, "core.v1.PodSpec", "volumes");
        assert_eq!(volumes["x-kubernetes-patch-strategy"], "merge,retainKeys");
        assert_eq!(volumes["x-kubernetes-patch-merge-key"], "name");
        let strategy = prop(&s, "apps.v1.DeploymentSpec", "strategy");
        assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
        assert!(strategy.get("$ref").is_some(), "extension sits next to the $ref");
        let finalizers = prop(&s, "meta.v1.ObjectMeta", "finalizers");
        assert_eq!(finalizers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(finalizers["x-kubernetes-list-type"], "set");
        assert!(finalizers.get("x-kubernetes-patch-merge-key").is_none());
        assert_eq!(
            prop(&s, "meta.v1.ObjectMeta", "ownerReferences")["x-kubernetes-patch-merge-key"],
            "uid"
        );
        let svc_ports = prop(&s, "core.v1.ServiceSpec", "ports");
        assert_eq!(svc_ports["x-kubernetes-patch-merge-key"], "port");
        assert_eq!(
            svc_ports["x-kubernetes-list-map-keys"],
            json!(["port", "protocol"])
        );
        assert_eq!(
            prop(&s, "apps.v1.DeploymentStatus", "conditions")["x-kubernetes-patch-merge-key"],
            "type"
        );
        assert_eq!(
            prop(&s, "core.v1.PodSpec", "tolerations")["x-kubernetes-list-type"],
            "atomic"
        );
        assert!(
            prop(&s, "core.v1.PodSpec", "tolerations")
                .get("x-kubernetes-patch-strategy")
                .is_none()
        );
    }

    #[test]
    fn metadata_is_not_required_on_roots() {
        let (s, kinds) = built_in();
        for kind in &kinds {
            let required = s[&kind.schema].get("required").and_then(Value::as_array);
            assert!(
                !required.into_iter().flatten().any(|r| r == "metadata"),
                "{} still requires metadata",
                kind.kind
            );
        }
        let dep_spec = &s["io.k8s.api.apps.v1.DeploymentSpec"]["required"];
        assert_eq!(dep_spec, &json!(["selector", "template"]));
    }
}
