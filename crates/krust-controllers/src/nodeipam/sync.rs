//! One node's reconcile: a node carrying a podCIDR has it recorded as taken; a node
//! without one gets the next free subnet written to `spec.podCIDR` and `spec.podCIDRs`.

use k8s_openapi::api::core::v1::{Node, ObjectReference};
use kube::{
    Api, Resource, ResourceExt,
    api::{Patch, PatchParams},
    runtime::reflector::Store,
};
use parking_lot::Mutex;
use serde_json::json;

use super::cidrset::{CidrError, Ipv4Cidr};
use super::ledger::Ledger;
use crate::apierror;
use crate::keyed::{self, Next};
use crate::replicaset::Events;

/// Reason of the event on a node when the range is exhausted (upstream's).
pub const CIDR_NOT_AVAILABLE: &str = "CIDRNotAvailable";
/// Reason of the event on a node whose CIDR could not be written (upstream's).
pub const CIDR_ASSIGNMENT_FAILED: &str = "CIDRAssignmentFailed";

/// Failures of one reconcile (retried with back-off).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API call failed.
    #[error("api: {0}")]
    Api(#[from] kube::Error),
    /// No CIDR is free.
    #[error(transparent)]
    Cidr(#[from] CidrError),
}

/// The podCIDRs a node carries, as written: `spec.podCIDRs`, else `spec.podCIDR` (upstream's
/// conversion treats a lone podCIDR as a one-element podCIDRs).
pub fn pod_cidrs(node: &Node) -> Vec<&str> {
    let Some(spec) = node.spec.as_ref() else {
        return Vec::new();
    };
    match spec.pod_cidrs.as_deref() {
        Some(list) if !list.is_empty() => list.iter().map(String::as_str).collect(),
        _ => spec
            .pod_cidr
            .as_deref()
            .filter(|c| !c.is_empty())
            .into_iter()
            .collect(),
    }
}

/// The IPv4 CIDRs among a node's podCIDRs (IPv6 ones and garbage are not this
/// allocator's: it only hands out IPv4).
pub fn ipv4_cidrs(node: &Node) -> Vec<Ipv4Cidr> {
    pod_cidrs(node).iter().filter_map(|c| c.parse().ok()).collect()
}

/// The patch giving a node its CIDR, guarded by its uid (a namesake created meanwhile is
/// another node).
pub fn cidr_patch(uid: &str, cidr: Ipv4Cidr) -> serde_json::Value {
    json!({
        "metadata": {"uid": uid},
        "spec": {"podCIDR": cidr.to_string(), "podCIDRs": [cidr.to_string()]},
    })
}

/// Whether an API error means the write will never succeed as it is (so the promised CIDR
/// is given back), rather than a failure the answer of which is unknown (a timeout, a
/// server error: the write may have landed, so the CIDR stays promised to the node).
fn refused(e: &kube::Error) -> bool {
    apierror::code(e).is_some_and(|c| (400..500).contains(&c))
}

/// What the workers share.
pub struct State {
    pub client: kube::Client,
    pub nodes: Store<Node>,
    pub ledger: Mutex<Ledger>,
    pub events: Events,
}

/// The reference of events about a node: upstream records them with the node's name as
/// uid.
fn node_ref(node: &Node) -> ObjectReference {
    let mut r = node.object_ref(&());
    r.uid = node.metadata.name.clone();
    r
}

impl State {
    /// Records the CIDRs of every node in the cache as taken: the state upstream rebuilds
    /// at start, before any allocation.
    pub fn occupy_all(&self) {
        for node in self.nodes.state() {
            self.observe(&node);
        }
        let ledger = self.ledger.lock();
        let (taken, subnets) = ledger.usage();
        tracing::info!(cluster_cidr = %ledger.cluster(), taken, subnets, "node-ipam: allocation state rebuilt from the nodes");
    }

    /// Whether the node carries podCIDRs (then recorded as taken); a node does not get
    /// another once it has one, whatever it is.
    pub fn observe(&self, node: &Node) -> bool {
        if pod_cidrs(node).is_empty() {
            return false;
        }
        let uid = node.uid().unwrap_or_default();
        let outside = self.ledger.lock().hold(&uid, &ipv4_cidrs(node));
        if !outside.is_empty() {
            tracing::debug!(node = %node.name_any(), cidrs = ?outside, "node-ipam: podCIDR outside the cluster CIDR; left alone");
        }
        true
    }

    /// Releases what a deleted node held (given its last known state); whether anything
    /// became free.
    pub fn deleted(&self, node: &Node) -> bool {
        let uid = node.uid().unwrap_or_default();
        self.ledger.lock().forget(&uid, &ipv4_cidrs(node))
    }

    /// Reconciles the node named `name`.
    pub async fn sync(&self, name: &str) -> Result<Next, Error> {
        let Some(cached) = keyed::cached(&self.nodes, name) else {
            return Ok(Next::Done);
        };
        if self.observe(&cached) {
            return Ok(Next::Done);
        }
        // The cache may lag behind a CIDR written a moment ago: look at the node itself.
        let api: Api<Node> = Api::all(self.client.clone());
        let Some(node) = api.get_opt(name).await? else {
            return Ok(Next::Done);
        };
        if self.observe(&node) || node.metadata.deletion_timestamp.is_some() {
            return Ok(Next::Done);
        }
        let uid = node.uid().unwrap_or_default();
        let allocated = self.ledger.lock().allocate(&uid);
        let cidr = match allocated {
            Ok(c) => c,
            Err(e) => {
                // Retried with back-off, and as soon as a deleted node frees a CIDR.
                self.events.normal(
                    node_ref(&node),
                    CIDR_NOT_AVAILABLE,
                    CIDR_NOT_AVAILABLE,
                    format!("Node {name} status is now: {CIDR_NOT_AVAILABLE}"),
                );
                return Err(e.into());
            }
        };
        let patch = cidr_patch(&uid, cidr);
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {
                tracing::info!(node = %name, pod_cidr = %cidr, "node-ipam: assigned podCIDR");
                Ok(Next::Done)
            }
            Err(e) if apierror::is_not_found(&e) => {
                self.ledger.lock().forget(&uid, &[]);
                Ok(Next::Done)
            }
            Err(e) => {
                if refused(&e) {
                    self.ledger.lock().forget(&uid, &[]);
                    self.events.normal(
                        node_ref(&node),
                        CIDR_ASSIGNMENT_FAILED,
                        CIDR_ASSIGNMENT_FAILED,
                        format!("Node {name} status is now: {CIDR_ASSIGNMENT_FAILED}"),
                    );
                }
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NodeSpec;

    fn node(pod_cidr: Option<&str>, pod_cidrs: Option<&[&str]>) -> Node {
        Node {
            spec: Some(NodeSpec {
                pod_cidr: pod_cidr.map(str::to_string),
                pod_cidrs: pod_cidrs.map(|l| l.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_nodes_cidrs() {
        assert!(pod_cidrs(&Node::default()).is_empty());
        assert!(pod_cidrs(&node(Some(""), Some(&[]))).is_empty());
        assert_eq!(pod_cidrs(&node(Some("10.42.3.0/24"), None)), ["10.42.3.0/24"]);
        // podCIDRs wins, as upstream's conversion has it.
        assert_eq!(
            pod_cidrs(&node(Some("10.42.3.0/24"), Some(&["10.42.4.0/24", "fd00::/64"]))),
            ["10.42.4.0/24", "fd00::/64"]
        );
        let v4 = ipv4_cidrs(&node(None, Some(&["fd00::/64", "10.42.4.0/24", "junk"])));
        assert_eq!(v4, ["10.42.4.0/24".parse::<Ipv4Cidr>().unwrap()]);
    }

    #[test]
    fn the_patch_sets_both_fields() {
        let c: Ipv4Cidr = "10.42.1.0/24".parse().unwrap();
        assert_eq!(
            cidr_patch("u1", c),
            json!({"metadata": {"uid": "u1"},
                "spec": {"podCIDR": "10.42.1.0/24", "podCIDRs": ["10.42.1.0/24"]}})
        );
    }

    #[test]
    fn which_failures_give_the_cidr_back() {
        use kube::core::Status;
        let api = |code: u16| kube::Error::Api(Status::failure("x", "y").with_code(code).boxed());
        assert!(refused(&api(422)) && refused(&api(409)));
        assert!(!refused(&api(500)) && !refused(&api(504)));
    }
}
