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
    /// Runs until the broker drops the future at shutdown. Returns early
    /// with an error when `reinitialize` keeps failing for two session timeouts
    /// or a session ends for good (authentication failure) or cannot be
    /// opened for a reason no retry fixes.
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
            log::warn!("ZooKeeper session expired; opening a new one");
            let client = open_session(&self.connect_string, self.session_timeout).await?;
            self.reinitialize(&client, &mut reinitialize).await?;
            log::info!(
                "new ZooKeeper session {:#x} initialised",
                client.session_id()
            );
            self.current.send_replace(client);
        }
    }

    /// Runs `reinitialize`, retrying for up to two session timeouts.
    ///
    /// The client can give up on a session (after 1.4 session timeouts of
    /// silence) before the server expires it: a server that was stalled or
    /// restarted still counts down a full session timeout (rounded up to its
    /// tick) from the last time it heard of the old session, which may be as
    /// late as its resumption. Until then our previous session's ephemeral
    /// znodes are still there and re-registration meets
    /// [`ZkError::BrokerIdInUse`]. Kafka met the same race (KAFKA-7165).
    async fn reinitialize<F, Fut>(
        &self,
        client: &KafkaZkClient,
        reinitialize: &mut F,
    ) -> Result<(), ZkError>
    where
        F: FnMut(KafkaZkClient) -> Fut,
        Fut: Future<Output = Result<(), ZkError>>,
    {
        let mut retries = Backoff::fixed(RECONNECT_BACKOFF)
            .until(Instant::now() + 2 * self.session_timeout)
            .start();
        loop {
            match reinitialize(client.clone()).await {
                Err(error) if retries.allows_another() => {
                    log::warn!(
                        "re-initialising the new ZooKeeper session failed, retrying: {error}"
                    );
                    retries.pause().await;
                }
                result => return result,
            }
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
