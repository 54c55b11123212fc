//! Tasks and results as they travel: a task is its function's registered
//! name and serialized parameters, its annotations, its argument structure
//! with literals as value frames, and the frames of the values it reads; a
//! result is a frame or an error with its text.
//!
//! ```
//! use barrow_core::arg::{key, lit};
//! use barrow_core::codec::CodecRegistry;
//! use barrow_core::function::FunctionRegistry;
//! use barrow_core::{Func, Task, Value};
//! use barrow_wire::WireOptions;
//! use barrow_wire::task::{FunctionCache, TaskEncoder};
//!
//! let add = Func::new("example.add", |a: &i64, b: &i64| a + b);
//! let task = Task::call(&add, [key("x"), lit(10i64)]);
//! let codecs = CodecRegistry::with_builtins();
//!
//! // The sending side: the task's frames (its literals, then its inputs).
//! let mut encoder = TaskEncoder::new(&codecs, WireOptions::new());
//! let inputs = [Value::new(32i64)];
//! let wire = encoder.encode(0, &task, &inputs)?;
//! let frames = encoder.take_frames();
//!
//! // The receiving side, which has `example.add` registered.
//! let functions = FunctionRegistry::new();
//! functions.register(add.clone())?;
//! let mut cache = FunctionCache::default();
//! let bytes: Vec<Vec<u8>> = frames.iter().map(|f| f.to_vec()).collect();
//! let frame = |i: u32| Ok(&bytes[i as usize][..]);
//! let out = wire.run(&frame, &functions, &codecs, &mut cache)?;
//! assert_eq!(*out.downcast_ref::<i64>()?, 42);
//! # Ok::<(), barrow_core::Error>(())
//! ```

use std::collections::HashMap;

use barrow_core::codec::CodecRegistry;
use barrow_core::execute::run_task;
use barrow_core::function::FunctionRegistry;
use barrow_core::task::{Arg, Call, TaskBody};
use barrow_core::{Annotations, Error, ErrorKind, Func, Key, Task, Value};

use crate::Recycler;
use crate::frame::EncodedFrame;
use serde::{Deserialize, Serialize};

use crate::WireOptions;

/// A key as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireKey {
    /// The name.
    pub name: String,
    /// The chunk index (empty for a plain name).
    pub index: Vec<u32>,
}

impl From<&Key> for WireKey {
    fn from(key: &Key) -> WireKey {
        WireKey {
            name: key.name().to_owned(),
            index: key.index().to_vec(),
        }
    }
}

impl From<&WireKey> for Key {
    fn from(key: &WireKey) -> Key {
        if key.index.is_empty() {
            Key::new(key.name.as_str())
        } else {
            Key::with_index(key.name.as_str(), &key.index)
        }
    }
}

/// A call: the function's registered name, its parameters, its arguments.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireCall {
    /// The name the receiving process resolves in its registry.
    pub function: String,
    /// The serialized parameters bound to the function, if any.
    pub params: Option<Vec<u8>>,
    /// The arguments, in order.
    pub args: Vec<WireArg>,
}

/// One argument of a call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WireArg {
    /// A literal: the index of its frame.
    Literal(u32),
    /// The next input of the task (inputs come in argument order).
    Key,
    /// A list of arguments.
    List(Vec<WireArg>),
    /// A nested call.
    Call(WireCall),
    /// A fused task's call; its errors name its key.
    Fused(WireKey, WireCall),
}

/// What a task computes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum WireBody {
    /// A literal: the index of its frame.
    Literal(u32),
    /// The task's one input, as is.
    Alias,
    /// A call.
    Call(WireCall),
}

/// One task to run, with the frames of the values it reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireTask {
    /// The sender's id for the task, echoed in its [`TaskDone`].
    pub id: u32,
    /// Hints for the scheduler.
    pub annotations: Option<Annotations>,
    /// What it computes.
    pub body: WireBody,
    /// The frame indices of its inputs, in argument order.
    pub inputs: Vec<u32>,
}

