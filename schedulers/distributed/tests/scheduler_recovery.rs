//! The scheduler's state machine when workers are lost: driven by hand
//! (no network), with validation on, so each rule is checked exactly:
//! rescheduling, recomputation, blame from nanny reports, `KilledWorker`,
//! time to live and adaptive heartbeats.
#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on the first surprise"
)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use barrow_core::ErrorKind;
use barrow_distributed::protocol::handshake::Death;
use barrow_distributed::protocol::{
    Answer, FromClient, FromWorker, Question, TaskId, ToClient, ToWorker, WorkerId,
};
use barrow_distributed::scheduler::{Outbox, SchedulerConfig, SchedulerState, State};
use support::state::{cluster, computes, finish, key, registration, state_of, submit};

#[test]
fn a_lost_worker_s_tasks_run_elsewhere_and_its_values_are_computed_again() {
    let (mut state, workers, client) = cluster(2, SchedulerConfig::default());
    // a -> b; both wanted.
    submit(&mut state, client, &[("a", &[]), ("b", &[0])], &[1]);
    let sent = computes(&state.take_outbox());
    assert_eq!(sent.len(), 1);
    let (on, a, run) = sent[0];
    finish(&mut state, on, a, run);
    // b goes where a is.
    let sent = computes(&state.take_outbox());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, on, "b runs where its input is");
    // That worker dies: a (held only there) is computed again on the
    // other, and b waits for it there.
    state.remove_worker(on, "its connection closed");
    assert_eq!(state_of(&state, "b"), Some(State::Waiting));
    let other = *workers.iter().find(|&&w| w != on).unwrap();
    let sent = computes(&state.take_outbox());
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, other);
    let (_, a_again, run) = sent[0];
    assert_eq!(a_again, a);
    finish(&mut state, other, a, run);
    let sent = computes(&state.take_outbox());
    assert_eq!(sent.len(), 1);
    let (w, b, run) = sent[0];
    assert_eq!(w, other);
    finish(&mut state, other, b, run);
    let outbox = state.take_outbox();
    assert!(
        outbox
            .to_clients()
            .any(|(_, m)| matches!(m, ToClient::InMemory(l) if l.key == key("b"))),
        "b reaches the client"
    );
    // The stale result of the dead worker's run is not taken.
    assert_eq!(state_of(&state, "b"), Some(State::Memory));
    state.validate().unwrap();
}

#[test]
fn a_task_processing_elsewhere_is_sent_again_when_its_input_is_lost() {
    let (mut state, workers, client) = cluster(2, SchedulerConfig::default());
    // a on w0; c needs a and the scattered-free value b computed on w1.
    submit(
        &mut state,
        client,
        &[("a", &[]), ("b", &[]), ("c", &[0, 1])],
        &[2],
    );
    let sent = computes(&state.take_outbox());
    assert_eq!(sent.len(), 2);
    for &(w, id, run) in &sent {
        finish(&mut state, w, id, run);
    }
    let sent = computes(&state.take_outbox());
    assert_eq!(sent.len(), 1);
    let (c_on, _, _) = sent[0];
    let other = *workers.iter().find(|&&w| w != c_on).unwrap();
    // The worker that does not run c dies, taking one of c's inputs.
    state.remove_worker(other, "its connection closed");
    assert_eq!(
        state_of(&state, "c"),
        Some(State::Waiting),
        "c waits for its lost input"
    );
    let outbox = state.take_outbox();
    assert!(
        outbox
            .to_workers()
            .any(|(w, m)| w == c_on && matches!(m, ToWorker::Free { .. })),
        "c's old run is stopped"
    );
    let sent = computes(&outbox);
    assert_eq!(sent.len(), 1, "only the lost input runs again: {sent:?}");
    state.validate().unwrap();
}

