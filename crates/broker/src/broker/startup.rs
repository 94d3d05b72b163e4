//! Broker start-up and shutdown.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::log::{error, info, warn};
use tokio::sync::watch;

use crate::config::{topic_log_config, ConfigError, KafkaConfig};
use crate::controller::{ActiveController, ControllerConfig, ControllerElector};
use crate::coordinator::offsets_topic::OffsetsTopic;
use crate::coordinator::{GroupConfig, GroupCoordinator};
use crate::metadata::{LiveBroker, MetadataCache};
use crate::replica::{ReplicaConfig, ReplicaError, ReplicaManager, ZkIsrStore};
use gregor_log::checkpoint::MetaProperties;
use gregor_log::manager::BackgroundTasks;
use gregor_log::{LogConfig, LogError, LogManager, LogManagerConfig};
use gregor_protocol::BrokerId;
use gregor_runtime::{Backoff, Shutdown, SystemClock};
use gregor_zk::client::{KafkaZkClient, ZkError};
use gregor_zk::data::{BrokerInfo, EndPoint, SecurityProtocol};
use gregor_zk::session::{AfterFailure, RegistrationRetry, ZkSession};

use super::features::FinalizedFeatureCache;
use super::producer_ids::ProducerIdManager;
use gregor_client::BrokerConnection;
use gregor_protocol::api::controlled_shutdown::ControlledShutdownRequest;
use gregor_protocol::TopicPartition;
use gregor_protocol::{ErrorCode, Message};

/// Pause between attempts to register over a crashed predecessor's node.
const REGISTRATION_RETRY: Duration = Duration::from_millis(500);

/// Why a broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(transparent)]
    Zk(#[from] ZkError),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
}

/// A running broker's state, shared by every connection.
pub struct Broker {
    pub(crate) config: KafkaConfig,
    pub(crate) id: BrokerId,
    pub(crate) zk: ZkSession,
    pub(crate) metadata: Arc<MetadataCache>,
    pub(crate) replicas: Arc<ReplicaManager>,
    pub(crate) logs: Arc<LogManager>,
    /// Hands out producer ids (InitProducerId).
    pub(crate) producer_ids: ProducerIdManager,
    /// The czxid of this broker's current `/brokers/ids/<id>` registration,
    /// Kafka's broker epoch: controller requests naming an older one were
    /// meant for a previous registration (STALE_BROKER_EPOCH). -1 until
    /// registered.
    pub(crate) broker_epoch: AtomicI64,
    background: std::sync::Mutex<Option<BackgroundTasks>>,
    /// The broker's shutdown tree.
    tasks: BrokerTasks,
    /// This broker's part in the controller election, in the current session.
    elector: std::sync::Mutex<Option<ControllerElector>>,
    /// The controller, while this broker is elected.
    pub(crate) controller: Arc<std::sync::Mutex<Option<ActiveController>>>,
    /// The group coordinator of the `__consumer_offsets` partitions this
    /// broker leads.
    pub(crate) coordinator: Arc<GroupCoordinator>,
    /// The epoch of `/feature`, which ApiVersions answers with.
    pub(crate) features: Arc<FinalizedFeatureCache>,
    /// Why the broker must stop, once it has met a fault it cannot handle
    /// (its registration lost for good); the binary waits on
    /// [`Broker::fatal`] and stops the broker loudly.
    fatal: watch::Sender<Option<String>>,
}

