//! Work stealing: tasks sent to a busy worker that have not started move
//! to an idle one (Dask's `WorkStealing`, with its request/confirm
//! handshake), every `work-stealing-interval` (100 ms).
//!
//! - **Stealable tasks** are listed per worker and per *level* when they
//!   are sent ([`note_stealable`](SchedulerState::note_stealable), from
//!   `assign`), so a balance never scans all tasks. A task with no inputs
//!   is level 0; otherwise `transfer = input bytes / bandwidth +
//!   transfer-latency`, and the level is `round(log2(transfer / expected
//!   duration) + 6)`, at least 1; from level 15 (moving costs some 360
//!   times the computation) it is never listed. An entry is the task and
//!   its run: entries of dispatches that ended are dropped when met, or
//!   when they outnumber the worker's tasks (amortized O(1) per dispatch).
//! - **Thieves** are running workers (never retiring or paused ones) with
//!   a free thread or less than half the cluster's average occupancy per
//!   thread. No thief, no balance: it returns after one pass over the
//!   workers. **Victims** are the saturated workers (more tasks than
//!   threads, pending time per thread over 0.4 s and over 1.9 times the
//!   average), else the ten busiest with more tasks than threads and more
//!   than 0.2 s per thread; and any worker that is not running (its queued
//!   tasks would wait for it to run again).
//! - Levels are scanned cheapest first; at each level the victims, busiest
//!   first, give one task each in turn, the last sent (the last each would
//!   start). The thief is the one where the task would start soonest (occupancy per thread + the cost of moving its
//!   inputs there), among those that have its functions and meet its
//!   restrictions (worker names unless loose; resources always). A task
//!   moves if moving its inputs to that thief costs no more than
//!   computing it, and `thief occupancy + move cost + duration ≤ victim
//!   occupancy − (victim's move cost + duration) / 2`, occupancies per
//!   thread. At most 4096 tasks are looked at per balance.
//! - **Handshake**: the victim gets [`ToWorker::Steal`] with the task's
//!   run, and the request is recorded: until it is answered, occupancies
//!   count the move. The victim drops the task if it was waiting or ready
//!   and answers with its state ([`FromWorker::StealResponse`]). An answer
//!   for a request no longer pending, or for a dispatch that ended
//!   (finished, reset, its worker gone) changes nothing. Waiting or ready:
//!   the task goes to the thief under a new run (so a late result of the
//!   victim is refused), if the thief is still there, running and able;
//!   else it is placed again. Executing, fetching or in memory: the steal
//!   is off, the victim keeps it. Unknown: placed again.
//!
//! [`ToWorker::Steal`]: crate::protocol::ToWorker::Steal
//! [`FromWorker::StealResponse`]: crate::protocol::FromWorker::StealResponse

use rustc_hash::FxHashMap;

use super::task::{State, Task, Tasks};
use super::transitions::Target;
use super::{SchedulerState, WorkerStatus};
use crate::comm::framed::Outgoing;
use crate::protocol::{Dependency, StealState, TaskId, ToWorker, WorkerId};

/// Levels of cost: 0 for tasks with no inputs, 1 to 14 by the ratio of
/// moving the inputs to computing.
const LEVELS: usize = 15;

/// Tasks looked at in one balance, at most.
const MAX_EXAMINED: usize = 4096;

/// Victims when no worker is saturated: the busiest, this many.
const FALLBACK_VICTIMS: usize = 10;

/// Pending time per thread past which a worker may be saturated, seconds.
const SATURATED_PENDING: f64 = 0.4;

/// Times the cluster's average occupancy per thread a saturated worker's
/// pending time per thread exceeds.
const SATURATED_FACTOR: f64 = 1.9;

/// Occupancy per thread a fallback victim exceeds, seconds.
const FALLBACK_OCCUPANCY: f64 = 0.2;

/// The balancer's state.
#[derive(Debug, Default)]
pub(crate) struct Stealing {
    /// By worker: the tasks that may be taken from it.
    stealable: FxHashMap<WorkerId, Stealable>,
    /// Requests not answered yet, by task.
    in_flight: FxHashMap<TaskId, InFlight>,
}

/// Stealable tasks of one worker at one level: (task, run) in the order
/// they were sent.
type Entries = Vec<(TaskId, u64)>;

/// One worker's stealable tasks, by level. Entries of dispatches that
/// ended are dropped lazily.
#[derive(Debug, Default)]
struct Stealable {
    levels: [Entries; LEVELS],
    len: usize,
}

impl Stealable {
    fn compact(&mut self, tasks: &Tasks, worker: WorkerId) {
        for level in &mut self.levels {
            level.retain(|&(id, run)| current(tasks, id, worker, run));
        }
        self.len = self.levels.iter().map(Vec::len).sum();
    }
}

