//! Starting a scheduler in this process: for `barrow scheduler` and for a
//! [`LocalCluster`](crate::LocalCluster).

use std::sync::Arc;

use barrow_core::Key;
use barrow_core::config::Snapshot;

use crate::comm::{Address, Scheme, listen};
use crate::dashboard::{ClusterDashboard, DashboardSettings};
use crate::error::Result;
use crate::runtime::RuntimeThread;
use crate::scheduler::server::Core;
use crate::scheduler::{SchedulerConfig, SchedulerState, State, TransitionRecord};
use crate::settings::{CommSettings, TlsRole, scheduler_config};

/// A scheduler running in this process, on a thread of its own; dropping
/// it tells the workers to close and stops it.
///
/// ```no_run
/// use barrow_distributed::SchedulerServer;
///
/// let config = barrow_core::config::snapshot()?;
/// let scheduler = SchedulerServer::start("127.0.0.1", 8786, "a-secret-token", &config)?;
/// println!("scheduler at {}", scheduler.address());
/// # Ok::<(), barrow_core::Error>(())
/// ```
#[derive(Debug)]
pub struct SchedulerServer {
    address: Address,
    core: Core,
    token: String,
    dashboard: Option<ClusterDashboard>,
    // Last: stopped after the core was told to shut down.
    runtime: RuntimeThread,
}

impl SchedulerServer {
    /// Starts a scheduler listening on `host:port` (port 0: any free
    /// port) that accepts connections proving `token`, configured by
    /// `config` (`distributed.*`). With a certificate
    /// (`distributed.comm.tls.scheduler.cert` and `.key`, and
    /// `distributed.comm.tls.ca-file`) it listens on `tls://`, and accepts
    /// only peers whose certificates that CA signed; without one, on
    /// `tcp://` (refused under `distributed.comm.require-encryption`).
    pub fn start(host: &str, port: u16, token: &str, config: &Snapshot) -> Result<SchedulerServer> {
        let scheduler = scheduler_config(config)?;
        SchedulerServer::start_with(host, port, token, config, scheduler)
    }

    pub(crate) fn start_with(
        host: &str,
        port: u16,
        token: &str,
        config: &Snapshot,
        scheduler: SchedulerConfig,
    ) -> Result<SchedulerServer> {
        crate::comm::raise_descriptor_limit();
        let comm = CommSettings::from_config(config, token, TlsRole::Scheduler)?;
        let scheme = if comm.security.accepts_tls() {
            Scheme::Tls
        } else {
            Scheme::Tcp
        };
        let dashboard_settings = DashboardSettings::from_config(config)?;
        let runtime = RuntimeThread::start("barrow-scheduler")?;
        let host = host.to_owned();
        let listener = runtime.run(async move {
            listen(&host, port, scheme, &comm.security)
                .await
                .map(|l| (l, comm))
        })??;
        let (listener, comm) = listener;
        let address = listener.address().clone();
        let (dashboard, watcher) = if dashboard_settings.enabled {
            let (dashboard, watcher) =
                ClusterDashboard::start(&dashboard_settings, &address.to_string(), token)?;
            (Some(dashboard), Some(watcher))
        } else {
            (None, None)
        };
        let (address, core) = runtime.run(async move {
            crate::scheduler::server::spawn(listener, scheduler, comm, watcher)
        })?;
        tracing::info!("scheduler listening at {address}");
        report_hooks(barrow_core::hooks::cluster_event(
            &barrow_core::hooks::ClusterEvent::SchedulerStarted {
                address: &address.to_string(),
            },
        ));
        if let Some(dashboard) = &dashboard {
            tracing::info!("dashboard at {}", dashboard.url());
        }
        Ok(SchedulerServer {
            address,
            core,
            token: token.to_owned(),
            dashboard,
            runtime,
        })
    }

