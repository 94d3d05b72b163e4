//! Kafka's primitive wire types: big-endian integers, varints, strings, bytes,
//! array lengths, UUIDs and KIP-482 tagged-field sections.
//!
//! Parsers are `nom` functions over a `&[u8]` that is a slice of the frame's
//! [`Bytes`]; byte fields are handed out as zero-copy slices of that `Bytes`
//! (see [`share`]). Writers append to a [`BytesMut`].
//!
//! Each variable-size type has a classic form (int16/int32 length, -1 for
//! null) and a compact form used by flexible versions (unsigned varint of
//! length + 1, 0 for null). Kafka reads any negative classic length as null.

use bytes::{BufMut, Bytes, BytesMut};
use nom::bytes::complete::take;
use nom::number::complete::{be_i16, be_i32, be_u8};

use super::error::{fail, DecodeError, EncodeError, PResult};
use crate::id::Uuid;

macro_rules! fixed_width {
    ($($(#[$doc:meta])* $name:ident: $ty:ty = $nom:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(input: &[u8]) -> PResult<'_, $ty> {
            nom::number::complete::$nom(input)
        }
    )*};
}

fixed_width! {
    /// int8.
    int8: i8 = be_i8;
    /// Big-endian int16.
    int16: i16 = be_i16;
    /// Big-endian int32.
    int32: i32 = be_i32;
    /// Big-endian int64.
    int64: i64 = be_i64;
    /// Big-endian uint16.
    uint16: u16 = be_u16;
    /// Big-endian uint32.
    uint32: u32 = be_u32;
    /// IEEE 754 float64, big-endian.
    float64: f64 = be_f64;
}

/// Largest string length Kafka accepts (an int16 length).
const MAX_STRING_LEN: usize = i16::MAX as usize;

/// Kafka's boolean: one byte, anything but 0 is true.
pub fn boolean(input: &[u8]) -> PResult<'_, bool> {
    let (rest, b) = be_u8(input)?;
    Ok((rest, b != 0))
}

/// A UUID: 16 raw bytes.
pub fn uuid(input: &[u8]) -> PResult<'_, Uuid> {
    let (rest, raw) = take(16usize)(input)?;
    let mut out = [0u8; 16];
    out.copy_from_slice(raw);
    Ok((rest, Uuid::from_bytes(out)))
}

/// Unsigned LEB128 varint of at most `max_bytes` bytes, as Kafka's
/// `ByteUtils.readUnsignedVarlong`: bits past 64 are dropped, not an error.
fn unsigned_leb128(input: &[u8], max_bytes: usize) -> PResult<'_, u64> {
    let mut value = 0u64;
    for (i, &b) in input.iter().enumerate().take(max_bytes) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((&input[i + 1..], value));
        }
    }
    if input.len() < max_bytes {
        fail(DecodeError::Truncated)
    } else {
        fail(DecodeError::VarintTooLong)
    }
}

/// Unsigned varint (at most 5 bytes), used by compact lengths and tags.
pub fn unsigned_varint(input: &[u8]) -> PResult<'_, u32> {
    let (rest, v) = unsigned_leb128(input, 5)?;
    // Like Java's int arithmetic, bits beyond 32 are dropped.
    Ok((rest, v as u32))
}

/// Unsigned varlong (at most 10 bytes).
pub fn unsigned_varlong(input: &[u8]) -> PResult<'_, u64> {
    unsigned_leb128(input, 10)
}

/// Zigzag-encoded signed varint.
pub fn varint(input: &[u8]) -> PResult<'_, i32> {
    let (rest, v) = unsigned_varint(input)?;
    Ok((rest, ((v >> 1) as i32) ^ -((v & 1) as i32)))
}

/// Zigzag-encoded signed varlong.
pub fn varlong(input: &[u8]) -> PResult<'_, i64> {
    let (rest, v) = unsigned_varlong(input)?;
    Ok((rest, ((v >> 1) as i64) ^ -((v & 1) as i64)))
}

/// Reads a length prefix: int16 (classic strings), int32 (classic bytes and
/// arrays) or compact (unsigned varint of length + 1). `None` means null.
/// A length longer than the rest of the input is an error, so no caller
/// preallocates or loops on a length the input cannot back.
fn length(input: &[u8], form: LengthForm) -> PResult<'_, Option<usize>> {
    let (rest, len): (&[u8], i64) = match form {
        LengthForm::Int16 => be_i16(input).map(|(r, l)| (r, i64::from(l)))?,
        LengthForm::Int32 => be_i32(input).map(|(r, l)| (r, i64::from(l)))?,
        LengthForm::Compact => unsigned_varint(input).map(|(r, l)| (r, i64::from(l) - 1))?,
    };
    if len < 0 {
        return Ok((rest, None));
    }
    if len > rest.len() as i64 {
        return fail(DecodeError::InvalidLength(len));
    }
    Ok((rest, Some(len as usize)))
}

