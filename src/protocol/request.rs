//! The one place a request frame becomes a typed request: [`decode_request`]
//! reads the header, checks that the broker implements the API and the
//! version, and decodes the body. The broker's connection loop and the fuzzer
//! both go through it.
//!
//! # Adding an API
//!
//! Write its module under [`api`] (see [`codec`](super::codec)),
//! then add one `Variant => api::module::Type` line to the `requests!` list
//! below, the variant named as the [`ApiKey`] (checked at compile time). That generates the [`RequestBody`]
//! variant, its place in [`SUPPORTED_APIS`] (which the ApiVersions response is
//! built from) and its decoding.

use std::ops::RangeInclusive;

use bytes::Bytes;
use thiserror::Error;

use super::api;
use super::api_key::ApiKey;
use super::codec::Message;
use super::error::DecodeError;
use super::header::RequestHeader;

/// Why a request frame could not be turned into a request.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    /// An API key Kafka does not define, or one this broker does not
    /// implement. Kafka closes the connection.
    #[error("unknown or unimplemented API key {0}")]
    UnknownApiKey(i16),
    /// An implemented API in a version this broker does not speak. The
    /// header decoded, so the correlation id is known: Kafka answers an
    /// ApiVersions request this way with UNSUPPORTED_VERSION (in v0, so the
    /// client can read it and retry lower) and closes the connection for any
    /// other API.
    #[error("API {api_key:?} has no version {version} here")]
    UnsupportedVersion {
        api_key: ApiKey,
        version: i16,
        correlation_id: i32,
    },
    /// The header or the body is malformed. Kafka closes the connection.
    #[error("malformed request: {0}")]
    Decode(DecodeError),
}

impl From<DecodeError> for RequestError {
    fn from(err: DecodeError) -> Self {
        match err {
            DecodeError::UnknownApiKey(key) => RequestError::UnknownApiKey(key),
            other => RequestError::Decode(other),
        }
    }
}

/// Generates [`RequestBody`], [`SUPPORTED_APIS`] and the body decoding from
/// `ApiKey variant => request type` pairs.
macro_rules! requests {
    ($($variant:ident => $ty:ty,)*) => {
        /// A decoded request body, one variant per API the broker implements.
        #[derive(Debug, Clone, PartialEq)]
        pub enum RequestBody {
            $($variant($ty),)*
        }

        /// Every API the broker implements, in key order, with the versions
        /// it speaks.
        pub const SUPPORTED_APIS: &[(ApiKey, RangeInclusive<i16>)] =
            &[$((ApiKey::$variant, <$ty as Message>::VERSIONS),)*];

        // Each variant must be named after its type's API key.
        $(const _: () = assert!(
            <$ty as Message>::API_KEY as i16 == ApiKey::$variant as i16,
            concat!(stringify!($ty), " is not the ", stringify!($variant), " request"),
        );)*

        impl RequestBody {
            /// The API this body belongs to.
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $(RequestBody::$variant(_) => ApiKey::$variant,)*
                }
            }

            /// Decodes `body` as `version` of `key`'s request; `None` if the
            /// broker does not implement `key`.
            fn decode(
                key: ApiKey,
                version: i16,
                body: &Bytes,
            ) -> Option<Result<RequestBody, DecodeError>> {
                match key {
                    $(ApiKey::$variant => Some(
                        <$ty as Message>::decode_prefix(body, version)
                            .map(|(request, _)| RequestBody::$variant(request)),
                    ),)*
                    _ => None,
                }
            }
        }
    };
}

// One line per implemented API, in key order.
requests! {
    Produce => api::produce::ProduceRequest,
    Fetch => api::fetch::FetchRequest,
    ListOffsets => api::list_offsets::ListOffsetsRequest,
    Metadata => api::metadata::MetadataRequest,
    ApiVersions => api::api_versions::ApiVersionsRequest,
    CreateTopics => api::create_topics::CreateTopicsRequest,
    DeleteTopics => api::delete_topics::DeleteTopicsRequest,
    InitProducerId => api::init_producer_id::InitProducerIdRequest,
    DescribeConfigs => api::describe_configs::DescribeConfigsRequest,
}

/// The versions of `key` the broker speaks, `None` if it does not implement
/// the API.
pub fn supported_versions(key: ApiKey) -> Option<RangeInclusive<i16>> {
    SUPPORTED_APIS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, versions)| versions.clone())
}

