//! The pool: worker processes, started lazily, reused across computations,
//! replaced when they die, stopped when the pool is dropped.

use std::collections::HashMap;
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use barrow_core::config::Snapshot;
use barrow_core::{Error, ErrorKind, Registry, Result};
use barrow_wire::handshake::{BuildIdentity, Hello, Welcome};
use barrow_wire::message::{Kind, Message, write_message};
use barrow_wire::shared::{MessageReader, SharedMemory, SharedStats};

use crate::forward::forward_output;
use crate::hook::HOOK_HINT;
use crate::hook::{self, env};
use crate::proc::{Pending, Proc, WorkerProcess};
use crate::settings::Settings;

/// A pool of worker processes for the `processes` scheduler (Dask's
/// `pool=`): make one to choose its size and hold it across computations,
/// or let the scheduler use a shared one per worker count.
///
/// Workers start on first use, not when the pool is made. Dropping the
/// pool asks them to stop, and waits briefly.
///
/// ```no_run
/// use std::sync::Arc;
/// use barrow_core::Options;
/// use barrow_processes::{ProcessPool, ProcessesScheduler};
///
/// let pool = Arc::new(ProcessPool::new(2)?);
/// let options = Options::new().scheduler_object(Arc::new(ProcessesScheduler::with_pool(pool)));
/// # Ok::<(), barrow_core::Error>(())
/// ```
#[derive(Debug)]
pub struct ProcessPool {
    settings: Settings,
    state: Mutex<State>,
}

/// What a running pool holds; one computation holds it at a time.
#[derive(Debug)]
pub(crate) struct State {
    /// The socket's directory and listener, while workers are joining.
    endpoint: Option<Endpoint>,
    /// One slot per worker; `None` until started, or after it died.
    pub(crate) workers: Vec<Option<WorkerProcess>>,
    events: Sender<Event>,
    pub(crate) received: Receiver<Event>,
    token: u64,
    started: u32,
    /// The id of the last computation, to drop late results of an
    /// abandoned one.
    pub(crate) run: u64,
    /// What the program's hooks passed to the running workers (the plugins
    /// it had loaded, say): when it changes, the workers are replaced.
    env: Vec<(String, String)>,
    /// Bytes of results received through shared memory, for diagnostics.
    pub(crate) shared_received: u64,
}

#[derive(Debug)]
struct Endpoint {
    dir: tempfile::TempDir,
    listener: UnixListener,
}

/// What the connections' reader threads report.
#[derive(Debug)]
pub(crate) enum Event {
    /// A message from worker `worker`.
    Message { worker: u32, message: Message },
    /// Worker `worker`'s connection ended: it exited, or sent something
    /// that is not a message.
    Lost {
        worker: u32,
        error: Option<barrow_wire::Error>,
    },
}

impl ProcessPool {
    /// A pool of `workers` processes, configured by the current
    /// configuration (`processes.*`). Nothing starts until it is used.
    pub fn new(workers: usize) -> Result<ProcessPool> {
        let config = barrow_core::config::snapshot()?;
        ProcessPool::with_config(workers, &config)
    }

    /// A pool of `workers` processes configured by `config`.
    pub fn with_config(workers: usize, config: &Snapshot) -> Result<ProcessPool> {
        Ok(ProcessPool::from_settings(Settings::from_config(
            workers, config,
        )?))
    }

    pub(crate) fn from_settings(settings: Settings) -> ProcessPool {
        let (events, received) = channel();
        ProcessPool {
            state: Mutex::new(State {
                endpoint: None,
                workers: (0..settings.workers).map(|_| None).collect(),
                events,
                received,
                token: fresh_seed(),
                started: 0,
                run: 0,
                env: Vec::new(),
                shared_received: 0,
            }),
            settings,
        }
    }

    /// Runs `program` with `args` as workers instead of this program: for
    /// tests of what happens when a worker is not a Barrow program.
    #[doc(hidden)]
    pub fn with_program(mut self, program: impl Into<std::path::PathBuf>, args: &[&str]) -> Self {
        self.settings.program =
            Some((program.into(), args.iter().map(|s| s.to_string()).collect()));
        self
    }

    /// How long a worker may take to start (tests shorten it).
    #[doc(hidden)]
    pub fn with_start_timeout(mut self, timeout: Duration) -> Self {
        self.settings.start_timeout = timeout;
        self
    }

