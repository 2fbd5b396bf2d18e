//! A work queue of keys for controllers whose keys are not objects of one typed resource
//! (the garbage collector's uids across every resource type).
//!
//! As upstream's workqueue: a key is queued at most once; a key being processed is never
//! handed to a second worker — if it is added meanwhile, it is queued again when the first
//! worker is done; failed keys come back after an exponential back-off.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// First retry delay of a failing key.
const BASE_DELAY: Duration = Duration::from_millis(5);
/// Longest retry delay.
const MAX_DELAY: Duration = Duration::from_secs(60);

struct State<K> {
    queue: VecDeque<K>,
    queued: HashSet<K>,
    processing: HashSet<K>,
    /// Added while processing: queue again on `done`.
    dirty: HashSet<K>,
    failures: HashMap<K, u32>,
    shut_down: bool,
}

/// A de-duplicating, rate-limited queue of keys.
pub struct Queue<K> {
    state: Mutex<State<K>>,
    notify: Notify,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> Queue<K> {
    /// An empty queue.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                queued: HashSet::new(),
                processing: HashSet::new(),
                dirty: HashSet::new(),
                failures: HashMap::new(),
                shut_down: false,
            }),
            notify: Notify::new(),
        })
    }

    /// Queues `key` unless it is queued already.
    pub fn add(&self, key: K) {
        let mut s = self.state.lock();
        if s.shut_down || s.queued.contains(&key) {
            return;
        }
        if s.processing.contains(&key) {
            s.dirty.insert(key);
            return;
        }
        s.queued.insert(key.clone());
        s.queue.push_back(key);
        drop(s);
        self.notify.notify_one();
    }

    /// Queues `key` after `delay`.
    pub fn add_after(self: &Arc<Self>, key: K, delay: Duration) {
        if delay.is_zero() {
            self.add(key);
            return;
        }
        let q = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Some(q) = q.upgrade() {
                q.add(key);
            }
        });
    }

    /// Queues `key` again after its back-off, which doubles with every failure.
    pub fn add_rate_limited(self: &Arc<Self>, key: K) {
        let delay = {
            let mut s = self.state.lock();
            let n = s.failures.entry(key.clone()).or_insert(0);
            let delay = backoff(*n);
            *n = n.saturating_add(1);
            delay
        };
        self.add_after(key, delay);
    }

    /// Resets the back-off of `key` (it succeeded).
    pub fn forget(&self, key: &K) {
        self.state.lock().failures.remove(key);
    }

    /// The next key to work on; `None` once shut down.
    pub async fn get(&self) -> Option<K> {
        loop {
            {
                let mut s = self.state.lock();
                if s.shut_down {
                    return None;
                }
                if let Some(k) = s.queue.pop_front() {
                    s.queued.remove(&k);
                    s.processing.insert(k.clone());
                    return Some(k);
                }
            }
            self.notify.notified().await;
        }
    }

    /// Marks `key` as processed (queues it again if it was added meanwhile).
    pub fn done(&self, key: &K) {
        let again = {
            let mut s = self.state.lock();
            s.processing.remove(key);
            s.dirty.remove(key)
        };
        if again {
            self.add(key.clone());
        }
    }

    /// Wakes every worker and makes `get` return `None`.
    pub fn shut_down(&self) {
        self.state.lock().shut_down = true;
        self.notify.notify_waiters();
    }

    /// Keys waiting (not being processed).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.state.lock().queue.len()
    }
}

/// Delay before retry number `n` (0-based).
fn backoff(n: u32) -> Duration {
    let factor = 1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX);
    BASE_DELAY.saturating_mul(factor).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_are_deduplicated() {
        let q = Queue::new();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        assert_eq!(q.get().await, Some("a"));
        assert_eq!(q.get().await, Some("b"));
    }

    #[tokio::test]
    async fn a_key_added_while_processing_comes_back_after_done() {
        let q = Queue::new();
        q.add("a");
        let k = q.get().await;
        assert_eq!(k, Some("a"));
        q.add("a");
        assert_eq!(q.len(), 0, "never handed out twice at once");
        q.done(&"a");
        assert_eq!(q.len(), 1);
    }

    #[tokio::test]
    async fn shut_down_wakes_workers() {
        let q: Arc<Queue<&str>> = Queue::new();
        let w = tokio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        tokio::task::yield_now().await;
        q.shut_down();
        assert_eq!(w.await.ok().flatten(), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(0), BASE_DELAY);
        assert_eq!(backoff(1), BASE_DELAY * 2);
        assert_eq!(backoff(40), MAX_DELAY);
    }
}
