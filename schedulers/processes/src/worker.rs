//! Worker mode: connect to the pool, introduce ourselves, run tasks until
//! told to stop or the pool goes away.

use std::cell::RefCell;
use std::os::unix::net::UnixStream;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use barrow_core::Value;
use barrow_core::{Error, ErrorKind, Registry, Result};
use barrow_wire::handshake::{Hello, Welcome};
use barrow_wire::message::{Kind, Message, write_message};
use barrow_wire::shared::{MessageReader, SharedMemory};
use barrow_wire::task::{DoneBatch, FunctionCache, RunBatch, TaskDone, WireError};
use barrow_wire::{Recycler, WireOptions};

use crate::hook::env;
use crate::settings::wire_options;
use crate::starts::{Link, Outbox};

/// What a worker knows about itself, for task code that wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerInfo {
    /// The worker's id in its pool (from 1).
    pub id: u32,
    /// A seed different for every worker the pool starts: derive random
    /// number generators from it (Dask reseeds each worker process).
    pub seed: u64,
}

static INFO: OnceLock<WorkerInfo> = OnceLock::new();

/// This process's worker id and seed, when it is a worker of a pool; `None`
/// in the program itself.
pub fn worker_info() -> Option<&'static WorkerInfo> {
    INFO.get()
}

/// Exit codes of a worker, for the pool's messages.
pub(crate) mod exit {
    /// The pool closed the connection or asked the worker to stop.
    pub const DONE: i32 = 0;
    /// The worker could not connect or was refused.
    pub const REFUSED: i32 = 70;
    /// The connection broke or a message was damaged.
    pub const BROKEN: i32 = 71;
}

/// Runs the worker; returns the process's exit code.
pub(crate) fn run(setup: Result<()>) -> i32 {
    match serve(setup) {
        Ok(()) => exit::DONE,
        Err((code, error)) => {
            eprintln!("barrow worker: {error}");
            code
        }
    }
}

type Failure = (i32, Error);

/// Runs this program afresh in this process (same pid, arguments and
/// output), marked so that it does not restart again; returns only if that
/// fails.
fn restart() -> Error {
    restart_marked(env::RESTARTED)
}

/// Runs this program afresh in this process with `marker` set to `1` in
/// its environment (so that it does not restart again), as a set-up step
/// asks; returns only if that fails. Cluster workers restart this way too.
pub fn restart_marked(marker: &str) -> Error {
    use std::os::unix::process::CommandExt;
    let program = match std::env::current_exe() {
        Ok(program) => program,
        Err(e) => {
            return Error::new(
                ErrorKind::Worker,
                format!(
                    "a set-up step asked for a restart, but this program's path is unknown: {e}"
                ),
            );
        }
    };
    let error = std::process::Command::new(&program)
        .args(std::env::args_os().skip(1))
        .env(marker, "1")
        .exec();
    Error::new(
        ErrorKind::Worker,
        format!(
            "a set-up step asked for a restart, but {} could not be run again: {error}",
            program.display()
        ),
    )
}

