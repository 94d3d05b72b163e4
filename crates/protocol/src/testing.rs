//! Test support: random values of any declared message, valid for a given
//! version (fields absent from it keep their defaults; nulls only where the
//! version allows them), and the property checks every API module runs.

use std::ops::RangeInclusive;

use bytes::{Bytes, BytesMut};
use proptest::test_runner::{Config, TestRunner};
use rand::rngs::SmallRng;
use rand::{Rng, RngExt, SeedableRng};

use super::codec::Message;
use crate::Uuid;

/// A deterministic generator, seeded by proptest.
pub(crate) struct Gen(SmallRng);

impl Gen {
    pub(crate) fn new(seed: u64) -> Self {
        Gen(SmallRng::seed_from_u64(seed))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// A number below `n` (n > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0.random_range(0..n)
    }

    /// True one time in `n`.
    pub(crate) fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

/// A random value valid in `version`; `nullable` says whether `None` may be
/// produced for an `Option`.
pub(crate) trait Random: Sized {
    fn random(g: &mut Gen, version: i16, nullable: bool) -> Self;
}

macro_rules! random_int {
    ($($ty:ty),*) => {$(
        impl Random for $ty {
            fn random(g: &mut Gen, _version: i16, _nullable: bool) -> Self {
                // Favour small values and the edges, where encodings differ.
                match g.below(4) {
                    0 => <$ty>::MIN,
                    1 => <$ty>::MAX,
                    2 => (g.below(300) as $ty).wrapping_sub(100 as $ty),
                    _ => g.next_u64() as $ty,
                }
            }
        }
    )*};
}

random_int!(i8, i16, i32, i64, u16, u32);

impl Random for f64 {
    fn random(g: &mut Gen, _version: i16, _nullable: bool) -> Self {
        (g.next_u64() % 1_000_000) as f64 / 7.0
    }
}

impl Random for bool {
    fn random(g: &mut Gen, _version: i16, _nullable: bool) -> Self {
        g.one_in(2)
    }
}

impl Random for Uuid {
    fn random(g: &mut Gen, _version: i16, _nullable: bool) -> Self {
        let mut out = [0u8; 16];
        for b in out.iter_mut() {
            *b = g.next_u64() as u8;
        }
        Uuid::from_bytes(out)
    }
}

impl Random for String {
    fn random(g: &mut Gen, _version: i16, _nullable: bool) -> Self {
        const CHARS: &[char] = &['a', 'z', '-', '_', '.', '0', 'é', '漢', '🦀'];
        let len = if g.one_in(20) { 200 } else { g.below(12) };
        (0..len)
            .map(|_| CHARS[g.below(CHARS.len() as u64) as usize])
            .collect()
    }
}

impl Random for Bytes {
    fn random(g: &mut Gen, _version: i16, _nullable: bool) -> Self {
        let len = if g.one_in(20) { 300 } else { g.below(16) };
        (0..len).map(|_| g.next_u64() as u8).collect()
    }
}

impl<T: Random> Random for Vec<T> {
    fn random(g: &mut Gen, version: i16, _nullable: bool) -> Self {
        let len = g.below(4);
        (0..len).map(|_| T::random(g, version, false)).collect()
    }
}

impl<T: Random> Random for Option<T> {
    fn random(g: &mut Gen, version: i16, nullable: bool) -> Self {
        if nullable && g.one_in(4) {
            None
        } else {
            Some(T::random(g, version, false))
        }
    }
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: 128,
        failure_persistence: None,
        ..Config::default()
    })
}

/// For every version of `M`: a random value encodes, decodes to itself, and
/// re-encodes to the same bytes; and `M`'s flexible versions are its API's.
pub(crate) fn check_round_trip<M: Message + Random + std::fmt::Debug + PartialEq>() {
    // The body's flexibility must agree with the header's, which is decided
    // from the API key alone.
    assert_eq!(
        M::FLEXIBLE_SINCE,
        M::API_KEY.flexible_since(),
        "{}: flexible versions disagree with ApiKey",
        M::NAME
    );
    for version in M::VERSIONS {
        runner()
            .run(&proptest::num::u64::ANY, |seed| {
                let value = M::random(&mut Gen::new(seed), version, false);
                let mut buf = BytesMut::new();
                value.encode(&mut buf, version).expect("encode");
                let bytes = buf.freeze();
                let back = M::decode(&bytes, version).expect("decode");
                proptest::prop_assert_eq!(&back, &value, "version {}", version);
                Ok(())
            })
            .unwrap();
    }
}

/// For every version of `M`: decoding arbitrary bytes, and every truncation
/// of a valid encoding, returns (an error or a value) without panicking.
pub(crate) fn check_decode_never_panics<M: Message + Random>() {
    for version in M::VERSIONS {
        runner()
            .run(
                &proptest::collection::vec(proptest::num::u8::ANY, 0..256),
                |raw| {
                    let _ = M::decode(&Bytes::from(raw), version);
                    Ok(())
                },
            )
            .unwrap();
        runner()
            .run(&proptest::num::u64::ANY, |seed| {
                let mut buf = BytesMut::new();
                M::random(&mut Gen::new(seed), version, false)
                    .encode(&mut buf, version)
                    .expect("encode");
                let bytes = buf.freeze();
                for cut in 0..bytes.len() {
                    proptest::prop_assert!(M::decode(&bytes.slice(..cut), version).is_err());
                }
                Ok(())
            })
            .unwrap();
    }
}

