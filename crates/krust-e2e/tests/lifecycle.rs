//! Object lifecycle controllers, end to end with the real kubectl: the garbage collector
//! (Background, Foreground and Orphan propagation, cycles, owners recreated under the same
//! name, invalid owner references), namespace deletion with its status conditions, the
//! `default` ServiceAccount and `kube-root-ca.crt` in every namespace, TTL after finished,
//! and pod garbage collection. No timing is asserted: every wait is a generous loop.

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use krust_e2e::Cluster;
use serde_json::Value;

/// Polls `cond` until it holds, failing with `what` after `secs` seconds.
fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether `kubectl get <args>` finds the object.
fn exists(c: &Cluster, args: &[&str]) -> bool {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    c.kubectl(&a).status.success()
}

fn wait_gone(c: &Cluster, args: &[&str]) {
    wait_until(90, &format!("{args:?} is gone"), || !exists(c, args));
}

fn uid(c: &Cluster, args: &[&str]) -> String {
    c.get_json(args)["metadata"]["uid"].as_str().unwrap().to_string()
}

/// A ConfigMap with one owner reference to ConfigMap `owner` (uid `owner_uid`).
fn dependent(name: &str, owner: &str, owner_uid: &str, block: bool, finalizer: Option<&str>) -> String {
    let finalizers = finalizer
        .map(|f| format!("  finalizers: [{f}]\n"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n{finalizers}  ownerReferences:\n  - apiVersion: v1\n    kind: ConfigMap\n    name: {owner}\n    uid: {owner_uid}\n    blockOwnerDeletion: {block}\n"
    )
}

fn create_dependent(c: &Cluster, ns: &str, yaml: &str) {
    c.ok_stdin(&["create", "-n", ns, "-f", "-"], yaml);
}

#[test]
fn background_deletion_removes_dependents_and_theirs() {
    let c = Cluster::start();
    c.ok(&["create", "configmap", "owner"]);
    let owner = uid(&c, &["cm", "owner"]);
    create_dependent(&c, "default", &dependent("child-a", "owner", &owner, false, None));
    create_dependent(&c, "default", &dependent("child-b", "owner", &owner, true, None));
    let child = uid(&c, &["cm", "child-a"]);
    create_dependent(
        &c,
        "default",
        &dependent("grandchild", "child-a", &child, false, None),
    );
    c.ok(&["create", "configmap", "unrelated"]);
    c.ok(&["delete", "configmap", "owner"]);
    for name in ["child-a", "child-b", "grandchild"] {
        wait_gone(&c, &["cm", name]);
    }
    assert!(exists(&c, &["cm", "unrelated"]));
}

#[test]
fn foreground_deletion_waits_for_blocking_dependents() {
    let c = Cluster::start();
    c.ok(&["create", "configmap", "owner"]);
    let owner = uid(&c, &["cm", "owner"]);
    // A blocking dependent that its own finalizer keeps around for a while.
    create_dependent(
        &c,
        "default",
        &dependent("blocking", "owner", &owner, true, Some("example.com/hold")),
    );
    create_dependent(&c, "default", &dependent("loose", "owner", &owner, false, None));
    c.ok(&[
        "delete",
        "configmap",
        "owner",
        "--cascade=foreground",
        "--wait=false",
    ]);
    // Every dependent is deleted; the owner waits only for the blocking one.
    wait_gone(&c, &["cm", "loose"]);
    wait_until(90, "the blocking dependent is being deleted", || {
        c.get_json(&["cm", "blocking"])["metadata"]["deletionTimestamp"].is_string()
    });
    let o = c.get_json(&["cm", "owner"]);
    assert!(o["metadata"]["deletionTimestamp"].is_string(), "{o}");
    assert_eq!(
        o["metadata"]["finalizers"],
        serde_json::json!(["foregroundDeletion"]),
        "{o}"
    );
    // Once the blocking dependent is gone, so is the owner.
    c.ok(&[
        "patch",
        "configmap",
        "blocking",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    wait_gone(&c, &["cm", "blocking"]);
    wait_gone(&c, &["cm", "owner"]);
}

#[test]
fn orphan_deletion_releases_dependents() {
    let c = Cluster::start();
    c.ok(&["create", "configmap", "owner"]);
    let owner = uid(&c, &["cm", "owner"]);
    c.ok(&["create", "configmap", "other"]);
    let other = uid(&c, &["cm", "other"]);
    create_dependent(&c, "default", &dependent("kept", "owner", &owner, true, None));
    // Two owners: only the orphaned one's reference is removed.
    let both = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  ownerReferences:\n  - {{apiVersion: v1, kind: ConfigMap, name: owner, uid: {owner}}}\n  - {{apiVersion: v1, kind: ConfigMap, name: other, uid: {other}}}\n"
    );
    create_dependent(&c, "default", &both);
    // kubectl waits until the owner is gone, which takes the collector's work.
    c.ok(&[
        "delete",
        "configmap",
        "owner",
        "--cascade=orphan",
        "--timeout=90s",
    ]);
    assert!(!exists(&c, &["cm", "owner"]));
    let kept = c.get_json(&["cm", "kept"]);
    assert!(kept["metadata"].get("ownerReferences").is_none(), "{kept}");
    let shared = c.get_json(&["cm", "shared"]);
    let refs = shared["metadata"]["ownerReferences"].as_array().unwrap();
    assert_eq!(refs.len(), 1, "{shared}");
    assert_eq!(refs[0]["name"], "other");
}

/// a is owned by c, c by b, b by a, every reference blocking.
fn make_cycle(c: &Cluster, prefix: &str) -> [String; 3] {
    let [a, b, x] = [
        format!("{prefix}-a"),
        format!("{prefix}-b"),
        format!("{prefix}-c"),
    ];
    c.ok(&["create", "configmap", &a]);
    let ua = uid(c, &["cm", &a]);
    create_dependent(c, "default", &dependent(&b, &a, &ua, true, None));
    let ub = uid(c, &["cm", &b]);
    create_dependent(c, "default", &dependent(&x, &b, &ub, true, None));
    let uc = uid(c, &["cm", &x]);
    let patch = format!(
        r#"{{"metadata":{{"ownerReferences":[{{"apiVersion":"v1","kind":"ConfigMap","name":"{x}","uid":"{uc}","blockOwnerDeletion":true}}]}}}}"#
    );
    c.ok(&["patch", "configmap", &a, "--type=merge", "-p", &patch]);
    [a, b, x]
}

#[test]
fn dependency_cycles_are_deleted() {
    let c = Cluster::start();
    let fg = make_cycle(&c, "fg");
    c.ok(&[
        "delete",
        "configmap",
        &fg[0],
        "--cascade=foreground",
        "--timeout=90s",
    ]);
    for name in &fg {
        wait_gone(&c, &["cm", name]);
    }
    let bg = make_cycle(&c, "bg");
    c.ok(&["delete", "configmap", &bg[0]]);
    for name in &bg {
        wait_gone(&c, &["cm", name]);
    }
}

#[test]
fn an_owner_recreated_under_the_same_name_is_another_owner() {
    let c = Cluster::start();
    c.ok(&["create", "configmap", "owner"]);
    let owner = uid(&c, &["cm", "owner"]);
    create_dependent(&c, "default", &dependent("child", "owner", &owner, false, None));
    c.ok(&["delete", "configmap", "owner"]);
    c.ok(&["create", "configmap", "owner"]);
    wait_gone(&c, &["cm", "child"]);
    assert!(exists(&c, &["cm", "owner"]));
}

#[test]
fn owner_references_across_scopes_follow_upstream_rules() {
    let c = Cluster::start();
    c.ok(&["create", "namespace", "here"]);
    c.ok(&["create", "namespace", "there"]);
    c.ok(&["create", "configmap", "owner", "-n", "here"]);
    let owner = uid(&c, &["cm", "owner", "-n", "here"]);
    // A namespaced owner is only an owner within its own namespace: elsewhere the
    // reference counts as pointing at an absent owner.
    create_dependent(&c, "there", &dependent("elsewhere", "owner", &owner, false, None));
    wait_gone(&c, &["cm", "elsewhere", "-n", "there"]);
    // A cluster-scoped object cannot be owned by a namespaced kind: left alone, reported.
    let role = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: owned-role\n  ownerReferences:\n  - {{apiVersion: v1, kind: ConfigMap, name: owner, uid: {owner}}}\nrules: []\n"
    );
    c.ok_stdin(&["create", "-f", "-"], &role);
    wait_until(90, "both invalid references are reported", || {
        let events = c.get_json(&[
            "events",
            "-A",
            "--field-selector",
            "reason=OwnerRefInvalidNamespace",
        ]);
        let objs: Vec<&str> = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["involvedObject"]["name"].as_str())
            .collect();
        objs.contains(&"elsewhere") && objs.contains(&"owned-role")
    });
    assert!(exists(&c, &["clusterrole", "owned-role"]));
    // A cluster-scoped owner may own objects in any namespace.
    c.ok_stdin(
        &["create", "-f", "-"],
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: cluster-owner\nrules: []\n",
    );
    let cluster_owner = uid(&c, &["clusterrole", "cluster-owner"]);
    let dep = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: of-cluster-owner\n  ownerReferences:\n  - {{apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, name: cluster-owner, uid: {cluster_owner}}}\n"
    );
    create_dependent(&c, "there", &dep);
    std::thread::sleep(Duration::from_secs(2));
    assert!(exists(&c, &["cm", "of-cluster-owner", "-n", "there"]));
    c.ok(&["delete", "clusterrole", "cluster-owner"]);
    wait_gone(&c, &["cm", "of-cluster-owner", "-n", "there"]);
}

