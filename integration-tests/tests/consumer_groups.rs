//! Consumer groups against a real gregor broker (issue 6): real clients
//! share a topic's partitions through the group coordinator, commit their
//! positions to `__consumer_offsets` and resume from them. The group's
//! state is checked with DescribeGroups and its offsets with OffsetFetch,
//! as `kafka-consumer-groups.sh --describe` would.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use gregor::coordinator::schema::{self, RecordKey};
use gregor::coordinator::{partition_for, GROUP_METADATA_TOPIC_NAME};
use gregor::protocol::api::describe_groups::DescribeGroupsRequest;
use gregor::protocol::api::find_coordinator::FindCoordinatorRequest;
use gregor::protocol::api::offset_fetch::{OffsetFetchRequest, OffsetFetchRequestTopic};
use gregor::record::{Batches, Records};
use integration_tests::client_matrix::{ScriptClient, CONFLUENT_KAFKA, KAFKAJS, KAFKA_PYTHON};
use integration_tests::cluster::{CHANGE_TIMEOUT, SESSION_TIMEOUT};
use integration_tests::wire::WireClient;
use integration_tests::{
    gregor_broker_with_zk_configured, json_lines, kcat, kcat_produce_file, unique_topic,
    wait_until, zk_cli, Cluster, SingleBroker,
};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(120);

/// `offsets.topic.num.partitions` of the test broker.
const OFFSETS_PARTITIONS: u32 = 5;

/// One broker whose `__consumer_offsets` suits a single-node test: one
/// replica, a few partitions, and new groups rebalancing at once.
fn broker() -> Result<SingleBroker> {
    gregor_broker_with_zk_configured(|c| {
        c.property("offsets.topic.replication.factor", 1)
            .property("offsets.topic.num.partitions", OFFSETS_PARTITIONS)
            .property("group.initial.rebalance.delay.ms", 0)
    })
}

/// The committed offsets of `group` for `partitions` of `topic`, asked of
/// the broker at `coordinator` with OffsetFetch v7; `Err` with the error
/// code it answered.
fn offsets_at(
    coordinator: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> Result<std::result::Result<BTreeMap<i32, i64>, i16>> {
    let mut client = WireClient::connect(coordinator)?;
    let request = OffsetFetchRequest {
        group_id: group.to_owned(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: topic.to_owned(),
            partition_indexes: (0..partitions).collect(),
        }]),
        require_stable: false,
    };
    let response = client.request(7, &request)?;
    if response.error_code != 0 {
        return Ok(Err(response.error_code));
    }
    Ok(Ok(response
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter())
        .map(|p| (p.partition_index, p.committed_offset))
        .collect()))
}

/// [`offsets_at`] the single broker, which coordinates every group.
fn committed(
    cluster: &SingleBroker,
    group: &str,
    topic: &str,
    partitions: i32,
) -> Result<BTreeMap<i32, i64>> {
    offsets_at(&cluster.bootstrap(), group, topic, partitions)?
        .map_err(|code| anyhow!("OffsetFetch error {code}"))
}

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
    let cluster = broker()?;
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
    let cluster = broker()?;
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
    let cluster = broker()?;
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

/// A record as a group member reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupRecord {
    partition: i32,
    offset: i64,
    value: String,
    /// Whether its offset commit succeeded (only then may nobody else
    /// read it again).
    committed: bool,
}

/// What one `group-consume` run printed.
#[derive(Debug, Default)]
struct GroupRun {
    /// Every assignment it received, in order.
    assignments: Vec<Vec<i32>>,
    records: Vec<GroupRecord>,
}

