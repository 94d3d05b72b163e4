//! The usual test set-up: one standalone ZooKeeper and one gregor broker
//! registered in it, both killed when the fixture is dropped.

use std::time::Duration;

use anyhow::Result;
use gregor_protocol::api::metadata::MetadataRequest;

use crate::wire::WireClient;
use crate::{wait_until, Broker, BrokerConfig, ZooKeeper};

/// A standalone ZooKeeper and one broker (id 1) using it.
pub struct SingleBroker {
    // Declared first so the broker dies before its ZooKeeper.
    pub broker: Broker,
    pub zookeeper: ZooKeeper,
}

impl SingleBroker {
    /// `127.0.0.1:<port>` of the broker.
    pub fn bootstrap(&self) -> String {
        self.broker.bootstrap()
    }

    /// Waits until the broker lists itself in its Metadata answers. A
    /// broker restarted after kill -9 accepts connections while it waits
    /// for its previous ZooKeeper session to expire, and until it has
    /// registered again its Metadata has no brokers, so clients find no
    /// leader (librdkafka: "Local: Unknown partition").
    pub fn wait_until_registered(&self, timeout: Duration) -> Result<()> {
        let what = format!("broker {} to list itself in Metadata", self.broker.id());
        wait_until(&what, timeout, || {
            let mut client = WireClient::connect(&self.bootstrap())?;
            let request = MetadataRequest {
                topics: Some(Vec::new()),
                ..Default::default()
            };
            let response = client.request(9, &request)?;
            Ok(response
                .brokers
                .iter()
                .any(|b| b.node_id == self.broker.id() as i32)
                .then_some(()))
        })
    }
}

/// Starts a standalone ZooKeeper and broker 1 with default settings.
pub fn gregor_broker_with_zk() -> Result<SingleBroker> {
    gregor_broker_with_zk_configured(|config| config)
}

/// Starts a standalone ZooKeeper and broker 1; `configure` adds
/// `server.properties` keys (`.property("num.partitions", 3)`).
pub fn gregor_broker_with_zk_configured(
    configure: impl FnOnce(BrokerConfig) -> BrokerConfig,
) -> Result<SingleBroker> {
    let zookeeper = ZooKeeper::start_standalone()?;
    let broker = configure(BrokerConfig::new(1, &zookeeper.connect_string())).start()?;
    Ok(SingleBroker { broker, zookeeper })
}

/// A topic name unique within this test process (tests in one binary share
/// nothing, but a readable prefix helps when reading broker logs).
pub fn unique_topic(prefix: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}
