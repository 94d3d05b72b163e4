//! Real Kafka clients: scripts in `integration-tests/clients/` run with the
//! venv's Python or with Node, the Java client program (`clients/java`) on
//! a kafka-clients version's jars, the Go client programs built from
//! `integration-tests/clients/go/`, and kcat. All are installed by
//! `.ci/install-deps`.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, ExitStatus, Output};
use std::time::Duration;

use anyhow::{ensure, Context, Result};

use crate::process::run_with_timeout;
use crate::{clients_dir, repo_root};

const KCAT: &str = "/usr/bin/kcat";

/// What a client printed and how it exited.
#[derive(Debug)]
pub struct ClientOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl ClientOutput {
    /// stdout if the client exited with 0, otherwise an error showing both
    /// streams.
    pub fn success(self) -> Result<String> {
        ensure!(
            self.status.success(),
            "client failed ({}):\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        Ok(self.stdout)
    }
}

impl From<Output> for ClientOutput {
    fn from(output: Output) -> Self {
        Self {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Runs `integration-tests/clients/<script>` (say `python/produce.py`) with
/// the venv's Python (confluent-kafka, kafka-python), killing it after
/// `timeout`.
pub fn python<I, S>(script: &str, args: I, timeout: Duration) -> Result<ClientOutput>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let python = repo_root().join(".venv/bin/python");
    ensure!(
        python.exists(),
        "no Python venv at {}: run `bash .ci/install-deps`",
        python.display()
    );
    let mut cmd = Command::new(python);
    // Unbuffered, so that a client killed on timeout still shows its output.
    cmd.env("PYTHONUNBUFFERED", "1");
    run_script(cmd, script, args, timeout)
}

/// Runs `integration-tests/clients/<script>` (say `js/produce.js`) with
/// Node; kafkajs resolves from `clients/js/node_modules`.
pub fn node<I, S>(script: &str, args: I, timeout: Duration) -> Result<ClientOutput>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let modules = clients_dir().join("js/node_modules");
    ensure!(
        modules.exists(),
        "kafkajs is not installed ({} is missing): run `bash .ci/install-deps`",
        modules.display()
    );
    run_script(Command::new("node"), script, args, timeout)
}

/// kafka-clients 2.8.2, the Java client of the Kafka release gregor keeps.
pub const KAFKA_CLIENTS_2_8: &str = "2.8.2";
/// The newest kafka-clients 4.x (which talks to brokers from 2.1 on).
pub const KAFKA_CLIENTS_4: &str = "4.4.0";

/// Runs the Java client program (`clients/java`, `gregor.clients.JavaClient`,
/// built into `target/java-client.jar`) with kafka-clients `version`'s jars
/// (`clients/java/lib/<version>/`, kafka-clients and its codecs) on the
/// class path. The JVM flags trade peak speed for a quick start, as for
/// Kafka's tools; the client logs warnings and worse to stderr.
pub fn java_client<I, S>(version: &str, args: I, timeout: Duration) -> Result<ClientOutput>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let java = clients_dir().join("java");
    let jar = java.join("target/java-client.jar");
    let lib = java.join("lib").join(version);
    ensure!(
        jar.is_file() && lib.join(format!("kafka-clients-{version}.jar")).is_file(),
        "the Java client on kafka-clients {version} is not installed ({} or {} is missing): \
         run `bash .ci/install-deps`",
        jar.display(),
        lib.display()
    );
    let mut cmd = Command::new("java");
    cmd.args([
        "-Xmx256m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
        "-cp",
    ])
    .arg(format!("{}:{}/*", jar.display(), lib.display()))
    .arg("gregor.clients.JavaClient")
    .args(args)
    .current_dir(&java);
    Ok(run_with_timeout(cmd, timeout)?.into())
}

/// Runs the Go client program `integration-tests/clients/go/bin/<program>`
/// (`franz` or `sarama`), which `.ci/install-deps` builds with `go build`.
pub fn go_client<I, S>(program: &str, args: I, timeout: Duration) -> Result<ClientOutput>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let binary = clients_dir().join("go/bin").join(program);
    ensure!(
        binary.is_file(),
        "the Go client {} is not built: run `bash .ci/install-deps`",
        binary.display()
    );
    let mut cmd = Command::new(binary);
    cmd.args(args).current_dir(clients_dir());
    Ok(run_with_timeout(cmd, timeout)?.into())
}

/// Runs kcat (librdkafka's command-line client) with `args`.
pub fn kcat<I, S>(args: I, timeout: Duration) -> Result<ClientOutput>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    ensure!(
        Path::new(KCAT).exists(),
        "kcat is not installed ({KCAT} is missing): run `bash .ci/install-deps`"
    );
    let mut cmd = Command::new(KCAT);
    cmd.args(args);
    Ok(run_with_timeout(cmd, timeout)?.into())
}

fn run_script<I, S>(
    mut interpreter: Command,
    script: &str,
    args: I,
    timeout: Duration,
) -> Result<ClientOutput>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let path = clients_dir().join(script);
    ensure!(path.is_file(), "no client script {}", path.display());
    interpreter.arg(&path).args(args).current_dir(clients_dir());
    Ok(run_with_timeout(interpreter, timeout)?.into())
}

/// Produces the lines of `file` to partition `partition` of `topic` with
/// kcat (`-P -l`), one record per line, plus `extra` arguments (`-K:` for
/// keys, `-z gzip`, `-X acks=1`, …). Fails with kcat's output unless every
/// record was delivered (kcat exits non-zero on delivery failures).
pub fn kcat_produce_file(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    file: &Path,
    extra: &[&str],
    timeout: Duration,
) -> Result<ClientOutput> {
    let partition = partition.to_string();
    let mut args: Vec<&OsStr> = ["-b", bootstrap, "-P", "-t", topic, "-p", &partition, "-l"]
        .into_iter()
        .map(OsStr::new)
        .collect();
    args.extend(extra.iter().map(OsStr::new));
    args.push(file.as_os_str());
    kcat(args, timeout)
}

/// Consumes partition `partition` of `topic` from the beginning to its end
/// (`-C -o beginning -e`, no consumer group), printing each record with
/// kcat's `-f` `format`.
pub fn kcat_consume(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    format: &str,
    timeout: Duration,
) -> Result<ClientOutput> {
    let partition = partition.to_string();
    kcat(
        [
            "-b",
            bootstrap,
            "-C",
            "-t",
            topic,
            "-p",
            &partition,
            "-o",
            "beginning",
            "-e",
            "-f",
            format,
        ],
        timeout,
    )
}

/// Parses a client script's stdout: one JSON value per non-empty line.
pub fn json_lines(stdout: &str) -> Result<Vec<serde_json::Value>> {
    stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).with_context(|| format!("not a JSON line: {line:?}"))
        })
        .collect()
}
