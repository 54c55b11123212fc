//! A plugin's set-up steps, run once per process with the plugin's
//! configuration: the program's own, or in a worker the one its program
//! ran them with.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, PoisonError};

use abi_stable::std_types::{RErr, ROk};
use barrow_plugin::abi::{ConfigEntry, SetupEnv};

use crate::error::{Error, Result};
use crate::load::Plugin;

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
