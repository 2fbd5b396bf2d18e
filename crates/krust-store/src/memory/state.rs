//! The memory backend's data: every version of every key, and the events of each revision.

use std::collections::BTreeMap;

use crate::exec::WriteState;
use crate::request::{self, KeySpan};
use crate::types::{Event, KeyValue, RangeRequest, RangeResponse, Revision, StoreError};
use crate::watch::{Replay, scan_limit};

/// One version of a key: its value, or `None` for the delete that ended it.
type Version = (Revision, Option<KeyValue>);

/// All history kept in memory; guarded by one lock in [`super::MemoryStore`].
#[derive(Debug, Default)]
pub(super) struct State {
    /// Versions of each key in revision order (oldest first).
    keys: BTreeMap<String, Vec<Version>>,
    /// The events of each revision that changed something.
    log: BTreeMap<Revision, Vec<Event>>,
    /// The current revision.
    pub current: Revision,
    /// The compaction revision.
    pub compacted: Revision,
}

impl State {
    /// Records a committed revision's events (the key versions are already written).
    pub(super) fn commit(&mut self, revision: Revision, events: Vec<Event>) {
        self.current = revision;
        self.log.insert(revision, events);
    }

    /// The value of `key` as of `revision`.
    fn at(&self, key: &str, revision: Revision) -> Option<&KeyValue> {
        let versions = self.keys.get(key)?;
        let newer = versions.partition_point(|(rev, _)| *rev <= revision);
        newer.checked_sub(1).and_then(|i| versions[i].1.as_ref())
    }

    /// A range read at the latest or an older revision.
    pub(super) fn range(&self, req: &RangeRequest) -> Result<RangeResponse, StoreError> {
        let revision = request::read_revision(req.revision, self.current, self.compacted)?;
        let limit = request::limit(req);
        let mut kvs = Vec::new();
        let mut more = false;
        if let Some(span) = KeySpan::of(req) {
            let keys = self
                .keys
                .range::<str, _>((std::ops::Bound::Included(span.start), span.end));
            for (key, _) in keys {
                if let Some(kv) = self.at(key, revision) {
                    if kvs.len() == limit {
                        more = true;
                        break;
                    }
                    kvs.push(kv.clone());
                }
            }
        }
        Ok(RangeResponse { kvs, more, revision })
    }

    /// Events after a revision for a prefix (see [`crate::watch::EventSource`]).
    pub(super) fn events_after(
        &self,
        prefix: &str,
        after: Revision,
        max_events: usize,
    ) -> Result<Replay, StoreError> {
        request::watch_start(after, self.current, self.compacted)?;
        let mut replay = Replay {
            through: after,
            ..Replay::default()
        };
        for (scanned, (revision, events)) in self.log.range(after + 1..).enumerate() {
            if replay.events.len() >= max_events || scanned >= scan_limit(max_events) {
                return Ok(replay);
            }
            replay
                .events
                .extend(events.iter().filter(|e| e.kv.key.starts_with(prefix)).cloned());
            replay.through = *revision;
        }
        replay.through = self.current;
        replay.complete = true;
        Ok(replay)
    }

    /// Forgets history before `revision`: per key, the newest version at or before it
    /// survives unless it is a delete; later versions all survive.
    pub(super) fn compact(&mut self, revision: Revision) {
        self.keys.retain(|_, versions| {
            let newer = versions.partition_point(|(rev, _)| *rev <= revision);
            let mut keep_from = newer.saturating_sub(1);
            if versions
                .get(keep_from)
                .is_some_and(|(rev, kv)| *rev <= revision && kv.is_none())
            {
                keep_from += 1;
            }
            versions.drain(..keep_from);
            !versions.is_empty()
        });
        self.log = self.log.split_off(&(revision + 1));
        self.compacted = revision;
    }
}

impl WriteState for State {
    fn latest(&mut self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        Ok(self
            .keys
            .get(key)
            .and_then(|v| v.last())
            .and_then(|(_, kv)| kv.clone()))
    }

    fn put(&mut self, kv: &KeyValue) -> Result<(), StoreError> {
        self.keys
            .entry(kv.key.clone())
            .or_default()
            .push((kv.mod_revision, Some(kv.clone())));
        Ok(())
    }

    fn delete(&mut self, key: &str, revision: Revision) -> Result<(), StoreError> {
        self.keys
            .entry(key.to_string())
            .or_default()
            .push((revision, None));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::exec;
    use crate::types::{Op, Txn};

    /// Revisions 1..=20, with `/rare/x` written at 15 and `/often/x` otherwise.
    fn state() -> State {
        let mut state = State::default();
        for rev in 1..=20 {
            let key = if rev == 15 { "/rare/x" } else { "/often/x" };
            let put = Op::Put(key.into(), Bytes::from_static(b"v"));
            let txn = Txn {
                success: vec![put],
                ..Txn::default()
            };
            let current = state.current;
            let applied = exec::apply(&mut state, &txn, current).expect("apply");
            state.commit(applied.response.revision, applied.events);
        }
        state
    }

    #[test]
    fn replay_of_a_rare_prefix_is_read_in_bounded_steps() {
        let state = state();
        let mut after = 0;
        let mut found = Vec::new();
        let mut reads = 0;
        loop {
            let replay = state.events_after("/rare/", after, 1).expect("replay");
            reads += 1;
            assert!(replay.through - after <= scan_limit(1) as u64);
            found.extend(replay.events.iter().map(|e| e.kv.mod_revision));
            after = replay.through;
            if replay.complete {
                break;
            }
        }
        assert_eq!(found, [15]);
        assert_eq!(after, 20);
        assert!(reads >= 3, "20 revisions at 8 per read take 3 reads");
    }

    #[test]
    fn compaction_keeps_what_later_reads_need() {
        let mut state = state();
        state.compact(16);
        let req = RangeRequest {
            start: "/".into(),
            end: "0".into(),
            ..RangeRequest::default()
        };
        let at16 = state
            .range(&RangeRequest {
                revision: Some(16),
                ..req.clone()
            })
            .expect("16");
        assert_eq!(
            at16.kvs.iter().map(|kv| kv.mod_revision).collect::<Vec<_>>(),
            [16, 15]
        );
        assert!(
            state
                .range(&RangeRequest {
                    revision: Some(15),
                    ..req
                })
                .is_err()
        );
        assert!(state.events_after("/", 15, 10).is_err());
        assert_eq!(state.events_after("/", 16, 10).expect("after 16").events.len(), 4);
    }
}
