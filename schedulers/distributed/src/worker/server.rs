//! The worker's tokio layer: the connection to the scheduler, the
//! listener for peers, the heartbeat, and the core task that owns the
//! [`WorkerState`] and carries out its instructions.

use std::sync::Arc;
use std::time::Duration;

use barrow_core::{Registry, Value};
use tokio::sync::{mpsc, oneshot};

use super::activity::Activity;
use super::executor::{Executor, Report};
use super::state::{Instruction, WorkerState};
use super::{WorkerOptions, system_memory};
use crate::comm::framed::{self, Outgoing, Received, Sender};
use crate::comm::peer::{Fetched, PeerPool, Served};
use crate::comm::stream::ReadHalf;
use crate::comm::{Listener, Refused, connect, greet, listen};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::handshake::{Assigned, Role, WorkerRegistration};
use crate::protocol::{ActivityKind, FromWorker, TaskId, ToWorker, WorkerId};
use crate::settings::CommSettings;
use crate::worker::disk::{Disk, Written};
use crate::worker::faults::Faults;
use crate::worker::memory::{CpuMeter, MemorySettings, Thresholds};
use barrow_core::config::TemporaryDirectory;

use crate::worker::uploads::Uploads;

/// How a worker fetches and serves.
#[derive(Debug, Clone)]
pub(crate) struct WorkerLimits {
    /// Peers it fetches from at once.
    pub(crate) fetch_peers: usize,
    /// Bytes it asks of one peer at once.
    pub(crate) fetch_bytes: u64,
    /// Requests it serves at once.
    pub(crate) serving: usize,
    /// Check the state's invariants after every event.
    pub(crate) validate: bool,
    /// The memory thresholds, as shares of the memory limit.
    pub(crate) thresholds: Thresholds,
    /// How often memory is checked.
    pub(crate) monitor_interval: Duration,
    /// Where the spill folder goes.
    pub(crate) temporary: TemporaryDirectory,
}

impl WorkerLimits {
    pub(crate) fn from_config(config: &barrow_core::config::Snapshot) -> Result<WorkerLimits> {
        let int = |key: &str, default: usize| -> Result<usize> {
            Ok(config
                .get::<i64>(key)?
                .map_or(default, |n| usize::try_from(n).unwrap_or(default)))
        };
        Ok(WorkerLimits {
            fetch_peers: int("distributed.worker.connections.outgoing", 50)?,
            serving: int("distributed.worker.connections.incoming", 10)?,
            fetch_bytes: config
                .get::<barrow_core::config::ByteSize>(
                    "distributed.worker.transfer.message-bytes-limit",
                )?
                .map_or(50_000_000, u64::from),
            validate: config
                .get::<bool>("distributed.worker.validate")?
                .unwrap_or(false),
            thresholds: Thresholds::from_config(config)?,
            monitor_interval: config
                .get::<Duration>("distributed.worker.memory.monitor-interval")?
                .unwrap_or(Duration::from_millis(100))
                .max(Duration::from_millis(1)),
            temporary: config.temporary_directory_choice()?,
        })
    }
}

/// How a worker's service ended.
#[derive(Debug)]
pub(crate) struct WorkerEnd {
    /// Why.
    pub(crate) reason: String,
    /// Whether its nanny should start it again.
    pub(crate) restart: bool,
}

/// Why the worker's loop stops.
struct Stop {
    reason: String,
    restart: bool,
}

impl Stop {
    fn closing(reason: impl Into<String>) -> Stop {
        Stop {
            reason: reason.into(),
            restart: false,
        }
    }
}

enum Event {
    Scheduler(Vec<Received<ToWorker>>),
    SchedulerGone(String),
    Gathered {
        peer: WorkerId,
        ids: Vec<TaskId>,
        result: Result<Fetched>,
    },
    GetData {
        ids: Vec<TaskId>,
        reply: oneshot::Sender<Served>,
    },
    Retry,
    Written(Written),
    /// A set-up step of an uploaded plugin asked for a restart.
    Restart(String),
}

