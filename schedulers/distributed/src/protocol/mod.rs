//! The messages of a cluster: what the scheduler, the workers and the
//! clients say to each other. Plain data, no I/O.
//!
//! Every connection carries [`Batch`](barrow_wire::message::Kind::Batch)
//! messages of the wire format: a list of these messages, each followed in
//! the wire message by the value frames it carries (a task's literals, a
//! result's bytes), so a hundred small messages to one peer cost one write.
//! A task travels as frames: first the postcard bytes of its
//! [`WireBody`](barrow_wire::task::WireBody), then its literals, which the
//! body refers to by index (0 is the first literal).
//! Tasks are named by the scheduler's [`TaskId`] between scheduler and
//! workers, and by their [`WireKey`] where a client is involved (clients
//! know keys; the scheduler tells them the ids they need to fetch data).

pub mod handshake;
mod uploads;

pub use uploads::{Upload, UploadKind, UploadOutcome, Uploaded};

use barrow_core::Annotations;
use barrow_wire::task::{WireError, WireKey};
use serde::{Deserialize, Serialize};

/// A task, as the scheduler numbers it: unique for the scheduler's life
/// (a slot index and its generation), never reused.
pub type TaskId = u64;

/// A worker, as the scheduler numbers them (from 1).
pub type WorkerId = u32;

/// A client, as the scheduler numbers them (from 1).
pub type ClientId = u32;

/// The order in which ready tasks run: smaller first. A user's priority
/// annotation (higher runs sooner), then the graph's submission, then
/// `order`'s priority within the graph, as Dask ranks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Priority {
    /// Minus the user's priority annotation.
    pub user: i64,
    /// The graph's submission number on the scheduler.
    pub generation: u32,
    /// `order`'s priority within the graph.
    pub order: u32,
}

/// What the scheduler tells a worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToWorker {
    /// Run a task (its body and literals are this message's frames).
    Compute(Box<ComputeTask>),
    /// Keep this file, and load it if it is a plugin; answer with
    /// [`FromWorker::Uploaded`].
    Upload(Box<Upload>),
    /// Forget these tasks: drop their data, cancel them if they wait or
    /// run (a result still coming is dropped).
    Free {
        /// The tasks.
        ids: Vec<TaskId>,
    },
    /// Workers joined or left the cluster (addresses to fetch from).
    Peers {
        /// New workers and their addresses.
        added: Vec<(WorkerId, String)>,
        /// Workers gone.
        removed: Vec<WorkerId>,
    },
    /// Store these values (scattered by a client through the scheduler)
    /// and say so with [`FromWorker::AddKeys`]; the frames are their
    /// bytes, in order.
    PutData {
        /// The tasks whose values these are.
        ids: Vec<TaskId>,
    },
    /// Finish what runs, send the results, and exit.
    Close {
        /// Why, for the worker's log.
        reason: String,
        /// Whether its nanny should start it again (a restart, a worker
        /// the scheduler gave up on after missed heartbeats) rather than
        /// stop.
        restart: bool,
    },
    /// Send heartbeats this often from now on (the interval grows with
    /// the cluster, so the scheduler's load from them stays flat).
    HeartbeatInterval {
        /// Milliseconds.
        ms: u64,
    },
    /// Fetch these values from their holders and keep them (a retiring
    /// worker's values move here); say so with [`FromWorker::AddKeys`],
    /// or with [`FromWorker::Missing`] (naming the value itself as the
    /// task) when no holder gives one.
    Acquire {
        /// The values and where they are.
        values: Vec<Dependency>,
    },
    /// Give this task back if it has not started (work stealing): a task
    /// still waiting for its inputs or ready for a thread is dropped;
    /// either way the worker answers with [`FromWorker::StealResponse`].
    Steal {
        /// The task.
        id: TaskId,
        /// The dispatch to give back: a task under another run is kept.
        run: u64,
    },
}