/// Runs `client`'s `group-consume` in `group` with `options`.
fn group_consume(
    client: ScriptClient,
    bootstrap: &str,
    topic: &str,
    group: &str,
    options: &[&str],
) -> Result<GroupRun> {
    let mut args = vec!["--group".to_owned(), group.to_owned()];
    args.extend(options.iter().map(|o| (*o).to_owned()));
    let stdout = client
        .run(bootstrap, topic, "group-consume", &args)?
        .success()
        .with_context(|| format!("{client:?} group-consume {args:?}"))?;
    let mut run = GroupRun::default();
    for line in json_lines(&stdout)? {
        if let Some(assigned) = line.get("assigned").and_then(Value::as_array) {
            let partitions = assigned
                .iter()
                .map(|p| p.as_i64().and_then(|p| i32::try_from(p).ok()))
                .collect::<Option<Vec<i32>>>()
                .with_context(|| format!("assignment {line}"))?;
            run.assignments.push(partitions);
        } else if line.get("offset").is_some() {
            let field = |name: &str| line.get(name).and_then(Value::as_i64);
            run.records.push(GroupRecord {
                partition: field("partition")
                    .and_then(|p| i32::try_from(p).ok())
                    .with_context(|| format!("record {line}"))?,
                offset: field("offset").with_context(|| format!("record {line}"))?,
                value: line["value"].as_str().unwrap_or_default().to_owned(),
                committed: line["committed"].as_bool().unwrap_or(false),
            });
        }
    }
    Ok(run)
}

/// Produces `per_partition` records to each of `partitions` partitions
/// (record `i` of partition `p` has value `value-<p * per_partition + i>`).
fn produce(bootstrap: &str, topic: &str, partitions: i32, per_partition: i64) -> Result<()> {
    for p in 0..partitions {
        let start = i64::from(p) * per_partition;
        CONFLUENT_KAFKA.run_ok(
            bootstrap,
            topic,
            "produce",
            &[
                "--partition".into(),
                p.to_string(),
                "--start".into(),
                start.to_string(),
                "--count".into(),
                per_partition.to_string(),
            ],
        )?;
    }
    Ok(())
}

fn create_topic(bootstrap: &str, topic: &str, partitions: i32) -> Result<()> {
    CONFLUENT_KAFKA.run_ok(
        bootstrap,
        topic,
        "create-topic",
        &["--partitions".into(), partitions.to_string()],
    )?;
    Ok(())
}

/// The partitions of `topic` in a consumer's assignment
/// (`ConsumerProtocolAssignment`: int16 version, then topics with their
/// int32 partitions; user data after is not needed).
fn assigned_partitions(assignment: &[u8], topic: &str) -> Result<Vec<i32>> {
    fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
        let head = input
            .get(..n)
            .ok_or_else(|| anyhow!("assignment truncated"))?;
        *input = &input[n..];
        Ok(head)
    }
    let int16 =
        |input: &mut &[u8]| -> Result<i16> { Ok(i16::from_be_bytes(take(input, 2)?.try_into()?)) };
    let int32 =
        |input: &mut &[u8]| -> Result<i32> { Ok(i32::from_be_bytes(take(input, 4)?.try_into()?)) };
    let mut input = assignment;
    if input.is_empty() {
        return Ok(Vec::new());
    }
    int16(&mut input)?;
    let mut partitions = Vec::new();
    for _ in 0..int32(&mut input)? {
        let len = usize::try_from(int16(&mut input)?)?;
        let name = std::str::from_utf8(take(&mut input, len)?)?.to_owned();
        for _ in 0..int32(&mut input)? {
            let partition = int32(&mut input)?;
            if name == topic {
                partitions.push(partition);
            }
        }
    }
    partitions.sort_unstable();
    Ok(partitions)
}

/// Waits until DescribeGroups shows `group` Stable with `members` members,
/// each assigned `each` partitions of `topic`, together all of them.
fn wait_for_stable_group(
    cluster: &SingleBroker,
    group: &str,
    topic: &str,
    members: usize,
    each: usize,
) -> Result<()> {
    let what = format!("group {group} Stable with {members} members of {each} partitions each");
    let mut last = String::new();
    let waited = wait_until(&what, TIMEOUT, || {
        let mut client = WireClient::connect(&cluster.bootstrap())?;
        let request = DescribeGroupsRequest {
            groups: vec![group.to_owned()],
            include_authorized_operations: true,
        };
        let response = client.request(5, &request)?;
        let described = response.groups.first().context("no group described")?;
        // Until the members' FindCoordinator created __consumer_offsets and
        // this broker loaded it: COORDINATOR_LOAD_IN_PROGRESS (14),
        // COORDINATOR_NOT_AVAILABLE (15), NOT_COORDINATOR (16).
        if [14, 15, 16].contains(&described.error_code) {
            return Ok(None);
        }
        ensure!(
            described.error_code == 0,
            "DescribeGroups error {}",
            described.error_code
        );
        let assignments = described
            .members
            .iter()
            .map(|m| assigned_partitions(&m.member_assignment, topic))
            .collect::<Result<Vec<_>>>()?;
        last = format!("{} {:?}", described.group_state, assignments);
        let all: BTreeSet<i32> = assignments.iter().flatten().copied().collect();
        let done = described.group_state == "Stable"
            && described.protocol_type == "consumer"
            && assignments.len() == members
            && assignments.iter().all(|a| a.len() == each)
            && all.len() == members * each;
        Ok(done.then_some(()))
    });
    waited.with_context(|| format!("last described: {last}"))
}

