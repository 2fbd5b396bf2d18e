//! Crash-safe file writes with explicit permissions.
//!
//! A half-written key or kubeconfig after a power cut would stop the server from starting (or,
//! worse, make it create a new CA), so every file is written to a temporary sibling, flushed to
//! disk, and renamed over the target; the directory is then synced so the rename itself survives.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::PkiError;

/// Mode for private keys and kubeconfigs: readable by the owner only.
pub(crate) const SECRET_MODE: u32 = 0o600;
/// Mode for certificates, which are public.
pub(crate) const PUBLIC_MODE: u32 = 0o644;
/// Mode for directories we create to hold secrets.
const DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents; only directories created here get mode 0700.
pub(crate) fn create_dir_all(dir: &Path) -> Result<(), PkiError> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| PkiError::io("creating directory", dir, e))
}

/// Atomically replaces `path` with `contents`, with permission bits `mode`.
///
/// Missing parent directories are created. On error the target is left as it was.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);

    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_dir_all(&parent)?;
    let name = path
        .file_name()
        .ok_or_else(|| PkiError::io("writing", path, ErrorKind::InvalidInput.into()))?;
    let tmp = parent.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));

    let result = write_new_file(&tmp, contents, mode)
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| PkiError::io("renaming into place", path, e)));
    if result.is_err() {
        // Best effort: the temporary file is garbage now, and the original error matters more.
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Make the rename durable. Some file systems refuse to fsync a directory; the data itself is
    // already safe then, so that is not worth failing start-up for.
    if let Ok(dir) = File::open(&parent) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn write_new_file(tmp: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(tmp)
        .map_err(|e| PkiError::io("creating", tmp, e))?;
    // The umask may have removed bits from `mode`; set it exactly (it never adds any for keys).
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| PkiError::io("setting permissions of", tmp, e))?;
    file.write_all(contents)
        .map_err(|e| PkiError::io("writing", tmp, e))?;
    file.sync_all().map_err(|e| PkiError::io("syncing", tmp, e))
}

/// Reads a UTF-8 file, returning `None` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, PkiError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PkiError::io("reading", path, e)),
    }
}

/// Removes group and other permissions from an existing secret file, warning when it had any.
///
/// Keys copied around by hand (or restored from a backup) often end up world-readable.
pub(crate) fn tighten_secret_mode(path: &Path) -> Result<(), PkiError> {
    let meta = fs::metadata(path).map_err(|e| PkiError::io("inspecting", path, e))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "private key was readable by others; setting mode 0600");
        fs::set_permissions(path, fs::Permissions::from_mode(SECRET_MODE))
            .map_err(|e| PkiError::io("setting permissions of", path, e))?;
    }
    Ok(())
}