/// One task to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ComputeTask {
    /// Its id.
    pub id: TaskId,
    /// This dispatch: a result is accepted only with the run it answers.
    pub run: u64,
    /// Where it ranks among the worker's ready tasks.
    pub priority: Priority,
    /// How many literal frames follow its body frame.
    pub literals: u32,
    /// Its inputs in argument order (repeated when read twice).
    pub inputs: Vec<TaskId>,
    /// Where its dependencies live: id, bytes, holders. Every dependency
    /// is listed once.
    pub dependencies: Vec<Dependency>,
    /// Abstract resources it holds while it runs.
    pub resources: Vec<(String, f64)>,
    /// Whether the worker should say when it starts (a client watches).
    pub report_start: bool,
}

/// A dependency of a task, and where to get it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dependency {
    /// Its id.
    pub id: TaskId,
    /// Its size in bytes.
    pub nbytes: u64,
    /// The workers that hold it.
    pub who_has: Vec<WorkerId>,
}

/// What a worker tells the scheduler.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FromWorker {
    /// A task started (only when asked by [`ComputeTask::report_start`]).
    Started {
        /// The task.
        id: TaskId,
        /// Its dispatch.
        run: u64,
    },
    /// A task finished; its value stays on the worker.
    Finished {
        /// The task.
        id: TaskId,
        /// Its dispatch.
        run: u64,
        /// The value's size.
        nbytes: u64,
        /// The value's type name.
        type_name: String,
        /// How long it ran, in microseconds.
        duration_us: u64,
        /// The task thread that ran it (0 when none did: a value that was
        /// here already).
        thread: u32,
    },
    /// A task failed.
    Erred {
        /// The task.
        id: TaskId,
        /// Its dispatch.
        run: u64,
        /// The error.
        error: WireError,
        /// How long it ran, in microseconds.
        duration_us: u64,
        /// The task thread that ran it.
        thread: u32,
    },
    /// The worker now also holds these values (fetched from peers for its
    /// tasks).
    AddKeys {
        /// The tasks.
        ids: Vec<TaskId>,
    },
    /// Scattered values it could not store (they do not decode here).
    NotStored {
        /// The tasks.
        ids: Vec<TaskId>,
        /// Why.
        reason: String,
    },
    /// No holder of a dependency answered with it.
    Missing {
        /// The task whose dependency it is.
        id: TaskId,
        /// The dependency.
        dependency: TaskId,
        /// The workers that were asked, and why each failed.
        tried: Vec<(WorkerId, String)>,
    },
    /// Periodic news.
    Heartbeat(Heartbeat),
    /// Memory pressure paused the worker (no new task or fetch starts),
    /// or it is over.
    Paused {
        /// Paused now.
        paused: bool,
    },
    /// How an upload went ([`ToWorker::Upload`]).
    Uploaded {
        /// The upload's id.
        id: u64,
        /// What it did, or why it could not.
        result: Result<Uploaded, String>,
    },
    /// The answer to [`ToWorker::Steal`]: the state the task was in.
    StealResponse {
        /// The task.
        id: TaskId,
        /// The dispatch the scheduler asked for.
        run: u64,
        /// What the task was doing here.
        state: StealState,
    },
}

/// Where a task the scheduler asked back stood on its worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StealState {
    /// Waiting for inputs: dropped, to run elsewhere.
    Waiting,
    /// Ready for a thread: dropped, to run elsewhere.
    Ready,
    /// Handed to a task thread (running, or queued behind the task a
    /// thread runs): kept, its result comes.
    Executing,
    /// Its value is being fetched from a peer: kept, reported when here.
    Fetching,
    /// Its value is here (and was reported).
    Memory,
    /// Not known here under that run.
    Unknown,
}

impl StealState {
    /// Whether the worker dropped the task: it may run elsewhere.
    pub fn released(self) -> bool {
        matches!(self, StealState::Waiting | StealState::Ready)
    }
}

