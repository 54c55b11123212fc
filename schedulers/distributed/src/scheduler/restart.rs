//! Restarting the cluster: every task and value is forgotten, every
//! client hears that its futures are gone, every worker is closed with a
//! restart (its nanny starts it again), and the client that asked is
//! answered once as many workers are back, or when the wait runs out.

use std::time::{Duration, Instant};

use super::SchedulerState;
use super::task::Tasks;
use crate::comm::framed::Outgoing;
use crate::protocol::{Answer, ClientId, ToClient, ToWorker};

/// How long a restart waits for the workers to come back.
pub(crate) const RESTART_TIMEOUT: Duration = Duration::from_secs(30);

/// A restart waiting for its workers.
#[derive(Debug)]
pub(crate) struct PendingRestart {
    pub(crate) client: ClientId,
    pub(crate) request: u64,
    /// How many workers there were.
    pub(crate) expect: usize,
    pub(crate) deadline: Instant,
}

impl SchedulerState {
    /// Forgets everything and restarts every worker; answers `request`
    /// when as many are running again.
    pub(crate) fn restart(&mut self, client: ClientId, request: u64) {
        let expect = self.workers.len();
        tracing::warn!("restarting the cluster ({expect} workers) for a client");
        for &other in self.clients.keys() {
            self.outbox
                .clients
                .push((other, Outgoing::plain(ToClient::Restarted)));
        }
        let reason = "the cluster restarted";
        for (_, scatter) in self.scatters.drain() {
            self.outbox.clients.push((
                scatter.client,
                Outgoing::plain(ToClient::Reply {
                    request: scatter.request,
                    answer: Err(format!("{reason} before the values were stored")),
                }),
            ));
        }
        for retire in std::mem::take(&mut self.retirements) {
            self.outbox.clients.push((
                retire.client,
                Outgoing::plain(ToClient::Reply {
                    request: retire.request,
                    answer: Err(format!("{reason} while the workers retired")),
                }),
            ));
        }
        for pending in std::mem::take(&mut self.restarts) {
            self.reply(
                pending.client,
                pending.request,
                Err("another client restarted the cluster again".to_owned()),
            );
        }
        self.tasks = Tasks::default();
        self.watch_restarted();
        self.keys.clear();
        self.queued.clear();
        self.queued_count = 0;
        self.unrunnable.clear();
        self.datasets.clear();
        self.suspects.clear();
        self.departed.clear();
        self.root_run = None;
        self.roots_full = None;
        self.events.clear();
        for c in self.clients.values_mut() {
            c.wants.clear();
        }
        for w in self.workers.values_mut() {
            w.processing.clear();
            w.has_what.clear();
            w.occupancy = 0.0;
            w.managed_bytes = 0;
        }
        let workers: Vec<_> = self.workers.keys().copied().collect();
        for id in workers {
            self.outbox.workers.push((
                id,
                Outgoing::plain(ToWorker::Close {
                    reason: reason.to_owned(),
                    restart: true,
                }),
            ));
            self.outbox.close.push(id);
            self.remove_worker(id, reason);
        }
        self.restarts.push(PendingRestart {
            client,
            request,
            expect,
            deadline: self.now + RESTART_TIMEOUT,
        });
        self.progress_restarts();
    }

    /// Answers the restarts whose workers are back, or whose wait ran out.
    pub(crate) fn progress_restarts(&mut self) {
        if self.restarts.is_empty() {
            return;
        }
        let running = self.running.len();
        let now = self.now;
        let mut answers = Vec::new();
        self.restarts.retain(|pending| {
            if running >= pending.expect {
                answers.push((pending.client, pending.request, None));
                false
            } else if now >= pending.deadline {
                answers.push((pending.client, pending.request, Some(pending.expect)));
                false
            } else {
                true
            }
        });
        for (client, request, short) in answers {
            let answer = match short {
                None => Ok(Answer::Names(
                    self.running
                        .iter()
                        .filter_map(|w| self.workers.get(w))
                        .map(|w| w.name.clone())
                        .collect(),
                )),
                Some(expect) => Err(format!(
                    "the cluster restarted, but only {running} of its {expect} workers came back \
                     within {RESTART_TIMEOUT:?}: workers started with --no-nanny are not started \
                     again, and a worker that fails at start says why in its nanny's output"
                )),
            };
            self.reply(client, request, answer);
        }
    }
}
