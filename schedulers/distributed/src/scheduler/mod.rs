//! The scheduler: a pure, event-driven state machine ([`SchedulerState`])
//! and the thin tokio layer that feeds it (`server`).
//!
//! The state machine does no I/O. Each method takes one stimulus (a
//! worker joined, a task finished, a client submitted a graph) and leaves
//! the messages to send in an [`Outbox`], which the server writes out
//! after every batch of stimuli. Every change of a task's state goes
//! through the transitions of `transitions`, is logged with the
//! stimulus that caused it (`story`), and, with validation on, is checked
//! against the invariants of [`validate`](SchedulerState::validate) after
//! every stimulus. See this folder's README for the states, the
//! transitions and the placement rule.

mod adaptive;
mod clients;
mod functions;
mod graph;
mod hooks;
mod log;
mod membership;
mod memory;
mod placement;
mod recovery;
mod report;
mod restart;
mod retire;
pub(crate) mod server;
mod stealing;
mod task;
mod transitions;
mod uploads;
mod validate;
mod watch;

use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use barrow_core::{Key, KeyMap};
use barrow_wire::task::WireError;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::comm::framed::{Frame, Outgoing};
use crate::protocol::{
    ClientId, ClusterInfo, FromWorker, Priority, TaskEvent, TaskId, ToClient, ToWorker, WorkerId,
    WorkerSummary,
};
use watch::Ran;

pub(crate) use functions::Functions;
pub use log::{Stimulus, TransitionRecord};
pub use task::State;
pub(crate) use task::{Failure, Spec, Tasks};

/// A worker's welcome, or why it is refused.
pub type Joined = Result<Admitted, String>;

/// What a worker that joined is told.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// Its id.
    pub id: WorkerId,
    /// The workers already there, and their addresses.
    pub peers: Vec<(WorkerId, String)>,
    /// How often to send heartbeats.
    pub heartbeat: Duration,
}

/// The client id under which published datasets hold their keys.
pub(crate) const DATASETS: ClientId = 0;

/// How the scheduler decides; read from `distributed.scheduler.*`.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Root tasks a worker may hold per thread, before the rest wait on
    /// the scheduler (`worker-saturation`; infinite: no queuing).
    pub worker_saturation: f64,
    /// The bandwidth assumed between workers, bytes per second.
    pub bandwidth: f64,
    /// The time a fetch from a peer costs besides its bytes, seconds.
    pub transfer_latency: f64,
    /// The duration assumed for a task of a kind never seen to finish.
    pub unknown_task_duration: f64,
    /// Check every invariant after every stimulus (tests).
    pub validate: bool,
    /// Transitions kept for `story` (0: none).
    pub transition_log_length: usize,
    /// How long a task may wait for a worker that meets its restrictions
    /// while workers run; `None`: for ever.
    pub no_workers_timeout: Option<Duration>,
    /// How often workers send heartbeats; `None`: by the cluster's size
    /// (0.5 s up to 10 workers, 1 s below 50, 2 s below 200, then one more
    /// second per 200 workers).
    pub heartbeat_interval: Option<Duration>,
    /// A worker that sends nothing for this long (at least ten heartbeat
    /// intervals) is removed and told to restart.
    pub worker_ttl: Duration,
    /// Deaths of workers executing a task that it survives; one more fails
    /// it with `KilledWorker`.
    pub allowed_failures: u32,
    /// How long unmanaged memory stays "recent" before it counts as "old"
    /// (`distributed.worker.memory.recent-to-old-time`).
    pub recent_to_old: Duration,
    /// Move queued tasks from busy workers to idle ones (see
    /// [`SchedulerState::balance`]).
    pub work_stealing: bool,
    /// How often to balance.
    pub work_stealing_interval: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> SchedulerConfig {
        SchedulerConfig {
            worker_saturation: 1.1,
            bandwidth: 100e6,
            transfer_latency: 1e-3,
            unknown_task_duration: 0.5,
            validate: false,
            transition_log_length: 100_000,
            no_workers_timeout: None,
            heartbeat_interval: None,
            worker_ttl: Duration::from_secs(30),
            allowed_failures: 3,
            recent_to_old: Duration::from_secs(30),
            work_stealing: true,
            work_stealing_interval: Duration::from_millis(100),
        }
    }
}