/// Joins the scheduler and serves until it closes the connection, says to
/// close, or `stop` fires. `started` gets the worker's id and address once
/// it has joined.
pub(crate) async fn serve(
    options: WorkerOptions,
    comm: Arc<CommSettings>,
    limits: WorkerLimits,
    registry: &'static Registry,
    started: Option<oneshot::Sender<(WorkerId, String)>>,
    stop: &mut Option<oneshot::Receiver<()>>,
) -> Result<WorkerEnd> {
    let scheduler = options.scheduler().clone();
    let label = format!("the scheduler at {scheduler}");
    let mut stream = connect(
        &scheduler,
        comm.connect_timeout,
        Refused::Retry,
        &comm.security,
    )
    .await
    .map_err(|e| e.context("a worker joining the cluster"))?;
    let host = match &options.host {
        Some(host) => host.clone(),
        None => stream
            .local_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_else(|_| "127.0.0.1".to_owned()),
    };
    // Peers and clients reach it the way it reaches its scheduler.
    let listener = listen(&host, options.port, scheduler.scheme(), &comm.security)
        .await
        .map_err(|e| e.context("a worker serving its peers"))?;
    let address = listener.address().to_string();
    let nthreads = options.threads();
    let memory_limit = options.memory_limit.unwrap_or_else(|| {
        // Dask's "auto": this worker's share of the machine.
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        system_memory() / cores.max(1) as u64 * nthreads.min(cores) as u64
    });
    let registration = WorkerRegistration {
        name: options.name.clone().unwrap_or_else(|| address.clone()),
        address: address.clone(),
        nthreads: nthreads as u32,
        memory_limit,
        resources: options.resources.clone(),
        functions: registry.functions().names(),
        functions_fingerprint: registry.functions().fingerprint(),
        plugins: barrow_core::hooks::loaded_plugins(),
        host: host_name(),
        pid: std::process::id(),
        previous: crate::nanny::previous_death(),
    };
    let name = registration.name.clone();
    let assigned = greet::join(
        &mut stream,
        &comm.secret,
        Role::Worker,
        Some(registration),
        None,
        comm.connect_timeout,
        &label,
    )
    .await?;
    let Assigned::Worker {
        id,
        heartbeat_ms,
        peers,
    } = assigned
    else {
        return Err(Error::new(
            ErrorKind::Handshake,
            format!("{label} did not welcome this process as a worker"),
        ));
    };
    tracing::info!("worker {name} ({address}) joined {scheduler} as worker {id}");
    crate::server::report_hooks(barrow_core::hooks::cluster_event(
        &barrow_core::hooks::ClusterEvent::WorkerStarted { worker: &name },
    ));
    let board = crate::nanny::board::Board::from_env().map(Arc::new);
    if let Some(board) = &board {
        board.joined(id);
    }
    let (reader, writer) = stream.into_split();
    let (to_scheduler, queue) = framed::queue::<FromWorker>();
    framed::spawn_writer(writer, queue, registry, comm.wire, label.clone());
    let (events, mut inbox) = mpsc::unbounded_channel::<Event>();
    spawn_scheduler_reader(reader, events.clone(), comm.max_message_size);
    let serve_events = events.clone();
    let faults = options.faults_ref();
    let blocking = faults.clone();
    let serve: crate::comm::peer::ServeFn = Arc::new(move |ids| {
        let (reply, answer) = oneshot::channel();
        match blocking.clone().filter(|f| f.transfers_blocked()) {
            None => {
                let _ = serve_events.send(Event::GetData { ids, reply });
            }
            Some(faults) => {
                // A test's blocked transfer: it waits until unblocked.
                let events = serve_events.clone();
                tokio::spawn(async move {
                    while faults.transfers_blocked() {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    let _ = events.send(Event::GetData { ids, reply });
                });
            }
        }
        answer
    });
    let pool = PeerPool::worker(
        comm.clone(),
        registry,
        address.clone(),
        serve,
        limits.serving,
    );
    let accepting = tokio::spawn(accept_peers(listener, pool.clone(), comm.clone()));
    let written = events.clone();
    let activity = Activity::default();
    let disk = Disk::start(
        limits.temporary.clone(),
        registry.shared_codecs(),
        move |w| written.send(Event::Written(w)).is_ok(),
        &id.to_string(),
        activity.clone(),
    )
    .map_err(|e| {
        Error::new(
            ErrorKind::Limit,
            format!("cannot start the spill thread: {e}"),
        )
    })?;
    let uploads = {
        let to_scheduler = to_scheduler.clone();
        let events = events.clone();
        let done: crate::worker::uploads::Done = Arc::new(move |id, result| {
            let restart = matches!(&result, Ok(u) if u.restart);
            let _ = to_scheduler.send(Outgoing::plain(FromWorker::Uploaded { id, result }));
            if restart {
                // After the answer has left: the scheduler hears how the
                // upload went before the worker goes.
                let events = events.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(200));
                    let _ = events.send(Event::Restart(
                        "a set-up step of an uploaded plugin asked for a restart".to_owned(),
                    ));
                });
            }
        });
        Uploads::new(
            limits.temporary.preferred(),
            id,
            name.clone(),
            registry,
            done,
        )
    };
    let (done, mut executed) = mpsc::unbounded_channel::<Report>();
    let executor = Executor::start(
        nthreads,
        registry,
        done,
        &id.to_string(),
        board,
        Some(disk.clone()),
    )
    .map_err(|e| Error::new(ErrorKind::Limit, format!("cannot start task threads: {e}")))?;
    let mut state = WorkerState::new(
        nthreads,
        options.resources.clone(),
        limits.fetch_peers,
        limits.fetch_bytes,
    );
    let reader = options.memory_reader_ref();
    state.set_memory(MemorySettings {
        limit: memory_limit,
        thresholds: limits.thresholds,
    });
    let mut monitor = tokio::time::interval(limits.monitor_interval);
    monitor.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    state.peers(peers, &[]);
    if let Some(started) = started {
        let _ = started.send((id, address.clone()));
    }
    let mut heartbeat = heartbeats(heartbeat_ms);
    let mut cpu = CpuMeter::default();
    let context = Context {
        events: events.clone(),
        to_scheduler: &to_scheduler,
        executor: &executor,
        pool: &pool,
        registry,
        disk: &disk,
        faults: faults.as_deref(),
        activity: &activity,
    };
    let end = loop {
        tokio::select! {
            event = inbox.recv() => {
                let Some(event) = event else { break Stop::closing("its events ended") };
                match handle(&mut state, event, registry, &mut heartbeat, &disk, &activity, &uploads) {
                    Ok(()) => {}
                    Err(stop) => break stop,
                }
            }
            report = executed.recv() => {
                let Some(report) = report else { break Stop::closing("its task threads ended") };
                state.report(report);
            }
            _ = heartbeat.tick() => {
                if !faults.as_ref().is_some_and(|f| f.is_silent()) {
                    let mut news = state.heartbeat();
                    activity.fill(&mut news);
                    // Only a worker with a process of its own has a reading.
                    news.cpu = reader.is_some().then(|| cpu.sample()).flatten();
                    let _ = to_scheduler.send(Outgoing::plain(FromWorker::Heartbeat(news)));
                }
                continue;
            }
            () = killed(faults.as_deref()) => break Stop::closing("a test killed it"),
            _ = monitor.tick() => {
                state.memory_tick(reader.as_ref().and_then(|r| r.process_bytes()));
            }
            _ = wait(stop) => break Stop::closing("it was stopped"),
        }
        // What else is there already goes in the same turn: its messages
        // leave in one write.
        let mut stopping = None;
        for _ in 0..1024 {
            if let Ok(report) = executed.try_recv() {
                state.report(report);
            } else if let Ok(event) = inbox.try_recv() {
                if let Err(stop) = handle(
                    &mut state,
                    event,
                    registry,
                    &mut heartbeat,
                    &disk,
                    &activity,
                    &uploads,
                ) {
                    stopping = Some(stop);
                    break;
                }
            } else {
                break;
            }
        }
        if let Some(stop) = stopping {
            break stop;
        }
        if limits.validate
            && let Err(problem) = state.validate()
        {
            panic!("worker {id} invariant broken: {problem}");
        }
        context.carry_out(state.take_instructions());
    };
    let Stop { reason, restart } = end;
    // Gone means gone, also inside another program: no more peers are
    // accepted and every data connection closes.
    accepting.abort();
    pool.close();
    tracing::info!("worker {name} ({address}) stops: {reason}");
    crate::server::report_hooks(barrow_core::hooks::cluster_event(
        &barrow_core::hooks::ClusterEvent::WorkerClosing {
            worker: &name,
            reason: &reason,
        },
    ));
    Ok(WorkerEnd { reason, restart })
}

