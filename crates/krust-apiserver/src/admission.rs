//! Built-in mutating admission on create, as upstream's default admission plugins do:
//! Priority (a pod's priority from its PriorityClass), DefaultTolerationSeconds (pods
//! tolerate not-ready/unreachable nodes for 300 s), DefaultStorageClass and
//! DefaultIngressClass (claims and ingresses without a class get the default one),
//! ServiceAccount (see [`service_account`]).
//!
//! The decisions are pure functions over the object and the classes that exist; the
//! handler reads the classes from the watch cache.

use krust_api::ApiError;
use serde_json::{Value, json};

use crate::state::State;

pub mod service_account;

/// Seconds a pod tolerates a not-ready or unreachable node before eviction.
pub const DEFAULT_TOLERATION_SECONDS: i64 = 300;

const DEFAULT_CLASS_ANNOTATION: &str = "storageclass.kubernetes.io/is-default-class";
const DEFAULT_INGRESS_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// Runs the admission plugins that apply to an object being created (storage version).
pub fn admit_create(state: &State, group: &str, kind: &str, obj: &mut Value) -> Result<(), ApiError> {
    match (group, kind) {
        ("", "Pod") => {
            let classes = objects(state, "scheduling.k8s.io", "priorityclasses");
            priority(obj, &classes)?;
            default_tolerations(obj);
        }
        ("", "PersistentVolumeClaim") => {
            let classes = objects(state, "storage.k8s.io", "storageclasses");
            default_storage_class(obj, &classes);
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            // Holds the CRD until its objects are deleted (see `crds`).
            crd_cleanup_finalizer(obj);
        }
        ("networking.k8s.io", "Ingress") => {
            let classes = objects(state, "networking.k8s.io", "ingressclasses");
            default_ingress_class(obj, &classes);
        }
        _ => {}
    }
    Ok(())
}

fn crd_cleanup_finalizer(obj: &mut Value) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let list = meta.entry("finalizers").or_insert_with(|| json!([]));
    if let Some(l) = list.as_array_mut()
        && !l.iter().any(|f| f == crate::crds::CLEANUP_FINALIZER)
    {
        l.push(json!(crate::crds::CLEANUP_FINALIZER));
    }
}

/// Every cached object of a resource (small, cluster-scoped sets only).
fn objects(state: &State, group: &str, plural: &str) -> Vec<Value> {
    let Some(def) = state.find(group, "v1", plural) else {
        return Vec::new();
    };
    let Some(cache) = state.cache.resource(&def.storage_prefix()) else {
        return Vec::new();
    };
    cache
        .list(&Default::default(), None, 0)
        .items
        .iter()
        .filter_map(|o| serde_json::from_slice(&o.stored).ok())
        .collect()
}

/// Admission that upstream runs after field ownership is recorded, so that what it adds
/// is owned by nobody (the ServiceAccount plugin's token volume).
pub async fn admit_create_after_recording(state: &State, group: &str, kind: &str, obj: &mut Value) {
    if (group, kind) == ("", "Pod") {
        let account = service_account_of(state, obj).await;
        service_account::admit(obj, |_| account, &crate::meta::random_suffix());
    }
}

/// The ServiceAccount a new pod will run as, if it exists, from the watch cache. An
/// account written just before the pod may not be cached yet (upstream's plugin falls
/// back to a live read for that): when the cache trails this server's newest write to
/// an account, it is waited for first. A store read on every pod would cost creates.
async fn service_account_of(state: &State, pod: &Value) -> Option<Value> {
    let namespace = pod.pointer("/metadata/namespace").and_then(Value::as_str)?;
    let name = service_account::account_name(pod);
    let def = state.find("", "v1", "serviceaccounts")?;
    let key = def.key(Some(namespace), &name);
    let cache = state.cache.resource(&def.storage_prefix())?;
    if let (Some(obj), _) = cache.get(&key) {
        return serde_json::from_slice(&obj.stored).ok();
    }
    let pending = state.admission_rv.load(std::sync::atomic::Ordering::Acquire);
    if state.cache.revision() >= pending
        || state
            .cache
            .wait_for(pending, crate::state::CACHE_WAIT)
            .await
            .is_err()
    {
        return None;
    }
    let (obj, _) = cache.get(&key);
    serde_json::from_slice(&obj?.stored).ok()
}

