//! The `fork` context: the worker hook, first in `main` and so before any
//! thread, forks a *fork server*: a single-threaded copy of the program
//! that forks a worker whenever the pool asks. A worker then starts in
//! microseconds with everything the program set up before the hook, and
//! no thread of the program is ever copied mid-flight (forking a process
//! with threads leaves their locks held forever in the child).
//!
//! The pool talks to the server over a socket pair: `Fork` (the worker's
//! socket, token and thread budget) answered by `Forked` (its pid);
//! `TryWait` and `Kill` answered by `Exited` (its wait status, if it has
//! ended). Workers are the server's children, so only the server can reap
//! them and read their exit status. A forked worker prefixes its own
//! output with `[worker N]` (its stdout and stderr go through a pipe to a
//! thread of its own that writes to the program's).

use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::{Mutex, OnceLock};

use barrow_core::{Error, ErrorKind, Result};
use barrow_wire::message::{Kind, read_message, write_message};
use serde::{Deserialize, Serialize};

use crate::hook::env;

/// A request to the fork server.
#[derive(Debug, Serialize, Deserialize)]
enum Request {
    /// Fork a worker that connects to `socket` with `token`, with `threads`
    /// threads for its parallel libraries.
    Fork {
        id: u32,
        socket: String,
        token: u64,
        threads: usize,
        /// Variables the program's hooks pass on.
        env: Vec<(String, String)>,
    },
    /// Has worker `pid` ended? (never blocks)
    TryWait { pid: u32 },
    /// Kill worker `pid` and wait for it.
    Kill { pid: u32 },
}

/// The server's answer.
#[derive(Debug, Serialize, Deserialize)]
enum Reply {
    /// The new worker's pid.
    Forked { pid: u32 },
    /// The worker's raw wait status, if it has ended.
    Exited { status: Option<i32> },
    /// What went wrong.
    Failed { reason: String },
}

/// The program's end of the socket to its fork server.
static SERVER: OnceLock<Mutex<UnixStream>> = OnceLock::new();

/// Whether this program started a fork server.
pub(crate) fn server_running() -> bool {
    SERVER.get().is_some()
}

/// Starts the fork server; called by the hook when `processes.context` is
/// `fork`. Refuses when the program already runs other threads.
pub(crate) fn start_server() -> Result<()> {
    if SERVER.get().is_some() {
        return Ok(());
    }
    if let Some(threads) = thread_count()
        && threads > 1
    {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "processes.context is fork, but the program already runs {threads} threads when \
                 the worker hook starts the fork server: call the hook first in `main`, before \
                 anything starts a thread, or use processes.context = spawn"
            ),
        ));
    }
    let (ours, theirs) = UnixStream::pair()
        .map_err(|e| Error::new(ErrorKind::Worker, format!("cannot make a socket pair: {e}")))?;
    let program = std::process::id();
    // SAFETY: `fork` has no preconditions of its own; what makes the child
    // sound is that this process has one thread (checked above), so no
    // lock can be held by a thread that the child lacks.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(Error::new(
            ErrorKind::Worker,
            format!(
                "cannot fork the fork server: {}",
                std::io::Error::last_os_error()
            ),
        )),
        0 => {
            // Forked from the main thread, which lives as long as the
            // program: the server dies with the program.
            crate::orphans::in_forked_child(program);
            drop(ours);
            serve(theirs);
            std::process::exit(0)
        }
        _ => {
            drop(theirs);
            let _ = SERVER.set(Mutex::new(ours));
            Ok(())
        }
    }
}

/// Threads of this process, from `/proc/self/status` (Linux).
fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// The fork server's loop: one request, one reply, until the program's end
/// of the socket closes.
fn serve(mut control: UnixStream) {
    loop {
        let request = match read_message(&mut control, 1 << 20) {
            Ok(Some(message)) => message.body::<Request>(),
            Ok(None) | Err(_) => return,
        };
        let reply = match request {
            Ok(Request::Fork {
                id,
                socket,
                token,
                threads,
                env,
            }) => fork_worker(id, &socket, token, threads, &env),
            Ok(Request::TryWait { pid }) => wait(pid, libc::WNOHANG),
            Ok(Request::Kill { pid }) => {
                // SAFETY: sending a signal has no memory-safety conditions.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
                wait(pid, 0)
            }
            Err(e) => Reply::Failed {
                reason: e.to_string(),
            },
        };
        if write_message(&mut control, Kind::Forked, &reply, &[]).is_err() {
            return;
        }
    }
}

fn fork_worker(
    id: u32,
    socket: &str,
    token: u64,
    threads: usize,
    extra: &[(String, String)],
) -> Reply {
    let server = std::process::id();
    // SAFETY: the server is single-threaded (it was forked from a program
    // with one thread and starts none), so the child is a whole copy.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Reply::Failed {
            reason: format!("fork failed: {}", std::io::Error::last_os_error()),
        },
        0 => {
            // The worker dies with the server, which dies with the program.
            crate::orphans::in_forked_child(server);
            let threads = threads.to_string();
            let id_text = id.to_string();
            let extra = extra.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            for (name, value) in [
                (env::SOCKET, socket),
                (env::TOKEN, &format!("{token:x}")),
                (env::ID, &id_text),
                ("RAYON_NUM_THREADS", &threads),
                ("OMP_NUM_THREADS", &threads),
                ("OPENBLAS_NUM_THREADS", &threads),
                ("MKL_NUM_THREADS", &threads),
                ("BARROW_NUM_WORKERS", &threads),
            ]
            .into_iter()
            .chain(extra)
            {
                // SAFETY: this process has one thread (a fork of the
                // single-threaded server), so nothing reads the
                // environment while it changes.
                unsafe { std::env::set_var(name, value) };
            }
            let prefixed = PrefixedOutput::install(id);
            let code = crate::worker::run(Ok(()));
            drop(prefixed);
            std::process::exit(code)
        }
        pid => Reply::Forked { pid: pid as u32 },
    }
}

