//! PersistentVolume binding and the built-in local-path provisioner end to end: the real
//! `krust server` with simulated nodes, driven by the real kubectl — the default
//! StorageClass, DefaultStorageClass admission, WaitForFirstConsumer provisioning for a
//! pod's node, static volumes and pre-binding, reclaim policies, and StatefulSet claims.
//!
//! No timing is asserted: every wait is a generous wait-until.

#![allow(clippy::unwrap_used)]

mod support;

use serde_json::{Value, json};
use support::*;

#[test]
fn default_class_provisions_for_the_first_consumer_and_deletes() {
    let c = cluster();
    // The default class, as k3s ships it.
    let sc = c.get_json(&["storageclass", "local-path"]);
    assert_eq!(
        sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"],
        "true"
    );
    assert_eq!(sc["provisioner"], "rancher.io/local-path");
    assert_eq!(sc["reclaimPolicy"], "Delete");
    assert_eq!(sc["volumeBindingMode"], "WaitForFirstConsumer");

    // A claim without a class gets the default one, and waits for a consumer.
    apply(&c, &claim("data", None, "1Gi"));
    assert_eq!(
        c.get_json(&["pvc", "data"])["spec"]["storageClassName"],
        "local-path"
    );
    wait_for(&c, "the WaitForFirstConsumer event", || {
        has_event(&c, "PersistentVolumeClaim", "data", "WaitForFirstConsumer")
    });
    assert_eq!(phase(&c, "pvc", "data"), "Pending");
    assert_eq!(c.get_json(&["pvc", "data"])["spec"]["volumeName"], Value::Null);

    // A pod using it is scheduled: the scheduler names its node in the claim, the
    // provisioner makes the volume there, and only then is the pod bound.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user"},
        "spec": {"containers": [{"name": "c", "image": "busybox",
            "volumeMounts": [{"name": "d", "mountPath": "/data"}]}],
            "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}});
    apply(&c, &pod.to_string());
    wait_for(&c, "the claim to be bound", || {
        phase(&c, "pvc", "data") == "Bound"
    });
    wait_for(&c, "the pod to be scheduled", || {
        c.get_json(&["pod", "user"])["spec"]["nodeName"].is_string()
    });
    let node = c.get_json(&["pod", "user"])["spec"]["nodeName"]
        .as_str()
        .unwrap()
        .to_string();
    let pvc = c.get_json(&["pvc", "data"]);
    let uid = pvc["metadata"]["uid"].as_str().unwrap().to_string();
    let pv_name = format!("pvc-{uid}");
    assert_eq!(pvc["spec"]["volumeName"], pv_name.as_str());
    let ann = &pvc["metadata"]["annotations"];
    assert_eq!(ann["pv.kubernetes.io/bind-completed"], "yes");
    assert_eq!(ann["pv.kubernetes.io/bound-by-controller"], "yes");
    assert_eq!(ann["volume.kubernetes.io/selected-node"], node.as_str());
    assert_eq!(
        ann["volume.kubernetes.io/storage-provisioner"],
        "rancher.io/local-path"
    );
    assert_eq!(pvc["status"]["capacity"]["storage"], "1Gi");
    assert_eq!(pvc["status"]["accessModes"], json!(["ReadWriteOnce"]));
    assert!(has_event(
        &c,
        "PersistentVolumeClaim",
        "data",
        "ProvisioningSucceeded"
    ));

    wait_for(&c, "the volume to be Bound", || {
        phase(&c, "pv", &pv_name) == "Bound"
    });
    let pv = c.get_json(&["pv", &pv_name]);
    let dir = c
        .data_dir()
        .join("storage")
        .join(format!("{pv_name}_default_data"));
    assert_eq!(pv["spec"]["hostPath"]["path"], dir.to_str().unwrap());
    assert_eq!(pv["spec"]["hostPath"]["type"], "DirectoryOrCreate");
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Delete");
    assert_eq!(pv["spec"]["storageClassName"], "local-path");
    assert_eq!(pv["spec"]["capacity"]["storage"], "1Gi");
    assert_eq!(
        pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"],
        "rancher.io/local-path"
    );
    assert_eq!(pv["spec"]["claimRef"]["uid"], uid.as_str());
    assert_eq!(
        pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0],
        json!({"key": "kubernetes.io/hostname", "operator": "In", "values": [node]})
    );
    assert!(dir.is_dir(), "{} was not created", dir.display());

    // Deleting the claim deletes the volume and its directory (policy Delete).
    c.ok(&["delete", "pod", "user", "--grace-period=0", "--force"]);
    c.ok(&["delete", "pvc", "data", "--wait=false"]);
    wait_for(&c, "the volume to be deleted", || {
        get(&c, "pv", &pv_name).is_null()
    });
    wait_for(&c, "the directory to be removed", || !dir.exists());
}