impl Broker {
    /// Everything up to (not including) listening: connects to ZooKeeper,
    /// settles the cluster and broker ids, opens the logs (recovering them
    /// after an unclean shutdown) and hosts this broker's partitions.
    ///
    /// Waits for ZooKeeper for as long as it is unreachable, retrying each
    /// call (see [`ZkSession::retry_transient`]). Every ZooKeeper call comes
    /// before the logs are opened, so a caller may drop this future while
    /// it waits (on SIGTERM) with nothing to close.
    pub async fn start(config: KafkaConfig) -> Result<Arc<Broker>, BrokerError> {
        let started = Instant::now();
        let session_timeout = Duration::from_millis(config.zookeeper_session_timeout_ms);
        let zk = ZkSession::connect(&config.zookeeper_connect, session_timeout).await?;
        zk.retry_transient("creating the persistent znodes", |client| async move {
            client.ensure_persistent_paths().await
        })
        .await?;
        let cluster_id = zk
            .retry_transient("reading the cluster id", |client| async move {
                client.get_or_create_cluster_id().await
            })
            .await?;
        let id = broker_id(&config, &zk).await?;
        info!("broker {id} in cluster {cluster_id}");
        let tasks = BrokerTasks::new();
        let features = Arc::new(FinalizedFeatureCache::new());
        features.follow(&zk, &tasks.features).await?;
        // Kafka's transaction coordinator claims its first producer id block
        // at start-up, after registration; claiming it here, before the logs
        // open, keeps every start-up call to ZooKeeper ahead of them, and
        // no client can ask for an id before the broker listens anyway.
        let producer_ids = ProducerIdManager::new(id);
        zk.retry_transient("claiming a producer id block", |client| {
            let producer_ids = &producer_ids;
            async move { producer_ids.claim_first_block(&client).await }
        })
        .await?;

        let log_config = config.log_config();
        let logs = Arc::new(LogManager::startup(LogManagerConfig {
            log_dirs: config.log_dirs.clone(),
            default_log_config: log_config,
            retention_check_interval: Duration::from_millis(config.log_retention_check_interval_ms),
            flush_check_interval: config
                .log_flush_scheduler_interval_ms
                .map(Duration::from_millis),
            checkpoint_interval: Duration::from_millis(
                config.log_flush_offset_checkpoint_interval_ms,
            ),
            broker_id: id,
            cluster_id: Some(cluster_id.clone()),
            cleaner: config.log_cleaner.clone(),
            clock: SystemClock::shared(),
        })?);
        let background = logs.start_background();
        let replicas = Arc::new(ReplicaManager::new(
            Arc::clone(&logs),
            ReplicaConfig::from_broker(&config, id),
            Arc::new(ZkIsrStore::new(zk.subscribe())),
        ));
        replicas.startup(tasks.root.child());
        let metadata = Arc::new(MetadataCache::new(cluster_id));
        let coordinator = GroupCoordinator::new(
            GroupConfig::from_broker(&config),
            Arc::clone(&replicas) as Arc<dyn OffsetsTopic>,
            Arc::clone(&metadata),
            Arc::clone(logs.clock()),
            tasks.root.child(),
        );
        coordinator.start();
        let broker = Arc::new(Broker {
            config,
            id,
            zk,
            metadata,
            replicas,
            logs,
            producer_ids,
            broker_epoch: AtomicI64::new(-1),
            background: std::sync::Mutex::new(Some(background)),
            tasks,
            elector: std::sync::Mutex::new(None),
            controller: Arc::new(std::sync::Mutex::new(None)),
            coordinator,
            features,
            fatal: watch::Sender::new(None),
        });
        info!(
            "broker {id} started in {:?} (before listeners)",
            started.elapsed()
        );
        Ok(broker)
    }

    pub fn id(&self) -> BrokerId {
        self.id
    }

    /// This broker's epoch: the czxid of its current registration.
    pub fn broker_epoch(&self) -> i64 {
        self.broker_epoch.load(Ordering::SeqCst)
    }

    /// The topic's effective log config: broker defaults plus its overrides
    /// in `/config/topics/<t>`.
    pub(crate) fn log_config_for(
        &self,
        overrides: &BTreeMap<String, String>,
    ) -> Result<LogConfig, ConfigError> {
        topic_log_config(self.logs.default_log_config(), overrides)
    }