/// Heartbeats every `ms` milliseconds (within sane bounds), the first one
/// a full interval from now.
fn heartbeats(ms: u64) -> tokio::time::Interval {
    let period = Duration::from_millis(ms.clamp(10, 60_000));
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval
}

async fn killed(faults: Option<&Faults>) {
    match faults {
        Some(faults) => faults.killed().await,
        None => std::future::pending().await,
    }
}

async fn wait(stop: &mut Option<oneshot::Receiver<()>>) {
    match stop {
        Some(receiver) => {
            let _ = receiver.await;
        }
        None => std::future::pending().await,
    }
}

struct Context<'a> {
    events: mpsc::UnboundedSender<Event>,
    to_scheduler: &'a Sender<FromWorker>,
    executor: &'a Executor,
    pool: &'a Arc<PeerPool>,
    registry: &'static Registry,
    disk: &'a Disk,
    faults: Option<&'a Faults>,
    activity: &'a Activity,
}

impl Context<'_> {
    fn carry_out(&self, instructions: Vec<Instruction>) {
        let _ = self.registry;
        for instruction in instructions {
            match instruction {
                Instruction::Execute(job) => self.executor.submit(job),
                Instruction::Send(message) => {
                    if !self.faults.is_some_and(Faults::is_silent) {
                        let _ = self.to_scheduler.send(Outgoing::plain(message));
                    }
                }
                Instruction::Gather { peer, address, ids } => {
                    let pool = self.pool.clone();
                    let events = self.events.clone();
                    let activity = self.activity.clone();
                    tokio::spawn(async move {
                        let started = std::time::Instant::now();
                        let result = pool.get_data(&address, ids.clone()).await;
                        if let Ok(Fetched::Data(values, _)) = &result
                            && let Some((first, _)) = values.first()
                        {
                            let bytes = values.iter().map(|(_, v)| v.nbytes() as u64).sum();
                            activity.record(
                                ActivityKind::Transfer,
                                *first,
                                values.len() as u32,
                                bytes,
                                started,
                            );
                        }
                        let _ = events.send(Event::Gathered { peer, ids, result });
                    });
                }
                Instruction::Spill { id, value } => self.disk.write(id, value),
                Instruction::Unspill(id) => self.disk.remove(id),
                Instruction::RetryLater => {
                    let events = self.events.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        let _ = events.send(Event::Retry);
                    });
                }
            }
        }
    }
}

