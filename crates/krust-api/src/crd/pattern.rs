//! `pattern` keywords: upstream compiles them with Go's RE2 `regexp`, whose Perl classes
//! (`\d`, `\w`, `\s`, `\b`) are ASCII-only, while Rust's `regex` makes them Unicode-aware.
//! Patterns are rewritten to Go's meaning before compiling, with size limits so a schema
//! cannot make the server build a huge automaton. Matching is linear-time either way.

use std::collections::HashMap;
use std::sync::Arc;

use regex::{Regex, RegexBuilder};

/// Compiled-program and DFA size limits for one pattern.
const SIZE_LIMIT: usize = 1 << 20;
/// Longest pattern accepted.
const MAX_PATTERN: usize = 16 * 1024;

/// A compiled pattern, or why it did not compile.
pub(crate) type Compiled = Result<Arc<Regex>, String>;

/// Compiles patterns once per schema (the same pattern often appears many times).
#[derive(Default)]
pub(crate) struct Cache {
    compiled: HashMap<String, Compiled>,
}

impl Cache {
    pub(crate) fn get(&mut self, pattern: &str) -> Compiled {
        if let Some(c) = self.compiled.get(pattern) {
            return c.clone();
        }
        let c = compile(pattern);
        self.compiled.insert(pattern.to_string(), c.clone());
        c
    }
}

/// Compiles a Go regular expression.
pub(crate) fn compile(pattern: &str) -> Compiled {
    if pattern.len() > MAX_PATTERN {
        return Err(format!("pattern longer than {MAX_PATTERN} bytes"));
    }
    let translated = translate(pattern);
    RegexBuilder::new(&translated)
        .size_limit(SIZE_LIMIT)
        .dfa_size_limit(SIZE_LIMIT)
        .nest_limit(100)
        .build()
        .map(Arc::new)
        .map_err(|e| first_line(&e.to_string()))
}

fn first_line(s: &str) -> String {
    // regex's errors span several lines (pattern, caret, message); keep the message.
    s.lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| l.trim_start().trim_start_matches("error:").trim().to_string())
        .unwrap_or_else(|| s.lines().next().unwrap_or("").to_string())
}

/// Rewrites Go's ASCII-only escapes into explicit classes.
fn translate(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 16);
    let mut chars = p.chars().peekable();
    let mut in_class = false;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let (outside, inside) = match e {
                    'd' => ("[0-9]", "0-9"),
                    'D' => ("[^0-9]", "[^0-9]"),
                    'w' => ("[0-9A-Za-z_]", "0-9A-Za-z_"),
                    'W' => ("[^0-9A-Za-z_]", "[^0-9A-Za-z_]"),
                    's' => ("[\\t\\n\\f\\r ]", "\\t\\n\\f\\r "),
                    'S' => ("[^\\t\\n\\f\\r ]", "[^\\t\\n\\f\\r ]"),
                    'b' if !in_class => ("(?-u:\\b)", ""),
                    'B' if !in_class => ("(?-u:\\B)", ""),
                    'Q' => {
                        // \Q...\E: a literal run.
                        let mut lit = String::new();
                        while let Some(x) = chars.next() {
                            if x == '\\' && chars.peek() == Some(&'E') {
                                chars.next();
                                break;
                            }
                            lit.push(x);
                        }
                        out.push_str(&regex::escape(&lit));
                        continue;
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                        continue;
                    }
                };
                out.push_str(if in_class { inside } else { outside });
            }
            '[' if !in_class => {
                in_class = true;
                class_start = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
                // A leading `]` is literal in both dialects.
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str("\\]");
                    class_start = false;
                }
                continue;
            }
            '[' if in_class => {
                // Go has no nested classes: `[` inside a class is literal, except `[:alpha:]`.
                if chars.peek() == Some(&':') {
                    out.push('[');
                } else {
                    out.push_str("\\[");
                }
            }
            ']' if in_class && !class_start => {
                in_class = false;
                out.push(']');
            }
            '&' | '~' | '-' if in_class => {
                // Rust treats `&&`, `~~` and `--` in classes as set operators; Go as literals.
                if c != '-' && chars.peek() == Some(&c) {
                    out.push('\\');
                    out.push(c);
                } else {
                    out.push(c);
                }
            }
            other => out.push(other),
        }
        class_start = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(p: &str, s: &str) -> bool {
        compile(p).map(|r| r.is_match(s)).unwrap_or(false)
    }

    #[test]
    fn perl_classes_are_ascii() {
        assert!(matches(r"^\d+$", "123"));
        assert!(!matches(r"^\d+$", "١٢٣"));
        assert!(matches(r"^[\w.-]+$", "a_b.c-d"));
        assert!(!matches(r"^\w+$", "é"));
        assert!(matches(r"^\S+$", "é"));
        assert!(matches(r"\bfoo\b", "a foo b"));
        assert!(matches(r"^[^\d]+$", "abc"));
        assert!(matches(r"^[\D]+$", "abc"));
        assert!(matches(r"^\Qa.b\E$", "a.b"));
        assert!(!matches(r"^\Qa.b\E$", "axb"));
        assert!(matches(r"^[a&&b]+$", "a&&b"));
        assert!(matches(r"^[[:alpha:]]+$", "abc"));
        assert!(matches(r"^[]a]+$", "]a"));
    }

    #[test]
    fn bad_patterns_report_why() {
        let e = compile("a(").err().unwrap_or_default();
        assert!(!e.is_empty());
        assert!(compile(&"a".repeat(MAX_PATTERN + 1)).is_err());
        // A pattern whose automaton would be huge is refused instead of built.
        assert!(compile(r"(\w{1000}){1000}").is_err());
    }
}
