//! The README as a new user meets it (issue 9's acceptance): its first
//! command (`bash zk/quickstart.sh`) run for real, then every ```sh block
//! between `<!-- tour:begin -->` and `<!-- tour:end -->`, exactly as written,
//! each in a fresh `bash` in the repository root, in order (a block may rely
//! on what earlier blocks did to the cluster, not on their shell variables),
//! and at the end, also on failure, the README's stop command.
//!
//! The test does not know which tool a block uses. It checks the outcomes
//! with its own eyes (the quickstart's pid files, zkCli, kcat):
//! - the quickstart is safe to run twice (the same processes keep running);
//! - the tour leaves one topic with 3 partitions of 3 replicas, and some
//!   block printed exactly the records that topic holds (a consumer showed
//!   what was produced);
//! - a ```text block right after a ```sh block is what that block prints
//!   (lines in any order: a topic's partitions are read in any order);
//! - a broker that a block stops led a partition of that topic, and its
//!   partitions get another live leader and an ISR without it; a partition
//!   state a block prints (zkCli's JSON) names a live leader, and one
//!   printed before the kill and one after show the leader moved;
//! - a broker a block starts again registers and rejoins every ISR;
//! - after the README's stop and start commands, the same topic (same id,
//!   same assignment) holds the same records at the same offsets.
//!
//! Isolation: the quickstart runs with `HOME` set to a temporary directory,
//! so its data goes to `<temp>/.gregor`, never to the user's; cargo keeps
//! its own `CARGO_HOME`, `RUSTUP_HOME` and this test's target directory.
//! The README's commands name the quickstart's fixed ports (ZooKeeper
//! 2181-2183, brokers 9092-9094), so the test needs them free and fails
//! at once, saying which, if they are not (a quickstart cluster of your own
//! is running: `bash zk/quickstart.sh stop`).

use std::collections::{BTreeMap, BTreeSet};
use std::env;
use std::fs;
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use integration_tests::cluster::{PartitionStateZNode, TopicInZk, Znodes};
use integration_tests::{build_dirs, kcat, repo_root, run_with_timeout, wait_until};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tempfile::TempDir;

/// The quickstart's `zookeeper.connect` and bootstrap servers.
const ZK_CONNECT: &str = "127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183/gregor";
const BOOTSTRAP: &str = "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094";
/// Every port the quickstart listens on: ZooKeeper's clients, followers and
/// leader elections (`zk/ensemble.sh`), then the brokers.
const PORTS: [u16; 12] = [
    2181, 2182, 2183, 2888, 2889, 2890, 3888, 3889, 3890, 9092, 9093, 9094,
];
/// The quickstart's broker ids, and its ZooKeeper nodes' `myid`s.
const BROKERS: [i32; 3] = [1, 2, 3];
const ZK_NODES: [i32; 3] = [1, 2, 3];
/// Partitions and replicas of the tour's topic (the quickstart's
/// `num.partitions` and `default.replication.factor`).
const PARTITIONS: usize = 3;
/// `__consumer_offsets` exists once any group has been used; not the tour's.
const INTERNAL_TOPICS: [&str; 1] = ["__consumer_offsets"];

/// The first start compiles gregor in release mode, from nothing in CI.
const FIRST_START_TIMEOUT: Duration = Duration::from_secs(1800);
/// Any other block, quickstart runs included (the build is then done).
const BLOCK_TIMEOUT: Duration = Duration::from_secs(300);
/// A stopped leader's partitions move at once (controlled shutdown); a
/// killed one's after `zookeeper.session.timeout.ms` (18 s), plus the
/// controller's work.
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(60);
/// A restarted broker registers, catches up and rejoins the ISRs.
const REJOIN_TIMEOUT: Duration = Duration::from_secs(90);
/// kcat reading the tour's few records.
const KCAT_TIMEOUT: Duration = Duration::from_secs(60);

/// A fenced block of the README's tour.
#[derive(Debug)]
struct ShBlock {
    code: String,
    /// The ```text block right after it: what it prints.
    expected: Option<String>,
}