/// Differential check against the independent `kafka-protocol` crate: for
/// every version of `M` that `kafka-protocol` also implements, a random value
/// and its `kafka-protocol` twin (made by `to_theirs`) encode to the same
/// bytes, and each side decodes the other's bytes back to the same value.
///
/// `kafka-protocol` 0.18 follows Kafka 4.0, which removed the oldest
/// versions of several APIs (KIP-896: CreateTopics v0-1, DeleteTopics v0,
/// DescribeConfigs v0, ...). Those versions cannot be checked here; the API's
/// module pins them with known-bytes tests instead. Returns the versions that
/// were checked, and fails if there were none.
pub(crate) fn check_against_kafka_protocol<M, K>(to_theirs: impl Fn(&M) -> K) -> RangeInclusive<i16>
where
    M: Message + Random + std::fmt::Debug + PartialEq,
    K: kafka_protocol::protocol::Message
        + kafka_protocol::protocol::Encodable
        + kafka_protocol::protocol::Decodable
        + std::fmt::Debug
        + PartialEq,
{
    let versions =
        (*M::VERSIONS.start()).max(K::VERSIONS.min)..=(*M::VERSIONS.end()).min(K::VERSIONS.max);
    assert!(
        !versions.is_empty(),
        "{} shares no version with kafka-protocol",
        M::NAME
    );
    for version in versions.clone() {
        runner()
            .run(&proptest::num::u64::ANY, |seed| {
                let ours = M::random(&mut Gen::new(seed), version, false);
                let theirs = to_theirs(&ours);
                let mut our_bytes = BytesMut::new();
                ours.encode(&mut our_bytes, version).expect("our encode");
                let mut their_bytes = BytesMut::new();
                theirs
                    .encode(&mut their_bytes, version)
                    .expect("kafka-protocol encode");
                proptest::prop_assert_eq!(&our_bytes, &their_bytes, "v{} {:?}", version, ours);
                let mut our_frozen = our_bytes.freeze();
                let decoded_by_them =
                    K::decode(&mut our_frozen, version).expect("kafka-protocol decode");
                proptest::prop_assert_eq!(&decoded_by_them, &theirs, "v{}", version);
                let decoded_by_us = M::decode(&their_bytes.freeze(), version).expect("our decode");
                proptest::prop_assert_eq!(&decoded_by_us, &ours, "v{}", version);
                Ok(())
            })
            .unwrap();
    }
    versions
}

/// Checks that a byte field (a records blob above all) of `value` survives
/// `version` byte for byte, and that decoding hands it out as a slice of the
/// frame rather than a copy. `get` picks the field out of a message.
pub(crate) fn check_bytes_zero_copy<M: Message + std::fmt::Debug + PartialEq>(
    value: &M,
    version: i16,
    get: impl Fn(&M) -> Option<&Bytes>,
) {
    let mut buf = BytesMut::new();
    value.encode(&mut buf, version).expect("encode");
    let frame = buf.freeze();
    let decoded = M::decode(&frame, version).expect("decode");
    assert_eq!(&decoded, value, "v{version}");
    let (sent, got) = (get(value).expect("field set"), get(&decoded).unwrap());
    assert_eq!(&sent[..], &got[..], "v{version}: bytes changed");
    let (start, end) = (
        frame.as_ptr() as usize,
        frame.as_ptr() as usize + frame.len(),
    );
    let at = got.as_ptr() as usize;
    assert!(
        got.is_empty() || (at >= start && at + got.len() <= end),
        "v{version}: bytes were copied out of the frame"
    );
    let mut again = BytesMut::new();
    decoded.encode(&mut again, version).expect("re-encode");
    assert_eq!(again.freeze(), frame, "v{version}: re-encoding differs");
}

/// Checks that `value` encodes in `version` to exactly `bytes` (built by
/// hand from the spec) and that `bytes` decode back to `value`.
pub(crate) fn check_known_bytes<M: Message + std::fmt::Debug + PartialEq>(
    value: &M,
    version: i16,
    bytes: &[u8],
) {
    let mut buf = BytesMut::new();
    value.encode(&mut buf, version).expect("encode");
    assert_eq!(&buf[..], bytes, "{} v{version}: encoding", M::NAME);
    let decoded = M::decode(&Bytes::copy_from_slice(bytes), version).expect("decode");
    assert_eq!(&decoded, value, "{} v{version}: decoding", M::NAME);
}

/// A `kafka-protocol` string.
pub(crate) fn str_bytes(s: &str) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(s.to_owned())
}

/// The three checks every API module runs on its request and response: an
/// encode/decode round trip in every version, decoding arbitrary bytes never
/// panics, and both sides agree byte for byte with the kafka-protocol crate
/// over `$versions`, the versions it still implements (Kafka 4 dropped some
/// old ones; those are pinned by each module's known-bytes tests).
macro_rules! codec_tests {
    ($request:ty, $response:ty, $their_request:expr, $their_response:expr, $versions:expr) => {
        #[test]
        fn round_trip() {
            $crate::testing::check_round_trip::<$request>();
            $crate::testing::check_round_trip::<$response>();
        }

        #[test]
        fn decode_never_panics() {
            $crate::testing::check_decode_never_panics::<$request>();
            $crate::testing::check_decode_never_panics::<$response>();
        }

        #[test]
        fn matches_kafka_protocol() {
            use $crate::testing::check_against_kafka_protocol;
            assert_eq!(check_against_kafka_protocol($their_request), $versions);
            assert_eq!(check_against_kafka_protocol($their_response), $versions);
        }
    };
}
pub(crate) use codec_tests;
