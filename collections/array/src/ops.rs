//! Rust operators on arrays: `+ - * / %` between arrays and with scalars,
//! unary `-`, and `& | ^ !` on boolean arrays.

use std::ops::{Add, BitAnd, BitOr, BitXor, Div, Mul, Neg, Not, Rem, Sub};

use crate::array::Array;
use crate::dtype::Number;
use crate::elementwise::{Operand, binary_same};

macro_rules! array_ops {
    ($trait:ident, $method:ident, $label:literal, $bound:path, |$a:ident, $b:ident| $body:expr) => {
        impl<T: $bound> $trait<&Array<T>> for &Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: &Array<T>) -> Array<T> {
                binary_same(
                    Operand::Array(self.clone()),
                    Operand::Array(rhs.clone()),
                    $label,
                    |$a: T, $b: T| $body,
                )
            }
        }
        impl<T: $bound> $trait<Array<T>> for Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: Array<T>) -> Array<T> {
                binary_same(
                    Operand::Array(self),
                    Operand::Array(rhs),
                    $label,
                    |$a: T, $b: T| $body,
                )
            }
        }
        impl<T: $bound> $trait<&Array<T>> for Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: &Array<T>) -> Array<T> {
                binary_same(
                    Operand::Array(self),
                    Operand::Array(rhs.clone()),
                    $label,
                    |$a: T, $b: T| $body,
                )
            }
        }
        impl<T: $bound> $trait<Array<T>> for &Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: Array<T>) -> Array<T> {
                binary_same(
                    Operand::Array(self.clone()),
                    Operand::Array(rhs),
                    $label,
                    |$a: T, $b: T| $body,
                )
            }
        }
        impl<T: $bound> $trait<T> for &Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: T) -> Array<T> {
                binary_same(
                    Operand::Array(self.clone()),
                    Operand::Scalar(rhs),
                    $label,
                    |$a: T, $b: T| $body,
                )
            }
        }
        impl<T: $bound> $trait<T> for Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: T) -> Array<T> {
                binary_same(
                    Operand::Array(self),
                    Operand::Scalar(rhs),
                    $label,
                    |$a: T, $b: T| $body,
                )
            }
        }
    };
}

array_ops!(Add, add, "add", Number, |a, b| a + b);
array_ops!(Sub, sub, "sub", Number, |a, b| a - b);
array_ops!(Mul, mul, "mul", Number, |a, b| a * b);
array_ops!(Div, div, "div", Number, |a, b| a / b);
array_ops!(Rem, rem, "rem", Number, |a, b| a % b);

/// `scalar op array` for each numeric element type (Rust's orphan rules
/// need one impl per scalar type).
macro_rules! scalar_lhs {
    ($($t:ty),*) => {$(
        scalar_lhs!(@op $t, Add, add, "add", |a, b| a + b);
        scalar_lhs!(@op $t, Sub, sub, "sub", |a, b| a - b);
        scalar_lhs!(@op $t, Mul, mul, "mul", |a, b| a * b);
        scalar_lhs!(@op $t, Div, div, "div", |a, b| a / b);
        scalar_lhs!(@op $t, Rem, rem, "rem", |a, b| a % b);
    )*};
    (@op $t:ty, $trait:ident, $method:ident, $label:literal, |$a:ident, $b:ident| $body:expr) => {
        impl $trait<&Array<$t>> for $t {
            type Output = Array<$t>;
            fn $method(self, rhs: &Array<$t>) -> Array<$t> {
                binary_same(Operand::Scalar(self), Operand::Array(rhs.clone()), $label, |$a: $t, $b: $t| $body)
            }
        }
        impl $trait<Array<$t>> for $t {
            type Output = Array<$t>;
            fn $method(self, rhs: Array<$t>) -> Array<$t> {
                binary_same(Operand::Scalar(self), Operand::Array(rhs), $label, |$a: $t, $b: $t| $body)
            }
        }
    };
}
scalar_lhs!(f64, f32, i64, i32, i16, i8, u64, u32, u16, u8);

impl<T: Number + Neg<Output = T>> Neg for &Array<T> {
    type Output = Array<T>;
    fn neg(self) -> Array<T> {
        self.unary_in_place("neg", Some(b"neg".to_vec()), |x: T| -x)
    }
}

impl<T: Number + Neg<Output = T>> Neg for Array<T> {
    type Output = Array<T>;
    fn neg(self) -> Array<T> {
        -&self
    }
}

macro_rules! bool_ops {
    ($trait:ident, $method:ident, $label:literal, |$a:ident, $b:ident| $body:expr) => {
        impl $trait<&Array<bool>> for &Array<bool> {
            type Output = Array<bool>;
            fn $method(self, rhs: &Array<bool>) -> Array<bool> {
                binary_same(
                    Operand::Array(self.clone()),
                    Operand::Array(rhs.clone()),
                    $label,
                    |$a: bool, $b: bool| $body,
                )
            }
        }
        impl $trait<Array<bool>> for Array<bool> {
            type Output = Array<bool>;
            fn $method(self, rhs: Array<bool>) -> Array<bool> {
                binary_same(
                    Operand::Array(self),
                    Operand::Array(rhs),
                    $label,
                    |$a: bool, $b: bool| $body,
                )
            }
        }
        impl $trait<bool> for &Array<bool> {
            type Output = Array<bool>;
            fn $method(self, rhs: bool) -> Array<bool> {
                binary_same(
                    Operand::Array(self.clone()),
                    Operand::Scalar(rhs),
                    $label,
                    |$a: bool, $b: bool| $body,
                )
            }
        }
    };
}
bool_ops!(BitAnd, bitand, "and", |a, b| a & b);
bool_ops!(BitOr, bitor, "or", |a, b| a | b);
bool_ops!(BitXor, bitxor, "xor", |a, b| a ^ b);

impl Not for &Array<bool> {
    type Output = Array<bool>;
    fn not(self) -> Array<bool> {
        self.logical_not()
    }
}

impl Not for Array<bool> {
    type Output = Array<bool>;
    fn not(self) -> Array<bool> {
        self.logical_not()
    }
}
