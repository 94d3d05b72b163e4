//! Consumer groups against a real gregor broker (issue 6): real clients
//! share a topic's partitions through the group coordinator, commit their
//! positions to `__consumer_offsets` and resume from them (the scenarios
//! are in `integration_tests::group_matrix`, shared with other client
//! test files), and the coordinator's own behaviour.

use std::fmt::Write as _;
use std::fs;

use anyhow::{anyhow, bail, ensure, Context, Result};
use gregor_broker::coordinator::schema::{self, RecordKey};
use gregor_broker::coordinator::{partition_for, GROUP_METADATA_TOPIC_NAME};
use gregor_protocol::api::find_coordinator::FindCoordinatorRequest;
use gregor_record::{Batches, Records};
use integration_tests::client_matrix::{CONFLUENT_KAFKA, KAFKAJS, KAFKA_PYTHON};
use integration_tests::cluster::{CHANGE_TIMEOUT, SESSION_TIMEOUT};
use integration_tests::group_matrix::{
    check_exactly_once, committed, create_topic, group_broker, group_consume, offsets_at, produce,
    restart_resumes_at_committed_offsets, three_members_share_and_take_over, Departure,
    OFFSETS_PARTITIONS, TIMEOUT,
};
use integration_tests::wire::WireClient;
use integration_tests::{
    kcat, kcat_produce_file, unique_topic, wait_until, zk_cli, Cluster, SingleBroker,
};

/// The offset commits (topic, partition, offset) of `group` in its
/// `__consumer_offsets` partition, read back with Fetch and decoded with
/// Kafka's key and value schemas.
fn offset_records(cluster: &SingleBroker, group: &str) -> Result<Vec<(String, i32, i64)>> {
    let partition = partition_for(group, OFFSETS_PARTITIONS);
    let mut client = WireClient::connect(&cluster.bootstrap())?;
    let data = client.fetch(GROUP_METADATA_TOPIC_NAME, partition, 0)?;
    let records = data.records.unwrap_or_default();
    let mut commits = Vec::new();
    for batch in Batches::new(&records) {
        let (_, bytes) = batch?;
        for record in Records::new(&records.slice_ref(bytes))? {
            let record = record?;
            let (Some(key), Some(value)) = (&record.key, &record.value) else {
                continue;
            };
            if let RecordKey::Offset(key) = schema::decode_key(key)? {
                ensure!(
                    key.group == group,
                    "group {} in {group}'s partition",
                    key.group
                );
                let value = schema::decode_offset_value(value)?;
                commits.push((key.topic, key.partition, value.offset));
            }
        }
    }
    Ok(commits)
}

#[test]
fn find_coordinator_creates_the_offsets_topic_and_answers_batches() -> Result<()> {
    let cluster = group_broker()?;
    let mut client = WireClient::connect(&cluster.bootstrap())?;
    // The first request creates the topic; it answers once it has leaders.
    let batched = FindCoordinatorRequest {
        coordinator_keys: vec!["g1".into(), "g2".into()],
        ..Default::default()
    };
    let response = wait_until("coordinators for g1 and g2", TIMEOUT, || {
        let response = client.request(4, &batched)?;
        Ok(response
            .coordinators
            .iter()
            .all(|c| c.error_code == 0)
            .then_some(response))
    })?;
    let keys: Vec<&str> = response
        .coordinators
        .iter()
        .map(|c| c.key.as_str())
        .collect();
    ensure!(keys == ["g1", "g2"], "answered keys {keys:?}");
    for c in &response.coordinators {
        ensure!(
            (c.node_id, c.host.as_str(), c.port)
                == (1, "127.0.0.1", i32::from(cluster.broker.port())),
            "coordinator {c:?}"
        );
    }
    let single = FindCoordinatorRequest {
        key: "g1".into(),
        ..Default::default()
    };
    let v0 = client.request(0, &single)?;
    ensure!((v0.error_code, v0.node_id) == (0, 1), "v0: {v0:?}");
    // Transactions are not implemented: refused as for InitProducerId.
    let transactional = FindCoordinatorRequest {
        key: "txn".into(),
        key_type: 1,
        ..Default::default()
    };
    let refused = client.request(3, &transactional)?;
    ensure!(refused.error_code == 53, "transactional id: {refused:?}");

    let topic = client.topic_metadata(GROUP_METADATA_TOPIC_NAME, false)?;
    ensure!(topic.is_internal, "{GROUP_METADATA_TOPIC_NAME} is internal");
    ensure!(
        topic.partitions.len() == OFFSETS_PARTITIONS as usize,
        "{} partitions",
        topic.partitions.len()
    );
    let config = zk_cli(
        &cluster.zookeeper.connect_string(),
        &["get", "/gregor/config/topics/__consumer_offsets"],
    )?;
    for entry in [
        "\"cleanup.policy\":\"compact\"",
        "\"segment.bytes\":\"104857600\"",
    ] {
        ensure!(config.contains(entry), "{entry} not in {config}");
    }
    Ok(())
}

