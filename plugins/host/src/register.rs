//! What a loaded plugin provides, registered into a [`Registry`] through
//! adapters that implement the native traits: functions, codecs, schedulers;
//! and its set-up steps, run once per process.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use abi_stable::sabi_types::{RMut, RRef};
use abi_stable::std_types::{RErr, ROk, RResult, RSlice};
use abi_stable::type_level::downcasting::TD_Opaque;
use barrow_core::function::{Function, Input, Origin};
use barrow_core::scheduler::Scheduler;
use barrow_core::{Error as CoreError, ErrorKind, Func, Graph, Key, Registry, RunContext, Value};
use barrow_plugin::abi::{
    AbiError, AbiGraph, ConfigEntry, FunctionsTable, RunnerImpl, RunnerImpl_TO, SchedulersTable,
    SetupEnv, SinkImpl_TO,
};

use crate::convert::{HostSink, arg, prepare};
use crate::error::{Error, Result};
use crate::load::Plugin;
use crate::object::{OBJECT_TAG, ObjectCodec, add_decoders};

/// A plugin function as a native [`Function`].
struct ForeignFunction {
    name: Arc<str>,
    table: &'static FunctionsTable,
    index: usize,
    params: Option<Vec<u8>>,
}

impl Function for ForeignFunction {
    fn name(&self) -> &str {
        &self.name
    }

    fn params(&self) -> Option<&[u8]> {
        self.params.as_deref()
    }

    fn call(&self, inputs: &[Input]) -> barrow_core::Result<Value> {
        let mut prepared = prepare(&self.name, inputs)?;
        let args = prepared
            .iter_mut()
            .enumerate()
            .map(|(i, p)| arg(&self.name, i, p))
            .collect::<barrow_core::Result<smallvec::SmallVec<[_; 4]>>>()?;
        let mut sink = HostSink::new();
        let result = (self.table.call)(
            self.index,
            RSlice::from_slice(self.params.as_deref().unwrap_or_default()),
            RSlice::from_slice(&args),
            SinkImpl_TO::from_ptr(RMut::new(&mut sink), TD_Opaque),
        );
        match result {
            ROk(()) => sink.finish(&self.name),
            RErr(e) => Err(failure(&format!("plugin function {}", self.name), &e)),
        }
    }
}

fn failure(what: &str, error: &AbiError) -> CoreError {
    if error.panicked {
        CoreError::new(
            ErrorKind::TaskPanicked,
            format!("{what} panicked: {}", error.message),
        )
    } else {
        CoreError::new(
            ErrorKind::TaskFailed,
            format!("{what} failed: {}", error.message),
        )
    }
}

/// (registry address, plugin file) pairs already registered.
fn registered() -> &'static Mutex<HashSet<(usize, PathBuf)>> {
    static REGISTERED: OnceLock<Mutex<HashSet<(usize, PathBuf)>>> = OnceLock::new();
    REGISTERED.get_or_init(Default::default)
}

