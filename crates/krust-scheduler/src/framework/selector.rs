//! Label selectors (pods, namespaces, PDBs) and node selectors (node affinity), compiled
//! once per pod so that filtering thousands of nodes only compares strings.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Labels of an object.
pub type Labels = BTreeMap<String, String>;

/// An empty label map, for objects without labels.
pub static NO_LABELS: Labels = BTreeMap::new();

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
}

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    op: Op,
}

impl Requirement {
    /// `key` equals `value`.
    pub fn equals(key: &str, value: &str) -> Self {
        Self {
            key: key.into(),
            op: Op::In(vec![value.into()]),
        }
    }

    /// `key` is not `value` (or absent).
    pub fn not_equals(key: &str, value: &str) -> Self {
        Self {
            key: key.into(),
            op: Op::NotIn(vec![value.into()]),
        }
    }

    fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.key);
        match &self.op {
            Op::In(values) => v.is_some_and(|v| values.iter().any(|x| x == v)),
            Op::NotIn(values) => v.is_none_or(|v| !values.iter().any(|x| x == v)),
            Op::Exists => v.is_some(),
            Op::DoesNotExist => v.is_none(),
        }
    }
}

/// A compiled label selector. A missing selector selects nothing; an empty one everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Selects no object.
    Nothing,
    /// All requirements must hold (none: selects everything).
    All(Vec<Requirement>),
}

