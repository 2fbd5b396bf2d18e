//! The image's only layer: a busybox root file system as an uncompressed tar.
//!
//! Every header field that could vary between builds (mtime, owner names, order) is
//! fixed, so the same busybox always gives the same layer digest and containerd
//! sees a rebuilt image as the one it already has.

use crate::{APPLETS, Error};
use tar::{EntryType, Header};

/// The mtime of every entry. Zero (1970) is what reproducible-build tools use
/// for "no meaningful time".
pub(crate) const MTIME: u64 = 0;

/// Directories in the image, parents before children, with their modes. `/tmp` is
/// sticky and world-writable so a non-root container user can use it; `/proc`,
/// `/sys` and `/dev` exist as mount points for the runtime.
const DIRS: &[(&str, u32)] = &[
    ("bin", 0o755),
    ("dev", 0o755),
    ("etc", 0o755),
    ("home", 0o755),
    ("proc", 0o555),
    ("root", 0o700),
    ("sys", 0o555),
    ("tmp", 0o1777),
    ("usr", 0o755),
    ("usr/bin", 0o755),
    ("usr/sbin", 0o755),
    ("var", 0o755),
    ("var/run", 0o755),
    ("var/www", 0o755),
];

/// `root` and `nobody` (65534, the uid Kubernetes users pick for "unprivileged").
const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                      nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnobody:x:65534:\n";

/// Builds the layer tar for `busybox` (the bytes of a static busybox executable).
pub(crate) fn layer_tar(busybox: &[u8]) -> Result<Vec<u8>, Error> {
    let mut tar = Tar::default();
    for (dir, mode) in DIRS {
        tar.dir(dir, *mode)?;
    }
    tar.file("bin/busybox", 0o755, busybox)?;
    for applet in APPLETS {
        tar.symlink(&format!("bin/{applet}"), "busybox")?;
    }
    // Scripts written for other distributions start with `#!/usr/bin/env sh`.
    tar.symlink("usr/bin/env", "../../bin/busybox")?;
    tar.file("etc/passwd", 0o644, PASSWD.as_bytes())?;
    tar.file("etc/group", 0o644, GROUP.as_bytes())?;
    tar.finish()
}

/// A deterministic in-memory tar writer: root-owned entries, fixed mtime, ustar
/// headers (no PAX extensions whose content could vary).
pub(crate) struct Tar {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for Tar {
    fn default() -> Tar {
        Tar {
            builder: tar::Builder::new(Vec::new()),
        }
    }
}

impl Tar {
    fn header(kind: EntryType, mode: u32, size: u64) -> Header {
        let mut h = Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(MTIME);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    fn err(entry: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
        move |source| Error::Tar {
            entry: entry.to_string(),
            source,
        }
    }

    pub(crate) fn dir(&mut self, path: &str, mode: u32) -> Result<(), Error> {
        let mut h = Self::header(EntryType::Directory, mode, 0);
        self.builder
            .append_data(&mut h, format!("{path}/"), std::io::empty())
            .map_err(Self::err(path))
    }

    pub(crate) fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> Result<(), Error> {
        let size = u64::try_from(data.len()).map_err(|_| Error::InvalidSpec(format!("{path} too large")))?;
        let mut h = Self::header(EntryType::Regular, mode, size);
        self.builder
            .append_data(&mut h, path, data)
            .map_err(Self::err(path))
    }

    pub(crate) fn symlink(&mut self, path: &str, target: &str) -> Result<(), Error> {
        let mut h = Self::header(EntryType::Symlink, 0o777, 0);
        self.builder
            .append_link(&mut h, path, target)
            .map_err(Self::err(path))
    }

    pub(crate) fn finish(self) -> Result<Vec<u8>, Error> {
        self.builder.into_inner().map_err(Self::err("end of archive"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::io::Read;

    /// path -> (kind, mode, link target or contents)
    fn entries(tar_bytes: &[u8]) -> BTreeMap<String, (EntryType, u32, Vec<u8>)> {
        let mut out = BTreeMap::new();
        let mut ar = tar::Archive::new(tar_bytes);
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string();
            let h = e.header().clone();
            assert_eq!(h.mtime().unwrap(), MTIME, "{path}");
            assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0), "{path}");
            let body = match h.entry_type() {
                EntryType::Symlink => h.link_name_bytes().unwrap().into_owned(),
                _ => {
                    let mut v = Vec::new();
                    e.read_to_end(&mut v).unwrap();
                    v
                }
            };
            assert!(
                out.insert(path.clone(), (h.entry_type(), h.mode().unwrap(), body))
                    .is_none(),
                "duplicate {path}"
            );
        }
        out
    }

    #[test]
    fn layout_of_root_file_system() {
        let fake = b"\x7fELF pretend busybox";
        let e = entries(&layer_tar(fake).unwrap());
        assert_eq!(e["bin/busybox"], (EntryType::Regular, 0o755, fake.to_vec()));
        for applet in ["sh", "httpd", "nc", "tar", "sleep", "cat", "wget", "timeout", "["] {
            assert_eq!(
                e[&format!("bin/{applet}")],
                (EntryType::Symlink, 0o777, b"busybox".to_vec())
            );
        }
        assert_eq!(e["usr/bin/env"].2, b"../../bin/busybox");
        assert_eq!(e["tmp"].0, EntryType::Directory);
        assert_eq!(e["tmp"].1, 0o1777);
        for d in ["proc", "sys", "dev", "etc", "var/www"] {
            assert_eq!(e[d].0, EntryType::Directory, "{d}");
        }
        let passwd = String::from_utf8(e["etc/passwd"].2.clone()).unwrap();
        assert!(passwd.lines().any(|l| l.starts_with("root:x:0:0:")));
        assert!(passwd.lines().any(|l| l.starts_with("nobody:x:65534:65534:")));
        let group = String::from_utf8(e["etc/group"].2.clone()).unwrap();
        assert!(group.contains("nobody:x:65534:"));
    }

    #[test]
    fn parents_come_before_children() {
        let tar_bytes = layer_tar(b"x").unwrap();
        let mut seen = std::collections::HashSet::new();
        let mut ar = tar::Archive::new(tar_bytes.as_slice());
        for e in ar.entries().unwrap() {
            let path = e.unwrap().path().unwrap().into_owned();
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                assert!(seen.contains(parent), "{} before its parent", path.display());
            }
            seen.insert(path);
        }
    }

    #[test]
    fn deterministic() {
        assert_eq!(layer_tar(b"same").unwrap(), layer_tar(b"same").unwrap());
        assert_ne!(layer_tar(b"same").unwrap(), layer_tar(b"other").unwrap());
    }
}
