//! Differential test of the wire protocol: one scripted client session,
//! the same requests byte for byte, sent to a 3-broker Apache Kafka 2.8
//! cluster and then to a 3-broker gregor cluster (same ZooKeeper, same
//! `server.properties`), every answer compared field by field.
//!
//! Requests are built and responses decoded with the `kafka-protocol` crate,
//! not with gregor's codec, so gregor's encoder is not judging itself. Each
//! response is reduced to `<step>/<field path>` → value locations (list
//! elements keyed by their name, topic, partition or id where they have one,
//! since Kafka's list order is a hash map's); values that must differ
//! between two clusters (cluster and topic ids, ports, broker-generated
//! member ids, fetch session ids, the node that won an election or leads a
//! randomly assigned partition) are normalised to what they must be; then
//! `integration_tests::differential::compare("wire", …)` fails on every
//! other difference unless `integration-tests/differential/allowed-differences.txt`
//! lists it under `[wire]` with a reason.
//!
//! Each request goes where a client would send it (the partition leader,
//! the group coordinator, the controller), found the same way on both
//! clusters, and only once the state it depends on has settled (leaders
//! elected and known to every broker, the coordinator loaded): the waits
//! poll on their own connection and are not recorded.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use integration_tests::differential::compare;
use integration_tests::{wait_until, BrokerConfig, Cluster, KAFKA_2_8};
use kafka_protocol::messages::{
    alter_configs_request, api_versions_request::ApiVersionsRequest, create_topics_request,
    delete_topics_request, describe_configs_request,
    describe_groups_request::DescribeGroupsRequest, fetch_request,
    find_coordinator_request::FindCoordinatorRequest, heartbeat_request::HeartbeatRequest,
    incremental_alter_configs_request, join_group_request, leave_group_request,
    list_offsets_request, metadata_request, offset_commit_request, offset_fetch_request,
    produce_request, sync_group_request, ApiKey, BrokerId, ConsumerProtocolAssignment,
    ConsumerProtocolSubscription, GroupId, MetadataResponse, RequestHeader, ResponseHeader,
    TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// The client id of every request; Kafka and gregor build member ids from it.
const CLIENT_ID: &str = "differential-wire";
/// The topic the data steps use: three partitions, each led by its first
/// replica, so that leaders are the same on both clusters.
const TOPIC: &str = "wire";
/// `max.message.bytes` of [`TOPIC`]: the oversized batch exceeds it.
const TOPIC_MAX_MESSAGE_BYTES: usize = 2048;
const GROUP: &str = "wire-group";
/// Record timestamps (CreateTime) of the produced batches, fixed so that
/// ListOffsets by timestamp has the same answer on both clusters.
const FIRST_TIMESTAMP: i64 = 1_600_000_000_000;
/// Bound on a state change (a topic's leaders, a deletion, the coordinator)
/// reaching every broker.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// The connection slot of the unrecorded polls.
const POLL: u8 = u8::MAX;

/// `server.properties` both clusters get beyond the harness's own keys.
fn broker_properties(config: BrokerConfig) -> BrokerConfig {
    config
        .property("num.partitions", 1)
        .property("default.replication.factor", 3)
        .property("offsets.topic.num.partitions", 1)
        .property("offsets.topic.replication.factor", 3)
        .property("group.initial.rebalance.delay.ms", 0)
        // gregor keeps no incremental fetch sessions (KIP-227); neither
        // does a Kafka broker with no session cache slots.
        .property("max.incremental.fetch.session.cache.slots", 0)
}

#[test]
fn kafka_and_gregor_answer_the_same_session_alike() -> Result<()> {
    let started = Instant::now();
    let mut kafka = session(true, true, script)?;
    let mut gregor = session(false, true, script)?;
    // Brokers with auto.create.topics.enable=false: a shorter session.
    kafka.absorb("auto_create_off", session(true, false, auto_creation_off)?);
    gregor.absorb("auto_create_off", session(false, false, auto_creation_off)?);
    ensure_same_requests(&kafka.requests, &gregor.requests)?;
    eprintln!(
        "{} steps, {} locations from Kafka, {} from gregor, in {:?}",
        kafka.requests.len(),
        kafka.seen.len(),
        gregor.seen.len(),
        started.elapsed()
    );
    compare("wire", &kafka.seen, &gregor.seen)
}

/// Runs `script` against a fresh cluster of Kafka 2.8 (`kafka`) or gregor
/// brokers, with [`broker_properties`] and `auto.create.topics.enable`.
fn session(kafka: bool, auto_create: bool, script: fn(&mut Run) -> Result<()>) -> Result<Recorded> {
    let configure = |config: BrokerConfig| {
        let config = if kafka {
            config.kafka(KAFKA_2_8)
        } else {
            config
        };
        broker_properties(config).property("auto.create.topics.enable", auto_create)
    };
    let cluster = Cluster::start_with(3, configure)?;
    let mut run = Run::new(&cluster)?;
    let peer = if kafka { "Kafka 2.8" } else { "gregor" };
    script(&mut run).with_context(|| {
        format!("the session against {peer} (auto.create.topics.enable={auto_create})")
    })?;
    Ok(run.finish())
}

/// Both sessions sent the same bytes, except where a request carries a
/// member id the broker generated.
fn ensure_same_requests(
    kafka: &BTreeMap<String, (bool, Vec<u8>)>,
    gregor: &BTreeMap<String, (bool, Vec<u8>)>,
) -> Result<()> {
    ensure!(
        kafka.keys().eq(gregor.keys()),
        "the sessions ran different steps"
    );
    for (step, (uses_member_id, bytes)) in kafka {
        if !uses_member_id {
            ensure!(
                gregor.get(step).map(|(_, b)| b) == Some(bytes),
                "step {step} sent different bytes to gregor"
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The scripts

/// Metadata at brokers that do not auto-create topics, whatever the request
/// allows (and before v4 every request allows it).
fn auto_creation_off(run: &mut Run) -> Result<()> {
    run.step(
        "metadata/unknown_auto_create",
        (1, 0),
        9,
        &metadata(Some(&["wire-auto"]), true),
    )?;
    run.step(
        "metadata/unknown_v1",
        (2, 0),
        1,
        &metadata(Some(&["wire-auto"]), true),
    )?;
    run.step(
        "metadata/unknown_v4_no_auto_create",
        (3, 0),
        4,
        &metadata(Some(&["wire-auto"]), false),
    )?;
    run.step("metadata/all", (1, 0), 9, &metadata(None, true))?;
    Ok(())
}

fn script(run: &mut Run) -> Result<()> {
    let controller = run.controller;
    let other = (1..=3).find(|&b| b != controller).unwrap_or(1);

    // ApiVersions, on every broker's first request of the session.
    let api_versions = ApiVersionsRequest::default()
        .with_client_software_name(s("differential-wire"))
        .with_client_software_version(s("1.0"));
    run.api_versions("api_versions_v3", 1, 3, &api_versions)?;
    run.api_versions("api_versions_v0", 2, 0, &ApiVersionsRequest::default())?;

    // CreateTopics, at the controller: the topic the rest uses, with an
    // explicit assignment and configs.
    let wire = create_topics_request::CreatableTopic::default()
        .with_name(topic(TOPIC))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
        .with_assignments(
            [[1, 2, 3], [2, 3, 1], [3, 1, 2]]
                .iter()
                .enumerate()
                .map(|(p, replicas)| {
                    create_topics_request::CreatableReplicaAssignment::default()
                        .with_partition_index(p as i32)
                        .with_broker_ids(replicas.iter().map(|&b| BrokerId(b)).collect())
                })
                .collect(),
        )
        .with_configs(vec![
            topic_config("retention.ms", Some("86400000")),
            topic_config(
                "max.message.bytes",
                Some(&TOPIC_MAX_MESSAGE_BYTES.to_string()),
            ),
            topic_config("cleanup.policy", Some("delete")),
        ]);
    run.step(
        "create_topics/good_assigned",
        (controller, 0),
        5,
        &create_topics(vec![wire.clone()], false),
    )?;
    run.wait_for_leaders(TOPIC, 3)?;

    // Metadata: all, named, unknown, auto-creation off and on.
    run.step("metadata/all_v9", (1, 0), 9, &metadata(None, false))?;
    // Before v4 every Metadata request may auto-create (not that "all" does).
    run.step("metadata/all_v1", (2, 0), 1, &metadata(None, true))?;
    run.step(
        "metadata/named",
        (3, 0),
        9,
        &metadata(Some(&[TOPIC]), false),
    )?;
    run.step(
        "metadata/named_v4",
        (3, 0),
        4,
        &metadata(Some(&[TOPIC]), false),
    )?;
    run.step(
        "metadata/unknown_no_auto_create",
        (1, 0),
        9,
        &metadata(Some(&["wire-unknown", TOPIC]), false),
    )?;
    run.step(
        "metadata/invalid_name_auto_create",
        (1, 0),
        9,
        &metadata(Some(&["bad name!"]), true),
    )?;
    run.step("metadata/empty_list", (1, 0), 9, &metadata(Some(&[]), true))?;
    run.step(
        "metadata/unknown_auto_create",
        (1, 0),
        9,
        &metadata(Some(&["wire-auto"]), true),
    )?;
    run.wait_for_leaders("wire-auto", 1)?;

    // CreateTopics: more good and the bad ones.
    let random = create_topics_request::CreatableTopic::default()
        .with_name(topic("wire-random"))
        .with_num_partitions(2)
        .with_replication_factor(2);
    run.step(
        "create_topics/good_counted",
        (controller, 0),
        5,
        &create_topics(vec![random], false),
    )?;
    run.wait_for_leaders("wire-random", 2)?;
    let counted = |name: &str, partitions: i32, rf: i16| {
        create_topics_request::CreatableTopic::default()
            .with_name(topic(name))
            .with_num_partitions(partitions)
            .with_replication_factor(rf)
    };
    run.step(
        "create_topics/validate_only",
        (controller, 0),
        5,
        &create_topics(
            vec![counted("wire-validated", 4, 3)
                .with_configs(vec![topic_config("retention.ms", Some("1000"))])],
            true,
        ),
    )?;
    run.step(
        "create_topics/compression_type",
        (controller, 0),
        5,
        &create_topics(
            vec![counted("wire-lz4", 1, 3)
                .with_configs(vec![topic_config("compression.type", Some("lz4"))])],
            true,
        ),
    )?;
    run.step(
        "create_topics/bad",
        (controller, 0),
        5,
        &create_topics(
            vec![
                counted("wire-bad-key", 1, 1)
                    .with_configs(vec![topic_config("no.such.config", Some("1"))]),
                counted("wire-bad-value", 1, 1)
                    .with_configs(vec![topic_config("retention.ms", Some("soon"))]),
                counted("wire-bad-enum", 1, 1)
                    .with_configs(vec![topic_config("cleanup.policy", Some("sometimes"))]),
                counted("wire-null-value", 1, 1)
                    .with_configs(vec![topic_config("retention.ms", None)]),
                counted("wire-rf-4", 1, 4),
                counted("wire-rf-0", 1, 0),
                counted("wire-partitions-0", 0, 1),
                counted(TOPIC, 1, 1),
                counted("bad name!", 1, 1),
                counted("..", 1, 1),
                counted(&"x".repeat(250), 1, 1),
                counted("wire-both", 1, 1).with_assignments(vec![
                    create_topics_request::CreatableReplicaAssignment::default()
                        .with_partition_index(0)
                        .with_broker_ids(vec![BrokerId(1)]),
                ]),
                counted("wire-duplicate-replica", -1, -1).with_assignments(vec![
                    create_topics_request::CreatableReplicaAssignment::default()
                        .with_partition_index(0)
                        .with_broker_ids(vec![BrokerId(1), BrokerId(1)]),
                ]),
            ],
            false,
        ),
    )?;
    run.step(
        "create_topics/unknown_broker",
        (controller, 0),
        5,
        &create_topics(
            vec![
                counted("wire-unknown-broker", -1, -1).with_assignments(vec![
                    create_topics_request::CreatableReplicaAssignment::default()
                        .with_partition_index(0)
                        .with_broker_ids(vec![BrokerId(1), BrokerId(7)]),
                ]),
            ],
            false,
        ),
    )?;
    run.wait_for_topic("wire-unknown-broker", |partitions| {
        partitions.iter().all(|p| p.leader_id.0 == 1)
    })?;
    run.step(
        "metadata/unknown_broker",
        (2, 0),
        9,
        &metadata(Some(&["wire-unknown-broker"]), false),
    )?;
    run.step(
        "create_topics/duplicate_in_request",
        (controller, 0),
        5,
        &create_topics(
            vec![counted("wire-dup", 1, 1), counted("wire-dup", 1, 1)],
            false,
        ),
    )?;
    run.step(
        "create_topics/not_controller",
        (other, 0),
        5,
        &create_topics(vec![counted("wire-elsewhere", 1, 1)], false),
    )?;
    run.step(
        "create_topics/v2",
        (controller, 0),
        2,
        &create_topics(
            vec![counted(TOPIC, 1, 1), counted("wire-rf-5", 1, 5)],
            false,
        ),
    )?;
    run.step(
        "metadata/after_failed_creates",
        (1, 0),
        9,
        &metadata(
            Some(&["wire-validated", "wire-bad-key", "wire-rf-4", "wire-dup"]),
            false,
        ),
    )?;

    // DescribeConfigs: a topic's values, sources and synonyms; a broker's.
    let describe = |resource_type: i8, name: &str, keys: Option<&[&str]>, synonyms: bool| {
        describe_configs_request::DescribeConfigsRequest::default()
            .with_resources(vec![
                describe_configs_request::DescribeConfigsResource::default()
                    .with_resource_type(resource_type)
                    .with_resource_name(s(name))
                    .with_configuration_keys(keys.map(|k| k.iter().map(|k| s(k)).collect())),
            ])
            .with_include_synonyms(synonyms)
            .with_include_documentation(false)
    };
    run.step(
        "describe_configs/topic_all_synonyms",
        (2, 0),
        4,
        &describe(2, TOPIC, None, true),
    )?;
    run.step(
        "describe_configs/topic_all_v1",
        (2, 0),
        1,
        &describe(2, TOPIC, None, true),
    )?;
    run.step(
        "describe_configs/topic_keys",
        (2, 0),
        4,
        &describe(
            2,
            TOPIC,
            Some(&["retention.ms", "segment.bytes", "no.such.config"]),
            false,
        ),
    )?;
    run.step(
        "describe_configs/topic_unknown",
        (2, 0),
        4,
        &describe(2, "wire-unknown", None, false),
    )?;
    let broker_keys: &[&str] = &[
        "broker.id",
        "num.partitions",
        "default.replication.factor",
        "auto.create.topics.enable",
        "log.retention.hours",
        "log.retention.ms",
        "log.segment.bytes",
        "message.max.bytes",
        "offsets.topic.num.partitions",
        "group.initial.rebalance.delay.ms",
        "ssl.key.password",
        "zookeeper.session.timeout.ms",
    ];
    run.step(
        "describe_configs/broker_keys",
        (1, 0),
        4,
        &describe(4, "1", Some(broker_keys), true),
    )?;
    run.step(
        "describe_configs/broker_all",
        (2, 0),
        4,
        &describe(4, "2", None, false),
    )?;
    run.step(
        "describe_configs/broker_default",
        (1, 0),
        4,
        &describe(4, "", Some(broker_keys), true),
    )?;
    run.step(
        "describe_configs/other_broker",
        (1, 0),
        4,
        &describe(4, "2", Some(broker_keys), false),
    )?;
    run.step(
        "describe_configs/bad_resource_type",
        (1, 0),
        4,
        &describe(3, "x", None, false),
    )?;

    // AlterConfigs and IncrementalAlterConfigs: errors, then one change
    // each and its effect.
    let alter = |name: &str, configs: &[(&str, Option<&str>)], validate_only: bool| {
        alter_configs_request::AlterConfigsRequest::default()
            .with_resources(vec![alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(s(name))
                .with_configs(
                    configs
                        .iter()
                        .map(|(k, v)| {
                            alter_configs_request::AlterableConfig::default()
                                .with_name(s(k))
                                .with_value(v.map(s))
                        })
                        .collect(),
                )])
            .with_validate_only(validate_only)
    };
    run.step(
        "alter_configs/unknown_topic",
        (2, 0),
        1,
        &alter("wire-unknown", &[("retention.ms", Some("1000"))], false),
    )?;
    run.step(
        "alter_configs/unknown_key",
        (2, 0),
        1,
        &alter(TOPIC, &[("no.such.config", Some("1"))], false),
    )?;
    run.step(
        "alter_configs/bad_value",
        (2, 0),
        1,
        &alter(TOPIC, &[("retention.ms", Some("soon"))], false),
    )?;
    run.step(
        "alter_configs/validate_only",
        (2, 0),
        1,
        &alter(TOPIC, &[("retention.ms", Some("1000"))], true),
    )?;
    run.step(
        "alter_configs/good",
        (2, 0),
        1,
        &alter(
            TOPIC,
            &[
                ("retention.ms", Some("86400000")),
                (
                    "max.message.bytes",
                    Some(&TOPIC_MAX_MESSAGE_BYTES.to_string()),
                ),
                ("segment.ms", Some("3600000")),
            ],
            false,
        ),
    )?;
    let incremental = |name: &str, configs: &[(&str, i8, Option<&str>)]| {
        incremental_alter_configs_request::IncrementalAlterConfigsRequest::default().with_resources(
            vec![
                incremental_alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(s(name))
                    .with_configs(
                        configs
                            .iter()
                            .map(|(k, op, v)| {
                                incremental_alter_configs_request::AlterableConfig::default()
                                    .with_name(s(k))
                                    .with_config_operation(*op)
                                    .with_value(v.map(s))
                            })
                            .collect(),
                    ),
            ],
        )
    };
    run.step(
        "incremental_alter_configs/unknown_topic",
        (3, 0),
        1,
        &incremental("wire-unknown", &[("retention.ms", 0, Some("1000"))]),
    )?;
    run.step(
        "incremental_alter_configs/unknown_key",
        (3, 0),
        1,
        &incremental(TOPIC, &[("no.such.config", 0, Some("1"))]),
    )?;
    run.step(
        "incremental_alter_configs/bad_value",
        (3, 0),
        1,
        &incremental(TOPIC, &[("retention.ms", 0, Some("soon"))]),
    )?;
    run.step(
        "incremental_alter_configs/append_to_scalar",
        (3, 0),
        1,
        &incremental(TOPIC, &[("retention.ms", 2, Some("1"))]),
    )?;
    run.step(
        "incremental_alter_configs/bad_operation",
        (3, 0),
        1,
        &incremental(TOPIC, &[("retention.ms", 9, Some("1"))]),
    )?;
    run.step(
        "incremental_alter_configs/duplicate_key",
        (3, 0),
        1,
        &incremental(
            TOPIC,
            &[("retention.ms", 0, Some("1000")), ("retention.ms", 3, None)],
        ),
    )?;
    run.step(
        "incremental_alter_configs/good",
        (3, 0),
        1,
        &incremental(
            TOPIC,
            &[
                ("segment.ms", 1, None),
                ("cleanup.policy", 2, Some("compact")),
                ("cleanup.policy", 3, Some("compact")),
            ],
        ),
    )?;
    run.step(
        "describe_configs/after_alters",
        (1, 0),
        4,
        &describe(
            2,
            TOPIC,
            Some(&[
                "retention.ms",
                "segment.ms",
                "cleanup.policy",
                "max.message.bytes",
            ]),
            true,
        ),
    )?;

    // Produce: two good batches to partition 0, then the errors.
    let leader = run.leader(TOPIC, 0)?;
    let follower = run.leader(TOPIC, 1)?;
    let first = batch(0, 3, 10);
    let second = batch(3, 3, 10);
    run.step(
        "produce/good_first",
        (leader, 0),
        8,
        &produce(-1, &[(TOPIC, 0, Some(first))]),
    )?;
    run.step(
        "produce/good_second_v9",
        (leader, 0),
        9,
        &produce(1, &[(TOPIC, 0, Some(second))]),
    )?;
    let oversized = batch(0, 1, TOPIC_MAX_MESSAGE_BYTES + 100);
    run.step(
        "produce/oversized",
        (leader, 0),
        8,
        &produce(-1, &[(TOPIC, 0, Some(oversized))]),
    )?;
    let mut corrupt = BytesMut::from(&batch(0, 2, 10)[..]);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    run.step(
        "produce/bad_crc",
        (leader, 0),
        8,
        &produce(-1, &[(TOPIC, 0, Some(corrupt.freeze()))]),
    )?;
    let mut two_batches = BytesMut::from(&batch(6, 1, 10)[..]);
    two_batches.extend_from_slice(&batch(7, 1, 10));
    run.step(
        "produce/two_batches",
        (leader, 0),
        8,
        &produce(-1, &[(TOPIC, 0, Some(two_batches.freeze()))]),
    )?;
    run.step(
        "produce/unknown_topic",
        (leader, 0),
        8,
        &produce(-1, &[("wire-unknown", 0, Some(batch(0, 1, 10)))]),
    )?;
    run.step(
        "produce/unknown_partition",
        (leader, 0),
        8,
        &produce(-1, &[(TOPIC, 7, Some(batch(0, 1, 10)))]),
    )?;
    run.step(
        "produce/not_leader",
        (leader, 0),
        8,
        &produce(-1, &[(TOPIC, 1, Some(batch(0, 1, 10)))]),
    )?;
    run.step(
        "produce/invalid_acks",
        (leader, 0),
        8,
        &produce(2, &[(TOPIC, 0, Some(batch(0, 1, 10)))]),
    )?;
    run.step(
        "produce/v3_mixed",
        (leader, 0),
        3,
        &produce(
            -1,
            &[
                (TOPIC, 0, Some(batch(0, 1, 10))),
                (TOPIC, 2, Some(batch(0, 1, 10))),
                ("wire-unknown", 0, Some(batch(0, 1, 10))),
            ],
        ),
    )?;

    // ListOffsets at the leader of partition 0 (6 records, timestamps
    // FIRST_TIMESTAMP + 0..3 twice).
    let list = |isolation: i8, partitions: &[(i32, i64)]| {
        list_offsets_request::ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_isolation_level(isolation)
            .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
                .with_name(topic(TOPIC))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|&(p, timestamp)| {
                            list_offsets_request::ListOffsetsPartition::default()
                                .with_partition_index(p)
                                .with_current_leader_epoch(-1)
                                .with_timestamp(timestamp)
                        })
                        .collect(),
                )])
    };
    run.step(
        "list_offsets/earliest",
        (leader, 0),
        6,
        &list(0, &[(0, -2)]),
    )?;
    run.step("list_offsets/latest", (leader, 0), 6, &list(0, &[(0, -1)]))?;
    run.step(
        "list_offsets/latest_committed",
        (leader, 0),
        6,
        &list(1, &[(0, -1)]),
    )?;
    run.step(
        "list_offsets/by_timestamp",
        (leader, 0),
        6,
        &list(0, &[(0, FIRST_TIMESTAMP + 1)]),
    )?;
    run.step(
        "list_offsets/by_timestamp_v1",
        (leader, 0),
        1,
        &list(0, &[(0, FIRST_TIMESTAMP + 2)]),
    )?;
    run.step(
        "list_offsets/after_every_timestamp",
        (leader, 0),
        6,
        &list(0, &[(0, FIRST_TIMESTAMP + 1_000_000)]),
    )?;
    run.step(
        "list_offsets/out_of_range_and_not_leader",
        (leader, 0),
        6,
        &list(0, &[(7, -1), (1, -1)]),
    )?;
    let mut fenced = list(0, &[(0, -1)]);
    fenced.topics[0].partitions[0].current_leader_epoch = 5;
    run.step("list_offsets/future_leader_epoch", (leader, 0), 6, &fenced)?;

    // Fetch at the leader of partition 0.
    let fetch = |isolation: i8, max_bytes: i32, partitions: &[(&str, i32, i64, i32)]| {
        fetch_request::FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(0)
            .with_min_bytes(0)
            .with_max_bytes(max_bytes)
            .with_isolation_level(isolation)
            .with_session_id(0)
            .with_session_epoch(-1)
            .with_topics(
                partitions
                    .iter()
                    .map(|&(name, p, offset, partition_max)| {
                        fetch_request::FetchTopic::default()
                            .with_topic(topic(name))
                            .with_partitions(vec![fetch_request::FetchPartition::default()
                                .with_partition(p)
                                .with_current_leader_epoch(-1)
                                .with_fetch_offset(offset)
                                .with_log_start_offset(-1)
                                .with_last_fetched_epoch(-1)
                                .with_partition_max_bytes(partition_max)])
                    })
                    .collect(),
            )
    };
    run.step(
        "fetch/from_start",
        (leader, 0),
        12,
        &fetch(0, 1 << 20, &[(TOPIC, 0, 0, 1 << 20)]),
    )?;
    run.step(
        "fetch/from_start_v4",
        (leader, 0),
        4,
        &fetch(0, 1 << 20, &[(TOPIC, 0, 0, 1 << 20)]),
    )?;
    run.step(
        "fetch/middle_of_batch",
        (leader, 0),
        12,
        &fetch(0, 1 << 20, &[(TOPIC, 0, 4, 1 << 20)]),
    )?;
    run.step(
        "fetch/read_committed",
        (leader, 0),
        12,
        &fetch(1, 1 << 20, &[(TOPIC, 0, 0, 1 << 20)]),
    )?;
    run.step(
        "fetch/partition_max_bytes_below_a_batch",
        (leader, 0),
        12,
        &fetch(0, 1 << 20, &[(TOPIC, 0, 0, 10)]),
    )?;
    run.step(
        "fetch/max_bytes_below_a_batch",
        (leader, 0),
        12,
        &fetch(0, 10, &[(TOPIC, 0, 0, 1 << 20)]),
    )?;
    run.step(
        "fetch/at_end",
        (leader, 0),
        12,
        &fetch(0, 1 << 20, &[(TOPIC, 0, 6, 1 << 20)]),
    )?;
    run.step(
        "fetch/offset_out_of_range",
        (leader, 0),
        12,
        &fetch(0, 1 << 20, &[(TOPIC, 0, 100, 1 << 20)]),
    )?;
    run.step(
        "fetch/negative_offset",
        (leader, 0),
        12,
        &fetch(0, 1 << 20, &[(TOPIC, 0, -5, 1 << 20)]),
    )?;
    run.step(
        "fetch/unknown_topic_and_partition",
        (leader, 0),
        12,
        &fetch(
            0,
            1 << 20,
            &[("wire-unknown", 0, 0, 1 << 20), (TOPIC, 9, 0, 1 << 20)],
        ),
    )?;
    run.wait_for_follower(follower, TOPIC, 0)?;
    run.step(
        "fetch/not_leader",
        (follower, 0),
        12,
        &fetch(0, 1 << 20, &[(TOPIC, 0, 0, 1 << 20)]),
    )?;
    let mut fenced = fetch(0, 1 << 20, &[(TOPIC, 0, 0, 1 << 20)]);
    fenced.topics[0].partitions[0].current_leader_epoch = 5;
    run.step("fetch/future_leader_epoch", (leader, 0), 12, &fenced)?;
    let session = fetch(0, 1 << 20, &[(TOPIC, 0, 6, 1 << 20)]).with_session_epoch(0);
    run.step("fetch/new_session", (leader, 0), 12, &session)?;
    let unknown_session = fetch(0, 1 << 20, &[(TOPIC, 0, 6, 1 << 20)])
        .with_session_id(12345)
        .with_session_epoch(1);
    run.step("fetch/unknown_session", (leader, 0), 12, &unknown_session)?;

    // DeleteTopics at the controller, and Metadata once they are gone.
    let delete = |names: &[&str]| {
        delete_topics_request::DeleteTopicsRequest::default()
            .with_topic_names(names.iter().map(|n| topic(n)).collect())
            .with_timeout_ms(30_000)
    };
    run.step(
        "delete_topics/existing_and_unknown",
        (controller, 0),
        5,
        &delete(&["wire-random", "wire-auto", "wire-unknown"]),
    )?;
    run.step(
        "delete_topics/not_controller",
        (other, 0),
        5,
        &delete(&[TOPIC]),
    )?;
    run.step(
        "delete_topics/invalid_name_v1",
        (controller, 0),
        1,
        &delete(&["bad name!"]),
    )?;
    run.wait_for_deletion("wire-random")?;
    run.wait_for_deletion("wire-auto")?;
    run.step(
        "metadata/after_delete",
        (2, 0),
        9,
        &metadata(Some(&["wire-random", "wire-auto"]), false),
    )?;

    // FindCoordinator: creates __consumer_offsets, whose only partition's
    // leader (chosen at random) is the coordinator.
    let find = |key: &str, key_type: i8| {
        FindCoordinatorRequest::default()
            .with_key(s(key))
            .with_key_type(key_type)
    };
    run.step("find_coordinator/first", (1, 0), 3, &find(GROUP, 0))?;
    let coordinator = run.wait_for_coordinator(GROUP)?;
    run.step_labelled(
        "find_coordinator/group",
        (2, 0),
        3,
        &find(GROUP, 0),
        ("node_id", coordinator, "the coordinator"),
    )?;
    run.step_labelled(
        "find_coordinator/group_v0",
        (2, 0),
        0,
        &find(GROUP, 0),
        ("node_id", coordinator, "the coordinator"),
    )?;
    run.step("find_coordinator/bad_key_type", (2, 0), 3, &find(GROUP, 7))?;

    group_session(run, coordinator)?;
    Ok(())
}

/// The group protocol at the coordinator: a member joins and syncs, a
/// second one joins (a rebalance), then each error the coordinator gives.
fn group_session(run: &mut Run, coordinator: i32) -> Result<()> {
    let one = (coordinator, 0);
    let two = (coordinator, 1);
    let subscription = subscription(&[TOPIC]);
    let join = |member: &str, protocol_type: &str, protocol: &str| {
        join_group_request::JoinGroupRequest::default()
            .with_group_id(GroupId(s(GROUP)))
            .with_session_timeout_ms(60_000)
            .with_rebalance_timeout_ms(60_000)
            .with_member_id(s(member))
            .with_protocol_type(s(protocol_type))
            .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default(
            )
            .with_name(s(protocol))
            .with_metadata(subscription.clone())])
    };
    let member_of = |response: &kafka_protocol::messages::JoinGroupResponse| {
        response.member_id.as_str().to_owned()
    };

    // Member one: MEMBER_ID_REQUIRED, then in with its member id.
    let first = run.step(
        "group/join_one_without_member_id",
        one,
        7,
        &join("", "consumer", "range"),
    )?;
    let m1 = member_of(&first);
    let joined = run.step_with_member("group/join_one", one, 7, &join(&m1, "consumer", "range"))?;
    let generation = joined.generation_id;
    let sync = |member: &str, generation: i32, assignments: Vec<(String, Bytes)>| {
        sync_group_request::SyncGroupRequest::default()
            .with_group_id(GroupId(s(GROUP)))
            .with_generation_id(generation)
            .with_member_id(s(member))
            .with_protocol_type(Some(s("consumer")))
            .with_protocol_name(Some(s("range")))
            .with_assignments(
                assignments
                    .into_iter()
                    .map(|(m, a)| {
                        sync_group_request::SyncGroupRequestAssignment::default()
                            .with_member_id(s(&m))
                            .with_assignment(a)
                    })
                    .collect(),
            )
    };
    run.step_with_member(
        "group/sync_one",
        one,
        5,
        &sync(&m1, generation, vec![(m1.clone(), assignment(&[0, 1, 2]))]),
    )?;

    // The group's errors while stable.
    let heartbeat = |member: &str, generation: i32| {
        HeartbeatRequest::default()
            .with_group_id(GroupId(s(GROUP)))
            .with_generation_id(generation)
            .with_member_id(s(member))
    };
    run.step_with_member("group/heartbeat", one, 4, &heartbeat(&m1, generation))?;
    run.step(
        "group/heartbeat_unknown_member",
        one,
        4,
        &heartbeat("nobody", generation),
    )?;
    run.step_with_member(
        "group/heartbeat_illegal_generation",
        one,
        4,
        &heartbeat(&m1, generation + 10),
    )?;
    run.step(
        "group/heartbeat_unknown_group",
        one,
        4,
        &HeartbeatRequest::default()
            .with_group_id(GroupId(s("wire-no-group")))
            .with_generation_id(1)
            .with_member_id(s("nobody")),
    )?;
    run.step(
        "group/join_inconsistent_protocol_type",
        one,
        7,
        &join("", "connect", "range"),
    )?;
    run.step(
        "group/join_inconsistent_protocol",
        one,
        7,
        &join("", "consumer", "roundrobin"),
    )?;
    run.step(
        "group/join_unknown_member",
        one,
        7,
        &join("nobody", "consumer", "range"),
    )?;
    run.step_with_member(
        "group/sync_illegal_generation",
        one,
        5,
        &sync(&m1, generation + 10, vec![]),
    )?;
    run.step(
        "group/sync_unknown_member",
        one,
        5,
        &sync("nobody", generation, vec![]),
    )?;

    // Offsets of the stable group.
    let commit = |member: &str, generation: i32, offsets: &[(&str, i32, i64)]| {
        let mut topics: Vec<offset_commit_request::OffsetCommitRequestTopic> = Vec::new();
        for &(name, p, offset) in offsets {
            let partition = offset_commit_request::OffsetCommitRequestPartition::default()
                .with_partition_index(p)
                .with_committed_offset(offset)
                .with_committed_leader_epoch(-1)
                .with_committed_metadata(Some(s("meta")));
            match topics.iter_mut().find(|t| t.name.0.as_str() == name) {
                Some(t) => t.partitions.push(partition),
                None => topics.push(
                    offset_commit_request::OffsetCommitRequestTopic::default()
                        .with_name(topic(name))
                        .with_partitions(vec![partition]),
                ),
            }
        }
        offset_commit_request::OffsetCommitRequest::default()
            .with_group_id(GroupId(s(GROUP)))
            .with_generation_id_or_member_epoch(generation)
            .with_member_id(s(member))
            .with_topics(topics)
    };
    run.step_with_member(
        "offsets/commit",
        one,
        8,
        &commit(&m1, generation, &[(TOPIC, 0, 3), (TOPIC, 1, 0)]),
    )?;
    run.step_with_member(
        "offsets/commit_illegal_generation",
        one,
        8,
        &commit(&m1, generation + 10, &[(TOPIC, 0, 4)]),
    )?;
    run.step(
        "offsets/commit_unknown_member",
        one,
        8,
        &commit("nobody", generation, &[(TOPIC, 0, 4)]),
    )?;
    run.step_with_member(
        "offsets/commit_unknown_partition",
        one,
        8,
        &commit(&m1, generation, &[(TOPIC, 9, 4), ("wire-unknown", 0, 1)]),
    )?;
    let offset_fetch = |group: &str, topics: Option<&[(&str, &[i32])]>| {
        offset_fetch_request::OffsetFetchRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_topics(topics.map(|topics| {
                topics
                    .iter()
                    .map(|(name, partitions)| {
                        offset_fetch_request::OffsetFetchRequestTopic::default()
                            .with_name(topic(name))
                            .with_partition_indexes(partitions.to_vec())
                    })
                    .collect()
            }))
    };
    run.step(
        "offsets/fetch_named",
        one,
        7,
        &offset_fetch(
            GROUP,
            Some(&[(TOPIC, &[0, 1, 2, 9]), ("wire-unknown", &[0])]),
        ),
    )?;
    run.step("offsets/fetch_all", one, 7, &offset_fetch(GROUP, None))?;
    run.step(
        "offsets/fetch_all_v1",
        one,
        1,
        &offset_fetch(GROUP, Some(&[(TOPIC, &[0])])),
    )?;
    run.step(
        "offsets/fetch_unknown_group",
        one,
        7,
        &offset_fetch("wire-no-group", Some(&[(TOPIC, &[0])])),
    )?;
    let not_coordinator = (1..=3).find(|&b| b != coordinator).unwrap_or(1);
    run.step(
        "offsets/fetch_not_coordinator",
        (not_coordinator, 0),
        7,
        &offset_fetch(GROUP, None),
    )?;
    let describe = DescribeGroupsRequest::default()
        .with_groups(vec![GroupId(s(GROUP)), GroupId(s("wire-no-group"))])
        .with_include_authorized_operations(false);
    run.step_with_member("group/describe_stable", one, 5, &describe)?;

    // A second member joins: a rebalance, during which member one hears of
    // it, then both join and sync generation + 1.
    let second = run.step(
        "group/join_two_without_member_id",
        two,
        7,
        &join("", "consumer", "range"),
    )?;
    let m2 = member_of(&second);
    let pending =
        run.send_with_member("group/join_two", two, 7, &join(&m2, "consumer", "range"))?;
    run.wait_for_rebalance(one, &heartbeat(&m1, generation))?;
    run.step_with_member(
        "group/heartbeat_rebalance_in_progress",
        one,
        4,
        &heartbeat(&m1, generation),
    )?;
    run.step_with_member(
        "offsets/commit_rebalance_in_progress",
        one,
        8,
        &commit(&m1, generation, &[(TOPIC, 0, 5)]),
    )?;
    run.step_with_member(
        "group/sync_rebalance_in_progress",
        one,
        5,
        &sync(&m1, generation, vec![]),
    )?;
    run.step_with_member("group/describe_rebalancing", one, 5, &describe)?;
    let rejoined = run.step_with_member(
        "group/join_one_again",
        one,
        7,
        &join(&m1, "consumer", "range"),
    )?;
    run.receive::<join_group_request::JoinGroupRequest>(pending)?;
    let generation = rejoined.generation_id;
    let pending = run.send_with_member("group/sync_two", two, 5, &sync(&m2, generation, vec![]))?;
    run.step_with_member(
        "group/sync_one_leader",
        one,
        5,
        &sync(
            &m1,
            generation,
            vec![
                (m1.clone(), assignment(&[0, 1])),
                (m2.clone(), assignment(&[2])),
            ],
        ),
    )?;
    run.receive::<sync_group_request::SyncGroupRequest>(pending)?;
    run.step_with_member(
        "offsets/commit_old_generation",
        one,
        8,
        &commit(&m1, generation - 1, &[(TOPIC, 0, 5)]),
    )?;
    run.step_with_member(
        "offsets/commit_second_generation",
        two,
        8,
        &commit(&m2, generation, &[(TOPIC, 2, 1)]),
    )?;
    run.step_with_member("group/describe_two_members", one, 5, &describe)?;

    // Both leave; the group is empty, its offsets stay.
    let leave = |members: &[&str]| {
        leave_group_request::LeaveGroupRequest::default()
            .with_group_id(GroupId(s(GROUP)))
            .with_members(
                members
                    .iter()
                    .map(|m| leave_group_request::MemberIdentity::default().with_member_id(s(m)))
                    .collect(),
            )
    };
    run.step_with_member("group/leave", one, 4, &leave(&[&m1, &m2, "nobody"]))?;
    run.step_with_member("group/describe_empty", one, 5, &describe)?;
    run.step(
        "offsets/commit_empty_group",
        one,
        8,
        &commit("", -1, &[(TOPIC, 1, 2)]),
    )?;
    run.step(
        "offsets/fetch_after_leave",
        one,
        7,
        &offset_fetch(GROUP, None),
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Building requests

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

fn topic(name: &str) -> TopicName {
    TopicName(s(name))
}

fn topic_config(name: &str, value: Option<&str>) -> create_topics_request::CreatableTopicConfig {
    create_topics_request::CreatableTopicConfig::default()
        .with_name(s(name))
        .with_value(value.map(s))
}

fn create_topics(
    topics: Vec<create_topics_request::CreatableTopic>,
    validate_only: bool,
) -> create_topics_request::CreateTopicsRequest {
    create_topics_request::CreateTopicsRequest::default()
        .with_topics(topics)
        .with_timeout_ms(30_000)
        .with_validate_only(validate_only)
}

fn metadata(topics: Option<&[&str]>, auto_create: bool) -> metadata_request::MetadataRequest {
    metadata_request::MetadataRequest::default()
        .with_topics(topics.map(|names| {
            names
                .iter()
                .map(|n| {
                    metadata_request::MetadataRequestTopic::default().with_name(Some(topic(n)))
                })
                .collect()
        }))
        .with_allow_auto_topic_creation(auto_create)
}

fn produce(
    acks: i16,
    partitions: &[(&str, i32, Option<Bytes>)],
) -> produce_request::ProduceRequest {
    let mut topics: Vec<produce_request::TopicProduceData> = Vec::new();
    for (name, p, records) in partitions {
        let data = produce_request::PartitionProduceData::default()
            .with_index(*p)
            .with_records(records.clone());
        match topics.iter_mut().find(|t| t.name.0.as_str() == *name) {
            Some(t) => t.partition_data.push(data),
            None => topics.push(
                produce_request::TopicProduceData::default()
                    .with_name(topic(name))
                    .with_partition_data(vec![data]),
            ),
        }
    }
    produce_request::ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(30_000)
        .with_topic_data(topics)
}

/// A v2 record batch of `count` records (keys `k<i>`, values of
/// `value_size` bytes), timestamps FIRST_TIMESTAMP + i.
fn batch(first: i64, count: i64, value_size: usize) -> Bytes {
    let records: Vec<Record> = (first..first + count)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i - first,
            // The encoder keeps records in one batch while offset minus
            // sequence is constant; the batch's base sequence stays -1.
            sequence: (i - first) as i32 - 1,
            timestamp: FIRST_TIMESTAMP + (i % 3),
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(vec![b'v'; value_size])),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encoding a record batch in memory");
    buf.freeze()
}

