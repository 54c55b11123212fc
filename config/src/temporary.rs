//! `temporary-directory`, and the fall-back to the system's temporary
//! directory that its documentation promises.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, ErrorKind, Result};
use crate::snapshot::Snapshot;
use crate::value::Origin;
use crate::warning::{Warning, WarningKind, WarningOutput};

/// Where temporary files go: the configured `temporary-directory` (if
/// set), the system's temporary directory to fall back on, and where a
/// warning about the fall-back goes. Taken from a snapshot with
/// [`Snapshot::temporary_directory_choice`]; cheap to clone and send.
///
/// Nothing is checked until something is made there
/// ([`make_in`](Self::make_in)), so a computation that never spills
/// touches no disk.
///
/// ```
/// use barrow_config::Sandbox;
///
/// let mut sandbox = Sandbox::new()?;
/// let blocker = sandbox.write("a-file", "not a folder")?;
/// let system = sandbox.root().join("system-tmp");
/// sandbox.set_env("TMPDIR", system.to_str().unwrap());
/// sandbox.set_env("BARROW_TEMPORARY_DIRECTORY", blocker.join("tmp").to_str().unwrap());
/// let choice = sandbox.config().snapshot()?.temporary_directory_choice()?;
///
/// // The configured folder cannot be made: the system's is used, with a
/// // warning (once per process) naming both.
/// let (spill, used) = choice.make_in("a spill folder", |dir| {
///     let spill = dir.join("barrow-spill-1");
///     std::fs::create_dir(&spill)?;
///     Ok(spill)
/// })?;
/// assert_eq!(used, system);
/// assert!(spill.is_dir());
/// # Ok::<(), barrow_config::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct TemporaryDirectory {
    configured: Option<(PathBuf, Origin)>,
    system: PathBuf,
    output: WarningOutput,
}

impl TemporaryDirectory {
    /// `temporary-directory` as configured, if it is set.
    pub fn configured(&self) -> Option<&Path> {
        self.configured.as_ref().map(|(dir, _)| dir.as_path())
    }

    /// The system's temporary directory (`TMPDIR`, else `/tmp`).
    pub fn system(&self) -> &Path {
        &self.system
    }

    /// The folder to try first: the configured one, else the system's.
    pub fn preferred(&self) -> &Path {
        self.configured().unwrap_or(&self.system)
    }

    /// Makes something (`what`, for messages: "a spill folder") with
    /// `make`, called with a temporary folder that exists (it is created
    /// if missing): the configured one; if that fails, the system's, with
    /// a warning (once per process, where `logging.warnings` says) naming
    /// the configured folder, its layer, the error and the folder used
    /// instead. Returns what `make` made and the folder it was made in.
    ///
    /// Fails when the system's folder fails too (or is the only one),
    /// naming each folder and its error.
    pub fn make_in<T>(
        &self,
        what: &str,
        mut make: impl FnMut(&Path) -> io::Result<T>,
    ) -> Result<(T, PathBuf)> {
        let mut attempt = |dir: &Path| std::fs::create_dir_all(dir).and_then(|()| make(dir));
        let Some((dir, origin)) = &self.configured else {
            return match attempt(&self.system) {
                Ok(made) => Ok((made, self.system.clone())),
                Err(err) => Err(Error::io(&self.system, &format!("make {what} in"), err)),
            };
        };
        let first = match attempt(dir) {
            Ok(made) => return Ok((made, dir.clone())),
            Err(first) => first,
        };
        let configured = format!(
            "cannot make {what} in {} (temporary-directory, from {origin}): {}",
            dir.display(),
            plain(&first)
        );
        match attempt(&self.system) {
            Ok(made) => {
                let message = format!("{configured}; using {} instead", self.system.display());
                Warning::about_path(WarningKind::TemporaryDirectory, dir, message)
                    .report(self.output);
                Ok((made, self.system.clone()))
            }
            Err(second) => Err(Error::new(
                ErrorKind::Io,
                format!(
                    "{configured}, nor in the system's temporary directory {}: {second}; set \
                     temporary-directory to a folder you can write",
                    self.system.display()
                ),
            )
            .with_path(dir)
            .with_source(second)),
        }
    }
}

impl Snapshot {
    /// `temporary-directory` and what it falls back on, to make files in
    /// later ([`TemporaryDirectory::make_in`]). Fails only if its value is
    /// bad.
    pub fn temporary_directory_choice(&self) -> Result<TemporaryDirectory> {
        let (configured, origin) = self.get_with_origin::<PathBuf>("temporary-directory")?;
        Ok(TemporaryDirectory {
            configured: configured.map(|dir| (dir, origin)),
            system: self.system_temp_dir().to_owned(),
            output: self.warning_output(),
        })
    }

    /// `temporary-directory` if it is set and can be written (it is created
    /// if missing), else the system's temporary directory.
    ///
    /// Fails if the configured directory cannot be created or written, or if
    /// its value is bad; [`temporary_directory`](Self::temporary_directory)
    /// falls back instead.
    pub fn try_temporary_directory(&self) -> Result<PathBuf> {
        match self.get::<PathBuf>("temporary-directory")? {
            Some(dir) => {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Error::io(&dir, "create the temporary directory", e))?;
                probe(&dir).map_err(|e| Error::io(&dir, "write in the temporary directory", e))?;
                Ok(dir)
            }
            None => Ok(self.system_temp_dir().to_owned()),
        }
    }

    /// The directory for temporary files: `temporary-directory` if it can be
    /// written (it is created if missing), else the system's temporary
    /// directory, with a warning (once per process) naming the directory
    /// that could not be used. Fails only if its value is bad, or if the
    /// system's cannot be written either.
    pub fn temporary_directory(&self) -> Result<PathBuf> {
        let choice = self.temporary_directory_choice()?;
        Ok(choice.make_in("a file", probe)?.1)
    }
}

/// An I/O error as the system says it, without the name of the file that
/// `make` tried (random for temporary files, and `tempfile` adds it to its
/// errors), so that one problem makes one message, warned about once.
fn plain(err: &io::Error) -> String {
    match (err.raw_os_error(), err.get_ref()) {
        (Some(code), _) => io::Error::from_raw_os_error(code).to_string(),
        (None, Some(_)) => io::Error::from(err.kind()).to_string(),
        (None, None) => err.to_string(),
    }
}

/// Writes (then removes) a probe file in `dir`.
fn probe(dir: &Path) -> io::Result<()> {
    static PROBE: AtomicU64 = AtomicU64::new(0);
    let probe = dir.join(format!(
        ".barrow-probe-{}-{}",
        std::process::id(),
        PROBE.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&probe, b"")?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}
