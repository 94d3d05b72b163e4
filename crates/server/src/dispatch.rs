//! Request dispatch: the only place that maps an API key to a handler.
//!
//! A request frame comes in as the `Bytes` the connection read; the header is
//! decoded, the body is decoded by the API's codec (byte fields stay slices of
//! the frame), the broker's [`RequestHandler`] method for that API runs, and
//! its response is encoded, framed and appended to the connection's output
//! buffer with the response header version Kafka uses for that API and
//! version.
//!
//! ApiVersions is answered here, not by the broker: it describes this codec,
//! and the list it advertises is derived from the dispatch table below, so
//! only what is implemented is ever advertised.
//!
//! # Adding an API
//!
//! Two local changes, both in this file:
//! 1. add a method to [`RequestHandler`], e.g.
//!    `fn produce(&self, ctx: &RequestContext<'_>, request: ProduceRequest)
//!    -> impl Future<Output = Reply<ProduceResponse>> + Send;`
//! 2. add a line to the `dispatch_table!` invocation:
//!    `Produce => produce(ProduceRequest),`.
//!
//! The advertised versions are the intersection of the request and response
//! codecs' `VERSIONS`; the request type must implement
//! [`Request`].
//!
//! # No per-request boxing
//!
//! [`dispatch`] is one `async fn` with a `match` over the API key: its future
//! is a single state machine holding whichever handler future is running, so
//! the connection awaits it in place without allocating.

use std::future::Future;
use std::net::SocketAddr;
use std::ops::RangeInclusive;

use bytes::{Bytes, BytesMut};
use log::{debug, warn};

use gregor_protocol::api::alter_configs::AlterConfigsRequest;
use gregor_protocol::api::api_versions::{ApiVersion, ApiVersionsRequest, ApiVersionsResponse};
use gregor_protocol::api::controlled_shutdown::ControlledShutdownRequest;
use gregor_protocol::api::create_topics::CreateTopicsRequest;
use gregor_protocol::api::delete_groups::DeleteGroupsRequest;
use gregor_protocol::api::delete_topics::DeleteTopicsRequest;
use gregor_protocol::api::describe_configs::DescribeConfigsRequest;
use gregor_protocol::api::describe_groups::DescribeGroupsRequest;
use gregor_protocol::api::fetch::FetchRequest;
use gregor_protocol::api::find_coordinator::FindCoordinatorRequest;
use gregor_protocol::api::heartbeat::HeartbeatRequest;
use gregor_protocol::api::incremental_alter_configs::IncrementalAlterConfigsRequest;
use gregor_protocol::api::init_producer_id::InitProducerIdRequest;
use gregor_protocol::api::join_group::JoinGroupRequest;
use gregor_protocol::api::leader_and_isr::LeaderAndIsrRequest;
use gregor_protocol::api::leave_group::LeaveGroupRequest;
use gregor_protocol::api::list_groups::ListGroupsRequest;
use gregor_protocol::api::list_offsets::ListOffsetsRequest;
use gregor_protocol::api::metadata::MetadataRequest;
use gregor_protocol::api::offset_commit::OffsetCommitRequest;
use gregor_protocol::api::offset_delete::OffsetDeleteRequest;
use gregor_protocol::api::offset_fetch::OffsetFetchRequest;
use gregor_protocol::api::offset_for_leader_epoch::OffsetForLeaderEpochRequest;
use gregor_protocol::api::produce::ProduceRequest;
use gregor_protocol::api::stop_replica::StopReplicaRequest;
use gregor_protocol::api::sync_group::SyncGroupRequest;
use gregor_protocol::api::update_metadata::UpdateMetadataRequest;
use gregor_protocol::frame::write_frame;
use gregor_protocol::header::response_header_version;
use gregor_protocol::{
    ApiKey, DecodeError, EncodeError, ErrorCode, Message, Request, RequestHeader, ResponseHeader,
};

/// What a handler answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply<R> {
    /// Send this response body.
    Respond(R),
    /// Send nothing: the client expects no answer (Produce with `acks=0`).
    NoResponse,
    /// Close the connection without answering. Kafka does this for an
    /// `acks=0` produce that failed, since the client reads no response and
    /// would otherwise never learn about the error.
    CloseConnection,
}

impl<R> From<R> for Reply<R> {
    fn from(response: R) -> Self {
        Reply::Respond(response)
    }
}

/// Where a request came from.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// Broker-unique id of the connection, for logs.
    pub id: u64,
    /// The listener name (`PLAINTEXT`) the connection arrived on.
    pub listener: std::sync::Arc<str>,
    /// The client's address.
    pub peer: SocketAddr,
}

