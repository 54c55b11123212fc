//! Connections: addresses, connecting with a deadline, listening, and the
//! file-descriptor limit.

pub(crate) mod framed;
pub(crate) mod greet;
pub(crate) mod peer;

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

use crate::error::{Error, ErrorKind, Result};

/// Where a scheduler or a worker listens: `tcp://host:port`.
///
/// ```
/// use barrow_distributed::Address;
///
/// let address: Address = "tcp://127.0.0.1:8786".parse()?;
/// assert_eq!(address.port(), 8786);
/// assert_eq!(address.to_string(), "tcp://127.0.0.1:8786");
/// // The scheme may be left out; IPv6 hosts go in brackets.
/// assert_eq!("[::1]:9000".parse::<Address>()?.to_string(), "tcp://[::1]:9000");
/// assert!("udp://host:1".parse::<Address>().is_err());
/// # Ok::<(), barrow_distributed::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    host: String,
    port: u16,
}

impl Address {
    /// The address of `host` and `port`.
    pub fn new(host: impl Into<String>, port: u16) -> Address {
        let host = host.into();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .map_or(host.clone(), str::to_owned);
        Address { host, port }
    }

    /// The host name or IP address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`, as sockets take it.
    pub(crate) fn socket_text(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The address a socket is bound to.
    pub(crate) fn of_socket(address: std::net::SocketAddr) -> Address {
        Address::new(address.ip().to_string(), address.port())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tcp://{}", self.socket_text())
    }
}

impl FromStr for Address {
    type Err = Error;

    fn from_str(text: &str) -> Result<Address> {
        let bad = |why: &str| {
            Error::new(
                ErrorKind::Address,
                format!(
                    "'{text}' is not a cluster address ({why}): write tcp://HOST:PORT, such as \
                     tcp://127.0.0.1:8786"
                ),
            )
        };
        let rest = match text.trim().split_once("://") {
            Some(("tcp", rest)) => rest,
            Some(("tls", _)) => return Err(bad("TLS connections are not supported yet")),
            Some((scheme, _)) => return Err(bad(&format!("unknown scheme '{scheme}'"))),
            None => text.trim(),
        };
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() => (host, port),
            _ => return Err(bad("no port")),
        };
        if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
            return Err(bad("an IPv6 host goes in brackets"));
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| bad(&format!("'{port}' is not a port number")))?;
        Ok(Address::new(host, port))
    }
}

/// What a refused connection means to the one connecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Nothing listens there yet (a scheduler still starting): try again.
    Retry,
    /// Whatever listened there is gone (a peer that registered its
    /// address, now dead): fail at once, so the values it held are
    /// fetched elsewhere or computed again without waiting out the
    /// connect timeout.
    Final,
}

