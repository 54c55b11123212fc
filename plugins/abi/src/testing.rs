//! Runs a plugin's functions, codecs and set-up steps in-process, through
//! the same entry points a host calls, so authors unit-test without one.
//!
//! ```
//! use barrow_plugin::testing::{self, Value};
//! use barrow_plugin::{Call, Function, Out, Plugin, Result};
//!
//! fn double(call: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
//!     let x = call.numbers::<f64>(0)?;
//!     let y = out.like::<f64, f64>(&x)?;
//!     for (y, x) in y.iter_mut().zip(x.data) {
//!         *y = 2.0 * x;
//!     }
//!     Ok(())
//! }
//!
//! static PLUGIN: Plugin = Plugin {
//!     name: "demo",
//!     functions: &[Function::new("double", "Doubles every element.", double)],
//!     ..Plugin::EMPTY
//! };
//!
//! let out = testing::call(&PLUGIN, "double", &[Value::array(&[2], &[1.0f64, 2.5])])?;
//! assert_eq!(out.numbers::<f64>(), Some((&[2usize][..], &[2.0, 5.0][..])));
//!
//! // A wrong argument is an error naming the function and the argument.
//! let err = testing::call(&PLUGIN, "double", &[Value::F64(1.0)]).unwrap_err();
//! assert!(err.message().contains("double: argument 0 should be numbers of type f64"));
//! # Ok::<(), barrow_plugin::Error>(())
//! ```

use std::sync::{Mutex, PoisonError};

use abi_stable::sabi_types::{RMut, RRef};
use abi_stable::std_types::{RSlice, RSliceMut, RStr, RVec};
use abi_stable::type_level::downcasting::TD_Opaque;

use crate::abi::{
    AbiArg, AbiError, AbiGraph, AbiObject, AbiScalar, ConfigEntry, Dtype, RunnerImpl,
    RunnerImpl_TO, SetupEnv, Shape, SinkImpl, SinkImpl_TO,
};
use crate::author::{Element, Error, Result};
use crate::object::{Object, ObjectBox, downcast};
use crate::plugin::{Outcome, Plugin, SetupContext};

/// An argument or a result, owned.
#[derive(Debug)]
pub enum Value {
    /// `f64`
    F64(f64),
    /// `i64`
    I64(i64),
    /// `u64`
    U64(u64),
    /// `bool`
    Bool(bool),
    /// `String`
    String(String),
    /// An array or a vector of numbers.
    Numbers(Numbers),
    /// `Vec<String>`
    Strings(Vec<String>),
    /// A value of a plugin's own type.
    Object(AbiObject),
}

/// Numbers with their kind, element type and shape.
#[derive(Debug, Clone)]
pub struct Numbers {
    kind: Shape,
    dtype: Dtype,
    shape: Vec<usize>,
    // Words keep the bytes aligned for every element type.
    words: Vec<u64>,
    len: usize,
}

impl Numbers {
    fn zeroed(kind: Shape, dtype: Dtype, shape: &[usize]) -> Numbers {
        let len = shape.iter().product::<usize>() * dtype.size();
        Numbers {
            kind,
            dtype,
            shape: shape.to_vec(),
            words: vec![0; len.div_ceil(8)],
            len,
        }
    }

    fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.len]
    }
}

impl Value {
    /// An array of this shape (row-major elements).
    pub fn array<T: Element>(shape: &[usize], data: &[T]) -> Value {
        Value::from_numbers(Shape::Array, shape, data)
    }

    /// A vector.
    pub fn vec<T: Element>(data: &[T]) -> Value {
        Value::from_numbers(Shape::Vec, &[data.len()], data)
    }

    fn from_numbers<T: Element>(kind: Shape, shape: &[usize], data: &[T]) -> Value {
        let mut numbers = Numbers::zeroed(kind, T::DTYPE, shape);
        let bytes: &[u8] = bytemuck::cast_slice(data);
        let n = bytes.len().min(numbers.len);
        numbers.bytes_mut()[..n].copy_from_slice(&bytes[..n]);
        Value::Numbers(numbers)
    }

