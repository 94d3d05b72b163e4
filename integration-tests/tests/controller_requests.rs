//! The broker side of the controller's requests, end to end: the test plays
//! the controller over the wire (UpdateMetadata, LeaderAndIsr, StopReplica)
//! and checks what clients then see through Produce and Metadata.
//!
//! The test's controller epoch is far above any the broker's own controller
//! reaches in a test, so the broker takes this test's word over its own
//! controller's; the topic exists nowhere in ZooKeeper, so no one else
//! places it.

use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use gregor_protocol::api::fetch::{FetchPartition, FetchRequest, FetchTopic};
use gregor_protocol::api::leader_and_isr::{
    LeaderAndIsrPartitionState, LeaderAndIsrRequest, LeaderAndIsrTopicState,
};
use gregor_protocol::api::stop_replica::{
    StopReplicaPartitionState, StopReplicaRequest, StopReplicaTopicState,
};
use gregor_protocol::api::update_metadata::{
    UpdateMetadataBroker, UpdateMetadataEndpoint, UpdateMetadataPartitionState,
    UpdateMetadataRequest, UpdateMetadataTopicState,
};
use gregor_protocol::ErrorCode;
use gregor_protocol::Uuid;
use gregor_record::{Record, RecordBatchBuilder};
use integration_tests::wire::WireClient;
use integration_tests::{gregor_broker_with_zk, unique_topic};

const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(30);
/// The test's controller epoch.
const EPOCH: i32 = 1_000;
/// Broker 1 is the real one; broker 2 exists only in what the test says.
const ME: i32 = 1;
const OTHER: i32 = 2;
const TOPIC_ID: Uuid = Uuid::from_bytes([7; 16]);

fn batch() -> Bytes {
    let mut b = RecordBatchBuilder::new(1);
    b.append(Record::new(1, None, Some(b"v".as_slice())));
    b.build()
}

fn update_metadata(
    topic: &str,
    port: u16,
    controller_epoch: i32,
    leaders: [i32; 2],
) -> UpdateMetadataRequest {
    let broker = |id: i32, port: i32| UpdateMetadataBroker {
        id,
        endpoints: vec![UpdateMetadataEndpoint {
            port,
            host: "127.0.0.1".into(),
            listener: "PLAINTEXT".into(),
            security_protocol: 0,
        }],
        ..Default::default()
    };
    UpdateMetadataRequest {
        controller_id: ME,
        controller_epoch,
        broker_epoch: -1,
        topic_states: vec![UpdateMetadataTopicState {
            topic_name: topic.into(),
            topic_id: TOPIC_ID,
            partition_states: (0..2)
                .map(|p| UpdateMetadataPartitionState {
                    partition_index: p,
                    controller_epoch,
                    leader: leaders[p as usize],
                    leader_epoch: 0,
                    isr: vec![ME, OTHER],
                    replicas: vec![ME, OTHER],
                    ..Default::default()
                })
                .collect(),
        }],
        live_brokers: vec![broker(ME, i32::from(port)), broker(OTHER, 1)],
        ..Default::default()
    }
}

/// Partition 0 led here, partition 1 by the other broker.
fn leader_and_isr(topic: &str, broker_epoch: i64, leader_epoch: i32) -> LeaderAndIsrRequest {
    LeaderAndIsrRequest {
        controller_id: ME,
        controller_epoch: EPOCH,
        broker_epoch,
        topic_states: vec![LeaderAndIsrTopicState {
            topic_name: topic.into(),
            topic_id: TOPIC_ID,
            partition_states: [ME, OTHER]
                .into_iter()
                .enumerate()
                .map(|(p, leader)| LeaderAndIsrPartitionState {
                    partition_index: p as i32,
                    controller_epoch: EPOCH,
                    leader,
                    leader_epoch,
                    isr: vec![ME, OTHER],
                    replicas: vec![ME, OTHER],
                    is_new: true,
                    ..Default::default()
                })
                .collect(),
        }],
        ..Default::default()
    }
}

fn partition_codes(
    response: &gregor_protocol::api::leader_and_isr::LeaderAndIsrResponse,
) -> Vec<i16> {
    response
        .topics
        .iter()
        .flat_map(|t| t.partition_errors.iter().map(|p| p.error_code))
        .collect()
}