/// A ConsumerProtocol v1 subscription, as a Java consumer sends it.
fn subscription(topics: &[&str]) -> Bytes {
    let subscription =
        ConsumerProtocolSubscription::default().with_topics(topics.iter().map(|t| s(t)).collect());
    let mut buf = BytesMut::new();
    buf.put_i16(1);
    subscription
        .encode(&mut buf, 1)
        .expect("encoding a subscription in memory");
    buf.freeze()
}

fn assignment(partitions: &[i32]) -> Bytes {
    let assignment = ConsumerProtocolAssignment::default().with_assigned_partitions(vec![
        kafka_protocol::messages::consumer_protocol_assignment::TopicPartition::default()
            .with_topic(topic(TOPIC))
            .with_partitions(partitions.to_vec()),
    ]);
    let mut buf = BytesMut::new();
    buf.put_i16(1);
    assignment
        .encode(&mut buf, 1)
        .expect("encoding an assignment in memory");
    buf.freeze()
}

// ---------------------------------------------------------------------------
// One session against one cluster

/// A broker id and a connection slot on it.
type To = (i32, u8);

struct Run<'c> {
    cluster: &'c Cluster,
    controller: i32,
    /// Listener port → broker id.
    ports: BTreeMap<i32, i32>,
    /// Text that differs with every cluster (listeners, log dirs, the
    /// ZooKeeper connect string, as server.properties gives them and
    /// DescribeConfigs shows them) → what it stands for.
    substitutions: Vec<(String, String)>,
    connections: BTreeMap<To, Connection>,
    /// Member ids the brokers generated, in order of appearance.
    members: Vec<String>,
    seen: BTreeMap<String, String>,
    /// Step → (whether it carries a generated member id, request bytes).
    requests: BTreeMap<String, (bool, Vec<u8>)>,
}