/// A forked worker's stdout and stderr, sent through pipes to threads that
/// prefix each line with `[worker N]`; dropping it restores them and waits
/// for the last lines to be written.
struct PrefixedOutput {
    streams: Vec<(i32, i32, std::thread::JoinHandle<()>)>,
}

impl PrefixedOutput {
    fn install(worker: u32) -> PrefixedOutput {
        use std::io::Write;
        use std::os::fd::{AsRawFd, FromRawFd};
        let mut streams = Vec::new();
        for fd in [libc::STDOUT_FILENO, libc::STDERR_FILENO] {
            let Ok((reader, writer)) = std::io::pipe() else {
                continue;
            };
            // SAFETY: dup and dup2 act on descriptors this process owns;
            // `sink` becomes the only owner of its fresh descriptor.
            let (original, sink) = unsafe {
                let original = libc::dup(fd);
                let sink = libc::dup(fd);
                if original < 0 || sink < 0 || libc::dup2(writer.as_raw_fd(), fd) < 0 {
                    continue;
                }
                (original, std::fs::File::from_raw_fd(sink))
            };
            drop(writer);
            let copier = std::thread::spawn(move || {
                let mut sink = sink;
                crate::forward::copy_lines(worker, reader, false, &mut |text| {
                    let _ = sink.write_all(text.as_bytes());
                });
            });
            streams.push((fd, original, copier));
        }
        PrefixedOutput { streams }
    }
}

impl Drop for PrefixedOutput {
    fn drop(&mut self) {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        for (fd, original, copier) in self.streams.drain(..) {
            // SAFETY: `original` is this guard's own descriptor; putting it
            // back closes the pipe's last write end, so the copier ends.
            unsafe {
                libc::dup2(original, fd);
                libc::close(original);
            }
            let _ = copier.join();
        }
    }
}

fn wait(pid: u32, flags: libc::c_int) -> Reply {
    let mut status: libc::c_int = 0;
    // SAFETY: `status` is a valid place for waitpid to write to.
    let done = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, flags) };
    match done {
        0 => Reply::Exited { status: None },
        -1 => Reply::Failed {
            reason: format!(
                "cannot wait for worker {pid}: {}",
                std::io::Error::last_os_error()
            ),
        },
        _ => Reply::Exited {
            status: Some(status),
        },
    }
}

fn ask(request: &Request) -> Result<Reply> {
    let server = SERVER.get().ok_or_else(|| {
        Error::new(
            ErrorKind::Config,
            "processes.context is fork, but no fork server runs: the worker hook starts it \
             when the configuration says fork as `main` starts (set BARROW_PROCESSES__CONTEXT=fork \
             or put it in a config file, not in a scoped override)",
        )
    })?;
    let mut control = server.lock().unwrap_or_else(|e| e.into_inner());
    write_message(&mut *control, Kind::Fork, request, &[])?;
    let message = read_message(&mut *control, 1 << 20)?
        .ok_or_else(|| Error::new(ErrorKind::Worker, "the fork server has exited"))?;
    match message.body::<Reply>()? {
        Reply::Failed { reason } => Err(Error::new(
            ErrorKind::Worker,
            format!("the fork server: {reason}"),
        )),
        reply => Ok(reply),
    }
}

/// Asks the server for worker `id`; returns its pid.
pub(crate) fn fork_worker_via_server(
    id: u32,
    socket: &str,
    token: u64,
    threads: usize,
) -> Result<u32> {
    match ask(&Request::Fork {
        id,
        socket: socket.to_owned(),
        token,
        threads,
        env: barrow_core::hooks::worker_env(),
    })? {
        Reply::Forked { pid } => Ok(pid),
        other => Err(Error::new(
            ErrorKind::Worker,
            format!("the fork server answered {other:?} to Fork"),
        )),
    }
}

fn exited(reply: Reply) -> Result<Option<ExitStatus>> {
    match reply {
        Reply::Exited { status } => Ok(status.map(ExitStatus::from_raw)),
        other => Err(Error::new(
            ErrorKind::Worker,
            format!("the fork server answered {other:?}"),
        )),
    }
}

/// The exit status of forked worker `pid`, if it has ended.
pub(crate) fn try_wait(pid: u32) -> Result<Option<ExitStatus>> {
    exited(ask(&Request::TryWait { pid })?)
}

/// Kills forked worker `pid` and waits for it.
pub(crate) fn kill(pid: u32) -> Result<Option<ExitStatus>> {
    exited(ask(&Request::Kill { pid })?)
}