    /// Registers `/brokers/ids/<id>` (after the listeners are bound, as in
    /// Kafka, so a registered broker is always reachable) and keeps it
    /// registered across ZooKeeper session expiry.
    ///
    /// A transient ZooKeeper fault is retried for as long as it lasts, on a
    /// new session if the old one expired meanwhile. After a crash the
    /// previous process's registration lingers until its session times out:
    /// Kafka 2.8's `checkedEphemeralCreate` accepts a node only when this
    /// very session owns it and fails start-up otherwise; gregor waits for
    /// that session to expire (up to twice `zookeeper.session.timeout.ms`,
    /// counted afresh after each transient fault, since a ZooKeeper that was
    /// stalled or restarted counts the old session's timeout down again) and
    /// only then, as Kafka does, refuses a broker id another live broker holds.
    pub async fn register(self: &Arc<Self>, bound_ports: &[u16]) -> Result<(), BrokerError> {
        let info = self.broker_info(bound_ports);
        let session_timeout = Duration::from_millis(self.config.zookeeper_session_timeout_ms);
        let retries = Backoff::fixed(REGISTRATION_RETRY).start();
        let mut policy = RegistrationRetry::new(session_timeout);
        let epoch = loop {
            let client = self.zk.client();
            let error = match client
                .register_broker(&info, self.logs.clock().milliseconds())
                .await
            {
                Ok(epoch) => break epoch,
                Err(error) => error,
            };
            if policy.after(&error, tokio::time::Instant::now()) == AfterFailure::GiveUp {
                return Err(error.into());
            }
            if let ZkError::BrokerIdInUse(id) = error {
                info!("broker id {id} is still registered by a previous session; waiting for it to expire");
            } else {
                warn!("registering broker {} failed, retrying: {error}", self.id);
                self.zk.renew_if_expired().await?;
            }
            retries.pause().await;
        };
        let client = self.zk.client();
        self.broker_epoch.store(epoch, Ordering::SeqCst);
        self.metadata.set_brokers(vec![live_broker(&info)]);
        self.run_for_controller(client);
        // For the broker's lifetime: stopped with whatever else is left.
        self.watch_config_changes(&self.tasks.root);
        let broker = Arc::clone(self);
        self.tasks.session_keeper.spawn(async move {
            let result = broker
                .zk
                .maintain(|client| {
                    let info = info.clone();
                    let broker = Arc::clone(&broker);
                    async move {
                        client.ensure_persistent_paths().await?;
                        let epoch = client
                            .register_broker(&info, broker.logs.clock().milliseconds())
                            .await?;
                        broker.broker_epoch.store(epoch, Ordering::SeqCst);
                        // Kafka re-runs the election in every new session.
                        broker.run_for_controller(client);
                        Ok(())
                    }
                })
                .await;
            if let Err(e) = result {
                let reason = format!("ZooKeeper session maintenance stopped: {e}");
                error!("{reason}; the broker is no longer registered and stops");
                broker.fatal.send_replace(Some(reason));
            }
        });
        Ok(())
    }

