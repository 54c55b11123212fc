//! Driving the handshake ([`crate::protocol::handshake`]) over a stream,
//! on either side, within a deadline.

use std::time::Duration;

use barrow_wire::message::Kind;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::comm::framed::{read_message, write_plain};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::handshake::{
    Assigned, Greet, Hello, NONCE_LEN, PROTOCOL_VERSION, Role, Secret, Welcome, WorkerRegistration,
    check_versions, random_bytes, same_proof,
};

/// What a connector sends first, before it reads the challenge: it tells
/// a Barrow listener from anything else, and lets a TLS listener tell a
/// plain connector (which it answers with a refusal in plain words) from a
/// TLS one (whose first byte is 0x16) without waiting.
pub(crate) const PREAMBLE: [u8; 8] = *b"BRWCONN1";

/// Handshake messages are small: a worker's list of function names is
/// the largest part.
const GREETING_LIMIT: u64 = 16 << 20;

/// Reads one handshake message.
async fn read_greet<S: AsyncRead + Unpin>(stream: &mut S, peer: &str) -> Result<Greet> {
    let message = read_message(stream, GREETING_LIMIT)
        .await?
        .ok_or_else(|| Error::new(ErrorKind::Closed, format!("{peer} closed the connection")))?;
    if message.kind() != Kind::Greet {
        return Err(Error::new(
            ErrorKind::Protocol,
            format!(
                "{peer} sent a {:?} message where the handshake was expected",
                message.kind()
            ),
        ));
    }
    Ok(message.body()?)
}

async fn within<T>(
    timeout: Duration,
    peer: &str,
    work: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(timeout, work).await.map_err(|_| {
        Error::new(
            ErrorKind::Handshake,
            format!("{peer} did not complete the handshake within {timeout:?}"),
        )
    })?
}

/// The accepting side, between the connector's greeting and the answer.
#[derive(Debug)]
pub(crate) struct Pending {
    challenge: [u8; NONCE_LEN],
    /// What the connector said.
    pub(crate) hello: Hello,
}

/// Opens the handshake on an accepted connection: sends the challenge and
/// reads the greeting, checking the versions and the proof of the token.
/// A wrong token or version is answered with the reason before the error
/// is returned (for the caller's log, which names the peer).
pub(crate) async fn open<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    secret: &Secret,
    timeout: Duration,
    peer: &str,
) -> Result<Pending> {
    within(timeout, peer, async {
        let challenge: [u8; NONCE_LEN] = random_bytes()?;
        write_plain(
            stream,
            Kind::Greet,
            &Greet::Challenge {
                protocol: PROTOCOL_VERSION,
                barrow_version: env!("CARGO_PKG_VERSION").to_owned(),
                nonce: challenge,
            },
        )
        .await?;
        read_preamble(stream, peer).await?;
        let hello = match read_greet(stream, peer).await? {
            Greet::Hello(hello) => *hello,
            other => {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!("{peer} answered the challenge with {}", name(&other)),
                ));
            }
        };
        if let Err(error) = check_versions(hello.protocol, &hello.barrow_version, peer) {
            refuse(stream, error.message()).await;
            return Err(error);
        }
        let expected = secret.hello_proof(&challenge, &hello.nonce, hello.role);
        if !same_proof(&expected, &hello.proof) {
            let reason = "wrong token: this cluster's token is not the one the connecting \
                          process was given (distributed.security.token or the token file)";
            refuse(stream, reason).await;
            return Err(Error::new(
                ErrorKind::Handshake,
                format!("{peer} connected with a {reason}"),
            ));
        }
        Ok(Pending { challenge, hello })
    })
    .await
}

