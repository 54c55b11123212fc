//! What a plugin function sees: its arguments ([`Call`]) and where its result
//! goes ([`Out`]), in plain Rust types.

use std::fmt;

use abi_stable::std_types::{RSlice, RStr};

use crate::abi::{AbiArg, AbiScalar, AbiSink, Dtype, Shape};
use crate::object::{Object, ObjectBox, downcast};

/// What went wrong in a plugin; the host reports it with the plugin's and
/// the function's names. `Debug` prints the message, as `Display` does.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
        }
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Error {
        Error { message }
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Error {
        Error::new(message)
    }
}

/// A plugin's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

mod sealed {
    pub trait Sealed {}
}

/// An element type of numbers that cross the boundary without copying.
pub trait Element: bytemuck::Pod + sealed::Sealed + fmt::Debug + Send + Sync {
    /// Its tag on the boundary.
    const DTYPE: Dtype;
}

macro_rules! elements {
    ($($t:ty => $d:ident),*) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: Dtype = Dtype::$d;
        }
    )*};
}
elements!(f64 => F64, f32 => F32, i64 => I64, i32 => I32, u64 => U64, u32 => U32, u8 => U8);

/// Numbers borrowed from the host: an array's block or a bag's partition.
#[derive(Debug, Clone, Copy)]
pub struct Numbers<'a, T> {
    /// Whether the host holds an array or a vector.
    pub kind: Shape,
    /// The extent along each axis (a vector has one).
    pub shape: &'a [usize],
    /// The elements in row-major order.
    pub data: &'a [T],
}

#[cfg(feature = "ndarray")]
impl<'a, T> Numbers<'a, T> {
    /// The numbers as an `ndarray` view.
    pub fn view(&self) -> Result<ndarray::ArrayViewD<'a, T>> {
        ndarray::ArrayViewD::from_shape(ndarray::IxDyn(self.shape), self.data)
            .map_err(|e| Error::new(format!("shape {:?} does not fit the data: {e}", self.shape)))
    }
}

/// The arguments and parameters of one call.
#[derive(Debug)]
pub struct Call<'a> {
    pub(crate) function: &'a str,
    pub(crate) params: &'a [u8],
    pub(crate) args: &'a [AbiArg<'a>],
}

impl<'a> Call<'a> {
    /// How many arguments the task passed.
    pub fn len(&self) -> usize {
        self.args.len()
    }

