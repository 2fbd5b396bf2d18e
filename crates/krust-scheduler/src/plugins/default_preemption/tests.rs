use std::sync::Arc;

use super::*;
use crate::cache::{PdbInfo, Snapshot};
use crate::framework::profile::NodeResourcesFitArgs;
use crate::framework::selector::Selector;
use crate::framework::{Framework, Nominated, PodInfo};
use crate::plugins::node_resources_fit::NodeResourcesFit;
use crate::plugins::testing::{node, pod};

fn framework() -> Framework {
    Framework::new(
        vec![(
            Arc::new(NodeResourcesFit::new(&NodeResourcesFitArgs::default())),
            1,
        )],
        None,
    )
}

fn run(snap: &Snapshot, p: &PodInfo) -> (PostFilterResult, Status) {
    let fw = framework();
    let mut state = CycleState::default();
    assert!(fw.run_pre_filter(&mut state, p, snap).is_success());
    let mut statuses = NodeToStatus::default();
    for n in snap.nodes() {
        let s = fw.run_filter(&state, p, n);
        if !s.is_success() {
            statuses.set(n.name(), s);
        }
    }
    let nominated = Nominated::new();
    let ctx = PostFilterContext {
        snapshot: snap,
        framework: &fw,
        nominated: &nominated,
    };
    DefaultPreemption.post_filter(&ctx, &state, p, &statuses)
}

fn names(v: &[Arc<PodInfo>]) -> Vec<&str> {
    v.iter().map(|p| p.name()).collect()
}

#[test]
fn evicts_the_fewest_lowest_priority_pods() {
    // n1: two low pods of 2 cpu; n2: one mid pod of 3 cpu and one low of 1 cpu.
    let snap = Snapshot::from_nodes(vec![
        node("n1").with_pods(vec![
            pod("l1").priority(1).req("cpu", "2"),
            pod("l2").priority(1).req("cpu", "2"),
        ]),
        node("n2").with_pods(vec![
            pod("m").priority(5).req("cpu", "3"),
            pod("l3").priority(1).req("cpu", "1"),
        ]),
    ]);
    let p = pod("high").priority(10).req("cpu", "2").info();
    let (r, s) = run(&snap, &p);
    assert!(s.is_success(), "{s:?}");
    // n1 needs one priority-1 victim; n2 would need the priority-5 pod.
    assert_eq!(r.nominated_node.as_deref(), Some("n1"));
    assert_eq!(r.victims.len(), 1);
}

#[test]
fn not_helpful_when_nothing_lower_or_too_big() {
    let snap = Snapshot::from_nodes(vec![
        node("n1").with_pods(vec![pod("peer").priority(10).req("cpu", "4")]),
        node("n2").alloc("cpu", "1").info(),
    ]);
    let p = pod("p").priority(10).req("cpu", "2").info();
    let (r, s) = run(&snap, &p);
    assert!(!s.is_success());
    assert!(r.victims.is_empty());
    assert_eq!(
        s.message(),
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, \
         1 Preemption is not helpful for scheduling."
    );
}

#[test]
fn preemption_policy_never() {
    let snap = Snapshot::from_nodes(vec![
        node("n1").with_pods(vec![pod("low").priority(1).req("cpu", "4")]),
    ]);
    let p = pod("p")
        .priority(10)
        .req("cpu", "2")
        .with_spec(|s| s.preemption_policy = Some("Never".into()))
        .info();
    let (_, s) = run(&snap, &p);
    assert_eq!(
        s.message(),
        "preemption: not eligible due to preemptionPolicy=Never."
    );
}

#[test]
fn reprieves_pods_that_can_stay() {
    let snap = Snapshot::from_nodes(vec![node("n1").with_pods(vec![
        pod("a").priority(1).req("cpu", "1"),
        pod("b").priority(2).req("cpu", "1"),
        pod("c").priority(3).req("cpu", "2"),
    ])]);
    let p = pod("p").priority(10).req("cpu", "2").info();
    let (r, s) = run(&snap, &p);
    assert!(s.is_success());
    // c (highest) is kept first; then b fits back; a must go… and one more: 2 cpu needed.
    assert_eq!(names(&r.victims), vec!["b", "a"]);
}

#[test]
fn prefers_nodes_without_pdb_violations() {
    let snap = Snapshot::from_nodes(vec![
        node("n1").with_pods(vec![
            pod("guarded").priority(1).label("app", "db").req("cpu", "4"),
        ]),
        node("n2").with_pods(vec![pod("free").priority(2).label("app", "web").req("cpu", "4")]),
    ])
    .with_pdbs(vec![PdbInfo {
        namespace: "default".into(),
        selector: Selector::from_set(&[("app".to_string(), "db".to_string())].into()),
        disruptions_allowed: 0,
        disrupted_pods: vec![],
    }]);
    let p = pod("p").priority(10).req("cpu", "2").info();
    let (r, _) = run(&snap, &p);
    // n1's victim has a lower priority, but evicting it would violate the budget.
    assert_eq!(r.nominated_node.as_deref(), Some("n2"));
}
