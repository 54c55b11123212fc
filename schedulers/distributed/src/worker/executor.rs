//! The threads that run a worker's tasks, apart from the runtime thread
//! that talks to the scheduler and peers: a task that computes for a
//! minute never delays a heartbeat or a peer's fetch.

use std::cell::RefCell;
use std::sync::mpsc::{Receiver, Sender as StdSender, channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use barrow_core::Registry;
use barrow_wire::task::{FunctionCache, WireBody, WireError};
use tokio::sync::mpsc::UnboundedSender;

use super::disk::Disk;
use super::state::{Input, Job};
use crate::nanny::board::Board;
use crate::protocol::TaskId;

/// What a task thread tells the worker's core: a watched task started, or
/// a task finished. Both go the same way, so the scheduler hears of a
/// thread's next start only after its previous result (`pretask` and
/// `posttask` bracket what really runs).
#[derive(Debug)]
pub(crate) enum Report {
    /// A task that someone watches started.
    Started {
        /// The task.
        id: TaskId,
        /// Its computation.
        run: u64,
    },
    /// A task finished.
    Executed(Executed),
}

/// A finished task, for the worker's core.
#[derive(Debug)]
pub(crate) struct Executed {
    pub(crate) id: TaskId,
    pub(crate) result: Result<barrow_core::Value, Box<WireError>>,
    pub(crate) duration_us: u64,
    /// The task thread that ran it.
    pub(crate) thread: u32,
}

/// The task threads of one worker. Dropping it lets them finish their task
/// and end.
#[derive(Debug)]
pub(crate) struct Executor {
    jobs: StdSender<Job>,
}

impl Executor {
    /// Starts `threads` threads that report starts and results to `done`,
    /// and write what each executes on the nanny's `board`.
    pub(crate) fn start(
        threads: usize,
        registry: &'static Registry,
        done: UnboundedSender<Report>,
        name: &str,
        board: Option<Arc<Board>>,
        disk: Option<Disk>,
    ) -> std::io::Result<Executor> {
        let (jobs, receiver) = channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..threads.max(1) {
            let receiver = receiver.clone();
            let done = done.clone();
            let board = board.clone().map(|board| (board, i));
            let thread = i as u32;
            let disk = disk.clone();
            std::thread::Builder::new()
                .name(format!("barrow-task-{name}-{i}"))
                .spawn(move || {
                    work(
                        &receiver,
                        registry,
                        &done,
                        board.as_ref(),
                        disk.as_ref(),
                        thread,
                    );
                })?;
        }
        Ok(Executor { jobs })
    }

    /// Runs `job` on the next free thread.
    pub(crate) fn submit(&self, job: Job) {
        // The threads end only when this sender is dropped.
        let _ = self.jobs.send(job);
    }
}

fn work(
    receiver: &Mutex<Receiver<Job>>,
    registry: &'static Registry,
    done: &UnboundedSender<Report>,
    board: Option<&(Arc<Board>, usize)>,
    disk: Option<&Disk>,
    thread: u32,
) {
    let mut cache = FunctionCache::default();
    loop {
        let job = {
            let receiver = receiver.lock().unwrap_or_else(|e| e.into_inner());
            match receiver.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        if job.report_start {
            let started = Report::Started {
                id: job.id,
                run: job.run,
            };
            if done.send(started).is_err() {
                return;
            }
        }
        let id = job.id;
        if let Some((board, thread)) = board {
            board.executing(*thread, Some((id, job.run)));
        }
        let start = Instant::now();
        let result = run(job, registry, &mut cache, disk);
        let duration_us = start.elapsed().as_micros() as u64;
        if let Some((board, thread)) = board {
            board.executing(*thread, None);
        }
        if done
            .send(Report::Executed(Executed {
                id,
                result,
                duration_us,
                thread,
            }))
            .is_err()
        {
            return;
        }
    }
}

fn run(
    job: Job,
    registry: &Registry,
    cache: &mut FunctionCache,
    disk: Option<&Disk>,
) -> Result<barrow_core::Value, Box<WireError>> {
    let outcome = (|| {
        // Inputs spilled to disk are read back here, on the task's thread.
        let inputs = job
            .inputs
            .into_iter()
            .map(|input| match (input, disk) {
                (Input::Here(value), _) => Ok(value),
                (Input::OnDisk(id), Some(disk)) => disk.read(id),
                (Input::OnDisk(id), None) => Err(barrow_core::Error::internal(format!(
                    "input {id} is on a disk this worker does not have"
                ))),
            })
            .collect::<barrow_core::Result<Vec<_>>>()?;
        let body: WireBody = postcard::from_bytes(job.frames.frame(0)?).map_err(|e| {
            barrow_core::Error::new(
                barrow_core::ErrorKind::Worker,
                format!("the task's body does not decode (a damaged message?): {e}"),
            )
        })?;
        let frames = &job.frames;
        let literal = |i: u32| frames.frame(i + 1);
        body.run_with(
            &literal,
            inputs,
            registry.functions(),
            registry.codecs(),
            cache,
            None,
        )
    })();
    outcome.map_err(|error| {
        let backtrace = error.is_panic().then(take_backtrace).flatten();
        Box::new(WireError::from_error(&error, backtrace))
    })
}

thread_local! {
    static BACKTRACE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// In a worker process, a panic in a task is caught and sent back as an
/// error: the hook keeps its backtrace for that error instead of printing
/// it. (Not installed for workers inside another program, whose panic
/// hook is its own.)
pub(crate) fn install_panic_hook() {
    std::panic::set_hook(Box::new(|_info| {
        let backtrace = std::backtrace::Backtrace::force_capture().to_string();
        BACKTRACE.with(|slot| *slot.borrow_mut() = Some(backtrace));
    }));
}

fn take_backtrace() -> Option<String> {
    BACKTRACE.with(|slot| slot.borrow_mut().take())
}
