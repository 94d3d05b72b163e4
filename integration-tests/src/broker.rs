//! Broker processes, each with its own port, log dir and log file: `gregor
//! broker`, or Apache Kafka's `kafka.Kafka` with the same `server.properties`
//! for the tests that hold gregor against Kafka.

use std::collections::BTreeMap;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use nix::sys::signal::Signal;
use tempfile::TempDir;

use crate::kafka::kafka_java;
use crate::ports::free_port;
use crate::process::{
    log_tail, run_with_timeout, wait_until, ManagedProcess, LOG_TAIL_LINES, RUN_HEADER,
};
use crate::repo_root;

/// A broker with an empty log dir should serve within 100 ms
/// (docs/ARCHITECTURE.md, "Performance budgets"); this bound is for a
/// loaded machine, for log recovery after a crash and for a Kafka JVM's
/// start (about 3 s on an idle machine).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Heap of a Kafka broker in the tests: enough for a few topics.
const KAFKA_HEAP_MB: u32 = 384;
/// A controlled shutdown hands leadership over before exiting.
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Compiling gregor from scratch on a 2-core machine.
const BUILD_TIMEOUT: Duration = Duration::from_secs(1800);
const DEFAULT_CHROOT: &str = "/gregor";
/// Keys the harness writes itself: `Broker` depends on their values.
const MANAGED_KEYS: [&str; 4] = ["broker.id", "listeners", "log.dirs", "zookeeper.connect"];

/// What to start a broker with. `server.properties` gets `broker.id`,
/// `listeners=PLAINTEXT://127.0.0.1:<free port>`, `log.dirs` in a fresh
/// temporary directory, `zookeeper.connect=<zookeeper><chroot>`, then every
/// [`property`](Self::property).
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    id: u32,
    zookeeper: String,
    chroot: String,
    properties: BTreeMap<String, String>,
    binary: Option<PathBuf>,
    kafka: Option<&'static str>,
}

impl BrokerConfig {
    /// `zookeeper` is a connect string without chroot, such as
    /// [`ZkEnsemble::connect_string`](crate::ZkEnsemble::connect_string);
    /// the chroot defaults to `/gregor`.
    pub fn new(id: u32, zookeeper: &str) -> Self {
        Self {
            id,
            zookeeper: zookeeper.to_owned(),
            chroot: DEFAULT_CHROOT.to_owned(),
            properties: BTreeMap::new(),
            binary: None,
            kafka: None,
        }
    }

    pub fn chroot(mut self, chroot: &str) -> Self {
        self.chroot = chroot.to_owned();
        self
    }

    /// Any other `server.properties` key (`num.partitions`,
    /// `min.insync.replicas`, …).
    pub fn property(mut self, key: &str, value: impl ToString) -> Self {
        self.properties.insert(key.to_owned(), value.to_string());
        self
    }

    /// Runs this executable instead of gregor (it is called the same way,
    /// `<binary> broker --config <file>`).
    pub fn binary(mut self, path: impl Into<PathBuf>) -> Self {
        self.binary = Some(path.into());
        self
    }

    /// Runs Apache Kafka `version` ([`KAFKA_2_8`](crate::KAFKA_2_8), …) in
    /// ZooKeeper mode instead of gregor, with the same `server.properties`.
    pub fn kafka(mut self, version: &'static str) -> Self {
        self.kafka = Some(version);
        self
    }

    pub fn start(self) -> Result<Broker> {
        let mut broker = Broker::launch(self)?;
        broker.wait_until_accepting()?;
        Ok(broker)
    }

    /// Starts the broker without waiting for it to accept connections: a
    /// gregor broker listens only once ZooKeeper has answered, so a test of
    /// a broker started before its ZooKeeper waits with
    /// [`Broker::wait_until_accepting`] when it is ready to.
    pub fn launch(self) -> Result<Broker> {
        Broker::launch(self)
    }
}

