//! The cluster scheduler's state machine alone, no I/O: graphs of about
//! 100,000 tasks over 64 simulated workers, through submit → dispatch →
//! finished → released, every task once. Target: ≥ 1 M tasks/s. Then one
//! balance of the work stealer, with and without an idle worker.
//!
//! The simulated workers answer every `Compute` at once with `Finished`;
//! the client releases its key when it is in memory, and the run ends with
//! the scheduler holding no task.

use std::sync::Arc;
use std::time::Duration;

use barrow_core::Annotations;
use barrow_distributed::protocol::handshake::WorkerRegistration;
use barrow_distributed::protocol::{
    DepRef, FromClient, FromWorker, StealState, TaskDef, ToClient, ToWorker, UpdateGraph,
};
use barrow_distributed::scheduler::{SchedulerConfig, SchedulerState};
use barrow_wire::task::WireKey;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

const WORKERS: u32 = 64;

/// mimalloc, as the `barrow` command and the comparison's runner use: the
/// scheduler allocates a few small messages per task.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn key(name: &str, index: u32) -> WireKey {
    WireKey {
        name: name.to_owned(),
        index: vec![index],
    }
}

fn task(key: WireKey, dependencies: Vec<DepRef>, order: u32) -> TaskDef {
    let inputs = (0..dependencies.len() as u32).collect();
    TaskDef {
        key,
        literals: 0,
        dependencies,
        inputs,
        functions: vec![0],
        annotations: None,
        order,
        fingerprint: u64::from(order),
    }
}

/// `n` independent tasks and one that reads them all.
fn independent(n: u32) -> (UpdateGraph, WireKey) {
    let mut tasks: Vec<TaskDef> = (0..n).map(|i| task(key("x", i), vec![], i)).collect();
    let total = key("total", 0);
    tasks.push(task(total.clone(), (0..n).map(DepRef::Local).collect(), n));
    (graph(tasks), total)
}

/// A pairwise reduction of 2^levels leaves, in `order`'s order.
fn tree(levels: u32) -> (UpdateGraph, WireKey) {
    let mut tasks = Vec::new();
    let mut level: Vec<u32> = Vec::new();
    for i in 0..1u32 << levels {
        level.push(tasks.len() as u32);
        let order = tasks.len() as u32;
        tasks.push(task(key("t0", i), vec![], order));
    }
    let mut depth = 1;
    while level.len() > 1 {
        let mut next = Vec::new();
        for (i, pair) in level.chunks(2).enumerate() {
            next.push(tasks.len() as u32);
            let order = tasks.len() as u32;
            tasks.push(task(
                key(&format!("t{depth}"), i as u32),
                pair.iter().map(|&j| DepRef::Local(j)).collect(),
                order,
            ));
        }
        level = next;
        depth += 1;
    }
    let root = tasks
        .last()
        .map(|t| t.key.clone())
        .unwrap_or_else(|| key("t", 0));
    (graph(tasks), root)
}

/// The graph of `tasks`, wanting the last.
fn graph(tasks: Vec<TaskDef>) -> UpdateGraph {
    let last = tasks.len() as u32 - 1;
    UpdateGraph {
        tasks,
        functions: vec!["bench.add".to_owned()],
        wanted: vec![DepRef::Local(last)],
        report_events: false,
    }
}

/// A scheduler with 64 workers of one thread and one client.
fn cluster() -> (SchedulerState, u32) {
    let config = SchedulerConfig::default();
    let mut state = SchedulerState::new(config);
    for i in 0..WORKERS {
        let registration = WorkerRegistration {
            name: format!("w{i}"),
            address: format!("tcp://10.0.0.{i}:9000"),
            nthreads: 1,
            memory_limit: 0,
            resources: Vec::new(),
            functions: vec!["bench.add".to_owned()],
            functions_fingerprint: 7,
            plugins: Vec::new(),
            host: format!("host{i}"),
            pid: 1000 + i,
            previous: None,
        };
        let _ = state.add_worker(registration);
    }
    let (client, _) = state.add_client("bench".to_owned());
    let _ = state.take_outbox();
    (state, client)
}

/// Runs a submitted graph to the end; returns the tasks that ran.
/// A scheduler with a dashboard watching hands it a batch this often (in
/// finished tasks: ~100 ms at the rates of a real cluster here).
const BATCH: usize = 1_000;

