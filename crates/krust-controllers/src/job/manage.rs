//! Creating and deleting a Job's pods toward the wanted number of active ones, as
//! upstream's `manageJob`: all of them go while suspended; otherwise `parallelism` bounded
//! by the completions still missing, the lowest missing indexes for Indexed Jobs, and no
//! new pods while the back-off lasts (per index with `backoffLimitPerIndex`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::Pod;

use super::decide::{BURST, indexed};
use super::indexes;
use super::pods;
use super::template::NewPod;

/// Creating and deleting pods toward the wanted number of active ones.
pub(super) struct Manage<'a, 'b> {
    pub(super) job: &'b Job,
    pub(super) spec: &'b JobSpec,
    pub(super) active: &'b [&'a Pod],
    pub(super) terminating: usize,
    pub(super) succeeded: i64,
    pub(super) succeeded_ix: &'b BTreeSet<i32>,
    pub(super) failed_ix: Option<&'b BTreeSet<i32>>,
    pub(super) next_failures: &'b BTreeMap<i32, i32>,
    /// Per-index back-off still to wait (backoffLimitPerIndex), by index.
    pub(super) index_wait: &'b BTreeMap<i32, Duration>,
    pub(super) parallelism: i32,
    pub(super) backoff: Duration,
}

impl<'a> Manage<'a, '_> {
    /// Pods to delete, pods to create, and how long creation waits for the back-off.
    pub(super) fn run(&self) -> (Vec<&'a Pod>, Vec<NewPod>, Option<Duration>) {
        if self.spec.suspend == Some(true) {
            return (rank_for_removal(self.active.to_vec()), Vec::new(), None);
        }
        let parallelism = i64::from(self.parallelism);
        let mut delete: Vec<&'a Pod> = Vec::new();
        let indexed = indexed(self.spec);
        let completions = self.spec.completions.unwrap_or(0);
        let mut keep: Vec<&'a Pod> = self.active.to_vec();
        if indexed {
            // Pods without a valid index, of a finished index, or doubling another.
            let mut seen = BTreeSet::new();
            let mut ranked = keep.clone();
            ranked.sort_by_key(|p| std::cmp::Reverse(removal_rank(p)));
            keep.clear();
            for p in ranked {
                let ix = indexes::index_of(p, completions);
                let done = ix.is_some_and(|i| {
                    self.succeeded_ix.contains(&i) || self.failed_ix.is_some_and(|f| f.contains(&i))
                });
                match ix {
                    Some(i) if !done && seen.insert(i) => keep.push(p),
                    _ => delete.push(p),
                }
            }
        }
        let want = match self.spec.completions {
            None if self.succeeded > 0 => keep.len() as i64,
            None => parallelism,
            Some(c) => {
                let failed_ix = self.failed_ix.map_or(0, |f| f.len() as i64);
                (i64::from(c) - self.succeeded - failed_ix).clamp(0, parallelism)
            }
        };
        let have = keep.len() as i64;
        if have > want {
            let surplus = usize::try_from(have - want).unwrap_or(0).min(BURST);
            let ranked = rank_for_removal(keep);
            delete.extend(ranked.into_iter().take(surplus));
            return (delete, Vec::new(), None);
        }
        let mut diff = want - have;
        if pods::only_replace_failed(self.job) {
            diff -= self.terminating as i64;
        }
        let diff = usize::try_from(diff).unwrap_or(0).min(BURST);
        if diff == 0 {
            return (delete, Vec::new(), None);
        }
        // With per-index limits each index backs off on its own; otherwise the Job does.
        let per_index = self.spec.backoff_limit_per_index.is_some();
        if !per_index && !self.backoff.is_zero() {
            return (delete, Vec::new(), Some(self.backoff));
        }
        let mut wait = None;
        let create = if indexed {
            let busy: BTreeSet<i32> = keep
                .iter()
                .filter_map(|p| indexes::index_of(p, completions))
                .collect();
            (0..completions)
                .filter(|i| !busy.contains(i) && !self.succeeded_ix.contains(i))
                .filter(|i| self.failed_ix.is_none_or(|f| !f.contains(i)))
                .filter(|i| match self.index_wait.get(i) {
                    Some(d) if per_index => {
                        wait = Some(wait.map_or(*d, |w: Duration| w.min(*d)));
                        false
                    }
                    _ => true,
                })
                .take(diff)
                .map(|i| NewPod {
                    index: Some(i),
                    index_failures: self
                        .spec
                        .backoff_limit_per_index
                        .map(|_| self.next_failures.get(&i).copied().unwrap_or(0)),
                })
                .collect()
        } else {
            vec![
                NewPod {
                    index: None,
                    index_failures: None
                };
                diff
            ]
        };
        (delete, create, wait)
    }
}

/// Higher is more worth keeping: scheduled, running, ready, older.
fn removal_rank(p: &Pod) -> (bool, bool, bool, std::cmp::Reverse<i64>) {
    let scheduled = p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
    let running = p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    let created = p
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or(i64::MAX, |t| t.0.as_second());
    (scheduled, running, pods::ready(p), std::cmp::Reverse(created))
}

/// Pods in the order to delete them: least worth keeping first.
fn rank_for_removal(mut v: Vec<&Pod>) -> Vec<&Pod> {
    v.sort_by_key(|p| removal_rank(p));
    v
}
