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
