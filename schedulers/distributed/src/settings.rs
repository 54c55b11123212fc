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
    pub(crate) security: Security,
}

/// The configuration key of the cluster's certificate authority.
pub(crate) const CA_FILE: &str = "distributed.comm.tls.ca-file";

/// The configuration key that refuses unencrypted connections.
pub(crate) const REQUIRE_ENCRYPTION: &str = "distributed.comm.require-encryption";

/// What a process is, for the certificate it presents over TLS:
/// `distributed.comm.tls.ROLE.cert` and `distributed.comm.tls.ROLE.key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsRole {
    /// A scheduler: it accepts workers and clients.
    Scheduler,
    /// A worker: it connects to its scheduler and to its peers, and
    /// accepts its peers and clients.
    Worker,
    /// A client: it connects to the scheduler and to workers.
    Client,
}

impl TlsRole {
    /// `scheduler`, `worker` or `client`, as in the configuration keys.
    pub fn name(self) -> &'static str {
        match self {
            TlsRole::Scheduler => "scheduler",
            TlsRole::Worker => "worker",
            TlsRole::Client => "client",
        }
    }

    /// The key of its certificate: `distributed.comm.tls.ROLE.cert`.
    pub fn cert_setting(self) -> String {
        format!("distributed.comm.tls.{}.cert", self.name())
    }

    /// The key of its private key: `distributed.comm.tls.ROLE.key`.
    pub fn key_setting(self) -> String {
        format!("distributed.comm.tls.{}.key", self.name())
    }
}

/// Which connections a process makes and accepts: TLS with its role's
/// certificate, and whether plain TCP is refused.
#[derive(Debug, Clone)]
pub(crate) struct Security {
    pub(crate) role: TlsRole,
    /// `distributed.comm.require-encryption`.
    pub(crate) require_encryption: bool,
    /// With `distributed.comm.tls.ca-file` set.
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<std::sync::Arc<crate::comm::tls::TlsConfig>>,
}

impl Security {
    /// Plain TCP only (tests).
    #[cfg(test)]
    pub(crate) fn plain(role: TlsRole) -> Security {
        Security {
            role,
            require_encryption: false,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// The settings of `config` for a process of `role`; reads and checks
    /// the CA file and the role's certificate and key.
    pub(crate) fn from_config(config: &Snapshot, role: TlsRole) -> Result<Security> {
        let require_encryption = config.get::<bool>(REQUIRE_ENCRYPTION)?.unwrap_or(false);
        let ca_file = config.get::<PathBuf>(CA_FILE)?;
        let (cert_key, key_key) = (role.cert_setting(), role.key_setting());
        let cert = config.get::<PathBuf>(&cert_key)?;
        let key = config.get::<PathBuf>(&key_key)?;
        let identity = match (&cert, &key) {
            (Some(cert), Some(key)) => Some((cert.as_path(), key.as_path())),
            (None, None) => None,
            (Some(cert), None) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "{cert_key} = {} is set but {key_key} is not: a certificate needs its \
                         private key",
                        cert.display()
                    ),
                ));
            }
            (None, Some(key)) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "{key_key} = {} is set but {cert_key} is not: set the certificate of \
                         that key too",
                        key.display()
                    ),
                ));
            }
        };
        #[cfg(not(feature = "tls"))]
        {
            if ca_file.is_some() || identity.is_some() {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "{} is set, but this build of barrow-distributed has no TLS (its `tls` \
                         feature is off)",
                        if ca_file.is_some() {
                            CA_FILE
                        } else {
                            &cert_key
                        }
                    ),
                ));
            }
            Ok(Security {
                role,
                require_encryption,
            })
        }
        #[cfg(feature = "tls")]
        {
            let tls = match ca_file {
                None if identity.is_some() => {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!(
                            "{cert_key} is set but {CA_FILE} is not: TLS here is mutual, every \
                             peer's certificate is checked against the CA certificate in that \
                             file; set it"
                        ),
                    ));
                }
                None => None,
                Some(ca_file) => Some(std::sync::Arc::new(crate::comm::tls::TlsConfig::load(
                    role, &ca_file, identity,
                )?)),
            };
            Ok(Security {
                role,
                require_encryption,
                tls,
            })
        }
    }

    /// Whether it has a certificate to accept TLS connections with.
    pub(crate) fn accepts_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        {
            self.tls
                .as_ref()
                .is_some_and(|tls| tls.acceptor().is_some())
        }
        #[cfg(not(feature = "tls"))]
        {
            false
        }
    }
}

