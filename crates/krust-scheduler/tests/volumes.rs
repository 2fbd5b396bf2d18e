//! VolumeBinding end to end: a WaitForFirstConsumer claim is bound to the local volume on
//! the node the pod can reach it from.

mod common;

use common::Env;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_volume_binding() {
    let env = Env::start().await;
    env.node("n1", "4", "16Gi", &[], json!([])).await;
    env.node("n2", "4", "16Gi", &[], json!([])).await;
    env.apply(
        r#"apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: local-n2}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: local
  local: {path: /mnt/disk}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [n2]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: local
  resources: {requests: {storage: 5Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: more, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: local
  resources: {requests: {storage: 5Gi}}
"#,
    );
    let volume =
        |claim: &str| json!({"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}]});
    env.pod("db", "100m", volume("data")).await;
    assert_eq!(env.bound("db").await, "n2");
    let pv = env.cluster.get_json(&["pv", "local-n2"]);
    assert_eq!(pv["spec"]["claimRef"]["name"], "data");
    assert_eq!(pv["status"]["phase"], "Bound");
    let pvc = env.cluster.get_json(&["pvc", "data"]);
    assert_eq!(pvc["spec"]["volumeName"], "local-n2");
    assert_eq!(pvc["status"]["phase"], "Bound");

    // The only volume is taken: a second claim finds none.
    env.pod("db-2", "100m", volume("more")).await;
    let msg = env.unschedulable("db-2").await;
    assert!(
        msg.starts_with(
            "0/2 nodes are available: 2 node(s) didn't find available persistent volumes to bind."
        ),
        "{msg}"
    );
}
