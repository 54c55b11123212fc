//! How a LocalCluster starts and stops one worker: a process of this
//! program under a nanny, or a worker inside this process; the
//! [`Spawner`] that scaling drives.

use std::process::Command;
use std::sync::Arc;

use barrow_core::config::Snapshot;
use barrow_core::{Error, ErrorKind, Result};
use tokio::sync::oneshot;

use super::LocalClusterBuilder;
use crate::adaptive::Spawner;
use crate::nanny::{NannyConfig, Watch};
use crate::server::SchedulerServer;
use crate::worker::WorkerOptions;
use crate::worker::server::{WorkerLimits, serve};

/// The workers started, by index; `None` once stopped.
pub(super) type Workers = Arc<std::sync::Mutex<Vec<Option<LocalWorker>>>>;

/// Starts worker `index`.
pub(super) type Launch = Arc<dyn Fn(usize) -> Result<LocalWorker> + Send + Sync>;

/// A worker's name in the cluster.
pub(super) fn worker_name(index: usize) -> String {
    format!("local-{index}")
}

/// How [`ScaledWorkers`] starts and stops a local worker.
pub(super) struct LocalSpawner {
    pub(super) launch: Launch,
    pub(super) workers: Workers,
}

impl std::fmt::Debug for LocalSpawner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSpawner").finish_non_exhaustive()
    }
}

impl Spawner for LocalSpawner {
    fn start_worker(&self) -> Result<String> {
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        let index = workers.len();
        workers.push(Some((self.launch)(index)?));
        Ok(worker_name(index))
    }

    fn stop_worker(&self, name: &str) -> Result<()> {
        let index = name
            .strip_prefix("local-")
            .and_then(|i| i.parse::<usize>().ok());
        let mut workers = self.workers.lock().unwrap_or_else(|e| e.into_inner());
        let Some(worker) = index
            .and_then(|i| workers.get_mut(i))
            .and_then(Option::take)
        else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("the LocalCluster has no running worker named {name}"),
            ));
        };
        drop(workers);
        end_worker(&worker);
        Ok(())
    }
}

/// Ends a worker for good: a process is not started again, and killed if
/// it is still there (it was retired, or never joined).
fn end_worker(worker: &LocalWorker) {
    match worker {
        LocalWorker::Process(watch) => {
            watch.stop();
            watch.kill();
        }
        LocalWorker::InProcess(stop) => stop_in_process(stop),
    }
}

#[derive(Debug)]
pub(super) enum LocalWorker {
    /// A process, watched by its nanny.
    Process(Arc<Watch>),
    InProcess(std::sync::Mutex<Option<oneshot::Sender<()>>>),
}