/// Every record of every partition read, none skipped, and a record read
/// twice only if its first reader failed to commit it.
fn check_exactly_once(runs: &[&GroupRun], partitions: i32, per_partition: i64) -> Result<()> {
    let mut readers: BTreeMap<(i32, i64), Vec<&GroupRecord>> = BTreeMap::new();
    for run in runs {
        for record in &run.records {
            readers
                .entry((record.partition, record.offset))
                .or_default()
                .push(record);
        }
    }
    for p in 0..partitions {
        for offset in 0..per_partition {
            let Some(reads) = readers.get(&(p, offset)) else {
                bail!("partition {p} offset {offset} was never read");
            };
            let expected = format!("value-{}", i64::from(p) * per_partition + offset);
            ensure!(
                reads.iter().all(|r| r.value == expected),
                "partition {p} offset {offset}: {reads:?}, expected {expected}"
            );
            let committed = reads.iter().filter(|r| r.committed).count();
            ensure!(
                committed == 1 && (reads.len() == 1 || !reads[0].committed),
                "partition {p} offset {offset} read {} times ({committed} committed)",
                reads.len()
            );
        }
    }
    ensure!(
        readers.len() == (partitions as usize) * (per_partition as usize),
        "records beyond those produced were read"
    );
    Ok(())
}

/// How the third member goes.
#[derive(Clone, Copy, Debug)]
enum Departure {
    /// It closes its consumer, which leaves the group (LeaveGroup).
    Leaves,
    /// Its process ends without a word: its session times out.
    Crashes,
}

/// Three members of one group on a six-partition topic: each gets two
/// partitions, and together they read every record once. One member goes
/// after a while; the other two take over its partitions from the offsets
/// it committed.
fn three_members_share_and_take_over(client: ScriptClient, departure: Departure) -> Result<()> {
    const PARTITIONS: i32 = 6;
    const PER_PARTITION: i64 = 100;
    let cluster = broker()?;
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic("shared");
    let group = format!("{topic}-group");
    create_topic(&bootstrap, &topic, PARTITIONS)?;

    let member = |options: &'static [&'static str]| {
        let (bootstrap, topic, group) = (bootstrap.clone(), topic.clone(), group.clone());
        thread::spawn(move || group_consume(client, &bootstrap, &topic, &group, options))
    };
    // Staying members wait long enough for a crashed member's session
    // (6 s, `group.min.session.timeout.ms`) to end and its partitions to
    // come to them.
    const STAYS: &[&str] = &["--idle-ms", "15000", "--session-timeout-ms", "6000"];
    let leaves = member(match departure {
        Departure::Leaves => &["--exit-after", "30", "--session-timeout-ms", "6000"],
        Departure::Crashes => &["--crash-after", "30", "--session-timeout-ms", "6000"],
    });
    let stays = [member(STAYS), member(STAYS)];
    wait_for_stable_group(&cluster, &group, &topic, 3, 2)?;
    produce(&bootstrap, &topic, PARTITIONS, PER_PARTITION)?;

    let join = |h: thread::JoinHandle<Result<GroupRun>>| {
        h.join()
            .map_err(|_| anyhow!("a consumer thread panicked"))?
    };
    let left = join(leaves)?;
    let [a, b] = stays;
    let (a, b) = (join(a)?, join(b)?);
    // While all three were members (DescribeGroups showed it), each had
    // two partitions; the leaver left with its two.
    for run in [&a, &b, &left] {
        ensure!(
            run.assignments.iter().any(|a| a.len() == 2),
            "a member was never assigned 2 partitions: {:?}",
            run.assignments
        );
    }
    let leavers = left
        .assignments
        .last()
        .context("the leaver had no assignment")?;
    ensure!(leavers.len() == 2, "the leaver left with {leavers:?}");
    ensure!(
        left.records.iter().filter(|r| r.committed).count() == 30,
        "the leaving member committed {} records",
        left.records.len()
    );
    // The others took over its partitions where its commits left off.
    for p in leavers {
        let next = left
            .records
            .iter()
            .filter(|r| r.partition == *p && r.committed)
            .map(|r| r.offset + 1)
            .max()
            .unwrap_or(0);
        let resumed = a
            .records
            .iter()
            .chain(&b.records)
            .filter(|r| r.partition == *p)
            .map(|r| r.offset)
            .min();
        ensure!(
            resumed == Some(next) || (resumed.is_none() && next == PER_PARTITION),
            "partition {p}: the leaver committed up to {next}, the next owner began at {resumed:?}"
        );
    }
    check_exactly_once(&[&a, &b, &left], PARTITIONS, PER_PARTITION)?;
    let offsets = committed(&cluster, &group, &topic, PARTITIONS)?;
    ensure!(
        offsets.values().all(|o| *o == PER_PARTITION),
        "committed offsets {offsets:?}"
    );
    Ok(())
}

