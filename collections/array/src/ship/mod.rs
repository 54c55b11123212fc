//! Running arrays in worker processes.
//!
//! A task reaches another process as the name of a registered function and
//! its encoded parameters; a value as codec-tagged bytes. Every operation
//! listed in the README's "Running on processes" builds its task functions
//! through a *spec* (a small serde type naming the operation, the element
//! types and the scalars), and registers one [`StaticFactory`] per family
//! that rebuilds the function from the spec's bytes in any process. The
//! local path builds the very same function object from the same spec, so
//! it runs exactly as fast as before: the spec is decoded once per graph,
//! never per element or per block.
//!
//! [`StaticFactory`]: barrow_core::function::StaticFactory

pub(crate) mod codec;
pub(crate) mod elementwise;

#[cfg(feature = "ship")]
use barrow_core::function::decode_params;
use barrow_core::function::{Input, encode_params};
use barrow_core::{Func, Result, Value};
use serde::Serialize;
#[cfg(feature = "ship")]
use serde::de::DeserializeOwned;

use crate::dtype::{DType, Element, Scalar};
use crate::error::invalid;
use crate::kernel::Signature;

/// The error of a spec whose element type the operation does not take
/// (damaged or hand-made parameters).
pub(crate) fn unsupported(function: &str, dtype: DType) -> barrow_core::Error {
    invalid(format!(
        "function '{function}' has no kernel for element type {}",
        dtype.rust_name()
    ))
}

/// The value of a scalar parameter of element type `T`.
pub(crate) fn scalar<T: Element>(s: &Scalar) -> Result<T> {
    T::from_scalar(s).ok_or_else(|| {
        invalid(format!(
            "a scalar {s:?} given to a kernel of element type {}",
            T::CODE.rust_name()
        ))
    })
}

/// The signature of a registered kernel: the factory's name and the
/// encoded spec.
pub(crate) fn signature<S: Serialize>(name: &'static str, spec: &S) -> Result<Signature> {
    Ok(Signature {
        name: name.into(),
        params: Some(encode_params(name, spec)?),
    })
}

/// A factory's body: decodes the spec and builds the function.
#[cfg(feature = "ship")]
pub(crate) fn rebuild<S: DeserializeOwned>(
    name: &'static str,
    bytes: &[u8],
    build: fn(&S) -> Result<Func>,
) -> Result<Func> {
    build(&decode_params::<S>(name, bytes)?)
}

/// Registers a factory: `factory!("barrow.array.x", Spec, build)` where
/// `build: fn(&Spec) -> Result<Func>`.
#[cfg(feature = "ship")]
macro_rules! factory {
    ($name:expr, $spec:ty, $build:path) => {
        inventory::submit! {
            barrow_core::function::StaticFactory {
                name: $name,
                make: |bytes| $crate::ship::rebuild::<$spec>($name, bytes, $build),
            }
        }
    };
}
#[cfg(feature = "ship")]
pub(crate) use factory;

/// Runs `$body` with the type alias `$T` set to the Rust type of `$code`,
/// for the element types of a class (`element`, `number`, `signed`,
/// `float`, `cast`); another code is an error naming `$name`.
#[cfg(feature = "ship")]
macro_rules! dispatch {
    (@arms $name:expr, $code:expr, $T:ident, $body:expr, $($v:ident => $t:ty),*) => {
        match $code {
            $($crate::dtype::DType::$v => {
                #[allow(dead_code)]
                type $T = $t;
                $body
            })*
            #[allow(unreachable_patterns)]
            other => Err($crate::ship::unsupported($name, other)),
        }
    };
    (element $name:expr, $code:expr, |$T:ident| $body:expr) => {
        $crate::ship::dispatch!(@arms $name, $code, $T, $body,
            I8 => i8, I16 => i16, I32 => i32, I64 => i64, U8 => u8, U16 => u16, U32 => u32,
            U64 => u64, F32 => f32, F64 => f64, Usize => usize, Bool => bool)
    };
    (number $name:expr, $code:expr, |$T:ident| $body:expr) => {
        $crate::ship::dispatch!(@arms $name, $code, $T, $body,
            I8 => i8, I16 => i16, I32 => i32, I64 => i64, U8 => u8, U16 => u16, U32 => u32,
            U64 => u64, F32 => f32, F64 => f64, Usize => usize)
    };
    (signed $name:expr, $code:expr, |$T:ident| $body:expr) => {
        $crate::ship::dispatch!(@arms $name, $code, $T, $body,
            I8 => i8, I16 => i16, I32 => i32, I64 => i64, F32 => f32, F64 => f64)
    };
    (float $name:expr, $code:expr, |$T:ident| $body:expr) => {
        $crate::ship::dispatch!(@arms $name, $code, $T, $body, F32 => f32, F64 => f64)
    };
    (cast $name:expr, $code:expr, |$T:ident| $body:expr) => {
        $crate::ship::dispatch!(@arms $name, $code, $T, $body,
            I8 => i8, I16 => i16, I32 => i32, I64 => i64, U8 => u8, U16 => u16, U32 => u32,
            U64 => u64, F32 => f32, F64 => f64, Bool => bool)
    };
}
#[cfg(feature = "ship")]
pub(crate) use dispatch;

/// A registered task function from a closure over its inputs: the name of
/// its factory and its encoded spec.
struct Kernel<F> {
    name: &'static str,
    params: Vec<u8>,
    f: F,
}

impl<F> barrow_core::function::Function for Kernel<F>
where
    F: Fn(&[Input]) -> Result<Value> + Send + Sync + 'static,
{
    fn name(&self) -> &str {
        self.name
    }
    fn params(&self) -> Option<&[u8]> {
        Some(&self.params)
    }
    fn call(&self, inputs: &[Input]) -> Result<Value> {
        (self.f)(inputs)
    }
}

/// The function `f` registered under `name` with `spec` as parameters.
pub(crate) fn kernel<S: Serialize>(
    name: &'static str,
    spec: &S,
    f: impl Fn(&[Input]) -> Result<Value> + Send + Sync + 'static,
) -> Result<Func> {
    Ok(Func::from_function(Kernel {
        name,
        params: encode_params(name, spec)?,
        f,
    }))
}

/// Argument `i`, a value of type `V`.
pub(crate) fn arg<'a, V: Send + Sync + 'static>(
    inputs: &'a [Input<'a>],
    i: usize,
) -> Result<&'a V> {
    inputs
        .get(i)
        .ok_or_else(|| {
            invalid(format!(
                "an array task expected argument {i}, got {}",
                inputs.len()
            ))
        })?
        .as_value()?
        .downcast_ref::<V>()
}

/// Argument `i`, a list of values of type `V`.
#[cfg(feature = "linalg")]
pub(crate) fn list_arg<'a, V: Send + Sync + 'static>(
    inputs: &'a [Input<'a>],
    i: usize,
) -> Result<Vec<&'a V>> {
    inputs
        .get(i)
        .ok_or_else(|| {
            invalid(format!(
                "an array task expected argument {i}, got {}",
                inputs.len()
            ))
        })?
        .as_list()?
        .iter()
        .map(|item| item.as_value()?.downcast_ref::<V>())
        .collect()
}
