//! Node lifecycle, taint eviction, endpoints, endpoint slices, mirroring and disruption
//! budgets end to end: the real `krust server` and kubectl, simulated nodes, and the
//! controllers checked the way upstream's conformance tests check them (a silent node turns
//! Unknown and is tainted, its pods evicted after their toleration, a node coming back
//! loses the taint; Services list their ready pods; budgets block `kubectl drain`).
//!
//! No timing is asserted: every wait is a generous wait-until.

#![allow(clippy::unwrap_used)]

mod budgets;
mod nodes;
mod services;
mod support;
