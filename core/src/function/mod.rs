//! Task functions: the object-safe [`Function`] trait, the [`Func`] handle,
//! typed adapters from ordinary Rust functions and closures, and the registry.
//!
//! Every task function has a stable name, used in error reports, profiles and
//! progress bars, and to ship a task to another process, where the name is
//! resolved in that process's registry.

mod registry;
mod typed;

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorKind, Result};
use crate::value::Value;

pub use registry::{FunctionEntry, FunctionRegistry, Origin, StaticFactory, StaticFunction};
pub use typed::{FromInput, IntoFunction, IntoPartialFunction, IntoTryFunction, List, Raw};

/// A task's resolved argument: a value, or a list of arguments (Dask's
/// `(sum, ['a', 'b'])` passes a list).
///
/// A literal written into the task comes [`Borrowed`](Input::Borrowed) from
/// it rather than as a new handle: one value shared by thousands of tasks
/// (a constant, a lookup table) then costs no reference count, which every
/// worker thread would otherwise write on every task.
#[derive(Debug, Clone)]
pub enum Input<'a> {
    /// One value, owned by this call (a dependency's result, a nested
    /// call's result).
    Value(Value),
    /// One value borrowed from the task (a literal argument).
    Borrowed(&'a Value),
    /// A list of arguments, in order.
    List(Vec<Input<'a>>),
}

impl<'a> Input<'a> {
    /// The value, or an error if this is a list.
    pub fn as_value(&self) -> Result<&Value> {
        match self {
            Input::Value(value) => Ok(value),
            Input::Borrowed(value) => Ok(value),
            Input::List(_) => Err(Error::new(
                ErrorKind::WrongType,
                "wrong argument kind: expected a value, got a list",
            )),
        }
    }

    /// The list, or an error if this is a single value.
    pub fn as_list(&self) -> Result<&[Input<'a>]> {
        match self {
            Input::List(items) => Ok(items),
            Input::Value(value) | &Input::Borrowed(value) => Err(Error::new(
                ErrorKind::WrongType,
                format!(
                    "wrong argument kind: expected a list, got a value of type {}",
                    value.type_name()
                ),
            )),
        }
    }

    /// The same input owning its values (a borrowed value becomes a new
    /// handle to it), for keeping past the call.
    pub fn into_owned(self) -> Input<'static> {
        match self {
            Input::Value(value) => Input::Value(value),
            Input::Borrowed(value) => Input::Value(value.clone()),
            Input::List(items) => Input::List(items.into_iter().map(Input::into_owned).collect()),
        }
    }
}

/// The object-safe function every task calls.
///
/// Implement it directly for full control over arguments (a variable number
/// of them, any types); most code uses [`Func::new`] on an ordinary function
/// or closure instead.
///
/// ```
/// use barrow_core::function::{Function, Input};
/// use barrow_core::{Func, Result, Value};
///
/// /// Counts its arguments, whatever they are.
/// struct CountArgs;
///
/// impl Function for CountArgs {
///     fn name(&self) -> &str {
///         "count-args"
///     }
///     fn call(&self, inputs: &[Input]) -> Result<Value> {
///         Ok(Value::new(inputs.len()))
///     }
/// }
///
/// let f = Func::from_function(CountArgs);
/// let out = f.call(&[Input::Value(Value::new(1u8)), Input::List(vec![])])?;
/// assert_eq!(*out.downcast_ref::<usize>()?, 2);
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub trait Function: Send + Sync + 'static {
    /// The stable name: used in errors, profiles, and to find the function
    /// again in another process.
    fn name(&self) -> &str;

    /// Runs the function on resolved arguments.
    fn call(&self, inputs: &[Input]) -> Result<Value>;

    /// Runs the function on arguments it may move out of. Executors call
    /// this one: an input whose handle is the only one left (the result of
    /// a nested call in a fused task) can then be reused in place through
    /// [`Value::try_take`] instead of copied — `(x + 1) * 2` fused on a
    /// chunk of an array allocates one buffer, not two. The default calls
    /// [`Function::call`].
    fn call_taking(&self, inputs: &mut [Input]) -> Result<Value> {
        self.call(inputs)
    }

    /// The serialized parameters bound to this function (Dask's `partial`),
    /// if any; another process rebuilds the function from its name and these.
    fn params(&self) -> Option<&[u8]> {
        None
    }

    /// Whether the function only picks a part out of its input (Dask's
    /// `getitem`: one piece of a shuffle's split, one field of a tuple) at
    /// next to no cost. A scheduler that ships tasks to other processes
    /// runs such a task where its input already is, instead of sending the
    /// whole input over to take a part of it. `false` by default.
    fn is_selector(&self) -> bool {
        false
    }

    /// The function as [`Any`](std::any::Any), for callers that look inside
    /// functions carrying structure (a fused [`Subgraph`](crate::optimize::Subgraph))
    /// with [`Func::downcast_ref`]; `None` by default.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// Encodes a function's parameters in the format [`Func::partial`] uses
