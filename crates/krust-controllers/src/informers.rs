//! Shared informers: one watch and one in-memory store per resource type, fanned out to
//! every controller that asks for it, so N controllers over pods cost one pod cache.
//!
//! Controllers ask for stores and event streams while they are registered; `start` then
//! runs one watcher per requested type. A slow subscriber slows the watcher (back
//! pressure) instead of losing events.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use futures_util::{StreamExt, future::BoxFuture};
use kube::{
    Api, Resource, ResourceExt,
    runtime::{
        WatchStreamExt,
        reflector::{self, ReflectHandle, Store, store::Writer},
        watcher,
    },
};
use parking_lot::Mutex;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

/// Events buffered per subscriber before the watcher waits for it.
const BUFFER: usize = 1024;

struct Entry<K: Resource + Clone + 'static>
where
    K::DynamicType: Eq + Hash + Clone,
{
    reader: Store<K>,
    writer: Arc<Mutex<Option<Writer<K>>>>,
}

type Starter = Box<dyn FnOnce(kube::Client, CancellationToken) -> BoxFuture<'static, ()> + Send>;

/// The informers of one controller manager.
#[derive(Default)]
pub struct Informers {
    entries: HashMap<TypeId, Box<dyn Any + Send>>,
    starters: Vec<Starter>,
}

impl Informers {
    /// No informers yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn entry<K>(&mut self) -> &Entry<K>
    where
        K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    {
        let id = TypeId::of::<K>();
        if !self.entries.contains_key(&id) {
            let (reader, writer) = reflector::store_shared::<K>(BUFFER);
            let writer = Arc::new(Mutex::new(Some(writer)));
            let for_start = writer.clone();
            self.starters.push(Box::new(move |client, shutdown| {
                Box::pin(async move {
                    let Some(writer) = for_start.lock().take() else { return };
                    let api: Api<K> = Api::all(client);
                    let stream = watcher(api, watcher::Config::default())
                        .default_backoff()
                        .modify(|o: &mut K| {
                            // Managed fields are large and no controller reads them.
                            o.managed_fields_mut().clear();
                        })
                        .reflect_shared(writer)
                        .for_each(|r| async move {
                            if let Err(e) = r {
                                tracing::debug!(kind = %K::kind(&()), error = %e, "informer watch error; retrying");
                            }
                        });
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = stream => {}
                    }
                })
            }));
            self.entries.insert(id, Box::new(Entry { reader, writer }));
        }
        match self.entries.get(&id).and_then(|e| e.downcast_ref::<Entry<K>>()) {
            Some(e) => e,
            None => unreachable_entry(),
        }
    }

    /// The shared store of a type (filled once started).
    pub fn store<K>(&mut self) -> Store<K>
    where
        K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    {
        self.entry::<K>().reader.clone()
    }

    /// A stream of changed objects of a type, for `Controller::for_shared_stream` and
    /// friends. Must be called before `start`.
    pub fn subscribe<K>(&mut self) -> ReflectHandle<K>
    where
        K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    {
        let e = self.entry::<K>();
        let guard = e.writer.lock();
        match guard.as_ref().and_then(Writer::subscribe) {
            Some(h) => h,
            None => unreachable_entry(),
        }
    }

    /// Starts one watcher per requested type.
    pub fn start(
        self,
        client: kube::Client,
        shutdown: CancellationToken,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        self.starters
            .into_iter()
            .map(|s| tokio::spawn(s(client.clone(), shutdown.clone())))
            .collect()
    }
}

/// Reached only if the type map holds a value of another type for a `TypeId`, or a store
/// is subscribed after `start`: both programming errors caught by the first test run.
#[allow(clippy::panic)] // an internal invariant, never user input
fn unreachable_entry() -> ! {
    panic!("informer registry misuse: subscribe before start, one entry per type")
}
