//! Typed errors of the wire codec.
//!
//! Every malformed input maps to a [`DecodeError`]; the codec never panics on
//! network data. The server answers most of them by closing the connection,
//! as Kafka does for a request it cannot parse.

use nom::error::{ErrorKind, ParseError};
use thiserror::Error;

/// Why some bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended in the middle of a value.
    #[error("input ended before the value was complete")]
    Truncated,
    /// A length prefix was negative where null is not allowed, or longer than
    /// the bytes left in the input.
    #[error("invalid length {0}")]
    InvalidLength(i64),
    /// A string is not valid UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A varint ran past its maximum size (5 bytes for 32 bits, 10 for 64).
    #[error("varint is too long")]
    VarintTooLong,
    /// A field came as null in a version where it is not nullable.
    #[error("field {field} is null, which version {version} does not allow")]
    UnexpectedNull { field: &'static str, version: i16 },
    /// The message does not exist in this version.
    #[error("{message} has no version {version}")]
    UnsupportedVersion { message: &'static str, version: i16 },
    /// A message was followed by bytes that belong to nothing.
    #[error("{0} bytes left over after the message")]
    TrailingBytes(usize),
    /// An API key this codec does not know.
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    /// Any other parser failure.
    #[error("malformed input ({0:?})")]
    Malformed(ErrorKind),
}

impl<I> ParseError<I> for DecodeError {
    fn from_error_kind(_input: I, kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Eof => DecodeError::Truncated,
            other => DecodeError::Malformed(other),
        }
    }

    fn append(_input: I, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

impl From<nom::Err<DecodeError>> for DecodeError {
    fn from(err: nom::Err<DecodeError>) -> Self {
        match err {
            nom::Err::Incomplete(_) => DecodeError::Truncated,
            nom::Err::Error(e) | nom::Err::Failure(e) => e,
        }
    }
}

/// Why a value could not be encoded in the requested version. Kafka's own
/// serializer refuses the same cases rather than send bytes a peer would
/// misread.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// A string longer than the 32767 bytes an int16 length can carry.
    #[error("string of {0} bytes is longer than 32767")]
    StringTooLong(usize),
    /// A byte string or array longer than an int32 length can carry.
    #[error("length {0} does not fit the length prefix")]
    TooLong(usize),
    /// A null value in a version where the field is not nullable.
    #[error("field {field} is null, which version {version} does not allow")]
    NullNotAllowed { field: &'static str, version: i16 },
    /// The message does not exist in this version.
    #[error("{message} has no version {version}")]
    UnsupportedVersion { message: &'static str, version: i16 },
}

/// The result of a nom parser over a slice of the input.
pub type PResult<'a, T> = nom::IResult<&'a [u8], T, DecodeError>;

/// Fails a parser with `err` without letting any combinator backtrack.
pub fn fail<'a, T>(err: DecodeError) -> PResult<'a, T> {
    Err(nom::Err::Failure(err))
}