/// The messages a batch of stimuli produced, by recipient.
#[derive(Debug, Default)]
pub struct Outbox {
    pub(crate) workers: Vec<(WorkerId, Outgoing<ToWorker>)>,
    pub(crate) clients: Vec<(ClientId, Outgoing<ToClient>)>,
    /// Workers whose connections to close once their messages are out.
    pub(crate) close: Vec<WorkerId>,
}

impl Outbox {
    /// The messages for workers, in order.
    pub fn to_workers(&self) -> impl Iterator<Item = (WorkerId, &ToWorker)> {
        self.workers.iter().map(|(w, m)| (*w, &m.message))
    }

    /// The messages for clients, in order.
    pub fn to_clients(&self) -> impl Iterator<Item = (ClientId, &ToClient)> {
        self.clients.iter().map(|(c, m)| (*c, &m.message))
    }
}

/// Whether a worker takes new work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WorkerStatus {
    /// It does.
    Running,
    /// Being retired: no new work; its values are copied away, then it
    /// is closed.
    Retiring,
    /// Paused by memory pressure: no new work until it says otherwise.
    Paused,
}

impl WorkerStatus {
    /// The name clients see.
    pub(crate) fn name(self) -> &'static str {
        match self {
            WorkerStatus::Running => "running",
            WorkerStatus::Retiring => "retiring",
            WorkerStatus::Paused => "paused",
        }
    }
}

/// A worker, as the scheduler tracks it.
#[derive(Debug)]
pub(crate) struct Worker {
    pub(crate) id: WorkerId,
    pub(crate) status: WorkerStatus,
    pub(crate) name: String,
    pub(crate) address: String,
    pub(crate) nthreads: u32,
    pub(crate) memory_limit: u64,
    pub(crate) resources: Vec<(String, f64)>,
    /// Plugins loaded, as `name version`, sorted.
    pub(crate) plugins: Vec<String>,
    /// Index of its set of registered functions.
    pub(crate) function_set: usize,
    /// Root tasks it may hold before the extra for short tasks:
    /// `ceil(worker-saturation × threads)`, at least 1.
    pub(crate) slots: usize,
    pub(crate) processing: FxHashSet<TaskId>,
    pub(crate) has_what: FxHashSet<TaskId>,
    /// Seconds of work sent to it and not finished (expected).
    pub(crate) occupancy: f64,
    /// Bytes of the values it holds.
    pub(crate) managed_bytes: u64,
    pub(crate) last_seen: Instant,
    pub(crate) host: String,
    pub(crate) pid: u32,
    /// Its heartbeats' memory figures.
    pub(crate) memory: memory::MemoryHistory,
    /// Bytes it received from and sent to peers, from its heartbeats.
    pub(crate) transfers: (u64, u64),
    /// Its process's processor use at the last heartbeat (percent of a
    /// core).
    pub(crate) cpu: Option<f32>,
}

/// A client, as the scheduler tracks it.
#[derive(Debug, Default)]
pub(crate) struct Client {
    pub(crate) name: String,
    /// Tasks it wants.
    pub(crate) wants: FxHashSet<TaskId>,
}

/// What is known of the tasks of one kind (one key prefix): how long they
/// run and how big their results are.
#[derive(Debug, Default, Clone)]
pub(crate) struct Prefix {
    pub(crate) duration: Option<f64>,
    pub(crate) nbytes: Option<f64>,
}

