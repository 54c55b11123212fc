//! Steps that crates linked into the program add to every computation and to
//! every worker process, without the schedulers knowing them: this is how the
//! plugin host loads the configured plugins before a computation picks its
//! scheduler, and how process workers load the same plugins as their parent.

use std::fmt;

use crate::error::Result;
use crate::registry::Registry;

/// A hook linked in with `inventory::submit!`. Every function must be cheap
/// when it has nothing to do: `before_run` runs for every computation.
pub struct ProcessHook {
    /// Who adds it, for errors and logs.
    pub name: &'static str,
    /// Before every computation, with its registry and configuration; an
    /// error fails the computation before anything runs. Returns whether it
    /// declared configuration keys (a plugin's): the computation then reads
    /// its configuration again and calls every hook once more.
    pub before_run: fn(&Registry, &barrow_config::Snapshot) -> Result<bool>,
    /// Variables a process pool adds to its workers' environment.
    pub worker_env: fn() -> Vec<(String, String)>,
    /// In a worker process, before it joins its pool: returns whether the
    /// worker must restart (run its program afresh) to see what it set up.
    pub worker_start: fn(worker: u32, &Registry) -> Result<bool>,
}

impl fmt::Debug for ProcessHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessHook")
            .field("name", &self.name)
            .finish()
    }
}

inventory::collect!(ProcessHook);

/// Runs every hook's `before_run`; true when one declared configuration
/// keys.
pub fn before_run(registry: &Registry, config: &barrow_config::Snapshot) -> Result<bool> {
    let plugin_host = inventory::iter::<ProcessHook>
        .into_iter()
        .any(|hook| hook.name == "barrow-plugin-host");
    if !plugin_host {
        let wanted: Vec<String> = config.get("plugins.load")?.unwrap_or_default();
        if !wanted.is_empty() {
            return Err(crate::Error::new(
                crate::ErrorKind::Config,
                format!(
                    "plugins.load asks for {wanted:?}, but this program cannot load plugins: \
                     build it with the barrow crate's `plugins` feature (or link \
                     barrow-plugin-host and call barrow_plugin_host::link())"
                ),
            ));
        }
    }
    let mut declared = false;
    for hook in inventory::iter::<ProcessHook> {
        declared |= (hook.before_run)(registry, config)?;
    }
    Ok(declared)
}

/// Every hook's variables for a worker's environment.
pub fn worker_env() -> Vec<(String, String)> {
    inventory::iter::<ProcessHook>
        .into_iter()
        .flat_map(|hook| (hook.worker_env)())
        .collect()
}

/// Runs every hook's `worker_start`; true when one asks for a restart.
pub fn worker_start(worker: u32, registry: &Registry) -> Result<bool> {
    let mut restart = false;
    for hook in inventory::iter::<ProcessHook> {
        restart |= (hook.worker_start)(worker, registry)?;
    }
    Ok(restart)
}

/// Another way a program's process can be a worker (a cluster's, say):
/// the worker hook (`barrow_processes::worker_main`) asks each one linked
/// in whether this process was started as such a worker, and runs the
/// first that says so instead of the program.
pub struct WorkerMode {
    /// Who adds it, for errors and logs.
    pub name: &'static str,
    /// Whether this process was started as this kind of worker (read
    /// from its environment); cheap.
    pub active: fn() -> bool,
    /// Runs the worker, after the program's set-up function ran with the
    /// outcome given; returns the process's exit code.
    pub run: fn(setup: Result<()>) -> i32,
}

impl fmt::Debug for WorkerMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerMode")
            .field("name", &self.name)
            .finish()
    }
}

inventory::collect!(WorkerMode);

/// The worker mode this process was started in, if any.
pub fn active_worker_mode() -> Option<&'static WorkerMode> {
    inventory::iter::<WorkerMode>
        .into_iter()
        .find(|mode| (mode.active)())
}

/// What loading a plugin file did, for the worker that loaded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedPlugin {
    /// The plugin's name and version (`stats 1.2.0`).
    pub name: String,
    /// Its set-up steps ran and one asks the worker to restart.
    pub restart: bool,
}

/// Loads a plugin file at run time (into a cluster's worker, say): linked
/// in by the plugin host, so a scheduler crate needs no dependency on it.
pub struct PluginLoader {
    /// Who adds it, for errors and logs.
    pub name: &'static str,
    /// Checks and loads the library at `path`, registers what it provides
    /// in `registry`, and runs its set-up steps as worker `worker` with
    /// `config`.
    pub load: fn(
        path: &std::path::Path,
        worker: u32,
        registry: &Registry,
        config: &barrow_config::Snapshot,
    ) -> Result<LoadedPlugin>,
    /// The plugins loaded in this process, as `name version`.
    pub loaded: fn() -> Vec<String>,
}

impl fmt::Debug for PluginLoader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginLoader")
            .field("name", &self.name)
            .finish()
    }
}

inventory::collect!(PluginLoader);

/// Loads the plugin at `path` through the linked plugin loader; an error
/// when this program cannot load plugins.
pub fn load_plugin(
    path: &std::path::Path,
    worker: u32,
    registry: &Registry,
    config: &barrow_config::Snapshot,
) -> Result<LoadedPlugin> {
    match inventory::iter::<PluginLoader>.into_iter().next() {
        Some(loader) => (loader.load)(path, worker, registry, config),
        None => Err(crate::Error::new(
            crate::ErrorKind::Config,
            format!(
                "{} is a plugin, but this program cannot load plugins: build it with the barrow \
                 crate's `plugins` feature (the `barrow` command has it with `--features full`)",
                path.display()
            ),
        )),
    }
}