/// A request sent to a victim, waiting for its answer.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    victim: WorkerId,
    thief: WorkerId,
    run: u64,
    /// Seconds the victim's occupancy counts less meanwhile.
    victim_cost: f64,
    /// Seconds the thief's occupancy counts more meanwhile.
    thief_cost: f64,
}

/// A worker's load as a balance sees it.
#[derive(Debug, Clone, Copy)]
struct Load {
    id: WorkerId,
    /// Seconds expected, with the steals under way.
    occupancy: f64,
    /// Tasks processing, with the steals under way.
    processing: usize,
    threads: f64,
    running: bool,
}

impl Load {
    fn per_thread(&self) -> f64 {
        self.occupancy.max(0.0) / self.threads
    }

    /// Whether it may take tasks: a free thread, or under half the
    /// average.
    fn is_thief(&self, average: f64) -> bool {
        self.running
            && ((self.processing as f64) < self.threads || self.per_thread() < average / 2.0)
    }

    /// Whether tasks are queued on it beyond its threads (or, not running,
    /// at all).
    fn has_queue(&self) -> bool {
        if self.running {
            self.processing as f64 > self.threads
        } else {
            self.processing > 0
        }
    }

    /// Its occupancy per thread as a victim: a worker that is not running
    /// may not start its queued tasks at all.
    fn victim_occupancy(&self) -> f64 {
        if self.running {
            self.per_thread()
        } else {
            f64::INFINITY
        }
    }
}

/// Whether `id` is still processing on `worker` under `run`.
fn current(tasks: &Tasks, id: TaskId, worker: WorkerId, run: u64) -> bool {
    tasks.get(id).is_some_and(|t| {
        t.state == State::Processing && t.processing_on == Some(worker) && t.run == run
    })
}

/// The level of a task whose inputs take `transfer` seconds to move and
/// which computes for `compute` seconds; `None`: never worth moving.
fn level_of(transfer: f64, compute: f64) -> Option<usize> {
    let ratio = transfer / compute.max(1e-9);
    let level = (ratio.log2() + 6.0).round().max(1.0);
    (level < LEVELS as f64).then_some(level as usize)
}

impl SchedulerState {
    /// Lists task `id`, just sent to `worker` as `run` with `dependencies`
    /// and expected to take `compute` seconds, as stealable at its level.
    pub(crate) fn note_stealable(
        &mut self,
        worker: WorkerId,
        id: TaskId,
        run: u64,
        compute: f64,
        dependencies: &[Dependency],
    ) {
        if !self.config.work_stealing {
            return;
        }
        let level = if dependencies.is_empty() {
            0
        } else {
            let bytes: u64 = dependencies.iter().map(|d| d.nbytes).sum();
            let transfer = bytes as f64 / self.config.bandwidth + self.config.transfer_latency;
            match level_of(transfer, compute) {
                Some(level) => level,
                None => return,
            }
        };
        let processing = self.workers.get(&worker).map_or(0, |w| w.processing.len());
        let tasks = &self.tasks;
        let stealable = self.stealing.stealable.entry(worker).or_default();
        stealable.levels[level].push((id, run));
        stealable.len += 1;
        if stealable.len > 2 * processing + 64 {
            stealable.compact(tasks, worker);
        }
    }