    /// The number of worker processes.
    pub fn size(&self) -> usize {
        self.settings.workers
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Starts every worker that is not running (all of them on first use;
    /// replacements after a death), and returns the pool for one
    /// computation.
    pub(crate) fn acquire(&self) -> Result<MutexGuard<'_, State>> {
        // A computation that panicked in a callback leaves consistent state.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.forget_the_dead();
        // Workers started before the program loaded a plugin (or changed a
        // plugin's set-up configuration) lack it: start them afresh.
        let env = barrow_core::hooks::worker_env();
        if env != state.env {
            for worker in state.workers.iter_mut().filter_map(Option::take) {
                drop(worker.reap_now());
            }
            state.env = env;
        }
        self.start_missing(&mut state)?;
        state.run += 1;
        Ok(state)
    }

    /// Starts the workers now rather than on first use, and returns the
    /// process ids of the workers.
    pub fn start(&self) -> Result<Vec<u32>> {
        let state = self.acquire()?;
        Ok(state.workers.iter().flatten().map(|w| w.pid).collect())
    }

    /// The shared memory of each running worker's connection (what this
    /// side holds to send it large values), by worker id; empty when large
    /// values go through the sockets. For tests and diagnostics.
    #[doc(hidden)]
    pub fn shared_memory_stats(&self) -> Vec<(u32, SharedStats)> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .workers
            .iter()
            .flatten()
            .filter_map(|w| Some((w.id, w.shared.as_ref()?.stats())))
            .collect()
    }

    /// Bytes of results its workers have sent through shared memory. For
    /// tests and diagnostics.
    #[doc(hidden)]
    pub fn shared_memory_received(&self) -> u64 {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.shared_received
    }

    /// Writes `bytes` as they are to the worker in `slot`, waits for it to
    /// end (a worker that receives something that is not a message stops),
    /// frees its slot, and says how it ended: for tests of damaged messages.
    #[doc(hidden)]
    pub fn send_raw(&self, slot: usize, bytes: &[u8]) -> Result<String> {
        use std::io::Write;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(mut worker) = state.workers.get_mut(slot).and_then(Option::take) else {
            return Err(Error::new(
                ErrorKind::Worker,
                format!("no worker in slot {slot}"),
            ));
        };
        worker
            .stream
            .write_all(bytes)
            .map_err(|e| io_error("cannot write to the worker", e))?;
        Ok(worker.reap())
    }

    fn start_missing(&self, state: &mut State) -> Result<()> {
        let missing: Vec<usize> = (0..state.workers.len())
            .filter(|&i| state.workers[i].is_none())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if self.settings.fork {
            if !crate::fork::server_running() {
                return Err(Error::new(
                    ErrorKind::Config,
                    "processes.context is fork, but no fork server runs: the worker hook starts \
                     it as `main` starts when the configuration says fork then (set \
                     BARROW_PROCESSES__CONTEXT=fork or a config file, not a scoped override)",
                ));
            }
        } else if self.settings.program.is_none() {
            check_hook()?;
        }
        // Hashing this executable overlaps with the workers' start-up.
        let own = std::thread::spawn(|| {
            let registry = Registry::global();
            (
                BuildIdentity::current(registry),
                registry.functions().names(),
            )
        });
        {
            let dir = tempfile::Builder::new()
                .prefix("barrow-pool-")
                .tempdir()
                .map_err(|e| io_error("cannot make a directory for the pool's socket", e))?;
            let listener = UnixListener::bind(dir.path().join("pool.sock"))
                .map_err(|e| io_error("cannot listen on the pool's socket", e))?;
            listener
                .set_nonblocking(true)
                .map_err(|e| io_error("cannot set up the pool's socket", e))?;
            state.endpoint = Some(Endpoint { dir, listener });
        }
        let mut starting = Vec::new();
        for slot in missing {
            state.started += 1;
            let id = state.started;
            starting.push((slot, self.spawn(state, id)?));
        }
        let own = own
            .join()
            .map_err(|_| Error::internal("hashing the executable panicked"))?;
        let result = self.accept_all(state, &mut starting, &own);
        // The socket is only for joining: removing it now leaves nothing
        // behind in the temporary folder, even for a pool that is never
        // dropped (a shared pool lives in a static). A replacement worker
        // gets a fresh one.
        state.endpoint = None;
        // Whatever did not make it is stopped.
        for (_, mut pending) in starting {
            let _ = pending.child.kill();
            let _ = pending.child.wait();
        }
        result
    }

