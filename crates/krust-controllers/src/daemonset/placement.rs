//! Which nodes a DaemonSet's pod belongs on, as upstream's `NodeShouldRunDaemonPod`: the
//! template's node name, node selector and required node affinity must match the node,
//! and every `NoSchedule`/`NoExecute` taint must be tolerated — counting the tolerations
//! every daemon pod gets (not-ready and unreachable `NoExecute`; disk, memory and pid
//! pressure and unschedulable `NoSchedule`; network-unavailable with host networking).
//! A pod whose node only gained an untolerated `NoSchedule` taint may stay.
//!
//! Pods are pinned to their node with required node affinity on `metadata.name`, so the
//! scheduler binds them (upstream's `ReplaceDaemonSetPodNodeNameNodeAffinity`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec,
    Taint, Toleration,
};

/// Whether a daemon pod should be created on a node, and whether an existing one may stay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fit {
    /// Create a pod there.
    pub should_run: bool,
    /// Keep a pod that is there.
    pub should_continue: bool,
}

const NO_FIT: Fit = Fit {
    should_run: false,
    should_continue: false,
};

/// The tolerations upstream adds to every daemon pod (`AddOrUpdateDaemonPodTolerations`).
pub(crate) fn daemon_tolerations(host_network: bool) -> Vec<Toleration> {
    let t = |key: &str, effect: &str| Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Default::default()
    };
    let mut v = vec![
        t("node.kubernetes.io/not-ready", "NoExecute"),
        t("node.kubernetes.io/unreachable", "NoExecute"),
        t("node.kubernetes.io/disk-pressure", "NoSchedule"),
        t("node.kubernetes.io/memory-pressure", "NoSchedule"),
        t("node.kubernetes.io/pid-pressure", "NoSchedule"),
        t("node.kubernetes.io/unschedulable", "NoSchedule"),
    ];
    if host_network {
        v.push(t("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    v
}

/// Adds the daemon tolerations a spec lacks (same key and effect counts as present).
pub(crate) fn add_daemon_tolerations(spec: &mut PodSpec) {
    let host_network = spec.host_network.unwrap_or(false);
    let list = spec.tolerations.get_or_insert_with(Vec::new);
    for t in daemon_tolerations(host_network) {
        if !list
            .iter()
            .any(|have| have.key == t.key && have.effect == t.effect)
        {
            list.push(t);
        }
    }
}

/// The affinity of a daemon pod for `node`: the template's, with the required node
/// affinity replaced by `metadata.name In [node]`.
pub(crate) fn pin_to_node(affinity: Option<Affinity>, node: &str) -> Affinity {
    let required = NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".into(),
                operator: "In".into(),
                values: Some(vec![node.into()]),
            }]),
            match_expressions: None,
        }],
    };
    let mut a = affinity.unwrap_or_default();
    a.node_affinity
        .get_or_insert_with(NodeAffinity::default)
        .required_during_scheduling_ignored_during_execution = Some(required);
    a
}

/// The node a daemon pod is on or pinned to.
pub(crate) fn target_node(pod: &Pod) -> Option<String> {
    let spec = pod.spec.as_ref()?;
    if let Some(n) = spec.node_name.as_ref().filter(|n| !n.is_empty()) {
        return Some(n.clone());
    }
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms
        .iter()
        .flat_map(|t| t.match_fields.iter().flatten())
        .find(|r| r.key == "metadata.name" && r.operator == "In")
        .and_then(|r| r.values.as_ref())
        .filter(|v| v.len() == 1)
        .map(|v| v[0].clone())
}

/// Upstream's `ToleratesTaint`.
fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    let effect = t.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = t.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match t.operator.as_deref().unwrap_or_default() {
        "Exists" => true,
        "" | "Equal" => t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default(),
        _ => false,
    }
}

fn untolerated(taints: &[Taint], tolerations: &[Toleration], effect: impl Fn(&str) -> bool) -> bool {
    taints
        .iter()
        .filter(|t| effect(&t.effect))
        .any(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
}

fn requirement_matches(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    let number = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(v), Some(bound)) = (value.and_then(number), values.first().and_then(|b| number(b)))
            else {
                return false;
            };
            if r.operator == "Gt" { v > bound } else { v < bound }
        }
        _ => false,
    }
}

/// Whether a node selector term matches a node (an empty term matches nothing).
fn term_matches(term: &NodeSelectorTerm, labels: &BTreeMap<String, String>, name: &str) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| requirement_matches(r, labels.get(&r.key).map(String::as_str)))
        && fields
            .iter()
            .all(|r| r.key == "metadata.name" && requirement_matches(r, Some(name)))
}

