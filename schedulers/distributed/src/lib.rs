//! Barrow's cluster (Dask's `distributed`): a scheduler, workers and
//! clients over the network, so that a graph that runs on `sync` runs
//! unchanged on many machines.
//!
//! ```
//! use barrow_core::arg::{key, lit};
//! use barrow_core::collection::GraphKeys;
//! use barrow_core::{Graph, Options, Task, compute_with};
//! use barrow_core::testing::functions::{add, inc};
//! use barrow_distributed::LocalCluster;
//!
//! // Two workers inside this process (`processes(true)`, the default,
//! // starts them as processes of the program, which then needs the
//! // worker hook first in `main`).
//! let cluster = LocalCluster::new().workers(2).processes(false).start()?;
//! let client = cluster.client()?;
//!
//! let graph = Graph::from_tasks([
//!     ("x", Task::call(&inc(), [lit(1i64)])),
//!     ("y", Task::call(&add(), [key("x"), lit(10i64)])),
//! ])?;
//! let y = compute_with(GraphKeys::new(graph, ["y"]), &Options::new().scheduler(&client))?;
//! assert_eq!(*y[0].downcast_ref::<i64>()?, 12);
//!
//! // Futures: tasks submitted now, results fetched when wanted.
//! let a = client.submit::<i64>(&inc(), [lit(41i64)])?;
//! let b = client.submit::<i64>(&add(), [(&a).into(), lit(1i64)])?;
//! assert_eq!(b.result()?, 43);
//! # Ok::<(), barrow_core::Error>(())
//! ```
//!
//! # Processes
//!
//! - **`barrow scheduler`** (or [`SchedulerServer`] in code) listens for
//!   workers and clients; **`barrow worker tcp://HOST:8786`** joins it with
//!   the functions the `barrow` program has (arrays, bags, delayed
//!   helpers, the plugins of `plugins.load`). A program of yours started
//!   with `BARROW_WORKER__SCHEDULER=tcp://HOST:8786` becomes a worker at
//!   its worker hook (`barrow::processes::worker_main()`), with your
//!   `#[barrow::task]` functions. A task runs only on workers that
//!   registered its functions; when none has one, it fails at once naming
//!   the function and the workers.
//! - **[`LocalCluster`]**: the scheduler in this process and workers as
//!   processes of this program (or threads in it), gone when dropped.
//! - **[`Client`]**: `Client::connect("tcp://…")`; a client is a
//!   [`Scheduler`], so `Options::new().scheduler(&client)`,
//!   [`Client::as_default`], or the scheduler named `distributed` (the
//!   newest client, else `distributed.scheduler-address`) compute on it.
//!
//! # How it works
//!
//! The scheduler and each worker are pure state machines
//! ([`scheduler::SchedulerState`], the worker's `WorkerState`) run by a
//! thin tokio layer on a thread of their own; see `README.md` beside this
//! crate for the states, the messages, the placement rule and security.
//! In short: tasks go where their inputs' bytes are unless another worker
//! would start them sooner; root tasks wait on the scheduler until a
//! worker has a slot; workers fetch inputs from each other, never through
//! the scheduler; values stay on the workers until nothing needs them;
//! every connection proves the cluster's token.
//!
//! # TLS
//!
//! With the `tls` feature (on by default), `tls://` addresses carry
//! connections over TLS (rustls), both sides authenticated by
//! certificates of the cluster's CA: `distributed.comm.tls.ca-file` and,
//! per role, `distributed.comm.tls.{scheduler,worker,client}.{cert,key}`
//! (or [`ClientOptions::tls_cert`], [`WorkerOptions::tls_cert`], `barrow
//! scheduler --tls-ca-file … --tls-cert … --tls-key …`). A scheduler with
//! a certificate listens on `tls://`; its workers serve their peers over
//! the scheme they reach it with. `distributed.comm.require-encryption`
//! refuses `tcp://`. [`LocalClusterBuilder::tls`] makes a temporary CA
//! for a local cluster:
//!
//! ```
//! # #[cfg(feature = "tls")] {
//! use barrow_core::arg::lit;
//! use barrow_core::testing::functions::inc;
//! use barrow_distributed::LocalCluster;
//!
//! let cluster = LocalCluster::new().workers(1).processes(false).tls(true).start()?;
//! assert!(cluster.address().starts_with("tls://"));
//! let client = cluster.client()?;
//! assert_eq!(client.submit::<i64>(&inc(), [lit(1i64)])?.result()?, 2);
//! # }
//! # Ok::<(), barrow_core::Error>(())
//! ```
#![deny(missing_docs, missing_debug_implementations)]

