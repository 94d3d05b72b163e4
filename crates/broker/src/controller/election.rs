//! Controller election over ZooKeeper, as Kafka 2.8's `KafkaController`
//! runs it.
//!
//! Every broker races to create the ephemeral `/controller`; the one that
//! succeeds bumps `/controller_epoch` in the same ZooKeeper transaction
//! (Kafka's `KafkaZkClient.registerControllerAndIncrementControllerEpoch`),
//! so a broker that loses the race writes neither. The others watch
//! `/controller` and race again when it disappears — because the controller's
//! session ended or it resigned (Kafka's `ControllerChangeHandler` →
//! `Reelect`). [`elect`] is one round; [`ControllerElector`] is the loop.
//!
//! Owns: winning and losing the election. Must not depend on: the rest of
//! the controller — the broker starts the executor when this broker wins.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use zookeeper_client as zkc;
use zookeeper_client::{EventType, MultiWriteError, Stat};

use gregor_protocol::BrokerId;
use gregor_runtime::{Backoff, Clock, SharedClock, Shutdown};
use gregor_zk::client::{zk_error, EPHEMERAL, PERSISTENT};
use gregor_zk::data::{ControllerEpoch, ControllerZNode, DecodeError, ZNodeData};
use gregor_zk::{paths, KafkaZkClient, ZkError};

/// Kafka's `KafkaController.InitialControllerEpoch`: the value
/// `/controller_epoch` is created with, so the first controller has epoch 1.
pub const INITIAL_CONTROLLER_EPOCH: i32 = 0;

/// The outcome of one election round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Election {
    /// This broker is the controller. `epoch` is the new controller epoch and
    /// `epoch_zk_version` the zkVersion of `/controller_epoch` after the bump,
    /// which Kafka's controller names in every later fenced write
    /// (`controllerContext.epochZkVersion`).
    Won { epoch: i32, epoch_zk_version: i32 },
    /// Another broker holds `/controller`.
    Lost { controller: BrokerId },
}

/// What a broker knows about the controller, published by
/// [`ControllerElector`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ControllerState {
    /// The broker named in `/controller`, `None` while it is vacant.
    pub controller: Option<BrokerId>,
    /// The controller epoch last read or written.
    pub epoch: Option<i32>,
    /// zkVersion of `/controller_epoch` after this broker's bump; set only
    /// while `i_am_controller`.
    pub epoch_zk_version: Option<i32>,
    pub i_am_controller: bool,
}

/// One election round, Kafka's `KafkaController.elect()`:
///
/// 1. If `/controller` exists, its holder is the controller: [`Election::Lost`]
///    — unless this very session created it naming `broker_id` (a retry
///    after a lost response), which counts as won, like Kafka's checked
///    ephemeral creation.
/// 2. Read `/controller_epoch` with its zkVersion, creating it with
///    [`INITIAL_CONTROLLER_EPOCH`] if missing (`maybeCreateControllerEpochZNode`).
/// 3. In one ZooKeeper multi: create the ephemeral `/controller` with
///    `{"version":1,"brokerid":<id>,"timestamp":"<ms>"}` (`<ms>` read from
///    `clock`) and set
///    `/controller_epoch` to epoch + 1 at the zkVersion read. If either fails
///    (NodeExists: another broker won; BadVersion: another broker bumped the
///    epoch) nothing is written, and `/controller` is read again
///    (`checkControllerAndEpoch`).
///
/// When `/controller` vanishes between a failed attempt and the re-read (the
/// winner's session ended at once), the round starts over.
pub async fn elect(
    client: &KafkaZkClient,
    broker_id: BrokerId,
    clock: &dyn Clock,
) -> Result<Election, ZkError> {
    loop {
        if let Some(outcome) = existing_controller(client, broker_id).await? {
            return Ok(outcome);
        }
        let (epoch, epoch_zk_version) = read_or_create_epoch(client).await?;
        let new_epoch = epoch.checked_add(1).ok_or_else(|| ZkError::Decode {
            path: paths::CONTROLLER_EPOCH.to_owned(),
            source: DecodeError::Invalid {
                znode: "/controller_epoch",
                reason: format!("epoch {epoch} cannot be incremented"),
            },
        })?;
        let zk = client.zookeeper();
        let controller = ControllerZNode::new(broker_id, clock.milliseconds()).encode();
        let mut multi = zk.new_multi_writer();
        multi
            .add_create(paths::CONTROLLER, &controller, &EPHEMERAL)
            .map_err(|source| zk_error("multi create", paths::CONTROLLER, source))?;
        multi
            .add_set_data(
                paths::CONTROLLER_EPOCH,
                &ControllerEpoch(new_epoch).encode(),
                Some(epoch_zk_version),
            )
            .map_err(|source| zk_error("multi set", paths::CONTROLLER_EPOCH, source))?;
        match multi.commit().await {
            Ok(results) => {
                let epoch_zk_version = results
                    .into_iter()
                    .find_map(|result| match result {
                        zkc::MultiWriteResult::SetData { stat } => Some(stat.version),
                        _ => None,
                    })
                    // The server answered a committed multi without the
                    // set's result; the bump itself is what we asked for.
                    // (ZooKeeper's version counter wraps like Java's int.)
                    .unwrap_or(epoch_zk_version.wrapping_add(1));
                log::info!("broker {broker_id} elected controller with epoch {new_epoch}");
                return Ok(Election::Won {
                    epoch: new_epoch,
                    epoch_zk_version,
                });
            }
            Err(MultiWriteError::OperationFailed {
                source: zkc::Error::NodeExists | zkc::Error::BadVersion,
                ..
            }) => {
                // Kafka's checkControllerAndEpoch: someone else got there
                // first; see who, or start over if they are gone already.
                continue;
            }
            Err(other) => {
                return Err(zk_error(
                    "multi",
                    paths::CONTROLLER,
                    zkc::Error::from(other),
                ))
            }
        }
    }
}