    /// Whether the task passed none.
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// The parameters bound when the task was made (postcard bytes), for a
    /// function declared with parameters; [`Call::params_as`] decodes them.
    pub fn params(&self) -> &'a [u8] {
        self.params
    }

    /// The parameters bound when the task was made, decoded as `T`: what a
    /// host bound with `barrow_plugin_host::function_with_params(name,
    /// &value)` (or `barrow_core::function::encode_params`), and a test with
    /// [`testing::call_with`](crate::testing::call_with).
    ///
    /// ```
    /// use barrow_plugin::{Call, Out, Result};
    ///
    /// fn scale(call: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
    ///     let factor: f64 = call.params_as()?;
    ///     let x = call.numbers::<f64>(0)?;
    ///     for (y, x) in out.like::<f64, f64>(&x)?.iter_mut().zip(x.data) {
    ///         *y = factor * x;
    ///     }
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Errors
    /// Bytes that are not a `T` (no parameters, another type): an error
    /// naming the function and the type.
    pub fn params_as<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        postcard::from_bytes(self.params).map_err(|e| {
            Error::new(format!(
                "{}: its parameters ({} bytes) are not a {}: {e}; bind them with \
                 barrow_plugin_host::function_with_params",
                self.function,
                self.params.len(),
                std::any::type_name::<T>()
            ))
        })
    }

    fn arg(&self, index: usize) -> Result<&'a AbiArg<'a>> {
        self.args.get(index).ok_or_else(|| {
            Error::new(format!(
                "{} needs argument {index}, but the task passed {}",
                self.function,
                self.args.len()
            ))
        })
    }

    fn wrong(&self, index: usize, expected: &str, got: &AbiArg<'_>) -> Error {
        Error::new(format!(
            "{}: argument {index} should be {expected}, got {}",
            self.function,
            describe(got)
        ))
    }

    /// Argument `index` as an `f64` (an `i64` or `u64` converts).
    pub fn f64(&self, index: usize) -> Result<f64> {
        match self.arg(index)? {
            AbiArg::F64(v) => Ok(*v),
            AbiArg::I64(v) => Ok(*v as f64),
            AbiArg::U64(v) => Ok(*v as f64),
            other => Err(self.wrong(index, "a number", other)),
        }
    }

    /// Argument `index` as an `i64`.
    pub fn i64(&self, index: usize) -> Result<i64> {
        match self.arg(index)? {
            AbiArg::I64(v) => Ok(*v),
            AbiArg::U64(v) => i64::try_from(*v).map_err(|_| {
                Error::new(format!(
                    "{}: argument {index} ({v}) is too large for i64",
                    self.function
                ))
            }),
            other => Err(self.wrong(index, "an integer", other)),
        }
    }

    /// Argument `index` as a `u64`.
    pub fn u64(&self, index: usize) -> Result<u64> {
        match self.arg(index)? {
            AbiArg::U64(v) => Ok(*v),
            AbiArg::I64(v) => u64::try_from(*v).map_err(|_| {
                Error::new(format!(
                    "{}: argument {index} ({v}) is negative",
                    self.function
                ))
            }),
            other => Err(self.wrong(index, "an unsigned integer", other)),
        }
    }

    /// Argument `index` as a `bool`.
    pub fn bool(&self, index: usize) -> Result<bool> {
        match self.arg(index)? {
            AbiArg::Bool(v) => Ok(*v),
            other => Err(self.wrong(index, "a bool", other)),
        }
    }

    /// Argument `index` as a string.
    pub fn str(&self, index: usize) -> Result<&'a str> {
        match self.arg(index)? {
            AbiArg::Str(s) => Ok(s.as_str()),
            other => Err(self.wrong(index, "a string", other)),
        }
    }

    /// Argument `index` as numbers of type `T`: an array block or a vector.
    pub fn numbers<T: Element>(&self, index: usize) -> Result<Numbers<'a, T>> {
        match self.arg(index)? {
            AbiArg::Numbers {
                kind,
                dtype,
                shape,
                data,
            } if *dtype == T::DTYPE => {
                let data = bytemuck::try_cast_slice(data.as_slice()).map_err(|e| {
                    Error::new(format!(
                        "{}: argument {index} is not a valid [{}]: {e}",
                        self.function,
                        dtype.name()
                    ))
                })?;
                let elements = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
                if elements != Some(data.len()) {
                    return Err(Error::new(format!(
                        "{}: argument {index} is shaped {:?} but holds {} elements",
                        self.function,
                        shape.as_slice(),
                        data.len()
                    )));
                }
                Ok(Numbers {
                    kind: *kind,
                    shape: shape.as_slice(),
                    data,
                })
            }
            other => Err(self.wrong(
                index,
                &format!("numbers of type {}", T::DTYPE.name()),
                other,
            )),
        }
    }

    /// Argument `index` as strings (a bag partition of strings).
    pub fn strs(&self, index: usize) -> Result<impl ExactSizeIterator<Item = &'a str> + 'a> {
        match self.arg(index)? {
            AbiArg::Strs(items) => Ok(items.as_slice().iter().map(RStr::as_str)),
            other => Err(self.wrong(index, "strings", other)),
        }
    }

    /// Argument `index` as a value of this plugin's type `T`.
    pub fn object<T: Object>(&self, index: usize) -> Result<&'a T> {
        match self.arg(index)? {
            AbiArg::Object(object) => downcast::<T>(object).ok_or_else(|| {
                Error::new(format!(
                    "{}: argument {index} should be a {}, got a {} made by another plugin or type",
                    self.function,
                    T::TAG,
                    object.tag()
                ))
            }),
            other => Err(self.wrong(index, &format!("a {}", T::TAG), other)),
        }
    }
}