/// Everything about a request except its body.
#[derive(Debug)]
pub struct RequestContext<'a> {
    /// The decoded request header (API key and version, correlation id,
    /// client id).
    pub header: RequestHeader,
    /// The connection the request arrived on.
    pub connection: &'a ConnectionInfo,
}

/// What the connection should do after a request was dispatched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A response frame was appended to the output buffer.
    Respond,
    /// Nothing to send; carry on with the next request.
    NoResponse,
    /// Close the connection (no frame was appended).
    Close,
}

/// Why a request could not be served; the connection is closed, as Kafka
/// closes a connection whose request it cannot parse.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("undecodable request header: {0}")]
    Header(DecodeError),
    #[error("{key:?} is not implemented by this broker")]
    Unsupported { key: ApiKey },
    #[error(
        "undecodable {key:?} v{version} request body (correlation id {correlation_id}): {source}"
    )]
    Body {
        key: ApiKey,
        version: i16,
        correlation_id: i32,
        source: DecodeError,
    },
    #[error("cannot encode {key:?} v{version} response: {source}")]
    Encode {
        key: ApiKey,
        version: i16,
        source: EncodeError,
    },
}

macro_rules! dispatch_table {
    ($($key:ident => $method:ident($request:ty),)*) => {
        /// The broker side of request handling: one method per API in the
        /// dispatch table. Methods return futures that must be `Send`;
        /// implement them with `async fn`. A handler must not block a
        /// runtime thread on disk or ZooKeeper (docs/ARCHITECTURE.md,
        /// "Runtime"); use `spawn_blocking` where a syscall can stall.
        ///
        /// Requests of one connection are handled one at a time, in order
        /// (Kafka's per-connection ordering): the next request's handler
        /// starts only after this one's future completed. Side effects such
        /// as log appends therefore happen in request order.
        ///
        /// A handler future is not cancelled once started, except when the
        /// runtime itself shuts down; the response is dropped if the
        /// connection is gone.
        ///
        /// ApiVersions is not here: the server answers it from the dispatch
        /// table. Every method defaults to closing the connection, which is
        /// what Kafka does with a request it cannot serve; the broker
        /// overrides them all, and test handlers implement only what they
        /// exercise.
        pub trait RequestHandler: Send + Sync + 'static {
            /// The epoch of the cluster's finalized features that ApiVersions
            /// v3+ answers with (Kafka's `FinalizedFeatureCache`), -1 when
            /// none are known. Called on the request path: a cached value,
            /// never ZooKeeper I/O.
            fn finalized_features_epoch(&self) -> i64 {
                -1
            }

            $(
                #[doc = concat!("Serves ", stringify!($key), " requests, in the versions [`supported_apis`] lists.")]
                fn $method(
                    &self,
                    ctx: &RequestContext<'_>,
                    request: $request,
                ) -> impl Future<Output = Reply<<$request as Request>::Response>> + Send {
                    let _ = (ctx, request);
                    std::future::ready(Reply::CloseConnection)
                }
            )*
        }

        /// Every API this broker serves and its version range, in key order
        /// as listed in the table, ApiVersions first. This is exactly what
        /// ApiVersions advertises.
        pub fn supported_apis() -> &'static [(ApiKey, RangeInclusive<i16>)] {
            const APIS: &[(ApiKey, RangeInclusive<i16>)] = &[
                (
                    ApiKey::ApiVersions,
                    intersect(
                        ApiVersionsRequest::VERSIONS,
                        <ApiVersionsRequest as Request>::Response::VERSIONS,
                    ),
                ),
                $((
                    ApiKey::$key,
                    intersect(
                        <$request as Message>::VERSIONS,
                        <<$request as Request>::Response as Message>::VERSIONS,
                    ),
                ),)*
            ];
            APIS
        }

        async fn dispatch_api<H: RequestHandler>(
            handler: &H,
            ctx: RequestContext<'_>,
            body: Bytes,
            out: &mut BytesMut,
        ) -> Result<Outcome, DispatchError> {
            match ctx.header.api_key {
                ApiKey::ApiVersions => {
                    api_versions(ctx, body, handler.finalized_features_epoch(), out)
                }
                $(ApiKey::$key => {
                    let request = decode_body::<$request>(&ctx.header, &body)?;
                    let reply = handler.$method(&ctx, request).await;
                    finish(&ctx.header, reply, out)
                })*
                key => Err(DispatchError::Unsupported { key }),
            }
        }
    };
}

