//! The `barrow worker` command line a manager runs on a host or in a job,
//! shared by SSH and the job scripts.

use std::path::PathBuf;

use crate::error::{Error, Result};

/// How each worker is started: the program and its options.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerSpec {
    /// The `barrow` program on the hosts (default: `barrow` on their PATH).
    pub program: PathBuf,
    /// Task threads per worker (`None`: one per core it sees).
    pub nthreads: Option<usize>,
    /// Its memory limit in bytes (`None`: none).
    pub memory_limit: Option<u64>,
    /// More `barrow worker` arguments (`--resource GPU=1`).
    pub extra_args: Vec<String>,
}

impl Default for WorkerSpec {
    fn default() -> WorkerSpec {
        WorkerSpec {
            program: PathBuf::from("barrow"),
            nthreads: None,
            memory_limit: None,
            extra_args: Vec::new(),
        }
    }
}

impl WorkerSpec {
    /// `barrow worker ADDRESS --name NAME …` as words.
    pub(crate) fn words(&self, scheduler: &str, name: &str) -> Vec<String> {
        let mut words = vec![
            self.program.display().to_string(),
            "worker".to_owned(),
            scheduler.to_owned(),
            "--name".to_owned(),
            name.to_owned(),
        ];
        if let Some(n) = self.nthreads {
            words.extend(["--nthreads".to_owned(), n.to_string()]);
        }
        if let Some(bytes) = self.memory_limit {
            words.extend(["--memory-limit".to_owned(), bytes.to_string()]);
        }
        words.extend(self.extra_args.iter().cloned());
        words
    }

    /// The same, quoted for a POSIX shell.
    pub(crate) fn shell_line(&self, scheduler: &str, name: &str) -> Result<String> {
        quote_all(&self.words(scheduler, name))
    }
}

/// Words quoted for a POSIX shell, joined by spaces.
pub(crate) fn quote_all(words: &[String]) -> Result<String> {
    let quoted = words
        .iter()
        .map(|word| {
            shlex::try_quote(word).map(|q| q.into_owned()).map_err(|_| {
                Error::Invalid(format!(
                    "{word:?} cannot be passed to a shell (it holds a NUL byte)"
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(quoted.join(" "))
}

/// A new cluster token: 32 random bytes in hex.
pub(crate) fn new_token() -> Result<String> {
    Ok(barrow_distributed::generate_token()?)
}

/// Polls `joined` until it counts `n` workers; after `timeout`, the error
/// `late` makes of how many did.
pub(crate) fn wait_for(
    n: usize,
    timeout: std::time::Duration,
    mut joined: impl FnMut() -> Result<usize>,
    late: impl FnOnce(usize) -> Error,
) -> Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let count = joined()?;
        if count >= n {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(late(count));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
