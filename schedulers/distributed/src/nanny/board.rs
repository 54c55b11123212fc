//! The board: a small file through which a worker's task threads tell its
//! nanny what each is executing, so that after a crash the nanny knows
//! which tasks were running at that moment (and only those are blamed).
//!
//! A thread writes its slot before a task starts and clears it after; the
//! writes are `pwrite`s of 16 bytes to a file in the page cache, which
//! survive the process (a `SIGKILL`, an abort) because the kernel holds
//! them, not the process. Layout, little-endian `u64`s: offset 0 holds the
//! worker's id once it has joined (0 before); slot `i` of task thread `i`
//! is at `16 × (i + 1)`: the task id and its run, both 0 when idle.

use std::fs::File;
use std::path::Path;

use crate::protocol::{TaskId, WorkerId};

/// The environment variable naming the board file of a worker started by
/// a nanny.
pub(crate) const BOARD_VAR: &str = "BARROW_WORKER_NANNY_BOARD";

/// The environment variable naming the report of the previous worker's
/// death, for the worker a nanny starts after one.
pub(crate) const PREVIOUS_VAR: &str = "BARROW_WORKER_NANNY_PREVIOUS";

const SLOT: u64 = 16;

/// The worker's side: where its task threads write.
#[derive(Debug)]
pub(crate) struct Board {
    file: File,
}

impl Board {
    /// The board of this process's nanny, if it has one.
    pub(crate) fn from_env() -> Option<Board> {
        let path = std::env::var_os(BOARD_VAR)?;
        match std::fs::OpenOptions::new().write(true).open(&path) {
            Ok(file) => Some(Board { file }),
            Err(error) => {
                // Without it a crash blames nothing; the worker still works.
                tracing::warn!(
                    "cannot open the nanny's board {}: {error}; a crash of this worker will \
                     not say which task it ran",
                    Path::new(&path).display()
                );
                None
            }
        }
    }

    /// Says the worker joined as `id`.
    pub(crate) fn joined(&self, id: WorkerId) {
        self.write(0, u64::from(id), 0);
    }

    /// Says task thread `thread` now executes `task` (`None`: nothing).
    pub(crate) fn executing(&self, thread: usize, task: Option<(TaskId, u64)>) {
        let (id, run) = task.unwrap_or((0, 0));
        self.write(SLOT * (thread as u64 + 1), id, run);
    }

    fn write(&self, offset: u64, a: u64, b: u64) {
        let mut bytes = [0u8; SLOT as usize];
        bytes[..8].copy_from_slice(&a.to_le_bytes());
        bytes[8..].copy_from_slice(&b.to_le_bytes());
        // A failed write only weakens the blame after a crash.
        let _ = rustix::io::pwrite(&self.file, &bytes, offset);
    }
}

/// What a board says, read by the nanny after its worker ended.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Reading {
    /// The worker's id, if it joined.
    pub(crate) joined: Option<WorkerId>,
    /// What its threads were executing.
    pub(crate) executing: Vec<(TaskId, u64)>,
}

/// Reads the board at `path` (a missing or short file reads as empty).
pub(crate) fn read(path: &Path) -> Reading {
    let bytes = std::fs::read(path).unwrap_or_default();
    let word = |at: usize| -> u64 {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    let joined = u32::try_from(word(0)).ok().filter(|&id| id != 0);
    let executing = (SLOT as usize..bytes.len())
        .step_by(SLOT as usize)
        .map(|at| (word(at), word(at + 8)))
        .filter(|&(id, _)| id != 0)
        .collect();
    Reading { joined, executing }
}

/// Empties the board at `path` for the next worker.
pub(crate) fn reset(path: &Path) -> std::io::Result<()> {
    File::create(path).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_board_says_who_joined_and_what_each_thread_executes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("board");
        reset(&path).unwrap();
        assert_eq!(read(&path), Reading::default());
        let board = Board {
            file: std::fs::OpenOptions::new().write(true).open(&path).unwrap(),
        };
        board.joined(7);
        board.executing(0, Some((41, 2)));
        board.executing(2, Some((43, 5)));
        board.executing(1, Some((42, 3)));
        board.executing(1, None);
        assert_eq!(
            read(&path),
            Reading {
                joined: Some(7),
                executing: vec![(41, 2), (43, 5)],
            }
        );
        reset(&path).unwrap();
        assert_eq!(read(&path), Reading::default());
    }
}
