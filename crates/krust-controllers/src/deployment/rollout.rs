//! The steps of a Deployment reconcile, as upstream's `syncDeployment` chooses them:
//! status only while being deleted; scaling while paused or when `spec.replicas`
//! changed; otherwise one step of a RollingUpdate or Recreate rollout.

use std::collections::HashSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::{
    core::{Selector, SelectorExt},
    runtime::controller::Action,
};

use super::annotations::desired_replicas_annotation;
use super::arith::is_recreate;
use super::progress::{
    calculate_status, deployment_complete, paused_condition, rollout_status, stuck_requeue,
};
use super::reconcile::Error;
use super::rsutil::{active, desired, sum_actual};
use super::sync::Syncer;
use super::{rolling, scale};
use crate::replicaset::controller_of;

/// Every Deployment is looked at again this often even without events (the informers
/// do not announce deletions, so a deleted ReplicaSet is noticed here at the latest).
const RESYNC: Duration = Duration::from_secs(30);
/// How often a Recreate rollout checks whether the old pods are gone.
const RECREATE_POLL: Duration = Duration::from_secs(1);

impl Syncer<'_> {
    /// Runs the step the Deployment is in.
    pub(crate) async fn run(&mut self, selector: &Selector) -> Result<Action, Error> {
        if self.d.metadata.deletion_timestamp.is_some() {
            self.sync_revision(false).await?;
            self.write_plain_status().await?;
            return Ok(Action::await_change());
        }
        if let Some(s) = paused_condition(&self.d, self.now) {
            self.write_status(s).await?;
        }
        let paused = self.d.spec.as_ref().and_then(|s| s.paused).unwrap_or(false);
        if paused || self.is_scaling_event().await? {
            self.scale_step(paused).await?;
        } else if is_recreate(&self.d) {
            self.recreate_step(selector).await?;
        } else {
            self.rolling_step().await?;
        }
        self.requeue_after(RESYNC);
        Ok(Action::requeue(self.requeue.unwrap_or(RESYNC)))
    }

    /// Whether an active ReplicaSet was last scaled for another Deployment size.
    async fn is_scaling_event(&mut self) -> Result<bool, Error> {
        self.sync_revision(false).await?;
        let want = desired(&self.d);
        let all: Vec<_> = self.replica_sets.iter().collect();
        Ok(active(&all)
            .iter()
            .any(|rs| desired_replicas_annotation(rs).is_some_and(|d| d != want)))
    }

    /// Writes the plain status (counts and `Available`; `Progressing` untouched).
    async fn write_plain_status(&mut self) -> Result<(), Error> {
        let (new, _) = self.split();
        let all: Vec<_> = self.replica_sets.iter().collect();
        let s = calculate_status(&all, new.map(|i| &self.replica_sets[i]), &self.d, self.now);
        self.write_status(s).await
    }

    /// Writes the status after a rollout step and asks to be looked at again when the
    /// progress deadline would pass.
    async fn write_rollout_status(&mut self) -> Result<(), Error> {
        let (new, _) = self.split();
        let all: Vec<_> = self.replica_sets.iter().collect();
        let s = rollout_status(&all, new.map(|i| &self.replica_sets[i]), &self.d, self.now);
        if let Some(after) = stuck_requeue(&self.d, &s, self.now) {
            self.requeue_after(after);
        }
        self.write_status(s).await
    }

    /// Scaling: resizes ReplicaSets for the Deployment's size (proportionally in a
    /// rollout); while paused also trims history.
    async fn scale_step(&mut self, paused: bool) -> Result<(), Error> {
        let new = self.sync_revision(false).await?;
        let (_, old) = self.split();
        let resizes: Vec<(usize, i32, Option<&'static str>)> = {
            let olds = self.refs(&old);
            let plan = scale::plan(&self.d, new.map(|i| &self.replica_sets[i]), &olds);
            plan.iter()
                .filter_map(|r| self.index_of(r.rs).map(|i| (i, r.to, r.touch)))
                .collect()
        };
        for (i, to, touch) in resizes {
            self.scale(i, to, touch).await?;
        }
        if paused {
            self.cleanup(&old).await;
        }
        self.write_plain_status().await
    }

    /// RollingUpdate: grow the new ReplicaSet within maxSurge, else shrink old ones
    /// within maxUnavailable; trim history once complete.
    async fn rolling_step(&mut self) -> Result<(), Error> {
        let Some(new) = self.sync_revision(true).await? else {
            return self.write_rollout_status().await;
        };
        let (_, old) = self.split();
        let all_idx: Vec<usize> = (0..self.replica_sets.len()).collect();
        let target = rolling::new_rs_target(&self.d, &self.refs(&all_idx), &self.replica_sets[new]);
        if let Some(to) = target
            && self.scale(new, to, None).await?
        {
            return self.write_rollout_status().await;
        }
        let shrink: Vec<(usize, i32)> = {
            let olds = self.refs(&old);
            let live = active(&olds);
            rolling::old_rs_targets(&self.d, &self.refs(&all_idx), &live, &self.replica_sets[new])
                .into_iter()
                .filter_map(|(rs, to)| self.index_of(rs).map(|i| (i, to)))
                .collect()
        };
        let mut shrunk = false;
        for (i, to) in shrink {
            shrunk |= self.scale(i, to, None).await?;
        }
        if !shrunk && self.stored_complete() {
            self.cleanup(&old).await;
        }
        self.write_rollout_status().await
    }

    /// Recreate: all old pods gone first, then the new ReplicaSet at full size.
    async fn recreate_step(&mut self, selector: &Selector) -> Result<(), Error> {
        let new = self.sync_revision(false).await?;
        let (_, old) = self.split();
        let live_old: Vec<usize> = old
            .iter()
            .copied()
            .filter(|i| super::rsutil::size(&self.replica_sets[*i]) > 0)
            .collect();
        let mut scaled = false;
        for i in live_old {
            scaled |= self.scale(i, 0, None).await?;
        }
        if scaled || self.old_pods_running(new, &old, selector) {
            self.requeue_after(RECREATE_POLL);
            return self.write_rollout_status().await;
        }
        let new = match new {
            Some(i) => i,
            None => match self.sync_revision(true).await? {
                Some(i) => i,
                None => return self.write_rollout_status().await,
            },
        };
        let want = desired(&self.d);
        self.scale(new, want, None).await?;
        if self.stored_complete() {
            let (_, old) = self.split();
            self.cleanup(&old).await;
        }
        self.write_rollout_status().await
    }

    /// Whether the stored status says the rollout is complete.
    fn stored_complete(&self) -> bool {
        self.d
            .status
            .as_ref()
            .is_some_and(|s| deployment_complete(&self.d, s))
    }

    /// Whether any pod of an old ReplicaSet still runs (or is still terminating).
    fn old_pods_running(&self, new: Option<usize>, old: &[usize], selector: &Selector) -> bool {
        if sum_actual(&self.refs(old)) > 0 {
            return true;
        }
        let new_uid = new.and_then(|i| self.replica_sets[i].metadata.uid.clone());
        let owners: HashSet<String> = self
            .replica_sets
            .iter()
            .filter_map(|rs| rs.metadata.uid.clone())
            .filter(|u| Some(u) != new_uid.as_ref())
            .collect();
        let ns = self.d.metadata.namespace.clone();
        self.st.pods.state().iter().any(|p: &std::sync::Arc<Pod>| {
            p.metadata.namespace == ns
                && p.metadata.labels.as_ref().is_some_and(|l| selector.matches(l))
                && controller_of(&p.metadata).is_some_and(|r| owners.contains(&r.uid))
                && !matches!(
                    p.status.as_ref().and_then(|s| s.phase.as_deref()),
                    Some("Failed" | "Succeeded")
                )
        })
    }
}