struct Recorded {
    seen: BTreeMap<String, String>,
    requests: BTreeMap<String, (bool, Vec<u8>)>,
}

impl Recorded {
    /// Adds another session's steps, under `prefix/`.
    fn absorb(&mut self, prefix: &str, other: Recorded) {
        self.seen.extend(
            other
                .seen
                .into_iter()
                .map(|(location, value)| (format!("{prefix}/{location}"), value)),
        );
        self.requests.extend(
            other
                .requests
                .into_iter()
                .map(|(step, request)| (format!("{prefix}/{step}"), request)),
        );
    }
}

struct Connection {
    stream: TcpStream,
    correlation_id: i32,
}

/// A request sent whose answer is read later.
struct Pending {
    step: String,
    to: To,
    version: i16,
    correlation_id: i32,
}

impl<'c> Run<'c> {
    fn new(cluster: &'c Cluster) -> Result<Self> {
        let controller = cluster.controller_id()?;
        let mut ports = BTreeMap::new();
        let mut substitutions = vec![(cluster.zk_connect(), "<zookeeper.connect>".to_owned())];
        for id in cluster.broker_ids() {
            let broker = cluster.broker(id)?;
            ports.insert(i32::from(broker.port()), id);
            substitutions.push((broker.bootstrap(), format!("<address of broker {id}>")));
            substitutions.push((
                broker.log_dir().display().to_string(),
                format!("<log dir of broker {id}>"),
            ));
        }
        Ok(Self {
            cluster,
            controller,
            ports,
            substitutions,
            connections: BTreeMap::new(),
            members: Vec::new(),
            seen: BTreeMap::new(),
            requests: BTreeMap::new(),
        })
    }

