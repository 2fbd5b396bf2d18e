//! Tests of the whole archive: what `ctr images import` will read.

use super::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;

/// The smallest thing `elf::check_static` accepts: an ELF64 header with no program
/// headers. Keeps these tests independent of the host's busybox.
fn fake_static_elf() -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // 64-bit
    h[5] = 1; // little endian
    h.extend_from_slice(b"pretend busybox");
    h
}

/// path -> contents of every regular file in a tar.
fn files(tar_bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in tar::Archive::new(tar_bytes).entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type() == tar::EntryType::Regular {
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut v = Vec::new();
            e.read_to_end(&mut v).unwrap();
            out.insert(path, v);
        }
    }
    out
}

fn blob<'a>(files: &'a BTreeMap<String, Vec<u8>>, descriptor: &Value) -> &'a [u8] {
    let digest = descriptor["digest"].as_str().unwrap();
    let hex = digest.strip_prefix("sha256:").unwrap();
    let bytes = &files[&format!("blobs/sha256/{hex}")];
    assert_eq!(
        Digest::of(bytes).to_string(),
        digest,
        "blob content matches its name"
    );
    assert_eq!(
        descriptor["size"].as_u64().unwrap(),
        bytes.len() as u64,
        "size of {digest}"
    );
    bytes
}

#[test]
fn archive_is_a_consistent_oci_layout() {
    let archive = build_image(&test_image(), &fake_static_elf()).unwrap();
    let f = files(&archive.bytes);
    let d = &archive.digests;

    let layout: Value = serde_json::from_slice(&f["oci-layout"]).unwrap();
    assert_eq!(layout["imageLayoutVersion"], "1.0.0");
    assert_eq!(
        f.len(),
        5,
        "oci-layout, index.json and three blobs: {:?}",
        f.keys()
    );

    let index: Value = serde_json::from_slice(&f["index.json"]).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    let desc = &index["manifests"][0];
    assert_eq!(
        desc["annotations"][ANNOTATION_CONTAINERD_NAME],
        "krust.io/busybox:1.35"
    );
    assert_eq!(desc["annotations"][ANNOTATION_REF_NAME], "1.35");
    assert_eq!(desc["platform"]["os"], "linux");
    assert_eq!(desc["platform"]["architecture"], host_architecture().unwrap());
    assert_eq!(desc["digest"], d.manifest.to_string());

    let manifest: Value = serde_json::from_slice(blob(&f, desc)).unwrap();
    assert_eq!(manifest["mediaType"], layout::MEDIA_MANIFEST);
    assert_eq!(manifest["config"]["digest"], d.config.to_string());
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
    assert_eq!(manifest["layers"][0]["digest"], d.layer.to_string());
    assert_eq!(manifest["layers"][0]["mediaType"], layout::MEDIA_LAYER_GZIP);

    let config: Value = serde_json::from_slice(blob(&f, &manifest["config"])).unwrap();
    assert_eq!(config["os"], "linux");
    assert_eq!(config["architecture"], host_architecture().unwrap());
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["sh"]));

    let gz = blob(&f, &manifest["layers"][0]);
    let mut layer = Vec::new();
    flate2::read::GzDecoder::new(gz).read_to_end(&mut layer).unwrap();
    assert_eq!(config["rootfs"]["type"], "layers");
    assert_eq!(config["rootfs"]["diff_ids"][0], Digest::of(&layer).to_string());
    assert_eq!(Digest::of(&layer), d.diff_id);
    assert_eq!(files(&layer)["bin/busybox"], fake_static_elf());
}

#[test]
fn pause_image_config() {
    let archive = build_image(&pause_image(), &fake_static_elf()).unwrap();
    assert_eq!(archive.digests.name, PAUSE_IMAGE);
    let f = files(&archive.bytes);
    let config = &f[&format!("blobs/sha256/{}", archive.digests.config.hex())];
    let config: Value = serde_json::from_slice(config).unwrap();
    assert_eq!(config["config"]["Entrypoint"][0], "/bin/sh");
    assert!(config["config"].get("Cmd").is_none());
    let index: Value = serde_json::from_slice(&f["index.json"]).unwrap();
    assert_eq!(index["manifests"][0]["annotations"][ANNOTATION_REF_NAME], "3.10");
}

#[test]
fn deterministic() {
    let bb = fake_static_elf();
    let a = build_image(&test_image(), &bb).unwrap();
    let b = build_image(&test_image(), &bb).unwrap();
    assert_eq!(a.bytes, b.bytes);
    assert_eq!(a.digests, b.digests);
    // Same file system, different config: layer shared, manifest not.
    let p = build_image(&pause_image(), &bb).unwrap();
    assert_eq!(p.digests.layer, a.digests.layer);
    assert_ne!(p.digests.manifest, a.digests.manifest);
}

#[test]
fn write_image_matches_build_image() {
    let dir = tempfile::tempdir().unwrap();
    let bb_path = dir.path().join("busybox");
    std::fs::write(&bb_path, fake_static_elf()).unwrap();
    let out = dir.path().join("image.tar");
    let written = write_image(&test_image(), &bb_path, &out).unwrap();
    let built = build_image(&test_image(), &fake_static_elf()).unwrap();
    assert_eq!(written, built.digests);
    assert_eq!(std::fs::read(&out).unwrap(), built.bytes);
    // Only the tarball is left behind, no temporary file.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

#[test]
fn refuses_what_would_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("busybox");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    let err = write_image(&test_image(), &script, &dir.path().join("o.tar")).unwrap_err();
    assert!(
        matches!(&err, Error::NotStaticBusybox { path, .. } if *path == script),
        "{err}"
    );
    let missing = write_image(&test_image(), &dir.path().join("nope"), &dir.path().join("o.tar"));
    assert!(matches!(missing, Err(Error::Io { .. })));
    let bad_name = ImageSpec::new("Bad Name");
    assert!(matches!(
        build_image(&bad_name, &fake_static_elf()),
        Err(Error::InvalidName { .. })
    ));
}

#[test]
fn host_busybox_if_installed() {
    let Ok(bb) = std::fs::read(DEFAULT_BUSYBOX) else {
        eprintln!("skipping: no {DEFAULT_BUSYBOX}");
        return;
    };
    match build_image(&test_image(), &bb) {
        Ok(a) => assert!(a.bytes.len() > bb.len() / 4),
        Err(Error::NotStaticBusybox { reason, .. }) => {
            eprintln!("skipping: {DEFAULT_BUSYBOX} is not static ({reason})")
        }
        Err(e) => panic!("{e}"),
    }
}
