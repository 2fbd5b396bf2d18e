//! Networking, RBAC, policy, autoscaling, scheduling, coordination, discovery, CRDs.

use super::*;
use FieldErrorKind::*;

const NET: &str = "networking.k8s.io";
const RBAC: &str = "rbac.authorization.k8s.io";

fn ingress() -> Value {
    json!({"metadata": {"name": "web"}, "spec": {"ingressClassName": "nginx", "rules": [{"host": "example.com",
        "http": {"paths": [{"path": "/", "pathType": "Prefix",
            "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}],
        "tls": [{"hosts": ["example.com", "*.example.com"], "secretName": "tls"}]}})
}

#[test]
fn ingress_rules() {
    ok(&create(NET, "Ingress", ingress()));
    let mut i = ingress();
    i["spec"]["rules"][0]["http"]["paths"][0] =
        json!({"path": "/a", "backend": {"service": {"name": "web"}}});
    let errs = create(NET, "Ingress", i);
    has(
        &errs,
        "spec.rules[0].http.paths[0].pathType",
        Required,
        "pathType must be specified",
    );
    has(
        &errs,
        "spec.rules[0].http.paths[0].backend",
        Required,
        "port name or number is required",
    );
    let mut i = ingress();
    i["spec"]["rules"][0]["host"] = json!("1.2.3.4");
    has(
        &create(NET, "Ingress", i),
        "spec.rules[0].host",
        Invalid,
        "must be a DNS name, not an IP address",
    );
    let mut i = ingress();
    i["spec"]["rules"][0]["http"]["paths"][0]["path"] = json!("/a//b");
    one(
        &create(NET, "Ingress", i),
        "spec.rules[0].http.paths[0].path",
        Invalid,
        "must not contain '//'",
    );
    one(
        &create(NET, "Ingress", json!({"metadata": {"name": "x"}, "spec": {}})),
        "spec",
        Invalid,
        "either `defaultBackend` or `rules` must be specified",
    );
    ok(&create(
        NET,
        "IngressClass",
        json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}),
    ));
    one(
        &create(
            NET,
            "IngressClass",
            json!({"metadata": {"name": "x"}, "spec": {"controller": "nginx"}}),
        ),
        "spec.controller",
        Invalid,
        "must be a domain-prefixed path",
    );
}

#[test]
fn network_policy_rules() {
    ok(&create(
        NET,
        "NetworkPolicy",
        json!({"metadata": {"name": "np"}, "spec": {"podSelector": {"matchLabels": {"app": "db"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}, {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}],
                     "ports": [{"port": 5432}]}]}}),
    ));
    let errs = create(
        NET,
        "NetworkPolicy",
        json!({"metadata": {"name": "np"}, "spec": {"podSelector": {},
        "ingress": [{"from": [{}, {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["192.168.0.0/24"]}}], "ports": [{"port": 70000, "protocol": "ICMP"}]}],
        "policyTypes": ["Sideways"]}}),
    );
    has(&errs, "spec.ingress[0].from[0]", Required, "must specify a peer");
    has(
        &errs,
        "spec.ingress[0].from[1].ipBlock.except[0]",
        Invalid,
        "must be a strict subset of `cidr`",
    );
    has(
        &errs,
        "spec.ingress[0].ports[0].port",
        Invalid,
        "must be between 1 and 65535, inclusive",
    );
    has(
        &errs,
        "spec.ingress[0].ports[0].protocol",
        NotSupported,
        "\"SCTP\", \"TCP\", \"UDP\"",
    );
    has(
        &errs,
        "spec.policyTypes[0]",
        NotSupported,
        "\"Ingress\", \"Egress\"",
    );
}

