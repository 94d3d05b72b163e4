//! The declarative message codec: the [`Codec`] trait every wire value
//! implements, the [`Message`] trait of top-level request/response bodies,
//! and the `message!` macro that writes both from a field list taken
//! straight from Kafka's JSON message specs
//! (`clients/src/main/resources/common/message/*.json`).
//!
//! # Declaring a new API message
//!
//! One module per API under `src/protocol/api/`, holding its request and its
//! response. Transcribe the JSON spec field by field:
//!
//! ```ignore
//! use crate::codec::message;
//!
//! message! {
//!     /// Metadata request (API key 3): which topics a client wants to know about.
//!     pub message MetadataRequest {
//!         api_key: Metadata, versions: 0..=9, flexible: 9..;
//!         /// Null (v1+) asks for every topic.
//!         topics: Option<Vec<MetadataRequestTopic>> [0..] nullable [1..],
//!         allow_auto_topic_creation: bool [4..] = true,
//!         include_cluster_authorized_operations: bool [8..=10],
//!     }
//!
//!     /// Nested structs (the element type of `[]Foo` arrays) take no header:
//!     /// they share the version and flexibility of the message around them.
//!     pub struct MetadataRequestTopic {
//!         name: String [0..],
//!     }
//! }
//! ```
//!
//! * `pub message Name { api_key: <ApiKey variant>, versions: LO..=HI,
//!   flexible: N.. | none; ... }` declares a top-level body; it implements
//!   [`Message`]. `flexible` is the spec's `flexibleVersions` (`"9+"` is
//!   `9..`, `"none"` is `none`). Flexible versions switch every string, bytes
//!   and array to its compact encoding and end every struct with a tagged
//!   field section; the macro does both.
//! * Each field is `name: RustType [versions]` with optional suffixes, in
//!   this order: `nullable [versions]` (the spec's `nullableVersions`; an
//!   `Option` field without it is nullable in all its versions), `tag N` (a
//!   tagged field, `"tag": N`; written only when it differs from its
//!   default), `= default` (the spec's `"default"`; a field absent from a
//!   version decodes to it).
//! * Version ranges are Rust ranges of `i16`: `"3+"` is `3..`, `"8-10"` is
//!   `8..=10`.
//! * Spec types map to Rust types: `int8/16/32/64` to `i8/i16/i32/i64`,
//!   `uint16` to `u16`, `float64` to `f64`, `bool`, `uuid` to
//!   `primitives::Uuid`, `string` to `String` (nullable:
//!   `Option<String>`), `bytes` to `Bytes` (nullable: `Option<Bytes>`),
//!   `records` to `Option<Bytes>` (kept zero-copy, opaque here), `[]T` to
//!   `Vec<T>` (nullable: `Option<Vec<T>>`), and `[]Struct` to `Vec<Struct>`
//!   with `Struct` declared in the same `message!` block.
//!
//! Adding a version is then one line: widen `versions:`, and give any new
//! field its `[N..]` range. Pair a request with its response with
//! `impl Request for FooRequest { type Response = FooResponse; }`, add the
//! module to `api/mod.rs`, add the API to the server's dispatch table
//! (`gregor_server::dispatch`), and extend the round-trip and differential
//! tests.

use std::ops::{RangeBounds, RangeInclusive};

use bytes::{Bytes, BytesMut};

use super::api_key::ApiKey;
use super::error::{fail, DecodeError, EncodeError, PResult};
use super::primitives::{self as p};
use crate::Uuid;

/// What a decoder needs to know besides the bytes: the message version,
/// whether that version is flexible, and the frame the input slices, so byte
/// fields can share its memory.
#[derive(Debug, Clone, Copy)]
pub struct DecodeCx<'s> {
    pub version: i16,
    pub flexible: bool,
    pub source: &'s Bytes,
}

/// What an encoder needs to know: the version and whether it is flexible.
#[derive(Debug, Clone, Copy)]
pub struct EncodeCx {
    pub version: i16,
    pub flexible: bool,
}

/// A value with a Kafka wire form that may depend on the version.
pub trait Codec: Sized {
    /// Parses one value from the front of `input`.
    fn read<'a>(input: &'a [u8], cx: &DecodeCx<'_>) -> PResult<'a, Self>;
    /// Appends the value to `buf`.
    fn write(&self, buf: &mut BytesMut, cx: &EncodeCx) -> Result<(), EncodeError>;
    /// True for a null (`None`) value of a nullable type.
    fn is_null(&self) -> bool {
        false
    }
}

