//! A node's heartbeat Lease in `kube-node-lease`: named after the node, held by it, valid
//! for 40 s, renewed every heartbeat. The node lifecycle controller reads it to tell a
//! live node from a dead one without the cost of a node status write every 10 s.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::json;

use crate::clock::micro_time;

/// The namespace of node leases.
pub(crate) const NAMESPACE: &str = "kube-node-lease";
/// How long a lease holds without renewal (upstream's 40 s).
pub(crate) const DURATION_SECONDS: i32 = 40;

/// A new lease for `node`, owned by the Node (uid known) so it goes when the node does.
pub(crate) fn lease(node: &str, node_uid: Option<&str>, now: jiff::Timestamp) -> Lease {
    let owner = node_uid.map(|uid| OwnerReference {
        api_version: "v1".into(),
        kind: "Node".into(),
        name: node.into(),
        uid: uid.into(),
        ..Default::default()
    });
    Lease {
        metadata: ObjectMeta {
            name: Some(node.into()),
            namespace: Some(NAMESPACE.into()),
            owner_references: owner.map(|o| vec![o]),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(node.into()),
            lease_duration_seconds: Some(DURATION_SECONDS),
            renew_time: Some(micro_time(now)),
            ..Default::default()
        }),
    }
}

/// The merge patch that renews `node`'s lease (and takes it back if someone else wrote it).
pub(crate) fn renewal(node: &str, now: jiff::Timestamp) -> serde_json::Value {
    json!({"spec": {
        "holderIdentity": node,
        "leaseDurationSeconds": DURATION_SECONDS,
        "renewTime": micro_time(now),
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_and_renewal() {
        let now: jiff::Timestamp = "2025-01-01T00:00:00.1234567Z".parse().unwrap();
        let l = lease("sim-0", Some("u"), now);
        let spec = l.spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("sim-0"));
        assert_eq!(spec.lease_duration_seconds, Some(40));
        assert_eq!(l.metadata.owner_references.unwrap()[0].kind, "Node");
        let p = renewal("sim-0", now);
        assert_eq!(p["spec"]["renewTime"], "2025-01-01T00:00:00.123456Z");
        assert!(lease("sim-0", None, now).metadata.owner_references.is_none());
    }
}
