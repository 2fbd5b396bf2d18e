//! The on-disk layout: redb tables, how records are encoded, and redb error mapping.
//!
//! - `history`: `(key, mod_revision) -> record`, every retained version of every key,
//!   including delete markers ("tombstones"), so a read at revision N finds the newest
//!   record of a key at or before N with one ordered lookup.
//! - `latest`: `key -> mod_revision` of every live key, so reads at the current revision
//!   scan only live keys.
//! - `log`: `revision -> keys changed`, so watches replay in revision order and compaction
//!   knows what to discard.
//! - `meta`: the current and compaction revisions, compaction progress, format version,
//!   and whether the store is open (to detect unclean shutdowns).
//!
//! A record is `create_revision (u64 LE) | version (u64 LE) | value`; version 0 marks a
//! tombstone. A log entry is a sequence of `length (u32 LE) | key bytes`.

use bytes::Bytes;
use redb::TableDefinition;

use crate::types::{KeyValue, Revision, StoreError};

/// Every retained version of every key.
pub(super) const HISTORY: TableDefinition<'_, (&str, u64), &[u8]> = TableDefinition::new("history");
/// The revision of the live version of each existing key.
pub(super) const LATEST: TableDefinition<'_, &str, u64> = TableDefinition::new("latest");
/// The keys each revision changed.
pub(super) const LOG: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("log");
/// Store-wide counters.
pub(super) const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");

/// `meta` key: layout version of this file.
pub(super) const FORMAT_VERSION: &str = "format_version";
/// `meta` key: the current revision.
pub(super) const CURRENT: &str = "current_revision";
/// `meta` key: the compaction revision (reads before it fail).
pub(super) const COMPACTED: &str = "compacted_revision";
/// `meta` key: history up to this revision has been physically discarded.
pub(super) const COMPACT_PROGRESS: &str = "compact_progress";

/// `meta` key: 1 while a process has the store open, 0 after a clean close.
pub(super) const OPEN: &str = "open";

/// The layout version this code writes and understands.
pub(super) const FORMAT: u64 = 1;

const HEADER: usize = 16;

/// A decoded `history` record.
#[derive(Debug, Clone, Copy)]
pub(super) struct Record<'a> {
    pub create_revision: Revision,
    /// 0 for a tombstone.
    pub version: u64,
    pub value: &'a [u8],
}

impl<'a> Record<'a> {
    /// Decodes a stored record; a short record means the file is damaged.
    pub(super) fn decode(bytes: &'a [u8]) -> Result<Self, StoreError> {
        let (Some(create), Some(version)) = (read_u64(bytes, 0), read_u64(bytes, 8)) else {
            return Err(StoreError::Corrupt(format!(
                "history record of {} bytes is shorter than its {HEADER}-byte header",
                bytes.len()
            )));
        };
        Ok(Self {
            create_revision: create,
            version,
            value: &bytes[HEADER..],
        })
    }

    /// Whether this record marks a delete.
    pub(super) fn is_tombstone(&self) -> bool {
        self.version == 0
    }

    /// The key-value this record describes, or `None` for a tombstone.
    pub(super) fn to_kv(self, key: &str, mod_revision: Revision) -> Option<KeyValue> {
        (!self.is_tombstone()).then(|| KeyValue {
            key: key.to_string(),
            value: Bytes::copy_from_slice(self.value),
            create_revision: self.create_revision,
            mod_revision,
            version: self.version,
        })
    }
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let raw: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(raw))
}

/// Encodes a live record.
pub(super) fn encode_record(kv: &KeyValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + kv.value.len());
    out.extend_from_slice(&kv.create_revision.to_le_bytes());
    out.extend_from_slice(&kv.version.to_le_bytes());
    out.extend_from_slice(&kv.value);
    out
}

/// The record of a delete.
pub(super) const TOMBSTONE: [u8; HEADER] = [0; HEADER];

/// Encodes the keys one revision changed.
pub(super) fn encode_log<'k>(keys: impl Iterator<Item = &'k str>) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    for key in keys {
        let len = u32::try_from(key.len())
            .map_err(|_| StoreError::Backend(format!("key of {} bytes is too long", key.len())))?;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(key.as_bytes());
    }
    Ok(out)
}

/// Decodes a log entry written by [`encode_log`].
pub(super) fn decode_log(revision: Revision, mut bytes: &[u8]) -> Result<Vec<String>, StoreError> {
    let damaged = || StoreError::Corrupt(format!("log entry of revision {revision} is damaged"));
    let mut keys = Vec::new();
    while !bytes.is_empty() {
        let len: [u8; 4] = bytes
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(damaged)?;
        let len = u32::from_le_bytes(len) as usize;
        let key = bytes.get(4..4 + len).ok_or_else(damaged)?;
        keys.push(String::from_utf8(key.to_vec()).map_err(|_| damaged())?);
        bytes = &bytes[4 + len..];
    }
    Ok(keys)
}

/// Maps a redb failure: a checksum or structure failure is `Corrupt` with what to do about
/// it, anything else a `Backend` error.
pub(super) fn storage(error: impl Into<redb::Error>) -> StoreError {
    match error.into() {
        redb::Error::Corrupted(detail) => StoreError::Corrupt(format!(
            "{detail}; restore the data directory from a backup, or move the store file aside \
             to start empty (all cluster state in it is lost)"
        )),
        other => StoreError::Backend(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip() {
        let kv = KeyValue {
            key: "k".into(),
            value: Bytes::from_static(b"value"),
            create_revision: 3,
            mod_revision: 7,
            version: 2,
        };
        let bytes = encode_record(&kv);
        let record = Record::decode(&bytes).expect("decode");
        assert_eq!(record.to_kv("k", 7), Some(kv));
        assert!(Record::decode(&TOMBSTONE).expect("decode").is_tombstone());
        assert!(Record::decode(&[1, 2, 3]).is_err());
    }

    #[test]
    fn log_round_trip() {
        let bytes = encode_log(["a", "", "/registry/pods/x"].into_iter()).expect("encode");
        assert_eq!(
            decode_log(1, &bytes).expect("decode"),
            vec!["a", "", "/registry/pods/x"]
        );
        assert!(decode_log(1, &bytes[..bytes.len() - 1]).is_err());
    }
}
