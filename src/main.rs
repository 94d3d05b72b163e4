//! The `gregor` command: `gregor broker --config server.properties` runs a
//! broker; the other subcommands (`src/cli/`) are the operator's and
//! developer's tools. Errors end as one line on stderr; bad arguments exit
//! with 2.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

mod cli;

use gregor_broker::broker::Broker;
use gregor_broker::config::KafkaConfig;
use gregor_server::{wait_for_shutdown_signal, Server};

#[derive(Parser)]
#[command(
    name = "gregor",
    version,
    about = "A Kafka-compatible, ZooKeeper-coordinated message broker"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a broker (like kafka-server-start.sh).
    Broker {
        /// The broker's server.properties (Kafka's keys).
        #[arg(long, short, value_name = "FILE")]
        config: PathBuf,
        /// Override a property from the file, e.g. --override broker.id=2.
        #[arg(long = "override", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// Create, list, describe, delete topics and alter their configs (like
    /// kafka-topics.sh).
    Topics(cli::topics::TopicsArgs),
    /// List consumer groups, describe them with their lag, reset their
    /// offsets, delete them (like kafka-consumer-groups.sh).
    Groups(cli::groups::GroupsArgs),
    /// The brokers, the controller, and the whole ZooKeeper tree.
    Cluster(cli::cluster::ClusterArgs),
    /// Print a topic's records (like kafka-console-consumer.sh, or kcat -C).
    Consume(cli::consume::ConsumeArgs),
    /// Send lines from stdin as records (like kafka-console-producer.sh).
    Produce(cli::produce::ProduceArgs),
    /// Measure throughput and latency (like Kafka's perf-test tools).
    Perf {
        #[command(subcommand)]
        command: cli::perf::PerfCommand,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => bad_arguments(error),
    };
    // A broker logs what it does; the tools print their results and only
    // warnings beside them (RUST_LOG overrides both).
    let default_level = match cli.command {
        Command::Broker { .. } => "info",
        _ => "warn",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_level))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gregor: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Broker { config, overrides } => runtime.block_on(run_broker(config, overrides)),
        Command::Topics(args) => runtime.block_on(cli::topics::run(args)),
        Command::Groups(args) => runtime.block_on(cli::groups::run(args)),
        Command::Cluster(args) => runtime.block_on(cli::cluster::run(args)),
        Command::Consume(args) => runtime.block_on(cli::consume::run(args)),
        Command::Produce(args) => runtime.block_on(cli::produce::run(args)),
        Command::Perf { command } => runtime.block_on(cli::perf::run(command)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gregor: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// Kafka's start-up order: logs and partitions, then bound listeners, then
/// the ZooKeeper registration that makes the broker visible, and only then
/// request processing; on SIGTERM/SIGINT the reverse, ending with the logs
/// closed cleanly.
///
/// Start-up waits for ZooKeeper for as long as it is unreachable; a signal
/// meanwhile stops it there (before registration nothing is in ZooKeeper to
/// remove, and the logs open only after start-up's last wait on it).
async fn run_broker(path: PathBuf, overrides: Vec<String>) -> anyhow::Result<()> {
    let config = KafkaConfig::load(&path, &overrides)
        .with_context(|| format!("reading {}", path.display()))?;
    raise_open_files_limit();
    let signal = wait_for_shutdown_signal();
    tokio::pin!(signal);
    let broker = tokio::select! {
        broker = Broker::start(config.clone()) => broker?,
        received = &mut signal => {
            received.context("waiting for signals")?;
            log::info!("stopped during start-up");
            return Ok(());
        }
    };
    let bound = Server::bind(config.server_config())
        .await
        .context("binding listeners")?;
    let ports: Vec<u16> = bound.listeners().iter().map(|l| l.addr.port()).collect();
    tokio::select! {
        registered = broker.register(&ports) => registered?,
        received = &mut signal => {
            received.context("waiting for signals")?;
            log::info!("stopped before registering");
            broker.shutdown().await?;
            return Ok(());
        }
    }
    let server = bound.serve(Arc::clone(&broker));
    log::info!("broker {} serving on {:?}", broker.id(), server.listeners());
    let fatal = tokio::select! {
        received = &mut signal => {
            received.context("waiting for signals")?;
            None
        }
        reason = broker.fatal() => Some(reason),
    };
    if fatal.is_none() {
        // While still serving: this broker may be the controller itself.
        broker.controlled_shutdown().await;
    }
    server.shutdown().await;
    broker.shutdown().await?;
    match fatal {
        // A fault the broker cannot handle: stopped cleanly, but loudly.
        Some(reason) => Err(anyhow::anyhow!(reason)),
        None => Ok(()),
    }
}

/// Raises the soft limit on open files to the hard limit, as Kafka's
/// packaging advises: a broker holds a descriptor per connection and
/// several per log segment, and the usual soft limit (1024) runs out with
/// a few hundred partitions. Both limits are logged; failing to raise them
/// is only a warning, the broker runs with what it has.
fn raise_open_files_limit() {
    use rlimit::Resource;
    match Resource::NOFILE.get() {
        Ok((soft, hard)) if soft < hard => match Resource::NOFILE.set(hard, hard) {
            Ok(()) => log::info!("open files limit raised from {soft} to the hard limit {hard}"),
            Err(e) => log::warn!("open files limit {soft} (hard {hard}) could not be raised: {e}"),
        },
        Ok((soft, hard)) => log::info!("open files limit {soft} (hard {hard})"),
        Err(e) => log::warn!("cannot read the open files limit: {e}"),
    }
}

/// Help and version go to stdout as clap prints them; any other argument
/// error is one line on stderr and exit code 2 (clap's usage error code).
fn bad_arguments(error: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        error.exit();
    }
    eprintln!("gregor: {}", usage_error_line(&error.render().to_string()));
    std::process::exit(2);
}

/// clap's error message without its usage and tips, on one line.
fn usage_error_line(rendered: &str) -> String {
    let lines: Vec<&str> = rendered
        .lines()
        .take_while(|line| !line.starts_with("Usage:"))
        .map(str::trim)
        .filter(|line| {
            !line.is_empty()
                && !line.starts_with("tip:")
                && !line.starts_with("For more information")
        })
        .collect();
    let text = lines.join(" ");
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    format!("{text} (see --help)")
}

/// The error and its causes on one line, each cause once: several of our
/// error types already include their cause's text in their own message.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}
