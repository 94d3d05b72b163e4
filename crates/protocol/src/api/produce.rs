//! Produce (key 0): a producer hands record batches to partition leaders.
//!
//! Versions 0 to 9, as Kafka 2.8 advertises them. v3 is the first to carry
//! record batches of magic v2, the only format gregor stores: v0-v2 requests
//! can only carry the old message formats, which the log refuses with
//! UNSUPPORTED_FOR_MESSAGE_FORMAT. They are advertised all the same because
//! librdkafka up to 2.11 enables gzip, snappy and lz4 only when the broker
//! lists Produce v0 (its `compr_req` check), and would otherwise send
//! uncompressed batches. v9 is the first flexible version. The record data
//! stays an opaque, zero-copy slice of the request frame; the log layer
//! validates and appends it as is.

use bytes::Bytes;

use crate::codec::{message, Request};

message! {
    /// Produce request.
    pub message ProduceRequest {
        api_key: Produce, versions: 0..=9, flexible: 9..;
        /// The transactional id, null if the producer is not transactional.
        transactional_id: Option<String> [3..] nullable [3..] = None,
        /// Acknowledgements the producer wants before an answer: 0 none (no
        /// response is sent), 1 the leader, -1 the whole ISR.
        acks: i16 [0..],
        /// How long to wait for the acknowledgements, in ms.
        timeout_ms: i32 [0..],
        /// Each topic to produce to.
        topic_data: Vec<TopicProduceData> [0..],
    }

    /// The partitions of one topic to produce to.
    pub struct TopicProduceData {
        /// The topic name.
        name: String [0..],
        /// Each partition to produce to.
        partition_data: Vec<PartitionProduceData> [0..],
    }

    /// The records for one partition.
    pub struct PartitionProduceData {
        /// The partition index.
        index: i32 [0..],
        /// The record batches, exactly as the producer framed them (a slice
        /// of the request frame, never copied).
        records: Option<Bytes> [0..] nullable [0..],
    }

    /// Produce response.
    pub message ProduceResponse {
        api_key: Produce, versions: 0..=9, flexible: 9..;
        /// One entry per topic produced to.
        responses: Vec<TopicProduceResponse> [0..],
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [1..],
    }

    /// The outcome for one topic.
    pub struct TopicProduceResponse {
        /// The topic name.
        name: String [0..],
        /// One entry per partition produced to.
        partition_responses: Vec<PartitionProduceResponse> [0..],
    }

    /// The outcome for one partition.
    pub struct PartitionProduceResponse {
        /// The partition index.
        index: i32 [0..],
        /// The error code, 0 if none.
        error_code: i16 [0..],
        /// The offset given to the first record appended.
        base_offset: i64 [0..],
        /// The broker's append time for `LogAppendTime` topics, else -1.
        log_append_time_ms: i64 [2..] = -1,
        /// The partition's log start offset.
        log_start_offset: i64 [5..] = -1,
        /// The records that made the broker drop the batch (KIP-467).
        record_errors: Vec<BatchIndexAndErrorMessage> [8..],
        /// What those records have in common, null if nothing to say.
        error_message: Option<String> [8..] nullable [8..] = None,
    }

    /// One record that made the broker drop its batch.
    pub struct BatchIndexAndErrorMessage {
        /// The record's index within its batch.
        batch_index: i32 [8..],
        /// Why it was refused, null if no reason is given.
        batch_index_error_message: Option<String> [8..] nullable [8..] = None,
    }
}

impl Request for ProduceRequest {
    type Response = ProduceResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::{DecodeError, Message};
    use bytes::BytesMut;
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::produce_request as kpq;
    use kafka_protocol::messages::produce_response as kpr;
    use kafka_protocol::messages::{TopicName, TransactionalId};

