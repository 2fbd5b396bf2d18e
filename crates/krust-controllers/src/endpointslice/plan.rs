//! Which EndpointSlices to create, update and delete so that a Service's slices hold the
//! desired endpoints, changing as few slices as possible, as upstream's reconciler does
//! (`staging/src/k8s.io/endpointslice/reconciler.go`):
//!
//! 1. slices of an address type the Service no longer has, or owned by another object
//!    (an old Service of the same name), go;
//! 2. per address type and port set: each existing slice keeps the desired endpoints it
//!    already holds (updated in place if they changed) and drops the others; a slice left
//!    empty goes;
//! 3. the endpoints not placed yet fill the slices being updated anyway (fullest first),
//!    then one unchanged slice they fit into whole (the fullest such), then new slices of
//!    at most `max` endpoints;
//! 4. a Service with no endpoints at all keeps one empty placeholder slice;
//! 5. a slice to create and one to delete of the same address type become an update of
//!    the latter (one write instead of two).
//!
//! Pure: the caller writes the plan. Shared with the mirroring controller.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::ObjectMeta;

/// Label naming the Service a slice belongs to.
pub const SERVICE_NAME: &str = "kubernetes.io/service-name";
/// Label naming the controller that manages a slice.
pub const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";

/// Endpoints sharing an address type and a port set.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// `IPv4`, `IPv6` or `FQDN`.
    pub address_type: String,
    /// The ports every endpoint of the group serves.
    pub ports: Vec<EndpointPort>,
    /// The endpoints, in a stable order.
    pub endpoints: Vec<Endpoint>,
}

/// What the slices look like apart from their endpoints and ports.
#[derive(Debug, Clone)]
pub struct Template {
    /// The Service's namespace.
    pub namespace: String,
    /// Name prefix of new slices (`<service>-`).
    pub generate_name: String,
    /// Exactly the labels every slice carries.
    pub labels: BTreeMap<String, String>,
    /// Exactly the annotations every slice carries, if the controller manages them all
    /// (`None`: annotations are left as they are).
    pub annotations: Option<BTreeMap<String, String>>,
    /// The controller reference to the owning Service.
    pub owner: OwnerReference,
}

/// The writes that bring the slices in line.
#[derive(Debug, Default)]
pub struct Plan {
    /// New slices (named by the API server from `generateName`).
    pub create: Vec<EndpointSlice>,
    /// Changed slices (carrying the resourceVersion they were read at).
    pub update: Vec<EndpointSlice>,
    /// Slices to delete.
    pub delete: Vec<Arc<EndpointSlice>>,
}

impl Plan {
    /// Whether nothing needs writing.
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// A port set as a sortable key (name, port, protocol, appProtocol of each port).
pub type PortKey = Vec<(String, i32, String, String)>;
/// Address type and port set: what endpoints sharing slices have in common.
pub type GroupKey = (String, PortKey);

/// The port set of a slice or group, order-independent.
pub fn port_key(ports: &[EndpointPort]) -> PortKey {
    let mut key: PortKey = ports
        .iter()
        .map(|p| {
            (
                p.name.clone().unwrap_or_default(),
                p.port.unwrap_or_default(),
                p.protocol.clone().unwrap_or_default(),
                p.app_protocol.clone().unwrap_or_default(),
            )
        })
        .collect();
    key.sort();
    key
}

/// An endpoint's identity: its addresses, hostname and target (what changes in place are
/// its conditions, node, zone and hints).
pub fn endpoint_key(e: &Endpoint) -> (Vec<String>, String, String, String) {
    let mut addresses = e.addresses.clone();
    addresses.sort();
    let (ns, name) = e
        .target_ref
        .as_ref()
        .map(|r| {
            (
                r.namespace.clone().unwrap_or_default(),
                r.name.clone().unwrap_or_default(),
            )
        })
        .unwrap_or_default();
    (addresses, e.hostname.clone().unwrap_or_default(), ns, name)
}

fn owned(slice: &EndpointSlice, owner: &OwnerReference) -> bool {
    slice
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == owner.uid)
}

