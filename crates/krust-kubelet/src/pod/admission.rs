//! Admission of a pod onto its node, as the kubelet does before running anything: what the
//! pod requests must fit in the node's allocatable next to what its admitted pods already
//! request. The scheduler normally guarantees this; the check matters for pods bound by
//! `spec.nodeName` and for races, and a rejected pod fails with `OutOf<resource>`.
//!
//! Amounts are kept in thousandths (`milli`) of their unit, so CPU and bytes share one
//! representation; an idle node's usage is an empty map.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use krust_api::quantity::Quantity;

/// Resource amounts in thousandths of their unit, by resource name.
pub(crate) type Amounts = BTreeMap<String, i64>;

/// Why a pod does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rejection {
    /// `OutOfcpu`, `OutOfmemory`, `OutOfpods`, ...
    pub reason: String,
    /// What was asked, used and available.
    pub message: String,
}

fn milli(text: &str) -> Option<i64> {
    let q = Quantity::parse(text).ok()?;
    Some(i64::try_from(q.milli_value()).unwrap_or(if q.is_negative() { i64::MIN } else { i64::MAX }))
}

/// The node's allocatable amounts from the configured capacity.
pub(crate) fn allocatable(capacity: &BTreeMap<String, String>) -> Result<Amounts, String> {
    capacity
        .iter()
        .map(|(name, text)| match milli(text) {
            Some(v) if v >= 0 => Ok((name.clone(), v)),
            _ => Err(format!("capacity {name}={text:?} is not a non-negative quantity")),
        })
        .collect()
}

/// What one container requests; a limit without a request counts as the request, as the
/// API server's defaulting would have made it.
fn container_requests(c: &Container) -> Amounts {
    let mut out = Amounts::new();
    let Some(res) = &c.resources else { return out };
    for (name, q) in res.limits.iter().flatten().chain(res.requests.iter().flatten()) {
        if let Some(v) = milli(&q.0) {
            out.insert(name.clone(), v.max(0));
        }
    }
    out
}

/// Adds `more` into `into`.
pub(crate) fn add(into: &mut Amounts, more: &Amounts) {
    for (name, v) in more {
        let e = into.entry(name.clone()).or_insert(0);
        *e = e.saturating_add(*v);
    }
}

/// Takes `less` out of `from`, dropping what reaches zero so idle nodes stay empty.
pub(crate) fn subtract(from: &mut Amounts, less: &Amounts) {
    for (name, v) in less {
        if let Some(e) = from.get_mut(name) {
            *e = e.saturating_sub(*v);
            if *e <= 0 {
                from.remove(name);
            }
        }
    }
}

fn max_into(into: &mut Amounts, other: &Amounts) {
    for (name, v) in other {
        let e = into.entry(name.clone()).or_insert(0);
        *e = (*e).max(*v);
    }
}

/// What a pod needs on its node: its app containers and sidecars together, or the largest
/// init container with the sidecars started before it, whichever is more, plus overhead;
/// and one `pods` slot.
pub(crate) fn pod_requests(pod: &Pod) -> Amounts {
    let mut total = Amounts::new();
    if let Some(spec) = &pod.spec {
        for c in &spec.containers {
            add(&mut total, &container_requests(c));
        }
        let mut sidecars = Amounts::new();
        let mut init_peak = Amounts::new();
        for c in spec.init_containers.iter().flatten() {
            if c.restart_policy.as_deref() == Some("Always") {
                add(&mut sidecars, &container_requests(c));
            } else {
                let mut during = sidecars.clone();
                add(&mut during, &container_requests(c));
                max_into(&mut init_peak, &during);
            }
        }
        add(&mut total, &sidecars);
        max_into(&mut total, &init_peak);
        for (name, q) in spec.overhead.iter().flatten() {
            if let Some(v) = milli(&q.0) {
                add(&mut total, &Amounts::from([(name.clone(), v.max(0))]));
            }
        }
    }
    total.retain(|_, v| *v > 0);
    total.insert("pods".into(), 1000);
    total
}