/// What the test takes from README.md.
struct Readme {
    /// Its first ```sh block: start the cluster.
    start: String,
    /// Its second: stop it.
    stop: String,
    tour: Vec<ShBlock>,
}

impl Readme {
    fn read() -> Result<Self> {
        let path = repo_root().join("README.md");
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let sh: Vec<String> = fenced_blocks(&text)?
            .into_iter()
            .filter(|b| b.lang == "sh")
            .map(|b| b.body)
            .collect();
        let [start, stop, ..] = sh.as_slice() else {
            bail!("README.md has fewer than two ```sh blocks (start, stop)");
        };
        ensure!(
            start.contains("quickstart.sh") && !start.contains("stop"),
            "README.md's first command is not the quickstart's start: {start:?}"
        );
        ensure!(
            stop.contains("quickstart.sh stop"),
            "README.md's second command is not the quickstart's stop: {stop:?}"
        );
        let begin = text
            .find("<!-- tour:begin -->")
            .context("README.md has no <!-- tour:begin -->")?;
        let end = text
            .find("<!-- tour:end -->")
            .context("README.md has no <!-- tour:end -->")?;
        ensure!(begin < end, "<!-- tour:end --> before <!-- tour:begin -->");
        let tour = tour_blocks(&text[begin..end])?;
        ensure!(!tour.is_empty(), "the README's tour has no ```sh block");
        Ok(Self {
            start: start.clone(),
            stop: stop.clone(),
            tour,
        })
    }
}

/// A fenced code block: its info string, its text, and whether only blank
/// lines separate it from the block before.
struct Fenced {
    lang: String,
    body: String,
    follows_previous: bool,
}

/// The fenced blocks of a Markdown text (``` fences at the start of a line).
fn fenced_blocks(markdown: &str) -> Result<Vec<Fenced>> {
    let mut blocks = Vec::new();
    let mut open: Option<Fenced> = None;
    let mut prose_since_block = true;
    for line in markdown.lines() {
        if let Some(block) = open.as_mut() {
            if line.trim_end() == "```" {
                blocks.extend(open.take());
                prose_since_block = false;
            } else {
                block.body.push_str(line);
                block.body.push('\n');
            }
        } else if let Some(lang) = line.strip_prefix("```") {
            open = Some(Fenced {
                lang: lang.trim().to_owned(),
                body: String::new(),
                follows_previous: !prose_since_block,
            });
        } else if !line.trim().is_empty() {
            prose_since_block = true;
        }
    }
    ensure!(open.is_none(), "a ``` block in README.md is never closed");
    Ok(blocks)
}

/// The tour's ```sh blocks, each with the ```text block right after it.
fn tour_blocks(section: &str) -> Result<Vec<ShBlock>> {
    let mut tour: Vec<ShBlock> = Vec::new();
    for block in fenced_blocks(section)? {
        match block.lang.as_str() {
            "sh" => tour.push(ShBlock {
                code: block.body,
                expected: None,
            }),
            "text" => {
                let previous = tour.last_mut().filter(|_| block.follows_previous);
                let Some(previous) = previous.filter(|p| p.expected.is_none()) else {
                    bail!(
                        "the tour's ```text block {:?} does not come right after a ```sh block",
                        block.body
                    );
                };
                previous.expected = Some(block.body);
            }
            other => bail!("the tour has a ```{other} block; only sh and text are run or checked"),
        }
    }
    Ok(tour)
}

/// A new user's shell: `HOME` is a temporary directory, cargo's own
/// directories are kept.
struct NewUser {
    home: TempDir,
    cargo_home: PathBuf,
    rustup_home: PathBuf,
    target_dir: PathBuf,
}

impl NewUser {
    fn new() -> Result<Self> {
        let real_home = env::var_os("HOME").map(PathBuf::from);
        let kept = |var: &str, default: &str| -> Result<PathBuf> {
            env::var_os(var)
                .map(PathBuf::from)
                .or_else(|| real_home.as_ref().map(|home| home.join(default)))
                .with_context(|| format!("neither {var} nor HOME is set"))
        };
        Ok(Self {
            home: tempfile::tempdir()?,
            cargo_home: kept("CARGO_HOME", ".cargo")?,
            rustup_home: kept("RUSTUP_HOME", ".rustup")?,
            target_dir: build_dirs()?.0,
        })
    }