    fn finish(self) -> Recorded {
        Recorded {
            seen: self.seen,
            requests: self.requests,
        }
    }

    fn connection(&mut self, to: To) -> Result<&mut Connection> {
        if !self.connections.contains_key(&to) {
            let address = self.cluster.broker(to.0)?.bootstrap();
            let stream = TcpStream::connect(&address)
                .with_context(|| format!("connecting to broker {} at {address}", to.0))?;
            stream.set_read_timeout(Some(IO_TIMEOUT))?;
            stream.set_nodelay(true)?;
            self.connections.insert(
                to,
                Connection {
                    stream,
                    correlation_id: 0,
                },
            );
        }
        self.connections
            .get_mut(&to)
            .context("the connection was just opened")
    }

    /// Writes one request; returns its correlation id and the frame with
    /// the correlation id zeroed (it counts the connection's requests, and
    /// which connection a step uses depends on the elected controller and
    /// coordinator).
    fn write<R: Request>(&mut self, to: To, version: i16, request: &R) -> Result<(i32, Vec<u8>)> {
        let connection = self.connection(to)?;
        connection.correlation_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(connection.correlation_id)
            .with_client_id(Some(s(CLIENT_ID)));
        let mut body = BytesMut::new();
        header.encode(&mut body, R::header_version(version))?;
        request.encode(&mut body, version)?;
        let mut frame = Vec::with_capacity(body.len() + 4);
        frame.extend_from_slice(&(body.len() as i32).to_be_bytes());
        frame.extend_from_slice(&body);
        connection.stream.write_all(&frame)?;
        // Length (4), API key (2), version (2), then the correlation id.
        frame[8..12].fill(0);
        Ok((connection.correlation_id, frame))
    }