fn condition<'a>(ns: &'a Value, kind: &str) -> Option<&'a Value> {
    ns["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

#[test]
fn deleting_a_namespace_deletes_its_content_then_the_namespace() {
    let c = Cluster::start();
    // A namespace whose content goes at once: `kubectl delete ns` returns when it is gone.
    c.ok(&["create", "namespace", "quick"]);
    c.ok(&["create", "configmap", "a", "-n", "quick"]);
    c.ok(&[
        "create",
        "secret",
        "generic",
        "s",
        "-n",
        "quick",
        "--from-literal=k=v",
    ]);
    c.ok(&["run", "p", "-n", "quick", "--image=busybox"]);
    c.ok(&["delete", "namespace", "quick", "--timeout=120s"]);
    assert!(!exists(&c, &["namespace", "quick"]));

    // One held by a finalizer shows why it waits.
    c.ok(&["create", "namespace", "slow"]);
    c.ok(&["create", "configmap", "a", "-n", "slow"]);
    c.ok(&[
        "create",
        "secret",
        "generic",
        "s",
        "-n",
        "slow",
        "--from-literal=k=v",
    ]);
    c.ok(&["run", "p", "-n", "slow", "--image=busybox"]);
    c.ok_stdin(
        &["create", "-n", "slow", "-f", "-"],
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\n",
    );
    c.ok(&["delete", "namespace", "slow", "--wait=false"]);
    wait_until(90, "the namespace reports its remaining content", || {
        let ns = c.get_json(&["namespace", "slow"]);
        let remaining = condition(&ns, "NamespaceContentRemaining");
        let finalizers = condition(&ns, "NamespaceFinalizersRemaining");
        remaining.is_some_and(|r| r["status"] == "True")
            && finalizers.is_some_and(|f| {
                f["status"] == "True"
                    && f["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("example.com/hold in 1 resource instances"))
            })
    });
    let ns = c.get_json(&["namespace", "slow"]);
    assert_eq!(ns["status"]["phase"], "Terminating", "{ns}");
    let remaining = condition(&ns, "NamespaceContentRemaining").unwrap();
    assert_eq!(remaining["reason"], "SomeResourcesRemain", "{ns}");
    assert!(
        remaining["message"]
            .as_str()
            .unwrap()
            .contains("configmaps. has 1 resource instances"),
        "{ns}"
    );
    for kind in [
        "NamespaceDeletionDiscoveryFailure",
        "NamespaceDeletionGroupVersionParsingFailure",
        "NamespaceDeletionContentFailure",
    ] {
        assert_eq!(condition(&ns, kind).unwrap()["status"], "False", "{kind}: {ns}");
    }
    // Everything not held is gone already.
    for obj in [
        ["configmap", "a"],
        ["secret", "s"],
        ["pod", "p"],
        ["serviceaccount", "default"],
    ] {
        assert!(!exists(&c, &[obj[0], obj[1], "-n", "slow"]), "{obj:?} remains");
    }
    c.ok(&[
        "patch",
        "configmap",
        "held",
        "-n",
        "slow",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    c.ok(&["wait", "--for=delete", "namespace/slow", "--timeout=120s"]);
}

#[test]
fn every_namespace_has_a_default_service_account_and_the_root_ca() {
    let c = Cluster::start();
    let ca = std::fs::read_to_string(c.data_dir().join("tls/server-ca.crt")).unwrap();
    let has_both = |ns: &str| {
        exists(&c, &["serviceaccount", "default", "-n", ns])
            && c.kubectl(&["get", "configmap", "kube-root-ca.crt", "-n", ns, "-o", "json"])
                .status
                .success()
            && c.get_json(&["configmap", "kube-root-ca.crt", "-n", ns])["data"]["ca.crt"] == ca.as_str()
    };
    for ns in ["default", "kube-system", "kube-public"] {
        wait_until(90, &format!("{ns} has both"), || has_both(ns));
    }
    c.ok(&["create", "namespace", "fresh"]);
    wait_until(90, "a new namespace has both", || has_both("fresh"));
    // Deleted: recreated. Edited: put back.
    c.ok(&["delete", "serviceaccount", "default", "-n", "fresh"]);
    c.ok(&["delete", "configmap", "kube-root-ca.crt", "-n", "fresh"]);
    wait_until(90, "both are recreated", || has_both("fresh"));
    c.ok(&[
        "patch",
        "configmap",
        "kube-root-ca.crt",
        "-n",
        "fresh",
        "--type=merge",
        "-p",
        r#"{"data":{"ca.crt":"tampered"}}"#,
    ]);
    wait_until(90, "the CA is restored", || has_both("fresh"));
}

#[test]
fn finished_jobs_are_deleted_after_their_ttl() {
    let c = Cluster::start();
    let job = |name: &str, ttl: &str| {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n{ttl}  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: c\n        image: busybox\n"
        )
    };
    c.ok_stdin(
        &["create", "-f", "-"],
        &job("short", "  ttlSecondsAfterFinished: 1\n"),
    );
    c.ok_stdin(&["create", "-f", "-"], &job("forever", ""));
    let now = c.get_json(&["job", "short"])["metadata"]["creationTimestamp"]
        .as_str()
        .unwrap()
        .to_string();
    let finished = format!(
        r#"{{"status":{{"startTime":"{now}","completionTime":"{now}","succeeded":1,"conditions":[{{"type":"SuccessCriteriaMet","status":"True","lastTransitionTime":"{now}"}},{{"type":"Complete","status":"True","lastTransitionTime":"{now}"}}]}}}}"#
    );
    for name in ["short", "forever"] {
        c.ok(&[
            "patch",
            "job",
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            &finished,
        ]);
    }
    wait_gone(&c, &["job", "short"]);
    assert!(exists(&c, &["job", "forever"]), "a Job without TTL stays");
}

#[test]
fn pods_bound_to_a_missing_node_are_collected() {
    let c = Cluster::start();
    c.ok_stdin(
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: stranded\nspec:\n  nodeName: no-such-node\n  containers:\n  - name: c\n    image: busybox\n",
    );
    c.ok_stdin(
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: real-node\n",
    );
    c.ok_stdin(
        &["create", "-f", "-"],
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: placed\nspec:\n  nodeName: real-node\n  containers:\n  - name: c\n    image: busybox\n",
    );
    // After the node's quarantine (40 s) and a collection pass (every 20 s).
    wait_until(180, "the stranded pod is collected", || {
        !exists(&c, &["pod", "stranded"])
    });
    // Pods of existing nodes stay (get_json fails the test with kubectl's error if not).
    assert_eq!(c.get_json(&["pod", "placed"])["spec"]["nodeName"], "real-node");
}

const WIDGET_CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  names: {plural: widgets, singular: widget, kind: Widget}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n";

#[test]
fn custom_resources_are_collected_and_deleted_with_their_namespace() {
    let c = Cluster::start();
    c.ok_stdin(&["create", "-f", "-"], WIDGET_CRD);
    c.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.example.com",
        "--timeout=60s",
    ]);
    // A custom resource owning a ConfigMap, and a ConfigMap owning a custom resource:
    // the collector learns the new type from discovery, which it reads again periodically.
    c.ok_stdin(
        &["create", "-f", "-"],
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\n",
    );
    let w1 = uid(&c, &["widget", "w1"]);
    let dep = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: of-widget\n  ownerReferences:\n  - {{apiVersion: example.com/v1, kind: Widget, name: w1, uid: {w1}}}\n"
    );
    create_dependent(&c, "default", &dep);
    c.ok(&["create", "configmap", "owner"]);
    let owner = uid(&c, &["cm", "owner"]);
    let widget = format!(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w2\n  ownerReferences:\n  - {{apiVersion: v1, kind: ConfigMap, name: owner, uid: {owner}}}\n"
    );
    c.ok_stdin(&["create", "-f", "-"], &widget);
    c.ok(&["delete", "widget", "w1"]);
    c.ok(&["delete", "configmap", "owner"]);
    wait_gone(&c, &["cm", "of-widget"]);
    wait_gone(&c, &["widget", "w2"]);
    // Deleting a namespace deletes its custom resources too.
    c.ok(&["create", "namespace", "custom"]);
    c.ok_stdin(
        &["create", "-n", "custom", "-f", "-"],
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w3\n",
    );
    c.ok(&["delete", "namespace", "custom", "--timeout=120s"]);
    assert!(!exists(&c, &["namespace", "custom"]));
}

