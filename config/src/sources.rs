//! Where configuration is read from: an explicit environment and the
//! system, home and XDG folders, and the files found there.

use std::collections::BTreeMap;
use std::fmt;
use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::value::Layer;
use crate::warning::{Warning, WarningKind};

/// The prefix of Barrow's environment variables.
pub const ENV_PREFIX: &str = "BARROW_";

/// The variable naming extra files and folders, separated by `:`.
pub const CONFIG_PATH_VAR: &str = "BARROW_CONFIG";

/// The default folder of system-wide files.
pub const SYSTEM_DIR: &str = "/etc/barrow";

/// The variable that moves the folder of system-wide files (Dask's
/// `DASK_ROOT_CONFIG`), for installations without `/etc` and for tests.
pub const SYSTEM_DIR_VAR: &str = "BARROW_ROOT_CONFIG";

/// The prefix of the variables Barrow sets for its own worker processes
/// (`BARROW_WORKER_SOCKET`, `BARROW_WORKER_TOKEN`, ...): they are not keys.
/// A key of a `worker` namespace still comes from `BARROW_WORKER__...`
/// (two underscores).
pub const WORKER_ENV_PREFIX: &str = "BARROW_WORKER_";

/// Whether the variable `name` names a key (rather than being one of
/// Barrow's own: [`CONFIG_PATH_VAR`], [`SYSTEM_DIR_VAR`], the worker
/// variables of [`WORKER_ENV_PREFIX`], or no `BARROW_` variable at all).
pub fn is_key_variable(name: &str) -> bool {
    if !name.starts_with(ENV_PREFIX) || name == CONFIG_PATH_VAR || name == SYSTEM_DIR_VAR {
        return false;
    }
    match name.strip_prefix(WORKER_ENV_PREFIX) {
        Some(rest) => rest.starts_with('_'),
        None => true,
    }
}

/// Where the configuration is read from: an environment (a map of
/// variables) and the system, home and XDG directories.
///
/// The loader never reads anything else, so tests pass an explicit map and
/// temporary directories (see `Sandbox`, feature `testing`) instead of
/// touching the process's environment or home.
///
/// ```
/// use barrow_config::{Config, Sources};
///
/// let sources = Sources::from_env([("BARROW_NUM_WORKERS", "3")])
///     .with_system_dir("/nonexistent/etc/barrow")
///     .with_home(None);
/// let snapshot = Config::new(sources).snapshot()?;
/// assert_eq!(snapshot.get::<u64>("num-workers")?, Some(3));
/// # Ok::<(), barrow_config::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Sources {
    env: EnvSource,
    system_dir: Option<PathBuf>,
    home: Option<Option<PathBuf>>,
    xdg_config_home: Option<Option<PathBuf>>,
}

/// A function returning the environment to read, called at each load.
type EnvProvider = Arc<dyn Fn() -> BTreeMap<String, String> + Send + Sync>;

#[derive(Clone)]
enum EnvSource {
    Process,
    Map(BTreeMap<String, String>),
    Provider(EnvProvider),
}

impl fmt::Debug for EnvSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvSource::Process => f.write_str("Process"),
            EnvSource::Map(map) => f.debug_tuple("Map").field(map).finish(),
            EnvSource::Provider(_) => f.write_str("Provider"),
        }
    }
}

/// The sources with the environment read and the directories decided.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) system_dir: PathBuf,
    pub(crate) home: Option<PathBuf>,
    pub(crate) xdg_config_home: Option<PathBuf>,
    pub(crate) temp_dir: PathBuf,
}

impl Sources {
    /// The process's own environment, read each time the configuration is
    /// loaded (first use and [`Config::refresh`](crate::Config::refresh));
    /// the home directory from `HOME` (or the system's record);
    /// `XDG_CONFIG_HOME`; system files in `$BARROW_ROOT_CONFIG`, else
    /// `/etc/barrow`.
    pub fn from_process() -> Sources {
        Sources {
            env: EnvSource::Process,
            system_dir: None,
            home: None,
            xdg_config_home: None,
        }
    }

