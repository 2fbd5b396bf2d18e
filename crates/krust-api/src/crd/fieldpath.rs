//! Field paths inside a schema, as upstream's `ValidFieldPath` reads them: `.spec.a`,
//! `.spec['key.with.dots']`, `.labels['app']`. Used for a CEL rule's `fieldPath` (relative
//! to the rule's node) and for `selectableFields`.

use super::model::Node;

/// Splits a path into `.`, `[`, `]` and the text between them; single-quoted strings stay
/// whole.
fn tokens(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' && cur.is_empty() {
            let mut quoted = String::from('\'');
            let mut prev = '\0';
            for q in chars.by_ref() {
                quoted.push(q);
                if q == '\'' && prev != '\\' {
                    break;
                }
                prev = q;
            }
            out.push(quoted);
            continue;
        }
        if matches!(c, '.' | '[' | ']') {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            out.push(c.to_string());
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Go string-literal unescaping of a single-quoted key.
fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('\'') => out.push('\''),
            Some('"') => out.push('"'),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => return Err(format!("invalid escape sequence '\\{other}'")),
            None => return Err("invalid trailing backslash".into()),
        }
    }
    Ok(out)
}

/// Resolves `path` from `schema`: the normalized field path (`a.b[key]`) and the schema it
/// points to.
pub(crate) fn resolve<'a>(
    path: &str,
    schema: &'a Node,
    allow_brackets: bool,
) -> Result<(String, &'a Node), String> {
    let toks = tokens(path);
    let mut it = toks.iter();
    let mut out = String::new();
    let mut node = schema;
    let step = |name: &str, node: &mut &'a Node, out: &mut String| -> Result<(), String> {
        if !node.properties.is_empty() {
            let next = node
                .properties
                .get(name)
                .ok_or_else(|| "does not refer to a valid field".to_string())?;
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(name);
            *node = next;
        } else if node.additional.is_some() {
            out.push_str(&format!("[{name}]"));
            *node = node
                .additional_schema()
                .ok_or_else(|| "does not refer to a valid field".to_string())?;
        } else {
            return Err("does not refer to a valid field".into());
        }
        Ok(())
    };
    while let Some(t) = it.next() {
        match t.as_str() {
            "[" => {
                if !allow_brackets {
                    return Err("array notation is not allowed".into());
                }
                let key = it.next().ok_or("unexpected end of JSON path")?;
                if key.len() < 2 || !key.starts_with('\'') || !key.ends_with('\'') {
                    return Err(format!("expected single quoted string but got {key}"));
                }
                let inner = key.get(1..key.len() - 1).unwrap_or("");
                let unescaped = unescape(inner).map_err(|e| format!("invalid string literal: {e}"))?;
                step(&unescaped, &mut node, &mut out)?;
                match it.next().map(String::as_str) {
                    Some("]") => {}
                    Some(other) => return Err(format!("expected ] but got {other}")),
                    None => return Err("unexpected end of JSON path".into()),
                }
            }
            "." => {
                let name = it.next().ok_or("unexpected end of JSON path")?;
                step(name, &mut node, &mut out)?;
            }
            other => return Err(format!("expected [ or . but got: {other}")),
        }
    }
    Ok((out, node))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn resolves_paths() {
        let s = Node::compile(&json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {"a.b": {"type": "string"}, "n": {"type": "integer"}}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}}}}));
        let (p, n) = resolve(".spec.n", &s, true).unwrap();
        assert_eq!((p.as_str(), n.ty.as_str()), ("spec.n", "integer"));
        assert_eq!(resolve(".spec['a.b']", &s, true).unwrap().0, "spec.a.b");
        assert_eq!(resolve(".labels['app']", &s, true).unwrap().0, "labels[app]");
        assert_eq!(resolve(".labels.app", &s, false).unwrap().0, "labels[app]");
        assert!(resolve(".spec.x", &s, true).is_err());
        assert!(resolve("spec", &s, true).is_err());
        assert_eq!(
            resolve(".labels['a']", &s, false).err().unwrap_or_default(),
            "array notation is not allowed"
        );
    }
}