/// Writes `count` lines `k<i>:v<i>` for kcat's `-l -K:`.
fn keyed_lines(dir: &std::path::Path, count: usize) -> Result<std::path::PathBuf> {
    let mut text = String::new();
    for i in 0..count {
        writeln!(text, "k{i}:v{i}")?;
    }
    let path = dir.join("records");
    fs::write(&path, text)?;
    Ok(path)
}

#[test]
fn kcat_consumes_in_a_group_and_resumes_at_its_commit() -> Result<()> {
    let cluster = group_broker()?;
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic("kcat-group");
    let dir = tempfile::tempdir()?;
    let lines = keyed_lines(dir.path(), 20)?;
    kcat_produce_file(&bootstrap, &topic, 0, &lines, &["-K:"], TIMEOUT)?.success()?;

    // -G: a balanced consumer in group g; -e: exit when every assigned
    // partition reached its end (committing its position on close).
    let consume = || {
        kcat(
            [
                "-b",
                &bootstrap,
                "-G",
                "kcat-group",
                &topic,
                "-e",
                "-f",
                "%p %o %k %s\n",
                "-X",
                "auto.offset.reset=earliest",
            ],
            TIMEOUT,
        )?
        .success()
    };
    let first = consume()?;
    let read: Vec<&str> = first.lines().collect();
    ensure!(
        read.len() == 20,
        "first run read {} records:\n{first}",
        read.len()
    );
    for (i, line) in read.iter().enumerate() {
        ensure!(*line == format!("0 {i} k{i} v{i}"), "record {i}: {line}");
    }
    ensure!(
        committed(&cluster, "kcat-group", &topic, 1)?[&0] == 20,
        "offset 20 committed"
    );

    // The commit is a record of __consumer_offsets in Kafka's schema, in
    // the partition Kafka would place the group in.
    let stored = offset_records(&cluster, "kcat-group")?;
    ensure!(
        stored
            .iter()
            .any(|(t, p, o)| *t == topic && *p == 0 && *o == 20),
        "no commit of offset 20 among {stored:?}"
    );

    // Restarted, the group continues after what it committed.
    let lines = dir.path().join("more");
    fs::write(&lines, "k20:v20\nk21:v21\n")?;
    kcat_produce_file(&bootstrap, &topic, 0, &lines, &["-K:"], TIMEOUT)?.success()?;
    let second = consume()?;
    ensure!(
        second == "0 20 k20 v20\n0 21 k21 v21\n",
        "second run read:\n{second}"
    );
    Ok(())
}

/// Deleting a topic removes every group's committed offsets for it (Kafka's
/// `handleDeletedPartitions`): a topic created again under the same name
/// starts with none.
#[test]
fn deleting_a_topic_removes_its_committed_offsets() -> Result<()> {
    let cluster = group_broker()?;
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic("deleted");
    create_topic(&bootstrap, &topic, 2)?;
    let mut client = WireClient::connect(&bootstrap)?;
    client.wait_for_coordinator("g", TIMEOUT)?;
    client.commit_offsets("g", &topic, &[(0, 5), (1, 7)])?;
    let kept = unique_topic("kept");
    create_topic(&bootstrap, &kept, 1)?;
    client.commit_offsets("g", &kept, &[(0, 3)])?;
    ensure!(committed(&cluster, "g", &topic, 2)?.values().eq([&5, &7]));

    CONFLUENT_KAFKA.run_ok(&bootstrap, &topic, "delete-topic", &[])?;
    wait_until("the offsets of the deleted topic to go", TIMEOUT, || {
        let offsets = committed(&cluster, "g", &topic, 2)?;
        Ok(offsets.values().all(|o| *o == -1).then_some(()))
    })?;
    ensure!(
        committed(&cluster, "g", &kept, 1)?[&0] == 3,
        "the other topic's offset survives"
    );
    Ok(())
}

#[test]
fn confluent_kafka_three_members_share_six_partitions_and_take_over() -> Result<()> {
    three_members_share_and_take_over(CONFLUENT_KAFKA, Departure::Leaves)
}

#[test]
fn confluent_kafka_members_take_over_from_a_crashed_one() -> Result<()> {
    three_members_share_and_take_over(CONFLUENT_KAFKA, Departure::Crashes)
}

