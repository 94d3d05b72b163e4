//! Differential test of what gregor keeps in ZooKeeper: one scenario of
//! administrative work, run once against a Kafka 2.8 cluster and once
//! against a gregor cluster (3 brokers each, the same ZooKeeper and the same
//! `server.properties`), then every znode under both chroots compared: the
//! same paths, the same kinds (persistent, ephemeral, sequential) and ACLs,
//! the same data down to each JSON field (and, for a znode without data,
//! whether it holds null or an empty array, which zkCli shows apart). About
//! 40 s on an idle 2-core machine, most of it the two clusters' start.
//!
//! The scenario: topics created with configs (RF 3, explicit assignments so
//! that both clusters place replicas alike), configs altered
//! (IncrementalAlterConfigs and AlterConfigs), a broker killed and
//! restarted, a preferred leader election through
//! `/admin/preferred_replica_election`, a reassignment through
//! `/admin/reassign_partitions`, a consumer group committing offsets (which
//! creates `__consumer_offsets`), and a deleted topic. Requests are the same
//! wire requests (gregor's codec) and the same znode writes on both sides;
//! between steps the test waits for conditions on ZooKeeper (the request
//! znode removed, every ISR full again), so both clusters reach the same
//! settled state before the dump.
//!
//! Only values that must differ are normalised before the comparison: the
//! cluster id, topic ids, timestamps, the brokers' ports, ZooKeeper session
//! ids (an ephemeral znode is named by the broker whose session owns it),
//! sequence suffixes (replaced by their rank among their siblings, order
//! kept) and `__consumer_offsets`' replica placement, which Kafka picks at
//! random (reduced to "a permutation of the brokers", its leader to "the
//! first replica" and its ISR to "the replicas", when they are). Every other
//! difference fails the test unless `integration-tests/differential/
//! allowed-differences.txt` lists it under `[zookeeper]` with a reason.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use gregor_protocol::api::alter_configs::{self, AlterConfigsRequest};
use gregor_protocol::api::create_topics::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use gregor_protocol::api::delete_topics::DeleteTopicsRequest;
use gregor_protocol::api::find_coordinator::FindCoordinatorRequest;
use gregor_protocol::api::incremental_alter_configs::{self, IncrementalAlterConfigsRequest};
use gregor_protocol::api::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use integration_tests::cluster::{now_ms, PartitionStateZNode, TopicZNode, CHROOT};
use integration_tests::differential::compare;
use integration_tests::wire::WireClient;
use integration_tests::{wait_until, BrokerConfig, Cluster, KAFKA_2_8};
use serde_json::Value;
use tokio::runtime::Runtime;
use zookeeper_client as zkc;

/// Bound on each step of the scenario settling (a broker's session expiring
/// is 6 s of it; the rest is controller work, well under a second idle).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The broker the scenario kills and restarts: the last one started, so
/// never the controller (the first broker up wins the election long before
/// the third starts).
const KILLED: i32 = 3;
/// OffsetCommit's answers while the group has no coordinator ready.
const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
const COORDINATOR_NOT_AVAILABLE: i16 = 15;
const NOT_COORDINATOR: i16 = 16;
/// The consumer group that commits offsets.
const GROUP: &str = "differential-group";
/// `__consumer_offsets`, whose replica placement Kafka picks at random.
const OFFSETS_TOPIC: &str = "__consumer_offsets";
/// The topics that remain at the end, with `__consumer_offsets`.
const KEPT_TOPICS: [&str; 2] = ["alpha", "beta"];
/// The topic the scenario deletes.
const DELETED_TOPIC: &str = "doomed";

/// What the dump calls an ephemeral znode's owner whose session is no
/// broker's (a test's, say).
const UNKNOWN_SESSION: &str = "a session that registered no broker";

/// The settings both clusters get beyond the harness's cluster defaults:
/// no automatic leader rebalance (it would move leaders on a timer, so the
/// final leaders would depend on how long the scenario took), and a small
/// `__consumer_offsets` (3 partitions, not 50).
fn same_settings(config: BrokerConfig) -> BrokerConfig {
    config
        .property("auto.leader.rebalance.enable", false)
        .property("offsets.topic.num.partitions", 3)
}

