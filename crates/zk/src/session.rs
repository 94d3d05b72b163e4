//! Surviving ZooKeeper session expiry without restarting the broker.
//!
//! When ZooKeeper expires a session it deletes the session's ephemeral
//! znodes: the broker vanishes from `/brokers/ids` and, if it was the
//! controller, `/controller` is freed. Kafka's `ZooKeeperClient` then opens a
//! new session and runs every registered `StateChangeHandler`, which
//! re-registers the broker and re-runs the controller election.
//! [`ZkSession::maintain`] is that loop; [`ZkSession::subscribe`] lets other
//! components (the controller) learn of each new session.
//!
//! A transient ZooKeeper fault never ends a broker. Unlike Kafka, whose
//! start-up fails once `zookeeper.connection.timeout.ms` passes without a
//! first connection, [`ZkSession::connect`] keeps trying (logging each
//! failed attempt) until ZooKeeper answers, and the broker's other start-up
//! calls go through [`ZkSession::retry_transient`], which retries them, on
//! a new session if the first one expired meanwhile. A broker started
//! before its ensemble, or while it is cut off, registers once ZooKeeper is
//! back; SIGTERM still stops it at any point (the binary drops start-up).

use std::future::Future;
use std::time::Duration;

use gregor_runtime::Backoff;
use tokio::sync::watch;
use tokio::time::Instant;
use zookeeper_client::SessionState;

use super::client::{KafkaZkClient, ZkError};

/// Pause between attempts to open or re-initialise a new session.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(500);

/// The broker's ZooKeeper session, replaced by a fresh one whenever
/// ZooKeeper expires it.
#[derive(Debug)]
pub struct ZkSession {
    connect_string: String,
    session_timeout: Duration,
    current: watch::Sender<KafkaZkClient>,
}

impl ZkSession {
    /// Opens the first session (see [`KafkaZkClient::connect`]), trying
    /// for as long as ZooKeeper is unreachable; only an error no retry can
    /// fix (a bad connect string, a refused authentication) ends it.
    pub async fn connect(connect_string: &str, session_timeout: Duration) -> Result<Self, ZkError> {
        let client = open_session(connect_string, session_timeout).await?;
        Ok(ZkSession {
            connect_string: connect_string.to_owned(),
            session_timeout,
            current: watch::Sender::new(client),
        })
    }

    /// The client of the current session.
    pub fn client(&self) -> KafkaZkClient {
        self.current.borrow().clone()
    }

    /// Receives the client of every new session, after `maintain`'s
    /// `reinitialize` has run on it.
    pub fn subscribe(&self) -> watch::Receiver<KafkaZkClient> {
        self.current.subscribe()
    }

    /// Runs `op` on the current session until it succeeds or fails for a
    /// reason a retry cannot fix, retrying transient failures (see
    /// [`ZkError::is_transient`]) after a pause, logged as `what` failing.
    ///
    /// For start-up, before [`maintain`](Self::maintain) runs: a session
    /// that expired meanwhile is replaced here (see
    /// [`renew_if_expired`](Self::renew_if_expired)), which only suits
    /// calls whose effects do not belong to the session.
    pub async fn retry_transient<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, ZkError>
    where
        F: FnMut(KafkaZkClient) -> Fut,
        Fut: Future<Output = Result<T, ZkError>>,
    {
        // Unlimited: no need to ask whether another attempt is allowed.
        let retries = Backoff::fixed(RECONNECT_BACKOFF).start();
        loop {
            match op(self.client()).await {
                Err(error) if error.is_transient() => {
                    log::warn!("{what} failed, retrying: {error}");
                    self.renew_if_expired().await?;
                    retries.pause().await;
                }
                result => return result,
            }
        }
    }

    /// Replaces the current session with a new one if ZooKeeper has
    /// expired it (waiting for as long as ZooKeeper is unreachable), unless
    /// another session has replaced it meanwhile; a session that ended for
    /// good (closed, authentication failed) is an error.
    ///
    /// A renewed session holds none of the old one's ephemeral znodes and
    /// watches: a caller that had registered anything on it must do so again.
    pub async fn renew_if_expired(&self) -> Result<(), ZkError> {
        let expired = self.client();
        match expired.state() {
            SessionState::Expired => {}
            state if state.is_terminated() => return Err(ZkError::SessionEnded(state)),
            _ => return Ok(()),
        }
        log::warn!("ZooKeeper session expired; opening a new one");
        let renewed = open_session(&self.connect_string, self.session_timeout).await?;
        self.current.send_if_modified(|current| {
            let still_expired = current.session_id() == expired.session_id();
            if still_expired {
                *current = renewed;
            }
            still_expired
        });
        Ok(())
    }

