//! ControlledShutdown (key 7): a broker about to stop asks the controller
//! to move leadership of its partitions to other replicas first; the answer
//! lists the partitions it still leads (the broker retries until none).
//!
//! Versions 0 to 3, as in Kafka 2.8: v0 is sent with request header v0, which
//! has no client id (see `header::request_header_version`); v1 is the same
//! body with the standard header; v2 adds the broker epoch; v3 is flexible.

use crate::codec::{message, Request};

message! {
    /// ControlledShutdown request.
    pub message ControlledShutdownRequest {
        api_key: ControlledShutdown, versions: 0..=3, flexible: 3..;
        /// The broker that wants to shut down.
        broker_id: i32 [0..],
        /// That broker's epoch, -1 if unknown (v2+); the controller refuses a
        /// stale one (STALE_BROKER_EPOCH).
        broker_epoch: i64 [2..] = -1,
    }

    /// ControlledShutdown response.
    pub message ControlledShutdownResponse {
        api_key: ControlledShutdown, versions: 0..=3, flexible: 3..;
        /// The request-level error, 0 if none.
        error_code: i16 [0..],
        /// The partitions the broker still leads.
        remaining_partitions: Vec<RemainingPartition> [0..],
    }

    /// A partition the shutting-down broker still leads.
    pub struct RemainingPartition {
        topic_name: String [0..],
        partition_index: i32 [0..],
    }
}

impl Request for ControlledShutdownRequest {
    type Response = ControlledShutdownResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, check_known_bytes};
    use crate::{ApiKey, DecodeError, Message, RequestHeader};
    use bytes::{Bytes, BytesMut};

    // kafka-protocol 0.18 follows Kafka 4.0, which removed the ZooKeeper-mode
    // controller RPCs, so there is no differential check: round trips,
    // robustness, and known bytes built by hand from the spec.
    #[test]
    fn round_trip() {
        testing::check_round_trip::<ControlledShutdownRequest>();
        testing::check_round_trip::<ControlledShutdownResponse>();
    }

    #[test]
    fn decode_never_panics() {
        testing::check_decode_never_panics::<ControlledShutdownRequest>();
        testing::check_decode_never_panics::<ControlledShutdownResponse>();
    }

    #[test]
    fn known_bytes() {
        let req = ControlledShutdownRequest {
            broker_id: 3,
            broker_epoch: 0x0102,
        };
        check_known_bytes(
            &ControlledShutdownRequest {
                broker_epoch: -1,
                ..req.clone()
            },
            0,
            &[0, 0, 0, 3],
        );
        check_known_bytes(&req, 2, &[0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 1, 2]);
        check_known_bytes(&req, 3, &[0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 1, 2, 0]);

        let resp = ControlledShutdownResponse {
            error_code: 0,
            remaining_partitions: vec![RemainingPartition {
                topic_name: "t".into(),
                partition_index: 4,
            }],
        };
        check_known_bytes(&resp, 1, &[0, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 4]);
        check_known_bytes(&resp, 3, &[0, 0, 2, 2, b't', 0, 0, 0, 4, 0, 0]);
        assert_eq!(
            ControlledShutdownRequest::decode(&Bytes::new(), 4),
            Err(DecodeError::UnsupportedVersion {
                message: "ControlledShutdownRequest",
                version: 4
            })
        );
    }

    /// A whole v0 frame: header v0 (no client id), then the body.
    #[test]
    fn v0_frame_has_no_client_id() {
        let header = RequestHeader {
            api_key: ApiKey::ControlledShutdown,
            api_version: 0,
            correlation_id: 5,
            client_id: None,
        };
        let mut buf = BytesMut::new();
        header.encode(&mut buf).unwrap();
        ControlledShutdownRequest {
            broker_id: 3,
            broker_epoch: -1,
        }
        .encode(&mut buf, 0)
        .unwrap();
        let frame = buf.freeze();
        assert_eq!(&frame[..], &[0, 7, 0, 0, 0, 0, 0, 5, 0, 0, 0, 3]);
        let (back, body) = RequestHeader::decode(&frame).unwrap();
        assert_eq!(back, header);
        let req = ControlledShutdownRequest::decode(&body, 0).unwrap();
        assert_eq!((req.broker_id, req.broker_epoch), (3, -1));
    }
}