    /// Runs `code` with `bash -e -o pipefail` in the repository root and
    /// returns its stdout; fails with both streams unless it exits 0.
    fn bash(&self, code: &str, timeout: Duration) -> Result<String> {
        let mut cmd = Command::new("bash");
        cmd.args(["-e", "-o", "pipefail", "-c", code])
            .current_dir(repo_root())
            .env("HOME", self.home.path())
            .env("CARGO_HOME", &self.cargo_home)
            .env("RUSTUP_HOME", &self.rustup_home)
            .env("CARGO_TARGET_DIR", &self.target_dir);
        // The quickstart's defaults, as a new user has them.
        for var in ["GREGOR_HOME", "ZK_BASE_PORT", "BROKER_BASE_PORT", "BROKERS"] {
            cmd.env_remove(var);
        }
        let output = run_with_timeout(cmd, timeout)?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        ensure!(
            output.status.success(),
            "exited with {}:\n{code}\nstdout:\n{stdout}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(stdout)
    }

    /// `~/.gregor`, where the quickstart keeps everything.
    fn gregor_home(&self) -> PathBuf {
        self.home.path().join(".gregor")
    }

    /// The pids in the quickstart's pid files: broker id → pid, and the
    /// ZooKeeper nodes' (`<id>` → pid).
    fn pids(&self) -> Result<(BTreeMap<i32, Pid>, BTreeMap<i32, Pid>)> {
        let home = self.gregor_home();
        let read = |ids: [i32; 3], pattern: fn(i32) -> String| -> Result<BTreeMap<i32, Pid>> {
            let mut pids = BTreeMap::new();
            for id in ids {
                let file = home.join(pattern(id));
                match fs::read_to_string(&file) {
                    Ok(text) => {
                        let pid = text
                            .trim()
                            .parse()
                            .with_context(|| format!("{} holds {text:?}", file.display()))?;
                        pids.insert(id, Pid::from_raw(pid));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e).context(format!("reading {}", file.display())),
                }
            }
            Ok(pids)
        };
        Ok((
            read(BROKERS, |id| format!("broker-{id}/broker.pid"))?,
            read(ZK_NODES, |id| format!("zk/node{id}/node.pid"))?,
        ))
    }

    /// The brokers whose pid file names a live process.
    fn alive_brokers(&self) -> Result<BTreeSet<i32>> {
        Ok(self
            .pids()?
            .0
            .into_iter()
            .filter(|(_, pid)| is_alive(*pid))
            .map(|(id, _)| id)
            .collect())
    }
}

/// Whether `pid` is a running process: signal 0 reaches it and it is not a
/// zombie (a process whose parent exited lingers as one until init reaps
/// it; `/proc/<pid>/stat` has its state after the command name).
fn is_alive(pid: Pid) -> bool {
    let zombie = fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
    });
    kill(pid, None).is_ok() && !zombie
}

/// Fails naming the first of the quickstart's ports something listens on.
fn ensure_ports_free() -> Result<()> {
    for port in PORTS {
        ensure!(
            TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok(),
            "port {port} is in use, but the README's commands need the quickstart's \
             ports {PORTS:?}: stop what uses it (a quickstart cluster of your own: \
             `bash zk/quickstart.sh stop`)"
        );
    }
    Ok(())
}

/// While it lives, the quickstart cluster runs: dropping it runs the
/// README's stop command, then kills whatever that left of the processes
/// it started (found through their pid files and their command lines,
/// which name the temporary home).
struct Running<'a> {
    user: &'a NewUser,
    stop: &'a str,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let started = self.user.pids();
        if let Err(e) = self.user.bash(self.stop, BLOCK_TIMEOUT) {
            eprintln!("the README's stop command failed: {e:#}");
        }
        let Ok((brokers, zookeepers)) = started else {
            return;
        };
        let home = self.user.home.path().to_string_lossy().into_owned();
        for pid in brokers.values().chain(zookeepers.values()) {
            let ours = fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains(&home));
            if ours {
                eprintln!("killing pid {pid}, left running by the stop command");
                let _ = kill(*pid, Signal::SIGKILL);
            }
        }
    }
}