/// Reads the connector's [`PREAMBLE`]. A TLS handshake instead (on a
/// plain listener) is read to the end of its first record, so the
/// connection closes cleanly and the connector reads the challenge it got
/// as "not TLS".
async fn read_preamble<S: AsyncRead + Unpin>(stream: &mut S, peer: &str) -> Result<()> {
    let mut preamble = [0u8; PREAMBLE.len()];
    stream.read_exact(&mut preamble).await.map_err(|e| {
        Error::new(
            ErrorKind::Closed,
            format!("{peer} closed the connection before its greeting: {e}"),
        )
    })?;
    if preamble == PREAMBLE {
        return Ok(());
    }
    if preamble[0] == crate::comm::TLS_HANDSHAKE_RECORD && preamble[1] == 3 {
        // A TLS record: type, version (2 bytes), length (2 bytes).
        let length = u16::from_be_bytes([preamble[3], preamble[4]]) as usize;
        let mut rest = vec![0u8; length.saturating_sub(PREAMBLE.len() - 5)];
        let _ = stream.read_exact(&mut rest).await;
        return Err(Error::new(
            ErrorKind::Tls,
            format!(
                "{peer} began a TLS handshake, but this listener takes plain TCP (tcp://): \
                 connect to its tcp:// address, or give this process a certificate \
                 (distributed.comm.tls.*) so it listens on tls://"
            ),
        ));
    }
    Err(Error::new(
        ErrorKind::Protocol,
        format!("{peer} is not a Barrow process: it did not open with Barrow's greeting"),
    ))
}

/// Accepts the connection, assigning what `assigned` says.
pub(crate) async fn welcome<S: AsyncWrite + Unpin>(
    stream: &mut S,
    secret: &Secret,
    pending: &Pending,
    assigned: Assigned,
) -> Result<()> {
    let proof = secret.welcome_proof(&pending.hello.nonce, &pending.challenge);
    write_plain(
        stream,
        Kind::Greet,
        &Greet::Welcome(Box::new(Welcome { proof, assigned })),
    )
    .await
}

/// Refuses the connection, saying why (the peer may be gone already).
pub(crate) async fn refuse<S: AsyncWrite + Unpin>(stream: &mut S, reason: &str) {
    let _ = write_plain(stream, Kind::Greet, &Greet::Refused(reason.to_owned())).await;
}

/// The connecting side: answers the challenge as `role` and returns what
/// the acceptor assigned, once it proved it knows the token too.
pub(crate) async fn join<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    secret: &Secret,
    role: Role,
    worker: Option<WorkerRegistration>,
    serves_at: Option<String>,
    timeout: Duration,
    peer: &str,
) -> Result<Assigned> {
    within(timeout, peer, async {
        let greeted = async {
            stream.write_all(&PREAMBLE).await?;
            stream.flush().await
        };
        greeted
            .await
            .map_err(|e| Error::new(ErrorKind::Closed, format!("cannot greet {peer}: {e}")))?;
        let first = read_greet(stream, peer).await;
        // A TLS acceptor that refuses this process's certificate says so
        // here, in the first read after the TLS handshake.
        #[cfg(feature = "tls")]
        let first = first.map_err(|e| match role {
            Role::Worker => crate::comm::tls::for_role(e, crate::settings::TlsRole::Worker, peer),
            Role::Client => crate::comm::tls::for_role(e, crate::settings::TlsRole::Client, peer),
            Role::Peer => e,
        });
        let (protocol, barrow_version, challenge) = match first? {
            Greet::Challenge {
                protocol,
                barrow_version,
                nonce,
            } => (protocol, barrow_version, nonce),
            // A TLS listener refuses a plain connection before any
            // challenge.
            Greet::Refused(reason) => {
                return Err(Error::new(
                    ErrorKind::Tls,
                    format!("{peer} refused the connection: {reason}"),
                ));
            }
            other => {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!("{peer} opened with {} instead of a challenge", name(&other)),
                ));
            }
        };
        check_versions(protocol, &barrow_version, peer)?;
        let nonce: [u8; NONCE_LEN] = random_bytes()?;
        let hello = Hello {
            protocol: PROTOCOL_VERSION,
            barrow_version: env!("CARGO_PKG_VERSION").to_owned(),
            role,
            nonce,
            proof: secret.hello_proof(&challenge, &nonce, role),
            pid: std::process::id(),
            worker,
            serves_at,
        };
        write_plain(stream, Kind::Greet, &Greet::Hello(Box::new(hello))).await?;
        match read_greet(stream, peer).await? {
            Greet::Welcome(welcome) => {
                if !same_proof(&welcome.proof, &secret.welcome_proof(&nonce, &challenge)) {
                    return Err(Error::new(
                        ErrorKind::Handshake,
                        format!(
                            "{peer} accepted the connection without proving it knows the token: \
                             it is not the cluster it claims to be"
                        ),
                    ));
                }
                Ok(welcome.assigned)
            }
            Greet::Refused(reason) => Err(Error::new(
                ErrorKind::Handshake,
                format!("{peer} refused the connection: {reason}"),
            )),
            other => Err(Error::new(
                ErrorKind::Protocol,
                format!("{peer} answered the greeting with {}", name(&other)),
            )),
        }
    })
    .await
}

