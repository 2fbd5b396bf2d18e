//! `$(VAR)` references in a container's command, args and env values, expanded as the
//! kubelet does: a defined variable is replaced, `$$` stands for a literal `$`, and a
//! reference to an undefined variable (or a malformed one) is left exactly as written.

/// Expands `$(NAME)` in `input` with `lookup`.
pub(crate) fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            // `$$` is an escaped `$`.
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(end) => {
                    let name = &inner[..end];
                    match lookup(name) {
                        Some(v) => out.push_str(&v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &inner[end + 1..];
                }
                None => {
                    // No closing paren: not a reference.
                    out.push_str(&rest[at..]);
                    rest = "";
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "A" => Some("alpha".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn references_escapes_and_unknowns() {
        assert_eq!(expand("x-$(A)-y", vars), "x-alpha-y");
        assert_eq!(expand("$(A)$(A)", vars), "alphaalpha");
        assert_eq!(expand("$$(A)", vars), "$(A)");
        assert_eq!(expand("$(B)", vars), "$(B)");
        assert_eq!(expand("[$(EMPTY)]", vars), "[]");
        assert_eq!(expand("cost: $5", vars), "cost: $5");
        assert_eq!(expand("$(A", vars), "$(A");
        assert_eq!(expand("end$", vars), "end$");
        assert_eq!(expand("", vars), "");
    }
}
