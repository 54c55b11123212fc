//! Connections: addresses, connecting with a deadline (over TLS for
//! `tls://`), listening, and the file-descriptor limit.

pub(crate) mod framed;
pub(crate) mod greet;
pub(crate) mod peer;
pub(crate) mod stream;
#[cfg(feature = "tls")]
pub(crate) mod tls;

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

use crate::error::{Error, ErrorKind, Result};
use crate::settings::{CA_FILE, REQUIRE_ENCRYPTION, Security};
pub(crate) use stream::Stream;

/// How a connection is carried: plain TCP, or TLS over TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `tcp://`: plain TCP; the handshake proves the cluster's token, the
    /// rest is not encrypted.
    Tcp,
    /// `tls://`: TLS over TCP, both sides authenticated by certificates
    /// of the cluster's CA (`distributed.comm.tls.*`), then the same
    /// handshake inside.
    Tls,
}

impl Scheme {
    /// `tcp` or `tls`.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Tcp => "tcp",
            Scheme::Tls => "tls",
        }
    }
}

/// Where a scheduler or a worker listens: `tcp://host:port` or
/// `tls://host:port`.
///
/// ```
/// use barrow_distributed::{Address, Scheme};
///
/// let address: Address = "tcp://127.0.0.1:8786".parse()?;
/// assert_eq!(address.port(), 8786);
/// assert_eq!(address.to_string(), "tcp://127.0.0.1:8786");
/// // The scheme may be left out (plain TCP); IPv6 hosts go in brackets.
/// assert_eq!("[::1]:9000".parse::<Address>()?.to_string(), "tcp://[::1]:9000");
/// assert_eq!("tls://example.org:8786".parse::<Address>()?.scheme(), Scheme::Tls);
/// assert!("udp://host:1".parse::<Address>().is_err());
/// # Ok::<(), barrow_distributed::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Address {
    scheme: Scheme,
    host: String,
    port: u16,
}

impl Address {
    /// The plain TCP address of `host` and `port`.
    pub fn new(host: impl Into<String>, port: u16) -> Address {
        Address::with_scheme(Scheme::Tcp, host, port)
    }

    /// The address of `host` and `port` over `scheme`.
    pub fn with_scheme(scheme: Scheme, host: impl Into<String>, port: u16) -> Address {
        let host = host.into();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .map_or(host.clone(), str::to_owned);
        Address { scheme, host, port }
    }

    /// How connections to it are carried.
    pub fn scheme(&self) -> Scheme {
        self.scheme
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

    /// The address a socket is bound to, over `scheme`.
    pub(crate) fn of_socket(scheme: Scheme, address: std::net::SocketAddr) -> Address {
        Address::with_scheme(scheme, address.ip().to_string(), address.port())
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.name(), self.socket_text())
    }
}

impl FromStr for Address {
    type Err = Error;