    /// Moves queued tasks from busy workers to idle ones: sends steal
    /// requests, whose answers ([`StealState`]) decide. Called every
    /// `work-stealing-interval`; returns at once when no worker is idle.
    pub fn balance(&mut self) {
        if !self.config.work_stealing {
            return;
        }
        self.forget_stale_steals();
        if self.stealing.stealable.values().all(|s| s.len == 0) {
            return;
        }
        let mut loads = self.loads();
        let (mut total, mut threads) = (0.0, 0.0);
        for load in loads.iter().filter(|l| l.running) {
            total += load.occupancy.max(0.0);
            threads += load.threads;
        }
        let average = if threads > 0.0 { total / threads } else { 0.0 };
        let mut thieves: Vec<Load> = loads
            .iter()
            .copied()
            .filter(|l| l.is_thief(average))
            .collect();
        if thieves.is_empty() {
            return;
        }
        let listed = |id: &WorkerId| self.stealing.stealable.get(id).is_some_and(|s| s.len > 0);
        loads.retain(|l| l.has_queue() && !l.is_thief(average) && listed(&l.id));
        let saturated: Vec<Load> = loads
            .iter()
            .copied()
            .filter(|l| {
                if !l.running {
                    return true;
                }
                let processing = l.processing as f64;
                let pending =
                    l.occupancy.max(0.0) * (processing - l.threads) / (processing * l.threads);
                pending > SATURATED_PENDING && pending > SATURATED_FACTOR * average
            })
            .collect();
        let by_occupancy =
            |a: &Load, b: &Load| b.victim_occupancy().total_cmp(&a.victim_occupancy());
        let mut victims = if saturated.iter().any(|l| l.running) {
            saturated
        } else {
            loads.retain(|l| !l.running || l.per_thread() > FALLBACK_OCCUPANCY);
            loads.sort_by(by_occupancy);
            let mut busiest = 0;
            loads.retain(|l| {
                busiest += usize::from(l.running);
                !l.running || busiest <= FALLBACK_VICTIMS
            });
            loads
        };
        victims.sort_by(by_occupancy);
        if victims.is_empty() {
            return;
        }
        self.begin("steal-request");
        let mut examined = 0;
        for level in 0..LEVELS {
            if examined >= MAX_EXAMINED || thieves.is_empty() {
                break;
            }
            // The victims' lists at this level, taken out while they are
            // looked through: (victim, entries left, entries kept).
            let mut lists: Vec<(usize, Entries, Entries)> = Vec::new();
            for (at, victim) in victims.iter().enumerate() {
                if let Some(stealable) = self.stealing.stealable.get_mut(&victim.id)
                    && !stealable.levels[level].is_empty()
                {
                    let list = std::mem::take(&mut stealable.levels[level]);
                    stealable.len = stealable.len.saturating_sub(list.len());
                    lists.push((at, list, Vec::new()));
                }
            }
            // One task from each victim in turn, busiest first, so that
            // equally busy victims give alike.
            loop {
                let mut asked = false;
                for (at, list, kept) in &mut lists {
                    let victim = &mut victims[*at];
                    asked |=
                        self.steal_one(victim, list, kept, &mut thieves, average, &mut examined);
                }
                if !asked || examined >= MAX_EXAMINED || thieves.is_empty() {
                    break;
                }
            }
            for (at, mut list, kept) in lists {
                list.extend(kept.into_iter().rev());
                if let Some(stealable) = self.stealing.stealable.get_mut(&victims[at].id) {
                    stealable.len += list.len();
                    stealable.levels[level] = list;
                }
            }
        }
        self.end();
    }

    /// Takes entries from the end of `list` (the victim's last sent, which
    /// it would start last) until one is worth moving to a thief, and asks
    /// the victim for it; entries not worth it go to `kept`, stale ones
    /// are dropped. Returns whether it asked.
    fn steal_one(
        &mut self,
        victim: &mut Load,
        list: &mut Entries,
        kept: &mut Entries,
        thieves: &mut Vec<Load>,
        average: f64,
        examined: &mut usize,
    ) -> bool {
        while *examined < MAX_EXAMINED && !thieves.is_empty() && victim.has_queue() {
            let Some((id, run)) = list.pop() else {
                return false;
            };
            if !current(&self.tasks, id, victim.id, run) {
                continue;
            }
            *examined += 1;
            let Some(task) = self.tasks.get(id) else {
                continue;
            };
            let compute = task.expected_seconds;
            let mut best: Option<(f64, usize, f64)> = None;
            for (at, thief) in thieves.iter().enumerate() {
                if !self.may_run(task, thief.id) {
                    continue;
                }
                let cost = self.comm_cost(task, thief.id);
                let score = thief.per_thread() + cost;
                if best.is_none_or(|(b, _, _)| score < b) {
                    best = Some((score, at, cost));
                }
            }
            let Some((_, at, thief_cost)) = best else {
                kept.push((id, run));
                continue;
            };
            let victim_cost = self.comm_cost(task, victim.id);
            let thief = &mut thieves[at];
            // Moving must cost no more than computing, and the task must
            // start sooner on the thief by a margin.
            let worth = thief_cost <= compute
                && thief.per_thread() + thief_cost + compute
                    <= victim.victim_occupancy() - (victim_cost + compute) / 2.0;
            if !worth {
                kept.push((id, run));
                continue;
            }
            let thief_id = thief.id;
            thief.occupancy += compute + thief_cost;
            thief.processing += 1;
            victim.occupancy -= compute + victim_cost;
            victim.processing = victim.processing.saturating_sub(1);
            if !thief.is_thief(average) {
                thieves.swap_remove(at);
            }
            tracing::debug!(
                "stealing task {id} from worker {} for worker {thief_id}",
                victim.id
            );
            self.stealing.in_flight.insert(
                id,
                InFlight {
                    victim: victim.id,
                    thief: thief_id,
                    run,
                    victim_cost: compute + victim_cost,
                    thief_cost: compute + thief_cost,
                },
            );
            self.outbox
                .workers
                .push((victim.id, Outgoing::plain(ToWorker::Steal { id, run })));
            return true;
        }
        false
    }