#[test]
fn zookeeper_holds_the_same_znodes_under_kafka_2_8_and_gregor() -> Result<()> {
    let started = Instant::now();
    let kafka = {
        let mut cluster = Cluster::start_with(3, |c| same_settings(c).kafka(KAFKA_2_8))?;
        run_scenario(&mut cluster).context("the scenario against Kafka 2.8")?;
        dump(&cluster).context("dumping Kafka 2.8's znodes")?
    };
    eprintln!("Kafka 2.8 done after {:?}", started.elapsed());
    let gregor = {
        let mut cluster = Cluster::start_with(3, same_settings)?;
        run_scenario(&mut cluster).context("the scenario against gregor")?;
        dump(&cluster).context("dumping gregor's znodes")?
    };
    eprintln!("gregor done after {:?}", started.elapsed());
    ensure!(
        kafka.keys().any(|l| l.starts_with("/brokers/topics/alpha")),
        "the Kafka dump lacks the scenario's topics:\n{kafka:#?}"
    );
    compare("zookeeper", &kafka, &gregor)
}

// ---------------------------------------------------------------------------
// ZooKeeper access (the zookeeper-client crate, on a runtime of its own
// whose worker keeps the session alive between calls; the test and the
// cluster stay on the test's thread).

/// A ZooKeeper client rooted at the cluster's chroot.
struct Zk {
    runtime: Runtime,
    client: zkc::Client,
}

impl Zk {
    fn connect(cluster: &Cluster) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let connect = cluster.ensemble().connect_string();
        let client = runtime
            .block_on(zkc::Client::connect(&connect))
            .with_context(|| format!("connecting to ZooKeeper at {connect}"))?;
        Ok(Self { runtime, client })
    }

    fn absolute(path: &str) -> String {
        match path {
            "/" => CHROOT.to_owned(),
            _ => format!("{CHROOT}{path}"),
        }
    }

    /// The data and stat of `path` (inside the chroot), `None` if absent.
    fn get(&self, path: &str) -> Result<Option<(Vec<u8>, zkc::Stat)>> {
        match self
            .runtime
            .block_on(self.client.get_data(&Self::absolute(path)))
        {
            Ok(found) => Ok(Some(found)),
            Err(zkc::Error::NoNode) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("get {path}")),
        }
    }

    /// Makes the server this client reads from catch up with the leader.
    fn sync(&self) -> Result<()> {
        self.runtime
            .block_on(self.client.sync(CHROOT))
            .context("sync")
    }

    fn exists(&self, path: &str) -> Result<bool> {
        Ok(self.get(path)?.is_some())
    }

    /// `path`'s data parsed as `T`, `None` if the znode is absent.
    fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Option<T>> {
        self.get(path)?
            .map(|(data, _)| {
                serde_json::from_slice(&data)
                    .with_context(|| format!("{path} holds {:?}", String::from_utf8_lossy(&data)))
            })
            .transpose()
    }

    /// The children of `path`, sorted; `None` if absent.
    fn children(&self, path: &str) -> Result<Option<Vec<String>>> {
        match self
            .runtime
            .block_on(self.client.list_children(&Self::absolute(path)))
        {
            Ok(mut children) => {
                children.sort();
                Ok(Some(children))
            }
            Err(zkc::Error::NoNode) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("ls {path}")),
        }
    }

    fn acl(&self, path: &str) -> Result<String> {
        let (acls, _) = self
            .runtime
            .block_on(self.client.get_acl(&Self::absolute(path)))
            .with_context(|| format!("getAcl {path}"))?;
        let acls: Vec<String> = acls
            .iter()
            .map(|acl| format!("{}:{}:{}", acl.scheme(), acl.id(), acl.permission()))
            .collect();
        Ok(acls.join(","))
    }

    /// Creates a persistent znode open to all, as Kafka's tools do.
    fn create(&self, path: &str, data: &str) -> Result<()> {
        let options = zkc::CreateMode::Persistent.with_acls(zkc::Acls::anyone_all());
        self.runtime
            .block_on(
                self.client
                    .create(&Self::absolute(path), data.as_bytes(), &options),
            )
            .with_context(|| format!("create {path} {data}"))?;
        Ok(())
    }
}

/// Asks whether znodes with no data hold *null* or an empty array:
/// ZooKeeper keeps the two apart (zkCli prints `null` for one and an empty
/// line for the other) but the zookeeper-client crate returns both as an
/// empty `Vec`. One session of ZooKeeper's wire protocol (jute records,
/// each framed by a 4-byte length) on one server, after a `sync`.
struct RawZk {
    stream: TcpStream,
    xid: i32,
}

