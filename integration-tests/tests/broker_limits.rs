//! The broker's answers to requests it must refuse, sent as exact bytes
//! with gregor's own codec types: unknown topics, auto-creation, oversized
//! and corrupt batches, and malformed input that must not take the broker
//! down.

use std::fmt::Write as _;
use std::fs;
use std::time::Duration;

use anyhow::{ensure, Result};
use bytes::Bytes;
use gregor_protocol::api::api_versions::{ApiVersionsRequest, ApiVersionsResponse};
use gregor_protocol::{ErrorCode, Message, ResponseHeader};
use gregor_record::{Batches, Record, RecordBatchBuilder};
use integration_tests::wire::{Answer, WireClient};
use integration_tests::{
    gregor_broker_with_zk_configured, kcat_consume, kcat_produce_file, unique_topic, wait_until,
};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

const TIMEOUT: Duration = Duration::from_secs(60);

fn batch(values: &[&[u8]]) -> Bytes {
    let mut builder = RecordBatchBuilder::new(1_700_000_000_000);
    for (i, value) in values.iter().enumerate() {
        let key = format!("k{i}");
        builder.append(Record::new(
            1_700_000_000_000 + i as i64,
            Some(key.as_bytes()),
            Some(value),
        ));
    }
    builder.build()
}

fn code(error_code: i16) -> ErrorCode {
    ErrorCode::from_code(error_code)
}

/// Waits until `topic` exists with `partitions` partitions, all led by
/// broker 1 (Kafka answers LEADER_NOT_AVAILABLE while a new topic's leaders
/// are being elected).
fn wait_for_topic(client: &mut WireClient, topic: &str, partitions: usize) -> Result<()> {
    wait_until(
        &format!("{topic} with {partitions} partitions"),
        TIMEOUT,
        || {
            let t = client.topic_metadata(topic, true)?;
            ensure!(
                matches!(
                    code(t.error_code),
                    ErrorCode::NONE | ErrorCode::LEADER_NOT_AVAILABLE
                ),
                "metadata for {topic}: {:?}",
                code(t.error_code)
            );
            Ok((code(t.error_code) == ErrorCode::NONE
                && t.partitions.len() == partitions
                && t.partitions
                    .iter()
                    .all(|p| p.error_code == 0 && p.leader_id == 1))
            .then_some(()))
        },
    )
}

#[test]
fn without_auto_creation_unknown_topics_are_unknown() -> Result<()> {
    let cluster =
        gregor_broker_with_zk_configured(|c| c.property("auto.create.topics.enable", false))?;
    let mut client = WireClient::connect(&cluster.bootstrap())?;

    // The client asks for creation; the broker's setting wins.
    let topic = client.topic_metadata("never-created", true)?;
    assert_eq!(
        code(topic.error_code),
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );
    assert!(topic.partitions.is_empty(), "{topic:?}");

    let answer = client.produce("never-created", 0, 1, batch(&[b"v"]))?;
    assert_eq!(
        code(answer.error_code),
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );

    // Neither request created it behind our back.
    let topic = client.topic_metadata("never-created", true)?;
    assert_eq!(
        code(topic.error_code),
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );
    Ok(())
}

#[test]
fn with_auto_creation_metadata_creates_topics_with_num_partitions() -> Result<()> {
    let cluster = gregor_broker_with_zk_configured(|c| c.property("num.partitions", 3))?;
    let mut client = WireClient::connect(&cluster.bootstrap())?;

    // Metadata v4+ lets the client decline creation.
    let declined = client.topic_metadata("not-wanted", false)?;
    assert_eq!(
        code(declined.error_code),
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
    );

    let topic = unique_topic("auto");
    wait_for_topic(&mut client, &topic, 3)?;
    let declined = client.topic_metadata("not-wanted", false)?;
    assert_eq!(
        code(declined.error_code),
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        "a declined topic was created"
    );
    Ok(())
}

#[test]
fn oversized_and_corrupt_batches_are_refused_and_not_stored() -> Result<()> {
    let cluster = gregor_broker_with_zk_configured(|c| c.property("message.max.bytes", 1000))?;
    let mut client = WireClient::connect(&cluster.bootstrap())?;
    let topic = unique_topic("limits");
    wait_for_topic(&mut client, &topic, 1)?;

    let big = vec![b'x'; 2000];
    let oversized = batch(&[&big]);
    assert!(oversized.len() > 1000);
    let answer = client.produce(&topic, 0, 1, oversized)?;
    assert_eq!(
        code(answer.error_code),
        ErrorCode::MESSAGE_TOO_LARGE,
        "{answer:?}"
    );

    let mut corrupt = batch(&[b"one", b"two"]).to_vec();
    // Flip a bit in the last record's value: covered by the CRC.
    *corrupt.last_mut().expect("non-empty") ^= 0x01;
    let answer = client.produce(&topic, 0, 1, Bytes::from(corrupt))?;
    assert_eq!(
        code(answer.error_code),
        ErrorCode::CORRUPT_MESSAGE,
        "{answer:?}"
    );

    let fetched = client.fetch(&topic, 0, 0)?;
    assert_eq!(code(fetched.error_code), ErrorCode::NONE);
    assert_eq!(fetched.high_watermark, 0, "a refused batch was stored");
    assert!(
        fetched.records.as_ref().is_none_or(|r| r.is_empty()),
        "fetch returned {:?} bytes of records",
        fetched.records.as_ref().map(Bytes::len)
    );

    // A good batch afterwards gets offset 0: the refused ones used none.
    let answer = client.produce(&topic, 0, 1, batch(&[b"good"]))?;
    assert_eq!(code(answer.error_code), ErrorCode::NONE, "{answer:?}");
    assert_eq!(answer.base_offset, 0);
    let fetched = client.fetch(&topic, 0, 0)?;
    assert_eq!(fetched.high_watermark, 1);
    let records = fetched.records.unwrap_or_default();
    let batches: Vec<_> = Batches::new(&records).collect::<Result<_, _>>()?;
    assert_eq!(batches.len(), 1, "{batches:?}");
    assert_eq!(batches[0].0.base_offset, 0);
    assert_eq!(batches[0].0.record_count, 1);
    Ok(())
}

