//! Adapters from ordinary Rust functions and closures to [`Function`].
//!
//! A closure such as `|a: &i64, b: &i64| a + b` implements `Fn(&'x i64, &'x i64)`
//! for every lifetime `'x`. The adapters name the argument types through
//! [`FromInput`], whose `Item<'a>` re-attaches the lifetime of the borrowed
//! inputs; asking for both `Fn(A, B)` (which lets the compiler infer `A` and
//! `B` from the closure) and `for<'a> Fn(A::Item<'a>, B::Item<'a>)` (which is
//! what gets called) is the trick bevy uses for its systems.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Index;
use std::sync::Arc;

use super::{Function, Input};
use crate::error::{BoxError, Error, ErrorKind, Result};
use crate::value::Value;

/// An argument type a typed function can take: `&T` for a value of type `T`,
/// [`List<T>`] for a list of `T`s, or [`Raw`] for the unconverted input.
pub trait FromInput {
    /// The argument type with the lifetime of the borrowed input.
    type Item<'a>;

    /// Converts one input, failing with the expected and actual types.
    fn from_input<'a>(input: &'a Input<'a>) -> Result<Self::Item<'a>>;
}

impl<T: Send + Sync + 'static> FromInput for &T {
    type Item<'a> = &'a T;

    fn from_input<'a>(input: &'a Input<'a>) -> Result<&'a T> {
        input.as_value()?.downcast_ref::<T>()
    }
}

/// A list argument whose elements are all `T`s, borrowed from the inputs
/// (Dask's `(sum, ['a', 'b', 'c'])`).
///
/// ```
/// use barrow_core::Func;
/// use barrow_core::function::List;
///
/// let mean = Func::new("mean", |xs: List<f64>| {
///     xs.iter().sum::<f64>() / xs.len() as f64
/// });
/// # let _ = mean;
/// ```
pub struct List<'a, T> {
    items: Vec<&'a T>,
}

impl<'a, T> List<'a, T> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The element at `index`.
    pub fn get(&self, index: usize) -> Option<&'a T> {
        self.items.get(index).copied()
    }

    /// Iterates over the elements.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &'a T> + '_ {
        self.items.iter().copied()
    }

    /// The elements as a slice of references.
    pub fn as_slice(&self) -> &[&'a T] {
        &self.items
    }
}

impl<T> Index<usize> for List<'_, T> {
    type Output = T;

    fn index(&self, index: usize) -> &T {
        self.items[index]
    }
}

impl<'a, 'l, T> IntoIterator for &'l List<'a, T> {
    type Item = &'a T;
    type IntoIter = std::iter::Copied<std::slice::Iter<'l, &'a T>>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter().copied()
    }
}

impl<T: fmt::Debug> fmt::Debug for List<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.items.iter()).finish()
    }
}

impl<T: Send + Sync + 'static> FromInput for List<'_, T> {
    type Item<'a> = List<'a, T>;

    fn from_input<'a>(input: &'a Input<'a>) -> Result<List<'a, T>> {
        let items = input
            .as_list()?
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_value()
                    .and_then(Value::downcast_ref::<T>)
                    .map_err(|e| Error::new(e.kind(), format!("list element {i}: {}", e.message())))
            })
            .collect::<Result<Vec<&T>>>()?;
        Ok(List { items })
    }
}

/// The unconverted input, for functions that inspect types themselves.
#[derive(Debug, Clone, Copy)]
pub struct Raw<'a>(pub &'a Input<'a>);

impl FromInput for Raw<'_> {
    type Item<'a> = Raw<'a>;

    fn from_input<'a>(input: &'a Input<'a>) -> Result<Raw<'a>> {
        Ok(Raw(input))
    }
}

/// Functions and closures that [`Func::new`](crate::Func::new) accepts.
/// `M` is an inference marker; users never name it.
pub trait IntoFunction<M>: Send + Sync + 'static {
    /// Wraps `self` under `name`.
    fn into_function(self, name: Arc<str>) -> Box<dyn Function>;
}