fn name_of(v: &Value) -> &str {
    v.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("")
}

fn is_default(v: &Value, annotation: &str) -> bool {
    v.pointer("/metadata/annotations")
        .and_then(|a| a.get(annotation))
        .and_then(Value::as_str)
        == Some("true")
}

/// Priority: resolve `priorityClassName` (or the global default class) into
/// `spec.priority` and `spec.preemptionPolicy`.
pub fn priority(pod: &mut Value, classes: &[Value]) -> Result<(), ApiError> {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return Ok(());
    };
    let requested = spec
        .get("priorityClassName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let class = if requested.is_empty() {
        classes
            .iter()
            .find(|c| c.get("globalDefault").and_then(Value::as_bool) == Some(true))
    } else {
        match classes.iter().find(|c| name_of(c) == requested) {
            Some(c) => Some(c),
            None => {
                return Err(ApiError::forbidden(format!(
                    "pods is forbidden: no PriorityClass with name {requested} was found"
                )));
            }
        }
    };
    let value = class
        .and_then(|c| c.get("value"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if let Some(given) = spec.get("priority").and_then(Value::as_i64)
        && given != value
    {
        return Err(ApiError::forbidden(format!(
            "pods is forbidden: the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {value} from the given PriorityClass name"
        )));
    }
    spec.insert("priority".into(), json!(value));
    if let Some(c) = class {
        if requested.is_empty() {
            spec.insert("priorityClassName".into(), json!(name_of(c)));
        }
        let policy = c
            .get("preemptionPolicy")
            .and_then(Value::as_str)
            .unwrap_or("PreemptLowerPriority");
        spec.insert("preemptionPolicy".into(), json!(policy));
    } else if !spec.contains_key("preemptionPolicy") {
        spec.insert("preemptionPolicy".into(), json!("PreemptLowerPriority"));
    }
    Ok(())
}

/// DefaultTolerationSeconds: tolerate `not-ready` and `unreachable` NoExecute taints for
/// 300 s unless the pod already says otherwise.
pub fn default_tolerations(pod: &mut Value) {
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let list = spec.entry("tolerations").or_insert_with(|| json!([]));
    let Some(list) = list.as_array_mut() else { return };
    for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
        let covered = list.iter().any(|t| {
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            let k = t.get("key").and_then(Value::as_str).unwrap_or("");
            let exists = t.get("operator").and_then(Value::as_str) == Some("Exists");
            (effect.is_empty() || effect == "NoExecute") && (k == key || (k.is_empty() && exists))
        });
        if !covered {
            list.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS}));
        }
    }
}

/// DefaultStorageClass: a claim without `storageClassName` gets the default class.
pub fn default_storage_class(pvc: &mut Value, classes: &[Value]) {
    let Some(spec) = pvc.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if spec.get("storageClassName").is_some_and(|v| !v.is_null()) {
        return;
    }
    if let Some(c) = newest_default(classes, DEFAULT_CLASS_ANNOTATION) {
        spec.insert("storageClassName".into(), json!(name_of(c)));
    }
}

/// DefaultIngressClass: an ingress without `ingressClassName` gets the default class.
pub fn default_ingress_class(ing: &mut Value, classes: &[Value]) {
    let has_annotation = ing
        .pointer("/metadata/annotations/kubernetes.io~1ingress.class")
        .is_some();
    let Some(spec) = ing.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if has_annotation || spec.get("ingressClassName").is_some_and(|v| !v.is_null()) {
        return;
    }
    if let Some(c) = newest_default(classes, DEFAULT_INGRESS_CLASS_ANNOTATION) {
        spec.insert("ingressClassName".into(), json!(name_of(c)));
    }
}

