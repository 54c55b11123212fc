// The README is the crate's documentation, and its examples its doctests;
// they use the optional schedulers and plugins, so a build with fewer
// features gets a shorter page with an example of its own.
#![cfg_attr(
    all(feature = "processes", feature = "distributed", feature = "plugins", feature = "dataframe"),
    doc = include_str!("../README.md")
)]
#![cfg_attr(
    not(all(
        feature = "processes",
        feature = "distributed",
        feature = "plugins",
        feature = "dataframe"
    )),
    doc = r#"Barrow: parallel computing in the spirit of Dask (the README, with
every feature's examples, is this page with `--features full`).

```
use barrow::arg::key;
use barrow::collection::GraphKeys;
use barrow::{Func, Graph, Task, compute};

let add = Func::new("add", |a: &i64, b: &i64| a + b);
let graph = Graph::from_tasks([
    ("a", Task::literal(1i64)),
    ("b", Task::literal(2i64)),
    ("c", Task::call(&add, [key("a"), key("b")])),
])?;
let c = compute(GraphKeys::new(graph, ["c"]))?;
assert_eq!(*c[0].downcast_ref::<i64>()?, 3);
# Ok::<(), barrow::Error>(())
```
"#
)]
//!
//! # Feature flags
//!
//! The defaults are what the quickstart needs (`local`, `bag`, `array`);
//! the rest is a feature away.
//!
//! - `local` (default): the local schedulers (`sync`, `threads`) and the
//!   spilling store from `barrow-local`, re-exported as `local`.
//! - `bag` (default): bags, Dask's partitioned sequences, with text files
//!   in and out, from `barrow-bag`, re-exported as `bag` (brings `delayed`).
//! - `array` (default): chunked n-dimensional arrays from `barrow-array`,
//!   re-exported as `array` (brings `delayed`).
//! - `delayed`: lazy function calls (Dask's `delayed`) from `barrow-delayed`,
//!   re-exported as `delayed`.
//! - `processes`: the `processes` scheduler, a pool of worker processes,
//!   from `barrow-processes`, re-exported as `processes`; and
//!   `check_serializable`, which tells whether a graph can cross a process
//!   boundary. A program that computes on `processes` calls
//!   `processes::worker_main` first in `main`.
//! - `distributed`: the cluster — `distributed::Client`,
//!   `distributed::LocalCluster`, the scheduler named `distributed` and
//!   the `barrow scheduler` / `barrow worker` commands, over TCP or TLS
//!   (`tls://`, rustls) — from `barrow-distributed` (on tokio),
//!   re-exported as `distributed`.
//! - `deploy`: clusters started over SSH (`deploy::SshCluster`, `barrow
//!   ssh HOST…`) and as Slurm or PBS jobs (`deploy::SlurmCluster`,
//!   `deploy::PbsCluster`), from `barrow-deploy`.
//! - `linalg`: `dot`, `matmul`, `tensordot`, `qr`, `tsqr`, `svd` on faer.
//! - `zarr`: Zarr v3 stores for arrays, through `zarrs`.
//! - `compression`: `.xz` and `.zst` text files and zstd frames (bundled C).
//! - `plugins`: plugins loaded at run time, from `barrow-plugin-host`,
//!   re-exported as `plugins`.
//! - `diagnostics`: progress bar, profilers and graph rendering from
//!   `barrow-diagnostics`, re-exported as `diagnostics`.
//! - `cli`: the `barrow` command (`barrow config`, `plugin`, `scheduler`,
//!   `worker` as the other features allow).
//! - `full`: everything.
//!
//! The configuration crate is always there, as `config`.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs, missing_debug_implementations)]

pub use barrow_core::*;

/// Registers a function at compile time under `module::path::name` (see
/// [`barrow_core::task`](macro@barrow_core::task) for the details and an
/// example).
pub use barrow_macros::task;

/// The local schedulers: `sync` and `threads`, on one engine.
#[cfg(feature = "local")]
#[cfg_attr(docsrs, doc(cfg(feature = "local")))]
pub use barrow_local as local;

/// The `processes` scheduler: a pool of worker processes on the local
/// engine. Put `barrow::processes::worker_main();` first in `main`.
#[cfg(feature = "processes")]
#[cfg_attr(docsrs, doc(cfg(feature = "processes")))]
pub use barrow_processes as processes;

#[cfg(feature = "processes")]
#[cfg_attr(docsrs, doc(cfg(feature = "processes")))]
pub use barrow_wire::check_serializable;

/// The cluster: a scheduler, workers and clients over the network (Dask's
/// `distributed`).
#[cfg(feature = "distributed")]
#[cfg_attr(docsrs, doc(cfg(feature = "distributed")))]
pub use barrow_distributed as distributed;

/// Lazy function calls: Dask's `delayed`.
#[cfg(feature = "delayed")]
#[cfg_attr(docsrs, doc(cfg(feature = "delayed")))]
pub use barrow_delayed as delayed;

/// Bags: partitioned sequences of any Rust values (Dask's `dask.bag`).
#[cfg(feature = "bag")]
#[cfg_attr(docsrs, doc(cfg(feature = "bag")))]
pub use barrow_bag as bag;

/// Partitioned dataframes on Apache Arrow (Dask's `dask.dataframe`).
#[cfg(feature = "dataframe")]
#[cfg_attr(docsrs, doc(cfg(feature = "dataframe")))]
pub use barrow_dataframe as dataframe;

/// Chunked n-dimensional arrays on ndarray (Dask's `dask.array`).
#[cfg(feature = "array")]
#[cfg_attr(docsrs, doc(cfg(feature = "array")))]
pub use barrow_array as array;

/// The dashboard: a computation's task stream, worker memory and progress
/// in the browser, for clusters (served by the scheduler) and local runs
/// (`Options::new().callback(Dashboard::serve(..)?)`).
#[cfg(feature = "dashboard")]
#[cfg_attr(docsrs, doc(cfg(feature = "dashboard")))]
pub use barrow_dashboard as dashboard;

/// Clusters started through the managers a site already runs: OpenSSH
/// ([`deploy::SshCluster`](barrow_deploy::SshCluster)), Slurm and PBS
/// ([`deploy::SlurmCluster`](barrow_deploy::SlurmCluster)).
#[cfg(feature = "deploy")]
#[cfg_attr(docsrs, doc(cfg(feature = "deploy")))]
pub use barrow_deploy as deploy;

/// Progress bar, profilers, resource profiler and graph rendering.
#[cfg(feature = "diagnostics")]
#[cfg_attr(docsrs, doc(cfg(feature = "diagnostics")))]
pub use barrow_diagnostics as diagnostics;

/// Plugins: libraries built against `barrow-plugin`, loaded at run time
/// from the configuration (`BARROW_PLUGINS__LOAD`, `plugins.paths`) or in
/// code with [`plugins::load`](barrow_plugin_host::load).
#[cfg(feature = "plugins")]
#[cfg_attr(docsrs, doc(cfg(feature = "plugins")))]
pub use barrow_plugin_host as plugins;

/// Items the macros refer to; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use barrow_core::__private::*;
}