fn describe(arg: &AbiArg<'_>) -> String {
    match arg {
        AbiArg::F64(_) => "an f64".into(),
        AbiArg::I64(_) => "an i64".into(),
        AbiArg::U64(_) => "a u64".into(),
        AbiArg::Bool(_) => "a bool".into(),
        AbiArg::Str(_) => "a string".into(),
        AbiArg::Numbers {
            kind, dtype, shape, ..
        } => format!(
            "{} of {} shaped {:?}",
            match kind {
                Shape::Array => "an array",
                Shape::Vec => "a vector",
            },
            dtype.name(),
            shape.as_slice()
        ),
        AbiArg::Strs(items) => format!("{} strings", items.len()),
        AbiArg::Object(object) => format!("a {}", object.tag()),
    }
}

/// Where a function puts its result: exactly one per call. Buffers are the
/// host's own, so results are never copied.
pub struct Out<'a, 'b> {
    pub(crate) sink: &'b mut AbiSink<'a>,
    pub(crate) set: bool,
}

impl fmt::Debug for Out<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Out").field("set", &self.set).finish()
    }
}

impl Out<'_, '_> {
    /// Sets an `f64` result.
    pub fn f64(&mut self, value: f64) {
        self.set = true;
        self.sink.number(AbiScalar::F64(value));
    }

    /// Sets an `i64` result.
    pub fn i64(&mut self, value: i64) {
        self.set = true;
        self.sink.number(AbiScalar::I64(value));
    }

    /// Sets a `u64` result.
    pub fn u64(&mut self, value: u64) {
        self.set = true;
        self.sink.number(AbiScalar::U64(value));
    }

    /// Sets a `bool` result.
    pub fn bool(&mut self, value: bool) {
        self.set = true;
        self.sink.number(AbiScalar::Bool(value));
    }

    /// Sets a string result.
    pub fn string(&mut self, value: &str) {
        self.set = true;
        self.sink.string(value.into());
    }

    /// Sets an array result of this shape and returns its zeroed elements
    /// (row-major) to fill.
    pub fn array<T: Element>(&mut self, shape: &[usize]) -> Result<&mut [T]> {
        self.numbers(Shape::Array, shape)
    }

    /// Sets a result shaped like `input` (an array of its shape, or a
    /// vector of its length) and returns its zeroed elements to fill: what
    /// an elementwise function on blocks and partitions alike returns.
    pub fn like<T: Element, U: Element>(&mut self, input: &Numbers<'_, U>) -> Result<&mut [T]> {
        self.numbers(input.kind, input.shape)
    }

    /// Sets a vector result of `len` elements and returns them, zeroed, to
    /// fill.
    pub fn vec<T: Element>(&mut self, len: usize) -> Result<&mut [T]> {
        self.numbers(Shape::Vec, &[len])
    }

    fn numbers<T: Element>(&mut self, kind: Shape, shape: &[usize]) -> Result<&mut [T]> {
        self.set = true;
        let bytes = self
            .sink
            .numbers(kind, T::DTYPE, RSlice::from_slice(shape))
            .into_mut_slice();
        let expected = shape.iter().product::<usize>() * T::DTYPE.size();
        if bytes.len() != expected {
            return Err(Error::new(format!(
                "the host gave {} bytes for {} elements of {} shaped {shape:?}; it could not \
                 allocate them",
                bytes.len(),
                expected / T::DTYPE.size().max(1),
                T::DTYPE.name()
            )));
        }
        bytemuck::try_cast_slice_mut(bytes).map_err(|e| {
            Error::new(format!(
                "the host's buffer is not a [{}]: {e}",
                T::DTYPE.name()
            ))
        })
    }

    /// Sets a result of strings (a bag partition).
    pub fn strings<'s>(&mut self, items: impl IntoIterator<Item = &'s str>) {
        self.set = true;
        let items = items.into_iter();
        self.sink.strings(items.size_hint().0);
        for item in items {
            self.sink.push_string(item.into());
        }
    }

    /// Sets a result of this plugin's type `T`.
    pub fn object<T: Object>(&mut self, value: T) {
        self.set = true;
        self.sink.object(ObjectBox::erase(value));
    }
}
