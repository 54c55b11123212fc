//! A plugin's description, in plain Rust: what [`export_plugin!`] exports
//! and what [`testing`](crate::testing) runs in-process.
//!
//! [`export_plugin!`]: crate::export_plugin

use std::fmt;

use crate::abi::{AbiObject, AbiRunner};
use crate::author::{Call, Error, Out, Result};
use crate::object::{Object, decode_boxed};

/// Everything a plugin provides. Build it as a `static` with struct-update
/// syntax from [`Plugin::EMPTY`] and export it with
/// [`export_plugin!`](crate::export_plugin).
#[derive(Debug)]
pub struct Plugin {
    /// The plugin's name: the namespace of its functions and configuration
    /// keys (`stats` gives `stats.zscore`). Lowercase, digits and `-`.
    pub name: &'static str,
    /// The plugin's version, usually `env!("CARGO_PKG_VERSION")`.
    pub version: &'static str,
    /// One line on what it provides.
    pub description: &'static str,
    /// The configuration keys it reads, declared in the YAML format of
    /// `barrow_config::register_namespace` (keys relative to its name).
    pub config: &'static str,
    /// Task functions.
    pub functions: &'static [Function],
    /// Codecs for its own types.
    pub codecs: &'static [Codec],
    /// Steps run once in every worker before it takes tasks.
    pub setup: &'static [Setup],
    /// Schedulers.
    pub schedulers: &'static [Scheduler],
    /// Hooks on a cluster's events (since barrow-plugin 1.2).
    pub hooks: &'static [Hook],
}

impl Plugin {
    /// A plugin that provides nothing, to fill the fields not given.
    pub const EMPTY: Plugin = Plugin {
        name: "",
        version: "0.0.0",
        description: "",
        config: "",
        functions: &[],
        codecs: &[],
        setup: &[],
        schedulers: &[],
        hooks: &[],
    };
}

/// The body of a plugin function.
pub type FunctionBody = fn(&Call<'_>, &mut Out<'_, '_>) -> Result<()>;

/// A task function: called with a task's arguments, it puts one result in
/// [`Out`]. It should work on whole chunks (an array block, a bag partition):
/// a call into a plugin costs a few nanoseconds more than a native one.
pub struct Function {
    /// Its name in the plugin's namespace.
    pub name: &'static str,
    /// One paragraph on what it does and takes.
    pub doc: &'static str,
    /// Whether tasks bind parameters to it ([`Call::params`]).
    pub takes_params: bool,
    /// The body.
    pub body: FunctionBody,
}

impl Function {
    /// A function without parameters.
    pub const fn new(name: &'static str, doc: &'static str, body: FunctionBody) -> Function {
        Function {
            name,
            doc,
            takes_params: false,
            body,
        }
    }
}

impl Function {
    /// A function whose tasks bind parameters ([`Call::params`]): the host
    /// encodes them with postcard (an `f64` is its 8 little-endian bytes).
    pub const fn with_params(
        name: &'static str,
        doc: &'static str,
        body: FunctionBody,
    ) -> Function {
        Function {
            name,
            doc,
            takes_params: true,
            body,
        }
    }
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("name", &self.name)
            .finish()
    }
}

/// The codec of an [`Object`] type.
pub struct Codec {
    /// [`Object::TAG`].
    pub tag: &'static str,
    pub(crate) type_name: fn() -> &'static str,
    pub(crate) decode: fn(&[u8]) -> Result<AbiObject>,
}

impl Codec {
    /// The codec of `T`.
    pub const fn of<T: Object>() -> Codec {
        Codec {
            tag: T::TAG,
            type_name: std::any::type_name::<T>,
            decode: decode_boxed::<T>,
        }
    }

    /// The Rust type it encodes.
    pub fn type_name(&self) -> &'static str {
        (self.type_name)()
    }
}

impl fmt::Debug for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Codec").field("tag", &self.tag).finish()
    }
}

/// Where a set-up step runs and the configuration it reads.
#[derive(Debug, Clone)]
pub struct SetupContext {
    pub(crate) worker: u32,
    pub(crate) config: Vec<(String, String)>,
}

impl SetupContext {
    /// A context for worker `worker` (0: the program itself), with
    /// configuration values as `(key, JSON)` pairs.
    pub fn new(worker: u32, config: Vec<(String, String)>) -> SetupContext {
        SetupContext { worker, config }
    }

    /// The worker's id; 0 for the program itself.
    pub fn worker(&self) -> u32 {
        self.worker
    }

    /// The JSON text of configuration key `key` (relative to the plugin's
    /// namespace), if set.
    pub fn config_json(&self, key: &str) -> Option<&str> {
        self.config
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Configuration key `key` as a list of strings (empty when unset).
    pub fn config_strings(&self, key: &str) -> Result<Vec<String>> {
        match self.config_json(key) {
            None | Some("null") => Ok(Vec::new()),
            Some(json) => serde_json::from_str::<Vec<String>>(json).map_err(|e| {
                Error::new(format!(
                    "configuration key '{key}' should be a list of strings: {e}"
                ))
            }),
        }
    }

    /// Configuration key `key` as a string, if set.
    pub fn config_string(&self, key: &str) -> Result<Option<String>> {
        match self.config_json(key) {
            None | Some("null") => Ok(None),
            Some(json) => serde_json::from_str::<String>(json).map(Some).map_err(|e| {
                Error::new(format!("configuration key '{key}' should be a string: {e}"))
            }),
        }
    }

    /// Configuration key `key` as a bool (`false` when unset).
    pub fn config_bool(&self, key: &str) -> Result<bool> {
        match self.config_json(key) {
            None | Some("null") | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(Error::new(format!(
                "configuration key '{key}' should be true or false, not {other}"
            ))),
        }
    }
}

/// What a set-up step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// A line for the log.
    pub message: String,
    /// Whether the worker must restart to see what the step installed.
    pub restart: bool,
}

