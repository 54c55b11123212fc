//! Work stealing in the scheduler's state machine, driven by hand (no
//! network, validation on after every stimulus): which tasks an idle
//! worker asks for, the request/confirm handshake and its races (after
//! Dask's `test_steal.py`: `test_dont_steal_executing_tasks_2`,
//! `test_dont_steal_expensive_data_fast_computation`,
//! `test_steal_worker_dies_same_ip`, `test_paused_workers_must_not_steal`).
#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on the first surprise"
)]

mod support;

use barrow_core::Annotations;
use barrow_distributed::protocol::{
    FromClient, FromWorker, Question, StealState, TaskId, ToWorker, WorkerId,
};
use barrow_distributed::scheduler::{Outbox, SchedulerConfig, SchedulerState, State};
use support::state::{cluster, computes, finish, finish_with, registration, submit_annotated};

/// Tasks reading `x` in a scene.
const TASKS: u32 = 10;

/// Worker `w0` holds `x`, and the tasks `t-0` … `t-9` reading it were all
/// sent to `w0` before `w1` joined: `w1` is idle, `w0` has a queue (five
/// seconds of work expected, half a second per task).
struct Scene {
    state: SchedulerState,
    w0: WorkerId,
    w1: WorkerId,
    x: TaskId,
    /// The tasks sent to `w0`, with their runs.
    sent: Vec<(TaskId, u64)>,
}

fn scene(x_bytes: u64, annotations: Option<Annotations>) -> Scene {
    let (mut state, workers, client) = cluster(1, SchedulerConfig::default());
    let w0 = workers[0];
    let names: Vec<String> = (0..TASKS).map(|i| format!("t-{i}")).collect();
    let mut tasks: Vec<(&str, &[u32], Option<Annotations>)> = vec![("x", &[], None)];
    for name in &names {
        tasks.push((name, &[0], annotations.clone()));
    }
    let wanted: Vec<u32> = (1..=TASKS).collect();
    submit_annotated(&mut state, client, &tasks, &wanted);
    let (_, x, run) = computes(&state.take_outbox())[0];
    finish_with(&mut state, w0, x, run, x_bytes, 10);
    let sent: Vec<(TaskId, u64)> = computes(&state.take_outbox())
        .into_iter()
        .map(|(w, id, run)| {
            assert_eq!(w, w0);
            (id, run)
        })
        .collect();
    assert_eq!(sent.len(), TASKS as usize);
    let w1 = state.add_worker(registration("w1", 101, 1)).unwrap().id;
    let _ = state.take_outbox();
    Scene {
        state,
        w0,
        w1,
        x,
        sent,
    }
}

/// The steal requests in the outbox: (victim, task, run).
fn steals(outbox: &Outbox) -> Vec<(WorkerId, TaskId, u64)> {
    outbox
        .to_workers()
        .filter_map(|(w, m)| match m {
            ToWorker::Steal { id, run } => Some((w, *id, *run)),
            _ => None,
        })
        .collect()
}

fn answer(state: &mut SchedulerState, worker: WorkerId, id: TaskId, run: u64, s: StealState) {
    state.handle_worker(worker, FromWorker::StealResponse { id, run, state: s });
}

/// How many tasks are in `state`.
fn count(state: &SchedulerState, which: State) -> u64 {
    state
        .info()
        .tasks
        .iter()
        .find(|(name, _)| name == which.name())
        .map_or(0, |(_, n)| *n)
}

/// How many of the scene's tasks were moved by a steal, as their stories
/// tell.
fn moved_by_steals(state: &SchedulerState) -> usize {
    (0..TASKS)
        .filter(|i| {
            state
                .story(&barrow_core::Key::new(format!("t-{i}")))
                .iter()
                .any(|r| {
                    r.from == Some(State::Processing)
                        && r.to == Some(State::Processing)
                        && r.stimulus.kind == "steal-response"
                })
        })
        .count()
}

