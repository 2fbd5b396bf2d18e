//! The `endpoints.kubernetes.io/last-change-trigger-time` annotation, as upstream's
//! `TriggerTimeTracker` computes it: the time of the earliest change (a pod's Ready
//! transition, the Service's creation) that this sync is the first to reflect, so that the
//! time from a change to the endpoints showing it can be measured. A Service seen for the
//! first time reports its creation time; a sync with nothing new reports nothing (the
//! annotation is then removed, as upstream).

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::jiff::Timestamp;
use parking_lot::Mutex;

/// The annotation's name.
pub const ANNOTATION: &str = "endpoints.kubernetes.io/last-change-trigger-time";

#[derive(Debug, Default, Clone)]
struct ServiceState {
    pods: HashMap<String, Timestamp>,
    service: Option<Timestamp>,
}

/// What was last seen per Service.
#[derive(Debug, Default)]
pub struct TriggerTimes {
    services: Mutex<HashMap<String, ServiceState>>,
}

/// A pod's trigger time: when its Ready condition last changed.
fn pod_time(pod: &Pod) -> Option<Timestamp> {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0)
}

impl TriggerTimes {
    /// The trigger time of this sync of Service `key` over the pods it selects; records what
    /// it saw for the next sync.
    pub fn compute(&self, key: &str, svc: &Service, pods: &[&Pod]) -> Option<Timestamp> {
        let mut services = self.services.lock();
        let known = services.get(key).cloned();
        let state = known.clone().unwrap_or_default();
        let mut earliest: Option<Timestamp> = None;
        let mut seen = HashMap::new();
        for pod in pods {
            let Some(t) = pod_time(pod) else { continue };
            let name = pod.metadata.name.clone().unwrap_or_default();
            if state.pods.get(&name).is_none_or(|old| t > *old) {
                earliest = Some(earliest.map_or(t, |e| e.min(t)));
            }
            seen.insert(name, t);
        }
        let created = svc.metadata.creation_timestamp.as_ref().map(|t| t.0);
        if let Some(c) = created
            && state.service.is_none_or(|old| c > old)
        {
            earliest = Some(earliest.map_or(c, |e| e.min(c)));
        }
        services.insert(
            key.to_string(),
            ServiceState {
                pods: seen,
                service: created,
            },
        );
        if known.is_none() {
            return created;
        }
        earliest
    }

    /// Forgets a deleted Service.
    pub fn forget(&self, key: &str) {
        self.services.lock().remove(key);
    }
}

/// The annotation's value (RFC 3339 with nanoseconds, UTC).
pub fn format(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::pods::tests::{pod, service};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn ready_at(name: &str, s: i64) -> Pod {
        let mut p = pod(name, "10.42.0.1", true);
        if let Some(c) = p.status.as_mut().and_then(|s| s.conditions.as_mut()) {
            c[0].last_transition_time = Some(Time(at(s)));
        }
        p
    }

    #[test]
    fn first_sync_reports_creation_then_earliest_new_change() {
        let t = TriggerTimes::default();
        let mut svc = service();
        svc.metadata.creation_timestamp = Some(Time(at(100)));
        let (a, b) = (ready_at("a", 110), ready_at("b", 120));
        assert_eq!(t.compute("default/web", &svc, &[&a, &b]), Some(at(100)));
        assert_eq!(t.compute("default/web", &svc, &[&a, &b]), None, "nothing new");
        let (a2, b2) = (ready_at("a", 150), ready_at("b", 140));
        assert_eq!(t.compute("default/web", &svc, &[&a2, &b2]), Some(at(140)));
        let c = ready_at("c", 130);
        assert_eq!(
            t.compute("default/web", &svc, &[&a2, &b2, &c]),
            Some(at(130)),
            "a new pod"
        );
        t.forget("default/web");
        assert_eq!(t.compute("default/web", &svc, &[&a2]), Some(at(100)));
    }

    #[test]
    fn formatting() {
        assert_eq!(format(at(0)), "1970-01-01T00:00:00Z");
    }
}