/// A batch of tasks, sent in one message; the frames follow the body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunBatch {
    /// The computation they belong to, echoed in the answer (results of an
    /// abandoned computation are recognized and dropped).
    pub run: u64,
    /// The tasks, in the order to run them.
    pub tasks: Vec<WireTask>,
    /// Whether the worker says when each task starts
    /// ([`DoneBatch::started`]): asked when someone listens to `pretask`,
    /// so that it fires at a task's real start.
    pub report_starts: bool,
}

/// Finished tasks of one computation, sent in one message; the frames of
/// their values follow the body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DoneBatch {
    /// The computation, as its [`RunBatch`] named it.
    pub run: u64,
    /// Tasks started since the last message, in the order they started,
    /// when the batch asked for [`RunBatch::report_starts`]: every task of
    /// `done` is here or in an earlier message. A message with only starts
    /// says that a long task has begun.
    pub started: Vec<u32>,
    /// The tasks, in the order they finished.
    pub done: Vec<TaskDone>,
}

/// A failure as it travels: enough to rebuild the same [`Error`] on the
/// other side, with the remote text of what the original error was.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireError {
    /// [`ErrorKind`] by name (`TaskFailed`, `WrongType`, …).
    pub kind: String,
    /// The error's message.
    pub message: String,
    /// The key it names (a fused task's), if any.
    pub key: Option<WireKey>,
    /// The function it names, if any.
    pub function: Option<String>,
    /// The chain of `source()` texts of the original error.
    pub sources: Vec<String>,
    /// The backtrace of a panic, when one was captured.
    pub backtrace: Option<String>,
}

/// A finished task: its id and its result (a frame index) or error.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskDone {
    /// The id the task was sent with.
    pub id: u32,
    /// The frame of its value, or its error.
    pub result: Result<u32, WireError>,
}

/// The original error of a task that failed in another process: its text,
/// the texts of its sources, and the backtrace of a panic when one was
/// captured. It is the `source()` of the [`Error`] the caller sees.
#[derive(Debug, Clone)]
pub struct RemoteError {
    /// Where it happened ("worker 2 (pid 4242)").
    pub origin: String,
    /// The original error's text.
    pub message: String,
    /// The texts of the original error's sources, outermost first.
    pub sources: Vec<String>,
    /// The backtrace of a panic, if captured.
    pub backtrace: Option<String>,
}

impl std::fmt::Display for RemoteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "in {}: {}", self.origin, self.message)?;
        for source in &self.sources {
            write!(f, ": {source}")?;
        }
        if let Some(backtrace) = &self.backtrace {
            write!(f, "\nbacktrace in {}:\n{backtrace}", self.origin)?;
        }
        Ok(())
    }
}

impl std::error::Error for RemoteError {}

impl WireError {
    /// Captures `error` (and `backtrace`, for a panic) to send it.
    pub fn from_error(error: &Error, backtrace: Option<String>) -> WireError {
        let mut sources = Vec::new();
        let mut next = std::error::Error::source(error);
        // The top-level error is transparent over its repr, whose source is
        // the original error: skip texts equal to the message.
        while let Some(source) = next {
            let text = source.to_string();
            if text != error.message() && !sources.contains(&text) {
                sources.push(text);
            }
            next = source.source();
        }
        WireError {
            kind: format!("{:?}", error.kind()),
            message: error.message().to_owned(),
            key: error.key().map(WireKey::from),
            function: error.function().map(str::to_owned),
            sources,
            backtrace,
        }
    }

    /// The [`Error`] this stands for, on the receiving side; `origin` says
    /// where it happened.
    pub fn into_error(self, origin: &str) -> Error {
        let kind = kind_from_name(&self.kind);
        let mut message = self.message.clone();
        if kind == ErrorKind::TaskFailed || kind == ErrorKind::TaskPanicked {
            message = format!("{message} (in {origin})");
        }
        let remote = RemoteError {
            origin: origin.to_owned(),
            message: self.message,
            sources: self.sources,
            backtrace: self.backtrace,
        };
        let mut error = Error::new(kind, message).with_source(remote);
        if let Some(key) = &self.key {
            error = error.with_key(Key::from(key));
        }
        if let Some(function) = self.function {
            error = error.with_function(function);
        }
        error
    }
}