/// Handles one event; `Err` when the worker must stop.
fn handle(
    state: &mut WorkerState,
    event: Event,
    registry: &Registry,
    heartbeat: &mut tokio::time::Interval,
    disk: &Disk,
    activity: &Activity,
    uploads: &Uploads,
) -> Result<(), Stop> {
    match event {
        Event::Restart(reason) => {
            return Err(Stop {
                reason,
                restart: true,
            });
        }
        Event::Scheduler(messages) => {
            for received in messages {
                let (message, frames) = received.into_parts();
                match message {
                    ToWorker::Compute(task) => state.compute(*task, frames),
                    ToWorker::Upload(upload) => uploads.receive(*upload),
                    ToWorker::Free { ids } => state.free(&ids),
                    ToWorker::Peers { added, removed } => state.peers(added, &removed),
                    ToWorker::PutData { ids } => {
                        let mut values: Vec<(TaskId, Value)> = Vec::with_capacity(ids.len());
                        let mut refused = Vec::new();
                        let mut reason = String::new();
                        for (i, id) in ids.into_iter().enumerate() {
                            let decoded = frames
                                .frame(i as u32)
                                .and_then(|bytes| barrow_wire::decode(bytes, registry.codecs()));
                            match decoded {
                                Ok(value) => values.push((id, value)),
                                Err(error) => {
                                    reason = error.to_string();
                                    refused.push(id);
                                }
                            }
                        }
                        if !refused.is_empty() {
                            state.refuse_data(refused, reason);
                        }
                        state.put_data(values);
                    }
                    ToWorker::Close { reason, restart } => {
                        return Err(Stop {
                            reason: format!("the scheduler closes: {reason}"),
                            restart,
                        });
                    }
                    ToWorker::HeartbeatInterval { ms } => *heartbeat = heartbeats(ms),
                    ToWorker::Acquire { values } => state.keep_values(values),
                    ToWorker::Steal { id, run } => state.steal(id, run),
                }
            }
        }
        Event::SchedulerGone(reason) => return Err(Stop::closing(reason)),
        Event::Gathered { peer, ids, result } => match result {
            Ok(Fetched::Data(values, missing)) => state.gathered(peer, values, &missing),
            Ok(Fetched::Busy) => state.gather_busy(peer, &ids),
            Err(error) => state.gather_failed(peer, &ids, &error.to_string()),
        },
        Event::GetData { ids, reply } => {
            let served = state.get_data(&ids);
            activity.sent(served.found.iter().map(|(_, v)| v.nbytes() as u64).sum());
            if served.on_disk.is_empty() {
                let _ = reply.send((served.found, served.missing));
            } else {
                // Read back off the event loop; a value that cannot be
                // read is answered as missing (the peer asks elsewhere or
                // the scheduler has it computed again).
                let disk = disk.clone();
                let activity = activity.clone();
                tokio::task::spawn_blocking(move || {
                    let (mut found, mut missing) = (served.found, served.missing);
                    for id in served.on_disk {
                        match disk.read(id) {
                            Ok(value) => {
                                activity.sent(value.nbytes() as u64);
                                found.push((id, value));
                            }
                            Err(error) => {
                                tracing::warn!("a spilled value cannot be read back: {error}");
                                missing.push(id);
                            }
                        }
                    }
                    let _ = reply.send((found, missing));
                });
            }
        }
        Event::Retry => state.retry(),
        Event::Written(written) => state.written(written),
    }
    Ok(())
}

