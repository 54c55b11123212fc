//! A worker's process: a child this program spawned, or one the fork
//! server forked (whose status only the server can read); how it ended, in
//! words.

use std::io;
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use barrow_core::{Error, ErrorKind};
use barrow_wire::EncodedFrame;
use barrow_wire::message::{Kind, Message, write_message};
use barrow_wire::shared::{SharedMemory, send_message};

use crate::hook::HOOK_HINT;

/// A worker's process, whichever way it started.
#[derive(Debug)]
pub(crate) enum Proc {
    /// Spawned by this program (`processes.context = spawn`).
    Spawned(Child),
    /// Forked by the fork server; `status` once it is known.
    Forked {
        pid: u32,
        status: Option<ExitStatus>,
    },
}

impl Proc {
    /// The process id.
    pub(crate) fn id(&self) -> u32 {
        match self {
            Proc::Spawned(child) => child.id(),
            Proc::Forked { pid, .. } => *pid,
        }
    }

    /// Its exit status, if it has ended; never blocks.
    pub(crate) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        match self {
            Proc::Spawned(child) => child.try_wait(),
            Proc::Forked {
                status: Some(s), ..
            } => Ok(Some(*s)),
            Proc::Forked { pid, status } => {
                *status = crate::fork::try_wait(*pid).map_err(io::Error::other)?;
                Ok(*status)
            }
        }
    }

    /// Kills it (if it still runs).
    pub(crate) fn kill(&mut self) -> io::Result<()> {
        match self {
            Proc::Spawned(child) => child.kill(),
            Proc::Forked {
                status: Some(_), ..
            } => Ok(()),
            Proc::Forked { pid, status } => {
                *status = crate::fork::kill(*pid).map_err(io::Error::other)?;
                Ok(())
            }
        }
    }

    /// Waits for it to end.
    pub(crate) fn wait(&mut self) -> io::Result<ExitStatus> {
        if let Proc::Spawned(child) = self {
            return child.wait();
        }
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// One live worker.
#[derive(Debug)]
pub(crate) struct WorkerProcess {
    pub(crate) id: u32,
    pub(crate) pid: u32,
    pub(crate) child: Proc,
    /// Where messages to it are written.
    pub(crate) stream: UnixStream,
    /// Shared memory for the large values sent to it, if the system has it
    /// and the configuration allows it.
    pub(crate) shared: Option<SharedMemory>,
}

impl WorkerProcess {
    /// Writes a message to it, its large frames through shared memory when
    /// there is some.
    pub(crate) fn send(
        &mut self,
        kind: Kind,
        body: &impl serde::Serialize,
        frames: &[EncodedFrame<'_>],
    ) -> barrow_wire::Result<()> {
        send_message(&self.stream, self.shared.as_ref(), kind, body, frames)
    }

    /// Tells it that this side is done with the shared memory `message`
    /// came in, so that it can reuse it.
    pub(crate) fn release(&mut self, message: &Message) {
        if let Some(segment) = message.segment() {
            // A failed write means the worker is gone; its reader thread
            // reports that.
            let _ = write_message(&mut self.stream, Kind::Release, &segment, &[]);
        }
    }
}

/// A worker started and not yet connected.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) id: u32,
    pub(crate) program: String,
    pub(crate) child: Proc,
}

impl Pending {
    pub(crate) fn exited_early(&self, status: ExitStatus) -> Error {
        Error::new(
            ErrorKind::Worker,
            format!(
                "worker {} ({}, pid {}) {} before connecting to the pool: it is not a Barrow \
                 program, or its worker set-up failed (see its output above), or {HOOK_HINT}",
                self.id,
                self.program,
                self.child.id(),
                describe_exit(status)
            ),
        )
    }
}

/// "exited with code 3", "was killed by signal 9 (SIGKILL)".
pub fn describe_exit(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with code {code}");
    }
    match status.signal() {
        Some(signal) => {
            let name = match signal {
                6 => " (SIGABRT: an abort)",
                9 => " (SIGKILL: killed, perhaps for running out of memory)",
                11 => " (SIGSEGV: a memory fault)",
                15 => " (SIGTERM)",
                _ => "",
            };
            format!("was killed by signal {signal}{name}")
        }
        None => format!("ended ({status})"),
    }
}

impl WorkerProcess {
    /// Stops a worker that broke its connection, and describes its end.
    pub(crate) fn reap_now(mut self) -> String {
        if let Ok(Some(status)) = self.child.try_wait() {
            return describe_exit(status);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        "was stopped by the pool".to_owned()
    }

    /// Waits (briefly) for the dead worker's exit status and describes it.
    pub(crate) fn reap(mut self) -> String {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return describe_exit(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Ok(None) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return "stopped answering and was killed".to_owned();
                }
                Err(e) => return format!("ended (its status cannot be read: {e})"),
            }
        }
    }
}

/// Worker ids by slot, for messages.
pub(crate) fn worker_label(worker: &WorkerProcess) -> String {
    format!("worker {} (pid {})", worker.id, worker.pid)
}