/// A worker's status, as clients see it.
fn status(state: &SchedulerState, worker: WorkerId) -> Option<String> {
    state
        .info()
        .workers
        .into_iter()
        .find(|w| w.summary.id == worker)
        .map(|w| w.status)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn an_idle_worker_steals_queued_tasks_and_the_victim_s_late_result_is_refused() {
    let Scene {
        mut state,
        w0,
        w1,
        sent,
        ..
    } = scene(8, None);
    assert!(close(state.occupancy(w0).unwrap(), 5.0));
    state.balance();
    let requests = steals(&state.take_outbox());
    assert!(requests.len() >= 2, "{requests:?}");
    assert!(requests.iter().all(|&(w, _, _)| w == w0));
    // The last sent first: the ones the victim would start last.
    let last: Vec<(TaskId, u64)> = sent.iter().rev().take(requests.len()).copied().collect();
    let asked: Vec<(TaskId, u64)> = requests.iter().map(|&(_, id, run)| (id, run)).collect();
    assert_eq!(asked, last);
    assert_eq!(state.steals_in_flight(), requests.len());
    // Until the answers come, the balance counts the moves.
    assert!(state.occupancy(w0).unwrap() < 5.0);
    assert!(state.occupancy(w1).unwrap() > 0.0);
    // Asked again meanwhile, nothing more is requested for those tasks.
    state.balance();
    let again = steals(&state.take_outbox());
    assert!(
        again
            .iter()
            .all(|(_, id, _)| !asked.iter().any(|(a, _)| a == id))
    );
    for &(_, id, run) in &again {
        answer(&mut state, w0, id, run, StealState::Executing);
    }

    // Ready, and waiting: both move to the thief under a new run.
    let (first, first_run) = asked[0];
    answer(&mut state, w0, first, first_run, StealState::Ready);
    let sent_again = computes(&state.take_outbox());
    assert_eq!(sent_again.len(), 1);
    let (to, id, new_run) = sent_again[0];
    assert_eq!((to, id), (w1, first));
    assert_ne!(new_run, first_run);
    let (second, second_run) = asked[1];
    answer(&mut state, w0, second, second_run, StealState::Waiting);
    let moved = computes(&state.take_outbox());
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].0, w1);
    for &(id, run) in &asked[2..] {
        answer(&mut state, w0, id, run, StealState::Executing);
    }
    assert_eq!(state.steals_in_flight(), 0);
    assert_eq!(moved_by_steals(&state), 2);
    // Occupancy follows the tasks.
    assert!(close(state.occupancy(w0).unwrap(), 4.0));
    assert!(close(state.occupancy(w1).unwrap(), 1.0));

    // The victim's result for the old run is refused: it is told to drop
    // it, and the task waits for the thief.
    let memory = count(&state, State::Memory);
    finish(&mut state, w0, first, first_run);
    let outbox = state.take_outbox();
    assert!(
        outbox
            .to_workers()
            .any(|(w, m)| w == w0 && matches!(m, ToWorker::Free { ids } if ids == &[first]))
    );
    assert_eq!(count(&state, State::Memory), memory);
    finish(&mut state, w1, first, new_run);
    assert_eq!(count(&state, State::Memory), memory + 1);
    state.validate().unwrap();
}

#[test]
fn an_answer_saying_executing_or_memory_calls_the_steal_off() {
    let Scene {
        mut state, w0, w1, ..
    } = scene(8, None);
    state.balance();
    let requests = steals(&state.take_outbox());
    assert!(requests.len() >= 2, "{requests:?}");
    let (_, finished, finished_run) = requests[0];
    // Its result crossed the request: the victim says it is in memory.
    answer(&mut state, w0, finished, finished_run, StealState::Memory);
    for &(_, id, run) in &requests[1..] {
        answer(&mut state, w0, id, run, StealState::Executing);
    }
    assert!(computes(&state.take_outbox()).is_empty(), "nothing moves");
    assert_eq!(state.steals_in_flight(), 0);
    // The occupancies are the victim's and the thief's again.
    assert!(close(state.occupancy(w0).unwrap(), 5.0));
    assert!(close(state.occupancy(w1).unwrap(), 0.0));
    // The victim's results are taken.
    let memory = count(&state, State::Memory);
    finish(&mut state, w0, finished, finished_run);
    assert_eq!(count(&state, State::Memory), memory + 1);
    // A task that had started is not asked for again.
    state.balance();
    let again = steals(&state.take_outbox());
    assert!(
        again
            .iter()
            .all(|(_, id, _)| !requests.iter().any(|(_, r, _)| r == id)),
        "{again:?}"
    );
    state.validate().unwrap();
}

