//! Real ZooKeeper servers from Debian's `zookeeper` package, one process per
//! node, on free loopback ports in a temporary directory.
//!
//! Nodes are configured from `zk/zoo.cfg.template` and launched with
//! `zk/run-node.sh`, the same files `zk/ensemble.sh` uses, so tests and
//! local clusters run ZooKeeper the same way.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use std::{fmt::Write as _, fs};

use anyhow::{anyhow, bail, ensure, Context, Result};
use tempfile::TempDir;

use crate::ports::{free_port, free_port_below_ephemeral_range};
use crate::process::{run_with_timeout, wait_until, ManagedProcess};
use crate::repo_root;

const ZOO_CFG_TEMPLATE: &str = include_str!("../../zk/zoo.cfg.template");
const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";
const ZK_CLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";

/// Start-up and re-election bound. Generous because parallel tests may run
/// several JVMs on a 2-core machine; a healthy ensemble serves in ~1 s.
const SERVE_TIMEOUT: Duration = Duration::from_secs(60);
/// zkCli is a JVM too; its own connection attempts give up after
/// `ZK_CLI_SESSION_TIMEOUT_MS`, so this only catches a hung process.
const ZK_CLI_TIMEOUT: Duration = Duration::from_secs(60);
const ZK_CLI_SESSION_TIMEOUT_MS: &str = "10000";
const FOUR_LETTER_WORD_TIMEOUT: Duration = Duration::from_secs(2);

/// Fails with the fix if Debian's ZooKeeper is absent, so that tests needing
/// it fail clearly instead of timing out.
fn ensure_installed() -> Result<()> {
    for path in [ZOOKEEPER_JAR, ZK_CLI] {
        ensure!(
            Path::new(path).exists(),
            "ZooKeeper is not installed ({path} is missing): run `bash .ci/install-deps`"
        );
    }
    Ok(())
}

