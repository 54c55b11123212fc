//! Workers die with their parent. Without this, a worker whose program was
//! killed (`kill -9`, the out-of-memory killer) runs its current task to
//! the end, which may be hours, before it notices the closed socket.
//!
//! - **Linux**: the kernel sends the worker `SIGKILL` when its parent dies
//!   (`prctl(PR_SET_PDEATHSIG)`, set between `fork` and `exec`, and kept
//!   across `exec`); a worker whose parent died before that (the window
//!   between the two) exits at once. The "parent" is, to the kernel, the
//!   *thread* that started the worker (prctl(2)), and the threads that
//!   compute come and go: workers are therefore started from one thread
//!   that lives as long as the process. Forked workers (`processes.context
//!   = fork`) are set up the same way, in the fork server (whose parent is
//!   the program's main thread) and in each worker the server forks.
//! - **Other Unix systems**: the worker inherits the read end of a pipe
//!   whose write end only the program holds; a thread in the worker waits
//!   on it and exits the process when it reads end-of-file, which happens
//!   when the program dies and the system closes its end. (Spawned workers
//!   only: forked ones, `processes.context = fork`, are not covered there.)

use std::io;
use std::process::{Child, Command};

/// The exit code of a worker whose program died.
pub(crate) const ORPHANED: i32 = 72;

#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};
    use std::sync::mpsc::{Sender, channel};
    use std::sync::{Mutex, OnceLock};

    use super::ORPHANED;

    /// Makes the kernel kill this process when the thread that started it
    /// ends; exits at once if that already happened (`parent` is no longer
    /// this process's parent). Only calls functions that are safe between
    /// `fork` and `exec`.
    fn die_with(parent: libc::pid_t) -> io::Result<()> {
        // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and
        // touches no memory of ours; it is async-signal-safe.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } == -1 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: getppid has no preconditions and cannot fail.
        if unsafe { libc::getppid() } != parent {
            // SAFETY: _exit ends the process without running anything of
            // ours; it is async-signal-safe.
            unsafe { libc::_exit(ORPHANED) };
        }
        Ok(())
    }

    pub(super) fn prepare(command: &mut Command) {
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        // SAFETY: the closure runs in the child between fork and exec and
        // calls only async-signal-safe functions (prctl, getppid, _exit),
        // allocating nothing.
        unsafe {
            command.pre_exec(move || die_with(parent));
        }
    }

    type Request = (Command, Sender<io::Result<Child>>);

    /// Starts `command` from the one thread that lives as long as the
    /// process (see the module's notes).
    pub(super) fn spawn(command: Command) -> io::Result<Child> {
        static SPAWNER: OnceLock<Mutex<Sender<Request>>> = OnceLock::new();
        let spawner = SPAWNER.get_or_init(|| {
            let (requests, received) = channel::<Request>();
            let started = std::thread::Builder::new()
                .name("barrow-worker-spawner".into())
                .spawn(move || {
                    for (mut command, reply) in received {
                        let _ = reply.send(command.spawn());
                    }
                });
            if let Err(e) = started {
                tracing::warn!("cannot start the worker-spawning thread: {e}");
            }
            Mutex::new(requests)
        });
        let (reply, answer) = channel();
        let sent = spawner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send((command, reply));
        match sent {
            Ok(()) => answer
                .recv()
                .unwrap_or_else(|_| Err(io::Error::other("the worker-spawning thread ended"))),
            // No spawning thread: start it here (its parent-death signal
            // then follows this thread).
            Err(std::sync::mpsc::SendError((mut command, _))) => command.spawn(),
        }
    }

    pub(super) fn in_forked_child(parent: u32) {
        if die_with(parent as libc::pid_t).is_err() {
            // No signal to rely on: a worker that cannot be sure to die
            // with its parent still works; say so.
            eprintln!("barrow worker: cannot ask to die with the program (prctl failed)");
        }
    }

    pub(super) fn watch_parent() {}
}

/// The pipe watch: how workers die with their program where there is no
/// parent-death signal. Compiled on every Unix system (so it is checked
/// and unit-tested on Linux too); used on those but Linux.
#[cfg_attr(target_os = "linux", allow(dead_code))]
mod pipe_watch {
    use std::io;
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    use std::process::{Child, Command};
    use std::sync::{Mutex, OnceLock};