/// The images of the live pods with the labels, sorted and deduplicated.
fn workload_images(c: &Cluster, selector: &str) -> Vec<String> {
    let list = c.get_json(&["pods", "-l", selector]);
    let mut v: Vec<String> = list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| {
            p["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// `kubectl rollout status|undo` of a StatefulSet and a DaemonSet on simulated nodes.
#[test]
fn statefulset_and_daemonset_rollout_status_and_undo() {
    let c = Cluster::start_with_nodes(2, &[]);
    let manifest = |kind: &str, name: &str, extra: &str| {
        format!(
            r#"{{"apiVersion": "apps/v1", "kind": "{kind}", "metadata": {{"name": "{name}"}},
 "spec": {{{extra}"selector": {{"matchLabels": {{"app": "{name}"}}}},
  "template": {{"metadata": {{"labels": {{"app": "{name}"}}}},
   "spec": {{"terminationGracePeriodSeconds": 0, "containers": [{{"name": "app", "image": "nginx:1"}}]}}}}}}}}"#
        )
    };
    c.ok_stdin(
        &["apply", "-f", "-"],
        &manifest("StatefulSet", "kv", r#""replicas": 2, "serviceName": "kv", "#),
    );
    c.ok_stdin(&["apply", "-f", "-"], &manifest("DaemonSet", "node-agent", ""));
    for target in ["statefulset/kv", "daemonset/node-agent"] {
        let out = c.ok(&["rollout", "status", target, "--timeout=120s"]);
        assert!(
            out.contains("complete") || out.contains("successfully rolled out"),
            "{out}"
        );
    }
    for (target, selector) in [
        ("statefulset/kv", "app=kv"),
        ("daemonset/node-agent", "app=node-agent"),
    ] {
        c.ok(&["set", "image", target, "app=nginx:2"]);
        c.ok(&["rollout", "status", target, "--timeout=120s"]);
        wait_until(120, &format!("{target} at nginx:2"), || {
            workload_images(&c, selector) == ["nginx:2"]
        });
        c.ok(&["rollout", "undo", target]);
        c.ok(&["rollout", "status", target, "--timeout=120s"]);
        wait_until(120, &format!("{target} back at nginx:1"), || {
            workload_images(&c, selector) == ["nginx:1"]
        });
        let history = c.ok(&["rollout", "history", target]);
        assert!(history.contains('3'), "{history}");
    }
}

#[test]
fn a_job_created_from_a_cronjob_runs_to_completion() {
    let c = Cluster::start_with_nodes(1, &[]);
    // A schedule that will not fire during the test: only the manual Job runs.
    c.ok(&[
        "create",
        "cronjob",
        "nightly",
        "--image=busybox",
        "--schedule=0 0 1 1 *",
        "--restart=OnFailure",
    ]);
    c.ok(&["create", "job", "nightly-manual", "--from=cronjob/nightly"]);
    let job = c.get_json(&["job", "nightly-manual"]);
    let owner = &job["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "CronJob", "{job}");
    assert_eq!(owner["name"], "nightly");
    assert_eq!(
        job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"],
        "manual"
    );
    c.ok(&[
        "wait",
        "--for=condition=complete",
        "job/nightly-manual",
        "--timeout=120s",
    ]);
    let job = c.get_json(&["job", "nightly-manual"]);
    assert_eq!(job["status"]["succeeded"], 1, "{job}");
    // The CronJob records the success of its Job.
    wait_until(60, "the CronJob's lastSuccessfulTime", || {
        c.get_json(&["cronjob", "nightly"])["status"]["lastSuccessfulTime"].is_string()
    });
}