/// The tour's topics as ZooKeeper holds them, and which brokers run.
#[derive(Debug)]
struct Snapshot {
    alive: BTreeSet<i32>,
    topics: BTreeMap<String, TopicInZk>,
}

fn snapshot(user: &NewUser, znodes: &Znodes) -> Result<Snapshot> {
    let names = znodes.zk_ls("/brokers/topics")?.unwrap_or_default();
    let mut topics = BTreeMap::new();
    for name in names {
        if INTERNAL_TOPICS.contains(&name.as_str()) {
            continue;
        }
        let topic = wait_until(
            &format!("every partition of {name} to have a state znode"),
            FAILOVER_TIMEOUT,
            || znodes.topic_in_zk(&name),
        )?;
        topics.insert(name, topic);
    }
    Ok(Snapshot {
        alive: user.alive_brokers()?,
        topics,
    })
}

/// Waits until no partition of the tour's topics that `dead` led in
/// `before` is led by it or has it in its ISR, and each has a live leader.
fn wait_for_failover(
    znodes: &Znodes,
    before: &Snapshot,
    dead: i32,
    alive: &BTreeSet<i32>,
) -> Result<()> {
    for (name, topic) in &before.topics {
        let led = topic.led_by(dead);
        let what = format!("partitions {led:?} of {name}, led by stopped broker {dead}, to move");
        let mut last = None;
        let moved = wait_until(&what, FAILOVER_TIMEOUT, || {
            last = znodes.topic_in_zk(name)?;
            Ok(last
                .as_ref()
                .filter(|now| {
                    led.iter().all(|p| {
                        now.states.get(p).is_some_and(|s| {
                            s.leader != dead && alive.contains(&s.leader) && !s.isr.contains(&dead)
                        })
                    })
                })
                .map(|_| ()))
        });
        moved.with_context(|| format!("last seen: {last:?}"))?;
    }
    Ok(())
}

/// Waits until exactly the brokers `alive` are registered and every
/// partition of the tour's topics has a leader and all its replicas in
/// its ISR.
fn wait_for_whole_cluster(znodes: &Znodes, alive: &BTreeSet<i32>) -> Result<()> {
    let want: Vec<i32> = alive.iter().copied().collect();
    wait_until(
        &format!("/brokers/ids to list {want:?}"),
        REJOIN_TIMEOUT,
        || Ok((znodes.registered_brokers()? == want).then_some(())),
    )?;
    let names = znodes.zk_ls("/brokers/topics")?.unwrap_or_default();
    for name in names
        .iter()
        .filter(|n| !INTERNAL_TOPICS.contains(&n.as_str()))
    {
        let mut last = None;
        let whole = wait_until(
            &format!("every replica of {name} in its ISR"),
            REJOIN_TIMEOUT,
            || {
                last = znodes.topic_in_zk(name)?;
                Ok(last.as_ref().filter(|t| full_isrs(t)).map(|_| ()))
            },
        );
        whole.with_context(|| format!("last seen: {last:?}"))?;
    }
    Ok(())
}

fn full_isrs(topic: &TopicInZk) -> bool {
    topic.assignment.iter().all(|(p, replicas)| {
        topic.states.get(p).is_some_and(|s| {
            let isr: BTreeSet<i32> = s.isr.iter().copied().collect();
            s.leader >= 0 && isr == replicas.iter().copied().collect()
        })
    })
}

/// The partition states (zkCli's JSON) among a block's output lines.
fn printed_states(stdout: &str) -> Result<Vec<PartitionStateZNode>> {
    stdout
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with('{') && line.contains("\"leader\""))
        .map(|line| {
            serde_json::from_str(line)
                .with_context(|| format!("printed {line:?}, not a partition state"))
        })
        .collect()
}