/// The files of every plugin registered in the process-wide registry, in a
/// stable order: what workers load.
pub(crate) fn registered_paths() -> Vec<PathBuf> {
    let global = std::ptr::from_ref(Registry::global()) as usize;
    let done = registered().lock().unwrap_or_else(PoisonError::into_inner);
    let mut paths: Vec<PathBuf> = done
        .iter()
        .filter(|(registry, _)| *registry == global)
        .map(|(_, path)| path.clone())
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Registers everything `plugin` provides into `registry` (once: a second
/// call does nothing): functions under `<plugin>.<name>`, codecs, schedulers,
/// and its configuration keys. A name another plugin (or the program) took
/// is an error naming both, and nothing of this plugin is registered.
/// Returns whether this call registered it (false: done before).
pub fn register(plugin: &Plugin, registry: &Registry) -> Result<bool> {
    let id = (
        std::ptr::from_ref(registry) as usize,
        plugin.path().to_path_buf(),
    );
    let mut done = registered().lock().unwrap_or_else(PoisonError::into_inner);
    if done.contains(&id) {
        return Ok(false);
    }
    let fail = |source: CoreError| Error::Register {
        plugin: plugin.name().to_owned(),
        path: plugin.path().to_path_buf(),
        source,
    };
    let origin = Origin::Plugin(plugin.name().to_owned());
    if let Some(table) = plugin.functions {
        let names: Vec<String> = table
            .functions
            .iter()
            .map(|f| format!("{}.{}", plugin.name(), f.name))
            .collect();
        // Checked first, so that a clash registers nothing.
        for name in &names {
            if let Some(existing) = registry.functions().entry(name) {
                return Err(fail(CoreError::new(
                    ErrorKind::DuplicateFunction,
                    format!(
                        "function '{name}' is registered twice: by {} and by {origin}; load only \
                         one of them",
                        existing.origin()
                    ),
                )));
            }
        }
        for (index, (decl, name)) in table.functions.iter().zip(names).enumerate() {
            let name: Arc<str> = name.into();
            if decl.takes_params {
                let made = name.clone();
                registry
                    .functions()
                    .register_factory(
                        &name,
                        move |bytes| {
                            Ok(Func::from_function(ForeignFunction {
                                name: made.clone(),
                                table,
                                index,
                                params: Some(bytes.to_vec()),
                            }))
                        },
                        origin.clone(),
                    )
                    .map_err(fail)?;
            } else {
                let func = Func::from_function(ForeignFunction {
                    name,
                    table,
                    index,
                    params: None,
                });
                registry
                    .functions()
                    .register_from(func, origin.clone())
                    .map_err(fail)?;
            }
        }
    }
    if let Some(table) = plugin.codecs {
        add_decoders(plugin.name(), table).map_err(fail)?;
        if registry.codecs().by_tag(OBJECT_TAG).is_err() {
            registry
                .codecs()
                .register(Arc::new(ObjectCodec))
                .map_err(fail)?;
        }
    }
    if let Some(table) = plugin.schedulers {
        for (index, decl) in table.schedulers.iter().enumerate() {
            let name = decl.name.to_string();
            let made = name.clone();
            registry
                .schedulers()
                .register(&[name.as_str()], move |_| {
                    Ok(Arc::new(ForeignScheduler {
                        name: made.clone(),
                        table,
                        index,
                    }) as Arc<dyn Scheduler>)
                })
                .map_err(fail)?;
        }
    }
    if !plugin.config_declarations().trim().is_empty() {
        barrow_config::register_namespace(plugin.name(), plugin.config_declarations())?;
    }
    done.insert(id);
    Ok(true)
}

/// A plugin scheduler as a native [`Scheduler`]: the plugin decides the
/// order, this process runs the tasks and keeps their results.
struct ForeignScheduler {
    name: String,
    table: &'static SchedulersTable,
    index: usize,
}

impl Scheduler for ForeignScheduler {
    fn name(&self) -> &str {
        &self.name
    }

    fn get(
        &self,
        graph: &Graph,
        keys: &[Key],
        _ctx: &mut RunContext<'_>,
    ) -> barrow_core::Result<Vec<Value>> {
        let runner = HostRunner::new(graph, keys)?;
        let abi = runner.abi_graph();
        let result = (self.table.schedule)(
            self.index,
            &abi,
            RunnerImpl_TO::from_ptr(RRef::new(&runner), TD_Opaque),
        );
        // A task's own error is the one to report, with its key and kind.
        if let Some(error) = runner.first_error() {
            return Err(error);
        }
        if let RErr(e) = result {
            return Err(failure(&format!("plugin scheduler '{}'", self.name), &e));
        }
        runner.outputs(&self.name, keys)
    }
}

/// The tasks a computation needs, by index, and their results.
struct HostRunner<'g> {
    tasks: Vec<(Key, &'g barrow_core::Task)>,
    index: std::collections::HashMap<Key, usize>,
    results: Vec<Mutex<Option<Value>>>,
    outputs: Vec<usize>,
    error: Mutex<Option<CoreError>>,
}

impl<'g> HostRunner<'g> {
    fn new(graph: &'g Graph, keys: &[Key]) -> barrow_core::Result<HostRunner<'g>> {
        let mut runner = HostRunner {
            tasks: Vec::new(),
            index: Default::default(),
            results: Vec::new(),
            outputs: Vec::new(),
            error: Mutex::new(None),
        };
        let mut stack: Vec<(Key, Option<Key>)> = keys.iter().map(|k| (k.clone(), None)).collect();
        while let Some((key, needed_by)) = stack.pop() {
            if runner.index.contains_key(&key) {
                continue;
            }
            let Some(task) = graph.get(&key) else {
                return Err(match needed_by {
                    None => CoreError::new(
                        ErrorKind::MissingKey,
                        format!("key '{key}' is not in the graph"),
                    ),
                    Some(by) => CoreError::new(
                        ErrorKind::MissingDependency,
                        format!("task '{by}' needs '{key}', which is not in the graph"),
                    ),
                });
            };
            runner.index.insert(key.clone(), runner.tasks.len());
            task.for_each_dependency(&mut |dep| stack.push((dep.clone(), Some(key.clone()))));
            runner.tasks.push((key, task));
        }
        runner.results = runner.tasks.iter().map(|_| Mutex::new(None)).collect();
        runner.outputs = keys
            .iter()
            .filter_map(|k| runner.index.get(k).copied())
            .collect();
        Ok(runner)
    }

    fn abi_graph(&self) -> AbiGraph {
        AbiGraph {
            keys: self
                .tasks
                .iter()
                .map(|(k, _)| k.to_string().into())
                .collect(),
            dependencies: self
                .tasks
                .iter()
                .map(|(_, task)| {
                    let mut deps = abi_stable::std_types::RVec::new();
                    task.for_each_dependency(&mut |dep| {
                        if let Some(&i) = self.index.get(dep) {
                            deps.push(i);
                        }
                    });
                    deps
                })
                .collect(),
            outputs: self.outputs.iter().copied().collect(),
        }
    }

    fn first_error(&self) -> Option<CoreError> {
        self.error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn outputs(&self, scheduler: &str, keys: &[Key]) -> barrow_core::Result<Vec<Value>> {
        keys.iter()
            .map(|key| {
                self.index
                    .get(key)
                    .and_then(|&i| {
                        self.results[i]
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .clone()
                    })
                    .ok_or_else(|| {
                        CoreError::new(
                            ErrorKind::Internal,
                            format!(
                                "plugin scheduler '{scheduler}' finished without computing '{key}'"
                            ),
                        )
                    })
            })
            .collect()
    }

    fn run_task(&self, index: usize) -> barrow_core::Result<()> {
        let (key, task) = self.tasks.get(index).ok_or_else(|| {
            CoreError::new(ErrorKind::Internal, format!("no task number {index}"))
        })?;
        let value = barrow_core::execute::run_task(task, &mut |dep| {
            self.index
                .get(dep)
                .and_then(|&i| {
                    self.results[i]
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone()
                })
                .ok_or_else(|| {
                    CoreError::new(
                        ErrorKind::MissingDependency,
                        format!(
                            "the scheduler ran '{key}' before '{dep}', which it needs (or after \
                             releasing it)"
                        ),
                    )
                })
        })
        .map_err(|e| e.with_key(key.clone()))?;
        *self.results[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(value);
        Ok(())
    }
}

impl RunnerImpl for HostRunner<'_> {
    fn run(&self, index: usize) -> RResult<(), AbiError> {
        match self.run_task(index) {
            Ok(()) => ROk(()),
            Err(error) => {
                let message = error.to_string();
                self.error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_or_insert(error);
                RErr(AbiError {
                    panicked: false,
                    message: message.into(),
                })
            }
        }
    }

    fn release(&self, index: usize) {
        if !self.outputs.contains(&index)
            && let Some(slot) = self.results.get(index)
        {
            *slot.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
    }
}

/// Set-up steps already run in this process, with their configuration.
fn setup_done() -> &'static Mutex<HashSet<(PathBuf, usize, String)>> {
    static DONE: OnceLock<Mutex<HashSet<(PathBuf, usize, String)>>> = OnceLock::new();
    DONE.get_or_init(Default::default)
}

/// `plugin`'s configuration in `config`: (key without the namespace, JSON).
pub(crate) fn setup_config(
    plugin: &Plugin,
    config: &barrow_config::Snapshot,
) -> Result<Vec<(String, String)>> {
    let prefix = format!("{}.", plugin.name());
    let mut entries: Vec<(String, String)> = Vec::new();
    for lookup in config.iter() {
        if let Some(key) = lookup.key().strip_prefix(&prefix) {
            entries.push((key.to_owned(), crate::config::to_json(&lookup.setting()?)));
        }
    }
    // A snapshot taken before the plugin declared its keys holds them as
    // unknown keys (from files and the environment), as their layers gave
    // them.
    for (key, layers) in config.unknown_keys() {
        if let (Some(key), Some(entry)) = (key.strip_prefix(&prefix), layers.last())
            && !entries.iter().any(|(k, _)| k == key)
        {
            entries.push((key.to_owned(), crate::config::value_to_json(entry.value())));
        }
    }
    Ok(entries)
}

/// Each plugin's configuration for its set-up steps: (key, JSON) pairs by
/// plugin file.
type SetupConfigs = std::collections::BTreeMap<PathBuf, Vec<(String, String)>>;

/// The configuration each plugin's set-up last ran with in this program,
/// which workers run theirs with.
fn last_setup() -> &'static Mutex<SetupConfigs> {
    static LAST: OnceLock<Mutex<SetupConfigs>> = OnceLock::new();
    LAST.get_or_init(Default::default)
}

/// [`last_setup`], for the workers' environment.
pub(crate) fn last_setup_configs() -> SetupConfigs {
    last_setup()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// Runs `plugin`'s set-up steps not yet run in this process, as worker
/// `worker` (0: the program itself), with the plugin's configuration from
/// `config` (a step runs again when it changes; a failed step runs again
/// next time). Returns whether a step asks for the worker to restart.
pub fn run_setup(plugin: &Plugin, worker: u32, config: &barrow_config::Snapshot) -> Result<bool> {
    if plugin.setup.is_none() {
        return Ok(false);
    }
    let entries = setup_config(plugin, config)?;
    last_setup()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(plugin.path().to_path_buf(), entries.clone());
    run_setup_with(plugin, worker, &entries)
}

/// [`run_setup`] with the plugin's configuration given as (key, JSON).
pub(crate) fn run_setup_with(
    plugin: &Plugin,
    worker: u32,
    entries: &[(String, String)],
) -> Result<bool> {
    let Some(table) = plugin.setup else {
        return Ok(false);
    };
    // A step runs again when its configuration changes.
    let settings: String = entries.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    let env = SetupEnv {
        worker,
        config: entries
            .iter()
            .map(|(key, json)| ConfigEntry {
                key: key.as_str().into(),
                json: json.as_str().into(),
            })
            .collect(),
    };
    let mut restart = false;
    for (index, step) in table.steps.iter().enumerate() {
        let id = (plugin.path().to_path_buf(), index, settings.clone());
        if setup_done()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&id)
        {
            continue;
        }
        match (table.run)(index, &env) {
            ROk(outcome) => {
                tracing::info!(
                    step = %format!("{}.{}", plugin.name(), step.name),
                    worker,
                    "{}",
                    outcome.message
                );
                restart |= outcome.restart;
            }
            RErr(e) => {
                return Err(Error::Setup {
                    plugin: plugin.name().to_owned(),
                    step: step.name.to_string(),
                    worker,
                    message: if e.panicked {
                        format!("panicked: {}", e.message)
                    } else {
                        e.message.into_string()
                    },
                });
            }
        }
        setup_done()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id);
    }
    Ok(restart)
}
