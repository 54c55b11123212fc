//! What the cluster's processes read from the configuration
//! (`distributed.*`, `worker.*`), once, when they start.

use std::path::{Path, PathBuf};
use std::time::Duration;

use barrow_core::config::{ByteSize, Snapshot};
use barrow_wire::{Compression, WireOptions};

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::handshake::Secret;
use crate::scheduler::SchedulerConfig;

/// How connections are made and what they carry.
#[derive(Debug, Clone)]
pub(crate) struct CommSettings {
    pub(crate) secret: Secret,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_message_size: u64,
    pub(crate) wire: WireOptions,
}

impl CommSettings {
    /// The settings of `config`, proving `token`.
    pub(crate) fn from_config(config: &Snapshot, token: &str) -> Result<CommSettings> {
        let connect_timeout = config
            .get::<Duration>("distributed.comm.timeouts.connect")?
            .unwrap_or(Duration::from_secs(30));
        let max_message_size = config
            .get::<ByteSize>("distributed.comm.max-message-size")?
            .map_or(u64::MAX, u64::from);
        let compression = match config
            .get::<String>("distributed.comm.compression")?
            .as_deref()
        {
            Some("lz4") => Compression::Lz4,
            Some("zstd") => Compression::Zstd { level: 1 },
            _ => Compression::None,
        };
        if !compression.is_available() {
            return Err(Error::new(
                ErrorKind::Config,
                "distributed.comm.compression is zstd, which this build cannot write (barrow-wire \
                 without its `zstd` feature): choose lz4 or none",
            ));
        }
        let above = config
            .get::<ByteSize>("distributed.comm.compress-above")?
            .map_or(WireOptions::DEFAULT_COMPRESS_ABOVE as u64, u64::from);
        let wire = WireOptions::new()
            .compression(compression)
            .compress_above(usize::try_from(above).unwrap_or(usize::MAX));
        Ok(CommSettings {
            secret: Secret::from_token(token),
            connect_timeout,
            max_message_size,
            wire,
        })
    }
}

/// The scheduler's settings from `config`.
pub(crate) fn scheduler_config(config: &Snapshot) -> Result<SchedulerConfig> {
    let defaults = SchedulerConfig::default();
    let seconds = |d: Option<Duration>, default: f64| d.map_or(default, |d| d.as_secs_f64());
    Ok(SchedulerConfig {
        worker_saturation: config
            .get::<f64>("distributed.scheduler.worker-saturation")?
            .unwrap_or(defaults.worker_saturation),
        bandwidth: config
            .get::<ByteSize>("distributed.scheduler.bandwidth")?
            .map_or(defaults.bandwidth, |b| u64::from(b) as f64)
            .max(1.0),
        transfer_latency: seconds(
            config.get::<Duration>("distributed.scheduler.transfer-latency")?,
            defaults.transfer_latency,
        ),
        unknown_task_duration: seconds(
            config.get::<Duration>("distributed.scheduler.unknown-task-duration")?,
            defaults.unknown_task_duration,
        ),
        validate: config
            .get::<bool>("distributed.scheduler.validate")?
            .unwrap_or(false),
        transition_log_length: config
            .get::<i64>("distributed.scheduler.transition-log-length")?
            .map_or(defaults.transition_log_length, |n| {
                usize::try_from(n).unwrap_or(0)
            }),
        no_workers_timeout: config.get::<Duration>("distributed.scheduler.no-workers-timeout")?,
        heartbeat_interval: config.get::<Duration>("distributed.worker.heartbeat-interval")?,
        worker_ttl: config
            .get::<Duration>("distributed.scheduler.worker-ttl")?
            .unwrap_or(defaults.worker_ttl),
        allowed_failures: config
            .get::<i64>("distributed.scheduler.allowed-failures")?
            .map_or(defaults.allowed_failures, |n| {
                u32::try_from(n).unwrap_or(u32::MAX)
            }),
        work_stealing: config
            .get::<bool>("distributed.scheduler.work-stealing")?
            .unwrap_or(defaults.work_stealing),
        work_stealing_interval: config
            .get::<Duration>("distributed.scheduler.work-stealing-interval")?
            .unwrap_or(defaults.work_stealing_interval),
    })
}