fn kind_from_name(name: &str) -> ErrorKind {
    const KINDS: &[ErrorKind] = &[
        ErrorKind::TaskFailed,
        ErrorKind::TaskPanicked,
        ErrorKind::WrongType,
        ErrorKind::MissingDependency,
        ErrorKind::Cycle,
        ErrorKind::MissingKey,
        ErrorKind::KeyConflict,
        ErrorKind::UnknownFunction,
        ErrorKind::DuplicateFunction,
        ErrorKind::UnknownScheduler,
        ErrorKind::NotShippable,
        ErrorKind::Codec,
        ErrorKind::Store,
        ErrorKind::Config,
        ErrorKind::InvalidArgument,
        ErrorKind::Io,
        ErrorKind::Cancelled,
        ErrorKind::TooLarge,
        ErrorKind::Worker,
        ErrorKind::KilledWorker,
        ErrorKind::Comm,
        ErrorKind::Internal,
    ];
    KINDS
        .iter()
        .copied()
        .find(|kind| format!("{kind:?}") == name)
        // A kind a newer peer knows and this build does not.
        .unwrap_or(ErrorKind::TaskFailed)
}

/// Turns tasks into their wire form, collecting the frames they refer to.
/// The frames borrow the buffers of the values they encode (vectors of
/// numbers are not copied until they are written out), so the tasks and
/// inputs outlive the encoder's frames.
#[derive(Debug)]
pub struct TaskEncoder<'c, 'v> {
    codecs: &'c CodecRegistry,
    options: WireOptions,
    frames: Vec<EncodedFrame<'v>>,
}

impl<'c, 'v> TaskEncoder<'c, 'v> {
    /// An encoder writing values with `codecs`, as `options` say.
    pub fn new(codecs: &'c CodecRegistry, options: WireOptions) -> TaskEncoder<'c, 'v> {
        TaskEncoder {
            codecs,
            options,
            frames: Vec::new(),
        }
    }

    /// Adds a frame, returning its index.
    pub fn push_frame(&mut self, frame: EncodedFrame<'v>) -> crate::Result<u32> {
        let index = u32::try_from(self.frames.len()).map_err(|_| {
            crate::Error::new(
                crate::ErrorKind::TooLarge,
                "more than 4 billion values in one message",
            )
        })?;
        self.frames.push(frame);
        Ok(index)
    }

    /// Encodes `value` as a new frame.
    pub fn push_value(&mut self, value: &'v Value) -> crate::Result<u32> {
        let frame = crate::encode_frame(value, self.codecs, &self.options)?;
        self.push_frame(frame)
    }

    /// The wire form of `task` with its `inputs` (in argument order), under
    /// `id`. A literal without a codec fails with the type's name.
    pub fn encode(
        &mut self,
        id: u32,
        task: &'v Task,
        inputs: &'v [Value],
    ) -> barrow_core::Result<WireTask> {
        let body = match task.body() {
            TaskBody::Literal(value) => WireBody::Literal(self.literal(value)?),
            TaskBody::Alias(_) => WireBody::Alias,
            TaskBody::Call(call) => WireBody::Call(self.call(call)?),
        };
        let inputs = inputs
            .iter()
            .map(|value| self.push_value(value).map_err(barrow_core::Error::from))
            .collect::<barrow_core::Result<Vec<u32>>>()?;
        Ok(WireTask {
            id,
            annotations: task.annotations().cloned(),
            body,
            inputs,
        })
    }

    /// The wire form of one call (its literals become frames).
    pub fn call(&mut self, call: &'v Call) -> barrow_core::Result<WireCall> {
        let function = call.function();
        Ok(WireCall {
            function: function.name().to_owned(),
            params: function.params().map(<[u8]>::to_vec),
            args: call
                .args()
                .iter()
                .map(|arg| self.arg(arg))
                .collect::<barrow_core::Result<_>>()?,
        })
    }

