//! The PersistentVolume binder, as upstream's `persistentvolume-binder-controller`, with
//! k3s's local-path provisioner built in.
//!
//! A Pending claim binds to the smallest Available volume that serves it, or to the one
//! it or a volume names (pre-binding); claims of a class whose provisioner is
//! `rancher.io/local-path` get a `hostPath` volume in a directory of their own under the
//! local-path root. A volume whose claim is deleted goes Released and, with the Delete
//! policy, is deleted (with its directory).
//!
//! `WaitForFirstConsumer` claims are provisioned once they carry
//! `volume.kubernetes.io/selected-node`, or once a pod using them is on a node (the
//! controller then records that node as the selected one, as the scheduler's volume
//! binder does upstream).
//!
//! Claims and volumes share one work queue, keyed `pvc/<ns>/<name>` and `pv/<name>`.

mod decide;
mod matching;
mod provision;
mod sync;

use std::sync::Arc;

use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use tokio_util::sync::CancellationToken;

use crate::informers::Informers;
use crate::keyed::{self, Seen};
use crate::manager::Context;
use crate::replicaset::{Events, nudged, ready};
use crate::workqueue::Queue;

/// The name in the controller registry (upstream's).
pub const NAME: &str = "persistentvolume-binder-controller";

/// The provisioner name of the built-in local-path provisioner (k3s's).
pub const LOCAL_PATH_PROVISIONER: &str = "rancher.io/local-path";

/// On a claim: its binding is complete.
pub(crate) const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// On a claim or volume: the controller (not a user) set the binding.
pub(crate) const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// On a volume: the provisioner that created it.
pub(crate) const ANN_PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
/// On a claim: the node its volume should be reachable from.
pub(crate) const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// On a claim: the provisioner expected to create its volume.
pub(crate) const ANN_STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
/// The same, under its older name (still set by upstream).
pub(crate) const ANN_STORAGE_PROVISIONER_BETA: &str = "volume.beta.kubernetes.io/storage-provisioner";

const CLAIM_PREFIX: &str = "pvc/";
const VOLUME_PREFIX: &str = "pv/";

fn claim_key(ns: &str, name: &str) -> String {
    format!("{CLAIM_PREFIX}{ns}/{name}")
}

/// Registers the controller on the shared claim, volume, class and pod informers.
pub fn register(
    informers: &mut Informers,
    ctx: Arc<Context>,
    stop: CancellationToken,
) -> BoxFuture<'static, ()> {
    let claims = informers.store::<PersistentVolumeClaim>();
    let claim_changes = nudged(informers.subscribe::<PersistentVolumeClaim>());
    let volumes = informers.store::<PersistentVolume>();
    let volume_changes = nudged(informers.subscribe::<PersistentVolume>());
    let classes = informers.store::<StorageClass>();
    let class_changes = nudged(informers.subscribe::<StorageClass>());
    let pods = informers.store::<Pod>();
    let pod_changes = nudged(informers.subscribe::<Pod>());
    Box::pin(async move {
        let queue: Arc<Queue<String>> = Queue::new();
        let state = Arc::new(sync::State {
            client: ctx.client.clone(),
            claims: claims.clone(),
            volumes: volumes.clone(),
            classes: classes.clone(),
            pods: pods.clone(),
            events: Events::new(ctx.client.clone(), NAME, &ctx.config.identity),
            dirs: Arc::new(provision::HostDirs),
            root: ctx.config.local_path_dir.clone(),
        });
        let on_claim = {
            let queue = queue.clone();
            move |seen: Seen<'_, PersistentVolumeClaim>| {
                let c = seen.object();
                queue.add(format!("{CLAIM_PREFIX}{}", keyed::key_of(c)));
                // A deleted or rebound claim concerns the volume it had.
                if let Some(v) = c
                    .spec
                    .as_ref()
                    .and_then(|s| s.volume_name.as_deref())
                    .filter(|v| !v.is_empty())
                {
                    queue.add(format!("{VOLUME_PREFIX}{v}"));
                }
            }
        };
        let on_volume = {
            let queue = queue.clone();
            move |seen: Seen<'_, PersistentVolume>| {
                let pv = seen.object();
                queue.add(format!("{VOLUME_PREFIX}{}", keyed::key_of(pv)));
                // The claim it names may bind it now, or has lost it.
                if let Some(r) = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref()) {
                    queue.add(claim_key(
                        r.namespace.as_deref().unwrap_or(""),
                        r.name.as_deref().unwrap_or(""),
                    ));
                }
            }
        };
        let on_class = {
            let (queue, claims) = (queue.clone(), claims.clone());
            move |_: Seen<'_, StorageClass>| {
                // A class appearing or changing may let waiting claims provision.
                for c in claims.state() {
                    if c.spec
                        .as_ref()
                        .and_then(|s| s.volume_name.as_deref())
                        .is_none_or(str::is_empty)
                    {
                        queue.add(format!("{CLAIM_PREFIX}{}", keyed::key_of(c.as_ref())));
                    }
                }
            }
        };
        let on_pod = {
            let queue = queue.clone();
            move |seen: Seen<'_, Pod>| {
                let pod = seen.object();
                let ns = pod.metadata.namespace.as_deref().unwrap_or("");
                for c in sync::claims_of(pod) {
                    queue.add(claim_key(ns, &c));
                }
            }
        };
        // Upstream's periodic resync (`--pvclaimbinder-sync-period`): every volume and
        // claim is looked at again, so a change whose event was handled against a stale
        // cache (a claim deleted while its binding was being finished) is not missed.
        let resync = {
            let (queue, claims, volumes, stop) =
                (queue.clone(), claims.clone(), volumes.clone(), stop.clone());
            async move {
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(sync::RESYNC) => {}
                    }
                    for pv in volumes.state() {
                        queue.add(format!("{VOLUME_PREFIX}{}", keyed::key_of(pv.as_ref())));
                    }
                    for c in claims.state() {
                        queue.add(format!("{CLAIM_PREFIX}{}", keyed::key_of(c.as_ref())));
                    }
                }
            }
        };
        let feed = async {
            futures_util::future::join5(
                resync,
                keyed::follow(claim_changes, claims.clone(), stop.clone(), on_claim),
                keyed::follow(volume_changes, volumes.clone(), stop.clone(), on_volume),
                keyed::follow(class_changes, classes.clone(), stop.clone(), on_class),
                keyed::follow(pod_changes, pods.clone(), stop.clone(), on_pod),
            )
            .await;
        };
        let work = keyed::run_workers_when_synced(
            NAME,
            queue.clone(),
            ctx.config.workers,
            stop.clone(),
            async {
                ready(&claims).await && ready(&volumes).await && ready(&classes).await && ready(&pods).await
            },
            move |key| {
                let state = state.clone();
                async move { state.sync(&key).await }
            },
        );
        futures_util::future::join(feed, work).await;
    })
}
