//! The node IPAM controller end to end against the real API server: nodes without a
//! podCIDR get distinct subnets of the cluster CIDR, nodes that come with one keep it (and
//! nobody else gets it), a full range is reported on the node, and a deleted node's subnet
//! goes to the next node in need.
//!
//! No timing is asserted: every wait is a generous wait-until.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::Env;

#[test]
fn nodes_get_distinct_subnets_and_keep_their_own() {
    let env = Env::server();
    // Registered before the controller starts: its CIDR, the first of the range, must be
    // found taken at start.
    env.node("preset", Some("10.42.0.0/24"));
    // Outside the cluster CIDR: left alone.
    env.node("foreign", Some("192.168.7.0/24"));
    env.start_controller("10.42.0.0/16", 24);
    env.node("a", None);
    env.node("b", None);
    // Created while the controller runs, with a CIDR the cursor would reach next.
    env.node("late", Some("10.42.3.0/24"));
    env.node("c", None);

    let got: Vec<String> = ["a", "b", "c"].iter().map(|n| env.wait_cidr(n)).collect();
    let distinct: BTreeSet<&String> = got.iter().collect();
    assert_eq!(distinct.len(), 3, "{got:?}");
    for c in &got {
        let (net, mask) = c.split_once('/').unwrap();
        assert_eq!(mask, "24", "{c}");
        assert!(net.starts_with("10.42.") && net.ends_with(".0"), "{c}");
        assert!(
            c != "10.42.0.0/24" && c != "10.42.3.0/24",
            "{c} belongs to a node that came with it ({got:?})"
        );
    }
    assert_eq!(env.pod_cidr("preset").as_deref(), Some("10.42.0.0/24"));
    assert_eq!(env.pod_cidr("late").as_deref(), Some("10.42.3.0/24"));
    assert_eq!(env.pod_cidr("foreign").as_deref(), Some("192.168.7.0/24"));

    // A podCIDR, once set, cannot be changed (the API refuses it, as upstream).
    let err = env.cluster.fails(&[
        "patch",
        "node",
        "a",
        "--type=merge",
        "-p",
        r#"{"spec":{"podCIDR":"10.42.200.0/24","podCIDRs":["10.42.200.0/24"]}}"#,
    ]);
    assert!(err.contains("may not change podCIDR"), "{err}");
    // Nor rewritten by the controller: a node keeps its CIDR for good.
    std::thread::sleep(Duration::from_secs(2));
    let again: Vec<String> = ["a", "b", "c"].iter().map(|n| env.wait_cidr(n)).collect();
    assert_eq!(again, got);
}

#[test]
fn a_full_range_waits_and_a_released_cidr_is_reused() {
    let env = Env::server();
    // Two /24s in all.
    env.start_controller("10.99.0.0/23", 24);
    env.node("one", None);
    let first = env.wait_cidr("one");
    env.node("two", None);
    let second = env.wait_cidr("two");
    assert_ne!(first, second);
    let all: BTreeSet<&str> = [first.as_str(), second.as_str()].into();
    assert_eq!(all, ["10.99.0.0/24", "10.99.1.0/24"].into());

    // The range is full: the third node waits, and says why.
    env.node("three", None);
    env.wait("the CIDRNotAvailable event", || {
        env.has_event(
            "three",
            "CIDRNotAvailable",
            "Node three status is now: CIDRNotAvailable",
        )
        .then_some(())
    });
    assert_eq!(env.pod_cidr("three"), None);

    // Deleting a node frees its CIDR, which the waiting node then gets.
    env.cluster.ok(&["delete", "node", "one"]);
    assert_eq!(env.wait_cidr("three"), first);
    assert_eq!(env.pod_cidr("two"), Some(second));
}
