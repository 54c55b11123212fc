//! Loading one library: open it, check its ABI version and layouts, read
//! its description and capability tables. Each file is loaded once per
//! process (cached by canonical path) and never unloaded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use abi_stable::StableAbi;
use abi_stable::abi_stability::abi_checking::check_layout_compatibility;
use abi_stable::library::{LibraryError, RootModule, lib_header_from_path};
use abi_stable::std_types::RSome;
use barrow_plugin::abi::{
    ABI_MAJOR, ABI_MINOR, CodecsTable, FunctionsTable, HooksTable, PluginRootRef, SchedulersTable,
    SetupTable, capability,
};

use crate::error::{Error, Result};

/// The capabilities this host knows: name, the ABI minor that introduced
/// it, and what it is called in reports.
pub(crate) const KNOWN: [(&str, u32, &str); 5] = [
    (capability::FUNCTIONS, 0, "functions"),
    (capability::CODECS, 0, "codecs"),
    (capability::SETUP, 0, "set-up steps"),
    (capability::SCHEDULERS, 1, "schedulers"),
    (capability::HOOKS, 2, "hooks"),
];

/// A loaded plugin: its description and its capability tables.
#[derive(Debug)]
pub struct Plugin {
    path: PathBuf,
    name: String,
    version: String,
    description: String,
    abi: (u32, u32),
    config: String,
    pub(crate) functions: Option<&'static FunctionsTable>,
    pub(crate) codecs: Option<&'static CodecsTable>,
    pub(crate) setup: Option<&'static SetupTable>,
    pub(crate) schedulers: Option<&'static SchedulersTable>,
    pub(crate) hooks: Option<&'static HooksTable>,
}

/// Whether a plugin provides a capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provides {
    /// It does.
    Yes,
    /// It does not (its ABI knows the capability).
    No,
    /// Its ABI predates the capability: built against `barrow-plugin`
    /// 1.minor, before the capability existed.
    Absent {
        /// The minor version that introduced the capability.
        since: u32,
    },
}

impl Plugin {
    /// The file it was loaded from (canonical).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its name: the namespace of its functions and configuration keys.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its own version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// What it says it provides.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The `barrow-plugin` version (major, minor) it was built against.
    pub fn abi_version(&self) -> (u32, u32) {
        self.abi
    }

    /// The configuration keys it declares (YAML), empty if none.
    pub fn config_declarations(&self) -> &str {
        &self.config
    }

    /// Each capability this host knows, by its report name, and whether the
    /// plugin provides it.
    pub fn capabilities(&self) -> Vec<(&'static str, Provides)> {
        KNOWN
            .iter()
            .map(|&(name, since, label)| {
                let present = match name {
                    capability::FUNCTIONS => self.functions.is_some(),
                    capability::CODECS => self.codecs.is_some(),
                    capability::SETUP => self.setup.is_some(),
                    capability::SCHEDULERS => self.schedulers.is_some(),
                    _ => self.hooks.is_some(),
                };
                let provides = if present {
                    Provides::Yes
                } else if self.abi.1 < since {
                    Provides::Absent { since }
                } else {
                    Provides::No
                };
                (label, provides)
            })
            .collect()
    }