    /// An explicit environment. The home directory comes from its `HOME`,
    /// the XDG directory from its `XDG_CONFIG_HOME`, unless set with
    /// [`with_home`](Self::with_home) and
    /// [`with_xdg_config_home`](Self::with_xdg_config_home); system files
    /// are in its `BARROW_ROOT_CONFIG`, else `/etc/barrow`, unless set with
    /// [`with_system_dir`](Self::with_system_dir).
    pub fn from_env<I, K, V>(env: I) -> Sources
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Sources {
            env: EnvSource::Map(env.into_iter().map(|(k, v)| (k.into(), v.into())).collect()),
            ..Sources::from_process()
        }
    }

    /// An environment returned by `provider` each time the configuration is
    /// loaded (first use and [`Config::refresh`](crate::Config::refresh)),
    /// otherwise like [`from_env`](Self::from_env).
    pub fn from_env_provider(
        provider: impl Fn() -> BTreeMap<String, String> + Send + Sync + 'static,
    ) -> Sources {
        Sources {
            env: EnvSource::Provider(Arc::new(provider)),
            ..Sources::from_process()
        }
    }

    /// Reads system files from `dir` instead of `/etc/barrow` (and whatever
    /// `BARROW_ROOT_CONFIG` says).
    pub fn with_system_dir(mut self, dir: impl Into<PathBuf>) -> Sources {
        self.system_dir = Some(dir.into());
        self
    }

    /// Uses `home` as the home directory; `None` means there is none.
    pub fn with_home(mut self, home: Option<PathBuf>) -> Sources {
        self.home = Some(home);
        self
    }

    /// Uses `dir` as `XDG_CONFIG_HOME`; `None` means it is unset.
    pub fn with_xdg_config_home(mut self, dir: Option<PathBuf>) -> Sources {
        self.xdg_config_home = Some(dir);
        self
    }

    /// Reads the environment (the process's, for
    /// [`from_process`](Self::from_process)) and decides the directories.
    pub(crate) fn resolve(&self) -> Resolved {
        let from_process = matches!(self.env, EnvSource::Process);
        let env = match &self.env {
            EnvSource::Map(map) => map.clone(),
            EnvSource::Provider(provider) => provider(),
            EnvSource::Process => std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        };
        let var = |name: &str| env.get(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = match &self.home {
            Some(home) => home.clone(),
            None if from_process => std::env::home_dir().filter(|h| !h.as_os_str().is_empty()),
            None => var("HOME"),
        };
        let xdg_config_home = match &self.xdg_config_home {
            Some(dir) => dir.clone(),
            // The XDG specification says to ignore a relative path.
            None => var("XDG_CONFIG_HOME").filter(|p| p.is_absolute()),
        };
        let temp_dir = if from_process {
            std::env::temp_dir()
        } else {
            var("TMPDIR").unwrap_or_else(|| PathBuf::from("/tmp"))
        };
        let system_dir = match &self.system_dir {
            Some(dir) => dir.clone(),
            None => var(SYSTEM_DIR_VAR).unwrap_or_else(|| PathBuf::from(SYSTEM_DIR)),
        };
        Resolved {
            system_dir,
            home,
            xdg_config_home,
            temp_dir,
            env,
        }
    }
}

/// One place searched for configuration files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPath {
    layer: Layer,
    path: PathBuf,
    is_dir: bool,
    exists: bool,
    files: Vec<PathBuf>,
}

impl SearchPath {
    /// The layer: [`Layer::System`], [`Layer::User`] or [`Layer::ConfigPath`].
    pub fn layer(&self) -> Layer {
        self.layer
    }

    /// The folder (whose `*.yaml` and `*.yml` files are read) or the file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this is a folder of files rather than one file.
    pub fn is_dir(&self) -> bool {
        self.is_dir
    }

    /// Whether the folder or file exists.
    pub fn exists(&self) -> bool {
        self.exists
    }

    /// The files read from here, in the order they are read (later files
    /// override earlier ones).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

impl Resolved {
    /// The user's folder: `$XDG_CONFIG_HOME/barrow`, else `~/.config/barrow`.
    pub(crate) fn user_dir(&self) -> Option<PathBuf> {
        match (&self.xdg_config_home, &self.home) {
            (Some(xdg), _) => Some(xdg.join("barrow")),
            (None, Some(home)) => Some(home.join(".config").join("barrow")),
            (None, None) => None,
        }
    }

    /// The search path, lowest layer first, and what could not be searched.
    pub(crate) fn search_path(&self) -> (Vec<SearchPath>, Vec<Warning>) {
        let mut found = Vec::new();
        let mut warnings = Vec::new();
        found.push(folder(Layer::System, &self.system_dir, &mut warnings));
        match self.user_dir() {
            Some(dir) => found.push(folder(Layer::User, &dir, &mut warnings)),
            None => warnings.push(Warning::new(
                WarningKind::NoHomeDirectory,
                "no home directory (HOME is unset) and no XDG_CONFIG_HOME: user \
                 configuration files are not read"
                    .to_owned(),
            )),
        }
        let named = self
            .env
            .get(CONFIG_PATH_VAR)
            .map(String::as_str)
            .unwrap_or("");
        for path in std::env::split_paths(named).filter(|p| !p.as_os_str().is_empty()) {
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_dir() => {
                    found.push(folder(Layer::ConfigPath, &path, &mut warnings))
                }
                Ok(_) => found.push(SearchPath {
                    layer: Layer::ConfigPath,
                    files: vec![path.clone()],
                    path,
                    is_dir: false,
                    exists: true,
                }),
                Err(err) => {
                    warnings.push(Warning::about_path(
                        WarningKind::MissingPath,
                        &path,
                        format!(
                            "{CONFIG_PATH_VAR} names {}, which cannot be read: {err}",
                            path.display()
                        ),
                    ));
                    found.push(SearchPath {
                        layer: Layer::ConfigPath,
                        path,
                        is_dir: false,
                        exists: false,
                        files: Vec::new(),
                    });
                }
            }
        }
        (found, warnings)
    }
}

/// The `*.yaml` and `*.yml` files of `dir`, sorted by name.
fn folder(layer: Layer, dir: &Path, warnings: &mut Vec<Warning>) -> SearchPath {
    let mut search = SearchPath {
        layer,
        path: dir.to_owned(),
        is_dir: true,
        exists: false,
        files: Vec::new(),
    };
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            search.exists = true;
            search.files = entries
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .is_some_and(|ext| ext == "yaml" || ext == "yml")
                })
                .collect();
            search.files.sort();
        }
        Err(err) if err.kind() == IoKind::NotFound => {}
        Err(err) => {
            search.exists = dir.exists();
            warnings.push(Warning::about_path(
                WarningKind::UnreadableDirectory,
                dir,
                format!(
                    "cannot read the configuration directory {}: {err}; its files are ignored",
                    dir.display()
                ),
            ));
        }
    }
    search
}
