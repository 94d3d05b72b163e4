//! DeleteTopics (key 20): delete topics by name. The controller marks them
//! under `/admin/delete_topics` and the deletion completes asynchronously.
//! v6 (KIP-516) addresses topics by id as well; it is not implemented.

use crate::codec::{message, Request};

message! {
    /// DeleteTopics request. Versions 0-3 are the same; v4 is the first
    /// flexible version; v5 may be answered THROTTLING_QUOTA_EXCEEDED.
    pub message DeleteTopicsRequest {
        api_key: DeleteTopics, versions: 0..=5, flexible: 4..;
        /// The names of the topics to delete (replaced by `topics` in v6).
        topic_names: Vec<String> [0..=5],
        /// How long to wait for the deletions to complete, in ms.
        timeout_ms: i32 [0..],
    }

    /// DeleteTopics response. v1 adds the throttle time; v5 an error message.
    pub message DeleteTopicsResponse {
        api_key: DeleteTopics, versions: 0..=5, flexible: 4..;
        /// How long the request was throttled by a quota, in ms.
        throttle_time_ms: i32 [1..],
        /// One result per requested topic.
        responses: Vec<DeletableTopicResult> [0..],
    }

    /// The outcome of deleting one topic.
    pub struct DeletableTopicResult {
        name: String [0..],
        /// The deletion error, 0 if the deletion succeeded.
        error_code: i16 [0..],
        /// The error message, null if there was no error.
        error_message: Option<String> [5..] nullable [5..] = None,
    }
}

impl Request for DeleteTopicsRequest {
    type Response = DeleteTopicsResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, str_bytes};
    use crate::Message;
    use bytes::{Bytes, BytesMut};
    use kafka_protocol::messages as kp;
    use kafka_protocol::messages::TopicName;

    fn their_request(r: &DeleteTopicsRequest) -> kp::DeleteTopicsRequest {
        kp::DeleteTopicsRequest::default()
            .with_topic_names(
                r.topic_names
                    .iter()
                    .map(|n| TopicName(str_bytes(n)))
                    .collect(),
            )
            .with_timeout_ms(r.timeout_ms)
    }

    fn their_response(r: &DeleteTopicsResponse) -> kp::DeleteTopicsResponse {
        kp::DeleteTopicsResponse::default()
            .with_throttle_time_ms(r.throttle_time_ms)
            .with_responses(
                r.responses
                    .iter()
                    .map(|t| {
                        kp::delete_topics_response::DeletableTopicResult::default()
                            .with_name(Some(TopicName(str_bytes(&t.name))))
                            .with_error_code(t.error_code)
                            .with_error_message(t.error_message.as_deref().map(str_bytes))
                    })
                    .collect(),
            )
    }

    testing::codec_tests!(
        DeleteTopicsRequest,
        DeleteTopicsResponse,
        their_request,
        their_response,
        1..=5
    );

    /// kafka-protocol 0.18 follows Kafka 4.0, which dropped v0 (KIP-896), so
    /// it is pinned here byte for byte from the spec.
    #[test]
    fn known_bytes_of_v0() {
        let req = DeleteTopicsRequest {
            topic_names: vec!["a".into(), "bc".into()],
            timeout_ms: 1000,
        };
        let v0: &[u8] = &[0, 0, 0, 2, 0, 1, b'a', 0, 2, b'b', b'c', 0, 0, 0x03, 0xe8];
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 0).unwrap();
        assert_eq!(&buf[..], v0);
        assert_eq!(
            DeleteTopicsRequest::decode(&Bytes::from_static(v0), 0).unwrap(),
            req
        );

        let resp = DeleteTopicsResponse {
            throttle_time_ms: 0,
            responses: vec![DeletableTopicResult {
                name: "a".into(),
                error_code: 3,
                error_message: None,
            }],
        };
        let v0: &[u8] = &[0, 0, 0, 1, 0, 1, b'a', 0, 3];
        let mut buf = BytesMut::new();
        resp.encode(&mut buf, 0).unwrap();
        assert_eq!(&buf[..], v0);
        assert_eq!(
            DeleteTopicsResponse::decode(&Bytes::from_static(v0), 0).unwrap(),
            resp
        );
    }

    #[test]
    fn flexible_from_v4() {
        let req = DeleteTopicsRequest {
            topic_names: vec!["a".into()],
            timeout_ms: 1,
        };
        let mut buf = BytesMut::new();
        req.encode(&mut buf, 4).unwrap();
        assert_eq!(&buf[..], &[2, 2, b'a', 0, 0, 0, 1, 0]);
    }
}
