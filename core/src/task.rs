//! Tasks: a literal, an alias, or a call of a function on arguments.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::function::Func;
use crate::key::Key;
use crate::value::Value;

/// What a task computes, plus its [`Annotations`].
///
/// Dask's `{'a': 1, 'c': (add, 'a', 'b'), 'd': (sum, ['a', 'b', 'c'])}`:
///
/// ```
/// use barrow_core::arg::{key, list};
/// use barrow_core::function::List;
/// use barrow_core::{Func, Task};
///
/// let add = Func::new("add", |a: &i64, b: &i64| a + b);
/// let sum = Func::new("sum", |xs: List<i64>| xs.iter().sum::<i64>());
///
/// let a = Task::literal(1i64);
/// let c = Task::call(&add, [key("a"), key("b")]);
/// let d = Task::call(&sum, [list([key("a"), key("b"), key("c")])]);
/// assert_eq!(d.to_string(), "sum([a, b, c])");
/// assert_eq!(c.dependencies().len(), 2);
/// # let _ = a;
/// ```
#[derive(Clone)]
pub struct Task {
    body: TaskBody,
    annotations: Option<Arc<Annotations>>,
}

/// The three kinds of task.
#[derive(Clone)]
pub enum TaskBody {
    /// A value given as is.
    Literal(Value),
    /// The value of another key.
    Alias(Key),
    /// A function applied to arguments.
    Call(Call),
}

/// A function applied to arguments.
#[derive(Clone)]
pub struct Call {
    function: Func,
    args: Box<[Arg]>,
}

/// One argument of a call.
#[derive(Clone)]
pub enum Arg {
    /// A value given as is.
    Literal(Value),
    /// The value of another task.
    Key(Key),
    /// A list of arguments, passed to the function as one list argument.
    List(Box<[Arg]>),
    /// A nested call, evaluated first (Dask's `(add, (inc, 'x'), 1)`).
    Call(Box<Call>),
    /// The call of the task `key`, merged into this one by an optimization
    /// (fusion, inlining) and evaluated first. It computes what the plain
    /// call computes; an error inside it names `key`, the task that failed.
    Fused(Box<(Key, Call)>),
}

/// Hints for schedulers, carried by every task and by the wire format even
/// where a scheduler ignores them today (Dask's annotations).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Annotations {
    /// Higher runs sooner among ready tasks (Dask's `priority`).
    pub priority: i32,
    /// How many times to re-run the task after a failure.
    pub retries: u32,
    /// Workers the task may run on (names or addresses); empty means any.
    pub workers: Vec<String>,
    /// Whether the task may run elsewhere when the listed workers are busy.
    pub allow_other_workers: bool,
    /// Abstract resources the task holds while it runs (`("GPU", 1.0)`).
    pub resources: Vec<(String, f64)>,
}

impl Annotations {
    /// Default annotations.
    pub fn new() -> Annotations {
        Annotations::default()
    }

    /// Sets the priority.
    pub fn priority(mut self, priority: i32) -> Annotations {
        self.priority = priority;
        self
    }

    /// Sets the number of retries.
    pub fn retries(mut self, retries: u32) -> Annotations {
        self.retries = retries;
        self
    }

    /// Restricts the task to these workers.
    pub fn workers(mut self, workers: impl IntoIterator<Item = impl Into<String>>) -> Annotations {
        self.workers = workers.into_iter().map(Into::into).collect();
        self
    }

    /// Lets the task run on other workers when none of those listed can
    /// (Dask's `allow_other_workers`).
    pub fn allow_other_workers(mut self, allow: bool) -> Annotations {
        self.allow_other_workers = allow;
        self
    }

    /// Requires an amount of an abstract resource.
    pub fn resource(mut self, name: impl Into<String>, amount: f64) -> Annotations {
        self.resources.push((name.into(), amount));
        self
    }
}