#[test]
fn static_volumes_bind_prebind_and_retain() {
    let c = cluster();
    // The smallest fitting volume of the claim's class wins.
    apply(&c, &volume("big", "manual", "5Gi", "Retain"));
    apply(&c, &volume("small", "manual", "1Gi", "Retain"));
    apply(&c, &volume("other", "", "1Gi", "Retain"));
    wait_for(&c, "the volumes to be Available", || {
        ["big", "small", "other"]
            .iter()
            .all(|v| phase(&c, "pv", v) == "Available")
    });
    apply(&c, &claim("manual-claim", Some("manual"), "500Mi"));
    wait_for(&c, "the manual claim to be bound", || {
        phase(&c, "pvc", "manual-claim") == "Bound"
    });
    let pvc = c.get_json(&["pvc", "manual-claim"]);
    assert_eq!(pvc["spec"]["volumeName"], "small");
    assert_eq!(pvc["status"]["capacity"]["storage"], "1Gi");
    wait_for(&c, "the small volume to be Bound", || {
        phase(&c, "pv", "small") == "Bound"
    });
    let pv = c.get_json(&["pv", "small"]);
    assert_eq!(pv["spec"]["claimRef"]["name"], "manual-claim");
    assert_eq!(pv["spec"]["claimRef"]["uid"], pvc["metadata"]["uid"]);
    assert_eq!(
        pv["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"],
        "yes"
    );

    // Class "": binds the class-less volume; with none left, FailedBinding.
    apply(&c, &claim("no-class", Some(""), "1Gi"));
    wait_for(&c, "the class-less claim to be bound", || {
        phase(&c, "pvc", "no-class") == "Bound"
    });
    assert_eq!(c.get_json(&["pvc", "no-class"])["spec"]["volumeName"], "other");
    apply(&c, &claim("nothing-left", Some(""), "1Gi"));
    wait_for(&c, "the FailedBinding event", || {
        has_event(&c, "PersistentVolumeClaim", "nothing-left", "FailedBinding")
    });
    assert_eq!(phase(&c, "pvc", "nothing-left"), "Pending");

    // Pre-binding: a claim naming a volume, and a volume naming a claim.
    let mut named: Value = serde_json::from_str(&claim("named", Some("manual"), "1Gi")).unwrap();
    named["spec"]["volumeName"] = json!("big");
    apply(&c, &named.to_string());
    let mut reserved: Value = serde_json::from_str(&volume("reserved", "manual", "2Gi", "Retain")).unwrap();
    reserved["spec"]["claimRef"] = json!({"namespace": "default", "name": "wants-reserved"});
    apply(&c, &reserved.to_string());
    apply(&c, &claim("wants-reserved", Some("manual"), "1Gi"));
    wait_for(&c, "the pre-bound claims to be bound", || {
        phase(&c, "pvc", "named") == "Bound" && phase(&c, "pvc", "wants-reserved") == "Bound"
    });
    assert_eq!(
        c.get_json(&["pvc", "wants-reserved"])["spec"]["volumeName"],
        "reserved"
    );

    // Retain: the volume outlives its claim, Released.
    c.ok(&["delete", "pvc", "manual-claim"]);
    wait_for(&c, "the retained volume to be Released", || {
        phase(&c, "pv", "small") == "Released"
    });
    // A static volume with Delete and no deleter fails.
    apply(&c, &volume("doomed", "gone", "1Gi", "Delete"));
    apply(&c, &claim("doomed-claim", Some("gone"), "1Gi"));
    wait_for(&c, "the doomed claim to be bound", || {
        phase(&c, "pvc", "doomed-claim") == "Bound"
    });
    c.ok(&["delete", "pvc", "doomed-claim"]);
    wait_for(&c, "the undeletable volume to fail", || {
        phase(&c, "pv", "doomed") == "Failed"
    });

    // Deleting a bound volume loses its claim.
    c.ok(&["delete", "pv", "other", "--wait=false"]);
    wait_for(&c, "the claim to be Lost", || {
        phase(&c, "pvc", "no-class") == "Lost"
    });

    c.ok(&["delete", "pvc", "--all"]);
    c.ok(&["delete", "pv", "--all", "--wait=false"]);
}

#[test]
fn statefulset_claims_are_provisioned() {
    let c = cluster();
    // An Immediate class: the scheduler waits for the claims, which are provisioned at once.
    apply(
        &c,
        r#"{"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local-now"},
            "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}"#,
    );
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"serviceName": "db", "replicas": 2, "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "c", "image": "busybox",
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local-now",
                    "resources": {"requests": {"storage": "100Mi"}}}}]}});
    apply(&c, &sts.to_string());
    wait_for(&c, "both claims to be bound", || {
        phase(&c, "pvc", "data-db-0") == "Bound" && phase(&c, "pvc", "data-db-1") == "Bound"
    });
    let dirs: Vec<_> = (0..2)
        .map(|i| {
            let pvc = c.get_json(&["pvc", &format!("data-db-{i}")]);
            let pv = c.get_json(&["pv", pvc["spec"]["volumeName"].as_str().unwrap()]);
            assert!(pv["spec"]["nodeAffinity"].is_null());
            std::path::PathBuf::from(pv["spec"]["hostPath"]["path"].as_str().unwrap())
        })
        .collect();
    assert!(dirs.iter().all(|d| d.is_dir()));
    wait_for(&c, "the pods to run", || {
        phase(&c, "pod", "db-0") == "Running" && phase(&c, "pod", "db-1") == "Running"
    });

    c.ok(&["delete", "statefulset", "db"]);
    c.ok(&["delete", "pvc", "data-db-0", "data-db-1", "--wait=false"]);
    wait_for(&c, "the volumes and directories to go", || {
        c.ok(&["get", "pv", "-o", "name"]).trim().is_empty() && dirs.iter().all(|d| !d.exists())
    });
    c.ok(&["delete", "storageclass", "local-now"]);
}
