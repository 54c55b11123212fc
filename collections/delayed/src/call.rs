//! Delayed functions: [`delayed`], [`delayed_try`], [`DelayedFn`] and the
//! arguments they take ([`IntoArg`]).

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use barrow_core::function::{IntoFunction, IntoTryFunction, List};
use barrow_core::tokenize::{Tokenize, token_name, tokenize};
use barrow_core::{Arg, Func, Key, Task, Value};

use crate::Delayed;
use crate::graph::{Built, unique_key};

/// Wraps a function or closure so that calling it builds a task instead of
/// running it (Dask's `delayed(f)`).
///
/// The function takes its arguments by reference (`&T`), or as a
/// [`List<T>`] for a list argument, exactly as [`Func::new`] accepts; `name`
/// is its stable name, used as the prefix of the keys it produces and in
/// error reports. Give different functions different names: the name, not
/// the closure, identifies the function in keys.
///
/// ```
/// use barrow_delayed::{Delayed, delayed};
///
/// let inc = delayed("inc", |x: &i64| x + 1);
/// let y = inc.call(Delayed::value(1i64));
/// assert!(y.key().name().starts_with("inc-"));
/// ```
pub fn delayed<M, F: IntoDelayed<M>>(
    name: impl Into<Arc<str>>,
    f: F,
) -> DelayedFn<F::Params, F::Output> {
    DelayedFn::from_func(f.into_func(name.into()))
}

/// Like [`delayed`], for functions returning `Result<T, E>`: an `Err` fails
/// the task (and the computation) with `E` as the error's source, the
/// function's name and the task's key.
///
/// ```
/// use barrow_delayed::delayed_try;
///
/// let parse = delayed_try("parse", |s: &String| s.parse::<i64>());
/// let n = parse.call(String::from("42"));
/// # let _ = n;
/// ```
pub fn delayed_try<M, F: IntoDelayedTry<M>>(
    name: impl Into<Arc<str>>,
    f: F,
) -> DelayedFn<F::Params, F::Output> {
    DelayedFn::from_func(f.into_func(name.into()))
}

/// Functions and closures [`delayed`] accepts: those [`Func::new`] accepts
/// whose arguments are `&T` or [`List<T>`]. `M` is an inference marker.
pub trait IntoDelayed<M> {
    /// The parameter kinds, one per argument (`T` for `&T`, [`Many<T>`] for
    /// `List<T>`), as a tuple.
    type Params;
    /// What the function returns.
    type Output;
    /// The task function.
    fn into_func(self, name: Arc<str>) -> Func;
}

/// Functions and closures returning `Result` that [`delayed_try`] accepts.
/// `M` is an inference marker.
pub trait IntoDelayedTry<M> {
    /// The parameter kinds, as for [`IntoDelayed::Params`].
    type Params;
    /// The `Ok` type.
    type Output;
    /// The task function.
    fn into_func(self, name: Arc<str>) -> Func;
}

/// A parameter type of a typed function, mapped to the kind of argument a
/// delayed call takes for it.
pub trait Param {
    /// `T` for `&T`, [`Many<T>`] for [`List<T>`].
    type Kind;
}

impl<T: Send + Sync + 'static> Param for &'static T {
    type Kind = T;
}

impl<T: Send + Sync + 'static> Param for List<'static, T> {
    type Kind = Many<T>;
}

/// The parameter kind of a [`List<T>`] argument: pass a `Vec<Delayed<T>>`,
/// a `&[Delayed<T>]` or a plain `Vec<T>` (Dask traverses lists of delayed
/// values in the same way).
pub struct Many<T>(PhantomData<fn() -> T>);

impl<T> fmt::Debug for Many<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Many<{}>", std::any::type_name::<T>())
    }
}

