//! Wall-clock time, behind a trait so tests can set it, and the precision the API keeps.
//!
//! `metav1.Time` is stored in whole seconds and `MicroTime` in microseconds. A status
//! computed with nanoseconds would never compare equal to what the server sends back, and
//! every comparison would look like a change worth writing; so every time put into an
//! object goes through [`time`] or [`micro_time`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};

/// Where the current time comes from.
pub trait Clock: Send + Sync + 'static {
    /// The current wall-clock time.
    fn now(&self) -> jiff::Timestamp;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// `t` cut to whole seconds.
pub(crate) fn whole_seconds(t: jiff::Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_second(t.as_second()).unwrap_or(t)
}

/// `t` as a `Time`, cut to whole seconds as the API stores it.
pub(crate) fn time(t: jiff::Timestamp) -> Time {
    Time(whole_seconds(t))
}

/// `t` as a `MicroTime`, cut to microseconds as the API stores it.
pub(crate) fn micro_time(t: jiff::Timestamp) -> MicroTime {
    MicroTime(jiff::Timestamp::from_microsecond(t.as_microsecond()).unwrap_or(t))
}

/// A clock tests move by hand.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct FakeClock(parking_lot::Mutex<jiff::Timestamp>);

#[cfg(test)]
impl FakeClock {
    pub fn at(t: jiff::Timestamp) -> Self {
        Self(parking_lot::Mutex::new(t))
    }

    pub fn advance(&self, d: std::time::Duration) {
        let mut t = self.0.lock();
        *t = t.checked_add(d).unwrap_or(*t);
    }
}

#[cfg(test)]
impl Clock for FakeClock {
    fn now(&self) -> jiff::Timestamp {
        *self.0.lock()
    }
}

/// A wall clock that follows tokio's (pausable) clock, so tests with paused time see
/// wall time move with the timers.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct TokioClock {
    base: jiff::Timestamp,
    start: tokio::time::Instant,
}

#[cfg(test)]
impl TokioClock {
    pub fn at(base: jiff::Timestamp) -> Self {
        Self {
            base,
            start: tokio::time::Instant::now(),
        }
    }
}

#[cfg(test)]
impl Clock for TokioClock {
    fn now(&self) -> jiff::Timestamp {
        self.base.checked_add(self.start.elapsed()).unwrap_or(self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_survive_a_round_trip() {
        let t: jiff::Timestamp = "2025-03-04T05:06:07.891234567Z".parse().unwrap();
        let back: Time = serde_json::from_value(serde_json::to_value(time(t)).unwrap()).unwrap();
        assert_eq!(back, time(t));
        let back: MicroTime = serde_json::from_value(serde_json::to_value(micro_time(t)).unwrap()).unwrap();
        assert_eq!(back, micro_time(t));
    }
}
