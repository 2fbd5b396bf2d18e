//! Every built-in kind the way a user meets it with the real kubectl, checked against what
//! upstream Kubernetes 1.33 does: `kubectl apply -f` a realistic manifest, `kubectl get`
//! (upstream's table columns and cells), the object read back with upstream's defaults,
//! a changed manifest applied again (kubectl's three-way strategic merge patch), and
//! `kubectl delete -f`. Then `get all`, short names, `explain`, and the 422s that invalid
//! objects get.
//!
//! The manifests live in `tests/manifests/`. Checks that a missing API server feature
//! blocks are kept in `#[ignore]`d tests that say which feature.

// Test helpers may unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used)]

use krust_e2e::{Cluster, stderr, stdout};
use serde_json::{Value, json};

/// These tests check what the API server itself does: no controllers or scheduler act on
/// the objects they create.
const API_ONLY: &[&str] = &["--disable-controller-manager", "--disable-scheduler"];

macro_rules! manifest {
    ($file:literal) => {
        include_str!(concat!("../manifests/", $file))
    };
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// One table printed by `kubectl get`: the header and each row's cells, cut at the
/// header's column offsets (so cells may hold spaces, e.g. a schedule `* * * * *`, or be
/// empty).
#[derive(Debug)]
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// The tables of one `kubectl get` output (several for `get a,b` or `get all`).
    fn parse_all(text: &str) -> Vec<Table> {
        text.split("\n\n")
            .filter(|block| !block.trim().is_empty())
            .map(Table::parse)
            .collect()
    }

    fn parse(block: &str) -> Table {
        let mut lines = block.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<char> = lines.next().unwrap_or_default().chars().collect();
        // kubectl pads columns with at least three spaces; names hold at most one.
        let starts: Vec<usize> = (0..header.len())
            .filter(|&i| {
                header[i] != ' ' && (i == 0 || (i >= 2 && header[i - 1] == ' ' && header[i - 2] == ' '))
            })
            .collect();
        let cut = |line: &[char]| -> Vec<String> {
            starts
                .iter()
                .enumerate()
                .map(|(n, &from)| {
                    let to = starts.get(n + 1).copied().unwrap_or(line.len()).min(line.len());
                    line.get(from.min(to)..to)
                        .unwrap_or_default()
                        .iter()
                        .collect::<String>()
                        .trim()
                        .to_string()
                })
                .collect()
        };
        let header_cells = cut(&header);
        let rows = lines.map(|l| cut(&l.chars().collect::<Vec<_>>())).collect();
        Table {
            header: header_cells,
            rows,
        }
    }

    /// The row whose `column` is `value` (for NAME also `kind/value`).
    fn row_by(&self, column: &str, value: &str) -> Vec<(&str, &str)> {
        let i = self
            .header
            .iter()
            .position(|h| h == column)
            .unwrap_or_else(|| panic!("no column {column} in {self:#?}"));
        let suffix = format!("/{value}");
        let row = self
            .rows
            .iter()
            .find(|r| r[i] == value || (column == "NAME" && r[i].ends_with(&suffix)))
            .unwrap_or_else(|| panic!("no row with {column}={value} in {self:#?}"));
        self.header
            .iter()
            .map(String::as_str)
            .zip(row.iter().map(String::as_str))
            .collect()
    }
}

