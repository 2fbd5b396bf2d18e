//! Deletion semantics (graceful pod deletion, finalizers, propagation policies, terminating
//! namespaces), field validation levels, and content negotiation details.

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use krust_e2e::{Cluster, stderr, stdout};

const BOUND_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bound\nspec:\n  nodeName: node-1\n  containers:\n  - name: c\n    image: busybox\n";
const FREE_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: free\nspec:\n  containers:\n  - name: c\n    image: busybox\n";

#[test]
fn graceful_pod_deletion_waits_for_the_node() {
    let c = Cluster::start();
    c.ok_stdin(&["create", "-f", "-"], BOUND_POD);
    c.ok_stdin(&["create", "-f", "-"], FREE_POD);
    let p = c.get_json(&["pod", "free"]);
    assert_eq!(p["status"]["phase"], "Pending");
    assert_eq!(p["status"]["qosClass"], "BestEffort");
    // An unscheduled pod goes at once.
    c.ok(&["delete", "pod", "free"]);
    assert!(c.fails(&["get", "pod", "free"]).contains("NotFound"));
    // A pod bound to a node is only marked; its node confirms later.
    c.ok(&["delete", "pod", "bound", "--wait=false"]);
    let p = c.get_json(&["pod", "bound"]);
    assert!(p["metadata"]["deletionTimestamp"].is_string(), "{p}");
    assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 30);
    let table = c.ok(&["get", "pod", "bound"]);
    assert!(table.contains("Terminating"), "{table}");
    // Grace period 0 (what the node sends, or --force) removes it.
    c.ok(&["delete", "pod", "bound", "--grace-period=0", "--force"]);
    assert!(c.fails(&["get", "pod", "bound"]).contains("NotFound"));
}

