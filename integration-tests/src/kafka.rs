//! Apache Kafka itself, the reference gregor is held to: its broker runs
//! beside gregor's in the differential tests (see [`BrokerConfig::kafka`](crate::BrokerConfig::kafka)),
//! and its command-line tools run against both.
//!
//! `.ci/install-deps` resolves each version from Maven Central into
//! `integration-tests/kafka/lib/<version>/` (`integration-tests/kafka/pom.xml`);
//! everything here runs `java -cp 'lib/<version>/*' <main class>`, which is
//! what Kafka's `bin/*.sh` scripts do. A version that is not installed is
//! an error that names the install command, never a skipped test.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Result};

use crate::process::run_with_input;
use crate::{repo_root, run_with_timeout, ClientOutput};

/// Kafka 2.8.2: the version whose ZooKeeper-mode behaviour gregor keeps.
pub const KAFKA_2_8: &str = "2.8.2";
/// Kafka 3.9.2: the last release line with ZooKeeper mode.
pub const KAFKA_3_9: &str = "3.9.2";

/// Bound on one run of a Kafka command-line tool (a JVM start is a second
/// or two; the tools' own request timeouts are 30 s or less).
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

/// `integration-tests/kafka/lib/<version>`, checked to hold Kafka's jar.
pub fn kafka_lib(version: &str) -> Result<PathBuf> {
    let lib = repo_root()
        .join("integration-tests/kafka/lib")
        .join(version);
    let jar = lib.join(format!("kafka_2.13-{version}.jar"));
    ensure!(
        jar.is_file(),
        "Apache Kafka {version} is not installed ({} is missing): run `bash .ci/install-deps`",
        jar.display()
    );
    Ok(lib)
}

/// `java` with Kafka `version`'s jars on the class path, the tests' log4j
/// configuration (everything on stderr) and a small heap, ready for a main
/// class and its arguments. The JVM flags trade peak speed for a quick
/// start on a 2-core machine: the serial collector and the C1 compiler only.
pub fn kafka_java(version: &str, heap_mb: u32) -> Result<Command> {
    let lib = kafka_lib(version)?;
    let log4j = repo_root().join("integration-tests/kafka/log4j.properties");
    let mut cmd = Command::new("java");
    cmd.arg(format!("-Xmx{heap_mb}m"))
        .args([
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
        ])
        .arg(format!("-Dlog4j.configuration=file:{}", log4j.display()))
        .arg("-cp")
        .arg(format!("{}/*", lib.display()));
    Ok(cmd)
}

/// Runs one of Kafka `version`'s command-line tools by its main class (the
/// class its `bin/<tool>.sh` runs, e.g. `kafka.admin.TopicCommand` for
/// `kafka-topics.sh`) with `args`, bounded by [`TOOL_TIMEOUT`].
pub fn kafka_tool<I, S>(version: &str, main_class: &str, args: I) -> Result<ClientOutput>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = kafka_java(version, 256)?;
    cmd.arg(main_class).args(args);
    Ok(run_with_timeout(cmd, TOOL_TIMEOUT)?.into())
}

/// As [`kafka_tool`], with `input` on the tool's stdin (then end of input):
/// `kafka.tools.ConsoleProducer` sends one record per line of it.
pub fn kafka_tool_with_input<I, S>(
    version: &str,
    main_class: &str,
    args: I,
    input: &[u8],
) -> Result<ClientOutput>
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = kafka_java(version, 256)?;
    cmd.arg(main_class).args(args);
    Ok(run_with_input(cmd, input, TOOL_TIMEOUT)?.into())
}
