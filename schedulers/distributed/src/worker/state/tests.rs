//! The worker's state machine alone, event by event (after Dask's
//! `test_worker_state_machine.py`).

use super::*;
use crate::protocol::Dependency;
use crate::worker::disk::Written;

fn priority(order: u32) -> Priority {
    Priority {
        user: 0,
        generation: 1,
        order,
    }
}

fn compute(id: TaskId, inputs: &[TaskId], deps: Vec<Dependency>) -> ComputeTask {
    ComputeTask {
        id,
        run: id * 10,
        priority: priority(id as u32),
        literals: 0,
        inputs: inputs.to_vec(),
        dependencies: deps,
        resources: Vec::new(),
        report_start: false,
    }
}

fn dep(id: TaskId, who_has: &[WorkerId]) -> Dependency {
    Dependency {
        id,
        nbytes: 8,
        who_has: who_has.to_vec(),
    }
}

fn state() -> WorkerState {
    let mut state = WorkerState::new(1, vec![("GPU".into(), 1.0)], 4, 1 << 20);
    state.peers(
        vec![(2, "tcp://peer2".into()), (3, "tcp://peer3".into())],
        &[],
    );
    state
}

fn executes(instructions: &[Instruction]) -> Vec<TaskId> {
    instructions
        .iter()
        .filter_map(|i| match i {
            Instruction::Execute(job) => Some(job.id),
            _ => None,
        })
        .collect()
}

#[test]
fn a_task_with_its_inputs_here_runs_and_is_reported() {
    let mut s = state();
    s.compute(compute(1, &[], vec![]), FrameSlice::default());
    let out = s.take_instructions();
    assert_eq!(executes(&out), vec![1]);
    s.executed(1, Ok(Value::new(5i64)), 7, 0);
    let out = s.take_instructions();
    assert!(matches!(
        &out[..],
        [Instruction::Send(FromWorker::Finished {
            id: 1,
            run: 10,
            nbytes: 8,
            duration_us: 7,
            ..
        })]
    ));
    assert_eq!(s.state_of(1), Some(WorkerTaskState::Memory));
    assert_eq!(s.get_data(&[1, 9]).missing, vec![9]);
    s.validate().unwrap();
}

#[test]
fn a_dependency_elsewhere_is_fetched_then_the_task_runs() {
    let mut s = state();
    s.compute(
        compute(5, &[4, 4], vec![dep(4, &[2])]),
        FrameSlice::default(),
    );
    let out = s.take_instructions();
    assert!(matches!(&out[..], [Instruction::Gather { peer: 2, ids, .. }] if ids == &[4]));
    assert_eq!(s.state_of(4), Some(WorkerTaskState::Flight));
    s.validate().unwrap();
    s.gathered(2, vec![(4, Value::new(1i64))], &[]);
    let out = s.take_instructions();
    assert!(
        out.iter()
            .any(|i| matches!(i, Instruction::Send(FromWorker::AddKeys { ids }) if ids == &[4]))
    );
    let job = out.iter().find_map(|i| match i {
        Instruction::Execute(job) => Some(job),
        _ => None,
    });
    // The input read twice is passed twice.
    assert_eq!(job.map(|j| j.inputs.len()), Some(2));
    s.validate().unwrap();
}