/// Where a token came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenSource {
    /// Given in code or on the command line.
    Given,
    /// `distributed.security.token`.
    Setting,
    /// A file.
    File(PathBuf),
}

/// The file a scheduler writes its token to when none is configured, and
/// where workers and clients on the machine (or sharing its home
/// directory) look for it: `$XDG_CONFIG_HOME/barrow/cluster-token`, else
/// `~/.config/barrow/cluster-token`.
pub fn default_token_file() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let base = xdg.or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .map(|home| home.join(".config"))
    })?;
    Some(base.join("barrow").join("cluster-token"))
}

/// The token to prove: `given`, else `distributed.security.token`, else
/// the file `distributed.security.token-file` names, else the default
/// token file if it exists. `None` when there is none at all.
pub(crate) fn find_token(
    config: &Snapshot,
    given: Option<&str>,
) -> Result<Option<(String, TokenSource)>> {
    if let Some(token) = given {
        return Ok(Some((token.to_owned(), TokenSource::Given)));
    }
    if let Some(token) = config.get::<String>("distributed.security.token")? {
        return Ok(Some((token, TokenSource::Setting)));
    }
    if let Some(path) = config.get::<PathBuf>("distributed.security.token-file")? {
        return read_token(&path).map(|t| Some((t, TokenSource::File(path))));
    }
    match default_token_file() {
        Some(path) if path.exists() => {
            read_token(&path).map(|t| Some((t, TokenSource::File(path))))
        }
        _ => Ok(None),
    }
}

/// The token a worker or client must prove, or an error saying where to
/// get it.
pub(crate) fn require_token(config: &Snapshot, given: Option<&str>) -> Result<String> {
    find_token(config, given)?
        .map(|(token, _)| token)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "no cluster token: the scheduler accepts only connections that prove its \
                     token; set distributed.security.token (BARROW_DISTRIBUTED__SECURITY__TOKEN), \
                     or distributed.security.token-file to the file `barrow scheduler` printed{}",
                    default_token_file()
                        .map(|p| format!(" (by default {})", p.display()))
                        .unwrap_or_default()
                ),
            )
        })
}

/// Reads a token file: its first line, trimmed.
pub(crate) fn read_token(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("cannot read the cluster token file {}: {e}", path.display()),
        )
    })?;
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    if token.is_empty() {
        return Err(Error::new(
            ErrorKind::Config,
            format!("the cluster token file {} is empty", path.display()),
        ));
    }
    Ok(token)
}

/// Writes `token` to `path`, readable by its owner only.
pub(crate) fn write_token(path: &Path, token: &str) -> Result<()> {
    let fail = |e: std::io::Error| {
        Error::new(
            ErrorKind::Config,
            format!(
                "cannot write the cluster token file {}: {e}",
                path.display()
            ),
        )
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(fail)?;
    writeln!(file, "{token}").map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use barrow_config::Sandbox;

    #[test]
    fn tokens_come_from_code_then_the_setting_then_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        write_token(&file, "from-file").unwrap();
        assert_eq!(read_token(&file).unwrap(), "from-file");
        let mut sandbox = Sandbox::new().unwrap();
        sandbox.set_env(
            "BARROW_DISTRIBUTED__SECURITY__TOKEN_FILE",
            file.to_str().unwrap(),
        );
        let config = sandbox.config().snapshot().unwrap();
        let (token, source) = find_token(&config, None).unwrap().unwrap();
        assert_eq!(
            (token.as_str(), source),
            ("from-file", TokenSource::File(file.clone()))
        );
        assert_eq!(find_token(&config, Some("x")).unwrap().unwrap().0, "x");
        sandbox.set_env("BARROW_DISTRIBUTED__SECURITY__TOKEN", "from-setting");
        let config = sandbox.config().snapshot().unwrap();
        assert_eq!(require_token(&config, None).unwrap(), "from-setting");
    }

    #[test]
    fn a_missing_or_empty_token_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = read_token(&missing).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        assert!(
            read_token(&empty)
                .unwrap_err()
                .to_string()
                .contains("is empty")
        );
    }
}
