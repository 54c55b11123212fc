//! The scheduler's tokio layer: it accepts connections, runs the
//! handshake, and feeds what workers and clients say to the state machine
//! in one task (no locks: the state has one owner), then hands the
//! messages it produced to the connections' writers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use barrow_core::Registry;
use rustc_hash::FxHashMap;
use tokio::sync::{mpsc, oneshot};

use super::{SchedulerConfig, SchedulerState};
use crate::comm::framed::{self, Outgoing, Received, Sender};
use crate::comm::{Address, Incoming, Listener, greet, out_of_descriptors};
use crate::dashboard::Watcher;
use crate::protocol::handshake::{Assigned, Role, WorkerRegistration};
use crate::protocol::{
    ClientId, FromClient, FromWorker, ToClient, ToWorker, WorkerId, WorkerSummary,
};
use crate::settings::CommSettings;
use barrow_dashboard::Update;

/// What the connections tell the scheduler's core.
pub(crate) enum CoreEvent {
    WorkerJoin {
        // Boxed: a registration is many times the size of the other events.
        registration: Box<WorkerRegistration>,
        sender: Sender<ToWorker>,
        reply: oneshot::Sender<super::Joined>,
    },
    WorkerMessages {
        worker: WorkerId,
        messages: Vec<Received<FromWorker>>,
    },
    WorkerLeft {
        worker: WorkerId,
        reason: String,
    },
    ClientJoin {
        name: String,
        sender: Sender<ToClient>,
        reply: oneshot::Sender<(ClientId, Vec<WorkerSummary>)>,
    },
    ClientMessages {
        client: ClientId,
        messages: Vec<Received<FromClient>>,
    },
    ClientLeft {
        client: ClientId,
    },
    Tick,
    /// Time to balance the workers' loads (work stealing).
    Balance,
    /// Time to hand the dashboard its batch.
    Watch,
    /// Runs a function on the state (tests, diagnostics).
    Inspect(Box<dyn FnOnce(&mut SchedulerState) + Send>),
    /// Tells the workers to close, then stops.
    Shutdown {
        reason: String,
        done: oneshot::Sender<()>,
    },
}

/// A handle on a running scheduler's core.
#[derive(Clone)]
pub(crate) struct Core {
    events: mpsc::UnboundedSender<CoreEvent>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Core")
    }
}

impl Core {
    /// Runs `inspect` on the state, in the core's task, and returns what it
    /// gives; `None` when the scheduler has stopped.
    pub(crate) async fn inspect<T: Send + 'static>(
        &self,
        inspect: impl FnOnce(&mut SchedulerState) -> T + Send + 'static,
    ) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        let event = CoreEvent::Inspect(Box::new(move |state| {
            let _ = reply.send(inspect(state));
        }));
        self.events.send(event).ok()?;
        answer.await.ok()
    }

    /// Tells the workers to close and stops the core.
    pub(crate) async fn shutdown(&self, reason: &str) {
        let (done, wait) = oneshot::channel();
        let event = CoreEvent::Shutdown {
            reason: reason.to_owned(),
            done,
        };
        if self.events.send(event).is_ok() {
            let _ = wait.await;
        }
    }
}

/// Starts the scheduler on `listener` in the current runtime; returns the
/// handle on its core.
pub(crate) fn spawn(
    listener: Listener,
    config: SchedulerConfig,
    comm: CommSettings,
    watcher: Option<Watcher>,
) -> (Address, Core) {
    let address = listener.address().clone();
    let (events, receiver) = mpsc::unbounded_channel();
    let core = Core { events };
    let stealing = config
        .work_stealing
        .then_some(config.work_stealing_interval);
    let mut state = SchedulerState::new(config);
    state.set_address(address.to_string());
    let updates = watcher.map(|watcher| {
        state.watch(watcher.epoch, watcher.thresholds);
        let ticker = core.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(watcher.interval);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                if ticker.events.send(CoreEvent::Watch).is_err() {
                    return;
                }
            }
        });
        watcher.updates
    });
    tokio::spawn(run_core(state, receiver, updates));
    let comm = Arc::new(comm);
    tokio::spawn(accept_loop(listener, core.clone(), comm));
    let ticker = core.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(500));
        loop {
            interval.tick().await;
            if ticker.events.send(CoreEvent::Tick).is_err() {
                return;
            }
        }
    });
    if let Some(every) = stealing {
        let balancer = core.clone();
        tokio::spawn(async move {
            let every = every.max(Duration::from_millis(1));
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                if balancer.events.send(CoreEvent::Balance).is_err() {
                    return;
                }
            }
        });
    }
    (address, core)
}

