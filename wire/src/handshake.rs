//! The handshake: before any task, a worker says who it is and the pool
//! decides whether to work with it. A worker of another wire version, of
//! another build of the program, with other registered functions, or
//! without the pool's secret token is refused with a message naming both
//! sides — Dask's advice to run the same versions everywhere, enforced.

use std::fmt;
use std::sync::OnceLock;

use barrow_core::Registry;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};
use crate::message::WIRE_VERSION;

/// What identifies a build: the executable file, and what it registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildIdentity {
    /// The version of Barrow it was built with.
    pub barrow_version: String,
    /// The running executable file: xxh3-64 of its device, inode, size and
    /// modification time (see [`executable_id`]).
    pub executable: u64,
    /// [`FunctionRegistry::fingerprint`](barrow_core::function::FunctionRegistry::fingerprint).
    pub functions: u64,
    /// [`CodecRegistry::fingerprint`](barrow_core::codec::CodecRegistry::fingerprint).
    pub codecs: u64,
}

impl BuildIdentity {
    /// This process's identity, with the registrations of `registry`.
    pub fn current(registry: &Registry) -> BuildIdentity {
        BuildIdentity {
            barrow_version: env!("CARGO_PKG_VERSION").to_owned(),
            executable: executable_id(),
            functions: registry.functions().fingerprint(),
            codecs: registry.codecs().fingerprint(),
        }
    }
}

impl fmt::Display for BuildIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "barrow {}, executable {:016x}, functions {:016x}, codecs {:016x}",
            self.barrow_version, self.executable, self.functions, self.codecs
        )
    }
}

/// Identifies the file this process runs, read once per process: xxh3-64
/// of its device, inode, size and modification time. On Linux it is read
/// through `/proc/self/exe`, which stays bound to the file the process
/// started from even when the path is rebuilt or replaced, so a worker
/// started from a newer binary differs from the program that started it.
/// (Hashing the bytes would cost 50 ms for a 140 MB binary with debug
/// information, in every worker start.) 0 when the file cannot be read.
pub fn executable_id() -> u64 {
    static ID: OnceLock<u64> = OnceLock::new();
    *ID.get_or_init(|| {
        let path = if cfg!(target_os = "linux") {
            std::path::PathBuf::from("/proc/self/exe")
        } else {
            match std::env::current_exe() {
                Ok(path) => path,
                Err(_) => return 0,
            }
        };
        let Ok(meta) = std::fs::metadata(path) else {
            return 0;
        };
        let mut bytes = Vec::with_capacity(40);
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            bytes.extend_from_slice(&meta.dev().to_le_bytes());
            bytes.extend_from_slice(&meta.ino().to_le_bytes());
        }
        bytes.extend_from_slice(&meta.len().to_le_bytes());
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        bytes.extend_from_slice(&modified.to_le_bytes());
        xxhash_rust::xxh3::xxh3_64(&bytes)
    })
}

/// What a worker says first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    /// The wire version it speaks (also in every message header).
    pub wire_version: u16,
    /// Its build.
    pub build: BuildIdentity,
    /// The names it has registered, so a mismatch can be listed.
    pub functions: Vec<String>,
    /// Its process id.
    pub pid: u32,
    /// The token the pool gave it when it started it.
    pub token: u64,
}

impl Hello {
    /// This process's greeting, with `token`.
    pub fn current(registry: &Registry, token: u64) -> Hello {
        Hello {
            wire_version: WIRE_VERSION,
            build: BuildIdentity::current(registry),
            functions: registry.functions().names(),
            pid: std::process::id(),
            token,
        }
    }

    /// Checks this greeting against the pool's own identity and token;
    /// the error says what differs and what to do.
    pub fn check(&self, own: &BuildIdentity, own_functions: &[String], token: u64) -> Result<()> {
        let refuse = |message: String| Err(Error::new(ErrorKind::Handshake, message));
        if self.token != token {
            return refuse(format!(
                "process {} connected with a wrong token: it was not started by this pool",
                self.pid
            ));
        }
        if self.wire_version != WIRE_VERSION {
            return refuse(format!(
                "worker (pid {}) speaks Barrow wire version {}, this program speaks version \
                 {WIRE_VERSION}: run the same build on every worker",
                self.pid, self.wire_version
            ));
        }
        if self.build.barrow_version != own.barrow_version
            || self.build.executable != own.executable
        {
            return refuse(format!(
                "worker (pid {}) is another build of the program ({}) than this one ({}): the \
                 executable changed on disk since this program started (rebuilt?); restart it",
                self.pid, self.build, own
            ));
        }
        if self.build.functions != own.functions {
            let missing: Vec<&str> = own_functions
                .iter()
                .filter(|name| !self.functions.contains(name))
                .map(String::as_str)
                .collect();
            let extra: Vec<&str> = self
                .functions
                .iter()
                .filter(|name| !own_functions.contains(name))
                .map(String::as_str)
                .collect();
            return refuse(format!(
                "worker (pid {}) registers other functions than this process (missing there: \
                 [{}]; only there: [{}]): functions registered at run time must be registered \
                 in the set-up function given to the worker hook, so every process makes them",
                self.pid,
                missing.join(", "),
                extra.join(", ")
            ));
        }
        if self.build.codecs != own.codecs {
            return refuse(format!(
                "worker (pid {}) registers other codecs than this process: codecs registered \
                 at run time must be registered in the set-up function given to the worker hook",
                self.pid
            ));
        }
        Ok(())
    }
}

/// The pool's answer to an accepted worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Welcome {
    /// The worker's id in the pool (from 1; messages and logs use it).
    pub worker: u32,
    /// The seed this worker derives its random number generators from:
    /// different for every worker started.
    pub seed: u64,
    /// How to compress the values it sends back: "none", "lz4", "zstd".
    pub compression: String,
    /// Values larger than this many bytes are compressed.
    pub compress_above: u64,
    /// The largest message it accepts.
    pub max_message_size: u64,
    /// Values of this many bytes or more (encoded) may go in shared memory,
    /// both ways ([`SharedMemory`](crate::shared::SharedMemory)); 0: never.
    pub shared_memory_above: u64,
    /// Idle shared memory each side keeps for reuse, at most.
    pub shared_memory_retain: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_are_named_with_both_sides() {
        let registry = Registry::new();
        let own = BuildIdentity::current(&registry);
        let names = registry.functions().names();
        let hello = Hello::current(&registry, 99);
        hello.check(&own, &names, 99).unwrap();
        let err = hello.check(&own, &names, 98).unwrap_err();
        assert!(err.to_string().contains("wrong token"), "{err}");

        let mut other = hello.clone();
        other.build.executable ^= 1;
        let err = other.check(&own, &names, 99).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Handshake);
        assert!(
            err.to_string()
                .contains(&format!("{:016x}", own.executable)),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains(&format!("{:016x}", other.build.executable)),
            "{err}"
        );

        let mut other = hello.clone();
        other.wire_version = WIRE_VERSION + 1;
        let err = other.check(&own, &names, 99).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("version {}", WIRE_VERSION + 1))
        );

        let mut other = hello.clone();
        other.build.functions ^= 1;
        other.functions.push("only.in.worker".into());
        let err = other.check(&own, &names, 99).unwrap_err();
        assert!(err.to_string().contains("only.in.worker"), "{err}");
        assert!(err.to_string().contains("set-up function"), "{err}");
    }
}