    fn spawn(&self, state: &State, id: u32) -> Result<Pending> {
        let endpoint = state
            .endpoint
            .as_ref()
            .ok_or_else(|| Error::internal("the pool has no socket"))?;
        if self.settings.fork {
            let socket = endpoint.dir.path().join("pool.sock");
            let pid = crate::fork::fork_worker_via_server(
                id,
                &socket.to_string_lossy(),
                state.token,
                self.settings.threads_per_worker,
            )?;
            return Ok(Pending {
                id,
                program: "a fork of this program".to_owned(),
                child: Proc::Forked { pid, status: None },
            });
        }
        let (program, args) = match &self.settings.program {
            Some((program, args)) => (program.clone(), args.clone()),
            None => {
                let program = std::env::current_exe()
                    .map_err(|e| io_error("cannot find this program's executable", e))?;
                let args = match hook::test_entry() {
                    Some(entry) => vec![
                        hook::test_name(entry),
                        "--exact".into(),
                        "--nocapture".into(),
                        "--test-threads=1".into(),
                        "--quiet".into(),
                    ],
                    None => Vec::new(),
                };
                (program, args)
            }
        };
        let threads = self.settings.threads_per_worker.to_string();
        let mut command = Command::new(&program);
        command
            .args(&args)
            .env(env::SOCKET, endpoint.dir.path().join("pool.sock"))
            .env(env::TOKEN, format!("{:x}", state.token))
            .env(env::ID, id.to_string())
            // What crates linked into the program pass on (the plugins it
            // loaded, say).
            .envs(state.env.iter().cloned())
            // Each worker's parallel libraries get its share of the cores.
            .env("RAYON_NUM_THREADS", &threads)
            .env("OMP_NUM_THREADS", &threads)
            .env("OPENBLAS_NUM_THREADS", &threads)
            .env("MKL_NUM_THREADS", &threads)
            .env("BARROW_NUM_WORKERS", &threads)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        crate::orphans::prepare(&mut command);
        let mut child = crate::orphans::spawn(command).map_err(|e| {
            io_error(
                &format!("cannot start worker {id} ({})", program.display()),
                e,
            )
        })?;
        let from_test = self.settings.program.is_none() && hook::test_entry().is_some();
        forward_output(id, &mut child, from_test);
        Ok(Pending {
            id,
            program: program.display().to_string(),
            child: Proc::Spawned(child),
        })
    }

