//! The handshake every cluster connection starts with, and the proof of
//! the shared secret.
//!
//! The side that accepted the connection speaks first, so that the whole
//! exchange costs one round trip after connecting; the connector's fixed
//! preamble (`BRWCONN1`) crosses the challenge:
//!
//! ```text
//! connector -> preamble
//! acceptor  -> Challenge { protocol, barrow version, nonce_a }
//! connector -> Hello { protocol, barrow version, role, nonce_c,
//!                      proof = MAC(key, "hello" | nonce_a | nonce_c | role), who it is }
//! acceptor  -> Welcome { proof = MAC(key, "welcome" | nonce_c | nonce_a), what it assigns }
//!           or Refused { why }
//! ```
//!
//! The key is derived from the cluster's token with BLAKE3's key
//! derivation, and the MAC is BLAKE3's keyed hash: the token never crosses
//! the network, a recorded exchange cannot be replayed (both nonces are
//! fresh), and each side proves it knows the token, so a client cannot be
//! fooled by a scheduler that does not. Over plain TCP (`tcp://`) the
//! messages after the handshake are not encrypted; over `tls://` the same
//! exchange runs inside TLS, after both sides' certificates were checked
//! (`comm/tls.rs`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{ClientId, WorkerId, WorkerSummary};

/// The version of the cluster protocol this build speaks; peers of another
/// version refuse each other at the handshake.
pub const PROTOCOL_VERSION: u16 = 5;

/// Bytes of a nonce.
pub(crate) const NONCE_LEN: usize = 32;

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// A worker joining its scheduler.
    Worker,
    /// A client of the scheduler.
    Client,
    /// A worker or a client fetching data from a worker.
    Peer,
}

impl Role {
    fn code(self) -> u8 {
        match self {
            Role::Worker => 1,
            Role::Client => 2,
            Role::Peer => 3,
        }
    }
}

/// The handshake messages (the body of a `Greet` wire message).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Greet {
    /// The acceptor's opening.
    Challenge {
        /// Its protocol version.
        protocol: u16,
        /// Its Barrow version.
        barrow_version: String,
        /// A fresh nonce.
        nonce: [u8; NONCE_LEN],
    },
    /// The connector's answer.
    Hello(Box<Hello>),
    /// The acceptor accepts.
    Welcome(Box<Welcome>),
    /// The acceptor refuses, saying why.
    Refused(String),
}

/// The connector's greeting.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    /// Its protocol version.
    pub protocol: u16,
    /// Its Barrow version.
    pub barrow_version: String,
    /// What the connection is for.
    pub role: Role,
    /// A fresh nonce.
    pub nonce: [u8; NONCE_LEN],
    /// Its proof of the token.
    pub proof: [u8; 32],
    /// Its process id, for logs.
    pub pid: u32,
    /// A worker's registration (for [`Role::Worker`]).
    pub worker: Option<WorkerRegistration>,
    /// Where the connector serves data itself, for a worker connecting to
    /// a peer: the connection then serves both ways.
    pub serves_at: Option<String>,
}

/// What a worker says about itself when it joins.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerRegistration {
    /// Its name (unique in the cluster).
    pub name: String,
    /// Where it serves data to peers (`tcp://host:port`).
    pub address: String,
    /// Its task threads.
    pub nthreads: u32,
    /// Its memory limit in bytes (0: none).
    pub memory_limit: u64,
    /// Its abstract resources.
    pub resources: Vec<(String, f64)>,
    /// The functions it has registered.
    pub functions: Vec<String>,
    /// A fingerprint of those functions (workers of one build share it).
    pub functions_fingerprint: u64,
    /// The plugins it has loaded, as `name version`.
    pub plugins: Vec<String>,
    /// Its host name, for logs.
    pub host: String,
    /// Its process id: with its name, what a nanny's report of its death
    /// refers to.
    pub pid: u32,
    /// How the worker this one replaces died, as its nanny saw it (the
    /// nanny starts a worker again after a death and hands it the report).
    pub previous: Option<Death>,
}

/// A nanny's account of how its worker process died: unexpected exits
/// only (a signal, an exit code other than 0 and the restart code, a
/// kill for memory).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Death {
    /// The dead process's id.
    pub pid: u32,
    /// What killed it, in words: `killed by signal 9 (SIGKILL)`, `exited
    /// with code 3`, `killed by its nanny for memory: ...`.
    pub cause: String,
    /// The tasks (and their runs) it was executing when it died, from the
    /// board its task threads write to.
    pub executing: Vec<(crate::protocol::TaskId, u64)>,
    /// The last lines it wrote to stdout and stderr.
    pub output: Vec<String>,
}

/// The acceptor's welcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Welcome {
    /// Its proof of the token.
    pub proof: [u8; 32],
    /// What it assigns.
    pub assigned: Assigned,
}