/// The core: the one owner of the state.
async fn run_core(
    mut state: SchedulerState,
    mut events: mpsc::UnboundedReceiver<CoreEvent>,
    updates: Option<std::sync::mpsc::Sender<Update>>,
) {
    let mut workers: FxHashMap<WorkerId, Sender<ToWorker>> = FxHashMap::default();
    let mut clients: FxHashMap<ClientId, Sender<ToClient>> = FxHashMap::default();
    while let Some(first) = events.recv().await {
        state.set_now(Instant::now());
        let mut next = Some(first);
        let mut handled = 0;
        while let Some(event) = next.take() {
            let stop = if matches!(event, CoreEvent::Watch) {
                // The dashboard's batch: built here (a look at each worker
                // and prefix), applied on the feed's own thread.
                if let (Some(update), Some(updates)) = (state.watch_update(), &updates) {
                    let _ = updates.send(update);
                }
                None
            } else {
                handle(&mut state, event, &mut workers, &mut clients)
            };
            if let Some(done) = stop {
                flush(&mut state, &mut workers, &clients);
                let _ = done.send(());
                return;
            }
            handled += 1;
            // Whatever else arrived meanwhile, in the same batch: its
            // messages go out together.
            if handled < 1024 {
                next = events.try_recv().ok();
            }
        }
        flush(&mut state, &mut workers, &clients);
    }
}

/// Handles one event; `Some` when the core must stop.
fn handle(
    state: &mut SchedulerState,
    event: CoreEvent,
    workers: &mut FxHashMap<WorkerId, Sender<ToWorker>>,
    clients: &mut FxHashMap<ClientId, Sender<ToClient>>,
) -> Option<oneshot::Sender<()>> {
    match event {
        CoreEvent::WorkerJoin {
            registration,
            sender,
            reply,
        } => {
            let joined = state.add_worker(*registration);
            if let Ok(admitted) = &joined {
                workers.insert(admitted.id, sender);
            }
            let _ = reply.send(joined);
        }
        CoreEvent::WorkerMessages { worker, messages } => {
            for received in messages {
                state.handle_worker(worker, received.message);
            }
        }
        CoreEvent::WorkerLeft { worker, reason } => {
            workers.remove(&worker);
            state.remove_worker(worker, &reason);
        }
        CoreEvent::ClientJoin {
            name,
            sender,
            reply,
        } => {
            let (id, summaries) = state.add_client(name);
            clients.insert(id, sender);
            let _ = reply.send((id, summaries));
        }
        CoreEvent::ClientMessages { client, messages } => {
            for received in messages {
                let (message, frames) = received.into_parts();
                let frame = |i: usize| frames.frame(i as u32).ok().map(Arc::<[u8]>::from);
                state.handle_client(client, message, &frame);
            }
        }
        CoreEvent::ClientLeft { client } => {
            clients.remove(&client);
            state.remove_client(client);
        }
        CoreEvent::Tick => state.check_timeouts(),
        CoreEvent::Balance => state.balance(),
        // Taken by the loop, which holds the dashboard's sender.
        CoreEvent::Watch => {}
        CoreEvent::Inspect(inspect) => inspect(state),
        CoreEvent::Shutdown { reason, done } => {
            for sender in workers.values() {
                let _ = sender.send(Outgoing::plain(ToWorker::Close {
                    reason: reason.clone(),
                    restart: false,
                }));
            }
            return Some(done);
        }
    }
    None
}

/// Hands the messages the state produced to the connections.
fn flush(
    state: &mut SchedulerState,
    workers: &mut FxHashMap<WorkerId, Sender<ToWorker>>,
    clients: &FxHashMap<ClientId, Sender<ToClient>>,
) {
    let outbox = state.take_outbox();
    for (worker, message) in outbox.workers {
        if let Some(sender) = workers.get(&worker) {
            // A closed connection: its reader reports the worker gone.
            let _ = sender.send(message);
        }
    }
    for worker in outbox.close {
        // Its writer sends what is queued, then shuts the stream.
        workers.remove(&worker);
    }
    for (client, message) in outbox.clients {
        if let Some(sender) = clients.get(&client) {
            let _ = sender.send(message);
        }
    }
}