fn serve(setup: Result<()>) -> std::result::Result<(), Failure> {
    let refused = |e: Error| (exit::REFUSED, e);
    let broken = |e: barrow_wire::Error| (exit::BROKEN, Error::from(e));
    let socket = std::env::var_os(env::SOCKET).unwrap_or_default();
    let token = std::env::var(env::TOKEN)
        .ok()
        .and_then(|t| u64::from_str_radix(&t, 16).ok())
        .ok_or_else(|| {
            refused(Error::new(
                ErrorKind::Worker,
                format!("{} is missing or not a hex number", env::TOKEN),
            ))
        })?;
    // Crates linked into the program set the worker up (load the plugins
    // its parent loaded, run their set-up steps) before it greets the pool,
    // whose handshake compares registered functions.
    let id = std::env::var(env::ID)
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    let started = barrow_core::hooks::worker_start(id, Registry::global());
    if matches!(started, Ok(true)) && std::env::var_os(env::RESTARTED).is_none() {
        return Err(refused(restart()));
    }
    let setup = setup.and(started.map(|_| ()));
    let stream = UnixStream::connect(&socket).map_err(|e| {
        refused(Error::new(
            ErrorKind::Worker,
            format!(
                "cannot connect to the pool at {}: {e}",
                socket.to_string_lossy()
            ),
        ))
    })?;
    let writer = stream.try_clone().map_err(|e| {
        refused(Error::new(
            ErrorKind::Worker,
            format!("cannot share the connection: {e}"),
        ))
    })?;
    let mut reader = MessageReader::new(stream);
    let registry = Registry::global();
    if let Err(error) = setup {
        let reason = format!("the worker's set-up function failed: {error}");
        let _ = write_message(&mut &writer, Kind::Refused, &reason, &[]);
        return Err(refused(error));
    }
    write_message(
        &mut &writer,
        Kind::Hello,
        &Hello::current(registry, token),
        &[],
    )
    .map_err(broken)?;
    let max = u64::MAX;
    let message = reader.read(max).map_err(broken)?.ok_or_else(|| {
        refused(Error::new(
            ErrorKind::Worker,
            "the pool closed the connection",
        ))
    })?;
    let welcome: Welcome = match message.kind() {
        Kind::Welcome => message.body().map_err(broken)?,
        Kind::Refused => {
            let reason: String = message.body().map_err(broken)?;
            return Err(refused(Error::new(
                ErrorKind::Worker,
                format!("refused: {reason}"),
            )));
        }
        other => {
            return Err(refused(Error::new(
                ErrorKind::Worker,
                format!("expected a Welcome message, got {other:?}"),
            )));
        }
    };
    let _ = INFO.set(WorkerInfo {
        id: welcome.worker,
        seed: welcome.seed,
    });
    let options = wire_options(&welcome.compression, welcome.compress_above).map_err(refused)?;
    install_panic_hook();
    let mut runner = Runner {
        registry,
        options,
        cache: FunctionCache::default(),
        buffers: Recycler::new(usize::try_from(welcome.shared_memory_retain).unwrap_or(usize::MAX)),
    };
    let mut out = Link::new(Outbox {
        writer,
        shared: shared_memory(&welcome),
    });
    loop {
        let Some(message) = reader.read(welcome.max_message_size).map_err(broken)? else {
            return Ok(());
        };
        match message.kind() {
            Kind::Run => runner.run_batch(&message, &mut out)?,
            Kind::Release => {
                let segment: u64 = message.body().map_err(broken)?;
                match out.release_segment(segment) {
                    Some(released) => released.map_err(broken)?,
                    None => {
                        return Err((
                            exit::BROKEN,
                            Error::new(
                                ErrorKind::Worker,
                                "the pool released shared memory this worker never sent",
                            ),
                        ));
                    }
                }
            }
            Kind::Shutdown => return Ok(()),
            other => {
                return Err((
                    exit::BROKEN,
                    Error::new(ErrorKind::Worker, format!("unexpected {other:?} message")),
                ));
            }
        }
    }
}

/// Shared memory for the results, as the pool's welcome says.
fn shared_memory(welcome: &Welcome) -> Option<SharedMemory> {
    if welcome.shared_memory_above == 0 {
        return None;
    }
    let above = usize::try_from(welcome.shared_memory_above).unwrap_or(usize::MAX);
    let retain = usize::try_from(welcome.shared_memory_retain).unwrap_or(usize::MAX);
    // Where the system has none, results go through the socket.
    SharedMemory::new(above, retain).ok()
}

struct Runner {
    registry: &'static Registry,
    options: WireOptions,
    cache: FunctionCache,
    /// The buffers of results sent back, for the next inputs of their size.
    buffers: Recycler,
}

/// Results are sent as soon as this much time has passed since the last
/// send, or at the end of a batch: short tasks share a message, a long one
/// does not hold back the results before it.
const FLUSH_AFTER: Duration = Duration::from_millis(2);