/// A top-level request or response body.
pub trait Message: Codec {
    /// The type's name, for errors.
    const NAME: &'static str;
    /// The API this body belongs to.
    const API_KEY: ApiKey;
    /// The versions this codec implements.
    const VERSIONS: RangeInclusive<i16>;
    /// The first flexible version, if any (the spec's `flexibleVersions`).
    const FLEXIBLE_SINCE: Option<i16>;

    /// Whether `version` uses compact encodings and tagged fields.
    fn is_flexible(version: i16) -> bool {
        matches!(Self::FLEXIBLE_SINCE, Some(first) if version >= first)
    }

    /// Decodes a whole body. `buf` must hold exactly one message: leftover
    /// bytes are an error. Byte fields share `buf`'s memory.
    fn decode(buf: &Bytes, version: i16) -> Result<Self, DecodeError> {
        match Self::decode_prefix(buf, version)? {
            (value, 0) => Ok(value),
            (_, leftover) => Err(DecodeError::TrailingBytes(leftover)),
        }
    }

    /// Decodes the message at the start of `buf` and says how many bytes
    /// followed it. Request bodies are read this way: Kafka's broker ignores
    /// bytes after a request body, and some clients send them (librdkafka
    /// 2.16's Metadata v9 ends with one spare byte).
    fn decode_prefix(buf: &Bytes, version: i16) -> Result<(Self, usize), DecodeError> {
        if !Self::VERSIONS.contains(&version) {
            return Err(DecodeError::UnsupportedVersion {
                message: Self::NAME,
                version,
            });
        }
        let cx = DecodeCx {
            version,
            flexible: Self::is_flexible(version),
            source: buf,
        };
        let (rest, value) = Self::read(buf, &cx)?;
        Ok((value, rest.len()))
    }

    /// Appends the body in `version` to `buf`. Fields the version does not
    /// have are left out.
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        if !Self::VERSIONS.contains(&version) {
            return Err(EncodeError::UnsupportedVersion {
                message: Self::NAME,
                version,
            });
        }
        let cx = EncodeCx {
            version,
            flexible: Self::is_flexible(version),
        };
        self.write(buf, &cx)
    }
}

/// A request body and the body that answers it.
pub trait Request: Message {
    type Response: Message;
}

/// Whether `version` is in a field's version range (used by `message!`).
pub fn in_versions(range: impl RangeBounds<i16>, version: i16) -> bool {
    range.contains(&version)
}

/// Refuses a null decoded in a version where the field is not nullable.
pub fn check_null_read<T: Codec>(
    value: &T,
    nullable: bool,
    field: &'static str,
    version: i16,
) -> Result<(), nom::Err<DecodeError>> {
    if value.is_null() && !nullable {
        return Err(nom::Err::Failure(DecodeError::UnexpectedNull {
            field,
            version,
        }));
    }
    Ok(())
}

/// Refuses to encode a null in a version where the field is not nullable.
pub fn check_null_write<T: Codec>(
    value: &T,
    nullable: bool,
    field: &'static str,
    version: i16,
) -> Result<(), EncodeError> {
    if value.is_null() && !nullable {
        return Err(EncodeError::NullNotAllowed { field, version });
    }
    Ok(())
}

/// Fixed-width values: same bytes in every version.
macro_rules! fixed_width {
    ($($ty:ty => $read:path, $put:ident;)*) => {$(
        impl Codec for $ty {
            fn read<'a>(input: &'a [u8], _cx: &DecodeCx<'_>) -> PResult<'a, Self> {
                $read(input)
            }
            fn write(&self, buf: &mut BytesMut, _cx: &EncodeCx) -> Result<(), EncodeError> {
                bytes::BufMut::$put(buf, *self);
                Ok(())
            }
        }
    )*};
}

fixed_width! {
    i8 => p::int8, put_i8;
    i16 => p::int16, put_i16;
    i32 => p::int32, put_i32;
    i64 => p::int64, put_i64;
    u16 => p::uint16, put_u16;
    u32 => p::uint32, put_u32;
    f64 => p::float64, put_f64;
}

impl Codec for bool {
    fn read<'a>(input: &'a [u8], _cx: &DecodeCx<'_>) -> PResult<'a, Self> {
        p::boolean(input)
    }
    fn write(&self, buf: &mut BytesMut, _cx: &EncodeCx) -> Result<(), EncodeError> {
        bytes::BufMut::put_u8(buf, u8::from(*self));
        Ok(())
    }
}