macro_rules! impl_into_delayed {
    ($($arg:ident),+) => {
        impl<F, R, $($arg,)+> IntoDelayed<(R, $($arg,)+)> for F
        where
            F: IntoFunction<(R, $($arg,)+)>,
            $($arg: Param,)+
        {
            type Params = ($($arg::Kind,)+);
            type Output = R;
            fn into_func(self, name: Arc<str>) -> Func {
                Func::new(name, self)
            }
        }

        impl<F, T, E, $($arg,)+> IntoDelayedTry<(T, E, $($arg,)+)> for F
        where
            F: IntoTryFunction<(T, E, $($arg,)+)>,
            $($arg: Param,)+
        {
            type Params = ($($arg::Kind,)+);
            type Output = T;
            fn into_func(self, name: Arc<str>) -> Func {
                Func::try_new(name, self)
            }
        }
    };
}
impl_into_delayed!(A);
impl_into_delayed!(A, B);
impl_into_delayed!(A, B, C);
impl_into_delayed!(A, B, C, D);

/// A delayed function: calling it with [`DelayedFn::call`] builds a task and
/// returns a [`Delayed`] handle to its result. Cheap to clone.
///
/// `P` is the tuple of parameter kinds ([`Param::Kind`]), `R` the result.
pub struct DelayedFn<P, R> {
    func: Func,
    pure: bool,
    marker: PhantomData<fn(P) -> R>,
}

impl<P, R> DelayedFn<P, R> {
    /// A delayed function from an existing [`Func`] (a registered
    /// `#[barrow::task]`, a partial function), with its parameter kinds and
    /// result type named by the caller. A mismatch is reported when the
    /// task runs, as a wrong-type error naming both types.
    ///
    /// ```
    /// use barrow_core::Func;
    /// use barrow_delayed::{Delayed, DelayedFn};
    ///
    /// let shift = Func::partial("shift", 10i64, |by: &i64, x: &i64| x + by)?;
    /// let shift: DelayedFn<(i64,), i64> = DelayedFn::from_func(shift);
    /// let y = shift.call(Delayed::value(5i64));
    /// # let _ = y;
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn from_func(func: Func) -> DelayedFn<P, R> {
        DelayedFn {
            func,
            pure: true,
            marker: PhantomData,
        }
    }

    /// Whether calls get deterministic keys (the default, Dask's
    /// `pure=True`): the same function on the same arguments gives the same
    /// key, so the work is shared and done once. With `false` every call
    /// gets a fresh key, for functions whose result changes from call to
    /// call (a random sample, the time, a file read that may change).
    pub fn pure(mut self, pure: bool) -> DelayedFn<P, R> {
        self.pure = pure;
        self
    }

    /// The task function.
    pub fn func(&self) -> &Func {
        &self.func
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        self.func.name()
    }

    /// Builds the task `func(args…)`.
    fn build(&self, args: Vec<DelayedArg>) -> Delayed<R> {
        let key = if self.pure {
            let tokens: Vec<&str> = args.iter().map(|a| a.token.as_str()).collect();
            Key::new(token_name(self.name(), &(tokenize(&self.func), tokens)))
        } else {
            unique_key(self.name())
        };
        let mut built = Built::merge(args.iter().flat_map(|a| a.graphs.iter()));
        let task = Task::call(&self.func, args.into_iter().map(|a| a.arg));
        built.push(self.name(), key.clone(), task);
        Delayed::from_parts(built, key)
    }
}

macro_rules! impl_call {
    ($($kind:ident $var:ident),+) => {
        impl<R, $($kind,)+> DelayedFn<($($kind,)+), R> {
            /// Builds a task calling the function on these arguments: plain
            /// values, [`Delayed`] handles (owned or borrowed), or, for a
            /// [`List<T>`] parameter, lists of them. Nothing runs until the
            /// result is computed.
            pub fn call(&self, $($var: impl IntoArg<$kind>),+) -> Delayed<R> {
                self.build(vec![$($var.into_arg()),+])
            }
        }
    };
}
impl_call!(A a);
impl_call!(A a, B b);
impl_call!(A a, B b, C c);
impl_call!(A a, B b, C c, D d);

