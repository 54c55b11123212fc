//! The client: a program's connection to a cluster (Dask's `Client`).

mod admin;
mod encode;
mod fetch;
mod future;
mod plugins;
mod run;
mod state;
mod upload;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use barrow_core::collection::{Collection, Persist};
use barrow_core::options::SchedulerChoice;
use barrow_core::{
    Annotations, Arg, Error, ErrorKind, Func, Graph, Key, Layer, Options, Registry, Result, Task,
    Value,
};
use barrow_wire::task::WireKey;

pub use future::{AsCompleted, Future, FutureStatus, as_completed};
pub use run::RemoteResult;

use self::future::take;
use self::state::{Entry, Shared, Status};
use crate::comm::framed::{self, Frame, Outgoing, Sender};
use crate::comm::peer::PeerPool;
use crate::comm::{Address, Refused, connect, greet};
use crate::protocol::handshake::{Assigned, Role};
use crate::protocol::{Answer, FromClient, KeyLocation, Question, ToClient, WorkerId};
use crate::runtime::RuntimeThread;
use crate::settings::{CommSettings, TlsFiles, TlsRole, require_token};

/// A connection to a cluster's scheduler, to compute on it (Dask's
/// `Client`). Cheap to clone: clones share the connection, which closes
/// when the last clone and the last [`Future`] are dropped (the scheduler
/// then releases everything the client held).
///
/// A client is a [`Scheduler`](barrow_core::Scheduler): pass it in a computation's options
/// (`Options::new().scheduler(&client)`), make it the default for a block
/// of code ([`Client::as_default`]), or call its own methods.
///
/// ```no_run
/// use barrow_core::{Options, compute_with};
/// use barrow_distributed::Client;
/// # fn demo(collection: barrow_core::collection::GraphKeys) -> barrow_core::Result<()> {
/// let client = Client::connect("tcp://127.0.0.1:8786")?;
/// let values = compute_with(collection, &Options::new().scheduler(&client))?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Client({}, client {})",
            self.inner.address, self.inner.id
        )
    }
}

/// What a client connects with, besides the address.
///
/// ```
/// use barrow_distributed::ClientOptions;
///
/// // A client of a TLS cluster (Dask's `Security(tls_ca_file=...,
/// // tls_client_cert=..., tls_client_key=...)`).
/// let options = ClientOptions::new()
///     .tls_ca_file("/etc/barrow/ca.pem")
///     .tls_cert("/etc/barrow/client.pem", "/etc/barrow/client-key.pem");
/// # let _ = options;
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    token: Option<String>,
    timeout: Option<Duration>,
    tls: TlsFiles,
}

impl ClientOptions {
    /// The configuration's token and connect timeout.
    pub fn new() -> ClientOptions {
        ClientOptions::default()
    }

    /// The cluster's token (default: `distributed.security.token` or the
    /// token file).
    pub fn token(mut self, token: impl Into<String>) -> ClientOptions {
        self.token = Some(token.into());
        self
    }

    /// How long to try to reach the scheduler (default:
    /// `distributed.comm.timeouts.connect`).
    pub fn timeout(mut self, timeout: Duration) -> ClientOptions {
        self.timeout = Some(timeout);
        self
    }

    /// The CA certificate that signed the cluster's certificates, to
    /// connect to `tls://` addresses (default:
    /// `distributed.comm.tls.ca-file`).
    pub fn tls_ca_file(mut self, path: impl Into<PathBuf>) -> ClientOptions {
        self.tls.ca_file = Some(path.into());
        self
    }

    /// The client's certificate and private key (PEM files) that it
    /// presents to a TLS cluster (default:
    /// `distributed.comm.tls.client.cert` and `.key`).
    pub fn tls_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> ClientOptions {
        self.tls.cert = Some((cert.into(), key.into()));
        self
    }
}

pub(crate) struct ClientInner {
    id: u32,
    address: Address,
    shared: Arc<Shared>,
    sender: Sender<FromClient>,
    pool: Arc<PeerPool>,
    comm: Arc<CommSettings>,
    next_request: AtomicU64,
    next_subscription: AtomicU64,
    // Last: dropped after the sender, so the connection closes cleanly.
    runtime: RuntimeThread,
}

/// The client made the default (the newest one, as in Dask).
static DEFAULT: Mutex<Option<Weak<ClientInner>>> = Mutex::new(None);

impl Client {
    /// Connects to the scheduler at `address` with the configuration's
    /// token and timeout. It becomes the client the scheduler named
    /// `distributed` uses.
    pub fn connect(address: &str) -> Result<Client> {
        Client::connect_with(address, &ClientOptions::new())
    }

