//! A cluster on this machine, made in code (Dask's `LocalCluster`): the
//! scheduler in this process, the workers as processes of this program
//! started again, each under a nanny thread that starts it again when it
//! dies (or, for tests, inside this process), all gone when it is dropped.

mod launch;

use std::sync::Arc;
use std::time::{Duration, Instant};

use barrow_core::config::Snapshot;
use barrow_core::{Error, ErrorKind, Result};

use crate::adaptive::{AdaptOptions, ScaledWorkers, Spawner};
use crate::client::{Client, ClientOptions};
use crate::protocol::handshake::generate_token;
use crate::server::SchedulerServer;
use crate::settings::{REQUIRE_ENCRYPTION, TlsRole, scheduler_config};
use crate::worker::{Faults, MemoryReader};
use launch::{Launch, LocalSpawner, LocalWorker, Workers, stop_in_process, worker_name};

/// Sets up a [`LocalCluster`].
///
/// ```no_run
/// use barrow_distributed::LocalCluster;
///
/// fn main() -> barrow_core::Result<()> {
///     barrow_processes::worker_main(); // the workers are this program
///     let cluster = LocalCluster::new().workers(2).threads_per_worker(1).start()?;
///     let client = cluster.client()?;
///     # let _ = client;
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct LocalClusterBuilder {
    workers: usize,
    threads_per_worker: Option<usize>,
    processes: bool,
    memory_limit: Option<u64>,
    resources: Vec<Vec<(String, f64)>>,
    memory_readers: Vec<(usize, Arc<dyn MemoryReader>)>,
    faults: Vec<(usize, Arc<Faults>)>,
    validate: bool,
    start_timeout: Duration,
    config: Option<Snapshot>,
    tls: bool,
}

/// A scheduler and workers on this machine, started by this program and
/// stopped when dropped.
#[derive(Debug)]
pub struct LocalCluster {
    /// By index (`local-INDEX`); `None` once stopped by a scale down.
    workers: Workers,
    spawner: Arc<LocalSpawner>,
    /// Scaling, set up on the first `scale` or `adapt`.
    scaled: std::sync::OnceLock<ScaledWorkers>,
    scheduler: SchedulerServer,
    client: std::sync::Mutex<Option<Client>>,
    /// The temporary CA and certificates of a TLS cluster: their folder
    /// lives as long as the cluster.
    #[cfg(feature = "tls")]
    certificates: Option<crate::comm::tls::TemporaryCertificates>,
}

