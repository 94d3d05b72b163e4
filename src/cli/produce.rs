//! `gregor produce`: each line of stdin becomes a record (like
//! `kafka-console-producer.sh`), optionally split into key and value at a
//! separator, with the same headers on every record. Exits 0 once every
//! record is acknowledged; otherwise says how many were not and why.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::Args;
use tokio::io::{AsyncBufReadExt, BufReader};

use gregor_client::{Acks, ProduceError, Producer, ProducerConfig, ProducerRecord};
use gregor_record::Compression;

use super::ConnectArgs;

/// The producer settings both `produce` and `perf produce` take.
#[derive(Args, Debug, Clone)]
pub(crate) struct ProducerArgs {
    /// Acknowledgements to wait for (Kafka's `acks`): all (= -1), 1 or 0.
    #[arg(long, default_value_t = Acks::Leader, value_name = "all|1|0|-1")]
    pub acks: Acks,
    /// Codec of every batch (`compression.type`).
    #[arg(long, default_value_t = Compression::None, value_name = "none|gzip|snappy|lz4|zstd")]
    pub compression: Compression,
    /// How long a batch waits for more records (`linger.ms`).
    #[arg(long = "linger-ms", default_value_t = 0, value_name = "MS")]
    pub linger_ms: u64,
    /// Bytes of records per batch (`batch.size`).
    #[arg(long = "batch-size", default_value_t = 16_384, value_name = "BYTES")]
    pub batch_size: usize,
}

impl ProducerArgs {
    /// The producer configuration: Kafka 2.8's defaults but for these.
    pub(crate) fn config(&self, connect: &ConnectArgs) -> ProducerConfig {
        let mut config = ProducerConfig::with_client(connect.client_config());
        config.acks = self.acks;
        config.compression = self.compression;
        config.linger = Duration::from_millis(self.linger_ms);
        config.batch_size = self.batch_size;
        config
    }
}

#[derive(Args, Debug)]
pub(crate) struct ProduceArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Topic to send to.
    #[arg(long, short)]
    pub topic: String,
    /// Send every record to this partition instead of partitioning by key.
    #[arg(long, short)]
    pub partition: Option<i32>,
    /// Split each line at the first SEP into key and value (Kafka's
    /// `parse.key=true` with `key.separator`); a line without SEP is an
    /// error. Without it, lines are values without keys.
    #[arg(long = "key-separator", value_name = "SEP")]
    pub key_separator: Option<String>,
    /// A header on every record; repeat for more.
    #[arg(long = "header", short = 'H', value_name = "KEY=VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    #[command(flatten)]
    pub producer: ProducerArgs,
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("{s:?} is not KEY=VALUE")),
    }
}

/// Records that were not delivered: how many, and the first reason.
#[derive(Default)]
struct Failures {
    count: u64,
    first: Option<ProduceError>,
}

pub(crate) async fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let producer = Producer::connect(args.producer.config(&args.connect)).await?;
    let headers: Vec<(String, Option<Bytes>)> = args
        .headers
        .iter()
        .map(|(key, value)| (key.clone(), Some(Bytes::from(value.clone()))))
        .collect();
    let failures = Arc::new(Mutex::new(Failures::default()));
    let mut stdin = BufReader::new(tokio::io::stdin());
    let mut line = Vec::new();
    let mut sent: u64 = 0;
    loop {
        line.clear();
        if stdin
            .read_until(b'\n', &mut line)
            .await
            .context("reading stdin")?
            == 0
        {
            break;
        }
        // As Java's readLine: without the line end.
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        let (key, value) = split_line(&line, args.key_separator.as_deref())
            .with_context(|| format!("line {} has no key separator", sent + 1))?;
        let record = ProducerRecord {
            topic: args.topic.clone(),
            partition: args.partition,
            key: key.map(Bytes::copy_from_slice),
            value: Some(Bytes::copy_from_slice(value)),
            headers: headers.clone(),
            timestamp: None,
        };
        let failures = Arc::clone(&failures);
        producer
            .send_with_callback(record, move |result| {
                if let Err(e) = result {
                    let mut f = failures.lock().unwrap_or_else(PoisonError::into_inner);
                    f.count += 1;
                    f.first.get_or_insert(e);
                }
            })
            .await?;
        sent += 1;
    }
    producer.close().await;
    let failures = failures.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(first) = &failures.first {
        bail!(
            "{} of {sent} records were not delivered: {first}",
            failures.count
        );
    }
    Ok(())
}

/// Key and value of a line: split at the first `separator` if there is
/// one; `None` if the line lacks it.
fn split_line<'a>(line: &'a [u8], separator: Option<&str>) -> Option<(Option<&'a [u8]>, &'a [u8])> {
    let Some(separator) = separator.map(str::as_bytes).filter(|s| !s.is_empty()) else {
        return Some((None, line));
    };
    let at = line
        .windows(separator.len())
        .position(|window| window == separator)?;
    Some((Some(&line[..at]), &line[at + separator.len()..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_at_the_first_separator() {
        assert_eq!(
            split_line(b"k1:v:1", Some(":")),
            Some((Some(b"k1".as_slice()), b"v:1".as_slice()))
        );
        assert_eq!(
            split_line(b"a::b", Some("::")),
            Some((Some(b"a".as_slice()), b"b".as_slice()))
        );
        assert_eq!(
            split_line(b":v", Some(":")),
            Some((Some(b"".as_slice()), b"v".as_slice()))
        );
        assert_eq!(split_line(b"no-sep", Some(":")), None);
        assert_eq!(split_line(b"k:v", None), Some((None, b"k:v".as_slice())));
    }

    #[test]
    fn headers_are_key_equals_value() {
        assert_eq!(parse_header("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(parse_header("a=").unwrap(), ("a".into(), "".into()));
        assert!(parse_header("=b").is_err());
        assert!(parse_header("ab").is_err());
    }
}