    /// Connects to the scheduler at `address` with `options`.
    pub fn connect_with(address: &str, options: &ClientOptions) -> Result<Client> {
        let config = barrow_core::config::snapshot()?;
        Client::connect_configured(address, options, &config)
    }

    /// Connects with the settings of `config`.
    pub(crate) fn connect_configured(
        address: &str,
        options: &ClientOptions,
        config: &barrow_core::config::Snapshot,
    ) -> Result<Client> {
        crate::comm::raise_descriptor_limit();
        let address: Address = address.parse()?;
        let config = options.tls.apply(config, TlsRole::Client)?;
        let token = require_token(&config, options.token.as_deref())?;
        let mut comm = CommSettings::from_config(&config, &token, TlsRole::Client)?;
        if let Some(timeout) = options.timeout {
            comm.connect_timeout = timeout;
        }
        let comm = Arc::new(comm);
        let runtime = RuntimeThread::start("barrow-client")?;
        let shared = Arc::new(Shared::default());
        let registry = Registry::global();
        let joined = {
            let address = address.clone();
            let comm = comm.clone();
            let shared = shared.clone();
            runtime.run(async move { join(address, comm, shared, registry).await })?
        }?;
        let (id, sender) = joined;
        let pool = {
            let _guard = runtime.handle().enter();
            PeerPool::client(comm.clone(), registry)
        };
        let inner = Arc::new(ClientInner {
            id,
            address,
            shared,
            sender,
            pool,
            comm,
            next_request: AtomicU64::new(1),
            next_subscription: AtomicU64::new(1),
            runtime,
        });
        *DEFAULT.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::downgrade(&inner));
        Ok(Client { inner })
    }

    /// The newest client of this process still open, if any.
    pub fn current() -> Option<Client> {
        DEFAULT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(Weak::upgrade)
            .map(|inner| Client { inner })
    }

    /// The scheduler's address.
    pub fn address(&self) -> &Address {
        &self.inner.address
    }

    /// Makes this client the scheduler of every computation started on
    /// this thread until the guard drops (unless a computation's options
    /// name another).
    pub fn as_default(&self) -> barrow_core::SchedulerGuard {
        barrow_core::use_scheduler(Arc::new(self.clone()))
    }

    /// Computes a collection (or a tuple or `Vec` of them) on the
    /// cluster and returns its result here.
    pub fn compute<C: Collection>(&self, collection: C) -> Result<C::Output> {
        self.compute_with(collection, &Options::new())
    }

    /// [`Client::compute`] with options (callbacks, optimization).
    pub fn compute_with<C: Collection>(
        &self,
        collection: C,
        options: &Options,
    ) -> Result<C::Output> {
        let options = options.clone().scheduler(self);
        barrow_core::compute_with(collection, &options)
    }

    /// Starts computing a collection on the cluster and returns it built
    /// on the results, which stay on the workers (Dask's `persist`): later
    /// computations start from them; dropping the returned collection
    /// releases them. Returns at once.
    pub fn persist<C: Persist>(&self, collection: &C) -> Result<C> {
        let keys = collection.output_keys();
        let graph = barrow_core::optimize::optimize(&collection.graph()?, &keys)?;
        let graph = self.inner.with_remote_tasks(&graph)?;
        let plan = graph.lower(&keys)?;
        let futures = self.inner.submit_plan(&plan)?;
        let mut layer = Layer::with_capacity("persisted", keys.len());
        for (key, future) in keys.into_iter().zip(futures) {
            layer.insert(key, future.task().clone())?;
        }
        Ok(collection.with_results(Graph::from_layer(Arc::new(layer))))
    }

    /// Runs `function` (registered by name) on `args` on the cluster;
    /// returns a future of its result at once. A future among the
    /// arguments (`Arg::from(&future)`) passes its value.
    pub fn submit<T>(
        &self,
        function: &Func,
        args: impl IntoIterator<Item = Arg>,
    ) -> Result<Future<T>> {
        let mut futures = self.map(function, [args.into_iter().collect::<Vec<Arg>>()])?;
        futures
            .pop()
            .ok_or_else(|| Error::internal("a submission gave no future"))
    }

    /// [`Client::submit`] with annotations: where it may run
    /// (`workers`, `resources`, `allow_other_workers`), its priority, its
    /// retries.
    pub fn submit_with<T>(
        &self,
        function: &Func,
        args: impl IntoIterator<Item = Arg>,
        annotations: Annotations,
    ) -> Result<Future<T>> {
        let mut futures = self.map_with(
            function,
            [args.into_iter().collect::<Vec<Arg>>()],
            Some(annotations),
        )?;
        futures
            .pop()
            .ok_or_else(|| Error::internal("a submission gave no future"))
    }

    /// Runs `function` once per list of arguments, in one submission;
    /// returns the futures in order.
    pub fn map<T>(
        &self,
        function: &Func,
        calls: impl IntoIterator<Item = Vec<Arg>>,
    ) -> Result<Vec<Future<T>>> {
        self.map_with(function, calls, None)
    }

    fn map_with<T>(
        &self,
        function: &Func,
        calls: impl IntoIterator<Item = Vec<Arg>>,
        annotations: Option<Annotations>,
    ) -> Result<Vec<Future<T>>> {
        let annotations = annotations.map(Arc::new);
        let prefix = function
            .name()
            .rsplit("::")
            .next()
            .unwrap_or("task")
            .to_owned();
        let mut graph = Graph::new();
        let mut keys = Vec::new();
        for args in calls {
            let key = Key::new(crate::unique_key(&prefix));
            let mut task = Task::call(function, args);
            if let Some(annotations) = &annotations {
                task = task.with_annotations(annotations.clone());
            }
            graph.insert(key.clone(), task)?;
            keys.push(key);
        }
        let graph = self.inner.with_remote_tasks(&graph)?;
        let plan = graph.lower(&keys)?;
        Ok(self
            .inner
            .submit_plan(&plan)?
            .into_iter()
            .map(|f| f.cast())
            .collect())
    }

    /// The values of `futures`, fetched from the workers (waits for them).
    pub fn gather<T: Clone + Send + Sync + 'static>(
        &self,
        futures: &[Future<T>],
    ) -> Result<Vec<T>> {
        let keys: Vec<Key> = futures.iter().map(|f| f.key().clone()).collect();
        self.inner
            .gather_keys(&keys)?
            .into_iter()
            .map(take)
            .collect()
    }

    /// Sends `values` to the workers (spread over them, or to every one
    /// with `broadcast`) and returns futures on them. Keys hash the
    /// values' bytes, so scattering the same value again gives the same
    /// key.
    pub fn scatter<T: Send + Sync + 'static>(
        &self,
        values: impl IntoIterator<Item = T>,
        broadcast: bool,
    ) -> Result<Vec<Future<T>>> {
        self.scatter_to(values, broadcast, &[])
    }

    /// [`Client::scatter`] onto the workers named (names or addresses).
    pub fn scatter_to<T: Send + Sync + 'static>(
        &self,
        values: impl IntoIterator<Item = T>,
        broadcast: bool,
        workers: &[&str],
    ) -> Result<Vec<Future<T>>> {
        let registry = Registry::global();
        let mut entries = Vec::new();
        let mut frames = Vec::new();
        let mut keys = Vec::new();
        for value in values {
            let value = Value::new(value);
            let bytes = barrow_wire::encode_with(&value, registry.codecs(), &self.inner.comm.wire)
                .map_err(|e| {
                    Error::new(
                        ErrorKind::NotShippable,
                        format!("a {} cannot be scattered: {e}", value.type_name()),
                    )
                })?;
            let hash = xxhash_rust::xxh3::xxh3_128(&bytes);
            let short = value
                .type_name()
                .rsplit("::")
                .next()
                .unwrap_or("value")
                .trim_end_matches('>')
                .to_lowercase();
            let key = Key::new(format!("{short}-{hash:032x}"));
            entries.push((
                WireKey::from(&key),
                value.nbytes() as u64,
                value.type_name().to_owned(),
            ));
            frames.push(Frame::Bytes(Arc::from(bytes)));
            keys.push(key);
        }
        self.inner.hold(&keys);
        let futures: Vec<Future<T>> = keys
            .iter()
            .map(|k| Future::new(self.inner.clone(), k.clone()))
            .collect();
        let request = self.inner.next_request.fetch_add(1, Ordering::Relaxed);
        self.inner.send(
            FromClient::Scatter {
                request,
                values: entries,
                broadcast,
                workers: workers.iter().map(|w| (*w).to_owned()).collect(),
            },
            frames,
        )?;
        match self.inner.reply(request)? {
            Answer::Keys(locations) => {
                self.inner.located(&locations);
                Ok(futures)
            }
            other => Err(unexpected(&other)),
        }
    }

    /// Stops computing `futures` (and what only they need); they end
    /// cancelled.
    pub fn cancel<T>(&self, futures: &[Future<T>]) -> Result<()> {
        let keys = futures.iter().map(|f| WireKey::from(f.key())).collect();
        self.inner.send(FromClient::Cancel { keys }, Vec::new())
    }

    /// Waits until every future is done; `Ok(false)` when `timeout` passed
    /// first.
    pub fn wait<T>(&self, futures: &[Future<T>], timeout: Option<Duration>) -> Result<bool> {
        let keys: Vec<Key> = futures.iter().map(|f| f.key().clone()).collect();
        self.inner
            .wait_done(&keys, timeout.map(|t| Instant::now() + t))
    }

    /// The number of task threads of the cluster's workers now.
    pub fn total_threads(&self) -> usize {
        self.inner.total_threads()
    }
}