impl LocalCluster {
    /// A cluster of one worker per core, one thread each, as processes.
    #[allow(
        clippy::new_ret_no_self,
        reason = "a builder, as Dask's LocalCluster(...) takes options"
    )]
    pub fn new() -> LocalClusterBuilder {
        LocalClusterBuilder {
            workers: std::thread::available_parallelism().map_or(1, usize::from),
            threads_per_worker: None,
            processes: true,
            memory_limit: None,
            resources: Vec::new(),
            memory_readers: Vec::new(),
            faults: Vec::new(),
            validate: false,
            start_timeout: Duration::from_secs(30),
            config: None,
            tls: false,
        }
    }

    /// The scheduler's address.
    pub fn address(&self) -> String {
        self.scheduler.address().to_string()
    }

    /// Its dashboard's page (`distributed.dashboard.address`; a free port
    /// when that one is taken); `None` when the dashboard is turned off.
    pub fn dashboard_url(&self) -> Option<String> {
        self.scheduler.dashboard_url()
    }

    /// The cluster's token (generated for it).
    pub fn token(&self) -> &str {
        self.scheduler.token()
    }

    /// The scheduler, to inspect its state (tests, diagnostics).
    pub fn scheduler(&self) -> &SchedulerServer {
        &self.scheduler
    }

    /// A client of this cluster (one, shared by the calls).
    pub fn client(&self) -> Result<Client> {
        let mut slot = self.client.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = slot.as_ref() {
            return Ok(client.clone());
        }
        let client = self.new_client()?;
        *slot = Some(client.clone());
        Ok(client)
    }

    /// A new client of this cluster, with a connection of its own.
    pub fn new_client(&self) -> Result<Client> {
        Client::connect_with(&self.address(), &self.client_options())
    }

    /// What a client of this cluster connects with: its token and, for a
    /// TLS cluster, its temporary CA and client certificate.
    pub fn client_options(&self) -> ClientOptions {
        let options = ClientOptions::new().token(self.token());
        #[cfg(feature = "tls")]
        if let Some(certificates) = &self.certificates {
            return options.tls_ca_file(certificates.ca_file()).tls_cert(
                certificates.cert(TlsRole::Client),
                certificates.key(TlsRole::Client),
            );
        }
        options
    }

    /// The temporary CA and certificates of a TLS cluster
    /// ([`LocalClusterBuilder::tls`]), to connect more clients or workers.
    #[cfg(feature = "tls")]
    pub fn certificates(&self) -> Option<&crate::comm::tls::TemporaryCertificates> {
        self.certificates.as_ref()
    }

    /// The number of workers running (started and not stopped by a scale
    /// down).
    pub fn worker_count(&self) -> usize {
        self.lock_workers().iter().flatten().count()
    }

    fn lock_workers(&self) -> std::sync::MutexGuard<'_, Vec<Option<LocalWorker>>> {
        self.workers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts or stops workers until `n` run (Dask's `cluster.scale(n)`):
    /// new workers at once (without waiting for them to join); going down,
    /// those not joined yet first, then idle ones holding the fewest bytes,
    /// retired so that their values are on the others before they stop.
    /// Stops [`adapt`](Self::adapt)ing.
    ///
    /// ```no_run
    /// # use barrow_distributed::LocalCluster;
    /// let cluster = LocalCluster::new().workers(1).start()?;
    /// cluster.scale(4)?;
    /// cluster.wait_for_workers(4, std::time::Duration::from_secs(30))?;
    /// cluster.scale(2)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn scale(&self, n: usize) -> Result<()> {
        self.scaled()?.scale(n)
    }

    /// Follows the scheduler's demand between `minimum` and `maximum`
    /// workers (Dask's `cluster.adapt`): more when the work in hand would
    /// take longer than `distributed.adaptive.target-duration` (5 s),
    /// fewer after `distributed.adaptive.wait-count` (3) looks, one every
    /// `distributed.adaptive.interval` (1 s), found idle. Replaces an
    /// earlier `adapt`; [`scale`](Self::scale) ends it.
    ///
    /// ```no_run
    /// # use barrow_distributed::LocalCluster;
    /// let cluster = LocalCluster::new().workers(1).start()?;
    /// cluster.adapt(1, 8)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn adapt(&self, minimum: usize, maximum: usize) -> Result<()> {
        let config = barrow_core::config::snapshot()?;
        self.adapt_with(AdaptOptions::from_config(minimum, maximum, &config)?)
    }

    /// [`adapt`](Self::adapt) with every setting given.
    pub fn adapt_with(&self, options: AdaptOptions) -> Result<()> {
        self.scaled()?.adapt(options)
    }

    /// What the running `adapt` follows, if one runs.
    pub fn adapting(&self) -> Option<AdaptOptions> {
        self.scaled.get().and_then(ScaledWorkers::adapting)
    }

    /// Stops adapting; the workers stay as they are.
    pub fn stop_adapting(&self) {
        if let Some(scaled) = self.scaled.get() {
            scaled.stop_adapting();
        }
    }

    fn scaled(&self) -> Result<&ScaledWorkers> {
        if let Some(scaled) = self.scaled.get() {
            return Ok(scaled);
        }
        let running: Vec<String> = self
            .lock_workers()
            .iter()
            .enumerate()
            .filter(|(_, w)| w.is_some())
            .map(|(i, _)| worker_name(i))
            .collect();
        let scaled = ScaledWorkers::new(self.spawner.clone(), self.client()?, running);
        Ok(self.scaled.get_or_init(|| scaled))
    }

    /// Waits until `n` workers have joined the scheduler.
    pub fn wait_for_workers(&self, n: usize, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let joined = self.scheduler.worker_count();
            if joined >= n {
                return Ok(());
            }
            for (i, worker) in self.lock_workers().iter().enumerate() {
                if let Some(LocalWorker::Process(watch)) = worker
                    && let Some(ended) = watch.ended()
                {
                    let why = ended.err().unwrap_or_else(|| "it closed".to_owned());
                    return Err(Error::new(
                        ErrorKind::Worker,
                        format!(
                            "worker {i} of the LocalCluster ended before it joined ({why}); the \
                             workers are this program started again, so it needs the worker \
                             hook (barrow::processes::worker_main() first in main, or \
                             barrow_processes::worker_entry!() in a test file)"
                        ),
                    ));
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorKind::Worker,
                    format!("{joined} of the LocalCluster's {n} workers joined within {timeout:?}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Stops worker `index` at once, as if its machine went away: its
    /// connections close, what it ran and held is lost. A worker process
    /// is killed (`SIGKILL`), and its nanny starts it again, reporting the
    /// death; an in-process worker is gone for good. For tests of
    /// failures.
    pub fn kill_worker(&self, index: usize) -> Result<()> {
        let workers = self.lock_workers();
        let Some(Some(worker)) = workers.get(index) else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("the cluster has no worker {index}"),
            ));
        };
        match worker {
            LocalWorker::Process(watch) => watch.kill(),
            LocalWorker::InProcess(stop) => stop_in_process(stop),
        }
        Ok(())
    }

    /// The process id of worker `index` now (`None` for an in-process
    /// worker, or between a death and the restart).
    pub fn worker_pid(&self, index: usize) -> Option<u32> {
        match self.lock_workers().get(index)?.as_ref()? {
            LocalWorker::Process(watch) => watch.pid(),
            LocalWorker::InProcess(_) => None,
        }
    }

    /// How many times worker `index` died and its nanny started it again.
    pub fn worker_restarts(&self, index: usize) -> u32 {
        match self.lock_workers().get(index) {
            Some(Some(LocalWorker::Process(watch))) => watch.restarts(),
            _ => 0,
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        // No more workers started, before any is stopped.
        self.stop_adapting();
        self.client.lock().unwrap_or_else(|e| e.into_inner()).take();
        let workers: Vec<LocalWorker> = self.lock_workers().drain(..).flatten().collect();
        for worker in &workers {
            match worker {
                LocalWorker::InProcess(stop) => stop_in_process(stop),
                LocalWorker::Process(watch) => watch.stop(),
            }
        }
        // The scheduler tells its workers to close, and its connections
        // close: they exit, and their nannies end; a process that does not
        // is killed.
        self.scheduler.shutdown();
        let deadline = Instant::now() + Duration::from_secs(2);
        for worker in &workers {
            let LocalWorker::Process(watch) = worker else {
                continue;
            };
            while watch.ended().is_none() {
                if Instant::now() >= deadline {
                    watch.kill();
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}

impl LocalClusterBuilder {
    /// The number of workers.
    pub fn workers(mut self, n: usize) -> LocalClusterBuilder {
        self.workers = n;
        self
    }

    /// Threads per worker (default: the cores shared among the workers).
    pub fn threads_per_worker(mut self, n: usize) -> LocalClusterBuilder {
        self.threads_per_worker = Some(n.max(1));
        self
    }

    /// Workers as processes of this program (the default), or as threads
    /// inside this process (`false`: for tests; tasks then share this
    /// process's memory and registry).
    pub fn processes(mut self, processes: bool) -> LocalClusterBuilder {
        self.processes = processes;
        self
    }

    /// Each worker's memory limit in bytes.
    pub fn memory_limit(mut self, bytes: u64) -> LocalClusterBuilder {
        self.memory_limit = Some(bytes);
        self
    }

    /// The resources of each worker, in order (workers past the list have
    /// none): `[vec![("GPU", 1.0)], vec![]]`.
    pub fn resources(mut self, per_worker: Vec<Vec<(String, f64)>>) -> LocalClusterBuilder {
        self.resources = per_worker;
        self
    }

    /// Where the in-process worker `index` reads its process's memory
    /// (for tests of the `spill` and `pause` thresholds: such workers
    /// share this process, so by default they read none; worker processes
    /// read their own).
    pub fn memory_reader(
        mut self,
        index: usize,
        reader: Arc<dyn MemoryReader>,
    ) -> LocalClusterBuilder {
        self.memory_readers.push((index, reader));
        self
    }

    /// Faults to inject into the in-process worker `index` (see
    /// [`Faults`]), for tests of failures.
    pub fn faults(mut self, index: usize, faults: Arc<Faults>) -> LocalClusterBuilder {
        self.faults.push((index, faults));
        self
    }

    /// Checks the scheduler's and workers' invariants after every event
    /// (tests).
    pub fn validate(mut self, on: bool) -> LocalClusterBuilder {
        self.validate = on;
        self
    }

    /// How long the workers may take to join (default 30 s).
    pub fn start_timeout(mut self, timeout: Duration) -> LocalClusterBuilder {
        self.start_timeout = timeout;
        self
    }

    /// Reads settings from `config` instead of the current configuration.
    pub fn config(mut self, config: Snapshot) -> LocalClusterBuilder {
        self.config = Some(config);
        self
    }

    /// Connections over TLS (`tls://`) with a temporary CA and a
    /// certificate per role, made for the cluster in a folder that lives
    /// as long as it ([`TemporaryCertificates`](crate::TemporaryCertificates));
    /// [`LocalCluster::client`] presents the client certificate. Also on
    /// when `distributed.comm.require-encryption` is true and no
    /// scheduler certificate is configured; without either, the
    /// configured certificates (`distributed.comm.tls.*`), if any, are
    /// used. Needs the crate's `tls` feature (on by default).
    pub fn tls(mut self, on: bool) -> LocalClusterBuilder {
        self.tls = on;
        self
    }

    /// Starts the scheduler and the workers, and waits until every worker
    /// has joined.
    pub fn start(self) -> Result<LocalCluster> {
        if self.workers == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a LocalCluster needs at least one worker",
            ));
        }
        let config = match &self.config {
            Some(config) => config.clone(),
            None => barrow_core::config::snapshot()?,
        };
        let token = generate_token()?;
        let mut scheduler = scheduler_config(&config)?;
        scheduler.validate |= self.validate;
        let tls = self.tls
            || (config.get::<bool>(REQUIRE_ENCRYPTION)?.unwrap_or(false)
                && config
                    .get::<std::path::PathBuf>(&TlsRole::Scheduler.cert_setting())?
                    .is_none());
        #[cfg(not(feature = "tls"))]
        if tls {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a LocalCluster with TLS needs barrow-distributed's `tls` feature",
            ));
        }
        #[cfg(feature = "tls")]
        let certificates = if tls {
            Some(crate::comm::tls::TemporaryCertificates::generate()?)
        } else {
            None
        };
        // The configuration of each role: with the temporary certificates.
        let for_role = |role: TlsRole| -> Result<Snapshot> {
            #[cfg(feature = "tls")]
            if let Some(certificates) = &certificates {
                return Ok(config.with_options(certificates.options(role))?);
            }
            let _ = role;
            Ok(config.clone())
        };
        let server = SchedulerServer::start_with(
            "127.0.0.1",
            0,
            &token,
            &for_role(TlsRole::Scheduler)?,
            scheduler,
        )?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let threads = self
            .threads_per_worker
            .unwrap_or_else(|| (cores / self.workers).max(1));
        let launch: Launch = if self.processes {
            // The temporary certificates reach the worker processes as the
            // token does: as configuration in their environment.
            #[allow(unused_mut, reason = "without TLS there is nothing to add")]
            let mut tls_env: Vec<(&'static str, std::path::PathBuf)> = Vec::new();
            #[cfg(feature = "tls")]
            if let Some(certificates) = &certificates {
                tls_env = vec![
                    (
                        "BARROW_DISTRIBUTED__COMM__TLS__CA_FILE",
                        certificates.ca_file(),
                    ),
                    (
                        "BARROW_DISTRIBUTED__COMM__TLS__WORKER__CERT",
                        certificates.cert(TlsRole::Worker),
                    ),
                    (
                        "BARROW_DISTRIBUTED__COMM__TLS__WORKER__KEY",
                        certificates.key(TlsRole::Worker),
                    ),
                ];
            }
            launch::processes(
                &self,
                server.address().to_string(),
                &token,
                threads,
                &config,
                tls_env,
            )?
        } else {
            let worker_config = for_role(TlsRole::Worker)?;
            launch::in_process(&self, &server, &worker_config, &config, threads)?
        };
        let workers = Arc::new(std::sync::Mutex::new(Vec::with_capacity(self.workers)));
        let spawner = Arc::new(LocalSpawner {
            launch,
            workers: workers.clone(),
        });
        for _ in 0..self.workers {
            spawner.start_worker()?;
        }
        let cluster = LocalCluster {
            workers,
            spawner,
            scaled: std::sync::OnceLock::new(),
            scheduler: server,
            client: std::sync::Mutex::new(None),
            #[cfg(feature = "tls")]
            certificates,
        };
        cluster.wait_for_workers(self.workers, self.start_timeout)?;
        Ok(cluster)
    }
}
