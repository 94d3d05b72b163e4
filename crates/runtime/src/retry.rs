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

    /// Runs `attempt` (given its number, 0 for the first) until it
    /// succeeds, or fails when the limits forbid another attempt, or fails
    /// with an error `retry_if` rejects. `retry_if` sees each failure the
    /// limits would retry, and is where callers log it.
    pub async fn retry<T, E>(
        self,
        mut attempt: impl AsyncFnMut(u32) -> Result<T, E>,
        mut retry_if: impl FnMut(&E) -> bool,
    ) -> Result<T, E> {
        let mut number = 0;
        loop {
            let error = match attempt(number).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            number = number.saturating_add(1);
            let exhausted = self.max_attempts.is_some_and(|max| number >= max)
                || self.deadline.is_some_and(|d| Instant::now() >= d);
            if exhausted || !retry_if(&error) {
                return Err(error);
            }
            tokio::time::sleep(self.pause).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAUSE: Duration = Duration::from_millis(100);

    #[tokio::test(start_paused = true)]
    async fn retries_until_the_attempt_succeeds_pausing_between_attempts() {
        let start = Instant::now();
        let result: Result<u32, u32> = Backoff::fixed(PAUSE)
            .retry(async |n| if n < 3 { Err(n) } else { Ok(n) }, |_| true)
            .await;
        assert_eq!(result, Ok(3));
        assert_eq!(start.elapsed(), 3 * PAUSE);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_maximum_attempts() {
        let mut seen = Vec::new();
        let result: Result<(), u32> = Backoff::fixed(PAUSE)
            .max_attempts(3)
            .retry(
                async |n| Err(n),
                |e| {
                    seen.push(*e);
                    true
                },
            )
            .await;
        assert_eq!(result, Err(2));
        assert_eq!(seen, [0, 1], "the last failure is not offered for retry");
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_retry_if_rejects_ends_at_once() {
        let start = Instant::now();
        let result: Result<(), &str> = Backoff::fixed(PAUSE)
            .retry(async |_| Err("fatal"), |e| *e != "fatal")
            .await;
        assert_eq!(result, Err("fatal"));
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn until_retries_while_the_deadline_has_not_passed() {
        let start = Instant::now();
        let result: Result<(), u32> = Backoff::fixed(PAUSE)
            .until(start + Duration::from_millis(250))
            .retry(async |n| Err(n), |_| true)
            .await;
        // Failures at 0, 100 and 200 ms are retried; the one at 300 is not.
        assert_eq!(result, Err(3));
        assert_eq!(start.elapsed(), 3 * PAUSE);
    }

    #[tokio::test(start_paused = true)]
    async fn starting_before_starts_no_attempt_after_the_deadline() {
        let start = Instant::now();
        let result: Result<(), u32> = Backoff::fixed(PAUSE)
            .starting_before(start + Duration::from_millis(250))
            .retry(async |n| Err(n), |_| true)
            .await;
        // Attempts at 0, 100 and 200 ms; one at 300 would start too late.
        assert_eq!(result, Err(2));
        assert_eq!(start.elapsed(), 2 * PAUSE);
    }
}