fn sorted_lines(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines.sort_unstable();
    lines
}

/// Every record of `topic`, read with kcat: `<partition> <offset> <value>`
/// lines, sorted.
fn records(topic: &str) -> Result<Vec<String>> {
    let stdout = kcat(
        [
            "-b",
            BOOTSTRAP,
            "-C",
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%p %o %s\n",
        ],
        KCAT_TIMEOUT,
    )?
    .success()?;
    let mut lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    lines.sort_unstable();
    Ok(lines)
}

/// What the tour did, block by block.
#[derive(Default)]
struct TourLog {
    outputs: Vec<String>,
    /// (block index, broker the block stopped)
    stopped: Vec<(usize, i32)>,
    /// (block index, leader of a partition state the block printed)
    shown_leaders: Vec<(usize, i32)>,
}

/// Runs the tour's blocks in order, checking after each what it did.
fn run_tour(user: &NewUser, znodes: &Znodes, tour: &[ShBlock]) -> Result<TourLog> {
    let mut log = TourLog::default();
    let mut before = snapshot(user, znodes)?;
    for (i, block) in tour.iter().enumerate() {
        let step = format!("tour block {} of {}:\n{}", i + 1, tour.len(), block.code);
        eprintln!("running {step}");
        let stdout = user
            .bash(&block.code, BLOCK_TIMEOUT)
            .context(step.clone())?;
        eprint!("{stdout}");
        let alive = user.alive_brokers()?;
        for &dead in before.alive.difference(&alive) {
            let led: Vec<_> = before
                .topics
                .values()
                .flat_map(|t| t.led_by(dead))
                .collect();
            ensure!(
                !led.is_empty(),
                "{step}\nstopped broker {dead}, which led no partition of {:?}",
                before.topics.keys()
            );
            wait_for_failover(znodes, &before, dead, &alive).context(step.clone())?;
            log.stopped.push((i, dead));
        }
        if alive.difference(&before.alive).next().is_some() {
            wait_for_whole_cluster(znodes, &alive).context(step.clone())?;
        }
        if let Some(expected) = &block.expected {
            ensure!(
                sorted_lines(&stdout) == sorted_lines(expected),
                "{step}\nprinted (in any order)\n{stdout}\nwhere the README shows\n{expected}"
            );
        }
        for state in printed_states(&stdout).context(step.clone())? {
            ensure!(
                alive.contains(&state.leader) && state.isr.contains(&state.leader),
                "{step}\nprinted {state:?}, whose leader is not a live broker in its ISR \
                 (live: {alive:?})"
            );
            log.shown_leaders.push((i, state.leader));
        }
        log.outputs.push(stdout);
        before = snapshot(user, znodes)?;
    }
    Ok(log)
}

/// The tour's outcome: one topic of 3 partitions × 3 replicas, every
/// broker back, a leader stopped and seen to move, and a block that
/// printed exactly the topic's records. Returns the topic's name.
fn check_tour(user: &NewUser, znodes: &Znodes, log: &TourLog) -> Result<String> {
    let end = snapshot(user, znodes)?;
    let names: Vec<&String> = end.topics.keys().collect();
    let [name] = names.as_slice() else {
        bail!("the tour left the topics {names:?}, expected one");
    };
    let topic = &end.topics[*name];
    let brokers: BTreeSet<i32> = BROKERS.into_iter().collect();
    ensure!(
        topic.assignment.len() == PARTITIONS
            && topic
                .assignment
                .values()
                .all(|r| r.len() == BROKERS.len() && r.iter().copied().collect::<BTreeSet<_>>() == brokers),
        "{name} is assigned {:?}, expected {PARTITIONS} partitions with a replica on each of {BROKERS:?}",
        topic.assignment
    );
    ensure!(
        end.alive == brokers,
        "after the tour only brokers {:?} run",
        end.alive
    );

    let &(kill_block, killed) = log.stopped.first().context("the tour stopped no broker")?;
    let shown_before = log
        .shown_leaders
        .iter()
        .any(|&(i, l)| i < kill_block && l == killed);
    let shown_after = log
        .shown_leaders
        .iter()
        .any(|&(i, l)| i > kill_block && l != killed);
    ensure!(
        shown_before && shown_after,
        "the tour stopped broker {killed} in block {} but did not show it leading before \
         and another broker leading after (leaders shown, by block: {:?})",
        kill_block + 1,
        log.shown_leaders
    );

    let held = records(name)?;
    ensure!(!held.is_empty(), "{name} holds no records after the tour");
    let mut values: Vec<&str> = held
        .iter()
        .map(|r| r.splitn(3, ' ').nth(2).unwrap_or_default())
        .collect();
    values.sort_unstable();
    ensure!(
        log.outputs.iter().any(|out| sorted_lines(out) == values),
        "no tour block printed exactly the records of {name}: {held:?}"
    );
    Ok((*name).clone())
}

