//! `gregor consume`: prints a topic's records, like
//! `kafka-console-consumer.sh` (whose options it takes) or `kcat -C` (whose
//! `-f` format tokens `--format` takes).
//!
//! Without `--group` the partitions are assigned directly (all of the
//! topic's, or `--partition`) and nothing is committed. With `--group` the
//! consumer subscribes as a member of that group and commits what it read
//! (`enable.auto.commit`), so the next run resumes there; with `--partition`
//! as well it reads that partition outside the group's assignment but
//! still commits in the group's name.
//!
//! Records go to stdout; on stderr, at the end, "Processed a total of N
//! messages" as Kafka's tool says. Ctrl-C ends the run cleanly (commit,
//! leave the group).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use anyhow::Context;
use clap::error::ErrorKind;
use clap::{ArgGroup, Args};
use tokio::time::Instant;

use gregor_client::consumer::{
    Consumer, ConsumerConfig, ConsumerRecord, OffsetAndTimestamp, TimestampType,
};
use gregor_protocol::TopicPartition;

use super::ConnectArgs;

/// How long one poll waits at most: short enough to notice Ctrl-C and
/// `--timeout-ms` promptly.
const POLL_TIMEOUT: Duration = Duration::from_millis(500);

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("start").args(["from_beginning", "offset", "timestamp"])))]
pub(crate) struct ConsumeArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The topic to read.
    #[arg(long, short)]
    pub topic: String,
    /// Read only this partition.
    #[arg(long, short)]
    pub partition: Option<i32>,
    /// Start at the earliest record when there is no committed offset
    /// (auto.offset.reset=earliest). Default: only new records.
    #[arg(long)]
    pub from_beginning: bool,
    /// Start at this offset ("earliest" and "latest" work too).
    #[arg(long, short = 'o', value_name = "OFFSET")]
    pub offset: Option<StartOffset>,
    /// Start at the first record whose timestamp is at or after this time
    /// (ms since the Unix epoch); at the end where there is none.
    #[arg(long, value_name = "MS")]
    pub timestamp: Option<i64>,
    /// Consume as a member of this consumer group, committing offsets.
    #[arg(long, short)]
    pub group: Option<String>,
    /// Exit after this many records.
    #[arg(long, value_name = "N")]
    pub max_messages: Option<u64>,
    /// Exit when no record arrived for this long.
    #[arg(long, value_name = "MS")]
    pub timeout_ms: Option<u64>,
    /// kcat-style output format: %t topic, %p partition, %o offset,
    /// %k key, %s value, %K key size, %S value size, %T timestamp (ms),
    /// %h headers (k=v,...), %% a percent sign; \n \t \\ escapes. No
    /// newline is added.
    #[arg(long, short = 'f', value_name = "FORMAT",
          conflicts_with_all = ["print_key", "print_offset", "print_partition",
                                "print_timestamp", "print_headers"])]
    pub format: Option<String>,
    /// Print each record's key before its value.
    #[arg(long)]
    pub print_key: bool,
    /// What goes between the printed fields.
    #[arg(long, default_value = "\t", value_name = "SEP")]
    pub key_separator: String,
    /// Print each record's offset ("Offset:N").
    #[arg(long)]
    pub print_offset: bool,
    /// Print each record's partition ("Partition:N").
    #[arg(long)]
    pub print_partition: bool,
    /// Print each record's timestamp ("CreateTime:MS").
    #[arg(long)]
    pub print_timestamp: bool,
    /// Print each record's headers ("k:v,k2:v2", or NO_HEADERS).
    #[arg(long)]
    pub print_headers: bool,
    /// A consumer setting, by its Kafka key (repeatable).
    #[arg(long = "consumer-property", short = 'X', value_name = "KEY=VALUE")]
    pub consumer_properties: Vec<String>,
}

/// Where `--offset` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StartOffset {
    Earliest,
    Latest,
    At(i64),
}

impl std::str::FromStr for StartOffset {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "earliest" | "beginning" => Ok(StartOffset::Earliest),
            "latest" | "end" => Ok(StartOffset::Latest),
            n => n
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .map(StartOffset::At)
                .ok_or_else(|| format!("{n:?} is not earliest, latest or an offset")),
        }
    }
}

/// Exits with clap's usage error (code 2): arguments that parse but do not
/// go together.
fn usage_error(message: &str) -> ! {
    clap::Error::raw(ErrorKind::ArgumentConflict, format!("{message}\n")).exit()
}

