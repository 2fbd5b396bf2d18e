//! Writes a volume's files so that a running container sees either the old set or the
//! new one, never a mix: each version goes into its own hidden directory, `..data` is a
//! symlink to the current one (replaced by rename), and each top-level name is a symlink
//! through `..data`. This is the layout upstream's kubelet uses, so applications that
//! watch for `..data` changes work unchanged.

use std::collections::BTreeSet;
use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use super::content::File;

const DATA: &str = "..data";
const DATA_TMP: &str = "..data_tmp";

/// Whether `dir` already shows exactly `files`.
fn unchanged(dir: &Path, files: &[File]) -> bool {
    let current = dir.join(DATA);
    if !current.exists() {
        return false;
    }
    let mut count = 0usize;
    let same = files.iter().all(|f| {
        let p = current.join(&f.path);
        let mode_ok = std::fs::metadata(&p).is_ok_and(|m| m.permissions().mode() & 0o777 == f.mode);
        mode_ok && std::fs::read(&p).is_ok_and(|d| d == f.data)
    });
    if !same {
        return false;
    }
    // No file left over from an earlier version.
    fn walk(d: &Path, count: &mut usize) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, count);
            } else {
                *count += 1;
            }
        }
    }
    walk(&current, &mut count);
    count == files.len()
}

/// Makes `dir` show `files`; returns whether anything changed.
pub(crate) fn write_atomic(dir: &Path, files: &[File], version: u64) -> io::Result<bool> {
    std::fs::create_dir_all(dir)?;
    if unchanged(dir, files) {
        return Ok(false);
    }
    let name = format!("..{version}");
    let version_dir = dir.join(&name);
    let _ = std::fs::remove_dir_all(&version_dir);
    std::fs::create_dir_all(&version_dir)?;
    for f in files {
        let p = version_dir.join(&f.path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, &f.data)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(f.mode))?;
    }
    let old = std::fs::read_link(dir.join(DATA)).ok();
    let tmp = dir.join(DATA_TMP);
    let _ = std::fs::remove_file(&tmp);
    symlink(&name, &tmp)?;
    std::fs::rename(&tmp, dir.join(DATA))?;
    let top: BTreeSet<String> = files
        .iter()
        .filter_map(|f| f.path.split('/').next().map(str::to_string))
        .collect();
    for t in &top {
        let link = dir.join(t);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(Path::new(DATA).join(t), &link)?;
        }
    }
    // Links to names the new version no longer has, and the old version, go.
    for e in std::fs::read_dir(dir)?.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if !n.starts_with("..") && !top.contains(&n) && e.file_type().is_ok_and(|t| t.is_symlink()) {
            std::fs::remove_file(e.path())?;
        }
    }
    if let Some(old) = old.filter(|o| o.as_os_str() != name.as_str()) {
        let _ = std::fs::remove_dir_all(dir.join(old));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(path: &str, data: &str) -> File {
        File {
            path: path.into(),
            data: data.as_bytes().to_vec(),
            mode: 0o644,
        }
    }

    #[test]
    fn versions_swap_atomically_and_stale_names_go() {
        let dir = std::env::temp_dir().join(format!("krust-atomic-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(write_atomic(&dir, &[f("a", "1"), f("sub/b", "2")], 1).unwrap());
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(dir.join("sub/b")).unwrap(), "2");
        assert!(
            !write_atomic(&dir, &[f("a", "1"), f("sub/b", "2")], 2).unwrap(),
            "same content: no write"
        );
        assert!(write_atomic(&dir, &[f("a", "changed")], 3).unwrap());
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "changed");
        assert!(
            std::fs::symlink_metadata(dir.join("sub")).is_err(),
            "stale link removed"
        );
        assert!(!dir.join("..1").exists(), "old version removed");
        assert_eq!(std::fs::read_link(dir.join("..data")).unwrap(), Path::new("..3"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
