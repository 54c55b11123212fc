//! Why a plugin could not be found, loaded or registered.

use std::path::PathBuf;

/// A plugin that could not be found, loaded or registered. Every variant
/// names the file and says what to do.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No file at the path, or no file for the name in `plugins.paths`.
    #[error("plugin {what} not found: {detail}")]
    NotFound {
        /// The name or path asked for.
        what: String,
        /// Where it was looked for, and what to do.
        detail: String,
    },
    /// The file was loaded earlier in this process but is gone now.
    #[error(
        "plugin file {} has disappeared since it was loaded: the copy loaded earlier stays in \
         use in this process, but worker processes cannot load it; restore the file",
        path.display()
    )]
    Gone {
        /// The path it was loaded from.
        path: PathBuf,
    },
    /// The file is not a shared library this system can load.
    #[error("{} is not a loadable plugin library: {reason}", path.display())]
    NotALibrary {
        /// The file.
        path: PathBuf,
        /// What the dynamic loader said.
        reason: String,
    },
    /// A shared library without Barrow's root module.
    #[error(
        "{} is a shared library but not a Barrow plugin: it exports no Barrow root module \
         (a plugin calls barrow_plugin::export_plugin!)",
        path.display()
    )]
    NotAPlugin {
        /// The file.
        path: PathBuf,
    },
    /// Built against another major version of `barrow-plugin`.
    #[error(
        "plugin {} was built against barrow-plugin {plugin}, but this program uses \
         barrow-plugin {host}: rebuild the plugin against barrow-plugin {host_major}.x",
        path.display()
    )]
    AbiVersion {
        /// The file.
        path: PathBuf,
        /// The version the plugin was built against.
        plugin: String,
        /// The version this program was built against.
        host: String,
        /// The host's major version.
        host_major: u32,
    },
    /// The plugin's types are laid out differently from the host's.
    #[error(
        "plugin {} (barrow-plugin {plugin}) does not match this program's barrow-plugin {host} \
         in {place}: {mismatch}; rebuild the plugin against this barrow-plugin (the full \
         layout report is logged at debug level)",
        path.display()
    )]
    Layout {
        /// The file.
        path: PathBuf,
        /// The version the plugin was built against.
        plugin: String,
        /// The version this program was built against.
        host: String,
        /// The root module or the capability where they differ.
        place: String,
        /// The mismatched field and how it differs.
        mismatch: String,
    },
    /// The plugin's description is unusable.
    #[error("plugin {}: {problem}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// Two files provide a plugin of the same name.
    #[error(
        "two plugins are named '{name}': {} and {}; load only one of them",
        first.display(),
        second.display()
    )]
    SameName {
        /// The name.
        name: String,
        /// The file loaded first.
        first: PathBuf,
        /// The file loaded second.
        second: PathBuf,
    },
    /// Registering what the plugin provides failed (a name taken by another
    /// plugin, say).
    #[error("plugin '{plugin}' ({}): {source}", path.display())]
    Register {
        /// The plugin's name.
        plugin: String,
        /// Its file.
        path: PathBuf,
        /// What the registry said.
        source: barrow_core::Error,
    },
    /// A set-up step failed.
    #[error("set-up step '{plugin}.{step}' failed in worker {worker}: {message}")]
    Setup {
        /// The plugin's name.
        plugin: String,
        /// The step's name.
        step: String,
        /// The worker (0: this program).
        worker: u32,
        /// What the step said.
        message: String,
    },
    /// The configuration could not be read.
    #[error("cannot read the plugin configuration: {0}")]
    Config(#[from] barrow_config::Error),
}

/// Prints what `Display` prints, then the causes (as `anyhow` does), so that
/// a `main` returning this error shows it readably.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        barrow_core::error::write_report(self, f)
    }
}

/// A result with the host's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for barrow_core::Error {
    fn from(error: Error) -> barrow_core::Error {
        let kind = match &error {
            Error::Config(_) => barrow_core::ErrorKind::Config,
            Error::Register { source, .. } => source.kind(),
            Error::NotFound { .. } | Error::Gone { .. } => barrow_core::ErrorKind::Io,
            _ => barrow_core::ErrorKind::InvalidArgument,
        };
        barrow_core::Error::new(kind, error.to_string())
    }
}