fn spawn_scheduler_reader(mut reader: ReadHalf, events: mpsc::UnboundedSender<Event>, max: u64) {
    tokio::spawn(async move {
        loop {
            match framed::read_batch::<ToWorker, _>(&mut reader, max).await {
                Ok(Some(batch)) => {
                    if events.send(Event::Scheduler(batch)).is_err() {
                        return;
                    }
                }
                Ok(None) => {
                    let _ = events.send(Event::SchedulerGone(
                        "the scheduler closed the connection".to_owned(),
                    ));
                    return;
                }
                Err(error) => {
                    let _ = events.send(Event::SchedulerGone(format!(
                        "the connection to the scheduler broke: {error}"
                    )));
                    return;
                }
            }
        }
    });
}

/// Accepts peers' and clients' data connections.
async fn accept_peers(listener: Listener, pool: Arc<PeerPool>, comm: Arc<CommSettings>) {
    loop {
        let incoming = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) if crate::comm::is_out_of_descriptors(&e) => {
                tracing::error!("worker: {}", crate::comm::out_of_descriptors(&e));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(e) => {
                tracing::warn!("worker: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let pool = pool.clone();
        let comm = comm.clone();
        tokio::spawn(async move {
            let peer = incoming.peer;
            let label = format!("the process at {peer}");
            let mut stream = match incoming.open(comm.connect_timeout, &label).await {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::warn!("worker: refused a connection from {peer}: {error}");
                    return;
                }
            };
            let pending =
                match greet::open(&mut stream, &comm.secret, comm.connect_timeout, &label).await {
                    Ok(pending) => pending,
                    Err(error) => {
                        tracing::warn!("worker: refused a connection from {peer}: {error}");
                        return;
                    }
                };
            if pending.hello.role != Role::Peer {
                greet::refuse(
                    &mut stream,
                    "this is a worker: connect to the scheduler instead",
                )
                .await;
                return;
            }
            if greet::welcome(&mut stream, &comm.secret, &pending, Assigned::Peer)
                .await
                .is_err()
            {
                return;
            }
            let address = pending
                .hello
                .serves_at
                .clone()
                .unwrap_or_else(|| format!("client {peer}"));
            pool.adopt(stream, address, label);
        });
    }
}

/// This machine's name, for logs.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}
