//! A worker's process: a child this program spawned, or one the fork
//! server forked (whose status only the server can read).

use std::io;
use std::process::{Child, ExitStatus};
use std::time::Duration;

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