/// Functions and closures returning `Result` that
/// [`Func::try_new`](crate::Func::try_new) accepts.
pub trait IntoTryFunction<M>: Send + Sync + 'static {
    /// Wraps `self` under `name`.
    fn into_try_function(self, name: Arc<str>) -> Box<dyn Function>;
}

/// Functions and closures whose first argument is `&P`, which
/// [`Func::partial`](crate::Func::partial) binds.
pub trait IntoPartialFunction<P, M>: Send + Sync + 'static {
    /// Wraps `self` under `name` with `params` (and their encoding) bound.
    fn into_partial_function(self, name: Arc<str>, params: P, bytes: Vec<u8>) -> Box<dyn Function>;
}

struct Typed<F, M> {
    name: Arc<str>,
    f: F,
    marker: PhantomData<fn() -> M>,
}

struct TypedTry<F, M> {
    name: Arc<str>,
    f: F,
    marker: PhantomData<fn() -> M>,
}

struct TypedPartial<F, P, M> {
    name: Arc<str>,
    params: P,
    bytes: Vec<u8>,
    f: F,
    marker: PhantomData<fn() -> M>,
}

fn arity_error(name: &str, expected: usize, got: usize) -> Error {
    let plural = if expected == 1 { "" } else { "s" };
    Error::new(
        ErrorKind::WrongType,
        format!("takes {expected} argument{plural}, got {got}"),
    )
    .with_function(name)
}

fn argument_error(name: &str, position: usize, error: Error) -> Error {
    Error::new(
        error.kind(),
        format!("argument {position}: {}", error.message()),
    )
    .with_function(name)
}

/// Turns a user error into a task failure, keeping a Barrow error as it is.
fn user_error(name: &str, error: impl Into<BoxError>) -> Error {
    match error.into().downcast::<Error>() {
        Ok(error) => *error,
        Err(other) => Error::task_failed(other),
    }
    .with_function(name)
}

/// A function's result as a task's value: a [`Value`] it returns is the
/// value itself (a function that measures its result with
/// [`Value::with_nbytes`] returns one); anything else is wrapped.
fn into_value<R: Send + Sync + 'static>(result: R) -> Value {
    let mut slot = Some(result);
    // The type test is on a compile-time constant: free for every other R.
    if let Some(value) = (&mut slot as &mut dyn std::any::Any)
        .downcast_mut::<Option<Value>>()
        .and_then(Option::take)
    {
        return value;
    }
    // `slot` still holds the result unless it was a `Value`, taken above.
    slot.map_or_else(|| Value::new(()), Value::new)
}

