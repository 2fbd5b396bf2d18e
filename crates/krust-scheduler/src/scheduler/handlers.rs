//! What each informer change does: assigned pods go to the cache, pending pods this
//! scheduler serves go to the queue, and changes that could help waiting pods (a node
//! added or changed, a pod deleted, a volume bound, …) move them back to be retried.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::ResourceExt;

use super::Shared;
use super::failure::{SCHEDULING_GATED, condition_patch};
use crate::cache::PdbInfo;
use crate::framework::{ClusterEvent, EventKind, NodeObj, PodInfo};
use crate::informers::Change;

/// Whether a node change matters to scheduling (not just a heartbeat or an annotation).
pub(crate) fn node_changed(old: &NodeObj, new: &NodeObj) -> bool {
    let conditions = |n: &NodeObj| -> Vec<(String, String)> {
        n.node
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .map(|c| c.iter().map(|c| (c.type_.clone(), c.status.clone())).collect())
            .unwrap_or_default()
    };
    old.allocatable != new.allocatable
        || old.labels() != new.labels()
        || old.taints() != new.taints()
        || old.unschedulable() != new.unschedulable()
        || conditions(old) != conditions(new)
}

impl Shared {
    fn responsible_for(&self, pod: &PodInfo) -> bool {
        pod.spec()
            .scheduler_name
            .as_deref()
            .unwrap_or("default-scheduler")
            == self.config.scheduler_name
    }

