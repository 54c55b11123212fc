//! The nanny: a worker process's supervisor (Dask's `Nanny`). It starts
//! the worker with its environment, copies its output while keeping the
//! last lines, kills it when its memory passes
//! `distributed.worker.memory.terminate` of its limit, and when it dies
//! starts it again, handing the new worker the report of the death (its
//! cause, the tasks it was executing from the [`board`], its last output)
//! for the scheduler.
//!
//! A worker ends in one of three ways, told by its exit code: 0, it was
//! told to close (the nanny stops too); [`RESTART_CODE`], it was told to
//! restart (started again, no report); anything else or a signal, a death
//! (reported, started again). A worker that exits by itself before it
//! joined its scheduler is not started again: its output says why it
//! cannot.

pub(crate) mod board;

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::handshake::Death;

/// The exit code of a worker told to restart.
pub const RESTART_CODE: i32 = 75;

/// Lines of a worker's output a nanny keeps for a death report.
const KEPT_LINES: usize = 40;

/// How often a nanny looks at its worker (exit, memory).
const POLL: Duration = Duration::from_millis(10);

/// How often it reads its worker's memory.
const MEMORY_POLL: Duration = Duration::from_millis(100);

/// Where a worker's output lines go: the line (no newline) and whether it
/// came from stderr.
pub(crate) type Sink = Arc<dyn Fn(&str, bool) + Send + Sync>;

/// What a nanny runs and watches.
pub(crate) struct NannyConfig {
    /// The worker, for logs (`local-0`, its name).
    pub(crate) label: String,
    /// Makes the command that starts the worker, afresh for each start.
    pub(crate) command: Box<dyn FnMut() -> Command + Send>,
    /// The worker's memory limit in bytes, if it has one.
    pub(crate) memory_limit: Option<u64>,
    /// The share of the limit past which the nanny kills it (`None`:
    /// never).
    pub(crate) terminate: Option<f64>,
    /// Where its output goes.
    pub(crate) sink: Sink,
}

impl std::fmt::Debug for NannyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NannyConfig({})", self.label)
    }
}

/// What a running nanny shares with its owner.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    /// The worker's process id (0 between processes).
    pid: AtomicU32,
    /// Deaths it restarted the worker after.
    restarts: AtomicU32,
    /// Set to stop restarting.
    stop: AtomicBool,
    /// Why it ended, if it did.
    ended: Mutex<Option<std::result::Result<(), String>>>,
}

impl Watch {
    /// The worker's current process id.
    pub(crate) fn pid(&self) -> Option<u32> {
        Some(self.pid.load(Ordering::Acquire)).filter(|&p| p != 0)
    }

    /// How many times the worker died and was started again.
    pub(crate) fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::Acquire)
    }

    /// Whether the nanny ended, and how.
    pub(crate) fn ended(&self) -> Option<std::result::Result<(), String>> {
        self.ended.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stops restarting the worker when it ends next.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Kills the worker process at once (`SIGKILL`), as a crash would.
    pub(crate) fn kill(&self) {
        if let Some(pid) = self
            .pid()
            .and_then(|p| rustix::process::Pid::from_raw(p as i32))
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Starts a nanny on a thread of its own; the returned watch follows it.
pub(crate) fn spawn(config: NannyConfig) -> Result<Arc<Watch>> {
    let watch = Arc::new(Watch::default());
    let shared = watch.clone();
    let name = format!("barrow-nanny-{}", config.label);
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            let outcome = supervise(config, &shared).map_err(|e| e.to_string());
            *shared.ended.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
        })
        .map_err(|e| {
            Error::new(
                ErrorKind::Limit,
                format!("cannot start a nanny thread: {e}"),
            )
        })?;
    Ok(watch)
}

