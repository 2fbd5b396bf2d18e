//! The one error type of this crate.

use std::path::PathBuf;

/// Why an image could not be built or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the busybox binary or writing the tarball failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Building a tar stream in memory failed (only a path or link name the tar
    /// format cannot hold gets here).
    #[error("building tar entry {entry}: {source}")]
    Tar {
        entry: String,
        #[source]
        source: std::io::Error,
    },
    /// The image name is not something containerd would accept as a reference.
    #[error("invalid image name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    /// The spec is internally inconsistent (an exposed port such as "http").
    #[error("invalid image spec: {0}")]
    InvalidSpec(String),
    /// The host CPU has no OCI architecture name we know.
    #[error("no OCI architecture name for host CPU {0:?}")]
    UnsupportedArch(&'static str),
    /// The given busybox would not run in an image with nothing else in it.
    #[error("{path}: {reason}; install a static busybox (Debian: busybox-static)")]
    NotStaticBusybox { path: PathBuf, reason: &'static str },
    /// Serialising a JSON document failed; cannot happen for the values built here,
    /// but is reported rather than unwrapped.
    #[error("encoding JSON: {0}")]
    Json(#[from] serde_json::Error),
}