#[test]
fn a_holder_without_the_value_sends_the_fetch_to_the_next_then_reports_it_missing() {
    let mut s = state();
    s.compute(
        compute(5, &[4], vec![dep(4, &[2, 3])]),
        FrameSlice::default(),
    );
    let out = s.take_instructions();
    let Instruction::Gather { peer: first, .. } = &out[0] else {
        panic!("{out:?}");
    };
    let first = *first;
    s.gathered(first, vec![], &[4]);
    let out = s.take_instructions();
    let second = if first == 2 { 3 } else { 2 };
    assert!(matches!(&out[..], [Instruction::Gather { peer, .. }] if *peer == second));
    s.gather_failed(second, &[4], "connection refused");
    let out = s.take_instructions();
    match &out[..] {
        [
            Instruction::Send(FromWorker::Missing {
                id: 5,
                dependency: 4,
                tried,
            }),
        ] => {
            assert_eq!(tried.len(), 2);
            assert!(tried.iter().any(|(_, why)| why == "connection refused"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.state_of(5), None);
    assert_eq!(s.state_of(4), None);
    s.validate().unwrap();
}

#[test]
fn a_task_freed_while_it_runs_drops_its_result_unless_computed_again() {
    let mut s = state();
    s.compute(compute(1, &[], vec![]), FrameSlice::default());
    s.take_instructions();
    s.free(&[1]);
    s.executed(1, Ok(Value::new(1i64)), 1, 0);
    assert!(s.take_instructions().is_empty());
    assert_eq!(s.state_of(1), None);

    s.compute(compute(2, &[], vec![]), FrameSlice::default());
    s.take_instructions();
    s.free(&[2]);
    let mut again = compute(2, &[], vec![]);
    again.run = 99;
    s.compute(again, FrameSlice::default());
    s.executed(2, Ok(Value::new(1i64)), 1, 0);
    let out = s.take_instructions();
    assert!(matches!(
        &out[..],
        [Instruction::Send(FromWorker::Finished {
            id: 2,
            run: 99,
            ..
        })]
    ));
    s.validate().unwrap();
}

#[test]
fn resources_limit_what_runs_at_once_and_come_back() {
    let mut s = WorkerState::new(2, vec![("GPU".into(), 1.0)], 4, 1 << 20);
    for id in [1, 2] {
        let mut task = compute(id, &[], vec![]);
        task.resources = vec![("GPU".into(), 1.0)];
        s.compute(task, FrameSlice::default());
    }
    assert_eq!(executes(&s.take_instructions()), vec![1]);
    s.validate().unwrap();
    let error = WireError::from_error(&barrow_core::Error::task_failed("no"), None);
    s.executed(1, Err(Box::new(error)), 1, 0);
    let out = s.take_instructions();
    assert!(matches!(
        &out[0],
        Instruction::Send(FromWorker::Erred { id: 1, .. })
    ));
    assert_eq!(executes(&out), vec![2]);
    s.validate().unwrap();
}

#[test]
fn values_from_one_peer_come_in_one_request() {
    let mut s = state();
    let deps: Vec<Dependency> = (10..20).map(|i| dep(i, &[2])).collect();
    let inputs: Vec<TaskId> = (10..20).collect();
    s.compute(compute(1, &inputs, deps), FrameSlice::default());
    let out = s.take_instructions();
    assert!(matches!(&out[..], [Instruction::Gather { peer: 2, ids, .. }] if ids.len() == 10));
}

#[test]
fn a_peer_that_leaves_fails_the_fetch_from_it_at_once_and_another_holder_is_asked() {
    let mut s = state();
    s.compute(
        compute(5, &[4], vec![dep(4, &[2, 3])]),
        FrameSlice::default(),
    );
    let out = s.take_instructions();
    let Instruction::Gather { peer: first, .. } = &out[0] else {
        panic!("{out:?}");
    };
    let (first, second) = (*first, if *first == 2 { 3 } else { 2 });
    // The scheduler says the peer left before its connection broke.
    s.peers(vec![], &[first]);
    let out = s.take_instructions();
    assert!(
        matches!(&out[..], [Instruction::Gather { peer, ids, .. }] if *peer == second && ids == &[4]),
        "{out:?}"
    );
    s.validate().unwrap();
    // The old fetch's late answer changes nothing; the new one is used.
    s.gather_failed(first, &[4], "connection reset");
    assert!(s.take_instructions().is_empty());
    assert_eq!(s.state_of(4), Some(WorkerTaskState::Flight));
    s.gathered(first, vec![(4, Value::new(1i64))], &[]);
    assert_eq!(s.state_of(4), Some(WorkerTaskState::Flight));
    s.validate().unwrap();
    s.gathered(second, vec![(4, Value::new(1i64))], &[]);
    assert_eq!(executes(&s.take_instructions()), vec![5]);
    s.validate().unwrap();
}

#[test]
fn a_value_being_fetched_that_the_scheduler_has_computed_again_is_computed_if_the_fetch_fails() {
    let mut s = state();
    s.compute(compute(5, &[4], vec![dep(4, &[2])]), FrameSlice::default());
    s.take_instructions();
    assert_eq!(s.state_of(4), Some(WorkerTaskState::Flight));
    // Its holder died: the scheduler sends the task itself here.
    s.compute(compute(4, &[], vec![]), FrameSlice::default());
    assert!(
        s.take_instructions().is_empty(),
        "the fetch may still bring it"
    );
    s.gather_failed(2, &[4], "connection refused");
    let out = s.take_instructions();
    assert_eq!(executes(&out), vec![4], "{out:?}");
    assert!(
        !out.iter()
            .any(|i| matches!(i, Instruction::Send(FromWorker::Missing { .. }))),
        "nothing is missing: {out:?}"
    );
    s.validate().unwrap();
    s.executed(4, Ok(Value::new(2i64)), 3, 0);
    let out = s.take_instructions();
    assert!(
        out.iter().any(|i| matches!(
            i,
            Instruction::Send(FromWorker::Finished { id: 4, run: 40, .. })
        )),
        "{out:?}"
    );
    assert_eq!(executes(&out), vec![5], "the task waiting on it runs");
    s.validate().unwrap();
}

#[test]
fn a_value_waiting_to_be_fetched_that_the_scheduler_has_computed_again_is_computed_at_once() {
    let mut s = WorkerState::new(1, Vec::new(), 1, 1 << 20);
    s.peers(
        vec![(2, "tcp://peer2".into()), (3, "tcp://peer3".into())],
        &[],
    );
    // One peer at a time: the second value waits in `fetch`.
    s.compute(
        compute(9, &[4, 6], vec![dep(4, &[2]), dep(6, &[3])]),
        FrameSlice::default(),
    );
    s.take_instructions();
    let waiting = if s.state_of(4) == Some(WorkerTaskState::Fetch) {
        4
    } else {
        6
    };
    assert_eq!(s.state_of(waiting), Some(WorkerTaskState::Fetch));
    s.compute(compute(waiting, &[], vec![]), FrameSlice::default());
    assert_eq!(executes(&s.take_instructions()), vec![waiting]);
    s.validate().unwrap();
    s.executed(waiting, Ok(Value::new(2i64)), 3, 0);
    let other = if waiting == 4 { 6 } else { 4 };
    let peer = if other == 4 { 2 } else { 3 };
    s.gathered(peer, vec![(other, Value::new(1i64))], &[]);
    assert!(executes(&s.take_instructions()).contains(&9));
    s.validate().unwrap();
}

#[test]
fn values_the_scheduler_moves_here_are_fetched_kept_and_reported() {
    let mut s = state();
    s.keep_values(vec![dep(4, &[2]), dep(6, &[3])]);
    let out = s.take_instructions();
    assert_eq!(
        out.iter()
            .filter(|i| matches!(i, Instruction::Gather { .. }))
            .count(),
        2,
        "{out:?}"
    );
    s.gathered(2, vec![(4, Value::new(1i64))], &[]);
    let out = s.take_instructions();
    assert!(
        out.iter()
            .any(|i| matches!(i, Instruction::Send(FromWorker::AddKeys { ids }) if ids == &[4])),
        "{out:?}"
    );
    assert_eq!(s.state_of(4), Some(WorkerTaskState::Memory));
    // Its only holder fails: the scheduler hears it, naming the value.
    s.gather_failed(3, &[6], "connection refused");
    let out = s.take_instructions();
    assert!(
        matches!(&out[..], [Instruction::Send(FromWorker::Missing { id: 6, dependency: 6, tried })] if tried.len() == 1),
        "{out:?}"
    );
    assert_eq!(s.state_of(6), None);
    // A value already here is reported at once.
    s.keep_values(vec![dep(4, &[2])]);
    assert!(matches!(
        &s.take_instructions()[..],
        [Instruction::Send(FromWorker::AddKeys { ids })] if ids == &[4]
    ));
    s.validate().unwrap();
}

fn spills(instructions: &[Instruction]) -> Vec<TaskId> {
    instructions
        .iter()
        .filter_map(|i| match i {
            Instruction::Spill { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

/// A worker with a 1000-byte limit and Dask's thresholds, holding values
/// 1, 2, 3 of 240 bytes each (30 f64s), used in that order.
fn holding_three() -> WorkerState {
    let mut s = state();
    s.set_memory(crate::worker::memory::MemorySettings {
        limit: 1000,
        thresholds: crate::worker::memory::Thresholds::default(),
    });
    for id in 1..=3 {
        s.compute(compute(id, &[], vec![]), FrameSlice::default());
        s.take_instructions();
        s.executed(id, Ok(Value::new(vec![0.5f64; 30])), 1, 0);
    }
    s
}

#[test]
fn values_past_target_go_to_disk_oldest_first_and_leave_memory_once_written() {
    let mut s = holding_three();
    // 720 bytes against a target of 600: the oldest goes.
    let out = s.take_instructions();
    assert_eq!(spills(&out), vec![1], "{out:?}");
    assert_eq!(s.heartbeat().managed_bytes, 720, "in memory until written");
    s.written(Written::Spilled { id: 1, bytes: 100 });
    let beat = s.heartbeat();
    assert_eq!(
        (beat.managed_bytes, beat.spilled_bytes, beat.spilled_nbytes),
        (480, 100, 240)
    );
    assert_eq!(s.state_of(1), Some(WorkerTaskState::Memory));
    s.validate().unwrap();
    // A peer asking for it is answered from disk; a task reading it gets
    // it from disk on its thread.
    let served = s.get_data(&[1, 2]);
    assert_eq!(served.on_disk, vec![1]);
    assert_eq!(served.found.len(), 1);
    s.compute(compute(9, &[1], vec![dep(1, &[])]), FrameSlice::default());
    let out = s.take_instructions();
    let job = out
        .iter()
        .find_map(|i| match i {
            Instruction::Execute(job) => Some(job),
            _ => None,
        })
        .unwrap();
    assert!(
        matches!(job.inputs[..], [Input::OnDisk(1)]),
        "{:?}",
        job.inputs
    );
    // Freed, it leaves the disk too.
    s.free(&[1]);
    let out = s.take_instructions();
    assert!(
        out.iter().any(|i| matches!(i, Instruction::Unspill(1))),
        "{out:?}"
    );
    assert_eq!(s.heartbeat().spilled_bytes, 0);
}

#[test]
fn a_value_that_cannot_be_written_stays_in_memory_and_is_not_tried_again() {
    let mut s = holding_three();
    assert_eq!(spills(&s.take_instructions()), vec![1]);
    s.written(Written::Failed {
        id: 1,
        reason: "no codec encodes a Thing".into(),
    });
    assert_eq!(s.heartbeat().managed_bytes, 720);
    // The next check picks the next oldest instead.
    s.memory_tick(None);
    assert_eq!(spills(&s.take_instructions()), vec![2]);
    s.validate().unwrap();
}

#[test]
fn a_value_freed_while_it_is_written_is_dropped_from_disk_after() {
    let mut s = holding_three();
    assert_eq!(spills(&s.take_instructions()), vec![1]);
    s.free(&[1]);
    let out = s.take_instructions();
    assert!(
        out.iter().any(|i| matches!(i, Instruction::Unspill(1))),
        "{out:?}"
    );
    s.written(Written::Spilled { id: 1, bytes: 100 });
    assert_eq!(s.heartbeat().spilled_bytes, 0);
    assert_eq!(s.state_of(1), None);
    s.validate().unwrap();
}

#[test]
fn a_process_past_pause_stops_starting_tasks_until_it_falls_back() {
    let mut s = holding_three();
    s.take_instructions();
    s.memory_tick(Some(850));
    let out = s.take_instructions();
    assert!(
        out.iter()
            .any(|i| matches!(i, Instruction::Send(FromWorker::Paused { paused: true }))),
        "{out:?}"
    );
    assert!(s.heartbeat().paused);
    s.compute(compute(7, &[], vec![]), FrameSlice::default());
    assert!(executes(&s.take_instructions()).is_empty(), "paused");
    s.memory_tick(Some(500));
    let out = s.take_instructions();
    assert!(
        out.iter()
            .any(|i| matches!(i, Instruction::Send(FromWorker::Paused { paused: false }))),
        "{out:?}"
    );
    assert_eq!(executes(&out), vec![7]);
    s.validate().unwrap();
}