#[test]
fn rbac_rules() {
    ok(&create(
        RBAC,
        "Role",
        json!({"metadata": {"name": "pod-reader"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}),
    ));
    ok(&create(
        RBAC,
        "ClusterRole",
        json!({"metadata": {"name": "system:metrics"}, "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]}),
    ));
    let errs = create(
        RBAC,
        "Role",
        json!({"metadata": {"name": "r"}, "rules": [{"resources": ["pods"]}, {"nonResourceURLs": ["/x"], "verbs": ["get"]}]}),
    );
    has(
        &errs,
        "rules[0].verbs",
        Required,
        "verbs must contain at least one value",
    );
    has(
        &errs,
        "rules[0].apiGroups",
        Required,
        "resource rules must supply at least one api group",
    );
    has(
        &errs,
        "rules[1].nonResourceURLs",
        Invalid,
        "namespaced rules cannot apply to non-resource URLs",
    );
    one(
        &create(RBAC, "Role", json!({"metadata": {"name": "a/b"}})),
        "metadata.name",
        Invalid,
        "may not contain '/'",
    );

    let rb = json!({"metadata": {"name": "rb"}, "roleRef": {"kind": "Role", "name": "pod-reader"},
        "subjects": [{"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "default"}]});
    ok(&create(RBAC, "RoleBinding", rb.clone()));
    let errs = create(
        RBAC,
        "ClusterRoleBinding",
        json!({"metadata": {"name": "crb"}, "roleRef": {"kind": "Role", "name": "x"},
        "subjects": [{"kind": "ServiceAccount", "name": "default"}, {"kind": "Robot", "name": "r"}]}),
    );
    has(
        &errs,
        "roleRef.kind",
        NotSupported,
        "supported values: \"ClusterRole\"",
    );
    has(&errs, "subjects[0].namespace", Required, "");
    has(
        &errs,
        "subjects[1].kind",
        NotSupported,
        "\"ServiceAccount\", \"User\", \"Group\"",
    );
    let mut changed = rb.clone();
    changed["roleRef"]["name"] = json!("other");
    one(
        &update(RBAC, "RoleBinding", rb, changed),
        "roleRef",
        Invalid,
        "cannot change roleRef",
    );
}

#[test]
fn policy_autoscaling_scheduling() {
    ok(&create(
        "policy",
        "PodDisruptionBudget",
        json!({"metadata": {"name": "p"}, "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"a": "b"}}}}),
    ));
    one(
        &create(
            "policy",
            "PodDisruptionBudget",
            json!({"metadata": {"name": "p"}, "spec": {"minAvailable": 1, "maxUnavailable": 1}}),
        ),
        "spec",
        Invalid,
        "minAvailable and maxUnavailable cannot be both set",
    );
    let hpa = json!({"apiVersion": "autoscaling/v2", "metadata": {"name": "h"}, "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 5}});
    ok(&create("autoscaling", "HorizontalPodAutoscaler", hpa.clone()));
    let mut bad = hpa;
    bad["spec"]["maxReplicas"] = json!(1);
    one(
        &create("autoscaling", "HorizontalPodAutoscaler", bad),
        "spec.maxReplicas",
        Invalid,
        "must be greater than or equal to `minReplicas`",
    );

    ok(&create(
        "scheduling.k8s.io",
        "PriorityClass",
        json!({"metadata": {"name": "high"}, "value": 1000000}),
    ));
    one(
        &create(
            "scheduling.k8s.io",
            "PriorityClass",
            json!({"metadata": {"name": "huge"}, "value": 2000000000}),
        ),
        "value",
        Forbidden,
        "maximum allowed value of a user defined priority is 1000000000",
    );
    one(
        &create(
            "scheduling.k8s.io",
            "PriorityClass",
            json!({"metadata": {"name": "system-mine"}, "value": 1}),
        ),
        "metadata.name",
        Forbidden,
        "priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class",
    );
    let old = json!({"metadata": {"name": "high"}, "value": 10});
    let new = json!({"metadata": {"name": "high"}, "value": 20});
    one(
        &update("scheduling.k8s.io", "PriorityClass", old, new),
        "value",
        Forbidden,
        "may not be changed in an update.",
    );

    ok(&create(
        "coordination.k8s.io",
        "Lease",
        json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}),
    ));
    one(
        &create(
            "coordination.k8s.io",
            "Lease",
            json!({"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0}}),
        ),
        "spec.leaseDurationSeconds",
        Invalid,
        "must be greater than 0",
    );
}

#[test]
fn api_services() {
    let svc = |name: &str, spec: serde_json::Value| {
        create(
            "apiregistration.k8s.io",
            "APIService",
            json!({"metadata": {"name": name}, "spec": spec}),
        )
    };
    ok(&svc(
        "v1beta1.metrics.k8s.io",
        json!({"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
               "versionPriority": 100, "insecureSkipTLSVerify": true,
               "service": {"namespace": "kube-system", "name": "metrics-server"}}),
    ));
    ok(&svc(
        "v1.",
        json!({"group": "", "version": "v1", "groupPriorityMinimum": 18000, "versionPriority": 1}),
    ));
    one(
        &svc(
            "v1.other.io",
            json!({"group": "x.io", "version": "v1", "groupPriorityMinimum": 1, "versionPriority": 1}),
        ),
        "metadata.name",
        Invalid,
        "must be `spec.version+\".\"+spec.group`",
    );
    one(
        &svc(
            "v1.x.io",
            json!({"group": "x.io", "version": "v1", "groupPriorityMinimum": 0, "versionPriority": 1}),
        ),
        "spec.groupPriorityMinimum",
        Invalid,
        "must be positive and less than 20000",
    );
    one(
        &svc(
            "v1.x.io",
            json!({"group": "x.io", "version": "v1", "groupPriorityMinimum": 1, "versionPriority": 1,
                   "caBundle": "Zm9v", "insecureSkipTLSVerify": true,
                   "service": {"namespace": "a", "name": "b"}}),
        ),
        "spec.insecureSkipTLSVerify",
        Invalid,
        "may not be true if caBundle is present",
    );
    one(
        &svc(
            "v1.x.io",
            json!({"group": "x.io", "version": "v1", "groupPriorityMinimum": 1, "versionPriority": 1,
                   "service": {"namespace": "a"}}),
        ),
        "spec.service.name",
        Required,
        "",
    );
}

#[test]
fn endpoint_slices_and_crds() {
    ok(&create(
        "discovery.k8s.io",
        "EndpointSlice",
        json!({"metadata": {"name": "web-abc"}, "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.1.2.3"], "conditions": {"ready": true}}], "ports": [{"name": "http", "port": 80}]}),
    ));
    let errs = create(
        "discovery.k8s.io",
        "EndpointSlice",
        json!({"metadata": {"name": "e"}, "addressType": "IPv5",
        "endpoints": [{"addresses": []}]}),
    );
    has(&errs, "addressType", NotSupported, "\"FQDN\", \"IPv4\", \"IPv6\"");
    has(
        &errs,
        "endpoints[0].addresses",
        Required,
        "must contain at least 1 address",
    );

    let crd = json!({"metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.com", "scope": "Namespaced",
        "names": {"plural": "widgets", "kind": "Widget"},
        "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}}]}});
    ok(&create(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        crd.clone(),
    ));
    let mut bad = crd;
    bad["metadata"]["name"] = json!("widget.example.com");
    bad["spec"]["scope"] = json!("Global");
    bad["spec"]["versions"][0]["storage"] = json!(false);
    let errs = create("apiextensions.k8s.io", "CustomResourceDefinition", bad);
    has(
        &errs,
        "metadata.name",
        Invalid,
        "must be spec.names.plural+\".\"+spec.group",
    );
    has(&errs, "spec.scope", NotSupported, "\"Cluster\", \"Namespaced\"");
    has(
        &errs,
        "spec.versions",
        Invalid,
        "must have exactly one version marked as storage version",
    );
}

#[test]
fn unknown_kinds_get_generic_metadata_checks() {
    ok(&validate(
        "example.com",
        "Widget",
        &json!({"metadata": {"name": "w", "finalizers": ["example.com/x"]}}),
        None,
    ));
    let errs = validate("example.com", "Widget", &json!({"metadata": {"name": "W"}}), None);
    one(&errs, "metadata.name", Invalid, "RFC 1123 subdomain");
    one(
        &validate("", "Binding", &json!({"target": {"kind": "Node"}}), None),
        "target.name",
        Required,
        "",
    );
    ok(&validate(
        "",
        "Binding",
        &json!({"metadata": {"name": "p"}, "target": {"name": "node-1"}}),
        None,
    ));
    one(
        &validate(
            "authorization.k8s.io",
            "SelfSubjectAccessReview",
            &json!({"spec": {}}),
            None,
        ),
        "spec.resourceAttributes",
        Required,
        "exactly one of nonResourceAttributes or resourceAttributes must be specified",
    );
}

#[test]
fn never_panics_on_odd_shapes() {
    let kinds = [
        ("", "Pod"),
        ("", "Service"),
        ("", "Secret"),
        ("", "ConfigMap"),
        ("", "Namespace"),
        ("", "Node"),
        ("", "PersistentVolume"),
        ("", "PersistentVolumeClaim"),
        ("", "Endpoints"),
        ("", "Event"),
        ("", "ResourceQuota"),
        ("", "LimitRange"),
        ("", "ReplicationController"),
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("apps", "ControllerRevision"),
        ("batch", "Job"),
        ("batch", "CronJob"),
        (NET, "Ingress"),
        (NET, "NetworkPolicy"),
        (NET, "IngressClass"),
        (RBAC, "Role"),
        (RBAC, "ClusterRoleBinding"),
        ("policy", "PodDisruptionBudget"),
        ("autoscaling", "HorizontalPodAutoscaler"),
        ("scheduling.k8s.io", "PriorityClass"),
        ("storage.k8s.io", "StorageClass"),
        ("coordination.k8s.io", "Lease"),
        ("discovery.k8s.io", "EndpointSlice"),
        ("apiextensions.k8s.io", "CustomResourceDefinition"),
        ("events.k8s.io", "Event"),
    ];
    let shapes = [
        json!(null),
        json!({}),
        json!([]),
        json!({"metadata": 1, "spec": "x"}),
        json!({"spec": {"containers": [1, null, {"ports": [null]}], "template": {"spec": []}, "ports": [7]}}),
    ];
    for (g, k) in kinds {
        for s in &shapes {
            let mut v = s.clone();
            defaults::apply(g, k, &mut v);
            defaults::prepare_create(g, k, &mut v);
            let _ = validate(g, k, &v, None);
            let _ = validate(g, k, &v, Some(s));
        }
    }
}

#[test]
fn status_message_reads_like_upstream() {
    use crate::status::{ApiError, Target};
    let mut d = json!({"kind": "Deployment", "apiVersion": "apps/v1", "metadata": {"name": "x"},
        "spec": {"selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}});
    defaults::apply("apps", "Deployment", &mut d);
    let errs = validate("apps", "Deployment", &d, None);
    let t = Target {
        group: "apps",
        resource: "deployments",
        kind: "Deployment",
    };
    let e = ApiError::invalid(t, "x", &errs);
    assert_eq!(
        e.message,
        "Deployment.apps \"x\" is invalid: spec.template.metadata.labels: Invalid value: {\"app\":\"y\"}: `selector` does not match template `labels`"
    );
}

/// The CoreDNS bundle a k3s-like cluster installs must pass as is.
#[test]
fn realistic_bundle_passes() {
    let objects = [
        (
            "",
            "ServiceAccount",
            json!({"metadata": {"name": "coredns", "namespace": "kube-system"}}),
        ),
        (
            RBAC,
            "ClusterRole",
            json!({"metadata": {"name": "system:coredns", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
            "rules": [{"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
                      {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}]}),
        ),
        (
            RBAC,
            "ClusterRoleBinding",
            json!({"metadata": {"name": "system:coredns",
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
            "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}]}),
        ),
        (
            "",
            "ConfigMap",
            json!({"metadata": {"name": "coredns", "namespace": "kube-system"},
            "data": {"Corefile": ".:53 {\n    errors\n    health\n    forward . /etc/resolv.conf\n}\n", "NodeHosts": ""}}),
        ),
        (
            "apps",
            "Deployment",
            json!({"metadata": {"name": "coredns", "namespace": "kube-system",
                "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}},
            "spec": {"revisionHistoryLimit": 0, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}}, "spec": {
                    "priorityClassName": "system-cluster-critical", "serviceAccountName": "coredns",
                    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                                    {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                        "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                    "containers": [{"name": "coredns", "image": "rancher/mirrored-coredns-coredns:1.12.1",
                        "imagePullPolicy": "IfNotPresent",
                        "resources": {"limits": {"memory": "170Mi"}, "requests": {"cpu": "100m", "memory": "70Mi"}},
                        "args": ["-conf", "/etc/coredns/Corefile"],
                        "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": true}],
                        "ports": [{"containerPort": 53, "name": "dns", "protocol": "UDP"},
                                  {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                                  {"containerPort": 9153, "name": "metrics", "protocol": "TCP"}],
                        "securityContext": {"allowPrivilegeEscalation": false,
                            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["all"]}, "readOnlyRootFilesystem": true},
                        "livenessProbe": {"httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"},
                            "initialDelaySeconds": 60, "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3},
                        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"},
                            "periodSeconds": 2, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3}}],
                    "dnsPolicy": "Default",
                    "volumes": [{"name": "config-volume", "configMap": {"name": "coredns",
                        "items": [{"key": "Corefile", "path": "Corefile"}, {"key": "NodeHosts", "path": "NodeHosts"}]}}]}}}}),
        ),
        (
            "",
            "Service",
            json!({"metadata": {"name": "kube-dns", "namespace": "kube-system",
                "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
                "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"}},
            "spec": {"selector": {"k8s-app": "kube-dns"}, "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"],
                "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                          {"name": "metrics", "port": 9153, "protocol": "TCP"}],
                "ipFamilyPolicy": "SingleStack", "ipFamilies": ["IPv4"]}}),
        ),
    ];
    for (group, kind, obj) in objects {
        let errs = create(group, kind, obj);
        assert!(errs.is_empty(), "{kind}: {errs:#?}");
    }
}
