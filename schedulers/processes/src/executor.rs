//! The engine's executor over a pool: ready tasks go to the least busy
//! worker in batches; results come back through the reader threads.

use std::collections::{HashMap, VecDeque};
use std::sync::MutexGuard;

use barrow_core::task::TaskBody;
use barrow_core::{Error, ErrorKind, Registry, Result};
use barrow_local::engine::{Executor, Finished, Job, Progress};
use barrow_wire::WireOptions;
use barrow_wire::message::{Kind, Message};
use barrow_wire::task::{DoneBatch, RunBatch, TaskEncoder};

use crate::pool::{Event, State, slots_by_id};
use crate::proc::worker_label;

/// One computation's use of a pool.
pub(crate) struct PoolExecutor<'p> {
    state: MutexGuard<'p, State>,
    registry: &'static Registry,
    options: WireOptions,
    chunksize: usize,
    run: u64,
    /// Which worker runs each submitted task.
    running: HashMap<u32, u32>,
    /// Tasks submitted per worker slot.
    load: Vec<usize>,
    /// Whether workers say when each task starts (someone listens to
    /// `pretask`).
    report_starts: bool,
    /// Starts and results already received, not yet handed to the engine.
    finished: VecDeque<Progress>,
    /// Messages for a worker whose sending failed: it is lost.
    lost: Vec<(u32, String)>,
}

impl<'p> PoolExecutor<'p> {
    pub(crate) fn new(
        state: MutexGuard<'p, State>,
        options: WireOptions,
        chunksize: usize,
        report_starts: bool,
    ) -> Self {
        let run = state.run;
        let load = vec![0; state.workers.len()];
        PoolExecutor {
            state,
            registry: Registry::global(),
            options,
            chunksize: chunksize.max(1),
            run,
            running: HashMap::new(),
            load,
            report_starts,
            finished: VecDeque::new(),
            lost: Vec::new(),
        }
    }

    /// The live worker with the fewest tasks in flight.
    fn least_busy(&self) -> Option<usize> {
        (0..self.state.workers.len())
            .filter(|&slot| self.state.workers[slot].is_some())
            .min_by_key(|&slot| self.load[slot])
    }

    fn send(&mut self, slot: usize, jobs: Vec<Job<'_>>) {
        // The frames borrow the jobs' values: large ones are copied once,
        // into shared memory or the socket, straight from their buffers.
        let mut encoder = TaskEncoder::new(self.registry.codecs(), self.options);
        let mut batch = RunBatch {
            run: self.run,
            tasks: Vec::with_capacity(jobs.len()),
            report_starts: self.report_starts,
        };
        for job in &jobs {
            match encoder.encode(job.id, job.task, &job.inputs) {
                Ok(task) => batch.tasks.push(task),
                Err(error) => self.finished.push_back(Progress::Finished(Finished {
                    id: job.id,
                    worker: 0,
                    result: Err(error),
                })),
            }
        }
        if batch.tasks.is_empty() {
            return;
        }
        let frames = encoder.take_frames();
        let Some(worker) = self.state.workers[slot].as_mut() else {
            return;
        };
        let id = worker.id;
        for task in &batch.tasks {
            self.running.insert(task.id, id);
        }
        self.load[slot] += batch.tasks.len();
        if let Err(error) = worker.send(Kind::Run, &batch, &frames) {
            // The reader thread sees the connection end too; say why here.
            self.lost.push((id, error.to_string()));
        }
    }

    /// Records one event from the reader threads.
    fn receive(&mut self, event: Event) {
        match event {
            Event::Message { worker, message } => self.results(worker, &message),
            Event::Lost { worker, error } => self.worker_lost(worker, error.map(|e| e.to_string())),
        }
    }

