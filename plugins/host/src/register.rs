//! What a loaded plugin provides, registered into a [`Registry`] through
//! adapters that implement the native traits: functions, codecs, schedulers;
//! the set-up steps live in `setup.rs`, the scheduler adapter in
//! `scheduler.rs`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use abi_stable::sabi_types::RMut;
use abi_stable::std_types::{RErr, ROk, RSlice};
use abi_stable::type_level::downcasting::TD_Opaque;
use barrow_core::function::{Function, Input, Origin};
use barrow_core::scheduler::Scheduler;
use barrow_core::{Error as CoreError, ErrorKind, Func, Registry, Value};
use barrow_plugin::abi::{AbiError, FunctionsTable, SinkImpl_TO};

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
        let mut args: smallvec::SmallVec<[_; 4]> = smallvec::SmallVec::new();
        for (i, p) in prepared.iter_mut().enumerate() {
            args.push(arg(&self.name, i, p)?);
        }
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

pub(crate) fn failure(what: &str, error: &AbiError) -> CoreError {
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

/// Scheduler names plugins registered, with the plugin's name.
fn scheduler_owners() -> &'static Mutex<std::collections::HashMap<String, String>> {
    static OWNERS: OnceLock<Mutex<std::collections::HashMap<String, String>>> = OnceLock::new();
    OWNERS.get_or_init(Default::default)
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
    // Scheduler names are not namespaced: checked before anything is
    // registered, like function names below.
    if let Some(table) = plugin.schedulers {
        let owners = scheduler_owners()
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for decl in table.schedulers.iter() {
            if registry.schedulers().contains(&decl.name) {
                let owner = match owners.get(decl.name.as_str()) {
                    Some(other) => format!("plugin '{other}'"),
                    None => "this program".to_owned(),
                };
                return Err(fail(CoreError::new(
                    ErrorKind::UnknownScheduler,
                    format!(
                        "scheduler '{}' is registered twice: by {owner} and by {origin}; load \
                         only one of them",
                        decl.name
                    ),
                )));
            }
        }
    }
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
                    Ok(Arc::new(crate::scheduler::ForeignScheduler {
                        name: made.clone(),
                        table,
                        index,
                    }) as Arc<dyn Scheduler>)
                })
                .map_err(fail)?;
            scheduler_owners()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(name, plugin.name().to_owned());
        }
    }
    if !plugin.config_declarations().trim().is_empty() {
        barrow_config::register_namespace(plugin.name(), plugin.config_declarations())?;
    }
    if let Some(table) = plugin.hooks {
        // Process-wide, unlike the registry: a second load (or upload) of
        // the plugin adds none.
        for (index, decl) in table.hooks.iter().enumerate() {
            barrow_core::hooks::add_cluster_hook(Arc::new(crate::hooks::PluginHook {
                name: format!("{}.{}", plugin.name(), decl.name),
                table,
                index,
            }));
        }
    }
    done.insert(id);
    Ok(true)
}

/// The plugin function `name` (`stats.scale`), declared with parameters,
/// bound to `params`: encoded as the plugin's `Call::params_as` decodes
/// them, and shipped with the task to worker processes. The plugin must be
/// loaded (by the configuration's `plugins.load` before a computation, or
/// [`load_configured`](crate::load_configured) / [`load_into`](crate::load_into)).
///
/// # Errors
/// An unknown name (the error names the plugins loaded), a function that
/// takes no parameters, or parameters that cannot be encoded.
pub fn function_with_params<P: serde::Serialize>(
    name: &str,
    params: &P,
) -> barrow_core::Result<Func> {
    let bytes = barrow_core::function::encode_params(name, params)?;
    Registry::global().functions().resolve(name, Some(&bytes))
}
