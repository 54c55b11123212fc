//! Native values to plugin arguments (borrowed, never copied unless an array
//! is not in row-major order), and plugin results to native values (written
//! by the plugin straight into buffers allocated here).

use abi_stable::std_types::{RSlice, RSliceMut, RStr};
use barrow_core::function::Input;
use barrow_core::{Error, ErrorKind, Result, Value};
use barrow_plugin::Dtype;
use barrow_plugin::abi::{AbiArg, AbiObject, AbiScalar, Shape, SinkImpl};
use ndarray::{ArrayD, IxDyn};
use smallvec::SmallVec;

use crate::object::ForeignObject;

/// What one argument borrows from: the input's value, a row-major copy of
/// it, and the strings of a `Vec<String>`.
pub(crate) struct Prepared<'v> {
    value: &'v Value,
    copy: Option<Value>,
    len: [usize; 1],
    strs: Vec<RStr<'v>>,
}

/// Readies `inputs` for [`args`]: copies arrays that are not row-major.
pub(crate) fn prepare<'v>(
    function: &str,
    inputs: &'v [Input],
) -> Result<SmallVec<[Prepared<'v>; 4]>> {
    // A loop, not `collect::<Result<_>>()`: that moved the whole inline
    // vector through each layer, a measurable share of a call.
    let mut prepared = SmallVec::new();
    for (i, input) in inputs.iter().enumerate() {
        let value = input.as_value().map_err(|_| {
            Error::new(
                ErrorKind::WrongType,
                format!("{function}: argument {i} is a list; plugin functions take values"),
            )
        })?;
        let strs = match get::<Vec<String>>(value) {
            Some(items) => items.iter().map(|s| RStr::from(s.as_str())).collect(),
            None => Vec::new(),
        };
        prepared.push(Prepared {
            value,
            copy: standard_copy(value),
            len: [0],
            strs,
        });
    }
    Ok(prepared)
}

macro_rules! dtypes {
    ($m:ident) => {
        $m!(f64 => F64, f32 => F32, i64 => I64, i32 => I32, u64 => U64, u32 => U32, u8 => U8)
    };
}

fn standard_copy(value: &Value) -> Option<Value> {
    macro_rules! copy {
        ($($t:ty => $d:ident),*) => {$(
            if let Some(array) = get::<ArrayD<$t>>(value) {
                return (!array.is_standard_layout())
                    .then(|| Value::new(array.as_standard_layout().into_owned()));
            }
        )*};
    }
    dtypes!(copy);
    None
}

/// The value's data, if it is a `T` (checking first: a failed downcast
/// formats an error message).
fn get<T: 'static>(value: &Value) -> Option<&T> {
    if value.is::<T>() {
        value.downcast_ref::<T>().ok()
    } else {
        None
    }
}

/// The argument for one prepared input.
pub(crate) fn arg<'a>(function: &str, index: usize, p: &'a mut Prepared<'_>) -> Result<AbiArg<'a>> {
    let value: &'a Value = match &p.copy {
        Some(copy) => copy,
        None => p.value,
    };
    // Blocks and partitions first: they are what plugin kernels take.
    macro_rules! numbers {
        ($($t:ty => $d:ident),*) => {$(
            if let Some(array) = get::<ArrayD<$t>>(value) {
                let data = array.as_slice().ok_or_else(|| {
                    Error::internal("an array copied to row-major order is not contiguous")
                })?;
                return Ok(AbiArg::Numbers {
                    kind: Shape::Array,
                    dtype: Dtype::$d,
                    shape: RSlice::from_slice(array.shape()),
                    data: RSlice::from_slice(bytemuck::cast_slice(data)),
                });
            }
            if let Some(items) = get::<Vec<$t>>(value) {
                p.len = [items.len()];
                return Ok(AbiArg::Numbers {
                    kind: Shape::Vec,
                    dtype: Dtype::$d,
                    shape: RSlice::from_slice(&p.len),
                    data: RSlice::from_slice(bytemuck::cast_slice(items)),
                });
            }
        )*};
    }
    dtypes!(numbers);
    macro_rules! scalar {
        ($($t:ty => $variant:ident as $as:ty),*) => {$(
            if let Some(v) = get::<$t>(value) {
                return Ok(AbiArg::$variant(*v as $as));
            }
        )*};
    }
    scalar!(f64 => F64 as f64, f32 => F64 as f64, i64 => I64 as i64, i32 => I64 as i64,
        u64 => U64 as u64, u32 => U64 as u64, usize => U64 as u64);
    if let Some(b) = get::<bool>(value) {
        return Ok(AbiArg::Bool(*b));
    }
    if let Some(s) = get::<String>(value) {
        return Ok(AbiArg::Str(s.as_str().into()));
    }
    if value.is::<Vec<String>>() {
        return Ok(AbiArg::Strs(RSlice::from_slice(&p.strs)));
    }
    if let Some(object) = get::<ForeignObject>(value) {
        return Ok(AbiArg::Object(object.object()));
    }
    Err(Error::new(
        ErrorKind::WrongType,
        format!(
            "{function}: argument {index} is a {}, which cannot be passed to a plugin; plugin \
             functions take numbers (f64, i64, u64, bool), strings, arrays (ndarray::ArrayD) or \
             vectors of numbers or strings, and the plugins' own types",
            value.type_name()
        ),
    ))
}