    /// Resolves with the reason once the broker has met a fault it cannot
    /// handle and must stop (a fault ZooKeeper may recover from never gets
    /// here: it is retried); pending for as long as the broker is sound.
    pub async fn fatal(&self) -> String {
        let mut fatal = self.fatal.subscribe();
        let reason = match fatal.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().unwrap_or_default(),
            // The sender lives as long as `self`: this is never reached.
            Err(_) => return std::future::pending().await,
        };
        reason
    }

    /// Takes part in the controller election on `client`'s session (a new
    /// elector replaces, and so stops, the previous session's), acts as the
    /// controller while elected, and keeps the metadata cache's controller
    /// id current, which Metadata answers carry.
    fn run_for_controller(&self, client: KafkaZkClient) {
        let tasks = self.tasks.controller.clone();
        let elector = ControllerElector::start(
            client.clone(),
            self.id,
            Arc::clone(self.logs.clock()),
            &tasks,
        );
        let mut states = elector.subscribe();
        let metadata = Arc::clone(&self.metadata);
        let controller = Arc::clone(&self.controller);
        let config = ControllerConfig::from_broker(&self.config);
        let id = self.id;
        self.tasks.controller.spawn(async move {
            // The epoch of the controller this session's elector started:
            // only that one may be stopped from here, never one a newer
            // session's elector started meanwhile.
            let mut mine: Option<i32> = None;
            loop {
                let state = *states.borrow_and_update();
                metadata.set_controller(state.controller);
                {
                    let mut active = controller.lock().unwrap_or_else(|p| p.into_inner());
                    match (state.i_am_controller, state.epoch, state.epoch_zk_version) {
                        (true, Some(epoch), Some(epoch_zk_version)) if mine != Some(epoch) => {
                            *active = Some(ActiveController::start(
                                client.clone(),
                                id,
                                epoch,
                                epoch_zk_version,
                                config.clone(),
                                &tasks,
                            ));
                            mine = Some(epoch);
                        }
                        (true, ..) => {}
                        // Dropping it stops it: Kafka's onControllerResignation.
                        _ => stop_if_mine(&mut active, &mut mine),
                    }
                }
                if states.changed().await.is_err() {
                    break;
                }
            }
            stop_if_mine(
                &mut controller.lock().unwrap_or_else(|p| p.into_inner()),
                &mut mine,
            );
        });
        *self.elector.lock().unwrap_or_else(|p| p.into_inner()) = Some(elector);
    }

    /// The registration: advertised listeners, with a port of 0 replaced by
    /// the port actually bound.
    fn broker_info(&self, bound_ports: &[u16]) -> BrokerInfo {
        let endpoints = self
            .config
            .advertised_listeners
            .iter()
            .enumerate()
            .map(|(i, l)| EndPoint {
                listener_name: l.name.clone(),
                security_protocol: self
                    .config
                    .listener_security_protocol_map
                    .get(&l.name)
                    .copied()
                    .unwrap_or(SecurityProtocol::Plaintext),
                host: l.host.clone(),
                port: match l.port {
                    0 => i32::from(bound_ports.get(i).copied().unwrap_or(0)),
                    p => i32::from(p),
                },
            })
            .collect();
        BrokerInfo {
            id: self.id,
            endpoints,
            rack: self.config.broker_rack.clone(),
            jmx_port: -1,
            features: BTreeMap::new(),
        }
    }

    /// Kafka's controlled shutdown: asks the controller to move this
    /// broker's leaderships to other in-sync replicas before it stops, so
    /// clients fail over without waiting for a session timeout. Tries up to
    /// `controlled.shutdown.max.retries` + 1 times while partitions remain,
    /// `controlled.shutdown.retry.backoff.ms` apart; the listeners must still
    /// be serving (this broker may be the controller itself).
    pub async fn controlled_shutdown(&self) {
        if !self.config.controlled_shutdown_enable {
            return;
        }
        let backoff = Duration::from_millis(self.config.controlled_shutdown_retry_backoff_ms);
        let attempts = self
            .config
            .controlled_shutdown_max_retries
            .saturating_add(1);
        let mut retries = Backoff::fixed(backoff).max_attempts(attempts).start();
        loop {
            match self.request_controlled_shutdown().await {
                Ok(remaining) if remaining.is_empty() => {
                    info!("controlled shutdown of broker {} succeeded", self.id);
                    return;
                }
                Ok(remaining) => info!(
                    "controlled shutdown: broker {} still leads {} partitions",
                    self.id,
                    remaining.len()
                ),
                Err(e) => warn!("controlled shutdown attempt failed: {e}"),
            }
            if !retries.allows_another() {
                break;
            }
            retries.pause().await;
        }
        warn!("controlled shutdown incomplete; shutting down anyway");
    }

    /// One ControlledShutdown round trip to the current controller.
    async fn request_controlled_shutdown(&self) -> Result<Vec<TopicPartition>, String> {
        let metadata = self.metadata.snapshot();
        let controller = metadata.controller().ok_or("no controller is known")?;
        if let (true, Some(local)) = (controller == self.id, self.active_controller()) {
            return local
                .controlled_shutdown(self.id, self.broker_epoch())
                .await
                .map_err(|e| e.to_string());
        }
        let endpoint = metadata
            .broker_on(controller, &self.config.inter_broker_listener_name)
            .ok_or_else(|| format!("controller {controller} has no known endpoint"))?;
        let timeout = Duration::from_millis(self.config.controller_socket_timeout_ms);
        let address = format!("{}:{}", endpoint.host, endpoint.port);
        let mut connection =
            BrokerConnection::connect(&address, &format!("broker-{}", self.id), timeout)
                .await
                .map_err(|e| e.to_string())?;
        let request = ControlledShutdownRequest {
            broker_id: self.id,
            broker_epoch: self.broker_epoch(),
        };
        let version = *ControlledShutdownRequest::VERSIONS.end();
        let response = connection
            .send(version, &request)
            .await
            .map_err(|e| e.to_string())?;
        if response.error_code != ErrorCode::NONE.code() {
            return Err(format!(
                "controller {controller} answered error {}",
                response.error_code
            ));
        }
        Ok(response
            .remaining_partitions
            .into_iter()
            .map(|p| TopicPartition::new(p.topic_name, p.partition_index))
            .collect())
    }

    /// Leaves the cluster (deregisters from ZooKeeper) and closes the logs
    /// cleanly (flush, trimmed indexes, checkpoints, clean-shutdown marker) so
    /// the next start skips recovery.
    pub async fn shutdown(&self) -> Result<(), BrokerError> {
        self.coordinator.shutdown().await;
        self.tasks.features.stop().await;
        self.tasks.session_keeper.stop().await;
        let elector = self
            .elector
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(elector) = elector {
            if let Err(e) = elector.resign().await {
                warn!("could not resign as controller: {e}");
            }
        }
        // A broker stopped before it registered has nothing to remove, and
        // need not wait for a ZooKeeper that may be the reason it never did.
        if self.broker_epoch() >= 0 {
            if let Err(e) = self.zk.client().deregister_broker(self.id).await {
                warn!("could not deregister broker {}: {e}", self.id);
            }
        }
        self.replicas.shutdown().await;
        if let Some(mut bg) = self
            .background
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            bg.stop();
        }
        self.logs.shutdown()?;
        // Whatever else still runs on the tree.
        self.tasks.root.stop().await;
        info!("broker {} shut down", self.id);
        Ok(())
    }
}

