//! The background heartbeat (Kafka's `AbstractCoordinator.HeartbeatThread`):
//! while the member is stable, it sends a Heartbeat every
//! `heartbeat.interval.ms` on its own connection to the coordinator, so
//! that the member stays in the group however long the application takes
//! between polls, up to `max.poll.interval.ms`. Past that the member is
//! considered stuck: it leaves the group, so that the others take over its
//! partitions, and rejoins at its next poll.
//!
//! What the coordinator answers is written into the shared
//! [`GroupState`]: a rebalance to join, a generation that is no longer
//! valid, or a coordinator to look up again. The poll acts on it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use log::{debug, warn};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::coordinator::{leave_group, lock, CoordinatorNode, Generation, GroupState, MemberState};
use crate::versions::HEARTBEAT_VERSION;
use crate::BrokerConnection;
use gregor_protocol::api::heartbeat::HeartbeatRequest;
use gregor_protocol::ErrorCode;

/// What the heartbeat needs to know.
#[derive(Debug, Clone)]
pub(super) struct HeartbeatSettings {
    pub group_id: String,
    pub client_id: String,
    pub request_timeout: Duration,
    /// `heartbeat.interval.ms`.
    pub interval: Duration,
    /// `max.poll.interval.ms`.
    pub max_poll_interval: Duration,
}

/// What the heartbeat does next.
enum Action {
    Heartbeat(CoordinatorNode, Generation),
    /// The application stopped polling: leave as this member.
    Leave(CoordinatorNode, String),
}

/// Nothing unless the member is stable and its coordinator known.
fn next_action(shared: &Mutex<GroupState>, max_poll_interval: Duration) -> Option<Action> {
    let mut state = lock(shared);
    if state.member != MemberState::Stable {
        return None;
    }
    let coordinator = state.coordinator.clone()?;
    if state.last_poll.elapsed() > max_poll_interval {
        let member_id = state.generation.member_id.clone();
        state.reset_generation();
        return Some(Action::Leave(coordinator, member_id));
    }
    Some(Action::Heartbeat(coordinator, state.generation.clone()))
}

/// Starts the heartbeat task; it runs until aborted (the coordinator
/// aborts it when dropped).
pub(super) fn spawn(settings: HeartbeatSettings, shared: Arc<Mutex<GroupState>>) -> JoinHandle<()> {
    tokio::spawn(run(settings, shared))
}

async fn run(settings: HeartbeatSettings, shared: Arc<Mutex<GroupState>>) {
    // The connection and the coordinator it goes to.
    let mut connection: Option<(i32, BrokerConnection)> = None;
    loop {
        tokio::time::sleep(settings.interval).await;
        let Some(action) = next_action(&shared, settings.max_poll_interval) else {
            continue;
        };
        let (coordinator, generation) = match action {
            Action::Heartbeat(coordinator, generation) => (coordinator, generation),
            Action::Leave(coordinator, member_id) => {
                warn!(
                    "consumer poll timeout has expired: the last poll was more than \
                     max.poll.interval.ms ({:?}) ago; leaving group {} so that others take \
                     over, and rejoining at the next poll",
                    settings.max_poll_interval, settings.group_id
                );
                connection = None;
                let (group, client) = (&settings.group_id, &settings.client_id);
                leave_group(
                    group,
                    client,
                    settings.request_timeout,
                    &coordinator.address,
                    &member_id,
                )
                .await;
                continue;
            }
        };
        let mut conn = match connection.take() {
            Some((node, conn)) if node == coordinator.node => conn,
            _ => match BrokerConnection::connect(
                &coordinator.address,
                &settings.client_id,
                settings.request_timeout,
            )
            .await
            {
                Ok(conn) => conn,
                Err(e) => {
                    debug!("heartbeat: {e}");
                    lock(&shared).coordinator_unreachable(coordinator.node);
                    continue;
                }
            },
        };
        let request = HeartbeatRequest {
            group_id: settings.group_id.clone(),
            generation_id: generation.id,
            member_id: generation.member_id.clone(),
            group_instance_id: None,
        };
        let sent_at = Instant::now();
        let response = conn.send(HEARTBEAT_VERSION, &request).await;
        if response.is_ok() {
            connection = Some((coordinator.node, conn));
        }
        let mut state = lock(&shared);
        if state.generation != generation {
            // A rejoin happened meanwhile: the answer is about the past.
            continue;
        }
        match response {
            Err(e) => {
                debug!("heartbeat to the coordinator failed: {e}");
                state.coordinator_unreachable(coordinator.node);
            }
            Ok(response) => match ErrorCode::from_code(response.error_code) {
                ErrorCode::NONE => {
                    debug!("heartbeat answered in {:?}", sent_at.elapsed())
                }
                ErrorCode::REBALANCE_IN_PROGRESS => {
                    debug!("group {} is rebalancing: rejoining", settings.group_id);
                    state.rejoin_needed = true;
                }
                ErrorCode::ILLEGAL_GENERATION
                | ErrorCode::UNKNOWN_MEMBER_ID
                | ErrorCode::FENCED_INSTANCE_ID => {
                    debug!(
                        "heartbeat: {:?}; rejoining group {} as a new member",
                        ErrorCode::from_code(response.error_code),
                        settings.group_id
                    );
                    state.reset_generation();
                }
                ErrorCode::COORDINATOR_NOT_AVAILABLE | ErrorCode::NOT_COORDINATOR => {
                    state.coordinator_unreachable(coordinator.node);
                }
                code => warn!("heartbeat answered {code:?}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stable_member() -> Mutex<GroupState> {
        Mutex::new(GroupState {
            coordinator: Some(CoordinatorNode {
                node: 2,
                address: "b2:9092".into(),
            }),
            generation: Generation {
                id: 3,
                member_id: "m-1".into(),
                protocol: Some("range".into()),
            },
            member: MemberState::Stable,
            rejoin_needed: false,
            last_poll: Instant::now(),
        })
    }

    #[test]
    fn a_stable_member_heartbeats_in_its_generation() {
        let shared = stable_member();
        let Some(Action::Heartbeat(coordinator, generation)) =
            next_action(&shared, Duration::from_secs(300))
        else {
            panic!("expected a heartbeat");
        };
        assert_eq!((coordinator.node, generation.id), (2, 3));
        assert_eq!(generation.member_id, "m-1");
    }

    #[test]
    fn nothing_is_sent_while_unjoined_or_rebalancing_or_without_coordinator() {
        for change in [
            |s: &mut GroupState| s.member = MemberState::Unjoined,
            |s: &mut GroupState| s.member = MemberState::Rebalancing,
            |s: &mut GroupState| s.coordinator = None,
        ] {
            let shared = stable_member();
            change(&mut lock(&shared));
            assert!(next_action(&shared, Duration::from_secs(300)).is_none());
        }
    }

    #[test]
    fn a_member_that_stopped_polling_leaves_and_will_rejoin_as_new() {
        let shared = stable_member();
        std::thread::sleep(Duration::from_millis(5));
        let Some(Action::Leave(coordinator, member_id)) =
            next_action(&shared, Duration::from_millis(1))
        else {
            panic!("expected to leave");
        };
        assert_eq!((coordinator.node, member_id.as_str()), (2, "m-1"));
        let state = lock(&shared);
        assert_eq!(state.member, MemberState::Unjoined);
        assert!(state.rejoin_needed);
        assert_eq!(state.generation.member_id, "");
    }
}
