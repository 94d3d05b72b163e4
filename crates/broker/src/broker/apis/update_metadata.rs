//! UpdateMetadata (API key 6): the controller announces the live brokers
//! and partition states, which this broker caches to answer Metadata
//! (Kafka's `KafkaApis.handleUpdateMetadataRequest`). Fenced by the
//! replica manager's controller epoch, like LeaderAndIsr and StopReplica.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::metadata::{LiveBroker, MetadataUpdate, PartitionState, PartitionUpdate};
use gregor_protocol::api::update_metadata::{
    UpdateMetadataBroker, UpdateMetadataEndpoint, UpdateMetadataPartitionState,
    UpdateMetadataRequest, UpdateMetadataResponse,
};
use gregor_protocol::ErrorCode;
use gregor_protocol::TopicPartition;
use gregor_zk::data::SecurityProtocol;

use crate::broker::Broker;

use super::controller_requests::run_blocking;

/// A partition state's leader while its topic is being deleted (Kafka's
/// `LeaderAndIsr.LeaderDuringDelete`): the cache forgets the partition.
const LEADER_DURING_DELETE: i32 = -2;

impl Broker {
    pub(crate) async fn update_metadata(
        &self,
        request: UpdateMetadataRequest,
        version: i16,
    ) -> UpdateMetadataResponse {
        if self.is_broker_epoch_stale(request.broker_epoch) {
            ::log::info!(
                "UpdateMetadata for broker epoch {} ignored: this broker is at {}",
                request.broker_epoch,
                self.broker_epoch()
            );
            return UpdateMetadataResponse {
                error_code: ErrorCode::STALE_BROKER_EPOCH.code(),
            };
        }
        let controller_epoch = request.controller_epoch;
        let update = metadata_update(request, version);
        let (replicas, metadata) = (Arc::clone(&self.replicas), Arc::clone(&self.metadata));
        let outcome = run_blocking(move || {
            replicas.apply_controller_request(controller_epoch, || metadata.update(update))
        })
        .await;
        match outcome {
            Ok(deleted) => {
                if !deleted.is_empty() {
                    self.coordinator.on_partitions_deleted(&deleted);
                }
                UpdateMetadataResponse {
                    error_code: ErrorCode::NONE.code(),
                }
            }
            Err(code) => UpdateMetadataResponse {
                error_code: code.code(),
            },
        }
    }
}

/// What the request tells the cache. Each live broker is kept with its
/// endpoint on every listener; a broker with no endpoint at all is left out
/// (nobody could reach it).
fn metadata_update(request: UpdateMetadataRequest, version: i16) -> MetadataUpdate {
    let brokers = request
        .live_brokers
        .into_iter()
        .filter_map(|b| live_broker(b, version))
        .collect();
    let topic_ids = request
        .topic_states
        .iter()
        .map(|t| (t.topic_name.clone(), t.topic_id))
        .collect();
    // v0-v4 name the topic in each partition state; v5+ group them.
    let ungrouped = request
        .ungrouped_partition_states
        .into_iter()
        .map(|p| (p.topic_name.clone(), p));
    let grouped = request.topic_states.into_iter().flat_map(|t| {
        let name = t.topic_name;
        t.partition_states
            .into_iter()
            .map(move |p| (name.clone(), p))
    });
    let partitions = ungrouped
        .chain(grouped)
        .map(|(topic, p)| {
            let tp = TopicPartition::new(topic, p.partition_index);
            (tp, partition_update(p))
        })
        .collect();
    MetadataUpdate {
        controller: (request.controller_id >= 0).then_some(request.controller_id),
        brokers,
        topic_ids,
        partitions,
    }
}

fn partition_update(state: UpdateMetadataPartitionState) -> PartitionUpdate {
    if state.leader == LEADER_DURING_DELETE {
        return PartitionUpdate::Deleted;
    }
    PartitionUpdate::State(PartitionState {
        leader: (state.leader >= 0).then_some(state.leader),
        leader_epoch: state.leader_epoch,
        replicas: state.replicas,
        isr: state.isr,
        offline_replicas: state.offline_replicas,
    })
}

/// A live broker's endpoints by listener name; v0 gives one host and port,
/// which is the PLAINTEXT listener.
fn live_broker(broker: UpdateMetadataBroker, version: i16) -> Option<LiveBroker> {
    let listeners: BTreeMap<String, (String, i32)> = if version == 0 {
        let plaintext = SecurityProtocol::Plaintext.name().to_owned();
        BTreeMap::from([(plaintext, (broker.v0_host, broker.v0_port))])
    } else {
        broker
            .endpoints
            .into_iter()
            .filter_map(|e| Some((listener_name(&e)?.to_ascii_uppercase(), (e.host, e.port))))
            .collect()
    };
    if listeners.is_empty() {
        ::log::warn!(
            "UpdateMetadata lists broker {} without endpoints",
            broker.id
        );
        return None;
    }
    Some(LiveBroker {
        id: broker.id,
        rack: broker.rack,
        listeners,
    })
}

