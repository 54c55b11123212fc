//! The registered element-wise kernels: arithmetic, logic, unary math,
//! comparisons, `astype` and `where`, each rebuilt from a spec of its
//! operation, element types and scalars.

use std::marker::PhantomData;

use barrow_core::{Func, Result};
use serde::{Deserialize, Serialize};

#[cfg(feature = "ship")]
use super::{dispatch, factory};
use super::{scalar, signature};
use crate::dtype::{CastTo, DType, Element, Float, Number, Scalar};
use crate::kernel::{Binary, BinaryInPlace, Unary, UnaryInPlace, Where};

/// Where the scalar of a binary operation sits, if there is one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) enum Form {
    /// Two arrays broadcast together.
    Arrays,
    /// `scalar op array`.
    Left(Scalar),
    /// `array op scalar`.
    Right(Scalar),
}

/// A binary kernel of `T op T -> T`, in place: `|a, b| expr` on two
/// arrays, or with `a` or `b` bound to the form's scalar.
macro_rules! in_place {
    ($T:ty, $form:expr, $sig:expr, |$a:ident, $b:ident| $e:expr) => {
        match $form {
            Form::Arrays => Func::from_function(BinaryInPlace {
                sig: $sig,
                f: |$a: $T, $b: $T| $e,
                marker: PhantomData,
            }),
            Form::Right(s) => {
                let $b: $T = scalar(s)?;
                Func::from_function(UnaryInPlace {
                    sig: $sig,
                    f: move |$a: $T| $e,
                    marker: PhantomData,
                })
            }
            Form::Left(s) => {
                let $a: $T = scalar(s)?;
                Func::from_function(UnaryInPlace {
                    sig: $sig,
                    f: move |$b: $T| $e,
                    marker: PhantomData,
                })
            }
        }
    };
}

/// Arithmetic between numbers: `+ - * / %`, `maximum`, `minimum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Max,
    Min,
}

/// `barrow.array.arith`: `T op T -> T` on numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ArithSpec {
    pub dtype: DType,
    pub op: ArithOp,
    pub form: Form,
}

pub(crate) const ARITH: &str = "barrow.array.arith";

/// The kernel of an arithmetic spec on numbers of type `T` (the spec's
/// `dtype`).
pub(crate) fn arith_typed<T: Number>(spec: &ArithSpec) -> Result<Func> {
    let sig = signature(ARITH, spec)?;
    Ok(match spec.op {
        ArithOp::Add => in_place!(T, &spec.form, sig, |a, b| a + b),
        ArithOp::Sub => in_place!(T, &spec.form, sig, |a, b| a - b),
        ArithOp::Mul => in_place!(T, &spec.form, sig, |a, b| a * b),
        ArithOp::Div => in_place!(T, &spec.form, sig, |a, b| a / b),
        ArithOp::Rem => in_place!(T, &spec.form, sig, |a, b| a % b),
        ArithOp::Max => in_place!(T, &spec.form, sig, |a, b| if b > a { b } else { a }),
        ArithOp::Min => in_place!(T, &spec.form, sig, |a, b| if b < a { b } else { a }),
    })
}

/// The kernel of an arithmetic spec.
#[cfg(feature = "ship")]
fn arith(spec: &ArithSpec) -> Result<Func> {
    dispatch!(number ARITH, spec.dtype, |T| arith_typed::<T>(spec))
}
#[cfg(feature = "ship")]
factory!(ARITH, ArithSpec, arith);

/// Logic on booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum LogicOp {
    And,
    Or,
    Xor,
}

/// `barrow.array.logic`: `& | ^` on booleans.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LogicSpec {
    pub op: LogicOp,
    pub form: Form,
}

pub(crate) const LOGIC: &str = "barrow.array.logic";

/// The kernel of a logic spec.
pub(crate) fn logic(spec: &LogicSpec) -> Result<Func> {
    let sig = signature(LOGIC, spec)?;
    Ok(match spec.op {
        LogicOp::And => in_place!(bool, &spec.form, sig, |a, b| a & b),
        LogicOp::Or => in_place!(bool, &spec.form, sig, |a, b| a | b),
        LogicOp::Xor => in_place!(bool, &spec.form, sig, |a, b| a ^ b),
    })
}
#[cfg(feature = "ship")]
factory!(LOGIC, LogicSpec, logic);

