//! Feeds arbitrary request frames (without the length prefix) to the
//! server's own dispatch path: header decoding, the dispatch table, and the
//! body decoder of whichever API the header names. A handler that answers
//! Metadata with the stand-in answer naming the requested topics (and, by default, closes the connection
//! for every other API) stands in for the broker. Any input must give a
//! response, no response, or a typed error; a panic, abort, hang or runaway
//! allocation is a bug.

#![no_main]

use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};
use gregor_protocol::api::metadata::{MetadataRequest, MetadataResponse};
use gregor_server::dispatch::dispatch;
use gregor_testkit::echo_topics;
use gregor_server::{ConnectionInfo, Reply, RequestContext, RequestHandler};
use libfuzzer_sys::fuzz_target;

struct NullBroker;

impl RequestHandler for NullBroker {
    async fn metadata(&self, _: &RequestContext<'_>, request: MetadataRequest) -> Reply<MetadataResponse> {
        Reply::Respond(echo_topics(request))
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let connection = ConnectionInfo {
        id: 0,
        listener: "PLAINTEXT".into(),
        peer: ([127, 0, 0, 1], 9092).into(),
    };
    let frame = Bytes::copy_from_slice(data);
    let mut out = BytesMut::new();
    let _ = runtime().block_on(dispatch(&NullBroker, &connection, frame, &mut out));
});