impl Runner {
    fn run_batch(&mut self, message: &Message, out: &mut Link) -> std::result::Result<(), Failure> {
        let broken = |e: barrow_wire::Error| (exit::BROKEN, Error::from(e));
        let batch: RunBatch = message.body().map_err(broken)?;
        let frame = |index: u32| message.frame(index as usize);
        let mut pending = Vec::new();
        let mut started = Vec::new();
        let mut last_send = Instant::now();
        // Once every input is decoded, the pool may reuse their shared
        // memory: said before the last results, so that it is free again by
        // the time the pool sends the next batch.
        let mut segment = message.segment();
        for (i, task) in batch.tasks.iter().enumerate() {
            if batch.report_starts {
                out.begin(batch.run, task.id);
            }
            let result = task
                .run_recycling(
                    &frame,
                    self.registry.functions(),
                    self.registry.codecs(),
                    &mut self.cache,
                    &self.buffers,
                )
                .map_err(|error| {
                    let backtrace = error.is_panic().then(take_backtrace).flatten();
                    WireError::from_error(&error, backtrace)
                });
            if batch.report_starts && !out.end() {
                started.push(task.id);
            }
            pending.push((task.id, result));
            if i + 1 == batch.tasks.len()
                && let Some(segment) = segment.take()
            {
                out.send(Kind::Release, &segment, &[]).map_err(broken)?;
            }
            if last_send.elapsed() >= FLUSH_AFTER {
                self.send(out, batch.run, &mut started, &mut pending)
                    .map_err(broken)?;
                last_send = Instant::now();
            }
        }
        if let Some(segment) = segment {
            out.send(Kind::Release, &segment, &[]).map_err(broken)?;
        }
        self.send(out, batch.run, &mut started, &mut pending)
            .map_err(broken)
    }

    /// Sends the results in `pending` with the starts not reported yet,
    /// encoding each value from its own buffer; a value without a codec
    /// becomes its task's error.
    fn send(
        &self,
        out: &Link,
        run: u64,
        started: &mut Vec<u32>,
        pending: &mut Vec<(u32, std::result::Result<Value, WireError>)>,
    ) -> barrow_wire::Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let mut values = Vec::new();
        let mut entries = Vec::with_capacity(pending.len());
        for (id, result) in pending.drain(..) {
            entries.push((id, result.map(|value| values.push(value))));
        }
        let mut frames = Vec::with_capacity(values.len());
        let mut outcomes = Vec::with_capacity(values.len());
        for value in &values {
            match barrow_wire::encode_frame(value, self.registry.codecs(), &self.options) {
                Ok(frame) => {
                    outcomes.push(Ok(frames.len() as u32));
                    frames.push(frame);
                }
                Err(e) => outcomes.push(Err(WireError::from_error(
                    &Error::new(
                        ErrorKind::NotShippable,
                        format!(
                            "the task's result, a {}, cannot be sent back: {e}",
                            value.type_name()
                        ),
                    ),
                    None,
                ))),
            }
        }
        let mut outcomes = outcomes.into_iter();
        let mut done = DoneBatch {
            run,
            started: std::mem::take(started),
            done: Vec::with_capacity(entries.len()),
        };
        for (id, entry) in entries {
            // Values were taken in order: the next outcome is this task's.
            let result = match entry {
                Err(error) => Err(error),
                Ok(()) => match outcomes.next() {
                    Some(outcome) => outcome,
                    None => Err(WireError::from_error(
                        &Error::internal("a result went missing"),
                        None,
                    )),
                },
            };
            done.done.push(TaskDone { id, result });
        }
        out.send(Kind::Done, &done, &frames)?;
        drop(frames);
        for value in values {
            self.buffers.keep(value);
        }
        Ok(())
    }
}

thread_local! {
    static BACKTRACE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A panic in a task is caught by the executor and sent back as an error;
/// the hook keeps its backtrace for that error instead of printing it.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|_info| {
        let backtrace = std::backtrace::Backtrace::force_capture().to_string();
        BACKTRACE.with(|slot| *slot.borrow_mut() = Some(backtrace));
    }));
}

fn take_backtrace() -> Option<String> {
    BACKTRACE.with(|slot| slot.borrow_mut().take())
}
