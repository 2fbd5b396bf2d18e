//! Monitors: one metadata-only watch per deletable resource type, kept in step with
//! discovery, feeding the graph.
//!
//! A type is watched when its preferred version allows list, watch and delete (events
//! excepted, as upstream: they are numerous and never own anything). A watch that
//! re-lists (after an outage or a too-old resourceVersion) may have missed deletions; the
//! objects of that type not seen in the new listing are then removed from the graph as if
//! deleted.

use std::collections::{HashMap, HashSet};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use kube::{
    Api,
    api::{DynamicObject, PartialObjectMeta},
    discovery::ApiResource,
    runtime::{WatchStreamExt, watcher},
};
use tokio_util::sync::CancellationToken;

use super::graph::{FOREGROUND, Node, ORPHAN, OwnerRef, Uid};
use super::{Mapper, Shared};
use crate::discovery::{self, Served};

/// How often discovery is read again (upstream's garbage collector sync period).
const RESYNC: Duration = Duration::from_secs(30);
/// How soon a failed discovery is retried.
const RETRY: Duration = Duration::from_secs(5);

/// A running watch.
pub struct Monitor {
    stop: CancellationToken,
    synced: Arc<AtomicBool>,
    served: Arc<Served>,
}

/// The running watches by resource type.
pub type Monitors = HashMap<ApiResource, Monitor>;

/// Whether the collector should watch a resource type.
pub fn deletable(s: &Served) -> bool {
    let ignored = s.resource.plural == "events" && matches!(s.resource.group.as_str(), "" | "events.k8s.io");
    !ignored && ["list", "watch", "delete"].iter().all(|v| s.supports(v))
}