    fn arg(&mut self, arg: &'v Arg) -> barrow_core::Result<WireArg> {
        Ok(match arg {
            Arg::Literal(value) => WireArg::Literal(self.literal(value)?),
            Arg::Key(_) => WireArg::Key,
            Arg::List(items) => WireArg::List(
                items
                    .iter()
                    .map(|item| self.arg(item))
                    .collect::<barrow_core::Result<_>>()?,
            ),
            Arg::Call(call) => WireArg::Call(self.call(call)?),
            Arg::Fused(fused) => WireArg::Fused(WireKey::from(&fused.0), self.call(&fused.1)?),
        })
    }

    fn literal(&mut self, value: &'v Value) -> barrow_core::Result<u32> {
        self.push_value(value).map_err(|e| {
            Error::new(
                ErrorKind::NotShippable,
                format!(
                    "a literal of type {} cannot be sent to another process: {e}",
                    value.type_name()
                ),
            )
        })
    }

    /// The frames collected so far, in index order; the encoder starts
    /// afresh.
    pub fn take_frames(&mut self) -> Vec<EncodedFrame<'v>> {
        std::mem::take(&mut self.frames)
    }
}

/// Functions resolved by (name, parameters), so a batch of a thousand tasks
/// of one kernel resolves it once.
#[derive(Default)]
pub struct FunctionCache {
    resolved: HashMap<(String, Option<Vec<u8>>), Func>,
}

impl std::fmt::Debug for FunctionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionCache")
            .field("resolved", &self.resolved.len())
            .finish()
    }
}

/// Functions cached past this many are dropped (a stream of distinct
/// parameters must not grow a worker without bound).
const MAX_CACHED_FUNCTIONS: usize = 4096;

impl FunctionCache {
    fn resolve(
        &mut self,
        call: &WireCall,
        functions: &FunctionRegistry,
    ) -> barrow_core::Result<Func> {
        let probe = (call.function.clone(), call.params.clone());
        if let Some(func) = self.resolved.get(&probe) {
            return Ok(func.clone());
        }
        let func = functions.resolve(&call.function, call.params.as_deref())?;
        if self.resolved.len() >= MAX_CACHED_FUNCTIONS {
            self.resolved.clear();
        }
        self.resolved.insert(probe, func.clone());
        Ok(func)
    }
}

impl WireTask {
    /// Runs the task in this process: resolves its functions in
    /// `functions`, decodes its literals and inputs with `codecs` from the
    /// frames `frame` gives by index, and calls them as every scheduler
    /// does ([`run_task`]).
    pub fn run<'m>(
        &self,
        frame: &dyn Fn(u32) -> crate::Result<&'m [u8]>,
        functions: &FunctionRegistry,
        codecs: &CodecRegistry,
        cache: &mut FunctionCache,
    ) -> barrow_core::Result<Value> {
        self.run_inner(frame, functions, codecs, cache, None)
    }

    /// [`run`](Self::run), decoding vectors of numbers into buffers that
    /// `buffers` kept where it has them (what a worker process does).
    pub fn run_recycling<'m>(
        &self,
        frame: &dyn Fn(u32) -> crate::Result<&'m [u8]>,
        functions: &FunctionRegistry,
        codecs: &CodecRegistry,
        cache: &mut FunctionCache,
        buffers: &Recycler,
    ) -> barrow_core::Result<Value> {
        self.run_inner(frame, functions, codecs, cache, Some(buffers))
    }

    fn run_inner<'m>(
        &self,
        frame: &dyn Fn(u32) -> crate::Result<&'m [u8]>,
        functions: &FunctionRegistry,
        codecs: &CodecRegistry,
        cache: &mut FunctionCache,
        buffers: Option<&Recycler>,
    ) -> barrow_core::Result<Value> {
        let mut inputs = Vec::with_capacity(self.inputs.len());
        for &index in &self.inputs {
            inputs.push(decode_with(frame(index)?, codecs, buffers)?);
        }
        self.body
            .run_with(frame, inputs, functions, codecs, cache, buffers)
    }
}

