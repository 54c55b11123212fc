//! Plugins and files sent to every worker (Dask's `upload_file`, and the
//! `PipInstall` counterpart through set-up plugins): kept on the scheduler,
//! named by content, so a worker that joins later gets each too, and a
//! new version of a file replaces the old one for those workers.
//!
//! The client's question is answered once every worker present when it
//! came has said how it went (a worker that leaves first counts as a
//! failure naming it). A plugin that registered functions changes its
//! worker's function set: tasks that waited for a worker with them run.

use std::sync::Arc;

use crate::comm::framed::Outgoing;
use crate::protocol::{
    Answer, ClientId, ToClient, ToWorker, Upload, UploadOutcome, Uploaded, WorkerId,
};

use super::{SchedulerState, WorkerStatus};

/// An upload some client waits on.
#[derive(Debug)]
pub(crate) struct PendingUpload {
    id: u64,
    client: ClientId,
    request: u64,
    file_name: String,
    waiting: Vec<WorkerId>,
    outcomes: Vec<UploadOutcome>,
}

impl SchedulerState {
    /// A client's upload: kept for later workers, sent to the current ones.
    pub(crate) fn upload(&mut self, client: ClientId, request: u64, mut upload: Upload) {
        if upload.file_name.is_empty()
            || upload.file_name.contains(['/', '\\'])
            || upload.file_name == "."
            || upload.file_name == ".."
        {
            let name = upload.file_name;
            return self.reply(
                client,
                request,
                Err(format!(
                    "{name:?} is not a file name: an upload is named by its file name alone, \
                     without folders"
                )),
            );
        }
        self.next_upload += 1;
        upload.id = self.next_upload;
        let waiting: Vec<WorkerId> = self.workers.keys().copied().collect();
        tracing::info!(
            "upload of {} ({} bytes, {}) to {} workers",
            upload.file_name,
            upload.bytes.len(),
            upload.hash,
            waiting.len()
        );
        for &worker in &waiting {
            self.outbox.workers.push((
                worker,
                Outgoing::plain(ToWorker::Upload(Box::new(upload.clone()))),
            ));
        }
        let file_name = upload.file_name.clone();
        // Later workers get the newest bytes of each name.
        self.uploads
            .retain(|u| !(u.file_name == upload.file_name && u.kind == upload.kind));
        upload.id = 0;
        self.uploads.push(Arc::new(upload));
        if waiting.is_empty() {
            return self.reply(client, request, Ok(Answer::Uploads(Vec::new())));
        }
        self.pending_uploads.push(PendingUpload {
            id: self.next_upload,
            client,
            request,
            file_name,
            waiting,
            outcomes: Vec::new(),
        });
    }

    /// What a new worker is sent before anything else: every upload kept.
    pub(crate) fn send_uploads(&mut self, worker: WorkerId) {
        for upload in &self.uploads {
            self.outbox.workers.push((
                worker,
                Outgoing::plain(ToWorker::Upload(Box::new(Upload::clone(upload)))),
            ));
        }
    }

    /// A worker's answer to an upload.
    pub(crate) fn uploaded(&mut self, worker: WorkerId, id: u64, result: Result<Uploaded, String>) {
        let name = self
            .workers
            .get(&worker)
            .map(|w| w.name.clone())
            .unwrap_or_default();
        let outcome = match result {
            Ok(uploaded) => {
                if let Some((names, fingerprint)) = uploaded.functions {
                    self.change_functions(worker, fingerprint, &names);
                }
                if let Some(plugin) = uploaded.plugin {
                    self.add_plugin(worker, plugin);
                }
                Ok(uploaded.summary)
            }
            Err(reason) => {
                tracing::warn!("worker {name}: {reason}");
                Err(reason)
            }
        };
        self.record_outcome(
            worker,
            id,
            UploadOutcome {
                worker: name,
                result: outcome,
            },
        );
    }

    /// A worker left: the uploads waiting on it count it as failed.
    pub(crate) fn uploads_lose(&mut self, worker: WorkerId, name: &str, reason: &str) {
        let ids: Vec<u64> = self
            .pending_uploads
            .iter()
            .filter(|p| p.waiting.contains(&worker))
            .map(|p| p.id)
            .collect();
        for id in ids {
            self.record_outcome(
                worker,
                id,
                UploadOutcome {
                    worker: name.to_owned(),
                    result: Err(format!("it left the cluster before it answered ({reason})")),
                },
            );
        }
    }

    fn record_outcome(&mut self, worker: WorkerId, id: u64, outcome: UploadOutcome) {
        let Some(at) = self.pending_uploads.iter().position(|p| p.id == id) else {
            return;
        };
        let pending = &mut self.pending_uploads[at];
        if !pending.waiting.contains(&worker) {
            return;
        }
        pending.waiting.retain(|&w| w != worker);
        pending.outcomes.push(outcome);
        if pending.waiting.is_empty() {
            let mut done = self.pending_uploads.swap_remove(at);
            done.outcomes.sort_by(|a, b| a.worker.cmp(&b.worker));
            tracing::info!("upload of {} answered", done.file_name);
            self.reply(
                done.client,
                done.request,
                Ok(Answer::Uploads(done.outcomes)),
            );
        }
    }

    /// `worker` loaded `plugin`: clients hear of it (their comparison with
    /// their own plugins is current).
    fn add_plugin(&mut self, worker: WorkerId, plugin: String) {
        let Some(w) = self.workers.get_mut(&worker) else {
            return;
        };
        if w.plugins.contains(&plugin) {
            return;
        }
        w.plugins.push(plugin);
        w.plugins.sort();
        let summary = super::summary(w);
        for &client in self.clients.keys() {
            self.outbox.clients.push((
                client,
                Outgoing::plain(ToClient::Workers {
                    added: vec![summary.clone()],
                    removed: Vec::new(),
                }),
            ));
        }
    }

    /// `worker` now has the functions `names`: it moves to that function
    /// set, and tasks that had no worker with them may run.
    fn change_functions(&mut self, worker: WorkerId, fingerprint: u64, names: &[String]) {
        let set = self.functions.set_of(fingerprint, names);
        let Some(w) = self.workers.get_mut(&worker) else {
            return;
        };
        let old = std::mem::replace(&mut w.function_set, set);
        if old == set || w.status != WorkerStatus::Running {
            return;
        }
        self.leave_set(old);
        self.enter_set(set);
        self.retry_unrunnable();
    }
}
