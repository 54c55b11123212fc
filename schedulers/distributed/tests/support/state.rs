//! Helpers for tests that drive the scheduler's state machine by hand (no
//! network): workers and a client registered, graphs submitted, results
//! reported, the messages it sends read back.

use std::sync::Arc;

use barrow_core::Annotations;
use barrow_distributed::protocol::handshake::WorkerRegistration;
use barrow_distributed::protocol::{
    DepRef, FromClient, FromWorker, TaskDef, TaskId, ToWorker, UpdateGraph, WorkerId,
};
use barrow_distributed::scheduler::{Outbox, SchedulerConfig, SchedulerState, State};
use barrow_wire::task::WireKey;

pub fn key(name: &str) -> WireKey {
    WireKey {
        name: name.to_owned(),
        index: vec![],
    }
}

pub fn registration(name: &str, pid: u32, threads: u32) -> WorkerRegistration {
    WorkerRegistration {
        name: name.to_owned(),
        address: format!("tcp://127.0.0.1:{}", 9000 + pid),
        nthreads: threads,
        memory_limit: 0,
        resources: Vec::new(),
        functions: vec!["f".to_owned()],
        functions_fingerprint: 1,
        plugins: Vec::new(),
        host: "here".to_owned(),
        pid,
        previous: None,
    }
}

/// A scheduler (validation on) with `workers` one-thread workers named
/// `w0`, `w1`, ... and a client; returns it with the worker ids.
pub fn cluster(workers: u32, config: SchedulerConfig) -> (SchedulerState, Vec<WorkerId>, u32) {
    let mut state = SchedulerState::new(SchedulerConfig {
        validate: true,
        ..config
    });
    let ids = (0..workers)
        .map(|i| {
            state
                .add_worker(registration(&format!("w{i}"), 100 + i, 1))
                .unwrap()
                .id
        })
        .collect();
    let (client, _) = state.add_client("test".to_owned());
    let _ = state.take_outbox();
    (state, ids, client)
}

/// Submits tasks named `names`, each depending on those listed, wanting
/// the ones in `wanted`.
pub fn submit(state: &mut SchedulerState, client: u32, tasks: &[(&str, &[u32])], wanted: &[u32]) {
    let tasks: Vec<(&str, &[u32], Option<Annotations>)> = tasks
        .iter()
        .map(|&(name, deps)| (name, deps, None))
        .collect();
    submit_annotated(state, client, &tasks, wanted);
}

/// Submits tasks as [`submit`] does, each with its annotations.
pub fn submit_annotated(
    state: &mut SchedulerState,
    client: u32,
    tasks: &[(&str, &[u32], Option<Annotations>)],
    wanted: &[u32],
) {
    let defs = tasks
        .iter()
        .enumerate()
        .map(|(order, (name, deps, annotations))| TaskDef {
            key: key(name),
            literals: 0,
            dependencies: deps.iter().map(|&d| DepRef::Local(d)).collect(),
            inputs: (0..deps.len() as u32).collect(),
            functions: vec![0],
            annotations: annotations.clone(),
            order: order as u32,
            fingerprint: order as u64,
        })
        .collect();
    let update = UpdateGraph {
        tasks: defs,
        functions: vec!["f".to_owned()],
        wanted: wanted.iter().map(|&w| DepRef::Local(w)).collect(),
        report_events: false,
    };
    let body: Arc<[u8]> = Arc::from(&[0u8][..]);
    let frames = move |_: usize| Some(body.clone());
    state.handle_client(client, FromClient::UpdateGraph(Box::new(update)), &frames);
}

/// The tasks the outbox sends to workers: (worker, id, run).
pub fn computes(outbox: &Outbox) -> Vec<(WorkerId, TaskId, u64)> {
    outbox
        .to_workers()
        .filter_map(|(w, m)| match m {
            ToWorker::Compute(task) => Some((w, task.id, task.run)),
            _ => None,
        })
        .collect()
}

pub fn finish(state: &mut SchedulerState, worker: WorkerId, id: TaskId, run: u64) {
    finish_with(state, worker, id, run, 8, 10);
}

/// A worker reports that `id` finished with a value of `nbytes`, after
/// running for `duration_us`.
pub fn finish_with(
    state: &mut SchedulerState,
    worker: WorkerId,
    id: TaskId,
    run: u64,
    nbytes: u64,
    duration_us: u64,
) {
    state.handle_worker(
        worker,
        FromWorker::Finished {
            id,
            run,
            nbytes,
            type_name: "i64".to_owned(),
            duration_us,
            thread: 0,
        },
    );
}

pub fn state_of(state: &SchedulerState, name: &str) -> Option<State> {
    state.state_of(&barrow_core::Key::new(name))
}
