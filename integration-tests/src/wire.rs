//! A minimal blocking Kafka wire client built on gregor's own codec types,
//! for tests that must send exactly the bytes they want (limits, corrupt
//! batches, malformed frames) rather than what a real client would send.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use bytes::{Bytes, BytesMut};
use gregor_protocol::api::create_topics::{CreatableTopic, CreateTopicsRequest};
use gregor_protocol::api::fetch::{FetchPartition, FetchRequest, FetchTopic, PartitionData};
use gregor_protocol::api::find_coordinator::FindCoordinatorRequest;
use gregor_protocol::api::metadata::{
    MetadataRequest, MetadataRequestTopic, MetadataResponseTopic,
};
use gregor_protocol::api::offset_commit::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use gregor_protocol::api::produce::{
    PartitionProduceData, PartitionProduceResponse, ProduceRequest, TopicProduceData,
};
use gregor_protocol::frame::write_frame;
use gregor_protocol::header::response_header_version;
use gregor_protocol::{Message, Request, RequestHeader, ResponseHeader};

use crate::wait_until;

/// How long a read may block before the test gives up on an answer.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response frame the client accepts.
const MAX_RESPONSE: usize = 64 << 20;
/// How long a request for the controller waits for one to be elected.
const CONTROLLER_TIMEOUT: Duration = Duration::from_secs(30);
/// Kafka's error code for a controller request sent to another broker.
const NOT_CONTROLLER: i16 = 41;

/// One connection to a broker.
pub struct WireClient {
    stream: TcpStream,
    correlation_id: i32,
}

/// What became of a connection after something was sent on it.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// The broker sent a frame (its body, length prefix removed).
    Frame(Vec<u8>),
    /// The broker closed the connection (EOF or reset) without a frame.
    Closed,
}

impl WireClient {
    pub fn connect(bootstrap: &str) -> Result<Self> {
        let stream =
            TcpStream::connect(bootstrap).with_context(|| format!("connecting to {bootstrap}"))?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            correlation_id: 0,
        })
    }

    /// Sends `request` in `version` and decodes the answer.
    pub fn request<R: Request>(&mut self, version: i16, request: &R) -> Result<R::Response> {
        let correlation_id = self.send(version, request)?;
        let frame = match self.read_answer()? {
            Answer::Frame(frame) => Bytes::from(frame),
            Answer::Closed => bail!(
                "broker closed the connection instead of answering {} v{version}",
                R::NAME
            ),
        };
        let header_version = response_header_version(R::API_KEY, version);
        let (header, body) = ResponseHeader::decode(&frame, header_version)
            .with_context(|| format!("decoding the response header of {} v{version}", R::NAME))?;
        ensure!(
            header.correlation_id == correlation_id,
            "correlation id {} answers request {correlation_id}",
            header.correlation_id
        );
        <R::Response as Message>::decode(&body, version)
            .with_context(|| format!("decoding {} v{version}", <R::Response as Message>::NAME))
    }

    /// Sends `request` without reading an answer (acks=0 produce); returns
    /// the correlation id used.
    pub fn send<R: Request>(&mut self, version: i16, request: &R) -> Result<i32> {
        self.correlation_id += 1;
        let header = RequestHeader {
            api_key: R::API_KEY,
            api_version: version,
            correlation_id: self.correlation_id,
            client_id: Some("gregor-integration-tests".into()),
        };
        let mut buf = BytesMut::new();
        write_frame(&mut buf, |buf| -> Result<()> {
            header.encode(buf)?;
            request.encode(buf, version)?;
            Ok(())
        })?;
        self.stream.write_all(&buf)?;
        Ok(self.correlation_id)
    }

    /// Writes raw bytes, framing included (or not).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes)?;
        Ok(())
    }

    /// Writes `body` behind a correct length prefix.
    pub fn send_frame(&mut self, body: &[u8]) -> Result<()> {
        let mut buf = Vec::with_capacity(4 + body.len());
        buf.extend_from_slice(&(body.len() as i32).to_be_bytes());
        buf.extend_from_slice(body);
        self.send_raw(&buf)
    }

    /// Closes the sending side, so the broker sees EOF after what was sent.
    pub fn shutdown_write(&mut self) -> Result<()> {
        self.stream.shutdown(std::net::Shutdown::Write)?;
        Ok(())
    }

    /// Reads one response frame, or reports that the broker closed the
    /// connection. Fails if nothing happens within the I/O timeout.
    pub fn read_answer(&mut self) -> Result<Answer> {
        let mut prefix = [0u8; 4];
        match read_exact_or_closed(&mut self.stream, &mut prefix)? {
            Some(()) => {}
            None => return Ok(Answer::Closed),
        }
        let size = i32::from_be_bytes(prefix);
        let size = usize::try_from(size)
            .ok()
            .filter(|&s| s <= MAX_RESPONSE)
            .with_context(|| format!("response frame size {size}"))?;
        let mut frame = vec![0; size];
        match read_exact_or_closed(&mut self.stream, &mut frame)? {
            Some(()) => Ok(Answer::Frame(frame)),
            None => bail!("connection closed in the middle of a {size}-byte response"),
        }
    }
}