/// What a [`Broker`] process runs.
#[derive(Clone, Debug)]
enum Program {
    /// `<binary> broker --config <file>`: gregor, or a stand-in for it.
    Gregor(PathBuf),
    /// `java … kafka.Kafka <file>` with this version's jars.
    Kafka(&'static str),
}

/// A running (or killed, or stopped) gregor broker. Its port, log dir and
/// log file stay the same across [`restart`](Self::restart)s. Dropping it
/// kills the process; if the test is panicking the log tail is printed.
pub struct Broker {
    id: u32,
    port: u16,
    program: Program,
    process: Option<ManagedProcess>,
    // Declared after `process` so the broker dies before its files go.
    dir: TempDir,
}

impl Broker {
    pub fn start(config: BrokerConfig) -> Result<Self> {
        config.start()
    }

    fn launch(config: BrokerConfig) -> Result<Self> {
        if let Some(key) = config
            .properties
            .keys()
            .find(|k| MANAGED_KEYS.contains(&k.as_str()))
        {
            bail!("{key} is set by the harness, not by BrokerConfig::property");
        }
        let program = match (&config.kafka, &config.binary) {
            (Some(version), None) => Program::Kafka(version),
            (Some(_), Some(_)) => bail!("a broker runs either Kafka or a binary, not both"),
            (None, Some(binary)) => Program::Gregor(binary.clone()),
            (None, None) => Program::Gregor(gregor_binary()?),
        };
        let dir = tempfile::Builder::new()
            .prefix(&format!("gregor-broker-{}-", config.id))
            .tempdir()?;
        let port = free_port()?;
        let mut broker = Self {
            id: config.id,
            port,
            program,
            process: None,
            dir,
        };
        fs::create_dir(broker.log_dir())?;
        fs::write(broker.config_path(), broker.server_properties(&config)?)?;
        broker.spawn_process()?;
        Ok(broker)
    }

    fn server_properties(&self, config: &BrokerConfig) -> Result<String> {
        let mut text = String::new();
        writeln!(text, "broker.id={}", self.id)?;
        writeln!(text, "listeners=PLAINTEXT://{}", self.bootstrap())?;
        writeln!(text, "log.dirs={}", self.log_dir().display())?;
        writeln!(
            text,
            "zookeeper.connect={}{}",
            config.zookeeper, config.chroot
        )?;
        for (key, value) in &config.properties {
            writeln!(text, "{key}={value}")?;
        }
        Ok(text)
    }

    /// Starts the process and waits until it accepts connections.
    fn spawn(&mut self) -> Result<()> {
        self.spawn_process()?;
        self.wait_until_accepting()
    }

    /// Starts the process.
    fn spawn_process(&mut self) -> Result<()> {
        let (cmd, program) = match &self.program {
            Program::Gregor(binary) => {
                let mut cmd = Command::new(binary);
                cmd.arg("broker").arg("--config").arg(self.config_path());
                if env::var_os("RUST_LOG").is_none() {
                    cmd.env("RUST_LOG", "info,gregor=debug");
                }
                (cmd, "broker".to_owned())
            }
            Program::Kafka(version) => {
                let mut cmd = kafka_java(version, KAFKA_HEAP_MB)?;
                cmd.arg("kafka.Kafka").arg(self.config_path());
                (cmd, format!("Kafka {version} broker"))
            }
        };
        let name = format!("{program} {} ({})", self.id, self.bootstrap());
        self.process = Some(ManagedProcess::spawn(name, cmd, &self.log_path())?);
        Ok(())
    }

    /// Waits until the running broker accepts connections; an error if it
    /// exits first.
    pub fn wait_until_accepting(&mut self) -> Result<()> {
        let what = format!("broker {} to accept connections", self.id);
        let address = (Ipv4Addr::LOCALHOST, self.port);
        let process = self.running()?;
        wait_until(&what, START_TIMEOUT, || {
            process.check_running()?;
            Ok(TcpStream::connect(address).ok().map(drop))
        })
    }

    /// An error if the broker's process has exited (or was never started).
    pub fn check_running(&mut self) -> Result<()> {
        self.running()?.check_running()
    }

    /// How the broker's process exited, `None` while it runs.
    pub fn exit_status(&mut self) -> Result<Option<ExitStatus>> {
        self.running()?.exit_status()
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    /// The Kafka version this broker runs, `None` for gregor.
    pub fn kafka_version(&self) -> Option<&'static str> {
        match self.program {
            Program::Kafka(version) => Some(version),
            Program::Gregor(_) => None,
        }
    }