    /// Accepts the connections of the `starting` workers, checks their
    /// greetings and welcomes them into their slots.
    fn accept_all(
        &self,
        state: &mut State,
        starting: &mut Vec<(usize, Pending)>,
        own: &(BuildIdentity, Vec<String>),
    ) -> Result<()> {
        let deadline = Instant::now() + self.settings.start_timeout;
        while !starting.is_empty() {
            // Checked first: a worker that connects late is late even when
            // this thread was away long enough for it to connect.
            if Instant::now() > deadline {
                for (_, pending) in starting.iter_mut() {
                    if let Ok(Some(status)) = pending.child.try_wait() {
                        return Err(pending.exited_early(status));
                    }
                }
                let (_, pending) = &starting[0];
                return Err(self.start_timed_out(pending));
            }
            let accepted = match &state.endpoint {
                Some(endpoint) => endpoint.listener.accept(),
                None => return Err(Error::internal("the pool has no socket")),
            };
            match accepted {
                Ok((stream, _)) => self.greet(state, starting, own, stream)?,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    for (_, pending) in starting.iter_mut() {
                        if let Ok(Some(status)) = pending.child.try_wait() {
                            return Err(pending.exited_early(status));
                        }
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err(e) => return Err(io_error("cannot accept a worker's connection", e)),
            }
        }
        Ok(())
    }

    /// Why `pending` did not connect in time, and what to do: the hook
    /// is missing, or (when this program has it, or another program runs
    /// as the worker) the worker is slow or the timeout too short.
    fn start_timed_out(&self, pending: &Pending) -> Error {
        let timeout = self.settings.start_timeout;
        let hint = if timeout.is_zero() {
            "the timeout is zero, so no worker can connect in time; give it a few seconds (the \
             default is 30s)"
                .to_owned()
        } else if self.settings.program.is_none() && !hook::hook_seen() {
            HOOK_HINT.to_owned()
        } else {
            format!(
                "the worker started but is slow to connect (a slow set-up step, a busy machine) \
                 or hangs before it connects; raise processes.start-timeout (now {timeout:?}) \
                 or look at the worker's output above"
            )
        };
        Error::new(
            ErrorKind::Worker,
            format!(
                "worker {} ({}, pid {}) did not connect within {timeout:?} \
                 (processes.start-timeout): {hint}",
                pending.id,
                pending.program,
                pending.child.id(),
            ),
        )
    }

    fn greet(
        &self,
        state: &mut State,
        starting: &mut Vec<(usize, Pending)>,
        own: &(BuildIdentity, Vec<String>),
        stream: UnixStream,
    ) -> Result<()> {
        stream
            .set_nonblocking(false)
            .map_err(|e| io_error("cannot set up a worker's connection", e))?;
        // A peer that says nothing must not hang the pool.
        let _ = stream.set_read_timeout(Some(self.settings.start_timeout));
        let mut reader = MessageReader::new(
            stream
                .try_clone()
                .map_err(|e| io_error("cannot share a worker's connection", e))?,
        );
        let message = reader
            .read(1 << 20)
            .map_err(|e| handshake_error("a process connected but", e))?
            .ok_or_else(|| {
                Error::new(ErrorKind::Worker, "a process connected and closed at once")
            })?;
        if message.kind() == Kind::Refused {
            let reason: String = message.body().map_err(Error::from)?;
            return Err(Error::new(
                ErrorKind::Worker,
                format!("a worker gave up: {reason}"),
            ));
        }
        if message.kind() != Kind::Hello {
            return Err(Error::new(
                ErrorKind::Worker,
                format!(
                    "a process connected and sent {:?} instead of Hello",
                    message.kind()
                ),
            ));
        }
        let hello: Hello = message.body().map_err(Error::from)?;
        let Some(at) = starting.iter().position(|(_, p)| p.child.id() == hello.pid) else {
            return Err(Error::new(
                ErrorKind::Worker,
                format!(
                    "process {} connected, but this pool did not start it",
                    hello.pid
                ),
            ));
        };
        let (slot, pending) = starting.swap_remove(at);
        let mut stream = stream;
        if let Err(error) = hello.check(&own.0, &own.1, state.token) {
            let _ = write_message(&mut stream, Kind::Refused, &error.to_string(), &[]);
            starting.push((slot, pending));
            return Err(error.into());
        }
        let welcome = Welcome {
            worker: pending.id,
            seed: fresh_seed() ^ u64::from(pending.id).rotate_left(32),
            compression: self.settings.compression.clone(),
            compress_above: self.settings.compress_above,
            max_message_size: self.settings.max_message_size,
            shared_memory_above: self.settings.shared_memory_above,
            shared_memory_retain: self.settings.shared_memory_retain,
        };
        write_message(&mut stream, Kind::Welcome, &welcome, &[]).map_err(Error::from)?;
        let _ = stream.set_read_timeout(None);
        let shared = self.shared_memory();
        let events = state.events.clone();
        let max = self.settings.max_message_size;
        let id = pending.id;
        let releases = shared.clone();
        std::thread::Builder::new()
            .name(format!("barrow-pool-reader-{id}"))
            .spawn(move || read_events(id, reader, max, releases.as_ref(), &events))
            .map_err(|e| io_error("cannot start a reader thread", e))?;
        state.workers[slot] = Some(WorkerProcess {
            id,
            pid: hello.pid,
            child: pending.child,
            stream,
            shared,
        });
        Ok(())
    }

    /// Shared memory for the values sent to one worker, if configured and
    /// the system has it.
    fn shared_memory(&self) -> Option<SharedMemory> {
        if self.settings.shared_memory_above == 0 {
            return None;
        }
        let above = usize::try_from(self.settings.shared_memory_above).unwrap_or(usize::MAX);
        let retain = usize::try_from(self.settings.shared_memory_retain).unwrap_or(usize::MAX);
        match SharedMemory::new(above, retain) {
            Ok(shared) => Some(shared),
            Err(error) => {
                tracing::debug!("processes: large values go through the socket: {error}");
                None
            }
        }
    }
}

fn check_hook() -> Result<()> {
    if hook::started_as_worker() {
        return Err(Error::new(
            ErrorKind::Worker,
            format!(
                "this process is a worker of a pool but did not enter worker mode, and a worker \
                 may not start a pool of its own: {HOOK_HINT}"
            ),
        ));
    }
    if !hook::hook_seen() {
        return Err(Error::new(
            ErrorKind::Worker,
            format!("no worker hook: {HOOK_HINT}"),
        ));
    }
    hook::run_test_setup()
}

impl State {
    /// Between computations: drops late results, and frees the slots of
    /// workers that died since (reported or not), so they are replaced.
    fn forget_the_dead(&mut self) {
        let mut dead = Vec::new();
        while let Ok(event) = self.received.try_recv() {
            match event {
                Event::Lost { worker, .. } => dead.push(worker),
                // Late results: their shared memory goes back to the worker.
                Event::Message { worker, message } => {
                    if let Some(process) =
                        self.workers.iter_mut().flatten().find(|w| w.id == worker)
                    {
                        process.release(&message);
                    }
                }
            }
        }
        for slot in &mut self.workers {
            let gone = slot
                .as_mut()
                .is_some_and(|w| dead.contains(&w.id) || !matches!(w.child.try_wait(), Ok(None)));
            if gone && let Some(worker) = slot.take() {
                drop(worker.reap_now());
            }
        }
    }
}

impl Drop for ProcessPool {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        for worker in state.workers.iter_mut().filter_map(Option::take) {
            let mut worker = worker;
            let _ = write_message(&mut worker.stream, Kind::Shutdown, &(), &[]);
            let _ = worker.stream.shutdown(std::net::Shutdown::Write);
            let deadline = Instant::now() + Duration::from_secs(1);
            loop {
                match worker.child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Ok(None) => {
                        let _ = worker.child.kill();
                        let _ = worker.child.wait();
                        break;
                    }
                }
            }
        }
    }
}

