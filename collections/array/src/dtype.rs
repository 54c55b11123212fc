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
    ($($t:ty => $name:literal),*) => {
        $(impl Element for $t {
            const DTYPE: &'static str = $name;
            fn to_f64(self) -> f64 {
                self as f64
            }
        })*
    };
}
elements!(f64 => "float64", f32 => "float32", i64 => "int64", i32 => "int32",
    i16 => "int16", i8 => "int8", u64 => "uint64", u32 => "uint32", u16 => "uint16",
    u8 => "uint8", usize => "uint64");

impl Element for bool {
    const DTYPE: &'static str = "bool";
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self))
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