fn decode_with(
    bytes: &[u8],
    codecs: &CodecRegistry,
    buffers: Option<&Recycler>,
) -> barrow_core::Result<Value> {
    Ok(match buffers {
        Some(buffers) => crate::decode_recycling(bytes, codecs, buffers)?,
        None => crate::decode(bytes, codecs)?,
    })
}

impl WireBody {
    /// Runs this body in this process with `inputs` (the values of the
    /// task's dependencies, in argument order) already at hand, as a
    /// cluster worker does with the results it holds: resolves its
    /// functions in `functions`, decodes its literals from the frames
    /// `frame` gives by index (into `buffers`' kept buffers where they
    /// fit), and calls them as every scheduler does ([`run_task`]).
    pub fn run_with<'m>(
        &self,
        frame: &dyn Fn(u32) -> crate::Result<&'m [u8]>,
        inputs: Vec<Value>,
        functions: &FunctionRegistry,
        codecs: &CodecRegistry,
        cache: &mut FunctionCache,
        buffers: Option<&Recycler>,
    ) -> barrow_core::Result<Value> {
        let decode = |index: u32| -> barrow_core::Result<Value> {
            decode_with(frame(index)?, codecs, buffers)
        };
        let mut inputs = inputs.into_iter();
        let mut read = |_: &Key| {
            inputs.next().ok_or_else(|| {
                Error::new(
                    ErrorKind::Worker,
                    "a task read more inputs than were sent with it (a damaged message?)",
                )
            })
        };
        let task = match self {
            WireBody::Literal(index) => return decode(*index),
            WireBody::Alias => return read(&Key::new("")),
            WireBody::Call(call) => Task::from_body(TaskBody::Call(rebuild_call(
                call, &decode, functions, cache,
            )?)),
        };
        run_task(&task, &mut read)
    }

    /// The names of the functions this body calls, nested calls included,
    /// each once, in the order first met.
    pub fn function_names(&self) -> Vec<&str> {
        fn visit<'a>(call: &'a WireCall, names: &mut Vec<&'a str>) {
            if !names.contains(&call.function.as_str()) {
                names.push(&call.function);
            }
            for arg in &call.args {
                visit_arg(arg, names);
            }
        }
        fn visit_arg<'a>(arg: &'a WireArg, names: &mut Vec<&'a str>) {
            match arg {
                WireArg::Literal(_) | WireArg::Key => {}
                WireArg::List(items) => items.iter().for_each(|item| visit_arg(item, names)),
                WireArg::Call(call) | WireArg::Fused(_, call) => visit(call, names),
            }
        }
        let mut names = Vec::new();
        if let WireBody::Call(call) = self {
            visit(call, &mut names);
        }
        names
    }
}

fn rebuild_call(
    call: &WireCall,
    decode: &dyn Fn(u32) -> barrow_core::Result<Value>,
    functions: &FunctionRegistry,
    cache: &mut FunctionCache,
) -> barrow_core::Result<Call> {
    let func = cache.resolve(call, functions)?;
    let args = call
        .args
        .iter()
        .map(|arg| rebuild_arg(arg, decode, functions, cache))
        .collect::<barrow_core::Result<Vec<Arg>>>()?;
    Ok(Call::new(&func, args))
}