/// Runs the worker, starting it again after each death, until it closes
/// (`Ok`), dies before joining, or cannot be started (`Err`).
pub(crate) fn supervise(mut config: NannyConfig, watch: &Watch) -> Result<()> {
    let files = Files::new()?;
    let mut previous: Option<Death> = None;
    let mut quick_deaths = 0u32;
    loop {
        board::reset(&files.board).map_err(|e| files.error("create", &files.board, &e))?;
        let mut command = (config.command)();
        command
            .env(board::BOARD_VAR, &files.board)
            .env_remove(board::PREVIOUS_VAR)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(death) = previous.take() {
            let bytes = postcard::to_allocvec(&death).map_err(|e| {
                Error::new(
                    ErrorKind::Protocol,
                    format!("cannot encode a death report: {e}"),
                )
            })?;
            std::fs::write(&files.previous, bytes)
                .map_err(|e| files.error("write", &files.previous, &e))?;
            command.env(board::PREVIOUS_VAR, &files.previous);
        }
        let mut child = barrow_processes::__private::spawn_tied(command).map_err(|e| {
            Error::new(
                ErrorKind::Connect,
                format!("the nanny of {} cannot start its worker: {e}", config.label),
            )
        })?;
        let pid = child.id();
        watch.pid.store(pid, Ordering::Release);
        let output = Arc::new(Mutex::new(VecDeque::with_capacity(KEPT_LINES)));
        let copiers = [
            child
                .stdout
                .take()
                .map(|s| copy(s, false, &config.sink, &output)),
            child
                .stderr
                .take()
                .map(|s| copy(s, true, &config.sink, &output)),
        ];
        let started = Instant::now();
        let (status, memory_kill) = watch_child(&mut child, &config)?;
        watch.pid.store(0, Ordering::Release);
        for copier in copiers.into_iter().flatten() {
            let _ = copier.join();
        }
        let reading = board::read(&files.board);
        match status.code() {
            Some(0) if memory_kill.is_none() => return Ok(()),
            Some(RESTART_CODE) if memory_kill.is_none() => {
                tracing::info!("worker {} restarts, as told", config.label);
                continue;
            }
            _ => {}
        }
        let cause =
            memory_kill.unwrap_or_else(|| barrow_processes::__private::describe_exit(status));
        // One that exits by itself before it joined cannot start (a wrong
        // address, a set-up that fails): starting it again would loop. One
        // killed on the way is started again.
        if reading.joined.is_none() && status.code().is_some() {
            return Err(Error::new(
                ErrorKind::Closed,
                format!(
                    "worker {} {cause} before it joined its scheduler (its output above says \
                     why); not starting it again",
                    config.label
                ),
            ));
        }
        if watch.stop.load(Ordering::Acquire) {
            return Ok(());
        }
        tracing::warn!(
            "worker {} (pid {pid}) {cause}; starting it again",
            config.label
        );
        watch.restarts.fetch_add(1, Ordering::AcqRel);
        // Only a worker that joined has a death the scheduler can place.
        if reading.joined.is_some() {
            let lines = output.lock().unwrap_or_else(|e| e.into_inner());
            previous = Some(Death {
                pid,
                cause,
                executing: reading.executing,
                output: lines.iter().cloned().collect(),
            });
        }
        // A worker that dies at once again and again (a task that kills
        // every worker, a broken machine) is started ever more slowly.
        if started.elapsed() < Duration::from_secs(1) {
            quick_deaths += 1;
            let pause = Duration::from_millis(50 << quick_deaths.min(6));
            std::thread::sleep(pause.min(Duration::from_secs(3)));
        } else {
            quick_deaths = 0;
        }
    }
}

/// Waits for the child to end, killing it if its memory passes the
/// limit; returns its status and, for a kill for memory, the cause.
fn watch_child(child: &mut Child, config: &NannyConfig) -> Result<(ExitStatus, Option<String>)> {
    let ceiling = match (config.memory_limit, config.terminate) {
        (Some(limit), Some(share)) if limit > 0 && share > 0.0 => {
            Some((limit, (limit as f64 * share) as u64, share))
        }
        _ => None,
    };
    let mut memory_kill: Option<(String, Instant)> = None;
    let mut next_look = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok((status, memory_kill.map(|(cause, _)| cause))),
            Ok(None) => {}
            Err(e) => {
                return Err(Error::new(
                    ErrorKind::Closed,
                    format!("the nanny of {} lost its worker: {e}", config.label),
                ));
            }
        }
        let now = Instant::now();
        match (&memory_kill, ceiling) {
            (None, Some((limit, ceiling, share))) if now >= next_look => {
                next_look = now + MEMORY_POLL;
                let rss = resident_bytes(child.id());
                if rss > ceiling {
                    let cause = format!(
                        "was killed by its nanny for memory: it used {} of its {} limit (past \
                         distributed.worker.memory.terminate = {share})",
                        human(rss),
                        human(limit)
                    );
                    tracing::warn!("worker {} {cause}", config.label);
                    signal(child.id(), rustix::process::Signal::TERM);
                    memory_kill = Some((cause, now));
                }
            }
            (Some((_, since)), _) if now.duration_since(*since) > Duration::from_secs(2) => {
                // It did not end on SIGTERM.
                let _ = child.kill();
            }
            _ => {}
        }
        std::thread::sleep(POLL);
    }
}