/// Waits until every watch has listed once (or `timeout`).
pub async fn wait_synced(shared: &Shared, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        let done = {
            let m = shared.monitors.lock();
            !m.is_empty() && m.values().all(|m| m.synced.load(Ordering::Relaxed))
        };
        if done {
            tracing::info!("garbage collector: all resource monitors have synced");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tracing::info!("garbage collector: not all resource monitors synced, proceeding anyway");
}

/// Re-reads discovery periodically and starts or stops watches to match.
pub async fn sync_loop(shared: Arc<Shared>, stop: CancellationToken) {
    loop {
        let wait = match discovery::discover(&shared.client).await {
            Ok(found) => {
                for (gv, e) in &found.failed {
                    tracing::debug!(group_version = %gv, error = %e, "garbage collector: discovery failed for a group");
                }
                *shared.mapper.write() = Mapper::new(&found.preferred, &found.all);
                let wanted: Vec<Served> = found.preferred.into_iter().filter(deletable).collect();
                // Keep watching types of groups whose discovery failed this time.
                let failed: HashSet<&str> = found.failed.iter().map(|(gv, _)| gv.as_str()).collect();
                resync(&shared, wanted, &failed, &stop);
                RESYNC
            }
            Err(e) => {
                tracing::warn!(error = %e, "garbage collector: discovery failed; retrying");
                RETRY
            }
        };
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    for (_, m) in shared.monitors.lock().drain() {
        m.stop.cancel();
    }
}

fn resync(shared: &Arc<Shared>, wanted: Vec<Served>, failed_gvs: &HashSet<&str>, stop: &CancellationToken) {
    let mut monitors = shared.monitors.lock();
    let wanted_keys: HashSet<&ApiResource> = wanted.iter().map(|s| &s.resource).collect();
    let gone: Vec<ApiResource> = monitors
        .keys()
        .filter(|k| !wanted_keys.contains(k) && !failed_gvs.contains(k.api_version.as_str()))
        .cloned()
        .collect();
    for key in gone {
        if let Some(m) = monitors.remove(&key) {
            tracing::info!(resource = %key.plural, group = %key.group, "garbage collector: stop watching");
            m.stop.cancel();
            let uids = shared.graph.lock().uids_of(&m.served);
            forget(shared, uids);
        }
    }
    for s in wanted {
        if monitors.contains_key(&s.resource) {
            continue;
        }
        let m = Monitor {
            stop: stop.child_token(),
            synced: Arc::new(AtomicBool::new(false)),
            served: Arc::new(s),
        };
        tokio::spawn(watch(
            shared.clone(),
            m.served.clone(),
            m.synced.clone(),
            m.stop.clone(),
        ));
        monitors.insert(m.served.resource.clone(), m);
    }
}

/// Removes objects from the graph as deleted, queueing what that affects.
fn forget(shared: &Shared, uids: Vec<Uid>) {
    let mut out = Vec::new();
    {
        let mut g = shared.graph.lock();
        for u in uids {
            out.extend(g.remove(&u));
        }
    }
    shared.enqueue(out);
}

/// The graph node of an object seen by a watch.
pub fn node_of(served: &Arc<Served>, o: &PartialObjectMeta<DynamicObject>) -> Option<Node> {
    let m = &o.metadata;
    let uid = m.uid.clone()?;
    let finalizers = m.finalizers.as_deref().unwrap_or_default();
    Some(Node {
        served: served.clone(),
        namespace: m.namespace.clone().filter(|n| !n.is_empty()),
        name: m.name.clone().unwrap_or_default(),
        uid,
        resource_version: m.resource_version.clone(),
        owners: m
            .owner_references
            .iter()
            .flatten()
            .map(|r| OwnerRef {
                api_version: r.api_version.clone(),
                kind: r.kind.clone(),
                name: r.name.clone(),
                uid: r.uid.clone(),
                block: r.block_owner_deletion == Some(true),
            })
            .collect(),
        being_deleted: m.deletion_timestamp.is_some(),
        foreground: finalizers.iter().any(|f| f == FOREGROUND),
        orphan: finalizers.iter().any(|f| f == ORPHAN),
    })
}

/// Watches one resource type until stopped.
async fn watch(shared: Arc<Shared>, served: Arc<Served>, synced: Arc<AtomicBool>, stop: CancellationToken) {
    let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(shared.client.clone(), &served.resource);
    let mut stream = pin!(watcher::watcher(api, watcher::Config::default()).default_backoff());
    // Uids seen since the last (re-)list started.
    let mut listing: Option<HashSet<Uid>> = None;
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => return,
            e = stream.next() => e,
        };
        let Some(event) = event else { return };
        let apply = |o: &PartialObjectMeta<DynamicObject>| {
            if let Some(n) = node_of(&served, o) {
                let out = shared.graph.lock().apply(n);
                shared.enqueue(out);
            }
        };
        match event {
            Ok(watcher::Event::Init) => listing = Some(HashSet::new()),
            Ok(watcher::Event::InitApply(o)) => {
                if let (Some(seen), Some(uid)) = (listing.as_mut(), o.metadata.uid.clone()) {
                    seen.insert(uid);
                }
                apply(&o);
            }
            Ok(watcher::Event::InitDone) => {
                if let Some(seen) = listing.take() {
                    let stale: Vec<Uid> = shared
                        .graph
                        .lock()
                        .uids_of(&served)
                        .into_iter()
                        .filter(|u| !seen.contains(u))
                        .collect();
                    forget(&shared, stale);
                }
                synced.store(true, Ordering::Relaxed);
            }
            Ok(watcher::Event::Apply(o)) => apply(&o),
            Ok(watcher::Event::Delete(o)) => {
                if let Some(uid) = o.metadata.uid.as_deref() {
                    let out = shared.graph.lock().remove(uid);
                    shared.enqueue(out);
                }
            }
            Err(e) => {
                tracing::debug!(resource = %served.resource.plural, error = %e, "garbage collector: watch error; retrying");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};

    fn served(group: &str, plural: &str, verbs: &[&str]) -> Served {
        Served {
            resource: ApiResource {
                group: group.into(),
                version: "v1".into(),
                api_version: "v1".into(),
                kind: "X".into(),
                plural: plural.into(),
            },
            namespaced: true,
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn deletable_types() {
        let all = ["list", "watch", "delete"];
        assert!(deletable(&served("", "configmaps", &all)));
        assert!(!deletable(&served("", "events", &all)));
        assert!(!deletable(&served("events.k8s.io", "events", &all)));
        assert!(deletable(&served("example.com", "events", &all)));
        assert!(!deletable(&served("", "bindings", &["create"])));
    }

    #[test]
    fn nodes_from_metadata() {
        let s = Arc::new(served("", "configmaps", &[]));
        let o = PartialObjectMeta::<DynamicObject> {
            types: None,
            metadata: ObjectMeta {
                name: Some("a".into()),
                namespace: Some("ns".into()),
                uid: Some("u1".into()),
                finalizers: Some(vec![FOREGROUND.into()]),
                deletion_timestamp: Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH)),
                owner_references: Some(vec![OwnerReference {
                    api_version: "apps/v1".into(),
                    kind: "ReplicaSet".into(),
                    name: "rs".into(),
                    uid: "u0".into(),
                    block_owner_deletion: Some(true),
                    controller: Some(true),
                }]),
                ..Default::default()
            },
            _phantom: Default::default(),
        };
        let n = node_of(&s, &o).expect("a node");
        assert!(n.deleting_dependents() && !n.orphaning());
        assert_eq!(n.owners[0].group(), "apps");
        assert!(n.blocks("u0"));
        let mut no_uid = o.clone();
        no_uid.metadata.uid = None;
        assert!(node_of(&s, &no_uid).is_none());
    }
}