    /// Strings.
    pub fn strings<'s>(items: impl IntoIterator<Item = &'s str>) -> Value {
        Value::Strings(items.into_iter().map(str::to_owned).collect())
    }

    /// A value of a plugin type.
    pub fn object<T: Object>(value: T) -> Value {
        Value::Object(ObjectBox::erase(value))
    }

    /// The shape and elements, if this holds numbers of type `T`.
    pub fn numbers<T: Element>(&self) -> Option<(&[usize], &[T])> {
        match self {
            Value::Numbers(n) if n.dtype == T::DTYPE => {
                Some((&n.shape, bytemuck::try_cast_slice(n.bytes()).ok()?))
            }
            _ => None,
        }
    }

    /// Whether numbers are an array or a vector (`None` for other values).
    pub fn kind(&self) -> Option<Shape> {
        match self {
            Value::Numbers(n) => Some(n.kind),
            _ => None,
        }
    }

    /// The plugin value, if this holds a `T`.
    pub fn as_object<T: Object>(&self) -> Option<&T> {
        match self {
            Value::Object(object) => downcast::<T>(object),
            _ => None,
        }
    }

    fn as_arg<'a>(&'a self, strs: &'a [RStr<'a>]) -> AbiArg<'a> {
        match self {
            Value::F64(v) => AbiArg::F64(*v),
            Value::I64(v) => AbiArg::I64(*v),
            Value::U64(v) => AbiArg::U64(*v),
            Value::Bool(v) => AbiArg::Bool(*v),
            Value::String(s) => AbiArg::Str(s.as_str().into()),
            Value::Numbers(n) => AbiArg::Numbers {
                kind: n.kind,
                dtype: n.dtype,
                shape: RSlice::from_slice(&n.shape),
                data: RSlice::from_slice(n.bytes()),
            },
            Value::Strings(_) => AbiArg::Strs(RSlice::from_slice(strs)),
            Value::Object(object) => AbiArg::Object(object),
        }
    }
}

/// Calls function `name` of `plugin` with `args`, as a host would: panics
/// and errors come back as an [`Error`] (a panic's message starts with
/// "panicked: ").
pub fn call(plugin: &'static Plugin, name: &str, args: &[Value]) -> Result<Value> {
    call_with_params(plugin, name, &[], args)
}

/// [`call`] with `params` bound, encoded as a host binds them (see
/// [`Call::params_as`](crate::Call::params_as)).
///
/// # Errors
/// As [`call`], or parameters that cannot be encoded.
pub fn call_with<P: serde::Serialize>(
    plugin: &'static Plugin,
    name: &str,
    params: &P,
    args: &[Value],
) -> Result<Value> {
    let bytes = postcard::to_allocvec(params)
        .map_err(|e| Error::new(format!("the parameters of '{name}' cannot be encoded: {e}")))?;
    call_with_params(plugin, name, &bytes, args)
}

/// [`call`] with parameters bound, as bytes.
pub fn call_with_params(
    plugin: &'static Plugin,
    name: &str,
    params: &[u8],
    args: &[Value],
) -> Result<Value> {
    let index = plugin
        .functions
        .iter()
        .position(|f| f.name == name)
        .ok_or_else(|| Error::new(format!("plugin '{}' has no function '{name}'", plugin.name)))?;
    let strs: Vec<Vec<RStr<'_>>> = args
        .iter()
        .map(|a| match a {
            Value::Strings(items) => items.iter().map(|s| RStr::from(s.as_str())).collect(),
            _ => Vec::new(),
        })
        .collect();
    let abi_args: Vec<AbiArg<'_>> = args.iter().zip(&strs).map(|(a, s)| a.as_arg(s)).collect();
    let mut sink = TestSink(None);
    let result = crate::export::call(
        plugin,
        index,
        RSlice::from_slice(params),
        RSlice::from_slice(&abi_args),
        SinkImpl_TO::from_ptr(RMut::new(&mut sink), TD_Opaque),
    );
    into_result(result)?;
    sink.0
        .ok_or_else(|| Error::new(format!("{name} returned without a result")))
}

/// Encodes `value` (a plugin object) with its own codec.
pub fn encode(value: &Value) -> Result<Vec<u8>> {
    match value {
        Value::Object(object) => into_result(object.encode()).map(RVec::into_vec),
        other => Err(Error::new(format!("{other:?} is not a plugin object"))),
    }
}