mod adaptive;
pub mod cli;
mod client;
mod cluster;
mod comm;
mod dashboard;
mod error;
mod nanny;
pub mod protocol;
mod runtime;
pub mod scheduler;
mod server;
mod settings;
mod worker;

use std::sync::Arc;

use barrow_core::scheduler::StaticScheduler;
use barrow_core::{Error as CoreError, ErrorKind as CoreErrorKind, Options, Scheduler};

pub use adaptive::{AdaptOptions, ScaledWorkers, Spawner};
pub use client::{
    AsCompleted, Client, ClientOptions, Future, FutureStatus, RemoteResult, as_completed,
};
pub use cluster::{LocalCluster, LocalClusterBuilder};
#[cfg(feature = "tls")]
pub use comm::tls::TemporaryCertificates;
pub use comm::{Address, Scheme, outward_ip, raise_descriptor_limit};
pub use error::{Error, ErrorKind, Result};
pub use protocol::handshake::generate_token;
pub use protocol::{
    AdaptiveTarget, ClusterInfo, WorkerMemory, WorkerState as WorkerInfo, WorkerSummary,
};
pub use server::SchedulerServer;
pub use settings::{TlsRole, default_token_file};
pub use worker::hook::{SCHEDULER_VAR, WorkerExit, run_worker};
pub use worker::uploads::uploaded_file;
pub use worker::{Faults, MemoryReader, ProcessMemory, WorkerOptions, WorkerTaskState};

inventory::submit! {
    StaticScheduler { names: &["distributed", "dask.distributed"], make: make_distributed }
}

/// Makes sure this crate is linked, so `distributed` is registered by
/// name and a program started as a worker becomes one.
pub fn link() {}

/// The scheduler named `distributed`: the newest client of this process,
/// else a client of `distributed.scheduler-address`, connected once and
/// kept for the process's life.
fn make_distributed(options: &Options) -> barrow_core::Result<Arc<dyn Scheduler>> {
    static CONNECTED: std::sync::Mutex<Vec<(String, Client)>> = std::sync::Mutex::new(Vec::new());
    if let Some(client) = Client::current() {
        return Ok(Arc::new(client));
    }
    let config = options.resolve_config()?;
    let address: String = config
        .get("distributed.scheduler-address")?
        .ok_or_else(|| {
            CoreError::new(
                CoreErrorKind::Config,
                "the scheduler 'distributed' needs a cluster: connect a Client first \
             (barrow_distributed::Client::connect), or set distributed.scheduler-address \
             (BARROW_DISTRIBUTED__SCHEDULER_ADDRESS=tcp://HOST:8786)",
            )
        })?;
    let mut connected = CONNECTED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, client)) = connected.iter().find(|(a, _)| *a == address) {
        return Ok(Arc::new(client.clone()));
    }
    let client = Client::connect_configured(&address, &ClientOptions::new(), &config)?;
    connected.push((address, client.clone()));
    Ok(Arc::new(client))
}

/// A key no other task has: `prefix-` and 32 hex digits (a process-wide
/// counter mixed with a random salt drawn once).
pub(crate) fn unique_key(prefix: &str) -> String {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static SALT: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let salt = *SALT.get_or_init(|| {
        protocol::handshake::random_u64().unwrap_or_else(|_| u64::from(std::process::id()))
    });
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&salt.to_le_bytes());
    bytes[8..].copy_from_slice(&count.to_le_bytes());
    format!("{prefix}-{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes))
}
