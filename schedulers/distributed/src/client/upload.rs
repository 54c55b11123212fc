//! Sending plugins and files to the workers.

use std::path::Path;

use barrow_core::{Error, ErrorKind, Result};

use super::{Client, unexpected};
use crate::protocol::{Answer, Question, Upload, UploadKind, UploadOutcome};

impl Client {
    /// Sends the plugin library at `path` to every worker, and to every
    /// worker that joins later: each keeps it under its content's hash (a
    /// re-upload of the same bytes does nothing), checks and loads it as
    /// plugins are loaded locally, registers its functions and codecs (the
    /// scheduler then places the plugin's tasks there) and runs its set-up
    /// steps — once per host where the steps take a host-wide lock, as the
    /// `setup-example` plugin does; a step that asks for a restart
    /// restarts the worker through its nanny. Other bytes under the file
    /// name of a plugin a worker loaded (a new version) restart that worker
    /// through its nanny, and its next process loads them: a library stays
    /// loaded for its process's life.
    ///
    /// Returns what each worker did; fails naming every worker where the
    /// plugin did not load, with its reason (the others have it).
    ///
    /// ```no_run
    /// # use barrow_distributed::Client;
    /// let client = Client::connect("tcp://127.0.0.1:8786")?;
    /// for outcome in client.upload_plugin("target/release/libmy_kernels.so")? {
    ///     println!("{}: {}", outcome.worker, outcome.result.unwrap_or_default());
    /// }
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn upload_plugin(&self, path: impl AsRef<Path>) -> Result<Vec<UploadOutcome>> {
        self.upload(path.as_ref(), UploadKind::Plugin)
    }

    /// Sends the file at `path` (data, configuration) to every worker and
    /// to every worker that joins later (Dask's `upload_file`); tasks find
    /// it with [`uploaded_file`](crate::uploaded_file) by its file name. A
    /// new version under the same name replaces the old one for workers
    /// that join later and for tasks that look it up afterwards.
    pub fn upload_file(&self, path: impl AsRef<Path>) -> Result<Vec<UploadOutcome>> {
        self.upload(path.as_ref(), UploadKind::File)
    }

    fn upload(&self, path: &Path, kind: UploadKind) -> Result<Vec<UploadOutcome>> {
        let what = match kind {
            UploadKind::Plugin => "plugin",
            UploadKind::File => "file",
        };
        let file_name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("{} names no file to upload", path.display()),
                )
            })?
            .to_owned();
        let bytes = std::fs::read(path).map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot read the {what} {} to upload: {e}", path.display()),
            )
        })?;
        let upload = Upload {
            id: 0,
            kind,
            file_name: file_name.clone(),
            hash: blake3::hash(&bytes).to_hex().to_string(),
            bytes,
        };
        let outcomes = match self.inner.ask(Question::Upload(upload))? {
            Answer::Uploads(outcomes) => outcomes,
            other => return Err(unexpected(&other)),
        };
        let failed: Vec<String> = outcomes
            .iter()
            .filter_map(|o| {
                o.result
                    .as_ref()
                    .err()
                    .map(|e| format!("{}: {e}", o.worker))
            })
            .collect();
        if failed.is_empty() {
            return Ok(outcomes);
        }
        Err(Error::new(
            ErrorKind::Worker,
            format!(
                "the {what} {file_name} did not {} on {} of {} workers — {}",
                if kind == UploadKind::Plugin {
                    "load"
                } else {
                    "arrive"
                },
                failed.len(),
                outcomes.len(),
                failed.join("; ")
            ),
        ))
    }
}