#[test]
fn a_lost_scattered_value_fails_the_tasks_that_need_it_naming_it() {
    let (mut state, workers, client) = cluster(1, SchedulerConfig::default());
    let w = workers[0];
    // A scattered value: a task with no spec, held by w.
    state.handle_client(
        client,
        FromClient::Scatter {
            request: 1,
            values: vec![(key("s"), 8, "i64".to_owned())],
            workers: Vec::new(),
            broadcast: false,
        },
        &|_| Some(Arc::from(&[0u8][..])),
    );
    let outbox = state.take_outbox();
    let ids: Vec<TaskId> = outbox
        .to_workers()
        .filter_map(|(_, m)| match m {
            ToWorker::PutData { ids } => Some(ids.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    state.handle_worker(w, FromWorker::AddKeys { ids });
    let _ = state.take_outbox();
    assert_eq!(state_of(&state, "s"), Some(State::Memory));
    state.remove_worker(w, "its connection closed");
    let outbox = state.take_outbox();
    let erred: Vec<String> = outbox
        .to_clients()
        .filter_map(|(_, m)| match m {
            ToClient::Erred { key: k, error, .. } if *k == key("s") => Some(error.message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(erred.len(), 1, "the client hears of it");
    assert!(
        erred[0].contains("scattered") && erred[0].contains("'w0'"),
        "{}",
        erred[0]
    );
}

/// Kills the worker named `name` (pid `pid`) while it executes `executing`,
/// and brings it back as pid `pid + 1000`, carrying its nanny's report.
fn die_and_return(
    state: &mut SchedulerState,
    id: WorkerId,
    name: &str,
    pid: u32,
    executing: Vec<(TaskId, u64)>,
) -> WorkerId {
    state.remove_worker(id, "its connection closed");
    let mut again = registration(name, pid + 1000, 2);
    again.previous = Some(Death {
        pid,
        cause: "was killed by signal 6 (SIGABRT: an abort)".to_owned(),
        executing,
        output: vec!["about to abort".to_owned(), "Aborted".to_owned()],
    });
    state.add_worker(again).unwrap().id
}

#[test]
fn only_the_tasks_executing_when_a_worker_dies_are_blamed_and_killed_worker_says_how() {
    let config = SchedulerConfig {
        allowed_failures: 2,
        ..SchedulerConfig::default()
    };
    let mut state = SchedulerState::new(SchedulerConfig {
        validate: true,
        ..config
    });
    let mut worker = state.add_worker(registration("w0", 100, 2)).unwrap().id;
    let mut pid = 100;
    let (client, _) = state.add_client("test".to_owned());
    submit(&mut state, client, &[("crash", &[])], &[0]);
    let sent = computes(&state.take_outbox());
    let (crash, mut crash_run) = (sent[0].1, sent[0].2);
    submit(&mut state, client, &[("innocent", &[])], &[0]);
    assert_eq!(computes(&state.take_outbox()).len(), 1);
    for death in 0..3 {
        // Only "crash" was executing (the board says so); "innocent" was
        // merely processing there.
        worker = die_and_return(&mut state, worker, "w0", pid, vec![(crash, crash_run)]);
        pid += 1000;
        if death < 2 {
            let sent = computes(&state.take_outbox());
            assert_eq!(sent.len(), 2, "both run again after death {death}");
            crash_run = sent.iter().find(|s| s.1 == crash).unwrap().2;
        }
    }
    let outbox = state.take_outbox();
    let killed: Vec<_> = outbox
        .to_clients()
        .filter_map(|(_, m)| match m {
            ToClient::Erred { key: k, error, .. } => Some((k.clone(), error.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(killed.len(), 1, "only the crashing task fails: {killed:?}");
    let (k, error) = &killed[0];
    assert_eq!(*k, key("crash"));
    let error = error.clone().into_error("the cluster");
    assert_eq!(error.kind(), ErrorKind::KilledWorker);
    let text = error.to_string();
    assert!(text.contains("3 workers"), "{text}");
    assert!(text.contains("allowed-failures = 2"), "{text}");
    assert_eq!(text.matches("signal 6 (SIGABRT").count(), 3, "{text}");
    assert!(text.contains("| Aborted"), "{text}");
    assert!(text.contains("'w0'"), "{text}");
    assert_eq!(state_of(&state, "innocent"), Some(State::Processing));
    let _ = worker;
}

#[test]
fn a_report_about_a_task_no_longer_there_blames_nothing() {
    let (mut state, workers, client) = cluster(1, SchedulerConfig::default());
    submit(&mut state, client, &[("a", &[])], &[0]);
    let sent = computes(&state.take_outbox());
    let (w, id, run) = sent[0];
    // The board names a run the scheduler never sent there.
    let back = die_and_return(&mut state, w, "w0", 100, vec![(id, run + 99)]);
    let sent = computes(&state.take_outbox());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, back);
    assert_eq!(state_of(&state, "a"), Some(State::Processing));
    let _ = workers;
}

#[test]
fn a_silent_worker_is_removed_after_its_time_to_live_and_told_to_restart() {
    let (mut state, workers, client) = cluster(
        2,
        SchedulerConfig {
            worker_ttl: Duration::from_secs(30),
            ..SchedulerConfig::default()
        },
    );
    submit(&mut state, client, &[("a", &[])], &[0]);
    let (w, _, _) = computes(&state.take_outbox())[0];
    let start = Instant::now();
    // The other worker keeps talking; w says nothing.
    let other = *workers.iter().find(|&&x| x != w).unwrap();
    for seconds in [10u64, 20, 29] {
        state.set_now(start + Duration::from_secs(seconds));
        state.handle_worker(other, FromWorker::Heartbeat(Default::default()));
        state.check_timeouts();
    }
    assert_eq!(state.info().workers.len(), 2, "not yet past 30 s");
    state.set_now(start + Duration::from_secs(31));
    state.handle_worker(other, FromWorker::Heartbeat(Default::default()));
    state.check_timeouts();
    assert_eq!(state.info().workers.len(), 1);
    let outbox = state.take_outbox();
    assert!(outbox.to_workers().any(|(to, m)| to == w
        && matches!(m, ToWorker::Close { restart: true, reason } if reason.contains("worker-ttl"))));
    let sent = computes(&outbox);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, other, "its task runs on the worker still there");
}

#[test]
fn heartbeats_slow_down_as_workers_join_and_speed_up_as_they_leave() {
    let (mut state, _, _) = cluster(10, SchedulerConfig::default());
    let joined = state.add_worker(registration("w10", 999, 1)).unwrap();
    assert_eq!(joined.heartbeat, Duration::from_secs(1));
    let outbox = state.take_outbox();
    let told: Vec<u64> = outbox
        .to_workers()
        .filter_map(|(_, m)| match m {
            ToWorker::HeartbeatInterval { ms } => Some(*ms),
            _ => None,
        })
        .collect();
    assert_eq!(told.len(), 11, "every worker hears the new interval");
    assert!(told.iter().all(|&ms| ms == 1000));
    state.remove_worker(joined.id, "its connection closed");
    let outbox = state.take_outbox();
    assert_eq!(
        outbox
            .to_workers()
            .filter(|(_, m)| matches!(m, ToWorker::HeartbeatInterval { ms: 500 }))
            .count(),
        10
    );
}

#[test]
fn the_unfinished_report_names_each_task_its_worker_and_where_its_inputs_are() {
    let (mut state, _, client) = cluster(2, SchedulerConfig::default());
    submit(&mut state, client, &[("a", &[]), ("b", &[0])], &[1]);
    let (on, a, run) = computes(&state.take_outbox())[0];
    finish(&mut state, on, a, run);
    let _ = state.take_outbox();
    let report = state.unfinished_report(10);
    assert!(report.contains("2 workers:"), "{report}");
    assert!(
        report.contains("1 tasks not finished (0 waiting, 0 queued, 0 no-worker, 1 processing):"),
        "{report}"
    );
    let holder = if report.contains("b: processing on w0") {
        "w0"
    } else {
        "w1"
    };
    assert!(
        report.contains(&format!("b: processing on {holder} (run ")),
        "{report}"
    );
    assert!(
        report.contains(&format!("needs a (memory on {holder})")),
        "{report}"
    );
    // A limit below the count says so.
    submit(
        &mut state,
        client,
        &[("c", &[]), ("d", &[]), ("e", &[])],
        &[0, 1, 2],
    );
    assert!(state.unfinished_report(1).contains("; the first 1:"));
}

#[test]
fn a_retiring_worker_s_values_are_copied_again_when_their_target_leaves() {
    let (mut state, workers, client) = cluster(3, SchedulerConfig::default());
    submit(&mut state, client, &[("a", &[])], &[0]);
    let (on, a, run) = computes(&state.take_outbox())[0];
    finish(&mut state, on, a, run);
    let _ = state.take_outbox();
    let name = format!("w{}", workers.iter().position(|&w| w == on).unwrap());
    state.handle_client(
        client,
        FromClient::Ask {
            request: 7,
            question: Question::Retire(vec![name.clone()]),
        },
        &|_| None,
    );
    let acquires = |outbox: &Outbox| -> Vec<(WorkerId, Vec<TaskId>)> {
        outbox
            .to_workers()
            .filter_map(|(w, m)| match m {
                ToWorker::Acquire { values } => Some((w, values.iter().map(|v| v.id).collect())),
                _ => None,
            })
            .collect()
    };
    let sent = acquires(&state.take_outbox());
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (first, ids) = &sent[0];
    assert_eq!(ids, &[a]);
    assert_ne!(*first, on);
    // The worker taking the copy dies before it has it: the copy goes to
    // the one left.
    state.remove_worker(*first, "its connection closed");
    let sent = acquires(&state.take_outbox());
    let last = *workers.iter().find(|&&w| w != on && w != *first).unwrap();
    assert_eq!(sent, [(last, vec![a])]);
    state.handle_worker(last, FromWorker::AddKeys { ids: vec![a] });
    let outbox = state.take_outbox();
    assert!(
        outbox
            .to_workers()
            .any(|(w, m)| w == on && matches!(m, ToWorker::Close { restart: false, .. })),
        "the retired worker is closed, not restarted"
    );
    assert!(outbox.to_clients().any(|(c, m)| c == client
        && matches!(m, ToClient::Reply { request: 7, answer: Ok(Answer::Names(n)) } if n == std::slice::from_ref(&name))));
    assert_eq!(state.info().workers.len(), 1);
    assert_eq!(state_of(&state, "a"), Some(State::Memory));
    state.validate().unwrap();
}

#[test]
fn a_retiring_worker_is_given_none_of_the_tasks_sent_elsewhere_again() {
    // Placement, too, gives no work to a worker that is not running: what
    // a retiring worker ran goes to the others, even a root task of a run
    // that was going to it.
    let (mut state, workers, client) = cluster(2, SchedulerConfig::default());
    submit(&mut state, client, &[("a", &[]), ("b", &[])], &[0, 1]);
    for (w, id, run) in computes(&state.take_outbox()) {
        finish(&mut state, w, id, run);
    }
    // Both hold a value only they hold; each runs one more task.
    submit(&mut state, client, &[("c", &[]), ("d", &[])], &[0, 1]);
    let sent = computes(&state.take_outbox());
    assert_eq!(sent.len(), 2);
    state.handle_client(
        client,
        FromClient::Ask {
            request: 1,
            question: Question::Retire(vec!["w1".to_owned()]),
        },
        &|_| None,
    );
    let sent = computes(&state.take_outbox());
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, workers[0]);
    let info = state.info();
    let retiring = info.workers.iter().find(|w| w.summary.id == workers[1]);
    assert_eq!(
        retiring.map(|w| (w.status.as_str(), w.processing)),
        Some(("retiring", 0))
    );
    state.validate().unwrap();
}