    /// Waits for the current session to expire, opens a new one (retrying
    /// while ZooKeeper is unreachable), runs `reinitialize` on it (Kafka's
    /// `afterInitializingSession`: re-register the broker, re-elect) and
    /// publishes it to subscribers; then waits again.
    ///
    /// Runs until the broker drops the future at shutdown. A transient
    /// ZooKeeper fault never ends it: `reinitialize` is retried by the
    /// [`RegistrationRetry`] rules, on yet another session if the new one
    /// expires too. It returns an error only when a session ends for good
    /// (authentication failure), one cannot be opened for a reason no retry
    /// fixes, or `reinitialize` fails in a way no retry fixes (the broker
    /// id held by a live broker).
    pub async fn maintain<F, Fut>(&self, mut reinitialize: F) -> Result<(), ZkError>
    where
        F: FnMut(KafkaZkClient) -> Fut,
        Fut: Future<Output = Result<(), ZkError>>,
    {
        loop {
            let ended = wait_for_session_end(&self.client()).await;
            if ended != SessionState::Expired {
                return Err(ZkError::SessionEnded(ended));
            }
            let client = loop {
                log::warn!("ZooKeeper session expired; opening a new one");
                let client = open_session(&self.connect_string, self.session_timeout).await?;
                if self.reinitialize(&client, &mut reinitialize).await? {
                    break client;
                }
            };
            log::info!(
                "new ZooKeeper session {:#x} initialised",
                client.session_id()
            );
            self.current.send_replace(client);
        }
    }

    /// Runs `reinitialize` on `client` until it succeeds (true), the
    /// session expires under it (false: the caller opens another), or it
    /// fails in a way [`RegistrationRetry`] gives up on (the error).
    async fn reinitialize<F, Fut>(
        &self,
        client: &KafkaZkClient,
        reinitialize: &mut F,
    ) -> Result<bool, ZkError>
    where
        F: FnMut(KafkaZkClient) -> Fut,
        Fut: Future<Output = Result<(), ZkError>>,
    {
        // Unlimited: the policy, not a count, ends the retries.
        let retries = Backoff::fixed(RECONNECT_BACKOFF).start();
        let mut policy = RegistrationRetry::new(self.session_timeout);
        loop {
            let error = match reinitialize(client.clone()).await {
                Ok(()) => return Ok(true),
                Err(error) => error,
            };
            if client.state() == SessionState::Expired {
                log::warn!("the new ZooKeeper session expired while re-initialising it: {error}");
                return Ok(false);
            }
            match policy.after(&error, Instant::now()) {
                AfterFailure::Retry => {
                    log::warn!(
                        "re-initialising the new ZooKeeper session failed, retrying: {error}"
                    );
                    retries.pause().await;
                }
                AfterFailure::GiveUp => return Err(error),
            }
        }
    }
}

/// What to do after a broker registration attempt failed: Kafka's
/// registration rules plus gregor's refusal to give up on a transient fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again after the usual pause.
    Retry,
    /// Stop: the error is one no retry fixes.
    GiveUp,
}

/// How a broker registration is retried, at start-up and after a session
/// expiry alike (sans-io: the caller says when each failure happened).
///
/// A transient fault ([`ZkError::is_transient`]) is retried for as long as
/// it lasts. [`ZkError::BrokerIdInUse`] means a previous session still holds
/// `/brokers/ids/<id>`: after a crash or an expiry the old session's
/// ephemeral znode lingers until ZooKeeper times that session out, so it is
/// retried for up to two session timeouts (KAFKA-7165), counted afresh after
/// each transient fault, since a ZooKeeper that was stalled or restarted
/// counts the old session down again. Past that window the id belongs to a
/// live broker, which Kafka refuses too. Anything else is given up at once.
#[derive(Debug, Clone)]
pub struct RegistrationRetry {
    session_timeout: Duration,
    /// When the current run of `BrokerIdInUse` answers began.
    id_in_use_since: Option<Instant>,
}

impl RegistrationRetry {
    pub fn new(session_timeout: Duration) -> Self {
        RegistrationRetry {
            session_timeout,
            id_in_use_since: None,
        }
    }

