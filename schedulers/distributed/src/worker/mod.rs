//! Workers: they hold values, run tasks on their threads, fetch inputs
//! from each other and serve their values to peers and clients.
//!
//! [`WorkerOptions`] says which scheduler to join and with what; a worker
//! runs as `barrow worker ADDRESS`, as a program's own binary started with
//! `BARROW_WORKER__SCHEDULER` set (through the worker hook, so its
//! `#[barrow::task]` functions are there), or inside a program for tests
//! ([`LocalCluster`](crate::LocalCluster) without processes).

mod activity;
mod disk;
mod executor;
pub(crate) mod faults;
pub(crate) mod hook;
pub(crate) mod memory;
pub(crate) mod server;
mod state;
pub(crate) mod uploads;

use std::path::PathBuf;

use barrow_core::config::{ByteSize, Snapshot};

use crate::comm::Address;
use crate::error::{Error, ErrorKind, Result};
use crate::settings::TlsFiles;

pub use faults::Faults;
pub use memory::{MemoryReader, ProcessMemory};
pub use state::WorkerTaskState;

/// What a worker joins and what it offers.
///
/// ```
/// use barrow_distributed::WorkerOptions;
///
/// let options = WorkerOptions::new("tcp://127.0.0.1:8786".parse()?)
///     .nthreads(2)
///     .name("gpu-box-1")
///     .memory_limit(4 << 30)
///     .resource("GPU", 1.0);
/// assert_eq!(options.scheduler().port(), 8786);
/// # Ok::<(), barrow_distributed::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    scheduler: Address,
    nthreads: Option<usize>,
    name: Option<String>,
    memory_limit: Option<u64>,
    resources: Vec<(String, f64)>,
    host: Option<String>,
    token: Option<String>,
    tls: TlsFiles,
    memory_reader: Option<std::sync::Arc<dyn MemoryReader>>,
    faults: Option<std::sync::Arc<Faults>>,
    port: u16,
}

impl WorkerOptions {
    /// A worker of the scheduler at `scheduler`, with one thread per core,
    /// named by its address, with no memory limit and no resources.
    pub fn new(scheduler: Address) -> WorkerOptions {
        WorkerOptions {
            scheduler,
            nthreads: None,
            name: None,
            memory_limit: None,
            resources: Vec::new(),
            host: None,
            token: None,
            tls: TlsFiles::default(),
            memory_reader: None,
            faults: None,
            port: 0,
        }
    }