/// An amount as upstream prints it: CPU in millicores, everything else in units.
fn shown(name: &str, milli: i64) -> i64 {
    if name == "cpu" {
        milli
    } else {
        milli.saturating_add(999) / 1000
    }
}

/// Whether `request` fits in `allocatable` next to `used`; the pod count is checked first.
pub(crate) fn admit(allocatable: &Amounts, used: &Amounts, request: &Amounts) -> Result<(), Rejection> {
    let pods_first = request
        .iter()
        .filter(|(n, _)| *n == "pods")
        .chain(request.iter().filter(|(n, _)| *n != "pods"));
    for (name, &want) in pods_first {
        if want <= 0 {
            continue;
        }
        let capacity = allocatable.get(name).copied().unwrap_or(0);
        let have = used.get(name).copied().unwrap_or(0);
        if have.saturating_add(want) > capacity {
            return Err(Rejection {
                reason: format!("OutOf{name}"),
                message: format!(
                    "Pod was rejected: Node didn't have enough resource: {name}, requested: {}, used: {}, capacity: {}",
                    shown(name, want),
                    shown(name, have),
                    shown(name, capacity)
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    fn amounts(pairs: &[(&str, i64)]) -> Amounts {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn requests_of_containers_init_containers_and_overhead() {
        let p = pod(json!({
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}},
                {"name": "b", "resources": {"limits": {"cpu": "1"}}},
                {"name": "c"}
            ],
            "initContainers": [
                {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}},
                {"name": "big", "resources": {"requests": {"cpu": "3", "memory": "1Mi"}}}
            ],
            "overhead": {"cpu": "10m"}
        }));
        let r = pod_requests(&p);
        // max(1250 + 100 sidecar, 3000 + 100 sidecar) + 10 overhead.
        assert_eq!(r.get("cpu"), Some(&3110));
        assert_eq!(r.get("memory"), Some(&(64 * 1024 * 1024 * 1000)));
        assert_eq!(r.get("pods"), Some(&1000));
    }

    #[test]
    fn empty_pod_needs_a_pod_slot_only() {
        let r = pod_requests(&pod(json!({"containers": [{"name": "a"}]})));
        assert_eq!(r, amounts(&[("pods", 1000)]));
    }

    #[test]
    fn admission_checks_pods_first_then_each_resource() {
        let alloc = allocatable(
            &[("cpu", "2"), ("memory", "1Gi"), ("pods", "2")]
                .map(|(a, b)| (a.into(), b.into()))
                .into(),
        )
        .unwrap();
        let mut used = Amounts::new();
        let small = amounts(&[("cpu", 1500), ("pods", 1000)]);
        admit(&alloc, &used, &small).unwrap();
        add(&mut used, &small);
        let err = admit(&alloc, &used, &small).unwrap_err();
        assert_eq!(err.reason, "OutOfcpu");
        assert!(
            err.message
                .contains("cpu, requested: 1500, used: 1500, capacity: 2000"),
            "{}",
            err.message
        );
        let gpu = amounts(&[("example.com/gpu", 1000), ("pods", 1000)]);
        assert_eq!(
            admit(&alloc, &used, &gpu).unwrap_err().reason,
            "OutOfexample.com/gpu"
        );
        add(&mut used, &amounts(&[("pods", 1000)]));
        assert_eq!(admit(&alloc, &used, &small).unwrap_err().reason, "OutOfpods");
        subtract(&mut used, &small);
        subtract(&mut used, &amounts(&[("pods", 1000)]));
        assert!(used.is_empty(), "{used:?}");
    }

    #[test]
    fn bad_capacity_is_refused() {
        assert!(allocatable(&[("cpu".to_string(), "x".to_string())].into()).is_err());
        assert!(allocatable(&[("cpu".to_string(), "-1".to_string())].into()).is_err());
    }
}
