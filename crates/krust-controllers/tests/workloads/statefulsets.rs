//! StatefulSets on simulated nodes: ordered creation and scale-down, stable identity,
//! claims that outlive their pods, rolling updates with a partition, rollback through
//! ControllerRevisions, and releasing and adopting pods, with the real kubectl.

use serde_json::{Value, json};

use super::support::*;

/// A StatefulSet `name` selecting `app=<name>` with one container and the extra spec
/// fields in `extra`.
fn stateful_set(name: &str, replicas: i32, image: &str, extra: Value) -> String {
    let mut spec = json!({
        "replicas": replicas,
        "serviceName": name,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"terminationGracePeriodSeconds": 0, "containers": [{"name": "app", "image": image}]},
        },
    });
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": spec})
        .to_string()
}

fn sts_rollout(c: &krust_e2e::Cluster, name: &str) {
    c.ok(&[
        "rollout",
        "status",
        &format!("statefulset/{name}"),
        "--timeout=120s",
    ]);
}

/// Names of the live pods with the labels, sorted.
fn pod_names(c: &krust_e2e::Cluster, selector: &str) -> Vec<String> {
    let mut v: Vec<String> = live_pods(c, selector).iter().map(name).collect();
    v.sort();
    v
}

fn image_of(c: &krust_e2e::Cluster, pod: &str) -> String {
    c.get_json(&["pod", pod])["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn statefulset_ordered_creation_scale_down_and_claims() {
    let c = cluster();
    // Claims bind to pre-provisioned local volumes of a WaitForFirstConsumer class.
    c.ok_stdin(
        &["apply", "-f", "-"],
        r#"{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local"},
            "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": "WaitForFirstConsumer"}"#,
    );
    for i in 0..4 {
        let pv = json!({
            "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": format!("pv-{i}")},
            "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                     "storageClassName": "local", "hostPath": {"path": format!("/tmp/pv-{i}")}},
        });
        c.ok_stdin(&["apply", "-f", "-"], &pv.to_string());
    }
    let claims = json!({"volumeClaimTemplates": [{
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local",
                 "resources": {"requests": {"storage": "1Gi"}}},
    }]});
    c.ok(&["create", "service", "clusterip", "web", "--clusterip=None"]);
    c.ok_stdin(&["apply", "-f", "-"], &stateful_set("web", 3, "nginx:1", claims));
    sts_rollout(&c, "web");
    assert_eq!(pod_names(&c, "app=web"), ["web-0", "web-1", "web-2"]);

    // Ordered: a pod is created only once every lower ordinal is Ready (API times have
    // second precision, hence "not before").
    let ready_since = |p: &str| {
        let pod = c.get_json(&["pod", p]);
        condition(&pod, "Ready")["lastTransitionTime"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let created = |p: &str| {
        c.get_json(&["pod", p])["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for (lower, higher) in [("web-0", "web-1"), ("web-1", "web-2")] {
        assert!(
            created(higher) >= ready_since(lower),
            "{higher} was created before {lower} was Ready"
        );
    }

    // Identity: labels, hostname, subdomain, claim per ordinal.
    let p = c.get_json(&["pod", "web-1"]);
    assert_eq!(
        p["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"],
        "web-1"
    );
    assert_eq!(p["metadata"]["labels"]["apps.kubernetes.io/pod-index"], "1");
    assert!(
        p["metadata"]["labels"]["controller-revision-hash"]
            .as_str()
            .unwrap()
            .starts_with("web-")
    );
    assert_eq!(p["spec"]["hostname"], "web-1");
    assert_eq!(p["spec"]["subdomain"], "web");
    let vol = p["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "data")
        .cloned();
    assert_eq!(vol.unwrap()["persistentVolumeClaim"]["claimName"], "data-web-1");
    for i in 0..3 {
        c.get_json(&["pvc", &format!("data-web-{i}")]);
    }
    let sts = c.get_json(&["statefulset", "web"]);
    assert_eq!(sts["status"]["readyReplicas"], 3, "{sts}");
    assert_eq!(sts["status"]["availableReplicas"], 3);
    assert_eq!(sts["status"]["currentReplicas"], 3);
    assert_eq!(sts["status"]["updatedReplicas"], 3);
    assert_eq!(sts["status"]["observedGeneration"], sts["metadata"]["generation"]);
    assert_eq!(sts["status"]["currentRevision"], sts["status"]["updateRevision"]);

    // Scale down: the highest ordinal goes first; claims stay (Retain).
    let watch = Watch::start(&c, &["pods", "-l", "app=web"]);
    c.ok(&["scale", "statefulset", "web", "--replicas=1"]);
    wait_for(&c, "one pod left", || pod_names(&c, "app=web") == ["web-0"]);
    // Each pod's last watch event is its deletion: web-2 goes before web-1 is touched.
    let seen: Vec<String> = watch.stop().iter().map(name).collect();
    let last = |n: &str| seen.iter().rposition(|x| x == n).unwrap();
    let first_change = |n: &str| seen.iter().skip(3).position(|x| x == n).unwrap() + 3;
    assert!(
        last("web-2") < first_change("web-1"),
        "scale-down order: {seen:?}"
    );
    for i in 0..3 {
        c.get_json(&["pvc", &format!("data-web-{i}")]);
    }
    // Scaling up again reuses the same claims.
    c.ok(&["scale", "statefulset", "web", "--replicas=2"]);
    sts_rollout(&c, "web");
    let p = c.get_json(&["pod", "web-1"]);
    let vol = p["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "data")
        .cloned();
    assert_eq!(vol.unwrap()["persistentVolumeClaim"]["claimName"], "data-web-1");

    // whenScaled: Delete: the claim of a scaled-away pod is owned by the pod, so it goes.
    c.ok(&[
        "patch",
        "statefulset",
        "web",
        "-p",
        r#"{"spec":{"persistentVolumeClaimRetentionPolicy":{"whenScaled":"Delete"}}}"#,
    ]);
    c.ok(&["scale", "statefulset", "web", "--replicas=1"]);
    wait_for(&c, "the scaled-away claim deleted", || {
        !c.kubectl(&["get", "pvc", "data-web-1"]).status.success()
    });
    c.get_json(&["pvc", "data-web-0"]);
}

#[test]
fn statefulset_parallel_partitioned_update_and_rollback() {
    let c = cluster();
    c.ok_stdin(
        &["apply", "-f", "-"],
        &stateful_set("db", 3, "nginx:1", json!({"podManagementPolicy": "Parallel"})),
    );
    sts_rollout(&c, "db");
    assert_eq!(pod_names(&c, "app=db"), ["db-0", "db-1", "db-2"]);
    let first_rev = c.get_json(&["statefulset", "db"])["status"]["updateRevision"]
        .as_str()
        .unwrap()
        .to_string();

    // Partition 2: only db-2 gets the new template.
    c.ok(&[
        "patch",
        "statefulset",
        "db",
        "-p",
        r#"{"spec":{"updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":2}}}}"#,
    ]);
    c.ok(&["set", "image", "statefulset/db", "app=nginx:2"]);
    let out = c.ok(&["rollout", "status", "statefulset/db", "--timeout=120s"]);
    assert!(out.contains("partitioned roll out complete"), "{out}");
    wait_for(&c, "db-2 updated", || {
        image_of(&c, "db-2") == "nginx:2" && ready_pods(&c, "app=db") == 3
    });
    assert_eq!(image_of(&c, "db-1"), "nginx:1");
    assert_eq!(image_of(&c, "db-0"), "nginx:1");
    let sts = c.get_json(&["statefulset", "db"]);
    assert_eq!(sts["status"]["updatedReplicas"], 1, "{sts}");
    assert_eq!(sts["status"]["currentRevision"], first_rev.as_str());
    assert_ne!(sts["status"]["updateRevision"], first_rev.as_str());

    // Partition 0: the rest follow, and the update revision becomes current.
    c.ok(&[
        "patch",
        "statefulset",
        "db",
        "-p",
        r#"{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}"#,
    ]);
    sts_rollout(&c, "db");
    wait_for(&c, "all pods at nginx:2", || {
        ["db-0", "db-1", "db-2"]
            .iter()
            .all(|p| image_of(&c, p) == "nginx:2")
    });
    wait_for(&c, "the rollout recorded", || {
        let s = c.get_json(&["statefulset", "db"]);
        s["status"]["currentRevision"] == s["status"]["updateRevision"] && s["status"]["updatedReplicas"] == 3
    });

    // History and undo through ControllerRevisions.
    let revs = c.get_json(&["controllerrevisions", "-l", "app=db"]);
    assert_eq!(revs["items"].as_array().unwrap().len(), 2, "{revs}");
    let history = c.ok(&["rollout", "history", "statefulset/db"]);
    assert!(history.contains('1') && history.contains('2'), "{history}");
    c.ok(&["rollout", "undo", "statefulset/db"]);
    sts_rollout(&c, "db");
    wait_for(&c, "all pods back at nginx:1", || {
        ["db-0", "db-1", "db-2"]
            .iter()
            .all(|p| image_of(&c, p) == "nginx:1")
    });
    wait_for(&c, "the old revision current again, renumbered", || {
        let s = c.get_json(&["statefulset", "db"]);
        let rev = c.get_json(&["controllerrevision", &first_rev]);
        s["status"]["currentRevision"] == first_rev.as_str() && rev["revision"] == 3
    });
}

/// The uid of the StatefulSet controlling the pod, or "" when none does.
fn set_controlling(c: &krust_e2e::Cluster, pod: &str) -> String {
    let p = c.get_json(&["pod", pod]);
    p["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["kind"] == "StatefulSet" && r["controller"] == true)
        .and_then(|r| r["uid"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn uid_of(c: &krust_e2e::Cluster, kind: &str, name: &str) -> String {
    c.get_json(&[kind, name])["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn statefulset_releases_pods_that_stop_matching_and_adopts_members() {
    let c = cluster();
    // An orphan with the set's labels but not one of its names is never adopted.
    c.ok_stdin(&["apply", "-f", "-"], &bare_pod("stranger-0", "app=rel"));
    c.ok_stdin(
        &["apply", "-f", "-"],
        &stateful_set("rel", 2, "nginx:1", json!({})),
    );
    sts_rollout(&c, "rel");
    let set_uid = uid_of(&c, "statefulset", "rel");
    let pod_uid = uid_of(&c, "pod", "rel-1");
    assert_eq!(set_controlling(&c, "rel-1"), set_uid);

    // Relabelled out of the selector: released, not deleted; the set no longer counts it
    // and, identity being the name, does not make another rel-1 while it exists.
    c.ok(&["label", "pod", "rel-1", "app=gone", "--overwrite"]);
    wait_for(&c, "rel-1 released", || set_controlling(&c, "rel-1").is_empty());
    wait_for(&c, "the set counting one pod", || {
        c.get_json(&["statefulset", "rel"])["status"]["replicas"] == 1
    });
    assert_eq!(
        uid_of(&c, "pod", "rel-1"),
        pod_uid,
        "the released pod was replaced"
    );
    let p = c.get_json(&["pod", "rel-1"]);
    assert!(
        p["metadata"]["ownerReferences"]
            .as_array()
            .is_none_or(|refs| refs.iter().all(|r| r["uid"] != set_uid.as_str())),
        "{p}"
    );

    // Matching again with one of the set's names: adopted back, the same pod.
    c.ok(&["label", "pod", "rel-1", "app=rel", "--overwrite"]);
    wait_for(&c, "rel-1 adopted again", || {
        set_controlling(&c, "rel-1") == set_uid
    });
    assert_eq!(uid_of(&c, "pod", "rel-1"), pod_uid);
    wait_for(&c, "the set counting two pods", || {
        c.get_json(&["statefulset", "rel"])["status"]["replicas"] == 2
    });

    // Released again and then deleted: the name is free, so the set makes a new rel-1.
    c.ok(&["label", "pod", "rel-1", "app=gone", "--overwrite"]);
    wait_for(&c, "rel-1 released again", || {
        set_controlling(&c, "rel-1").is_empty()
    });
    c.ok(&["delete", "pod", "rel-1", "--wait=true"]);
    wait_for(&c, "a new rel-1 owned by the set", || {
        c.kubectl(&["get", "pod", "rel-1"]).status.success()
            && set_controlling(&c, "rel-1") == set_uid
            && uid_of(&c, "pod", "rel-1") != pod_uid
    });
    sts_rollout(&c, "rel");
    assert_eq!(pod_names(&c, "app=rel"), ["rel-0", "rel-1", "stranger-0"]);
    assert_eq!(set_controlling(&c, "stranger-0"), "");
}
