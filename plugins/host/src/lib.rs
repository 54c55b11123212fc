//! Finds, checks, loads and registers Barrow plugins: dynamic libraries built
//! against [`barrow_plugin`] that add task functions, codecs, worker set-up
//! steps and schedulers to a program that never recompiles.
//!
//! Linking this crate is enough for the configuration to load plugins before
//! every computation (`plugins.load`, found in `plugins.paths`; for example
//! `BARROW_PLUGINS__LOAD=stats BARROW_PLUGINS__PATHS=/opt/barrow/plugins`),
//! and for process workers to load the same plugins as their parent. In code:
//!
//! ```
//! use barrow_core::Registry;
//!
//! // A file that is not a library is refused with a message naming it.
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("libnotes.so");
//! std::fs::write(&path, "just text")?;
//! let err = barrow_plugin_host::load(&path).unwrap_err();
//! assert!(err.to_string().contains("is not a loadable plugin library"), "{err}");
//!
//! // A missing plugin name says where it looked.
//! let config = barrow_core::Options::new()
//!     .set("plugins.load", vec!["stats"])
//!     .resolve_config()?;
//! let err = barrow_plugin_host::load_configured(Registry::global(), &config).unwrap_err();
//! assert!(err.to_string().contains("plugins.paths names no folder"), "{err}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Plugins are trusted code: loading one runs it in this process. Loaded
//! libraries are never unloaded; loading a file twice returns the first
//! load. A plugin built against another major version of `barrow-plugin`,
//! or whose types are laid out differently, is refused with a one-line
//! error (the full layout report is logged at debug level).

mod check;
pub mod cli;
mod config;
mod convert;
mod error;
mod hooks;
mod load;
mod new;
mod object;
mod register;
mod scheduler;
mod setup;

pub use config::{
    WORKER_PLUGIN_CONFIG, WORKER_PLUGINS, configured, configured_each, load_configured, load_into,
};
pub use error::{Error, Result};
pub use load::{Plugin, Provides, load, loaded};
pub use new::{PluginDependency, new_plugin};
pub use object::{ForeignObject, OBJECT_TAG};
pub use register::{function_with_params, register};
pub use setup::run_setup;

#[doc(hidden)]
pub use load::forget_for_tests;

/// Links this crate, so that its hooks run: call it once from a program
/// that uses no other item of the crate.
pub fn link() {}