impl Task {
    /// A task whose value is `data`.
    pub fn literal<T: Send + Sync + 'static>(data: T) -> Task {
        Task::from_body(TaskBody::Literal(Value::new(data)))
    }

    /// A task whose value is an existing [`Value`].
    pub fn value(value: Value) -> Task {
        Task::from_body(TaskBody::Literal(value))
    }

    /// A task whose value is the value of `key`.
    pub fn alias(key: impl Into<Key>) -> Task {
        Task::from_body(TaskBody::Alias(key.into()))
    }

    /// A task calling `function` on `args`.
    pub fn call(function: &Func, args: impl IntoIterator<Item = Arg>) -> Task {
        Task::from_body(TaskBody::Call(Call::new(function, args)))
    }

    /// A task from its body.
    pub fn from_body(body: TaskBody) -> Task {
        Task {
            body,
            annotations: None,
        }
    }

    /// The same task with annotations.
    pub fn with_annotations(mut self, annotations: impl Into<Arc<Annotations>>) -> Task {
        self.annotations = Some(annotations.into());
        self
    }

    /// What the task computes.
    pub fn body(&self) -> &TaskBody {
        &self.body
    }

    /// What the task computes, taken out of it.
    pub fn into_body(self) -> TaskBody {
        self.body
    }

    /// Its annotations, if any were set.
    pub fn annotations(&self) -> Option<&Annotations> {
        self.annotations.as_deref()
    }

    /// The shared annotations, to copy to derived tasks without allocating.
    pub fn shared_annotations(&self) -> Option<&Arc<Annotations>> {
        self.annotations.as_ref()
    }

    /// The name of the function called, if the task is a call.
    pub fn function_name(&self) -> Option<&str> {
        match &self.body {
            TaskBody::Call(call) => Some(call.function.name()),
            _ => None,
        }
    }

    /// The keys this task reads, in argument order (repeated when read twice).
    pub fn dependencies(&self) -> Vec<Key> {
        let mut keys = Vec::new();
        self.for_each_dependency(&mut |k| keys.push(k.clone()));
        keys
    }

    /// Calls `visit` on every key this task reads, in argument order.
    pub fn for_each_dependency(&self, visit: &mut impl FnMut(&Key)) {
        match &self.body {
            TaskBody::Literal(_) => {}
            TaskBody::Alias(key) => visit(key),
            TaskBody::Call(call) => call.for_each_dependency(visit),
        }
    }

    /// Whether two tasks compute the same thing: the same functions (by name
    /// and parameters), keys, and literal values (the same data, or equal
    /// scalars and strings).
    pub fn same_as(&self, other: &Task) -> bool {
        match (&self.body, &other.body) {
            (TaskBody::Literal(a), TaskBody::Literal(b)) => same_value(a, b),
            (TaskBody::Alias(a), TaskBody::Alias(b)) => a == b,
            (TaskBody::Call(a), TaskBody::Call(b)) => a.same_as(b),
            _ => false,
        }
    }
}

impl Call {
    /// `function` applied to `args`.
    pub fn new(function: &Func, args: impl IntoIterator<Item = Arg>) -> Call {
        Call {
            function: function.clone(),
            args: args.into_iter().collect(),
        }
    }

    /// The function called.
    pub fn function(&self) -> &Func {
        &self.function
    }

    /// The arguments.
    pub fn args(&self) -> &[Arg] {
        &self.args
    }

    /// Calls `visit` on every key read by this call, nested calls included.
    pub fn for_each_dependency(&self, visit: &mut impl FnMut(&Key)) {
        for arg in self.args.iter() {
            arg.for_each_dependency(visit);
        }
    }

    fn same_as(&self, other: &Call) -> bool {
        self.function.same_as(&other.function)
            && self.args.len() == other.args.len()
            && self
                .args
                .iter()
                .zip(other.args.iter())
                .all(|(a, b)| a.same_as(b))
    }
}

impl Arg {
    /// Calls `visit` on every key this argument reads.
    pub fn for_each_dependency(&self, visit: &mut impl FnMut(&Key)) {
        match self {
            Arg::Literal(_) => {}
            Arg::Key(key) => visit(key),
            Arg::List(items) => items.iter().for_each(|a| a.for_each_dependency(visit)),
            Arg::Call(call) => call.for_each_dependency(visit),
            Arg::Fused(fused) => fused.1.for_each_dependency(visit),
        }
    }

    /// The nested call, if this argument is one (fused or not).
    pub fn as_call(&self) -> Option<&Call> {
        match self {
            Arg::Call(call) => Some(call),
            Arg::Fused(fused) => Some(&fused.1),
            _ => None,
        }
    }