impl Codec for Uuid {
    fn read<'a>(input: &'a [u8], _cx: &DecodeCx<'_>) -> PResult<'a, Self> {
        p::uuid(input)
    }
    fn write(&self, buf: &mut BytesMut, _cx: &EncodeCx) -> Result<(), EncodeError> {
        p::put_uuid(buf, self);
        Ok(())
    }
}

/// The non-nullable form of a nullable type: the same bytes, with null
/// refused.
fn non_null<T>(read: PResult<'_, Option<T>>) -> PResult<'_, T> {
    match read? {
        (rest, Some(v)) => Ok((rest, v)),
        (_, None) => fail(DecodeError::InvalidLength(-1)),
    }
}

/// An array's count (`None` for null), then its elements.
fn write_array<T: Codec>(
    buf: &mut BytesMut,
    items: Option<&[T]>,
    cx: &EncodeCx,
) -> Result<(), EncodeError> {
    p::put_array_len(buf, items.map(<[T]>::len), cx.flexible)?;
    for item in items.into_iter().flatten() {
        item.write(buf, cx)?;
    }
    Ok(())
}

impl Codec for Option<String> {
    fn read<'a>(input: &'a [u8], cx: &DecodeCx<'_>) -> PResult<'a, Self> {
        p::nullable_string(input, cx.flexible)
    }
    fn write(&self, buf: &mut BytesMut, cx: &EncodeCx) -> Result<(), EncodeError> {
        p::put_nullable_string(buf, self.as_deref(), cx.flexible)
    }
    fn is_null(&self) -> bool {
        self.is_none()
    }
}

impl Codec for String {
    fn read<'a>(input: &'a [u8], cx: &DecodeCx<'_>) -> PResult<'a, Self> {
        non_null(Option::<String>::read(input, cx))
    }
    fn write(&self, buf: &mut BytesMut, cx: &EncodeCx) -> Result<(), EncodeError> {
        p::put_nullable_string(buf, Some(self), cx.flexible)
    }
}

impl Codec for Option<Bytes> {
    fn read<'a>(input: &'a [u8], cx: &DecodeCx<'_>) -> PResult<'a, Self> {
        p::nullable_bytes(input, cx.flexible, cx.source)
    }
    fn write(&self, buf: &mut BytesMut, cx: &EncodeCx) -> Result<(), EncodeError> {
        p::put_nullable_bytes(buf, self.as_deref(), cx.flexible)
    }
    fn is_null(&self) -> bool {
        self.is_none()
    }
}

impl Codec for Bytes {
    fn read<'a>(input: &'a [u8], cx: &DecodeCx<'_>) -> PResult<'a, Self> {
        non_null(Option::<Bytes>::read(input, cx))
    }
    fn write(&self, buf: &mut BytesMut, cx: &EncodeCx) -> Result<(), EncodeError> {
        p::put_nullable_bytes(buf, Some(self), cx.flexible)
    }
}

impl<T: Codec> Codec for Option<Vec<T>> {
    fn read<'a>(input: &'a [u8], cx: &DecodeCx<'_>) -> PResult<'a, Self> {
        let (mut rest, len) = p::array_len(input, cx.flexible)?;
        let Some(len) = len else {
            return Ok((rest, None));
        };
        let mut out = Vec::with_capacity(p::prealloc_len::<T>(len));
        for _ in 0..len {
            let (r, item) = T::read(rest, cx)?;
            if r.len() == rest.len() {
                // An element of no bytes would let a count loop unbounded
                // by the input.
                return fail(DecodeError::InvalidLength(len as i64));
            }
            out.push(item);
            rest = r;
        }
        Ok((rest, Some(out)))
    }
    fn write(&self, buf: &mut BytesMut, cx: &EncodeCx) -> Result<(), EncodeError> {
        write_array(buf, self.as_deref(), cx)
    }
    fn is_null(&self) -> bool {
        self.is_none()
    }
}

impl<T: Codec> Codec for Vec<T> {
    fn read<'a>(input: &'a [u8], cx: &DecodeCx<'_>) -> PResult<'a, Self> {
        non_null(Option::<Vec<T>>::read(input, cx))
    }
    fn write(&self, buf: &mut BytesMut, cx: &EncodeCx) -> Result<(), EncodeError> {
        write_array(buf, Some(self), cx)
    }
}

/// Declares Kafka message structs and their codecs; see the module docs.
#[macro_export]
macro_rules! message {
    () => {};
    (
        $(#[$meta:meta])*
        pub message $name:ident {
            api_key: $key:ident, versions: $lo:literal ..= $hi:literal, flexible: $flex:literal .. ;
            $($body:tt)*
        }
        $($rest:tt)*
    ) => {
        $crate::message!(
            @message [$(#[$meta])*] $name $key $lo $hi [Some($flex)] $($body)*
        );
        $crate::message!($($rest)*);
    };
    (
        $(#[$meta:meta])*
        pub message $name:ident {
            api_key: $key:ident, versions: $lo:literal ..= $hi:literal, flexible: none ;
            $($body:tt)*
        }
        $($rest:tt)*
    ) => {
        $crate::message!(
            @message [$(#[$meta])*] $name $key $lo $hi [None] $($body)*
        );
        $crate::message!($($rest)*);
    };
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($body:tt)* }
        $($rest:tt)*
    ) => {
        $crate::message!(@struct [$(#[$meta])*] $name $($body)*);
        $crate::message!($($rest)*);
    };

    (@message [$(#[$meta:meta])*] $name:ident $key:ident $lo:literal $hi:literal [$flex:expr]
        $($body:tt)*
    ) => {
        $crate::message!(@struct [$(#[$meta])*] $name $($body)*);

        impl $crate::codec::Message for $name {
            const NAME: &'static str = stringify!($name);
            const API_KEY: $crate::ApiKey = $crate::ApiKey::$key;
            const VERSIONS: ::core::ops::RangeInclusive<i16> = $lo..=$hi;
            const FLEXIBLE_SINCE: Option<i16> = $flex;
        }
    };

    (@struct [$(#[$meta:meta])*] $name:ident
        $(
            $(#[$fmeta:meta])*
            $field:ident : $ty:ty [$ver:expr]
            $(nullable [$nul:expr])?
            $(tag $tag:literal)?
            $(= $default:expr)?
        ),* $(,)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $( $field: $crate::message!(@default $($default)?), )* }
            }
        }

        impl $crate::codec::Codec for $name {
            fn read<'a>(
                input: &'a [u8],
                cx: &$crate::codec::DecodeCx<'_>,
            ) -> $crate::PResult<'a, Self> {
                #[allow(unused_mut)]
                let mut value = Self::default();
                #[allow(unused_mut)]
                let mut input = input;
                $(
                    $crate::message!(
                        @read input cx value $field $ty [$ver] [$($nul)?] [$($tag)?]
                    );
                )*
                if cx.flexible {
                    let (rest, ()) = $crate::primitives::tagged_fields(
                        input,
                        |tag, data| {
                            let _ = (tag, data);
                            $(
                                $crate::message!(
                                    @read_tagged tag data cx value $field $ty [$ver] [$($nul)?] [$($tag)?]
                                );
                            )*
                            Ok(())
                        },
                    )?;
                    input = rest;
                }
                Ok((input, value))
            }

            fn write(
                &self,
                buf: &mut ::bytes::BytesMut,
                cx: &$crate::codec::EncodeCx,
            ) -> Result<(), $crate::EncodeError> {
                let this = self;
                $(
                    $crate::message!(
                        @write this buf cx $field $ty [$ver] [$($nul)?] [$($tag)?]
                    );
                )*
                if cx.flexible {
                    #[allow(unused_mut)]
                    let mut tagged: Vec<(u32, ::bytes::BytesMut)> = Vec::new();
                    $(
                        $crate::message!(
                            @write_tagged this tagged cx $field $ty [$ver] [$($tag)?] [$($default)?]
                        );
                    )*
                    $crate::primitives::put_tagged_fields(buf, &mut tagged);
                }
                Ok(())
            }
        }

        $crate::__random_message!($name $( $field $ty [$ver] [$($nul)?] )*);
    };

    (@default) => { ::core::default::Default::default() };
    (@default $default:expr) => { $default };

    (@nullable [] $version:expr) => { true };
    (@nullable [$nul:expr] $version:expr) => {
        $crate::codec::in_versions($nul, $version)
    };

    // Tagged fields are read from the tagged section, not in order.
    (@read $input:ident $cx:ident $value:ident $field:ident $ty:ty [$ver:expr] [$($nul:expr)?] [$tag:literal]) => {};
    (@read $input:ident $cx:ident $value:ident $field:ident $ty:ty [$ver:expr] [$($nul:expr)?] []) => {
        if $crate::codec::in_versions($ver, $cx.version) {
            let (rest, v) = <$ty as $crate::codec::Codec>::read($input, $cx)?;
            $crate::codec::check_null_read(
                &v,
                $crate::message!(@nullable [$($nul)?] $cx.version),
                stringify!($field),
                $cx.version,
            )?;
            $input = rest;
            $value.$field = v;
        }
    };

    (@read_tagged $tag_v:ident $data:ident $cx:ident $value:ident $field:ident $ty:ty [$ver:expr] [$($nul:expr)?] []) => {};
    (@read_tagged $tag_v:ident $data:ident $cx:ident $value:ident $field:ident $ty:ty [$ver:expr] [$($nul:expr)?] [$tag:literal]) => {
        if $tag_v == $tag && $crate::codec::in_versions($ver, $cx.version) {
            let (_, v) = <$ty as $crate::codec::Codec>::read($data, $cx)?;
            $crate::codec::check_null_read(
                &v,
                $crate::message!(@nullable [$($nul)?] $cx.version),
                stringify!($field),
                $cx.version,
            )?;
            $value.$field = v;
            return Ok(());
        }
    };

    (@write $this:ident $buf:ident $cx:ident $field:ident $ty:ty [$ver:expr] [$($nul:expr)?] [$tag:literal]) => {};
    (@write $this:ident $buf:ident $cx:ident $field:ident $ty:ty [$ver:expr] [$($nul:expr)?] []) => {
        if $crate::codec::in_versions($ver, $cx.version) {
            $crate::codec::check_null_write(
                &$this.$field,
                $crate::message!(@nullable [$($nul)?] $cx.version),
                stringify!($field),
                $cx.version,
            )?;
            $crate::codec::Codec::write(&$this.$field, $buf, $cx)?;
        }
    };

    (@write_tagged $this:ident $tagged:ident $cx:ident $field:ident $ty:ty [$ver:expr] [] [$($default:expr)?]) => {};
    (@write_tagged $this:ident $tagged:ident $cx:ident $field:ident $ty:ty [$ver:expr] [$tag:literal] [$($default:expr)?]) => {
        if $crate::codec::in_versions($ver, $cx.version) {
            let default: $ty = $crate::message!(@default $($default)?);
            if $this.$field != default {
                let mut data = ::bytes::BytesMut::new();
                $crate::codec::Codec::write(&$this.$field, &mut data, $cx)?;
                $tagged.push(($tag, data));
            }
        }
    };
}

pub use crate::message;

/// The test-only half of [`message!`]: random values of a declared message
/// for the property tests. It is defined as a no-op outside gregor-protocol's
/// own tests, so messages declared by other crates carry no test code.
#[cfg(test)]
#[doc(hidden)]
#[macro_export]
macro_rules! __random_message {
    ($name:ident $( $field:ident $ty:ty [$ver:expr] [$($nul:expr)?] )*) => {
        impl $crate::testing::Random for $name {
            fn random(g: &mut $crate::testing::Gen, version: i16, _nullable: bool) -> Self {
                #[allow(unused_mut)]
                let mut value = Self::default();
                $(
                    if $crate::codec::in_versions($ver, version) {
                        value.$field = <$ty as $crate::testing::Random>::random(
                            g,
                            version,
                            $crate::message!(@nullable [$($nul)?] version),
                        );
                    }
                )*
                value
            }
        }
    };
}

/// See the test build's definition: outside gregor-protocol's tests a
/// declared message gets no random-value impl.
#[cfg(not(test))]
#[doc(hidden)]
#[macro_export]
macro_rules! __random_message {
    ($($anything:tt)*) => {};
}

/// Writes `value` as Kafka's version-prefixed, never flexible blobs are
/// written (the `__consumer_offsets` keys and values, the consumer
/// protocol's subscriptions and assignments): a big-endian int16 version,
/// then the struct in that version.
pub fn write_versioned<T: Codec>(value: &T, version: i16) -> Result<Bytes, EncodeError> {
    let mut buf = BytesMut::new();
    bytes::BufMut::put_i16(&mut buf, version);
    value.write(
        &mut buf,
        &EncodeCx {
            version,
            flexible: false,
        },
    )?;
    Ok(buf.freeze())
}
