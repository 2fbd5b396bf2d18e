//! Opening the store file: redb's repair and integrity check, then our own invariants.
//!
//! redb notices an unclean shutdown (a crash, `kill -9`, power loss) by itself and repairs
//! the file while opening it; with `verify_on_open` it also verifies every page checksum,
//! through the same code path. The repair callback set here logs that this runs and how far
//! it got. Because the callback fires for a verification as well, the store keeps its own
//! "open" marker in `meta` (set at open, cleared by a clean close) to tell an operator
//! whether the previous run ended cleanly. After that, this module checks what redb cannot
//! know: that the layout version is one this code understands and that the counters in
//! `meta` agree with the log.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use redb::{Builder, Database, DatabaseError, ReadableTable};

use super::config::EmbeddedConfig;
use super::read::{Meta, read_meta};
use super::tables::{FORMAT, FORMAT_VERSION, OPEN, storage};
use super::write::WriteTables;
use crate::types::StoreError;

/// What an operator can do about a damaged file.
const REMEDY: &str = "restore the data directory from a backup, or move the store file aside to \
                      start with an empty store (all cluster state in it is lost)";

/// An open store file and what opening it found.
pub(super) struct Opened {
    pub db: Database,
    /// The counters as committed.
    pub meta: Meta,
    /// Whether the previous run did not close the file cleanly (so redb recovered it).
    pub unclean: bool,
}

/// Opens (creating if absent) the store file and returns it with its counters.
pub(super) fn open_database(path: &Path, config: &EmbeddedConfig) -> Result<Opened, StoreError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| StoreError::Backend(format!("cannot create directory {}: {e}", parent.display())))?;
    }
    let repair_calls = Arc::new(AtomicU32::new(0));
    let mut builder = Builder::new();
    builder.set_cache_size(config.cache_size);
    builder.set_check_integrity_on_open(config.verify_on_open);
    let calls = Arc::clone(&repair_calls);
    let shown = path.display().to_string();
    builder.set_repair_callback(move |session| {
        if calls.fetch_add(1, Ordering::Relaxed) == 0 {
            tracing::info!(path = %shown, "verifying the store file (checksums, and repair after an unclean shutdown)");
        }
        tracing::debug!(path = %shown, progress = session.progress(), "store file check");
    });
    let started = Instant::now();
    let db = builder.create(path).map_err(|e| open_error(path, e))?;
    if repair_calls.load(Ordering::Relaxed) > 0 {
        tracing::info!(path = %path.display(), elapsed = ?started.elapsed(), "store file verified");
    }
    let (meta, unclean) = init_or_check(&db, path)?;
    if unclean {
        tracing::warn!(
            path = %path.display(),
            revision = meta.current,
            "the store was not closed cleanly (crash, kill or power loss); redb recovered the \
             last durable commit and every acknowledged write"
        );
    }
    tracing::info!(
        path = %path.display(),
        revision = meta.current,
        compacted = meta.compacted,
        verified = config.verify_on_open,
        elapsed = ?started.elapsed(),
        "opened embedded store"
    );
    Ok(Opened { db, meta, unclean })
}

/// Clears the "open" marker: the last commit of a clean close.
pub(super) fn mark_closed(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(storage)?;
    txn.open_table(super::tables::META)
        .map_err(storage)?
        .insert(OPEN, 0)
        .map_err(storage)?;
    txn.commit().map_err(storage)
}

fn open_error(path: &Path, error: DatabaseError) -> StoreError {
    let shown = path.display();
    match error {
        DatabaseError::DatabaseAlreadyOpen | DatabaseError::LockProtocolMismatch => {
            StoreError::Backend(format!(
                "store file {shown} is already open in another process; stop the other krust \
                 server or use another data directory"
            ))
        }
        DatabaseError::UpgradeRequired(version) => StoreError::Corrupt(format!(
            "store file {shown} has redb file format {version}, which this build cannot open; \
             run the krust version that wrote it, or {REMEDY}"
        )),
        DatabaseError::Storage(redb::StorageError::Io(io))
            if io.kind() == std::io::ErrorKind::InvalidData =>
        {
            StoreError::Corrupt(format!(
                "{shown} is not a store file ({io}); point krust at the right data directory, \
                 or {REMEDY}"
            ))
        }
        other => match storage(other) {
            StoreError::Corrupt(detail) => {
                StoreError::Corrupt(format!("store file {shown} failed its integrity check: {detail}"))
            }
            StoreError::Backend(detail) => {
                StoreError::Backend(format!("cannot open store file {shown}: {detail}"))
            }
            mapped => mapped,
        },
    }
}

