//! Plugins named by the configuration (`plugins.paths`, `plugins.load`), and
//! the hooks that load them before every computation and in every worker.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use barrow_config::{Setting, Snapshot};
use barrow_core::Registry;

use crate::error::{Error, Result};
use crate::load::{Plugin, load};
use crate::register::register;
use crate::setup::run_setup;

/// The variable through which a pool tells its workers which plugin files
/// the program loaded (paths joined as `PATH` joins them).
pub const WORKER_PLUGINS: &str = "BARROW_WORKER_PLUGINS";

/// The plugin files `config` asks for, in order: each entry of
/// `plugins.load` that looks like a path (it has a `/` or a library
/// extension) as is, and each name looked up in `plugins.paths` as
/// `lib<name>.so` (with `-` as `_`, as cargo names libraries), then
/// `<name>.so`.
pub fn configured(config: &Snapshot) -> Result<Vec<PathBuf>> {
    configured_each(config)?
        .into_iter()
        .map(|(_, path)| path)
        .collect()
}

/// [`configured`], entry by entry: each `plugins.load` item with its file
/// or why none was found.
pub fn configured_each(config: &Snapshot) -> Result<Vec<(String, Result<PathBuf>)>> {
    let wanted: Vec<String> = config.get("plugins.load")?.unwrap_or_default();
    let dirs: Vec<PathBuf> = config.get("plugins.paths")?.unwrap_or_default();
    Ok(wanted
        .into_iter()
        .map(|item| {
            let path = resolve(&item, &dirs);
            (item, path)
        })
        .collect())
}