fn rebuild_arg(
    arg: &WireArg,
    decode: &dyn Fn(u32) -> barrow_core::Result<Value>,
    functions: &FunctionRegistry,
    cache: &mut FunctionCache,
) -> barrow_core::Result<Arg> {
    Ok(match arg {
        WireArg::Literal(index) => Arg::Literal(decode(*index)?),
        // Keys are only placeholders: the task reads its inputs in order.
        WireArg::Key => Arg::Key(Key::new("input")),
        WireArg::List(items) => Arg::List(
            items
                .iter()
                .map(|item| rebuild_arg(item, decode, functions, cache))
                .collect::<barrow_core::Result<_>>()?,
        ),
        WireArg::Call(call) => Arg::Call(Box::new(rebuild_call(call, decode, functions, cache)?)),
        WireArg::Fused(key, call) => Arg::Fused(Box::new((
            Key::from(key),
            rebuild_call(call, decode, functions, cache)?,
        ))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use barrow_core::arg::{call, key, list, lit};
    use barrow_core::testing::functions::{add, checked_sqrt, inc, names, sum};

    fn round_trip(task: &Task, inputs: &[Value]) -> barrow_core::Result<Value> {
        let codecs = CodecRegistry::with_builtins();
        let mut encoder = TaskEncoder::new(&codecs, WireOptions::new());
        let wire = encoder.encode(7, task, inputs)?;
        let frames: Vec<Vec<u8>> = encoder.take_frames().iter().map(|f| f.to_vec()).collect();
        let bytes = postcard::to_allocvec(&wire).expect("a task encodes");
        let wire: WireTask = postcard::from_bytes(&bytes).expect("and decodes");
        assert_eq!(wire.id, 7);
        let functions = FunctionRegistry::new();
        functions.register_static();
        let frame = |i: u32| {
            frames
                .get(i as usize)
                .map(|f| &f[..])
                .ok_or_else(|| crate::Error::new(crate::ErrorKind::Protocol, "no such frame"))
        };
        wire.run(&frame, &functions, &codecs, &mut FunctionCache::default())
    }

    #[test]
    fn nested_calls_lists_and_literals_survive_the_trip() {
        // sum([x, 10, inc(add(y, 5))]) with x = 1, y = 2
        let task = Task::call(
            &sum(),
            [list([
                key("x"),
                lit(10i64),
                call(&inc(), [call(&add(), [key("y"), lit(5i64)])]),
            ])],
        );
        let out = round_trip(&task, &[Value::new(1i64), Value::new(2i64)]).unwrap();
        assert_eq!(*out.downcast_ref::<i64>().unwrap(), 19);
        let out = round_trip(&Task::literal(5i64), &[]).unwrap();
        assert_eq!(*out.downcast_ref::<i64>().unwrap(), 5);
        let out = round_trip(&Task::alias("x"), &[Value::new(3i64)]).unwrap();
        assert_eq!(*out.downcast_ref::<i64>().unwrap(), 3);
    }

    #[test]
    fn errors_come_back_as_the_same_kind_with_the_remote_text() {
        let task = Task::call(&checked_sqrt(), [key("x")]);
        let err = round_trip(&task, &[Value::new(-4i64)]).unwrap_err();
        let wire = WireError::from_error(&err, Some("frame 0: main".into()));
        let bytes = postcard::to_allocvec(&wire).unwrap();
        let back = postcard::from_bytes::<WireError>(&bytes)
            .unwrap()
            .into_error("worker 1 (pid 10)");
        assert_eq!(back.kind(), ErrorKind::TaskFailed);
        assert_eq!(back.function(), Some(names::CHECKED_SQRT));
        assert!(back.to_string().contains("negative input -4"), "{back}");
        assert!(back.to_string().contains("worker 1"), "{back}");
        let remote = back.source_as::<RemoteError>().unwrap();
        assert_eq!(remote.backtrace.as_deref(), Some("frame 0: main"));
    }

    #[test]
    fn unknown_functions_and_parameter_mismatches_are_errors() {
        let stray = Func::new("not.registered", |x: &i64| *x);
        let err = round_trip(&Task::call(&stray, [lit(1i64)]), &[]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnknownFunction);
        let err = round_trip(&Task::call(&inc(), [key("x")]), &[]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Worker);
    }

    #[test]
    fn a_literal_without_a_codec_names_its_type() {
        struct Opaque;
        let codecs = CodecRegistry::with_builtins();
        let mut encoder = TaskEncoder::new(&codecs, WireOptions::new());
        let task = Task::call(&inc(), [lit(Opaque)]);
        let err = encoder.encode(0, &task, &[]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotShippable);
        assert!(err.to_string().contains("Opaque"), "{err}");
    }
}
