//! Request and response headers, and which header version each
//! (API key, API version) uses.
//!
//! Request header v0: api_key, api_version, correlation_id (only
//! ControlledShutdown v0 uses it). v1 adds a nullable client_id. v2 (flexible
//! APIs) adds a tagged-field section, but client_id keeps its classic int16
//! length so any broker can read the header of any ApiVersions request.
//! Response header v0 is the correlation id; v1 adds tagged fields, except
//! that ApiVersions responses always use v0 so a client that sent a version
//! the broker does not know can still read the answer.

use bytes::{BufMut, Bytes, BytesMut};

use super::api_key::ApiKey;
use super::error::{DecodeError, EncodeError};
use super::primitives as p;

/// The request header version Kafka uses for `version` of `key`.
pub fn request_header_version(key: ApiKey, version: i16) -> i16 {
    if key == ApiKey::ControlledShutdown && version == 0 {
        0
    } else if key.is_flexible(version) {
        2
    } else {
        1
    }
}

/// The response header version Kafka uses for `version` of `key`.
pub fn response_header_version(key: ApiKey, version: i16) -> i16 {
    if key != ApiKey::ApiVersions && key.is_flexible(version) {
        1
    } else {
        0
    }
}

/// The header in front of every request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeader {
    pub api_key: ApiKey,
    pub api_version: i16,
    pub correlation_id: i32,
    /// Absent in header v0, and null when the client sends none.
    pub client_id: Option<String>,
}

impl RequestHeader {
    /// Decodes the header at the front of a request frame and returns it with
    /// the body that follows (a zero-copy slice of `frame`). The header
    /// version comes from the API key and version, as in Kafka.
    pub fn decode(frame: &Bytes) -> Result<(RequestHeader, Bytes), DecodeError> {
        let (rest, api_key) = p::int16(&frame[..])?;
        let (rest, api_version) = p::int16(rest)?;
        let (rest, correlation_id) = p::int32(rest)?;
        let api_key = ApiKey::try_from(api_key)?;
        let header_version = request_header_version(api_key, api_version);
        let (rest, client_id) = if header_version >= 1 {
            p::nullable_string(rest, false)?
        } else {
            (rest, None)
        };
        let rest = if header_version >= 2 {
            p::tagged_fields(rest, |_, _| Ok(()))?.0
        } else {
            rest
        };
        let header = RequestHeader {
            api_key,
            api_version,
            correlation_id,
            client_id,
        };
        Ok((header, frame.slice(frame.len() - rest.len()..)))
    }

    /// Appends the header in the version its API and version call for.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<(), EncodeError> {
        buf.put_i16(self.api_key as i16);
        buf.put_i16(self.api_version);
        buf.put_i32(self.correlation_id);
        let header_version = request_header_version(self.api_key, self.api_version);
        if header_version >= 1 {
            p::put_nullable_string(buf, self.client_id.as_deref(), false)?;
        }
        if header_version >= 2 {
            p::put_tagged_fields(buf, &mut []);
        }
        Ok(())
    }
}

/// The header in front of every response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHeader {
    pub correlation_id: i32,
}

impl ResponseHeader {
    /// Appends the header in `header_version` (see [`response_header_version`]).
    pub fn encode(&self, buf: &mut BytesMut, header_version: i16) {
        buf.put_i32(self.correlation_id);
        if header_version >= 1 {
            p::put_tagged_fields(buf, &mut []);
        }
    }

