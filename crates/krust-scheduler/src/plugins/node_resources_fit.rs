//! NodeResourcesFit: a pod fits a node whose allocatable covers what is already requested
//! there plus the pod's effective requests (CPU, memory, ephemeral storage, extended
//! resources, and one more pod). Feasible nodes are scored by the configured strategy
//! (LeastAllocated by default).

mod scoring;

use std::borrow::Cow;

use scoring::{Shape, least_allocated, most_allocated, requested_to_capacity_ratio};

use crate::cache::Snapshot;
use crate::framework::profile::{NodeResourcesFitArgs, ResourceSpec, ScoringStrategyType};
use crate::framework::resource::{self, Resource, is_extended_resource_name, is_scalar_resource_name};
use crate::framework::{
    ClusterEvent, Code, CycleState, EventKind, FilterPlugin, NodeInfo, Plugin, PodInfo, PreFilterPlugin,
    PreScorePlugin, ScorePlugin, Status,
};

/// Registered name.
pub const NAME: &str = "NodeResourcesFit";

/// The plugin.
#[derive(Debug)]
pub struct NodeResourcesFit {
    ignored: Vec<String>,
    strategy: ScoringStrategyType,
    resources: Vec<ResourceSpec>,
    weights: Vec<i64>,
    shape: Shape,
}

#[derive(Clone)]
struct PreFilterState(Resource);

#[derive(Clone)]
struct PreScoreState(Vec<i64>);

/// One resource the node lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insufficient {
    /// `Insufficient cpu`, `Too many pods`, …
    pub reason: Cow<'static, str>,
    /// The pod asks for more than the node has at all: preemption cannot help.
    pub unresolvable: bool,
}

/// What `node` lacks for a pod requesting `req`.
pub fn fits_request(req: &Resource, node: &NodeInfo, ignored: &[String]) -> Vec<Insufficient> {
    let mut out = Vec::new();
    let empty = Resource::default();
    let alloc = node.allocatable().unwrap_or(&empty);
    let used = &node.requested;
    if node.pods.len() as i64 + 1 > alloc.allowed_pods {
        out.push(Insufficient {
            reason: "Too many pods".into(),
            unresolvable: false,
        });
    }
    if req.is_zero() {
        return out;
    }
    let mut check = |want: i64, have: i64, used: i64, reason: Cow<'static, str>| {
        if want > 0 && want > have.saturating_sub(used) {
            out.push(Insufficient {
                reason,
                unresolvable: want > have,
            });
        }
    };
    check(
        req.milli_cpu,
        alloc.milli_cpu,
        used.milli_cpu,
        "Insufficient cpu".into(),
    );
    check(
        req.memory,
        alloc.memory,
        used.memory,
        "Insufficient memory".into(),
    );
    check(
        req.ephemeral_storage,
        alloc.ephemeral_storage,
        used.ephemeral_storage,
        "Insufficient ephemeral-storage".into(),
    );
    for (name, want) in &req.scalar {
        if *want == 0 || (is_extended_resource_name(name) && ignored.iter().any(|i| i == name)) {
            continue;
        }
        check(
            *want,
            alloc.scalar(name),
            used.scalar(name),
            format!("Insufficient {name}").into(),
        );
    }
    out
}

impl NodeResourcesFit {
    /// From the plugin's arguments.
    pub fn new(args: &NodeResourcesFitArgs) -> Self {
        let s = &args.scoring_strategy;
        let points: Vec<(i64, i64)> = s
            .requested_to_capacity_ratio
            .shape
            .iter()
            .map(|p| (p.utilization, p.score))
            .collect();
        Self {
            ignored: args.ignored_resources.clone(),
            strategy: s.kind,
            weights: s.resources.iter().map(|r| r.weight).collect(),
            resources: s.resources.clone(),
            shape: Shape::new(&points),
        }
    }

    /// The pod's request per scored resource; CPU and memory count missing container
    /// requests as the scoring defaults.
    fn pod_scoring_requests(&self, pod: &PodInfo) -> Vec<i64> {
        self.resources
            .iter()
            .map(|r| match r.name.as_str() {
                resource::CPU => pod.non_zero_cpu,
                resource::MEMORY => pod.non_zero_memory,
                other => pod.requests.get(other),
            })
            .collect()
    }
}