/// The broker named in `/controller` with the node's stat, `None` if vacant.
async fn read_controller(client: &KafkaZkClient) -> Result<Option<(BrokerId, Stat)>, ZkError> {
    let Some((data, stat)) = client.get_raw(paths::CONTROLLER).await? else {
        return Ok(None);
    };
    let node = ControllerZNode::decode(&data).map_err(|source| ZkError::Decode {
        path: paths::CONTROLLER.to_owned(),
        source,
    })?;
    Ok(Some((node.brokerid, stat)))
}

/// The outcome decided by an existing `/controller`, if there is one.
async fn existing_controller(
    client: &KafkaZkClient,
    broker_id: BrokerId,
) -> Result<Option<Election>, ZkError> {
    let Some((holder, stat)) = read_controller(client).await? else {
        return Ok(None);
    };
    if holder == broker_id && stat.ephemeral_owner == client.session_id() {
        // Ours, from this very session: the multi went through but its
        // answer was lost, or a second call. The epoch is the one we wrote.
        if let Some((epoch, epoch_zk_version)) = read_epoch(client).await? {
            return Ok(Some(Election::Won {
                epoch,
                epoch_zk_version,
            }));
        }
    }
    Ok(Some(Election::Lost { controller: holder }))
}

/// `/controller_epoch` and its zkVersion, `None` if missing.
pub async fn read_epoch(client: &KafkaZkClient) -> Result<Option<(i32, i32)>, ZkError> {
    Ok(client
        .get::<ControllerEpoch>(paths::CONTROLLER_EPOCH)
        .await?
        .map(|versioned| (versioned.value.0, versioned.zk_version)))
}

/// Kafka's `getControllerEpoch` falling back to
/// `maybeCreateControllerEpochZNode`.
async fn read_or_create_epoch(client: &KafkaZkClient) -> Result<(i32, i32), ZkError> {
    loop {
        if let Some(current) = read_epoch(client).await? {
            return Ok(current);
        }
        let data = ControllerEpoch(INITIAL_CONTROLLER_EPOCH).encode();
        match client
            .zookeeper()
            .create(paths::CONTROLLER_EPOCH, &data, &PERSISTENT)
            .await
        {
            Ok((stat, _)) => return Ok((INITIAL_CONTROLLER_EPOCH, stat.version)),
            // Another broker created it in between: read theirs.
            Err(zkc::Error::NodeExists) => continue,
            Err(source) => return Err(zk_error("create", paths::CONTROLLER_EPOCH, source)),
        }
    }
}

/// Waits until `/controller` changes: deleted (Kafka's
/// `ControllerChangeHandler.handleDeletion` → `Reelect`), created or
/// rewritten. Fails when the session ends for good, since the watch dies
/// with it.
async fn wait_for_controller_change(client: &KafkaZkClient) -> Result<(), ZkError> {
    loop {
        let (stat, watcher) = client
            .zookeeper()
            .check_and_watch_stat(paths::CONTROLLER)
            .await
            .map_err(|source| zk_error("watch", paths::CONTROLLER, source))?;
        if stat.is_none() {
            return Ok(());
        }
        let event = watcher.changed().await;
        match event.event_type {
            EventType::Session if event.session_state.is_terminated() => {
                return Err(ZkError::SessionEnded(event.session_state));
            }
            // A transient session event: set the watch again.
            EventType::Session => continue,
            _ => return Ok(()),
        }
    }
}