    /// Decodes the header at the front of a response frame and returns it
    /// with the body that follows.
    pub fn decode(
        frame: &Bytes,
        header_version: i16,
    ) -> Result<(ResponseHeader, Bytes), DecodeError> {
        let (rest, correlation_id) = p::int32(&frame[..])?;
        let rest = if header_version >= 1 {
            p::tagged_fields(rest, |_, _| Ok(()))?.0
        } else {
            rest
        };
        Ok((
            ResponseHeader { correlation_id },
            frame.slice(frame.len() - rest.len()..),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::ApiKey as TheirKey;

    #[test]
    fn header_versions_match_kafka() {
        assert_eq!(request_header_version(ApiKey::ControlledShutdown, 0), 0);
        assert_eq!(request_header_version(ApiKey::ControlledShutdown, 1), 1);
        assert_eq!(request_header_version(ApiKey::ControlledShutdown, 3), 2);
        assert_eq!(request_header_version(ApiKey::Metadata, 8), 1);
        assert_eq!(request_header_version(ApiKey::Metadata, 9), 2);
        assert_eq!(response_header_version(ApiKey::Metadata, 9), 1);
        assert_eq!(request_header_version(ApiKey::ApiVersions, 3), 2);
        assert_eq!(response_header_version(ApiKey::ApiVersions, 3), 0);
        assert_eq!(request_header_version(ApiKey::SaslHandshake, 1), 1);
        // The controller APIs are gone from kafka-protocol; for the rest, its
        // tables (generated from Kafka's specs) are the reference.
        for &key in ApiKey::ALL {
            let Ok(theirs) = TheirKey::try_from(key as i16) else {
                continue;
            };
            let valid = theirs.valid_versions();
            for version in valid.min..=valid.max {
                assert_eq!(
                    request_header_version(key, version),
                    theirs.request_header_version(version),
                    "request {key:?} v{version}"
                );
                assert_eq!(
                    response_header_version(key, version),
                    theirs.response_header_version(version),
                    "response {key:?} v{version}"
                );
            }
        }
    }

    #[test]
    fn request_header_v2_keeps_classic_client_id() {
        let header = RequestHeader {
            api_key: ApiKey::ApiVersions,
            api_version: 3,
            correlation_id: 7,
            client_id: Some("ab".into()),
        };
        let mut buf = BytesMut::new();
        header.encode(&mut buf).unwrap();
        buf.put_slice(&[9, 9]);
        let frame = buf.freeze();
        assert_eq!(
            &frame[..],
            &[0, 18, 0, 3, 0, 0, 0, 7, 0, 2, b'a', b'b', 0, 9, 9]
        );
        let (back, body) = RequestHeader::decode(&frame).unwrap();
        assert_eq!(back, header);
        assert_eq!(&body[..], &[9, 9]);
    }

    #[test]
    fn request_header_v0_and_v1() {
        let frame = Bytes::from_static(&[0, 7, 0, 0, 0, 0, 0, 1, 5]);
        let (h, body) = RequestHeader::decode(&frame).unwrap();
        assert_eq!(
            (h.api_key, h.client_id, &body[..]),
            (ApiKey::ControlledShutdown, None, &[5][..])
        );
        let frame = Bytes::from_static(&[0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff]);
        let (h, body) = RequestHeader::decode(&frame).unwrap();
        assert_eq!((h.client_id, body.len()), (None, 0));
        assert_eq!(
            RequestHeader::decode(&Bytes::from_static(&[0x7f, 0, 0, 0, 0, 0, 0, 0])),
            Err(DecodeError::UnknownApiKey(0x7f00))
        );
        assert_eq!(
            RequestHeader::decode(&Bytes::from_static(&[0, 3, 0])),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn response_headers() {
        let mut buf = BytesMut::new();
        ResponseHeader { correlation_id: 5 }.encode(&mut buf, 1);
        assert_eq!(&buf[..], &[0, 0, 0, 5, 0]);
        let frame = buf.freeze();
        let (h, body) = ResponseHeader::decode(&frame, 1).unwrap();
        assert_eq!((h.correlation_id, body.len()), (5, 0));
        let mut buf = BytesMut::new();
        ResponseHeader { correlation_id: 5 }.encode(&mut buf, 0);
        assert_eq!(&buf[..], &[0, 0, 0, 5]);
    }

    #[test]
    fn header_decode_never_panics() {
        proptest::proptest!(|(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..64))| {
            let frame = Bytes::from(raw);
            let _ = RequestHeader::decode(&frame);
            let _ = ResponseHeader::decode(&frame, 1);
        });
    }
}
