//! Reads: each one runs in its own short redb read transaction (an MVCC snapshot), so it
//! never waits for the writer and never pins old pages for long.
//!
//! A read at the current revision scans `latest` (live keys only). A read at an older
//! revision walks the distinct keys of `history` in the span, with one ordered lookup per
//! key for its newest record at or before that revision: the cost grows with the number of
//! keys in the span, not with the number of versions they have.

use std::ops::Bound;

use redb::{Database, ReadableDatabase, ReadableTable};

use super::tables::{
    COMPACT_PROGRESS, COMPACTED, CURRENT, HISTORY, LATEST, LOG, META, Record, decode_log, storage,
};
use crate::exec::delete_event;
use crate::request::{self, KeySpan};
use crate::types::{Event, EventKind, KeyValue, RangeRequest, RangeResponse, Revision, StoreError};
use crate::watch::{Replay, scan_limit};

/// The store-wide counters as of one snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Meta {
    /// The current revision.
    pub current: Revision,
    /// The compaction revision.
    pub compacted: Revision,
    /// History up to this revision has been physically discarded.
    pub progress: Revision,
}

/// Reads the counters from a `meta` table (absent counters are 0).
pub(super) fn read_meta(meta: &impl ReadableTable<&'static str, u64>) -> Result<Meta, StoreError> {
    let get = |name: &str| -> Result<u64, StoreError> {
        Ok(meta.get(name).map_err(storage)?.map_or(0, |v| v.value()))
    };
    Ok(Meta {
        current: get(CURRENT)?,
        compacted: get(COMPACTED)?,
        progress: get(COMPACT_PROGRESS)?,
    })
}

/// The value of `key` at `revision`: its newest record at or before it, unless that is a
/// tombstone.
pub(super) fn kv_at(
    history: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    key: &str,
    revision: Revision,
) -> Result<Option<KeyValue>, StoreError> {
    let mut versions = history.range((key, 0)..=(key, revision)).map_err(storage)?;
    let Some(entry) = versions.next_back() else {
        return Ok(None);
    };
    let (k, record) = entry.map_err(storage)?;
    let mod_revision = k.value().1;
    Ok(Record::decode(record.value())?.to_kv(key, mod_revision))
}

/// The live value of `key`, found through `latest`.
pub(super) fn latest_kv(
    latest: &impl ReadableTable<&'static str, u64>,
    history: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    key: &str,
) -> Result<Option<KeyValue>, StoreError> {
    let Some(revision) = latest.get(key).map_err(storage)?.map(|v| v.value()) else {
        return Ok(None);
    };
    let record = history.get((key, revision)).map_err(storage)?.ok_or_else(|| {
        StoreError::Corrupt(format!(
            "key {key:?} has no history record for revision {revision}"
        ))
    })?;
    let kv = Record::decode(record.value())?.to_kv(key, revision);
    kv.map(Some).ok_or_else(|| {
        StoreError::Corrupt(format!("live key {key:?} points at a delete record ({revision})"))
    })
}

/// The latest value of one key.
pub(super) fn get(db: &Database, key: &str) -> Result<Option<KeyValue>, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    let latest = txn.open_table(LATEST).map_err(storage)?;
    let history = txn.open_table(HISTORY).map_err(storage)?;
    latest_kv(&latest, &history, key)
}

/// A range read at the latest or an older revision.
pub(super) fn range(db: &Database, req: &RangeRequest) -> Result<RangeResponse, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    let meta = read_meta(&txn.open_table(META).map_err(storage)?)?;
    let revision = request::read_revision(req.revision, meta.current, meta.compacted)?;
    let mut response = RangeResponse {
        kvs: Vec::new(),
        more: false,
        revision,
    };
    let Some(span) = KeySpan::of(req) else {
        return Ok(response);
    };
    let limit = request::limit(req);
    let history = txn.open_table(HISTORY).map_err(storage)?;
    let mut push = |kv: KeyValue| {
        if response.kvs.len() == limit {
            response.more = true;
            return false;
        }
        response.kvs.push(kv);
        true
    };
    if revision == meta.current {
        let latest = txn.open_table(LATEST).map_err(storage)?;
        for entry in latest
            .range::<&str>((Bound::Included(span.start), span.end))
            .map_err(storage)?
        {
            let (key, _) = entry.map_err(storage)?;
            let kv = latest_kv(&latest, &history, key.value())?;
            if let Some(kv) = kv
                && !push(kv)
            {
                break;
            }
        }
    } else {
        walk_keys_at(&history, span, revision, push)?;
    }
    Ok(response)
}

/// Calls `visit` with the value at `revision` of each key in `span` that existed then, in
/// key order, until it returns false.
fn walk_keys_at(
    history: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    span: KeySpan<'_>,
    revision: Revision,
    mut visit: impl FnMut(KeyValue) -> bool,
) -> Result<(), StoreError> {
    let upper = match span.end {
        Bound::Included(end) => Bound::Included((end, u64::MAX)),
        Bound::Excluded(end) => Bound::Excluded((end, 0)),
        Bound::Unbounded => Bound::Unbounded,
    };
    let mut after: Option<String> = None;
    loop {
        let lower = match &after {
            None => Bound::Included((span.start, 0)),
            Some(key) => Bound::Excluded((key.as_str(), u64::MAX)),
        };
        // The first record of the next key: its oldest retained version.
        let (key, oldest) = {
            let mut records = history.range((lower, upper)).map_err(storage)?;
            let Some(entry) = records.next() else {
                return Ok(());
            };
            let (k, _) = entry.map_err(storage)?;
            let (key, oldest) = k.value();
            (key.to_string(), oldest)
        };
        if oldest <= revision
            && let Some(kv) = kv_at(history, &key, revision)?
            && !visit(kv)
        {
            return Ok(());
        }
        after = Some(key);
    }
}

