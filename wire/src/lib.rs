//! Barrow's value formats: how a [`Value`] becomes bytes and back when it is
//! spilled to disk, sent to a worker process or to another machine.
//!
//! ```
//! use barrow_core::codec::CodecRegistry;
//! use barrow_core::Value;
//! use barrow_wire::{Compression, ErrorKind, WireOptions};
//!
//! let codecs = CodecRegistry::with_builtins();
//!
//! // Vectors of numbers travel as raw little-endian buffers (a memcpy)...
//! let numbers = Value::new(vec![0.5f64; 1000]);
//! let bytes = barrow_wire::encode(&numbers, &codecs)?;
//! assert_eq!(bytes.len(), 36 + "barrow.raw.vec.f64".len() + 9 + 8000);
//! let back = barrow_wire::decode(&bytes, &codecs)?;
//! assert_eq!(back.downcast_ref::<Vec<f64>>()?, &vec![0.5; 1000]);
//!
//! // ...other values through the registry's codecs (postcard for serde
//! // types), compressed above a threshold when asked.
//! let text = "a wheelbarrow of bricks ".repeat(1000);
//! let options = WireOptions::new().compression(Compression::Lz4).compress_above(1024);
//! let bytes = barrow_wire::encode_with(&Value::new(text.clone()), &codecs, &options)?;
//! assert!(bytes.len() < text.len() / 10);
//! assert_eq!(barrow_wire::decode(&bytes, &codecs)?.downcast_ref::<String>()?, &text);
//!
//! // Damage is an error saying what is wrong, never a panic.
//! let err = barrow_wire::decode(&bytes[..bytes.len() - 1], &codecs).unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::Truncated);
//! let mut flipped = bytes.clone();
//! flipped[40] ^= 1;
//! let err = barrow_wire::decode(&flipped, &codecs).unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::Corrupt);
//! assert!(err.to_string().contains("checksum"));
//! # Ok::<(), barrow_core::Error>(())
//! ```
//!
//! # Formats
//!
//! - **Frames** ([`frame`]): every encoded value is one self-describing
//!   frame: magic bytes, format version, compression, lengths and an xxh3
//!   checksum, then the codec's **tag** and its bytes. Tags are explicit
//!   strings chosen by a codec's author (`barrow.vec.f64`, `stats.histogram`),
//!   never a `TypeId` or a type name, so frames mean the same in every build,
//!   process and plugin.
//! - **Serde types**: [`SerdeCodec`] (from `barrow-core`, re-exported here)
//!   writes postcard's compact binary format; `barrow-core` registers it for
//!   scalars, strings and vectors of them.
//! - **Raw numeric buffers**: [`RawVecCodec`] writes `Vec<T>` of a primitive
//!   number as a small header (element type, count) and the raw bytes.
//!   [`encode`] prefers it over the registry's codec for those types (see
//!   [`WireOptions::raw_numeric`]); [`decode`] always understands it.
//! - **Split frames** ([`encode_frame`]): a frame whose payload ends with
//!   a buffer the value holds (a vector of numbers, a dense array block:
//!   [`Codec::encode_split`]) is written from that buffer, not copied into a
//!   new one first.
//! - **Shared memory** ([`shared`], Linux): between processes on one
//!   machine, a message's large frames go in a reusable sealed memory file
//!   sent with it, and buffers of values already sent are reused to
//!   receive the next ([`Recycler`]).
//! - **Compression** ([`Compression`]): lz4 (pure Rust) or zstd (feature
//!   `zstd`), for payloads above a threshold, kept only when it saves at
//!   least 1/16.
//!
//! # Errors
//!
//! This crate has its own [`Error`], whose [`ErrorKind`] says what is wrong
//! with a frame (truncated, not a frame, a newer version, corrupt, no codec,
//! …). It converts into [`barrow_core::Error`] with kind
//! [`barrow_core::ErrorKind::Codec`], keeping this error as the source, so
//! `?` works in code that returns core's `Result`.
//!
//! # Feature flags
//!
//! - `zstd`: zstd compression; builds the bundled libzstd with a C compiler.
//!   Without it, writing or reading a zstd frame is an
//!   [`ErrorKind::UnsupportedCompression`] error.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs, missing_debug_implementations)]

mod check;
mod copy;
mod error;
pub mod frame;
pub mod handshake;
pub mod message;
mod options;
mod raw;
mod recycle;
#[cfg(unix)]
pub mod shared;
pub mod task;

use std::ops::Deref;
use std::sync::Arc;

use barrow_core::Value;
pub use barrow_core::codec::SerdeCodec;
use barrow_core::codec::{Codec, CodecRegistry};

pub use check::{Depth, NotShippable, Problem, check_graph, check_serializable, check_tasks};
pub use error::{Error, ErrorKind, Result};
pub use frame::EncodedFrame;
pub use options::{Compression, WireOptions};
pub use raw::{Dtype, Element, RawVecCodec};
pub use recycle::{Recycler, decode_recycling};

