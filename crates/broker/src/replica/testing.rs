//! Shared set-up for the replica manager's tests: a manager over a temporary
//! log dir with a fake ZooKeeper, and a record batch to produce.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;

use crate::config::KafkaConfig;
use gregor_log::{LogConfig, LogManager, LogManagerConfig};
use gregor_protocol::BrokerId;
use gregor_protocol::TopicPartition;
use gregor_record::{Record, RecordBatchBuilder};
use gregor_runtime::SystemClock;
use gregor_zk::client::ZkError;
use gregor_zk::data::LeaderIsrAndControllerEpoch;

use super::isr::{IsrStore, StoreFuture};
use super::{ReplicaConfig, ReplicaManager};

/// The broker the test managers run as.
pub(super) const ME: BrokerId = 1;

/// A partition state znode and the ISR change notifications, in memory.
#[derive(Debug, Default)]
pub(super) struct FakeZk {
    state: Mutex<FakeZkState>,
}

#[derive(Debug, Default)]
pub(super) struct FakeZkState {
    /// The partition state's zkVersion: writes must name it.
    pub zk_version: i32,
    /// Every state written, in order.
    pub written: Vec<LeaderIsrAndControllerEpoch>,
    /// Every notification, in order.
    pub notified: Vec<Vec<TopicPartition>>,
}

impl FakeZk {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, FakeZkState> {
        self.state.lock().unwrap()
    }
}

impl IsrStore for FakeZk {
    fn update_partition_state<'a>(
        &'a self,
        tp: &'a TopicPartition,
        state: &'a LeaderIsrAndControllerEpoch,
        zk_version: i32,
    ) -> StoreFuture<'a, i32> {
        Box::pin(async move {
            let mut zk = self.lock();
            if zk.zk_version != zk_version {
                return Err(ZkError::BadVersion {
                    path: format!(
                        "/brokers/topics/{}/partitions/{}/state",
                        tp.topic, tp.partition
                    ),
                    expected_version: zk_version,
                });
            }
            zk.zk_version += 1;
            zk.written.push(state.clone());
            Ok(zk.zk_version)
        })
    }

    fn notify_isr_change<'a>(&'a self, partitions: &'a [TopicPartition]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.lock().notified.push(partitions.to_vec());
            Ok(())
        })
    }
}

/// The replica settings of broker [`ME`] with Kafka's defaults.
pub(super) fn config() -> ReplicaConfig {
    let broker = KafkaConfig::parse("zookeeper.connect=localhost:2181").unwrap();
    ReplicaConfig::from_broker(&broker, ME)
}

pub(super) fn manager(dir: &Path) -> Arc<ReplicaManager> {
    manager_with_zk(dir).0
}

/// A manager and the fake ZooKeeper its ISR changes go to.
pub(super) fn manager_with_zk(dir: &Path) -> (Arc<ReplicaManager>, Arc<FakeZk>) {
    manager_with(dir, config())
}

/// [`manager_with_zk`] with other replica settings.
pub(super) fn manager_with(
    dir: &Path,
    config: ReplicaConfig,
) -> (Arc<ReplicaManager>, Arc<FakeZk>) {
    let logs = LogManager::startup(LogManagerConfig {
        log_dirs: vec![dir.to_path_buf()],
        default_log_config: LogConfig::default(),
        retention_check_interval: Duration::from_secs(300),
        flush_check_interval: None,
        checkpoint_interval: Duration::from_secs(60),
        broker_id: ME,
        cluster_id: None,
        cleaner: Default::default(),
        clock: SystemClock::shared(),
    })
    .unwrap();
    let zk = Arc::new(FakeZk::default());
    let rm = ReplicaManager::new(Arc::new(logs), config, Arc::clone(&zk) as Arc<dyn IsrStore>);
    (Arc::new(rm), zk)
}

/// One record with timestamp `ts`.
pub(super) fn batch(ts: i64) -> Bytes {
    let mut b = RecordBatchBuilder::new(ts);
    b.append(Record::new(
        ts,
        Some(b"k".as_slice()),
        Some(b"v".as_slice()),
    ));
    b.build()
}