/// Whether a cell looks like an age kubectl prints (`0s`, `5m10s`, `689d`).
fn is_age(cell: &str) -> bool {
    cell.starts_with(|c: char| c.is_ascii_digit()) && cell.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Asserts the cells of a row (and that every age column holds an age).
fn expect_row(t: &Table, row: &[(&str, &str)], want: &[(&str, &str)]) {
    for (col, value) in want {
        let got = row
            .iter()
            .find(|(c, _)| c == col)
            .unwrap_or_else(|| panic!("no column {col} in {t:#?}"))
            .1;
        assert_eq!(got, *value, "column {col} in {t:#?}");
    }
    for (col, value) in row {
        if matches!(*col, "AGE" | "LAST SEEN" | "FIRST SEEN") {
            assert!(is_age(value), "{col} {value:?} is not an age in {t:#?}");
        }
    }
}

/// `kubectl get ARGS`: one table with exactly `header`; the row named `name` has `cells`.
fn expect_table(c: &Cluster, args: &[&str], header: &[&str], name: &str, cells: &[(&str, &str)]) -> Table {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    let out = c.ok(&a);
    let mut tables = Table::parse_all(&out);
    assert_eq!(tables.len(), 1, "kubectl {a:?}:\n{out}");
    let t = tables.remove(0);
    assert_eq!(t.header, header, "kubectl {a:?}:\n{out}");
    let row = t.row_by(&t.header[0].clone(), name);
    expect_row(&t, &row, cells);
    t
}

/// Asserts values at JSON pointers; `Value::Null` stands for "absent".
fn expect(obj: &Value, checks: &[(&str, Value)]) {
    let bad: Vec<String> = checks
        .iter()
        .filter_map(|(ptr, want)| {
            let got = obj.pointer(ptr).unwrap_or(&Value::Null);
            (got != want).then(|| format!("{ptr}: got {got}, want {want}"))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{}\nin {}",
        bad.join("\n"),
        serde_json::to_string_pretty(obj).unwrap()
    );
}

/// `kubectl apply -f -`; every line of `want` (`pod/nginx created`) must be printed.
fn apply(c: &Cluster, yaml: &str, want: &[&str]) {
    let out = c.ok_stdin(&["apply", "-f", "-"], yaml);
    for w in want {
        assert!(
            out.lines().any(|l| l.trim() == *w),
            "kubectl apply printed:\n{out}\nwanted: {w}"
        );
    }
}

/// `kubectl delete -f -`; every line of `want` must be printed.
fn delete(c: &Cluster, yaml: &str, want: &[&str]) {
    let out = c.ok_stdin(&["delete", "-f", "-", "--timeout=60s"], yaml);
    for w in want {
        assert!(
            out.lines().any(|l| l.trim() == *w),
            "kubectl delete printed:\n{out}\nwanted: {w}"
        );
    }
}

/// `kubectl get ARGS` fails with NotFound.
fn gone(c: &Cluster, args: &[&str]) {
    let mut a = vec!["get"];
    a.extend_from_slice(args);
    let err = c.fails(&a);
    assert!(err.contains("(NotFound)"), "kubectl {a:?}: {err}");
}

/// `kubectl VERB -f -` of an invalid object: the server answers 422, and kubectl prints
/// upstream's `The Kind "name" is invalid: ...` message, which is returned.
fn rejected(c: &Cluster, verb: &str, yaml: &str) -> String {
    let out = c.kubectl_stdin(&[verb, "-f", "-", "-v=6"], yaml);
    let err = stderr(&out);
    assert!(
        !out.status.success(),
        "kubectl {verb} accepted:\n{yaml}\n{}",
        stdout(&out)
    );
    assert!(
        err.contains("422 Unprocessable Entity"),
        "kubectl {verb} was not answered 422:\n{err}"
    );
    // Drop klog lines (`I1122 00:25:19.011868 ...`).
    let msg: Vec<&str> = err
        .lines()
        .filter(|l| !(l.starts_with('I') && l[1..].starts_with(|ch: char| ch.is_ascii_digit())))
        .collect();
    let msg = msg.join("\n");
    assert!(msg.contains("is invalid"), "{msg}");
    msg
}

/// Asserts that `text` contains every part.
fn contains_all(text: &str, parts: &[&str]) {
    for p in parts {
        assert!(text.contains(p), "{p:?} not in:\n{text}");
    }
}

// ---------------------------------------------------------------------------------------
// core/v1, namespaced
// ---------------------------------------------------------------------------------------

mod cluster_scoped;
mod config_and_pods;
mod invalid_and_missing;
mod networking_and_policy;
mod services_and_events;
mod status_columns;
mod storage_and_nodes;
mod workloads;