/// Encodes `value` as one frame with the default [`WireOptions`]: no
/// compression, raw buffers for vectors of numbers.
///
/// Fails with [`ErrorKind::NoCodec`] when no codec encodes the value's type,
/// and [`ErrorKind::Codec`] when its codec fails.
pub fn encode(value: &Value, codecs: &CodecRegistry) -> Result<Vec<u8>> {
    encode_with(value, codecs, &WireOptions::default())
}

/// Encodes `value` as one frame, as `options` say.
pub fn encode_with(
    value: &Value,
    codecs: &CodecRegistry,
    options: &WireOptions,
) -> Result<Vec<u8>> {
    let codec = codec_for(value, codecs, options)?;
    encode_whole(value, &*codec, options)
}

/// Encodes `value` as one frame, as `options` say, leaving the value's own
/// buffer uncopied where its codec can ([`Codec::encode_split`]: vectors of
/// numbers) and the payload is not to be compressed. The frame borrows
/// from `value`; its bytes are those [`encode_with`] gives.
pub fn encode_frame<'v>(
    value: &'v Value,
    codecs: &CodecRegistry,
    options: &WireOptions,
) -> Result<EncodedFrame<'v>> {
    let codec = codec_for(value, codecs, options)?;
    let mut prefix = Vec::new();
    let split = codec
        .encode_split(value, &mut prefix)
        .map_err(|e| codec_error(&*codec, value, e))?;
    if let Some(tail) = split {
        let payload_len = prefix.len() + tail.len();
        let compress = options.compression_kind() != Compression::None
            && payload_len > options.compress_above_bytes();
        if !compress {
            return frame::write_split_frame(codec.tag(), &prefix, tail);
        }
    }
    encode_whole(value, &*codec, options).map(EncodedFrame::from)
}

fn encode_whole(value: &Value, codec: &dyn Codec, options: &WireOptions) -> Result<Vec<u8>> {
    let tag = codec.tag();
    frame::write_frame_with(tag, options, value.nbytes(), |out| {
        codec
            .encode(value, out)
            .map_err(|e| codec_error(codec, value, e))
    })
}

fn codec_error(codec: &dyn Codec, value: &Value, error: barrow_core::Error) -> Error {
    Error::new(
        ErrorKind::Codec,
        format!(
            "codec '{}' cannot encode a {}: {error}",
            codec.tag(),
            value.type_name()
        ),
    )
    .with_source(error)
}

/// Decodes the frame that `bytes` holds (exactly: no bytes before or after)
/// with the codec named by its tag: a [`RawVecCodec`], else the one
/// registered in `codecs`.
///
/// Fails with the [`ErrorKind`] of whatever is wrong: a damaged frame, an
/// unknown tag ([`ErrorKind::NoCodec`]), a codec that rejects its payload
/// ([`ErrorKind::Codec`]). Never panics, whatever the bytes.
pub fn decode(bytes: &[u8], codecs: &CodecRegistry) -> Result<Value> {
    decode_frame(&frame::read_frame(bytes)?, codecs)
}

/// Decodes a frame already read and checked.
pub(crate) fn decode_frame(frame: &frame::Frame<'_>, codecs: &CodecRegistry) -> Result<Value> {
    let tag = frame.tag();
    let codec = match raw::raw_codec_by_tag(tag) {
        Some(codec) => CodecRef::Static(codec),
        None => CodecRef::Shared(codecs.by_tag(tag).map_err(|e| {
            Error::new(ErrorKind::NoCodec, e.message().to_owned())
                .with_tag(tag)
                .with_source(e)
        })?),
    };
    codec
        .decode(frame.payload())
        .map_err(|e| payload_error(tag, frame.payload().len(), e))
}

/// A codec rejected its payload.
pub(crate) fn payload_error(tag: &str, len: usize, error: barrow_core::Error) -> Error {
    Error::new(
        ErrorKind::Codec,
        format!("codec '{tag}' cannot decode its {len}-byte payload: {error}"),
    )
    .with_tag(tag)
    .with_source(error)
}

/// Whether [`encode_with`] has a codec for `value`.
pub fn can_encode(value: &Value, codecs: &CodecRegistry, options: &WireOptions) -> bool {
    (options.raw_numeric_enabled() && raw::raw_codec_for(value).is_some())
        || codecs.can_encode(value)
}

/// The codec [`encode_with`] uses for `value`.
fn codec_for(value: &Value, codecs: &CodecRegistry, options: &WireOptions) -> Result<CodecRef> {
    if options.raw_numeric_enabled()
        && let Some(codec) = raw::raw_codec_for(value)
    {
        return Ok(CodecRef::Static(codec));
    }
    codecs
        .for_value(value)
        .map(CodecRef::Shared)
        .map_err(|e| Error::new(ErrorKind::NoCodec, e.message().to_owned()).with_source(e))
}

/// A built-in codec or one from a registry.
enum CodecRef {
    Static(&'static dyn Codec),
    Shared(Arc<dyn Codec>),
}

impl Deref for CodecRef {
    type Target = dyn Codec;

    fn deref(&self) -> &(dyn Codec + 'static) {
        match self {
            CodecRef::Static(codec) => *codec,
            CodecRef::Shared(codec) => &**codec,
        }
    }
}
