//! A ZooKeeper-coordinated gregor cluster for the cluster-architecture
//! tests: a 3-node ZooKeeper ensemble and brokers 1..=N under one chroot,
//! and ways to read the cluster's state as an operator does (zkCli) and as a
//! client does (Metadata).
//!
//! ZooKeeper is read with Debian's `zkCli.sh` and its output parsed into the
//! JSON Kafka writes (the structs below, field for field as in Kafka 2.8's
//! `kafka.zk.ZkData`; unknown fields are an error), so a test sees exactly
//! what an operator sees, independently of gregor's own ZooKeeper code.
//! A zkCli call is a JVM start (about a second), so waits poll cheap
//! Metadata requests where they can and read ZooKeeper to confirm.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, ensure, Context, Result};
use gregor_protocol::api::metadata::{MetadataRequest, MetadataResponse};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::wire::WireClient;
use crate::{wait_until, zk_cli, Broker, BrokerConfig, ZkEnsemble};

/// The chroot of every cluster's `zookeeper.connect`.
pub const CHROOT: &str = "/gregor";
/// `zookeeper.session.timeout.ms` of the cluster's brokers (Kafka's default
/// is 18000): a crashed broker is noticed within seconds, yet it is 12 of
/// the ensemble's 500 ms ticks, so a busy 2-core machine does not expire
/// healthy sessions.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(6);
/// Bound on a controller decision (an election, leaders moved, a topic
/// created or deleted) reaching ZooKeeper and every broker's metadata once
/// its cause has been noticed; well under a second on an idle machine.
pub const CHANGE_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on the brokers registering and electing a controller at start-up.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// What zkCli prints (on stderr, exiting 1) for a znode that does not exist.
const NO_NODE: &str = "Node does not exist";
/// The middle of the line gregor logs when a broker wins the controller
/// election (`src/controller/election.rs`):
/// `broker <id> elected controller with epoch <epoch>`.
const ELECTED: &str = " elected controller with epoch ";

/// One cluster at a time per test process: the tests assert on timings (a
/// new controller within the session timeout plus 2 s) that several
/// ensembles and brokers competing for two cores would make flaky.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// `/controller` (Kafka's `ControllerZNode`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerZNode {
    pub version: i32,
    pub brokerid: i32,
    /// When the controller was elected, in ms since the Unix epoch, as a
    /// JSON string.
    pub timestamp: String,
}

impl ControllerZNode {
    pub fn elected_at_ms(&self) -> Result<i64> {
        self.timestamp
            .parse()
            .with_context(|| format!("/controller timestamp {:?}", self.timestamp))
    }
}

/// `/brokers/ids/<id>` (Kafka's `BrokerIdZNode`, version 5).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerIdZNode {
    pub version: i32,
    pub host: String,
    pub port: i32,
    /// `PLAINTEXT://host:port`, one per listener.
    pub endpoints: Vec<String>,
    pub listener_security_protocol_map: BTreeMap<String, String>,
    pub jmx_port: i32,
    pub timestamp: String,
    /// Feature name to its supported version range.
    pub features: BTreeMap<String, serde_json::Value>,
    /// Only written when `broker.rack` is set.
    pub rack: Option<String>,
}

/// `/brokers/topics/<t>` (Kafka's `TopicZNode`, version 3). Partitions are
/// JSON object keys, so strings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicZNode {
    pub version: i32,
    /// The topic id, a base64 UUID (Kafka writes it since 2.8).
    pub topic_id: String,
    pub partitions: BTreeMap<String, Vec<i32>>,
    pub adding_replicas: BTreeMap<String, Vec<i32>>,
    pub removing_replicas: BTreeMap<String, Vec<i32>>,
}

impl TopicZNode {
    /// Partition → replicas, the first being the preferred leader.
    pub fn assignment(&self) -> Result<BTreeMap<i32, Vec<i32>>> {
        self.partitions
            .iter()
            .map(|(p, replicas)| {
                let p = p
                    .parse()
                    .with_context(|| format!("partition key {p:?} in /brokers/topics"))?;
                Ok((p, replicas.clone()))
            })
            .collect()
    }
}

/// `/brokers/topics/<t>/partitions/<p>/state` (Kafka's
/// `TopicPartitionStateZNode`, version 1).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionStateZNode {
    pub version: i32,
    /// -1 while the partition is offline.
    pub leader: i32,
    pub leader_epoch: i32,
    /// The epoch of the controller that wrote this leader.
    pub controller_epoch: i32,
    pub isr: Vec<i32>,
}

