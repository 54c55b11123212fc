//! What a pool is configured with, read from the configuration once when the
//! pool is made.

use std::path::PathBuf;
use std::time::Duration;

use barrow_core::config::ByteSize;
use barrow_core::config::Snapshot;
use barrow_core::{Error, ErrorKind, Result};
use barrow_wire::{Compression, WireOptions};

/// How a pool starts and talks to its workers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Settings {
    /// Number of worker processes.
    pub workers: usize,
    /// Threads each worker's parallel libraries may use.
    pub threads_per_worker: usize,
    /// How long a worker may take to start and say hello.
    pub start_timeout: Duration,
    /// The largest message accepted.
    pub max_message_size: u64,
    /// "none", "lz4" or "zstd".
    pub compression: String,
    /// Values above this size are compressed.
    pub compress_above: u64,
    /// The program to start, and its arguments, instead of this one (tests
    /// of what happens when a worker is not a Barrow program).
    pub program: Option<(PathBuf, Vec<String>)>,
    /// Workers are forked by the fork server (`processes.context = fork`).
    pub fork: bool,
    /// Values of this many bytes or more go through shared memory; 0:
    /// never.
    pub shared_memory_above: u64,
    /// Idle shared memory kept per side of a connection.
    pub shared_memory_retain: u64,
}

impl Settings {
    /// The settings for `workers` workers under `config`.
    pub fn from_config(workers: usize, config: &Snapshot) -> Result<Settings> {
        if workers == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "num-workers is 0: the processes scheduler needs at least one worker",
            ));
        }
        let fork = config.get::<String>("processes.context")?.as_deref() == Some("fork");
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let threads_per_worker = match config.get::<i64>("processes.worker-threads")? {
            Some(n) => usize::try_from(n).unwrap_or(1).max(1),
            None => (cores / workers).max(1),
        };
        let (start_timeout, origin) =
            config.get_with_origin::<Duration>("processes.start-timeout")?;
        let start_timeout = start_timeout.unwrap_or(Duration::from_secs(30));
        if start_timeout.is_zero() {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "processes.start-timeout is 0s (from {origin}): no worker can start and \
                     connect in no time; set it to a few seconds (the default is 30s)"
                ),
            ));
        }
        let max_message_size = config
            .get::<ByteSize>("processes.max-message-size")?
            .map_or(u64::MAX, u64::from);
        let compression = config
            .get::<String>("processes.compression")?
            .unwrap_or_else(|| "none".to_owned());
        let compress_above = config
            .get::<ByteSize>("processes.compress-above")?
            .map_or(WireOptions::DEFAULT_COMPRESS_ABOVE as u64, u64::from);
        // Fail now, not in every worker.
        wire_options(&compression, compress_above)?;
        let shared_memory = config
            .get::<bool>("processes.shared-memory")?
            .unwrap_or(true);
        let shared_memory_above = match shared_memory {
            true => config
                .get::<ByteSize>("processes.shared-memory-above")?
                .map_or(1 << 20, u64::from)
                .max(1),
            false => 0,
        };
        let shared_memory_retain = config
            .get::<ByteSize>("processes.shared-memory-retain")?
            .map_or(256 << 20, u64::from);
        Ok(Settings {
            workers,
            threads_per_worker,
            start_timeout,
            max_message_size,
            compression,
            compress_above,
            program: None,
            fork,
            shared_memory_above,
            shared_memory_retain,
        })
    }

    /// The wire options values are written with.
    pub fn wire_options(&self) -> Result<WireOptions> {
        wire_options(&self.compression, self.compress_above)
    }
}

/// Wire options for a compression name and threshold.
pub(crate) fn wire_options(compression: &str, compress_above: u64) -> Result<WireOptions> {
    let kind = match compression {
        "none" => Compression::None,
        "lz4" => Compression::Lz4,
        "zstd" => Compression::Zstd { level: 1 },
        other => {
            return Err(Error::new(
                ErrorKind::Config,
                format!("processes.compression is '{other}'; use none, lz4 or zstd"),
            ));
        }
    };
    if !kind.is_available() {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "processes.compression is '{compression}', which this build cannot write: \
                 enable barrow-wire's `zstd` feature, or choose lz4"
            ),
        ));
    }
    Ok(WireOptions::new()
        .compression(kind)
        .compress_above(usize::try_from(compress_above).unwrap_or(usize::MAX)))
}
