//! Vectors of primitive numbers as raw little-endian buffers.
//!
//! The payload is a 9-byte header, the element type's code and the element
//! count (u64, little-endian), then the elements' bytes: a memcpy on
//! little-endian machines (through `bytemuck`), never one call per element.

use std::any::TypeId;
use std::fmt;
use std::marker::PhantomData;

use barrow_core::codec::Codec;
use barrow_core::{ErrorKind, Value};

/// Bytes before the elements: the element type's code and the count.
const RAW_HEADER_LEN: usize = 9;

/// The element types of raw buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dtype {
    /// `i8`
    I8,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `f32`
    F32,
    /// `f64`
    F64,
}

impl Dtype {
    /// The code written in a payload. Part of the format: never reorder.
    pub fn code(self) -> u8 {
        match self {
            Dtype::I8 => 1,
            Dtype::I16 => 2,
            Dtype::I32 => 3,
            Dtype::I64 => 4,
            Dtype::U8 => 5,
            Dtype::U16 => 6,
            Dtype::U32 => 7,
            Dtype::U64 => 8,
            Dtype::F32 => 9,
            Dtype::F64 => 10,
        }
    }

    /// The element type of a code.
    pub fn from_code(code: u8) -> Option<Dtype> {
        Some(match code {
            1 => Dtype::I8,
            2 => Dtype::I16,
            3 => Dtype::I32,
            4 => Dtype::I64,
            5 => Dtype::U8,
            6 => Dtype::U16,
            7 => Dtype::U32,
            8 => Dtype::U64,
            9 => Dtype::F32,
            10 => Dtype::F64,
            _ => return None,
        })
    }

    /// The Rust name of the element type (`"f64"`).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::I8 => "i8",
            Dtype::I16 => "i16",
            Dtype::I32 => "i32",
            Dtype::I64 => "i64",
            Dtype::U8 => "u8",
            Dtype::U16 => "u16",
            Dtype::U32 => "u32",
            Dtype::U64 => "u64",
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A primitive number that travels as raw little-endian bytes. Sealed: the
/// set of element types is part of the format.
pub trait Element: bytemuck::Pod + Send + Sync + sealed::Sealed {
    /// Its element type.
    const DTYPE: Dtype;
    /// The tag of [`RawVecCodec`] for `Vec<Self>` (`"barrow.raw.vec.f64"`).
    const TAG: &'static str;
    /// Its little-endian form (the identity on little-endian machines).
    fn to_le(self) -> Self;
}

macro_rules! elements {
    ($($t:ident => $dtype:ident, $to_le:expr;)*) => {
        $(
            impl sealed::Sealed for $t {}
            impl Element for $t {
                const DTYPE: Dtype = Dtype::$dtype;
                const TAG: &'static str = concat!("barrow.raw.vec.", stringify!($t));
                fn to_le(self) -> Self {
                    let to_le: fn($t) -> $t = $to_le;
                    to_le(self)
                }
            }
        )*

        /// The raw codec for the type of `value`, if it is a `Vec` of an
        /// [`Element`].
        pub(crate) fn raw_codec_for(value: &Value) -> Option<&'static dyn Codec> {
            let type_id = value.type_id();
            $(
                if type_id == TypeId::of::<Vec<$t>>() {
                    static CODEC: RawVecCodec<$t> = RawVecCodec::new();
                    return Some(&CODEC);
                }
            )*
            None
        }

        /// The vector `value` holds, for reuse, when it is a `Vec` of an
        /// [`Element`] and this is its last handle.
        pub(crate) fn take_raw_vec(value: Value) -> Option<Kept> {
            let type_id = value.type_id();
            $(
                if type_id == TypeId::of::<Vec<$t>>() {
                    return value.try_take::<Vec<$t>>().ok().map(Kept::new);
                }
            )*
            None
        }

        /// Decodes the raw vector framed under `tag` into a buffer from
        /// `recycler` when it has one; `None` when `tag` is not a raw one.
        pub(crate) fn decode_raw_recycling(
            tag: &str,
            payload: &[u8],
            recycler: &Recycler,
        ) -> Option<barrow_core::Result<Value>> {
            $(
                if tag == <$t as Element>::TAG {
                    return Some(RawVecCodec::<$t>::decode_into(payload, |n| recycler.take::<$t>(n)));
                }
            )*
            None
        }

        /// The raw codec written under `tag`, if it is one.
        pub(crate) fn raw_codec_by_tag(tag: &str) -> Option<&'static dyn Codec> {
            $(
                if tag == <$t as Element>::TAG {
                    static CODEC: RawVecCodec<$t> = RawVecCodec::new();
                    return Some(&CODEC);
                }
            )*
            None
        }
    };
}

elements! {
    i8 => I8, i8::to_le;
    i16 => I16, i16::to_le;
    i32 => I32, i32::to_le;
    i64 => I64, i64::to_le;
    u8 => U8, u8::to_le;
    u16 => U16, u16::to_le;
    u32 => U32, u32::to_le;
    u64 => U64, u64::to_le;
    f32 => F32, |x| f32::from_bits(x.to_bits().to_le());
    f64 => F64, |x| f64::from_bits(x.to_bits().to_le());
}