/// Sends a four-letter word (`ruok`, `srvr`, `stat`, `mntr`) to the server
/// at `address` (`host:port`) and returns its whole answer.
pub fn four_letter_word(address: &str, word: &str) -> Result<String> {
    let addr: SocketAddr = address.parse().context("parsing a ZooKeeper address")?;
    let mut stream = TcpStream::connect_timeout(&addr, FOUR_LETTER_WORD_TIMEOUT)?;
    stream.set_read_timeout(Some(FOUR_LETTER_WORD_TIMEOUT))?;
    stream.write_all(word.as_bytes())?;
    let mut answer = String::new();
    // The server closes the connection after answering.
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// The `Mode:` line of a `srvr` answer: `leader`, `follower` or
/// `standalone`. A node that is up but not serving answers without one.
fn serving_mode(address: &str) -> Option<String> {
    if four_letter_word(address, "ruok").ok()? != "imok" {
        return None;
    }
    let srvr = four_letter_word(address, "srvr").ok()?;
    srvr.lines()
        .find_map(|line| line.strip_prefix("Mode: "))
        .map(str::to_owned)
}

/// Runs Debian's `zkCli.sh -server <connect> <args…>` (one command, e.g.
/// `["get", "/gregor/controller"]`) and returns its stdout without the
/// connection banner zkCli prints before the command's output. Fails if
/// zkCli exits non-zero (no connection, `Node does not exist`, …).
///
/// Note that zkCli prints some confirmations (`Created /t`) on stderr.
pub fn zk_cli(connect: &str, args: &[&str]) -> Result<String> {
    ensure_installed()?;
    let mut cmd = Command::new(ZK_CLI);
    cmd.args(["-server", connect, "-timeout", ZK_CLI_SESSION_TIMEOUT_MS])
        .arg("-waitforconnection")
        .args(args);
    let output = run_with_timeout(cmd, ZK_CLI_TIMEOUT)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "zkCli {args:?} against {connect} failed ({}):\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    const CONNECTED: &str = "WatchedEvent state:SyncConnected type:None path:null\n";
    let command_output = stdout
        .find(CONNECTED)
        .map_or(&*stdout, |at| &stdout[at + CONNECTED.len()..]);
    Ok(command_output.to_owned())
}

/// One server: its configuration on disk and, while it runs, its process.
struct ZkNode {
    myid: usize,
    address: String,
    config: PathBuf,
    log: PathBuf,
    process: Option<ManagedProcess>,
}

impl ZkNode {
    /// Writes `<dir>/node<myid>/{zoo.cfg, data/myid}`; `servers` holds the
    /// ensemble's `server.N` lines (empty for a standalone server).
    fn create(dir: &Path, myid: usize, client_port: u16, servers: &str) -> Result<Self> {
        let node_dir = dir.join(format!("node{myid}"));
        let data_dir = node_dir.join("data");
        fs::create_dir_all(&data_dir)?;
        fs::write(data_dir.join("myid"), format!("{myid}\n"))?;
        let config = node_dir.join("zoo.cfg");
        let text = ZOO_CFG_TEMPLATE
            .replace("@DATA_DIR@", &data_dir.to_string_lossy())
            .replace("@CLIENT_PORT@", &client_port.to_string());
        fs::write(&config, text + servers)?;
        Ok(Self {
            myid,
            address: format!("127.0.0.1:{client_port}"),
            config,
            log: node_dir.join("node.log"),
            process: None,
        })
    }

    fn spawn(&mut self) -> Result<()> {
        let mut cmd = Command::new(repo_root().join("zk/run-node.sh"));
        cmd.arg(&self.config);
        let name = format!("ZooKeeper node {} ({})", self.myid, self.address);
        self.process = Some(ManagedProcess::spawn(name, cmd, &self.log)?);
        Ok(())
    }

    /// The node's mode if it serves; an error if its process has died.
    fn poll_mode(&mut self) -> Result<Option<String>> {
        if let Some(process) = &mut self.process {
            process.check_running()?;
        }
        Ok(serving_mode(&self.address))
    }
}

/// A ZooKeeper ensemble of real server processes. Dropping it kills them
/// all and deletes their data.
pub struct ZkEnsemble {
    // Declared before `dir` so the processes die before their files go.
    nodes: Vec<ZkNode>,
    dir: TempDir,
}

impl ZkEnsemble {
    /// Starts `size` nodes (1 = standalone mode) and returns once every node
    /// serves and, for an ensemble, a leader has been elected.
    pub fn start(size: usize) -> Result<Self> {
        let mut ensemble = Self::configure(size)?;
        for node in &mut ensemble.nodes {
            node.spawn()?;
        }
        ensemble.wait_for_quorum()?;
        Ok(ensemble)
    }

    /// Writes `size` nodes' configurations on free ports without starting
    /// any, so brokers can be pointed at ZooKeeper before it runs; start
    /// each node with [`restart`](Self::restart). Client ports lie below the
    /// ephemeral range, where a client that tries to connect first cannot
    /// take the port for itself.
    pub fn configure(size: usize) -> Result<Self> {
        ensure_installed()?;
        ensure!(size >= 1, "an ensemble needs at least one node");
        let dir = tempfile::Builder::new().prefix("gregor-zk-").tempdir()?;
        let mut servers = String::new();
        if size > 1 {
            for myid in 1..=size {
                let (quorum, election) = (free_port()?, free_port()?);
                writeln!(servers, "server.{myid}=127.0.0.1:{quorum}:{election}")?;
            }
        }
        let nodes = (1..=size)
            .map(|myid| {
                ZkNode::create(
                    dir.path(),
                    myid,
                    free_port_below_ephemeral_range()?,
                    &servers,
                )
            })
            .collect::<Result<_>>()?;
        // Owned by the ensemble before anything is spawned, so that a failed
        // start still kills whatever did start.
        Ok(Self { nodes, dir })
    }

    /// `127.0.0.1:<port>,…` for every node, as `zookeeper.connect` wants it
    /// (append a chroot such as `/gregor`).
    pub fn connect_string(&self) -> String {
        let addresses: Vec<&str> = self.nodes.iter().map(|n| n.address.as_str()).collect();
        addresses.join(",")
    }

    /// `127.0.0.1:<port>` of node `i` (0-based), to talk to one node only.
    pub fn address(&self, i: usize) -> &str {
        &self.nodes[i].address
    }

    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    /// Where the nodes' configs, data and logs live.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The pid of node `i`, or `None` while it is killed.
    pub fn pid(&self, i: usize) -> Option<u32> {
        self.nodes[i].process.as_ref().map(ManagedProcess::pid)
    }

    /// The index of the node that currently reports `Mode: leader`.
    pub fn leader(&self) -> Result<usize> {
        self.nodes
            .iter()
            .position(|n| {
                n.process.is_some() && serving_mode(&n.address).as_deref() == Some("leader")
            })
            .with_context(|| format!("no ZooKeeper node is leader:\n{}", self.describe()))
    }

    /// Kills node `i` with SIGKILL, as a crash would.
    pub fn kill(&mut self, i: usize) -> Result<()> {
        match self.nodes[i].process.take() {
            Some(mut process) => process.kill().map(drop),
            None => bail!("ZooKeeper node {} is not running", i + 1),
        }
    }

    /// Starts node `i` (again, with its data, killing it first if it still
    /// runs) and waits until it has joined the ensemble.
    pub fn restart(&mut self, i: usize) -> Result<()> {
        if self.nodes[i].process.is_some() {
            self.kill(i)?;
        }
        self.nodes[i].spawn()?;
        self.wait_for_quorum()
    }

    /// Waits until every running node serves: in standalone mode that it
    /// says `standalone`; in an ensemble, that one running node is leader and
    /// all other running nodes follow it. (Right after a leader dies, its
    /// followers still say `follower` until they notice; requiring a leader
    /// among the living waits out the re-election.) Times out if fewer than
    /// a majority of the nodes run.
    pub fn wait_for_quorum(&mut self) -> Result<()> {
        let standalone = self.nodes.len() == 1;
        let what = format!("ZooKeeper at {} to serve", self.connect_string());
        let result = wait_until(&what, SERVE_TIMEOUT, || {
            let mut leaders = 0;
            for node in self.nodes.iter_mut().filter(|n| n.process.is_some()) {
                match node.poll_mode()?.as_deref() {
                    Some("standalone") if standalone => {}
                    Some("leader") if !standalone => leaders += 1,
                    Some("follower") if !standalone => {}
                    _ => return Ok(None),
                }
            }
            Ok((standalone || leaders == 1).then_some(()))
        });
        result.map_err(|e| anyhow!("{e:#}; node states:\n{}", self.describe()))
    }

    /// Each node's state, for error messages.
    fn describe(&self) -> String {
        let mut text = String::new();
        for node in &self.nodes {
            let state = match &node.process {
                None => "killed".to_owned(),
                Some(process) => format!(
                    "pid {}, mode {}",
                    process.pid(),
                    serving_mode(&node.address).unwrap_or_else(|| "none (not serving)".into())
                ),
            };
            let _ = writeln!(
                text,
                "node {} at {}: {state}; log {}",
                node.myid,
                node.address,
                node.log.display()
            );
        }
        text
    }
}

/// A standalone ZooKeeper server: a one-node [`ZkEnsemble`] (node index 0).
pub struct ZooKeeper(ZkEnsemble);

impl ZooKeeper {
    pub fn start_standalone() -> Result<Self> {
        ZkEnsemble::start(1).map(Self)
    }

    /// A standalone server configured on a free port but not started:
    /// [`restart`](ZkEnsemble::restart)`(0)` starts it.
    pub fn configure_standalone() -> Result<Self> {
        ZkEnsemble::configure(1).map(Self)
    }
}

impl Deref for ZooKeeper {
    type Target = ZkEnsemble;

    fn deref(&self) -> &ZkEnsemble {
        &self.0
    }
}

impl DerefMut for ZooKeeper {
    fn deref_mut(&mut self) -> &mut ZkEnsemble {
        &mut self.0
    }
}