/// A group consumes part of a topic and stops; started again it resumes
/// at its committed offsets, and between the runs reads everything once.
fn restart_resumes_at_committed_offsets(client: ScriptClient) -> Result<()> {
    const PARTITIONS: i32 = 3;
    const PER_PARTITION: i64 = 30;
    let cluster = broker()?;
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic("resume");
    let group = format!("{topic}-group");
    create_topic(&bootstrap, &topic, PARTITIONS)?;
    produce(&bootstrap, &topic, PARTITIONS, PER_PARTITION)?;

    let first = group_consume(client, &bootstrap, &topic, &group, &["--exit-after", "40"])?;
    ensure!(
        first.records.iter().filter(|r| r.committed).count() == 40,
        "{first:?}"
    );
    let after_first = committed(&cluster, &group, &topic, PARTITIONS)?;
    let positions: i64 = after_first.values().map(|o| (*o).max(0)).sum();
    ensure!(
        positions == 40,
        "committed {after_first:?} after 40 records"
    );
    // The lag kafka-consumer-groups.sh shows: high watermark - committed.
    let lag = group_lag(&cluster, &group, &topic, PARTITIONS)?;
    ensure!(
        lag == PARTITIONS as i64 * PER_PARTITION - 40,
        "lag {lag} after 40 of {} records",
        PARTITIONS as i64 * PER_PARTITION
    );

    let second = group_consume(client, &bootstrap, &topic, &group, &["--idle-ms", "3000"])?;
    for (p, next) in &after_first {
        let resumed = second
            .records
            .iter()
            .filter(|r| r.partition == *p)
            .map(|r| r.offset)
            .min();
        let expected = (*next).max(0);
        ensure!(
            resumed == Some(expected) || (resumed.is_none() && expected == PER_PARTITION),
            "partition {p}: committed {next}, the restarted group began at {resumed:?}"
        );
    }
    check_exactly_once(&[&first, &second], PARTITIONS, PER_PARTITION)?;
    let offsets = committed(&cluster, &group, &topic, PARTITIONS)?;
    ensure!(
        offsets.values().all(|o| *o == PER_PARTITION),
        "committed offsets {offsets:?}"
    );
    ensure!(
        group_lag(&cluster, &group, &topic, PARTITIONS)? == 0,
        "the group still lags after reading everything"
    );
    Ok(())
}

/// The group's total lag on `topic`: each partition's high watermark minus
/// its committed offset (the whole partition when nothing is committed).
fn group_lag(cluster: &SingleBroker, group: &str, topic: &str, partitions: i32) -> Result<i64> {
    let offsets = committed(cluster, group, topic, partitions)?;
    let mut client = WireClient::connect(&cluster.bootstrap())?;
    let mut lag = 0;
    for p in 0..partitions {
        let high_watermark = client.fetch(topic, p, 0)?.high_watermark;
        lag += high_watermark - offsets.get(&p).copied().unwrap_or(-1).max(0);
    }
    Ok(lag)
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