/// A worker's heartbeat.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Bytes of the values it holds in memory (their `nbytes`).
    pub managed_bytes: u64,
    /// Bytes of its values on disk (in the spill file).
    pub spilled_bytes: u64,
    /// What those values took in memory (their `nbytes`).
    pub spilled_nbytes: u64,
    /// Its process's resident bytes (0: unknown).
    pub process_bytes: u64,
    /// Whether memory pressure paused it.
    pub paused: bool,
    /// Tasks executing.
    pub executing: u32,
    /// Tasks ready or waiting for their inputs.
    pub ready: u32,
    /// Its process's processor use since the last heartbeat, in percent
    /// of one core (`None`: unknown, or a worker inside another program).
    pub cpu: Option<f32>,
    /// Bytes received from peers since it started.
    pub transfer_in: u64,
    /// Bytes sent to peers since it started.
    pub transfer_out: u64,
    /// Transfers and spill reads and writes since the last heartbeat (for
    /// the dashboard's task stream; the newest, at most a few thousand).
    pub activity: Vec<WorkerActivity>,
}

/// What a worker did besides computing, timed by its own clock relative
/// to the message that carries it (clocks need not agree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerActivity {
    /// What it was.
    pub kind: ActivityKind,
    /// The (first) task whose value moved.
    pub id: TaskId,
    /// Values moved.
    pub count: u32,
    /// Their bytes.
    pub bytes: u64,
    /// Microseconds between its end and the message.
    pub ended_us_ago: u64,
    /// How long it took, in microseconds.
    pub duration_us: u64,
}

/// A kind of [`WorkerActivity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActivityKind {
    /// Values fetched from a peer.
    Transfer,
    /// Values read back from the spill file.
    DiskRead,
    /// Values written to the spill file.
    DiskWrite,
}

/// What a client tells the scheduler.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FromClient {
    /// New tasks, and the keys the client wants (the frames are each
    /// task's body and literals, in task order).
    UpdateGraph(Box<UpdateGraph>),
    /// The client no longer needs these keys.
    Release {
        /// The keys.
        keys: Vec<WireKey>,
    },
    /// Stop computing these keys, and what only they need.
    Cancel {
        /// The keys.
        keys: Vec<WireKey>,
    },
    /// Store these values on the cluster; the frames are their bytes.
    Scatter {
        /// The request, answered by [`ToClient::Reply`].
        request: u64,
        /// The keys and each value's size and type.
        values: Vec<(WireKey, u64, String)>,
        /// Copy each value to every worker.
        broadcast: bool,
        /// Only on these workers (names or addresses); empty: any.
        workers: Vec<String>,
    },
    /// A question, answered by [`ToClient::Reply`].
    Ask {
        /// Echoed in the reply.
        request: u64,
        /// The question.
        question: Question,
    },
}

/// A graph submitted by a client.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateGraph {
    /// The tasks, dependencies before dependents.
    pub tasks: Vec<TaskDef>,
    /// Names of the functions the tasks call, referred to by index.
    pub functions: Vec<String>,
    /// The keys the client wants, by index into `tasks` or as existing
    /// keys.
    pub wanted: Vec<DepRef>,
    /// Whether to tell the client when tasks start and finish (it has
    /// callbacks).
    pub report_events: bool,
}

/// One task of a graph.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskDef {
    /// Its key.
    pub key: WireKey,
    /// How many literal frames follow its body frame.
    pub literals: u32,
    /// Its dependencies, each once.
    pub dependencies: Vec<DepRef>,
    /// Its inputs in argument order, as indices into `dependencies`.
    pub inputs: Vec<u32>,
    /// The functions it calls, as indices into the graph's `functions`.
    pub functions: Vec<u32>,
    /// Its annotations (restrictions, resources, priority, retries).
    pub annotations: Option<Annotations>,
    /// `order`'s priority within the graph.
    pub order: u32,
    /// A hash of its body and literals: the same key defined twice with
    /// different tasks is an error, not a silent choice.
    pub fingerprint: u64,
}