/// One topic as ZooKeeper holds it: the assignment and every partition's
/// state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInZk {
    pub topic_id: String,
    pub assignment: BTreeMap<i32, Vec<i32>>,
    pub states: BTreeMap<i32, PartitionStateZNode>,
}

impl TopicInZk {
    /// Partition → leader.
    pub fn leaders(&self) -> BTreeMap<i32, i32> {
        self.states.iter().map(|(&p, s)| (p, s.leader)).collect()
    }

    /// The partitions `broker` leads.
    pub fn led_by(&self, broker: i32) -> Vec<i32> {
        self.states
            .iter()
            .filter(|(_, s)| s.leader == broker)
            .map(|(&p, _)| p)
            .collect()
    }

    /// Whether every partition's leader is its first (preferred) replica.
    pub fn preferred_leaders_lead(&self) -> bool {
        self.assignment.iter().all(|(p, replicas)| {
            let leader = self.states.get(p).map(|s| s.leader);
            leader.is_some() && leader == replicas.first().copied()
        })
    }
}

/// The znodes of a gregor cluster under its chroot, read with zkCli as an
/// operator would: of a [`Cluster`] this harness started, or of any other
/// (say the README's quickstart cluster) given its `zookeeper.connect`.
pub struct Znodes {
    /// Every node, then the chroot.
    connect: String,
}

impl Znodes {
    /// `connect` as in `zookeeper.connect`, chroot included.
    pub fn new(connect: &str) -> Self {
        Self {
            connect: connect.to_owned(),
        }
    }

    /// Runs one zkCli command inside the chroot (`["ls", "/brokers/ids"]`).
    pub fn zk_cli(&self, args: &[&str]) -> Result<String> {
        zk_cli(&self.connect, args)
    }

