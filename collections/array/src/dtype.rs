//! Element types: what an array may hold, and what arithmetic each allows.

use std::fmt::Debug;
use std::iter::Sum;
use std::ops::{Add, Div, Mul, Rem, Sub};

use barrow_core::tokenize::Tokenize;

/// A type an array can hold: `f64`, `f32`, `i64`, `i32`, `i16`, `i8`,
/// `u64`, `u32`, `u16`, `u8`, `usize` (indices, as from `argmin`) and
/// `bool`.
pub trait Element:
    Copy + Send + Sync + PartialEq + PartialOrd + Debug + Default + Tokenize + 'static
{
    /// NumPy's name for the type (`float64`, `int32`, `bool`).
    const DTYPE: &'static str;

    /// Bytes per element.
    const ITEMSIZE: usize = std::mem::size_of::<Self>();

    /// The value as an `f64` (`true` is 1).
    fn to_f64(self) -> f64;

    /// The type's code in encoded blocks and in the parameters of tasks
    /// that run in other processes.
    const CODE: DType;

    /// The value tagged with its type, for task parameters.
    fn to_scalar(self) -> Scalar;

    /// The value of a scalar of this type (`None` for another type).
    fn from_scalar(scalar: &Scalar) -> Option<Self>;

    /// Appends `values` as little-endian bytes ([`DType::wire_size`] each;
    /// `usize` as 8 bytes, `bool` as one byte 0 or 1).
    fn put_le(values: &[Self], out: &mut Vec<u8>);

    /// The values [`Element::put_le`] wrote, or `None` when `bytes` are not
    /// a whole number of elements or hold an invalid one.
    fn get_le(bytes: &[u8]) -> Option<Vec<Self>>;

    /// The bytes [`Element::put_le`] would write, borrowed, when they are
    /// the values' memory as it is (numbers on a little-endian machine), so
    /// that a large block is sent without a copy; `None` otherwise.
    fn as_le_bytes(values: &[Self]) -> Option<&[u8]> {
        let _ = values;
        None
    }

    /// The values' memory as little-endian bytes to write into, when it is
    /// their encoding as it is (see [`Element::as_le_bytes`]), so that a
    /// file is read straight into them; `None` otherwise.
    fn as_le_bytes_mut(values: &mut [Self]) -> Option<&mut [u8]> {
        let _ = values;
        None
    }
}

/// The element types, as codes on the wire (the numbering of
/// `barrow-wire`'s raw buffers, plus `usize` and `bool`). The numbering is
/// part of the format: never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[repr(u8)]
pub enum DType {
    /// `i8`.
    I8 = 1,
    /// `i16`.
    I16 = 2,
    /// `i32`.
    I32 = 3,
    /// `i64`.
    I64 = 4,
    /// `u8`.
    U8 = 5,
    /// `u16`.
    U16 = 6,
    /// `u32`.
    U32 = 7,
    /// `u64`.
    U64 = 8,
    /// `f32`.
    F32 = 9,
    /// `f64`.
    F64 = 10,
    /// `usize` (written as 64 bits).
    Usize = 11,
    /// `bool` (one byte).
    Bool = 12,
}

impl DType {
    /// Every code, in order.
    pub const ALL: [DType; 12] = [
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::F32,
        DType::F64,
        DType::Usize,
        DType::Bool,
    ];

    /// The code's byte.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The type of a code byte.
    pub fn from_code(code: u8) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.code() == code)
    }

    /// The Rust name of the type (`f64`, `usize`, `bool`), used in codec
    /// tags.
    pub fn rust_name(self) -> &'static str {
        match self {
            DType::I8 => "i8",
            DType::I16 => "i16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::U8 => "u8",
            DType::U16 => "u16",
            DType::U32 => "u32",
            DType::U64 => "u64",
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::Usize => "usize",
            DType::Bool => "bool",
        }
    }

    /// Bytes per element on the wire.
    pub fn wire_size(self) -> usize {
        match self {
            DType::I8 | DType::U8 | DType::Bool => 1,
            DType::I16 | DType::U16 => 2,
            DType::I32 | DType::U32 | DType::F32 => 4,
            DType::I64 | DType::U64 | DType::F64 | DType::Usize => 8,
        }
    }
}

/// One value of any element type, tagged with its type: how scalars
/// (`x + 1.5`, `full(.., 7)`) travel in task parameters, bit for bit.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[allow(missing_docs)]
pub enum Scalar {
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    F32(f32),
    F64(f64),
    Usize(u64),
    Bool(bool),
}

/// Element types with arithmetic: every [`Element`] except `bool`.
pub trait Number:
    Element
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Rem<Output = Self>
    + Sum
    + num_traits::Zero
    + num_traits::One
    + num_traits::Bounded
{
    /// What a sum of these adds up in, as NumPy does: 64-bit integers for
    /// integers (so sums of `u8` do not wrap at 255), the type itself for
    /// floats.
    type Acc: Number;

    /// Converts into the accumulator type.
    fn to_acc(self) -> Self::Acc;

    /// The value from an `f64` (truncating toward zero for integers,
    /// saturating at the type's bounds).
    fn from_f64(value: f64) -> Self;

    /// The value from a `usize` (an index, a count).
    fn from_usize(value: usize) -> Self;
}

/// Floating-point element types: `f64` and `f32`.
pub trait Float: Number + num_traits::Float {}

