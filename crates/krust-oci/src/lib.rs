//! Small OCI images built offline from a static busybox.
//!
//! No registry is reachable from the machines krust is developed and tested on, and
//! a node must be able to run pods without pulling a sandbox image first. This crate
//! makes both images it needs from the host's `busybox-static`:
//!
//! - [`test_image`] (`krust.io/busybox:1.35`): `sh`, `httpd`, `nc`, `wget`, `tar`,
//!   ... for tests and examples;
//! - [`pause_image`] (`krust.io/pause:3.10`): the pod sandbox holder the node agent
//!   imports when containerd has none.
//!
//! The output is an OCI image-layout tarball that `ctr images import` accepts and names
//! after the spec. The build is deterministic: the same busybox and spec always give the
//! same manifest digest, so re-importing at every start-up is a no-op for containerd.

mod digest;
mod elf;
mod error;
mod layout;
mod rootfs;
mod spec;

pub use digest::Digest;
pub use error::Error;
pub use layout::{
    ANNOTATION_CONTAINERD_NAME, ANNOTATION_REF_NAME, ImageDigests, host_architecture, oci_architecture,
};
pub use spec::{APPLETS, DEFAULT_PATH, ImageSpec, PAUSE_IMAGE, TEST_IMAGE, pause_image, test_image};

use std::path::{Path, PathBuf};

/// Where Debian's and most distributions' busybox packages put the binary.
pub const DEFAULT_BUSYBOX: &str = "/bin/busybox";

/// An image built in memory: the OCI image-layout tarball and its digests.
#[derive(Clone, Debug)]
pub struct OciArchive {
    /// The tarball, ready for `ctr images import`.
    pub bytes: Vec<u8>,
    pub digests: ImageDigests,
}

/// Builds the image for `spec` around `busybox`, the bytes of a statically linked
/// busybox executable. Pure: no file system or process access.
pub fn build_image(spec: &ImageSpec, busybox: &[u8]) -> Result<OciArchive, Error> {
    elf::check_static(busybox).map_err(|reason| Error::NotStaticBusybox {
        path: PathBuf::from("<busybox bytes>"),
        reason,
    })?;
    let layer = rootfs::layer_tar(busybox)?;
    let (bytes, digests) = layout::build(spec, &layer)?;
    Ok(OciArchive { bytes, digests })
}

/// Reads the busybox at `busybox`, builds the image for `spec` and writes the
/// tarball to `out`. The file is written beside `out` and renamed into place, so a
/// reader (or a crash) never sees half a tarball.
pub fn write_image(spec: &ImageSpec, busybox: &Path, out: &Path) -> Result<ImageDigests, Error> {
    let bin = std::fs::read(busybox).map_err(|source| Error::Io {
        path: busybox.to_path_buf(),
        source,
    })?;
    let archive = build_image(spec, &bin).map_err(|e| match e {
        Error::NotStaticBusybox { reason, .. } => Error::NotStaticBusybox {
            path: busybox.to_path_buf(),
            reason,
        },
        other => other,
    })?;
    let file_name = out.file_name().ok_or_else(|| Error::Io {
        path: out.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "output path has no file name"),
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = out.with_file_name(tmp_name);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    std::fs::write(&tmp, &archive.bytes).map_err(io(&tmp))?;
    if let Err(e) = std::fs::rename(&tmp, out) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(out)(e));
    }
    Ok(archive.digests)
}

#[cfg(test)]
mod tests;
