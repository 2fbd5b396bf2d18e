//! Events a component publishes (a controller's SuccessfulCreate, the node agent's
//! Started or BackOff, ...), sent in the background so a slow or failing Events API never
//! holds up a reconcile or a pod sync.
//!
//! As upstream's recorder: an event repeating an earlier one (same object, type, reason
//! and message) within a few minutes bumps that event's series count instead of adding
//! another; and each object may emit a burst of 25 events, then one per 5 minutes, so a
//! 1,000-pod scale-up does not write 1,000 Events. (kube's `Recorder` folds events with
//! different messages together, which would leave only the first "Scaled up ..." visible.)

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::{
    api::{core::v1::ObjectReference, events::v1::Event},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::Timestamp,
};
use kube::{
    Api,
    api::{Patch, PatchParams, PostParams},
};
use parking_lot::Mutex;
use serde_json::json;

/// How long a published event can be continued as a series.
const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);
/// Events an object may emit at once.
const BURST: f64 = 25.0;
/// One more event is allowed per this interval.
const REFILL: Duration = Duration::from_secs(300);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    regarding: String,
    type_: &'static str,
    reason: String,
    note: String,
}

struct Published {
    name: String,
    count: i32,
    at: Instant,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Default)]
struct Memory {
    published: HashMap<Key, Published>,
    buckets: HashMap<String, Bucket>,
}

/// Publishes Events for one component.
#[derive(Clone)]
pub struct Events {
    client: kube::Client,
    controller: String,
    instance: String,
    memory: Arc<Mutex<Memory>>,
}

/// What to do with one event.
enum Plan {
    Create(String),
    Continue(String, i32),
    Drop,
}

impl Memory {
    /// Decides, at `now`, whether the event is new, a repeat, or over the object's budget.
    fn plan(&mut self, key: &Key, object: &str, now: Instant, fresh_name: String) -> Plan {
        self.published
            .retain(|_, p| now.duration_since(p.at) < SERIES_WINDOW);
        self.buckets
            .retain(|_, b| now.duration_since(b.at) < REFILL.saturating_mul(25));
        let bucket = self.buckets.entry(object.to_string()).or_insert(Bucket {
            tokens: BURST,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() / REFILL.as_secs_f64();
        bucket.tokens = (bucket.tokens + refill).min(BURST);
        bucket.at = now;
        if bucket.tokens < 1.0 {
            return Plan::Drop;
        }
        bucket.tokens -= 1.0;
        match self.published.get_mut(key) {
            Some(p) => {
                p.count += 1;
                p.at = now;
                Plan::Continue(p.name.clone(), p.count)
            }
            None => {
                self.published.insert(
                    key.clone(),
                    Published {
                        name: fresh_name.clone(),
                        count: 1,
                        at: now,
                    },
                );
                Plan::Create(fresh_name)
            }
        }
    }
}

impl Events {
    /// A publisher reporting as `controller` (upstream's component name) from `instance`.
    pub fn new(client: kube::Client, controller: &str, instance: &str) -> Self {
        Self {
            client,
            controller: controller.to_string(),
            instance: instance.to_string(),
            memory: Arc::default(),
        }
    }

    /// A Normal event about `regarding`.
    pub fn normal(&self, regarding: ObjectReference, reason: &str, action: &str, note: String) {
        self.publish(regarding, "Normal", reason, action, note);
    }

    /// A Warning event about `regarding`.
    pub fn warning(&self, regarding: ObjectReference, reason: &str, action: &str, note: String) {
        self.publish(regarding, "Warning", reason, action, note);
    }

    fn publish(
        &self,
        regarding: ObjectReference,
        type_: &'static str,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let object = format!(
            "{}/{}/{}/{}",
            regarding.kind.as_deref().unwrap_or_default(),
            regarding.namespace.as_deref().unwrap_or_default(),
            regarding.name.as_deref().unwrap_or_default(),
            regarding.uid.as_deref().unwrap_or_default(),
        );
        let key = Key {
            regarding: object.clone(),
            type_,
            reason: reason.to_string(),
            note: note.clone(),
        };
        let now = Timestamp::now();
        let fresh = format!(
            "{}.{:x}",
            regarding.name.as_deref().unwrap_or("event"),
            now.as_nanosecond()
        );
        let plan = self.memory.lock().plan(&key, &object, Instant::now(), fresh);
        let ns = regarding.namespace.clone().unwrap_or_else(|| "default".into());
        let api: Api<Event> = Api::namespaced(self.client.clone(), &ns);
        let event = Event {
            metadata: ObjectMeta {
                namespace: Some(ns),
                ..Default::default()
            },
            event_time: Some(MicroTime(now)),
            action: Some(action.to_string()),
            reason: Some(reason.to_string()),
            note: Some(note),
            type_: Some(type_.to_string()),
            regarding: Some(regarding),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Default::default()
        };
        tokio::spawn(async move {
            let result = match plan {
                Plan::Drop => return,
                Plan::Create(name) => create(&api, event, name).await,
                Plan::Continue(name, count) => {
                    let patch = json!({"series": {"count": count, "lastObservedTime": MicroTime(now)}});
                    match api
                        .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                        .await
                    {
                        Ok(_) => Ok(()),
                        // Expired or deleted meanwhile: start over.
                        Err(_) => create(&api, event, name).await,
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "cannot publish event");
            }
        });
    }
}

async fn create(api: &Api<Event>, mut event: Event, name: String) -> Result<(), kube::Error> {
    event.metadata.name = Some(name);
    api.create(&PostParams::default(), &event).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(note: &str) -> Key {
        Key {
            regarding: "rs".into(),
            type_: "Normal",
            reason: "SuccessfulCreate".into(),
            note: note.into(),
        }
    }

    #[test]
    fn repeats_become_series_and_bursts_are_bounded() {
        let mut m = Memory::default();
        let t0 = Instant::now();
        assert!(matches!(m.plan(&key("a"), "rs", t0, "e1".into()), Plan::Create(n) if n == "e1"));
        assert!(matches!(m.plan(&key("b"), "rs", t0, "e2".into()), Plan::Create(n) if n == "e2"));
        assert!(matches!(m.plan(&key("a"), "rs", t0, "e3".into()), Plan::Continue(n, 2) if n == "e1"));
        for i in 0..22 {
            assert!(!matches!(
                m.plan(&key(&i.to_string()), "rs", t0, "x".into()),
                Plan::Drop
            ));
        }
        assert!(matches!(m.plan(&key("late"), "rs", t0, "x".into()), Plan::Drop));
        // Another object has its own budget; time refills this one.
        assert!(matches!(
            m.plan(&key("c"), "other", t0, "y".into()),
            Plan::Create(_)
        ));
        let later = t0 + REFILL;
        assert!(matches!(
            m.plan(&key("late"), "rs", later, "z".into()),
            Plan::Create(_)
        ));
    }
}
