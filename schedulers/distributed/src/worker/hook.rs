//! A program's own process as a cluster worker: the worker hook
//! (`barrow::processes::worker_main`) runs the worker when the process was
//! started with `BARROW_WORKER__SCHEDULER` set, so the workers have the
//! program's `#[barrow::task]` functions.

use std::sync::Arc;

use barrow_core::{Error, Registry};

use super::WorkerOptions;
use super::server::{WorkerLimits, serve};
use crate::runtime::RuntimeThread;
use crate::settings::{CommSettings, TlsRole, require_token};

/// The variable (the `worker.scheduler` key) that makes a program started
/// with it a worker of that scheduler.
pub const SCHEDULER_VAR: &str = "BARROW_WORKER__SCHEDULER";

/// Set on a worker that restarted itself after a set-up step asked to.
const RESTARTED_VAR: &str = "BARROW_WORKER_CLUSTER_RESTARTED";

fn active() -> bool {
    std::env::var_os(SCHEDULER_VAR).is_some_and(|v| !v.is_empty())
}

fn run(setup: barrow_core::Result<()>) -> i32 {
    if let Err(error) = setup {
        eprintln!("barrow worker: the program's set-up function failed: {error}");
        return 70;
    }
    let registry = Registry::global();
    match barrow_core::hooks::worker_start(0, registry) {
        Ok(true) if std::env::var_os(RESTARTED_VAR).is_none() => {
            eprintln!("barrow worker: {}", restart());
            return 70;
        }
        Ok(_) => {}
        Err(error) => {
            eprintln!("barrow worker: setting the worker up failed: {error}");
            return 70;
        }
    }
    super::executor::install_panic_hook();
    match run_worker(None) {
        Ok(exit) => exit.code(),
        Err(error) => {
            eprintln!("barrow worker: {error}");
            1
        }
    }
}

/// How a worker's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerExit {
    /// The scheduler closed it, or it was stopped: the process ends.
    Closed,
    /// The scheduler told it to restart (`Client::restart`, or it gave up
    /// on the worker after missed heartbeats): its nanny starts it again.
    Restart,
}

impl WorkerExit {
    /// The process exit code that tells the nanny (0, or 75 for a
    /// restart).
    pub fn code(self) -> i32 {
        match self {
            WorkerExit::Closed => 0,
            WorkerExit::Restart => crate::nanny::RESTART_CODE,
        }
    }
}

/// Runs this program afresh in this process, marked so that it does not
/// restart again; returns only if that fails.
fn restart() -> Error {
    barrow_processes::__private::restart_marked(RESTARTED_VAR)
}

/// Runs a worker of the configured scheduler (`worker.*`) in this process
/// until the scheduler closes, on the configuration's settings; `options`
/// replaces the configuration's worker options when given. What `barrow
/// worker` and a program started as a worker run.
pub fn run_worker(options: Option<WorkerOptions>) -> barrow_core::Result<WorkerExit> {
    crate::comm::raise_descriptor_limit();
    let config = barrow_core::config::snapshot()?;
    let mut options = match options {
        Some(options) => options,
        None => WorkerOptions::from_config(&config)?,
    };
    if options.memory_reader_ref().is_none() {
        // Its own process: its resident memory is its own.
        options = options.memory_reader(Arc::new(crate::worker::ProcessMemory));
    }
    let config = options.tls_files().apply(&config, TlsRole::Worker)?;
    let token = require_token(&config, options.token_ref())?;
    let comm = Arc::new(CommSettings::from_config(&config, &token, TlsRole::Worker)?);
    let limits = WorkerLimits::from_config(&config)?;
    let runtime = RuntimeThread::start("barrow-worker")?;
    let registry = Registry::global();
    let end = runtime
        .run(async move { serve(options, comm, limits, registry, None, &mut None).await })??;
    tracing::debug!("worker ended: {}", end.reason);
    Ok(if end.restart {
        WorkerExit::Restart
    } else {
        WorkerExit::Closed
    })
}

inventory::submit! {
    barrow_core::hooks::WorkerMode { name: "barrow-distributed", active, run }
}