/// A task a graph refers to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum DepRef {
    /// The task at this index in the same graph.
    Local(u32),
    /// A key the cluster already holds (a future, a persisted result).
    Remote(WireKey),
}

/// A question a client asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Question {
    /// The cluster's workers and their state.
    Info,
    /// Which workers hold these keys.
    WhoHas(Vec<WireKey>),
    /// Which keys each worker holds.
    HasWhat,
    /// Keep these keys under a name, for other clients.
    Publish {
        /// The name.
        name: String,
        /// The keys.
        keys: Vec<WireKey>,
        /// Replace a dataset of that name.
        replace: bool,
    },
    /// The keys published under a name (the client then holds them).
    Dataset(String),
    /// Forget a published name.
    Unpublish(String),
    /// The names published.
    Datasets,
    /// Where these keys are now, to fetch them again.
    Locate(Vec<WireKey>),
    /// Close these workers (names or addresses) once the values only they
    /// hold are on others; answered with their names when they are gone.
    Retire(Vec<String>),
    /// Forget every task and value, restart every worker through its
    /// nanny, and answer once as many workers are back.
    Restart,
    /// How many workers the cluster wants for its work in hand spread
    /// over this many seconds, and which to close first (adaptivity).
    Adaptive {
        /// Seconds the work in hand should take.
        target_duration: f64,
    },
    /// Send a plugin or a file to every worker, and to every worker that
    /// joins later; answered once each current worker said how it went.
    Upload(Upload),
}

/// What the scheduler tells a client.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ToClient {
    /// A wanted key is in memory.
    InMemory(KeyLocation),
    /// A wanted key failed.
    Erred {
        /// The key.
        key: WireKey,
        /// The task whose failure it is (itself, or a dependency).
        blame: WireKey,
        /// The failure.
        error: WireError,
        /// The keys that were waiting on the failed task.
        dependents: Vec<WireKey>,
    },
    /// A wanted key will not be computed: cancelled, or lost with the
    /// worker that held or ran it.
    Lost {
        /// The key.
        key: WireKey,
        /// Why.
        reason: String,
        /// Whether a client cancelled it.
        cancelled: bool,
    },
    /// Tasks of the client's graphs started or finished (for callbacks).
    Events(Vec<TaskEvent>),
    /// Workers joined or left.
    Workers {
        /// New workers.
        added: Vec<WorkerSummary>,
        /// Gone workers.
        removed: Vec<WorkerId>,
    },
    /// A client restarted the cluster: every task and value is gone, and
    /// so every future is cancelled.
    Restarted,
    /// The answer to a request.
    Reply {
        /// The request.
        request: u64,
        /// The answer, or why there is none.
        answer: Result<Answer, String>,
    },
}

/// Where a key's value lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyLocation {
    /// The key.
    pub key: WireKey,
    /// Its id, to fetch it from a worker.
    pub id: TaskId,
    /// The value's size.
    pub nbytes: u64,
    /// The value's type name.
    pub type_name: String,
    /// The workers that hold it.
    pub who_has: Vec<WorkerId>,
}

/// A task of a client's graph started or finished.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskEvent {
    /// The task.
    pub key: WireKey,
    /// Where it runs.
    pub worker: WorkerId,
    /// Started (`false`: finished, in memory).
    pub started: bool,
    /// The value's size, once finished.
    pub nbytes: u64,
}

/// A worker, as clients see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSummary {
    /// Its id.
    pub id: WorkerId,
    /// Its name.
    pub name: String,
    /// Where it serves data (`tcp://host:port`).
    pub address: String,
    /// Its task threads.
    pub nthreads: u32,
    /// Its memory limit in bytes (0: none).
    pub memory_limit: u64,
    /// Its abstract resources.
    pub resources: Vec<(String, f64)>,
    /// The plugins it has loaded, as `name version`, sorted.
    pub plugins: Vec<String>,
}

