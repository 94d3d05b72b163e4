//! Feeds arbitrary request frames (without the length prefix) to the
//! broker's request decoder. Any input must give a request or a typed error;
//! a panic, abort, hang or runaway allocation is a bug.

#![no_main]

use bytes::Bytes;
use gregor::protocol::{decode_request, RequestBody, RequestError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let frame = Bytes::copy_from_slice(data);
    match decode_request(&frame) {
        Ok((header, body)) => {
            // What decoded must be the API the header named.
            assert_eq!(header.api_key, body.api_key());
            let _: RequestBody = body;
        }
        Err(
            RequestError::UnknownApiKey(_)
            | RequestError::UnsupportedVersion { .. }
            | RequestError::Decode(_),
        ) => {}
    }
});
