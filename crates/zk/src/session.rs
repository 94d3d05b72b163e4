//! Surviving ZooKeeper session expiry without restarting the broker.
//!
//! When ZooKeeper expires a session it deletes the session's ephemeral
//! znodes: the broker vanishes from `/brokers/ids` and, if it was the
//! controller, `/controller` is freed. Kafka's `ZooKeeperClient` then opens a
//! new session and runs every registered `StateChangeHandler`, which
//! re-registers the broker and re-runs the controller election.
//! [`ZkSession::maintain`] is that loop; [`ZkSession::subscribe`] lets other
//! components (the controller) learn of each new session.

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
    /// Opens the first session (see [`KafkaZkClient::connect`]).
    pub async fn connect(connect_string: &str, session_timeout: Duration) -> Result<Self, ZkError> {
        let client = KafkaZkClient::connect(connect_string, session_timeout).await?;
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

    /// Waits for the current session to expire, opens a new one (retrying
    /// while ZooKeeper is unreachable), runs `reinitialize` on it (Kafka's
    /// `afterInitializingSession`: re-register the broker, re-elect) and
    /// publishes it to subscribers; then waits again.
    ///
    /// Runs until the broker drops the future at shutdown. Returns early
    /// with an error when `reinitialize` keeps failing for two session timeouts
    /// or a session ends for good (authentication failure).
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
            let client = self.reconnect().await;
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

    /// Opens a new session, retrying for as long as it takes.
    async fn reconnect(&self) -> KafkaZkClient {
        // Unlimited: no need to ask whether another attempt is allowed.
        let retries = Backoff::fixed(RECONNECT_BACKOFF).start();
        loop {
            match KafkaZkClient::connect(&self.connect_string, self.session_timeout).await {
                Ok(client) => return client,
                Err(error) => {
                    log::warn!("cannot open a ZooKeeper session yet: {error}");
                    retries.pause().await;
                }
            }
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
