//! The garbage collector: deletes objects whose owners are gone, and carries out the
//! Foreground and Orphan deletion propagation the API server records as finalizers
//! (`foregroundDeletion`, `orphan`), over every resource type the API serves.
//!
//! How it is built, as upstream's `pkg/controller/garbagecollector`:
//! - `monitor`: discovery (re-run every 30 s, so custom resources are covered once they
//!   appear) starts one metadata-only watch per deletable resource type; the watches feed
//!   the ownerReferences `graph`, which answers which uids to look at again;
//! - `worker`: workers take uids from a de-duplicating queue and act on them through the
//!   API, following the pure rules in `decide`; owner existence is verified by uid, so an
//!   owner recreated under the same name is a different owner.
//!
//! Memory stays small: the graph keeps names, uids, ownerReferences and three flags per
//! object, never object bodies.

mod decide;
mod graph;
mod monitor;
mod worker;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use kube::runtime::events::{Recorder, Reporter};
use parking_lot::{Mutex, RwLock};
use tokio_util::sync::CancellationToken;

use crate::discovery::Served;
use crate::informers::Informers;
use crate::manager::Context;
use crate::workqueue::Queue;
use graph::{Graph, Uid};

/// The name in the controller registry.
pub const NAME: &str = "garbage-collector-controller";

/// How long workers wait for the first complete view of the cluster before acting anyway
/// (acting on a partial graph is safe: owners are verified with the API server).
const INITIAL_SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// How many absent owners are remembered, to spare lookups when many dependents of one
/// deleted owner are collected.
const ABSENT_CACHE: usize = 1000;

/// Failures while acting on one object (the object is retried with back-off).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("api: {0}")]
    Api(#[from] kube::Error),
    /// An ownerReference names a kind discovery does not know (yet).
    #[error("unknown kind {kind} in {api_version}")]
    UnknownKind {
        /// `apiVersion` of the reference.
        api_version: String,
        /// Kind of the reference.
        kind: String,
    },
}

/// Maps an ownerReference's `apiVersion`/kind to a served resource type.
#[derive(Debug, Default)]
pub struct Mapper {
    /// (group, kind) → the resource at each served version, preferred first.
    by_kind: HashMap<(String, String), Vec<Arc<Served>>>,
}

impl Mapper {
    /// Builds the map from discovery (`preferred` listed before `all`).
    pub fn new(preferred: &[Served], all: &[Served]) -> Self {
        let mut by_kind: HashMap<(String, String), Vec<Arc<Served>>> = HashMap::new();
        for s in preferred.iter().chain(all) {
            let key = (s.resource.group.clone(), s.resource.kind.clone());
            let list = by_kind.entry(key).or_default();
            if !list.iter().any(|x| x.resource.version == s.resource.version) {
                list.push(Arc::new(s.clone()));
            }
        }
        Self { by_kind }
    }

    /// The resource for `apiVersion` + kind: that exact version if served, else the
    /// preferred one of the group (an object is one object in every version).
    pub fn resolve(&self, api_version: &str, kind: &str) -> Option<Arc<Served>> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let list = self.by_kind.get(&(group.to_string(), kind.to_string()))?;
        list.iter()
            .find(|s| s.resource.version == version)
            .or_else(|| list.first())
            .cloned()
    }
}

/// Owners known to be absent: (owner uid, namespace looked in).
#[derive(Debug, Default)]
struct AbsentOwners {
    set: HashSet<(Uid, Option<String>)>,
    order: VecDeque<(Uid, Option<String>)>,
}

impl AbsentOwners {
    fn contains(&self, key: &(Uid, Option<String>)) -> bool {
        self.set.contains(key)
    }

    fn insert(&mut self, key: (Uid, Option<String>)) {
        if self.set.insert(key.clone()) {
            self.order.push_back(key);
            while self.order.len() > ABSENT_CACHE {
                if let Some(old) = self.order.pop_front() {
                    self.set.remove(&old);
                }
            }
        }
    }
}