#[test]
fn confluent_kafka_restarted_group_resumes_at_committed_offsets() -> Result<()> {
    restart_resumes_at_committed_offsets(CONFLUENT_KAFKA)
}

#[test]
fn kafka_python_members_take_over_from_a_crashed_one() -> Result<()> {
    three_members_share_and_take_over(KAFKA_PYTHON, Departure::Crashes)
}

#[test]
fn kafka_python_restarted_group_resumes_at_committed_offsets() -> Result<()> {
    restart_resumes_at_committed_offsets(KAFKA_PYTHON)
}

#[test]
fn kafkajs_three_members_share_six_partitions_and_take_over() -> Result<()> {
    three_members_share_and_take_over(KAFKAJS, Departure::Leaves)
}

#[test]
fn kafkajs_restarted_group_resumes_at_committed_offsets() -> Result<()> {
    restart_resumes_at_committed_offsets(KAFKAJS)
}

/// The broker id FindCoordinator (v3, asked of `address`) names for
/// `group`, once it names one.
fn coordinator_of(address: &str, group: &str) -> Result<Option<i32>> {
    let mut client = WireClient::connect(address)?;
    let request = FindCoordinatorRequest {
        key: group.to_owned(),
        ..Default::default()
    };
    let response = client.request(3, &request)?;
    Ok((response.error_code == 0).then_some(response.node_id))
}

/// With `__consumer_offsets` replicated on three brokers, killing the
/// group's coordinator moves the group to the new leader of its partition,
/// where the committed offsets are intact, and the group resumes from them.
#[test]
fn committed_offsets_survive_the_coordinators_death() -> Result<()> {
    const PARTITIONS: i32 = 2;
    const PER_PARTITION: i64 = 20;
    let mut cluster = Cluster::start_with(3, |c| {
        c.property("offsets.topic.replication.factor", 3)
            .property("offsets.topic.num.partitions", 3)
            .property("group.initial.rebalance.delay.ms", 0)
    })?;
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic("failover");
    let group = format!("{topic}-group");
    CONFLUENT_KAFKA.run_ok(
        &bootstrap,
        &topic,
        "create-topic",
        &[
            "--partitions".into(),
            PARTITIONS.to_string(),
            "--replication-factor".into(),
            "3".into(),
        ],
    )?;
    produce(&bootstrap, &topic, PARTITIONS, PER_PARTITION)?;
    let first = group_consume(
        CONFLUENT_KAFKA,
        &bootstrap,
        &topic,
        &group,
        &["--exit-after", "15"],
    )?;

    let any = cluster.broker(1)?.bootstrap();
    let coordinator = coordinator_of(&any, &group)?.context("no coordinator after consuming")?;
    let address = cluster.broker(coordinator)?.bootstrap();
    let before = offsets_at(&address, &group, &topic, PARTITIONS)?
        .map_err(|code| anyhow!("OffsetFetch error {code}"))?;
    let positions: i64 = before.values().map(|o| (*o).max(0)).sum();
    ensure!(positions == 15, "committed {before:?} after 15 records");

    eprintln!("kill -9 broker {coordinator}, coordinator of {group}");
    cluster.broker_mut(coordinator)?.kill9()?;
    let survivors: Vec<String> = cluster
        .broker_ids()
        .into_iter()
        .filter(|id| *id != coordinator)
        .map(|id| cluster.broker(id).map(|b| b.bootstrap()))
        .collect::<Result<_>>()?;
    let (successor, after) = wait_until(
        &format!("a new coordinator of {group} answering OffsetFetch"),
        SESSION_TIMEOUT + CHANGE_TIMEOUT,
        || {
            let Some(successor) = coordinator_of(&survivors[0], &group)? else {
                return Ok(None);
            };
            if successor == coordinator {
                return Ok(None);
            }
            let address = cluster.broker(successor)?.bootstrap();
            // Loading: COORDINATOR_LOAD_IN_PROGRESS (14); not yet told it
            // leads: NOT_COORDINATOR (16).
            match offsets_at(&address, &group, &topic, PARTITIONS)? {
                Ok(offsets) => Ok(Some((successor, offsets))),
                Err(14 | 16) => Ok(None),
                Err(code) => bail!("OffsetFetch error {code} from broker {successor}"),
            }
        },
    )?;
    ensure!(
        after == before,
        "broker {successor} has offsets {after:?}, broker {coordinator} had {before:?}"
    );

    let second = group_consume(
        CONFLUENT_KAFKA,
        &survivors.join(","),
        &topic,
        &group,
        &["--idle-ms", "3000"],
    )?;
    check_exactly_once(&[&first, &second], PARTITIONS, PER_PARTITION)
}
