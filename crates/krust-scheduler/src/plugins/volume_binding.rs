//! VolumeBinding for pre-provisioned (e.g. local) volumes. A pod's bound claims must have
//! their volume reachable from the node (the volume's node affinity); its unbound claims of
//! a `WaitForFirstConsumer` class need an available matching volume reachable from the
//! node, chosen in Reserve and bound in PreBind through the API (the volume's claimRef,
//! then the claim's volumeName, annotations and Bound phases — what upstream's volume
//! binder and PV controller do between them). Unbound claims of an `Immediate` class make
//! the pod wait. A claim no existing volume can serve is provisioned when its class has a
//! provisioner: PreBind names the chosen node in the claim's
//! `volume.kubernetes.io/selected-node` annotation and waits for the provisioner to bind it
//! (storage capacity and the class's allowed topologies are not checked). Without a
//! provisioner (`kubernetes.io/no-provisioner`) such a claim leaves the node infeasible.

mod matching;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use matching::{bound_to_claim, claim_class, claim_size, find_matching, pv_fits_node};
use parking_lot::Mutex;

use crate::api::ClusterApi;
use crate::cache::{Snapshot, VolumeState};
use crate::framework::{
    CycleState, EventKind, FilterPlugin, NodeInfo, Plugin, PodInfo, PreBindPlugin, PreFilterPlugin,
    ReservePlugin, Status,
};

/// Registered name.
pub const NAME: &str = "VolumeBinding";
/// An unbound claim of an Immediate class.
pub const ERR_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
/// No volume for an unbound claim on the node.
pub const ERR_REASON_BIND_CONFLICT: &str = "node(s) didn't find available persistent volumes to bind";
/// A bound volume is not reachable from the node.
pub const ERR_REASON_NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
/// A claim is bound to a volume that does not exist.
pub const ERR_REASON_PV_NOT_EXIST: &str =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";

/// The plugin.
pub struct VolumeBinding {
    api: Arc<dyn ClusterApi>,
    /// Volumes chosen for a claim whose binding the informer has not shown yet:
    /// volume name → claim key.
    assumed: Mutex<HashMap<String, String>>,
}

#[derive(Clone)]
struct PreFilterState {
    /// Bound claims and their volume (None: the volume does not exist).
    bound: Vec<Option<Arc<PersistentVolume>>>,
    /// Unbound WaitForFirstConsumer claims, smallest request first.
    unbound: Vec<Arc<PersistentVolumeClaim>>,
    /// Per unbound claim: whether its class provisions volumes.
    provisionable: Vec<bool>,
    /// Volumes not taken by other claims (including assumed bindings).
    candidates: Vec<Arc<PersistentVolume>>,
}

#[derive(Clone, Default)]
struct ReserveState {
    /// Each unbound claim with the volume chosen for it, or `None` to provision one.
    bindings: Vec<(Option<Arc<PersistentVolume>>, Arc<PersistentVolumeClaim>)>,
}

/// How long PreBind waits for a claim to be provisioned (upstream's bind timeout).
const PROVISION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// The provisioner name of classes that never provision (pre-created local volumes).
const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";

fn claim_names(pod: &PodInfo) -> Vec<String> {
    let mut out = Vec::new();
    for v in pod.spec().volumes.iter().flatten() {
        if let Some(c) = &v.persistent_volume_claim {
            out.push(c.claim_name.clone());
        } else if v.ephemeral.is_some() {
            out.push(format!("{}-{}", pod.name(), v.name));
        }
    }
    out
}

impl VolumeBinding {
    /// A plugin binding volumes through `api`.
    pub fn new(api: Arc<dyn ClusterApi>) -> Self {
        Self {
            api,
            assumed: Mutex::new(HashMap::new()),
        }
    }

    /// A volume for each unbound claim on `node` (`None`: to be provisioned), or `None`
    /// when some claim can be neither bound nor provisioned there.
    fn choose(&self, s: &PreFilterState, node: &NodeInfo) -> Option<Vec<Option<Arc<PersistentVolume>>>> {
        let mut taken: Vec<String> = Vec::new();
        let mut chosen = Vec::new();
        for (pvc, provisionable) in s.unbound.iter().zip(&s.provisionable) {
            match find_matching(pvc, &s.candidates, node, &taken) {
                Some(pv) => {
                    taken.push(pv.metadata.name.clone().unwrap_or_default());
                    chosen.push(Some(pv.clone()));
                }
                None if *provisionable => chosen.push(None),
                None => return None,
            }
        }
        Some(chosen)
    }
}

/// Whether the claim's class has a provisioner that creates volumes.
fn is_provisionable(volumes: &VolumeState, pvc: &PersistentVolumeClaim) -> bool {
    volumes
        .classes
        .get(claim_class(pvc))
        .is_some_and(|c| !c.provisioner.is_empty() && c.provisioner != NO_PROVISIONER)
}

fn is_wait_for_first_consumer(volumes: &VolumeState, pvc: &PersistentVolumeClaim) -> bool {
    let class = claim_class(pvc);
    volumes
        .classes
        .get(class)
        .is_some_and(|c| c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"))
}

impl Plugin for VolumeBinding {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
    fn as_reserve(&self) -> Option<&dyn ReservePlugin> {
        Some(self)
    }
    fn as_pre_bind(&self) -> Option<&dyn PreBindPlugin> {
        Some(self)
    }
    fn events(&self) -> &'static [EventKind] {
        &[
            EventKind::PvChange,
            EventKind::PvcChange,
            EventKind::StorageClassChange,
            EventKind::NodeAdd,
            EventKind::NodeUpdate,
        ]
    }
}