/// Functions of one element.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) enum UnaryOp {
    /// `-x` (signed numbers).
    Neg,
    /// `|x|` (numbers).
    Abs,
    /// `x` limited to `[low, high]` (numbers).
    Clip(Scalar, Scalar),
    /// `!x` (booleans).
    Not,
    Sqrt,
    Exp,
    Ln,
    Log10,
    Log2,
    Sin,
    Cos,
    Tan,
    Tanh,
    Floor,
    Ceil,
    Round,
    Powf(Scalar),
    Powi(i32),
    /// `x` is NaN, giving booleans (floats).
    IsNan,
}

/// `barrow.array.unary`: one of [`UnaryOp`] on element type `dtype`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UnarySpec {
    pub dtype: DType,
    pub op: UnaryOp,
}

pub(crate) const UNARY: &str = "barrow.array.unary";

macro_rules! map_in_place {
    ($T:ty, $sig:expr, $f:expr) => {
        Func::from_function(UnaryInPlace {
            sig: $sig,
            f: $f,
            marker: PhantomData::<fn($T) -> $T>,
        })
    };
}

/// The kernel of a unary spec on floats of type `T` (the spec's `dtype`):
/// the float functions, and those of [`number_typed`].
pub(crate) fn float_typed<T: Float>(spec: &UnarySpec) -> Result<Func> {
    let sig = signature(UNARY, spec)?;
    Ok(match spec.op {
        UnaryOp::Sqrt => map_in_place!(T, sig, |x: T| x.sqrt()),
        UnaryOp::Exp => map_in_place!(T, sig, |x: T| x.exp()),
        UnaryOp::Ln => map_in_place!(T, sig, |x: T| x.ln()),
        UnaryOp::Log10 => map_in_place!(T, sig, |x: T| x.log10()),
        UnaryOp::Log2 => map_in_place!(T, sig, |x: T| x.log2()),
        UnaryOp::Sin => map_in_place!(T, sig, |x: T| x.sin()),
        UnaryOp::Cos => map_in_place!(T, sig, |x: T| x.cos()),
        UnaryOp::Tan => map_in_place!(T, sig, |x: T| x.tan()),
        UnaryOp::Tanh => map_in_place!(T, sig, |x: T| x.tanh()),
        UnaryOp::Floor => map_in_place!(T, sig, |x: T| x.floor()),
        UnaryOp::Ceil => map_in_place!(T, sig, |x: T| x.ceil()),
        UnaryOp::Round => map_in_place!(T, sig, |x: T| x.round()),
        UnaryOp::Powf(p) => {
            let p: T = scalar(&p)?;
            map_in_place!(T, sig, move |x: T| x.powf(p))
        }
        UnaryOp::Powi(p) => map_in_place!(T, sig, move |x: T| x.powi(p)),
        UnaryOp::IsNan => Func::from_function(Unary {
            sig,
            f: |x: T| x.is_nan(),
            marker: PhantomData,
        }),
        _ => return number_typed::<T>(spec),
    })
}

/// The kernel of a unary spec on numbers of type `T`: `abs` and `clip`.
pub(crate) fn number_typed<T: Number>(spec: &UnarySpec) -> Result<Func> {
    let sig = signature(UNARY, spec)?;
    Ok(match spec.op {
        UnaryOp::Abs => map_in_place!(T, sig, |x: T| if x < T::zero() { T::zero() - x } else { x }),
        UnaryOp::Clip(low, high) => {
            let (low, high): (T, T) = (scalar(&low)?, scalar(&high)?);
            map_in_place!(T, sig, move |x: T| if x < low {
                low
            } else if x > high {
                high
            } else {
                x
            })
        }
        _ => return Err(super::unsupported(UNARY, spec.dtype)),
    })
}

/// The kernel of `-x` on signed numbers of type `T`.
pub(crate) fn signed_typed<T: Number + std::ops::Neg<Output = T>>(
    spec: &UnarySpec,
) -> Result<Func> {
    let sig = signature(UNARY, spec)?;
    Ok(map_in_place!(T, sig, |x: T| -x))
}

/// The kernel of `!x` on booleans.
pub(crate) fn not_kernel(spec: &UnarySpec) -> Result<Func> {
    match spec.dtype {
        DType::Bool => Ok(map_in_place!(bool, signature(UNARY, spec)?, |a: bool| !a)),
        other => Err(super::unsupported(UNARY, other)),
    }
}

/// The kernel of a unary spec.
#[cfg(feature = "ship")]
fn unary(spec: &UnarySpec) -> Result<Func> {
    match spec.op {
        UnaryOp::Neg => dispatch!(signed UNARY, spec.dtype, |T| signed_typed::<T>(spec)),
        UnaryOp::Abs | UnaryOp::Clip(..) => {
            dispatch!(number UNARY, spec.dtype, |T| number_typed::<T>(spec))
        }
        UnaryOp::Not => not_kernel(spec),
        _ => dispatch!(float UNARY, spec.dtype, |T| float_typed::<T>(spec)),
    }
}
#[cfg(feature = "ship")]
factory!(UNARY, UnarySpec, unary);