    /// A victim answers a steal request: the task moves to the thief,
    /// stays, or is placed again (see the module's notes).
    pub(crate) fn steal_response(
        &mut self,
        victim: WorkerId,
        id: TaskId,
        run: u64,
        state: StealState,
    ) {
        let Some(request) = self.stealing.in_flight.get(&id).copied() else {
            return; // answered already, or given up
        };
        if request.victim != victim || request.run != run {
            return;
        }
        self.stealing.in_flight.remove(&id);
        if !current(&self.tasks, id, victim, run) {
            return; // finished, reset or cancelled meanwhile
        }
        match state {
            StealState::Waiting | StealState::Ready => {
                let thief = request.thief;
                let able = self
                    .tasks
                    .get(id)
                    .is_some_and(|task| self.may_run(task, thief));
                if able {
                    tracing::debug!("task {id} moves from worker {victim} to worker {thief}");
                    self.unassign(id);
                    self.assign(id, thief);
                } else {
                    // The victim dropped it: it goes where placement says.
                    self.transitions(vec![(id, Target::Reset)]);
                }
            }
            // Started, or its value is on its way or here: it stays.
            StealState::Executing | StealState::Fetching | StealState::Memory => {}
            StealState::Unknown => self.transitions(vec![(id, Target::Reset)]),
        }
    }

    /// Whether `worker` is running and may run `task`: it has its
    /// functions, and meets its restrictions (worker names unless they
    /// are loose; resources always).
    fn may_run(&self, task: &Task, worker: WorkerId) -> bool {
        let Some(w) = self.workers.get(&worker) else {
            return false;
        };
        if w.status != WorkerStatus::Running
            || !task
                .functions
                .iter()
                .all(|&f| self.functions.has(w.function_set, f))
        {
            return false;
        }
        match &task.restrictions {
            None => true,
            Some(r) if r.loose => r.resources.iter().all(|(name, needed)| {
                w.resources
                    .iter()
                    .any(|(have, amount)| have == name && amount >= needed)
            }),
            Some(_) => self.meets(task, worker),
        }
    }

    /// Drops the requests whose victim or dispatch is gone (they are never
    /// answered, or their answer would be stale), and the lists of workers
    /// that left.
    fn forget_stale_steals(&mut self) {
        let tasks = &self.tasks;
        self.stealing
            .in_flight
            .retain(|&id, request| current(tasks, id, request.victim, request.run));
        let workers = &self.workers;
        if self.stealing.stealable.len() > workers.len() {
            self.stealing
                .stealable
                .retain(|id, _| workers.contains_key(id));
        } else if self
            .stealing
            .stealable
            .keys()
            .any(|id| !workers.contains_key(id))
        {
            self.stealing
                .stealable
                .retain(|id, _| workers.contains_key(id));
        }
    }

    /// Every worker's load, with the steals under way.
    fn loads(&self) -> Vec<Load> {
        let mut loads: Vec<Load> = self
            .workers
            .values()
            .map(|w| Load {
                id: w.id,
                occupancy: w.occupancy,
                processing: w.processing.len(),
                threads: f64::from(w.nthreads.max(1)),
                running: w.status == WorkerStatus::Running,
            })
            .collect();
        loads.sort_unstable_by_key(|l| l.id);
        for request in self.stealing.in_flight.values() {
            if let Ok(at) = loads.binary_search_by_key(&request.victim, |l| l.id) {
                loads[at].occupancy -= request.victim_cost;
                loads[at].processing = loads[at].processing.saturating_sub(1);
            }
            if let Ok(at) = loads.binary_search_by_key(&request.thief, |l| l.id) {
                loads[at].occupancy += request.thief_cost;
                loads[at].processing += 1;
            }
        }
        loads
    }

    /// Seconds of work expected on `worker`, counting the steals under way
    /// (to it, and from it); `None` for a worker not in the cluster.
    pub fn occupancy(&self, worker: WorkerId) -> Option<f64> {
        let w = self.workers.get(&worker)?;
        let mut occupancy = w.occupancy;
        for request in self.stealing.in_flight.values() {
            if request.victim == worker {
                occupancy -= request.victim_cost;
            }
            if request.thief == worker {
                occupancy += request.thief_cost;
            }
        }
        Some(occupancy.max(0.0))
    }

    /// Steal requests sent and not answered yet.
    pub fn steals_in_flight(&self) -> usize {
        self.stealing.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::level_of;

    #[test]
    fn levels_grow_with_the_cost_of_moving_and_stop_at_fifteen() {
        // Moving costs a thirtieth of computing, or less: level 1.
        assert_eq!(level_of(0.001, 1.0), Some(1));
        // As much as computing: level 6.
        assert_eq!(level_of(0.5, 0.5), Some(6));
        assert_eq!(level_of(2.0, 1.0), Some(7));
        // Some 256 times: the last level; 512 times: never.
        assert_eq!(level_of(256.0, 1.0), Some(14));
        assert_eq!(level_of(512.0, 1.0), None);
        // A task that takes no time is never worth moving.
        assert_eq!(level_of(0.001, 0.0), None);
    }
}
