//! Plugins and files a client sends to every worker: the upload, and what
//! each worker made of it.

use serde::{Deserialize, Serialize};

/// What an upload is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UploadKind {
    /// A plugin library: loaded, registered and set up on each worker.
    Plugin,
    /// A data or configuration file, kept on each worker for its tasks.
    File,
}

/// A file sent to the workers, named by its content.
#[derive(Clone, Serialize, Deserialize)]
pub struct Upload {
    /// Set by the scheduler to match the workers' answers (0: no client
    /// waits, as for a worker that joined later).
    pub id: u64,
    /// Plugin or file.
    pub kind: UploadKind,
    /// Its file name (no folders).
    pub file_name: String,
    /// The BLAKE3 hash of its bytes, in hex: where workers keep it.
    pub hash: String,
    /// Its bytes.
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("file_name", &self.file_name)
            .field("hash", &self.hash)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// What one worker made of an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadOutcome {
    /// The worker's name.
    pub worker: String,
    /// What it did (`loaded stats 1.2.0`, `kept at /tmp/…`), or why it
    /// could not.
    pub result: Result<String, String>,
}

/// A worker's answer to an upload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Uploaded {
    /// What it did.
    pub summary: String,
    /// Its functions now, when a plugin added some (names, fingerprint).
    pub functions: Option<(Vec<String>, u64)>,
    /// The plugin loaded, as `name version`.
    pub plugin: Option<String>,
    /// A set-up step asked for a restart: it restarts through its nanny.
    pub restart: bool,
}