/// Certificate files given in code or on the command line, put on top of
/// the configuration for one role.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsFiles {
    /// For `distributed.comm.tls.ca-file`.
    pub(crate) ca_file: Option<PathBuf>,
    /// For `distributed.comm.tls.ROLE.cert` and `.key`.
    pub(crate) cert: Option<(PathBuf, PathBuf)>,
}

impl TlsFiles {
    /// `config` with these files for `role`.
    pub(crate) fn apply(&self, config: &Snapshot, role: TlsRole) -> Result<Snapshot> {
        let mut options = Vec::new();
        if let Some(ca_file) = &self.ca_file {
            options.push((CA_FILE.to_owned(), ca_file.clone()));
        }
        if let Some((cert, key)) = &self.cert {
            options.push((role.cert_setting(), cert.clone()));
            options.push((role.key_setting(), key.clone()));
        }
        Ok(config.with_options(options)?)
    }
}

impl CommSettings {
    /// The settings of `config` for a process of `role`, proving `token`.
    pub(crate) fn from_config(
        config: &Snapshot,
        token: &str,
        role: TlsRole,
    ) -> Result<CommSettings> {
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
            security: Security::from_config(config, role)?,
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
        recent_to_old: config
            .get::<Duration>("distributed.worker.memory.recent-to-old-time")?
            .unwrap_or(defaults.recent_to_old),
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

    #[cfg(feature = "tls")]
    #[test]
    fn tls_settings_read_and_check_the_files_of_their_role() {
        use crate::comm::tls::TemporaryCertificates;
        let certs = TemporaryCertificates::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let path = |p: &Path| p.to_str().unwrap().to_owned();
        let read = |env: &[(&str, String)], role: TlsRole| {
            let mut sandbox = Sandbox::new().unwrap();
            for (name, value) in env {
                sandbox.set_env(name, value);
            }
            let config = sandbox.config().snapshot().unwrap();
            Security::from_config(&config, role)
        };
        const CA: &str = "BARROW_DISTRIBUTED__COMM__TLS__CA_FILE";
        const CERT: &str = "BARROW_DISTRIBUTED__COMM__TLS__WORKER__CERT";
        const KEY: &str = "BARROW_DISTRIBUTED__COMM__TLS__WORKER__KEY";
        let role = TlsRole::Worker;
        let (ca, cert, key) = (
            path(&certs.ca_file()),
            path(&certs.cert(role)),
            path(&certs.key(role)),
        );

        // Nothing set: plain TCP, allowed.
        let plain = read(&[], role).unwrap();
        assert!(!plain.accepts_tls() && !plain.require_encryption && plain.tls.is_none());
        // Everything: it accepts TLS; another role of the same settings
        // has the CA but no certificate.
        let all = [(CA, ca.clone()), (CERT, cert.clone()), (KEY, key.clone())];
        assert!(read(&all, role).unwrap().accepts_tls());
        let client = read(&all, TlsRole::Client).unwrap();
        assert!(client.tls.is_some() && !client.accepts_tls());
        let required = read(
            &[(
                "BARROW_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION",
                "true".into(),
            )],
            role,
        )
        .unwrap();
        assert!(required.require_encryption);

        let err = |env: &[(&str, String)]| read(env, role).unwrap_err().to_string();
        // A key without its certificate, and the reverse.
        let text = err(&[(CA, ca.clone()), (KEY, key.clone())]);
        assert!(
            text.contains(&format!("distributed.comm.tls.worker.key = {key} is set"))
                && text.contains("distributed.comm.tls.worker.cert is not"),
            "{text}"
        );
        let text = err(&[(CA, ca.clone()), (CERT, cert.clone())]);
        assert!(
            text.contains(&format!("distributed.comm.tls.worker.cert = {cert} is set")),
            "{text}"
        );
        // A certificate without the CA.
        let text = err(&[(CERT, cert.clone()), (KEY, key.clone())]);
        assert!(
            text.contains("distributed.comm.tls.ca-file is not"),
            "{text}"
        );
        // A missing CA file, an empty one; an empty certificate.
        let text = err(&[(CA, path(&missing))]);
        assert!(
            text.contains(&format!(
                "distributed.comm.tls.ca-file = {}",
                missing.display()
            )) && text.contains("cannot read it"),
            "{text}"
        );
        let text = err(&[(CA, path(&empty))]);
        assert!(
            text.contains(&format!(
                "distributed.comm.tls.ca-file = {}",
                empty.display()
            )) && text.contains("no certificate in it"),
            "{text}"
        );
        let text = err(&[(CA, ca), (CERT, path(&empty)), (KEY, key)]);
        assert!(
            text.contains(&format!(
                "distributed.comm.tls.worker.cert = {}",
                empty.display()
            )) && text.contains("no certificate in it"),
            "{text}"
        );
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