/// (allocatable, requested after placing the pod) of one resource on a node, as upstream's
/// `calculateResourceAllocatableRequest`; (0, 0) skips the resource. With `use_requested`,
/// CPU and memory use exact requests instead of the non-zero ones.
pub fn allocatable_and_requested(
    node: &NodeInfo,
    name: &str,
    pod_request: i64,
    use_requested: bool,
) -> (i64, i64) {
    let Some(alloc) = node.allocatable() else {
        return (0, 0);
    };
    if pod_request == 0 && is_scalar_resource_name(name) {
        return (0, 0);
    }
    match name {
        resource::CPU => {
            let used = if use_requested {
                node.requested.milli_cpu
            } else {
                node.non_zero_cpu
            };
            (alloc.milli_cpu, used + pod_request)
        }
        resource::MEMORY => {
            let used = if use_requested {
                node.requested.memory
            } else {
                node.non_zero_memory
            };
            (alloc.memory, used + pod_request)
        }
        resource::EPHEMERAL_STORAGE => (
            alloc.ephemeral_storage,
            node.requested.ephemeral_storage + pod_request,
        ),
        other if alloc.scalar.iter().any(|(n, _)| n == other) => {
            (alloc.scalar(other), node.requested.scalar(other) + pod_request)
        }
        _ => (0, 0),
    }
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_filter(&self) -> Option<&dyn PreFilterPlugin> {
        Some(self)
    }
    fn as_filter(&self) -> Option<&dyn FilterPlugin> {
        Some(self)
    }
    fn as_pre_score(&self) -> Option<&dyn PreScorePlugin> {
        Some(self)
    }
    fn as_score(&self) -> Option<&dyn ScorePlugin> {
        Some(self)
    }
    fn events(&self) -> &'static [EventKind] {
        &[
            EventKind::AssignedPodDelete,
            EventKind::NodeAdd,
            EventKind::NodeUpdate,
        ]
    }
    fn hint(&self, pod: &PodInfo, event: &ClusterEvent) -> bool {
        let Some(new) = &event.node else { return true };
        // The pod must fit the node when it is empty…
        let empty = NodeInfo::with_node(new.clone());
        if !fits_request(&pod.requests, &empty, &self.ignored).is_empty() {
            return false;
        }
        // …and an update must have added room for something the pod asks for.
        let Some(old) = &event.old_node else { return true };
        let (a, b, r) = (&old.allocatable, &new.allocatable, &pod.requests);
        b.allowed_pods > a.allowed_pods
            || (r.milli_cpu > 0 && b.milli_cpu > a.milli_cpu)
            || (r.memory > 0 && b.memory > a.memory)
            || (r.ephemeral_storage > 0 && b.ephemeral_storage > a.ephemeral_storage)
            || r.scalar.iter().any(|(n, v)| *v > 0 && b.scalar(n) > a.scalar(n))
    }
}

impl PreFilterPlugin for NodeResourcesFit {
    fn pre_filter(&self, state: &mut CycleState, pod: &PodInfo, _snap: &Snapshot) -> Status {
        state.write(PreFilterState(pod.requests.clone()));
        Status::success()
    }
}

impl FilterPlugin for NodeResourcesFit {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let req = state
            .read::<PreFilterState>()
            .map(|s| &s.0)
            .unwrap_or(&pod.requests);
        let lacks = fits_request(req, node, &self.ignored);
        if lacks.is_empty() {
            return Status::success();
        }
        let code = if lacks.iter().any(|l| l.unresolvable) {
            Code::UnschedulableAndUnresolvable
        } else {
            Code::Unschedulable
        };
        Status::with_reasons(code, lacks.into_iter().map(|l| l.reason).collect())
    }
}

impl PreScorePlugin for NodeResourcesFit {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _nodes: &[&NodeInfo],
        _snap: &Snapshot,
    ) -> Status {
        state.write(PreScoreState(self.pod_scoring_requests(pod)));
        Status::success()
    }
}

