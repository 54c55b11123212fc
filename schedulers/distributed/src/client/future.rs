//! Futures: handles on values that live on the cluster.

use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use barrow_core::collection::Collection;
use barrow_core::function::{Function, Input};
use barrow_core::task::arg::lit;
use barrow_core::{Arg, Error, ErrorKind, Func, Graph, Key, Result, Task, Value};

use super::ClientInner;
use super::state::Status;

/// A value on the cluster: the result of a task submitted with
/// [`Client::submit`](super::Client::submit), a scattered value, or a
/// key of a persisted collection (Dask's `Future`).
///
/// The value stays on the workers while a handle on it lives; dropping the
/// last handle (every clone, every task and collection built on it)
/// releases it. A future is an argument to later tasks: in
/// [`Client::submit`](super::Client::submit) as `Arg::from(&f)`, and in a
/// graph of yours as `Arg::from(&f)` with [`Future::graph`] merged in. It
/// is also a collection of its own (`compute(&f)`), on the cluster or in
/// this process, which then fetches it.
pub struct Future<T> {
    pub(crate) handle: Arc<FutureHandle>,
    /// The task standing for the value in graphs: one per handle, so that
    /// graphs built from one future merge.
    task: Task,
    marker: PhantomData<fn() -> T>,
}

/// What keeps a key alive on the cluster: dropping the last one releases
/// it.
pub(crate) struct FutureHandle {
    pub(crate) key: Key,
    pub(crate) client: Arc<ClientInner>,
}

impl Drop for FutureHandle {
    fn drop(&mut self) {
        self.client.release(std::slice::from_ref(&self.key));
    }
}

impl fmt::Debug for FutureHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Future({})", self.key)
    }
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Future {
            handle: self.handle.clone(),
            task: self.task.clone(),
            marker: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.status() {
            FutureStatus::Pending => "pending",
            FutureStatus::Finished => "finished",
            FutureStatus::Error => "error",
            FutureStatus::Cancelled => "cancelled",
            FutureStatus::Lost => "lost",
        };
        write!(f, "Future({}, {status})", self.handle.key)
    }
}

/// Where a future stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FutureStatus {
    /// Not computed yet.
    Pending,
    /// Its value is on the cluster.
    Finished,
    /// Its task, or one it needs, failed.
    Error,
    /// It was cancelled.
    Cancelled,
    /// It was lost with the worker that ran or held it.
    Lost,
}

impl<T> Future<T> {
    /// A future on `key`, which the client holds one more time.
    pub(crate) fn new(client: Arc<ClientInner>, key: Key) -> Future<T> {
        let handle = Arc::new(FutureHandle { key, client });
        let task = Task::call(
            remote_func(),
            [lit(RemoteKey {
                handle: handle.clone(),
            })],
        );
        Future {
            handle,
            task,
            marker: PhantomData,
        }
    }

    /// The same future, typed as a `U` (the check comes when the value is
    /// read).
    pub fn cast<U>(&self) -> Future<U> {
        Future {
            handle: self.handle.clone(),
            task: self.task.clone(),
            marker: PhantomData,
        }
    }

    /// The key of its value.
    pub fn key(&self) -> &Key {
        &self.handle.key
    }

    /// Where it stands now.
    pub fn status(&self) -> FutureStatus {
        let state = self.handle.client.shared.lock();
        match state.keys.get(&self.handle.key).map(|e| &e.status) {
            None | Some(Status::Pending) => FutureStatus::Pending,
            Some(Status::Memory(_)) => FutureStatus::Finished,
            Some(Status::Erred { .. }) => FutureStatus::Error,
            Some(Status::Lost {
                cancelled: true, ..
            }) => FutureStatus::Cancelled,
            Some(Status::Lost { .. }) => FutureStatus::Lost,
        }
    }

    /// Whether it is no longer pending.
    pub fn done(&self) -> bool {
        self.status() != FutureStatus::Pending
    }

    /// Waits until it is done; `Ok(false)` when `timeout` passed first.
    pub fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        let deadline = timeout.map(|t| Instant::now() + t);
        self.handle
            .client
            .wait_done(std::slice::from_ref(&self.handle.key), deadline)
    }

    /// Its value, fetched from the cluster (waits until it is there).
    pub fn result_value(&self) -> Result<Value> {
        let mut values = self
            .handle
            .client
            .gather_keys(std::slice::from_ref(&self.handle.key))?;
        values
            .pop()
            .ok_or_else(|| Error::internal("a gather returned no value"))
    }

    /// The graph of one task standing for this value, to build
    /// collections on it (`Delayed::from_graph(f.graph(), f.key().clone(),
    /// None)`). Computed in this process, the task fetches the value.
    pub fn graph(&self) -> Graph {
        // One task under a fresh key cannot conflict.
        Graph::from_tasks([(self.handle.key.clone(), self.task.clone())]).unwrap_or_default()
    }

    /// The task standing for this value in graphs.
    pub(crate) fn task(&self) -> &Task {
        &self.task
    }
}