/// The scheduler's state: tasks, workers, clients. Pure: no I/O, no clock
/// but the one the caller sets with [`set_now`](Self::set_now).
#[derive(Debug)]
pub struct SchedulerState {
    pub(crate) config: SchedulerConfig,
    pub(crate) tasks: Tasks,
    pub(crate) keys: KeyMap<TaskId>,
    pub(crate) workers: FxHashMap<WorkerId, Worker>,
    /// Running workers, in the order they joined.
    pub(crate) running: Vec<WorkerId>,
    /// The function sets of the running workers, with how many have each.
    pub(crate) running_sets: Vec<(usize, usize)>,
    /// Running workers with nothing to do.
    pub(crate) idle: std::collections::BTreeSet<WorkerId>,
    /// Workers whose tasks finished during this stimulus (slots opened).
    pub(crate) opened: Vec<WorkerId>,
    /// No worker has a slot for roots of this allowance (extra slots per
    /// thread, bytes each), since a look through them all; cleared when a
    /// slot may have opened.
    pub(crate) roots_full: Option<(usize, f64)>,
    pub(crate) clients: FxHashMap<ClientId, Client>,
    /// Queued tasks by priority (entries of tasks no longer queued are
    /// skipped when popped).
    pub(crate) queued: BinaryHeap<std::cmp::Reverse<(Priority, TaskId)>>,
    pub(crate) queued_count: usize,
    /// Tasks in no-worker, with when they got there.
    pub(crate) unrunnable: FxHashMap<TaskId, Instant>,
    pub(crate) prefixes: Vec<Prefix>,
    /// Plugins and files every worker gets, newest of each name.
    pub(crate) uploads: Vec<Arc<crate::protocol::Upload>>,
    pub(crate) pending_uploads: Vec<uploads::PendingUpload>,
    pub(crate) next_upload: u64,
    pub(crate) prefix_ids: HashMap<Arc<str>, u32>,
    pub(crate) functions: Functions,
    pub(crate) datasets: HashMap<String, Vec<TaskId>>,
    /// Scatters waiting for their workers to confirm.
    pub(crate) scatters: FxHashMap<u64, graph::PendingScatter>,
    pub(crate) next_worker: WorkerId,
    pub(crate) next_client: ClientId,
    pub(crate) next_run: u64,
    pub(crate) next_scatter: u64,
    pub(crate) generation: u32,
    pub(crate) round_robin: usize,
    /// The worker the current run of root tasks goes to, and how many
    /// more it takes.
    pub(crate) root_run: Option<(WorkerId, usize)>,
    /// Root tasks of the recent graphs, by submission.
    pub(crate) root_counts: std::collections::BTreeMap<u32, u32>,
    pub(crate) stimulus: Stimulus,
    pub(crate) log: log::TransitionLog,
    pub(crate) outbox: Outbox,
    /// Task events for watching clients, sent at the end of a stimulus.
    pub(crate) events: FxHashMap<ClientId, Vec<TaskEvent>>,
    pub(crate) slots_maybe_opened: bool,
    pub(crate) now: Instant,
    pub(crate) address: String,
    pub(crate) type_names: HashMap<String, Arc<str>>,
    /// Workers that left recently, with what they were running, for the
    /// nanny reports that come after them.
    pub(crate) departed: std::collections::VecDeque<recovery::Departed>,
    /// Tasks that were executing on workers that died, with each death.
    pub(crate) suspects: FxHashMap<TaskId, Vec<recovery::DeathNote>>,
    /// The heartbeat interval workers were last told.
    pub(crate) heartbeat: Duration,
    /// Clients' requests to retire workers, until those are gone.
    pub(crate) retirements: Vec<retire::PendingRetire>,
    /// Restarts waiting for their workers to come back.
    pub(crate) restarts: Vec<restart::PendingRestart>,
    /// Stealable tasks and steal requests (work stealing).
    pub(crate) stealing: stealing::Stealing,
    /// What a dashboard watches; `None` without one.
    pub(crate) watch: Option<Box<watch::Watch>>,
}

impl SchedulerState {
    /// A scheduler with no workers, clients or tasks.
    pub fn new(config: SchedulerConfig) -> SchedulerState {
        let log = log::TransitionLog::new(config.transition_log_length);
        let heartbeat = config
            .heartbeat_interval
            .unwrap_or_else(|| recovery::heartbeat_for(0));
        SchedulerState {
            config,
            tasks: Tasks::default(),
            keys: KeyMap::default(),
            workers: FxHashMap::default(),
            running: Vec::new(),
            running_sets: Vec::new(),
            idle: std::collections::BTreeSet::new(),
            opened: Vec::new(),
            roots_full: None,
            clients: FxHashMap::default(),
            queued: BinaryHeap::new(),
            queued_count: 0,
            unrunnable: FxHashMap::default(),
            prefixes: Vec::new(),
            uploads: Vec::new(),
            pending_uploads: Vec::new(),
            next_upload: 0,
            prefix_ids: HashMap::new(),
            functions: Functions::default(),
            datasets: HashMap::new(),
            scatters: FxHashMap::default(),
            next_worker: 1,
            next_client: 1,
            next_run: 1,
            next_scatter: 1,
            generation: 0,
            round_robin: 0,
            root_run: None,
            root_counts: std::collections::BTreeMap::new(),
            stimulus: Stimulus::new("start", 0),
            log,
            outbox: Outbox::default(),
            events: FxHashMap::default(),
            slots_maybe_opened: false,
            now: Instant::now(),
            address: String::new(),
            type_names: HashMap::new(),
            departed: std::collections::VecDeque::new(),
            suspects: FxHashMap::default(),
            heartbeat,
            retirements: Vec::new(),
            restarts: Vec::new(),
            stealing: stealing::Stealing::default(),
            watch: None,
        }
    }