impl From<&Client> for SchedulerChoice {
    fn from(client: &Client) -> SchedulerChoice {
        SchedulerChoice::Object(Arc::new(client.clone()))
    }
}

impl From<Client> for SchedulerChoice {
    fn from(client: Client) -> SchedulerChoice {
        SchedulerChoice::Object(Arc::new(client))
    }
}

fn unexpected(answer: &Answer) -> Error {
    Error::internal(format!("the scheduler answered with {answer:?}"))
}

/// Connects and joins as a client; returns the id and the queue to the
/// scheduler, with the reader started.
async fn join(
    address: Address,
    comm: Arc<CommSettings>,
    shared: Arc<Shared>,
    registry: &'static Registry,
) -> Result<(u32, Sender<FromClient>)> {
    let label = format!("the scheduler at {address}");
    let mut stream = connect(
        &address,
        comm.connect_timeout,
        Refused::Retry,
        &comm.security,
    )
    .await?;
    let assigned = greet::join(
        &mut stream,
        &comm.secret,
        Role::Client,
        None,
        None,
        comm.connect_timeout,
        &label,
    )
    .await?;
    let Assigned::Client { id, workers } = assigned else {
        return Err(Error::new(
            ErrorKind::Comm,
            format!("{label} did not welcome this process as a client"),
        ));
    };
    plugins::warn_differences(&workers);
    {
        let mut state = shared.lock();
        for worker in workers {
            state.workers.insert(worker.id, worker);
        }
    }
    let (mut reader, writer) = stream.into_split();
    let (sender, queue) = framed::queue();
    framed::spawn_writer(writer, queue, registry, comm.wire, label.clone());
    let max = comm.max_message_size;
    tokio::spawn(async move {
        let reason = loop {
            match framed::read_batch::<ToClient, _>(&mut reader, max).await {
                Ok(Some(batch)) => shared.receive(batch.into_iter().map(|r| r.message)),
                Ok(None) => break format!("{label} closed the connection"),
                Err(error) => break format!("the connection to {label} broke: {error}"),
            }
        };
        tracing::warn!("client: {reason}");
        shared.close(reason);
    });
    Ok((id, sender))
}