/// With several defaults, upstream (1.28+) picks the newest, and of equally new ones the
/// first by name.
fn newest_default<'a>(classes: &'a [Value], annotation: &str) -> Option<&'a Value> {
    // StorageClasses may still carry the beta annotation, which upstream honours.
    let beta = (annotation == DEFAULT_CLASS_ANNOTATION)
        .then_some("storageclass.beta.kubernetes.io/is-default-class");
    classes
        .iter()
        .filter(|c| is_default(c, annotation) || beta.is_some_and(|b| is_default(c, b)))
        .max_by(|a, b| {
            let created = |c: &Value| {
                c.pointer("/metadata/creationTimestamp")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            created(a)
                .cmp(&created(b))
                .then_with(|| name_of(b).cmp(name_of(a)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pc(name: &str, value: i64, default: bool) -> Value {
        json!({"metadata": {"name": name}, "value": value, "globalDefault": default})
    }

    #[test]
    fn priority_from_class() {
        let classes = [pc("high", 1000, false), pc("low", 10, true)];
        let mut pod = json!({"spec": {"priorityClassName": "high", "containers": []}});
        priority(&mut pod, &classes).unwrap();
        assert_eq!(pod["spec"]["priority"], 1000);
        assert_eq!(pod["spec"]["preemptionPolicy"], "PreemptLowerPriority");
        let mut dflt = json!({"spec": {}});
        priority(&mut dflt, &classes).unwrap();
        assert_eq!(
            (
                dflt["spec"]["priority"].as_i64(),
                dflt["spec"]["priorityClassName"].as_str()
            ),
            (Some(10), Some("low"))
        );
        let mut missing = json!({"spec": {"priorityClassName": "nope"}});
        assert_eq!(priority(&mut missing, &classes).unwrap_err().code, 403);
        let mut forged = json!({"spec": {"priorityClassName": "high", "priority": 5}});
        assert_eq!(priority(&mut forged, &classes).unwrap_err().code, 403);
        let mut none = json!({"spec": {}});
        priority(&mut none, &[]).unwrap();
        assert_eq!(none["spec"]["priority"], 0);
    }

    #[test]
    fn tolerations_added_once() {
        let mut pod = json!({"spec": {"tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
            "effect": "NoExecute", "tolerationSeconds": 60}]}});
        default_tolerations(&mut pod);
        let t = pod["spec"]["tolerations"].as_array().unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0]["tolerationSeconds"], 60);
        assert_eq!(t[1]["key"], "node.kubernetes.io/not-ready");
        let mut everything = json!({"spec": {"tolerations": [{"operator": "Exists"}]}});
        default_tolerations(&mut everything);
        assert_eq!(everything["spec"]["tolerations"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn default_classes() {
        let classes = [
            json!({"metadata": {"name": "old", "creationTimestamp": "2020-01-01T00:00:00Z", "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}}}),
            json!({"metadata": {"name": "new", "creationTimestamp": "2024-01-01T00:00:00Z", "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}}}),
        ];
        let mut pvc = json!({"spec": {}});
        default_storage_class(&mut pvc, &classes);
        assert_eq!(pvc["spec"]["storageClassName"], "new");
        let tie = [
            json!({"metadata": {"name": "b", "creationTimestamp": "2024-01-01T00:00:00Z", "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}}}),
            json!({"metadata": {"name": "a", "creationTimestamp": "2024-01-01T00:00:00Z", "annotations": {"storageclass.beta.kubernetes.io/is-default-class": "true"}}}),
            json!({"metadata": {"name": "c", "creationTimestamp": "2025-01-01T00:00:00Z"}}),
        ];
        let mut pvc = json!({"spec": {}});
        default_storage_class(&mut pvc, &tie);
        assert_eq!(pvc["spec"]["storageClassName"], "a");
        let mut none = json!({"spec": {}});
        default_storage_class(&mut none, &tie[2..]);
        assert!(none["spec"].get("storageClassName").is_none());
        let mut set = json!({"spec": {"storageClassName": ""}});
        default_storage_class(&mut set, &classes);
        assert_eq!(set["spec"]["storageClassName"], "");
    }
}