    /// Reads and decodes the answer to `correlation_id`; `None` if the
    /// broker closed the connection instead (which is an answer too).
    fn read<R: Request>(
        &mut self,
        to: To,
        version: i16,
        correlation_id: i32,
    ) -> Result<Option<R::Response>> {
        let connection = self.connection(to)?;
        let mut prefix = [0u8; 4];
        match connection.stream.read_exact(&mut prefix) {
            Ok(()) => {}
            Err(e) if is_closed(&e) => {
                self.connections.remove(&to);
                return Ok(None);
            }
            Err(e) => return Err(e).context("reading a response size"),
        }
        let size = usize::try_from(i32::from_be_bytes(prefix)).context("negative frame size")?;
        let mut frame = vec![0; size];
        connection.stream.read_exact(&mut frame)?;
        let mut frame = Bytes::from(frame);
        let header = ResponseHeader::decode(&mut frame, R::Response::header_version(version))?;
        ensure!(
            header.correlation_id == correlation_id,
            "correlation id {} answers {correlation_id}",
            header.correlation_id
        );
        let response = R::Response::decode(&mut frame, version)?;
        ensure!(
            !frame.has_remaining(),
            "{} bytes after the response body",
            frame.remaining()
        );
        Ok(Some(response))
    }

    /// Sends a recorded request and records its answer.
    fn step<R: Request>(
        &mut self,
        step: &str,
        to: To,
        version: i16,
        request: &R,
    ) -> Result<R::Response>
    where
        R::Response: Debug,
    {
        self.exchange(step, to, version, request, false, None)
    }