fn resolve(item: &str, dirs: &[PathBuf]) -> Result<PathBuf> {
    let ext = std::env::consts::DLL_EXTENSION;
    let path = Path::new(item);
    if item.contains(std::path::MAIN_SEPARATOR) || path.extension().is_some_and(|e| e == ext) {
        return Ok(path.to_path_buf());
    }
    let prefix = std::env::consts::DLL_PREFIX;
    let mut candidates = vec![
        format!("{prefix}{}.{ext}", item.replace('-', "_")),
        format!("{prefix}{item}.{ext}"),
        format!("{item}.{ext}"),
    ];
    candidates.dedup();
    for dir in dirs {
        for name in &candidates {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    // Else a plugin of that name in the folders: a library's file name
    // need not be its plugin's name (`libbarrow_example_functions.so`
    // provides `stats`). Files in plugins.paths are trusted to be plugins.
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        files.sort();
        for file in files {
            if load(&file).is_ok_and(|plugin| plugin.name() == item) {
                return Ok(file);
            }
        }
    }
    Err(Error::NotFound {
        what: format!("'{item}'"),
        detail: if dirs.is_empty() {
            "plugins.paths names no folder to look in; set it (BARROW_PLUGINS__PATHS) or give \
             the library's path in plugins.load"
                .to_owned()
        } else {
            format!(
                "no {} (nor a library whose plugin is named '{item}') in {}; check \
                 plugins.paths or give the library's path",
                candidates.join(" or "),
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
    })
}

/// Loads `path`, registers what it provides into `registry` and runs its
/// set-up steps (as the program itself, worker 0) with `config`.
pub fn load_into(path: &Path, registry: &Registry, config: &Snapshot) -> Result<Arc<Plugin>> {
    let plugin = load(path)?;
    register(&plugin, registry)?;
    run_setup(&plugin, 0, config)?;
    Ok(plugin)
}

/// The configured plugins, loaded and registered: what every computation
/// does first.
pub fn load_configured(registry: &Registry, config: &Snapshot) -> Result<Vec<Arc<Plugin>>> {
    configured(config)?
        .iter()
        .map(|path| load_into(path, registry, config))
        .collect()
}

pub(crate) fn before_run(registry: &Registry, config: &Snapshot) -> barrow_core::Result<bool> {
    let mut plugins = Vec::new();
    let mut declared = false;
    for path in configured(config)? {
        let plugin = load(&path)?;
        declared |= register(&plugin, registry)? && !plugin.config_declarations().trim().is_empty();
        plugins.push(plugin);
    }
    if declared {
        // Set-up steps read the plugin's own keys, unknown until now: the
        // computation reads the configuration again and calls back.
        return Ok(true);
    }
    for plugin in &plugins {
        run_setup(plugin, 0, config)?;
    }
    Ok(false)
}

/// The variable carrying the configuration each plugin's set-up ran with in
/// the program (JSON: path -> [[key, JSON value]]), so that workers set up
/// the same way whatever their own configuration says.
pub const WORKER_PLUGIN_CONFIG: &str = "BARROW_WORKER_PLUGIN_CONFIG";

pub(crate) fn worker_env() -> Vec<(String, String)> {
    let paths = crate::register::registered_paths();
    if paths.is_empty() {
        return Vec::new();
    }
    let mut env = Vec::new();
    match std::env::join_paths(&paths) {
        Ok(joined) => env.push((
            WORKER_PLUGINS.to_owned(),
            joined.to_string_lossy().into_owned(),
        )),
        Err(e) => tracing::warn!("plugin paths cannot be passed to workers: {e}"),
    }
    let configs: serde_json::Map<String, serde_json::Value> = crate::setup::last_setup_configs()
        .into_iter()
        .map(|(path, entries)| {
            let pairs = entries
                .into_iter()
                .map(|(k, v)| serde_json::Value::from(vec![k, v]))
                .collect();
            (path.display().to_string(), serde_json::Value::Array(pairs))
        })
        .collect();
    if !configs.is_empty() {
        env.push((
            WORKER_PLUGIN_CONFIG.to_owned(),
            serde_json::Value::Object(configs).to_string(),
        ));
    }
    env
}

pub(crate) fn worker_start(worker: u32, registry: &Registry) -> barrow_core::Result<bool> {
    let config = barrow_core::Options::new().resolve_config()?;
    let mut paths: Vec<PathBuf> = std::env::var_os(WORKER_PLUGINS)
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    paths.extend(configured(&config)?);
    let given: std::collections::BTreeMap<String, Vec<(String, String)>> =
        match std::env::var(WORKER_PLUGIN_CONFIG) {
            Ok(json) => serde_json::from_str(&json).map_err(|e| {
                barrow_core::Error::new(
                    barrow_core::ErrorKind::Worker,
                    format!("{WORKER_PLUGIN_CONFIG} is not valid: {e}"),
                )
            })?,
            Err(_) => Default::default(),
        };
    let mut restart = false;
    for path in paths {
        let plugin = load(&path)?;
        register(&plugin, registry)?;
        restart |= match given.get(&path.display().to_string()) {
            Some(entries) => crate::setup::run_setup_with(&plugin, worker, entries)?,
            None => run_setup(&plugin, worker, &config)?,
        };
    }
    Ok(restart)
}

/// A raw configuration value as JSON, for set-up steps.
pub(crate) fn value_to_json(value: &barrow_config::Value) -> String {
    fn convert(value: &barrow_config::Value) -> serde_json::Value {
        use barrow_config::Value as V;
        use serde_json::Value as J;
        match value {
            V::Null => J::Null,
            V::Bool(b) => J::Bool(*b),
            V::Integer(i) => J::from(*i),
            V::Float(f) => J::from(*f),
            V::String(s) => J::String(s.clone()),
            V::List(items) => J::Array(items.iter().map(convert).collect()),
            V::Map(map) => J::Object(map.iter().map(|(k, v)| (k.clone(), convert(v))).collect()),
            other => J::String(other.to_plain_string()),
        }
    }
    convert(value).to_string()
}

/// A setting as JSON, for set-up steps.
pub(crate) fn to_json(setting: &Setting) -> String {
    use serde_json::Value as J;
    let json = match setting {
        Setting::Unset => J::Null,
        Setting::String(s) | Setting::Enum(s) => J::String(s.clone()),
        Setting::Integer(i) => J::from(*i),
        Setting::Float(f) => J::from(*f),
        Setting::Bool(b) => J::Bool(*b),
        Setting::List(items) => J::Array(items.iter().cloned().map(J::String).collect()),
        Setting::Path(p) => J::String(p.display().to_string()),
        Setting::PathList(items) => J::Array(
            items
                .iter()
                .map(|p| J::String(p.display().to_string()))
                .collect(),
        ),
        other => J::String(other.to_string()),
    };
    json.to_string()
}

inventory::submit! {
    barrow_core::hooks::ProcessHook {
        name: "barrow-plugin-host",
        before_run,
        worker_env,
        worker_start,
    }
}

/// Loads a plugin a cluster's worker was sent: checked, registered and set
/// up as worker `worker`.
fn load_for_worker(
    path: &Path,
    worker: u32,
    registry: &Registry,
    config: &Snapshot,
) -> barrow_core::Result<barrow_core::hooks::LoadedPlugin> {
    let plugin = load(path)?;
    register(&plugin, registry)?;
    let restart = run_setup(&plugin, worker, config)?;
    Ok(barrow_core::hooks::LoadedPlugin {
        name: format!("{} {}", plugin.name(), plugin.version()),
        restart,
    })
}

fn loaded_names() -> Vec<String> {
    crate::load::loaded()
        .iter()
        .map(|p| format!("{} {}", p.name(), p.version()))
        .collect()
}

inventory::submit! {
    barrow_core::hooks::PluginLoader {
        name: "barrow-plugin-host",
        load: load_for_worker,
        loaded: loaded_names,
    }
}