    fn same_as(&self, other: &Arg) -> bool {
        match (self, other) {
            (Arg::Literal(a), Arg::Literal(b)) => same_value(a, b),
            (Arg::Key(a), Arg::Key(b)) => a == b,
            (Arg::List(a), Arg::List(b)) => {
                a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.same_as(y))
            }
            _ => match (self.as_call(), other.as_call()) {
                // Where a call came from does not change what it computes.
                (Some(a), Some(b)) => a.same_as(b),
                _ => false,
            },
        }
    }
}

/// Values are the same when they are the same data, or equal scalars/strings.
fn same_value(a: &Value, b: &Value) -> bool {
    if a.ptr_eq(b) {
        return true;
    }
    let (a, b) = (a.as_any(), b.as_any());
    macro_rules! try_eq {
        ($($t:ty),*) => {
            $(if let (Some(x), Some(y)) = (a.downcast_ref::<$t>(), b.downcast_ref::<$t>()) {
                return x == y;
            })*
        };
    }
    crate::value::for_each_scalar!(try_eq);
    try_eq!(String, &'static str);
    // Geometry (offsets, shapes) that array tasks carry.
    try_eq!(Vec<usize>, Vec<u64>, Vec<u32>, Vec<i64>, Vec<isize>);
    false
}

/// Short constructors for arguments: `key("a")`, `lit(1)`, `list([...])`,
/// `call(&f, [...])`.
pub mod arg {
    use super::{Arg, Call};
    use crate::function::Func;
    use crate::key::Key;
    use crate::value::Value;

    /// The value of the task named `key`.
    pub fn key(key: impl Into<Key>) -> Arg {
        Arg::Key(key.into())
    }

    /// A literal value.
    pub fn lit<T: Send + Sync + 'static>(data: T) -> Arg {
        Arg::Literal(Value::new(data))
    }

    /// An existing [`Value`] as a literal.
    pub fn value(value: Value) -> Arg {
        Arg::Literal(value)
    }

    /// A list of arguments.
    pub fn list(items: impl IntoIterator<Item = Arg>) -> Arg {
        Arg::List(items.into_iter().collect())
    }

    /// A list of keys.
    pub fn keys<K: Into<Key>>(keys: impl IntoIterator<Item = K>) -> Arg {
        Arg::List(keys.into_iter().map(|k| Arg::Key(k.into())).collect())
    }

    /// A nested call.
    pub fn call(function: &Func, args: impl IntoIterator<Item = Arg>) -> Arg {
        Arg::Call(Box::new(Call::new(function, args)))
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.body {
            TaskBody::Literal(value) => write!(f, "{}", value.short()),
            TaskBody::Alias(key) => write!(f, "alias of {key}"),
            TaskBody::Call(call) => write!(f, "{call}"),
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.function.name())?;
        write_args(f, &self.args)?;
        f.write_str(")")
    }
}

fn write_args(f: &mut fmt::Formatter<'_>, args: &[Arg]) -> fmt::Result {
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        match arg {
            Arg::Literal(value) => write!(f, "{}", value.short())?,
            Arg::Key(key) => write!(f, "{key}")?,
            Arg::List(items) => {
                f.write_str("[")?;
                write_args(f, items)?;
                f.write_str("]")?;
            }
            Arg::Call(call) => write!(f, "{call}")?,
            Arg::Fused(fused) => write!(f, "{}", fused.1)?,
        }
    }
    Ok(())
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Task({self})")
    }
}

impl fmt::Debug for TaskBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskBody::Literal(v) => f.debug_tuple("Literal").field(v).finish(),
            TaskBody::Alias(k) => f.debug_tuple("Alias").field(k).finish(),
            TaskBody::Call(c) => f.debug_tuple("Call").field(c).finish(),
        }
    }
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Debug for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_args_debug(f, std::slice::from_ref(self))
    }
}

fn write_args_debug(f: &mut fmt::Formatter<'_>, args: &[Arg]) -> fmt::Result {
    struct Args<'a>(&'a [Arg]);
    impl fmt::Display for Args<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write_args(f, self.0)
        }
    }
    write!(f, "{}", Args(args))
}
