//! InitProducerId (key 22): a producer asks for a producer id and epoch
//! before its first idempotent (or transactional) produce.
//!
//! Versions 0 to 4: v1 is v0 (the response may be throttled before it is
//! sent), v2 is flexible, v3 lets a producer name its current id and epoch
//! to have the epoch bumped (KIP-360), and v4 only allows the new error
//! code PRODUCER_FENCED (KIP-588).

use crate::codec::{message, Request};

message! {
    /// InitProducerId request.
    pub message InitProducerIdRequest {
        api_key: InitProducerId, versions: 0..=4, flexible: 2..;
        /// The transactional id, or null for an idempotent producer without
        /// transactions.
        transactional_id: Option<String> [0..],
        /// How long the transaction coordinator waits before aborting an
        /// idle transaction, in ms.
        transaction_timeout_ms: i32 [0..],
        /// The producer's current id (v3+), -1 when it has none yet.
        producer_id: i64 [3..] = -1,
        /// The producer's current epoch (v3+), -1 when it has none yet.
        producer_epoch: i16 [3..] = -1,
    }

    /// InitProducerId response.
    pub message InitProducerIdResponse {
        api_key: InitProducerId, versions: 0..=4, flexible: 2..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [0..],
        /// The error code, 0 if none.
        error_code: i16 [0..],
        /// The producer id, -1 on error.
        producer_id: i64 [0..] = -1,
        /// The producer epoch.
        producer_epoch: i16 [0..],
    }
}

impl Request for InitProducerIdRequest {
    type Response = InitProducerIdResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::{DecodeError, Message};
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::{ProducerId, TransactionalId};

    fn their_request(r: &InitProducerIdRequest) -> kp::InitProducerIdRequest {
        kp::InitProducerIdRequest::default()
            .with_transactional_id(
                r.transactional_id
                    .as_deref()
                    .map(|s| TransactionalId(str_bytes(s))),
            )
            .with_transaction_timeout_ms(r.transaction_timeout_ms)
            .with_producer_id(ProducerId(r.producer_id))
            .with_producer_epoch(r.producer_epoch)
    }

    fn their_response(r: &InitProducerIdResponse) -> kp::InitProducerIdResponse {
        kp::InitProducerIdResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_error_code(r.error_code)
            .with_producer_id(ProducerId(r.producer_id))
            .with_producer_epoch(r.producer_epoch)
    }

    testing::codec_tests!(
        InitProducerIdRequest,
        InitProducerIdResponse,
        their_request,
        their_response,
        0..=4
    );

    #[test]
    fn known_bytes() {
        // An idempotent producer (no transactional id) asking for an id, as
        // kafka-python and the Java client send it, in v0 and v4.
        let req = InitProducerIdRequest {
            transactional_id: None,
            transaction_timeout_ms: 60_000,
            producer_id: -1,
            producer_epoch: -1,
        };
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 0).unwrap();
        #[rustfmt::skip]
        let v0: &[u8] = &[
            0xff, 0xff, // null transactional id
            0, 0, 0xea, 0x60, // 60000 ms
        ];
        assert_eq!(&buf[..], v0);
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 4).unwrap();
        #[rustfmt::skip]
        let v4: &[u8] = &[
            0, // null compact string
            0, 0, 0xea, 0x60,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // producer id -1
            0xff, 0xff, // producer epoch -1
            0, // tagged fields
        ];
        assert_eq!(&buf[..], v4);
        assert_eq!(
            InitProducerIdRequest::decode(&Bytes::from_static(v4), 4).unwrap(),
            req
        );
        // v2 has no id/epoch: they decode to their spec defaults.
        let v2: &[u8] = &[2, b't', 0, 0, 0, 1, 0];
        let decoded = InitProducerIdRequest::decode(&Bytes::from_static(v2), 2).unwrap();
        assert_eq!(decoded.transactional_id.as_deref(), Some("t"));
        assert_eq!((decoded.producer_id, decoded.producer_epoch), (-1, -1));

        let resp = InitProducerIdResponse {
            throttle_time_ms: 0,
            error_code: 0,
            producer_id: 1000,
            producer_epoch: 0,
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 1).unwrap();
        #[rustfmt::skip]
        let v1: &[u8] = &[
            0, 0, 0, 0,
            0, 0,
            0, 0, 0, 0, 0, 0, 0x03, 0xe8,
            0, 0,
        ];
        assert_eq!(&buf[..], v1);
    }

    #[test]
    fn v5_is_not_supported() {
        assert!(matches!(
            InitProducerIdRequest::decode(&Bytes::from_static(&[0, 0, 0, 0, 0, 0]), 5),
            Err(DecodeError::UnsupportedVersion { version: 5, .. })
        ));
    }
}