#[test]
fn stale_answers_change_nothing() {
    let Scene {
        mut state, w0, w1, ..
    } = scene(8, None);
    state.balance();
    let requests = steals(&state.take_outbox());
    assert!(requests.len() >= 2, "{requests:?}");
    let (_, a, a_run) = requests[0];
    let pending = state.steals_in_flight();
    // An answer for another run, or from a worker that was not asked.
    answer(&mut state, w0, a, a_run + 1000, StealState::Ready);
    answer(&mut state, w1, a, a_run, StealState::Ready);
    assert!(computes(&state.take_outbox()).is_empty());
    assert_eq!(state.steals_in_flight(), pending);
    // The task finished before the answer came: the answer is stale.
    finish(&mut state, w0, a, a_run);
    let memory = count(&state, State::Memory);
    answer(&mut state, w0, a, a_run, StealState::Ready);
    assert!(computes(&state.take_outbox()).is_empty());
    assert_eq!(count(&state, State::Memory), memory);
    // Answered twice: the second answer is stale.
    let (_, b, b_run) = requests[1];
    answer(&mut state, w0, b, b_run, StealState::Executing);
    answer(&mut state, w0, b, b_run, StealState::Ready);
    assert!(computes(&state.take_outbox()).is_empty());
    state.validate().unwrap();
    // The victim leaves: its tasks are placed again (with x, lost with
    // it), and its answers, should they come, are not heard.
    state.remove_worker(w0, "its connection closed");
    let _ = state.take_outbox();
    for &(_, id, run) in &requests[2..] {
        answer(&mut state, w0, id, run, StealState::Ready);
    }
    assert!(computes(&state.take_outbox()).is_empty());
    state.balance();
    assert_eq!(state.steals_in_flight(), 0, "requests to a departed worker");
    assert!(steals(&state.take_outbox()).is_empty());
    state.validate().unwrap();
}

#[test]
fn a_task_whose_inputs_cost_more_to_move_than_to_compute_stays() {
    // 100 MB (a second at 100 MB/s) for half a second of work: the
    // victim's queue (five seconds) would be worth it otherwise.
    let Scene {
        mut state, w1, x, ..
    } = scene(100_000_000, None);
    state.balance();
    assert!(steals(&state.take_outbox()).is_empty());
    assert_eq!(state.steals_in_flight(), 0);
    // Once the thief holds a copy of the input, moving costs nothing.
    state.handle_worker(w1, FromWorker::AddKeys { ids: vec![x] });
    state.balance();
    assert!(!steals(&state.take_outbox()).is_empty());
    state.validate().unwrap();
}

#[test]
fn a_task_restricted_to_its_worker_stays_and_a_loosely_restricted_one_moves() {
    let strict = Annotations::new().workers(["w0"]);
    let Scene { mut state, .. } = scene(8, Some(strict));
    state.balance();
    assert!(steals(&state.take_outbox()).is_empty());

    let loose = Annotations::new().workers(["w0"]).allow_other_workers(true);
    let Scene { mut state, w0, .. } = scene(8, Some(loose));
    state.balance();
    let requests = steals(&state.take_outbox());
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|&(w, _, _)| w == w0));
}

#[test]
fn equally_busy_victims_give_alike() {
    // Ten tasks on each of w0 and w1 (loosely restricted there, so
    // placement puts them there and stealing may move them), then w2 joins.
    let (mut state, workers, client) = cluster(2, SchedulerConfig::default());
    let names: Vec<String> = (0..2 * TASKS).map(|i| format!("t-{i}")).collect();
    let tasks: Vec<(&str, &[u32], Option<Annotations>)> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let to = if i < TASKS as usize { "w0" } else { "w1" };
            let loose = Annotations::new().workers([to]).allow_other_workers(true);
            (name.as_str(), &[][..], Some(loose))
        })
        .collect();
    let wanted: Vec<u32> = (0..2 * TASKS).collect();
    submit_annotated(&mut state, client, &tasks, &wanted);
    let sent = computes(&state.take_outbox());
    for w in &workers {
        assert_eq!(sent.iter().filter(|s| s.0 == *w).count(), TASKS as usize);
    }
    state.add_worker(registration("w2", 102, 1)).unwrap();
    let _ = state.take_outbox();
    state.balance();
    let requests = steals(&state.take_outbox());
    let from = |w: WorkerId| requests.iter().filter(|r| r.0 == w).count();
    let (a, b) = (from(workers[0]), from(workers[1]));
    assert!(a >= 1 && b >= 1 && a.abs_diff(b) <= 1, "{a} and {b}");
    state.validate().unwrap();
}

#[test]
fn a_thief_that_leaves_before_the_answer_leaves_the_task_to_placement() {
    let Scene {
        mut state, w0, w1, ..
    } = scene(8, None);
    state.balance();
    let requests = steals(&state.take_outbox());
    let (_, id, run) = requests[0];
    state.remove_worker(w1, "its connection closed");
    let _ = state.take_outbox();
    state.validate().unwrap();
    // The victim dropped it: it is placed again, on the only worker left.
    answer(&mut state, w0, id, run, StealState::Ready);
    let sent = computes(&state.take_outbox());
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].0, sent[0].1), (w0, id));
    assert_ne!(sent[0].2, run);
    state.validate().unwrap();
}

