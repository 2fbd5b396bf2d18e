//! Field sets: which fields of an object a manager owns, as a trie of path elements.
//!
//! A node has *members* (path elements that are themselves in the set: a leaf field, a list
//! item, a map entry) and *children* (path elements below which some paths are in the
//! set). An element can be both: `{".": {}, "f:name": {}}` in FieldsV1 is a list item that
//! is owned as a whole and whose `name` is owned too. Children are never empty.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::path::{Path, PathElement};

/// A set of field paths (upstream's `fieldpath.Set`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    members: BTreeSet<PathElement>,
    children: BTreeMap<PathElement, FieldSet>,
}

/// Deepest FieldsV1 document decoded; deeper ones are refused rather than recursed into.
const MAX_DEPTH: usize = 256;

impl FieldSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when no path is in the set.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds a path (the empty path is ignored, as upstream does).
    pub fn insert(&mut self, path: &[PathElement]) {
        match path {
            [] => {}
            [last] => {
                if !self.members.contains(last) {
                    self.members.insert(last.clone());
                }
            }
            [first, rest @ ..] => match self.children.get_mut(first) {
                Some(child) => child.insert(rest),
                None => self.children.entry(first.clone()).or_default().insert(rest),
            },
        }
    }

    /// True when the path itself is in the set.
    pub fn has(&self, path: &[PathElement]) -> bool {
        match path {
            [] => false,
            [last] => self.members.contains(last),
            [first, rest @ ..] => self.children.get(first).is_some_and(|c| c.has(rest)),
        }
    }

    /// True when `element` is a member at this level.
    pub(crate) fn has_member(&self, element: &PathElement) -> bool {
        self.members.contains(element)
    }

    /// The paths below `element`, relative to it (none when nothing is below it).
    pub fn child(&self, element: &PathElement) -> Option<&FieldSet> {
        self.children.get(element)
    }

    pub(crate) fn members(&self) -> impl Iterator<Item = &PathElement> {
        self.members.iter()
    }

    pub(crate) fn children(&self) -> impl Iterator<Item = (&PathElement, &FieldSet)> {
        self.children.iter()
    }

    /// Builds a set from its parts, dropping empty children.
    pub(crate) fn from_parts(
        members: BTreeSet<PathElement>,
        children: BTreeMap<PathElement, FieldSet>,
    ) -> Self {
        let children = children.into_iter().filter(|(_, c)| !c.is_empty()).collect();
        FieldSet { members, children }
    }

    /// Paths in either set.
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.union(&other.members).cloned().collect();
        let mut children = self.children.clone();
        for (pe, child) in &other.children {
            let merged = match children.get(pe) {
                Some(mine) => mine.union(child),
                None => child.clone(),
            };
            children.insert(pe.clone(), merged);
        }
        FieldSet::from_parts(members, children)
    }

    /// Paths in both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.intersection(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter_map(|(pe, c)| other.children.get(pe).map(|o| (pe.clone(), c.intersection(o))))
            .collect();
        FieldSet::from_parts(members, children)
    }

    /// Paths of `self` not in `other`. Only exact paths are removed: removing a member
    /// leaves the paths below it.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .map(|(pe, c)| match other.children.get(pe) {
                Some(o) => (pe.clone(), c.difference(o)),
                None => (pe.clone(), c.clone()),
            })
            .collect();
        FieldSet::from_parts(members, children)
    }

    /// Paths of `self` not in `other` and not below a member of `other`: a member of
    /// `other` removes the whole subtree (how reset fields such as `status` are excluded).
    pub fn recursive_difference(&self, other: &FieldSet) -> FieldSet {
        let members = self.members.difference(&other.members).cloned().collect();
        let children = self
            .children
            .iter()
            .filter(|(pe, _)| !other.members.contains(pe))
            .map(|(pe, c)| match other.children.get(pe) {
                Some(o) => (pe.clone(), c.recursive_difference(o)),
                None => (pe.clone(), c.clone()),
            })
            .collect();
        FieldSet::from_parts(members, children)
    }

    /// Only the paths at or below `element` (kept with their prefix).
    pub(crate) fn only_under(&self, element: &PathElement) -> FieldSet {
        let mut out = FieldSet::new();
        if self.members.contains(element) {
            out.members.insert(element.clone());
        }
        if let Some(child) = self.children.get(element) {
            out.children.insert(element.clone(), child.clone());
        }
        out
    }

    /// Every path, in upstream's iteration order: this level's members, then each child's
    /// paths in element order.
    pub fn paths(&self) -> Vec<Path> {
        let mut out = Vec::new();
        let mut prefix = Vec::new();
        self.collect_paths(&mut prefix, &mut out);
        out
    }

    fn collect_paths(&self, prefix: &mut Vec<PathElement>, out: &mut Vec<Path>) {
        for member in &self.members {
            let mut path = prefix.clone();
            path.push(member.clone());
            out.push(Path(path));
        }
        for (pe, child) in &self.children {
            prefix.push(pe.clone());
            child.collect_paths(prefix, out);
            prefix.pop();
        }
    }

    /// The FieldsV1 form (`{"f:spec":{"f:replicas":{}}}`), keys in upstream's order; a
    /// node that is a member and has children carries `".": {}` first.
    pub fn to_fields_v1(&self) -> Value {
        Value::Object(self.emit(false))
    }

    fn emit(&self, include_self: bool) -> Map<String, Value> {
        let mut out = Map::new();
        if include_self {
            out.insert(".".into(), Value::Object(Map::new()));
        }
        let mut elements: BTreeSet<&PathElement> = self.members.iter().collect();
        elements.extend(self.children.keys());
        for pe in elements {
            let member = self.members.contains(pe);
            let value = match self.children.get(pe) {
                Some(child) => child.emit(member),
                None => Map::new(),
            };
            out.insert(pe.to_key(), Value::Object(value));
        }
        out
    }

    /// Decodes FieldsV1. `{}` (or `null`) under a key makes it a member; `"."` marks the
    /// enclosing element as a member; keys of unknown element types are skipped.
    pub fn from_fields_v1(value: &Value) -> Result<FieldSet, String> {
        match value {
            Value::Null => Ok(FieldSet::new()),
            Value::Object(map) => Ok(decode_level(map, 0)?.0),
            _ => Err("FieldsV1 must be a JSON object".into()),
        }
    }
}