/// State shared by the monitors and the workers.
pub(crate) struct Shared {
    client: kube::Client,
    graph: Mutex<Graph>,
    queue: Arc<Queue<Uid>>,
    mapper: RwLock<Mapper>,
    absent: Mutex<AbsentOwners>,
    recorder: Recorder,
    monitors: Mutex<monitor::Monitors>,
}

impl Shared {
    /// Queues uids the graph pointed at.
    fn enqueue(&self, uids: Vec<Uid>) {
        for u in uids {
            self.queue.add(u);
        }
    }
}

/// Registers the garbage collector (it keeps its own dynamic watches; no shared informer).
pub fn register(_: &mut Informers, ctx: Arc<Context>, stop: CancellationToken) -> BoxFuture<'static, ()> {
    Box::pin(run(ctx, stop))
}

async fn run(ctx: Arc<Context>, stop: CancellationToken) {
    let reporter = Reporter {
        controller: "garbage-collector-controller".into(),
        instance: None,
    };
    let shared = Arc::new(Shared {
        client: ctx.client.clone(),
        graph: Mutex::new(Graph::default()),
        queue: Queue::new(),
        mapper: RwLock::new(Mapper::default()),
        absent: Mutex::new(AbsentOwners::default()),
        recorder: Recorder::new(ctx.client.clone(), reporter),
        monitors: Mutex::new(monitor::Monitors::new()),
    });
    let monitors = tokio::spawn(monitor::sync_loop(shared.clone(), stop.clone()));
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = monitor::wait_synced(&shared, INITIAL_SYNC_TIMEOUT) => {}
    }
    let workers: Vec<_> = (0..ctx.config.workers.max(1))
        .map(|_| tokio::spawn(worker::run(shared.clone(), stop.clone())))
        .collect();
    stop.cancelled().await;
    shared.queue.shut_down();
    let _ = monitors.await;
    for w in workers {
        let _ = w.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::discovery::ApiResource;

    fn served(group: &str, version: &str, kind: &str) -> Served {
        Served {
            resource: ApiResource {
                group: group.into(),
                version: version.into(),
                api_version: if group.is_empty() {
                    version.into()
                } else {
                    format!("{group}/{version}")
                },
                kind: kind.into(),
                plural: kind.to_lowercase(),
            },
            namespaced: true,
            verbs: vec![],
        }
    }

    #[test]
    fn mapper_prefers_the_exact_version_then_the_preferred_one() {
        let v2 = served("autoscaling", "v2", "HorizontalPodAutoscaler");
        let v1 = served("autoscaling", "v1", "HorizontalPodAutoscaler");
        let m = Mapper::new(std::slice::from_ref(&v2), &[v2.clone(), v1.clone()]);
        let got = |av: &str| {
            m.resolve(av, "HorizontalPodAutoscaler")
                .map(|s| s.resource.version.clone())
        };
        assert_eq!(got("autoscaling/v1").as_deref(), Some("v1"));
        assert_eq!(got("autoscaling/v2").as_deref(), Some("v2"));
        assert_eq!(got("autoscaling/v9").as_deref(), Some("v2"));
        assert!(m.resolve("apps/v1", "HorizontalPodAutoscaler").is_none());
        let core = served("", "v1", "ConfigMap");
        let m = Mapper::new(std::slice::from_ref(&core), &[]);
        assert!(m.resolve("v1", "ConfigMap").is_some());
    }

    #[test]
    fn absent_owner_cache_is_bounded() {
        let mut a = AbsentOwners::default();
        for i in 0..ABSENT_CACHE + 10 {
            a.insert((i.to_string(), None));
        }
        assert_eq!(a.set.len(), ABSENT_CACHE);
        assert!(!a.contains(&("0".into(), None)));
        assert!(a.contains(&((ABSENT_CACHE + 9).to_string(), None)));
    }
}