#[test]
fn a_thief_back_at_the_same_address_is_another_worker() {
    let Scene {
        mut state, w0, w1, ..
    } = scene(8, None);
    state.balance();
    let requests = steals(&state.take_outbox());
    let (_, id, run) = requests[0];
    // The thief restarts: same name, same address, a new id.
    state.remove_worker(w1, "its connection closed");
    let again = state.add_worker(registration("w1", 101, 1)).unwrap().id;
    assert_ne!(again, w1);
    let _ = state.take_outbox();
    answer(&mut state, w0, id, run, StealState::Ready);
    let sent = computes(&state.take_outbox());
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_ne!(sent[0].0, w1, "never to the worker that left");
    assert_eq!(sent[0].1, id);
    assert_eq!(status(&state, again), Some("running".to_owned()));
    state.validate().unwrap();
}

#[test]
fn a_worker_that_is_not_running_steals_nothing() {
    // y only on w1, x on w0; w1 retires (it stays while y is copied), and
    // the tasks reading x all go to w0.
    let (mut state, workers, client) = cluster(2, SchedulerConfig::default());
    let (w0, w1) = (workers[0], workers[1]);
    let names: Vec<String> = (0..TASKS).map(|i| format!("t-{i}")).collect();
    let mut tasks: Vec<(&str, &[u32], Option<Annotations>)> = vec![
        ("y", &[], Some(Annotations::new().workers(["w1"]))),
        ("x", &[], Some(Annotations::new().workers(["w0"]))),
    ];
    for name in &names {
        tasks.push((name, &[1], None));
    }
    let wanted: Vec<u32> = (0..TASKS + 2).collect();
    submit_annotated(&mut state, client, &tasks, &wanted);
    let sent = computes(&state.take_outbox());
    let on = |w: WorkerId| *sent.iter().find(|s| s.0 == w).unwrap();
    let (_, y, y_run) = on(w1);
    let (_, x, x_run) = on(w0);
    finish(&mut state, w1, y, y_run);
    state.handle_client(
        client,
        FromClient::Ask {
            request: 1,
            question: Question::Retire(vec!["w1".to_owned()]),
        },
        &|_| None,
    );
    assert_eq!(status(&state, w1), Some("retiring".to_owned()));
    finish(&mut state, w0, x, x_run);
    let sent = computes(&state.take_outbox());
    assert_eq!(sent.len(), TASKS as usize);
    assert!(sent.iter().all(|s| s.0 == w0));
    state.balance();
    assert!(steals(&state.take_outbox()).is_empty());
    state.validate().unwrap();
}

#[test]
fn with_work_stealing_off_nothing_is_asked() {
    let (mut state, workers, client) = cluster(
        1,
        SchedulerConfig {
            work_stealing: false,
            ..SchedulerConfig::default()
        },
    );
    let names: Vec<String> = (0..TASKS).map(|i| format!("t-{i}")).collect();
    let mut tasks: Vec<(&str, &[u32], Option<Annotations>)> = vec![("x", &[], None)];
    for name in &names {
        tasks.push((name, &[0], None));
    }
    let wanted: Vec<u32> = (1..=TASKS).collect();
    submit_annotated(&mut state, client, &tasks, &wanted);
    let (_, x, run) = computes(&state.take_outbox())[0];
    finish(&mut state, workers[0], x, run);
    state.add_worker(registration("w1", 101, 1)).unwrap();
    let _ = state.take_outbox();
    state.balance();
    assert!(steals(&state.take_outbox()).is_empty());
}

#[test]
fn a_paused_worker_steals_nothing_until_its_pause_ends() {
    let Scene {
        mut state, w0, w1, ..
    } = scene(8, None);
    state.handle_worker(w1, FromWorker::Paused { paused: true });
    assert_eq!(status(&state, w1), Some("paused".to_owned()));
    let _ = state.take_outbox();
    state.balance();
    assert!(steals(&state.take_outbox()).is_empty());
    assert!(state.occupancy(w1).unwrap().abs() < 1e-9);

    state.handle_worker(w1, FromWorker::Paused { paused: false });
    let _ = state.take_outbox();
    state.balance();
    let requests = steals(&state.take_outbox());
    assert!(!requests.is_empty());
    assert!(requests.iter().all(|&(w, _, _)| w == w0));
    state.validate().unwrap();
}