/// Decodes a whole request frame (without its length prefix, as
/// [`FrameDecoder`](super::FrameDecoder) returns it): the header, then the
/// body as the API and version it names. Byte fields of the body share
/// `frame`'s memory. Never panics, whatever the bytes.
pub fn decode_request(frame: &Bytes) -> Result<(RequestHeader, RequestBody), RequestError> {
    let (header, body) = RequestHeader::decode(frame)?;
    let key = header.api_key;
    let Some(versions) = supported_versions(key) else {
        return Err(RequestError::UnknownApiKey(key as i16));
    };
    if !versions.contains(&header.api_version) {
        return Err(RequestError::UnsupportedVersion {
            api_key: key,
            version: header.api_version,
            correlation_id: header.correlation_id,
        });
    }
    match RequestBody::decode(key, header.api_version, &body) {
        Some(Ok(body)) => Ok((header, body)),
        Some(Err(err)) => Err(RequestError::Decode(err)),
        // Unreachable: supported_versions found the key.
        None => Err(RequestError::UnknownApiKey(key as i16)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::api::create_topics::{CreatableTopic, CreateTopicsRequest};
    use crate::protocol::api::delete_topics::DeleteTopicsRequest;
    use crate::protocol::api::describe_configs::{DescribeConfigsRequest, DescribeConfigsResource};
    use crate::protocol::api::metadata::{MetadataRequest, MetadataRequestTopic};
    use crate::protocol::testing::{Gen, Random};
    use bytes::{BufMut, BytesMut};

    /// A frame holding `header` and `body` encoded in the header's version.
    fn frame<M: Message>(header: &RequestHeader, body: &M) -> Bytes {
        let mut buf = BytesMut::new();
        header.encode(&mut buf).unwrap();
        body.encode(&mut buf, header.api_version).unwrap();
        buf.freeze()
    }

    fn header(api_key: ApiKey, api_version: i16) -> RequestHeader {
        RequestHeader {
            api_key,
            api_version,
            correlation_id: 42,
            client_id: Some("test".into()),
        }
    }

    /// Every version of `M` decodes through the entry point to the body
    /// that was encoded, wrapped by `wrap`.
    fn check_decodes<M: Message + Random>(wrap: impl Fn(M) -> RequestBody) {
        for version in M::VERSIONS {
            for seed in 1..=8 {
                let body = M::random(&mut Gen::new(seed), version, false);
                let h = header(M::API_KEY, version);
                let (got_header, got_body) = decode_request(&frame(&h, &body)).unwrap();
                assert_eq!(got_header, h);
                assert_eq!(got_body.api_key(), M::API_KEY);
                assert_eq!(got_body, wrap(body), "{} v{version}", M::NAME);
            }
        }
    }

    #[test]
    fn every_api_decodes_through_the_entry_point() {
        check_decodes(RequestBody::Metadata);
        check_decodes(RequestBody::ApiVersions);
        check_decodes(RequestBody::CreateTopics);
        check_decodes(RequestBody::DeleteTopics);
        check_decodes(RequestBody::DescribeConfigs);
    }

    #[test]
    fn known_requests() {
        let metadata = MetadataRequest {
            topics: Some(vec![MetadataRequestTopic { name: "t".into() }]),
            ..Default::default()
        };
        let (h, body) = decode_request(&frame(&header(ApiKey::Metadata, 9), &metadata)).unwrap();
        assert_eq!(
            (h.correlation_id, body),
            (42, RequestBody::Metadata(metadata))
        );

        let create = CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: "new".into(),
                num_partitions: -1,
                replication_factor: -1,
                ..Default::default()
            }],
            ..Default::default()
        };
        let (_, body) = decode_request(&frame(&header(ApiKey::CreateTopics, 5), &create)).unwrap();
        assert_eq!(body, RequestBody::CreateTopics(create));

        let describe = DescribeConfigsRequest {
            resources: vec![DescribeConfigsResource {
                resource_type: 4,
                resource_name: "0".into(),
                configuration_keys: None,
            }],
            include_synonyms: true,
            ..Default::default()
        };
        let (_, body) =
            decode_request(&frame(&header(ApiKey::DescribeConfigs, 4), &describe)).unwrap();
        assert_eq!(body, RequestBody::DescribeConfigs(describe));
    }

    #[test]
    fn supported_apis_follow_the_codecs() {
        assert_eq!(supported_versions(ApiKey::Metadata), Some(0..=9));
        assert_eq!(supported_versions(ApiKey::CreateTopics), Some(0..=5));
        assert_eq!(supported_versions(ApiKey::DeleteTopics), Some(0..=5));
        assert_eq!(supported_versions(ApiKey::DescribeConfigs), Some(0..=4));
        assert_eq!(supported_versions(ApiKey::LeaderAndIsr), None);
        let keys: Vec<_> = SUPPORTED_APIS.iter().map(|(k, _)| *k).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "SUPPORTED_APIS is in key order");
    }

    #[test]
    fn unknown_api_keys() {
        // A key Kafka does not define.
        let frame = Bytes::from_static(&[0x7f, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);
        assert_eq!(
            decode_request(&frame),
            Err(RequestError::UnknownApiKey(0x7f00))
        );
        // A key Kafka defines but this broker does not implement.
        let mut buf = BytesMut::new();
        header(ApiKey::LeaderAndIsr, 0).encode(&mut buf).unwrap();
        assert_eq!(
            decode_request(&buf.freeze()),
            Err(RequestError::UnknownApiKey(4))
        );
    }

    #[test]
    fn unsupported_versions() {
        // ApiVersions v4, as a Kafka 4 client sends first: flexible header.
        let mut buf = BytesMut::new();
        header(ApiKey::ApiVersions, 4).encode(&mut buf).unwrap();
        buf.put_slice(b"\x05java\x043.9\x00");
        assert_eq!(
            decode_request(&buf.freeze()),
            Err(RequestError::UnsupportedVersion {
                api_key: ApiKey::ApiVersions,
                version: 4,
                correlation_id: 42,
            })
        );
        for (key, version) in [
            (ApiKey::Metadata, 10),
            (ApiKey::CreateTopics, 6),
            (ApiKey::DeleteTopics, 6),
            (ApiKey::DescribeConfigs, -1),
        ] {
            let mut buf = BytesMut::new();
            header(key, version).encode(&mut buf).unwrap();
            assert_eq!(
                decode_request(&buf.freeze()),
                Err(RequestError::UnsupportedVersion {
                    api_key: key,
                    version,
                    correlation_id: 42,
                }),
            );
        }
    }

    #[test]
    fn malformed_frames_are_decode_errors() {
        assert_eq!(
            decode_request(&Bytes::from_static(&[0, 3, 0])),
            Err(RequestError::Decode(DecodeError::Truncated))
        );
        // Metadata v1 header, then a body of garbage.
        let mut buf = BytesMut::new();
        header(ApiKey::Metadata, 1).encode(&mut buf).unwrap();
        buf.put_slice(&[0x7f, 0xff, 0xff, 0xff, 1, 2]);
        assert_eq!(
            decode_request(&buf.freeze()),
            Err(RequestError::Decode(DecodeError::InvalidLength(
                i32::MAX as i64
            )))
        );
        // A valid body followed by extra bytes: ignored, as Kafka does.
        let mut buf = BytesMut::new();
        header(ApiKey::ApiVersions, 0).encode(&mut buf).unwrap();
        buf.put_u8(0);
        assert!(matches!(
            decode_request(&buf.freeze()),
            Ok((_, RequestBody::ApiVersions(_)))
        ));
        // A truncated body.
        let full = frame(
            &header(ApiKey::DeleteTopics, 4),
            &DeleteTopicsRequest {
                topic_names: vec!["abc".into()],
                timeout_ms: 1,
            },
        );
        assert_eq!(
            decode_request(&full.slice(..full.len() - 2)),
            Err(RequestError::Decode(DecodeError::Truncated))
        );
    }

    #[test]
    fn never_panics_on_arbitrary_bytes() {
        use proptest::prelude::*;
        // Arbitrary bytes rarely get past the header: also try arbitrary
        // bodies behind a valid header of every supported (key, version).
        let headed = (0..SUPPORTED_APIS.len(), any::<u16>()).prop_flat_map(|(i, v)| {
            let (key, versions) = SUPPORTED_APIS[i].clone();
            let span = (versions.end() - versions.start() + 1) as u16;
            let version = versions.start() + (v % span) as i16;
            proptest::collection::vec(any::<u8>(), 0..128).prop_map(move |body| {
                let mut buf = BytesMut::new();
                header(key, version).encode(&mut buf).unwrap();
                buf.put_slice(&body);
                buf.freeze()
            })
        });
        proptest!(|(raw in proptest::collection::vec(any::<u8>(), 0..256), frame in headed)| {
            let _ = decode_request(&Bytes::from(raw));
            let _ = decode_request(&frame);
        });
    }
}
