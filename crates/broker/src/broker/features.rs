//! The cluster's finalized features as this broker knows them (KIP-584):
//! Kafka 2.8's `FinalizedFeatureChangeListener` and `FinalizedFeatureCache`.
//!
//! The controller creates `/feature` when it takes over; every broker reads
//! it at start-up and again whenever it is created, changed or deleted (a
//! ZooKeeper watch), and caches its epoch, the znode's zkVersion.
//! ApiVersions v3+ answers with that cached epoch, -1 while `/feature` is
//! absent or disabled, so the request path never waits on ZooKeeper.
//! Kafka 2.8 finalizes no features, so only the epoch is kept.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gregor_runtime::{Backoff, Shutdown};
use gregor_zk::data::{FeatureZNode, FeatureZNodeStatus};
use gregor_zk::session::ZkSession;
use gregor_zk::{paths, KafkaZkClient, Versioned, ZkError};
use log::{error, info, warn};

/// The epoch of "no finalized features" (Kafka's
/// `UNKNOWN_FINALIZED_FEATURES_EPOCH`): ApiVersions then omits the field.
pub(crate) const UNKNOWN_EPOCH: i64 = -1;
/// Pause before reading `/feature` again after ZooKeeper failed.
const WATCH_RETRY_BACKOFF: Duration = Duration::from_millis(500);

/// The cached finalized features epoch, shared with the watch task.
#[derive(Debug)]
pub(crate) struct FinalizedFeatureCache {
    epoch: AtomicI64,
}

impl FinalizedFeatureCache {
    pub(crate) fn new() -> Self {
        FinalizedFeatureCache {
            epoch: AtomicI64::new(UNKNOWN_EPOCH),
        }
    }

    /// The cached epoch, [`UNKNOWN_EPOCH`] when none.
    pub(crate) fn epoch(&self) -> i64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Takes what `/feature` holds now (`None` if absent), as Kafka's
    /// `FeatureCacheUpdater.updateLatestOrThrow`: an absent or disabled
    /// znode clears the cache, an enabled one sets its zkVersion as the
    /// epoch. An epoch older than the cached one is refused (Kafka's
    /// `updateOrThrow` fails and the broker exits; gregor keeps the cached
    /// epoch and logs an error).
    pub(crate) fn update(&self, znode: Option<&Versioned<FeatureZNode>>) {
        let Some(znode) = znode else {
            info!("{} does not exist", paths::FEATURE);
            self.epoch.store(UNKNOWN_EPOCH, Ordering::SeqCst);
            return;
        };
        match znode.value.status {
            FeatureZNodeStatus::Disabled => {
                info!("{} is in disabled status", paths::FEATURE);
                self.epoch.store(UNKNOWN_EPOCH, Ordering::SeqCst);
            }
            FeatureZNodeStatus::Enabled => {
                let latest = i64::from(znode.zk_version);
                let cached = self.epoch();
                if latest < cached {
                    error!(
                        "{} has epoch {latest}, older than the cached {cached}; keeping {cached}",
                        paths::FEATURE
                    );
                } else {
                    info!("finalized features epoch is now {latest}");
                    self.epoch.store(latest, Ordering::SeqCst);
                }
            }
        }
    }

    /// Reads `/feature` once (the start-up read a broker does before it
    /// serves, Kafka's `initOrThrow`, retried while ZooKeeper is
    /// unreachable), then follows it in the background on `tasks` until that
    /// is stopped or `zk` is dropped, re-reading after every change and in
    /// every new session.
    pub(crate) async fn follow(
        self: &Arc<Self>,
        zk: &ZkSession,
        tasks: &Shutdown,
    ) -> Result<(), ZkError> {
        let watcher = zk
            .retry_transient("reading /feature", |client| async move {
                self.refresh(&client).await
            })
            .await?;
        let sessions = zk.subscribe();
        let cache = Arc::clone(self);
        tasks.spawn(async move {
            // Unlimited: ZooKeeper is retried for as long as the broker runs.
            let retries = Backoff::fixed(WATCH_RETRY_BACKOFF).start();
            let mut watcher = Some(watcher);
            loop {
                if let Some(watcher) = watcher.take() {
                    watcher.changed().await;
                }
                if sessions.has_changed().is_err() {
                    break; // the broker is gone
                }
                let client = sessions.borrow().clone();
                match cache.refresh(&client).await {
                    Ok(next) => watcher = Some(next),
                    Err(e) => {
                        warn!("cannot follow {}: {e}", paths::FEATURE);
                        retries.pause().await;
                    }
                }
            }
        });
        Ok(())
    }

    /// Watches `/feature` (creation, change or deletion), then reads it
    /// into the cache.
    async fn refresh(
        &self,
        client: &KafkaZkClient,
    ) -> Result<zookeeper_client::OneshotWatcher, ZkError> {
        let watcher = client.watch_exists(paths::FEATURE).await?;
        let znode = client.get::<FeatureZNode>(paths::FEATURE).await?;
        self.update(znode.as_ref());
        Ok(watcher)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use gregor_zk::data::ZNodeData;

    fn versioned(json: &str, zk_version: i32) -> Versioned<FeatureZNode> {
        Versioned {
            value: FeatureZNode::decode(json.as_bytes()).expect("a valid /feature"),
            zk_version,
        }
    }

    #[test]
    fn starts_unknown() {
        assert_eq!(FinalizedFeatureCache::new().epoch(), UNKNOWN_EPOCH);
    }

    #[test]
    fn enabled_znode_sets_its_zk_version() {
        let cache = FinalizedFeatureCache::new();
        // What the controller writes when it takes over.
        let created = FeatureZNode::new(FeatureZNodeStatus::Enabled, BTreeMap::new());
        let created = Versioned {
            value: FeatureZNode::decode(&created.encode()).expect("round trip"),
            zk_version: 0,
        };
        cache.update(Some(&created));
        assert_eq!(cache.epoch(), 0);
        cache.update(Some(&versioned(
            r#"{"features":{},"version":1,"status":1}"#,
            3,
        )));
        assert_eq!(cache.epoch(), 3);
    }

    #[test]
    fn absent_or_disabled_clears() {
        let cache = FinalizedFeatureCache::new();
        cache.update(Some(&versioned(
            r#"{"features":{},"version":1,"status":1}"#,
            2,
        )));
        cache.update(Some(&versioned(
            r#"{"features":{},"version":1,"status":0}"#,
            3,
        )));
        assert_eq!(cache.epoch(), UNKNOWN_EPOCH);
        cache.update(Some(&versioned(
            r#"{"features":{},"version":1,"status":1}"#,
            4,
        )));
        assert_eq!(cache.epoch(), 4);
        cache.update(None);
        assert_eq!(cache.epoch(), UNKNOWN_EPOCH);
        // Deleted and created again: a fresh znode starts at version 0.
        cache.update(Some(&versioned(
            r#"{"features":{},"version":1,"status":1}"#,
            0,
        )));
        assert_eq!(cache.epoch(), 0);
    }

    #[test]
    fn an_older_epoch_is_refused() {
        let cache = FinalizedFeatureCache::new();
        cache.update(Some(&versioned(
            r#"{"features":{},"version":1,"status":1}"#,
            5,
        )));
        cache.update(Some(&versioned(
            r#"{"features":{},"version":1,"status":1}"#,
            4,
        )));
        assert_eq!(cache.epoch(), 5);
    }
}