fn signal(pid: u32, signal: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, signal);
    }
}

/// Gives a worker of `threads` task threads its share of the machine in
/// the parallel libraries its tasks may call (BLAS, OpenMP, rayon), so
/// that workers side by side do not oversubscribe the cores; and has
/// glibc's allocator give freed memory back to the system (as Dask's
/// nanny does): otherwise a worker that spilled its values keeps their
/// pages, stays past `pause` with nothing left to spill, and waits for
/// ever.
pub(crate) fn thread_environment(command: &mut Command, threads: usize) {
    // A fixed trim threshold also turns off glibc's sliding mmap
    // threshold, so large values are mapped and unmapped whole. A value
    // the operator set is kept.
    if std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_none() {
        command.env("MALLOC_TRIM_THRESHOLD_", "65536");
    }
    let threads = threads.max(1).to_string();
    for var in [
        "RAYON_NUM_THREADS",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "BARROW_NUM_WORKERS",
    ] {
        command.env(var, &threads);
    }
}

/// A process's resident memory, from `/proc` (0 if unknown).
pub(crate) fn resident_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/statm"))
        .ok()
        .and_then(|text| text.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * rustix::param::page_size() as u64)
}

fn human(bytes: u64) -> String {
    barrow_core::config::ByteSize::from(bytes).to_string()
}

/// Copies `source` line by line to `sink`, keeping the last lines.
fn copy(
    source: impl Read + Send + 'static,
    stderr: bool,
    sink: &Sink,
    kept: &Arc<Mutex<VecDeque<String>>>,
) -> std::thread::JoinHandle<()> {
    let sink = sink.clone();
    let kept = kept.clone();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(source);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim_end_matches(['\n', '\r']);
                    sink(text, stderr);
                    let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
                    if kept.len() == KEPT_LINES {
                        kept.pop_front();
                    }
                    kept.push_back(text.to_owned());
                }
            }
        }
    })
}

/// The nanny's two files, removed when it ends.
struct Files {
    board: PathBuf,
    previous: PathBuf,
}

/// The start of every nanny file's name; the nanny's pid follows.
const FILE_PREFIX: &str = "barrow-nanny-";

impl Files {
    fn new() -> Result<Files> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        static SWEPT: std::sync::Once = std::sync::Once::new();
        SWEPT.call_once(|| sweep_stale_files(&std::env::temp_dir()));
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let base = std::env::temp_dir().join(format!("{FILE_PREFIX}{}-{n}", std::process::id()));
        Ok(Files {
            board: base.with_extension("board"),
            previous: base.with_extension("previous"),
        })
    }

    fn error(&self, what: &str, path: &Path, e: &std::io::Error) -> Error {
        Error::new(
            ErrorKind::Limit,
            format!(
                "the nanny cannot {what} {}: {e} (set TMPDIR to a writable directory)",
                path.display()
            ),
        )
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.board);
        let _ = std::fs::remove_file(&self.previous);
    }
}

/// Removes the files of nannies whose process is gone. `Files` removes its
/// own when its nanny ends, but a nanny killed with its process (a signal
/// to `barrow worker`, a program that exits with workers running) leaves
/// them: the next nanny on the machine clears them. Only Linux says which
/// processes are alive (`/proc`); elsewhere nothing is removed.
fn sweep_stale_files(directory: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(FILE_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The death report a nanny left for this worker, if any (read once; the
/// file is removed).
pub(crate) fn previous_death() -> Option<Death> {
    let path = std::env::var_os(board::PREVIOUS_VAR)?;
    let bytes = std::fs::read(&path).ok()?;
    let _ = std::fs::remove_file(&path);
    match postcard::from_bytes(&bytes) {
        Ok(death) => Some(death),
        Err(e) => {
            tracing::warn!("the nanny's death report does not decode: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_of_nannies_that_are_gone_are_swept_and_others_kept() {
        if !Path::new("/proc/self").exists() {
            return; // Only Linux says which processes live.
        }
        let dir = tempfile::tempdir().unwrap();
        // Above Linux's largest pid (2^22): no process has it.
        let gone = dir.path().join(format!("{FILE_PREFIX}4194305-0.board"));
        let alive = dir
            .path()
            .join(format!("{FILE_PREFIX}{}-0.board", std::process::id()));
        let other = dir.path().join("someone-else-4194305.board");
        for path in [&gone, &alive, &other] {
            std::fs::write(path, b"x").unwrap();
        }
        sweep_stale_files(dir.path());
        assert!(!gone.exists());
        assert!(alive.exists());
        assert!(other.exists());
    }
}
