//! Options for one computation.

use std::fmt;
use std::sync::Arc;

use crate::callback::Callback;
use crate::registry::Registry;
use crate::scheduler::Scheduler;
use crate::store::Store;

/// Which scheduler runs a computation.
#[derive(Clone)]
pub enum SchedulerChoice {
    /// A name from the scheduler registry (`"sync"`, `"threads"`, …), any case.
    Named(String),
    /// A scheduler object (Dask's `scheduler=client` or `get=`).
    Object(Arc<dyn Scheduler>),
}

impl fmt::Debug for SchedulerChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchedulerChoice::Named(name) => write!(f, "Named({name:?})"),
            SchedulerChoice::Object(s) => write!(f, "Object({})", s.name()),
        }
    }
}

impl From<&str> for SchedulerChoice {
    fn from(name: &str) -> SchedulerChoice {
        SchedulerChoice::Named(name.to_owned())
    }
}

impl From<String> for SchedulerChoice {
    fn from(name: String) -> SchedulerChoice {
        SchedulerChoice::Named(name)
    }
}

impl From<&String> for SchedulerChoice {
    fn from(name: &String) -> SchedulerChoice {
        SchedulerChoice::Named(name.clone())
    }
}

impl From<Arc<dyn Scheduler>> for SchedulerChoice {
    fn from(scheduler: Arc<dyn Scheduler>) -> SchedulerChoice {
        SchedulerChoice::Object(scheduler)
    }
}

type StoreFactory = dyn Fn() -> Box<dyn Store> + Send + Sync;

/// Options passed to one computation; they win over every configuration layer.
///
/// ```
/// use barrow_core::Options;
///
/// let options = Options::new().scheduler("sync").num_workers(2).optimize_graph(false);
/// assert_eq!(options.num_workers_option(), Some(2));
/// ```
#[derive(Clone, Default)]
pub struct Options {
    scheduler: Option<SchedulerChoice>,
    num_workers: Option<usize>,
    optimize_graph: Option<bool>,
    callbacks: Vec<Arc<dyn Callback>>,
    store: Option<Arc<StoreFactory>>,
    registry: Option<Arc<Registry>>,
    settings: Vec<(String, barrow_config::Value)>,
    config: Option<barrow_config::Snapshot>,
}

impl Options {
    /// No options: every choice comes from the configuration and defaults.
    pub fn new() -> Options {
        Options::default()
    }

    /// Runs on the scheduler registered under this name (`"sync"`,
    /// `"threads"`, …), or on this scheduler object (a cluster's client:
    /// Dask's `scheduler=client`).
    pub fn scheduler(mut self, choice: impl Into<SchedulerChoice>) -> Options {
        self.scheduler = Some(choice.into());
        self
    }

    /// Runs on this scheduler object.
    pub fn scheduler_object(mut self, scheduler: Arc<dyn Scheduler>) -> Options {
        self.scheduler = Some(SchedulerChoice::Object(scheduler));
        self
    }

    /// Uses `n` workers (threads or processes).
    pub fn num_workers(mut self, n: usize) -> Options {
        self.num_workers = Some(n);
        self
    }

    /// Turns graph optimizations (fusion) on or off; culling always happens.
    pub fn optimize_graph(mut self, on: bool) -> Options {
        self.optimize_graph = Some(on);
        self
    }

    /// Adds a callback.
    pub fn callback(mut self, callback: Arc<dyn Callback>) -> Options {
        self.callbacks.push(callback);
        self
    }

    /// Keeps intermediate results in stores made by `make` (one per run).
    pub fn store(mut self, make: impl Fn() -> Box<dyn Store> + Send + Sync + 'static) -> Options {
        self.store = Some(Arc::new(make));
        self
    }

    /// Resolves functions, codecs and schedulers in `registry` instead of the
    /// process-wide one.
    pub fn registry(mut self, registry: Arc<Registry>) -> Options {
        self.registry = Some(registry);
        self
    }

    /// Sets a configuration key for this call only (the highest layer,
    /// above scoped and global overrides); checked when the call starts.
    pub fn set(
        mut self,
        key: impl Into<String>,
        value: impl Into<barrow_config::Value>,
    ) -> Options {
        self.settings.push((key.into(), value.into()));
        self
    }

    /// Reads the configuration from `snapshot` instead of the current
    /// thread's configuration when the call starts.
    pub fn config(mut self, snapshot: barrow_config::Snapshot) -> Options {
        self.config = Some(snapshot);
        self
    }

    /// The scheduler chosen for this call, if any.
    pub fn scheduler_choice(&self) -> Option<&SchedulerChoice> {
        self.scheduler.as_ref()
    }

    /// The number of workers chosen for this call, if any.
    pub fn num_workers_option(&self) -> Option<usize> {
        self.num_workers
    }

    /// Whether optimizations were turned on or off for this call.
    pub fn optimize_graph_option(&self) -> Option<bool> {
        self.optimize_graph
    }

    /// The callbacks of this call.
    pub fn callbacks(&self) -> &[Arc<dyn Callback>] {
        &self.callbacks
    }

    /// A fresh store from the call's store factory, if one was given.
    pub fn make_store(&self) -> Option<Box<dyn Store>> {
        self.store.as_ref().map(|make| make())
    }

    /// The registry chosen for this call, if any.
    pub fn registry_option(&self) -> Option<&Arc<Registry>> {
        self.registry.as_ref()
    }

    /// The configuration keys set for this call.
    pub fn settings(&self) -> &[(String, barrow_config::Value)] {
        &self.settings
    }

    /// The configuration of a call with these options: the given snapshot
    /// (else the current thread's configuration, scoped overrides included)
    /// with the call's settings on top.
    pub fn resolve_config(&self) -> crate::Result<barrow_config::Snapshot> {
        let base = match &self.config {
            Some(snapshot) => snapshot.clone(),
            None => barrow_config::snapshot()?,
        };
        Ok(base.with_options(self.settings.iter().map(|(k, v)| (k.as_str(), v.clone())))?)
    }

    /// [`Options::resolve_config`] with only the call's settings that the
    /// configuration accepts now: what hooks read before they load the
    /// plugins that declare the other keys.
    pub(crate) fn resolve_accepted_config(&self) -> crate::Result<barrow_config::Snapshot> {
        let base = match &self.config {
            Some(snapshot) => snapshot.clone(),
            None => barrow_config::snapshot()?,
        };
        let accepted: Vec<(&str, barrow_config::Value)> = self
            .settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .filter(|setting| base.with_options([setting.clone()]).is_ok())
            .collect();
        Ok(base.with_options(accepted)?)
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("scheduler", &self.scheduler)
            .field("num_workers", &self.num_workers)
            .field("optimize_graph", &self.optimize_graph)
            .field("callbacks", &self.callbacks.len())
            .field("store", &self.store.is_some())
            .field("settings", &self.settings)
            .field("config", &self.config.is_some())
            .finish()
    }
}