/// A worker set-up step (Dask's `PipInstall`): run once in every worker
/// before it takes tasks, and in the program itself on the threads
/// scheduler.
pub struct Setup {
    /// Its name in the plugin's namespace.
    pub name: &'static str,
    /// One paragraph on what it does and the keys it reads.
    pub doc: &'static str,
    /// The body.
    pub run: fn(&SetupContext) -> Result<Outcome>,
}

impl fmt::Debug for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Setup").field("name", &self.name).finish()
    }
}

/// A task graph as a plugin scheduler sees it.
#[derive(Debug)]
pub struct Graph<'a> {
    pub(crate) keys: &'a [abi_stable::std_types::RString],
    pub(crate) dependencies: &'a [abi_stable::std_types::RVec<usize>],
    pub(crate) outputs: &'a [usize],
}

impl Graph<'_> {
    /// How many tasks.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Task `index`'s key.
    pub fn key(&self, index: usize) -> &str {
        self.keys.get(index).map(|k| k.as_str()).unwrap_or("")
    }

    /// The tasks task `index` needs.
    pub fn dependencies(&self, index: usize) -> &[usize] {
        self.dependencies
            .get(index)
            .map(|d| d.as_slice())
            .unwrap_or(&[])
    }

    /// The tasks whose results were asked for.
    pub fn outputs(&self) -> &[usize] {
        self.outputs
    }
}

/// Runs tasks in the host for a plugin scheduler; shareable between threads.
pub struct Runner<'a> {
    pub(crate) inner: AbiRunner<'a>,
}

impl fmt::Debug for Runner<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Runner")
    }
}

impl Runner<'_> {
    /// Runs task `index` (its dependencies must have run).
    pub fn run(&self, index: usize) -> Result<()> {
        self.inner
            .run(index)
            .into_result()
            .map_err(|e| Error::new(e.message.into_string()))
    }

    /// Lets the host drop task `index`'s result: no task left needs it.
    pub fn release(&self, index: usize) {
        self.inner.release(index);
    }
}

/// A scheduler: given the graph, it decides when each task runs.
pub struct Scheduler {
    /// The name it is chosen by (`BARROW_SCHEDULER=<name>`); not namespaced.
    pub name: &'static str,
    /// One paragraph on how it schedules.
    pub doc: &'static str,
    /// The body.
    pub run: fn(&Graph<'_>, &Runner<'_>) -> Result<()>,
}

impl fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scheduler")
            .field("name", &self.name)
            .finish()
    }
}

/// Something that happened in a cluster, as a [`Hook`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// This process's worker joined its scheduler and is about to take
    /// tasks (Dask's `WorkerPlugin.setup`).
    WorkerStarted {
        /// The worker's name.
        worker: &'a str,
    },
    /// This process's worker is closing (`WorkerPlugin.teardown`).
    WorkerClosing {
        /// The worker's name.
        worker: &'a str,
        /// Why.
        reason: &'a str,
    },
    /// This process's scheduler listens (`SchedulerPlugin.start`).
    SchedulerStarted {
        /// Its address.
        address: &'a str,
    },
    /// This process's scheduler is closing (`SchedulerPlugin.close`).
    SchedulerClosing,
    /// A worker joined the scheduler (`SchedulerPlugin.add_worker`).
    WorkerAdded {
        /// Its name.
        worker: &'a str,
    },
    /// A worker left the scheduler (`SchedulerPlugin.remove_worker`).
    WorkerRemoved {
        /// Its name.
        worker: &'a str,
        /// Why.
        reason: &'a str,
    },
    /// A task changed state on the scheduler (`SchedulerPlugin.transition`):
    /// `released`, `waiting`, `queued`, `no-worker`, `processing`,
    /// `memory`, `erred`.
    Transition {
        /// The task's key, as Dask prints it.
        key: &'a str,
        /// The state it left.
        from: &'a str,
        /// The state it entered.
        to: &'a str,
        /// The worker it runs on or is held by (empty when none).
        worker: &'a str,
    },
}

/// The body of a hook: it sees every event of the processes that loaded
/// its plugin and returns quickly (transitions come by the thousand). An
/// error or a panic is reported by the host and the cluster goes on.
pub type HookBody = fn(&Event<'_>) -> Result<()>;

/// A hook on a cluster's events (Dask's worker and scheduler plugins).
pub struct Hook {
    /// Its name in the plugin's namespace: one hook of a name runs per
    /// process, however often the plugin is loaded or uploaded.
    pub name: &'static str,
    /// One paragraph on what it does.
    pub doc: &'static str,
    /// The body.
    pub on: HookBody,
}

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hook").field("name", &self.name).finish()
    }
}