/// Sends `bytes` on a fresh connection, closes the sending side, and
/// returns what the broker did. It must answer or close within the I/O
/// timeout, never hang.
fn send_and_close(bootstrap: &str, bytes: &[u8]) -> Result<Answer> {
    let mut client = WireClient::connect(bootstrap)?;
    client.send_raw(bytes)?;
    client.shutdown_write()?;
    client.read_answer()
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// Request header v1: api key, version, correlation id, client id.
fn header(api_key: i16, version: i16) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&api_key.to_be_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&7i32.to_be_bytes());
    out.extend_from_slice(&4i16.to_be_bytes());
    out.extend_from_slice(b"test");
    out
}

/// Request header v2 (flexible versions): v1 and an empty tagged-field
/// section, as clients send it for versions newer than the broker knows.
fn flexible_header(api_key: i16, version: i16) -> Vec<u8> {
    let mut out = header(api_key, version);
    out.push(0);
    out
}

#[test]
fn malformed_input_does_not_take_the_broker_down() -> Result<()> {
    let cluster = gregor_broker_with_zk_configured(|c| c)?;
    let bootstrap = cluster.bootstrap();

    // A frame cut short, then EOF.
    let mut truncated = 100i32.to_be_bytes().to_vec();
    truncated.extend_from_slice(&header(18, 0));
    assert_eq!(send_and_close(&bootstrap, &truncated)?, Answer::Closed);
    // Absurd and negative sizes: refused before anything is buffered.
    for size in [i32::MAX, 1 << 30, -1, i32::MIN] {
        let answer = send_and_close(&bootstrap, &size.to_be_bytes())?;
        assert_eq!(answer, Answer::Closed, "frame size {size}");
    }
    // Unknown API keys: Kafka cannot parse the header and closes.
    for key in [-1i16, 99, 9999, i16::MAX] {
        let answer = send_and_close(&bootstrap, &frame(&header(key, 0)))?;
        assert_eq!(answer, Answer::Closed, "api key {key}");
    }
    // Unsupported Metadata version: closed, as Kafka does.
    let answer = send_and_close(&bootstrap, &frame(&flexible_header(3, 99)))?;
    assert_eq!(answer, Answer::Closed, "Metadata v99");
    // A known request with a garbage body.
    let mut garbage = header(3, 1);
    garbage.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff, 1, 2]);
    assert_eq!(
        send_and_close(&bootstrap, &frame(&garbage))?,
        Answer::Closed
    );

    // An ApiVersions version the broker does not know: KIP-511 says it
    // answers in v0 with UNSUPPORTED_VERSION and its own version range.
    let mut client = WireClient::connect(&bootstrap)?;
    client.send_frame(&flexible_header(18, 99))?;
    let Answer::Frame(response) = client.read_answer()? else {
        panic!("ApiVersions v99 was not answered");
    };
    let response = Bytes::from(response);
    let (response_header, body) = ResponseHeader::decode(&response, 0)?;
    assert_eq!(response_header.correlation_id, 7);
    let versions = ApiVersionsResponse::decode(&body, 0)?;
    assert_eq!(code(versions.error_code), ErrorCode::UNSUPPORTED_VERSION);
    assert!(
        versions
            .api_keys
            .iter()
            .any(|k| k.api_key == 18 && k.min_version == 0 && k.max_version >= 3),
        "{versions:?}"
    );

    // Random bytes, raw and framed, each on its own connection.
    // Seeded, so that a failure reproduces.
    let mut random = SmallRng::seed_from_u64(0x9e37_79b9_7f4a_7c15);
    for round in 0..40 {
        let mut body = vec![0u8; random.random_range(1..=3000)];
        random.fill(&mut body[..]);
        let bytes = if round % 2 == 0 { body } else { frame(&body) };
        // Answered or closed, whatever it is; only a hang fails.
        send_and_close(&bootstrap, &bytes)?;
    }

    // The broker still serves requests on new connections...
    let mut client = WireClient::connect(&bootstrap)?;
    let request = ApiVersionsRequest {
        client_software_name: "gregor-tests".into(),
        client_software_version: "1.0".into(),
    };
    let versions = client.request(3, &request)?;
    assert_eq!(code(versions.error_code), ErrorCode::NONE);
    // ...and real clients.
    let topic = unique_topic("after-garbage");
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("records");
    let mut text = String::new();
    for i in 0..100 {
        writeln!(text, "k{i}:v{i}")?;
    }
    fs::write(&input, &text)?;
    kcat_produce_file(&bootstrap, &topic, 0, &input, &["-K:"], TIMEOUT)?.success()?;
    let output = kcat_consume(&bootstrap, &topic, 0, "%k:%s\n", TIMEOUT)?.success()?;
    assert_eq!(output, text);
    Ok(())
}