    /// Sets the time the next stimuli happen at.
    pub fn set_now(&mut self, now: Instant) {
        self.now = now;
    }

    /// The configuration.
    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// Sets the address the scheduler listens on (for `Info`).
    pub(crate) fn set_address(&mut self, address: String) {
        self.address = address;
    }

    /// Takes the messages produced so far.
    pub fn take_outbox(&mut self) -> Outbox {
        std::mem::take(&mut self.outbox)
    }

    /// Starts a new stimulus named `kind`.
    fn begin(&mut self, kind: &'static str) {
        self.stimulus = Stimulus::new(kind, self.stimulus.seq + 1);
    }

    /// Ends a stimulus: fills free slots with queued tasks, sends the
    /// watchers' events, and checks the invariants when asked.
    fn end(&mut self) {
        self.progress_retirements();
        self.progress_restarts();
        if self.slots_maybe_opened {
            self.slots_maybe_opened = false;
            self.fill_slots();
        }
        for (client, events) in self.events.drain() {
            if !events.is_empty() {
                self.outbox
                    .clients
                    .push((client, Outgoing::plain(ToClient::Events(events))));
            }
        }
        if self.config.validate
            && let Err(problem) = self.validate()
        {
            // A broken invariant is a bug in Barrow: fail loudly in tests,
            // where validation is on.
            panic!(
                "scheduler invariant broken after {}: {problem}",
                self.stimulus
            );
        }
    }

    /// Handles one message from worker `worker`.
    pub fn handle_worker(&mut self, worker: WorkerId, message: FromWorker) {
        if !self.workers.contains_key(&worker) {
            return;
        }
        match message {
            FromWorker::Uploaded { id, result } => {
                self.begin("uploaded");
                self.uploaded(worker, id, result);
            }
            FromWorker::Started { id, run } => {
                self.begin("task-started");
                self.task_started(worker, id, run);
            }
            FromWorker::Finished {
                id,
                run,
                nbytes,
                type_name,
                duration_us,
                thread,
            } => {
                self.begin("task-finished");
                let ran = Ran {
                    duration_us,
                    thread,
                };
                self.task_finished(worker, id, run, nbytes, &type_name, ran);
            }
            FromWorker::Erred {
                id,
                run,
                error,
                duration_us,
                thread,
            } => {
                self.begin("task-erred");
                let ran = Ran {
                    duration_us,
                    thread,
                };
                self.task_erred(worker, id, run, error, ran);
            }
            FromWorker::AddKeys { ids } => {
                self.begin("add-keys");
                self.add_keys(worker, &ids);
            }
            FromWorker::NotStored { ids, reason } => {
                self.begin("not-stored");
                self.not_stored(worker, &ids, &reason);
            }
            FromWorker::Missing {
                id,
                dependency,
                tried,
            } => {
                self.begin("missing-data");
                self.missing_data(worker, id, dependency, &tried);
            }
            FromWorker::StealResponse { id, run, state } => {
                self.begin("steal-response");
                self.steal_response(worker, id, run, state);
            }
            FromWorker::Heartbeat(heartbeat) => {
                if let Some(w) = self.workers.get_mut(&worker) {
                    w.last_seen = self.now;
                }
                self.heartbeat_memory(worker, &heartbeat);
                if let Some(w) = self.workers.get_mut(&worker) {
                    w.transfers = (heartbeat.transfer_in, heartbeat.transfer_out);
                    w.cpu = heartbeat.cpu;
                }
                self.watch_activity(worker, &heartbeat.activity);
                if heartbeat.paused
                    != (self.workers.get(&worker).map(|w| w.status) == Some(WorkerStatus::Paused))
                {
                    // A pause message and this heartbeat crossed: the
                    // heartbeat is the later word.
                    self.begin("heartbeat-pause");
                    self.worker_paused(worker, heartbeat.paused);
                    self.end();
                }
                return;
            }
            FromWorker::Paused { paused } => {
                self.begin("worker-paused");
                self.worker_paused(worker, paused);
            }
        }
        if let Some(w) = self.workers.get_mut(&worker) {
            w.last_seen = self.now;
        }
        self.end();
    }