    fn from_str(text: &str) -> Result<Address> {
        let bad = |why: &str| {
            Error::new(
                ErrorKind::Address,
                format!(
                    "'{text}' is not a cluster address ({why}): write tcp://HOST:PORT (or \
                     tls://HOST:PORT for TLS), such as tcp://127.0.0.1:8786"
                ),
            )
        };
        let (scheme, rest) = match text.trim().split_once("://") {
            Some(("tcp", rest)) => (Scheme::Tcp, rest),
            Some(("tls", rest)) => (Scheme::Tls, rest),
            Some((scheme, _)) => return Err(bad(&format!("unknown scheme '{scheme}'"))),
            None => (Scheme::Tcp, text.trim()),
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
        Ok(Address::with_scheme(scheme, host, port))
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

/// Whether `security` lets this process connect to or listen on
/// `address`: plain TCP is refused under
/// `distributed.comm.require-encryption`, TLS needs the CA (and, to
/// listen, a certificate).
fn check_scheme(address: &Address, security: &Security, listening: bool) -> Result<()> {
    let verb = if listening { "listen on" } else { "connect to" };
    let role = security.role;
    match address.scheme() {
        Scheme::Tcp if security.require_encryption => Err(Error::new(
            ErrorKind::Tls,
            format!(
                "cannot {verb} {address}: {REQUIRE_ENCRYPTION} is true and tcp:// is not \
                 encrypted; {} or set {REQUIRE_ENCRYPTION} to false",
                if listening {
                    format!(
                        "give this {} a certificate ({}, {} and {CA_FILE}) so it listens on \
                         tls://,",
                        role.name(),
                        role.cert_setting(),
                        role.key_setting()
                    )
                } else {
                    format!(
                        "connect to the cluster's tls:// address (with {CA_FILE}, {} and {} \
                         set),",
                        role.cert_setting(),
                        role.key_setting()
                    )
                }
            ),
        )),
        Scheme::Tcp => Ok(()),
        #[cfg(not(feature = "tls"))]
        Scheme::Tls => Err(Error::new(
            ErrorKind::Config,
            format!(
                "cannot {verb} {address}: this build of barrow-distributed has no TLS (its \
                 `tls` feature is off)"
            ),
        )),
        #[cfg(feature = "tls")]
        Scheme::Tls => match &security.tls {
            Some(tls) if !listening || tls.acceptor().is_some() => Ok(()),
            Some(_) => Err(Error::new(
                ErrorKind::Config,
                format!(
                    "cannot {verb} {address}: this {} has no certificate; set {} and {}",
                    role.name(),
                    role.cert_setting(),
                    role.key_setting()
                ),
            )),
            None => Err(Error::new(
                ErrorKind::Config,
                format!(
                    "cannot {verb} {address}: TLS checks the other side's certificate against \
                     {CA_FILE}, which is not set; set it to the CA certificate of the cluster, \
                     and {} and {} to this {}'s certificate and key",
                    role.cert_setting(),
                    role.key_setting(),
                    role.name()
                ),
            )),
        },
    }
}

/// Connects to `address`, trying again while it does not answer (and, with
/// [`Refused::Retry`], while nothing listens there yet) until `timeout`
/// has passed since the first attempt; the error names the address, the
/// timeout and the last failure. A `tls://` address is then given the
/// TLS handshake, within what is left of `timeout`.
pub(crate) async fn connect(
    address: &Address,
    timeout: Duration,
    refused: Refused,
    security: &Security,
) -> Result<Stream> {
    check_scheme(address, security, false)?;
    let started = Instant::now();
    let tcp = connect_tcp(address, timeout, refused).await?;
    match address.scheme() {
        Scheme::Tcp => Ok(Stream::Tcp(tcp)),
        #[cfg(feature = "tls")]
        Scheme::Tls => {
            let Some(tls) = &security.tls else {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("cannot connect to {address}: {CA_FILE} is not set"),
                ));
            };
            let left = timeout.saturating_sub(started.elapsed());
            tls.connect(tcp, address.host(), left, &address.to_string())
                .await
        }
        #[cfg(not(feature = "tls"))]
        Scheme::Tls => {
            let _ = started;
            Err(Error::new(
                ErrorKind::Config,
                format!("cannot connect to {address}: this build has no TLS"),
            ))
        }
    }
}

async fn connect_tcp(address: &Address, timeout: Duration, refused: Refused) -> Result<TcpStream> {
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

/// A listening socket, plain or TLS.
pub(crate) struct Listener {
    tcp: TcpListener,
    address: Address,
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Listener({})", self.address)
    }
}

/// A connection accepted, before its TLS handshake (if any).
pub(crate) struct Incoming {
    tcp: TcpStream,
    /// Who connected.
    pub(crate) peer: std::net::SocketAddr,
    /// Where it connected.
    address: Address,
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
}

/// The first byte of a TLS connection (a handshake record).
pub(crate) const TLS_HANDSHAKE_RECORD: u8 = 0x16;

impl Listener {
    /// Where it listens (with the port it was given).
    pub(crate) fn address(&self) -> &Address {
        &self.address
    }

    /// The next connection.
    pub(crate) async fn accept(&self) -> std::io::Result<Incoming> {
        let (tcp, peer) = self.tcp.accept().await?;
        let _ = tcp.set_nodelay(true);
        Ok(Incoming {
            tcp,
            peer,
            address: self.address.clone(),
            #[cfg(feature = "tls")]
            tls: self.tls.clone(),
        })
    }
}

impl Incoming {
    /// The connection, once its TLS handshake (on a TLS listener) is
    /// done, within `timeout`. A plain Barrow connector on a TLS listener
    /// is told, in plain words it reads, to connect with TLS.
    pub(crate) async fn open(self, timeout: Duration, label: &str) -> Result<Stream> {
        #[cfg(feature = "tls")]
        if let Some(acceptor) = self.tls {
            let work = accept_tls(acceptor, self.tcp, &self.address, label);
            return tokio::time::timeout(timeout, work).await.map_err(|_| {
                Error::new(
                    ErrorKind::Tls,
                    format!("{label} did not complete the TLS handshake within {timeout:?}"),
                )
            })?;
        }
        let _ = (timeout, label, &self.address, self.peer);
        Ok(Stream::Tcp(self.tcp))
    }
}

#[cfg(feature = "tls")]
async fn accept_tls(
    acceptor: tokio_rustls::TlsAcceptor,
    mut tcp: TcpStream,
    address: &Address,
    label: &str,
) -> Result<Stream> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut first = [0u8; 1];
    let peeked = tcp
        .peek(&mut first)
        .await
        .map_err(|e| Error::new(ErrorKind::Closed, format!("cannot read from {label}: {e}")))?;
    if peeked == 0 {
        return Err(Error::new(
            ErrorKind::Closed,
            format!("{label} closed the connection before the TLS handshake"),
        ));
    }
    if first[0] != TLS_HANDSHAKE_RECORD {
        let mut preamble = [0u8; greet::PREAMBLE.len()];
        let plain = tcp.read_exact(&mut preamble).await.is_ok() && preamble == greet::PREAMBLE;
        if plain {
            // Its handshake reads this refusal where it expects the
            // challenge.
            greet::refuse(
                &mut tcp,
                &format!(
                    "{address} takes only TLS connections: connect to {address}, with \
                     {CA_FILE} and this process's certificate set"
                ),
            )
            .await;
            let _ = tcp.shutdown().await;
        }
        return Err(Error::new(
            ErrorKind::Tls,
            format!(
                "{label} connected {} to this TLS listener ({address})",
                if plain {
                    "in plain TCP (tcp://); it was told to connect with tls://"
                } else {
                    "without TLS, with bytes that are not Barrow's"
                }
            ),
        ));
    }
    tls::accept(&acceptor, tcp, label).await
}

