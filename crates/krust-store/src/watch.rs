//! Watch streams, shared by every backend: replay history, then follow live commits.
//!
//! A backend owns a [`WatchHub`] (an in-memory broadcast that its writer feeds after each
//! commit, in revision order) and implements [`EventSource`] (reading committed events back
//! from its history). [`open`] combines the two without a gap or a duplicate: it subscribes
//! to the hub *before* reading history, so every commit is either in the history it reads
//! or in the subscription (or both), and live events at or below the last replayed revision
//! are skipped.
//!
//! A watcher that falls behind the broadcast while it is still catching up re-reads the
//! missed part from history. Once it has joined the live stream, falling behind again ends
//! the stream with [`StoreError::WatchLagged`]: the consumer has stopped keeping up and must
//! re-list; events are never dropped silently.

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::types::{Event, Revision, StoreError, WatchStream};

/// The events of one or more consecutive committed revisions, in order.
pub(crate) type Batch = Arc<[Event]>;

/// How many events one history read returns at most (a revision is never split).
const REPLAY_CHUNK: usize = 1024;

/// How many times a watcher may fall behind while catching up before it gives up.
const MAX_CATCH_UP_ROUNDS: usize = 16;

/// The broadcast of committed events. Closing it ends every watch stream.
#[derive(Debug)]
pub(crate) struct WatchHub {
    sender: Mutex<Option<broadcast::Sender<Batch>>>,
}

impl WatchHub {
    /// A hub that buffers up to `capacity` batches for the slowest live watcher.
    pub(crate) fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Self {
            sender: Mutex::new(Some(sender)),
        }
    }

    /// A receiver of every batch published from now on.
    pub(crate) fn subscribe(&self) -> Result<broadcast::Receiver<Batch>, StoreError> {
        self.sender
            .lock()
            .as_ref()
            .map(broadcast::Sender::subscribe)
            .ok_or(StoreError::Closed)
    }

    /// Sends committed events to every watcher; must be called in revision order.
    pub(crate) fn publish(&self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        if let Some(sender) = self.sender.lock().as_ref() {
            // An error only means that nobody is watching right now.
            let _ = sender.send(events.into());
        }
    }

    /// Drops the sender: streams deliver what they have buffered, then end.
    pub(crate) fn close(&self) {
        self.sender.lock().take();
    }
}

/// A bounded slice of history, as returned by [`EventSource::events_after`].
#[derive(Debug, Default)]
pub(crate) struct Replay {
    /// Matching events in revision order.
    pub events: Vec<Event>,
    /// Every matching event with a revision up to this one has been returned.
    pub through: Revision,
    /// Whether `through` is the store's current revision (nothing more to read).
    pub complete: bool,
}

/// Read access to committed events, implemented by each backend.
pub(crate) trait EventSource: Send + Sync + 'static {
    /// Events for keys starting with `prefix` with a revision greater than `after`, from
    /// one consistent snapshot: whole revisions only, stopping once about `max_events`
    /// events are found or [`scan_limit`]`(max_events)` revisions were looked at (so a
    /// rarely changing prefix does not hold one snapshot over the whole history).
    ///
    /// Fails with `Compacted` when `after` is below the compaction revision and with
    /// `FutureRevision` when it is above the current revision. May block on disk reads.
    fn events_after(&self, prefix: &str, after: Revision, max_events: usize) -> Result<Replay, StoreError>;
}

/// How many revisions one history read may look at for `max_events` events.
pub(crate) fn scan_limit(max_events: usize) -> usize {
    max_events.max(1).saturating_mul(8)
}

/// Opens a watch of `prefix` after revision `after` (see the module docs for the guarantees).
///
/// Errors of the first history read (compacted or future revision) are returned here rather
/// than through the stream.
pub(crate) async fn open(
    source: Arc<dyn EventSource>,
    hub: &WatchHub,
    prefix: &str,
    after: Revision,
) -> Result<WatchStream, StoreError> {
    let receiver = hub.subscribe()?;
    let prefix: Arc<str> = prefix.into();
    let first = replay(&source, &prefix, after).await?;
    Ok(Box::pin(follow(source, receiver, prefix, after, first)))
}

async fn replay(
    source: &Arc<dyn EventSource>,
    prefix: &Arc<str>,
    after: Revision,
) -> Result<Replay, StoreError> {
    let source = Arc::clone(source);
    let prefix = Arc::clone(prefix);
    tokio::task::spawn_blocking(move || source.events_after(&prefix, after, REPLAY_CHUNK))
        .await
        .map_err(|e| StoreError::Backend(format!("watch history read failed: {e}")))?
}

fn follow(
    source: Arc<dyn EventSource>,
    mut receiver: broadcast::Receiver<Batch>,
    prefix: Arc<str>,
    after: Revision,
    first: Replay,
) -> impl futures_core::Stream<Item = Result<Event, StoreError>> + Send {
    async_stream::stream! {
        let mut last = after;
        let mut pending = Some(first);
        let mut rounds = 0;
        loop {
            // Catch up from history.
            while let Some(chunk) = pending.take() {
                for event in chunk.events {
                    last = event.kv.mod_revision;
                    yield Ok(event);
                }
                last = last.max(chunk.through);
                if !chunk.complete {
                    match replay(&source, &prefix, last).await {
                        Ok(next) => pending = Some(next),
                        // A closed store ends the stream, as it does in the live phase.
                        Err(StoreError::Closed) => return,
                        Err(e) => {
                            yield Err(e);
                            return;
                        }
                    }
                }
            }
            // Follow live commits. Until something newer than the catch-up point arrives, the
            // subscription only holds commits that history already covered.
            let caught_up = last;
            loop {
                match receiver.recv().await {
                    Ok(batch) => {
                        for event in batch.iter() {
                            if event.kv.mod_revision > last && event.kv.key.starts_with(&*prefix) {
                                last = event.kv.mod_revision;
                                yield Ok(event.clone());
                            }
                        }
                    }
                    Err(RecvError::Lagged(_))
                        if last == caught_up && rounds < MAX_CATCH_UP_ROUNDS =>
                    {
                        rounds += 1;
                        receiver = receiver.resubscribe();
                        match replay(&source, &prefix, last).await {
                            Ok(next) => pending = Some(next),
                            Err(StoreError::Closed) => return,
                            Err(e) => {
                                yield Err(e);
                                return;
                            }
                        }
                        break;
                    }
                    Err(RecvError::Lagged(_)) => {
                        yield Err(StoreError::WatchLagged);
                        return;
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        }
    }
}