async fn accept_loop(listener: Listener, core: Core, comm: Arc<CommSettings>) {
    loop {
        match listener.accept().await {
            Ok(incoming) => {
                let core = core.clone();
                let comm = comm.clone();
                tokio::spawn(async move {
                    serve(incoming, core, comm).await;
                });
            }
            Err(e) if crate::comm::is_out_of_descriptors(&e) => {
                tracing::error!("scheduler: {}", out_of_descriptors(&e));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => {
                tracing::warn!("scheduler: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        if core.events.is_closed() {
            return;
        }
    }
}

/// Serves one connection, from its handshake to its end.
async fn serve(incoming: Incoming, core: Core, comm: Arc<CommSettings>) {
    let peer = incoming.peer.to_string();
    let label = format!("the process at {peer}");
    let mut stream = match incoming.open(comm.connect_timeout, &label).await {
        Ok(stream) => stream,
        Err(error) => {
            tracing::warn!("scheduler: refused a connection from {peer}: {error}");
            return;
        }
    };
    let pending = match greet::open(&mut stream, &comm.secret, comm.connect_timeout, &label).await {
        Ok(pending) => pending,
        Err(error) => {
            tracing::warn!("scheduler: refused a connection from {peer}: {error}");
            return;
        }
    };
    let registry = Registry::global();
    match pending.hello.role {
        Role::Worker => {
            let Some(registration) = pending.hello.worker.clone() else {
                greet::refuse(&mut stream, "a worker must say who it is").await;
                return;
            };
            let (sender, queue) = framed::queue();
            let (reply, answer) = oneshot::channel();
            let join = CoreEvent::WorkerJoin {
                registration: Box::new(registration),
                sender,
                reply,
            };
            if core.events.send(join).is_err() {
                return;
            }
            let admitted = match answer.await {
                Ok(Ok(admitted)) => admitted,
                Ok(Err(reason)) => {
                    tracing::warn!("scheduler: refused a worker from {peer}: {reason}");
                    greet::refuse(&mut stream, &reason).await;
                    return;
                }
                Err(_) => return,
            };
            let id = admitted.id;
            let assigned = Assigned::Worker {
                id,
                heartbeat_ms: admitted.heartbeat.as_millis() as u64,
                peers: admitted.peers,
            };
            let welcomed = greet::welcome(&mut stream, &comm.secret, &pending, assigned).await;
            if let Err(error) = welcomed {
                let reason = format!("its connection broke during the handshake: {error}");
                let _ = core
                    .events
                    .send(CoreEvent::WorkerLeft { worker: id, reason });
                return;
            }
            let (mut reader, writer) = stream.into_split();
            framed::spawn_writer(writer, queue, registry, comm.wire, label.clone());
            let reason = loop {
                match framed::read_batch::<FromWorker, _>(&mut reader, comm.max_message_size).await
                {
                    Ok(Some(messages)) => {
                        let event = CoreEvent::WorkerMessages {
                            worker: id,
                            messages,
                        };
                        if core.events.send(event).is_err() {
                            return;
                        }
                    }
                    Ok(None) => break "its connection closed".to_owned(),
                    Err(error) => {
                        tracing::warn!(
                            "scheduler: closed the connection of worker {id} ({peer}): {error}"
                        );
                        break format!("its connection broke: {error}");
                    }
                }
            };
            let _ = core
                .events
                .send(CoreEvent::WorkerLeft { worker: id, reason });
        }
        Role::Client => {
            let (sender, queue) = framed::queue();
            let (reply, answer) = oneshot::channel();
            let join = CoreEvent::ClientJoin {
                name: format!("pid {} at {peer}", pending.hello.pid),
                sender,
                reply,
            };
            if core.events.send(join).is_err() {
                return;
            }
            let Ok((id, workers)) = answer.await else {
                return;
            };
            let assigned = Assigned::Client { id, workers };
            if greet::welcome(&mut stream, &comm.secret, &pending, assigned)
                .await
                .is_err()
            {
                let _ = core.events.send(CoreEvent::ClientLeft { client: id });
                return;
            }
            let (mut reader, writer) = stream.into_split();
            framed::spawn_writer(writer, queue, registry, comm.wire, label.clone());
            loop {
                match framed::read_batch::<FromClient, _>(&mut reader, comm.max_message_size).await
                {
                    Ok(Some(messages)) => {
                        let event = CoreEvent::ClientMessages {
                            client: id,
                            messages,
                        };
                        if core.events.send(event).is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(
                            "scheduler: closed the connection of client {id} ({peer}): {error}"
                        );
                        break;
                    }
                }
            }
            let _ = core.events.send(CoreEvent::ClientLeft { client: id });
        }
        Role::Peer => {
            greet::refuse(
                &mut stream,
                "this is a scheduler: it holds no data; fetch values from the workers",
            )
            .await;
        }
    }
}