#[test]
fn the_readme_tour_works_as_written() -> Result<()> {
    let readme = Readme::read()?;
    ensure_ports_free()?;
    let user = NewUser::new()?;
    let znodes = Znodes::new(ZK_CONNECT);
    let brokers: BTreeSet<i32> = BROKERS.into_iter().collect();

    let cluster = Running {
        user: &user,
        stop: &readme.stop,
    };
    eprintln!("starting the cluster: {}", readme.start);
    user.bash(&readme.start, FIRST_START_TIMEOUT)?;
    wait_for_whole_cluster(&znodes, &brokers)?;
    let started = user.pids()?;
    ensure!(
        started.0.len() == BROKERS.len() && started.1.len() == ZK_NODES.len(),
        "pid files after the start: {started:?}"
    );

    // Running it again is safe: the same processes keep running.
    user.bash(&readme.start, BLOCK_TIMEOUT)?;
    ensure!(
        user.pids()? == started,
        "a second start changed the processes"
    );
    ensure!(
        user.alive_brokers()? == brokers,
        "after a second start only brokers {:?} run",
        user.alive_brokers()?
    );

    let log = run_tour(&user, &znodes, &readme.tour)?;
    let topic = check_tour(&user, &znodes, &log)?;

    // Stop, start: the same topic holds the same records.
    let before = znodes.topic_assignment(&topic)?;
    let held = records(&topic)?;
    let (broker_pids, zk_pids) = user.pids()?;
    user.bash(&readme.stop, BLOCK_TIMEOUT)?;
    let left: Vec<&Pid> = broker_pids
        .values()
        .chain(zk_pids.values())
        .filter(|pid| is_alive(**pid))
        .collect();
    ensure!(
        left.is_empty(),
        "the stop command left pids {left:?} running"
    );
    ensure_ports_free().context("after the stop command")?;
    user.bash(&readme.start, BLOCK_TIMEOUT)?;
    wait_for_whole_cluster(&znodes, &brokers)?;
    ensure!(
        znodes.topic_assignment(&topic)? == before,
        "{topic} in ZooKeeper was {before:?} before the restart"
    );
    let again = records(&topic)?;
    ensure!(
        again == held,
        "{topic} held {held:?} before the restart and {again:?} after"
    );
    drop(cluster);
    Ok(())
}

/// The README's own structure, checked without running anything.
#[test]
fn the_tour_is_marked_and_each_output_follows_its_command() -> Result<()> {
    let readme = Readme::read()?;
    ensure!(
        readme.tour.iter().any(|b| b.expected.is_some()),
        "the tour shows no output to check"
    );
    let blocks = tour_blocks("```sh\necho a\n```\n\n```text\na\n```\nprose\n```text\nb\n```\n");
    ensure!(blocks.is_err(), "a text block after prose was accepted");
    let blocks = tour_blocks("```sh\necho a\n```\n\n```text\na\n```\n")?;
    ensure!(
        blocks.len() == 1 && blocks[0].expected.as_deref() == Some("a\n"),
        "{blocks:?}"
    );
    Ok(())
}