impl ClientInner {
    fn send(&self, message: FromClient, frames: Vec<Frame>) -> Result<()> {
        self.sender
            .send(Outgoing { message, frames })
            .map_err(|_| self.closed_error())
    }

    fn closed_error(&self) -> Error {
        let reason = self
            .shared
            .lock()
            .closed
            .clone()
            .unwrap_or_else(|| "it closed".to_owned());
        Error::new(
            ErrorKind::Comm,
            format!(
                "the connection to the scheduler at {} is lost: {reason}",
                self.address
            ),
        )
    }

    /// Holds `keys` once more each.
    fn hold(&self, keys: &[Key]) {
        let mut state = self.shared.lock();
        for key in keys {
            state
                .keys
                .entry(key.clone())
                .or_insert(Entry {
                    holders: 0,
                    status: Status::Pending,
                })
                .holders += 1;
        }
    }

    /// Holds `keys` once less each; tells the scheduler of those no one
    /// holds any more.
    pub(crate) fn release(&self, keys: &[Key]) {
        let mut released = Vec::new();
        {
            let mut state = self.shared.lock();
            for key in keys {
                if let Some(entry) = state.keys.get_mut(key) {
                    entry.holders = entry.holders.saturating_sub(1);
                    if entry.holders == 0 {
                        state.keys.remove(key);
                        released.push(WireKey::from(key));
                    }
                }
            }
        }
        if !released.is_empty() {
            // A closed connection released everything already.
            let _ = self.send(FromClient::Release { keys: released }, Vec::new());
        }
    }

    /// Records where values are.
    fn located(&self, locations: &[KeyLocation]) {
        let mut state = self.shared.lock();
        for location in locations {
            if let Some(entry) = state.keys.get_mut(&Key::from(&location.key)) {
                entry.status = Status::Memory(location.clone());
            }
        }
    }