pub(crate) async fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    let positioned = args.offset.is_some() || args.timestamp.is_some();
    if args.group.is_some() && args.partition.is_none() && positioned {
        usage_error("--offset and --timestamp need --partition when --group is given");
    }
    let formatter = Formatter::new(&args);
    let mut config = ConsumerConfig::with_client(args.connect.client_config());
    config.client.client_id = "gregor-console-consumer".into();
    config.group_id = args.group.clone();
    if args.from_beginning {
        config.set("auto.offset.reset", "earliest")?;
    }
    for property in &args.consumer_properties {
        let Some((key, value)) = property.split_once('=') else {
            usage_error(&format!(
                "--consumer-property {property:?} is not KEY=VALUE"
            ));
        };
        config.set(key, value)?;
    }
    let mut consumer = Consumer::new(config).await?;
    let partitions: Vec<TopicPartition> = match (args.partition, &args.group) {
        (None, Some(_)) => {
            consumer.subscribe([args.topic.clone()])?;
            Vec::new()
        }
        (Some(p), _) => vec![TopicPartition::new(args.topic.as_str(), p)],
        (None, None) => consumer
            .partitions_for(&args.topic)
            .await?
            .into_iter()
            .map(|p| TopicPartition::new(args.topic.as_str(), p))
            .collect(),
    };
    if !partitions.is_empty() {
        consumer.assign(partitions.iter().cloned());
        position(&mut consumer, &partitions, &args).await?;
    }

    let mut count = 0;
    let result = tokio::select! {
        result = consume(&mut consumer, &args, &formatter, &mut count) => result,
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    consumer.close().await?;
    eprintln!("Processed a total of {count} messages");
    result
}

/// Applies `--offset` / `--timestamp` to manually assigned partitions.
async fn position(
    consumer: &mut Consumer,
    partitions: &[TopicPartition],
    args: &ConsumeArgs,
) -> anyhow::Result<()> {
    match args.offset {
        Some(StartOffset::Earliest) => consumer.seek_to_beginning(partitions)?,
        Some(StartOffset::Latest) => consumer.seek_to_end(partitions)?,
        Some(StartOffset::At(offset)) => {
            for tp in partitions {
                consumer.seek(tp, offset)?;
            }
        }
        None => {}
    }
    if let Some(ts) = args.timestamp {
        let targets: BTreeMap<TopicPartition, i64> =
            partitions.iter().map(|tp| (tp.clone(), ts)).collect();
        let found = consumer
            .offsets_for_times(&targets)
            .await
            .context("looking up offsets by timestamp")?;
        for tp in partitions {
            match found.get(tp).copied().flatten() {
                Some(OffsetAndTimestamp { offset, .. }) => consumer.seek(tp, offset)?,
                None => consumer.seek_to_end(std::slice::from_ref(tp))?,
            }
        }
    }
    Ok(())
}

/// Polls and prints until `--max-messages`, `--timeout-ms` or a closed
/// stdout, counting the records printed in `count`.
async fn consume(
    consumer: &mut Consumer,
    args: &ConsumeArgs,
    formatter: &Formatter,
    count: &mut u64,
) -> anyhow::Result<()> {
    let idle_limit = args.timeout_ms.map(Duration::from_millis);
    let mut last_record = Instant::now();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut line = Vec::new();
    loop {
        let wait = match idle_limit {
            Some(limit) => limit
                .saturating_sub(last_record.elapsed())
                .min(POLL_TIMEOUT),
            None => POLL_TIMEOUT,
        };
        let records = consumer.poll(wait).await?;
        if !records.is_empty() {
            last_record = Instant::now();
        }
        for (i, record) in records.iter().enumerate() {
            if args.max_messages.is_some_and(|max| *count >= max) {
                unread(consumer, &records[i..])?;
                break;
            }
            line.clear();
            formatter.write(&mut line, record);
            if let Err(e) = out.write_all(&line) {
                return closed_stdout(e);
            }
            *count += 1;
        }
        if let Err(e) = out.flush() {
            return closed_stdout(e);
        }
        let enough = args.max_messages.is_some_and(|max| *count >= max);
        if enough || idle_limit.is_some_and(|limit| last_record.elapsed() >= limit) {
            return Ok(());
        }
    }
}

