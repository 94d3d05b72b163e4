//! `gregor perf`: throughput and latency measurements in the spirit of
//! Kafka's `kafka-producer-perf-test.sh` and `kafka-consumer-perf-test.sh`.
//! `stats` holds what every measurement reports.

use clap::Subcommand;

pub(crate) mod consume;
pub(crate) mod produce;
pub(crate) mod stats;

#[derive(Subcommand, Debug)]
pub(crate) enum PerfCommand {
    /// Send records as fast as allowed and report records/s, MB/s and
    /// send-to-acknowledgement latency (like kafka-producer-perf-test.sh).
    Produce(produce::PerfProduceArgs),
    /// Read records as fast as they come and report records/s, MB/s and
    /// poll latency (like kafka-consumer-perf-test.sh).
    Consume(consume::PerfConsumeArgs),
}

pub(crate) async fn run(command: PerfCommand) -> anyhow::Result<()> {
    match command {
        PerfCommand::Produce(args) => produce::run(args).await,
        PerfCommand::Consume(args) => consume::run(args).await,
    }
}