    /// As [`step`](Self::step), for a request carrying a member id the
    /// broker generated (so not the same bytes on both clusters).
    fn step_with_member<R: Request>(
        &mut self,
        step: &str,
        to: To,
        version: i16,
        request: &R,
    ) -> Result<R::Response>
    where
        R::Response: Debug,
    {
        self.exchange(step, to, version, request, true, None)
    }

    /// As [`step`](Self::step); `label` names a field whose value, a broker
    /// id chosen at random (the coordinator), is normalised to a role.
    fn step_labelled<R: Request>(
        &mut self,
        step: &str,
        to: To,
        version: i16,
        request: &R,
        label: (&str, i32, &str),
    ) -> Result<R::Response>
    where
        R::Response: Debug,
    {
        self.exchange(step, to, version, request, false, Some(label))
    }

    /// What the `step*` methods share: [`send`](Self::send), then
    /// [`answer`](Self::answer).
    fn exchange<R: Request>(
        &mut self,
        step: &str,
        to: To,
        version: i16,
        request: &R,
        uses_member_id: bool,
        label: Option<(&str, i32, &str)>,
    ) -> Result<R::Response>
    where
        R::Response: Debug,
    {
        let pending = self.send(step, to, version, request, uses_member_id)?;
        self.answer::<R>(pending, label)
    }

    /// Sends a recorded request whose answer comes later ([`receive`](Self::receive)).
    fn send_with_member<R: Request>(
        &mut self,
        step: &str,
        to: To,
        version: i16,
        request: &R,
    ) -> Result<Pending> {
        self.send(step, to, version, request, true)
    }