    /// `127.0.0.1:<port>`, for `bootstrap.servers` / `kcat -b`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's `log.dirs` (its only one).
    pub fn log_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("server.properties")
    }

    /// The broker's stdout and stderr, all runs appended.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("broker.log")
    }

    /// The pid while a process runs (or is stopped), `None` once killed.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(ManagedProcess::pid)
    }

    /// SIGKILL: a crash, with no chance to flush or deregister.
    pub fn kill9(&mut self) -> Result<()> {
        self.take_process()?.kill().map(drop)
    }

    /// SIGSTOP: the broker freezes with its sockets and ZooKeeper session
    /// open, as in a long GC pause or a partition.
    pub fn sigstop(&mut self) -> Result<()> {
        self.running()?.signal(Signal::SIGSTOP)
    }

    pub fn sigcont(&mut self) -> Result<()> {
        self.running()?.signal(Signal::SIGCONT)
    }

    /// SIGTERM (controlled shutdown) and waits for the exit; the status is
    /// returned so tests can check for a clean exit. On timeout the broker
    /// is killed and the error returned.
    pub fn terminate(&mut self) -> Result<ExitStatus> {
        self.take_process()?.terminate(TERMINATE_TIMEOUT)
    }

    /// Starts the broker again with the same config, port and log dir
    /// (killing it first if it still runs) and waits until it accepts
    /// connections.
    pub fn restart(&mut self) -> Result<()> {
        if self.process.is_some() {
            self.kill9()?;
        }
        self.spawn()
    }

    /// The last lines of the broker's log.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log_path(), LOG_TAIL_LINES)
    }

    /// The broker's log since it was last started (or restarted).
    pub fn current_run_log(&self) -> Result<String> {
        let path = self.log_path();
        let log =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let start = log.rfind(RUN_HEADER).unwrap_or(0);
        Ok(log[start..].to_owned())
    }

    fn running(&mut self) -> Result<&mut ManagedProcess> {
        self.process
            .as_mut()
            .ok_or_else(|| anyhow!("broker {} is not running", self.id))
    }

    fn take_process(&mut self) -> Result<ManagedProcess> {
        self.running()?;
        Ok(self.process.take().expect("checked by running()"))
    }
}

/// The gregor executable: `$GREGOR_BIN` if set, otherwise `gregor` in the
/// target directory this test binary was built in, made up to date by
/// `cargo build --bin gregor` once per test process, because
/// `cargo test -p integration-tests` does not build the root package's
/// binary (and `CARGO_BIN_EXE_gregor` exists only in the root package).
/// Brokers run it, and so do the tests of its other subcommands.
pub fn gregor_binary() -> Result<PathBuf> {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINARY
        .get_or_init(|| locate_or_build_gregor().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

/// The cargo target directory this test binary was built in and its
/// profile directory: a test binary is
/// `<target dir>/<profile dir>/deps/<test>-<hash>`.
pub fn build_dirs() -> Result<(PathBuf, PathBuf)> {
    let exe = env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .with_context(|| format!("unexpected test binary location {}", exe.display()))?;
    let target_dir = profile_dir.parent().context("profile dir has no parent")?;
    Ok((target_dir.to_owned(), profile_dir.to_owned()))
}

fn locate_or_build_gregor() -> Result<PathBuf> {
    if let Some(binary) = env::var_os("GREGOR_BIN") {
        let binary = PathBuf::from(binary);
        ensure!(
            binary.is_file(),
            "GREGOR_BIN={} is not a file",
            binary.display()
        );
        return Ok(binary);
    }
    let (target_dir, profile_dir) = build_dirs()?;
    let profile = match profile_dir.file_name().and_then(|name| name.to_str()) {
        Some("debug") => "dev",
        Some(name) => name,
        None => bail!("unexpected profile dir {}", profile_dir.display()),
    };
    let mut cargo = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .args(["build", "--bin", "gregor", "--profile", profile])
        .env("CARGO_TARGET_DIR", &target_dir)
        .current_dir(repo_root());
    let output = run_with_timeout(cargo, BUILD_TIMEOUT)?;
    ensure!(
        output.status.success(),
        "cargo build --bin gregor failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let binary = profile_dir.join("gregor");
    ensure!(binary.is_file(), "cargo built no {}", binary.display());
    Ok(binary)
}
