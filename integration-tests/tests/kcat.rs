//! kcat (librdkafka) against a real gregor broker: metadata listing, and
//! 10,000 keyed records produced and consumed back byte for byte with each
//! compression codec.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use integration_tests::{
    gregor_broker_with_zk, gregor_broker_with_zk_configured, kcat, kcat_consume, kcat_produce_file,
    unique_topic,
};

const TIMEOUT: Duration = Duration::from_secs(120);
const RECORDS: usize = 10_000;

/// What `kcat -L` printed: brokers as (id, "host:port") and topics with
/// their partition counts.
#[derive(Debug)]
struct Listing {
    brokers: Vec<(i32, String)>,
    topics: BTreeMap<String, usize>,
}

/// Parses kcat's `-L` output:
/// ```text
///  1 brokers:
///   broker 1 at 127.0.0.1:40001 (controller)
///  1 topics:
///   topic "t" with 3 partitions:
/// ```
fn parse_listing(text: &str) -> Result<Listing> {
    let mut listing = Listing {
        brokers: Vec::new(),
        topics: BTreeMap::new(),
    };
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("broker ") {
            let (id, rest) = rest.split_once(" at ").context("broker line")?;
            let address = rest.split_whitespace().next().context("broker address")?;
            listing.brokers.push((id.parse()?, address.to_owned()));
        } else if let Some(rest) = line.strip_prefix("topic \"") {
            let (name, rest) = rest.split_once("\" with ").context("topic line")?;
            let count = rest.split_whitespace().next().context("partition count")?;
            listing.topics.insert(name.to_owned(), count.parse()?);
        }
    }
    Ok(listing)
}

#[test]
fn kcat_lists_the_broker_and_an_auto_created_topic() -> Result<()> {
    let cluster = gregor_broker_with_zk_configured(|c| c.property("num.partitions", 3))?;
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic("listed");
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("one");
    fs::write(&input, "hello\n")?;
    kcat_produce_file(&bootstrap, &topic, 0, &input, &[], TIMEOUT)?.success()?;

    let output = kcat(["-b", &bootstrap, "-L"], TIMEOUT)?.success()?;
    let listing = parse_listing(&output)?;
    ensure!(
        listing.brokers == [(1, bootstrap.clone())],
        "brokers {:?} in:\n{output}",
        listing.brokers
    );
    ensure!(
        listing.topics.get(&topic) == Some(&3),
        "{topic} with 3 partitions not in:\n{output}"
    );
    Ok(())
}

/// `k<i>:<value>` lines with values that compress (repeated words) but
/// differ from record to record.
fn keyed_records() -> String {
    let mut text = String::new();
    for i in 0..RECORDS {
        let _ = writeln!(
            text,
            "k{i}:value {i} the quick brown fox jumps over the lazy dog {}",
            i * 7919 % 10_007
        );
    }
    text
}

/// Produces [`keyed_records`] with `-z <codec>` to its own topic and
/// consumes them back: the output must equal the input byte for byte.
fn round_trip_with_codec(codec: &str) -> Result<()> {
    let cluster = gregor_broker_with_zk()?;
    let bootstrap = cluster.bootstrap();
    let topic = unique_topic(&format!("codec-{codec}"));
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("records");
    let records = keyed_records();
    fs::write(&input, &records)?;
    kcat_produce_file(
        &bootstrap,
        &topic,
        0,
        &input,
        &["-K:", "-z", codec],
        TIMEOUT,
    )?
    .success()
    .with_context(|| format!("producing with -z {codec}"))?;
    let output = kcat_consume(&bootstrap, &topic, 0, "%k:%s\n", TIMEOUT)?.success()?;
    let (got, want) = (output.lines().count(), records.lines().count());
    ensure!(
        got == want,
        "-z {codec}: consumed {got} records, produced {want}"
    );
    if let Some((n, (a, b))) = output
        .lines()
        .zip(records.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        anyhow::bail!("-z {codec}: record {n} came back as {a:?}, was {b:?}");
    }
    ensure!(output == records, "-z {codec}: output differs from input");
    Ok(())
}

#[test]
fn kcat_round_trips_10000_keyed_records_with_gzip() -> Result<()> {
    round_trip_with_codec("gzip")
}

#[test]
fn kcat_round_trips_10000_keyed_records_with_snappy() -> Result<()> {
    round_trip_with_codec("snappy")
}

#[test]
fn kcat_round_trips_10000_keyed_records_with_lz4() -> Result<()> {
    round_trip_with_codec("lz4")
}

#[test]
fn kcat_round_trips_10000_keyed_records_with_zstd() -> Result<()> {
    round_trip_with_codec("zstd")
}

#[test]
fn kcat_round_trips_10000_keyed_records_uncompressed() -> Result<()> {
    round_trip_with_codec("none")
}