#[test]
fn the_broker_leads_follows_and_answers_metadata_as_the_controller_says() -> Result<()> {
    let cluster = gregor_broker_with_zk()?;
    cluster.wait_until_registered(REGISTRATION_TIMEOUT)?;
    let topic = unique_topic("controlled");
    let port = cluster.broker.port();
    let mut controller = WireClient::connect(&cluster.bootstrap())?;
    let mut client = WireClient::connect(&cluster.bootstrap())?;

    let r = controller.request(7, &update_metadata(&topic, port, EPOCH, [ME, OTHER]))?;
    assert_eq!(r.error_code, 0);
    let r = controller.request(5, &leader_and_isr(&topic, -1, 0))?;
    assert_eq!((r.error_code, partition_codes(&r)), (0, vec![0, 0]));
    assert_eq!(r.topics[0].topic_id, TOPIC_ID);
    assert!(cluster.broker.log_dir().join(format!("{topic}-1")).is_dir());

    // The leader takes produce; the follower refuses it. A consumer's
    // Fetch v11+ is served by a follower too (KIP-392, as in Kafka 2.8),
    // an older one only by the leader.
    assert_eq!(client.produce(&topic, 0, 1, batch())?.error_code, 0);
    let not_leader = ErrorCode::NOT_LEADER_OR_FOLLOWER.code();
    assert_eq!(
        client.produce(&topic, 1, 1, batch())?.error_code,
        not_leader
    );
    assert_eq!(client.fetch(&topic, 1, 0)?.error_code, 0);
    let old_fetch = FetchRequest {
        replica_id: -1,
        max_bytes: 1 << 20,
        topics: vec![FetchTopic {
            topic: topic.clone(),
            partitions: vec![FetchPartition {
                partition: 1,
                partition_max_bytes: 1 << 20,
                ..Default::default()
            }],
        }],
        ..Default::default()
    };
    let answer = client.request(10, &old_fetch)?;
    assert_eq!(answer.responses[0].partitions[0].error_code, not_leader);

    let t = client.topic_metadata(&topic, false)?;
    let leaders: Vec<(i32, i32)> = t
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.leader_id))
        .collect();
    assert_eq!(leaders, [(0, ME), (1, OTHER)]);

    // Fencing: the same leader epoch again, an old broker epoch, an old
    // controller.
    let stale_epoch = ErrorCode::STALE_CONTROLLER_EPOCH.code();
    let r = controller.request(5, &leader_and_isr(&topic, -1, 0))?;
    assert_eq!(partition_codes(&r), [stale_epoch, stale_epoch]);
    let r = controller.request(5, &leader_and_isr(&topic, 0, 1))?;
    assert_eq!(r.error_code, ErrorCode::STALE_BROKER_EPOCH.code());
    let r = controller.request(7, &update_metadata(&topic, port, EPOCH - 1, [OTHER, OTHER]))?;
    assert_eq!(r.error_code, stale_epoch);
    assert_eq!(
        client.topic_metadata(&topic, false)?.partitions[0].leader_id,
        ME
    );

    // Deleting the topic: StopReplica removes the log, UpdateMetadata's
    // delete marker the metadata.
    let stop = StopReplicaRequest {
        controller_id: ME,
        controller_epoch: EPOCH,
        broker_epoch: -1,
        topic_states: vec![StopReplicaTopicState {
            topic_name: topic.clone(),
            partition_states: (0..2)
                .map(|p| StopReplicaPartitionState {
                    partition_index: p,
                    leader_epoch: -2,
                    delete_partition: true,
                })
                .collect(),
        }],
        ..Default::default()
    };
    let r = controller.request(3, &stop)?;
    assert_eq!(r.error_code, 0);
    assert!(
        r.partition_errors.iter().all(|p| p.error_code == 0),
        "{r:?}"
    );
    assert!(!cluster.broker.log_dir().join(format!("{topic}-0")).exists());
    assert_eq!(
        client.produce(&topic, 0, 1, batch())?.error_code,
        not_leader
    );

    let r = controller.request(7, &update_metadata(&topic, port, EPOCH, [-2, -2]))?;
    assert_eq!(r.error_code, 0);
    assert_eq!(
        client.topic_metadata(&topic, false)?.error_code,
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.code()
    );
    Ok(())
}