    /// The dashboard's page (`http://HOST:PORT/status`, with the token
    /// when it is served off loopback); `None` when
    /// `distributed.dashboard.enabled` is false.
    pub fn dashboard_url(&self) -> Option<String> {
        self.dashboard.as_ref().map(ClusterDashboard::url)
    }

    /// The dashboard's feed, to compare what it shows with the
    /// scheduler's own figures.
    pub fn dashboard_feed(&self) -> Option<Arc<barrow_dashboard::Feed>> {
        self.dashboard.as_ref().map(|d| d.feed().clone())
    }

    /// Where it listens.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The token connections must prove.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Runs `inspect` on the scheduler's state in its own task and returns
    /// what it gives (`None` once the scheduler stopped): for tests and
    /// diagnostics.
    pub fn inspect<T: Send + 'static>(
        &self,
        inspect: impl FnOnce(&mut SchedulerState) -> T + Send + 'static,
    ) -> Option<T> {
        let core = self.core.clone();
        self.runtime
            .run(async move { core.inspect(inspect).await })
            .ok()
            .flatten()
    }

    /// Checks every invariant of the scheduler's state.
    pub fn validate(&self) -> std::result::Result<(), String> {
        self.inspect(|state| state.validate())
            .unwrap_or_else(|| Err("the scheduler stopped".to_owned()))
    }

    /// What is not finished and why: each worker with what it processes
    /// and holds, then up to `limit` unfinished tasks with their worker
    /// and where their dependencies are (see
    /// [`SchedulerState::unfinished_report`]).
    pub fn unfinished_report(&self, limit: usize) -> String {
        self.inspect(move |state| state.unfinished_report(limit))
            .unwrap_or_else(|| "the scheduler stopped".to_owned())
    }

    /// The transitions of `key` in the scheduler's log (Dask's `story`).
    pub fn story(&self, key: &Key) -> Vec<TransitionRecord> {
        let key = key.clone();
        self.inspect(move |state| state.story(&key))
            .unwrap_or_default()
    }

    /// The state of `key` on the scheduler, if it knows it.
    pub fn state_of(&self, key: &Key) -> Option<State> {
        let key = key.clone();
        self.inspect(move |state| state.state_of(&key)).flatten()
    }

    /// The number of tasks the scheduler knows.
    pub fn task_count(&self) -> usize {
        self.inspect(|state| state.task_count()).unwrap_or(0)
    }

    /// The number of workers connected.
    pub fn worker_count(&self) -> usize {
        self.inspect(|state| state.info().workers.len())
            .unwrap_or(0)
    }

    /// Blocks this thread while the scheduler runs (for `barrow
    /// scheduler`: until the process is stopped).
    pub fn wait(&self) {
        loop {
            std::thread::park();
        }
    }

    pub(crate) fn runtime(&self) -> &RuntimeThread {
        &self.runtime
    }

    /// The settings of an in-process worker of this scheduler.
    pub(crate) fn worker_comm(&self, config: &Snapshot) -> Result<Arc<CommSettings>> {
        Ok(Arc::new(CommSettings::from_config(
            config,
            &self.token,
            TlsRole::Worker,
        )?))
    }
}

impl SchedulerServer {
    /// Tells the workers to close and stops the scheduler's core (again:
    /// nothing).
    pub(crate) fn shutdown(&self) {
        let core = self.core.clone();
        let _ = self
            .runtime
            .run(async move { core.shutdown("the scheduler stops").await });
    }
}

impl Drop for SchedulerServer {
    fn drop(&mut self) {
        self.shutdown();
        report_hooks(barrow_core::hooks::cluster_event(
            &barrow_core::hooks::ClusterEvent::SchedulerClosing,
        ));
    }
}

/// Logs the hooks that failed on an event.
pub(crate) fn report_hooks(failures: Vec<(String, String)>) {
    for (hook, failure) in failures {
        tracing::warn!("cluster hook {hook}: {failure}");
    }
}