/// The broker's shutdown tree: a root, and below it a node for each
/// component whose tasks [`Broker::shutdown`] stops at its own step.
struct BrokerTasks {
    root: Shutdown,
    /// Following `/feature`.
    features: Shutdown,
    /// Keeping the registration alive across session expiry.
    session_keeper: Shutdown,
    /// The controller election and, while elected, the controller. Not
    /// stopped on its own: resigning ends the election, and that stops the
    /// controller.
    controller: Shutdown,
}

impl BrokerTasks {
    fn new() -> Self {
        let root = Shutdown::new();
        BrokerTasks {
            features: root.child(),
            session_keeper: root.child(),
            controller: root.child(),
            root,
        }
    }
}

/// Stops the active controller if it is the one started with epoch `mine`.
fn stop_if_mine(active: &mut Option<ActiveController>, mine: &mut Option<i32>) {
    if mine.is_some() && active.as_ref().map(ActiveController::epoch) == *mine {
        *active = None;
    }
    *mine = None;
}

/// This broker as its registration describes it, for the metadata cache
/// before the controller's first UpdateMetadata.
fn live_broker(info: &BrokerInfo) -> LiveBroker {
    LiveBroker {
        id: info.id,
        rack: info.rack.clone(),
        listeners: info
            .endpoints
            .iter()
            .map(|e| (e.listener_name.clone(), (e.host.clone(), e.port)))
            .collect(),
    }
}

/// `broker.id` from the config, else from `meta.properties` of a log dir,
/// else a new one from `/brokers/seqid` (Kafka's
/// `broker.id.generation.enable`).
async fn broker_id(config: &KafkaConfig, zk: &ZkSession) -> Result<BrokerId, BrokerError> {
    if let Some(id) = config.broker_id.filter(|id| *id >= 0) {
        return Ok(id);
    }
    for dir in &config.log_dirs {
        if let Some(meta) = MetaProperties::read(dir)? {
            return Ok(meta.broker_id);
        }
    }
    // A retry after a lost answer skips an id, as in Kafka: ids are unique,
    // not dense.
    let reserved_max = config.reserved_broker_max_id;
    Ok(zk
        .retry_transient("generating a broker id", |client| async move {
            client.generate_broker_id(reserved_max).await
        })
        .await?)
}
