use bytes::{BufMut, Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::batch::{CRC_AT, CRC_START, LOG_APPEND_TIME_FLAG};
use crate::{Record, RecordBatchBuilder};
use gregor_protocol::primitives::put_varint;

const T0: i64 = 1_700_000_000_000;

/// The value of most records in the fixtures (see `make_fixtures.py`).
fn fixture_value() -> Bytes {
    Bytes::from(b"gregor-fixture-value ".repeat(8))
}

fn h(key: &str, value: Option<&[u8]>) -> RecordHeader {
    RecordHeader {
        key: key.to_owned(),
        value: value.map(Bytes::copy_from_slice),
    }
}

fn rec(
    offset: i64,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<Bytes>,
    headers: Vec<RecordHeader>,
) -> DecodedRecord {
    DecodedRecord {
        offset,
        timestamp,
        key: key.map(Bytes::copy_from_slice),
        value,
        headers,
    }
}

/// The records `make_fixtures.py` writes, as they decode at base offset 0.
fn expected() -> Vec<DecodedRecord> {
    let v = || Some(fixture_value());
    vec![
        rec(0, T0, Some(b"k0"), v(), vec![]),
        rec(
            1,
            T0 + 10,
            None,
            v(),
            vec![h("h1", Some(b"v1")), h("h2", None)],
        ),
        rec(2, T0 + 5, Some(b"k2"), None, vec![]),
        rec(
            3,
            T0 + 30,
            Some(b"k3"),
            v(),
            vec![h("trace", Some(b"\x00\x01"))],
        ),
        rec(4, T0 + 40, Some(b""), Some(Bytes::new()), vec![]),
    ]
}

/// The same records through our own builder.
fn build(compression: Compression) -> Bytes {
    let records = expected();
    let mut b = RecordBatchBuilder::new(T0).compression(compression);
    for r in &records {
        b.append(Record {
            timestamp: r.timestamp,
            key: r.key.as_deref(),
            value: r.value.as_deref(),
            headers: r
                .headers
                .iter()
                .map(|h| (h.key.as_str(), h.value.as_deref()))
                .collect(),
        });
    }
    b.build()
}

/// Recomputes the CRC after a test edited a batch.
fn reseal(bytes: &mut [u8]) {
    let crc = crc32c::crc32c(&bytes[CRC_START..]);
    bytes[CRC_AT..CRC_START].copy_from_slice(&crc.to_be_bytes());
}

/// A batch whose records section is `section` as given (no compression of
/// ours), with the header fields a test wants to lie about.
fn raw_batch(codec: i16, count: i32, section: &[u8]) -> Bytes {
    let mut b = RecordBatchBuilder::new(T0).build().to_vec();
    b.truncate(HEADER_LEN);
    b.extend_from_slice(section);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    b[21..23].copy_from_slice(&codec.to_be_bytes());
    b[57..61].copy_from_slice(&count.to_be_bytes());
    reseal(&mut b);
    Bytes::from(b)
}

#[test]
fn decodes_batches_written_by_kafka_python_for_every_codec() {
    let fixtures: [(&str, &[u8]); 5] = [
        ("none", include_bytes!("../testdata/kafka-python-none.bin")),
        ("gzip", include_bytes!("../testdata/kafka-python-gzip.bin")),
        (
            "snappy",
            include_bytes!("../testdata/kafka-python-snappy.bin"),
        ),
        ("lz4", include_bytes!("../testdata/kafka-python-lz4.bin")),
        ("zstd", include_bytes!("../testdata/kafka-python-zstd.bin")),
    ];
    for (name, bytes) in fixtures {
        let codec: Compression = name.parse().unwrap();
        let batch = Bytes::from_static(bytes);
        let records = Records::new(&batch).unwrap();
        assert_eq!(records.header().compression(), codec.id(), "{name}");
        assert_eq!(records.header().max_timestamp, T0 + 40, "{name}");
        assert_eq!(decode_batch(&batch).unwrap(), expected(), "{name}");
    }
}

#[test]
fn our_builder_round_trips_through_every_codec() {
    let plain = build(Compression::None);
    for codec in Compression::ALL {
        let batch = build(codec);
        let (header, _) = parse_batch(&batch).unwrap();
        assert_eq!(header.compression(), codec.id());
        assert_eq!(header.record_count, 5);
        assert_eq!(header.max_timestamp, T0 + 40);
        if codec != Compression::None {
            assert!(
                batch.len() < plain.len(),
                "{codec} did not shrink the batch"
            );
        }
        assert_eq!(decode_batch(&batch).unwrap(), expected(), "{codec}");
    }
}

#[test]
fn offsets_are_absolute_and_log_append_time_overrides_timestamps() {
    let mut bytes = build(Compression::Lz4).to_vec();
    bytes[..8].copy_from_slice(&1_000i64.to_be_bytes());
    let attributes = i16::from_be_bytes([bytes[21], bytes[22]]) | LOG_APPEND_TIME_FLAG;
    bytes[21..23].copy_from_slice(&attributes.to_be_bytes());
    reseal(&mut bytes);
    let records = decode_batch(&Bytes::from(bytes)).unwrap();
    let got: Vec<_> = records.iter().map(|r| (r.offset, r.timestamp)).collect();
    assert_eq!(
        got,
        (1_000..1_005).map(|o| (o, T0 + 40)).collect::<Vec<_>>()
    );
}

#[test]
fn uncompressed_fields_share_the_batch_memory() {
    let batch = build(Compression::None);
    let records = decode_batch(&batch).unwrap();
    let value = records[0].value.as_ref().unwrap();
    let range = batch.as_ptr() as usize..batch.as_ptr() as usize + batch.len();
    assert!(range.contains(&(value.as_ptr() as usize)));
}

#[test]
fn a_corrupt_batch_is_refused_before_decoding() {
    let mut bytes = build(Compression::Gzip).to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    assert!(matches!(
        Records::new(&Bytes::from(bytes)),
        Err(RecordError::Batch(BatchError::CorruptCrc { .. }))
    ));
}

#[test]
fn unknown_codec_and_bad_counts_are_errors() {
    let section = &build(Compression::None)[HEADER_LEN..];
    assert!(matches!(
        Records::new(&raw_batch(5, 5, section)),
        Err(RecordError::Compression(CompressionError::UnknownCodec(5)))
    ));
    assert!(matches!(
        Records::new(&raw_batch(0, -1, section)),
        Err(RecordError::InvalidCount(-1))
    ));
    let too_few: Vec<_> = Records::new(&raw_batch(0, 4, section)).unwrap().collect();
    assert_eq!(too_few.len(), 5);
    assert!(matches!(too_few[4], Err(RecordError::TrailingBytes(_))));
    let too_many: Vec<_> = Records::new(&raw_batch(0, 6, section)).unwrap().collect();
    assert_eq!(too_many.len(), 6);
    assert!(matches!(
        too_many[5],
        Err(RecordError::Malformed {
            index: 5,
            source: DecodeError::Truncated
        })
    ));
}

/// One record frame around `body`, with a declared length of its own.
fn framed(declared: i32, body: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    put_varint(&mut out, declared);
    out.put_slice(body);
    out.to_vec()
}

#[test]
fn a_record_must_fill_exactly_its_declared_length() {
    // attributes, ts delta 0, offset delta 0, null key, null value, 0 headers
    let body = [0u8, 0, 0, 1, 1, 0];
    let ok = decode_batch(&raw_batch(0, 1, &framed(6, &body))).unwrap();
    assert_eq!((ok[0].key.clone(), ok[0].value.clone()), (None, None));
    let mut padded = body.to_vec();
    padded.push(0);
    assert_eq!(
        decode_batch(&raw_batch(0, 1, &framed(7, &padded))),
        Err(RecordError::SizeMismatch {
            index: 0,
            declared: 7,
            used: 6
        })
    );
    assert!(matches!(
        decode_batch(&raw_batch(0, 1, &framed(-3, &body))),
        Err(RecordError::Malformed {
            source: DecodeError::InvalidLength(-3),
            ..
        })
    ));
}

#[test]
fn null_header_keys_and_absurd_header_counts_are_refused() {
    // 1 header with a null key
    let null_key = [0u8, 0, 0, 1, 1, 2, 1, 1];
    assert!(matches!(
        decode_batch(&raw_batch(0, 1, &framed(8, &null_key))),
        Err(RecordError::Malformed {
            source: DecodeError::UnexpectedNull { .. },
            ..
        })
    ));
    // a header count of 2^30 in a record of a few bytes
    let many = [0u8, 0, 0, 1, 1, 0x80, 0x80, 0x80, 0x80, 0x08];
    assert!(matches!(
        decode_batch(&raw_batch(0, 1, &framed(10, &many))),
        Err(RecordError::Malformed {
            source: DecodeError::InvalidLength(_),
            ..
        })
    ));
}

#[test]
fn decompression_is_bounded() {
    let mut b = RecordBatchBuilder::new(T0).compression(Compression::Zstd);
    let big = vec![7u8; 1 << 20];
    b.append(Record::new(T0, None, Some(&big)));
    let batch = b.build();
    assert!(batch.len() < 4096);
    assert!(matches!(
        Records::with_limit(&batch, 1 << 16),
        Err(RecordError::Compression(CompressionError::TooLarge { .. }))
    ));
    assert_eq!(
        decode_batch(&batch).unwrap()[0].value.as_deref(),
        Some(&big[..])
    );
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_record_sections(
        codec in 0i16..8,
        count in -2i32..20,
        section in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        if let Ok(records) = Records::with_limit(&raw_batch(codec, count, &section), 1 << 16) {
            for r in records {
                let _ = r;
            }
        }
    }

    #[test]
    fn never_panics_on_mutated_batches(
        codec in 0usize..5,
        idx in any::<usize>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = build(Compression::ALL[codec]).to_vec();
        let i = HEADER_LEN + idx % (bytes.len() - HEADER_LEN);
        bytes[i] = byte;
        reseal(&mut bytes);
        if let Ok(records) = Records::with_limit(&Bytes::from(bytes), 1 << 16) {
            for r in records {
                let _ = r;
            }
        }
    }

    #[test]
    fn builder_output_decodes_to_what_went_in(
        codec in 0usize..5,
        items in proptest::collection::vec(
            (0i64..1_000_000, proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40))),
            1..20,
        ),
    ) {
        let mut b = RecordBatchBuilder::new(T0).compression(Compression::ALL[codec]);
        for (delta, value) in &items {
            b.append(Record::new(T0 + delta, None, value.as_deref()));
        }
        let decoded = decode_batch(&b.build()).unwrap();
        prop_assert_eq!(decoded.len(), items.len());
        for (i, (r, (delta, value))) in decoded.iter().zip(&items).enumerate() {
            prop_assert_eq!(r.offset, i as i64);
            prop_assert_eq!(r.timestamp, T0 + delta);
            prop_assert_eq!(r.value.as_deref(), value.as_deref());
        }
    }
}

/// The offset delta [`create_time_max`] finds for the largest timestamp.
fn offset_of_max(batch: &[u8]) -> Option<i32> {
    create_time_max(batch).and_then(|(_, delta)| delta)
}

#[test]
fn offset_of_max_timestamp_is_that_of_the_first_record_holding_it() {
    let mut b = RecordBatchBuilder::new(T0);
    for ts in [T0, T0 + 5, T0 + 2, T0 + 5, T0 + 1] {
        b.append(Record::new(ts, None, Some(b"v")));
    }
    assert_eq!(offset_of_max(&b.build()), Some(1));
    // Compressed batches are not looked into: Kafka takes the last offset.
    let mut b = RecordBatchBuilder::new(T0).compression(Compression::Gzip);
    b.append(Record::new(T0 + 9, None, Some(b"v")));
    b.append(Record::new(T0, None, Some(b"v")));
    assert_eq!(offset_of_max(&b.build()), None);
    // Kafka starts from NO_TIMESTAMP (-1): none of these is larger.
    let mut b = RecordBatchBuilder::new(-5);
    b.append(Record::new(-5, None, Some(b"v")));
    assert_eq!(offset_of_max(&b.build()), None);
    assert_eq!(offset_of_max(b"short"), None);
}