impl PreFilterPlugin for VolumeBinding {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, snap: &Snapshot) -> Status {
        let names = claim_names(pod);
        if names.is_empty() {
            return Status::skip();
        }
        let volumes = snap.volumes();
        let mut bound = Vec::new();
        let mut unbound = Vec::new();
        for name in &names {
            let key = format!("{}/{}", pod.namespace(), name);
            let Some(pvc) = volumes.pvcs.get(&key) else {
                return Status::unresolvable(format!("persistentvolumeclaim \"{name}\" not found"));
            };
            if pvc.metadata.deletion_timestamp.is_some() {
                return Status::unresolvable(format!("persistentvolumeclaim \"{name}\" is being deleted"));
            }
            match pvc
                .spec
                .as_ref()
                .and_then(|s| s.volume_name.as_deref())
                .filter(|v| !v.is_empty())
            {
                Some(pv) => bound.push(volumes.pvs.get(pv).cloned()),
                None if is_wait_for_first_consumer(volumes, pvc) => unbound.push(pvc.clone()),
                None => return Status::unresolvable(ERR_UNBOUND_IMMEDIATE),
            }
        }
        unbound.sort_by_key(|c| claim_size(c));
        let provisionable = unbound.iter().map(|c| is_provisionable(volumes, c)).collect();
        let mut assumed = self.assumed.lock();
        // Forget assumptions the informer has caught up with.
        assumed.retain(|pv, _| {
            volumes
                .pvs
                .get(pv)
                .is_some_and(|v| v.spec.as_ref().is_some_and(|s| s.claim_ref.is_none()))
        });
        let candidates = if unbound.is_empty() {
            Vec::new()
        } else {
            volumes
                .pvs
                .iter()
                .filter(|(name, pv)| match assumed.get(*name) {
                    Some(claim) => unbound.iter().any(|c| {
                        format!(
                            "{}/{}",
                            c.metadata.namespace.as_deref().unwrap_or(""),
                            c.metadata.name.as_deref().unwrap_or("")
                        ) == *claim
                            || bound_to_claim(pv, c)
                    }),
                    None => true,
                })
                .map(|(_, pv)| pv.clone())
                .collect()
        };
        state.write(PreFilterState {
            bound,
            unbound,
            provisionable,
            candidates,
        });
        Status::success()
    }
}

impl FilterPlugin for VolumeBinding {
    fn filter(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>() else {
            return Status::success();
        };
        for pv in &s.bound {
            match pv {
                None => return Status::unresolvable(ERR_REASON_PV_NOT_EXIST),
                Some(pv) if !pv_fits_node(pv, node) => return Status::unresolvable(ERR_REASON_NODE_CONFLICT),
                Some(_) => {}
            }
        }
        if !s.unbound.is_empty() && self.choose(s, node).is_none() {
            return Status::unresolvable(ERR_REASON_BIND_CONFLICT);
        }
        Status::success()
    }
}

impl ReservePlugin for VolumeBinding {
    fn reserve(&self, state: &mut CycleState, _pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>() else {
            return Status::success();
        };
        if s.unbound.is_empty() {
            return Status::success();
        }
        let Some(chosen) = self.choose(s, node) else {
            return Status::unresolvable(ERR_REASON_BIND_CONFLICT);
        };
        let bindings: Vec<_> = chosen.into_iter().zip(s.unbound.iter().cloned()).collect();
        let mut assumed = self.assumed.lock();
        for (pv, pvc) in &bindings {
            let Some(pv) = pv else { continue };
            let key = format!(
                "{}/{}",
                pvc.metadata.namespace.as_deref().unwrap_or(""),
                pvc.metadata.name.as_deref().unwrap_or("")
            );
            assumed.insert(pv.metadata.name.clone().unwrap_or_default(), key);
        }
        drop(assumed);
        state.write(ReserveState { bindings });
        Status::success()
    }

    fn unreserve(&self, state: &mut CycleState, _pod: &PodInfo, _node: &str) {
        if let Some(r) = state.read::<ReserveState>() {
            let mut assumed = self.assumed.lock();
            for (pv, _) in &r.bindings {
                if let Some(pv) = pv {
                    assumed.remove(pv.metadata.name.as_deref().unwrap_or(""));
                }
            }
        }
    }
}

impl PreBindPlugin for VolumeBinding {
    fn pre_bind<'a>(
        &'a self,
        state: &'a CycleState,
        _pod: &'a PodInfo,
        node: &'a str,
    ) -> BoxFuture<'a, Status> {
        async move {
            let Some(r) = state.read::<ReserveState>() else {
                return Status::success();
            };
            // Existing volumes first, then the claims to provision (which may take long).
            for (pv, pvc) in r.bindings.iter().filter_map(|(pv, c)| Some((pv.as_ref()?, c))) {
                if let Err(e) = self.api.bind_volume(pv, pvc).await {
                    return Status::error(format!(
                        "binding volume {:?} to claim {:?}: {e}",
                        pv.metadata.name.as_deref().unwrap_or(""),
                        pvc.metadata.name.as_deref().unwrap_or("")
                    ));
                }
            }
            for (_, pvc) in r.bindings.iter().filter(|(pv, _)| pv.is_none()) {
                if let Err(e) = self.api.provision_volume(pvc, node, PROVISION_TIMEOUT).await {
                    return Status::error(format!(
                        "provisioning a volume for claim {:?}: {e}",
                        pvc.metadata.name.as_deref().unwrap_or("")
                    ));
                }
            }
            Status::success()
        }
        .boxed()
    }
}