impl<P, R> Clone for DelayedFn<P, R> {
    fn clone(&self) -> Self {
        DelayedFn {
            func: self.func.clone(),
            pure: self.pure,
            marker: PhantomData,
        }
    }
}

impl<P, R> fmt::Debug for DelayedFn<P, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayedFn")
            .field("name", &self.name())
            .field("pure", &self.pure)
            .finish()
    }
}

/// One argument of a delayed call, ready to go into a task: the task
/// argument, its token (a delayed argument's token is its key) and the
/// graphs it brings along. Built by the [`IntoArg`] implementations.
pub struct DelayedArg {
    arg: Arg,
    token: String,
    graphs: Vec<Built>,
}

impl DelayedArg {
    /// A plain value, embedded in the task; its token is its content.
    pub fn literal<T: Tokenize + Send + Sync + 'static>(value: T) -> DelayedArg {
        DelayedArg {
            token: tokenize(&value),
            arg: Arg::Literal(Value::new(value)),
            graphs: Vec::new(),
        }
    }

    /// The output of a delayed handle; its token is its key.
    pub fn from_delayed<T>(delayed: &Delayed<T>) -> DelayedArg {
        DelayedArg {
            token: tokenize(delayed.key()),
            arg: Arg::Key(delayed.key().clone()),
            graphs: vec![delayed.built().clone()],
        }
    }

    /// A list argument made of `items`.
    pub fn list(items: impl IntoIterator<Item = DelayedArg>) -> DelayedArg {
        let mut args = Vec::new();
        let mut tokens = Vec::new();
        let mut graphs = Vec::new();
        for item in items {
            args.push(item.arg);
            tokens.push(item.token);
            graphs.extend(item.graphs);
        }
        DelayedArg {
            arg: Arg::List(args.into()),
            token: tokenize(&("list", tokens)),
            graphs,
        }
    }
}

impl fmt::Debug for DelayedArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayedArg")
            .field("arg", &self.arg)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// What a delayed call accepts for a parameter of kind `P`: for `&T`, a `T`
/// (which must implement [`Tokenize`], for the key), a `Delayed<T>` or a
/// `&Delayed<T>`; for [`List<T>`] ([`Many<T>`]), a `Vec`, slice or array of
/// `Delayed<T>`, or a plain `Vec<T>`.
pub trait IntoArg<P> {
    /// The argument.
    fn into_arg(self) -> DelayedArg;
}

impl<T: Tokenize + Send + Sync + 'static> IntoArg<T> for T {
    fn into_arg(self) -> DelayedArg {
        DelayedArg::literal(self)
    }
}

impl<T> IntoArg<T> for Delayed<T> {
    fn into_arg(self) -> DelayedArg {
        DelayedArg::from_delayed(&self)
    }
}

impl<T> IntoArg<T> for &Delayed<T> {
    fn into_arg(self) -> DelayedArg {
        DelayedArg::from_delayed(self)
    }
}

impl<T> IntoArg<Many<T>> for &[Delayed<T>] {
    fn into_arg(self) -> DelayedArg {
        DelayedArg::list(self.iter().map(DelayedArg::from_delayed))
    }
}

impl<T> IntoArg<Many<T>> for &Vec<Delayed<T>> {
    fn into_arg(self) -> DelayedArg {
        self.as_slice().into_arg()
    }
}

impl<T> IntoArg<Many<T>> for Vec<Delayed<T>> {
    fn into_arg(self) -> DelayedArg {
        self.as_slice().into_arg()
    }
}

impl<T, const N: usize> IntoArg<Many<T>> for [Delayed<T>; N] {
    fn into_arg(self) -> DelayedArg {
        self.as_slice().into_arg()
    }
}

impl<T: Tokenize + Send + Sync + 'static> IntoArg<Many<T>> for Vec<T> {
    fn into_arg(self) -> DelayedArg {
        DelayedArg::list(self.into_iter().map(DelayedArg::literal))
    }
}