/// Removes `/controller` only if this session holds it and `/controller_epoch`
/// is still at `epoch_zk_version`, in one multi — Kafka's
/// `KafkaZkClient.deleteController(expectedControllerEpochZkVersion)`, used
/// when the controller resigns. A node already gone or moved is left alone.
async fn delete_own_controller(
    client: &KafkaZkClient,
    epoch_zk_version: i32,
) -> Result<(), ZkError> {
    let zk = client.zookeeper();
    let Some(stat) = zk
        .check_stat(paths::CONTROLLER)
        .await
        .map_err(|source| zk_error("stat", paths::CONTROLLER, source))?
    else {
        return Ok(());
    };
    if stat.ephemeral_owner != client.session_id() {
        return Ok(());
    }
    let mut multi = zk.new_multi_writer();
    multi
        .add_check_version(paths::CONTROLLER_EPOCH, epoch_zk_version)
        .map_err(|source| zk_error("multi check", paths::CONTROLLER_EPOCH, source))?;
    multi
        .add_delete(paths::CONTROLLER, Some(stat.version))
        .map_err(|source| zk_error("multi delete", paths::CONTROLLER, source))?;
    match multi.commit().await {
        Ok(_) => Ok(()),
        Err(MultiWriteError::OperationFailed {
            source: zkc::Error::NoNode | zkc::Error::BadVersion,
            ..
        }) => Ok(()),
        Err(other) => Err(zk_error(
            "multi delete",
            paths::CONTROLLER,
            zkc::Error::from(other),
        )),
    }
}

/// A broker's part in controller elections, Kafka's `Startup` →
/// `elect()` and `Reelect` events of the `ControllerEventManager`, as a
/// background task over one ZooKeeper session:
///
/// elect; publish the outcome as a [`ControllerState`]; wait until
/// `/controller` changes (the controller's session ended or it resigned);
/// elect again. Errors the connection caused are retried while the session
/// lives. The task ends when [`resign`](Self::resign) is called, when the
/// session ends for good (then the broker must start a new elector on its
/// new session, as Kafka re-runs `elect()` from its session-expiry handler),
/// or on any other error (unreadable znode data, ACLs), after resigning if
/// it was the controller (Kafka's `maybeResign`). Whenever it ends,
/// `i_am_controller` is published false. Dropping the elector, or stopping
/// the shutdown node it was started below, stops the task without touching
/// ZooKeeper.
#[derive(Debug)]
pub struct ControllerElector {
    state: watch::Receiver<ControllerState>,
    stop: watch::Sender<bool>,
    /// The node the task runs on.
    task: Shutdown,
    /// The task's result, until [`resign`](Self::resign) takes it.
    outcome: Mutex<Option<oneshot::Receiver<Result<(), ZkError>>>>,
}

impl ControllerElector {
    /// Starts electing on the current tokio runtime, the task on a child of
    /// `tasks`; `/controller`'s timestamps are read from `clock`.
    pub fn start(
        client: KafkaZkClient,
        broker_id: BrokerId,
        clock: SharedClock,
        tasks: &Shutdown,
    ) -> Self {
        let (state_tx, state) = watch::channel(ControllerState::default());
        let (stop, stop_rx) = watch::channel(false);
        let (outcome_tx, outcome) = oneshot::channel();
        let task = tasks.child();
        task.spawn(async move {
            let result = run(client, broker_id, &*clock, state_tx, stop_rx).await;
            // Nobody waits for it once the elector is dropped.
            let _ = outcome_tx.send(result);
        });
        ControllerElector {
            state,
            stop,
            task,
            outcome: Mutex::new(Some(outcome)),
        }
    }

    /// The latest controller state.
    pub fn state(&self) -> ControllerState {
        *self.state.borrow()
    }

    /// Receives every change of the controller state.
    pub fn subscribe(&self) -> watch::Receiver<ControllerState> {
        self.state.clone()
    }

    /// Stops taking part in elections and, if this broker is the controller,
    /// deletes its `/controller` (fenced on the epoch's zkVersion) so another
    /// broker takes over at once — what a controlled shutdown does in
    /// Kafka. Returns once the task has stopped, with its error if it had
    /// already failed. Calling it again is a no-op.
    pub async fn resign(&self) -> Result<(), ZkError> {
        self.stop.send_replace(true);
        let outcome = self
            .outcome
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some(outcome) = outcome else {
            return Ok(());
        };
        let result = match outcome.await {
            Ok(result) => result,
            // Its node was stopped from above first: it ended at an await
            // point, as dropping the elector would have ended it.
            Err(_) if self.task.is_stopped() => Ok(()),
            Err(_) => {
                log::error!("the controller elector's task panicked");
                Ok(())
            }
        };
        // The result is its last step: wait until it is gone.
        self.task.stop().await;
        result
    }
}

