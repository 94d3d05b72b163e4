//! Time as a dependency (Kafka's `org.apache.kafka.common.utils.Time`).
//!
//! Code that decides something by the time (a segment's age, a replica's
//! lag, a record's default timestamp) takes a [`SharedClock`] instead of
//! reading the system clock, so a unit test can hand it a `ManualClock`
//! (feature `test-util`, enabled only by dev-dependencies)
//! and move time by exactly what the test needs.
//!
//! A crate of its own, apart from `gregor-runtime`, so that the
//! synchronous log can take a clock without anything of tokio below it.
//! It must never depend on anything: no other gregor crate, no async
//! runtime, no I/O.

use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A source of time.
pub trait Clock: fmt::Debug + Send + Sync {
    /// Wall-clock milliseconds since the Unix epoch (Kafka's
    /// `Time.milliseconds()`): record timestamps, znode timestamps,
    /// retention and lag checks.
    fn milliseconds(&self) -> i64;

    /// A monotonic instant, for intervals that must not jump when the wall
    /// clock is set.
    fn instant(&self) -> Instant;
}

/// A clock shared by the components of one broker, producer or log.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    /// The system clock as a [`SharedClock`], the default of every owner
    /// that takes one.
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock)
    }
}

impl Clock for SystemClock {
    fn milliseconds(&self) -> i64 {
        // A clock set before 1970 reads as the epoch, and one past the
        // year 292 million as i64::MAX, rather than failing.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// `ManualClock`, compiled for tests only (feature `test-util`).
#[cfg(any(test, feature = "test-util"))]
mod manual {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use super::Clock;

    /// A clock that moves only when told to (Kafka's `MockTime`), for unit
    /// tests; both readings advance together. Behind the `test-util` feature.
    #[derive(Debug)]
    pub struct ManualClock {
        origin: Instant,
        /// Milliseconds since the epoch at `origin`, and how far the clock has
        /// been advanced since.
        state: Mutex<(i64, Duration)>,
    }

    impl ManualClock {
        /// A clock reading `epoch_ms` milliseconds since the epoch.
        pub fn new(epoch_ms: i64) -> Arc<Self> {
            Arc::new(ManualClock {
                origin: Instant::now(),
                state: Mutex::new((epoch_ms, Duration::ZERO)),
            })
        }

        /// Moves both readings forward by `by`.
        pub fn advance(&self, by: Duration) {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.1 += by;
        }
    }

    impl Clock for ManualClock {
        fn milliseconds(&self) -> i64 {
            let (epoch_ms, advanced) = *self.state.lock().unwrap_or_else(|p| p.into_inner());
            epoch_ms.saturating_add(i64::try_from(advanced.as_millis()).unwrap_or(i64::MAX))
        }

        fn instant(&self) -> Instant {
            let advanced = self.state.lock().unwrap_or_else(|p| p.into_inner()).1;
            self.origin + advanced
        }
    }
}

#[cfg(any(test, feature = "test-util"))]
pub use manual::ManualClock;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_system_clock_reads_milliseconds_since_the_epoch() {
        // 2020-01-01T00:00:00Z: any sane machine is past it.
        assert!(SystemClock.milliseconds() > 1_577_836_800_000);
        assert!(SystemClock.instant() <= Instant::now());
    }

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(1_000);
        let start = clock.instant();
        assert_eq!(clock.milliseconds(), 1_000);
        assert_eq!(clock.instant(), start);
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(clock.milliseconds(), 2_500);
        assert_eq!(clock.instant() - start, Duration::from_millis(1_500));
    }
}