fn read_events(
    worker: u32,
    mut reader: MessageReader,
    max: u64,
    shared: Option<&SharedMemory>,
    events: &Sender<Event>,
) {
    loop {
        let event = match reader.read(max) {
            // The worker is done with shared memory this side sent it.
            Ok(Some(message)) if message.kind() == Kind::Release => {
                let released = message.body::<u64>().and_then(|segment| match shared {
                    Some(shared) => shared.release(segment),
                    None => Err(barrow_wire::Error::new(
                        barrow_wire::ErrorKind::Protocol,
                        "the worker released shared memory it was never sent",
                    )),
                });
                match released {
                    Ok(()) => continue,
                    Err(error) => Event::Lost {
                        worker,
                        error: Some(error),
                    },
                }
            }
            Ok(Some(message)) => Event::Message { worker, message },
            Ok(None) => Event::Lost {
                worker,
                error: None,
            },
            Err(error) => Event::Lost {
                worker,
                error: Some(error),
            },
        };
        let lost = matches!(event, Event::Lost { .. });
        if events.send(event).is_err() || lost {
            return;
        }
    }
}

fn io_error(what: &str, error: std::io::Error) -> Error {
    Error::new(ErrorKind::Worker, format!("{what}: {error}"))
}

fn handshake_error(what: &str, error: barrow_wire::Error) -> Error {
    Error::new(
        ErrorKind::Worker,
        format!("{what} its greeting is not one: {error}; {HOOK_HINT}"),
    )
    .with_source(error)
}

/// A seed no other pool or worker gets: time, process id and a counter,
/// mixed.
pub(crate) fn fresh_seed() -> u64 {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(&nanos.to_le_bytes());
    bytes.extend_from_slice(&std::process::id().to_le_bytes());
    bytes.extend_from_slice(&count.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

/// The shared pools, one per settings, made on first use.
pub(crate) fn shared_pool(settings: Settings) -> Arc<ProcessPool> {
    static POOLS: OnceLock<Mutex<Vec<Arc<ProcessPool>>>> = OnceLock::new();
    let mut pools = POOLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(pool) = pools.iter().find(|p| p.settings == settings) {
        return pool.clone();
    }
    let pool = Arc::new(ProcessPool::from_settings(settings));
    pools.push(pool.clone());
    pool
}

/// Slots by worker id.
pub(crate) fn slots_by_id(state: &State) -> HashMap<u32, usize> {
    state
        .workers
        .iter()
        .enumerate()
        .filter_map(|(slot, w)| w.as_ref().map(|w| (w.id, slot)))
        .collect()
}
