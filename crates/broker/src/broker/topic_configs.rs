//! Topic configs on a broker: a topic's overrides are read from
//! `/config/topics/<t>` when one of its partitions is first hosted here (its
//! log created, or opened after a restart), and again whenever an admin
//! announces a change under `/config/changes` (Kafka's `ZkConfigManager`
//! with its `TopicConfigHandler`), so every broker applies a new
//! `retention.ms` without a restart. On the controller's broker the
//! controller hears of it too, for `unclean.leader.election.enable`.
//!
//! Nothing is kept in between: the logs hold the config they run with, and
//! a topic deleted and created again under the same name starts from its
//! new znode.

use std::sync::Arc;
use std::time::Duration;

use log::{info, warn};

use gregor_log::LogConfig;
use gregor_runtime::{Backoff, Shutdown};
use gregor_zk::data::{ConfigChangeNotification, ZNodeData};
use gregor_zk::{paths, KafkaZkClient, ZkError};

use super::Broker;

/// Pause before watching `/config/changes` again after ZooKeeper failed.
const WATCH_RETRY_BACKOFF: Duration = Duration::from_millis(500);
/// The entity path prefix of a topic's config change notification.
const TOPIC_ENTITY_PREFIX: &str = "topics/";

impl Broker {
    /// The topic's log config as ZooKeeper has it now: broker defaults plus
    /// its overrides. A ZooKeeper failure or a bad override falls back to
    /// the defaults (the partition must be hosted either way), with a
    /// warning.
    pub(crate) async fn topic_log_config(&self, topic: &str) -> LogConfig {
        self.read_topic_config(&self.zk.client(), topic).await
    }

    async fn read_topic_config(&self, client: &KafkaZkClient, topic: &str) -> LogConfig {
        match client.get_topic_config(topic).await {
            Ok(overrides) => self.log_config_for(&overrides).unwrap_or_else(|e| {
                warn!("topic {topic}: ignoring bad config override: {e}");
                self.logs.default_log_config().clone()
            }),
            Err(e) => {
                warn!("topic {topic}: cannot read its config ({e}); using the defaults");
                self.logs.default_log_config().clone()
            }
        }
    }

    /// Follows `/config/changes` on `tasks` until that is stopped: each new
    /// notification for a topic makes every hosted partition of it take the
    /// topic's current config.
    pub(crate) fn watch_config_changes(self: &Arc<Self>, tasks: &Shutdown) {
        let broker = Arc::clone(self);
        tasks.spawn(async move {
            // Unlimited: ZooKeeper is retried for as long as the broker runs.
            let retries = Backoff::fixed(WATCH_RETRY_BACKOFF).start();
            let mut last_seen: Option<String> = None;
            loop {
                let client = broker.zk.client();
                match broker.process_config_changes(&client, &mut last_seen).await {
                    Ok(watcher) => {
                        watcher.changed().await;
                    }
                    Err(e) => {
                        warn!("cannot follow {}: {e}", paths::CONFIG_CHANGES);
                        retries.pause().await;
                    }
                }
            }
        });
    }

    /// Re-arms the watch, then applies the notifications after `last_seen`
    /// (their names carry ZooKeeper's zero-padded sequence, so they sort).
    async fn process_config_changes(
        &self,
        client: &KafkaZkClient,
        last_seen: &mut Option<String>,
    ) -> Result<zookeeper_client::OneshotWatcher, ZkError> {
        let watcher = client.watch_children(paths::CONFIG_CHANGES).await?;
        let mut children = client.children(paths::CONFIG_CHANGES).await?;
        children.sort_unstable();
        for child in children {
            if last_seen.as_ref().is_some_and(|seen| child <= *seen) {
                continue;
            }
            let path = format!("{}/{child}", paths::CONFIG_CHANGES);
            if let Some((data, _)) = client.get_raw(&path).await? {
                match ConfigChangeNotification::decode(&data) {
                    Ok(change) => self.apply_config_change(client, &change.entity_path).await,
                    Err(e) => warn!("ignoring unreadable {path}: {e}"),
                }
            }
            *last_seen = Some(child);
        }
        Ok(watcher)
    }

    async fn apply_config_change(&self, client: &KafkaZkClient, entity_path: &str) {
        let Some(topic) = entity_path.strip_prefix(TOPIC_ENTITY_PREFIX) else {
            return;
        };
        let config = self.read_topic_config(client, topic).await;
        let mut applied = 0;
        for (tp, log) in self.logs.all() {
            if tp.topic == topic {
                gregor_log::manager::lock(&log).set_config(config.clone());
                applied += 1;
            }
        }
        if applied > 0 {
            info!("topic {topic}: new config applied to {applied} partitions");
        }
        if let Some(controller) = self.active_controller() {
            controller.topic_config_changed(topic);
        }
    }
}