/// Watches the finalizers of `target` (one line per change) while `action` runs; returns
/// the values printed, up to the one that makes `until` hold (or all of them, if none does
/// and nothing more comes for a minute).
fn finalizers_while(
    c: &Cluster,
    target: &[&str],
    action: impl FnOnce(),
    until: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::time::Duration;

    let mut child = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(c.kubeconfig())
        .arg("--cache-dir")
        .arg(c.dir.path().join("kubecache"))
        .arg("get")
        .args(target)
        .args(["--watch", "-o", "jsonpath={.metadata.finalizers}{\"\\n\"}"])
        .env("HOME", c.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The watch prints the current state first: then it is watching.
    let first = rx.recv_timeout(Duration::from_secs(60));
    assert!(
        first.is_ok(),
        "kubectl get {target:?} --watch printed nothing in 60s"
    );
    let mut seen: Vec<String> = first.into_iter().collect();
    action();
    while !until(&seen) {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(l) => seen.push(l),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    seen
}

#[test]
fn propagation_policies_are_recorded_as_finalizers() {
    let c = Cluster::start();
    // Foreground: the owner carries `foregroundDeletion` while a dependent with
    // blockOwnerDeletion remains (this one held by its own finalizer); once it is gone,
    // the garbage collector removes the finalizer and the owner goes too.
    c.ok(&["create", "configmap", "fg"]);
    let uid = c.get_json(&["configmap", "fg"])["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    c.ok_stdin(
        &["create", "-f", "-"],
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fg-child\n  finalizers: [example.com/hold]\n  ownerReferences:\n  - {{apiVersion: v1, kind: ConfigMap, name: fg, uid: {uid}, blockOwnerDeletion: true}}\n"
        ),
    );
    c.ok(&[
        "delete",
        "configmap",
        "fg",
        "--cascade=foreground",
        "--wait=false",
    ]);
    let d = c.get_json(&["configmap", "fg"]);
    assert_eq!(
        d["metadata"]["finalizers"],
        serde_json::json!(["foregroundDeletion"]),
        "{d}"
    );
    assert!(d["metadata"]["deletionTimestamp"].is_string());
    c.ok(&[
        "patch",
        "configmap",
        "fg-child",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    c.ok(&[
        "wait",
        "--for=delete",
        "configmap/fg",
        "configmap/fg-child",
        "--timeout=60s",
    ]);
    // Orphan: the owner carries `orphan` until the garbage collector has released its
    // dependents; then it goes (kubectl waits for that).
    c.ok(&["create", "deployment", "orphan", "--image=nginx"]);
    let seen = finalizers_while(
        &c,
        &["deployment", "orphan"],
        || {
            c.ok(&[
                "delete",
                "deployment",
                "orphan",
                "--cascade=orphan",
                "--timeout=60s",
            ]);
        },
        |seen| seen.iter().any(|f| f == r#"["orphan"]"#),
    );
    assert!(seen.iter().any(|f| f == r#"["orphan"]"#), "{seen:?}");
    assert!(c.fails(&["get", "deploy", "orphan"]).contains("NotFound"));
    // Background (the default) deletes at once; the garbage collector handles dependents.
    c.ok(&["create", "deployment", "bg", "--image=nginx"]);
    c.ok(&["delete", "deployment", "bg"]);
    assert!(c.fails(&["get", "deploy", "bg"]).contains("NotFound"));
}

#[test]
fn terminating_namespace_refuses_new_objects() {
    let c = Cluster::start();
    c.ok(&["create", "namespace", "closing"]);
    c.ok_stdin(
        &["apply", "-n", "closing", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\n",
    );
    c.ok(&["delete", "namespace", "closing", "--wait=false"]);
    let ns = c.get_json(&["namespace", "closing"]);
    assert_eq!(ns["status"]["phase"], "Terminating", "{ns}");
    let err = c.fails(&["create", "configmap", "late", "-n", "closing"]);
    assert!(
        err.contains("Forbidden") || err.contains("being terminated"),
        "{err}"
    );
    c.ok(&[
        "patch",
        "configmap",
        "held",
        "-n",
        "closing",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":[]}}"#,
    ]);
    c.ok(&["wait", "--for=delete", "namespace/closing", "--timeout=60s"]);
}

#[test]
fn field_validation_levels() {
    let c = Cluster::start();
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fv\nbogus: 1\ndata:\n  a: b\n";
    let strict = c.kubectl_stdin(&["apply", "-f", "-"], cm);
    assert!(!strict.status.success());
    assert!(
        stderr(&strict).contains("strict decoding error: unknown field \"bogus\""),
        "{}",
        stderr(&strict)
    );
    let warn = c.kubectl_stdin(&["apply", "--validate=warn", "-f", "-"], cm);
    assert!(warn.status.success(), "{}", stderr(&warn));
    assert!(
        stderr(&warn).contains("unknown field \"bogus\""),
        "warning expected: {}",
        stderr(&warn)
    );
    let ignore = c.kubectl_stdin(
        &["create", "--validate=false", "-f", "-"],
        &cm.replace("name: fv", "name: fv2"),
    );
    assert!(ignore.status.success(), "{}", stderr(&ignore));
    assert!(!stderr(&ignore).contains("unknown field"), "{}", stderr(&ignore));
    assert!(c.get_json(&["configmap", "fv2"]).get("bogus").is_none());
}

#[test]
fn scale_subresource_prints_as_scale() {
    let c = Cluster::start();
    c.ok(&["create", "deployment", "web", "--image=nginx", "--replicas=3"]);
    let out = c.ok(&["get", "deployment", "web", "--subresource=scale"]);
    assert!(out.starts_with("NAME") && !out.contains("UP-TO-DATE"), "{out}");
    let s: serde_json::Value =
        serde_json::from_str(&c.ok(&["get", "deployment", "web", "--subresource=scale", "-o", "json"]))
            .unwrap();
    assert_eq!(s["kind"], "Scale");
    assert_eq!(s["spec"]["replicas"], 3);
}

#[test]
fn content_negotiation_details() {
    let c = Cluster::start();
    let out = c.python("raw.py", &["negotiation"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
}

#[test]
fn service_addresses_are_allocated_reserved_and_released() {
    let c = Cluster::start();
    let k = c.get_json(&["service", "kubernetes", "-n", "default"]);
    assert_eq!(k["spec"]["clusterIP"], "10.43.0.1");
    assert_eq!(k["spec"]["ports"][0]["port"], 443);
    let ep = c.get_json(&["endpoints", "kubernetes", "-n", "default"]);
    assert_eq!(ep["subsets"][0]["addresses"][0]["ip"], "127.0.0.1");
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], c.port);
    c.ok(&[
        "create",
        "service",
        "nodeport",
        "np1",
        "--tcp=80:8080",
        "--node-port=30080",
    ]);
    let np1 = c.get_json(&["svc", "np1"]);
    assert_eq!(np1["spec"]["ports"][0]["nodePort"], 30080);
    let ip1 = np1["spec"]["clusterIP"].as_str().unwrap().to_string();
    assert!(ip1.starts_with("10.43."), "{ip1}");
    // The same node port or cluster IP cannot be taken twice.
    let err = c.fails(&[
        "create",
        "service",
        "nodeport",
        "np2",
        "--tcp=80:8080",
        "--node-port=30080",
    ]);
    assert!(err.contains("provided port is already allocated"), "{err}");
    let err = c.fails(&[
        "create",
        "service",
        "clusterip",
        "dup",
        "--tcp=80:8080",
        &format!("--clusterip={ip1}"),
    ]);
    assert!(err.contains("provided IP is already allocated"), "{err}");
    let err = c.fails(&[
        "create",
        "service",
        "clusterip",
        "far",
        "--tcp=80:8080",
        "--clusterip=192.168.1.1",
    ]);
    assert!(err.contains("not in the valid range"), "{err}");
    // Changing the type gives the node port back.
    c.ok(&["patch", "svc", "np1", "-p", r#"{"spec":{"type":"ClusterIP"}}"#]);
    assert!(
        c.get_json(&["svc", "np1"])["spec"]["ports"][0]
            .get("nodePort")
            .is_none()
    );
    c.ok(&[
        "create",
        "service",
        "nodeport",
        "np3",
        "--tcp=80:8080",
        "--node-port=30080",
    ]);
    // Deleting a Service frees its IP.
    c.ok(&["delete", "svc", "np1"]);
    c.ok(&[
        "create",
        "service",
        "clusterip",
        "again",
        "--tcp=80:8080",
        &format!("--clusterip={ip1}"),
    ]);
    // Many services, all different IPs.
    for i in 0..20 {
        c.ok(&[
            "create",
            "service",
            "clusterip",
            &format!("many-{i}"),
            "--tcp=80:80",
        ]);
    }
    let list = c.get_json(&["svc"]);
    let ips: std::collections::HashSet<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["spec"]["clusterIP"].as_str())
        .collect();
    assert_eq!(ips.len(), list["items"].as_array().unwrap().len());
}

#[test]
fn eviction_respects_disruption_budgets_and_drain_works() {
    // The budgets' status is written by the test, so the disruption controller (which
    // would count these agent-less pods as unhealthy) stays off.
    let c = Cluster::start_with(&["--disable-scheduler", "--controllers=*,-disruption"]);
    c.ok_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n",
    );
    for p in ["a", "b"] {
        let pod = format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {p}\n  labels: {{app: x}}\nspec:\n  nodeName: n1\n  containers:\n  - name: c\n    image: busybox\n"
        );
        c.ok_stdin(&["apply", "-f", "-"], &pod);
        c.ok(&[
            "patch",
            "pod",
            p,
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"phase":"Running"}}"#,
        ]);
    }
    c.ok_stdin(
        &["apply", "-f", "-"],
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: keep-one\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels: {app: x}\n",
    );
    // What the disruption controller would report: no disruption allowed.
    let status = r#"{"status":{"observedGeneration":1,"disruptionsAllowed":0,"currentHealthy":1,"desiredHealthy":1,"expectedPods":2}}"#;
    c.ok(&[
        "patch",
        "pdb",
        "keep-one",
        "--subresource=status",
        "--type=merge",
        "-p",
        status,
    ]);
    let out = c.kubectl(&["drain", "n1", "--force", "--grace-period=0", "--timeout=3s"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("Cannot evict pod as it would violate the pod's disruption budget"),
        "{err}"
    );
    assert_eq!(
        c.get_json(&["node", "n1"])["spec"]["unschedulable"],
        true,
        "drain cordons first"
    );
    let allow = r#"{"status":{"disruptionsAllowed":2}}"#;
    c.ok(&[
        "patch",
        "pdb",
        "keep-one",
        "--subresource=status",
        "--type=merge",
        "-p",
        allow,
    ]);
    let out = c.kubectl(&["drain", "n1", "--force", "--grace-period=0", "--timeout=30s"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(c.fails(&["get", "pod", "a"]).contains("NotFound"));
    let pdb = c.get_json(&["pdb", "keep-one"]);
    assert_eq!(pdb["status"]["disruptionsAllowed"], 0);
    assert!(pdb["status"]["disruptedPods"]["a"].is_string(), "{pdb}");
    c.ok(&["uncordon", "n1"]);
    assert!(
        c.get_json(&["node", "n1"])["spec"]
            .get("unschedulable")
            .is_none_or(|u| u == false)
    );
}

/// ServiceAccount admission: a pod runs as `default` and every container mounts the
/// token volume, unless the pod or its account turns automounting off.
#[test]
fn pods_get_their_service_account_token_volume() {
    let c = Cluster::start();
    c.ok(&["run", "web", "--image=nginx", "--restart=Never"]);
    let p = c.get_json(&["pod", "web"]);
    let spec = &p["spec"];
    assert_eq!(spec["serviceAccountName"], "default", "{p}");
    assert_eq!(spec["serviceAccount"], "default", "{p}");
    let volume = spec["volumes"][0]["name"].as_str().unwrap_or_default();
    assert!(
        volume.starts_with("kube-api-access-") && volume.len() == 21,
        "{p}"
    );
    let sources = &spec["volumes"][0]["projected"]["sources"];
    assert_eq!(sources[0]["serviceAccountToken"]["path"], "token", "{p}");
    assert_eq!(sources[1]["configMap"]["name"], "kube-root-ca.crt", "{p}");
    assert_eq!(sources[2]["downwardAPI"]["items"][0]["path"], "namespace", "{p}");
    let mount = &spec["containers"][0]["volumeMounts"][0];
    assert_eq!(mount["name"], volume, "{p}");
    assert_eq!(
        mount["mountPath"],
        "/var/run/secrets/kubernetes.io/serviceaccount"
    );
    assert_eq!(mount["readOnly"], true);

    // An account that does not automount: its pods get no volume.
    c.ok_stdin(
        &["apply", "-f", "-"],
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: quiet\nautomountServiceAccountToken: false\n",
    );
    c.ok(&[
        "run",
        "quiet",
        "--image=nginx",
        "--restart=Never",
        "--overrides",
        r#"{"spec": {"serviceAccountName": "quiet"}}"#,
    ]);
    let p = c.get_json(&["pod", "quiet"]);
    assert_eq!(p["spec"]["serviceAccountName"], "quiet", "{p}");
    assert!(p["spec"].get("volumes").is_none(), "{p}");
    assert!(p["spec"]["containers"][0].get("volumeMounts").is_none(), "{p}");
}
