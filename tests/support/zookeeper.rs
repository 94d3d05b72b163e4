//! A standalone ZooKeeper (Debian's `zookeeper` package) for integration
//! tests, one server per test, and small polling helpers.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gregor::zk::KafkaZkClient;
use serde_json::Value;

pub const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(6);
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A standalone ZooKeeper on a free loopback port, killed on drop (also
/// when a test panics).
pub struct ZooKeeper {
    process: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl ZooKeeper {
    /// Starts a server, retrying on a new port if another process took the
    /// one picked (the server then exits at once).
    pub fn start() -> ZooKeeper {
        for _ in 0..3 {
            let mut zookeeper = ZooKeeper::launch();
            if zookeeper.wait_until_serving() {
                return zookeeper;
            }
        }
        panic!("ZooKeeper exited at startup three times");
    }

    pub fn launch() -> ZooKeeper {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        let config = dir.path().join("zoo.cfg");
        std::fs::write(
            &config,
            format!(
                "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 4lw.commands.whitelist=ruok\nadmin.enableServer=false\n",
                dir.path().join("data").display()
            ),
        )
        .expect("write zoo.cfg");
        let log = std::fs::File::create(dir.path().join("zookeeper.log")).expect("log file");
        let process = Command::new("java")
            .args([
                "-Xmx128m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-cp",
                ZOOKEEPER_JAR,
            ])
            .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start ZooKeeper (is Debian's zookeeper package installed?)");
        ZooKeeper { process, port, dir }
    }

    /// Debian's ZooKeeper opens its port before it serves: wait for `imok`.
    /// False if the server exited instead.
    pub fn wait_until_serving(&mut self) -> bool {
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if self.four_letter_word("ruok").as_deref() == Some("imok") {
                return true;
            }
            if matches!(self.process.try_wait(), Ok(Some(_))) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log =
            std::fs::read_to_string(self.dir.path().join("zookeeper.log")).unwrap_or_default();
        panic!(
            "ZooKeeper on port {} did not answer ruok; its log:\n{log}",
            self.port
        );
    }

    pub fn four_letter_word(&self, word: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        stream.write_all(word.as_bytes()).ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        Some(answer)
    }

    /// Sends `signal` (`STOP`, `CONT`) to the server process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.process.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    pub fn hosts(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn connect_string(&self) -> String {
        format!("{}/gregor", self.hosts())
    }

    pub async fn client(&self) -> KafkaZkClient {
        let client = KafkaZkClient::connect(&self.connect_string(), SESSION_TIMEOUT)
            .await
            .expect("connect");
        client
            .ensure_persistent_paths()
            .await
            .expect("persistent paths");
        client
    }

    /// A client outside the chroot, to see what an operator's zkCli sees.
    pub async fn root_client(&self) -> zookeeper_client::Client {
        zookeeper_client::Client::connect(&self.hosts())
            .await
            .expect("connect")
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

pub async fn json_at(root: &zookeeper_client::Client, path: &str) -> Value {
    let (data, _) = root.get_data(path).await.expect("znode exists");
    serde_json::from_slice(&data).expect("znode holds JSON")
}

/// Polls `condition` until it holds or the deadline passes.
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