fn name(greet: &Greet) -> &'static str {
    match greet {
        Greet::Challenge { .. } => "a challenge",
        Greet::Hello(_) => "a greeting",
        Greet::Welcome(_) => "a welcome",
        Greet::Refused(_) => "a refusal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn exchange(
        acceptor_token: &str,
        connector_token: &str,
    ) -> (Result<Pending>, Result<Assigned>) {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let accept_secret = Secret::from_token(acceptor_token);
        let join_secret = Secret::from_token(connector_token);
        let timeout = Duration::from_secs(5);
        let acceptor = async {
            let pending = open(&mut a, &accept_secret, timeout, "the client").await;
            if let Ok(pending) = &pending {
                welcome(&mut a, &accept_secret, pending, Assigned::Peer)
                    .await
                    .unwrap();
            }
            pending
        };
        let connector = join(
            &mut b,
            &join_secret,
            Role::Peer,
            None,
            None,
            timeout,
            "the worker",
        );
        tokio::join!(acceptor, connector)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_same_token_on_both_sides_is_welcome() {
        let (pending, assigned) = exchange("s3cret", "s3cret").await;
        assert_eq!(pending.unwrap().hello.role, Role::Peer);
        assert!(matches!(assigned.unwrap(), Assigned::Peer));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_wrong_token_is_refused_on_both_sides() {
        let (pending, assigned) = exchange("s3cret", "guess").await;
        let err = pending.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Handshake);
        assert!(
            err.to_string()
                .contains("the client connected with a wrong token"),
            "{err}"
        );
        let err = assigned.unwrap_err();
        assert!(
            err.to_string()
                .contains("refused the connection: wrong token"),
            "{err}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_peer_of_another_version_is_refused_naming_both() {
        let (mut a, mut b) = tokio::io::duplex(1 << 16);
        let secret = Secret::from_token("s");
        let timeout = Duration::from_secs(5);
        let acceptor = open(&mut a, &secret, timeout, "the worker at 10.0.0.7:4000");
        let old_peer = async {
            b.write_all(&PREAMBLE).await.unwrap();
            let Greet::Challenge {
                nonce: challenge, ..
            } = read_greet(&mut b, "x").await.unwrap()
            else {
                panic!("no challenge");
            };
            let nonce = [9u8; NONCE_LEN];
            let hello = Hello {
                protocol: PROTOCOL_VERSION,
                barrow_version: "0.0.1".into(),
                role: Role::Worker,
                nonce,
                proof: secret.hello_proof(&challenge, &nonce, Role::Worker),
                pid: 1,
                worker: None,
                serves_at: None,
            };
            write_plain(&mut b, Kind::Greet, &Greet::Hello(Box::new(hello)))
                .await
                .unwrap();
            read_greet(&mut b, "x").await.unwrap()
        };
        let (refused, answer) = tokio::join!(acceptor, old_peer);
        let err = refused.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Handshake);
        let text = err.to_string();
        assert!(text.contains("10.0.0.7:4000 runs Barrow 0.0.1"), "{text}");
        assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
        assert!(matches!(answer, Greet::Refused(reason) if reason.contains("0.0.1")));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_silent_peer_times_out() {
        let (_a, mut b) = tokio::io::duplex(1 << 16);
        let secret = Secret::from_token("x");
        let err = join(
            &mut b,
            &secret,
            Role::Client,
            None,
            None,
            Duration::from_millis(50),
            "s",
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains("did not complete the handshake"),
            "{err}"
        );
    }
}