/// What a welcome assigns, by role.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Assigned {
    /// A worker's id and the cluster's settings for workers.
    Worker {
        /// Its id.
        id: WorkerId,
        /// Heartbeat interval, in milliseconds.
        heartbeat_ms: u64,
        /// The workers already there.
        peers: Vec<(WorkerId, String)>,
    },
    /// A client's id and the workers there are.
    Client {
        /// Its id.
        id: ClientId,
        /// The workers.
        workers: Vec<WorkerSummary>,
    },
    /// A peer connection to a worker.
    Peer,
}

/// The MAC key of a token.
#[derive(Clone)]
pub struct Secret([u8; 32]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// The key of `token` (any text; a generated token is 64 hex digits).
    pub fn from_token(token: &str) -> Secret {
        Secret(blake3::derive_key(
            "barrow-distributed 2026-12 cluster token",
            token.trim().as_bytes(),
        ))
    }

    /// The connector's proof for the acceptor's `challenge`.
    pub(crate) fn hello_proof(
        &self,
        challenge: &[u8; NONCE_LEN],
        nonce: &[u8; NONCE_LEN],
        role: Role,
    ) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(b"hello");
        hasher.update(challenge);
        hasher.update(nonce);
        hasher.update(&[role.code()]);
        *hasher.finalize().as_bytes()
    }

    /// The acceptor's proof for the connector's `nonce`.
    pub(crate) fn welcome_proof(
        &self,
        nonce: &[u8; NONCE_LEN],
        challenge: &[u8; NONCE_LEN],
    ) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(b"welcome");
        hasher.update(nonce);
        hasher.update(challenge);
        *hasher.finalize().as_bytes()
    }
}

/// Compares two proofs in constant time (a timing difference must not
/// tell an attacker how many bytes were right).
pub(crate) fn same_proof(a: &[u8; 32], b: &[u8; 32]) -> bool {
    blake3::Hash::from_bytes(*a) == blake3::Hash::from_bytes(*b)
}

/// Fresh random bytes from the operating system.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::new(
            ErrorKind::Handshake,
            format!("the operating system gave no random bytes for the handshake: {e}"),
        )
    })?;
    Ok(bytes)
}

/// A random number from the operating system.
pub(crate) fn random_u64() -> Result<u64> {
    random_bytes::<8>().map(u64::from_le_bytes)
}

/// A new random token: 64 hex digits (256 bits).
pub fn generate_token() -> Result<String> {
    let bytes: [u8; 32] = random_bytes()?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Checks a peer's protocol and Barrow versions against this build's.
pub(crate) fn check_versions(protocol: u16, barrow_version: &str, peer: &str) -> Result<()> {
    if protocol != PROTOCOL_VERSION || barrow_version != env!("CARGO_PKG_VERSION") {
        return Err(Error::new(
            ErrorKind::Handshake,
            format!(
                "{peer} runs Barrow {barrow_version} (cluster protocol {protocol}), this process \
                 runs Barrow {} (cluster protocol {PROTOCOL_VERSION}): run the same version of \
                 Barrow on the scheduler, the workers and the clients",
                env!("CARGO_PKG_VERSION")
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proofs_depend_on_the_token_both_nonces_and_the_role() {
        let secret = Secret::from_token("abc");
        let a = [1u8; NONCE_LEN];
        let c = [2u8; NONCE_LEN];
        let proof = secret.hello_proof(&a, &c, Role::Client);
        assert!(same_proof(
            &proof,
            &Secret::from_token(" abc\n").hello_proof(&a, &c, Role::Client)
        ));
        assert!(!same_proof(
            &proof,
            &Secret::from_token("abd").hello_proof(&a, &c, Role::Client)
        ));
        assert!(!same_proof(
            &proof,
            &secret.hello_proof(&c, &a, Role::Client)
        ));
        assert!(!same_proof(
            &proof,
            &secret.hello_proof(&a, &c, Role::Worker)
        ));
        assert!(!same_proof(&proof, &secret.welcome_proof(&c, &a)));
        assert!(!format!("{secret:?}").contains("abc"));
    }

    #[test]
    fn tokens_are_fresh_hex() {
        let one = generate_token().unwrap();
        assert_eq!(one.len(), 64);
        assert!(one.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(one, generate_token().unwrap());
    }

    #[test]
    fn another_version_is_named() {
        check_versions(PROTOCOL_VERSION, env!("CARGO_PKG_VERSION"), "peer").unwrap();
        let err = check_versions(PROTOCOL_VERSION, "0.0.1", "worker w1").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Handshake);
        assert!(
            err.to_string().contains("worker w1 runs Barrow 0.0.1"),
            "{err}"
        );
    }
}
