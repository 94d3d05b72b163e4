//! Feeds arbitrary bytes to the record batch parsers, as a producer's
//! `records` field or a corrupt segment would: every input must give batches
//! or a typed error, never a panic.

#![no_main]

use gregor_record::{BatchHeader, Batches};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = BatchHeader::parse(data) {
        let _ = header.total_size();
        let _ = header.last_offset();
        let _ = header.check_count();
    }
    let mut consumed = 0;
    for batch in Batches::new(data) {
        match batch {
            Ok((header, bytes)) => {
                assert_eq!(bytes.len(), header.total_size());
                consumed += bytes.len();
                assert!(consumed <= data.len());
            }
            Err(_) => break,
        }
    }
});