fn run(state: &mut SchedulerState, client: u32, update: UpdateGraph, wanted: &WireKey) -> usize {
    let body: Arc<[u8]> = Arc::from(&[0u8][..]);
    let frames = move |_: usize| Some(body.clone());
    state.handle_client(client, FromClient::UpdateGraph(Box::new(update)), &frames);
    let mut ran = 0;
    let mut done = false;
    let mut finished = Vec::new();
    while !done {
        let outbox = state.take_outbox();
        for (worker, message) in outbox.to_workers() {
            if let ToWorker::Compute(task) = message {
                finished.push((worker, task.id, task.run));
            }
        }
        done = outbox
            .to_clients()
            .any(|(_, m)| matches!(m, ToClient::InMemory(l) if &l.key == wanted));
        if finished.is_empty() && !done {
            panic!("the simulation stalled after {ran} tasks");
        }
        for (worker, id, run) in finished.drain(..) {
            ran += 1;
            if ran % BATCH == 0 {
                // Nothing without a watch; a batch for the dashboard with one.
                std::hint::black_box(state.watch_update());
            }
            state.handle_worker(
                worker,
                FromWorker::Finished {
                    id,
                    run,
                    nbytes: 8,
                    type_name: "i64".to_owned(),
                    duration_us: 5,
                    thread: 0,
                },
            );
        }
    }
    state.handle_client(
        client,
        FromClient::Release {
            keys: vec![wanted.clone()],
        },
        &|_| None,
    );
    assert_eq!(state.task_count(), 0, "everything released and forgotten");
    ran
}

/// Builds one graph to submit and the key the client wants from it.
type MakeGraph = fn() -> (UpdateGraph, WireKey);

fn state_machine(c: &mut Criterion) {
    let mut group = c.benchmark_group("scheduler-state-machine");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    let shapes: [(&str, MakeGraph); 2] = [
        ("independent-100k", || independent(100_000)),
        ("tree-2^16", || tree(16)),
    ];
    // Each shape plain, and with the dashboard's watch on (progress counted
    // on every transition, a rectangle per result, a batch every BATCH).
    for ((name, make), watched) in shapes
        .into_iter()
        .flat_map(|shape| [(shape, false), (shape, true)])
    {
        let tasks = make().0.tasks.len() as u64;
        group.throughput(Throughput::Elements(tasks));
        let label = if watched {
            format!("{name}-watched")
        } else {
            name.to_owned()
        };
        group.bench_function(label, |b| {
            b.iter_batched(
                || {
                    let (mut state, client) = cluster();
                    if watched {
                        state.watch(
                            std::time::Instant::now(),
                            barrow_dashboard::Thresholds::default(),
                        );
                    }
                    let (update, wanted) = make();
                    (state, client, update, wanted)
                },
                |(mut state, client, update, wanted)| {
                    let ran = run(&mut state, client, update, &wanted);
                    assert_eq!(ran as u64, tasks);
                    state
                },
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

/// The 64 workers with `per_worker` tasks queued on each but the last
/// `idle`: tasks loosely restricted to their worker, so placement puts them
/// there and stealing may move them.
fn queued(per_worker: u32, idle: u32) -> SchedulerState {
    let (mut state, client) = cluster();
    let mut tasks = Vec::new();
    for w in 0..WORKERS - idle {
        for _ in 0..per_worker {
            let order = tasks.len() as u32;
            let mut t = task(key("queued", order), vec![], order);
            t.annotations = Some(
                Annotations::new()
                    .workers([format!("w{w}")])
                    .allow_other_workers(true),
            );
            tasks.push(t);
        }
    }
    let wanted = (0..tasks.len() as u32).map(DepRef::Local).collect();
    let update = UpdateGraph {
        tasks,
        functions: vec!["bench.add".to_owned()],
        wanted,
        report_events: false,
    };
    let body: Arc<[u8]> = Arc::from(&[0u8][..]);
    let frames = move |_: usize| Some(body.clone());
    state.handle_client(client, FromClient::UpdateGraph(Box::new(update)), &frames);
    let _ = state.take_outbox();
    state
}

/// One balance of the work stealer (every 100 ms by default): with no
/// idle worker (the common case: one look at each worker), and with one
/// idle worker of 64 and 12,600 tasks queued on the others (the requests
/// of one balance, and their answers: `Unknown`, which places each task
/// again on its worker, so every balance sees the same cluster).
fn work_stealing(c: &mut Criterion) {
    let mut group = c.benchmark_group("work-stealing");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    let mut busy = queued(200, 0);
    group.bench_function("balance-none-idle-64x200", |b| b.iter(|| busy.balance()));
    let mut one_idle = queued(200, 1);
    group.bench_function("balance-one-idle-63x200", |b| {
        b.iter(|| {
            one_idle.balance();
            let outbox = one_idle.take_outbox();
            let requests: Vec<(u32, u64, u64)> = outbox
                .to_workers()
                .filter_map(|(w, m)| match m {
                    ToWorker::Steal { id, run } => Some((w, *id, *run)),
                    _ => None,
                })
                .collect();
            assert!(!requests.is_empty(), "the idle worker steals");
            for &(worker, id, run) in &requests {
                one_idle.handle_worker(
                    worker,
                    FromWorker::StealResponse {
                        id,
                        run,
                        state: StealState::Unknown,
                    },
                );
            }
            let _ = one_idle.take_outbox();
            requests.len()
        });
    });
    group.finish();
}

criterion_group!(benches, state_machine, work_stealing);
criterion_main!(benches);
