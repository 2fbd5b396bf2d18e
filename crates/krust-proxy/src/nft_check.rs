//! Generated scripts checked by the kernel's own parser: `nft -c` validates a whole script
//! in a transaction that is never committed, so nothing on the machine changes.
//!
//! Needs root and the `nft` binary; without them each test prints why and passes.

use std::{process::Command, time::Instant};

use crate::{Nft, fixtures, ruleset};

/// Whether `nft -c` can run here; prints the reason when not.
fn nft_usable() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if !root {
        println!("skipped: nft -c needs root");
        return false;
    }
    if Command::new("nft").arg("--version").output().is_err() {
        println!("skipped: nft is not installed");
        return false;
    }
    true
}

#[test]
fn representative_ruleset_is_accepted_by_nft() {
    if !nft_usable() {
        return;
    }
    let (services, slices) = fixtures::everything();
    let script = ruleset(&fixtures::cfg(), &services, &slices);
    if let Err(e) = Nft.check(&script) {
        panic!("nft rejected the script: {e}\n{script}");
    }
}

#[test]
fn empty_ruleset_is_accepted_by_nft() {
    if !nft_usable() {
        return;
    }
    Nft.check(&ruleset(&fixtures::cfg(), &[], &[])).unwrap();
}

#[test]
fn thousand_services_with_ten_endpoints_are_accepted_by_nft() {
    if !nft_usable() {
        return;
    }
    let (services, slices) = fixtures::many(1000, 10);
    let start = Instant::now();
    let script = ruleset(&fixtures::cfg(), &services, &slices);
    let rendered = start.elapsed();
    let start = Instant::now();
    let checked = Nft.check(&script);
    let nft = start.elapsed();
    // Reported, never asserted: timings depend on the machine.
    println!(
        "1000 services x 10 endpoints: {} bytes, {} lines, render {rendered:?}, nft -c {nft:?}",
        script.len(),
        script.lines().count()
    );
    checked.unwrap();
}

#[test]
fn broken_script_is_refused_with_nft_message() {
    if !nft_usable() {
        return;
    }
    let err = Nft
        .check("table ip krust-proxy-test { chain c { bogus } }\n")
        .unwrap_err();
    assert!(
        matches!(err, crate::ProxyError::Nft { ref stderr, .. } if stderr.contains("syntax error")),
        "{err}"
    );
}

#[test]
#[ignore = "writes /tmp/krust-proxy-1000x10.nft for manual timing"]
fn dump_scale_script() {
    let (services, slices) = fixtures::many(1000, 10);
    std::fs::write(
        "/tmp/krust-proxy-1000x10.nft",
        ruleset(&fixtures::cfg(), &services, &slices),
    )
    .unwrap();
}

#[test]
#[ignore = "prints the representative script for reading"]
fn print_representative_script() {
    let (services, slices) = fixtures::everything();
    println!("{}", ruleset(&fixtures::cfg(), &services, &slices));
}
