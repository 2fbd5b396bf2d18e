//! Guards around shared informers, for two lost wake-ups in kube-runtime 5:
//!
//! - `ReflectHandle` reads each announced object from the store; when the object was
//!   deleted in between, it answers `Pending` without arranging to be woken, so the
//!   stream (and, through back pressure, the informer behind it) can stall until something
//!   else polls it. `nudged` polls such a stream again every second while it is pending.
//! - `Store::wait_until_ready` waits on a oneshot channel that remembers one waker: of
//!   several tasks waiting on the same shared store, only the last to poll is woken.
//!   `ready` polls again every 100 ms instead of relying on the wake-up.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use kube::runtime::reflector::{Lookup, Store};
use tokio::time::{Interval, MissedTickBehavior};

/// How often a pending stream is polled again.
const NUDGE: Duration = Duration::from_secs(1);
/// How often a store's readiness is checked again.
const READY_POLL: Duration = Duration::from_millis(100);

/// Waits until the informer behind `store` has listed everything once; `false` if it
/// never will (its writer was dropped).
pub(crate) async fn ready<K>(store: &Store<K>) -> bool
where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    loop {
        match tokio::time::timeout(READY_POLL, store.wait_until_ready()).await {
            Ok(r) => return r.is_ok(),
            Err(_) => continue,
        }
    }
}

/// A stream polled again every [`NUDGE`] while pending.
pub(crate) struct Nudged<S> {
    inner: Pin<Box<S>>,
    tick: Option<Interval>,
}

/// Wraps `inner` so that it is polled again periodically while pending.
pub(crate) fn nudged<S: Stream>(inner: S) -> Nudged<S> {
    Nudged {
        inner: Box::pin(inner),
        tick: None,
    }
}

impl<S: Stream> Stream for Nudged<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        loop {
            if let Poll::Ready(item) = self.inner.as_mut().poll_next(cx) {
                return Poll::Ready(item);
            }
            // Created on first use, inside the runtime.
            let tick = self.tick.get_or_insert_with(|| {
                let mut t = tokio::time::interval(NUDGE);
                t.set_missed_tick_behavior(MissedTickBehavior::Delay);
                t
            });
            if tick.poll_tick(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    /// Yields 1, then once "loses" its wake-up (Pending without registering), then 2.
    struct Forgetful(u8);

    impl Stream for Forgetful {
        type Item = u8;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<u8>> {
            self.0 += 1;
            match self.0 {
                1 => Poll::Ready(Some(1)),
                2 => Poll::Pending,
                3 => Poll::Ready(Some(2)),
                _ => Poll::Ready(None),
            }
        }
    }

    #[tokio::test]
    async fn recovers_from_a_lost_wakeup() {
        let got: Vec<u8> = nudged(Forgetful(0)).collect().await;
        assert_eq!(got, [1, 2]);
    }
}