dispatch_table! {
    Produce => produce(ProduceRequest),
    Fetch => fetch(FetchRequest),
    ListOffsets => list_offsets(ListOffsetsRequest),
    Metadata => metadata(MetadataRequest),
    LeaderAndIsr => leader_and_isr(LeaderAndIsrRequest),
    StopReplica => stop_replica(StopReplicaRequest),
    UpdateMetadata => update_metadata(UpdateMetadataRequest),
    CreateTopics => create_topics(CreateTopicsRequest),
    DeleteTopics => delete_topics(DeleteTopicsRequest),
    InitProducerId => init_producer_id(InitProducerIdRequest),
    DescribeConfigs => describe_configs(DescribeConfigsRequest),
    AlterConfigs => alter_configs(AlterConfigsRequest),
    IncrementalAlterConfigs => incremental_alter_configs(IncrementalAlterConfigsRequest),
    ControlledShutdown => controlled_shutdown(ControlledShutdownRequest),
    FindCoordinator => find_coordinator(FindCoordinatorRequest),
    JoinGroup => join_group(JoinGroupRequest),
    SyncGroup => sync_group(SyncGroupRequest),
    Heartbeat => heartbeat(HeartbeatRequest),
    LeaveGroup => leave_group(LeaveGroupRequest),
    OffsetCommit => offset_commit(OffsetCommitRequest),
    OffsetFetch => offset_fetch(OffsetFetchRequest),
    DescribeGroups => describe_groups(DescribeGroupsRequest),
    ListGroups => list_groups(ListGroupsRequest),
    DeleteGroups => delete_groups(DeleteGroupsRequest),
    OffsetDelete => offset_delete(OffsetDeleteRequest),
    OffsetForLeaderEpoch => offset_for_leader_epoch(OffsetForLeaderEpochRequest),
}

/// The intersection of two version ranges (request and response codecs).
const fn intersect(a: RangeInclusive<i16>, b: RangeInclusive<i16>) -> RangeInclusive<i16> {
    let lo = if *a.start() > *b.start() {
        *a.start()
    } else {
        *b.start()
    };
    let hi = if *a.end() < *b.end() {
        *a.end()
    } else {
        *b.end()
    };
    lo..=hi
}

/// The ApiVersions `api_keys` list: [`supported_apis`] in wire form.
pub fn api_versions_list() -> Vec<ApiVersion> {
    supported_apis()
        .iter()
        .map(|(key, versions)| ApiVersion {
            api_key: *key as i16,
            min_version: *versions.start(),
            max_version: *versions.end(),
        })
        .collect()
}

/// Serves one request frame: decodes it, runs the handler and appends the
/// framed response (length prefix, response header, body) to `out`.
///
/// On `Err` nothing was appended and the connection should be closed.
pub async fn dispatch<H: RequestHandler>(
    handler: &H,
    connection: &ConnectionInfo,
    frame: Bytes,
    out: &mut BytesMut,
) -> Result<Outcome, DispatchError> {
    let (header, body) = RequestHeader::decode(&frame).map_err(DispatchError::Header)?;
    drop(frame);
    let ctx = RequestContext { header, connection };
    dispatch_api(handler, ctx, body, out).await
}

/// Decodes a request body, ignoring bytes after it as Kafka does.
fn decode_body<M: Message>(header: &RequestHeader, body: &Bytes) -> Result<M, DispatchError> {
    let (request, leftover) =
        M::decode_prefix(body, header.api_version).map_err(|source| DispatchError::Body {
            key: header.api_key,
            version: header.api_version,
            correlation_id: header.correlation_id,
            source,
        })?;
    if leftover > 0 {
        debug!(
            "{:?} v{} request (correlation id {}) has {leftover} bytes after its body; ignored",
            header.api_key, header.api_version, header.correlation_id
        );
    }
    Ok(request)
}

fn finish<R: Message>(
    header: &RequestHeader,
    reply: Reply<R>,
    out: &mut BytesMut,
) -> Result<Outcome, DispatchError> {
    match reply {
        Reply::Respond(response) => {
            encode_response(out, header, header.api_version, &response)?;
            Ok(Outcome::Respond)
        }
        Reply::NoResponse => Ok(Outcome::NoResponse),
        Reply::CloseConnection => Ok(Outcome::Close),
    }
}

/// Appends one response frame in `version`; on error `out` is left as it was.
fn encode_response<R: Message>(
    out: &mut BytesMut,
    header: &RequestHeader,
    version: i16,
    response: &R,
) -> Result<(), DispatchError> {
    let start = out.len();
    let header_version = response_header_version(header.api_key, version);
    let correlation_id = header.correlation_id;
    write_frame(out, |buf| {
        ResponseHeader { correlation_id }.encode(buf, header_version);
        response.encode(buf, version)
    })
    .map_err(|source| {
        out.truncate(start);
        DispatchError::Encode {
            key: header.api_key,
            version,
            source,
        }
    })
}