/// `Ok(None)` if the peer closed (EOF or reset) before `buf` was filled.
fn read_exact_or_closed(stream: &mut TcpStream, buf: &mut [u8]) -> Result<Option<()>> {
    let mut filled = 0;
    while filled < buf.len() {
        match stream.read(&mut buf[filled..]) {
            Ok(0) => return Ok(None),
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                return Ok(None)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                bail!("no answer within {IO_TIMEOUT:?}")
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(()))
}

/// Shortcuts for the requests tests send most, in fixed versions.
impl WireClient {
    /// Produce v8 of one batch (or any bytes) to one partition; the
    /// partition's answer.
    pub fn produce(
        &mut self,
        topic: &str,
        partition: i32,
        acks: i16,
        records: Bytes,
    ) -> Result<PartitionProduceResponse> {
        let request = ProduceRequest {
            acks,
            timeout_ms: 30_000,
            topic_data: vec![TopicProduceData {
                name: topic.to_owned(),
                partition_data: vec![PartitionProduceData {
                    index: partition,
                    records: Some(records),
                }],
            }],
            ..Default::default()
        };
        let response = self.request(8, &request)?;
        let [topic_response] = &response.responses[..] else {
            bail!("produce answered {} topics", response.responses.len());
        };
        let [partition_response] = &topic_response.partition_responses[..] else {
            bail!(
                "produce answered {} partitions",
                topic_response.partition_responses.len()
            );
        };
        Ok(partition_response.clone())
    }

    /// Fetch v12 of one partition from `offset`, without waiting.
    pub fn fetch(&mut self, topic: &str, partition: i32, offset: i64) -> Result<PartitionData> {
        let request = FetchRequest {
            replica_id: -1,
            max_wait_ms: 0,
            min_bytes: 0,
            max_bytes: 1 << 20,
            topics: vec![FetchTopic {
                topic: topic.to_owned(),
                partitions: vec![FetchPartition {
                    partition,
                    fetch_offset: offset,
                    partition_max_bytes: 1 << 20,
                    ..Default::default()
                }],
            }],
            ..Default::default()
        };
        let response = self.request(12, &request)?;
        ensure!(
            response.error_code == 0,
            "fetch error {}",
            response.error_code
        );
        let [topic_response] = &response.responses[..] else {
            bail!("fetch answered {} topics", response.responses.len());
        };
        let [partition_data] = &topic_response.partitions[..] else {
            bail!(
                "fetch answered {} partitions",
                topic_response.partitions.len()
            );
        };
        Ok(partition_data.clone())
    }

    /// Metadata v9 for one topic; the topic's entry.
    pub fn topic_metadata(
        &mut self,
        topic: &str,
        allow_auto_topic_creation: bool,
    ) -> Result<MetadataResponseTopic> {
        let request = MetadataRequest {
            topics: Some(vec![MetadataRequestTopic {
                name: topic.to_owned(),
            }]),
            allow_auto_topic_creation,
            ..Default::default()
        };
        let response = self.request(9, &request)?;
        response
            .topics
            .into_iter()
            .find(|t| t.name == topic)
            .with_context(|| format!("metadata has no entry for {topic}"))
    }

    /// Waits, at most `timeout`, until FindCoordinator v3 finds `group` a
    /// coordinator (the first ask creates `__consumer_offsets`).
    pub fn wait_for_coordinator(&mut self, group: &str, timeout: Duration) -> Result<()> {
        let find = FindCoordinatorRequest {
            key: group.into(),
            ..Default::default()
        };
        wait_until(&format!("a coordinator for {group}"), timeout, || {
            Ok((self.request(3, &find)?.error_code == 0).then_some(()))
        })
    }

    /// Commits `offsets` (partition, offset) of `topic` with OffsetCommit v7
    /// as the simple (memberless, generation -1) consumer group `group`;
    /// an error unless every partition is answered with success.
    pub fn commit_offsets(
        &mut self,
        group: &str,
        topic: &str,
        offsets: &[(i32, i64)],
    ) -> Result<()> {
        let request = OffsetCommitRequest {
            group_id: group.into(),
            generation_id: -1,
            member_id: String::new(),
            topics: vec![OffsetCommitRequestTopic {
                name: topic.into(),
                partitions: offsets
                    .iter()
                    .map(
                        |&(partition_index, committed_offset)| OffsetCommitRequestPartition {
                            partition_index,
                            committed_offset,
                            ..Default::default()
                        },
                    )
                    .collect(),
            }],
            ..Default::default()
        };
        let response = self.request(7, &request)?;
        let errors: Vec<i16> = response
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
            .collect();
        ensure!(
            errors.iter().all(|e| *e == 0),
            "OffsetCommit answered {errors:?}"
        );
        Ok(())
    }

    /// Creates one topic with CreateTopics v5, waiting up to 30 s for the
    /// controller to give it leaders; an error unless the controller
    /// answers success. As Kafka's admin client does, the request goes to
    /// the controller that Metadata names: a broker that is not (or not
    /// yet) the controller answers NOT_CONTROLLER, and then the request is
    /// sent again, to the controller Metadata names by then.
    pub fn create_topic(&mut self, topic: CreatableTopic) -> Result<()> {
        let request = CreateTopicsRequest {
            topics: vec![topic],
            timeout_ms: 30_000,
            validate_only: false,
        };
        let result = wait_until("CreateTopics at the controller", CONTROLLER_TIMEOUT, || {
            let Some(mut controller) = self.controller()? else {
                return Ok(None);
            };
            let response = controller.request(5, &request).context("CreateTopics")?;
            let result = response
                .topics
                .into_iter()
                .next()
                .context("CreateTopics answered no topic")?;
            Ok((result.error_code != NOT_CONTROLLER).then_some(result))
        })?;
        ensure!(result.error_code == 0, "CreateTopics answered {result:?}");
        Ok(())
    }

    /// A connection to the controller this broker's Metadata (v1+) names,
    /// `None` while it names none that it lists.
    pub fn controller(&mut self) -> Result<Option<WireClient>> {
        let request = MetadataRequest {
            topics: Some(Vec::new()),
            ..Default::default()
        };
        let metadata = self.request(9, &request).context("Metadata")?;
        let Some(controller) = metadata
            .brokers
            .iter()
            .find(|b| b.node_id == metadata.controller_id)
        else {
            return Ok(None);
        };
        WireClient::connect(&format!("{}:{}", controller.host, controller.port)).map(Some)
    }
}
