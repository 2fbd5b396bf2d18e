//! The tables of one redb write transaction, as the writer thread changes them.

use redb::{ReadableTableMetadata, Table, WriteTransaction};

use super::read::{Meta, latest_kv};
use super::tables::{
    COMPACT_PROGRESS, COMPACTED, CURRENT, FORMAT, FORMAT_VERSION, HISTORY, LATEST, LOG, META, TOMBSTONE,
    encode_log, encode_record, storage,
};
use crate::exec::WriteState;
use crate::types::{Event, KeyValue, Revision, StoreError};

/// Every table, opened for writing in one transaction.
pub(super) struct WriteTables<'t> {
    pub history: Table<'t, (&'static str, u64), &'static [u8]>,
    pub latest: Table<'t, &'static str, u64>,
    pub log: Table<'t, u64, &'static [u8]>,
    pub meta: Table<'t, &'static str, u64>,
}

impl<'t> WriteTables<'t> {
    /// Opens (creating if needed) every table in `txn`.
    pub(super) fn open(txn: &'t WriteTransaction) -> Result<Self, StoreError> {
        Ok(Self {
            history: txn.open_table(HISTORY).map_err(storage)?,
            latest: txn.open_table(LATEST).map_err(storage)?,
            log: txn.open_table(LOG).map_err(storage)?,
            meta: txn.open_table(META).map_err(storage)?,
        })
    }

    /// Records which keys a committed revision changed, for watches and compaction.
    pub(super) fn append_log(&mut self, revision: Revision, events: &[Event]) -> Result<(), StoreError> {
        let entry = encode_log(events.iter().map(|e| e.kv.key.as_str()))?;
        self.log.insert(revision, entry.as_slice()).map_err(storage)?;
        Ok(())
    }

    /// Writes the store-wide counters.
    pub(super) fn write_meta(&mut self, meta: Meta) -> Result<(), StoreError> {
        for (name, value) in [
            (FORMAT_VERSION, FORMAT),
            (CURRENT, meta.current),
            (COMPACTED, meta.compacted),
            (COMPACT_PROGRESS, meta.progress),
        ] {
            self.meta.insert(name, value).map_err(storage)?;
        }
        Ok(())
    }

    /// Whether the store holds any key, log entry or history (used to tell a new file from a
    /// damaged one).
    pub(super) fn has_data(&self) -> Result<bool, StoreError> {
        Ok(!self.history.is_empty().map_err(storage)?
            || !self.latest.is_empty().map_err(storage)?
            || !self.log.is_empty().map_err(storage)?)
    }
}

impl WriteState for WriteTables<'_> {
    fn latest(&mut self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        latest_kv(&self.latest, &self.history, key)
    }

    fn put(&mut self, kv: &KeyValue) -> Result<(), StoreError> {
        let record = encode_record(kv);
        self.history
            .insert((kv.key.as_str(), kv.mod_revision), record.as_slice())
            .map_err(storage)?;
        self.latest
            .insert(kv.key.as_str(), kv.mod_revision)
            .map_err(storage)?;
        Ok(())
    }

    fn delete(&mut self, key: &str, revision: Revision) -> Result<(), StoreError> {
        self.history
            .insert((key, revision), TOMBSTONE.as_slice())
            .map_err(storage)?;
        self.latest.remove(key).map_err(storage)?;
        Ok(())
    }
}