    /// `get <path>` as zkCli prints the data, `None` if the znode does not
    /// exist.
    pub fn zk_get(&self, path: &str) -> Result<Option<String>> {
        match self.zk_cli(&["get", path]) {
            Ok(data) => Ok(Some(data.trim_end().to_owned())),
            Err(e) if format!("{e:#}").contains(NO_NODE) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `get <path>` parsed as `T`, `None` if the znode does not exist.
    pub fn zk_get_json<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>> {
        self.zk_get(path)?
            .map(|data| {
                serde_json::from_str(&data)
                    .with_context(|| format!("{path} holds {data:?}, not the expected JSON"))
            })
            .transpose()
    }

    /// `ls <path>`: the children as zkCli lists them (sorted, `[a, b]`),
    /// `None` if the znode does not exist.
    pub fn zk_ls(&self, path: &str) -> Result<Option<Vec<String>>> {
        let listing = match self.zk_cli(&["ls", path]) {
            Ok(listing) => listing,
            Err(e) if format!("{e:#}").contains(NO_NODE) => return Ok(None),
            Err(e) => return Err(e),
        };
        let list = listing
            .trim()
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .with_context(|| format!("`ls {path}` printed {listing:?}"))?;
        Ok(Some(
            list.split(", ")
                .filter(|child| !child.is_empty())
                .map(str::to_owned)
                .collect(),
        ))
    }

    /// The ids under `/brokers/ids`, ascending.
    pub fn registered_brokers(&self) -> Result<Vec<i32>> {
        let children = self.zk_ls("/brokers/ids")?.unwrap_or_default();
        let mut ids = children
            .iter()
            .map(|id| id.parse().with_context(|| format!("/brokers/ids/{id}")))
            .collect::<Result<Vec<i32>>>()?;
        ids.sort_unstable();
        Ok(ids)
    }

    pub fn topic_assignment(&self, topic: &str) -> Result<Option<TopicZNode>> {
        self.zk_get_json(&format!("/brokers/topics/{topic}"))
    }

    pub fn partition_state(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Option<PartitionStateZNode>> {
        self.zk_get_json(&format!(
            "/brokers/topics/{topic}/partitions/{partition}/state"
        ))
    }

    /// The topic's assignment and every partition's state; `None` until all
    /// of them exist.
    pub fn topic_in_zk(&self, topic: &str) -> Result<Option<TopicInZk>> {
        let Some(znode) = self.topic_assignment(topic)? else {
            return Ok(None);
        };
        let assignment = znode.assignment()?;
        let mut states = BTreeMap::new();
        for &partition in assignment.keys() {
            match self.partition_state(topic, partition)? {
                Some(state) => states.insert(partition, state),
                None => return Ok(None),
            };
        }
        Ok(Some(TopicInZk {
            topic_id: znode.topic_id,
            assignment,
            states,
        }))
    }
}

/// A controller election as a broker logged it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LoggedElection {
    pub epoch: i32,
    pub broker: i32,
}

/// A 3-node ZooKeeper ensemble and brokers 1..=N. Dropping it kills the
/// brokers, then ZooKeeper.
pub struct Cluster {
    // Field order is drop order: brokers before their ZooKeeper, and the
    // next cluster may start only once both are gone.
    brokers: Vec<Broker>,
    ensemble: ZkEnsemble,
    _one_at_a_time: MutexGuard<'static, ()>,
}

impl Cluster {
    /// Starts the ensemble and `brokers` brokers with the cluster defaults
    /// and waits until all are registered and one is controller.
    pub fn start(brokers: u32) -> Result<Self> {
        Self::start_with(brokers, |config| config)
    }

    /// As [`start`](Self::start); `configure` adds `server.properties` keys
    /// to every broker's config after the cluster defaults:
    /// `zookeeper.session.timeout.ms` = [`SESSION_TIMEOUT`] and
    /// `auto.create.topics.enable=false` (tests create their topics, so a
    /// client asking for one too early must not create it with defaults).
    pub fn start_with(
        brokers: u32,
        configure: impl Fn(BrokerConfig) -> BrokerConfig,
    ) -> Result<Self> {
        let one_at_a_time = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
        let ensemble = ZkEnsemble::start(3)?;
        let mut cluster = Self {
            brokers: Vec::new(),
            ensemble,
            _one_at_a_time: one_at_a_time,
        };
        for id in 1..=brokers {
            let config = BrokerConfig::new(id, &cluster.ensemble.connect_string())
                .chroot(CHROOT)
                .property("zookeeper.session.timeout.ms", SESSION_TIMEOUT.as_millis())
                .property("auto.create.topics.enable", false);
            cluster.brokers.push(configure(config).start()?);
        }
        cluster.wait_for_registered(&cluster.broker_ids(), START_TIMEOUT)?;
        cluster.wait_for_controller("a controller", START_TIMEOUT, |_| true)?;
        Ok(cluster)
    }

    /// Every broker's id, whether it runs or not.
    pub fn broker_ids(&self) -> Vec<i32> {
        self.brokers.iter().map(broker_id).collect()
    }

    pub fn broker(&self, id: i32) -> Result<&Broker> {
        self.brokers
            .iter()
            .find(|b| broker_id(b) == id)
            .with_context(|| format!("the cluster has no broker {id}"))
    }

    pub fn broker_mut(&mut self, id: i32) -> Result<&mut Broker> {
        self.brokers
            .iter_mut()
            .find(|b| broker_id(b) == id)
            .with_context(|| format!("the cluster has no broker {id}"))
    }

    /// `bootstrap.servers` naming every broker.
    pub fn bootstrap(&self) -> String {
        let all: Vec<String> = self.brokers.iter().map(Broker::bootstrap).collect();
        all.join(",")
    }

    pub fn ensemble(&self) -> &ZkEnsemble {
        &self.ensemble
    }

    pub fn ensemble_mut(&mut self) -> &mut ZkEnsemble {
        &mut self.ensemble
    }

    /// The brokers' `zookeeper.connect`: every node, then the chroot.
    pub fn zk_connect(&self) -> String {
        format!("{}{CHROOT}", self.ensemble.connect_string())
    }

    /// The cluster's znodes, read with zkCli.
    pub fn znodes(&self) -> Znodes {
        Znodes::new(&self.zk_connect())
    }

    /// [`Znodes::zk_cli`].
    pub fn zk_cli(&self, args: &[&str]) -> Result<String> {
        self.znodes().zk_cli(args)
    }

    /// [`Znodes::zk_get`].
    pub fn zk_get(&self, path: &str) -> Result<Option<String>> {
        self.znodes().zk_get(path)
    }

    /// [`Znodes::zk_get_json`].
    pub fn zk_get_json<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>> {
        self.znodes().zk_get_json(path)
    }

    /// [`Znodes::zk_ls`].
    pub fn zk_ls(&self, path: &str) -> Result<Option<Vec<String>>> {
        self.znodes().zk_ls(path)
    }

    /// [`Znodes::registered_brokers`].
    pub fn registered_brokers(&self) -> Result<Vec<i32>> {
        self.znodes().registered_brokers()
    }

    /// `/controller`, `None` while no broker is controller.
    pub fn controller(&self) -> Result<Option<ControllerZNode>> {
        self.zk_get_json("/controller")
    }

    pub fn controller_id(&self) -> Result<i32> {
        Ok(self
            .controller()?
            .context("no /controller: no broker is controller")?
            .brokerid)
    }

    /// `/controller_epoch`: a plain integer.
    pub fn controller_epoch(&self) -> Result<i32> {
        let epoch = self
            .zk_get("/controller_epoch")?
            .context("no /controller_epoch")?;
        epoch
            .parse()
            .with_context(|| format!("/controller_epoch holds {epoch:?}"))
    }

    /// [`Znodes::topic_assignment`].
    pub fn topic_assignment(&self, topic: &str) -> Result<Option<TopicZNode>> {
        self.znodes().topic_assignment(topic)
    }

    /// [`Znodes::partition_state`].
    pub fn partition_state(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Option<PartitionStateZNode>> {
        self.znodes().partition_state(topic, partition)
    }

    /// [`Znodes::topic_in_zk`].
    pub fn topic_in_zk(&self, topic: &str) -> Result<Option<TopicInZk>> {
        self.znodes().topic_in_zk(topic)
    }

    /// Metadata v9 for every topic, asked of broker `id`.
    pub fn metadata_from(&self, id: i32) -> Result<MetadataResponse> {
        let request = MetadataRequest {
            topics: None,
            allow_auto_topic_creation: false,
            ..Default::default()
        };
        WireClient::connect(&self.broker(id)?.bootstrap())?
            .request(9, &request)
            .with_context(|| format!("Metadata from broker {id}"))
    }

    /// Waits until `/brokers/ids` lists exactly `ids`.
    pub fn wait_for_registered(&self, ids: &[i32], timeout: Duration) -> Result<()> {
        let mut want = ids.to_vec();
        want.sort_unstable();
        wait_until(&format!("/brokers/ids to list {want:?}"), timeout, || {
            Ok((self.registered_brokers()? == want).then_some(()))
        })
    }

    /// Waits until `/controller` exists and satisfies `accept`; returns it.
    pub fn wait_for_controller(
        &self,
        what: &str,
        timeout: Duration,
        accept: impl Fn(&ControllerZNode) -> bool,
    ) -> Result<ControllerZNode> {
        wait_until(&format!("/controller to name {what}"), timeout, || {
            Ok(self.controller()?.filter(|c| accept(c)))
        })
    }

    /// Waits until the topic's assignment has `partitions` partitions and
    /// each has a state znode with a leader.
    pub fn wait_for_leaders(
        &self,
        topic: &str,
        partitions: usize,
        timeout: Duration,
    ) -> Result<TopicInZk> {
        self.wait_for_topic(
            &format!("a leader for each of {partitions} partitions of {topic}"),
            topic,
            timeout,
            |t| t.assignment.len() == partitions && t.states.values().all(|s| s.leader >= 0),
        )
    }

    /// Waits until the topic's ZooKeeper state satisfies `accept`.
    pub fn wait_for_topic(
        &self,
        what: &str,
        topic: &str,
        timeout: Duration,
        accept: impl Fn(&TopicInZk) -> bool,
    ) -> Result<TopicInZk> {
        let mut last = None;
        let result = wait_until(what, timeout, || {
            last = self.topic_in_zk(topic)?;
            Ok(last.clone().filter(|t| accept(t)))
        });
        result.with_context(|| format!("last seen in ZooKeeper: {last:?}"))
    }

    /// How broker `id`'s Metadata answer differs from ZooKeeper's view:
    /// registered brokers (and their ports), controller, and the topic's
    /// partitions with leader, leader epoch, replicas and ISR. Empty when
    /// they agree.
    pub fn metadata_disagreements(
        &self,
        id: i32,
        registered: &[i32],
        controller: i32,
        topic: &str,
        zk: &TopicInZk,
    ) -> Result<Vec<String>> {
        let metadata = self.metadata_from(id)?;
        let mut differences = Vec::new();
        let mut listed: Vec<i32> = metadata.brokers.iter().map(|b| b.node_id).collect();
        listed.sort_unstable();
        if listed != registered {
            differences.push(format!("brokers {listed:?}, ZooKeeper has {registered:?}"));
        }
        for listed in &metadata.brokers {
            let port = self.broker(listed.node_id)?.port();
            if (listed.host.as_str(), listed.port) != ("127.0.0.1", i32::from(port)) {
                differences.push(format!(
                    "broker {} at {}:{}, it listens on 127.0.0.1:{port}",
                    listed.node_id, listed.host, listed.port
                ));
            }
        }
        if metadata.controller_id != controller {
            differences.push(format!(
                "controller {}, ZooKeeper has {controller}",
                metadata.controller_id
            ));
        }
        let Some(entry) = metadata.topics.iter().find(|t| t.name == topic) else {
            differences.push(format!("no topic {topic}"));
            return Ok(differences);
        };
        if entry.error_code != 0 || entry.partitions.len() != zk.assignment.len() {
            differences.push(format!(
                "{topic}: error {} with {} partitions, ZooKeeper has {}",
                entry.error_code,
                entry.partitions.len(),
                zk.assignment.len()
            ));
        }
        for partition in &entry.partitions {
            let p = partition.partition_index;
            let (Some(replicas), Some(state)) = (zk.assignment.get(&p), zk.states.get(&p)) else {
                differences.push(format!("{topic}-{p} is not in ZooKeeper"));
                continue;
            };
            let mut isr = partition.isr_nodes.clone();
            isr.sort_unstable();
            let mut zk_isr = state.isr.clone();
            zk_isr.sort_unstable();
            let seen = (
                partition.leader_id,
                partition.leader_epoch,
                &partition.replica_nodes,
                isr,
            );
            let expected = (state.leader, state.leader_epoch, replicas, zk_isr);
            if partition.error_code != 0 || seen != expected {
                differences.push(format!(
                    "{topic}-{p}: error {}, (leader, epoch, replicas, isr) {seen:?}, \
                     ZooKeeper has {expected:?}",
                    partition.error_code
                ));
            }
        }
        Ok(differences)
    }

    /// Waits until each of `brokers` answers Metadata in agreement with
    /// ZooKeeper about the registered brokers, the controller and every
    /// partition of `topic` (all of which must have a leader); returns the
    /// topic as ZooKeeper has it.
    ///
    /// Polls the brokers (cheap) until they agree with each other, and only
    /// then reads ZooKeeper (a zkCli call per znode) to compare.
    pub fn wait_until_metadata_agrees(
        &self,
        brokers: &[i32],
        topic: &str,
        timeout: Duration,
    ) -> Result<TopicInZk> {
        let mut last = String::from("nothing compared yet");
        let what = format!("brokers {brokers:?} to agree with ZooKeeper about {topic}");
        let result = wait_until(&what, timeout, || {
            if !self.brokers_agree_on(brokers, topic)? {
                last = "the brokers' Metadata answers differ or lack leaders".into();
                return Ok(None);
            }
            let Some(zk) = self.topic_in_zk(topic)? else {
                last = format!("{topic} is not (completely) in ZooKeeper");
                return Ok(None);
            };
            let registered = self.registered_brokers()?;
            let controller = self.controller_id()?;
            let mut differences = Vec::new();
            for &id in brokers {
                for difference in
                    self.metadata_disagreements(id, &registered, controller, topic, &zk)?
                {
                    differences.push(format!("broker {id}: {difference}"));
                }
            }
            if differences.is_empty() {
                return Ok(Some(zk));
            }
            last = differences.join("\n");
            Ok(None)
        });
        result.with_context(|| format!("last difference:\n{last}"))
    }

    /// Whether `brokers` give the same Metadata answer for `topic`, with a
    /// leader for every partition.
    fn brokers_agree_on(&self, brokers: &[i32], topic: &str) -> Result<bool> {
        let mut answers = Vec::new();
        for &id in brokers {
            let mut metadata = self.metadata_from(id)?;
            metadata.brokers.sort_by_key(|b| b.node_id);
            let Some(mut entry) = metadata.topics.into_iter().find(|t| t.name == topic) else {
                return Ok(false);
            };
            if entry.partitions.is_empty() || entry.partitions.iter().any(|p| p.leader_id < 0) {
                return Ok(false);
            }
            entry.partitions.sort_by_key(|p| p.partition_index);
            answers.push((metadata.controller_id, metadata.brokers, entry));
        }
        Ok(answers.windows(2).all(|pair| pair[0] == pair[1]))
    }

    /// Every controller election the brokers have logged, in all their
    /// runs, by epoch.
    pub fn logged_elections(&self) -> Result<Vec<LoggedElection>> {
        let mut elections = Vec::new();
        for broker in &self.brokers {
            let path = broker.log_path();
            let log =
                fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            for line in log.lines() {
                if let Some(election) = parse_election(line)? {
                    ensure!(
                        election.broker == broker_id(broker),
                        "broker {}'s log says: {line}",
                        broker.id()
                    );
                    elections.push(election);
                }
            }
        }
        elections.sort();
        Ok(elections)
    }
}

fn broker_id(broker: &Broker) -> i32 {
    i32::try_from(broker.id()).expect("the harness starts brokers with small ids")
}

/// `Some` if `line` is gregor's "broker <id> elected controller with epoch
/// <epoch>" log line.
fn parse_election(line: &str) -> Result<Option<LoggedElection>> {
    let Some((head, epoch)) = line.split_once(ELECTED) else {
        return Ok(None);
    };
    let broker = head
        .rsplit_once("broker ")
        .and_then(|(_, id)| id.parse().ok())
        .with_context(|| format!("no broker id in the election line {line:?}"))?;
    let epoch = epoch
        .trim()
        .parse()
        .with_context(|| format!("no epoch in the election line {line:?}"))?;
    Ok(Some(LoggedElection { epoch, broker }))
}

/// Milliseconds since the Unix epoch, comparable with the timestamps
/// brokers write into ZooKeeper.
pub fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// Fails unless no epoch was won twice: no two brokers ever acted as
/// controller with the same epoch (and no broker won one epoch twice).
pub fn ensure_distinct_epochs(elections: &[LoggedElection]) -> Result<()> {
    for pair in elections.windows(2) {
        if pair[0].epoch == pair[1].epoch {
            bail!(
                "epoch {} was won twice, by brokers {} and {}; all elections: {elections:?}",
                pair[0].epoch,
                pair[0].broker,
                pair[1].broker
            );
        }
    }
    Ok(())
}

/// A partition directory's log segments and leader epoch checkpoint, by
/// file name: what must be byte-identical on every replica.
pub fn replica_files(partition_dir: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(partition_dir)
        .with_context(|| format!("listing {}", partition_dir.display()))?
    {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if name.ends_with(".log") || name == "leader-epoch-checkpoint" {
            files.insert(name, fs::read(&path)?);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_election_log_line() -> Result<()> {
        let line = "[2026-01-01T00:00:00Z INFO  gregor_broker::controller::election] \
                    broker 2 elected controller with epoch 7";
        assert_eq!(
            parse_election(line)?,
            Some(LoggedElection {
                epoch: 7,
                broker: 2
            })
        );
        assert_eq!(parse_election("broker 2 resigns as controller")?, None);
        assert!(parse_election("x elected controller with epoch seven").is_err());
        Ok(())
    }

    #[test]
    fn an_epoch_won_twice_is_reported() {
        let once = [
            LoggedElection {
                epoch: 1,
                broker: 1,
            },
            LoggedElection {
                epoch: 2,
                broker: 1,
            },
        ];
        assert!(ensure_distinct_epochs(&once).is_ok());
        let twice = [
            LoggedElection {
                epoch: 1,
                broker: 1,
            },
            LoggedElection {
                epoch: 1,
                broker: 3,
            },
        ];
        assert!(ensure_distinct_epochs(&twice).is_err());
    }

    #[test]
    fn kafka_znode_json_parses_and_unknown_fields_do_not() -> Result<()> {
        let state: PartitionStateZNode = serde_json::from_str(
            r#"{"controller_epoch":7,"leader":1,"version":1,"leader_epoch":3,"isr":[1,2,3]}"#,
        )?;
        assert_eq!(state.isr, [1, 2, 3]);
        assert!(serde_json::from_str::<PartitionStateZNode>(
            r#"{"controller_epoch":7,"leader":1,"version":1,"leader_epoch":3,"isr":[1],"x":0}"#
        )
        .is_err());
        let topic: TopicZNode = serde_json::from_str(
            r#"{"version":3,"topic_id":"AAAAAAAAAAAAAAAAAAAAAA","partitions":{"0":[1,2],"1":[2,1]},
                "adding_replicas":{},"removing_replicas":{}}"#,
        )?;
        assert_eq!(topic.assignment()?[&1], [2, 1]);
        Ok(())
    }
}