macro_rules! elements {
    ($($t:ty => $name:literal, $code:ident),*) => {
        $(impl Element for $t {
            const DTYPE: &'static str = $name;
            const CODE: DType = DType::$code;
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn to_scalar(self) -> Scalar {
                Scalar::$code(self)
            }
            fn from_scalar(scalar: &Scalar) -> Option<$t> {
                match *scalar {
                    Scalar::$code(v) => Some(v),
                    _ => None,
                }
            }
            fn put_le(values: &[$t], out: &mut Vec<u8>) {
                #[cfg(target_endian = "little")]
                out.extend_from_slice(bytemuck::cast_slice(values));
                #[cfg(not(target_endian = "little"))]
                for v in values {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            fn as_le_bytes(values: &[$t]) -> Option<&[u8]> {
                cfg!(target_endian = "little").then(|| bytemuck::cast_slice(values))
            }
            fn as_le_bytes_mut(values: &mut [$t]) -> Option<&mut [u8]> {
                cfg!(target_endian = "little").then(|| bytemuck::cast_slice_mut(values))
            }
            fn get_le(bytes: &[u8]) -> Option<Vec<$t>> {
                const SIZE: usize = std::mem::size_of::<$t>();
                if !bytes.len().is_multiple_of(SIZE) {
                    return None;
                }
                #[cfg(target_endian = "little")]
                {
                    let mut values = vec![<$t>::default(); bytes.len() / SIZE];
                    bytemuck::cast_slice_mut::<$t, u8>(&mut values).copy_from_slice(bytes);
                    Some(values)
                }
                #[cfg(not(target_endian = "little"))]
                Some(
                    bytes
                        .chunks_exact(SIZE)
                        .map(|c| <$t>::from_le_bytes(c.try_into().unwrap_or_default()))
                        .collect(),
                )
            }
        })*
    };
}
elements!(f64 => "float64", F64, f32 => "float32", F32, i64 => "int64", I64,
    i32 => "int32", I32, i16 => "int16", I16, i8 => "int8", I8, u64 => "uint64", U64,
    u32 => "uint32", U32, u16 => "uint16", U16, u8 => "uint8", U8);

impl Element for usize {
    const DTYPE: &'static str = "uint64";
    const CODE: DType = DType::Usize;
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn to_scalar(self) -> Scalar {
        Scalar::Usize(self as u64)
    }
    fn from_scalar(scalar: &Scalar) -> Option<usize> {
        match *scalar {
            Scalar::Usize(v) => usize::try_from(v).ok(),
            _ => None,
        }
    }
    fn put_le(values: &[usize], out: &mut Vec<u8>) {
        out.reserve(values.len() * 8);
        for &v in values {
            out.extend_from_slice(&(v as u64).to_le_bytes());
        }
    }
    fn get_le(bytes: &[u8]) -> Option<Vec<usize>> {
        if !bytes.len().is_multiple_of(8) {
            return None;
        }
        bytes
            .chunks_exact(8)
            .map(|c| {
                let mut word = [0u8; 8];
                word.copy_from_slice(c);
                usize::try_from(u64::from_le_bytes(word)).ok()
            })
            .collect()
    }
}

impl Element for bool {
    const DTYPE: &'static str = "bool";
    const CODE: DType = DType::Bool;
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self))
    }
    fn to_scalar(self) -> Scalar {
        Scalar::Bool(self)
    }
    fn from_scalar(scalar: &Scalar) -> Option<bool> {
        match *scalar {
            Scalar::Bool(v) => Some(v),
            _ => None,
        }
    }
    fn put_le(values: &[bool], out: &mut Vec<u8>) {
        out.extend(values.iter().map(|&b| u8::from(b)));
    }
    fn get_le(bytes: &[u8]) -> Option<Vec<bool>> {
        bytes
            .iter()
            .map(|&b| match b {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            })
            .collect()
    }
}

macro_rules! numbers {
    ($($t:ty => $acc:ty),*) => {
        $(impl Number for $t {
            type Acc = $acc;
            fn to_acc(self) -> $acc {
                self as $acc
            }
            fn from_f64(value: f64) -> $t {
                value as $t
            }
            fn from_usize(value: usize) -> $t {
                value as $t
            }
        })*
    };
}
numbers!(f64 => f64, f32 => f32, i64 => i64, i32 => i64, i16 => i64, i8 => i64,
    u64 => u64, u32 => u64, u16 => u64, u8 => u64, usize => u64);

impl Float for f64 {}
impl Float for f32 {}

/// Conversion between element types, as NumPy's `astype` does: `as` casts
/// between numbers (truncating floats toward zero, saturating at the
/// bounds), nonzero numbers become `true`, `true` becomes 1.
pub trait CastTo<U: Element>: Element {
    /// The converted value.
    fn cast(self) -> U;
}

macro_rules! casts_from {
    ($from:ty => $($to:ty),*) => {
        $(impl CastTo<$to> for $from {
            fn cast(self) -> $to {
                self as $to
            }
        })*
        impl CastTo<bool> for $from {
            #[allow(clippy::float_cmp)]
            fn cast(self) -> bool {
                self != (0 as $from)
            }
        }
        impl CastTo<$from> for bool {
            fn cast(self) -> $from {
                u8::from(self) as $from
            }
        }
    };
}
macro_rules! casts {
    ($($from:ty),*) => {
        $(casts_from!($from => f64, f32, i64, i32, i16, i8, u64, u32, u16, u8);)*
    };
}
casts!(f64, f32, i64, i32, i16, i8, u64, u32, u16, u8);

impl CastTo<bool> for bool {
    fn cast(self) -> bool {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn casts_follow_numpy() {
        assert_eq!(CastTo::<i32>::cast(2.9f64), 2);
        assert_eq!(CastTo::<i32>::cast(-2.9f64), -2);
        assert_eq!(CastTo::<u8>::cast(300.0f64), 255);
        assert!(CastTo::<bool>::cast(0.5f32));
        assert!(!CastTo::<bool>::cast(0i64));
        assert_eq!(CastTo::<f64>::cast(true), 1.0);
        assert_eq!(200u8.to_acc() + 100u8.to_acc(), 300u64);
    }
}