/// Connects to `address`, trying again while it does not answer (and, with
/// [`Refused::Retry`], while nothing listens there yet) until `timeout`
/// has passed since the first attempt; the error names the address, the
/// timeout and the last failure.
pub(crate) async fn connect(
    address: &Address,
    timeout: Duration,
    refused: Refused,
) -> Result<TcpStream> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let attempt = tokio::time::timeout(left, TcpStream::connect(address.socket_text())).await;
        let failure = match attempt {
            Ok(Ok(stream)) => {
                // Small messages go out at once: a task's round trip is
                // the cluster's latency.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) if is_out_of_descriptors(&e) => return Err(out_of_descriptors(&e)),
            Ok(Err(e))
                if refused == Refused::Final
                    && e.kind() == std::io::ErrorKind::ConnectionRefused =>
            {
                return Err(Error::new(
                    ErrorKind::Connect,
                    format!("cannot connect to {address}: {e}; it no longer listens there"),
                )
                .with_source(e));
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer".to_owned(),
        };
        if Instant::now() + pause >= deadline {
            return Err(Error::new(
                ErrorKind::Connect,
                format!(
                    "cannot connect to {address} within {timeout:?} \
                     (distributed.comm.timeouts.connect): {failure}; is a scheduler or worker \
                     running there, and reachable from this machine?"
                ),
            ));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// Listens on `host:port` (port 0: any free port).
pub(crate) async fn listen(host: &str, port: u16) -> Result<TcpListener> {
    let address = Address::new(host, port);
    TcpListener::bind(address.socket_text()).await.map_err(|e| {
        if is_out_of_descriptors(&e) {
            return out_of_descriptors(&e);
        }
        Error::new(
            ErrorKind::Connect,
            format!("cannot listen on {address}: {e}"),
        )
        .with_source(e)
    })
}

/// Whether `error` says the process has no file descriptor left.
pub(crate) fn is_out_of_descriptors(error: &std::io::Error) -> bool {
    // EMFILE (this process) or ENFILE (the system).
    matches!(error.raw_os_error(), Some(24 | 23))
}

/// The error for running out of file descriptors: names the limit and how
/// to raise it (Dask's "too many open files").
pub(crate) fn out_of_descriptors(error: &std::io::Error) -> Error {
    let limit = descriptor_limit().map_or("unknown".to_owned(), |(soft, hard)| {
        format!("{soft} (hard limit {hard})")
    });
    Error::new(
        ErrorKind::Limit,
        format!(
            "too many open files ({error}): this process may open {limit} files and \
             connections; raise the limit with `ulimit -n` before starting it, or for good in \
             /etc/security/limits.conf (nofile), or with LimitNOFILE= in a systemd unit"
        ),
    )
}

/// The soft and hard limits on open file descriptors.
pub(crate) fn descriptor_limit() -> Option<(u64, u64)> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    Some((limit.current?, limit.maximum.unwrap_or(u64::MAX)))
}

/// Raises this process's soft limit on open file descriptors to its hard
/// limit, once: a scheduler holds a connection per worker and client, a
/// worker one per peer. Returns the limit in force.
pub fn raise_descriptor_limit() -> Option<u64> {
    static RAISED: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *RAISED.get_or_init(|| {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        if limit.current.is_some() && limit.current != limit.maximum {
            let raised = rustix::process::Rlimit {
                current: limit.maximum,
                maximum: limit.maximum,
            };
            if let Err(e) = rustix::process::setrlimit(rustix::process::Resource::Nofile, raised) {
                tracing::debug!("cannot raise the open file limit: {e}");
            }
        }
        descriptor_limit().map(|(soft, _)| soft)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print() {
        let a: Address = "tcp://example.org:8786".parse().unwrap();
        assert_eq!((a.host(), a.port()), ("example.org", 8786));
        assert_eq!(a.socket_text(), "example.org:8786");
        let b: Address = "[fe80::1]:1".parse().unwrap();
        assert_eq!(b.host(), "fe80::1");
        assert_eq!(b.socket_text(), "[fe80::1]:1");
        for bad in [
            "",
            "tcp://",
            "host",
            "tcp://host:port",
            "tcp://:1",
            "tls://h:1",
            "::1:4",
        ] {
            let err = bad.parse::<Address>().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Address, "{bad}");
            assert!(err.to_string().contains("tcp://HOST:PORT"), "{err}");
        }
    }

    #[test]
    fn the_descriptor_limit_is_raised_to_the_hard_limit() {
        let raised = raise_descriptor_limit();
        let (soft, hard) = descriptor_limit().unwrap();
        assert_eq!(raised, Some(soft));
        assert_eq!(soft, hard);
    }

    /// A port nothing listens on: one just given back by a listener.
    fn closed_port() -> Address {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        Address::new("127.0.0.1", port)
    }

    fn run<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn a_refused_connection_to_a_peer_that_left_fails_at_once() {
        let address = closed_port();
        // A timeout no test would wait out: the refusal must end it.
        let err = run(connect(&address, Duration::from_secs(3600), Refused::Final)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect);
        assert!(err.to_string().contains("no longer listens"), "{err}");
        assert!(err.to_string().contains(&address.to_string()), "{err}");
    }

    #[test]
    fn a_refused_connection_to_a_scheduler_is_tried_again_until_the_timeout() {
        let address = closed_port();
        let err = run(connect(&address, Duration::from_millis(30), Refused::Retry)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect);
        let text = err.to_string();
        assert!(text.contains("distributed.comm.timeouts.connect"), "{text}");
    }

    #[test]
    fn running_out_of_descriptors_says_how_to_raise_the_limit() {
        let e = std::io::Error::from_raw_os_error(24);
        assert!(is_out_of_descriptors(&e));
        let err = out_of_descriptors(&e);
        assert_eq!(err.kind(), ErrorKind::Limit);
        assert!(err.to_string().contains("ulimit -n"), "{err}");
    }
}