/// Decodes `bytes` with `plugin`'s codec for `tag`.
pub fn decode(plugin: &'static Plugin, tag: &str, bytes: &[u8]) -> Result<Value> {
    let index = plugin
        .codecs
        .iter()
        .position(|c| c.tag == tag)
        .ok_or_else(|| Error::new(format!("plugin '{}' has no codec '{tag}'", plugin.name)))?;
    into_result(crate::export::decode(
        plugin,
        index,
        RSlice::from_slice(bytes),
    ))
    .map(Value::Object)
}

/// Hands `event` to hook `name` of `plugin`, through the same entry point
/// a host calls (a panic comes back as an error saying so).
///
/// ```
/// use barrow_plugin::{Event, Hook, Plugin, testing};
///
/// static PLUGIN: Plugin = Plugin {
///     name: "watch",
///     hooks: &[Hook { name: "joins", doc: "Refuses nothing.", on: |_| Ok(()) }],
///     ..Plugin::EMPTY
/// };
/// testing::hook(&PLUGIN, "joins", &Event::WorkerAdded { worker: "w0" })?;
/// # Ok::<(), barrow_plugin::Error>(())
/// ```
pub fn hook(plugin: &'static Plugin, name: &str, event: &crate::Event<'_>) -> Result<()> {
    let index = plugin
        .hooks
        .iter()
        .position(|h| h.name == name)
        .ok_or_else(|| Error::new(format!("plugin '{}' has no hook '{name}'", plugin.name)))?;
    into_result(crate::export::on_event(
        plugin,
        index,
        &crate::export::abi_event(event),
    ))
}

/// Runs set-up step `name` of `plugin` in `context`.
pub fn run_setup(plugin: &'static Plugin, name: &str, context: &SetupContext) -> Result<Outcome> {
    let index = plugin
        .setup
        .iter()
        .position(|s| s.name == name)
        .ok_or_else(|| {
            Error::new(format!(
                "plugin '{}' has no set-up step '{name}'",
                plugin.name
            ))
        })?;
    let env = SetupEnv {
        worker: context.worker,
        config: context
            .config
            .iter()
            .map(|(key, json)| ConfigEntry {
                key: key.as_str().into(),
                json: json.as_str().into(),
            })
            .collect(),
    };
    let outcome = into_result(crate::export::run_setup(plugin, index, &env))?;
    Ok(Outcome {
        message: outcome.message.into_string(),
        restart: outcome.restart,
    })
}

fn into_result<T>(result: abi_stable::std_types::RResult<T, crate::abi::AbiError>) -> Result<T> {
    result.into_result().map_err(|e| {
        if e.panicked {
            Error::new(format!("panicked: {}", e.message))
        } else {
            Error::new(e.message.into_string())
        }
    })
}

struct TestSink(Option<Value>);

impl SinkImpl for TestSink {
    fn number(&mut self, value: AbiScalar) {
        self.0 = Some(match value {
            AbiScalar::F64(v) => Value::F64(v),
            AbiScalar::I64(v) => Value::I64(v),
            AbiScalar::U64(v) => Value::U64(v),
            AbiScalar::Bool(v) => Value::Bool(v),
        });
    }

    fn string(&mut self, value: RStr<'_>) {
        self.0 = Some(Value::String(value.to_string()));
    }

    fn numbers(
        &mut self,
        kind: Shape,
        dtype: Dtype,
        shape: RSlice<'_, usize>,
    ) -> RSliceMut<'_, u8> {
        self.0 = Some(Value::Numbers(Numbers::zeroed(kind, dtype, &shape)));
        match &mut self.0 {
            Some(Value::Numbers(n)) => RSliceMut::from_mut_slice(n.bytes_mut()),
            _ => RSliceMut::from_mut_slice(&mut []),
        }
    }

    fn strings(&mut self, capacity: usize) {
        self.0 = Some(Value::Strings(Vec::with_capacity(capacity)));
    }

    fn push_string(&mut self, value: RStr<'_>) {
        match &mut self.0 {
            Some(Value::Strings(items)) => items.push(value.to_string()),
            _ => self.0 = Some(Value::Strings(vec![value.to_string()])),
        }
    }

    fn object(&mut self, value: AbiObject) {
        self.0 = Some(Value::Object(value));
    }
}

/// What a scheduler did with a graph: the tasks it ran and the results it
/// released, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Tasks in the order they ran.
    pub ran: Vec<usize>,
    /// Tasks whose results were released, in order.
    pub released: Vec<usize>,
}