    /// The options of the configuration: `worker.scheduler` (required),
    /// `worker.nthreads`, `worker.name`, `worker.memory-limit`,
    /// `worker.resources` (`["GPU=2"]`), `worker.host`.
    pub fn from_config(config: &Snapshot) -> Result<WorkerOptions> {
        let address: String = config.get("worker.scheduler")?.ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                "worker.scheduler is not set: give the address of the scheduler to join \
                 (BARROW_WORKER__SCHEDULER=tcp://HOST:8786)",
            )
        })?;
        let mut options = WorkerOptions::new(
            address
                .parse()
                .map_err(|e: Error| e.context("worker.scheduler"))?,
        );
        if let Some(n) = config.get::<i64>("worker.nthreads")? {
            options.nthreads = Some(usize::try_from(n).unwrap_or(1).max(1));
        }
        options.name = config.get("worker.name")?;
        options.memory_limit = config
            .get::<ByteSize>("worker.memory-limit")?
            .map(u64::from);
        options.host = config.get("worker.host")?;
        for item in config
            .get::<Vec<String>>("worker.resources")?
            .unwrap_or_default()
        {
            options.resources.push(parse_resource(&item)?);
        }
        Ok(options)
    }

    /// The scheduler's address.
    pub fn scheduler(&self) -> &Address {
        &self.scheduler
    }

    /// Runs `n` tasks at once (default: one per core).
    pub fn nthreads(mut self, n: usize) -> WorkerOptions {
        self.nthreads = Some(n.max(1));
        self
    }

    /// Its name in the cluster (default: its address); task restrictions
    /// may name it.
    pub fn name(mut self, name: impl Into<String>) -> WorkerOptions {
        self.name = Some(name.into());
        self
    }

    /// Its memory limit in bytes, which the scheduler keeps its values
    /// under when it places root tasks.
    pub fn memory_limit(mut self, bytes: u64) -> WorkerOptions {
        self.memory_limit = Some(bytes);
        self
    }

    /// An abstract resource it has (`"GPU"`, 2.0): tasks that need it run
    /// here, at most as many at once as it has.
    pub fn resource(mut self, name: impl Into<String>, amount: f64) -> WorkerOptions {
        self.resources.push((name.into(), amount));
        self
    }

    /// The host or IP it listens on for peers (default: the address it
    /// reaches the scheduler from).
    pub fn host(mut self, host: impl Into<String>) -> WorkerOptions {
        self.host = Some(host.into());
        self
    }

    /// The cluster's token (default: from the configuration).
    pub fn token(mut self, token: impl Into<String>) -> WorkerOptions {
        self.token = Some(token.into());
        self
    }

    /// The CA certificate that signed the cluster's certificates (default:
    /// `distributed.comm.tls.ca-file`): a worker of a `tls://` scheduler
    /// checks the scheduler and its peers against it.
    pub fn tls_ca_file(mut self, path: impl Into<PathBuf>) -> WorkerOptions {
        self.tls.ca_file = Some(path.into());
        self
    }

    /// The worker's certificate and private key (PEM files), which it
    /// presents to the scheduler and its peers and serves its peers with
    /// (default: `distributed.comm.tls.worker.cert` and `.key`).
    pub fn tls_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> WorkerOptions {
        self.tls.cert = Some((cert.into(), key.into()));
        self
    }

    pub(crate) fn tls_files(&self) -> &TlsFiles {
        &self.tls
    }

    /// Where it reads its process's resident memory, for the `spill` and
    /// `pause` thresholds (`distributed.worker.memory.*`). A worker
    /// process reads its own ([`ProcessMemory`]); a worker inside another
    /// program has none by default (the process is shared), so only
    /// `target`, against its own values' bytes, applies.
    pub fn memory_reader(mut self, reader: std::sync::Arc<dyn MemoryReader>) -> WorkerOptions {
        self.memory_reader = Some(reader);
        self
    }

    /// Faults to inject, for tests of failures (see [`Faults`]).
    pub fn faults(mut self, faults: std::sync::Arc<Faults>) -> WorkerOptions {
        self.faults = Some(faults);
        self
    }

    pub(crate) fn faults_ref(&self) -> Option<std::sync::Arc<Faults>> {
        self.faults.clone()
    }

    /// The port it serves its values on (default 0: any free one); a
    /// worker started again on the same port comes back at the same
    /// address.
    pub fn port(mut self, port: u16) -> WorkerOptions {
        self.port = port;
        self
    }

    pub(crate) fn memory_reader_ref(&self) -> Option<std::sync::Arc<dyn MemoryReader>> {
        self.memory_reader.clone()
    }

    pub(crate) fn token_ref(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub(crate) fn name_ref(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub(crate) fn memory_limit_ref(&self) -> Option<u64> {
        self.memory_limit
    }

    pub(crate) fn threads(&self) -> usize {
        self.nthreads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
    }
}

/// `NAME=AMOUNT` (`GPU=2`); a bare name is an amount of 1.
pub(crate) fn parse_resource(text: &str) -> Result<(String, f64)> {
    let (name, amount) = text.split_once('=').unwrap_or((text, "1"));
    let amount: f64 = amount.trim().parse().map_err(|_| {
        Error::new(
            ErrorKind::Config,
            format!("resource '{text}' is not NAME=AMOUNT (such as GPU=2)"),
        )
    })?;
    if name.trim().is_empty() || !amount.is_finite() || amount < 0.0 {
        return Err(Error::new(
            ErrorKind::Config,
            format!("resource '{text}' is not NAME=AMOUNT with a name and an amount >= 0"),
        ));
    }
    Ok((name.trim().to_owned(), amount))
}

/// This machine's memory in bytes, from `/proc/meminfo` (0 if unknown).
pub(crate) fn system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_parse_or_say_what_they_should_be() {
        assert_eq!(parse_resource("GPU=2").unwrap(), ("GPU".to_owned(), 2.0));
        assert_eq!(parse_resource("fpga").unwrap(), ("fpga".to_owned(), 1.0));
        for bad in ["GPU=lots", "=1", "GPU=-1"] {
            assert!(
                parse_resource(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("NAME=AMOUNT")
            );
        }
    }

    #[test]
    fn the_system_has_memory() {
        assert!(system_memory() > 0);
    }
}