/// ZooKeeper's opcodes (`ZooDefs.OpCode`).
const OP_GET_DATA: i32 = 4;
const OP_SYNC: i32 = 9;
const OP_CLOSE_SESSION: i32 = -11;

impl RawZk {
    fn connect(address: &str) -> Result<Self> {
        let stream =
            TcpStream::connect(address).with_context(|| format!("connecting to {address}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut raw = Self { stream, xid: 0 };
        let mut connect = Vec::new();
        connect.extend(0i32.to_be_bytes()); // protocolVersion
        connect.extend(0i64.to_be_bytes()); // lastZxidSeen
        connect.extend(10_000i32.to_be_bytes()); // timeOut
        connect.extend(0i64.to_be_bytes()); // sessionId
        connect.extend(16i32.to_be_bytes()); // passwd
        connect.extend([0u8; 16]);
        connect.push(0); // readOnly
        raw.write_frame(&connect)?;
        raw.read_frame().context("ConnectResponse")?;
        let mut sync = Vec::new();
        put_string(&mut sync, CHROOT);
        raw.call(OP_SYNC, &sync).context("sync")?;
        Ok(raw)
    }

    fn write_frame(&mut self, body: &[u8]) -> Result<()> {
        let length = i32::try_from(body.len())?;
        self.stream.write_all(&length.to_be_bytes())?;
        self.stream.write_all(body)?;
        Ok(())
    }

    fn read_frame(&mut self) -> Result<Vec<u8>> {
        let mut length = [0u8; 4];
        self.stream.read_exact(&mut length)?;
        let length = usize::try_from(i32::from_be_bytes(length))?;
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body)?;
        Ok(body)
    }

    /// Sends one request; returns the reply's body after its header.
    fn call(&mut self, op: i32, request: &[u8]) -> Result<Vec<u8>> {
        self.xid += 1;
        let mut body = Vec::new();
        body.extend(self.xid.to_be_bytes());
        body.extend(op.to_be_bytes());
        body.extend(request);
        self.write_frame(&body)?;
        let reply = self.read_frame()?;
        ensure!(reply.len() >= 16, "short reply {reply:?}");
        let xid = i32::from_be_bytes(reply[0..4].try_into()?);
        let error = i32::from_be_bytes(reply[12..16].try_into()?);
        ensure!(xid == self.xid, "reply to xid {xid}, expected {}", self.xid);
        ensure!(error == 0, "ZooKeeper error {error}");
        Ok(reply[16..].to_vec())
    }

    /// Whether `path` (absolute) holds null data.
    fn holds_null(&mut self, path: &str) -> Result<bool> {
        let mut request = Vec::new();
        put_string(&mut request, path);
        request.push(0); // watch
        let reply = self
            .call(OP_GET_DATA, &request)
            .with_context(|| format!("getData {path}"))?;
        ensure!(reply.len() >= 4, "short getData reply for {path}");
        Ok(i32::from_be_bytes(reply[0..4].try_into()?) == -1)
    }
}

impl Drop for RawZk {
    fn drop(&mut self) {
        let _ = self.call(OP_CLOSE_SESSION, &[]);
    }
}

fn put_string(buf: &mut Vec<u8>, text: &str) {
    buf.extend(i32::try_from(text.len()).unwrap_or(i32::MAX).to_be_bytes());
    buf.extend(text.as_bytes());
}

// ---------------------------------------------------------------------------
// The scenario.

fn run_scenario(cluster: &mut Cluster) -> Result<()> {
    let started = Instant::now();
    let step = |what: &str| eprintln!("{:>7.1?} {what}", started.elapsed());
    let zk = Zk::connect(cluster)?;
    let controller = cluster.controller_id()?;
    ensure!(
        controller != KILLED,
        "broker {KILLED}, started last, is controller: the scenario kills it as a plain broker"
    );
    let admin = |cluster: &Cluster| -> Result<WireClient> {
        WireClient::connect(&cluster.broker(controller)?.bootstrap())
    };

    // Topics with configs, RF 3. Explicit assignments for the ones that
    // stay: Kafka places replicas from a random start.
    let mut client = admin(cluster)?;
    client.create_topic(assigned_topic(
        "alpha",
        &[&[1, 2, 3], &[2, 3, 1], &[3, 1, 2]],
        &[
            ("cleanup.policy", "compact"),
            ("min.insync.replicas", "2"),
            ("retention.ms", "3600000"),
        ],
    ))?;
    client.create_topic(assigned_topic(
        "beta",
        &[&[3, 2, 1], &[1, 3, 2]],
        &[("max.message.bytes", "500000")],
    ))?;
    client.create_topic(CreatableTopic {
        name: DELETED_TOPIC.into(),
        num_partitions: 2,
        replication_factor: 3,
        assignments: Vec::new(),
        configs: configs(&[("retention.bytes", "1048576")]),
    })?;
    let all_topics = ["alpha", "beta", DELETED_TOPIC];
    wait_for_full_isrs(&zk, &all_topics)?;
    step("topics created");

    // Alter configs: incrementally (set, delete, append to a list) on
    // alpha, wholesale on beta.
    let incremental = IncrementalAlterConfigsRequest {
        resources: vec![incremental_alter_configs::AlterConfigsResource {
            resource_type: 2,
            resource_name: "alpha".into(),
            configs: [
                ("retention.ms", 0, Some("7200000")),
                ("min.insync.replicas", 1, None),
                ("cleanup.policy", 2, Some("delete")),
            ]
            .into_iter()
            .map(
                |(name, op, value)| incremental_alter_configs::AlterableConfig {
                    name: name.into(),
                    config_operation: op,
                    value: value.map(Into::into),
                },
            )
            .collect(),
        }],
        validate_only: false,
    };
    let answer = client.request(0, &incremental)?;
    ensure!(
        answer.responses.iter().all(|r| r.error_code == 0),
        "IncrementalAlterConfigs answered {answer:?}"
    );
    let full = AlterConfigsRequest {
        resources: vec![alter_configs::AlterConfigsResource {
            resource_type: 2,
            resource_name: "beta".into(),
            configs: [("retention.ms", "60000"), ("max.message.bytes", "600000")]
                .into_iter()
                .map(|(name, value)| alter_configs::AlterableConfig {
                    name: name.into(),
                    value: Some(value.into()),
                })
                .collect(),
        }],
        validate_only: false,
    };
    let answer = client.request(1, &full)?;
    ensure!(
        answer.responses.iter().all(|r| r.error_code == 0),
        "AlterConfigs answered {answer:?}"
    );
    drop(client);
    step("configs altered");

    // A broker crashes: its leaderships move and it leaves every ISR; it
    // comes back and catches up.
    cluster.broker_mut(KILLED)?.kill9()?;
    wait_until(
        &format!("broker {KILLED} to leave every leadership and ISR"),
        SETTLE_TIMEOUT,
        || {
            if zk.exists(&format!("/brokers/ids/{KILLED}"))? {
                return Ok(None);
            }
            for topic in all_topics {
                for (_, state) in partition_states(&zk, topic)?.unwrap_or_default() {
                    if state.leader == KILLED || state.isr.contains(&KILLED) {
                        return Ok(None);
                    }
                }
            }
            Ok(Some(()))
        },
    )?;
    cluster.broker_mut(KILLED)?.restart()?;
    step("broker killed and out of every ISR; restarted");
    wait_until(
        &format!("broker {KILLED} to register again"),
        SETTLE_TIMEOUT,
        || {
            zk.exists(&format!("/brokers/ids/{KILLED}"))
                .map(|b| b.then_some(()))
        },
    )?;
    wait_for_full_isrs(&zk, &all_topics)?;

    // A preferred leader election, as kafka-preferred-replica-election.sh
    // --zookeeper asks for it: alpha-2's preferred leader is the restarted
    // broker. (beta-0's is too, and stays led by another.)
    zk.create(
        "/admin/preferred_replica_election",
        r#"{"version":1,"partitions":[{"topic":"alpha","partition":2}]}"#,
    )?;
    step("broker back in every ISR; preferred election requested");
    wait_until("the preferred leader election", SETTLE_TIMEOUT, || {
        let done = !zk.exists("/admin/preferred_replica_election")?
            && partition_states(&zk, "alpha")?
                .is_some_and(|states| states.get(&2).is_some_and(|s| s.leader == KILLED));
        Ok(done.then_some(()))
    })?;

    // A reassignment, as kafka-reassign-partitions.sh --zookeeper asks for
    // it: beta-1 drops a replica, alpha-0's replicas are reordered.
    zk.create(
        "/admin/reassign_partitions",
        r#"{"version":1,"partitions":[{"topic":"beta","partition":1,"replicas":[2,1]},{"topic":"alpha","partition":0,"replicas":[2,3,1]}]}"#,
    )?;
    wait_until("the reassignment", SETTLE_TIMEOUT, || {
        let done = !zk.exists("/admin/reassign_partitions")?
            && assignment(&zk, "beta")?.is_some_and(|a| a.get(&1) == Some(&vec![2, 1]))
            && assignment(&zk, "alpha")?.is_some_and(|a| a.get(&0) == Some(&vec![2, 3, 1]));
        Ok(done.then_some(()))
    })?;
    wait_for_full_isrs(&zk, &all_topics)?;
    step("reassignment done");

    // A consumer group commits offsets: its coordinator creates
    // __consumer_offsets.
    // The coordinator may still be loading its partition
    // (COORDINATOR_LOAD_IN_PROGRESS) or not be one yet: ask again.
    wait_until("the group's offsets committed", SETTLE_TIMEOUT, || {
        let find = FindCoordinatorRequest {
            key: GROUP.into(),
            ..Default::default()
        };
        let found = WireClient::connect(&cluster.broker(1)?.bootstrap())?.request(3, &find)?;
        if found.error_code != 0 {
            return Ok(None);
        }
        let commit = OffsetCommitRequest {
            group_id: GROUP.into(),
            generation_id: -1,
            member_id: String::new(),
            topics: vec![OffsetCommitRequestTopic {
                name: "alpha".into(),
                partitions: (0..3)
                    .map(|partition_index| OffsetCommitRequestPartition {
                        partition_index,
                        committed_offset: 0,
                        ..Default::default()
                    })
                    .collect(),
            }],
            ..Default::default()
        };
        let answer = WireClient::connect(&cluster.broker(found.node_id)?.bootstrap())?
            .request(7, &commit)?;
        let errors: BTreeSet<i16> = answer
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect();
        match errors.into_iter().collect::<Vec<_>>()[..] {
            [0] => Ok(Some(())),
            [COORDINATOR_LOAD_IN_PROGRESS | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR] => {
                Ok(None)
            }
            ref other => bail!("OffsetCommit answered {other:?}"),
        }
    })?;
    step("offsets committed");

    // A topic deleted.
    let delete = DeleteTopicsRequest {
        topic_names: vec![DELETED_TOPIC.into()],
        timeout_ms: 30_000,
    };
    let answer = admin(cluster)?.request(4, &delete)?;
    ensure!(
        answer.responses.iter().all(|r| r.error_code == 0),
        "DeleteTopics answered {answer:?}"
    );
    wait_until(
        &format!("{DELETED_TOPIC}'s znodes to go"),
        SETTLE_TIMEOUT,
        || {
            for path in [
                format!("/brokers/topics/{DELETED_TOPIC}"),
                format!("/config/topics/{DELETED_TOPIC}"),
                format!("/admin/delete_topics/{DELETED_TOPIC}"),
            ] {
                if zk.exists(&path)? {
                    return Ok(None);
                }
            }
            Ok(Some(()))
        },
    )?;

    step("topic deleted");
    let mut kept = KEPT_TOPICS.to_vec();
    kept.push(OFFSETS_TOPIC);
    wait_for_full_isrs(&zk, &kept)?;
    step("settled");
    Ok(())
}

fn configs(configs: &[(&str, &str)]) -> Vec<CreatableTopicConfig> {
    configs
        .iter()
        .map(|(name, value)| CreatableTopicConfig {
            name: (*name).into(),
            value: Some((*value).into()),
        })
        .collect()
}

/// A topic with an explicit replica assignment (partition `i` on
/// `replicas[i]`) and config overrides.
fn assigned_topic(name: &str, replicas: &[&[i32]], overrides: &[(&str, &str)]) -> CreatableTopic {
    CreatableTopic {
        name: name.into(),
        num_partitions: -1,
        replication_factor: -1,
        assignments: replicas
            .iter()
            .zip(0..)
            .map(|(brokers, partition_index)| CreatableReplicaAssignment {
                partition_index,
                broker_ids: brokers.to_vec(),
            })
            .collect(),
        configs: configs(overrides),
    }
}

/// Partition → replicas of `topic`, `None` if the topic znode is absent.
fn assignment(zk: &Zk, topic: &str) -> Result<Option<BTreeMap<i32, Vec<i32>>>> {
    zk.get_json::<TopicZNode>(&format!("/brokers/topics/{topic}"))?
        .map(|znode| znode.assignment())
        .transpose()
}

/// Partition → state of every partition of `topic`; `None` until the topic
/// and all its partitions' states exist.
fn partition_states(zk: &Zk, topic: &str) -> Result<Option<BTreeMap<i32, PartitionStateZNode>>> {
    let Some(assignment) = assignment(zk, topic)? else {
        return Ok(None);
    };
    let mut states = BTreeMap::new();
    for partition in assignment.keys() {
        let path = format!("/brokers/topics/{topic}/partitions/{partition}/state");
        match zk.get_json::<PartitionStateZNode>(&path)? {
            Some(state) => states.insert(*partition, state),
            None => return Ok(None),
        };
    }
    Ok(Some(states))
}

/// Waits until every partition of `topics` has a leader and all its
/// replicas in the ISR, and no reassignment is in progress.
fn wait_for_full_isrs(zk: &Zk, topics: &[&str]) -> Result<()> {
    let mut last = String::new();
    wait_until(
        &format!("every partition of {topics:?} to have a full ISR"),
        SETTLE_TIMEOUT,
        || {
            for topic in topics {
                let Some(znode) = zk.get_json::<TopicZNode>(&format!("/brokers/topics/{topic}"))?
                else {
                    last = format!("no {topic}");
                    return Ok(None);
                };
                if !znode.adding_replicas.is_empty() || !znode.removing_replicas.is_empty() {
                    last = format!("{topic} is being reassigned: {znode:?}");
                    return Ok(None);
                }
                let Some(states) = partition_states(zk, topic)? else {
                    last = format!("not every partition of {topic} has a state");
                    return Ok(None);
                };
                for (partition, replicas) in znode.assignment()? {
                    let state = &states[&partition];
                    let isr: BTreeSet<i32> = state.isr.iter().copied().collect();
                    let replicas: BTreeSet<i32> = replicas.into_iter().collect();
                    if state.leader < 0 || isr != replicas {
                        last = format!("{topic}-{partition}: {state:?}");
                        return Ok(None);
                    }
                }
            }
            Ok(Some(()))
        },
    )
    .with_context(|| format!("last seen: {last}"))
}

// ---------------------------------------------------------------------------
// The dump.

/// Every znode under the cluster's chroot, flattened and normalised:
/// `<path>` → its kind, `<path> acl` → its ACL, `<path>#<JSON pointer>` →
/// one JSON value (a whole array when it holds no objects), `<path>#` → data
/// that is not a JSON object or array, and for a znode without data
/// `<path> null data` → whether it is null or an empty array.
fn dump(cluster: &Cluster) -> Result<BTreeMap<String, String>> {
    let zk = Zk::connect(cluster)?;
    zk.sync()?;
    let mut raw = RawZk::connect(cluster.ensemble().address(0))?;
    // Sessions are named after the broker whose registration they own.
    let mut sessions = BTreeMap::new();
    for id in zk.children("/brokers/ids")?.unwrap_or_default() {
        if let Some((_, stat)) = zk.get(&format!("/brokers/ids/{id}"))? {
            sessions.insert(stat.ephemeral_owner, format!("broker {id}'s session"));
        }
    }
    let ports: BTreeMap<String, String> = cluster
        .broker_ids()
        .into_iter()
        .map(|id| {
            let port = cluster.broker(id)?.port();
            Ok((port.to_string(), format!("<port of broker {id}>")))
        })
        .collect::<Result<_>>()?;
    let mut out = BTreeMap::new();
    let mut pending = vec![("/".to_owned(), "/".to_owned())];
    while let Some((path, location)) = pending.pop() {
        if path == "/zookeeper" {
            continue;
        }
        let Some((data, stat)) = zk.get(&path)? else {
            bail!("{path} vanished during the dump");
        };
        let kind = match stat.ephemeral_owner {
            0 => "persistent".to_owned(),
            owner => format!(
                "ephemeral, owned by {}",
                sessions.get(&owner).map_or(UNKNOWN_SESSION, String::as_str)
            ),
        };
        let sequential = sequence_suffix(&path).is_some();
        out.insert(
            location.clone(),
            if sequential {
                format!("{kind} sequential")
            } else {
                kind
            },
        );
        out.insert(format!("{location} acl"), zk.acl(&path)?);
        flatten_data(&location, &data, &mut out);
        if data.is_empty() {
            let null = raw.holds_null(&Zk::absolute(&path))?;
            out.insert(
                format!("{location} null data"),
                if null { "null" } else { "an empty array" }.to_owned(),
            );
        }
        let children = zk.children(&path)?.unwrap_or_default();
        let ranks = sequence_ranks(&children);
        for child in children {
            let child_path = match path.as_str() {
                "/" => format!("/{child}"),
                _ => format!("{path}/{child}"),
            };
            let shown = ranks.get(&child).cloned().unwrap_or_else(|| child.clone());
            let child_location = match location.as_str() {
                "/" => format!("/{shown}"),
                _ => format!("{location}/{shown}"),
            };
            pending.push((child_path, child_location));
        }
    }
    normalise(&mut out, &ports)?;
    Ok(out)
}

/// `Some((prefix, number))` if the last path segment ends in the 10-digit
/// suffix ZooKeeper appends to sequential znodes.
fn sequence_suffix(path: &str) -> Option<(&str, u64)> {
    let name = path.rsplit('/').next()?;
    let split = name.len().checked_sub(10)?;
    let (prefix, digits) = name.split_at(split);
    if prefix.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((prefix, digits.parse().ok()?))
}

/// Sequential children renamed `<prefix><seq N>`, N their rank among the
/// siblings with the same prefix, in sequence order: the numbers count
/// every create under the parent, so they depend on history the dump does
/// not compare, but their order does not.
fn sequence_ranks(children: &[String]) -> BTreeMap<String, String> {
    let mut by_prefix: BTreeMap<&str, Vec<(u64, &String)>> = BTreeMap::new();
    for child in children {
        if let Some((prefix, number)) = sequence_suffix(child) {
            by_prefix.entry(prefix).or_default().push((number, child));
        }
    }
    let mut ranks = BTreeMap::new();
    for (prefix, mut numbered) in by_prefix {
        numbered.sort();
        for (rank, (_, child)) in numbered.into_iter().enumerate() {
            ranks.insert(child.clone(), format!("{prefix}<seq {rank}>"));
        }
    }
    ranks
}

/// A JSON object or array is flattened to one location per field (arrays of
/// plain values stay whole, so `isr` is one value); anything else is one
/// value at `<location>#`.
fn flatten_data(location: &str, data: &[u8], out: &mut BTreeMap<String, String>) {
    match serde_json::from_slice::<Value>(data) {
        Ok(value @ (Value::Object(_) | Value::Array(_))) => {
            flatten_json(&format!("{location}#"), &value, out)
        }
        _ if data.is_empty() => {
            out.insert(format!("{location}#"), "(no data)".to_owned());
        }
        _ => {
            out.insert(
                format!("{location}#"),
                format!("text {:?}", String::from_utf8_lossy(data)),
            );
        }
    }
}

fn flatten_json(pointer: &str, value: &Value, out: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(fields) if !fields.is_empty() => {
            for (name, field) in fields {
                flatten_json(&format!("{pointer}/{name}"), field, out);
            }
        }
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            for (i, item) in items.iter().enumerate() {
                flatten_json(&format!("{pointer}/{i}"), item, out);
            }
        }
        _ => {
            out.insert(pointer.to_owned(), value.to_string());
        }
    }
}

