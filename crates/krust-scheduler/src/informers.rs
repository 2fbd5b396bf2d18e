//! Watch streams feeding the scheduler: every object the API server reports is handed to a
//! handler as it changes; after a re-list (a watch that broke and had to start over),
//! objects that did not come back are reported gone.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;

use futures_util::StreamExt;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

/// A change to one object.
#[derive(Debug)]
pub(crate) enum Change<K> {
    /// Added or updated.
    Apply(K),
    /// Deleted (with its last state).
    Delete(K),
    /// Not listed again after a re-list: deleted while the watch was down.
    Gone {
        /// `namespace/name` (or `name` for cluster-scoped kinds).
        key: String,
        /// Its UID.
        uid: String,
    },
    /// The first complete list has been delivered.
    Synced,
}

fn key_of<K: Resource>(o: &K) -> String {
    match o.namespace() {
        Some(ns) => format!("{ns}/{}", o.name_any()),
        None => o.name_any(),
    }
}

/// Watches `api` and hands every change to `handle` until `shutdown`.
pub(crate) async fn watch<K, F>(api: Api<K>, what: &'static str, mut handle: F, shutdown: CancellationToken)
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    F: FnMut(Change<K>) + Send,
{
    let stream = watcher::watcher(api, watcher::Config::default()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let mut known: HashMap<String, String> = HashMap::new();
    let mut relist: Option<HashSet<String>> = None;
    let mut synced = false;
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return,
            n = stream.next() => n,
        };
        match next {
            None => return,
            Some(Err(e)) => tracing::warn!(resource = what, error = %e, "watch failed; retrying"),
            Some(Ok(Event::Init)) => relist = Some(HashSet::new()),
            Some(Ok(Event::InitApply(o))) => {
                let key = key_of(&o);
                if let Some(seen) = relist.as_mut() {
                    seen.insert(key.clone());
                }
                known.insert(key, o.uid().unwrap_or_default());
                handle(Change::Apply(o));
            }
            Some(Ok(Event::InitDone)) => {
                if let Some(seen) = relist.take() {
                    let gone: Vec<(String, String)> = known
                        .iter()
                        .filter(|(k, _)| !seen.contains(*k))
                        .map(|(k, u)| (k.clone(), u.clone()))
                        .collect();
                    for (key, uid) in gone {
                        known.remove(&key);
                        handle(Change::Gone { key, uid });
                    }
                }
                if !synced {
                    synced = true;
                    handle(Change::Synced);
                }
            }
            Some(Ok(Event::Apply(o))) => {
                known.insert(key_of(&o), o.uid().unwrap_or_default());
                handle(Change::Apply(o));
            }
            Some(Ok(Event::Delete(o))) => {
                known.remove(&key_of(&o));
                handle(Change::Delete(o));
            }
        }
    }
}