/// Moves the positions back to the first of `records` in each partition,
/// so that what was fetched but not printed is not committed as read.
fn unread(consumer: &mut Consumer, records: &[ConsumerRecord]) -> anyhow::Result<()> {
    let mut first: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    for r in records {
        let tp = TopicPartition::new(&*r.topic, r.partition);
        first.entry(tp).or_insert(r.offset);
    }
    for (tp, offset) in first {
        consumer.seek(&tp, offset)?;
    }
    Ok(())
}

/// A reader that went away (`| head`) ends the run; other errors are errors.
fn closed_stdout(e: io::Error) -> anyhow::Result<()> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e).context("writing to stdout")
    }
}

/// How each record is printed.
#[derive(Debug)]
enum Formatter {
    /// kcat's `-f`.
    Tokens(Vec<Token>),
    /// kafka-console-consumer's `DefaultMessageFormatter`.
    Fields {
        separator: String,
        key: bool,
        offset: bool,
        partition: bool,
        timestamp: bool,
        headers: bool,
    },
}

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Literal(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Key,
    Value,
    KeySize,
    ValueSize,
    Timestamp,
    Headers,
}

impl Formatter {
    fn new(args: &ConsumeArgs) -> Self {
        match &args.format {
            Some(format) => Formatter::Tokens(parse_format(format)),
            None => Formatter::Fields {
                separator: args.key_separator.clone(),
                key: args.print_key,
                offset: args.print_offset,
                partition: args.print_partition,
                timestamp: args.print_timestamp,
                headers: args.print_headers,
            },
        }
    }

    fn write(&self, out: &mut Vec<u8>, r: &ConsumerRecord) {
        match self {
            Formatter::Tokens(tokens) => {
                for token in tokens {
                    write_token(out, token, r);
                }
            }
            Formatter::Fields {
                separator,
                key,
                offset,
                partition,
                timestamp,
                headers,
            } => {
                let sep = separator.as_bytes();
                if *timestamp {
                    let kind = match r.timestamp_type {
                        TimestampType::CreateTime => "CreateTime",
                        TimestampType::LogAppendTime => "LogAppendTime",
                    };
                    out.extend_from_slice(format!("{kind}:{}", r.timestamp).as_bytes());
                    out.extend_from_slice(sep);
                }
                if *partition {
                    out.extend_from_slice(format!("Partition:{}", r.partition).as_bytes());
                    out.extend_from_slice(sep);
                }
                if *offset {
                    out.extend_from_slice(format!("Offset:{}", r.offset).as_bytes());
                    out.extend_from_slice(sep);
                }
                if *headers {
                    if r.headers.is_empty() {
                        out.extend_from_slice(b"NO_HEADERS");
                    }
                    write_headers(out, r, b":");
                    out.extend_from_slice(sep);
                }
                if *key {
                    write_nullable(out, r.key.as_deref());
                    out.extend_from_slice(sep);
                }
                write_nullable(out, r.value.as_deref());
                out.push(b'\n');
            }
        }
    }
}

/// Kafka's tool prints a null key or value as `null`.
fn write_nullable(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    out.extend_from_slice(bytes.unwrap_or(b"null"));
}

fn write_headers(out: &mut Vec<u8>, r: &ConsumerRecord, between: &[u8]) {
    for (i, h) in r.headers.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(h.key.as_bytes());
        out.extend_from_slice(between);
        write_nullable(out, h.value.as_deref());
    }
}

fn write_token(out: &mut Vec<u8>, token: &Token, r: &ConsumerRecord) {
    let size = |b: &Option<bytes::Bytes>| b.as_ref().map_or(-1, |b| b.len() as i64);
    match token {
        Token::Literal(text) => out.extend_from_slice(text),
        Token::Topic => out.extend_from_slice(r.topic.as_bytes()),
        Token::Partition => out.extend_from_slice(r.partition.to_string().as_bytes()),
        Token::Offset => out.extend_from_slice(r.offset.to_string().as_bytes()),
        // kcat prints a null key or value as nothing.
        Token::Key => out.extend_from_slice(r.key.as_deref().unwrap_or_default()),
        Token::Value => out.extend_from_slice(r.value.as_deref().unwrap_or_default()),
        Token::KeySize => out.extend_from_slice(size(&r.key).to_string().as_bytes()),
        Token::ValueSize => out.extend_from_slice(size(&r.value).to_string().as_bytes()),
        Token::Timestamp => out.extend_from_slice(r.timestamp.to_string().as_bytes()),
        Token::Headers => write_headers(out, r, b"="),
    }
}

