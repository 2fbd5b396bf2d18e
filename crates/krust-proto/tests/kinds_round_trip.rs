//! Representative objects of every supported kind survive encode → decode unchanged, and
//! re-encoding the decoded JSON is byte-stable.
//!
//! The fixtures are written in Go's canonical JSON form (what the API server would print), so
//! any difference points at a wrong JSON name, `omitempty` or pointer flag in the table.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::{data_dir, load, without_nulls};
use krust_proto::{decode, encode, supported_kinds};
use serde_json::Value;

fn fixtures() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(data_dir().join("objects"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths {
        match load(&path) {
            Value::Array(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    out.push((format!("{}[{i}]", path.display()), item));
                }
            }
            one => out.push((path.display().to_string(), one)),
        }
    }
    out
}

#[test]
fn every_fixture_round_trips() {
    let mut failures = Vec::new();
    for (name, object) in fixtures() {
        let bytes = match encode(&object) {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("{name}: encode: {e}"));
                continue;
            }
        };
        match decode(&bytes) {
            Ok(decoded) if decoded == without_nulls(&object) => {
                assert_eq!(encode(&decoded).unwrap(), bytes, "{name}: re-encoding differs");
            }
            Ok(decoded) => failures.push(format!(
                "{name}:\n  want {}\n  got  {}",
                without_nulls(&object),
                decoded
            )),
            Err(e) => failures.push(format!("{name}: decode: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fixtures_cover_every_requested_kind() {
    let covered: BTreeSet<(String, String)> = fixtures()
        .iter()
        .chain(
            std::fs::read_dir(data_dir().join("kubectl"))
                .unwrap()
                .map(|e| (String::new(), load(&e.unwrap().path())))
                .collect::<Vec<_>>()
                .iter(),
        )
        .map(|(_, v)| {
            (
                v["apiVersion"].as_str().unwrap().to_owned(),
                v["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let missing: Vec<_> = supported_kinds()
        .filter(|(_, kind)| !kind.ends_with("List"))
        .filter(|(av, kind)| !covered.contains(&((*av).to_owned(), (*kind).to_owned())))
        .collect();
    assert!(missing.is_empty(), "kinds without a fixture: {missing:?}");
}
