//! The slice planner: splitting, minimal churn, placeholders, ownership.

use super::*;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::discovery::v1::EndpointConditions;

fn template() -> Template {
    Template {
        namespace: "default".into(),
        generate_name: "web-".into(),
        labels: BTreeMap::from([
            (SERVICE_NAME.to_string(), "web".to_string()),
            (
                MANAGED_BY.to_string(),
                "endpointslice-controller.k8s.io".to_string(),
            ),
        ]),
        annotations: None,
        owner: OwnerReference {
            api_version: "v1".into(),
            kind: "Service".into(),
            name: "web".into(),
            uid: "svc-uid".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        },
    }
}

fn ep(i: usize, ready: bool) -> Endpoint {
    Endpoint {
        addresses: vec![format!("10.42.0.{i}")],
        conditions: Some(EndpointConditions {
            ready: Some(ready),
            serving: Some(ready),
            terminating: Some(false),
        }),
        target_ref: Some(ObjectReference {
            kind: Some("Pod".into()),
            namespace: Some("default".into()),
            name: Some(format!("p{i}")),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn http() -> Vec<EndpointPort> {
    vec![EndpointPort {
        name: Some("http".into()),
        port: Some(8080),
        protocol: Some("TCP".into()),
        app_protocol: None,
    }]
}

fn group(range: std::ops::Range<usize>) -> Group {
    Group {
        address_type: "IPv4".into(),
        ports: http(),
        endpoints: range.map(|i| ep(i, true)).collect(),
    }
}

/// A stored slice named `name` holding endpoints `range`.
fn stored(name: &str, range: std::ops::Range<usize>) -> Arc<EndpointSlice> {
    let t = template();
    let mut s = new_slice(&t, "IPv4", &http());
    s.metadata.name = Some(name.into());
    s.metadata.generate_name = None;
    s.metadata.resource_version = Some("1".into());
    s.endpoints = range.map(|i| ep(i, true)).collect();
    Arc::new(s)
}

fn sizes(slices: &[EndpointSlice]) -> Vec<usize> {
    slices.iter().map(|s| s.endpoints.len()).collect()
}

#[test]
fn new_services_get_slices_of_at_most_max_endpoints() {
    let p = plan(&[], vec![group(0..250)], &["IPv4"], &template(), 100);
    assert_eq!(sizes(&p.create), [100, 100, 50]);
    assert!(p.update.is_empty() && p.delete.is_empty());
    let s = &p.create[0];
    assert_eq!(s.metadata.generate_name.as_deref(), Some("web-"));
    assert_eq!(
        s.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(SERVICE_NAME))
            .map(String::as_str),
        Some("web")
    );
    assert_eq!(
        s.metadata.owner_references.as_ref().map(|o| o[0].uid.as_str()),
        Some("svc-uid")
    );
    assert_eq!(s.ports, Some(http()));
}

#[test]
fn an_unchanged_service_needs_no_writes() {
    let existing = vec![stored("web-a", 0..100), stored("web-b", 100..150)];
    let p = plan(&existing, vec![group(0..150)], &["IPv4"], &template(), 100);
    assert!(p.is_empty(), "{p:?}");
}

#[test]
fn one_changed_endpoint_touches_one_slice() {
    let existing = vec![stored("web-a", 0..100), stored("web-b", 100..150)];
    let mut g = group(0..150);
    g.endpoints[120] = ep(120, false);
    let p = plan(&existing, vec![g], &["IPv4"], &template(), 100);
    assert!(p.create.is_empty() && p.delete.is_empty());
    assert_eq!(p.update.len(), 1);
    assert_eq!(p.update[0].metadata.name.as_deref(), Some("web-b"));
    assert_eq!(
        p.update[0].metadata.resource_version.as_deref(),
        Some("1"),
        "guarded by its version"
    );
}

#[test]
fn new_endpoints_go_into_a_slice_being_updated_or_one_they_fit_in() {
    // A removal in web-b makes room; the new endpoint joins it instead of a new slice.
    let existing = vec![stored("web-a", 0..100), stored("web-b", 100..150)];
    let mut g = group(0..150);
    g.endpoints.remove(110);
    g.endpoints.push(ep(200, true));
    let p = plan(&existing, vec![g], &["IPv4"], &template(), 100);
    assert_eq!(p.update.len(), 1);
    assert_eq!(p.update[0].metadata.name.as_deref(), Some("web-b"));
    assert_eq!(p.update[0].endpoints.len(), 50);
    assert!(p.create.is_empty());

    // Only additions: the unchanged slice with room takes them whole.
    let g = group(0..160);
    let p = plan(&existing, vec![g], &["IPv4"], &template(), 100);
    assert_eq!(p.update.len(), 1);
    assert_eq!(p.update[0].metadata.name.as_deref(), Some("web-b"));
    assert_eq!(p.update[0].endpoints.len(), 60);
    assert!(p.create.is_empty());
}

#[test]
fn emptied_slices_go_and_are_reused_for_new_ones() {
    let existing = vec![stored("web-a", 0..100), stored("web-b", 100..150)];
    // Everything in web-b is gone, and 120 new endpoints arrive: web-b is rewritten
    // with 100 of them rather than deleted and replaced, one new slice takes the rest.
    let mut g = group(0..100);
    g.endpoints.extend((300..420).map(|i| ep(i, true)));
    let p = plan(&existing, vec![g], &["IPv4"], &template(), 100);
    assert!(p.delete.is_empty(), "{:?}", p.delete);
    assert_eq!(p.create.len(), 1);
    assert_eq!(p.update.len(), 1);
    assert_eq!(p.update[0].metadata.name.as_deref(), Some("web-b"));
    let total: usize = p.create.iter().chain(&p.update).map(|s| s.endpoints.len()).sum();
    assert_eq!(total, 120);
}

#[test]
fn no_endpoints_means_one_placeholder() {
    let p = plan(&[], Vec::new(), &["IPv4"], &template(), 100);
    assert_eq!(p.create.len(), 1);
    assert!(p.create[0].endpoints.is_empty());
    assert_eq!(p.create[0].ports.as_deref(), Some(&[][..]));

    // The last endpoints leaving: the slice becomes the placeholder (an update).
    let existing = vec![stored("web-a", 0..3)];
    let p = plan(&existing, Vec::new(), &["IPv4"], &template(), 100);
    assert!(p.delete.is_empty() && p.create.is_empty());
    assert_eq!(p.update.len(), 1);
    assert!(p.update[0].endpoints.is_empty());

    // An existing placeholder stays as it is.
    let mut ph = new_slice(&template(), "IPv4", &[]);
    ph.metadata.name = Some("web-x".into());
    let p = plan(&[Arc::new(ph)], Vec::new(), &["IPv4"], &template(), 100);
    assert!(p.is_empty(), "{p:?}");
}

#[test]
fn slices_of_others_or_of_dropped_families_go() {
    let mut foreign = EndpointSlice::clone(&stored("web-old", 0..2));
    if let Some(o) = foreign.metadata.owner_references.as_mut() {
        o[0].uid = "old-svc-uid".into();
    }
    let mut v6 = EndpointSlice::clone(&stored("web-v6", 0..0));
    v6.address_type = "IPv6".into();
    let existing = vec![Arc::new(foreign), Arc::new(v6), stored("web-a", 0..2)];
    let p = plan(&existing, vec![group(0..2)], &["IPv4"], &template(), 100);
    let mut deleted: Vec<_> = p.delete.iter().filter_map(|s| s.metadata.name.clone()).collect();
    deleted.sort();
    assert_eq!(deleted, ["web-old", "web-v6"]);
    assert!(p.create.is_empty() && p.update.is_empty());
}

#[test]
fn label_changes_rewrite_slices() {
    let existing = vec![stored("web-a", 0..2)];
    let mut t = template();
    t.labels.insert("team".into(), "a".into());
    let p = plan(&existing, vec![group(0..2)], &["IPv4"], &t, 100);
    assert_eq!(p.update.len(), 1);
    assert_eq!(
        p.update[0]
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("team"))
            .map(String::as_str),
        Some("a")
    );
}

#[test]
fn endpoints_with_other_ports_get_their_own_slices() {
    let mut other = group(10..12);
    other.ports[0].port = Some(9090);
    let p = plan(&[], vec![group(0..3), other], &["IPv4"], &template(), 100);
    assert_eq!(sizes(&p.create), [3, 2]);
    assert_ne!(p.create[0].ports, p.create[1].ports);
}