    /// Its functions: full name (`stats.zscore`) and documentation.
    pub fn functions(&self) -> Vec<(String, String)> {
        self.functions
            .map(|t| {
                t.functions
                    .iter()
                    .map(|f| (format!("{}.{}", self.name, f.name), f.doc.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Its codecs: tag and the type it encodes.
    pub fn codecs(&self) -> Vec<(String, String)> {
        self.codecs
            .map(|t| {
                t.codecs
                    .iter()
                    .map(|c| (c.tag.to_string(), c.type_name.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Its set-up steps: full name and documentation.
    pub fn setup_steps(&self) -> Vec<(String, String)> {
        self.setup
            .map(|t| {
                t.steps
                    .iter()
                    .map(|s| (format!("{}.{}", self.name, s.name), s.doc.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Its hooks on a cluster's events: full name and documentation.
    pub fn hooks(&self) -> Vec<(String, String)> {
        self.hooks
            .map(|t| {
                t.hooks
                    .iter()
                    .map(|h| (format!("{}.{}", self.name, h.name), h.doc.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Its schedulers: name and documentation.
    pub fn schedulers(&self) -> Vec<(String, String)> {
        self.schedulers
            .map(|t| {
                t.schedulers
                    .iter()
                    .map(|s| (s.name.to_string(), s.doc.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn cache() -> &'static Mutex<HashMap<PathBuf, Arc<Plugin>>> {
    static CACHE: std::sync::OnceLock<Mutex<HashMap<PathBuf, Arc<Plugin>>>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// Loads the plugin library at `path`, or returns the one loaded from the
/// same file before. The library stays loaded until the process exits.
///
/// The file is checked before the dynamic loader opens it (see
/// `check.rs`): a directory, an empty or truncated file, another
/// architecture's library or a library without Barrow's entry symbol is a
/// one-line error, and none of its code runs.
pub fn load(path: &Path) -> Result<Arc<Plugin>> {
    let canonical = canonical(path)?;
    // Held while opening, so that threads loading one file open it once.
    let mut cache = lock(cache());
    if let Some(plugin) = cache.get(&canonical) {
        return Ok(plugin.clone());
    }
    let plugin = Arc::new(open(&canonical)?);
    if let Some(other) = cache.values().find(|p| p.name == plugin.name) {
        return Err(Error::SameName {
            name: plugin.name.clone(),
            first: other.path.clone(),
            second: canonical,
        });
    }
    let plugin = cache.entry(canonical).or_insert(plugin).clone();
    Ok(plugin)
}

/// `path` made canonical, or why it cannot be (not found, or gone since
/// it was loaded).
pub(crate) fn canonical(path: &Path) -> Result<PathBuf> {
    path.canonicalize().map_err(|e| {
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let loaded_before = lock(cache()).contains_key(&absolute);
        if loaded_before {
            Error::Gone { path: absolute }
        } else {
            Error::NotFound {
                what: path.display().to_string(),
                detail: format!("{e}; give the path of a plugin library (lib<name>.so)"),
            }
        }
    })
}

/// Every plugin loaded in this process, in no particular order.
pub fn loaded() -> Vec<Arc<Plugin>> {
    lock(cache()).values().cloned().collect()
}

/// Forgets that `path` was loaded (the library stays in memory): how a test
/// shows what the next process would see after the file disappears.
#[doc(hidden)]
pub fn forget_for_tests(path: &Path) -> Option<PathBuf> {
    let mut cache = lock(cache());
    let key = cache.keys().find(|k| k.as_path() == path)?.clone();
    cache.remove(&key);
    Some(key)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn host_version() -> String {
    format!("{ABI_MAJOR}.{ABI_MINOR}")
}

fn open(path: &Path) -> Result<Plugin> {
    // Whatever the bytes tell, before the loader runs any of the file.
    crate::check::check_file(path)?;
    let header = lib_header_from_path(path).map_err(|e| match e {
        LibraryError::GetSymbolError { .. } => Error::NotAPlugin {
            path: path.to_path_buf(),
        },
        LibraryError::OpenError { err, .. } => Error::NotALibrary {
            path: path.to_path_buf(),
            reason: loader_reason(&err.to_string(), path),
        },
        other => Error::NotALibrary {
            path: path.to_path_buf(),
            reason: first_line(&other.to_string()),
        },
    })?;
    let plugin_version = header.version_strings().to_string();
    let ours = PluginRootRef::VERSION_STRINGS.to_string();
    let major_of = |v: &str| v.split('.').next().and_then(|m| m.parse::<u32>().ok());
    if major_of(&plugin_version) != Some(ABI_MAJOR) {
        return Err(Error::AbiVersion {
            path: path.to_path_buf(),
            plugin: plugin_version,
            host: ours,
            host_major: ABI_MAJOR,
        });
    }
    let root = header
        .init_root_module::<PluginRootRef>()
        .map_err(|e| match e {
            LibraryError::AbiInstability(report) => layout_error(
                path,
                &plugin_version,
                "its root module",
                &report.to_string(),
            ),
            LibraryError::IncompatibleVersionNumber { actual_version, .. } => Error::AbiVersion {
                path: path.to_path_buf(),
                plugin: actual_version.to_string(),
                host: ours.clone(),
                host_major: ABI_MAJOR,
            },
            other => Error::Invalid {
                path: path.to_path_buf(),
                problem: format!(
                    "its root module failed to load: {}",
                    first_line(&other.to_string())
                ),
            },
        })?;
    let info = (root.info())();
    let name = info.name.to_string();
    if !valid_name(&name) {
        return Err(Error::Invalid {
            path: path.to_path_buf(),
            problem: format!(
                "its name {name:?} is not a valid namespace: use lowercase letters, digits and \
                 '-', starting with a letter"
            ),
        });
    }
    if info.abi.major != ABI_MAJOR {
        return Err(Error::AbiVersion {
            path: path.to_path_buf(),
            plugin: format!("{}.{}", info.abi.major, info.abi.minor),
            host: host_version(),
            host_major: ABI_MAJOR,
        });
    }
    let table = |name: &str| (root.capability())(name.into());
    let mut plugin = Plugin {
        path: path.to_path_buf(),
        name,
        version: info.version.to_string(),
        description: info.description.to_string(),
        abi: (info.abi.major, info.abi.minor),
        config: info.config.to_string(),
        functions: None,
        codecs: None,
        setup: None,
        schedulers: None,
        hooks: None,
    };
    let version = format!("{}.{}", info.abi.major, info.abi.minor);
    plugin.functions = checked(path, &version, capability::FUNCTIONS, table)?;
    plugin.codecs = checked(path, &version, capability::CODECS, table)?;
    plugin.setup = checked(path, &version, capability::SETUP, table)?;
    plugin.schedulers = checked(path, &version, capability::SCHEDULERS, table)?;
    plugin.hooks = checked(path, &version, capability::HOOKS, table)?;
    tracing::debug!(
        plugin = %plugin.name,
        path = %path.display(),
        abi = %version,
        "loaded plugin"
    );
    Ok(plugin)
}

/// The capability table `name`, after checking that the plugin laid it out
/// as this host expects `T`.
fn checked<T: StableAbi + 'static>(
    path: &Path,
    plugin_version: &str,
    name: &str,
    table: impl Fn(&str) -> abi_stable::std_types::ROption<barrow_plugin::abi::Capability>,
) -> Result<Option<&'static T>> {
    let RSome(found) = table(name) else {
        return Ok(None);
    };
    if let Err(report) = check_layout_compatibility(T::LAYOUT, found.layout) {
        return Err(layout_error(
            path,
            plugin_version,
            &format!("its capability '{name}'"),
            &report.to_string(),
        ));
    }
    // SAFETY: the plugin's table has the layout of `T` (checked just above),
    // and it is `'static`: the plugin made it once and libraries are never
    // unloaded.
    Ok(Some(unsafe { &*found.table.cast::<T>() }))
}

pub(crate) fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn first_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_owned()
}

/// The dynamic loader's reason, without the path it repeats.
fn loader_reason(text: &str, path: &Path) -> String {
    let reason = text
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or(text);
    let shown = path.display().to_string();
    reason
        .strip_prefix(&shown)
        .map(|r| r.trim_start_matches(':').trim())
        .unwrap_or(reason)
        .to_owned()
}

/// abi_stable's layout report runs to hundreds of lines; the error keeps
/// one: the field path and the last difference. The whole report goes to
/// the debug log.
fn layout_error(path: &Path, plugin_version: &str, place: &str, report: &str) -> Error {
    tracing::debug!(path = %path.display(), "plugin layout report:\n{report}");
    Error::Layout {
        path: path.to_path_buf(),
        plugin: plugin_version.to_owned(),
        host: host_version(),
        place: place.to_owned(),
        mismatch: summarize_layout(report),
    }
}

/// "`PluginInfo` (through `info`, its return value): unexpected field,
/// expected `description`, found `summary`" from a layout report: the type
/// and the path to it from the report's trail, and its last difference.
pub(crate) fn summarize_layout(report: &str) -> String {
    let lines: Vec<&str> = report.lines().collect();
    // The trail of the innermost mismatch follows the last "N error(s)inside:".
    let trail_start = lines.iter().rposition(|l| {
        l.trim()
            .strip_suffix(" error(s)inside:")
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n > 0)
    });
    let mut path: Vec<String> = Vec::new();
    let mut place = None;
    if let Some(start) = trail_start {
        for line in &lines[start + 1..] {
            if line.starts_with("Layout of") || line.starts_with("Error:") {
                break;
            }
            // Trail entries are indented by four spaces; the dumps, deeper.
            let Some(entry) = line.strip_prefix("    ").filter(|l| !l.starts_with(' ')) else {
                continue;
            };
            if let Some(name) = entry.strip_prefix("field_name:") {
                match name {
                    "__returns" => path.push("its return value".to_owned()),
                    n if n.chars().all(|c| c.is_ascii_digit()) => {}
                    n => path.push(format!("`{n}`")),
                }
            } else if let Some(ty) = entry.strip_prefix("type:") {
                place = Some(ty.to_owned());
            }
        }
    }
    let difference = lines
        .iter()
        .rposition(|l| l.starts_with("Error:"))
        .map(|at| {
            let title = lines[at].trim_start_matches("Error:").trim().to_owned();
            let after = &lines[at + 1..];
            let value_after = |label: &str| {
                after
                    .iter()
                    .position(|l| l.trim() == label)
                    .and_then(|i| {
                        after[i + 1..]
                            .iter()
                            .map(|l| l.trim())
                            .find(|l| !l.is_empty())
                    })
                    .map(|v| v.trim_start_matches("field_name:").to_owned())
            };
            match (value_after("Expected:"), value_after("Found:")) {
                (Some(e), Some(f)) => format!("{title}, expected `{e}`, found `{f}`"),
                _ => title,
            }
        })
        .unwrap_or_else(|| first_line(report));
    match place {
        Some(place) if path.is_empty() => format!("`{place}`: {difference}"),
        Some(place) => format!("`{place}` (through {}): {difference}", path.join(", ")),
        None => difference,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_report_shrinks_to_one_line_naming_the_field() {
        let report = "\nCompared <this>:\n    --- Type Layout ---\n    type:PrefixRef<'a, PluginRoot>\n\
            0 error(s).\n\n1 error(s)inside:\n    <other>\n\n    field_name:0\n    type:PluginRoot\n\n\
            \x20   field_name:info\n    type:AFunctionPointer\n    fn pointer(s):\n        fn()->PluginInfo\n\n\
            \x20   field_name:__returns\n    type:PluginInfo\n\nLayout of expected type:\n\
            \x20           field_name:description\n\nError:unexpected field\nExpected:\n\
            \x20   field_name:description\n    type:RString\nFound:\n    field_name:summary\n";
        assert_eq!(
            summarize_layout(report),
            "`PluginInfo` (through `info`, its return value): unexpected field, expected \
             `description`, found `summary`"
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("stats"));
        assert!(valid_name("setup-example2"));
        assert!(!valid_name("Stats"));
        assert!(!valid_name("2d"));
        assert!(!valid_name("a.b"));
        assert!(!valid_name(""));
    }
}