/// Whether the slice's labels (and annotations, if managed) differ from the template's.
fn meta_differs(slice: &EndpointSlice, t: &Template) -> bool {
    let labels = slice.metadata.labels.clone().unwrap_or_default();
    if labels != t.labels {
        return true;
    }
    t.annotations
        .as_ref()
        .is_some_and(|want| slice.metadata.annotations.clone().unwrap_or_default() != *want)
}

fn stamped(mut slice: EndpointSlice, t: &Template) -> EndpointSlice {
    slice.metadata.labels = Some(t.labels.clone());
    if let Some(a) = &t.annotations {
        slice.metadata.annotations = Some(a.clone());
    }
    slice
}

fn new_slice(t: &Template, address_type: &str, ports: &[EndpointPort]) -> EndpointSlice {
    EndpointSlice {
        metadata: ObjectMeta {
            generate_name: Some(t.generate_name.clone()),
            namespace: Some(t.namespace.clone()),
            labels: Some(t.labels.clone()),
            annotations: t.annotations.clone(),
            owner_references: Some(vec![t.owner.clone()]),
            ..Default::default()
        },
        address_type: address_type.to_string(),
        endpoints: Vec::new(),
        ports: Some(ports.to_vec()),
    }
}

fn is_placeholder(slice: &EndpointSlice, t: &Template, address_type: &str) -> bool {
    slice.endpoints.is_empty()
        && slice.ports.as_ref().is_none_or(Vec::is_empty)
        && slice.address_type == address_type
        && owned(slice, &t.owner)
        && !meta_differs(slice, t)
}

/// The plan for one Service: `existing` are the slices this controller manages for it,
/// `groups` the desired endpoints, `address_types` those the Service has.
pub fn plan(
    existing: &[Arc<EndpointSlice>],
    groups: Vec<Group>,
    address_types: &[&str],
    t: &Template,
    max: usize,
) -> Plan {
    let max = max.max(1);
    let mut out = Plan::default();
    for address_type in address_types {
        let mine: Vec<&Arc<EndpointSlice>> = existing
            .iter()
            .filter(|s| s.address_type == *address_type)
            .collect();
        let wanted: Vec<&Group> = groups
            .iter()
            .filter(|g| g.address_type == *address_type)
            .collect();
        let part = by_address_type(&mine, &wanted, address_type, t, max);
        out.create.extend(part.create);
        out.update.extend(part.update);
        out.delete.extend(part.delete);
    }
    out.delete.extend(
        existing
            .iter()
            .filter(|s| !address_types.contains(&s.address_type.as_str()))
            .cloned(),
    );
    reuse_deleted(&mut out, t);
    out
}

fn by_address_type(
    existing: &[&Arc<EndpointSlice>],
    groups: &[&Group],
    address_type: &str,
    t: &Template,
    max: usize,
) -> Plan {
    let mut out = Plan::default();
    let mut by_ports: HashMap<PortKey, Vec<&Arc<EndpointSlice>>> = HashMap::new();
    for s in existing {
        if owned(s, &t.owner) {
            by_ports
                .entry(port_key(s.ports.as_deref().unwrap_or_default()))
                .or_default()
                .push(s);
        } else {
            out.delete.push((*s).clone());
        }
    }
    let mut desired_keys = Vec::new();
    for g in groups {
        let key = port_key(&g.ports);
        let slices = by_ports.get(&key).cloned().unwrap_or_default();
        desired_keys.push(key);
        let part = by_ports_group(&slices, g, t, max);
        out.create.extend(part.create);
        out.update.extend(part.update);
        out.delete.extend(part.delete);
    }
    for (key, slices) in &by_ports {
        if !desired_keys.contains(key) {
            out.delete.extend(slices.iter().map(|s| (*s).clone()));
        }
    }
    // A Service without endpoints keeps one empty placeholder slice.
    if existing.len() == out.delete.len() && out.create.is_empty() {
        match out.delete.as_slice() {
            [only] if is_placeholder(only, t, address_type) => out.delete.clear(),
            _ => out.create.push(new_slice(t, address_type, &[])),
        }
    }
    out
}

