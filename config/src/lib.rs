//! Barrow's layered configuration: built-in defaults, files, environment
//! variables and overrides in code, merged key by key, every value
//! remembering the layer it came from.
//!
//! ```
//! use barrow_config::{ByteSize, Origin, Sandbox};
//!
//! // A sandbox stands for /etc/barrow, the home directory and the
//! // environment, so this example reads nothing of the real machine.
//! let mut sandbox = Sandbox::new()?;
//! sandbox.user_file("site.yaml", "array:\n  chunk-size: 256MiB\nnum_workers: 8\n")?;
//! sandbox.set_env("BARROW_ARRAY__CHUNK_SIZE", "64MiB");
//! let config = sandbox.config();
//!
//! let snapshot = config.snapshot()?;
//! // The environment beats the user's file...
//! let (chunk, origin) = snapshot.get_with_origin::<ByteSize>("array.chunk-size")?;
//! assert_eq!(chunk, Some(ByteSize::mib(64)));
//! assert_eq!(origin, Origin::Env("BARROW_ARRAY__CHUNK_SIZE".into()));
//! // ...which beats the built-in default; `_` and `-` are the same.
//! assert_eq!(snapshot.get::<u64>("num_workers")?, Some(8));
//! assert_eq!(snapshot.get::<f64>("array.chunk-size-tolerance")?, Some(1.25));
//!
//! // Overrides in code: global (process-wide), scoped (this thread, until
//! // the guard drops), and options for one call.
//! config.set_global("num-workers", 4)?;
//! let _default = config.set_default(); // this thread reads `config`
//! {
//!     let _scoped = barrow_config::scoped([("num-workers", 2)])?;
//!     let call = barrow_config::snapshot()?.with_options([("scheduler", "sync")])?;
//!     assert_eq!(call.get::<u64>("num-workers")?, Some(2));
//!     assert_eq!(call.get::<String>("scheduler")?.as_deref(), Some("sync"));
//! }
//! assert_eq!(barrow_config::get::<u64>("num-workers")?, Some(4));
//! # Ok::<(), barrow_config::Error>(())
//! ```
//!
//! # Layers
//!
//! Lowest precedence first; each layer overrides the ones before it, key by
//! key ([`Layer`]):
//!
//! 1. built-in defaults: [`DEFAULTS_YAML`], which declares and documents
//!    every key, plus namespaces added with [`register_namespace`];
//! 2. system files `/etc/barrow/*.yaml` (and `*.yml`), by file name; the
//!    folder moves with `BARROW_ROOT_CONFIG`;
//! 3. user files `$XDG_CONFIG_HOME/barrow/*.yaml`, else
//!    `~/.config/barrow/*.yaml`;
//! 4. files or folders named by `BARROW_CONFIG` (separated by `:`);
//! 5. environment variables `BARROW_*`: `__` nests
//!    (`BARROW_ARRAY__CHUNK_SIZE` sets `array.chunk-size`) and values are
//!    YAML scalars (`4`, `true`, `[a, b]`);
//! 6. global overrides ([`set_global`], [`Config::set_global`]);
//! 7. scoped overrides ([`scoped`], per thread, restored on drop);
//! 8. options for one call ([`Snapshot::with_options`]).
//!
//! Keys are dotted and kebab-case (`array.chunk-size`); `_` is accepted
//! anywhere and normalized before layers merge ([`canonical_key`]). Files
//! and the environment are read on first use and again by [`refresh`].
//!
//! # Values, types and errors
//!
//! Every key has a declared type ([`KeyType`]): string, integer, float,
//! bool, enum, list, path, path list, byte size ([`ByteSize`]) or duration
//! ([`Duration`]). Typed getters ([`Snapshot::get`]) check the winning value
//! against it; a bad value is an [`Error`] naming the key, the value, the
//! expected type and the layer (a file's path or a variable's name).
//! Keys nobody declared live too, as in `dask.config`: every layer keeps
//! them, [`Snapshot::get_value`] returns them (a key holding others as a
//! mapping), typed getters read them as the type asked for, and each is a
//! [`Warning`] once, with a "did you mean …?" suggestion when it looks like
//! a declared key. A malformed file is an error naming the file and line;
//! so is a key given twice in one file. A missing home directory or an unreadable folder is a warning:
//! the other layers still apply.
//!
//! # Feature flags
//!
//! - `testing`: the `Sandbox` guard (temporary config folders and an
//!   explicit environment), for tests of this and other crates.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs, missing_debug_implementations)]

pub mod cli;
mod error;
mod instance;
mod key;
mod load;
mod overrides;
#[cfg(any(test, feature = "testing"))]
mod sandbox;
mod schema;
mod setting;
mod snapshot;
mod sources;
mod temporary;
mod tree;
mod units;
mod value;
mod warning;
mod yaml;

pub use error::{BoxError, Error, ErrorKind, Result};
pub use instance::{Config, DefaultGuard};
pub use key::canonical_key;
pub use overrides::{ScopedGuard, scoped, with_scoped};
#[cfg(any(test, feature = "testing"))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub use sandbox::Sandbox;
pub use schema::{DEFAULTS_YAML, Declaration, KeyType, Schema, register_namespace};
pub use setting::{FromSetting, Setting};
pub use snapshot::{Lookup, Snapshot};
pub use sources::{
    CONFIG_PATH_VAR, ENV_PREFIX, SYSTEM_DIR, SYSTEM_DIR_VAR, SearchPath, Sources,
    WORKER_ENV_PREFIX, is_key_variable,
};
pub use temporary::TemporaryDirectory;
pub use units::{ByteSize, Duration};
pub use value::{Entry, Layer, Origin, Value};
pub use warning::{Warning, WarningKind};

/// The README's examples, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The configuration of the current thread now ([`Config::current`]):
/// the process's, or the one installed with [`Config::set_default`].
pub fn snapshot() -> Result<Snapshot> {
    Config::current().snapshot()
}

/// Reads `key` as `T` from the current thread's configuration; `None` if
/// the key is unset. See [`Snapshot::get`].
pub fn get<T: FromSetting>(key: &str) -> Result<Option<T>> {
    snapshot()?.get(key)
}

/// The value at `key` in the current thread's configuration, declared or
/// not, as its layers gave it (Dask's `dask.config.get`); see
/// [`Snapshot::get_value`].
pub fn get_value(key: &str) -> Result<Option<Value>> {
    Ok(snapshot()?.get_value(key))
}

/// Overrides `key` for the whole process (layer 6) in the current
/// configuration. See [`Config::set_global`].
pub fn set_global(key: &str, value: impl Into<Value>) -> Result<()> {
    Config::current().set_global(key, value)
}

/// Reads the files and the environment of the current configuration again.
/// See [`Config::refresh`].
pub fn refresh() -> Result<()> {
    Config::current().refresh()
}
