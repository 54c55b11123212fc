//! Rust operators on arrays: `+ - * / %` between arrays and with scalars,
//! unary `-`, and `& | ^ !` on boolean arrays.

use std::ops::{Add, BitAnd, BitOr, BitXor, Div, Mul, Neg, Not, Rem, Sub};

use crate::array::Array;
use crate::dtype::Number;
use crate::elementwise::{Operand, arith_op, logic_op};
use crate::ship::elementwise::{ArithOp, LogicOp, UnaryOp, signed_typed};

macro_rules! array_ops {
    ($trait:ident, $method:ident, $label:literal, $bound:path, $op:ident) => {
        impl<T: $bound> $trait<&Array<T>> for &Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: &Array<T>) -> Array<T> {
                arith_op(
                    Operand::Array(self.clone()),
                    Operand::Array(rhs.clone()),
                    $label,
                    ArithOp::$op,
                )
            }
        }
        impl<T: $bound> $trait<Array<T>> for Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: Array<T>) -> Array<T> {
                arith_op(
                    Operand::Array(self),
                    Operand::Array(rhs),
                    $label,
                    ArithOp::$op,
                )
            }
        }
        impl<T: $bound> $trait<&Array<T>> for Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: &Array<T>) -> Array<T> {
                arith_op(
                    Operand::Array(self),
                    Operand::Array(rhs.clone()),
                    $label,
                    ArithOp::$op,
                )
            }
        }
        impl<T: $bound> $trait<Array<T>> for &Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: Array<T>) -> Array<T> {
                arith_op(
                    Operand::Array(self.clone()),
                    Operand::Array(rhs),
                    $label,
                    ArithOp::$op,
                )
            }
        }
        impl<T: $bound> $trait<T> for &Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: T) -> Array<T> {
                arith_op(
                    Operand::Array(self.clone()),
                    Operand::Scalar(rhs),
                    $label,
                    ArithOp::$op,
                )
            }
        }
        impl<T: $bound> $trait<T> for Array<T> {
            type Output = Array<T>;
            fn $method(self, rhs: T) -> Array<T> {
                arith_op(
                    Operand::Array(self),
                    Operand::Scalar(rhs),
                    $label,
                    ArithOp::$op,
                )
            }
        }
    };
}

array_ops!(Add, add, "add", Number, Add);
array_ops!(Sub, sub, "sub", Number, Sub);
array_ops!(Mul, mul, "mul", Number, Mul);
array_ops!(Div, div, "div", Number, Div);
array_ops!(Rem, rem, "rem", Number, Rem);

/// `scalar op array` for each numeric element type (Rust's orphan rules
/// need one impl per scalar type).
macro_rules! scalar_lhs {
    ($($t:ty),*) => {$(
        scalar_lhs!(@op $t, Add, add, "add");
        scalar_lhs!(@op $t, Sub, sub, "sub");
        scalar_lhs!(@op $t, Mul, mul, "mul");
        scalar_lhs!(@op $t, Div, div, "div");
        scalar_lhs!(@op $t, Rem, rem, "rem");
    )*};
    (@op $t:ty, $trait:ident, $method:ident, $label:literal) => {
        impl $trait<&Array<$t>> for $t {
            type Output = Array<$t>;
            fn $method(self, rhs: &Array<$t>) -> Array<$t> {
                arith_op(Operand::Scalar(self), Operand::Array(rhs.clone()), $label, ArithOp::$trait)
            }
        }
        impl $trait<Array<$t>> for $t {
            type Output = Array<$t>;
            fn $method(self, rhs: Array<$t>) -> Array<$t> {
                arith_op(Operand::Scalar(self), Operand::Array(rhs), $label, ArithOp::$trait)
            }
        }
    };
}
scalar_lhs!(f64, f32, i64, i32, i16, i8, u64, u32, u16, u8);

impl<T: Number + Neg<Output = T>> Neg for &Array<T> {
    type Output = Array<T>;
    fn neg(self) -> Array<T> {
        self.unary_op("neg", "neg", UnaryOp::Neg, signed_typed::<T>)
    }
}

impl<T: Number + Neg<Output = T>> Neg for Array<T> {
    type Output = Array<T>;
    fn neg(self) -> Array<T> {
        -&self
    }
}

macro_rules! bool_ops {
    ($trait:ident, $method:ident, $label:literal, $op:ident) => {
        impl $trait<&Array<bool>> for &Array<bool> {
            type Output = Array<bool>;
            fn $method(self, rhs: &Array<bool>) -> Array<bool> {
                logic_op(
                    Operand::Array(self.clone()),
                    Operand::Array(rhs.clone()),
                    $label,
                    LogicOp::$op,
                )
            }
        }
        impl $trait<Array<bool>> for Array<bool> {
            type Output = Array<bool>;
            fn $method(self, rhs: Array<bool>) -> Array<bool> {
                logic_op(
                    Operand::Array(self),
                    Operand::Array(rhs),
                    $label,
                    LogicOp::$op,
                )
            }
        }
        impl $trait<bool> for &Array<bool> {
            type Output = Array<bool>;
            fn $method(self, rhs: bool) -> Array<bool> {
                logic_op(
                    Operand::Array(self.clone()),
                    Operand::Scalar(rhs),
                    $label,
                    LogicOp::$op,
                )
            }
        }
    };
}
bool_ops!(BitAnd, bitand, "and", And);
bool_ops!(BitOr, bitor, "or", Or);
bool_ops!(BitXor, bitxor, "xor", Xor);

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