/// An endpoint's listener name: sent from v3; before, the listener is
/// named after its security protocol, as Kafka's listeners were.
fn listener_name(endpoint: &UpdateMetadataEndpoint) -> Option<&str> {
    if !endpoint.listener.is_empty() {
        return Some(&endpoint.listener);
    }
    let protocol = match endpoint.security_protocol {
        0 => SecurityProtocol::Plaintext,
        1 => SecurityProtocol::Ssl,
        2 => SecurityProtocol::SaslPlaintext,
        3 => SecurityProtocol::SaslSsl,
        _ => return None,
    };
    Some(protocol.name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gregor_protocol::api::update_metadata::UpdateMetadataTopicState;

    fn endpoint(listener: &str, protocol: i16, port: i32) -> UpdateMetadataEndpoint {
        UpdateMetadataEndpoint {
            port,
            host: format!("h{port}"),
            listener: listener.into(),
            security_protocol: protocol,
        }
    }

    fn broker(id: i32, endpoints: Vec<UpdateMetadataEndpoint>) -> UpdateMetadataBroker {
        UpdateMetadataBroker {
            id,
            endpoints,
            rack: Some("r".into()),
            ..Default::default()
        }
    }

    fn state(partition: i32, leader: i32) -> UpdateMetadataPartitionState {
        UpdateMetadataPartitionState {
            partition_index: partition,
            leader,
            leader_epoch: 2,
            isr: vec![1],
            replicas: vec![1, 2],
            offline_replicas: vec![2],
            ..Default::default()
        }
    }

    /// Each broker's endpoints, as `LISTENER://host:port`.
    fn reached_at(update: &MetadataUpdate) -> Vec<(i32, Vec<String>)> {
        update
            .brokers
            .iter()
            .map(|b| {
                let endpoints = b
                    .listeners
                    .iter()
                    .map(|(name, (host, port))| format!("{name}://{host}:{port}"))
                    .collect();
                (b.id, endpoints)
            })
            .collect()
    }

    #[test]
    fn brokers_are_kept_with_every_listener() {
        let request = UpdateMetadataRequest {
            controller_id: 2,
            live_brokers: vec![
                broker(
                    1,
                    vec![endpoint("INTERNAL", 0, 1), endpoint("CLIENT", 0, 2)],
                ),
                broker(2, vec![endpoint("OTHER", 0, 3)]),
                broker(3, vec![]),
            ],
            ..Default::default()
        };
        let update = metadata_update(request, 7);
        assert_eq!(
            reached_at(&update),
            [
                (1, vec!["CLIENT://h2:2".into(), "INTERNAL://h1:1".into()]),
                (2, vec!["OTHER://h3:3".into()]),
            ]
        );
        assert_eq!(update.brokers[0].rack.as_deref(), Some("r"));
        assert_eq!(update.controller, Some(2));
    }

    #[test]
    fn old_versions_name_listeners_by_protocol_or_give_one_host() {
        let v2 = UpdateMetadataRequest {
            controller_id: -1,
            live_brokers: vec![broker(
                1,
                vec![endpoint("", 1, 1), endpoint("", 0, 2), endpoint("", 9, 3)],
            )],
            ..Default::default()
        };
        let update = metadata_update(v2, 2);
        assert_eq!(
            reached_at(&update),
            [(1, vec!["PLAINTEXT://h2:2".into(), "SSL://h1:1".into()])]
        );
        assert_eq!(update.controller, None);
        let v0 = UpdateMetadataRequest {
            live_brokers: vec![UpdateMetadataBroker {
                id: 4,
                v0_host: "old".into(),
                v0_port: 9092,
                ..Default::default()
            }],
            ..Default::default()
        };
        let update = metadata_update(v0, 0);
        assert_eq!(
            reached_at(&update),
            [(4, vec!["PLAINTEXT://old:9092".into()])]
        );
    }

    #[test]
    fn partition_states_with_ids_and_delete_markers() {
        let request = UpdateMetadataRequest {
            topic_states: vec![UpdateMetadataTopicState {
                topic_name: "t".into(),
                topic_id: gregor_protocol::Uuid::from_bytes([9; 16]),
                partition_states: vec![state(0, 1), state(1, LEADER_DURING_DELETE), state(2, -1)],
            }],
            ..Default::default()
        };
        let update = metadata_update(request, 7);
        assert_eq!(
            update.topic_ids,
            [("t".to_owned(), gregor_protocol::Uuid::from_bytes([9; 16]))]
        );
        let expected = |leader| {
            PartitionUpdate::State(PartitionState {
                leader,
                leader_epoch: 2,
                replicas: vec![1, 2],
                isr: vec![1],
                offline_replicas: vec![2],
            })
        };
        assert_eq!(
            update.partitions,
            [
                (TopicPartition::new("t", 0), expected(Some(1))),
                (TopicPartition::new("t", 1), PartitionUpdate::Deleted),
                (TopicPartition::new("t", 2), expected(None)),
            ]
        );
        let v4 = UpdateMetadataRequest {
            ungrouped_partition_states: vec![UpdateMetadataPartitionState {
                topic_name: "u".into(),
                ..state(3, 1)
            }],
            ..Default::default()
        };
        let update = metadata_update(v4, 4);
        assert_eq!(update.partitions[0].0, TopicPartition::new("u", 3));
        assert!(update.topic_ids.is_empty());
    }
}
