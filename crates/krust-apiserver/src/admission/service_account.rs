//! The ServiceAccount admission plugin's mutation of new pods: a pod without a service
//! account runs as `default`, and, unless automounting is turned off on the pod or its
//! account, every container mounts the `kube-api-access-*` projected volume (a bound
//! token, the cluster CA from `kube-root-ca.crt`, the namespace) at the path client
//! libraries read in-cluster credentials from.
//!
//! The token itself is issued by the node agent through the TokenRequest API; until that
//! exists the volume is declared as upstream declares it, so pods and their specs look the
//! same as on upstream clusters. Unlike upstream, a pod naming an account that does not
//! exist (yet) is not refused.

use serde_json::{Value, json};

/// Where in-cluster clients read the token, CA and namespace.
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// Prefix of the projected volume's name.
pub const VOLUME_PREFIX: &str = "kube-api-access-";
/// The token's lifetime as upstream requests it (an hour plus seven seconds, so that
/// kubelets can tell admission-made volumes apart).
const TOKEN_EXPIRATION_SECONDS: i64 = 3607;
/// Pods the kubelet mirrors from static manifests are left alone.
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// Mutates a pod being created. `account` looks up the pod's ServiceAccount by name (if
/// it exists); `suffix` makes the volume name unique (five random characters upstream).
pub fn admit(pod: &mut Value, account: impl FnOnce(&str) -> Option<Value>, suffix: &str) {
    if pod
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(MIRROR_ANNOTATION))
        .is_some()
    {
        return;
    }
    let name = account_name(pod);
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    spec.insert("serviceAccountName".into(), json!(name));
    // The deprecated alias follows the name, as the API's conversion keeps it.
    spec.insert("serviceAccount".into(), json!(name));
    let automount = match spec.get("automountServiceAccountToken").and_then(Value::as_bool) {
        Some(pod_says) => pod_says,
        None => account(&name)
            .and_then(|sa| sa.get("automountServiceAccountToken").and_then(Value::as_bool))
            .unwrap_or(true),
    };
    if !automount {
        return;
    }
    let existing = spec
        .get("volumes")
        .and_then(Value::as_array)
        .and_then(|vs| {
            vs.iter()
                .filter_map(|v| v.get("name").and_then(Value::as_str))
                .find(|n| n.starts_with(VOLUME_PREFIX))
        })
        .map(str::to_owned);
    let volume = existing
        .clone()
        .unwrap_or_else(|| format!("{VOLUME_PREFIX}{suffix}"));
    let mut mounted = false;
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            let mounts = c.entry("volumeMounts").or_insert_with(|| json!([]));
            let Some(mounts) = mounts.as_array_mut() else {
                continue;
            };
            let taken = mounts
                .iter()
                .any(|m| m.get("mountPath").and_then(Value::as_str) == Some(TOKEN_MOUNT_PATH));
            if !taken {
                mounts.push(json!({"name": volume, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH}));
                mounted = true;
            }
        }
    }
    if mounted && existing.is_none() {
        let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
        if let Some(volumes) = volumes.as_array_mut() {
            volumes.push(projected_volume(&volume));
        }
    }
}

/// The account a pod runs as: `serviceAccountName`, else the deprecated `serviceAccount`,
/// else `default`.
pub fn account_name(pod: &Value) -> String {
    ["serviceAccountName", "serviceAccount"]
        .iter()
        .filter_map(|f| pod.get("spec")?.get(*f)?.as_str())
        .find(|n| !n.is_empty())
        .unwrap_or("default")
        .to_owned()
}

