//! Giving a task back to the scheduler, which moves it to an idle worker
//! (work stealing, the worker's half of Dask's steal-request /
//! steal-response handshake).
//!
//! Only a task that has not started moves: one waiting for its inputs or
//! ready for a thread is dropped here (with the fetches only it needed),
//! and the scheduler sends it to the thief under a new run. A task handed
//! to a task thread (running, or queued behind the one a thread runs), a
//! value being fetched, or a value already here stays, and the scheduler
//! calls the steal off. Either way the worker says which it was: the
//! scheduler decides only on that answer, so a task never runs twice by
//! mistake nor is lost between the two.

use super::{Instruction, WorkerState, WorkerTaskState};
use crate::protocol::{FromWorker, StealState, TaskId};

impl WorkerState {
    /// The scheduler asks for task `id`, dispatched here as `run`, back.
    pub(crate) fn steal(&mut self, id: TaskId, run: u64) {
        let state = match self.tasks.get(&id) {
            None if self.data.contains_key(&id) => StealState::Memory,
            None => StealState::Unknown,
            Some(task) => match task.state {
                // Another dispatch of it (the scheduler moved on): not the
                // one asked for, kept.
                WorkerTaskState::Waiting | WorkerTaskState::Ready if task.run != run => {
                    StealState::Unknown
                }
                WorkerTaskState::Waiting => StealState::Waiting,
                WorkerTaskState::Ready => StealState::Ready,
                WorkerTaskState::Executing => StealState::Executing,
                WorkerTaskState::Fetch | WorkerTaskState::Flight => StealState::Fetching,
                WorkerTaskState::Memory => StealState::Memory,
            },
        };
        if state.released() {
            // Its entry in the ready heap is skipped when popped.
            self.forget(id);
        }
        self.instructions
            .push(Instruction::Send(FromWorker::StealResponse {
                id,
                run,
                state,
            }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comm::framed::FrameSlice;
    use crate::protocol::{ComputeTask, Dependency, Priority};
    use barrow_core::Value;

    fn compute(id: TaskId, run: u64, deps: Vec<Dependency>) -> ComputeTask {
        ComputeTask {
            id,
            run,
            priority: Priority {
                user: 0,
                generation: 1,
                order: id as u32,
            },
            literals: 0,
            inputs: deps.iter().map(|d| d.id).collect(),
            dependencies: deps,
            resources: Vec::new(),
            report_start: false,
        }
    }

    /// One thread, and one peer (2) to fetch from.
    fn state() -> WorkerState {
        let mut state = WorkerState::new(1, Vec::new(), 4, 1 << 20);
        state.peers(vec![(2, "tcp://peer2".into())], &[]);
        state
    }

    fn answers(instructions: &[Instruction]) -> Vec<(TaskId, u64, StealState)> {
        instructions
            .iter()
            .filter_map(|i| match i {
                Instruction::Send(FromWorker::StealResponse { id, run, state }) => {
                    Some((*id, *run, *state))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_ready_task_is_given_back_and_an_executing_one_kept() {
        let mut s = state();
        // One thread, queued behind by up to four more: tasks 1 to 5 are
        // handed to the threads, 6 waits ready.
        for id in 1..=6 {
            s.compute(compute(id, id * 10, vec![]), FrameSlice::default());
        }
        s.take_instructions();
        assert_eq!(s.state_of(6), Some(WorkerTaskState::Ready));
        assert_eq!(s.state_of(1), Some(WorkerTaskState::Executing));

        s.steal(6, 60);
        assert_eq!(
            answers(&s.take_instructions()),
            [(6, 60, StealState::Ready)]
        );
        assert_eq!(s.state_of(6), None, "a ready task given back is gone");
        s.validate().unwrap();

        s.steal(1, 10);
        assert_eq!(
            answers(&s.take_instructions()),
            [(1, 10, StealState::Executing)]
        );
        assert_eq!(s.state_of(1), Some(WorkerTaskState::Executing));
        // Its result still goes to the scheduler.
        s.executed(1, Ok(Value::new(1i64)), 5, 0);
        let out = s.take_instructions();
        assert!(
            out.iter().any(|i| matches!(
                i,
                Instruction::Send(FromWorker::Finished { id: 1, run: 10, .. })
            )),
            "{out:?}"
        );
        // A freed thread takes the next ready task, never the one given
        // back.
        assert!(out.iter().all(|i| match i {
            Instruction::Execute(job) => job.id != 6,
            _ => true,
        }));
        s.steal(1, 10);
        assert_eq!(
            answers(&s.take_instructions()),
            [(1, 10, StealState::Memory)]
        );
        s.validate().unwrap();
    }

    #[test]
    fn a_waiting_task_is_given_back_with_the_fetches_only_it_needed() {
        let mut s = state();
        let dep = Dependency {
            id: 100,
            nbytes: 8,
            who_has: vec![2],
        };
        // The first fetch takes the only peer; the second input waits to be
        // fetched.
        s.compute(compute(7, 70, vec![dep.clone()]), FrameSlice::default());
        let second = Dependency {
            id: 101,
            nbytes: 8,
            who_has: vec![2],
        };
        s.compute(compute(8, 80, vec![second]), FrameSlice::default());
        s.take_instructions();
        assert_eq!(s.state_of(8), Some(WorkerTaskState::Waiting));
        assert_eq!(s.state_of(101), Some(WorkerTaskState::Fetch));
        s.steal(8, 80);
        assert_eq!(
            answers(&s.take_instructions()),
            [(8, 80, StealState::Waiting)]
        );
        assert_eq!(s.state_of(8), None);
        assert_eq!(s.state_of(101), None, "its fetch is dropped with it");
        // A value being fetched for a computation stays.
        assert_eq!(s.state_of(100), Some(WorkerTaskState::Flight));
        s.steal(100, 5);
        assert_eq!(
            answers(&s.take_instructions()),
            [(100, 5, StealState::Fetching)]
        );
        s.validate().unwrap();
    }

    #[test]
    fn another_dispatch_or_an_unknown_task_is_kept_and_said_unknown() {
        let mut s = state();
        for id in 1..=6 {
            s.compute(compute(id, id * 10, vec![]), FrameSlice::default());
        }
        s.take_instructions();
        s.steal(6, 61);
        assert_eq!(
            answers(&s.take_instructions()),
            [(6, 61, StealState::Unknown)]
        );
        assert_eq!(s.state_of(6), Some(WorkerTaskState::Ready));
        s.steal(42, 1);
        assert_eq!(
            answers(&s.take_instructions()),
            [(42, 1, StealState::Unknown)]
        );
        s.validate().unwrap();
    }
}