    /// Sends and records a request; its answer is still to be read.
    fn send<R: Request>(
        &mut self,
        step: &str,
        to: To,
        version: i16,
        request: &R,
        uses_member_id: bool,
    ) -> Result<Pending> {
        let (correlation_id, frame) = self
            .write(to, version, request)
            .with_context(|| format!("step {step}"))?;
        self.requests
            .insert(step.to_owned(), (uses_member_id, frame));
        Ok(Pending {
            step: step.to_owned(),
            to,
            version,
            correlation_id,
        })
    }

    /// Reads and records the answer to a request sent with
    /// [`send_with_member`](Self::send_with_member).
    fn receive<R: Request>(&mut self, pending: Pending) -> Result<R::Response>
    where
        R::Response: Debug,
    {
        self.answer::<R>(pending, None)
    }

    /// Reads, records (with `label`, as [`step_labelled`](Self::step_labelled))
    /// and returns the answer to `pending`; an error if the broker closed
    /// the connection instead.
    fn answer<R: Request>(
        &mut self,
        pending: Pending,
        label: Option<(&str, i32, &str)>,
    ) -> Result<R::Response>
    where
        R::Response: Debug,
    {
        let step = &pending.step;
        let response = self
            .read::<R>(pending.to, pending.version, pending.correlation_id)
            .with_context(|| format!("step {step}"))?;
        self.record(step, &response, label);
        response.with_context(|| format!("step {step}: the broker closed the connection"))
    }

    /// An unrecorded request on the broker's polling connection.
    fn poll<R: Request>(&mut self, broker: i32, version: i16, request: &R) -> Result<R::Response> {
        let (correlation_id, _) = self.write((broker, POLL), version, request)?;
        self.read::<R>((broker, POLL), version, correlation_id)?
            .context("the broker closed the polling connection")
    }

    fn api_versions(
        &mut self,
        step: &str,
        broker: i32,
        version: i16,
        request: &ApiVersionsRequest,
    ) -> Result<()> {
        let (correlation_id, frame) = self.write((broker, 0), version, request)?;
        self.requests.insert(step.to_owned(), (false, frame));
        let mut response = self
            .read::<ApiVersionsRequest>((broker, 0), version, correlation_id)?
            .context("the broker closed the connection")?;
        // One location per API, its version range, so that an API one side
        // lacks is one difference.
        for api in std::mem::take(&mut response.api_keys) {
            let name = ApiKey::try_from(api.api_key)
                .map(|k| format!("{k:?}"))
                .unwrap_or_else(|_| format!("key {}", api.api_key));
            self.seen.insert(
                format!("{step}/api/{name}"),
                format!("{}..={}", api.min_version, api.max_version),
            );
        }
        self.record(step, &Some(response), None);
        Ok(())
    }

    /// Flattens `response` into the step's locations, normalised.
    fn record(
        &mut self,
        step: &str,
        response: &Option<impl Debug>,
        label: Option<(&str, i32, &str)>,
    ) {
        let Some(response) = response else {
            self.seen.insert(
                format!("{step}/"),
                "the broker closed the connection".into(),
            );
            return;
        };
        let tree = parse_debug(&format!("{response:#?}"));
        let mut flat = Vec::new();
        flatten(&tree, step, &mut flat);
        for (path, value) in flat {
            let path = self.normalise_members(&path);
            let value = self.normalise(&path, &value, label);
            self.seen.insert(path, value);
        }
    }

    fn normalise(&mut self, path: &str, value: &str, label: Option<(&str, i32, &str)>) -> String {
        let field = path.rsplit('/').next().unwrap_or(path);
        let field = field.split('[').next().unwrap_or(field);
        let id = value.parse::<i32>().ok();
        if let Some((name, broker, role)) = label {
            if field == name && id == Some(broker) {
                return format!("<{role}>");
            }
            if field == "port" && id.and_then(|p| self.ports.get(&p)) == Some(&broker) {
                return format!("<port of {role}>");
            }
        }
        match field {
            "cluster_id" if value != "None" => "<cluster id>".into(),
            "topic_id" if value != "00000000-0000-0000-0000-000000000000" => "<topic id>".into(),
            "port" => match id.and_then(|p| self.ports.get(&p)) {
                Some(broker) => format!("<port of broker {broker}>"),
                None => value.into(),
            },
            "session_id" if value != "0" && path.starts_with("fetch/") => "<fetch session>".into(),
            "controller_id" if id == Some(self.controller) => "<controller>".into(),
            _ => {
                let mut value = self.normalise_members(value);
                for (from, to) in &self.substitutions {
                    value = value.replace(from.as_str(), to);
                }
                value
            }
        }
    }