/// Initialises a new file, or checks an existing one's layout version and counters; then
/// sets the "open" marker. Returns the counters and whether the marker was already set.
fn init_or_check(db: &Database, path: &Path) -> Result<(Meta, bool), StoreError> {
    let txn = db.begin_write().map_err(storage)?;
    let opened = {
        let mut tables = WriteTables::open(&txn)?;
        let format = tables
            .meta
            .get(FORMAT_VERSION)
            .map_err(storage)?
            .map(|v| v.value());
        let opened = match format {
            None if tables.has_data()? => {
                return Err(corrupt(path, "it holds data but no layout version"));
            }
            None => {
                tables.write_meta(Meta::default())?;
                (Meta::default(), false)
            }
            Some(FORMAT) => {
                let meta = read_meta(&tables.meta)?;
                check_counters(&tables, meta).map_err(|what| corrupt(path, &what))?;
                let unclean = tables
                    .meta
                    .get(OPEN)
                    .map_err(storage)?
                    .is_some_and(|v| v.value() != 0);
                (meta, unclean)
            }
            Some(other) => {
                return Err(StoreError::Corrupt(format!(
                    "store file {} has layout version {other}, but this build only knows \
                     {FORMAT}; run the krust version that wrote it, or {REMEDY}",
                    path.display()
                )));
            }
        };
        tables.meta.insert(OPEN, 1).map_err(storage)?;
        opened
    };
    txn.commit().map_err(storage)?;
    Ok(opened)
}

fn corrupt(path: &Path, what: &str) -> StoreError {
    StoreError::Corrupt(format!(
        "store file {} is inconsistent: {what}; {REMEDY}",
        path.display()
    ))
}

/// The invariants between `meta` and the log that every commit preserves.
fn check_counters(tables: &WriteTables<'_>, meta: Meta) -> Result<(), String> {
    let fail = |e: redb::StorageError| format!("reading the log failed: {e}");
    if meta.compacted > meta.current {
        return Err(format!(
            "compaction revision {} is after the current revision {}",
            meta.compacted, meta.current
        ));
    }
    if meta.progress > meta.compacted {
        return Err(format!(
            "compaction progress {} is after the compaction revision {}",
            meta.progress, meta.compacted
        ));
    }
    if let Some((last, _)) = tables.log.last().map_err(fail)? {
        let last = last.value();
        if last > meta.current {
            return Err(format!(
                "the log has revision {last} but the current revision is {}",
                meta.current
            ));
        }
    }
    if let Some((first, _)) = tables.log.first().map_err(fail)? {
        let first = first.value();
        if first <= meta.progress {
            return Err(format!(
                "the log still has revision {first}, which compaction up to {} discarded",
                meta.progress
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::exec::WriteState;
    use crate::types::{Event, EventKind, KeyValue};

    fn config() -> EmbeddedConfig {
        EmbeddedConfig {
            cache_size: 1 << 20,
            ..EmbeddedConfig::default()
        }
    }

    /// Creates a store file holding one key at revision 1, then lets `tamper` edit it.
    fn file_with(tamper: impl FnOnce(&mut WriteTables<'_>)) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("store.redb");
        let opened = open_database(&path, &config()).expect("create");
        assert!(!opened.unclean);
        let txn = opened.db.begin_write().expect("write");
        {
            let mut tables = WriteTables::open(&txn).expect("tables");
            let kv = KeyValue {
                key: "/a".into(),
                value: Bytes::from_static(b"1"),
                create_revision: 1,
                mod_revision: 1,
                version: 1,
            };
            tables.put(&kv).expect("put");
            let event = Event {
                kind: EventKind::Put,
                kv,
                prev: None,
            };
            tables.append_log(1, &[event]).expect("log");
            tables
                .write_meta(Meta {
                    current: 1,
                    ..Meta::default()
                })
                .expect("meta");
            tamper(&mut tables);
        }
        txn.commit().expect("commit");
        mark_closed(&opened.db).expect("close");
        (dir, path)
    }

    fn open_error(tamper: impl FnOnce(&mut WriteTables<'_>)) -> String {
        let (_dir, path) = file_with(tamper);
        match open_database(&path, &config()) {
            Ok(_) => panic!("tampered file opened"),
            Err(StoreError::Corrupt(message)) => message,
            Err(other) => panic!("expected Corrupt, got {other}"),
        }
    }

    #[test]
    fn intact_file_reopens_with_its_counters() {
        let (_dir, path) = file_with(|_| {});
        let opened = open_database(&path, &config()).expect("reopen");
        assert_eq!(
            opened.meta,
            Meta {
                current: 1,
                ..Meta::default()
            }
        );
        assert!(!opened.unclean);
        drop(opened);
        // Not marked closed this time: the next open reports it.
        assert!(open_database(&path, &config()).expect("reopen").unclean);
    }

    #[test]
    fn current_revision_behind_the_log_is_corrupt() {
        let message = open_error(|tables| {
            tables
                .meta
                .insert(super::super::tables::CURRENT, 0)
                .expect("tamper");
        });
        assert!(
            message.contains("the log has revision 1 but the current revision is 0"),
            "{message}"
        );
        assert!(message.contains("backup"), "says what to do: {message}");
    }

    #[test]
    fn unknown_layout_version_is_corrupt() {
        let message = open_error(|tables| {
            tables.meta.insert(FORMAT_VERSION, 99).expect("tamper");
        });
        assert!(message.contains("layout version 99"), "{message}");
    }

    #[test]
    fn data_without_layout_version_is_corrupt() {
        let message = open_error(|tables| {
            tables.meta.remove(FORMAT_VERSION).expect("tamper");
        });
        assert!(message.contains("no layout version"), "{message}");
    }

    #[test]
    fn compaction_ahead_of_current_is_corrupt() {
        let message = open_error(|tables| {
            tables
                .meta
                .insert(super::super::tables::COMPACTED, 5)
                .expect("tamper");
        });
        assert!(message.contains("compaction revision 5"), "{message}");
    }
}
