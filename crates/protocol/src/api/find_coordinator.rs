//! FindCoordinator (key 10): which broker coordinates a consumer group (key
//! type 0) or a transactional id (key type 1). Any broker answers it; the
//! coordinator is the leader of the `__consumer_offsets` (or
//! `__transaction_state`) partition the key hashes to.
//!
//! Versions 0 to 4: v1 adds the key type and, in the response, the throttle
//! time and an error message; v2 is v1 again; v3 is flexible; v4 (KIP-699,
//! Kafka 3.0) batches: the request carries a list of keys and the response
//! one result per key, replacing the single key and single answer.

use crate::codec::{message, Request};

message! {
    /// FindCoordinator request.
    pub message FindCoordinatorRequest {
        api_key: FindCoordinator, versions: 0..=4, flexible: 3..;
        /// The group id or transactional id (v0-v3).
        key: String [0..=3],
        /// 0 for a group, 1 for a transaction.
        key_type: i8 [1..],
        /// The keys to look up (v4+, replaces `key`).
        coordinator_keys: Vec<String> [4..],
    }

    /// FindCoordinator response.
    pub message FindCoordinatorResponse {
        api_key: FindCoordinator, versions: 0..=4, flexible: 3..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [1..],
        /// The error code, 0 if none (v0-v3).
        error_code: i16 [0..=3],
        /// The error message, null if none (v1-v3).
        error_message: Option<String> [1..=3] nullable [1..=3] = Some(String::new()),
        /// The coordinator's broker id (v0-v3).
        node_id: i32 [0..=3],
        /// The coordinator's host (v0-v3).
        host: String [0..=3],
        /// The coordinator's port (v0-v3).
        port: i32 [0..=3],
        /// One result per requested key (v4+).
        coordinators: Vec<Coordinator> [4..],
    }

    /// The coordinator of one key (v4+).
    pub struct Coordinator {
        /// The key this result is for.
        key: String [4..],
        /// The coordinator's broker id.
        node_id: i32 [4..],
        /// The coordinator's host.
        host: String [4..],
        /// The coordinator's port.
        port: i32 [4..],
        /// The error code, 0 if none.
        error_code: i16 [4..],
        /// The error message, null if none.
        error_message: Option<String> [4..] nullable [4..] = Some(String::new()),
    }
}

impl Request for FindCoordinatorRequest {
    type Response = FindCoordinatorResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::Message;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::find_coordinator_response as kpr;
    use kafka_protocol::messages::BrokerId;

    fn their_request(r: &FindCoordinatorRequest) -> kp::FindCoordinatorRequest {
        kp::FindCoordinatorRequest::default()
            .with_key(str_bytes(&r.key))
            .with_key_type(r.key_type)
            .with_coordinator_keys(r.coordinator_keys.iter().map(|k| str_bytes(k)).collect())
    }

    fn their_response(r: &FindCoordinatorResponse) -> kp::FindCoordinatorResponse {
        kp::FindCoordinatorResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_error_code(r.error_code)
            .with_error_message(r.error_message.as_deref().map(str_bytes))
            .with_node_id(BrokerId(r.node_id))
            .with_host(str_bytes(&r.host))
            .with_port(r.port)
            .with_coordinators(
                r.coordinators
                    .iter()
                    .map(|c| {
                        kpr::Coordinator::default()
                            .with_key(str_bytes(&c.key))
                            .with_node_id(BrokerId(c.node_id))
                            .with_host(str_bytes(&c.host))
                            .with_port(c.port)
                            .with_error_code(c.error_code)
                            .with_error_message(c.error_message.as_deref().map(str_bytes))
                    })
                    .collect(),
            )
    }

    testing::codec_tests!(
        FindCoordinatorRequest,
        FindCoordinatorResponse,
        their_request,
        their_response,
        0..=4
    );

    #[test]
    fn known_bytes() {
        // A consumer of group "g" asking for its coordinator: v0 and v3
        // carry the single key, v4 the batch.
        let req = FindCoordinatorRequest {
            key: "g".into(),
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 0).unwrap();
        assert_eq!(&buf[..], &[0, 1, b'g']);
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 3).unwrap();
        assert_eq!(&buf[..], &[2, b'g', 0, 0]);
        let req4 = FindCoordinatorRequest {
            coordinator_keys: vec!["g".into(), "h".into()],
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        req4.encode(&mut buf, 4).unwrap();
        let v4: &[u8] = &[0, 3, 2, b'g', 2, b'h', 0];
        assert_eq!(&buf[..], v4);
        assert_eq!(
            FindCoordinatorRequest::decode(&Bytes::from_static(v4), 4).unwrap(),
            req4
        );

        // Broker 1 at h:9092 coordinates it.
        let resp = FindCoordinatorResponse {
            error_message: None,
            node_id: 1,
            host: "h".into(),
            port: 9092,
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 1).unwrap();
        #[rustfmt::skip]
        let v1: &[u8] = &[
            0, 0, 0, 0, // throttle_time_ms
            0, 0, // error_code
            0xff, 0xff, // error_message = null
            0, 0, 0, 1, // node_id
            0, 1, b'h',
            0, 0, 0x23, 0x84, // port 9092
        ];
        assert_eq!(&buf[..], v1);
        // v0 has no error message: it decodes to the spec default "".
        let v0 = &v1[4..];
        let v0 = [&v0[..2], &v0[4..]].concat();
        let back = FindCoordinatorResponse::decode(&Bytes::from(v0), 0).unwrap();
        assert_eq!(back.error_message.as_deref(), Some(""));
        assert_eq!((back.node_id, back.port), (1, 9092));

        let resp4 = FindCoordinatorResponse {
            coordinators: vec![Coordinator {
                key: "g".into(),
                node_id: 1,
                host: "h".into(),
                port: 9092,
                error_code: 0,
                error_message: None,
            }],
            ..Default::default()
        };
        let mut buf = BytesMut::new();
        resp4.encode(&mut buf, 4).unwrap();
        #[rustfmt::skip]
        let v4: &[u8] = &[
            0, 0, 0, 0, // throttle_time_ms
            2, // one coordinator
            2, b'g', 0, 0, 0, 1, 2, b'h', 0, 0, 0x23, 0x84,
            0, 0, // error_code
            0, // error_message = null
            0, // coordinator's tagged fields
            0, // tagged fields
        ];
        assert_eq!(&buf[..], v4);
        assert_eq!(
            FindCoordinatorResponse::decode(&Bytes::from_static(v4), 4).unwrap(),
            resp4
        );
    }
}