    /// Removes workers silent past their time to live, and fails tasks
    /// that waited longer than `no-workers-timeout` for a worker meeting
    /// their restrictions while workers run.
    pub fn check_timeouts(&mut self) {
        self.check_worker_ttl();
        if !self.restarts.is_empty() {
            self.begin("restart-timeout");
            self.end();
        }
        let Some(timeout) = self.config.no_workers_timeout else {
            return;
        };
        if self.running.is_empty() {
            return;
        }
        let now = self.now;
        let expired: Vec<TaskId> = self
            .unrunnable
            .iter()
            .filter(|&(_, since)| now.duration_since(*since) >= timeout)
            .map(|(&id, _)| id)
            .collect();
        if expired.is_empty() {
            return;
        }
        self.begin("no-workers-timeout");
        let mut recommendations = Vec::new();
        for id in expired {
            let Some(task) = self.tasks.get(id) else {
                continue;
            };
            let message = format!(
                "no worker of the cluster could run this task for {timeout:?} \
                 (distributed.scheduler.no-workers-timeout): {}",
                self.unmet_restrictions(task)
            );
            let failure = Arc::new(Failure {
                error: wire_error(barrow_core::ErrorKind::Worker, &message, Some(&task.key)),
                blame: task.key.clone(),
                dependents: Vec::new(),
            });
            recommendations.push((id, transitions::Target::Erred(failure)));
        }
        self.transitions(recommendations);
        self.end();
    }

    /// The scheduler's view of the cluster.
    pub fn info(&self) -> ClusterInfo {
        let mut counts = [0u64; State::ALL.len()];
        for (_, task) in self.tasks.iter() {
            counts[State::ALL
                .iter()
                .position(|s| *s == task.state)
                .unwrap_or(0)] += 1;
        }
        let mut workers: Vec<&Worker> = self.workers.values().collect();
        workers.sort_unstable_by_key(|w| w.id);
        ClusterInfo {
            address: self.address.clone(),
            workers: workers
                .into_iter()
                .map(|w| crate::protocol::WorkerState {
                    summary: summary(w),
                    status: w.status.name().to_owned(),
                    memory: w.memory.segments(w.managed_bytes, w.memory_limit),
                    processing: w.processing.len() as u64,
                    keys: w.has_what.len() as u64,
                    managed_bytes: w.managed_bytes,
                })
                .collect(),
            tasks: State::ALL
                .iter()
                .zip(counts)
                .map(|(s, n)| (s.name().to_owned(), n))
                .collect(),
            clients: self.clients.len() as u32,
            plugin_differences: Vec::new(),
        }
    }

    /// The number of tasks known.
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// The state of `key`, if the scheduler knows it.
    pub fn state_of(&self, key: &Key) -> Option<State> {
        let id = self.keys.get(key)?;
        self.tasks.get(*id).map(|t| t.state)
    }

    /// The transitions of `key` still in the log, oldest first (Dask's
    /// `story`).
    pub fn story(&self, key: &Key) -> Vec<TransitionRecord> {
        self.log.story(key)
    }

    /// Frames of a ComputeTask: the body, then the literals.
    pub(crate) fn spec_frames(spec: &Spec) -> Vec<Frame> {
        let mut frames = Vec::with_capacity(1 + spec.literals.len());
        frames.push(Frame::Bytes(spec.body.clone()));
        frames.extend(spec.literals.iter().map(|l| Frame::Bytes(l.clone())));
        frames
    }

    /// The interned type name.
    pub(crate) fn intern_type(&mut self, name: &str) -> Arc<str> {
        if let Some(name) = self.type_names.get(name) {
            return name.clone();
        }
        let shared: Arc<str> = Arc::from(name);
        self.type_names.insert(name.to_owned(), shared.clone());
        shared
    }
}

/// What clients see of a worker.
pub(crate) fn summary(worker: &Worker) -> WorkerSummary {
    WorkerSummary {
        id: worker.id,
        name: worker.name.clone(),
        address: worker.address.clone(),
        nthreads: worker.nthreads,
        memory_limit: worker.memory_limit,
        resources: worker.resources.clone(),
        plugins: worker.plugins.clone(),
    }
}

/// An error as it travels, made on the scheduler.
pub(crate) fn wire_error(
    kind: barrow_core::ErrorKind,
    message: &str,
    key: Option<&Key>,
) -> WireError {
    let mut error = barrow_core::Error::new(kind, message.to_owned());
    if let Some(key) = key {
        error = error.with_key(key.clone());
    }
    WireError::from_error(&error, None)
}