impl ScorePlugin for NodeResourcesFit {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let computed;
        let reqs = match state.read::<PreScoreState>() {
            Some(s) => &s.0,
            None => {
                computed = self.pod_scoring_requests(pod);
                &computed
            }
        };
        let n = self.resources.len();
        let mut requested = [0i64; 8];
        let mut allocatable = [0i64; 8];
        let mut req_vec;
        let mut alloc_vec;
        let (requested, allocatable): (&mut [i64], &mut [i64]) = if n <= 8 {
            (&mut requested[..n], &mut allocatable[..n])
        } else {
            req_vec = vec![0; n];
            alloc_vec = vec![0; n];
            (&mut req_vec[..], &mut alloc_vec[..])
        };
        for (i, r) in self.resources.iter().enumerate() {
            let (a, q) = allocatable_and_requested(node, &r.name, reqs[i], false);
            if a != 0 {
                allocatable[i] = a;
                requested[i] = q;
            }
        }
        Ok(match self.strategy {
            ScoringStrategyType::LeastAllocated => least_allocated(requested, allocatable, &self.weights),
            ScoringStrategyType::MostAllocated => most_allocated(requested, allocatable, &self.weights),
            ScoringStrategyType::RequestedToCapacityRatio => {
                requested_to_capacity_ratio(&self.shape, requested, allocatable, &self.weights)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::profile::{ScoringStrategy, UtilizationShapePoint};
    use crate::plugins::testing::{filter_all, node, pod, score_all};

    fn fit() -> NodeResourcesFit {
        NodeResourcesFit::new(&NodeResourcesFitArgs::default())
    }

    #[test]
    fn filter_counts_requests_and_pods() {
        let snap = Snapshot::from_nodes(vec![
            node("full").with_pods(vec![pod("a").req("cpu", "3500m")]),
            node("small").alloc("cpu", "1").info(),
            node("pods").alloc("pods", "1").with_pods(vec![pod("b")]),
            node("ok").info(),
        ]);
        let p = pod("p").req("cpu", "1").req("memory", "1Gi").info();
        let f = fit();
        let s = filter_all(Some(&f), &f, &p, &snap);
        assert_eq!(s[0].code(), Code::Unschedulable);
        assert_eq!(s[0].message(), "Insufficient cpu");
        assert!(s[1].is_success());
        assert_eq!(s[2].message(), "Too many pods");
        assert!(s[3].is_success());
        let big = pod("big").req("cpu", "5").req("memory", "64Gi").info();
        let s = filter_all(Some(&f), &f, &big, &snap);
        assert_eq!(s[3].code(), Code::UnschedulableAndUnresolvable);
        assert_eq!(s[3].message(), "Insufficient cpu, Insufficient memory");
    }

    #[test]
    fn extended_resources_and_ignored_ones() {
        let snap = Snapshot::from_nodes(vec![
            node("gpu").alloc("example.com/gpu", "1").info(),
            node("plain").info(),
        ]);
        let p = pod("p").req("example.com/gpu", "1").info();
        let f = fit();
        let s = filter_all(Some(&f), &f, &p, &snap);
        assert!(s[0].is_success());
        assert_eq!(s[1].message(), "Insufficient example.com/gpu");
        let f = NodeResourcesFit::new(&NodeResourcesFitArgs {
            ignored_resources: vec!["example.com/gpu".into()],
            ..Default::default()
        });
        assert!(filter_all(Some(&f), &f, &p, &snap)[1].is_success());
    }

    #[test]
    fn init_containers_and_overhead_count() {
        let snap = Snapshot::from_nodes(vec![node("n").alloc("cpu", "2").info()]);
        let p = pod("p")
            .req("cpu", "500m")
            .with_spec(|s| {
                let mut init = s.containers[0].clone();
                init.name = "init".into();
                if let Some(r) = init.resources.as_mut().and_then(|r| r.requests.as_mut()) {
                    r.insert(
                        "cpu".into(),
                        k8s_openapi::apimachinery::pkg::api::resource::Quantity("2500m".into()),
                    );
                }
                s.init_containers = Some(vec![init]);
            })
            .info();
        let f = fit();
        assert_eq!(
            filter_all(Some(&f), &f, &p, &snap)[0].message(),
            "Insufficient cpu"
        );
    }

    #[test]
    fn strategies() {
        let snap = Snapshot::from_nodes(vec![
            node("busy").with_pods(vec![pod("a").req("cpu", "3").req("memory", "16Gi")]),
            node("idle").info(),
        ]);
        let p = pod("p").req("cpu", "1").req("memory", "8Gi").info();
        let least = score_all(&fit(), &p, &snap);
        assert!(least[1] > least[0], "{least:?}");
        let most = NodeResourcesFit::new(&NodeResourcesFitArgs {
            scoring_strategy: ScoringStrategy {
                kind: ScoringStrategyType::MostAllocated,
                ..Default::default()
            },
            ..Default::default()
        });
        let m = score_all(&most, &p, &snap);
        assert!(m[0] > m[1], "{m:?}");
        assert_eq!(m, vec![87, 25]);
        let ratio = NodeResourcesFit::new(&NodeResourcesFitArgs {
            scoring_strategy: ScoringStrategy {
                kind: ScoringStrategyType::RequestedToCapacityRatio,
                requested_to_capacity_ratio: crate::framework::profile::RequestedToCapacityRatioParam {
                    shape: vec![
                        UtilizationShapePoint {
                            utilization: 0,
                            score: 0,
                        },
                        UtilizationShapePoint {
                            utilization: 100,
                            score: 10,
                        },
                    ],
                },
                ..Default::default()
            },
            ..Default::default()
        });
        assert_eq!(score_all(&ratio, &p, &snap), vec![88, 25]);
    }
}
