//! Rows of core (`v1`) kinds other than pods and replication controllers.

use serde_json::{Value, json};

use super::{ago, row};
use crate::table::columns;

fn meta(name: &str) -> Value {
    json!({"name": name, "namespace": "default", "creationTimestamp": ago(120)})
}

fn svc(spec: Value, status: Value) -> Value {
    json!({"metadata": meta("s"), "spec": spec, "status": status})
}

#[test]
fn services() {
    let names: Vec<&str> = columns("", "Service").iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        vec![
            "Name",
            "Type",
            "Cluster-IP",
            "External-IP",
            "Port(s)",
            "Age",
            "Selector"
        ]
    );
    let s = svc(
        json!({"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "selector": {"app": "web"},
               "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}, {"port": 53, "protocol": "UDP"}]}),
        json!({}),
    );
    assert_eq!(
        row("", "Service", &s),
        json!([
            "s",
            "ClusterIP",
            "10.96.0.10",
            "<none>",
            "80/TCP,53/UDP",
            "2m",
            "app=web"
        ])
    );
    let s = svc(
        json!({"type": "NodePort", "clusterIPs": ["10.96.1.1"], "externalIPs": ["1.2.3.4"],
                       "ports": [{"port": 80, "nodePort": 30080}]}),
        json!({}),
    );
    assert_eq!(
        row("", "Service", &s).as_array().unwrap()[2..5],
        [json!("10.96.1.1"), json!("1.2.3.4"), json!("80:30080/TCP")]
    );
    let s = svc(
        json!({"type": "LoadBalancer", "clusterIP": "10.96.2.2", "ports": [{"port": 443, "nodePort": 31443, "protocol": "TCP"}]}),
        json!({}),
    );
    assert_eq!(row("", "Service", &s)[3], json!("<pending>"));
    let s = svc(
        json!({"type": "LoadBalancer", "externalIPs": ["5.5.5.5"]}),
        json!({"loadBalancer": {"ingress": [{"ip": "9.9.9.9"}, {"hostname": "lb.example.com"}, {"ip": "1.1.1.1"}]}}),
    );
    assert_eq!(
        row("", "Service", &s)[3],
        json!("1.1.1.1,9.9.9.9,lb.example.com,5.5.5.5")
    );
    let s = svc(
        json!({"type": "ExternalName", "externalName": "db.example.com"}),
        json!({}),
    );
    assert_eq!(
        row("", "Service", &s).as_array().unwrap()[2..5],
        [json!("<none>"), json!("db.example.com"), json!("<none>")]
    );
    let s = svc(
        json!({"type": "ClusterIP", "clusterIP": "None", "clusterIPs": ["None"]}),
        json!({}),
    );
    assert_eq!(row("", "Service", &s)[2], json!("None"));
    assert_eq!(row("", "Service", &s)[6], json!("<none>"));
}

fn node(labels: Value, ready: Option<&str>, unschedulable: bool) -> Value {
    let conditions = match ready {
        Some(status) => {
            json!([{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": status}])
        }
        None => json!([]),
    };
    json!({
        "metadata": {"name": "n1", "labels": labels, "creationTimestamp": ago(10 * 86_400)},
        "spec": {"unschedulable": unschedulable},
        "status": {"conditions": conditions,
                   "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "192.168.1.10"}],
                   "nodeInfo": {"kubeletVersion": "v1.33.1", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                "kernelVersion": "6.1.0", "containerRuntimeVersion": "containerd://1.7.0"}}
    })
}

#[test]
fn nodes() {
    let n = node(
        json!({"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": ""}),
        Some("True"),
        false,
    );
    assert_eq!(
        row("", "Node", &n),
        json!([
            "n1",
            "Ready",
            "control-plane,master",
            "10d",
            "v1.33.1",
            "192.168.1.10",
            "<none>",
            "Debian GNU/Linux 12 (bookworm)",
            "6.1.0",
            "containerd://1.7.0"
        ])
    );
    let n = node(
        json!({"kubernetes.io/role": "worker", "node-role.kubernetes.io/": ""}),
        Some("False"),
        true,
    );
    assert_eq!(
        row("", "Node", &n).as_array().unwrap()[1..3],
        [json!("NotReady,SchedulingDisabled"), json!("worker")]
    );
    let n = node(json!({}), None, false);
    assert_eq!(
        row("", "Node", &n).as_array().unwrap()[1..3],
        [json!("Unknown"), json!("<none>")]
    );
    let bare = json!({"metadata": {"name": "b"}});
    assert_eq!(
        row("", "Node", &bare).as_array().unwrap()[7..],
        [json!("<unknown>"), json!("<unknown>"), json!("<unknown>")]
    );
    assert_eq!(columns("", "Node").iter().filter(|c| c.priority == 1).count(), 5);
}

#[test]
fn namespaces_configmaps_secrets_accounts() {
    let ns = json!({"metadata": {"name": "kube-system", "creationTimestamp": ago(5)}, "status": {"phase": "Active"}});
    assert_eq!(row("", "Namespace", &ns), json!(["kube-system", "Active", "5s"]));
    let cm = json!({"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
    assert_eq!(row("", "ConfigMap", &cm), json!(["cfg", 3, "2m"]));
    let secret =
        json!({"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}});
    assert_eq!(
        row("", "Secret", &secret),
        json!(["tls", "kubernetes.io/tls", 2, "2m"])
    );
    let sa = json!({"metadata": meta("default")});
    assert_eq!(row("", "ServiceAccount", &sa), json!(["default", 0, "2m"]));
    let sa = json!({"metadata": meta("old"), "secrets": [{"name": "old-token"}]});
    assert_eq!(row("", "ServiceAccount", &sa)[1], json!(1));
}

#[test]
fn endpoints() {
    let ep = json!({"metadata": meta("web"), "subsets": [
        {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 8080}, {"port": 9090}]},
        {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}
    ]});
    assert_eq!(
        row("", "Endpoints", &ep),
        json!([
            "web",
            "10.0.0.1:8080,10.0.0.2:8080,10.0.0.1:9090 + 2 more...",
            "2m"
        ])
    );
    let ep = json!({"metadata": meta("v6"), "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]});
    assert_eq!(row("", "Endpoints", &ep)[1], json!("[fd00::1]:80"));
    let ep = json!({"metadata": meta("headless"), "subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]});
    assert_eq!(row("", "Endpoints", &ep)[1], json!("10.0.0.1"));
    assert_eq!(
        row("", "Endpoints", &json!({"metadata": meta("e")}))[1],
        json!("<none>")
    );
    let slice = json!({"metadata": meta("web-abc"), "addressType": "IPv4",
        "ports": [{"port": 80}, {"name": "metrics"}, {}, {"port": 9}],
        "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}]});
    assert_eq!(
        row("discovery.k8s.io", "EndpointSlice", &slice),
        json!([
            "web-abc",
            "IPv4",
            "80,metrics,* + 1 more...",
            "10.0.0.1,10.0.0.2",
            "2m"
        ])
    );
    let empty = json!({"metadata": meta("e"), "addressType": "IPv6"});
    assert_eq!(
        row("discovery.k8s.io", "EndpointSlice", &empty)
            .as_array()
            .unwrap()[2..4],
        [json!("<unset>"), json!("<unset>")]
    );
}

#[test]
fn events_in_both_shapes() {
    let names: Vec<(&str, u8)> = columns("", "Event")
        .iter()
        .map(|c| (c.name, c.priority))
        .collect();
    assert_eq!(
        names,
        vec![
            ("Last Seen", 0),
            ("Type", 0),
            ("Reason", 0),
            ("Object", 0),
            ("Subobject", 1),
            ("Source", 1),
            ("Message", 0),
            ("First Seen", 1),
            ("Count", 1),
            ("Name", 1)
        ]
    );
    let ev = json!({
        "metadata": meta("web.17a"),
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{web}"},
        "reason": "BackOff", "type": "Warning", "message": " Back-off restarting failed container \n",
        "source": {"component": "kubelet", "host": "n1"},
        "firstTimestamp": ago(3600), "lastTimestamp": ago(30), "count": 12
    });
    assert_eq!(
        row("", "Event", &ev),
        json!([
            "30s",
            "Warning",
            "BackOff",
            "pod/web",
            "spec.containers{web}",
            "kubelet, n1",
            "Back-off restarting failed container",
            "60m",
            12,
            "web.17a"
        ])
    );
    let v1 = json!({
        "metadata": meta("web.17b"),
        "regarding": {"kind": "Deployment", "name": "web"},
        "reason": "ScalingReplicaSet", "type": "Normal", "note": "Scaled up",
        "reportingController": "deployment-controller", "reportingInstance": "",
        "eventTime": "2025-01-01T11:58:59.500001Z"
    });
    assert_eq!(
        row("events.k8s.io", "Event", &v1),
        json!([
            "60s",
            "Normal",
            "ScalingReplicaSet",
            "deployment/web",
            "",
            "deployment-controller",
            "Scaled up",
            "60s",
            1,
            "web.17b"
        ])
    );
    let series = json!({
        "metadata": meta("e"), "involvedObject": {"kind": "Node"}, "eventTime": ago(600),
        "series": {"count": 4, "lastObservedTime": ago(10)}, "reportingComponent": "c", "reportingInstance": "i"
    });
    let r = row("", "Event", &series);
    assert_eq!(
        [&r[0], &r[3], &r[5], &r[7], &r[8]],
        [
            &json!("10s"),
            &json!("node"),
            &json!("c, i"),
            &json!("10m"),
            &json!(4)
        ]
    );
}

#[test]
fn volumes_and_claims() {
    let pv = json!({
        "metadata": {"name": "pv1", "creationTimestamp": ago(60)},
        "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "fast",
                 "claimRef": {"namespace": "default", "name": "data"}, "volumeMode": "Filesystem"},
        "status": {"phase": "Bound"}
    });
    assert_eq!(
        row("", "PersistentVolume", &pv),
        json!([
            "pv1",
            "10Gi",
            "RWO,RWX",
            "Retain",
            "Bound",
            "default/data",
            "fast",
            "<unset>",
            "",
            "60s",
            "Filesystem"
        ])
    );
    let mut gone = pv.clone();
    gone["metadata"]["deletionTimestamp"] = json!(ago(1));
    gone["metadata"]["annotations"] = json!({"volume.beta.kubernetes.io/storage-class": "legacy"});
    assert_eq!(
        row("", "PersistentVolume", &gone).as_array().unwrap()[4..7],
        [json!("Terminating"), json!("default/data"), json!("legacy")]
    );
    let pvc = json!({
        "metadata": meta("data"),
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                 "storageClassName": "fast", "volumeName": "pv1", "volumeMode": "Filesystem"},
        "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "10Gi"}}
    });
    assert_eq!(
        row("", "PersistentVolumeClaim", &pvc),
        json!([
            "data",
            "Bound",
            "pv1",
            "10Gi",
            "RWO",
            "fast",
            "<unset>",
            "2m",
            "Filesystem"
        ])
    );
    let pending = json!({"metadata": meta("p"), "spec": {"resources": {"requests": {"storage": "1Gi"}}}, "status": {"phase": "Pending"}});
    assert_eq!(
        row("", "PersistentVolumeClaim", &pending),
        json!(["p", "Pending", "", "", "", "", "<unset>", "2m", "<unset>"])
    );
}

#[test]
fn resource_quotas() {
    let q = json!({"metadata": meta("q"), "status": {
        "hard": {"requests.cpu": "2", "limits.memory": "2Gi", "pods": "10", "limits.cpu": "4"},
        "used": {"requests.cpu": "500m", "pods": "3", "limits.cpu": "1"}
    }});
    assert_eq!(
        row("", "ResourceQuota", &q),
        json!([
            "q",
            "pods: 3/10, requests.cpu: 500m/2",
            "limits.cpu: 1/4, limits.memory: 0/2Gi",
            "2m"
        ])
    );
}