/// (postcard), for a [`Function`] implemented by hand whose
/// [`Function::params`] another process decodes with [`decode_params`].
pub fn encode_params<P: Serialize>(function: &str, params: &P) -> Result<Vec<u8>> {
    postcard::to_allocvec(params).map_err(|e| {
        Error::new(
            ErrorKind::Codec,
            format!("the parameters of function '{function}' cannot be serialized: {e}"),
        )
    })
}

/// Decodes parameters written by [`encode_params`] or [`Func::partial`];
/// damaged bytes are an error naming the function, never a panic.
pub fn decode_params<P: DeserializeOwned>(function: &str, bytes: &[u8]) -> Result<P> {
    postcard::from_bytes(bytes).map_err(|e| {
        Error::new(
            ErrorKind::Codec,
            format!("the parameters of function '{function}' cannot be decoded: {e}"),
        )
    })
}

/// A cheap, cloneable handle to a task function.
///
/// ```
/// use barrow_core::function::{Input, List};
/// use barrow_core::{Func, Value};
///
/// let add = Func::new("add", |a: &i64, b: &i64| a + b);
/// let total = Func::new("total", |xs: List<i64>| xs.iter().copied().sum::<i64>());
/// let parse = Func::try_new("parse", |s: &String| s.parse::<i64>());
///
/// let one = Input::Value(Value::new(1i64));
/// let two = Input::Value(Value::new(2i64));
/// assert_eq!(*add.call(&[one.clone(), two.clone()])?.downcast_ref::<i64>()?, 3);
/// assert_eq!(*total.call(&[Input::List(vec![one, two])])?.downcast_ref::<i64>()?, 3);
///
/// let bad = Input::Value(Value::new(String::from("x1")));
/// let err = parse.call(&[bad]).unwrap_err();
/// assert!(err.to_string().contains("invalid digit"));
/// # Ok::<(), barrow_core::Error>(())
/// ```
///
/// A `Func` is one thin pointer, so the tasks holding it stay small.
#[derive(Clone)]
pub struct Func(Arc<Box<dyn Function>>);

impl Func {
    /// Wraps an ordinary function or closure taking its arguments by
    /// reference (`&T`, or [`List<T>`] for a list argument) and returning
    /// any `Send + Sync + 'static` value. A function returning a [`Value`]
    /// gives it as the task's value, unwrapped: the way to tell the store
    /// the size of a result it cannot see into ([`Value::with_nbytes`]).
    pub fn new<M, F: IntoFunction<M>>(name: impl Into<Arc<str>>, f: F) -> Func {
        Func(Arc::new(f.into_function(name.into())))
    }

    /// Like [`Func::new`], for functions returning `Result<T, E>`; an `Err`
    /// fails the task with `E` as the error's source.
    pub fn try_new<M, F: IntoTryFunction<M>>(name: impl Into<Arc<str>>, f: F) -> Func {
        Func(Arc::new(f.into_try_function(name.into())))
    }

    /// Binds serializable parameters to a function whose first argument is
    /// `&P` (Dask's `partial`). The parameters travel with the task, so a
    /// registered partial function can run in another process.
    ///
    /// ```
    /// use barrow_core::function::Input;
    /// use barrow_core::{Func, Value};
    ///
    /// let shift = Func::partial("shift", 10i64, |by: &i64, x: &i64| x + by)?;
    /// let out = shift.call(&[Input::Value(Value::new(5i64))])?;
    /// assert_eq!(*out.downcast_ref::<i64>()?, 15);
    /// assert!(shift.params().is_some());
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn partial<P, M, F>(name: impl Into<Arc<str>>, params: P, f: F) -> Result<Func>
    where
        P: Serialize + DeserializeOwned + Send + Sync + 'static,
        F: IntoPartialFunction<P, M>,
    {
        let name = name.into();
        let bytes = encode_params(&name, &params)?;
        Ok(Func(Arc::new(f.into_partial_function(name, params, bytes))))
    }

    /// Wraps an implementation of [`Function`].
    pub fn from_function(function: impl Function) -> Func {
        Func(Arc::new(Box::new(function)))
    }

    /// The stable name.
    pub fn name(&self) -> &str {
        self.0.name()
    }

    /// Runs the function; the error carries the function's name.
    pub fn call(&self, inputs: &[Input]) -> Result<Value> {
        self.0.call(inputs)
    }

    /// Runs the function on arguments it may move out of (see
    /// [`Function::call_taking`]).
    pub fn call_taking(&self, inputs: &mut [Input]) -> Result<Value> {
        self.0.call_taking(inputs)
    }

    /// The serialized parameters, for partial functions.
    pub fn params(&self) -> Option<&[u8]> {
        self.0.params()
    }

    /// Whether the function only picks a part out of its input
    /// ([`Function::is_selector`]).
    pub fn is_selector(&self) -> bool {
        self.0.is_selector()
    }

    /// The function as a `T`, when it is one and exposes itself through
    /// [`Function::as_any`].
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        self.0.as_any()?.downcast_ref::<T>()
    }

    /// Whether two handles are the same function: the same object, or the
    /// same name with the same parameters.
    pub fn same_as(&self, other: &Func) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.name() == other.name() && self.params() == other.params())
    }
}

impl fmt::Debug for Func {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Func({})", self.name())
    }
}