/// Answers ApiVersions. A version this codec does not know is answered the
/// way Kafka does (KIP-511) so the client can fall back: UNSUPPORTED_VERSION
/// in a v0 response (readable by every client) that carries the supported
/// versions. Kafka lists only ApiVersions itself there; the full list is a
/// superset clients handle the same way. The response header is always v0.
/// A successful answer carries `finalized_features_epoch` (v3+; Kafka 2.8
/// finalizes no features, so the list stays empty).
fn api_versions(
    ctx: RequestContext<'_>,
    body: Bytes,
    finalized_features_epoch: i64,
    out: &mut BytesMut,
) -> Result<Outcome, DispatchError> {
    let header = &ctx.header;
    let version = header.api_version;
    let supported = &supported_apis()[0].1;
    let (response, version) = if !supported.contains(&version) {
        debug!(
            "connection {} ({}): ApiVersions v{version} unsupported, answering v0",
            ctx.connection.id, ctx.connection.peer
        );
        let response = ApiVersionsResponse {
            error_code: ErrorCode::UNSUPPORTED_VERSION.code(),
            api_keys: api_versions_list(),
            ..Default::default()
        };
        (response, 0)
    } else {
        let request = decode_body::<ApiVersionsRequest>(header, &body)?;
        let response = if version >= 3 && !valid_client_software(&request) {
            warn!(
                "connection {} ({}): invalid client software name/version {:?} {:?}",
                ctx.connection.id,
                ctx.connection.peer,
                request.client_software_name,
                request.client_software_version
            );
            ApiVersionsResponse {
                error_code: ErrorCode::INVALID_REQUEST.code(),
                ..Default::default()
            }
        } else {
            ApiVersionsResponse {
                api_keys: api_versions_list(),
                finalized_features_epoch,
                ..Default::default()
            }
        };
        (response, version)
    };
    encode_response(out, header, version, &response)?;
    Ok(Outcome::Respond)
}