    /// Decides about `error`, which an attempt ended with at `now`.
    pub fn after(&mut self, error: &ZkError, now: Instant) -> AfterFailure {
        match error {
            ZkError::BrokerIdInUse(_) => {
                let since = *self.id_in_use_since.get_or_insert(now);
                if now.duration_since(since) < 2 * self.session_timeout {
                    AfterFailure::Retry
                } else {
                    AfterFailure::GiveUp
                }
            }
            error if error.is_transient() => {
                self.id_in_use_since = None;
                AfterFailure::Retry
            }
            _ => AfterFailure::GiveUp,
        }
    }
}

/// Opens a session, retrying for as long as ZooKeeper is unreachable and
/// logging each failed attempt; returns the first error a retry cannot fix.
async fn open_session(
    connect_string: &str,
    session_timeout: Duration,
) -> Result<KafkaZkClient, ZkError> {
    // Unlimited: no need to ask whether another attempt is allowed.
    let retries = Backoff::fixed(RECONNECT_BACKOFF).start();
    loop {
        match KafkaZkClient::connect(connect_string, session_timeout).await {
            Err(error) if error.is_transient() => {
                log::warn!("cannot open a ZooKeeper session yet, retrying: {error}");
                retries.pause().await;
            }
            result => return result,
        }
    }
}

/// Resolves with the terminal state (expired, closed, auth failed) once the
/// client's session has ended; disconnections it recovers from are skipped.
pub async fn wait_for_session_end(client: &KafkaZkClient) -> SessionState {
    let mut watcher = client.state_watcher();
    let mut state = client.state();
    while !state.is_terminated() {
        state = watcher.changed().await;
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::zk_error;
    use zookeeper_client as zkc;

    const SESSION: Duration = Duration::from_secs(6);

    fn lost() -> ZkError {
        zk_error("create", "/brokers/ids/1", zkc::Error::ConnectionLoss)
    }

    #[test]
    fn transient_faults_are_retried_however_long_they_last() {
        let mut policy = RegistrationRetry::new(SESSION);
        let start = Instant::now();
        for minutes in [0, 1, 10, 60] {
            let now = start + Duration::from_secs(60 * minutes);
            assert_eq!(policy.after(&lost(), now), AfterFailure::Retry);
        }
    }

    #[test]
    fn a_previous_sessions_registration_is_waited_for_two_session_timeouts() {
        let mut policy = RegistrationRetry::new(SESSION);
        let start = Instant::now();
        let in_use = ZkError::BrokerIdInUse(1);
        assert_eq!(policy.after(&in_use, start), AfterFailure::Retry);
        let almost = start + 2 * SESSION - Duration::from_millis(1);
        assert_eq!(policy.after(&in_use, almost), AfterFailure::Retry);
        assert_eq!(
            policy.after(&in_use, start + 2 * SESSION),
            AfterFailure::GiveUp
        );
    }

    #[test]
    fn a_transient_fault_restarts_the_wait_for_the_previous_session() {
        let mut policy = RegistrationRetry::new(SESSION);
        let start = Instant::now();
        let in_use = ZkError::BrokerIdInUse(1);
        assert_eq!(policy.after(&in_use, start), AfterFailure::Retry);
        // ZooKeeper stalls: the old session's timeout starts over on its side.
        let stalled = start + 2 * SESSION;
        assert_eq!(policy.after(&lost(), stalled), AfterFailure::Retry);
        assert_eq!(policy.after(&in_use, stalled), AfterFailure::Retry);
        let later = stalled + 2 * SESSION - Duration::from_millis(1);
        assert_eq!(policy.after(&in_use, later), AfterFailure::Retry);
        assert_eq!(
            policy.after(&in_use, stalled + 2 * SESSION),
            AfterFailure::GiveUp
        );
    }

    #[test]
    fn errors_no_retry_fixes_are_given_up_at_once() {
        let mut policy = RegistrationRetry::new(SESSION);
        let now = Instant::now();
        let refused = zk_error("create", "/brokers/ids/1", zkc::Error::NoAuth);
        assert_eq!(policy.after(&refused, now), AfterFailure::GiveUp);
        let closed = ZkError::SessionEnded(SessionState::AuthFailed);
        assert_eq!(policy.after(&closed, now), AfterFailure::GiveUp);
    }
}
