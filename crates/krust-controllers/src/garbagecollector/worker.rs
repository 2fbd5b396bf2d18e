//! Workers: take a uid from the queue, look at the object as the graph knows it, verify
//! what matters with the API server, and act (delete, orphan, remove a finalizer, drop
//! ownerReferences). Every write carries the object's uid and resourceVersion as
//! preconditions, so a decision made on stale knowledge fails and is retried instead of
//! hitting the wrong object.

use std::sync::Arc;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::{
    Api,
    api::{
        DeleteParams, DynamicObject, PartialObjectMeta, Patch, PatchParams, Preconditions, PropagationPolicy,
    },
    runtime::events::{Event, EventType},
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::decide::{self, DependentFacts, ForegroundPlan, Lookup, OwnerState, Plan, Propagation};
use super::graph::{FOREGROUND, Node, ORPHAN, OwnerRef, Uid};
use super::{Error, Shared};
use crate::apierror;
use crate::discovery::Served;

/// Works on queued uids until stopped.
pub async fn run(shared: Arc<Shared>, stop: CancellationToken) {
    loop {
        let uid = tokio::select! {
            _ = stop.cancelled() => return,
            k = shared.queue.get() => match k {
                Some(k) => k,
                None => return,
            },
        };
        match attempt(&shared, &uid).await {
            Ok(()) => shared.queue.forget(&uid),
            Err(e) => {
                tracing::debug!(uid = %uid, error = %e, "garbage collector: will retry");
                shared.queue.add_rate_limited(uid.clone());
            }
        }
        shared.queue.done(&uid);
    }
}

type Meta = PartialObjectMeta<DynamicObject>;

fn api(shared: &Shared, served: &Served, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace {
        Some(ns) if served.namespaced => Api::namespaced_with(shared.client.clone(), ns, &served.resource),
        _ => Api::all_with(shared.client.clone(), &served.resource),
    }
}

fn has_finalizer(m: &Meta, f: &str) -> bool {
    m.metadata.finalizers.iter().flatten().any(|x| x == f)
}

/// Looks at one object.
async fn attempt(shared: &Shared, uid: &str) -> Result<(), Error> {
    let Some(node) = shared.graph.lock().get(uid).cloned() else {
        return Ok(());
    };
    if node.orphaning() {
        return orphan_dependents(shared, &node).await;
    }
    if node.deleting_dependents() {
        let plan = {
            let g = shared.graph.lock();
            decide::plan_foreground(&node.uid, &g.dependents(&node.uid))
        };
        return match plan {
            ForegroundPlan::RemoveFinalizer => remove_finalizer(shared, &node, FOREGROUND).await,
            ForegroundPlan::Wait(uids) => {
                shared.enqueue(uids);
                Ok(())
            }
        };
    }
    if node.being_deleted || node.owners.is_empty() {
        return Ok(());
    }
    // Every owner present, valid and not waiting, as far as the graph knows: nothing to
    // do and no need to ask the API server (a later change of an owner brings it back).
    let settled = {
        let g = shared.graph.lock();
        node.owners.iter().all(|o| {
            decide::lookup(g.get(&o.uid), o, node.namespace.as_deref()) == Lookup::Known(OwnerState::Solid)
        })
    };
    if settled {
        return Ok(());
    }
    collect(shared, &node).await
}

/// Reads the live object of a node; `None` (and the graph told) when it is gone.
async fn live(shared: &Shared, node: &Node) -> Result<Option<Meta>, Error> {
    let found = api(shared, &node.served, node.namespace.as_deref())
        .get_metadata_opt(&node.name)
        .await?;
    match found {
        Some(m) if m.metadata.uid.as_deref() == Some(node.uid.as_str()) => Ok(Some(m)),
        _ => {
            // Deleted (maybe recreated under the same name: another object) before the
            // watch said so.
            let out = shared.graph.lock().remove(&node.uid);
            shared.enqueue(out);
            Ok(None)
        }
    }
}

/// Decides about a dependent and acts. The decision is first made on what the graph
/// knows; a delete carries the resourceVersion the graph saw, so it fails (and is retried)
/// if the object changed meanwhile. Edits of ownerReferences read the object first.
async fn collect(shared: &Shared, node: &Node) -> Result<(), Error> {
    let Some(states) = classify(shared, node, &node.owners).await? else {
        return Ok(());
    };
    let api = api(shared, &node.served, node.namespace.as_deref());
    match decide::plan_dependent(&states, facts(shared, node, node.orphan, node.foreground)) {
        Plan::Keep => return Ok(()),
        Plan::Delete(p) => return delete(shared, &api, node, node.resource_version.clone(), p).await,
        Plan::DeleteForeground { unblock_first: false } => {
            return delete(
                shared,
                &api,
                node,
                node.resource_version.clone(),
                Propagation::Foreground,
            )
            .await;
        }
        Plan::RemoveRefs(_) | Plan::DeleteForeground { unblock_first: true } => {}
    }
    let Some(live) = live(shared, node).await? else {
        return Ok(());
    };
    if live.metadata.deletion_timestamp.is_some() {
        return Ok(());
    }
    let refs = live.metadata.owner_references.clone().unwrap_or_default();
    let orefs: Vec<OwnerRef> = refs.iter().map(owner_ref).collect();
    let Some(states) = classify(shared, node, &orefs).await? else {
        return Ok(());
    };
    let facts = facts(
        shared,
        node,
        has_finalizer(&live, ORPHAN),
        has_finalizer(&live, FOREGROUND),
    );
    let rv = live.metadata.resource_version.clone();
    match decide::plan_dependent(&states, facts) {
        Plan::Keep => Ok(()),
        Plan::RemoveRefs(uids) => {
            tracing::debug!(name = %node.name, owners = ?uids, "garbage collector: removing references to absent or waiting owners");
            patch_refs(&api, &node.name, rv, &decide::without_refs(&refs, &uids)).await?;
            Ok(())
        }
        Plan::DeleteForeground { unblock_first } => {
            let mut rv = rv;
            if unblock_first {
                rv = patch_refs(&api, &node.name, rv, &decide::unblocked(&refs)).await?;
            }
            delete(shared, &api, node, rv, Propagation::Foreground).await
        }
        Plan::Delete(p) => delete(shared, &api, node, rv, p).await,
    }
}

/// The state of each owner reference (graph first, then the API server); `None` when the
/// object can never be collected (a cluster-scoped object naming a namespaced kind).
async fn classify(
    shared: &Shared,
    node: &Node,
    refs: &[OwnerRef],
) -> Result<Option<Vec<(Uid, OwnerState)>>, Error> {
    let mut states = Vec::with_capacity(refs.len());
    for r in refs {
        let owner = shared
            .mapper
            .read()
            .resolve(&r.api_version, &r.kind)
            .ok_or_else(|| Error::UnknownKind {
                api_version: r.api_version.clone(),
                kind: r.kind.clone(),
            })?;
        if owner.namespaced && !node.served.namespaced {
            // Never valid, and retrying will not make it so.
            report(
                shared,
                node,
                r,
                "a cluster-scoped object cannot have a namespaced owner",
            )
            .await;
            return Ok(None);
        }
        let looked = {
            let g = shared.graph.lock();
            decide::lookup(g.get(&r.uid), r, node.namespace.as_deref())
        };
        let state = match looked {
            Lookup::Known(s) => s,
            Lookup::InvalidNamespace => {
                let ns = node.namespace.clone().unwrap_or_default();
                report(shared, node, r, &format!("does not exist in namespace {ns:?}")).await;
                OwnerState::Dangling
            }
            Lookup::Ask => ask(shared, &owner, r, node.namespace.as_deref()).await?,
        };
        states.push((r.uid.clone(), state));
    }
    Ok(Some(states))
}

/// What the plan needs to know about the dependent itself.
fn facts(shared: &Shared, node: &Node, orphan: bool, foreground: bool) -> DependentFacts {
    let g = shared.graph.lock();
    let deps = g.dependents(&node.uid);
    DependentFacts {
        has_dependents: !deps.is_empty(),
        dependent_waits: deps.iter().any(|d| d.deleting_dependents()),
        orphan,
        foreground,
    }
}

fn owner_ref(r: &OwnerReference) -> OwnerRef {
    OwnerRef {
        api_version: r.api_version.clone(),
        kind: r.kind.clone(),
        name: r.name.clone(),
        uid: r.uid.clone(),
        block: r.block_owner_deletion == Some(true),
    }
}

/// Asks the API server whether an owner exists (by its coordinates, then by uid).
async fn ask(shared: &Shared, owner: &Served, r: &OwnerRef, ns: Option<&str>) -> Result<OwnerState, Error> {
    let ns = if owner.namespaced {
        ns.map(str::to_string)
    } else {
        None
    };
    let key = (r.uid.clone(), ns.clone());
    if shared.absent.lock().contains(&key) {
        return Ok(OwnerState::Dangling);
    }
    let found = api(shared, owner, ns.as_deref())
        .get_metadata_opt(&r.name)
        .await?;
    Ok(match found {
        Some(m) if m.metadata.uid.as_deref() == Some(r.uid.as_str()) => decide::live_state(
            true,
            m.metadata.deletion_timestamp.is_some(),
            has_finalizer(&m, FOREGROUND),
        ),
        _ => {
            shared.absent.lock().insert(key);
            OwnerState::Dangling
        }
    })
}

/// Deletes a node's object with preconditions.
async fn delete(
    shared: &Shared,
    api: &Api<DynamicObject>,
    node: &Node,
    rv: Option<String>,
    p: Propagation,
) -> Result<(), Error> {
    tracing::debug!(name = %node.name, kind = %node.served.resource.kind, propagation = ?p, "garbage collector: deleting");
    let params = DeleteParams {
        propagation_policy: Some(match p {
            Propagation::Background => PropagationPolicy::Background,
            Propagation::Foreground => PropagationPolicy::Foreground,
            Propagation::Orphan => PropagationPolicy::Orphan,
        }),
        preconditions: Some(Preconditions {
            uid: Some(node.uid.clone()),
            resource_version: rv,
        }),
        ..Default::default()
    };
    match api.delete(&node.name, &params).await {
        Ok(_) => Ok(()),
        Err(e) if apierror::is_not_found(&e) => {
            let out = shared.graph.lock().remove(&node.uid);
            shared.enqueue(out);
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Replaces an object's ownerReferences (guarded by its resourceVersion); returns the new
/// resourceVersion.
async fn patch_refs(
    api: &Api<DynamicObject>,
    name: &str,
    rv: Option<String>,
    refs: &[OwnerReference],
) -> Result<Option<String>, Error> {
    let refs = if refs.is_empty() { json!(null) } else { json!(refs) };
    let body = json!({"metadata": {"resourceVersion": rv, "ownerReferences": refs}});
    match api
        .patch(name, &PatchParams::default(), &Patch::Merge(&body))
        .await
    {
        Ok(o) => Ok(o.metadata.resource_version),
        Err(e) if apierror::is_not_found(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Removes a finalizer from a node's object.
async fn remove_finalizer(shared: &Shared, node: &Node, finalizer: &str) -> Result<(), Error> {
    let Some(live) = live(shared, node).await? else {
        return Ok(());
    };
    if !has_finalizer(&live, finalizer) {
        return Ok(());
    }
    let rest: Vec<&String> = live
        .metadata
        .finalizers
        .iter()
        .flatten()
        .filter(|f| *f != finalizer)
        .collect();
    let rest = if rest.is_empty() { json!(null) } else { json!(rest) };
    let body = json!({"metadata": {"resourceVersion": live.metadata.resource_version, "finalizers": rest}});
    tracing::debug!(name = %node.name, finalizer, "garbage collector: removing finalizer");
    let api = api(shared, &node.served, node.namespace.as_deref());
    match api
        .patch(&node.name, &PatchParams::default(), &Patch::Merge(&body))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if apierror::is_not_found(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Removes an owner from its dependents' ownerReferences, then its `orphan` finalizer.
async fn orphan_dependents(shared: &Shared, owner: &Node) -> Result<(), Error> {
    let dependents: Vec<Node> = shared
        .graph
        .lock()
        .dependents(&owner.uid)
        .into_iter()
        .cloned()
        .collect();
    let mut failed = None;
    for d in dependents {
        let result = async {
            let Some(live) = live(shared, &d).await? else {
                return Ok(());
            };
            let refs = live.metadata.owner_references.clone().unwrap_or_default();
            if !refs.iter().any(|r| r.uid == owner.uid) {
                return Ok(());
            }
            let api = api(shared, &d.served, d.namespace.as_deref());
            let rest = decide::without_refs(&refs, std::slice::from_ref(&owner.uid));
            patch_refs(&api, &d.name, live.metadata.resource_version.clone(), &rest).await?;
            Ok::<(), Error>(())
        }
        .await;
        if let Err(e) = result {
            failed = Some(e);
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    remove_finalizer(shared, owner, ORPHAN).await
}

/// Records a Warning event on a dependent with an invalid owner reference.
async fn report(shared: &Shared, node: &Node, r: &OwnerRef, what: &str) {
    let ns = node.namespace.clone().unwrap_or_default();
    let note = format!(
        "ownerRef [{}/{}, namespace: {ns}, name: {}, uid: {}] {what}",
        r.api_version, r.kind, r.name, r.uid
    );
    tracing::info!(name = %node.name, namespace = %ns, "garbage collector: invalid owner reference: {note}");
    let reference = ObjectReference {
        api_version: Some(node.served.resource.api_version.clone()),
        kind: Some(node.served.resource.kind.clone()),
        name: Some(node.name.clone()),
        namespace: node.namespace.clone(),
        uid: Some(node.uid.clone()),
        ..Default::default()
    };
    let event = Event {
        type_: EventType::Warning,
        reason: "OwnerRefInvalidNamespace".into(),
        note: Some(note),
        action: "GarbageCollect".into(),
        secondary: None,
    };
    if let Err(e) = shared.recorder.publish(&event, &reference).await {
        tracing::debug!(error = %e, "garbage collector: cannot record event");
    }
}