fn by_ports_group(existing: &[&Arc<EndpointSlice>], g: &Group, t: &Template, max: usize) -> Plan {
    let mut out = Plan::default();
    let mut remaining: Vec<Endpoint> = Vec::new();
    let mut index: HashMap<_, usize> = HashMap::new();
    for e in &g.endpoints {
        let k = endpoint_key(e);
        if let std::collections::hash_map::Entry::Vacant(v) = index.entry(k) {
            v.insert(remaining.len());
            remaining.push(e.clone());
        }
    }
    let mut taken = vec![false; remaining.len()];
    let mut updated: Vec<EndpointSlice> = Vec::new();
    let mut unchanged: Vec<&Arc<EndpointSlice>> = Vec::new();
    // 1. Keep what each slice already holds and is still desired.
    for s in existing {
        let mut kept = Vec::new();
        let mut changed = false;
        for e in &s.endpoints {
            if let Some(&i) = index.get(&endpoint_key(e))
                && !taken[i]
            {
                taken[i] = true;
                changed |= remaining[i] != *e;
                kept.push(remaining[i].clone());
            }
        }
        if changed || kept.len() != s.endpoints.len() {
            if kept.is_empty() {
                out.delete.push((*s).clone());
            } else {
                let mut n = stamped(EndpointSlice::clone(s), t);
                n.endpoints = kept;
                updated.push(n);
            }
        } else if meta_differs(s, t) {
            updated.push(stamped(EndpointSlice::clone(s), t));
        } else {
            unchanged.push(s);
        }
    }
    let mut left: std::collections::VecDeque<Endpoint> = remaining
        .into_iter()
        .zip(taken)
        .filter(|(_, t)| !t)
        .map(|(e, _)| e)
        .collect();
    // 2. Fill the slices being written anyway, fullest first.
    updated.sort_by_key(|s| std::cmp::Reverse(s.endpoints.len()));
    for s in &mut updated {
        while s.endpoints.len() < max {
            let Some(e) = left.pop_front() else { break };
            s.endpoints.push(e);
        }
    }
    // 3. One unchanged slice that takes the rest whole, else new slices.
    while !left.is_empty() {
        let fits = (left.len() < max)
            .then(|| {
                unchanged
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.endpoints.len() + left.len() <= max)
                    .max_by_key(|(_, s)| s.endpoints.len())
                    .map(|(i, _)| i)
            })
            .flatten();
        let mut slice = match fits {
            Some(i) => stamped(EndpointSlice::clone(unchanged.remove(i)), t),
            None => new_slice(t, &g.address_type, &g.ports),
        };
        while slice.endpoints.len() < max {
            let Some(e) = left.pop_front() else { break };
            slice.endpoints.push(e);
        }
        if slice.metadata.name.is_some() {
            updated.push(slice);
        } else {
            out.create.push(slice);
        }
    }
    out.update = updated;
    out
}

/// Turns pairs of a slice to create and one to delete (same address type, ours) into an
/// update of the latter.
fn reuse_deleted(plan: &mut Plan, t: &Template) {
    let mut i = 0;
    while i < plan.delete.len() && !plan.create.is_empty() {
        let old = &plan.delete[i];
        let Some(pos) = plan
            .create
            .iter()
            .rposition(|c| c.address_type == old.address_type && owned(old, &t.owner))
        else {
            i += 1;
            continue;
        };
        let mut new = plan.create.remove(pos);
        let old = plan.delete.remove(i);
        new.metadata = ObjectMeta {
            generate_name: None,
            ..old.metadata.clone()
        };
        new = stamped(new, t);
        plan.update.push(new);
    }
}

#[cfg(test)]
mod tests;
