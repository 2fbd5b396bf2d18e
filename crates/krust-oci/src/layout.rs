//! The OCI image layout around the layer: config, manifest, index and the outer
//! tarball `ctr images import` reads.

use crate::rootfs::Tar;
use crate::{Digest, Error, ImageSpec};
use serde_json::{Map, Value, json};
use std::io::Write;

pub(crate) const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub(crate) const MEDIA_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// Index annotation containerd's importer names the image by (full reference).
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";
/// Standard OCI index annotation: the tag only.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The OCI `architecture` of the machine this runs on. The image contains the
/// host's busybox, so it can only be for the host's CPU.
pub fn host_architecture() -> Result<&'static str, Error> {
    oci_architecture(std::env::consts::ARCH)
}

/// Maps a Rust `target_arch` name to the GOARCH-style name OCI uses.
pub fn oci_architecture(rust_arch: &'static str) -> Result<&'static str, Error> {
    Ok(match rust_arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => return Err(Error::UnsupportedArch(other)),
    })
}

/// Digests of what was built. `manifest` is what containerd lists as the image's
/// digest; `diff_id` is the uncompressed layer's digest (the rootfs chain ID of a
/// one-layer image, i.e. the snapshot name containerd unpacks to).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageDigests {
    /// Full, tagged reference the image imports as, e.g. `krust.io/busybox:1.35`.
    pub name: String,
    pub manifest: Digest,
    pub config: Digest,
    /// Digest of the gzip-compressed layer blob.
    pub layer: Digest,
    /// Digest of the uncompressed layer tar.
    pub diff_id: Digest,
}

/// Gzip with a fixed header (mtime 0, no file name), so compression does not undo
/// the layer's determinism.
fn gzip(data: &[u8]) -> Result<Vec<u8>, Error> {
    let io = |source| Error::Tar {
        entry: "layer (gzip)".to_string(),
        source,
    };
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::with_capacity(data.len() / 2), flate2::Compression::default());
    enc.write_all(data).map_err(io)?;
    enc.finish().map_err(io)
}

/// The image config's `config` object: only the fields the spec sets, like
/// `docker inspect` shows them.
fn process_config(spec: &ImageSpec) -> Result<Value, Error> {
    let mut c = Map::new();
    if let Some(user) = &spec.user {
        c.insert("User".into(), json!(user));
    }
    if !spec.exposed_ports.is_empty() {
        let mut ports = Map::new();
        for p in &spec.exposed_ports {
            let (num, proto) = p.split_once('/').unwrap_or((p.as_str(), "tcp"));
            let valid_num = num.parse::<u16>().is_ok_and(|n| n != 0);
            if !valid_num || !matches!(proto, "tcp" | "udp" | "sctp") {
                return Err(Error::InvalidSpec(format!(
                    "exposed port {p:?} is not PORT or PORT/tcp|udp|sctp"
                )));
            }
            ports.insert(format!("{num}/{proto}"), json!({}));
        }
        c.insert("ExposedPorts".into(), Value::Object(ports));
    }
    if !spec.env.is_empty() {
        if let Some(bad) = spec.env.iter().find(|e| !e.contains('=') || e.starts_with('=')) {
            return Err(Error::InvalidSpec(format!("env entry {bad:?} is not KEY=value")));
        }
        c.insert("Env".into(), json!(spec.env));
    }
    if !spec.entrypoint.is_empty() {
        c.insert("Entrypoint".into(), json!(spec.entrypoint));
    }
    if !spec.cmd.is_empty() {
        c.insert("Cmd".into(), json!(spec.cmd));
    }
    if let Some(dir) = &spec.working_dir {
        if !dir.starts_with('/') {
            return Err(Error::InvalidSpec(format!("working_dir {dir:?} is not absolute")));
        }
        c.insert("WorkingDir".into(), json!(dir));
    }
    Ok(Value::Object(c))
}

