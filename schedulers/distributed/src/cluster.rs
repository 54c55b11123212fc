//! A cluster on this machine, made in code (Dask's `LocalCluster`): the
//! scheduler in this process, the workers as processes of this program
//! started again (or, for tests, inside this process), all gone when it
//! is dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use barrow_core::config::Snapshot;
use barrow_core::{Error, ErrorKind, Result};
use tokio::sync::oneshot;

use crate::client::{Client, ClientOptions};
use crate::protocol::handshake::generate_token;
use crate::server::SchedulerServer;
use crate::settings::scheduler_config;
use crate::worker::WorkerOptions;
use crate::worker::server::{WorkerLimits, serve};

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
    validate: bool,
    start_timeout: Duration,
    config: Option<Snapshot>,
}

/// A scheduler and workers on this machine, started by this program and
/// stopped when dropped.
#[derive(Debug)]
pub struct LocalCluster {
    workers: Vec<LocalWorker>,
    scheduler: SchedulerServer,
    client: std::sync::Mutex<Option<Client>>,
}

#[derive(Debug)]
enum LocalWorker {
    Process(Child),
    InProcess(Option<oneshot::Sender<()>>),
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
            validate: false,
            start_timeout: Duration::from_secs(30),
            config: None,
        }
    }

    /// The scheduler's address.
    pub fn address(&self) -> String {
        self.scheduler.address().to_string()
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
        Client::connect_with(&self.address(), &ClientOptions::new().token(self.token()))
    }

    /// The number of workers it started.
    pub fn worker_count(&self) -> usize {
        self.workers.len()
    }

    /// Stops worker `index` at once, as if its machine went away: its
    /// connections close, what it ran and held is lost. For tests of
    /// failures.
    pub fn kill_worker(&mut self, index: usize) -> Result<()> {
        let Some(worker) = self.workers.get_mut(index) else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("the cluster has no worker {index}"),
            ));
        };
        match worker {
            LocalWorker::Process(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            LocalWorker::InProcess(stop) => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
            }
        }
        Ok(())
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.client.lock().unwrap_or_else(|e| e.into_inner()).take();
        for worker in &mut self.workers {
            if let LocalWorker::InProcess(stop) = worker
                && let Some(stop) = stop.take()
            {
                let _ = stop.send(());
            }
        }
        // The scheduler tells its workers to close, and its connections
        // close: they exit; a process that does not is killed.
        self.scheduler.shutdown();
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut processes: Vec<Child> = std::mem::take(&mut self.workers)
            .into_iter()
            .filter_map(|w| match w {
                LocalWorker::Process(child) => Some(child),
                LocalWorker::InProcess(_) => None,
            })
            .collect();
        for child in &mut processes {
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Ok(None) => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
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
        let server = SchedulerServer::start_with("127.0.0.1", 0, &token, &config, scheduler)?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let threads = self
            .threads_per_worker
            .unwrap_or_else(|| (cores / self.workers).max(1));
        let mut workers = Vec::with_capacity(self.workers);
        if self.processes {
            let (program, args, from_test) = barrow_processes::__private::worker_command()?;
            for i in 0..self.workers {
                let mut command = Command::new(&program);
                command
                    .args(&args)
                    .env("BARROW_WORKER__SCHEDULER", server.address().to_string())
                    .env("BARROW_WORKER__NTHREADS", threads.to_string())
                    .env("BARROW_WORKER__NAME", format!("local-{i}"))
                    .env("BARROW_DISTRIBUTED__SECURITY__TOKEN", &token)
                    .envs(barrow_core::hooks::worker_env())
                    // Each worker's parallel libraries get its share.
                    .env("RAYON_NUM_THREADS", threads.to_string())
                    .env("OMP_NUM_THREADS", threads.to_string())
                    .env("OPENBLAS_NUM_THREADS", threads.to_string())
                    .env("MKL_NUM_THREADS", threads.to_string())
                    .env("BARROW_NUM_WORKERS", threads.to_string())
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                if self.validate {
                    command.env("BARROW_DISTRIBUTED__WORKER__VALIDATE", "true");
                }
                if let Some(limit) = self.memory_limit {
                    command.env("BARROW_WORKER__MEMORY_LIMIT", limit.to_string());
                }
                if let Some(resources) = self.resources.get(i) {
                    let list: Vec<String> =
                        resources.iter().map(|(n, a)| format!("{n}={a}")).collect();
                    command.env("BARROW_WORKER__RESOURCES", format!("[{}]", list.join(", ")));
                }
                let mut child = command.spawn().map_err(|e| {
                    Error::new(
                        ErrorKind::Worker,
                        format!("cannot start worker {i} ({}): {e}", program.display()),
                    )
                })?;
                barrow_processes::__private::forward_output(i as u32 + 1, &mut child, from_test);
                workers.push(LocalWorker::Process(child));
            }
        } else {
            let comm = server.comm(&config)?;
            let mut limits = WorkerLimits::from_config(&config)?;
            limits.validate |= self.validate;
            for i in 0..self.workers {
                let mut options = WorkerOptions::new(server.address().clone())
                    .nthreads(threads)
                    .name(format!("local-{i}"))
                    .host("127.0.0.1");
                if let Some(limit) = self.memory_limit {
                    options = options.memory_limit(limit);
                }
                for (name, amount) in self.resources.get(i).cloned().unwrap_or_default() {
                    options = options.resource(name, amount);
                }
                let (stop, stopped) = oneshot::channel();
                let comm = comm.clone();
                let limits = limits.clone();
                server.runtime().handle().spawn(async move {
                    let registry = barrow_core::Registry::global();
                    if let Err(error) =
                        serve(options, comm, limits, registry, None, Some(stopped)).await
                    {
                        tracing::warn!("in-process worker {i} ended: {error}");
                    }
                });
                workers.push(LocalWorker::InProcess(Some(stop)));
            }
        }
        let mut cluster = LocalCluster {
            workers,
            scheduler: server,
            client: std::sync::Mutex::new(None),
        };
        cluster.wait_for_workers(self.start_timeout)?;
        Ok(cluster)
    }
}

impl LocalCluster {
    fn wait_for_workers(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let wanted = self.workers.len();
        loop {
            let joined = self.scheduler.worker_count();
            if joined >= wanted {
                return Ok(());
            }
            for (i, worker) in self.workers.iter_mut().enumerate() {
                if let LocalWorker::Process(child) = worker
                    && let Ok(Some(status)) = child.try_wait()
                {
                    return Err(Error::new(
                        ErrorKind::Worker,
                        format!(
                            "worker {i} of the LocalCluster ended before it joined ({status}): its \
                             output above says why; the workers are this program started again, \
                             so it needs the worker hook (barrow::processes::worker_main() first \
                             in main, or barrow_processes::worker_entry!() in a test file)"
                        ),
                    ));
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::new(
                    ErrorKind::Worker,
                    format!(
                        "{joined} of the LocalCluster's {wanted} workers joined within {timeout:?}"
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