/// The projected volume upstream's plugin adds.
fn projected_volume(name: &str) -> Value {
    json!({"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
    ]}})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: Value) -> Value {
        json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": spec})
    }

    fn none(_: &str) -> Option<Value> {
        None
    }

    #[test]
    fn default_account_and_token_volume_in_every_container() {
        let mut p = pod(json!({"initContainers": [{"name": "i"}],
            "containers": [{"name": "a", "volumeMounts": [{"name": "d", "mountPath": "/d"}]}, {"name": "b"}],
            "volumes": [{"name": "d", "emptyDir": {}}]}));
        admit(&mut p, none, "x7k2q");
        let spec = &p["spec"];
        assert_eq!(spec["serviceAccountName"], "default");
        assert_eq!(spec["serviceAccount"], "default");
        let mount = json!({"name": "kube-api-access-x7k2q", "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
        assert_eq!(spec["initContainers"][0]["volumeMounts"], json!([mount]));
        assert_eq!(spec["containers"][0]["volumeMounts"][1], mount);
        assert_eq!(spec["containers"][1]["volumeMounts"], json!([mount]));
        let volumes = spec["volumes"].as_array().unwrap();
        assert_eq!(volumes.len(), 2);
        assert_eq!(volumes[1], projected_volume("kube-api-access-x7k2q"));
        assert_eq!(
            volumes[1]["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"],
            3607
        );
    }

    #[test]
    fn automount_off_on_the_pod_or_its_account() {
        let mut p = pod(
            json!({"serviceAccountName": "robot", "automountServiceAccountToken": false,
            "containers": [{"name": "a"}]}),
        );
        admit(&mut p, |_| panic!("the pod decides"), "abcde");
        assert_eq!(p["spec"]["serviceAccountName"], "robot");
        assert!(p["spec"].get("volumes").is_none());
        let mut p = pod(json!({"serviceAccountName": "robot", "containers": [{"name": "a"}]}));
        let mut asked = String::new();
        admit(
            &mut p,
            |n| {
                asked = n.to_owned();
                Some(json!({"automountServiceAccountToken": false}))
            },
            "abcde",
        );
        assert_eq!(asked, "robot");
        assert!(p["spec"].get("volumes").is_none());
        // The pod's own true wins over its account's false.
        let mut p = pod(json!({"automountServiceAccountToken": true, "containers": [{"name": "a"}]}));
        admit(
            &mut p,
            |_| Some(json!({"automountServiceAccountToken": false})),
            "abcde",
        );
        assert_eq!(p["spec"]["volumes"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn existing_mounts_and_volumes_are_respected() {
        // A container mounting something of its own at the path keeps it; the others get
        // the existing kube-api-access volume, which is not added twice.
        let mut p = pod(json!({"containers": [
                {"name": "a", "volumeMounts": [{"name": "mine", "mountPath": TOKEN_MOUNT_PATH}]},
                {"name": "b"}],
            "volumes": [{"name": "mine", "secret": {"secretName": "s"}},
                {"name": "kube-api-access-old12", "projected": {"sources": []}}]}));
        admit(&mut p, none, "new34");
        let spec = &p["spec"];
        assert_eq!(spec["containers"][0]["volumeMounts"].as_array().unwrap().len(), 1);
        assert_eq!(
            spec["containers"][1]["volumeMounts"][0]["name"],
            "kube-api-access-old12"
        );
        assert_eq!(spec["volumes"].as_array().unwrap().len(), 2);
        // Every container has its own mount there: no volume at all.
        let mut p = pod(json!({"containers": [
            {"name": "a", "volumeMounts": [{"name": "mine", "mountPath": TOKEN_MOUNT_PATH}]}],
            "volumes": [{"name": "mine", "emptyDir": {}}]}));
        admit(&mut p, none, "new34");
        assert_eq!(p["spec"]["volumes"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn the_deprecated_field_names_the_account_too() {
        let mut p = pod(json!({"serviceAccount": "old", "containers": []}));
        admit(&mut p, none, "abcde");
        assert_eq!(p["spec"]["serviceAccountName"], "old");
        assert_eq!(p["spec"]["serviceAccount"], "old");
    }

    #[test]
    fn mirror_pods_are_left_alone() {
        let mut p = json!({"metadata": {"annotations": {MIRROR_ANNOTATION: "x"}},
            "spec": {"containers": [{"name": "a"}]}});
        let before = p.clone();
        admit(&mut p, none, "abcde");
        assert_eq!(p, before);
    }
}