/// Comparisons, giving booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// `barrow.array.compare`: `T cmp T -> bool`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CompareSpec {
    pub dtype: DType,
    pub op: CmpOp,
    pub form: Form,
}

pub(crate) const COMPARE: &str = "barrow.array.compare";

macro_rules! to_bool {
    ($T:ty, $form:expr, $sig:expr, |$a:ident, $b:ident| $e:expr) => {
        match $form {
            Form::Arrays => Func::from_function(Binary {
                sig: $sig,
                f: |$a: $T, $b: $T| $e,
                marker: PhantomData,
            }),
            Form::Right(s) => {
                let $b: $T = scalar(s)?;
                Func::from_function(Unary {
                    sig: $sig,
                    f: move |$a: $T| $e,
                    marker: PhantomData,
                })
            }
            Form::Left(s) => {
                let $a: $T = scalar(s)?;
                Func::from_function(Unary {
                    sig: $sig,
                    f: move |$b: $T| $e,
                    marker: PhantomData,
                })
            }
        }
    };
}

/// The kernel of a comparison spec on elements of type `T`.
pub(crate) fn compare_typed<T: Element>(spec: &CompareSpec) -> Result<Func> {
    let sig = signature(COMPARE, spec)?;
    Ok(match spec.op {
        CmpOp::Eq => to_bool!(T, &spec.form, sig, |a, b| a == b),
        CmpOp::Ne => to_bool!(T, &spec.form, sig, |a, b| a != b),
        CmpOp::Lt => to_bool!(T, &spec.form, sig, |a, b| a < b),
        CmpOp::Le => to_bool!(T, &spec.form, sig, |a, b| a <= b),
        CmpOp::Gt => to_bool!(T, &spec.form, sig, |a, b| a > b),
        CmpOp::Ge => to_bool!(T, &spec.form, sig, |a, b| a >= b),
    })
}

/// The kernel of a comparison spec.
#[cfg(feature = "ship")]
fn compare(spec: &CompareSpec) -> Result<Func> {
    dispatch!(element COMPARE, spec.dtype, |T| compare_typed::<T>(spec))
}
#[cfg(feature = "ship")]
factory!(COMPARE, CompareSpec, compare);

/// `barrow.array.astype`: converts elements from one type to another.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CastSpec {
    pub from: DType,
    pub to: DType,
}

pub(crate) const ASTYPE: &str = "barrow.array.astype";

/// The kernel of an `astype` spec from `T` to `U`.
pub(crate) fn cast_typed<T: Element + CastTo<U>, U: Element>(spec: &CastSpec) -> Result<Func> {
    Ok(Func::from_function(Unary {
        sig: signature(ASTYPE, spec)?,
        f: |x: T| -> U { x.cast() },
        marker: PhantomData,
    }))
}

#[cfg(feature = "ship")]
fn cast_from<T>(spec: &CastSpec) -> Result<Func>
where
    T: Element
        + CastTo<i8>
        + CastTo<i16>
        + CastTo<i32>
        + CastTo<i64>
        + CastTo<u8>
        + CastTo<u16>
        + CastTo<u32>
        + CastTo<u64>
        + CastTo<f32>
        + CastTo<f64>
        + CastTo<bool>,
{
    dispatch!(cast ASTYPE, spec.to, |U| cast_typed::<T, U>(spec))
}

/// The kernel of an `astype` spec.
#[cfg(feature = "ship")]
fn astype(spec: &CastSpec) -> Result<Func> {
    dispatch!(cast ASTYPE, spec.from, |T| cast_from::<T>(spec))
}
#[cfg(feature = "ship")]
factory!(ASTYPE, CastSpec, astype);

/// `barrow.array.where`: `cond ? a : b`.
pub(crate) const WHERE: &str = "barrow.array.where";

/// The kernel of `where` on elements of type `T`.
pub(crate) fn where_typed<T: Element>() -> Result<Func> {
    Ok(Func::from_function(Where::<T> {
        sig: signature(WHERE, &T::CODE)?,
        marker: PhantomData,
    }))
}

/// The kernel of `where` on element type `dtype`.
#[cfg(feature = "ship")]
fn where_kernel(dtype: &DType) -> Result<Func> {
    dispatch!(element WHERE, *dtype, |T| where_typed::<T>())
}
#[cfg(feature = "ship")]
factory!(WHERE, DType, where_kernel);