impl Drop for ControllerElector {
    fn drop(&mut self) {
        self.task.cancel();
    }
}

async fn run(
    client: KafkaZkClient,
    broker_id: BrokerId,
    clock: &dyn Clock,
    state: watch::Sender<ControllerState>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ZkError> {
    let result = elect_until_stopped(&client, broker_id, clock, &state, &mut stop).await;
    let last = *state.borrow();
    // Stopped, or failed while the session lives: step down so another
    // broker takes over (Kafka's `maybeResign`).
    if let (Some(epoch_zk_version), true) = (last.epoch_zk_version, last.i_am_controller) {
        if !client.state().is_terminated() {
            log::info!("broker {broker_id} resigns as controller");
            let resigned = delete_own_controller(&client, epoch_zk_version).await;
            if result.is_ok() {
                resigned?;
            } else if let Err(error) = resigned {
                log::warn!("broker {broker_id} could not delete /controller: {error}");
            }
        }
    }
    state.send_modify(|state| {
        if state.i_am_controller {
            state.controller = None;
        }
        state.i_am_controller = false;
        state.epoch_zk_version = None;
    });
    result
}

async fn elect_until_stopped(
    client: &KafkaZkClient,
    broker_id: BrokerId,
    clock: &dyn Clock,
    state: &watch::Sender<ControllerState>,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), ZkError> {
    // Unlimited: the session ending, not a count, ends the retries.
    let retries = Backoff::fixed(RETRY_BACKOFF).start();
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        match election_round(client, broker_id, clock, state, stop).await {
            Ok(()) => {}
            Err(error) => {
                let session = client.state();
                if session.is_terminated() {
                    log::warn!("controller election for broker {broker_id} ends: {error}");
                    return Err(ZkError::SessionEnded(session));
                }
                if !is_transient(&error) {
                    return Err(error);
                }
                // Kafka's `retryRequestUntilConnected`: while the session
                // lives, a lost connection only delays the round. A create
                // whose answer was lost is recognised as ours next round.
                log::warn!(
                    "controller election for broker {broker_id} interrupted: {error}; retrying"
                );
                tokio::select! {
                    biased;
                    _ = stop.wait_for(|stop| *stop) => return Ok(()),
                    () = retries.pause() => {}
                }
            }
        }
    }
}

/// Pause before retrying a round that failed on a lost connection.
const RETRY_BACKOFF: Duration = Duration::from_millis(200);

/// Errors after which the same session can try again: everything the
/// connection rather than the request caused (the client reports a silent
/// server as a custom error). Bad data, ACL and argument errors are not.
fn is_transient(error: &ZkError) -> bool {
    match error {
        ZkError::ZooKeeper { source, .. } => !matches!(
            source,
            zkc::Error::NoAuth
                | zkc::Error::InvalidAcl
                | zkc::Error::AuthFailed
                | zkc::Error::BadArguments(_)
                | zkc::Error::Unimplemented
                | zkc::Error::MarshallingError
                | zkc::Error::SessionExpired
        ),
        _ => false,
    }
}

/// Elects, publishes the outcome and waits until `/controller` changes or
/// the elector is stopped.
async fn election_round(
    client: &KafkaZkClient,
    broker_id: BrokerId,
    clock: &dyn Clock,
    state: &watch::Sender<ControllerState>,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), ZkError> {
    let next = match elect(client, broker_id, clock).await? {
        Election::Won {
            epoch,
            epoch_zk_version,
        } => ControllerState {
            controller: Some(broker_id),
            epoch: Some(epoch),
            epoch_zk_version: Some(epoch_zk_version),
            i_am_controller: true,
        },
        Election::Lost { controller } => ControllerState {
            controller: Some(controller),
            epoch: read_epoch(client).await?.map(|(epoch, _)| epoch),
            epoch_zk_version: None,
            i_am_controller: false,
        },
    };
    state.send_replace(next);
    tokio::select! {
        biased;
        _ = stop.wait_for(|stop| *stop) => return Ok(()),
        changed = wait_for_controller_change(client) => changed?,
    }
    if next.i_am_controller {
        log::warn!("broker {broker_id} is no longer the controller");
    }
    state.send_modify(|state| {
        state.controller = None;
        state.epoch_zk_version = None;
        state.i_am_controller = false;
    });
    Ok(())
}