/// Runs scheduler `name` of `plugin` on a graph given as each task's
/// dependencies, as a host would, and records what it did. Running a task
/// twice, before its dependencies or after one was released, releasing an
/// output, or finishing with an output not computed, is an error.
///
/// ```
/// use barrow_plugin::testing;
/// use barrow_plugin::{Graph, Plugin, Result, Runner, Scheduler};
///
/// /// Runs tasks in index order (fine for graphs whose tasks come after
/// /// their dependencies).
/// fn in_order(graph: &Graph<'_>, runner: &Runner<'_>) -> Result<()> {
///     (0..graph.len()).try_for_each(|i| runner.run(i))
/// }
///
/// static PLUGIN: Plugin = Plugin {
///     name: "demo",
///     schedulers: &[Scheduler { name: "in-order", doc: "Index order.", run: in_order }],
///     ..Plugin::EMPTY
/// };
///
/// let done = testing::schedule(&PLUGIN, "in-order", &[vec![], vec![0], vec![0, 1]], &[2])?;
/// assert_eq!(done.ran, [0, 1, 2]);
/// // Index order breaks on a graph whose task 0 needs task 1.
/// assert!(testing::schedule(&PLUGIN, "in-order", &[vec![1], vec![]], &[0]).is_err());
/// # Ok::<(), barrow_plugin::Error>(())
/// ```
pub fn schedule(
    plugin: &'static Plugin,
    name: &str,
    dependencies: &[Vec<usize>],
    outputs: &[usize],
) -> Result<Schedule> {
    let index = plugin
        .schedulers
        .iter()
        .position(|s| s.name == name)
        .ok_or_else(|| {
            Error::new(format!(
                "plugin '{}' has no scheduler '{name}'",
                plugin.name
            ))
        })?;
    let graph = AbiGraph {
        keys: (0..dependencies.len())
            .map(|i| format!("t{i}").into())
            .collect(),
        dependencies: dependencies
            .iter()
            .map(|d| d.iter().copied().collect())
            .collect(),
        outputs: outputs.iter().copied().collect(),
    };
    let runner = TestRunner {
        dependencies,
        outputs,
        state: Mutex::new((Schedule::default(), None)),
    };
    let result = crate::export::schedule(
        plugin,
        index,
        &graph,
        RunnerImpl_TO::from_ptr(RRef::new(&runner), TD_Opaque),
    );
    let (done, misuse) = runner
        .state
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(misuse) = misuse {
        return Err(Error::new(misuse));
    }
    into_result(result)?;
    if let Some(missing) = outputs.iter().find(|o| !done.ran.contains(o)) {
        return Err(Error::new(format!(
            "scheduler '{name}' finished without running output t{missing}"
        )));
    }
    Ok(done)
}

/// The host's side of [`schedule`]: checks every request.
struct TestRunner<'g> {
    dependencies: &'g [Vec<usize>],
    outputs: &'g [usize],
    /// What happened, and the first misuse.
    state: Mutex<(Schedule, Option<String>)>,
}

impl TestRunner<'_> {
    fn check_run(&self, done: &Schedule, index: usize) -> std::result::Result<(), String> {
        let deps = self
            .dependencies
            .get(index)
            .ok_or_else(|| format!("ran t{index}, which is not in the graph"))?;
        if done.ran.contains(&index) {
            return Err(format!("ran t{index} twice"));
        }
        for dep in deps {
            if !done.ran.contains(dep) {
                return Err(format!("ran t{index} before t{dep}, which it needs"));
            }
            if done.released.contains(dep) {
                return Err(format!(
                    "ran t{index} after releasing t{dep}, which it needs"
                ));
            }
        }
        Ok(())
    }
}

impl RunnerImpl for TestRunner<'_> {
    fn run(&self, index: usize) -> abi_stable::std_types::RResult<(), AbiError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match self.check_run(&state.0, index) {
            Ok(()) => {
                state.0.ran.push(index);
                abi_stable::std_types::ROk(())
            }
            Err(misuse) => {
                state.1.get_or_insert(misuse.clone());
                abi_stable::std_types::RErr(AbiError {
                    panicked: false,
                    message: misuse.into(),
                })
            }
        }
    }

    fn release(&self, index: usize) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if self.outputs.contains(&index) {
            state.1.get_or_insert(format!("released output t{index}"));
        }
        state.0.released.push(index);
    }
}
