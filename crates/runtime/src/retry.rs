//! The one retry loop: run an attempt, and after a failure the policy
//! allows, pause and run it again.
//!
//! Every fixed-backoff loop in gregor (broker registration, ZooKeeper
//! reconnection, controlled shutdown, the admin and consumer clients'
//! `retry.backoff.ms`) is this loop with its own pause and limit, so the
//! limits read the same everywhere and paused-time tests drive them all.

use std::time::Duration;

use tokio::time::Instant;

/// How to retry: the pause between attempts and when to give up.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pause: Duration,
    max_attempts: Option<u32>,
    /// No retry starts waiting at or after this instant.
    deadline: Option<Instant>,
}

impl Backoff {
    /// Retries after a fixed `pause`, without limit until one is set.
    pub fn fixed(pause: Duration) -> Self {
        Backoff {
            pause,
            max_attempts: None,
            deadline: None,
        }
    }

    /// Gives up after `attempts` attempts in all (the first included).
    pub fn max_attempts(self, attempts: u32) -> Self {
        Backoff {
            max_attempts: Some(attempts),
            ..self
        }
    }

    /// Retries only while `deadline` has not passed when an attempt fails
    /// (the last attempt may start up to one pause after it).
    pub fn until(self, deadline: Instant) -> Self {
        Backoff {
            deadline: Some(deadline),
            ..self
        }
    }

    /// Retries only if the next attempt would start before `deadline`
    /// (Kafka clients' `default.api.timeout.ms`: no attempt starts after
    /// the caller's timeout).
    pub fn starting_before(self, deadline: Instant) -> Self {
        self.until(deadline.checked_sub(self.pause).unwrap_or(deadline))
    }

    /// Starts counting the attempts of one operation.
    pub fn start(self) -> Retries {
        Retries {
            policy: self,
            failures: 0,
        }
    }
}

/// The retries of one operation under a [`Backoff`]. After each failed
/// attempt the caller asks [`allows_another`](Self::allows_another) (in a
/// match guard, after its own test of whether the error is retriable),
/// logs, and awaits [`pause`](Self::pause) before the next attempt:
///
/// ```ignore
/// let mut retries = Backoff::fixed(PAUSE).until(deadline).start();
/// loop {
///     match attempt().await {
///         Err(e) if e.is_retriable() && retries.allows_another() => {
///             warn!("retrying after {e}");
///             retries.pause().await;
///         }
///         result => return result,
///     }
/// }
/// ```
///
/// Under a backoff without limits every attempt may be retried: such a
/// loop only pauses.
///
/// (A loop rather than a closure-taking helper: attempts borrow their
/// caller mutably, and futures of async closures are not yet provably
/// `Send` inside spawned tasks.)
#[derive(Debug)]
pub struct Retries {
    policy: Backoff,
    failures: u32,
}

impl Retries {
    /// Counts a failed attempt and tells whether the limits allow another.
    pub fn allows_another(&mut self) -> bool {
        self.failures = self.failures.saturating_add(1);
        let exhausted = self
            .policy
            .max_attempts
            .is_some_and(|max| self.failures >= max)
            || self.policy.deadline.is_some_and(|d| Instant::now() >= d);
        !exhausted
    }

    /// How many attempts have failed so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Waits the pause before the next attempt.
    pub async fn pause(&self) {
        tokio::time::sleep(self.policy.pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAUSE: Duration = Duration::from_millis(100);

    /// Runs attempts that all fail under `policy`, as a caller's loop does;
    /// returns how many ran.
    async fn attempts_until_given_up(policy: Backoff) -> u32 {
        let mut retries = policy.start();
        let mut attempts = 0;
        loop {
            attempts += 1;
            if !retries.allows_another() {
                return attempts;
            }
            retries.pause().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn pauses_between_attempts() {
        let start = Instant::now();
        let mut retries = Backoff::fixed(PAUSE).start();
        for _ in 0..3 {
            assert!(retries.allows_another());
            retries.pause().await;
        }
        assert_eq!(retries.failures(), 3);
        assert_eq!(start.elapsed(), 3 * PAUSE);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_maximum_attempts() {
        let start = Instant::now();
        assert_eq!(
            attempts_until_given_up(Backoff::fixed(PAUSE).max_attempts(3)).await,
            3
        );
        assert_eq!(start.elapsed(), 2 * PAUSE);
    }

    #[tokio::test(start_paused = true)]
    async fn until_retries_while_the_deadline_has_not_passed() {
        let start = Instant::now();
        let policy = Backoff::fixed(PAUSE).until(start + Duration::from_millis(250));
        // Failures at 0, 100 and 200 ms are retried; the one at 300 is not.
        assert_eq!(attempts_until_given_up(policy).await, 4);
        assert_eq!(start.elapsed(), 3 * PAUSE);
    }

    #[tokio::test(start_paused = true)]
    async fn starting_before_starts_no_attempt_after_the_deadline() {
        let start = Instant::now();
        let policy = Backoff::fixed(PAUSE).starting_before(start + Duration::from_millis(250));
        // Attempts at 0, 100 and 200 ms; one at 300 would start too late.
        assert_eq!(attempts_until_given_up(policy).await, 3);
        assert_eq!(start.elapsed(), 2 * PAUSE);
    }
}
