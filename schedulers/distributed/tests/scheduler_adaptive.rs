//! The scheduler's demand for workers (Dask's `adaptive_target`), on its
//! state machine: work in hand over the target duration, never more
//! workers than tasks, doubled under memory pressure, and idle workers
//! holding the least chosen to close.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use barrow_distributed::scheduler::{SchedulerConfig, SchedulerState};
use support::state::{cluster, computes, finish_with, registration, submit};

#[test]
fn an_empty_cluster_wants_no_worker_and_names_the_idle_to_close() {
    let (state, _, _) = cluster(3, SchedulerConfig::default());
    let target = state.adaptive_target(5.0);
    assert_eq!(target.workers, 0);
    assert_eq!(target.close.len(), 3);
}

#[test]
fn queued_work_asks_for_workers_by_its_expected_duration() {
    let (mut state, _, client) = cluster(1, SchedulerConfig::default());
    // 40 independent tasks of unknown duration (0.5 s each): 20 s of work.
    let names: Vec<String> = (0..40).map(|i| format!("t-{i}")).collect();
    let tasks: Vec<(&str, &[u32])> = names.iter().map(|n| (n.as_str(), &[][..])).collect();
    let wanted: Vec<u32> = (0..40).collect();
    submit(&mut state, client, &tasks, &wanted);
    assert_eq!(state.adaptive_target(5.0).workers, 4);
    assert_eq!(state.adaptive_target(1.0).workers, 20);
    // Never more workers than tasks.
    assert_eq!(state.adaptive_target(0.001).workers, 40);
    assert!(state.adaptive_target(5.0).close.is_empty());
}

#[test]
fn measured_durations_replace_the_guess() {
    let (mut state, workers, client) = cluster(1, SchedulerConfig::default());
    let names: Vec<String> = (0..21).map(|i| format!("t-{i}")).collect();
    let tasks: Vec<(&str, &[u32])> = names.iter().map(|n| (n.as_str(), &[][..])).collect();
    let wanted: Vec<u32> = (0..21).collect();
    submit(&mut state, client, &tasks, &wanted);
    let sent = computes(&state.take_outbox());
    let (worker, id, run) = sent[0];
    assert_eq!(worker, workers[0]);
    // One finished in 10 ms: the other 20 are 0.2 s of work, one worker.
    finish_with(&mut state, worker, id, run, 8, 10_000);
    assert_eq!(state.adaptive_target(5.0).workers, 1);
}

#[test]
fn values_past_sixty_percent_of_the_limits_double_the_workers() {
    let mut state = SchedulerState::new(SchedulerConfig {
        validate: true,
        ..SchedulerConfig::default()
    });
    // Each worker has 1 KiB; the one value takes 2 KiB, past 60% of both.
    for i in 0..2 {
        let mut worker = registration(&format!("w{i}"), 100 + i, 1);
        worker.memory_limit = 1024;
        state.add_worker(worker).unwrap();
    }
    let (client, _) = state.add_client("test".to_owned());
    submit(&mut state, client, &[("big", &[])], &[0]);
    let (worker, id, run) = computes(&state.take_outbox())[0];
    finish_with(&mut state, worker, id, run, 2048, 10);
    let target = state.adaptive_target(5.0);
    assert_eq!(target.workers, 4);
    assert!(target.close.is_empty());
}

#[test]
fn the_idle_worker_holding_least_closes_first() {
    let (mut state, workers, client) = cluster(2, SchedulerConfig::default());
    submit(&mut state, client, &[("held", &[])], &[0]);
    let (worker, id, run) = computes(&state.take_outbox())[0];
    finish_with(&mut state, worker, id, run, 1000, 10);
    let target = state.adaptive_target(5.0);
    assert_eq!(target.workers, 0);
    let other = workers.iter().position(|&w| w != worker).unwrap();
    assert_eq!(target.close[0], format!("w{other}"));
}