    fn their_request(r: &ProduceRequest) -> kp::ProduceRequest {
        kp::ProduceRequest::default()
            .with_transactional_id(
                r.transactional_id
                    .as_deref()
                    .map(|id| TransactionalId(str_bytes(id))),
            )
            .with_acks(r.acks)
            .with_timeout_ms(r.timeout_ms)
            .with_topic_data(
                r.topic_data
                    .iter()
                    .map(|t| {
                        kpq::TopicProduceData::default()
                            .with_name(TopicName(str_bytes(&t.name)))
                            .with_partition_data(
                                t.partition_data
                                    .iter()
                                    .map(|p| {
                                        kpq::PartitionProduceData::default()
                                            .with_index(p.index)
                                            .with_records(p.records.clone())
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
    }

    fn their_response(r: &ProduceResponse) -> kp::ProduceResponse {
        kp::ProduceResponse::default()
            .with_responses(
                r.responses
                    .iter()
                    .map(|t| {
                        kpr::TopicProduceResponse::default()
                            .with_name(TopicName(str_bytes(&t.name)))
                            .with_partition_responses(
                                t.partition_responses
                                    .iter()
                                    .map(|p| {
                                        kpr::PartitionProduceResponse::default()
                                            .with_index(p.index)
                                            .with_error_code(p.error_code)
                                            .with_base_offset(p.base_offset)
                                            .with_log_append_time_ms(p.log_append_time_ms)
                                            .with_log_start_offset(p.log_start_offset)
                                            .with_record_errors(
                                                p.record_errors
                                                    .iter()
                                                    .map(|e| {
                                                        kpr::BatchIndexAndErrorMessage::default()
                                                            .with_batch_index(e.batch_index)
                                                            .with_batch_index_error_message(
                                                                e.batch_index_error_message
                                                                    .as_deref()
                                                                    .map(str_bytes),
                                                            )
                                                    })
                                                    .collect(),
                                            )
                                            .with_error_message(
                                                p.error_message.as_deref().map(str_bytes),
                                            )
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            )
            .with_throttle_time_ms(r.throttle_time_ms)
    }

    // kafka-protocol 0.18 starts at v3 (Kafka 4 dropped v0-v2); the older
    // versions differ from v3 only by fields the round trip and the
    // known-bytes tests pin down.
    testing::codec_tests!(
        ProduceRequest,
        ProduceResponse,
        their_request,
        their_response,
        3..=9
    );

    fn one_partition(records: Option<Bytes>) -> ProduceRequest {
        ProduceRequest {
            acks: -1,
            timeout_ms: 30_000,
            topic_data: vec![TopicProduceData {
                name: "t".into(),
                partition_data: vec![PartitionProduceData { index: 0, records }],
            }],
            ..Default::default()
        }
    }

    #[test]
    fn records_are_zero_copy_and_byte_identical() {
        // Any blob, not only a well-formed batch: the codec does not look
        // inside it.
        let blob = Bytes::from((0..=255u8).cycle().take(1000).collect::<Vec<u8>>());
        for version in ProduceRequest::VERSIONS {
            testing::check_bytes_zero_copy(&one_partition(Some(blob.clone())), version, |r| {
                r.topic_data[0].partition_data[0].records.as_ref()
            });
        }
    }

    #[test]
    fn known_bytes() {
        let req = one_partition(Some(Bytes::from_static(b"\x01\x02\x03")));
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 3).unwrap();
        #[rustfmt::skip]
        let classic: &[u8] = &[
            0xff, 0xff, // transactional_id: null
            0xff, 0xff, // acks -1
            0, 0, 0x75, 0x30, // timeout 30000
            0, 0, 0, 1, 0, 1, b't', // one topic "t"
            0, 0, 0, 1, 0, 0, 0, 0, // one partition, index 0
            0, 0, 0, 3, 1, 2, 3, // records
        ];
        assert_eq!(&buf[..], classic);
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 9).unwrap();
        #[rustfmt::skip]
        let flexible: &[u8] = &[
            0, // transactional_id: compact null
            0xff, 0xff,
            0, 0, 0x75, 0x30,
            2, 2, b't', // compact array of 1, compact string "t"
            2, 0, 0, 0, 0, // compact array of 1, index 0
            4, 1, 2, 3, // compact records
            0, 0, 0, // tagged sections: partition, topic, request
        ];
        assert_eq!(&buf[..], flexible);
        assert_eq!(
            ProduceRequest::decode(&Bytes::copy_from_slice(flexible), 9).unwrap(),
            req
        );
    }

    #[test]
    fn null_records_and_transactional_id() {
        let mut req = one_partition(None);
        req.transactional_id = Some("txn".into());
        for version in ProduceRequest::VERSIONS {
            let mut buf = BytesMut::new();
            req.encode(&mut buf, version).unwrap();
            let back = ProduceRequest::decode(&buf.freeze(), version).unwrap();
            // v0-v2 have no transactional id: it decodes to its default.
            let expected = if version >= 3 {
                req.clone()
            } else {
                ProduceRequest {
                    transactional_id: None,
                    ..req.clone()
                }
            };
            assert_eq!(back, expected, "v{version}");
        }
    }

    #[test]
    fn response_defaults_and_version_gating() {
        let resp = ProduceResponse {
            responses: vec![TopicProduceResponse {
                name: "t".into(),
                partition_responses: vec![PartitionProduceResponse {
                    base_offset: 42,
                    error_message: Some("bad".into()),
                    ..Default::default()
                }],
            }],
            throttle_time_ms: 0,
        };
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!((p.log_append_time_ms, p.log_start_offset), (-1, -1));
        // v4 has no log_start_offset and no error message: they are dropped.
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 4).unwrap();
        let back = ProduceResponse::decode(&buf.freeze(), 4).unwrap();
        assert_eq!(back.responses[0].partition_responses[0].error_message, None);
        assert_eq!(back.responses[0].partition_responses[0].base_offset, 42);
    }

    #[test]
    fn unsupported_versions_and_null_arrays_are_refused() {
        assert!(matches!(
            ProduceRequest::decode(&Bytes::new(), -1),
            Err(DecodeError::UnsupportedVersion { version: -1, .. })
        ));
        assert!(ProduceRequest::default()
            .encode(&mut BytesMut::new(), 10)
            .is_err());
        // A null topic array is not allowed.
        assert_eq!(
            ProduceRequest::decode(
                &Bytes::from_static(&[0xff, 0xff, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]),
                3
            ),
            Err(DecodeError::InvalidLength(-1))
        );
    }
}
