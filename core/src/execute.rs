//! What running one task means: shared by every scheduler, so they all agree.

use std::panic::{AssertUnwindSafe, catch_unwind};

use smallvec::SmallVec;

use crate::error::{Error, Result};
use crate::function::Input;
use crate::key::Key;
use crate::task::{Arg, Call, Task, TaskBody};
use crate::value::Value;

/// Runs `task`, reading the value of each key it depends on from `read`,
/// which is called once per key argument in argument order (the order of
/// [`Task::for_each_dependency`], and of a plan's dependency lists).
///
/// A function's error comes back with the function's name; a panic inside
/// the function is caught and comes back as an error whose
/// [`is_panic`](Error::is_panic) is true. The caller adds the task's key and
/// dependents.
///
/// ```
/// use barrow_core::arg::{call, key, lit};
/// use barrow_core::execute::run_task;
/// use barrow_core::{Func, Task, Value};
///
/// let inc = Func::new("inc", |x: &i64| x + 1);
/// let add = Func::new("add", |a: &i64, b: &i64| a + b);
/// // Dask's (add, (inc, 'x'), 1)
/// let task = Task::call(&add, [call(&inc, [key("x")]), lit(1i64)]);
/// let out = run_task(&task, &mut |_key| Ok(Value::new(10i64)))?;
/// assert_eq!(*out.downcast_ref::<i64>()?, 12);
/// # Ok::<(), barrow_core::Error>(())
/// ```
pub fn run_task(task: &Task, read: &mut dyn FnMut(&Key) -> Result<Value>) -> Result<Value> {
    match task.body() {
        TaskBody::Literal(value) => Ok(value.clone()),
        TaskBody::Alias(key) => read(key),
        TaskBody::Call(call) => run_call(call, read),
    }
}

fn run_call(call: &Call, read: &mut dyn FnMut(&Key) -> Result<Value>) -> Result<Value> {
    let mut inputs: SmallVec<[Input; 4]> = SmallVec::with_capacity(call.args().len());
    for arg in call.args() {
        inputs.push(resolve(arg, read)?);
    }
    let function = call.function();
    match catch_unwind(AssertUnwindSafe(|| function.call_taking(&mut inputs))) {
        Ok(result) => result.map_err(|e| e.with_function(function.name())),
        Err(payload) => {
            Err(Error::task_panicked(panic_message(&*payload)).with_function(function.name()))
        }
    }
}

fn resolve<'t>(arg: &'t Arg, read: &mut dyn FnMut(&Key) -> Result<Value>) -> Result<Input<'t>> {
    Ok(match arg {
        Arg::Literal(value) => Input::Borrowed(value),
        Arg::Key(key) => Input::Value(read(key)?),
        Arg::List(items) => Input::List(
            items
                .iter()
                .map(|item| resolve(item, read))
                .collect::<Result<Vec<_>>>()?,
        ),
        Arg::Call(call) => Input::Value(run_call(call, read)?),
        // The innermost fused task that fails names itself: `with_key`
        // keeps the first key set.
        Arg::Fused(fused) => {
            Input::Value(run_call(&fused.1, read).map_err(|e| e.with_key(fused.0.clone()))?)
        }
    })
}

/// The text of a panic payload (`panic!("...")` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}