/// Answers to [`Question`]s and scatters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Answer {
    /// Done, nothing to say.
    Done,
    /// The scheduler's view of the cluster.
    Info(ClusterInfo),
    /// Holders by key (worker ids; unknown keys are left out).
    WhoHas(Vec<(WireKey, Vec<WorkerId>)>),
    /// Keys by worker.
    HasWhat(Vec<(WorkerId, Vec<WireKey>)>),
    /// Keys and locations (of a dataset, of scattered values).
    Keys(Vec<KeyLocation>),
    /// Names.
    Names(Vec<String>),
    /// The workers the cluster wants.
    Adaptive(AdaptiveTarget),
    /// How an upload went on each worker.
    Uploads(Vec<UploadOutcome>),
}

/// How many workers the cluster wants now (Dask's `adaptive_target`), and,
/// when that is fewer than it has, which to close first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdaptiveTarget {
    /// Workers wanted: enough for the work in hand to take the target
    /// duration (never more than tasks to run, at least one while any
    /// is), doubled when their values pass 60% of their memory limits.
    pub workers: u32,
    /// Names of idle workers to close first, fewest bytes held first
    /// (as many as the cluster has beyond the target, or fewer when the
    /// others are busy).
    pub close: Vec<String>,
}

/// The scheduler's view of the cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// The scheduler's address.
    pub address: String,
    /// Its workers.
    pub workers: Vec<WorkerState>,
    /// Tasks known, by state name.
    pub tasks: Vec<(String, u64)>,
    /// Clients connected.
    pub clients: u32,
    /// Workers whose plugins differ from the asking client's, each named
    /// with what differs (filled by the client; "exactly the same
    /// versions" is what the workers should have).
    pub plugin_differences: Vec<String>,
}

/// One worker, as the scheduler sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerState {
    /// What it said when it joined.
    pub summary: WorkerSummary,
    /// "running", "paused" (memory pressure: no new work) or "retiring"
    /// (no new work; closed once its values are on other workers).
    pub status: String,
    /// Its memory, in Dask's segments.
    pub memory: WorkerMemory,
    /// Tasks sent to it and not finished.
    pub processing: u64,
    /// Values it holds.
    pub keys: u64,
    /// Bytes of those values.
    pub managed_bytes: u64,
}

/// A worker's memory, in bytes: what its values take (managed, exact),
/// the rest of its process (unmanaged: old is the least seen lately,
/// recent what came on top), and its values on disk. `process` and the
/// unmanaged parts are 0 when the worker cannot read its process's memory
/// (a worker inside another program).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerMemory {
    /// Bytes of its values in memory.
    pub managed: u64,
    /// Unmanaged bytes present for a while (interpreter, leaks, caches).
    pub unmanaged_old: u64,
    /// Unmanaged bytes that appeared lately (temporaries of running
    /// tasks, memory not yet given back).
    pub unmanaged_recent: u64,
    /// Bytes of its values on disk.
    pub spilled: u64,
    /// The process's resident bytes.
    pub process: u64,
    /// Its memory limit (0: none).
    pub limit: u64,
}

/// What travels on a connection between two workers, or a client and a
/// worker: either side may ask, and answers come back on the same
/// connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum PeerMessage {
    /// A question.
    Request(PeerRequest),
    /// An answer (its values are the message's frames).
    Reply(PeerReply),
}

/// What one peer (a worker or a client) asks a worker for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum PeerRequest {
    /// The values of these tasks.
    GetData {
        /// Echoed in the answer.
        request: u64,
        /// The tasks.
        ids: Vec<TaskId>,
    },
}

/// A worker's answer to a [`PeerRequest`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum PeerReply {
    /// The values asked for that it holds (the frames, in order), and the
    /// ids it does not hold.
    Data {
        /// The request.
        request: u64,
        /// The ids whose values follow, in frame order.
        ids: Vec<TaskId>,
        /// The ids it does not hold.
        missing: Vec<TaskId>,
    },
    /// Too many peers are fetching: ask again later.
    Busy {
        /// The request.
        request: u64,
    },
}
