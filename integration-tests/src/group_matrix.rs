//! The consumer-group scenarios every client library goes through, written
//! once (as [`crate::client_matrix`] is for producing and consuming): a
//! client's `group-consume` mode (see `clients/python/common.py`) runs as
//! group members against one broker, and the group's state is checked
//! with DescribeGroups and its offsets with OffsetFetch, as
//! `kafka-consumer-groups.sh --describe` would.

use std::collections::{BTreeMap, BTreeSet};
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use gregor_protocol::api::describe_groups::DescribeGroupsRequest;
use gregor_protocol::api::offset_fetch::{OffsetFetchRequest, OffsetFetchRequestTopic};
use serde_json::Value;

use crate::client_matrix::{ScriptClient, CONFLUENT_KAFKA};
use crate::wire::WireClient;
use crate::{
    gregor_broker_with_zk_configured, json_lines, unique_topic, wait_until, BrokerConfig,
    SingleBroker,
};

/// Bound on every wait for the group.
pub const TIMEOUT: Duration = Duration::from_secs(120);

/// `offsets.topic.num.partitions` of the test broker.
pub const OFFSETS_PARTITIONS: u32 = 5;

/// One broker whose `__consumer_offsets` suits a single-node test: one
/// replica, a few partitions, and new groups rebalancing at once.
pub fn group_broker() -> Result<SingleBroker> {
    group_broker_with(|c| c)
}

/// [`group_broker`] with more of `configure` (say `.kafka(KAFKA_2_8)`, to
/// run a scenario against Kafka itself).
pub fn group_broker_with(
    configure: impl FnOnce(BrokerConfig) -> BrokerConfig,
) -> Result<SingleBroker> {
    gregor_broker_with_zk_configured(|c| {
        configure(
            c.property("offsets.topic.replication.factor", 1)
                .property("offsets.topic.num.partitions", OFFSETS_PARTITIONS)
                .property("group.initial.rebalance.delay.ms", 0),
        )
    })
}

/// The committed offsets of `group` for `partitions` of `topic`, asked of
/// the broker at `coordinator` with OffsetFetch v7; `Err` with the error
/// code it answered.
pub fn offsets_at(
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
pub fn committed(
    cluster: &SingleBroker,
    group: &str,
    topic: &str,
    partitions: i32,
) -> Result<BTreeMap<i32, i64>> {
    offsets_at(&cluster.bootstrap(), group, topic, partitions)?
        .map_err(|code| anyhow!("OffsetFetch error {code}"))
}

/// A record as a group member reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    partition: i32,
    offset: i64,
    value: String,
    /// Whether its offset commit succeeded (only then may nobody else
    /// read it again).
    committed: bool,
}

/// What one `group-consume` run printed.
#[derive(Debug, Default)]
pub struct GroupRun {
    /// Every assignment it received, in order.
    assignments: Vec<Vec<i32>>,
    /// The generation of each assignment, where the client tells it.
    generations: Vec<Option<i64>>,
    records: Vec<GroupRecord>,
}

