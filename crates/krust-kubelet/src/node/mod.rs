//! The pool's nodes: their objects, leases and status, one heartbeat loop and one node
//! watch for all of them, and a few bytes of state per node.

pub(crate) mod conditions;
pub(crate) mod heartbeat;
pub(crate) mod lease;
pub(crate) mod object;
pub(crate) mod spread;
pub(crate) mod table;
pub(crate) mod watch;
pub(crate) use object::{KUBELET_VERSION, arch};