impl Selector {
    /// Compiles `sel` the way upstream's `LabelSelectorAsSelector` does: `None` selects
    /// nothing, `{}` everything; an unknown operator makes the selector select nothing.
    pub fn from_label_selector(sel: Option<&LabelSelector>) -> Selector {
        let Some(sel) = sel else { return Selector::Nothing };
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push(Requirement::equals(k, v));
        }
        for e in sel.match_expressions.iter().flatten() {
            let values = e.values.clone().unwrap_or_default();
            let op = match e.operator.as_str() {
                "In" => Op::In(values),
                "NotIn" => Op::NotIn(values),
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::DoesNotExist,
                _ => return Selector::Nothing,
            };
            reqs.push(Requirement {
                key: e.key.clone(),
                op,
            });
        }
        Selector::All(reqs)
    }

    /// A selector requiring every `key=value` of `set`.
    pub fn from_set(set: &Labels) -> Selector {
        Selector::All(set.iter().map(|(k, v)| Requirement::equals(k, v)).collect())
    }

    /// Adds a requirement (no effect on `Nothing`).
    pub fn push(&mut self, r: Requirement) {
        if let Selector::All(reqs) = self {
            reqs.push(r);
        }
    }

    /// Whether the selector selects every object.
    pub fn is_everything(&self) -> bool {
        matches!(self, Selector::All(r) if r.is_empty())
    }

    /// Whether the selector selects nothing or everything (upstream's `Empty()` is true for
    /// a selector without requirements; `Nothing` selects nothing either way).
    pub fn is_empty(&self) -> bool {
        match self {
            Selector::Nothing => true,
            Selector::All(r) => r.is_empty(),
        }
    }

    /// Whether `labels` are selected.
    pub fn matches(&self, labels: &Labels) -> bool {
        match self {
            Selector::Nothing => false,
            Selector::All(reqs) => reqs.iter().all(|r| r.matches(labels)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NodeOp {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
    Gt(i64),
    Lt(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct NodeReq {
    key: String,
    op: NodeOp,
}

impl NodeReq {
    fn parse(r: &NodeSelectorRequirement) -> Option<Self> {
        let values = r.values.clone().unwrap_or_default();
        let number = || {
            values
                .first()
                .and_then(|v| v.parse::<i64>().ok())
                .filter(|_| values.len() == 1)
        };
        let op = match r.operator.as_str() {
            "In" if !values.is_empty() => NodeOp::In(values),
            "NotIn" if !values.is_empty() => NodeOp::NotIn(values),
            "Exists" if values.is_empty() => NodeOp::Exists,
            "DoesNotExist" if values.is_empty() => NodeOp::DoesNotExist,
            "Gt" => NodeOp::Gt(number()?),
            "Lt" => NodeOp::Lt(number()?),
            _ => return None,
        };
        Some(Self {
            key: r.key.clone(),
            op,
        })
    }

    fn matches(&self, v: Option<&str>) -> bool {
        match &self.op {
            NodeOp::In(values) => v.is_some_and(|v| values.iter().any(|x| x == v)),
            NodeOp::NotIn(values) => v.is_none_or(|v| !values.iter().any(|x| x == v)),
            NodeOp::Exists => v.is_some(),
            NodeOp::DoesNotExist => v.is_none(),
            NodeOp::Gt(n) => v.and_then(|v| v.parse::<i64>().ok()).is_some_and(|x| x > *n),
            NodeOp::Lt(n) => v.and_then(|v| v.parse::<i64>().ok()).is_some_and(|x| x < *n),
        }
    }
}

/// One compiled `NodeSelectorTerm`: all label expressions and field expressions must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeTerm {
    exprs: Vec<NodeReq>,
    fields: Vec<NodeReq>,
}

impl NodeTerm {
    /// Compiles a term; `None` when it is empty or invalid (upstream ignores such terms:
    /// they match no node).
    pub fn parse(t: &NodeSelectorTerm) -> Option<Self> {
        let exprs: Option<Vec<NodeReq>> = t.match_expressions.iter().flatten().map(NodeReq::parse).collect();
        let fields: Option<Vec<NodeReq>> = t
            .match_fields
            .iter()
            .flatten()
            .map(|r| {
                // Only `metadata.name` with In/NotIn is a valid field requirement.
                if r.key != "metadata.name" {
                    return None;
                }
                NodeReq::parse(r).filter(|q| matches!(q.op, NodeOp::In(_) | NodeOp::NotIn(_)))
            })
            .collect();
        let (exprs, fields) = (exprs?, fields?);
        if exprs.is_empty() && fields.is_empty() {
            return None;
        }
        Some(Self { exprs, fields })
    }

    /// Whether a node with `labels` and `name` satisfies the term.
    pub fn matches(&self, labels: &Labels, name: &str) -> bool {
        self.exprs
            .iter()
            .all(|r| r.matches(labels.get(&r.key).map(String::as_str)))
            && self.fields.iter().all(|r| r.matches(Some(name)))
    }
}

/// Terms of a `NodeSelector`: a node matches when any term does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeTerms(Vec<NodeTerm>);

impl NodeTerms {
    /// Compiles terms (invalid or empty ones are dropped, as upstream does).
    pub fn parse(terms: &[NodeSelectorTerm]) -> Self {
        NodeTerms(terms.iter().filter_map(NodeTerm::parse).collect())
    }

    /// Whether any term matches.
    pub fn matches(&self, labels: &Labels, name: &str) -> bool {
        self.0.iter().any(|t| t.matches(labels, name))
    }
}

/// A pod's hard node constraints: `spec.nodeSelector` and the required node affinity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequiredNodeAffinity {
    selector: Option<Labels>,
    terms: Option<NodeTerms>,
}

impl RequiredNodeAffinity {
    /// From a pod's node selector and required node-affinity terms.
    pub fn new(selector: Option<&Labels>, terms: Option<&[NodeSelectorTerm]>) -> Self {
        Self {
            selector: selector.filter(|s| !s.is_empty()).cloned(),
            terms: terms.map(NodeTerms::parse),
        }
    }

    /// Whether the pod has any hard node constraint.
    pub fn is_empty(&self) -> bool {
        self.selector.is_none() && self.terms.is_none()
    }

    /// Whether a node with `labels` and `name` satisfies both parts.
    pub fn matches(&self, labels: &Labels, name: &str) -> bool {
        if let Some(sel) = &self.selector
            && !sel.iter().all(|(k, v)| labels.get(k) == Some(v))
        {
            return false;
        }
        match &self.terms {
            Some(t) => t.matches(labels, name),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn label_selectors() {
        assert!(!Selector::from_label_selector(None).matches(&labels(&[])));
        assert!(
            Selector::from_label_selector(Some(&LabelSelector::default())).matches(&labels(&[("a", "b")]))
        );
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "NotIn".into(),
                values: Some(vec!["db".into()]),
            }]),
        };
        let s = Selector::from_label_selector(Some(&sel));
        assert!(s.matches(&labels(&[("app", "web")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!s.matches(&labels(&[("app", "api")])));
    }

    #[test]
    fn node_terms() {
        let term = NodeSelectorTerm {
            match_expressions: Some(vec![req("zone", "In", &["a", "b"]), req("cores", "Gt", &["4"])]),
            match_fields: None,
        };
        let t = NodeTerms::parse(&[term]);
        assert!(t.matches(&labels(&[("zone", "a"), ("cores", "8")]), "n"));
        assert!(!t.matches(&labels(&[("zone", "a"), ("cores", "4")]), "n"));
        assert!(!t.matches(&labels(&[("zone", "c"), ("cores", "8")]), "n"));
        let fields = NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(vec![req("metadata.name", "In", &["n1"])]),
        };
        let t = NodeTerms::parse(&[fields]);
        assert!(t.matches(&labels(&[]), "n1"));
        assert!(!t.matches(&labels(&[]), "n2"));
        // An empty term matches nothing.
        assert!(!NodeTerms::parse(&[NodeSelectorTerm::default()]).matches(&labels(&[]), "n1"));
    }

    #[test]
    fn required_affinity_combines_selector_and_terms() {
        let sel = labels(&[("disk", "ssd")]);
        let a = RequiredNodeAffinity::new(Some(&sel), None);
        assert!(a.matches(&labels(&[("disk", "ssd")]), "n"));
        assert!(!a.matches(&labels(&[("disk", "hdd")]), "n"));
        assert!(RequiredNodeAffinity::new(None, None).matches(&labels(&[]), "n"));
    }
}