/// Replaces the values that must differ between two clusters with what
/// they stand for, checking that each is what it claims to be.
fn normalise(dump: &mut BTreeMap<String, String>, ports: &BTreeMap<String, String>) -> Result<()> {
    let now = now_ms();
    let locations: Vec<String> = dump.keys().cloned().collect();
    for location in &locations {
        let value = dump[location].clone();
        let replaced = if location == "/cluster/id#/id" {
            Some(base64_uuid(location, &value, "<cluster id>")?)
        } else if location.starts_with("/brokers/topics/") && location.ends_with("#/topic_id") {
            Some(base64_uuid(location, &value, "<topic id>")?)
        } else if location == "/controller#/timestamp"
            || (location.starts_with("/brokers/ids/") && location.ends_with("#/timestamp"))
        {
            let ms: i64 = serde_json::from_str::<String>(&value)
                .ok()
                .and_then(|text| text.parse().ok())
                .with_context(|| format!("{location} holds {value}, not a timestamp string"))?;
            ensure!(
                (now - 3_600_000..=now).contains(&ms),
                "{location} holds {value}, not a time in the last hour"
            );
            Some("\"<timestamp>\"".to_owned())
        } else if location.starts_with("/brokers/ids/") && location.contains('#') {
            Some(replace_ports(&value, ports))
        } else {
            None
        };
        if let Some(replaced) = replaced {
            dump.insert(location.clone(), replaced);
        }
    }
    normalise_random_placement(dump, OFFSETS_TOPIC)
}

