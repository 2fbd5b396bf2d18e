//! Compaction: deciding when (the [`Scheduler`]) and discarding history in bounded steps.
//!
//! Compacting to revision C happens in two parts. First the compaction revision is moved
//! to C in `meta` (from then on reads and watches before C fail), committed with the batch
//! that asked for it. Then the writer discards what no read at C or later can see, a few
//! log revisions per step, each step riding along with a client batch (or alone when idle)
//! so that no single commit does unbounded work. `meta.progress` records how far the steps
//! got, so a restart resumes where they stopped.

use std::collections::VecDeque;
use std::time::Instant;

use redb::ReadableTable;

use super::config::CompactionPolicy;
use super::read::Meta;
use super::tables::{Record, decode_log, storage};
use super::write::WriteTables;
use crate::types::{Revision, StoreError};

/// Chooses automatic compaction targets from revisions noted at each interval.
#[derive(Debug)]
pub(super) struct Scheduler {
    policy: CompactionPolicy,
    /// Revisions noted at past ticks, oldest first.
    samples: VecDeque<(Instant, Revision)>,
    next_tick: Option<Instant>,
}

impl Scheduler {
    /// A scheduler that notes `current` now and ticks first one interval from now.
    pub(super) fn new(policy: CompactionPolicy, now: Instant, current: Revision) -> Self {
        let next_tick = policy.interval.and_then(|interval| now.checked_add(interval));
        Self {
            policy,
            samples: VecDeque::from([(now, current)]),
            next_tick,
        }
    }

    /// When the next tick is due, if automatic compaction is on.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.next_tick
    }

    /// If a tick is due, notes `current` and returns the newest revision every retention
    /// allows compacting to (`None` if no tick is due or no retention is configured).
    pub(super) fn tick(&mut self, now: Instant, current: Revision) -> Option<Revision> {
        let due = self.next_tick?;
        if now < due {
            return None;
        }
        self.next_tick = self
            .policy
            .interval
            .and_then(|interval| now.checked_add(interval));
        self.samples.push_back((now, current));
        let by_time = match self.policy.retain_for {
            Some(retain) => {
                let cutoff = now.checked_sub(retain)?;
                let older = self.samples.partition_point(|(at, _)| *at <= cutoff);
                // Samples before the newest one at or before the cutoff are never needed again.
                self.samples.drain(..older.checked_sub(1)?);
                self.samples.front().map(|(_, rev)| *rev)
            }
            None => {
                self.samples.drain(..self.samples.len() - 1);
                None
            }
        };
        let by_revisions = self
            .policy
            .retain_revisions
            .map(|keep| current.saturating_sub(keep));
        match (by_time, by_revisions) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
        .filter(|target| *target > 0)
    }
}

/// Discards the history of up to about `max_changes` key changes between `meta.progress`
/// and `meta.compacted`, advancing `meta.progress`.
///
/// For each logged change of key K at revision R (R at or before the compaction revision),
/// every older record of K is removed, as is the record at R itself when it is a delete.
/// What remains of K is then exactly what reads at or after the compaction revision need:
/// its newest version at or before it (unless deleted) and everything later.
pub(super) fn discard_step(
    tables: &mut WriteTables<'_>,
    meta: &mut Meta,
    max_changes: usize,
) -> Result<(), StoreError> {
    if meta.progress >= meta.compacted {
        return Ok(());
    }
    let mut entries = Vec::new();
    let mut changes = 0;
    let mut finished = true;
    for entry in tables
        .log
        .range(meta.progress + 1..=meta.compacted)
        .map_err(storage)?
    {
        if changes >= max_changes.max(1) {
            finished = false;
            break;
        }
        let (revision, keys) = entry.map_err(storage)?;
        let revision = revision.value();
        let keys = decode_log(revision, keys.value())?;
        changes += keys.len().max(1);
        entries.push((revision, keys));
    }
    for (revision, keys) in &entries {
        for key in keys {
            let key = key.as_str();
            tables
                .history
                .retain_in((key, 0)..(key, *revision), |_, _| false)
                .map_err(storage)?;
            let deleted = match tables.history.get((key, *revision)).map_err(storage)? {
                Some(record) => Record::decode(record.value())?.is_tombstone(),
                None => false,
            };
            if deleted {
                tables.history.remove((key, *revision)).map_err(storage)?;
            }
        }
        tables.log.remove(*revision).map_err(storage)?;
    }
    meta.progress = match entries.last() {
        Some((revision, _)) if !finished => *revision,
        _ => meta.compacted,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn policy(interval: u64, retain_for: Option<u64>, retain_revisions: Option<u64>) -> CompactionPolicy {
        CompactionPolicy {
            interval: Some(Duration::from_secs(interval)),
            retain_for: retain_for.map(Duration::from_secs),
            retain_revisions,
            chunk_changes: 10,
        }
    }

    #[test]
    fn time_retention_compacts_to_revision_seen_one_period_ago() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut scheduler = Scheduler::new(policy(300, Some(300), None), t0, 10);
        assert_eq!(scheduler.tick(at(100), 20), None, "not due yet");
        assert_eq!(scheduler.tick(at(300), 30), Some(10));
        assert_eq!(scheduler.tick(at(600), 50), Some(30));
        assert_eq!(scheduler.deadline(), Some(at(900)));
    }

    #[test]
    fn both_retentions_keep_the_larger_history() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut scheduler = Scheduler::new(policy(10, Some(10), Some(5)), t0, 100);
        assert_eq!(
            scheduler.tick(at(10), 102),
            Some(97),
            "revision bound is the smaller"
        );
        assert_eq!(
            scheduler.tick(at(20), 200),
            Some(102),
            "time bound is the smaller"
        );
    }

    #[test]
    fn revision_retention_alone() {
        let t0 = Instant::now();
        let mut scheduler = Scheduler::new(policy(1, None, Some(5)), t0, 0);
        assert_eq!(
            scheduler.tick(t0 + Duration::from_secs(1), 3),
            None,
            "nothing old enough"
        );
        assert_eq!(scheduler.tick(t0 + Duration::from_secs(2), 30), Some(25));
    }
}