/// Decodes one level: the set below it, and whether it marked itself a member.
fn decode_level(map: &Map<String, Value>, depth: usize) -> Result<(FieldSet, bool), String> {
    if depth > MAX_DEPTH {
        return Err(format!("FieldsV1 is nested more than {MAX_DEPTH} levels"));
    }
    let mut set = FieldSet::new();
    let mut is_member = false;
    for (key, value) in map {
        if key == "." {
            is_member = true;
            continue;
        }
        let Some(pe) = PathElement::from_key(key)? else {
            continue;
        };
        let (child, child_member) = match value {
            Value::Null => (FieldSet::new(), true),
            Value::Object(inner) => decode_level(inner, depth + 1)?,
            _ => return Err(format!("FieldsV1 value under {key:?} must be an object")),
        };
        if child_member {
            set.members.insert(pe.clone());
        }
        if !child.is_empty() {
            set.children.insert(pe, child);
        }
    }
    // An element with nothing below it is a member itself (`"f:replicas": {}`).
    if set.is_empty() {
        is_member = true;
    }
    Ok((set, is_member))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(name: &str) -> PathElement {
        PathElement::field(name)
    }

    fn set(fields: Value) -> FieldSet {
        FieldSet::from_fields_v1(&fields).unwrap()
    }

    #[test]
    fn operations() {
        let a = set(json!({"f:spec": {"f:replicas": {}, "f:paused": {}}, "f:status": {}}));
        let b = set(json!({"f:spec": {"f:replicas": {}, "f:x": {}}}));
        assert_eq!(
            a.union(&b).to_fields_v1(),
            json!({"f:spec": {"f:paused": {}, "f:replicas": {}, "f:x": {}}, "f:status": {}})
        );
        assert_eq!(
            a.intersection(&b).to_fields_v1(),
            json!({"f:spec": {"f:replicas": {}}})
        );
        assert_eq!(
            a.difference(&b).to_fields_v1(),
            json!({"f:spec": {"f:paused": {}}, "f:status": {}})
        );
        assert!(a.has(&[f("spec"), f("replicas")]));
        assert!(!a.has(&[f("spec")]));
        // Removing a member keeps what is below it, unless the difference is recursive.
        let spec_member = set(json!({"f:spec": {}}));
        assert_eq!(a.difference(&spec_member), a);
        assert_eq!(
            a.recursive_difference(&set(json!({"f:status": {}, "f:spec": {"f:paused": {}}})))
                .to_fields_v1(),
            json!({"f:spec": {"f:replicas": {}}})
        );
        assert!(a.difference(&a).is_empty());
        assert_eq!(
            a.only_under(&f("spec")).to_fields_v1(),
            json!({"f:spec": {"f:paused": {}, "f:replicas": {}}})
        );
    }

    #[test]
    fn paths_in_upstream_order() {
        let s = set(json!({"f:spec": {"f:template": {"f:x": {}}, "f:replicas": {}},
                           "f:metadata": {"f:labels": {"f:a": {}}}}));
        let paths: Vec<String> = s.paths().iter().map(ToString::to_string).collect();
        assert_eq!(
            paths,
            [".metadata.labels.a", ".spec.replicas", ".spec.template.x"]
        );
    }

    #[test]
    fn self_marker() {
        let s = set(json!({"f:spec": {"f:containers": {
            r#"k:{"name":"web"}"#: {".": {}, "f:image": {}, "f:name": {}}}}}));
        let item = [
            f("spec"),
            f("containers"),
            PathElement::Key(vec![("name".into(), json!("web"))]),
        ];
        assert!(s.has(&item));
        let text = serde_json::to_string(&s.to_fields_v1()).unwrap();
        assert_eq!(
            text,
            r#"{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}}}}"#
        );
        assert!(FieldSet::from_fields_v1(&json!({"f:a": 1})).is_err());
        assert!(FieldSet::from_fields_v1(&json!([])).is_err());
        assert!(FieldSet::from_fields_v1(&json!({"x:new": {}, "f:a": null})).is_ok());
    }
}
