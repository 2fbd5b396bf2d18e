//! Writes one of the ready-made images to a tarball for `ctr images import`.
//!
//! `cargo run -p krust-oci --example write_image -- OUT.tar [busybox|pause] [BUSYBOX]`

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let usage = "usage: write_image OUT.tar [busybox|pause] [PATH-TO-STATIC-BUSYBOX]";
    let out = PathBuf::from(args.next().ok_or(usage)?);
    let spec = match args.next().as_deref().and_then(|s| s.to_str()) {
        None | Some("busybox") => krust_oci::test_image(),
        Some("pause") => krust_oci::pause_image(),
        Some(_) => return Err(usage.into()),
    };
    let busybox = args
        .next()
        .map_or_else(|| PathBuf::from(krust_oci::DEFAULT_BUSYBOX), PathBuf::from);
    let d = krust_oci::write_image(&spec, &busybox, &out)?;
    println!("{} manifest {} (layer diff_id {})", d.name, d.manifest, d.diff_id);
    Ok(())
}