    /// Replaces each member id a broker generated (`<client id>-<UUID>`,
    /// Kafka's format) by its order of appearance.
    fn normalise_members(&mut self, text: &str) -> String {
        let prefix = format!("{CLIENT_ID}-");
        let mut out = String::new();
        let mut rest = text;
        while let Some(at) = rest.find(&prefix) {
            let candidate = &rest[at..];
            let uuid = candidate.get(prefix.len()..prefix.len() + 36);
            match uuid.filter(|u| is_uuid(u)) {
                Some(_) => {
                    let member = &candidate[..prefix.len() + 36];
                    let index = match self.members.iter().position(|m| m == member) {
                        Some(i) => i,
                        None => {
                            self.members.push(member.to_owned());
                            self.members.len() - 1
                        }
                    };
                    out.push_str(&rest[..at]);
                    out.push_str(&format!("<member {} ({CLIENT_ID}-UUID)>", index + 1));
                    rest = &candidate[prefix.len() + 36..];
                }
                None => {
                    out.push_str(&rest[..at + prefix.len()]);
                    rest = &candidate[prefix.len()..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    /// The leader of a partition, as broker 1's Metadata says once the
    /// brokers agree.
    fn leader(&mut self, name: &str, partition: i32) -> Result<i32> {
        let response = self.poll_metadata(1, name)?;
        let leader = response
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter())
            .find(|p| p.partition_index == partition)
            .map(|p| p.leader_id.0)
            .with_context(|| format!("no partition {name}-{partition}"))?;
        Ok(leader)
    }

    /// An unrecorded Metadata v9 for the topic `name` from `broker`.
    fn poll_metadata(&mut self, broker: i32, name: &str) -> Result<MetadataResponse> {
        self.poll(broker, 9, &metadata(Some(&[name]), false))
    }

    /// Waits until every broker's Metadata shows the topic's partitions and
    /// they satisfy `settled`.
    fn wait_for_topic(
        &mut self,
        name: &str,
        settled: impl Fn(
            &[kafka_protocol::messages::metadata_response::MetadataResponsePartition],
        ) -> bool,
    ) -> Result<()> {
        let brokers = self.cluster.broker_ids();
        wait_until(
            &format!("every broker to know {name}"),
            SETTLE_TIMEOUT,
            || {
                for &broker in &brokers {
                    let response = self.poll_metadata(broker, name)?;
                    let Some(t) = response.topics.into_iter().next() else {
                        return Ok(None);
                    };
                    if t.partitions.is_empty() || !settled(&t.partitions) {
                        return Ok(None);
                    }
                }
                Ok(Some(()))
            },
        )
    }

    /// Waits until every broker's Metadata gives each of the topic's
    /// `partitions` a leader and a full ISR.
    fn wait_for_leaders(&mut self, name: &str, partitions: usize) -> Result<()> {
        let brokers = self.cluster.broker_ids();
        wait_until(
            &format!("every broker to know leaders of {name}"),
            SETTLE_TIMEOUT,
            || {
                let mut answers = Vec::new();
                for &broker in &brokers {
                    let response = self.poll_metadata(broker, name)?;
                    let Some(t) = response.topics.into_iter().next() else {
                        return Ok(None);
                    };
                    let mut settled = t.error_code == 0 && t.partitions.len() == partitions;
                    for p in &t.partitions {
                        let mut isr = p.isr_nodes.clone();
                        let mut replicas = p.replica_nodes.clone();
                        isr.sort();
                        replicas.sort();
                        settled &= p.error_code == 0 && p.leader_id.0 >= 0 && isr == replicas;
                    }
                    if !settled {
                        return Ok(None);
                    }
                    let mut partitions = t.partitions;
                    partitions.sort_by_key(|p| p.partition_index);
                    answers.push(partitions);
                }
                Ok(answers.windows(2).all(|w| w[0] == w[1]).then_some(()))
            },
        )
    }

    /// Waits until `follower`'s high watermark of the partition has caught
    /// up with the leader's, so what it serves a consumer is settled.
    fn wait_for_follower(&mut self, follower: i32, name: &str, partition: i32) -> Result<()> {
        let leader = self.leader(name, partition)?;
        let request = fetch_request::FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_bytes(1)
            .with_session_epoch(-1)
            .with_topics(vec![fetch_request::FetchTopic::default()
                .with_topic(topic(name))
                .with_partitions(vec![fetch_request::FetchPartition::default()
                    .with_partition(partition)
                    .with_fetch_offset(0)
                    .with_partition_max_bytes(1)])]);
        let high_watermark = |run: &mut Self, broker: i32| -> Result<i64> {
            let response = run.poll(broker, 12, &request)?;
            response
                .responses
                .first()
                .and_then(|t| t.partitions.first())
                .map(|p| p.high_watermark)
                .context("an empty fetch response")
        };
        let target = high_watermark(self, leader)?;
        wait_until(
            &format!("broker {follower}'s high watermark of {name}-{partition} to reach {target}"),
            SETTLE_TIMEOUT,
            || Ok((high_watermark(self, follower)? == target).then_some(())),
        )
    }

    /// Waits until no broker knows the topic any more.
    fn wait_for_deletion(&mut self, name: &str) -> Result<()> {
        let brokers = self.cluster.broker_ids();
        wait_until(
            &format!("every broker to forget {name}"),
            SETTLE_TIMEOUT,
            || {
                for &broker in &brokers {
                    let response = self.poll_metadata(broker, name)?;
                    if response.topics.iter().any(|t| t.error_code != 3) {
                        return Ok(None);
                    }
                }
                let pending = self.cluster.zk_ls("/admin/delete_topics")?;
                Ok(pending
                    .is_none_or(|topics| !topics.iter().any(|t| t == name))
                    .then_some(()))
            },
        )
    }

    /// Waits until the group has a coordinator that has loaded its
    /// partition of `__consumer_offsets` and every broker agrees; returns
    /// its id.
    fn wait_for_coordinator(&mut self, group: &str) -> Result<i32> {
        let brokers = self.cluster.broker_ids();
        let find = FindCoordinatorRequest::default().with_key(s(group));
        let coordinator = wait_until("a coordinator", SETTLE_TIMEOUT, || {
            let mut ids = Vec::new();
            for &broker in &brokers {
                let response = self.poll(broker, 3, &find)?;
                if response.error_code != 0 {
                    return Ok(None);
                }
                ids.push(response.node_id.0);
            }
            Ok(ids.windows(2).all(|w| w[0] == w[1]).then(|| ids[0]))
        })?;
        self.wait_for_leaders("__consumer_offsets", 1)?;
        let fetch = offset_fetch_request::OffsetFetchRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_topics(None);
        wait_until("the coordinator to load the group", SETTLE_TIMEOUT, || {
            let response = self.poll(coordinator, 7, &fetch)?;
            Ok((response.error_code == 0).then_some(()))
        })?;
        Ok(coordinator)
    }

    /// Waits until the coordinator answers member one's heartbeat with
    /// REBALANCE_IN_PROGRESS (the second member's join has arrived).
    fn wait_for_rebalance(&mut self, to: To, heartbeat: &HeartbeatRequest) -> Result<()> {
        wait_until("the rebalance to start", SETTLE_TIMEOUT, || {
            let response = self.poll(to.0, 4, heartbeat)?;
            Ok((response.error_code == 27).then_some(()))
        })
    }
}

/// Whether a read failed because the peer closed the connection.
fn is_closed(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionReset, UnexpectedEof};
    matches!(error.kind(), UnexpectedEof | ConnectionReset | BrokenPipe)
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

// ---------------------------------------------------------------------------
// Flattening a decoded response

/// A response as its pretty `Debug` output shows it: values, and structs,
/// lists and maps of them.
#[derive(Debug)]
enum Node {
    Leaf(String),
    Branch(Vec<(Option<String>, Node)>),
}

/// A branch being parsed: its key in its parent, its children so far, and
/// whether it is a tuple.
type Open = (Option<String>, Vec<(Option<String>, Node)>, bool);

/// Parses `{:#?}` output (one field or element per line, strings escaped,
/// so never spanning lines). A one-element tuple (`Some(x)`, a newtype)
/// becomes its element.
fn parse_debug(text: &str) -> Node {
    let mut stack: Vec<Open> = vec![(None, Vec::new(), false)];
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_suffix(',').unwrap_or(line);
        if matches!(line, "}" | "]" | ")") {
            let Some((key, children, tuple)) = stack.pop() else {
                break;
            };
            let node = if tuple && children.len() == 1 {
                children
                    .into_iter()
                    .next()
                    .map(|(_, n)| n)
                    .unwrap_or(Node::Leaf(String::new()))
            } else {
                Node::Branch(children)
            };
            if let Some(parent) = stack.last_mut() {
                parent.1.push((key, node));
            }
            continue;
        }
        let (key, rest) = split_key(line);
        match rest.chars().last() {
            Some(open @ ('{' | '[' | '(')) => stack.push((key, Vec::new(), open == '(')),
            _ => {
                if let Some(parent) = stack.last_mut() {
                    parent.1.push((key, Node::Leaf(rest.to_owned())));
                }
            }
        }
    }
    let mut root = stack.pop().map(|(_, c, _)| c).unwrap_or_default();
    match root.len() {
        1 => root
            .pop()
            .map(|(_, n)| n)
            .unwrap_or(Node::Leaf(String::new())),
        _ => Node::Branch(root),
    }
}

/// `field: rest` → (`Some(field)`, `rest`), where a field is a Rust
/// identifier or a map's integer key.
fn split_key(line: &str) -> (Option<String>, &str) {
    if let Some((key, rest)) = line.split_once(": ") {
        if !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return (Some(key.to_owned()), rest);
        }
    }
    (None, line)
}

/// The fields that identify a list element, most specific first.
const IDENTITIES: [&str; 11] = [
    "name",
    "topic",
    "partition_index",
    "partition",
    "index",
    "resource_name",
    "group_id",
    "member_id",
    "node_id",
    "key",
    "batch_index",
];

fn flatten(node: &Node, path: &str, out: &mut Vec<(String, String)>) {
    match node {
        Node::Leaf(value) => out.push((path.to_owned(), value.clone())),
        Node::Branch(children) => {
            let mut used: Vec<String> = Vec::new();
            for (i, (key, child)) in children.iter().enumerate() {
                let mut segment = match key {
                    Some(key) => key.clone(),
                    None => identity(child).unwrap_or_else(|| format!("[{i}]")),
                };
                if used.contains(&segment) {
                    segment = format!("{segment}#{i}");
                }
                used.push(segment.clone());
                flatten(child, &format!("{path}/{segment}"), out);
            }
        }
    }
}

/// `[field=value]` for a list element with one of the [`IDENTITIES`].
fn identity(node: &Node) -> Option<String> {
    let Node::Branch(children) = node else {
        return None;
    };
    IDENTITIES.iter().find_map(|&field| {
        children.iter().find_map(|(key, child)| match (key, child) {
            (Some(key), Node::Leaf(value)) if key == field => Some(format!("[{field}={value}]")),
            _ => None,
        })
    })
}

#[test]
fn debug_output_flattens_to_keyed_locations() {
    let response = kafka_protocol::messages::MetadataResponse::default()
        .with_cluster_id(Some(s("abc")))
        .with_topics(vec![
            kafka_protocol::messages::metadata_response::MetadataResponseTopic::default()
                .with_name(Some(topic("t, \"x\": y")))
                .with_partitions(vec![
                    kafka_protocol::messages::metadata_response::MetadataResponsePartition::default()
                        .with_partition_index(2)
                        .with_replica_nodes(vec![BrokerId(1), BrokerId(3)]),
                ]),
        ]);
    let mut flat = Vec::new();
    flatten(&parse_debug(&format!("{response:#?}")), "m", &mut flat);
    let flat: BTreeMap<String, String> = flat.into_iter().collect();
    assert_eq!(flat["m/cluster_id"], "\"abc\"");
    let partition = "m/topics/[name=\"t, \\\"x\\\": y\"]/partitions/[partition_index=2]";
    assert_eq!(flat[&format!("{partition}/replica_nodes/[1]")], "3");
    assert_eq!(flat[&format!("{partition}/leader_epoch")], "-1");
    assert_eq!(flat["m/unknown_tagged_fields"], "{}");
}
