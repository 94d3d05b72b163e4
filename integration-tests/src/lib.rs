//! Harness for gregor's integration tests: starts real ZooKeeper servers
//! (Debian's `zookeeper` package), real `gregor broker` processes and real
//! Apache Kafka brokers (the reference, from Maven Central) on free loopback
//! ports, and runs real clients (zkCli, kcat, Python, Node, Kafka's Java
//! client and its own tools) against them.
//!
//! Rules every helper here follows, so that tests can rely on them:
//! - every wait is a bounded poll on a condition ([`wait_until`]), never a
//!   fixed sleep, and a timeout is an error that says what was awaited;
//! - every process a handle starts is killed (SIGKILL to its process group)
//!   when the handle is dropped, also when the test panics, and the tail of
//!   its log is printed if the test is panicking;
//! - processes also die with the thread that started them (Linux's
//!   parent-death signal), so an interrupted `cargo test` leaves no JVMs
//!   behind. Consequence: keep a handle on the thread that created it.
//!
//! Prerequisites come from `bash .ci/install-deps`; a missing one is an error
//! that says so, never a silently skipped test.

mod broker;
pub mod client_matrix;
mod clients;
pub mod cluster;
pub mod differential;
mod fixture;
pub mod group_matrix;
mod kafka;
mod ports;
mod process;
pub mod wire;
mod zookeeper;

use std::path::{Path, PathBuf};

pub use broker::{build_dirs, gregor_binary, Broker, BrokerConfig};
pub use clients::{
    go_client, java_client, json_lines, kcat, kcat_consume, kcat_produce_file, node, python,
    ClientOutput, KAFKA_CLIENTS_2_8, KAFKA_CLIENTS_4,
};
pub use cluster::Cluster;
pub use fixture::{
    gregor_broker_with_zk, gregor_broker_with_zk_configured, unique_topic, SingleBroker,
};
pub use kafka::{
    kafka_java, kafka_lib, kafka_tool, kafka_tool_with_input, KAFKA_2_8, KAFKA_3_9, TOOL_TIMEOUT,
};
pub use ports::free_port;
pub use process::{run_with_input, run_with_timeout, wait_until};
pub use zookeeper::{four_letter_word, zk_cli, ZkEnsemble, ZooKeeper};

/// The repository root: scripts (`zk/`), client programs
/// (`integration-tests/clients/`) and the venv (`.venv/`) are found from here.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("integration-tests lives inside the repository")
}

/// Directory of the client programs that [`python`] and [`node`] run.
pub fn clients_dir() -> PathBuf {
    repo_root().join("integration-tests/clients")
}

// zookeeper-client runs its session task through `spawns`; linking `spawns`
// with its tokio feature routes that task onto the tokio runtime of the
// tests that talk to ZooKeeper with zookeeper-client directly (without it
// `connect` panics with "no spawner").
use spawns as _;