/// Splits a kcat `-f` format into tokens; an unknown `%x` is printed as is.
fn parse_format(format: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut literal = Vec::new();
    let mut chars = format.chars();
    let flush = |literal: &mut Vec<u8>, tokens: &mut Vec<Token>| {
        if !literal.is_empty() {
            tokens.push(Token::Literal(std::mem::take(literal)));
        }
    };
    while let Some(c) = chars.next() {
        let token = match (c, chars.clone().next()) {
            ('%', Some(next)) => match next {
                't' => Some(Token::Topic),
                'p' => Some(Token::Partition),
                'o' => Some(Token::Offset),
                'k' => Some(Token::Key),
                's' => Some(Token::Value),
                'K' => Some(Token::KeySize),
                'S' => Some(Token::ValueSize),
                'T' => Some(Token::Timestamp),
                'h' => Some(Token::Headers),
                '%' => Some(Token::Literal(b"%".to_vec())),
                _ => None,
            },
            ('\\', Some(next)) => match next {
                'n' => Some(Token::Literal(b"\n".to_vec())),
                't' => Some(Token::Literal(b"\t".to_vec())),
                '\\' => Some(Token::Literal(b"\\".to_vec())),
                _ => None,
            },
            _ => None,
        };
        match token {
            Some(Token::Literal(text)) => {
                chars.next();
                literal.extend_from_slice(&text);
            }
            Some(token) => {
                chars.next();
                flush(&mut literal, &mut tokens);
                tokens.push(token);
            }
            None => {
                let mut buf = [0; 4];
                literal.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    flush(&mut literal, &mut tokens);
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use gregor_record::RecordHeader;
    use std::sync::Arc;

    fn record() -> ConsumerRecord {
        ConsumerRecord {
            topic: Arc::from("orders"),
            partition: 2,
            offset: 17,
            timestamp: 1_700_000_000_000,
            timestamp_type: TimestampType::CreateTime,
            key: Some(Bytes::from_static(b"k1")),
            value: Some(Bytes::from_static(b"hello")),
            headers: vec![
                RecordHeader {
                    key: "a".into(),
                    value: Some(Bytes::from_static(b"1")),
                },
                RecordHeader {
                    key: "b".into(),
                    value: None,
                },
            ],
        }
    }

    fn printed(formatter: &Formatter, r: &ConsumerRecord) -> String {
        let mut out = Vec::new();
        formatter.write(&mut out, r);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn kcat_tokens_and_escapes() {
        let f = Formatter::Tokens(parse_format(
            "%t/%p@%o %k=%s (%K,%S) %T [%h] 100%% %x\\t\\n",
        ));
        assert_eq!(
            printed(&f, &record()),
            "orders/2@17 k1=hello (2,5) 1700000000000 [a=1,b=null] 100% %x\t\n"
        );
        let mut null_key = record();
        null_key.key = None;
        assert_eq!(
            printed(&Formatter::Tokens(parse_format("%k|%K|%s")), &null_key),
            "|-1|hello"
        );
    }

    #[test]
    fn console_consumer_fields_in_kafkas_order() {
        let all = Formatter::Fields {
            separator: "\t".into(),
            key: true,
            offset: true,
            partition: true,
            timestamp: true,
            headers: true,
        };
        assert_eq!(
            printed(&all, &record()),
            "CreateTime:1700000000000\tPartition:2\tOffset:17\ta:1,b:null\tk1\thello\n"
        );
        let value_only = Formatter::Fields {
            separator: "\t".into(),
            key: false,
            offset: false,
            partition: false,
            timestamp: false,
            headers: false,
        };
        let mut null_value = record();
        null_value.value = None;
        assert_eq!(printed(&value_only, &null_value), "null\n");
        let headers_only = Formatter::Fields {
            separator: " ".into(),
            key: false,
            offset: false,
            partition: false,
            timestamp: false,
            headers: true,
        };
        let mut no_headers = record();
        no_headers.headers.clear();
        assert_eq!(printed(&headers_only, &no_headers), "NO_HEADERS hello\n");
    }

    #[test]
    fn start_offsets_parse() {
        assert_eq!("earliest".parse(), Ok(StartOffset::Earliest));
        assert_eq!("end".parse(), Ok(StartOffset::Latest));
        assert_eq!("42".parse(), Ok(StartOffset::At(42)));
        assert!("-1".parse::<StartOffset>().is_err());
    }
}