    fn results(&mut self, worker: u32, message: &Message) {
        if message.kind() != Kind::Done {
            let what = format!("sent an unexpected {:?} message", message.kind());
            return self.worker_lost(worker, Some(what));
        }
        let batch: DoneBatch = match message.body() {
            Ok(batch) => batch,
            Err(error) => return self.worker_lost(worker, Some(error.to_string())),
        };
        self.state.shared_received += message.shared_len() as u64;
        let slots = slots_by_id(&self.state);
        if batch.run != self.run {
            // Late results of an abandoned computation.
            return self.release(&slots, worker, message);
        }
        let origin = slots
            .get(&worker)
            .and_then(|&slot| self.state.workers[slot].as_ref())
            .map_or_else(|| format!("worker {worker}"), worker_label);
        // A worker runs one task at a time, so its starts and results come
        // in the same order: each start goes just before its own result,
        // and a start without a result (a long task) at the end.
        let mut starts = batch.started.as_slice();
        for done in batch.done {
            if let Some(at) = starts.iter().position(|&id| id == done.id) {
                self.started(worker, &starts[..=at]);
                starts = &starts[at + 1..];
            }
            if self.running.remove(&done.id).is_none() {
                continue;
            }
            if let Some(&slot) = slots.get(&worker) {
                self.load[slot] = self.load[slot].saturating_sub(1);
            }
            let result = match done.result {
                Ok(index) => message
                    .frame(index as usize)
                    .and_then(|bytes| barrow_wire::decode(bytes, self.registry.codecs()))
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::Worker,
                            format!("the result sent by {origin} cannot be read: {e}"),
                        )
                        .with_source(e)
                    }),
                Err(wire) => Err(wire.into_error(&origin)),
            };
            self.finished.push_back(Progress::Finished(Finished {
                id: done.id,
                worker: worker as usize,
                result,
            }));
        }
        self.started(worker, starts);
        self.release(&slots, worker, message);
    }

    /// Worker `worker` started `tasks`.
    fn started(&mut self, worker: u32, tasks: &[u32]) {
        for &id in tasks {
            if self.running.contains_key(&id) {
                self.finished.push_back(Progress::Started {
                    id,
                    worker: worker as usize,
                });
            }
        }
    }

    /// Every frame of `message` is decoded: its shared memory goes back to
    /// the worker that sent it.
    fn release(&mut self, slots: &HashMap<u32, usize>, worker: u32, message: &Message) {
        if let Some(process) = slots
            .get(&worker)
            .and_then(|&slot| self.state.workers[slot].as_mut())
        {
            process.release(message);
        }
    }

    /// A worker died or broke its connection: every task it was running
    /// fails, naming the worker and the cause; its slot is freed so the
    /// pool starts a replacement for the next computation.
    fn worker_lost(&mut self, worker: u32, error: Option<String>) {
        let slots = slots_by_id(&self.state);
        let Some(&slot) = slots.get(&worker) else {
            return; // already handled
        };
        let Some(process) = self.state.workers[slot].take() else {
            return;
        };
        let label = worker_label(&process);
        // A damaged message: the worker may still be alive; stop it.
        let end = match error {
            Some(_) => process.reap_now(),
            None => process.reap(),
        };
        let message = lost_worker_message(&label, error.as_deref(), &end);
        self.load[slot] = 0;
        let mut tasks: Vec<u32> = self
            .running
            .iter()
            .filter(|&(_, &w)| w == worker)
            .map(|(&task, _)| task)
            .collect();
        tasks.sort_unstable();
        for id in tasks {
            self.running.remove(&id);
            self.finished.push_back(Progress::Finished(Finished {
                id,
                worker: worker as usize,
                result: Err(Error::new(ErrorKind::Worker, message.clone())),
            }));
        }
    }
}

impl<'g> Executor<'g> for PoolExecutor<'_> {
    fn workers(&self) -> usize {
        self.state.workers.len()
    }

    fn capacity(&self) -> usize {
        // Two batches per worker: one running, one waiting in its socket.
        2 * self.chunksize * self.state.workers.len()
    }

    fn reports_starts(&self) -> bool {
        self.report_starts
    }

    fn submit(&mut self, jobs: Vec<Job<'g>>) {
        // Literals, aliases and selectors (a piece of a shuffle's split)
        // cost nothing here and would cost a round trip of their input to
        // a worker: a piece task sent out would carry the whole split.
        let (local, remote): (Vec<Job<'g>>, Vec<Job<'g>>) =
            jobs.into_iter().partition(|job| match job.task.body() {
                TaskBody::Call(call) => call.function().is_selector(),
                _ => true,
            });
        for job in local {
            let id = job.id;
            self.finished.push_back(Progress::Finished(Finished {
                id,
                worker: 0,
                result: job.run(),
            }));
        }
        let mut jobs = remote.into_iter().peekable();
        while jobs.peek().is_some() {
            let chunk: Vec<Job<'g>> = jobs.by_ref().take(self.chunksize).collect();
            match self.least_busy() {
                Some(slot) => self.send(slot, chunk),
                None => {
                    for job in chunk {
                        self.finished.push_back(Progress::Finished(Finished {
                            id: job.id,
                            worker: 0,
                            result: Err(Error::new(
                                ErrorKind::Worker,
                                "every worker of the pool has died",
                            )),
                        }));
                    }
                }
            }
        }
    }

    fn next_progress(&mut self) -> Result<Progress> {
        loop {
            if let Some((worker, error)) = self.lost.pop() {
                self.worker_lost(worker, Some(error));
            }
            if let Some(done) = self.finished.pop_front() {
                return Ok(done);
            }
            let event = self
                .state
                .received
                .recv()
                .map_err(|_| Error::internal("the pool's reader threads are gone"))?;
            self.receive(event);
        }
    }

    fn try_next_progress(&mut self) -> Option<Progress> {
        if self.finished.is_empty() {
            while let Ok(event) = self.state.received.try_recv() {
                self.receive(event);
                if !self.finished.is_empty() {
                    break;
                }
            }
        }
        self.finished.pop_front()
    }
}

/// What a task's error says when its worker is lost while running it:
/// `damage` is why its connection broke (`None`: the worker died), `end`
/// how its process ended ("was killed by signal 9 ...").
fn lost_worker_message(label: &str, damage: Option<&str>, end: &str) -> String {
    let what_happened = match damage {
        Some(damage) => {
            format!("broke its connection while running this task ({damage}) and {end}")
        }
        None => format!("died while running this task: it {end}"),
    };
    format!("{label} {what_happened}; the pool starts a new worker for the next computation")
}

#[cfg(test)]
mod tests {
    use super::lost_worker_message;

    #[test]
    fn a_lost_worker_is_described_in_plain_sentences() {
        assert_eq!(
            lost_worker_message(
                "worker 2 (pid 4242)",
                Some("a message ended early"),
                "was stopped by the pool"
            ),
            "worker 2 (pid 4242) broke its connection while running this task (a message ended \
             early) and was stopped by the pool; the pool starts a new worker for the next \
             computation"
        );
        assert_eq!(
            lost_worker_message("worker 1 (pid 7)", None, "was killed by signal 9"),
            "worker 1 (pid 7) died while running this task: it was killed by signal 9; the pool \
             starts a new worker for the next computation"
        );
    }
}