/// Kafka's check on ApiVersions v3 (`ApiVersionsRequest.isValid`): name and
/// version match `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`.
fn valid_client_software(request: &ApiVersionsRequest) -> bool {
    fn ok(s: &str) -> bool {
        let b = s.as_bytes();
        match (b.first(), b.last()) {
            (Some(first), Some(last)) => {
                first.is_ascii_alphanumeric()
                    && last.is_ascii_alphanumeric()
                    && b.iter()
                        .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'.')
            }
            _ => false,
        }
    }
    ok(&request.client_software_name) && ok(&request.client_software_version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;
    use gregor_protocol::api::metadata::MetadataResponse;
    use gregor_protocol::RequestHeader;

    struct Echo;

    impl RequestHandler for Echo {
        async fn metadata(
            &self,
            ctx: &RequestContext<'_>,
            request: MetadataRequest,
        ) -> Reply<MetadataResponse> {
            if ctx.header.client_id.as_deref() == Some("silent") {
                return Reply::NoResponse;
            }
            gregor_testkit::echo_topics(request).into()
        }
    }

    fn conn() -> ConnectionInfo {
        ConnectionInfo {
            id: 1,
            listener: "PLAINTEXT".into(),
            peer: "127.0.0.1:1".parse().unwrap(),
        }
    }

    fn frame(
        key: ApiKey,
        version: i16,
        client_id: &str,
        body: impl FnOnce(&mut BytesMut),
    ) -> Bytes {
        let mut buf = BytesMut::new();
        RequestHeader {
            api_key: key,
            api_version: version,
            correlation_id: 42,
            client_id: Some(client_id.into()),
        }
        .encode(&mut buf)
        .unwrap();
        body(&mut buf);
        buf.freeze()
    }

    fn run(frame: Bytes) -> (Result<Outcome, DispatchError>, BytesMut) {
        let mut out = BytesMut::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let r = rt.block_on(dispatch(&Echo, &conn(), frame, &mut out));
        (r, out)
    }

    #[test]
    fn advertised_versions_come_from_the_codecs() {
        let apis = supported_apis();
        assert_eq!(apis[0], (ApiKey::ApiVersions, 0..=3));
        assert!(apis.contains(&(ApiKey::Metadata, 0..=9)));
        assert_eq!(api_versions_list().len(), apis.len());
        assert_eq!(intersect(1..=5, 0..=3), 1..=3);
    }

    #[test]
    fn metadata_round_trip_uses_flexible_response_header() {
        let req = MetadataRequest {
            topics: Some(vec![gregor_protocol::api::metadata::MetadataRequestTopic {
                name: "t".into(),
            }]),
            ..Default::default()
        };
        let f = frame(ApiKey::Metadata, 9, "c", |b| req.encode(b, 9).unwrap());
        let (r, out) = run(f);
        assert_eq!(r.unwrap(), Outcome::Respond);
        let out = out.freeze();
        let len = i32::from_be_bytes(out[..4].try_into().unwrap()) as usize;
        assert_eq!(len, out.len() - 4);
        let (h, body) = ResponseHeader::decode(&out.slice(4..), 1).unwrap();
        assert_eq!(h.correlation_id, 42);
        let resp = MetadataResponse::decode(&body, 9).unwrap();
        assert_eq!(resp.topics[0].name, "t");
    }

    #[test]
    fn no_response_and_errors_append_nothing() {
        let f = frame(ApiKey::Metadata, 1, "silent", |b| b.put_i32(-1));
        let (r, out) = run(f);
        assert_eq!(r.unwrap(), Outcome::NoResponse);
        assert!(out.is_empty());

        let f = frame(ApiKey::Metadata, 1, "c", |b| b.put_i32(5));
        let (r, out) = run(f);
        assert!(matches!(r, Err(DispatchError::Body { .. })), "{r:?}");
        assert!(out.is_empty());

        let f = frame(ApiKey::Metadata, 10, "c", |b| b.put_i32(-1));
        assert!(matches!(run(f).0, Err(DispatchError::Body { .. })));

        let f = frame(ApiKey::SaslHandshake, 0, "c", |_| {});
        assert!(matches!(
            run(f).0,
            Err(DispatchError::Unsupported {
                key: ApiKey::SaslHandshake
            })
        ));

        let (r, _) = run(Bytes::from_static(&[0x7f, 0, 0, 0, 0, 0, 0, 0]));
        assert!(matches!(r, Err(DispatchError::Header(_))));
    }

    #[test]
    fn api_versions_v3_checks_client_software() {
        let req = ApiVersionsRequest {
            client_software_name: "-bad".into(),
            client_software_version: "1.0".into(),
        };
        let f = frame(ApiKey::ApiVersions, 3, "c", |b| req.encode(b, 3).unwrap());
        let (r, out) = run(f);
        assert_eq!(r.unwrap(), Outcome::Respond);
        let out = out.freeze();
        let (_, body) = ResponseHeader::decode(&out.slice(4..), 0).unwrap();
        let resp = ApiVersionsResponse::decode(&body, 3).unwrap();
        assert_eq!(resp.error_code, ErrorCode::INVALID_REQUEST.code());
        assert!(resp.api_keys.is_empty());

        let ok = |n: &str, v: &str| {
            valid_client_software(&ApiVersionsRequest {
                client_software_name: n.into(),
                client_software_version: v.into(),
            })
        };
        assert!(ok("librdkafka", "2.3.0"));
        assert!(ok("a", "1"));
        assert!(!ok("", "1"));
        assert!(!ok("a b", "1"));
        assert!(!ok("a", "1."));
    }

    #[test]
    fn api_versions_v3_carries_the_handlers_finalized_features_epoch() {
        struct Features;
        impl RequestHandler for Features {
            fn finalized_features_epoch(&self) -> i64 {
                7
            }
        }
        let req = ApiVersionsRequest {
            client_software_name: "c".into(),
            client_software_version: "1".into(),
        };
        let f = frame(ApiKey::ApiVersions, 3, "c", |b| req.encode(b, 3).unwrap());
        let mut out = BytesMut::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let r = rt.block_on(dispatch(&Features, &conn(), f, &mut out));
        assert_eq!(r.unwrap(), Outcome::Respond);
        let out = out.freeze();
        let (_, body) = ResponseHeader::decode(&out.slice(4..), 0).unwrap();
        let resp = ApiVersionsResponse::decode(&body, 3).unwrap();
        assert_eq!(resp.finalized_features_epoch, 7);
        assert!(resp.finalized_features.is_empty());

        // The default handler knows no finalized features.
        let f = frame(ApiKey::ApiVersions, 3, "c", |b| req.encode(b, 3).unwrap());
        let (_, out) = run(f);
        let out = out.freeze();
        let (_, body) = ResponseHeader::decode(&out.slice(4..), 0).unwrap();
        let resp = ApiVersionsResponse::decode(&body, 3).unwrap();
        assert_eq!(resp.finalized_features_epoch, -1);
    }
}