    /// Asks the scheduler a question and waits for the answer.
    fn ask(&self, question: Question) -> Result<Answer> {
        let request = self.next_request.fetch_add(1, Ordering::Relaxed);
        self.send(FromClient::Ask { request, question }, Vec::new())?;
        self.reply(request)
    }

    fn reply(&self, request: u64) -> Result<Answer> {
        let (mut state, answered) = self
            .shared
            .wait_until(None, |state| state.replies.contains_key(&request));
        if !answered {
            drop(state);
            return Err(self.closed_error());
        }
        match state.replies.remove(&request) {
            Some(Ok(answer)) => Ok(answer),
            Some(Err(why)) => Err(Error::new(ErrorKind::InvalidArgument, why)),
            None => Err(Error::internal("an answer went missing")),
        }
    }

    fn addresses(&self, workers: &[WorkerId]) -> Vec<String> {
        let state = self.shared.lock();
        workers
            .iter()
            .filter_map(|w| state.workers.get(w).map(|s| s.address.clone()))
            .collect()
    }

    fn total_threads(&self) -> usize {
        let state = self.shared.lock();
        state.workers.values().map(|w| w.nthreads as usize).sum()
    }

    /// Waits until every key is done.
    fn wait_done(&self, keys: &[Key], deadline: Option<Instant>) -> Result<bool> {
        let (state, done) = self.shared.wait_until(deadline, |state| {
            keys.iter()
                .all(|k| state.keys.get(k).is_none_or(|e| e.status.is_done()))
        });
        let closed = state.closed.is_some();
        drop(state);
        if !done && closed {
            return Err(self.closed_error());
        }
        Ok(done)
    }

    /// `graph` with a task standing for each key it reads that it does
    /// not define but this client holds (a future passed as `Arg`).
    fn with_remote_tasks(self: &Arc<Self>, graph: &Graph) -> Result<Graph> {
        let mut missing = Vec::new();
        for (_, task) in graph.iter() {
            task.for_each_dependency(&mut |dep| {
                if !graph.contains_key(dep) && !missing.contains(dep) {
                    missing.push(dep.clone());
                }
            });
        }
        if missing.is_empty() {
            return Ok(graph.clone());
        }
        let held: Vec<Key> = {
            let state = self.shared.lock();
            missing
                .into_iter()
                .filter(|k| state.keys.contains_key(k))
                .collect()
        };
        let mut out = graph.clone();
        for key in held {
            self.hold(std::slice::from_ref(&key));
            let future: Future<()> = Future::new(self.clone(), key.clone());
            out.insert(key, future.task().clone())?;
        }
        Ok(out)
    }

    /// Sends a lowered graph wanting its outputs; returns futures on them.
    fn submit_plan(
        self: &Arc<Self>,
        plan: &barrow_core::plan::Plan<'_>,
    ) -> Result<Vec<Future<()>>> {
        let encoded = encode::encode_plan(plan, Registry::global(), &self.comm.wire, false)?;
        let keys: Vec<Key> = plan
            .outputs()
            .iter()
            .map(|&id| plan.key(id).clone())
            .collect();
        self.hold(&keys);
        let futures = keys
            .iter()
            .map(|k| Future::new(self.clone(), k.clone()))
            .collect();
        self.send(
            FromClient::UpdateGraph(Box::new(encoded.update)),
            encoded.frames,
        )?;
        drop(encoded.holds);
        Ok(futures)
    }

    fn subscribe(&self) -> u64 {
        let id = self.next_subscription.fetch_add(1, Ordering::Relaxed);
        self.shared.lock().events.insert(id, Default::default());
        id
    }

    fn unsubscribe(&self, id: u64) {
        self.shared.lock().events.remove(&id);
    }
}

/// The error for a key that is not in memory.
fn status_error(key: &Key, status: &Status) -> Error {
    match status {
        Status::Erred {
            blame,
            error,
            dependents,
        } => {
            let blame = Key::from(blame);
            let error = error.clone().into_error("a worker of the cluster");
            error
                .with_key(blame)
                .with_dependents(dependents.iter().map(Key::from).collect())
        }
        Status::Lost { reason, cancelled } => Error::new(
            if *cancelled {
                ErrorKind::Cancelled
            } else {
                ErrorKind::Worker
            },
            format!(
                "{key} was {}: {reason}",
                if *cancelled { "cancelled" } else { "lost" }
            ),
        )
        .with_key(key.clone()),
        Status::Pending | Status::Memory(_) => Error::internal(format!("{key} is not done")),
    }
}
