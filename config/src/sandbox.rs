//! A sandbox for configuration tests: temporary directories and an explicit
//! environment, removed on drop (figment's `Jail`, without touching the
//! process's environment).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::error::{Error, Result};
use crate::instance::Config;
use crate::sources::Sources;

/// Temporary system, home and XDG directories plus an explicit environment
/// map, for tests of this crate and of others (feature `testing`).
///
/// Nothing in it reads or changes the process's environment, home or
/// `/etc`, so tests using sandboxes run in parallel without seeing each
/// other. The directories are removed when the sandbox drops.
///
/// The environment starts with `HOME` set to the sandbox's home and nothing
/// else; user files go to `<home>/.config/barrow` unless
/// [`use_xdg_config_home`](Self::use_xdg_config_home) is called.
///
/// ```
/// use barrow_config::Sandbox;
///
/// let mut sandbox = Sandbox::new()?;
/// sandbox.system_file("site.yaml", "num-workers: 8\nscheduler: threads\n")?;
/// sandbox.user_file("me.yaml", "num_workers: 4\n")?;
/// sandbox.set_env("BARROW_SCHEDULER", "processes");
///
/// let snapshot = sandbox.config().snapshot()?;
/// assert_eq!(snapshot.get::<u64>("num-workers")?, Some(4));
/// assert_eq!(snapshot.get::<String>("scheduler")?.as_deref(), Some("processes"));
///
/// // Code that reads the thread's default configuration sees the sandbox:
/// let _default = sandbox.config().set_default();
/// assert_eq!(barrow_config::get::<u64>("num-workers")?, Some(4));
/// # Ok::<(), barrow_config::Error>(())
/// ```
#[derive(Debug)]
pub struct Sandbox {
    root: PathBuf,
    env: Arc<Mutex<BTreeMap<String, String>>>,
    home: Option<PathBuf>,
    xdg_config_home: Option<PathBuf>,
}

impl Sandbox {
    /// Creates the temporary directories: `<root>/etc/barrow` (system) and
    /// `<root>/home` (home, also `HOME` in the environment).
    pub fn new() -> Result<Sandbox> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let base = std::env::temp_dir();
        loop {
            let root = base.join(format!(
                "barrow-config-sandbox-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            match std::fs::create_dir(&root) {
                Ok(()) => {
                    let home = root.join("home");
                    for dir in [root.join("etc").join("barrow"), home.clone()] {
                        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, "create", e))?;
                    }
                    let env =
                        BTreeMap::from([("HOME".to_owned(), home.to_string_lossy().into_owned())]);
                    let env = Arc::new(Mutex::new(env));
                    return Ok(Sandbox {
                        root,
                        env,
                        home: Some(home),
                        xdg_config_home: None,
                    });
                }
                // Left over by a crashed run of the same pid: try the next name.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io(&root, "create", e)),
            }
        }
    }

    /// The sandbox's own temporary folder; everything else is inside it.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The system folder (standing for `/etc/barrow`).
    pub fn system_dir(&self) -> PathBuf {
        self.root.join("etc").join("barrow")
    }

    /// The home directory, unless [`without_home`](Self::without_home).
    pub fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }

    /// The folder of user files: `$XDG_CONFIG_HOME/barrow` once
    /// [`use_xdg_config_home`](Self::use_xdg_config_home) is called, else
    /// `<home>/.config/barrow` (under the root if there is no home).
    pub fn user_dir(&self) -> PathBuf {
        match (&self.xdg_config_home, &self.home) {
            (Some(xdg), _) => xdg.join("barrow"),
            (None, Some(home)) => home.join(".config").join("barrow"),
            (None, None) => self.root.join("no-home").join(".config").join("barrow"),
        }
    }

    fn env_mut(&self) -> MutexGuard<'_, BTreeMap<String, String>> {
        self.env.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets an environment variable of the sandbox. Configurations of this
    /// sandbox see it when they load: on first use or on refresh.
    pub fn set_env(&mut self, name: &str, value: &str) -> &mut Sandbox {
        self.env_mut().insert(name.to_owned(), value.to_owned());
        self
    }

    /// Removes an environment variable of the sandbox.
    pub fn remove_env(&mut self, name: &str) -> &mut Sandbox {
        self.env_mut().remove(name);
        self
    }

    /// A copy of the sandbox's environment.
    pub fn env(&self) -> BTreeMap<String, String> {
        self.env_mut().clone()
    }

    /// Leaves the sandbox without a home directory (and without `HOME`).
    pub fn without_home(&mut self) -> &mut Sandbox {
        self.home = None;
        self.env_mut().remove("HOME");
        self
    }

    /// Sets `XDG_CONFIG_HOME` to `<root>/xdg`, so user files are read from
    /// `<root>/xdg/barrow`; returns that folder.
    pub fn use_xdg_config_home(&mut self) -> PathBuf {
        let xdg = self.root.join("xdg");
        self.env_mut().insert(
            "XDG_CONFIG_HOME".to_owned(),
            xdg.to_string_lossy().into_owned(),
        );
        self.xdg_config_home = Some(xdg);
        self.user_dir()
    }

    /// Writes `contents` to `relative` under the root (creating folders);
    /// returns the file's path.
    pub fn write(&self, relative: impl AsRef<Path>, contents: &str) -> Result<PathBuf> {
        let path = self.root.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, "create", e))?;
        }
        std::fs::write(&path, contents).map_err(|e| Error::io(&path, "write", e))?;
        Ok(path)
    }

    /// Writes a system file (`/etc/barrow/<name>`); returns its path.
    pub fn system_file(&self, name: &str, contents: &str) -> Result<PathBuf> {
        let dir = self.system_dir();
        self.write(dir.join(name), contents)
    }

    /// Writes a user file (in [`user_dir`](Self::user_dir)); returns its path.
    pub fn user_file(&self, name: &str, contents: &str) -> Result<PathBuf> {
        self.write(self.user_dir().join(name), contents)
    }

    /// The sources a configuration in this sandbox reads: the sandbox's
    /// environment as it is at each load, and its directories as they are
    /// now.
    pub fn sources(&self) -> Sources {
        let env = Arc::clone(&self.env);
        Sources::from_env_provider(move || {
            env.lock().unwrap_or_else(PoisonError::into_inner).clone()
        })
        .with_system_dir(self.system_dir())
        .with_home(self.home.clone())
        .with_xdg_config_home(self.xdg_config_home.clone())
    }

    /// A new configuration reading this sandbox. It loads on first use;
    /// later changes to files and variables need [`Config::refresh`], and
    /// changes of directories ([`without_home`](Self::without_home),
    /// [`use_xdg_config_home`](Self::use_xdg_config_home)) a new
    /// configuration.
    pub fn config(&self) -> Config {
        Config::new(self.sources())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
