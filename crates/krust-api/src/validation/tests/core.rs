//! Core kinds: Service, ConfigMap, Secret, Namespace, Node, volumes and claims, quotas.

use super::*;
use FieldErrorKind::*;

/// `kubectl create service clusterip web --tcp=80:8080 --dry-run=client -o json`.
fn service() -> Value {
    json!({"kind": "Service", "apiVersion": "v1",
        "metadata": {"name": "web", "creationTimestamp": null, "labels": {"app": "web"}},
        "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                 "selector": {"app": "web"}, "type": "ClusterIP"},
        "status": {"loadBalancer": {}}})
}

#[test]
fn service_rules() {
    ok(&create("", "Service", service()));
    let mut s = service();
    s["spec"]["clusterIP"] = json!("10.96.0.10");
    ok(&create("", "Service", s));
    ok(&create(
        "",
        "Service",
        json!({"metadata": {"name": "db"}, "spec": {"clusterIP": "None", "selector": {"a": "b"}}}),
    ));
    ok(&create(
        "",
        "Service",
        json!({"metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "externalName": "example.com."}}),
    ));
    let np = json!({"metadata": {"name": "np"}, "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}});
    ok(&create("", "Service", np));

    let mut s = service();
    s["metadata"]["name"] = json!("1web");
    one(
        &create("", "Service", s),
        "metadata.name",
        Invalid,
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    );
    one(
        &create("", "Service", json!({"metadata": {"name": "x"}, "spec": {}})),
        "spec.ports",
        Required,
        "",
    );
    let errs = create(
        "",
        "Service",
        json!({"metadata": {"name": "x"}, "spec": {"ports": [{"port": 80}, {"port": 80}]}}),
    );
    has(&errs, "spec.ports[0].name", Required, "");
    has(&errs, "spec.ports[1].name", Required, "");
    has(&errs, "spec.ports[1]", Duplicate, "");
    let errs = create(
        "",
        "Service",
        json!({"metadata": {"name": "x"}, "spec": {"type": "Weird", "ports": [
        {"port": 0, "protocol": "HTTP", "targetPort": "Http_1"}]}}),
    );
    has(
        &errs,
        "spec.ports[0].port",
        Invalid,
        "must be between 1 and 65535, inclusive",
    );
    has(
        &errs,
        "spec.ports[0].protocol",
        NotSupported,
        "\"SCTP\", \"TCP\", \"UDP\"",
    );
    has(
        &errs,
        "spec.ports[0].targetPort",
        Invalid,
        "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
    );
    has(
        &errs,
        "spec.type",
        NotSupported,
        "supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
    );
    let errs = create(
        "",
        "Service",
        json!({"metadata": {"name": "x"}, "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 80}]}}),
    );
    one(
        &errs,
        "spec.ports[0].nodePort",
        Invalid,
        "provided port is not in the valid range. The range of valid ports is 30000-32767",
    );
    let errs = create(
        "",
        "Service",
        json!({"metadata": {"name": "x"}, "spec": {"ports": [{"port": 80, "nodePort": 30001}]}}),
    );
    one(
        &errs,
        "spec.ports[0].nodePort",
        Forbidden,
        "may not be used when `type` is 'ClusterIP'",
    );
    let mut s = service();
    s["spec"]["clusterIP"] = json!("10.0.0.300");
    one(
        &create("", "Service", s),
        "spec.clusterIPs[0]",
        Invalid,
        "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
    );
    one(
        &create(
            "",
            "Service",
            json!({"metadata": {"name": "e"}, "spec": {"type": "ExternalName"}}),
        ),
        "spec.externalName",
        Required,
        "",
    );

    let mut old = service();
    old["spec"]["clusterIP"] = json!("10.96.0.10");
    let mut new = old.clone();
    new["spec"]["clusterIP"] = json!("10.96.0.11");
    new["spec"]["clusterIPs"] = json!(["10.96.0.11"]);
    let errs = update("", "Service", old.clone(), new);
    one(&errs, "spec.clusterIPs[0]", Invalid, "may not change once set");
    let mut new = service();
    new["spec"]["ports"][0]["port"] = json!(81);
    ok(&update("", "Service", old, new));
}

#[test]
fn config_map_and_secret_rules() {
    ok(&create(
        "",
        "ConfigMap",
        json!({"metadata": {"name": "cfg"}, "data": {"app.conf": "x", "KEY_1": "y"}}),
    ));
    let errs = create(
        "",
        "ConfigMap",
        json!({"metadata": {"name": "cfg"}, "data": {"a b": "x"}}),
    );
    one(
        &errs,
        "data[a b]",
        Invalid,
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
    );
    let big = json!({"metadata": {"name": "cfg"}, "data": {"a": "x".repeat(1024 * 1024 + 1)}});
    one(
        &create("", "ConfigMap", big),
        "",
        TooLong,
        "may not be more than 1048576 bytes",
    );
    let frozen = json!({"metadata": {"name": "cfg"}, "immutable": true, "data": {"a": "1"}});
    let changed = json!({"metadata": {"name": "cfg"}, "immutable": true, "data": {"a": "2"}});
    one(
        &update("", "ConfigMap", frozen, changed),
        "data",
        Forbidden,
        "field is immutable when `immutable` is set",
    );

    ok(&create(
        "",
        "Secret",
        json!({"metadata": {"name": "s"}, "data": {"password": "czNjcjN0"}}),
    ));
    ok(&create(
        "",
        "Secret",
        json!({"metadata": {"name": "s"}, "stringData": {"password": "s3cr3t"}}),
    ));
    let tls = json!({"metadata": {"name": "t"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "YQ=="}});
    one(&create("", "Secret", tls), "data[tls.key]", Required, "");
    let bad = json!({"metadata": {"name": "s"}, "data": {"k": "not base64!"}});
    one(
        &create("", "Secret", bad),
        "data[k]",
        Invalid,
        "<secret contents redacted>",
    );
    let docker = json!({"metadata": {"name": "d"}, "type": "kubernetes.io/dockerconfigjson", "data": {}});
    one(
        &create("", "Secret", docker),
        "data[.dockerconfigjson]",
        Required,
        "",
    );
    let sa = json!({"metadata": {"name": "t"}, "type": "kubernetes.io/service-account-token"});
    one(
        &create("", "Secret", sa),
        "metadata.annotations[kubernetes.io/service-account.name]",
        Required,
        "",
    );
    let opaque = json!({"metadata": {"name": "s"}, "data": {"a": "YQ=="}});
    let typed = json!({"metadata": {"name": "s"}, "type": "example.com/x", "data": {"a": "YQ=="}});
    one(
        &update("", "Secret", opaque, typed),
        "type",
        Invalid,
        "Invalid value: \"example.com/x\": field is immutable",
    );
}

#[test]
fn namespace_and_node_rules() {
    ok(&create("", "Namespace", json!({"metadata": {"name": "dev"}})));
    one(
        &create("", "Namespace", json!({"metadata": {"name": "a.b"}})),
        "metadata.name",
        Invalid,
        "must not contain dots",
    );
    one(
        &create("", "Namespace", json!({"metadata": {"name": "Dev"}})),
        "metadata.name",
        Invalid,
        "a lowercase RFC 1123 label",
    );
    let old = json!({"metadata": {"name": "dev", "uid": "1"}});
    let new = json!({"metadata": {"name": "dev", "uid": "2"}});
    one(
        &update("", "Namespace", old, new),
        "metadata.uid",
        Invalid,
        "field is immutable",
    );

    ok(&create(
        "",
        "Node",
        json!({"metadata": {"name": "node-1.example.com"}, "spec": {"podCIDRs": ["10.244.0.0/24"]},
        "status": {"capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"}}}),
    ));
    let node = json!({"metadata": {"name": "n"}, "spec": {"taints": [{"key": "k", "effect": "Sometimes"}]}});
    one(
        &create("", "Node", node),
        "metadata.taints[0].effect",
        NotSupported,
        "\"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\"",
    );
    let old = json!({"metadata": {"name": "n"}, "spec": {"podCIDRs": ["10.244.0.0/24"]}});
    let new = json!({"metadata": {"name": "n"}, "spec": {"podCIDRs": ["10.244.1.0/24"]}});
    one(
        &update("", "Node", old, new),
        "spec.podCIDRs",
        Forbidden,
        "node updates may not change podCIDR",
    );
}

#[test]
fn node_pod_cidrs_may_be_set_once() {
    let bare = json!({"metadata": {"name": "n"}});
    let both = |c: &str| json!({"metadata": {"name": "n"}, "spec": {"podCIDR": c, "podCIDRs": [c]}});
    let single = |c: &str| json!({"metadata": {"name": "n"}, "spec": {"podCIDR": c}});
    // From none to one: allowed (the node IPAM controller's write), by either field.
    ok(&update("", "Node", bare.clone(), both("10.42.1.0/24")));
    ok(&update("", "Node", bare.clone(), single("10.42.1.0/24")));
    // Unchanged: allowed, whichever field a client sends back.
    ok(&update("", "Node", both("10.42.1.0/24"), both("10.42.1.0/24")));
    ok(&update("", "Node", single("10.42.1.0/24"), both("10.42.1.0/24")));
    ok(&update(
        "",
        "Node",
        both("10.42.1.0/24"),
        json!({"metadata": {"name": "n"}, "spec": {"podCIDRs": ["10.42.1.0/24"]}}),
    ));
    // Changed or removed, through either field: refused.
    for new in [both("10.42.2.0/24"), single("10.42.2.0/24"), bare.clone()] {
        one(
            &update("", "Node", both("10.42.1.0/24"), new),
            "spec.podCIDRs",
            Forbidden,
            "node updates may not change podCIDR",
        );
    }
    one(
        &update("", "Node", single("10.42.1.0/24"), single("10.42.2.0/24")),
        "spec.podCIDRs",
        Forbidden,
        "node updates may not change podCIDR",
    );
    // podCIDR beside podCIDRs must be its first element.
    let mismatch = json!({"metadata": {"name": "n"},
        "spec": {"podCIDR": "10.42.9.0/24", "podCIDRs": ["10.42.1.0/24"]}});
    one(
        &update("", "Node", both("10.42.1.0/24"), mismatch.clone()),
        "spec.podCIDR",
        Invalid,
        "must be the same as spec.podCIDRs[0]",
    );
    one(
        &create("", "Node", mismatch),
        "spec.podCIDR",
        Invalid,
        "must be the same as spec.podCIDRs[0]",
    );
    // A lone podCIDR is checked like podCIDRs.
    one(
        &create("", "Node", single("10.42.1.0")),
        "spec.podCIDRs[0]",
        Invalid,
        "",
    );
}

fn pvc() -> Value {
    json!({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": "standard"}})
}

#[test]
fn storage_rules() {
    ok(&create("", "PersistentVolumeClaim", pvc()));
    let errs = create(
        "",
        "PersistentVolumeClaim",
        json!({"metadata": {"name": "d"}, "spec": {"accessModes": ["ReadWriteAll"]}}),
    );
    has(
        &errs,
        "spec.accessModes",
        NotSupported,
        "\"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\"",
    );
    has(&errs, "spec.resources[storage]", Required, "");
    let mut p = pvc();
    p["spec"]["resources"]["requests"]["storage"] = json!("0");
    one(
        &create("", "PersistentVolumeClaim", p),
        "spec.resources[storage]",
        Invalid,
        "must be greater than zero",
    );
    let mut p = pvc();
    p["spec"]["accessModes"] = json!(["ReadWriteMany"]);
    one(
        &update("", "PersistentVolumeClaim", pvc(), p),
        "spec",
        Forbidden,
        "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
    );
    let mut p = pvc();
    p["spec"]["volumeName"] = json!("pv-1");
    ok(&update("", "PersistentVolumeClaim", pvc(), p));

    let pv = json!({"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
        "hostPath": {"path": "/mnt/data"}}});
    ok(&create("", "PersistentVolume", pv.clone()));
    let errs = create(
        "",
        "PersistentVolume",
        json!({"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}}),
    );
    one(&errs, "spec", Required, "must specify a volume type");
    let mut moved = pv.clone();
    moved["spec"]["hostPath"]["path"] = json!("/mnt/other");
    one(
        &update("", "PersistentVolume", pv, moved),
        "spec.persistentvolumesource",
        Forbidden,
        "spec.persistentvolumesource is immutable after creation",
    );

    ok(&create(
        "storage.k8s.io",
        "StorageClass",
        json!({"metadata": {"name": "fast"}, "provisioner": "rancher.io/local-path"}),
    ));
    one(
        &create(
            "storage.k8s.io",
            "StorageClass",
            json!({"metadata": {"name": "fast"}}),
        ),
        "provisioner",
        Required,
        "",
    );
    let old = json!({"metadata": {"name": "fast"}, "provisioner": "a.io/x", "parameters": {"type": "ssd"}});
    let new = json!({"metadata": {"name": "fast"}, "provisioner": "a.io/x", "parameters": {"type": "hdd"}});
    one(
        &update("storage.k8s.io", "StorageClass", old, new),
        "parameters",
        Forbidden,
        "updates to parameters are forbidden.",
    );
}

#[test]
fn quota_limits_endpoints_events() {
    ok(&create(
        "",
        "ResourceQuota",
        json!({"metadata": {"name": "q"}, "spec": {"hard": {"pods": "10", "requests.cpu": "4", "count/deployments.apps": "5"}}}),
    ));
    let errs = create(
        "",
        "ResourceQuota",
        json!({"metadata": {"name": "q"}, "spec": {"hard": {"foo": "1", "pods": "1.5"}}}),
    );
    has(
        &errs,
        "spec.hard[foo]",
        Invalid,
        "must be a standard resource type or fully qualified",
    );
    has(
        &errs,
        "spec.hard[foo]",
        Invalid,
        "must be a standard resource for quota",
    );
    has(&errs, "spec.hard[pods]", Invalid, "must be an integer");

    ok(&create(
        "",
        "LimitRange",
        json!({"metadata": {"name": "l"}, "spec": {"limits": [
        {"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "100m"}, "max": {"cpu": "1"}}]}}),
    ));
    let errs = create(
        "",
        "LimitRange",
        json!({"metadata": {"name": "l"}, "spec": {"limits": [
        {"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}]}}),
    );
    has(
        &errs,
        "spec.limits[0].min[cpu]",
        Invalid,
        "min value 2 is greater than max value 1",
    );

    ok(&create(
        "",
        "Endpoints",
        json!({"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "10.1.2.3"}], "ports": [{"port": 80}]}]}),
    ));
    let errs = create(
        "",
        "Endpoints",
        json!({"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "127.0.0.1"}]}]}),
    );
    one(
        &errs,
        "subsets[0].addresses[0].ip",
        Invalid,
        "may not be in the loopback range (127.0.0.0/8, ::1/128)",
    );

    let ev = json!({"metadata": {"name": "x.1", "namespace": "default"}, "involvedObject": {"kind": "Pod", "namespace": "other"}});
    one(
        &create("", "Event", ev),
        "involvedObject.namespace",
        Invalid,
        "does not match event.namespace",
    );
}