#[derive(Clone, Copy)]
enum LengthForm {
    Int16,
    Int32,
    Compact,
}

/// A nullable string, classic (int16 length) or compact (`flexible`).
pub fn nullable_string(input: &[u8], flexible: bool) -> PResult<'_, Option<String>> {
    let form = if flexible {
        LengthForm::Compact
    } else {
        LengthForm::Int16
    };
    let (rest, len) = length(input, form)?;
    let Some(len) = len else {
        return Ok((rest, None));
    };
    if len > MAX_STRING_LEN {
        return fail(DecodeError::InvalidLength(len as i64));
    }
    let (rest, raw) = take(len)(rest)?;
    match std::str::from_utf8(raw) {
        Ok(s) => Ok((rest, Some(s.to_owned()))),
        Err(_) => fail(DecodeError::InvalidUtf8),
    }
}

/// Returns the part of `source` that `sub` points at without copying, or a
/// copy when `sub` is not inside `source` (so a mismatched caller gets a
/// correct value rather than a panic).
pub fn share(source: &Bytes, sub: &[u8]) -> Bytes {
    let start = source.as_ptr() as usize;
    let at = sub.as_ptr() as usize;
    if at >= start && at + sub.len() <= start + source.len() {
        source.slice_ref(sub)
    } else {
        Bytes::copy_from_slice(sub)
    }
}

/// Nullable bytes, classic (int32 length) or compact; the value shares
/// `source`'s memory. Records fields use this too.
pub fn nullable_bytes<'a>(
    input: &'a [u8],
    flexible: bool,
    source: &Bytes,
) -> PResult<'a, Option<Bytes>> {
    let form = if flexible {
        LengthForm::Compact
    } else {
        LengthForm::Int32
    };
    let (rest, len) = length(input, form)?;
    let Some(len) = len else {
        return Ok((rest, None));
    };
    let (rest, raw) = take(len)(rest)?;
    Ok((rest, Some(share(source, raw))))
}

/// Memory a decoder may reserve up front for a count read from the input;
/// past it the vector grows as elements actually decode, so a count alone
/// never allocates much.
const MAX_PREALLOC_BYTES: usize = 64 * 1024;

/// How many `T`s to reserve for a count of `len` read from the input.
pub fn prealloc_len<T>(len: usize) -> usize {
    len.min(MAX_PREALLOC_BYTES / std::mem::size_of::<T>().max(1))
}

/// An array's element count (`None` for null), classic int32 or compact.
/// The count is bounded by the bytes left, as Kafka's reader does, so a
/// hostile count cannot make us allocate or loop beyond the input.
pub fn array_len(input: &[u8], flexible: bool) -> PResult<'_, Option<usize>> {
    length(
        input,
        if flexible {
            LengthForm::Compact
        } else {
            LengthForm::Int32
        },
    )
}