impl<T: Clone + Send + Sync + 'static> Future<T> {
    /// Its value, fetched from the cluster (waits until it is there):
    /// moved out when this process holds the only copy, cloned otherwise.
    pub fn result(&self) -> Result<T> {
        take(self.result_value()?)
    }
}

/// A value as a `T`, moved out when possible.
pub(crate) fn take<T: Clone + Send + Sync + 'static>(value: Value) -> Result<T> {
    match value.try_take::<T>() {
        Ok(data) => Ok(data),
        Err(value) => value.downcast_ref::<T>().cloned(),
    }
}

impl<T> From<&Future<T>> for Arg {
    fn from(future: &Future<T>) -> Arg {
        Arg::Key(future.handle.key.clone())
    }
}

/// A future is a collection of one value: computing it fetches it.
impl<T: Clone + Send + Sync + 'static> Collection for Future<T> {
    type Output = T;

    fn graph(&self) -> Result<Graph> {
        Ok(Future::graph(self))
    }

    fn output_keys(&self) -> Vec<Key> {
        vec![self.handle.key.clone()]
    }

    fn finalize(&self, mut values: Vec<Value>) -> Result<T> {
        take(
            values
                .pop()
                .ok_or_else(|| Error::internal("no value for a future"))?,
        )
    }
}

/// The literal of the task that stands for a value on the cluster. On the
/// cluster, the task becomes a reference to that value; elsewhere, running
/// it fetches the value.
pub(crate) struct RemoteKey {
    pub(crate) handle: Arc<FutureHandle>,
}

impl fmt::Debug for RemoteKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RemoteKey({})", self.handle.key)
    }
}

/// The name of the function of tasks standing for values on the cluster.
pub(crate) const REMOTE_FUNCTION: &str = "barrow.distributed.remote";

struct Remote;

impl Function for Remote {
    fn name(&self) -> &str {
        REMOTE_FUNCTION
    }

    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let first = inputs
            .first()
            .ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "no key to fetch"))?;
        let remote = first.as_value()?.downcast_ref::<RemoteKey>()?;
        let mut values = remote
            .handle
            .client
            .gather_keys(std::slice::from_ref(&remote.handle.key))?;
        values
            .pop()
            .ok_or_else(|| Error::internal("a gather returned no value"))
    }
}

/// The function of tasks standing for values on the cluster.
pub(crate) fn remote_func() -> &'static Func {
    static FUNC: OnceLock<Func> = OnceLock::new();
    FUNC.get_or_init(|| Func::from_function(Remote))
}

/// The cluster key a task stands for, when it is such a task.
pub(crate) fn remote_key_of(task: &Task) -> Option<&RemoteKey> {
    let barrow_core::task::TaskBody::Call(call) = task.body() else {
        return None;
    };
    remote_key_of_call(call)
}

/// The cluster key a call stands for, when it is such a call.
pub(crate) fn remote_key_of_call(call: &barrow_core::task::Call) -> Option<&RemoteKey> {
    if call.function().name() != REMOTE_FUNCTION {
        return None;
    }
    match call.args().first() {
        Some(Arg::Literal(value)) => value.downcast_ref::<RemoteKey>().ok(),
        _ => None,
    }
}

/// Futures in the order they finish (Dask's `as_completed`).
///
/// ```no_run
/// # fn demo(client: &barrow_distributed::Client, futures: Vec<barrow_distributed::Future<i64>>) -> barrow_core::Result<()> {
/// use barrow_distributed::as_completed;
///
/// for future in as_completed(futures) {
///     println!("{} is done: {:?}", future.key(), future.status());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AsCompleted<T> {
    pending: Vec<Future<T>>,
}

/// Iterates over `futures` as they finish (successfully or not).
pub fn as_completed<T>(futures: impl IntoIterator<Item = Future<T>>) -> AsCompleted<T> {
    AsCompleted {
        pending: futures.into_iter().collect(),
    }
}

impl<T> AsCompleted<T> {
    /// Adds a future to wait for.
    pub fn add(&mut self, future: Future<T>) {
        self.pending.push(future);
    }
}

impl<T> Iterator for AsCompleted<T> {
    type Item = Future<T>;

    fn next(&mut self) -> Option<Future<T>> {
        let first = self.pending.first()?;
        let client = first.handle.client.clone();
        let (_state, _) = client.shared.wait_until(None, |state| {
            self.pending.iter().any(|f| {
                state
                    .keys
                    .get(&f.handle.key)
                    .is_none_or(|e| e.status.is_done())
            })
        });
        drop(_state);
        // The connection closed: every remaining future is done (lost).
        let at = self.pending.iter().position(Future::done).unwrap_or(0);
        Some(self.pending.remove(at))
    }
}