/// A numbers result, in the buffer the plugin fills.
enum Buffer {
    F64(Vec<f64>),
    F32(Vec<f32>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    U64(Vec<u64>),
    U32(Vec<u32>),
    U8(Vec<u8>),
}

enum Produced {
    Nothing,
    Value(Value),
    Numbers {
        kind: Shape,
        // Inline for up to four axes: no allocation on the hot path.
        shape: SmallVec<[usize; 4]>,
        buffer: Buffer,
    },
    Strings(Vec<String>),
    /// The plugin asked for more memory than could be allocated.
    TooLarge(String),
}

/// Where a plugin function writes its result.
pub(crate) struct HostSink {
    produced: Produced,
}

impl HostSink {
    pub(crate) fn new() -> HostSink {
        HostSink {
            produced: Produced::Nothing,
        }
    }

    /// The result as a native value.
    pub(crate) fn finish(self, function: &str) -> Result<Value> {
        match self.produced {
            Produced::Nothing => Err(Error::new(
                ErrorKind::TaskFailed,
                format!("{function} returned without a result"),
            )),
            Produced::Value(value) => Ok(value),
            Produced::Strings(items) => Ok(Value::new(items)),
            Produced::TooLarge(what) => Err(Error::new(
                ErrorKind::TaskFailed,
                format!("{function} asked for a result too large to allocate: {what}"),
            )),
            Produced::Numbers {
                kind,
                shape,
                buffer,
            } => {
                macro_rules! finish {
                    ($($t:ty => $d:ident),*) => {
                        match buffer {$(
                            Buffer::$d(items) => match kind {
                                Shape::Vec => Ok(Value::new(items)),
                                // One axis, the usual block of a plugin
                                // kernel: no shape to check.
                                Shape::Array if shape.len() == 1 => {
                                    Ok(Value::new(ndarray::Array1::from_vec(items).into_dyn()))
                                }
                                Shape::Array => ArrayD::from_shape_vec(IxDyn(&shape), items)
                                    .map(Value::new)
                                    .map_err(|e| Error::internal(format!(
                                        "{function}: result shaped {shape:?}: {e}"
                                    ))),
                            },
                        )*}
                    };
                }
                dtypes!(finish)
            }
        }
    }
}

/// A plugin's absurd request is an error for its task, not an abort.
fn zeroed<T: bytemuck::Zeroable + Clone>(len: usize) -> Option<Vec<T>> {
    bytemuck::allocation::try_zeroed_vec(len).ok()
}

impl SinkImpl for HostSink {
    fn number(&mut self, value: AbiScalar) {
        self.produced = Produced::Value(match value {
            AbiScalar::F64(v) => Value::new(v),
            AbiScalar::I64(v) => Value::new(v),
            AbiScalar::U64(v) => Value::new(v),
            AbiScalar::Bool(v) => Value::new(v),
        });
    }

    fn string(&mut self, value: RStr<'_>) {
        self.produced = Produced::Value(Value::new(value.to_string()));
    }

    fn numbers(
        &mut self,
        kind: Shape,
        dtype: Dtype,
        shape: RSlice<'_, usize>,
    ) -> RSliceMut<'_, u8> {
        let shape: SmallVec<[usize; 4]> = SmallVec::from_slice(&shape);
        let Some(len) = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) else {
            self.produced = Produced::TooLarge(format!("shape {shape:?} overflows"));
            return RSliceMut::from_mut_slice(&mut []);
        };
        macro_rules! allocate {
            ($($t:ty => $d:ident),*) => {
                match dtype {$(
                    Dtype::$d => zeroed::<$t>(len).map(Buffer::$d),
                )*}
            };
        }
        let Some(buffer) = dtypes!(allocate) else {
            self.produced = Produced::TooLarge(format!("{len} elements of {}", dtype.name()));
            return RSliceMut::from_mut_slice(&mut []);
        };
        self.produced = Produced::Numbers {
            kind,
            shape,
            buffer,
        };
        let Produced::Numbers { buffer, .. } = &mut self.produced else {
            return RSliceMut::from_mut_slice(&mut []);
        };
        macro_rules! bytes {
            ($($t:ty => $d:ident),*) => {
                match buffer {$(
                    Buffer::$d(items) => bytemuck::cast_slice_mut::<$t, u8>(items),
                )*}
            };
        }
        RSliceMut::from_mut_slice(dtypes!(bytes))
    }

    fn strings(&mut self, capacity: usize) {
        let mut items = Vec::new();
        // The capacity is a hint from the plugin: a failure just means
        // growing as strings arrive.
        let _ = items.try_reserve(capacity);
        self.produced = Produced::Strings(items);
    }

    fn push_string(&mut self, value: RStr<'_>) {
        match &mut self.produced {
            Produced::Strings(items) => items.push(value.to_string()),
            _ => self.produced = Produced::Strings(vec![value.to_string()]),
        }
    }

    fn object(&mut self, value: AbiObject) {
        self.produced = Produced::Value(ForeignObject::value(value));
    }
}
