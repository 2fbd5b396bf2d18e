//! The JSONPath subset CRD printer columns and scale paths use: `.a.b`, `.a[0]`, `.a[*].b`,
//! `.a[?(@.k=="v")].b` (also `==`/`!=` against numbers and booleans).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(usize),
    All,
    Filter {
        key: String,
        negated: bool,
        value: Value,
    },
}

fn parse(path: &str) -> Option<Vec<Step>> {
    let p = path
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim_start_matches('$');
    let mut steps = Vec::new();
    let mut rest = p;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end > 0 {
                steps.push(Step::Field(r[..end].to_string()));
            }
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = r[..end].trim();
            // A filter may contain ']' inside quotes; find the closing one after ')'.
            let (inner, consumed) = if inner.starts_with("?(") {
                let close = r.find(")]")?;
                (&r[..=close], close + 2)
            } else {
                (inner, end + 1)
            };
            steps.push(parse_bracket(inner)?);
            rest = &r[consumed..];
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            steps.push(Step::Field(rest[..end].to_string()));
            rest = &rest[end..];
        }
    }
    Some(steps)
}

fn parse_bracket(inner: &str) -> Option<Step> {
    if inner == "*" {
        return Some(Step::All);
    }
    if let Ok(i) = inner.parse::<usize>() {
        return Some(Step::Index(i));
    }
    let cond = inner.strip_prefix("?(")?.strip_suffix(')')?.trim();
    let (lhs, negated, rhs) = match (cond.split_once("!="), cond.split_once("==")) {
        (Some((l, r)), _) => (l, true, r),
        (None, Some((l, r))) => (l, false, r),
        _ => return None,
    };
    let key = lhs.trim().strip_prefix("@.")?.to_string();
    let rhs = rhs.trim();
    let value = if let Some(s) = rhs.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Value::String(s.to_string())
    } else if let Some(s) = rhs.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        Value::String(s.to_string())
    } else {
        serde_json::from_str(rhs).ok()?
    };
    Some(Step::Filter { key, negated, value })
}

/// Every value the path selects (empty when nothing matches or the path is malformed).
pub fn find<'a>(obj: &'a Value, path: &str) -> Vec<&'a Value> {
    let Some(steps) = parse(path) else {
        return Vec::new();
    };
    let mut cur = vec![obj];
    for step in &steps {
        let mut next = Vec::new();
        for v in cur {
            match step {
                Step::Field(f) => next.extend(v.get(f.as_str())),
                Step::Index(i) => next.extend(v.get(*i)),
                Step::All => next.extend(v.as_array().into_iter().flatten()),
                Step::Filter { key, negated, value } => next.extend(
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .filter(|item| (item.get(key.as_str()) == Some(value)) != *negated),
                ),
            }
        }
        cur = next;
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths() {
        let o = json!({"spec": {"replicas": 3, "items": [{"n": "a"}, {"n": "b"}]},
            "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Synced", "status": "False"}]}});
        assert_eq!(find(&o, ".spec.replicas"), vec![&json!(3)]);
        assert_eq!(find(&o, ".spec.items[1].n"), vec![&json!("b")]);
        assert_eq!(find(&o, ".spec.items[*].n").len(), 2);
        assert_eq!(
            find(&o, r#".status.conditions[?(@.type=="Ready")].status"#),
            vec![&json!("True")]
        );
        assert_eq!(
            find(&o, r#".status.conditions[?(@.type!="Ready")].type"#),
            vec![&json!("Synced")]
        );
        assert!(find(&o, ".spec.missing").is_empty());
        assert!(find(&o, ".spec.items[?(").is_empty());
    }
}