/// A codec for `Vec<T>` of a primitive number `T`, as raw little-endian
/// bytes behind a small header (element type, count), tagged
/// `barrow.raw.vec.<T>`.
///
/// [`encode`](crate::encode) uses these for vectors of numbers in place of
/// the registry's (postcard) codecs unless
/// [`WireOptions::raw_numeric`](crate::WireOptions::raw_numeric) turns them
/// off, and [`decode`](crate::decode) always reads them. They can also be
/// registered in a [`CodecRegistry`](barrow_core::codec::CodecRegistry) of
/// your own.
///
/// ```
/// use barrow_core::codec::Codec;
/// use barrow_core::Value;
/// use barrow_wire::RawVecCodec;
///
/// let codec = RawVecCodec::<f64>::new();
/// assert_eq!(codec.tag(), "barrow.raw.vec.f64");
/// let mut bytes = Vec::new();
/// codec.encode(&Value::new(vec![1.5f64, -2.0]), &mut bytes)?;
/// assert_eq!(bytes.len(), 9 + 16);
/// let back = codec.decode(&bytes)?;
/// assert_eq!(back.downcast_ref::<Vec<f64>>()?, &[1.5, -2.0]);
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub struct RawVecCodec<T> {
    marker: PhantomData<fn() -> T>,
}

impl<T> RawVecCodec<T> {
    /// The codec.
    pub const fn new() -> RawVecCodec<T> {
        RawVecCodec {
            marker: PhantomData,
        }
    }
}

impl<T> Default for RawVecCodec<T> {
    fn default() -> RawVecCodec<T> {
        RawVecCodec::new()
    }
}

impl<T: Element> fmt::Debug for RawVecCodec<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawVecCodec({})", T::TAG)
    }
}

impl<T: Element> Codec for RawVecCodec<T> {
    fn tag(&self) -> &str {
        T::TAG
    }

    fn type_id(&self) -> TypeId {
        TypeId::of::<Vec<T>>()
    }

    fn encode(&self, value: &Value, out: &mut Vec<u8>) -> barrow_core::Result<()> {
        let data = value.downcast_ref::<Vec<T>>()?;
        let bytes = size_of_val(data.as_slice());
        out.try_reserve(RAW_HEADER_LEN.saturating_add(bytes))
            .map_err(|e| {
                barrow_core::Error::new(
                    ErrorKind::Codec,
                    format!("codec '{}' cannot allocate {bytes} bytes", T::TAG),
                )
                .with_source(e)
            })?;
        out.push(T::DTYPE.code());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        if cfg!(target_endian = "little") {
            out.extend_from_slice(bytemuck::cast_slice(data));
        } else {
            for &x in data {
                out.extend_from_slice(bytemuck::bytes_of(&x.to_le()));
            }
        }
        Ok(())
    }

    fn encode_split<'v>(
        &self,
        value: &'v Value,
        prefix: &mut Vec<u8>,
    ) -> barrow_core::Result<Option<&'v [u8]>> {
        if cfg!(target_endian = "big") {
            return Ok(None);
        }
        let data = value.downcast_ref::<Vec<T>>()?;
        prefix.push(T::DTYPE.code());
        prefix.extend_from_slice(&(data.len() as u64).to_le_bytes());
        Ok(Some(bytemuck::cast_slice(data)))
    }

    fn decode(&self, bytes: &[u8]) -> barrow_core::Result<Value> {
        RawVecCodec::<T>::decode_into(bytes, |_| None)
    }
}

impl<T: Element> RawVecCodec<T> {
    /// Decodes `bytes` into the buffer `buffer(count)` gives, if any, else
    /// into a new one.
    fn decode_into(
        bytes: &[u8],
        buffer: impl FnOnce(usize) -> Option<Vec<T>>,
    ) -> barrow_core::Result<Value> {
        let fail = |what: String| {
            barrow_core::Error::new(
                ErrorKind::Codec,
                format!(
                    "codec '{}' cannot decode {} bytes: {what}",
                    T::TAG,
                    bytes.len()
                ),
            )
        };
        let Some((header, body)) = bytes.split_at_checked(RAW_HEADER_LEN) else {
            return Err(fail(format!(
                "a raw buffer starts with a {RAW_HEADER_LEN}-byte header (truncated data?)"
            )));
        };
        if header[0] != T::DTYPE.code() {
            let found = Dtype::from_code(header[0]).map_or("an unknown type", Dtype::name);
            return Err(fail(format!(
                "it holds {found} (code {}), not {}",
                header[0],
                T::DTYPE
            )));
        }
        let mut count = [0; 8];
        count.copy_from_slice(&header[1..]);
        let count = u64::from_le_bytes(count);
        let expected = usize::try_from(count)
            .ok()
            .and_then(|n| n.checked_mul(size_of::<T>()));
        if expected != Some(body.len()) {
            return Err(fail(format!(
                "its header gives {count} elements of {} bytes, and {} bytes follow (corrupt or \
                 truncated data?)",
                size_of::<T>(),
                body.len()
            )));
        }
        let count = body.len() / size_of::<T>().max(1);
        let mut data: Vec<T> = match buffer(count) {
            // A kept buffer of the same size is overwritten, never zeroed.
            Some(mut data) => {
                data.resize(count, T::zeroed());
                data
            }
            // Fresh zeroed memory, whose pages the copy touches first.
            None => bytemuck::zeroed_vec(count),
        };
        crate::copy::copy(bytemuck::cast_slice_mut::<T, u8>(&mut data), body);
        if cfg!(target_endian = "big") {
            for x in &mut data {
                *x = x.to_le();
            }
        }
        Ok(Value::new(data))
    }
}

/// A buffer kept for reuse: a `Vec` of an [`Element`], type-erased.
#[derive(Debug)]
pub(crate) struct Kept {
    pub(crate) type_id: TypeId,
    pub(crate) bytes: usize,
    pub(crate) buffer: Box<dyn std::any::Any + Send>,
}

impl Kept {
    fn new<T: Element>(buffer: Vec<T>) -> Kept {
        Kept {
            type_id: TypeId::of::<Vec<T>>(),
            bytes: buffer.capacity() * size_of::<T>(),
            buffer: Box::new(buffer),
        }
    }
}

use crate::recycle::Recycler;