/// Runs `client`'s `group-consume` in `group` with `options`.
pub fn group_consume(
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
            run.generations
                .push(line.get("generation").and_then(Value::as_i64));
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
pub fn produce(bootstrap: &str, topic: &str, partitions: i32, per_partition: i64) -> Result<()> {
    for p in 0..partitions {
        produce_numbered(
            bootstrap,
            topic,
            p,
            i64::from(p) * per_partition,
            per_partition,
        )?;
    }
    Ok(())
}

/// Produces records `start..start + count` (value `value-<i>`) to
/// `partition` with confluent-kafka.
fn produce_numbered(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    start: i64,
    count: i64,
) -> Result<()> {
    CONFLUENT_KAFKA.run_ok(
        bootstrap,
        topic,
        "produce",
        &[
            "--partition".into(),
            partition.to_string(),
            "--start".into(),
            start.to_string(),
            "--count".into(),
            count.to_string(),
        ],
    )?;
    Ok(())
}

pub fn create_topic(bootstrap: &str, topic: &str, partitions: i32) -> Result<()> {
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

/// Every record of every partition read, none skipped, and committed by
/// exactly one of its readers: a record is read again only after a reader
/// failed to commit it (the runs ran side by side, so which read came
/// first is not known).
pub fn check_exactly_once(runs: &[&GroupRun], partitions: i32, per_partition: i64) -> Result<()> {
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
                committed == 1,
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
pub enum Departure {
    /// It closes its consumer, which leaves the group (LeaveGroup).
    Leaves,
    /// Its process ends without a word: its session times out.
    Crashes,
}

/// Three members of one group on a six-partition topic: each gets two
/// partitions, and together they read every record once. One member goes
/// after a while; the other two take over its partitions from the offsets
/// it committed.
pub fn three_members_share_and_take_over(client: ScriptClient, departure: Departure) -> Result<()> {
    three_members_share_and_take_over_on(&group_broker()?, client, departure)
}

/// [`three_members_share_and_take_over`] on a [`group_broker`] the caller
/// started.
pub fn three_members_share_and_take_over_on(
    cluster: &SingleBroker,
    client: ScriptClient,
    departure: Departure,
) -> Result<()> {
    const PARTITIONS: i32 = 6;
    const PER_PARTITION: i64 = 100;
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
    wait_for_stable_group(cluster, &group, &topic, 3, 2)?;
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
    let offsets = committed(cluster, &group, &topic, PARTITIONS)?;
    ensure!(
        offsets.values().all(|o| *o == PER_PARTITION),
        "committed offsets {offsets:?}"
    );
    Ok(())
}

/// A group consumes part of a topic and stops; started again it resumes
/// at its committed offsets, and between the runs reads everything once.
pub fn restart_resumes_at_committed_offsets(client: ScriptClient) -> Result<()> {
    restart_resumes_at_committed_offsets_on(&group_broker()?, client)
}

/// [`restart_resumes_at_committed_offsets`] on a [`group_broker`] the
/// caller started.
pub fn restart_resumes_at_committed_offsets_on(
    cluster: &SingleBroker,
    client: ScriptClient,
) -> Result<()> {
    const PARTITIONS: i32 = 3;
    const PER_PARTITION: i64 = 30;
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
    let after_first = committed(cluster, &group, &topic, PARTITIONS)?;
    let positions: i64 = after_first.values().map(|o| (*o).max(0)).sum();
    ensure!(
        positions == 40,
        "committed {after_first:?} after 40 records"
    );
    // The lag kafka-consumer-groups.sh shows: high watermark - committed.
    let lag = group_lag(cluster, &group, &topic, PARTITIONS)?;
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
    let offsets = committed(cluster, &group, &topic, PARTITIONS)?;
    ensure!(
        offsets.values().all(|o| *o == PER_PARTITION),
        "committed offsets {offsets:?}"
    );
    ensure!(
        group_lag(cluster, &group, &topic, PARTITIONS)? == 0,
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

/// A consumer group whose two static members (`group.instance.id`) have
/// stopped without leaving it: they stay members until their session ends.
#[derive(Debug)]
pub struct StaticGroup {
    pub topic: String,
    pub group: String,
    pub instance_ids: [String; 2],
}

/// Static membership (KIP-345): two members with `--group-instance-id`
/// share a four-partition topic; one stops without leaving the group (a
/// static member's close sends no LeaveGroup) and is started again with
/// the same instance id within its session timeout. The coordinator hands
/// it its partitions back in the same generation, without a rebalance: the
/// other member's last assignment stays the one it had, and the restarted
/// member reads its partitions on from where it committed. The client must
/// print the generation with each assignment.
pub fn static_member_returns_without_rebalance_on(
    cluster: &SingleBroker,
    client: ScriptClient,
) -> Result<StaticGroup> {
    const PARTITIONS: i32 = 4;
    const PER_ROUND: i64 = 10;
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic("static");
    let group = format!("{topic}-group");
    let instance_ids = [format!("{group}-a"), format!("{group}-b")];
    create_topic(&bootstrap, &topic, PARTITIONS)?;

    let member = |instance: &str, exit_after: i64| {
        let (bootstrap, topic, group) = (bootstrap.clone(), topic.clone(), group.clone());
        let options: Vec<String> = [
            "--group-instance-id",
            instance,
            // Long enough that no session ends during the test.
            "--session-timeout-ms",
            "60000",
            "--exit-after",
            &exit_after.to_string(),
        ]
        .map(str::to_owned)
        .to_vec();
        thread::spawn(move || {
            let options: Vec<&str> = options.iter().map(String::as_str).collect();
            group_consume(client, &bootstrap, &topic, &group, &options)
        })
    };
    let join = |h: thread::JoinHandle<Result<GroupRun>>| {
        h.join()
            .map_err(|_| anyhow!("a consumer thread panicked"))?
    };
    // Record `i` of round `round` in partition `p` is at offset
    // round * PER_ROUND + i, with value value-<p * 2 * PER_ROUND + offset>
    // (what check_exactly_once expects of 2 * PER_ROUND per partition).
    let produce_round = |round: i64| -> Result<()> {
        for p in 0..PARTITIONS {
            let start = i64::from(p) * 2 * PER_ROUND + round * PER_ROUND;
            produce_numbered(&bootstrap, &topic, p, start, PER_ROUND)?;
        }
        Ok(())
    };

    // Each member reads its two partitions' records of both rounds; the
    // first incarnation of A those of the first round only.
    let a = member(&instance_ids[0], 2 * PER_ROUND);
    let b = member(&instance_ids[1], 4 * PER_ROUND);
    wait_for_stable_group(cluster, &group, &topic, 2, 2)?;
    produce_round(0)?;
    let a = join(a)?;
    let (Some(a_partitions), Some(Some(generation))) = (a.assignments.last(), a.generations.last())
    else {
        bail!("the first static member printed no assignment with a generation: {a:?}");
    };
    // A is gone, but as a static member it is still in the group.
    wait_for_stable_group(cluster, &group, &topic, 2, 2)
        .context("the group after a static member stopped")?;

    let again = member(&instance_ids[0], 2 * PER_ROUND);
    // Records for the returned member: it must be back on its partitions.
    produce_round(1)?;
    let again = join(again)?;
    let b = join(b)?;

    ensure!(
        again.assignments == [a_partitions.clone()] && again.generations == [Some(*generation)],
        "the restarted static member got {:?} in generations {:?}; before it had {a_partitions:?} \
         in generation {generation}",
        again.assignments,
        again.generations
    );
    ensure!(
        b.generations.last() == Some(&Some(*generation)),
        "the other member's assignments {:?} in generations {:?}: its last should be the \
         generation {generation} the restarted member rejoined",
        b.assignments,
        b.generations
    );
    let b_partitions = b.assignments.last().cloned().unwrap_or_default();
    ensure!(
        b_partitions.iter().all(|p| !a_partitions.contains(p)) && b_partitions.len() == 2,
        "members hold {a_partitions:?} and {b_partitions:?}"
    );
    for record in &again.records {
        ensure!(
            a_partitions.contains(&record.partition) && record.offset >= PER_ROUND,
            "the restarted member read {record:?}, not from where it left its partitions"
        );
    }
    check_exactly_once(&[&a, &again, &b], PARTITIONS, 2 * PER_ROUND)?;
    let offsets = committed(cluster, &group, &topic, PARTITIONS)?;
    ensure!(
        offsets.values().all(|o| *o == 2 * PER_ROUND),
        "committed offsets {offsets:?}"
    );
    Ok(StaticGroup {
        topic,
        group,
        instance_ids,
    })
}
