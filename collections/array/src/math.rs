//! Named element-wise math: float functions, `abs`, `clip`, `maximum`,
//! `minimum` and boolean logic, each a registered kernel.

use crate::array::Array;
use crate::dtype::{Float, Number};
use crate::elementwise::{Operand, arith_op, logic_op, scalar_params};
use crate::ship::elementwise::{ArithOp, LogicOp, UnaryOp, float_typed, not_kernel, number_typed};

macro_rules! float_fns {
    ($($(#[$doc:meta])* $name:ident => $op:ident;)*) => {
        impl<T: Float> Array<T> {
            $($(#[$doc])*
            pub fn $name(&self) -> Array<T> {
                let label = stringify!($name);
                self.unary_op(label, label, UnaryOp::$op, float_typed::<T>)
            })*
        }
    };
}
float_fns! {
    /// Square root of every element.
    sqrt => Sqrt;
    /// `e` to the power of every element.
    exp => Exp;
    /// Natural logarithm of every element.
    ln => Ln;
    /// Base-10 logarithm.
    log10 => Log10;
    /// Base-2 logarithm.
    log2 => Log2;
    /// Sine.
    sin => Sin;
    /// Cosine.
    cos => Cos;
    /// Tangent.
    tan => Tan;
    /// Hyperbolic tangent.
    tanh => Tanh;
    /// Largest integer not above each element.
    floor => Floor;
    /// Smallest integer not below each element.
    ceil => Ceil;
    /// Nearest integer, halves away from zero.
    round => Round;
}

fn token(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

impl<T: Float> Array<T> {
    /// Every element to the power `p`.
    pub fn powf(&self, p: T) -> Array<T> {
        let token = token(scalar_params("powf", "r", &p));
        self.unary_op(
            "powf",
            &token,
            UnaryOp::Powf(p.to_scalar()),
            float_typed::<T>,
        )
    }

    /// Every element to the integer power `p`.
    pub fn powi(&self, p: i32) -> Array<T> {
        let token = token(scalar_params("powi", "r", &p));
        self.unary_op("powi", &token, UnaryOp::Powi(p), float_typed::<T>)
    }

    /// Whether each element is NaN.
    pub fn is_nan(&self) -> Array<bool> {
        self.unary_op("isnan", "isnan", UnaryOp::IsNan, float_typed::<T>)
    }
}

impl<T: Number> Array<T> {
    /// Absolute value of every element.
    pub fn abs(&self) -> Array<T> {
        self.unary_op("abs", "abs", UnaryOp::Abs, number_typed::<T>)
    }

    /// Every element limited to `[low, high]`.
    pub fn clip(&self, low: T, high: T) -> Array<T> {
        let token = token(scalar_params("clip", "r", &(low, high)));
        self.unary_op(
            "clip",
            &token,
            UnaryOp::Clip(low.to_scalar(), high.to_scalar()),
            number_typed::<T>,
        )
    }

    /// The larger of each pair of elements (NumPy's `maximum`).
    pub fn maximum(&self, other: impl Into<Operand<T>>) -> Array<T> {
        arith_op(self.into(), other.into(), "maximum", ArithOp::Max)
    }

    /// The smaller of each pair of elements (NumPy's `minimum`).
    pub fn minimum(&self, other: impl Into<Operand<T>>) -> Array<T> {
        arith_op(self.into(), other.into(), "minimum", ArithOp::Min)
    }
}

impl Array<bool> {
    /// Element-wise logical and.
    pub fn logical_and(&self, other: impl Into<Operand<bool>>) -> Array<bool> {
        logic_op(self.into(), other.into(), "and", LogicOp::And)
    }
    /// Element-wise logical or.
    pub fn logical_or(&self, other: impl Into<Operand<bool>>) -> Array<bool> {
        logic_op(self.into(), other.into(), "or", LogicOp::Or)
    }
    /// Element-wise exclusive or.
    pub fn logical_xor(&self, other: impl Into<Operand<bool>>) -> Array<bool> {
        logic_op(self.into(), other.into(), "xor", LogicOp::Xor)
    }
    /// Element-wise not.
    pub fn logical_not(&self) -> Array<bool> {
        self.unary_op("not", "not", UnaryOp::Not, not_kernel)
    }
}
