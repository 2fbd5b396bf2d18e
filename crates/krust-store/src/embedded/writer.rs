//! The writer thread: group commit of queued transactions, then events to watchers.
//!
//! One std thread owns all writes. It takes every command waiting in its channel (up to
//! `max_batch`), runs them in order inside one redb write transaction (each transaction's
//! compares see the writes of the ones before it), adds a bounded compaction step when one
//! is pending, and commits once with `Durability::Immediate` — one fsync for the whole
//! batch. Only then does it publish the batch's events and answer the callers, so an `Ok`
//! always means "on disk".

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use redb::{Database, Durability};
use tokio::sync::oneshot;

use super::Shared;
use super::compaction::{Scheduler, discard_step};
use super::read::Meta;
use super::tables::storage;
use super::write::WriteTables;
use crate::exec;
use crate::request;
use crate::types::{Event, Revision, StoreError, Txn, TxnResponse};

/// A request to the writer thread.
#[derive(Debug)]
pub(super) enum Command {
    /// Run a transaction.
    Txn {
        txn: Txn,
        reply: oneshot::Sender<Result<TxnResponse, StoreError>>,
    },
    /// Move the compaction revision forward.
    Compact {
        revision: Revision,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// What a command produced, before the batch is known to be committed.
enum Outcome {
    Txn(TxnResponse),
    Compact(Result<(), StoreError>),
}

/// The state the writer thread owns.
pub(super) struct Writer {
    /// The store file (the writer's own handle, released when it stops).
    pub db: Arc<Database>,
    /// Watch hub, counters and statistics shared with the store handle.
    pub shared: Arc<Shared>,
    /// Requests from the store handle; closed by `EmbeddedStore::close`.
    pub commands: Receiver<Command>,
    /// The counters as of the last successful commit.
    pub meta: Meta,
    /// When to compact automatically.
    pub scheduler: Scheduler,
    /// The most commands per commit; at least 1.
    pub max_batch: usize,
    /// How long to wait for stragglers when a batch is much smaller than the last one.
    pub linger: Duration,
    /// The most key changes one compaction step discards.
    pub chunk_changes: usize,
}

impl Writer {
    /// Serves commands until every sender is gone and the queue is empty, then closes the
    /// watch hub so watch streams end.
    pub(super) fn run(mut self) {
        let mut batch = Vec::with_capacity(self.max_batch);
        let mut previous = 0;
        while self.collect(&mut batch, previous) {
            if !batch.is_empty() {
                previous = batch.len();
            }
            let auto_target = self.scheduler.tick(Instant::now(), self.meta.current);
            self.commit(&mut batch, auto_target);
        }
        if let Err(error) = super::open::mark_closed(&self.db) {
            tracing::error!(%error, "could not record the clean close of the store");
        }
        self.shared.hub.close();
        tracing::debug!("store writer stopped");
    }

    /// Waits for work (a command, a compaction tick, or pending compaction steps) and
    /// gathers a batch. Returns false once every sender is gone and nothing is queued.
    fn collect(&self, batch: &mut Vec<Command>, previous: usize) -> bool {
        let wait = if self.meta.progress < self.meta.compacted {
            // Compaction is pending: take what is queued, but do not wait for more.
            Some(Duration::ZERO)
        } else {
            self.scheduler
                .deadline()
                .map(|d| d.saturating_duration_since(Instant::now()))
        };
        let waiting = Instant::now();
        let first = match wait {
            Some(wait) => match self.commands.recv_timeout(wait) {
                Ok(command) => Some(command),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return false,
            },
            None => match self.commands.recv() {
                Ok(command) => Some(command),
                Err(_) => return false,
            },
        };
        let Some(first) = first else {
            return true;
        };
        batch.push(first);
        self.drain(batch);
        // Callers answered by the previous batch are usually about to send their next
        // transaction. If far fewer than last time are here, wait a moment for them so they
        // share this commit instead of paying for one of their own. After a pause longer
        // than that moment, the previous batch says nothing about who is coming.
        let busy = waiting.elapsed() < self.linger;
        let enough = if busy { previous.min(self.max_batch) } else { 0 };
        if batch.len() < enough / 2 && !self.linger.is_zero() {
            let deadline = Instant::now() + self.linger;
            while batch.len() < enough {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.commands.recv_timeout(left) {
                    Ok(command) => {
                        batch.push(command);
                        self.drain(batch);
                    }
                    Err(_) => break,
                }
            }
        }
        true
    }

    /// Adds whatever is queued to the batch, up to the batch limit.
    fn drain(&self, batch: &mut Vec<Command>) {
        while batch.len() < self.max_batch {
            match self.commands.try_recv() {
                Ok(command) => batch.push(command),
                Err(_) => break,
            }
        }
    }

    /// Runs, commits and answers one batch (which may be empty when only compaction is due).
    fn commit(&mut self, batch: &mut Vec<Command>, auto_target: Option<Revision>) {
        let started = Instant::now();
        match self.write(batch, auto_target) {
            Ok((meta, outcomes, events, committed)) => {
                let stats = &self.shared.stats;
                let transactions = outcomes.iter().filter(|o| matches!(o, Outcome::Txn(_))).count() as u64;
                stats.transactions.fetch_add(transactions, Ordering::Relaxed);
                stats.largest_batch.fetch_max(transactions, Ordering::Relaxed);
                if committed {
                    stats.commits.fetch_add(1, Ordering::Relaxed);
                }
                if meta.progress != self.meta.progress {
                    stats.compaction_steps.fetch_add(1, Ordering::Relaxed);
                }
                if meta.compacted != self.meta.compacted {
                    tracing::info!(revision = meta.compacted, "store compaction revision moved");
                }
                if meta.progress != self.meta.progress && meta.progress == meta.compacted {
                    tracing::debug!(revision = meta.compacted, "store history discarded");
                }
                self.meta = meta;
                self.shared.current.store(meta.current, Ordering::Release);
                self.shared.compacted.store(meta.compacted, Ordering::Release);
                self.shared.hub.publish(events);
                for (command, outcome) in batch.drain(..).zip(outcomes) {
                    match (command, outcome) {
                        (Command::Txn { reply, .. }, Outcome::Txn(response)) => {
                            let _ = reply.send(Ok(response));
                        }
                        (Command::Compact { reply, .. }, Outcome::Compact(result)) => {
                            let _ = reply.send(result);
                        }
                        // `write` produces one outcome of the same kind per command, in order.
                        _ => tracing::error!("store writer outcome does not match its command"),
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, commands = batch.len(), "store write batch failed");
                for command in batch.drain(..) {
                    match command {
                        Command::Txn { reply, .. } => drop(reply.send(Err(error.clone()))),
                        Command::Compact { reply, .. } => drop(reply.send(Err(error.clone()))),
                    }
                }
            }
        }
        tracing::trace!(elapsed = ?started.elapsed(), "store batch done");
    }

    /// Applies a batch in one write transaction and commits it if it changed anything.
    fn write(
        &self,
        batch: &[Command],
        auto_target: Option<Revision>,
    ) -> Result<(Meta, Vec<Outcome>, Vec<Event>, bool), StoreError> {
        let mut txn = self.db.begin_write().map_err(storage)?;
        txn.set_durability(Durability::Immediate).map_err(storage)?;
        let mut meta = self.meta;
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut events = Vec::new();
        {
            let mut tables = WriteTables::open(&txn)?;
            for command in batch {
                match command {
                    Command::Txn { txn, .. } => {
                        let applied = exec::apply(&mut tables, txn, meta.current)?;
                        let revision = applied.response.revision;
                        if revision != meta.current {
                            tables.append_log(revision, &applied.events)?;
                            meta.current = revision;
                            events.extend(applied.events);
                        }
                        outcomes.push(Outcome::Txn(applied.response));
                    }
                    Command::Compact { revision, .. } => {
                        let result = request::compaction_target(*revision, meta.current, meta.compacted).map(
                            |moves| {
                                if moves {
                                    meta.compacted = *revision;
                                }
                            },
                        );
                        outcomes.push(Outcome::Compact(result));
                    }
                }
            }
            if let Some(target) = auto_target
                && target > meta.compacted
                && target <= meta.current
            {
                meta.compacted = target;
            }
            discard_step(&mut tables, &mut meta, self.chunk_changes)?;
            if meta != self.meta {
                tables.write_meta(meta)?;
            }
        }
        let changed = meta != self.meta;
        if changed {
            txn.commit().map_err(storage)?;
        } else {
            // Reads only (or compares that failed): nothing to make durable.
            txn.abort().map_err(storage)?;
        }
        Ok((meta, outcomes, events, changed))
    }
}