/// Listens on `host:port` (port 0: any free port) over `scheme`: TLS
/// takes this process's certificate; plain TCP is refused under
/// `distributed.comm.require-encryption`.
pub(crate) async fn listen(
    host: &str,
    port: u16,
    scheme: Scheme,
    security: &Security,
) -> Result<Listener> {
    let wanted = Address::with_scheme(scheme, host, port);
    check_scheme(&wanted, security, true)?;
    let tcp = TcpListener::bind(wanted.socket_text()).await.map_err(|e| {
        if is_out_of_descriptors(&e) {
            return out_of_descriptors(&e);
        }
        Error::new(
            ErrorKind::Connect,
            format!("cannot listen on {wanted}: {e}"),
        )
        .with_source(e)
    })?;
    let address = tcp
        .local_addr()
        .map(|mut bound| {
            // Bound to every interface: say where others reach it, not
            // 0.0.0.0 (an address that means "this machine" to whoever
            // dials it).
            if bound.ip().is_unspecified() {
                bound.set_ip(outward_ip().unwrap_or(std::net::Ipv4Addr::LOCALHOST.into()));
            }
            Address::of_socket(scheme, bound)
        })
        .map_err(|e| {
            Error::new(
                ErrorKind::Connect,
                format!("cannot read the address {wanted} is bound to: {e}"),
            )
        })?;
    Ok(Listener {
        tcp,
        address,
        #[cfg(feature = "tls")]
        tls: match scheme {
            Scheme::Tls => security.tls.as_ref().and_then(|t| t.acceptor().cloned()),
            Scheme::Tcp => None,
        },
    })
}

/// The address this machine's default route leaves from: where peers on
/// other machines reach a server that listens on every interface. `None`
/// without a route. No packet is sent: connecting a UDP socket only picks
/// the route (to TEST-NET-1, an address never in use).
pub fn outward_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
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
    use crate::settings::TlsRole;

    #[test]
    fn addresses_parse_and_print() {
        let a: Address = "tcp://example.org:8786".parse().unwrap();
        assert_eq!((a.host(), a.port()), ("example.org", 8786));
        assert_eq!(a.socket_text(), "example.org:8786");
        let b: Address = "[fe80::1]:1".parse().unwrap();
        assert_eq!(b.host(), "fe80::1");
        assert_eq!(b.socket_text(), "[fe80::1]:1");
        let c: Address = "tls://h:1".parse().unwrap();
        assert_eq!((c.scheme(), c.host(), c.port()), (Scheme::Tls, "h", 1));
        assert_eq!(c.to_string(), "tls://h:1");
        assert_eq!(a.scheme(), Scheme::Tcp);
        assert_ne!(c, "tcp://h:1".parse::<Address>().unwrap());
        assert_eq!(
            "tls://[::1]:2".parse::<Address>().unwrap().to_string(),
            "tls://[::1]:2"
        );
        for bad in [
            "",
            "tcp://",
            "tls://",
            "host",
            "tcp://host:port",
            "tcp://:1",
            "ssl://h:1",
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
        let security = Security::plain(TlsRole::Client);
        let err = run(connect(
            &address,
            Duration::from_secs(3600),
            Refused::Final,
            &security,
        ))
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect);
        assert!(err.to_string().contains("no longer listens"), "{err}");
        assert!(err.to_string().contains(&address.to_string()), "{err}");
    }

    #[test]
    fn a_refused_connection_to_a_scheduler_is_tried_again_until_the_timeout() {
        let address = closed_port();
        let security = Security::plain(TlsRole::Client);
        let err = run(connect(
            &address,
            Duration::from_millis(30),
            Refused::Retry,
            &security,
        ))
        .unwrap_err();
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

    #[test]
    fn a_server_on_every_interface_says_where_it_is_reached() {
        let security = Security::plain(TlsRole::Scheduler);
        let listener = run(listen("0.0.0.0", 0, Scheme::Tcp, &security)).unwrap();
        let address = listener.address().clone();
        assert_ne!(address.host(), "0.0.0.0", "{address}");
        // And it is reached there.
        std::net::TcpStream::connect(address.socket_text()).unwrap();
    }
}