/// The plugins loaded in this process, as `name version`, sorted (none
/// when this program cannot load plugins): what a cluster compares between
/// a client and its workers.
pub fn loaded_plugins() -> Vec<String> {
    let mut names: Vec<String> = inventory::iter::<PluginLoader>
        .into_iter()
        .flat_map(|loader| (loader.loaded)())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Something that happened in a cluster, as hooks see it (the plugin
/// ABI's events, on this side of the boundary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterEvent<'a> {
    /// This process's worker joined its scheduler.
    WorkerStarted {
        /// The worker's name.
        worker: &'a str,
    },
    /// This process's worker is closing.
    WorkerClosing {
        /// The worker's name.
        worker: &'a str,
        /// Why.
        reason: &'a str,
    },
    /// This process's scheduler listens.
    SchedulerStarted {
        /// Its address.
        address: &'a str,
    },
    /// This process's scheduler is closing.
    SchedulerClosing,
    /// A worker joined the scheduler.
    WorkerAdded {
        /// Its name.
        worker: &'a str,
    },
    /// A worker left the scheduler.
    WorkerRemoved {
        /// Its name.
        worker: &'a str,
        /// Why.
        reason: &'a str,
    },
    /// A task changed state on the scheduler (Dask's state names).
    Transition {
        /// The task's key.
        key: &'a str,
        /// The state it left.
        from: &'a str,
        /// The state it entered.
        to: &'a str,
        /// The worker it runs on or is held by (empty when none).
        worker: &'a str,
    },
}

/// A hook on a cluster's events: a plugin's (the plugin host registers
/// them as it loads plugins) or the program's own.
pub trait ClusterHook: Send + Sync {
    /// Its full name (`stats.audit`): one hook of a name per process.
    fn name(&self) -> &str;
    /// Sees an event; an error (or a panic) is reported and the cluster
    /// goes on.
    fn on_event(&self, event: &ClusterEvent<'_>) -> Result<()>;
}

/// The hooks of this process.
fn cluster_hooks() -> &'static std::sync::RwLock<Vec<std::sync::Arc<dyn ClusterHook>>> {
    static HOOKS: std::sync::OnceLock<std::sync::RwLock<Vec<std::sync::Arc<dyn ClusterHook>>>> =
        std::sync::OnceLock::new();
    HOOKS.get_or_init(Default::default)
}

/// Whether any hook is registered: a relaxed load, so the scheduler's hot
/// paths pay nothing without hooks.
static ANY_CLUSTER_HOOK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The failures of hooks, newest last (at most [`FAILURES_KEPT`]).
fn hook_failures() -> &'static std::sync::Mutex<std::collections::VecDeque<(String, String)>> {
    static FAILURES: std::sync::OnceLock<
        std::sync::Mutex<std::collections::VecDeque<(String, String)>>,
    > = std::sync::OnceLock::new();
    FAILURES.get_or_init(Default::default)
}

/// How many hook failures [`cluster_hook_failures`] keeps.
pub const FAILURES_KEPT: usize = 100;

/// Registers `hook`; false (and nothing changes) when one of its name is
/// registered already: loading or uploading a plugin twice runs its hooks
/// once.
pub fn add_cluster_hook(hook: std::sync::Arc<dyn ClusterHook>) -> bool {
    let mut hooks = cluster_hooks()
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if hooks.iter().any(|h| h.name() == hook.name()) {
        return false;
    }
    hooks.push(hook);
    ANY_CLUSTER_HOOK.store(true, std::sync::atomic::Ordering::Release);
    true
}

/// Whether this process has cluster hooks.
pub fn has_cluster_hooks() -> bool {
    ANY_CLUSTER_HOOK.load(std::sync::atomic::Ordering::Relaxed)
}

/// The names of this process's cluster hooks.
pub fn cluster_hook_names() -> Vec<String> {
    cluster_hooks()
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .map(|h| h.name().to_owned())
        .collect()
}

/// Hands `event` to every hook. A hook that fails or panics is kept in
/// [`cluster_hook_failures`] and returned, (hook, what happened), for the
/// caller to log; the others and the cluster go on.
pub fn cluster_event(event: &ClusterEvent<'_>) -> Vec<(String, String)> {
    deliver(event, |_| true)
}

/// [`cluster_event`] for the hooks named `names` only: a worker that has
/// just loaded a plugin tells its new hooks that it runs (Dask runs a
/// worker plugin's `setup` when it is registered).
pub fn cluster_event_to(names: &[String], event: &ClusterEvent<'_>) -> Vec<(String, String)> {
    deliver(event, |name| names.iter().any(|n| n == name))
}

fn deliver(event: &ClusterEvent<'_>, to: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    let mut failed = Vec::new();
    if !has_cluster_hooks() {
        return failed;
    }
    let hooks = cluster_hooks()
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    for hook in hooks.iter().filter(|h| to(h.name())) {
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook.on_event(event)));
        let failure = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => error.to_string(),
            Err(panic) => format!("panicked: {}", crate::execute::panic_message(&*panic)),
        };
        failed.push((hook.name().to_owned(), failure.clone()));
        let mut failures = hook_failures()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if failures.len() == FAILURES_KEPT {
            failures.pop_front();
        }
        failures.push_back((hook.name().to_owned(), failure));
    }
    failed
}

/// The latest failures of this process's hooks: (hook, what happened).
pub fn cluster_hook_failures() -> Vec<(String, String)> {
    hook_failures()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .cloned()
        .collect()
}
