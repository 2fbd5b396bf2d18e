//! DefaultPreemption (PostFilter): when no node fits, look for nodes where evicting pods of
//! lower priority would let the pod fit; pick the one that hurts least; nominate the pod to
//! it. The scheduler then sets `status.nominatedNodeName`, marks the victims with a
//! DisruptionTarget condition and deletes them. Pods with `preemptionPolicy: Never` do not
//! preempt; a pod whose nominated node still has a terminating lower-priority pod waits.

mod pick;
#[cfg(test)]
mod tests;
mod victims;

use std::borrow::Cow;

use pick::{Candidate, pick};
use rand::Rng;
use victims::select_victims;

use crate::framework::{
    Code, CycleState, Diagnosis, FitError, NodeToStatus, Plugin, PodInfo, PostFilterContext,
    PostFilterPlugin, PostFilterResult, Status,
};

/// Registered name.
pub const NAME: &str = "DefaultPreemption";
/// Status of nodes where preemption cannot help.
pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
/// The pod may not preempt.
pub const NEVER: &str = "not eligible due to preemptionPolicy=Never.";
/// The pod waits for earlier victims to go.
pub const TERMINATING: &str = "not eligible due to a terminating pod on the nominated node.";

/// At least this share of the potential nodes is dry-run (upstream: 10%)…
const MIN_CANDIDATE_NODES_PERCENTAGE: usize = 10;
/// …and at least this many (upstream: 100).
const MIN_CANDIDATE_NODES_ABSOLUTE: usize = 100;

/// The plugin.
#[derive(Debug, Default)]
pub struct DefaultPreemption;

impl Plugin for DefaultPreemption {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_post_filter(&self) -> Option<&dyn PostFilterPlugin> {
        Some(self)
    }
}

fn wrap(code: Code, msg: String) -> Status {
    Status::new(code, Cow::Owned(format!("preemption: {msg}")))
}

impl DefaultPreemption {
    fn eligible(
        ctx: &PostFilterContext<'_>,
        pod: &PodInfo,
        statuses: &NodeToStatus,
    ) -> Result<(), &'static str> {
        if !pod.may_preempt() {
            return Err(NEVER);
        }
        let nominated = pod.nominated_node_name();
        if nominated.is_empty() || statuses.get(nominated).code() == Code::UnschedulableAndUnresolvable {
            return Ok(());
        }
        if let Some(node) = ctx.snapshot.get(nominated)
            && node
                .pods
                .iter()
                .any(|p| p.is_terminating() && p.priority < pod.priority)
        {
            return Err(TERMINATING);
        }
        Ok(())
    }
}

impl PostFilterPlugin for DefaultPreemption {
    fn post_filter(
        &self,
        ctx: &PostFilterContext<'_>,
        state: &CycleState,
        pod: &PodInfo,
        statuses: &NodeToStatus,
    ) -> (PostFilterResult, Status) {
        if let Err(msg) = Self::eligible(ctx, pod, statuses) {
            return (
                PostFilterResult::default(),
                wrap(Code::Unschedulable, msg.to_string()),
            );
        }
        let snap = ctx.snapshot;
        let all = snap.nodes();
        let clear = PostFilterResult {
            nominated_node: (!pod.nominated_node_name().is_empty()).then(String::new),
            ..Default::default()
        };
        let potential: Vec<usize> = (0..all.len())
            .filter(|&i| statuses.get(all[i].name()).code() == Code::Unschedulable)
            .collect();
        let not_helpful = |found: NodeToStatus| {
            let mut m = found;
            m.set_absent(Status::unresolvable(NOT_HELPFUL));
            let e = FitError {
                num_all_nodes: all.len(),
                diagnosis: Diagnosis {
                    node_to_status: m,
                    ..Default::default()
                },
            };
            wrap(Code::Unschedulable, e.to_string())
        };
        if potential.is_empty() {
            return (clear, not_helpful(NodeToStatus::default()));
        }
        let n = potential.len();
        let wanted = (n * MIN_CANDIDATE_NODES_PERCENTAGE / 100)
            .max(MIN_CANDIDATE_NODES_ABSOLUTE)
            .min(n);
        let offset = rand::rng().random_range(0..n);
        let (mut ok, mut violating) = (Vec::new(), Vec::new());
        let mut found = NodeToStatus::default();
        for k in 0..n {
            let node = &all[potential[(offset + k) % n]];
            let mut node_copy = (**node).clone();
            let mut state_copy = state.clone();
            match select_victims(
                ctx.framework,
                &mut state_copy,
                pod,
                &mut node_copy,
                snap.pdbs(),
                ctx.nominated,
            ) {
                Ok((victims, _)) if victims.is_empty() => found.set(
                    node.name(),
                    Status::error(format!(
                        "expected at least one victim pod on node {:?}",
                        node.name()
                    )),
                ),
                Ok((victims, pdb_violations)) => {
                    let c = Candidate {
                        node: node.name().to_string(),
                        victims,
                        pdb_violations,
                    };
                    if pdb_violations == 0 {
                        ok.push(c)
                    } else {
                        violating.push(c)
                    }
                    if ok.len() >= wanted || (ok.is_empty() && violating.len() >= wanted) {
                        break;
                    }
                }
                Err(s) => found.set(node.name(), s),
            }
        }
        let candidates: Vec<Candidate> = ok.into_iter().chain(violating).collect();
        let Some(best) = pick(&candidates) else {
            return (clear, not_helpful(found));
        };
        let best = &candidates[best];
        let clear_nominations = ctx
            .nominated
            .get(&best.node)
            .map(|l| {
                l.iter()
                    .filter(|p| p.priority < pod.priority && p.uid() != pod.uid())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        (
            PostFilterResult {
                nominated_node: Some(best.node.clone()),
                victims: best.victims.clone(),
                clear_nominations,
            },
            Status::success(),
        )
    }
}