/// `"<token>"` if `value` is a JSON string holding a 22-character base64
/// UUID, as Kafka writes cluster and topic ids.
fn base64_uuid(location: &str, value: &str, token: &str) -> Result<String> {
    let text: String = serde_json::from_str(value)
        .with_context(|| format!("{location} holds {value}, not a string"))?;
    ensure!(
        text.len() == 22
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{location} holds {value}, not a base64 UUID"
    );
    Ok(format!("\"{token}\""))
}

/// Every number in `value` that is a broker's port, as `<port of broker N>`.
fn replace_ports(value: &str, ports: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    for c in value.chars().chain(std::iter::once('\0')) {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if !digits.is_empty() {
            out.push_str(ports.get(&digits).map_or(&digits, |token| token));
            digits.clear();
        }
        if c != '\0' {
            out.push(c);
        }
    }
    out
}

/// Kafka places the replicas of a topic it creates itself (here
/// `__consumer_offsets`) from a random start broker and shift: each
/// partition's replicas become "a permutation of the brokers" when they are
/// one, the leader "the first replica" when it is, the ISR "the replicas"
/// when it is them in order.
fn normalise_random_placement(dump: &mut BTreeMap<String, String>, topic: &str) -> Result<()> {
    let prefix = format!("/brokers/topics/{topic}#/partitions/");
    let placed: Vec<(String, String)> = dump
        .range(prefix.clone()..)
        .take_while(|(location, _)| location.starts_with(&prefix))
        .map(|(l, v)| (l[prefix.len()..].to_owned(), v.clone()))
        .collect();
    let brokers: BTreeSet<i32> = dump
        .keys()
        .filter_map(|l| l.strip_prefix("/brokers/ids/"))
        .filter_map(|rest| rest.parse().ok())
        .collect();
    for (partition, replicas_json) in placed {
        let replicas: Vec<i32> = serde_json::from_str(&replicas_json)
            .with_context(|| format!("{topic}-{partition}'s replicas {replicas_json}"))?;
        let as_set: BTreeSet<i32> = replicas.iter().copied().collect();
        if as_set == brokers && replicas.len() == brokers.len() {
            dump.insert(
                format!("{prefix}{partition}"),
                format!(
                    "<a permutation of {:?}>",
                    brokers.iter().collect::<Vec<_>>()
                ),
            );
        }
        let state = format!("/brokers/topics/{topic}/partitions/{partition}/state#");
        if let Some(leader) = dump.get_mut(&format!("{state}/leader")) {
            if replicas.first().map(i32::to_string).as_ref() == Some(leader) {
                *leader = "<the first replica>".to_owned();
            }
        }
        if let Some(isr) = dump.get_mut(&format!("{state}/isr")) {
            if serde_json::from_str::<Vec<i32>>(isr).ok().as_ref() == Some(&replicas) {
                *isr = "<the replicas>".to_owned();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_names_keep_their_order_but_not_their_numbers() {
        let children = [
            "config_change_0000000012".to_owned(),
            "config_change_0000000003".to_owned(),
            "1".to_owned(),
        ];
        let ranks = sequence_ranks(&children);
        assert_eq!(ranks["config_change_0000000003"], "config_change_<seq 0>");
        assert_eq!(ranks["config_change_0000000012"], "config_change_<seq 1>");
        assert!(!ranks.contains_key("1"));
    }

    #[test]
    fn json_is_flattened_to_fields_and_plain_arrays_stay_whole() {
        let mut out = BTreeMap::new();
        flatten_data(
            "/t",
            br#"{"a":{"b":[1,2]},"c":[{"d":"x"}],"e":{}}"#,
            &mut out,
        );
        flatten_data("/epoch", b"3", &mut out);
        flatten_data("/empty", b"", &mut out);
        assert_eq!(out["/t#/a/b"], "[1,2]");
        assert_eq!(out["/t#/c/0/d"], "\"x\"");
        assert_eq!(out["/t#/e"], "{}");
        assert_eq!(out["/epoch#"], "text \"3\"");
        assert_eq!(out["/empty#"], "(no data)");
    }

    #[test]
    fn only_whole_port_numbers_are_replaced() {
        let ports = BTreeMap::from([("40123".to_owned(), "<port of broker 1>".to_owned())]);
        assert_eq!(
            replace_ports(r#"["PLAINTEXT://127.0.0.1:40123"]"#, &ports),
            r#"["PLAINTEXT://127.0.0.1:<port of broker 1>"]"#
        );
        assert_eq!(replace_ports("401234", &ports), "401234");
    }
}