/// Whether the spec's node selector and required node affinity match the node.
fn affinity_matches(spec: &PodSpec, node: &Node) -> bool {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let empty = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref());
    selector_ok
        && required.is_none_or(|r| {
            r.node_selector_terms
                .iter()
                .any(|t| term_matches(t, labels, name))
        })
}

/// Whether a daemon pod from `template` belongs on `node`.
pub(crate) fn fit(template: &PodSpec, node: &Node) -> Fit {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    if template
        .node_name
        .as_deref()
        .is_some_and(|n| !n.is_empty() && n != name)
    {
        return NO_FIT;
    }
    if !affinity_matches(template, node) {
        return NO_FIT;
    }
    let mut spec = template.clone();
    add_daemon_tolerations(&mut spec);
    let tolerations = spec.tolerations.unwrap_or_default();
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    if untolerated(&taints, &tolerations, |e| e == "NoSchedule" || e == "NoExecute") {
        return Fit {
            should_run: false,
            should_continue: !untolerated(&taints, &tolerations, |e| e == "NoExecute"),
        };
    }
    Fit {
        should_run: true,
        should_continue: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NodeSpec;

    fn node(name: &str, labels: &[(&str, &str)], taints: &[(&str, &str)]) -> Node {
        let mut n = Node::default();
        n.metadata.name = Some(name.into());
        n.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        n.spec = Some(NodeSpec {
            taints: Some(
                taints
                    .iter()
                    .map(|(k, e)| Taint {
                        key: (*k).into(),
                        effect: (*e).into(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        });
        n
    }

    const YES: Fit = Fit {
        should_run: true,
        should_continue: true,
    };

    #[test]
    fn node_selector_and_affinity() {
        let mut spec = PodSpec::default();
        assert_eq!(fit(&spec, &node("a", &[], &[])), YES);
        spec.node_selector = Some([("disk".to_string(), "ssd".to_string())].into());
        assert_eq!(fit(&spec, &node("a", &[("disk", "ssd")], &[])), YES);
        assert_eq!(fit(&spec, &node("a", &[("disk", "hdd")], &[])), NO_FIT);
        spec.node_selector = None;
        spec.affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: "zone".into(),
                            operator: "NotIn".into(),
                            values: Some(vec!["b".into()]),
                        }]),
                        match_fields: None,
                    }],
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(fit(&spec, &node("a", &[("zone", "a")], &[])), YES);
        assert_eq!(fit(&spec, &node("a", &[("zone", "b")], &[])), NO_FIT);
        spec.affinity = None;
        spec.node_name = Some("other".into());
        assert_eq!(fit(&spec, &node("a", &[], &[])), NO_FIT);
    }

    #[test]
    fn taints_and_automatic_tolerations() {
        let spec = PodSpec::default();
        for (k, e) in [
            ("node.kubernetes.io/not-ready", "NoExecute"),
            ("node.kubernetes.io/unreachable", "NoExecute"),
            ("node.kubernetes.io/unschedulable", "NoSchedule"),
            ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ] {
            assert_eq!(fit(&spec, &node("a", &[], &[(k, e)])), YES, "{k}");
        }
        let net = node(
            "a",
            &[],
            &[("node.kubernetes.io/network-unavailable", "NoSchedule")],
        );
        assert!(!fit(&spec, &net).should_run);
        let host = PodSpec {
            host_network: Some(true),
            ..Default::default()
        };
        assert_eq!(fit(&host, &net), YES);
        let no_schedule = fit(&spec, &node("a", &[], &[("dedicated", "NoSchedule")]));
        assert_eq!(
            (no_schedule.should_run, no_schedule.should_continue),
            (false, true)
        );
        assert_eq!(fit(&spec, &node("a", &[], &[("dedicated", "NoExecute")])), NO_FIT);
        let tolerant = PodSpec {
            tolerations: Some(vec![Toleration {
                key: Some("dedicated".into()),
                operator: Some("Exists".into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        assert_eq!(
            fit(&tolerant, &node("a", &[], &[("dedicated", "NoExecute")])),
            YES
        );
        let mut s = PodSpec::default();
        add_daemon_tolerations(&mut s);
        add_daemon_tolerations(&mut s);
        assert_eq!(s.tolerations.map(|t| t.len()), Some(6));
    }

    #[test]
    fn pods_are_pinned_by_affinity() {
        let a = pin_to_node(None, "n1");
        let mut p = Pod {
            spec: Some(PodSpec {
                affinity: Some(a),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(target_node(&p).as_deref(), Some("n1"));
        if let Some(s) = p.spec.as_mut() {
            s.node_name = Some("n2".into());
        }
        assert_eq!(target_node(&p).as_deref(), Some("n2"));
    }
}