/// Builds the whole OCI image-layout tarball in memory.
pub(crate) fn build(spec: &ImageSpec, layer_tar: &[u8]) -> Result<(Vec<u8>, ImageDigests), Error> {
    let (full_name, tag) = spec.reference()?;
    let arch = host_architecture()?;

    let diff_id = Digest::of(layer_tar);
    let layer = gzip(layer_tar)?;
    let layer_digest = Digest::of(&layer);

    let config = serde_json::to_vec(&json!({
        "architecture": arch,
        "os": "linux",
        "config": process_config(spec)?,
        "rootfs": { "type": "layers", "diff_ids": [diff_id.to_string()] },
        "history": [{ "created_by": "krust-oci: busybox root file system" }],
    }))?;
    let config_digest = Digest::of(&config);

    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": { "mediaType": MEDIA_CONFIG, "digest": config_digest.to_string(), "size": config.len() },
        "layers": [{ "mediaType": MEDIA_LAYER_GZIP, "digest": layer_digest.to_string(), "size": layer.len() }],
    }))?;
    let manifest_digest = Digest::of(&manifest);

    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [{
            "mediaType": MEDIA_MANIFEST,
            "digest": manifest_digest.to_string(),
            "size": manifest.len(),
            "annotations": {
                ANNOTATION_CONTAINERD_NAME: full_name,
                ANNOTATION_REF_NAME: tag,
            },
            "platform": { "architecture": arch, "os": "linux" },
        }],
    }))?;

    let mut tar = Tar::default();
    tar.file("oci-layout", 0o644, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    tar.file("index.json", 0o644, &index)?;
    tar.dir("blobs", 0o755)?;
    tar.dir("blobs/sha256", 0o755)?;
    for (digest, bytes) in [
        (&manifest_digest, &manifest),
        (&config_digest, &config),
        (&layer_digest, &layer),
    ] {
        tar.file(&format!("blobs/sha256/{}", digest.hex()), 0o644, bytes)?;
    }
    let digests = ImageDigests {
        name: full_name,
        manifest: manifest_digest,
        config: config_digest,
        layer: layer_digest,
        diff_id,
    };
    Ok((tar.finish()?, digests))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architectures() {
        assert_eq!(oci_architecture("x86_64").unwrap(), "amd64");
        assert_eq!(oci_architecture("aarch64").unwrap(), "arm64");
        assert!(oci_architecture("wasm32").is_err());
        assert!(host_architecture().is_ok());
    }

    #[test]
    fn process_config_fields() {
        let spec = ImageSpec {
            entrypoint: vec!["/bin/sh".into()],
            cmd: vec!["-c".into(), "echo hi".into()],
            working_dir: Some("/var/www".into()),
            exposed_ports: vec!["80".into(), "53/udp".into()],
            user: Some("65534".into()),
            ..ImageSpec::new("x:1")
        };
        let c = process_config(&spec).unwrap();
        assert_eq!(c["Entrypoint"], json!(["/bin/sh"]));
        assert_eq!(c["Cmd"], json!(["-c", "echo hi"]));
        assert_eq!(c["WorkingDir"], json!("/var/www"));
        assert_eq!(c["User"], json!("65534"));
        assert_eq!(c["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert!(c["Env"][0].as_str().unwrap().starts_with("PATH="));

        let empty = process_config(&ImageSpec {
            env: vec![],
            ..ImageSpec::new("x")
        })
        .unwrap();
        assert_eq!(empty, json!({}));
    }

    #[test]
    fn invalid_specs() {
        for spec in [
            ImageSpec {
                exposed_ports: vec!["http".into()],
                ..ImageSpec::new("x")
            },
            ImageSpec {
                exposed_ports: vec!["80/icmp".into()],
                ..ImageSpec::new("x")
            },
            ImageSpec {
                exposed_ports: vec!["0".into()],
                ..ImageSpec::new("x")
            },
            ImageSpec {
                env: vec!["NOEQUALS".into()],
                ..ImageSpec::new("x")
            },
            ImageSpec {
                working_dir: Some("relative".into()),
                ..ImageSpec::new("x")
            },
        ] {
            assert!(
                matches!(process_config(&spec), Err(Error::InvalidSpec(_))),
                "{spec:?}"
            );
        }
    }

    #[test]
    fn gzip_is_deterministic() {
        assert_eq!(gzip(b"abc").unwrap(), gzip(b"abc").unwrap());
        // mtime bytes 4..8 of the gzip header are zero.
        assert_eq!(&gzip(b"abc").unwrap()[4..8], &[0, 0, 0, 0]);
    }
}