    use super::{ORPHANED, PARENT_FD, watch_fd};

    /// The read end of the pipe every worker watches; the write end is
    /// held, never written, until the process ends.
    fn read_fd() -> io::Result<i32> {
        static PIPE: OnceLock<Mutex<Option<(OwnedFd, OwnedFd)>>> = OnceLock::new();
        let pipe = PIPE
            .get_or_init(|| Mutex::new(std::io::pipe().ok().map(|(r, w)| (r.into(), w.into()))));
        let pipe = pipe.lock().unwrap_or_else(|e| e.into_inner());
        pipe.as_ref()
            .map(|(read, _write)| read.as_raw_fd())
            .ok_or_else(|| io::Error::other("cannot make the pipe workers watch"))
    }

    pub(super) fn prepare(command: &mut Command) {
        let Ok(read) = read_fd() else {
            return;
        };
        command.env(PARENT_FD, read.to_string());
        // SAFETY: the closure runs in the child between fork and exec and
        // calls only fcntl, which is async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                // Keep the read end open across exec (pipes are made
                // close-on-exec).
                if libc::fcntl(read, libc::F_SETFD, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }

    pub(super) fn spawn(mut command: Command) -> io::Result<Child> {
        command.spawn()
    }

    pub(super) fn in_forked_child(_parent: u32) {
        // Not covered: the fork server starts before any pipe exists, and
        // holds a copy of whatever it inherits. Forked workers on these
        // systems notice their program's end when they next read the
        // socket.
    }

    pub(super) fn watch_parent() {
        let fd = std::env::var(PARENT_FD)
            .ok()
            .and_then(|v| v.parse::<i32>().ok());
        if let Some(fd) = fd {
            let _ = std::thread::Builder::new()
                .name("barrow-parent-watch".into())
                .spawn(move || {
                    watch_fd(fd);
                    std::process::exit(ORPHANED);
                });
        }
    }
}

#[cfg(not(target_os = "linux"))]
use pipe_watch as imp;

/// The variable naming the pipe a worker watches (Unix but Linux).
#[cfg_attr(target_os = "linux", allow(dead_code))]
const PARENT_FD: &str = "BARROW_WORKER_PARENT_FD";

/// Blocks until the pipe `fd` reads end-of-file or fails: its write end,
/// held by the program only, is closed when the program dies.
#[cfg_attr(target_os = "linux", allow(dead_code))]
fn watch_fd(fd: i32) {
    let mut byte = [0u8; 1];
    loop {
        // SAFETY: `byte` is a valid buffer of one byte for the call.
        let read = unsafe { libc::read(fd, byte.as_mut_ptr().cast(), 1) };
        if read == -1 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        if read <= 0 {
            return;
        }
    }
}

/// Sets `command` up so that the worker it starts dies with this program.
pub(crate) fn prepare(command: &mut Command) {
    imp::prepare(command);
}

/// Starts a worker prepared by [`prepare`] (on Linux from a thread that
/// lives as long as the process).
pub(crate) fn spawn(command: Command) -> io::Result<Child> {
    imp::spawn(command)
}

/// Starts `command` as a process that dies with this one (SIGKILL from
/// the kernel on Linux, a watched pipe elsewhere): what a supervisor of
/// worker processes, such as the cluster's nanny, starts them with.
pub fn spawn_tied(mut command: Command) -> io::Result<Child> {
    prepare(&mut command);
    spawn(command)
}

/// In a process just forked from `parent` (the fork server, or a worker
/// the server forked): die with it.
pub(crate) fn in_forked_child(parent: u32) {
    imp::in_forked_child(parent);
}

/// In a worker started by [`spawn`]: on systems without a parent-death
/// signal, starts the thread that ends the process with its program.
pub(crate) fn watch_parent() {
    imp::watch_parent();
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    use super::*;

    #[test]
    fn the_pipe_watch_returns_when_the_write_end_closes() {
        let (read, write) = std::io::pipe().unwrap();
        let fd = read.as_raw_fd();
        let watcher = std::thread::spawn(move || watch_fd(fd));
        assert!(!watcher.is_finished(), "the write end is still open");
        drop(write);
        watcher.join().unwrap();
        drop(read);
    }
}
