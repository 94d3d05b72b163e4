//! Async helpers for tests that talk to ZooKeeper through gregor's own
//! client (`zk_client.rs`, `controller_election.rs`), on top of the
//! harness's standalone [`ZooKeeper`] server.

use std::time::{Duration, Instant};

use gregor_zk::KafkaZkClient;
use integration_tests::ZooKeeper;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

/// Session timeout of the clients these tests open.
pub(crate) const SESSION_TIMEOUT: Duration = Duration::from_secs(6);
/// Bound on every wait in these tests.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

/// A standalone ZooKeeper, killed on drop, with gregor's chroot.
pub(crate) struct Zk(ZooKeeper);

impl Zk {
    pub(crate) fn start() -> Zk {
        Zk(ZooKeeper::start_standalone().expect("start ZooKeeper"))
    }

    /// Sends SIGSTOP / SIGCONT to the server, to freeze it past a session
    /// timeout and let it go again.
    pub(crate) fn signal(&self, signal: Signal) {
        let pid = self.0.pid(0).expect("ZooKeeper is running");
        kill(Pid::from_raw(pid as i32), signal).expect("signal ZooKeeper");
    }

    /// `host:port` without the chroot.
    pub(crate) fn hosts(&self) -> String {
        self.0.connect_string()
    }

    /// `host:port/gregor`, as a broker's `zookeeper.connect`.
    pub(crate) fn connect_string(&self) -> String {
        format!("{}/gregor", self.hosts())
    }

    /// A connected client with Kafka's persistent paths created.
    pub(crate) async fn client(&self) -> KafkaZkClient {
        let client = KafkaZkClient::connect(&self.connect_string(), SESSION_TIMEOUT)
            .await
            .expect("connect");
        client
            .ensure_persistent_paths()
            .await
            .expect("persistent paths");
        client
    }

    /// A client outside the chroot, to see what an operator's zkCli sees.
    pub(crate) async fn root_client(&self) -> zookeeper_client::Client {
        zookeeper_client::Client::connect(&self.hosts())
            .await
            .expect("connect")
    }
}

pub(crate) async fn json_at(root: &zookeeper_client::Client, path: &str) -> Value {
    let (data, _) = root.get_data(path).await.expect("znode exists");
    serde_json::from_slice(&data).expect("znode holds JSON")
}

/// Polls `condition` until it holds or [`DEADLINE`] passes.
pub(crate) async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