macro_rules! impl_typed {
    ($n:literal; $($arg:ident $var:ident $pos:literal),*) => {
        impl<F, R, $($arg,)*> IntoFunction<(R, $($arg,)*)> for F
        where
            F: Send + Sync + 'static,
            F: Fn($($arg),*) -> R,
            F: for<'a> Fn($(<$arg as FromInput>::Item<'a>),*) -> R,
            R: Send + Sync + 'static,
            $($arg: FromInput + 'static,)*
        {
            fn into_function(self, name: Arc<str>) -> Box<dyn Function> {
                Box::new(Typed { name, f: self, marker: PhantomData::<fn() -> (R, $($arg,)*)> })
            }
        }

        impl<F, R, $($arg,)*> Function for Typed<F, (R, $($arg,)*)>
        where
            F: Send + Sync + 'static,
            F: for<'a> Fn($(<$arg as FromInput>::Item<'a>),*) -> R,
            R: Send + Sync + 'static,
            $($arg: FromInput + 'static,)*
        {
            fn name(&self) -> &str {
                &self.name
            }

            #[allow(unused_variables, reason = "zero-argument functions ignore their inputs")]
            fn call(&self, inputs: &[Input]) -> Result<Value> {
                let [$($var),*] = inputs else {
                    return Err(arity_error(&self.name, $n, inputs.len()));
                };
                $(let $var = $arg::from_input($var).map_err(|e| argument_error(&self.name, $pos, e))?;)*
                Ok(into_value((self.f)($($var),*)))
            }
        }

        impl<F, T, E, $($arg,)*> IntoTryFunction<(T, E, $($arg,)*)> for F
        where
            F: Send + Sync + 'static,
            F: Fn($($arg),*) -> std::result::Result<T, E>,
            F: for<'a> Fn($(<$arg as FromInput>::Item<'a>),*) -> std::result::Result<T, E>,
            T: Send + Sync + 'static,
            E: Into<BoxError> + 'static,
            $($arg: FromInput + 'static,)*
        {
            fn into_try_function(self, name: Arc<str>) -> Box<dyn Function> {
                Box::new(TypedTry { name, f: self, marker: PhantomData::<fn() -> (T, E, $($arg,)*)> })
            }
        }

        impl<F, T, E, $($arg,)*> Function for TypedTry<F, (T, E, $($arg,)*)>
        where
            F: Send + Sync + 'static,
            F: for<'a> Fn($(<$arg as FromInput>::Item<'a>),*) -> std::result::Result<T, E>,
            T: Send + Sync + 'static,
            E: Into<BoxError> + 'static,
            $($arg: FromInput + 'static,)*
        {
            fn name(&self) -> &str {
                &self.name
            }

            #[allow(unused_variables, reason = "zero-argument functions ignore their inputs")]
            fn call(&self, inputs: &[Input]) -> Result<Value> {
                let [$($var),*] = inputs else {
                    return Err(arity_error(&self.name, $n, inputs.len()));
                };
                $(let $var = $arg::from_input($var).map_err(|e| argument_error(&self.name, $pos, e))?;)*
                match (self.f)($($var),*) {
                    Ok(out) => Ok(into_value(out)),
                    Err(e) => Err(user_error(&self.name, e)),
                }
            }
        }

        impl<F, P, R, $($arg,)*> IntoPartialFunction<P, (R, $($arg,)*)> for F
        where
            F: Send + Sync + 'static,
            F: Fn(&P, $($arg),*) -> R,
            F: for<'a> Fn(&'a P, $(<$arg as FromInput>::Item<'a>),*) -> R,
            P: Send + Sync + 'static,
            R: Send + Sync + 'static,
            $($arg: FromInput + 'static,)*
        {
            fn into_partial_function(
                self,
                name: Arc<str>,
                params: P,
                bytes: Vec<u8>,
            ) -> Box<dyn Function> {
                Box::new(TypedPartial {
                    name,
                    params,
                    bytes,
                    f: self,
                    marker: PhantomData::<fn() -> (R, $($arg,)*)>,
                })
            }
        }

        impl<F, P, R, $($arg,)*> Function for TypedPartial<F, P, (R, $($arg,)*)>
        where
            F: Send + Sync + 'static,
            F: for<'a> Fn(&'a P, $(<$arg as FromInput>::Item<'a>),*) -> R,
            P: Send + Sync + 'static,
            R: Send + Sync + 'static,
            $($arg: FromInput + 'static,)*
        {
            fn name(&self) -> &str {
                &self.name
            }

            fn params(&self) -> Option<&[u8]> {
                Some(&self.bytes)
            }

            #[allow(unused_variables, reason = "zero-argument functions ignore their inputs")]
            fn call(&self, inputs: &[Input]) -> Result<Value> {
                let [$($var),*] = inputs else {
                    return Err(arity_error(&self.name, $n, inputs.len()));
                };
                $(let $var = $arg::from_input($var).map_err(|e| argument_error(&self.name, $pos, e))?;)*
                Ok(into_value((self.f)(&self.params, $($var),*)))
            }
        }
    };
}

impl_typed!(0;);
impl_typed!(1; A a 1);
impl_typed!(2; A a 1, B b 2);
impl_typed!(3; A a 1, B b 2, C c 3);
impl_typed!(4; A a 1, B b 2, C c 3, D d 4);
impl_typed!(5; A a 1, B b 2, C c 3, D d 4, E2 e 5);
impl_typed!(6; A a 1, B b 2, C c 3, D d 4, E2 e 5, G g 6);

#[cfg(test)]
mod tests {
    use crate::{ErrorKind, Func, Value};

    use super::*;

    fn v<T: Send + Sync + 'static>(x: T) -> Input<'static> {
        Input::Value(Value::new(x))
    }

    #[test]
    fn a_returned_value_is_the_task_value_itself() {
        let measured = Func::new("measured", |n: &usize| Value::with_nbytes(vec![0u8; 1], *n));
        let out = measured.call(&[v(4096usize)]).unwrap();
        assert_eq!(out.nbytes(), 4096);
        assert_eq!(out.downcast_ref::<Vec<u8>>().unwrap(), &[0]);
        let fallible = Func::try_new("fallible", |n: &usize| {
            Ok::<_, std::fmt::Error>(Value::with_nbytes((), *n))
        });
        assert_eq!(fallible.call(&[v(7usize)]).unwrap().nbytes(), 7);
        let plain = Func::new("plain", |n: &usize| *n + 1);
        assert_eq!(
            *plain
                .call(&[v(1usize)])
                .unwrap()
                .downcast_ref::<usize>()
                .unwrap(),
            2
        );
    }

    #[test]
    fn arity_mismatch_is_an_error() {
        let add = Func::new("add", |a: &i64, b: &i64| a + b);
        let err = add.call(&[v(1i64)]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WrongType);
        assert_eq!(err.to_string(), "function 'add': takes 2 arguments, got 1");
    }

    #[test]
    fn wrong_argument_type_names_position_and_types() {
        let add = Func::new("add", |a: &i64, b: &i64| a + b);
        let err = add.call(&[v(1i64), v(2.5f64)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "function 'add': argument 2: wrong value type: expected i64, got f64"
        );
    }

    #[test]
    fn list_element_of_wrong_type() {
        let total = Func::new("total", |xs: List<i64>| xs.iter().sum::<i64>());
        let err = total
            .call(&[Input::List(vec![v(1i64), v("two")])])
            .unwrap_err();
        assert!(err.to_string().contains("list element 1"), "{err}");
        let err = total.call(&[v(1i64)]).unwrap_err();
        assert!(err.to_string().contains("expected a list"), "{err}");
    }

    #[test]
    fn try_functions_keep_barrow_errors() {
        let f = Func::try_new("check", |x: &i64| {
            if *x < 0 {
                Err(Error::new(ErrorKind::Config, "negative"))
            } else {
                Ok(*x)
            }
        });
        let err = f.call(&[v(-1i64)]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert_eq!(err.function(), Some("check"));
        let g = Func::try_new("msg", |_: &i64| Err::<i64, _>("plain message"));
        let err = g.call(&[v(1i64)]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TaskFailed);
        assert_eq!(err.to_string(), "function 'msg': plain message");
    }

    #[test]
    fn zero_and_six_arguments() {
        let zero = Func::new("zero", || 0u8);
        assert_eq!(*zero.call(&[]).unwrap().downcast_ref::<u8>().unwrap(), 0);
        let six = Func::new("six", |a: &u8, b: &u8, c: &u8, d: &u8, e: &u8, f: &u8| {
            a + b + c + d + e + f
        });
        let args: Vec<Input> = (1..=6u8).map(v).collect();
        assert_eq!(*six.call(&args).unwrap().downcast_ref::<u8>().unwrap(), 21);
    }

    #[test]
    fn raw_inputs() {
        let kind = Func::new("kind", |x: Raw| matches!(x.0, Input::List(_)));
        let out = kind.call(&[Input::List(vec![])]).unwrap();
        assert!(*out.downcast_ref::<bool>().unwrap());
    }
}
