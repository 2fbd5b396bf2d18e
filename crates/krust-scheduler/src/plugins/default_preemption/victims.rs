//! Which pods to evict from one node so the preemptor fits (upstream's
//! `SelectVictimsOnNode`): remove every lower-priority pod, check the preemptor fits, then
//! put pods back, most important first and PDB-violating ones before the others, keeping
//! each one that still leaves room.

use std::sync::Arc;

use crate::cache::PdbInfo;
use crate::framework::pod_info::more_important;
use crate::framework::{CycleState, Framework, NodeInfo, Nominated, PodInfo, Status};

/// Reason when nothing on the node has a lower priority.
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// Splits pods into those whose eviction would exceed a PodDisruptionBudget and the rest,
/// spending each budget's allowed disruptions in order.
pub fn split_by_pdb(pods: &[Arc<PodInfo>], pdbs: &[PdbInfo]) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let mut allowed: Vec<i32> = pdbs.iter().map(|p| p.disruptions_allowed).collect();
    let (mut violating, mut ok) = (Vec::new(), Vec::new());
    for pod in pods {
        let mut violated = false;
        if !pod.labels().is_empty() {
            for (i, pdb) in pdbs.iter().enumerate() {
                if pdb.namespace != pod.namespace() || !pdb.selector.matches(pod.labels()) {
                    continue;
                }
                // Already being disrupted: the budget accounted for it.
                if pdb.disrupted_pods.iter().any(|n| n == pod.name()) {
                    continue;
                }
                allowed[i] -= 1;
                if allowed[i] < 0 {
                    violated = true;
                }
            }
        }
        if violated {
            violating.push(pod.clone())
        } else {
            ok.push(pod.clone())
        }
    }
    (violating, ok)
}

/// Victims on `node` (a copy the function may change) and how many of them violate a PDB,
/// or the status saying why preempting there does not help.
pub fn select_victims(
    fw: &Framework,
    state: &mut CycleState,
    pod: &PodInfo,
    node: &mut NodeInfo,
    pdbs: &[PdbInfo],
    nominated: &Nominated,
) -> Result<(Vec<Arc<PodInfo>>, usize), Status> {
    let mut potential: Vec<Arc<PodInfo>> = node
        .pods
        .iter()
        .filter(|p| p.priority < pod.priority)
        .cloned()
        .collect();
    if potential.is_empty() {
        return Err(Status::unresolvable(NO_VICTIMS));
    }
    for p in &potential {
        node.remove_pod(p.uid());
        let s = fw.run_pre_filter_remove_pod(state, pod, p, node);
        if !s.is_success() {
            return Err(s);
        }
    }
    let s = fw.run_filter_with_nominated(state, pod, node, nominated);
    if !s.is_success() {
        return Err(s);
    }
    potential.sort_by(|a, b| {
        if more_important(a, b) {
            std::cmp::Ordering::Less
        } else if more_important(b, a) {
            std::cmp::Ordering::Greater
        } else {
            std::cmp::Ordering::Equal
        }
    });
    let (violating, ok) = split_by_pdb(&potential, pdbs);
    let mut victims = Vec::new();
    let mut reprieve =
        |p: &Arc<PodInfo>, state: &mut CycleState, node: &mut NodeInfo| -> Result<bool, Status> {
            node.add_pod(p.clone());
            let s = fw.run_pre_filter_add_pod(state, pod, p, node);
            if !s.is_success() {
                return Err(s);
            }
            let fits = fw
                .run_filter_with_nominated(state, pod, node, nominated)
                .is_success();
            if !fits {
                node.remove_pod(p.uid());
                let s = fw.run_pre_filter_remove_pod(state, pod, p, node);
                if !s.is_success() {
                    return Err(s);
                }
                victims.push(p.clone());
            }
            Ok(fits)
        };
    let mut violations = 0;
    for p in &violating {
        if !reprieve(p, state, node)? {
            violations += 1;
        }
    }
    for p in &ok {
        reprieve(p, state, node)?;
    }
    if !violating.is_empty() && !ok.is_empty() {
        victims.sort_by(|a, b| {
            if more_important(a, b) {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Greater
            }
        });
    }
    Ok((victims, violations))
}