/// Reads a tagged-field section (KIP-482): a count, then `(tag, size, data)`
/// triples. Each field is handed to `on_field`, which decodes the tags it
/// knows and ignores the rest.
pub fn tagged_fields<'a, F>(input: &'a [u8], mut on_field: F) -> PResult<'a, ()>
where
    F: FnMut(u32, &'a [u8]) -> Result<(), nom::Err<DecodeError>>,
{
    let (mut rest, count) = unsigned_varint(input)?;
    if count as usize > rest.len() {
        return fail(DecodeError::InvalidLength(i64::from(count)));
    }
    for _ in 0..count {
        let (r, tag) = unsigned_varint(rest)?;
        let (r, size) = unsigned_varint(r)?;
        let (r, data) = take(size as usize)(r)?;
        on_field(tag, data)?;
        rest = r;
    }
    Ok((rest, ()))
}

/// Writes an unsigned varint.
pub fn put_unsigned_varint(buf: &mut BytesMut, v: u32) {
    put_unsigned_varlong(buf, u64::from(v));
}

/// Writes an unsigned varlong.
pub fn put_unsigned_varlong(buf: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Writes a zigzag varint.
pub fn put_varint(buf: &mut BytesMut, v: i32) {
    put_unsigned_varint(buf, ((v << 1) ^ (v >> 31)) as u32);
}

/// Writes a zigzag varlong.
pub fn put_varlong(buf: &mut BytesMut, v: i64) {
    put_unsigned_varlong(buf, ((v << 1) ^ (v >> 63)) as u64);
}

/// Writes a length prefix for a string (int16), bytes or array (int32), or
/// its compact form. `None` writes null.
fn put_length(
    buf: &mut BytesMut,
    len: Option<usize>,
    flexible: bool,
    classic_max: usize,
) -> Result<(), EncodeError> {
    if let Some(n) = len {
        if n > classic_max {
            return Err(if classic_max == MAX_STRING_LEN {
                EncodeError::StringTooLong(n)
            } else {
                EncodeError::TooLong(n)
            });
        }
    }
    if flexible {
        put_unsigned_varint(buf, len.map_or(0, |n| n as u32 + 1));
    } else if classic_max == MAX_STRING_LEN {
        buf.put_i16(len.map_or(-1, |n| n as i16));
    } else {
        buf.put_i32(len.map_or(-1, |n| n as i32));
    }
    Ok(())
}

/// Writes a nullable string, classic or compact.
pub fn put_nullable_string(
    buf: &mut BytesMut,
    s: Option<&str>,
    flexible: bool,
) -> Result<(), EncodeError> {
    put_length(buf, s.map(str::len), flexible, MAX_STRING_LEN)?;
    if let Some(s) = s {
        buf.put_slice(s.as_bytes());
    }
    Ok(())
}

/// Writes nullable bytes, classic or compact.
pub fn put_nullable_bytes(
    buf: &mut BytesMut,
    b: Option<&[u8]>,
    flexible: bool,
) -> Result<(), EncodeError> {
    put_length(buf, b.map(<[u8]>::len), flexible, i32::MAX as usize)?;
    if let Some(b) = b {
        buf.put_slice(b);
    }
    Ok(())
}

/// Writes an array's element count (`None` for null), classic or compact.
pub fn put_array_len(
    buf: &mut BytesMut,
    len: Option<usize>,
    flexible: bool,
) -> Result<(), EncodeError> {
    put_length(buf, len, flexible, i32::MAX as usize)
}

/// Writes a tagged-field section from `(tag, encoded value)` pairs, in
/// ascending tag order as KIP-482 requires. An empty slice writes the single
/// zero byte every flexible struct ends with.
pub fn put_tagged_fields(buf: &mut BytesMut, fields: &mut [(u32, BytesMut)]) {
    fields.sort_by_key(|(tag, _)| *tag);
    put_unsigned_varint(buf, fields.len() as u32);
    for (tag, data) in fields.iter() {
        put_unsigned_varint(buf, *tag);
        put_unsigned_varint(buf, data.len() as u32);
        buf.put_slice(data);
    }
}

/// Writes a [`Uuid`].
pub fn put_uuid(buf: &mut BytesMut, u: &Uuid) {
    buf.put_slice(u.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(v: &[u8]) -> Bytes {
        Bytes::copy_from_slice(v)
    }

    #[test]
    fn unsigned_varint_known_vectors() {
        // Vectors from Kafka's ByteUtilsTest.
        let cases: &[(u32, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (300, &[0xac, 0x02]),
            (16383, &[0xff, 0x7f]),
            (16384, &[0x80, 0x80, 0x01]),
            (u32::MAX, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for &(v, bytes) in cases {
            let mut buf = BytesMut::new();
            put_unsigned_varint(&mut buf, v);
            assert_eq!(&buf[..], bytes, "encode {v}");
            assert_eq!(unsigned_varint(bytes).unwrap(), (&[][..], v), "decode {v}");
        }
    }

    #[test]
    fn zigzag_known_vectors() {
        let cases: &[(i32, &[u8])] = &[
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-2, &[0x03]),
            (63, &[0x7e]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (i32::MAX, &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
            (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for &(v, bytes) in cases {
            let mut buf = BytesMut::new();
            put_varint(&mut buf, v);
            assert_eq!(&buf[..], bytes, "encode {v}");
            assert_eq!(varint(bytes).unwrap().1, v, "decode {v}");
        }
        let mut buf = BytesMut::new();
        put_varlong(&mut buf, i64::MIN);
        assert_eq!(buf.len(), 10);
        assert_eq!(varlong(&buf).unwrap().1, i64::MIN);
    }

    #[test]
    fn varint_errors() {
        assert_eq!(
            unsigned_varint(&[0x80, 0x80]),
            Err(nom::Err::Failure(DecodeError::Truncated))
        );
        assert_eq!(
            unsigned_varint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
            Err(nom::Err::Failure(DecodeError::VarintTooLong))
        );
        assert!(unsigned_varlong(&[0xff; 11]).is_err());
    }

    #[test]
    fn strings_classic_and_compact() {
        assert_eq!(
            nullable_string(&[0, 3, b'a', b'b', b'c', 9], false).unwrap(),
            (&[9u8][..], Some("abc".to_owned()))
        );
        assert_eq!(nullable_string(&[0xff, 0xff], false).unwrap().1, None);
        assert_eq!(
            nullable_string(&[4, b'a', b'b', b'c'], true).unwrap().1,
            Some("abc".to_owned())
        );
        assert_eq!(nullable_string(&[0], true).unwrap().1, None);
        // Length beyond the input.
        assert_eq!(
            nullable_string(&[0, 9, b'a'], false),
            Err(nom::Err::Failure(DecodeError::InvalidLength(9)))
        );
        assert_eq!(
            nullable_string(&[0, 1, 0xff], false),
            Err(nom::Err::Failure(DecodeError::InvalidUtf8))
        );
        let mut buf = BytesMut::new();
        put_nullable_string(&mut buf, Some("abc"), false).unwrap();
        put_nullable_string(&mut buf, None, false).unwrap();
        put_nullable_string(&mut buf, Some("abc"), true).unwrap();
        put_nullable_string(&mut buf, None, true).unwrap();
        assert_eq!(
            &buf[..],
            &[0, 3, b'a', b'b', b'c', 0xff, 0xff, 4, b'a', b'b', b'c', 0]
        );
        let long = "x".repeat(40_000);
        assert_eq!(
            put_nullable_string(&mut buf, Some(&long), true),
            Err(EncodeError::StringTooLong(40_000))
        );
    }

    #[test]
    fn bytes_are_zero_copy() {
        let frame = src(&[0, 0, 0, 2, 7, 8, 1]);
        let (rest, b) = nullable_bytes(&frame, false, &frame).unwrap();
        let b = b.unwrap();
        assert_eq!(&b[..], &[7, 8]);
        assert_eq!(b.as_ptr(), frame[4..].as_ptr(), "no copy");
        assert_eq!(rest, &[1]);
        // A slice from elsewhere is copied, not a panic.
        let other = [0u8, 0, 0, 1, 5];
        assert_eq!(
            nullable_bytes(&other, false, &frame).unwrap().1,
            Some(src(&[5]))
        );
        assert_eq!(nullable_bytes(&[0], true, &frame).unwrap().1, None);
        assert_eq!(
            nullable_bytes(&[0xff, 0xff, 0xff, 0xfe], false, &frame)
                .unwrap()
                .1,
            None
        );
    }

    #[test]
    fn prealloc_len_is_bounded_in_bytes() {
        assert_eq!(prealloc_len::<u8>(10), 10);
        assert_eq!(
            prealloc_len::<[u8; 56]>(1 << 24) * 56,
            MAX_PREALLOC_BYTES / 56 * 56
        );
        assert_eq!(prealloc_len::<()>(1 << 24), MAX_PREALLOC_BYTES);
    }

    #[test]
    fn array_len_is_bounded_by_input() {
        assert_eq!(
            array_len(&[0x7f, 0xff, 0xff, 0xff], false),
            Err(nom::Err::Failure(DecodeError::InvalidLength(
                i32::MAX as i64
            )))
        );
        assert_eq!(array_len(&[0xff, 0xff, 0xff, 0xff], false).unwrap().1, None);
        assert_eq!(array_len(&[0x00], true).unwrap().1, None);
        assert_eq!(array_len(&[0x03, 1, 2], true).unwrap().1, Some(2));
    }

    #[test]
    fn tagged_fields_skip_and_write() {
        let mut fields = vec![
            (5u32, BytesMut::from(&[9u8, 9][..])),
            (1u32, BytesMut::from(&[7u8][..])),
        ];
        let mut buf = BytesMut::new();
        put_tagged_fields(&mut buf, &mut fields);
        assert_eq!(&buf[..], &[2, 1, 1, 7, 5, 2, 9, 9]);
        let mut seen = vec![];
        let (rest, ()) = tagged_fields(&buf, |tag, data| {
            seen.push((tag, data.to_vec()));
            Ok(())
        })
        .unwrap();
        assert!(rest.is_empty());
        assert_eq!(seen, vec![(1, vec![7]), (5, vec![9, 9])]);
        let mut empty = BytesMut::new();
        put_tagged_fields(&mut empty, &mut []);
        assert_eq!(&empty[..], &[0]);
        assert!(tagged_fields(&[1, 0, 5, 1], |_, _| Ok(())).is_err());
    }

    #[test]
    fn fixed_width() {
        assert_eq!(int16(&[0x01, 0x02][..]).unwrap().1, 0x0102);
        assert_eq!(
            int32(&[0x01][..]),
            Err(nom::Err::Error(DecodeError::Truncated))
        );
        assert!(boolean(&[2]).unwrap().1);
        assert_eq!(uuid(&[1; 16]).unwrap().1, Uuid::from_bytes([1; 16]));
        assert!(uuid(&[1; 15]).is_err());
    }
}