/// Starts worker `index` as a process of this program, under a nanny.
pub(super) fn processes(
    builder: &LocalClusterBuilder,
    address: String,
    token: &str,
    threads: usize,
    config: &Snapshot,
    tls_env: Vec<(&'static str, std::path::PathBuf)>,
) -> Result<Launch> {
    let (program, args, from_test) = barrow_processes::__private::worker_command()?;
    let terminate = crate::cli::terminate_share(config)?;
    let token = token.to_owned();
    let validate = builder.validate;
    let memory_limit = builder.memory_limit;
    let resources = builder.resources.clone();
    let launch: Launch = Arc::new(move |i: usize| {
        let program = program.clone();
        let args = args.clone();
        let address = address.clone();
        let token = token.to_owned();
        let resources = resources.get(i).cloned();
        let tls_env = tls_env.clone();
        let command = move || {
            let mut command = Command::new(&program);
            command
                .args(&args)
                .env("BARROW_WORKER__SCHEDULER", &address)
                .env("BARROW_WORKER__NTHREADS", threads.to_string())
                .env("BARROW_WORKER__NAME", worker_name(i))
                .env("BARROW_DISTRIBUTED__SECURITY__TOKEN", &token)
                .envs(tls_env.iter().cloned())
                .envs(barrow_core::hooks::worker_env());
            crate::nanny::thread_environment(&mut command, threads);
            if validate {
                command.env("BARROW_DISTRIBUTED__WORKER__VALIDATE", "true");
            }
            if let Some(limit) = memory_limit {
                command.env("BARROW_WORKER__MEMORY_LIMIT", limit.to_string());
            }
            if let Some(resources) = &resources {
                let list: Vec<String> = resources.iter().map(|(n, a)| format!("{n}={a}")).collect();
                command.env("BARROW_WORKER__RESOURCES", format!("[{}]", list.join(", ")));
            }
            command
        };
        let watch = crate::nanny::spawn(NannyConfig {
            label: worker_name(i),
            command: Box::new(command),
            memory_limit,
            terminate,
            sink: output_sink(i as u32 + 1, from_test),
        })?;
        Ok(LocalWorker::Process(watch))
    });
    Ok(launch)
}

/// Starts worker `index` inside this process, on the scheduler's runtime.
pub(super) fn in_process(
    builder: &LocalClusterBuilder,
    server: &SchedulerServer,
    worker_config: &Snapshot,
    config: &Snapshot,
    threads: usize,
) -> Result<Launch> {
    let comm = server.worker_comm(worker_config)?;
    let mut limits = WorkerLimits::from_config(config)?;
    limits.validate |= builder.validate;
    let address = server.address().clone();
    let runtime = server.runtime().handle().clone();
    let builder = builder.clone();
    let launch: Launch = Arc::new(move |i: usize| {
        let mut options = WorkerOptions::new(address.clone())
            .nthreads(threads)
            .name(worker_name(i))
            .host("127.0.0.1");
        if let Some(limit) = builder.memory_limit {
            options = options.memory_limit(limit);
        }
        for (name, amount) in builder.resources.get(i).cloned().unwrap_or_default() {
            options = options.resource(name, amount);
        }
        if let Some((_, reader)) = builder.memory_readers.iter().rev().find(|(w, _)| *w == i) {
            options = options.memory_reader(reader.clone());
        }
        if let Some((_, faults)) = builder.faults.iter().rev().find(|(w, _)| *w == i) {
            options = options.faults(faults.clone());
        }
        let (stop, stopped) = oneshot::channel();
        let comm = comm.clone();
        let limits = limits.clone();
        runtime.spawn(async move {
            let registry = barrow_core::Registry::global();
            let mut stopped = Some(stopped);
            // A worker the scheduler closes with a restart joins
            // again, as a nanny would start its process again.
            loop {
                let served = serve(
                    options.clone(),
                    comm.clone(),
                    limits.clone(),
                    registry,
                    None,
                    &mut stopped,
                )
                .await;
                match served {
                    Ok(end) if end.restart => continue,
                    Ok(_) => break,
                    Err(error) => {
                        tracing::warn!("in-process worker {i} ended: {error}");
                        break;
                    }
                }
            }
        });
        Ok(LocalWorker::InProcess(std::sync::Mutex::new(Some(stop))))
    });
    Ok(launch)
}

/// Where a local worker's output goes: this process's stdout and stderr
/// (through the test harness's capture, so a test shows its workers'
/// output with its own), each line marked with the worker; the banner of
/// a test binary started as a worker is dropped.
fn output_sink(worker: u32, from_test: bool) -> crate::nanny::Sink {
    let banner = std::sync::atomic::AtomicBool::new(from_test);
    Arc::new(move |line: &str, stderr: bool| {
        use std::sync::atomic::Ordering;
        if !stderr && banner.load(Ordering::Relaxed) {
            if line.is_empty() || line.starts_with("running 1 test") {
                return;
            }
            banner.store(false, Ordering::Relaxed);
        }
        if stderr {
            eprintln!("[worker {worker}] {line}");
        } else {
            println!("[worker {worker}] {line}");
        }
    })
}

pub(super) fn stop_in_process(stop: &std::sync::Mutex<Option<oneshot::Sender<()>>>) {
    if let Some(stop) = stop.lock().unwrap_or_else(|e| e.into_inner()).take() {
        let _ = stop.send(());
    }
}
