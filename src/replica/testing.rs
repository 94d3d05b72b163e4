//! Shared set-up for the replica manager's tests: a manager over a temporary
//! log dir, and a record batch to produce.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::log::{LogConfig, LogManager, LogManagerConfig};
use crate::record::{Record, RecordBatchBuilder};

use super::ReplicaManager;

pub fn manager(dir: &Path) -> Arc<ReplicaManager> {
    let logs = LogManager::startup(LogManagerConfig {
        log_dirs: vec![dir.to_path_buf()],
        default_log_config: LogConfig::default(),
        retention_check_interval: Duration::from_secs(300),
        flush_check_interval: None,
        checkpoint_interval: Duration::from_secs(60),
        broker_id: 0,
    })
    .unwrap();
    Arc::new(ReplicaManager::new(Arc::new(logs)))
}

/// One record with timestamp `ts`.
pub fn batch(ts: i64) -> Bytes {
    let mut b = RecordBatchBuilder::new(ts);
    b.append(Record::new(
        ts,
        Some(b"k".as_slice()),
        Some(b"v".as_slice()),
    ));
    b.build()
}