    pub(crate) fn on_pod_change(&self, c: Change<Pod>) {
        match c {
            Change::Apply(p) => self.on_pod(p),
            Change::Delete(p) => {
                let key = format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any());
                self.on_pod_gone(&key, &p.uid().unwrap_or_default());
            }
            Change::Gone { key, uid } => self.on_pod_gone(&key, &uid),
            Change::Synced => self.mark_synced(),
        }
    }

    /// A pod was added or changed.
    pub(crate) fn on_pod(&self, pod: Pod) {
        let info = Arc::new(PodInfo::new(pod));
        if !info.node_name().is_empty() {
            self.on_assigned_pod(info);
            return;
        }
        let now = Instant::now();
        // Already scheduled by us (binding in flight or not yet observed): a stale update.
        if self.cache.lock().contains_pod(info.uid()) {
            return;
        }
        let mut q = self.queue.lock();
        if !self.responsible_for(&info) || info.is_terminating() || info.is_terminal() {
            q.delete(&info.key);
            return;
        }
        q.add(info.clone(), now);
        let gated = q.is_gated(&info.key);
        drop(q);
        if gated {
            self.mark_gated(&info);
        } else {
            self.wake.notify_one();
        }
    }

    fn on_assigned_pod(&self, info: Arc<PodInfo>) {
        let event = {
            let mut cache = self.cache.lock();
            if info.is_terminal() {
                cache
                    .remove_pod(info.uid())
                    .map(|old| ClusterEvent::pod(EventKind::AssignedPodDelete, old))
            } else {
                let was_assumed = cache.is_assumed(info.uid());
                match cache.upsert_pod(info.clone()) {
                    None => Some(ClusterEvent::pod(EventKind::AssignedPodAdd, info.clone())),
                    Some(_) if was_assumed => {
                        Some(ClusterEvent::pod(EventKind::AssignedPodAdd, info.clone()))
                    }
                    Some(old) if old.labels() != info.labels() || old.requests != info.requests => {
                        Some(ClusterEvent::pod(EventKind::AssignedPodUpdate, info.clone()))
                    }
                    Some(_) => None,
                }
            }
        };
        self.queue.lock().delete(&info.key);
        if let Some(e) = event {
            self.on_event(e);
        }
    }

    /// A pod was deleted.
    pub(crate) fn on_pod_gone(&self, key: &str, uid: &str) {
        let old = self.cache.lock().remove_pod(uid);
        self.queue.lock().delete(key);
        if let Some(old) = old {
            self.on_event(ClusterEvent::pod(EventKind::AssignedPodDelete, old));
        }
    }

    /// Sets `PodScheduled=False/SchedulingGated` on a gated pod, once.
    fn mark_gated(&self, pod: &PodInfo) {
        let Some(patch) = condition_patch(
            pod,
            SCHEDULING_GATED,
            "Scheduling is blocked due to non-empty scheduling gates",
            None,
        ) else {
            return;
        };
        let api = self.api.clone();
        let (ns, name) = (pod.namespace().to_string(), pod.name().to_string());
        tokio::spawn(async move {
            if let Err(e) = api.patch_pod_status(&ns, &name, patch).await {
                tracing::debug!(pod = %name, error = %e, "marking pod gated failed");
            }
        });
    }

    pub(crate) fn on_node_change(&self, c: Change<Node>) {
        match c {
            Change::Apply(n) => {
                let (old, new) = self.cache.lock().upsert_node(n);
                match old {
                    None => self.on_event(ClusterEvent::node(EventKind::NodeAdd, None, new)),
                    Some(old) if node_changed(&old, &new) => {
                        self.on_event(ClusterEvent::node(EventKind::NodeUpdate, Some(old), new))
                    }
                    Some(_) => {}
                }
            }
            Change::Delete(n) => {
                self.cache.lock().remove_node(&n.name_any());
            }
            Change::Gone { key, .. } => {
                self.cache.lock().remove_node(&key);
            }
            Change::Synced => self.mark_synced(),
        }
    }

    pub(crate) fn on_namespace_change(&self, c: Change<Namespace>) {
        match c {
            Change::Apply(ns) => {
                let changed = self
                    .cache
                    .lock()
                    .upsert_namespace(&ns.name_any(), ns.labels().clone());
                if changed {
                    self.on_event(ClusterEvent::simple(EventKind::NamespaceChange));
                }
            }
            Change::Delete(ns) => self.cache.lock().remove_namespace(&ns.name_any()),
            Change::Gone { key, .. } => self.cache.lock().remove_namespace(&key),
            Change::Synced => {}
        }
    }

    pub(crate) fn on_pv_change(&self, c: Change<PersistentVolume>) {
        match c {
            Change::Apply(pv) => {
                self.cache
                    .lock()
                    .volumes_mut()
                    .pvs
                    .insert(pv.name_any(), Arc::new(pv));
                self.on_event(ClusterEvent::simple(EventKind::PvChange));
            }
            Change::Delete(pv) => {
                self.cache.lock().volumes_mut().pvs.remove(&pv.name_any());
            }
            Change::Gone { key, .. } => {
                self.cache.lock().volumes_mut().pvs.remove(&key);
            }
            Change::Synced => {}
        }
    }

    pub(crate) fn on_pvc_change(&self, c: Change<PersistentVolumeClaim>) {
        let key =
            |p: &PersistentVolumeClaim| format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any());
        match c {
            Change::Apply(pvc) => {
                self.cache
                    .lock()
                    .volumes_mut()
                    .pvcs
                    .insert(key(&pvc), Arc::new(pvc));
                self.on_event(ClusterEvent::simple(EventKind::PvcChange));
            }
            Change::Delete(pvc) => {
                self.cache.lock().volumes_mut().pvcs.remove(&key(&pvc));
            }
            Change::Gone { key, .. } => {
                self.cache.lock().volumes_mut().pvcs.remove(&key);
            }
            Change::Synced => {}
        }
    }

    pub(crate) fn on_class_change(&self, c: Change<StorageClass>) {
        match c {
            Change::Apply(sc) => {
                self.cache
                    .lock()
                    .volumes_mut()
                    .classes
                    .insert(sc.name_any(), Arc::new(sc));
                self.on_event(ClusterEvent::simple(EventKind::StorageClassChange));
            }
            Change::Delete(sc) => {
                self.cache.lock().volumes_mut().classes.remove(&sc.name_any());
            }
            Change::Gone { key, .. } => {
                self.cache.lock().volumes_mut().classes.remove(&key);
            }
            Change::Synced => {}
        }
    }

    pub(crate) fn on_pdb_change(&self, c: Change<PodDisruptionBudget>) {
        match c {
            Change::Apply(p) => {
                let key = format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any());
                self.cache.lock().upsert_pdb(&key, PdbInfo::new(&p));
            }
            Change::Delete(p) => {
                let key = format!("{}/{}", p.namespace().unwrap_or_default(), p.name_any());
                self.cache.lock().remove_pdb(&key);
            }
            Change::Gone { key, .. } => self.cache.lock().remove_pdb(&key),
            Change::Synced => {}
        }
    }
}