/// Events after a revision for a prefix (see [`crate::watch::EventSource`]).
pub(super) fn events_after(
    db: &Database,
    prefix: &str,
    after: Revision,
    max_events: usize,
) -> Result<Replay, StoreError> {
    let txn = db.begin_read().map_err(storage)?;
    let meta = read_meta(&txn.open_table(META).map_err(storage)?)?;
    request::watch_start(after, meta.current, meta.compacted)?;
    let log = txn.open_table(LOG).map_err(storage)?;
    let history = txn.open_table(HISTORY).map_err(storage)?;
    let mut replay = Replay {
        through: after,
        ..Replay::default()
    };
    for (scanned, entry) in log.range(after + 1..).map_err(storage)?.enumerate() {
        if replay.events.len() >= max_events || scanned >= scan_limit(max_events) {
            return Ok(replay);
        }
        let (revision, keys) = entry.map_err(storage)?;
        let revision = revision.value();
        for key in decode_log(revision, keys.value())? {
            if key.starts_with(prefix) {
                replay.events.push(event_at(&history, &key, revision)?);
            }
        }
        replay.through = revision;
    }
    replay.through = meta.current;
    replay.complete = true;
    Ok(replay)
}

/// Rebuilds the event that changed `key` at `revision`, with the value before it.
fn event_at(
    history: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    key: &str,
    revision: Revision,
) -> Result<Event, StoreError> {
    let record = history.get((key, revision)).map_err(storage)?.ok_or_else(|| {
        StoreError::Corrupt(format!(
            "the log names key {key:?} at revision {revision} but its history has no record"
        ))
    })?;
    let prev = kv_at(history, key, revision - 1)?;
    Ok(match Record::decode(record.value())?.to_kv(key, revision) {
        Some(kv) => Event {
            kind: EventKind::Put,
            kv,
            prev,
        },
        None => delete_event(key, revision, prev),
    })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::embedded::config::EmbeddedConfig;
    use crate::embedded::open::open_database;
    use crate::embedded::write::WriteTables;
    use crate::exec;
    use crate::types::{Op, Txn};

    /// A store with revisions 1..=20: `/rare/x` written at 15 and deleted at 18, `/often/x`
    /// written at every other revision.
    fn database() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = EmbeddedConfig {
            cache_size: 1 << 20,
            ..EmbeddedConfig::default()
        };
        let db = open_database(&dir.path().join("s.redb"), &config)
            .expect("open")
            .db;
        let txn = db.begin_write().expect("write");
        {
            let mut tables = WriteTables::open(&txn).expect("tables");
            let mut meta = Meta::default();
            for rev in 1..=20 {
                let op = match rev {
                    15 => Op::Put("/rare/x".into(), Bytes::from_static(b"v")),
                    18 => Op::Delete("/rare/x".into()),
                    _ => Op::Put("/often/x".into(), Bytes::from(rev.to_string())),
                };
                let txn = Txn {
                    success: vec![op],
                    ..Txn::default()
                };
                let applied = exec::apply(&mut tables, &txn, meta.current).expect("apply");
                tables.append_log(rev, &applied.events).expect("log");
                meta.current = rev;
            }
            tables.write_meta(meta).expect("meta");
        }
        txn.commit().expect("commit");
        (dir, db)
    }

    #[test]
    fn replay_of_a_rare_prefix_is_read_in_bounded_steps() {
        let (_dir, db) = database();
        let mut after = 0;
        let mut found = Vec::new();
        loop {
            let replay = events_after(&db, "/rare/", after, 1).expect("replay");
            assert!(replay.through - after <= scan_limit(1) as u64);
            found.extend(replay.events);
            after = replay.through;
            if replay.complete {
                break;
            }
        }
        assert_eq!(after, 20);
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].kind, found[0].kv.mod_revision), (EventKind::Put, 15));
        assert_eq!(found[1].kv.mod_revision, 18);
        assert_eq!(found[1].prev.as_ref().map(|p| p.mod_revision), Some(15));
    }

    #[test]
    fn reads_at_every_revision_see_that_revision() {
        let (_dir, db) = database();
        let all = |revision| RangeRequest {
            start: "/".into(),
            end: "0".into(),
            revision: Some(revision),
            limit: None,
        };
        let at = |revision| range(&db, &all(revision)).expect("range").kvs;
        assert_eq!(at(14).iter().map(|kv| kv.mod_revision).collect::<Vec<_>>(), [14]);
        let at16: Vec<_> = at(16)
            .iter()
            .map(|kv| (kv.key.clone(), kv.mod_revision))
            .collect();
        assert_eq!(at16, [("/often/x".to_string(), 16), ("/rare/x".to_string(), 15)]);
        assert_eq!(at(18).len(), 1);
        assert_eq!(
            at(20)[0].version,
            18,
            "/often/x was written at 18 of the 20 revisions"
        );
        assert!(matches!(
            range(&db, &all(21)),
            Err(StoreError::FutureRevision { .. })
        ));
    }
}
