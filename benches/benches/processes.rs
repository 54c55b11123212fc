//! The `processes` scheduler (issue "Tasks and data across process
//! boundaries"). Targets: a pool of 2 workers starts in <= 50 ms; per-task
//! overhead on indep100k <= 20 us (Dask processes: 106-145 us); a 100 MB
//! array to a worker and back at >= 1 GB/s (throughput: the array's bytes
//! over the round trip).
#![allow(
    clippy::expect_used,
    reason = "a benchmark that cannot run its workload should stop"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use barrow_benches::by_name;
use barrow_core::arg::key;
use barrow_core::collection::GraphKeys;
use barrow_core::function::Raw;
use barrow_core::{Graph, Options, Task, Value, compute_with};
use barrow_processes::{ProcessPool, ProcessesScheduler};
use criterion::{Criterion, Throughput, criterion_group};

/// The identity: the worker decodes the array and sends it back, without
/// a copy of its own.
#[barrow_core::task]
fn echo(data: Raw<'_>) -> barrow_core::Result<Value> {
    data.0.as_value().cloned()
}

fn on(pool: &Arc<ProcessPool>) -> Options {
    Options::new()
        .optimize_graph(false)
        .scheduler_object(Arc::new(ProcessesScheduler::with_pool(pool.clone())))
}

fn pool_start(c: &mut Criterion) {
    let mut group = c.benchmark_group("processes");
    group.sample_size(20);
    group.bench_function("pool-start-2", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let pool = ProcessPool::new(2).expect("a pool");
                let started = Instant::now();
                black_box(pool.start().expect("the workers start"));
                total += started.elapsed();
                drop(pool);
            }
            total
        });
    });
    group.finish();
}

fn per_task(c: &mut Criterion) {
    let pool = Arc::new(ProcessPool::new(2).expect("a pool"));
    pool.start().expect("the workers start");
    let mut group = c.benchmark_group("processes");
    group.sample_size(10);
    for name in ["indep100k", "tree2^14", "chain10k"] {
        let workload = by_name(name).expect("a known shape").expect("a graph");
        group.throughput(Throughput::Elements(workload.graph.len() as u64));
        let collection = GraphKeys::new(workload.graph.clone(), [workload.output.clone()]);
        group.bench_function(format!("{name}/per-task"), |b| {
            b.iter(|| {
                let out = compute_with(&collection, &on(&pool)).expect("the graph runs");
                assert_eq!(
                    *out[0].downcast_ref::<i64>().expect("an i64"),
                    workload.expected
                );
            });
        });
    }
    group.finish();
}

fn round_trip(c: &mut Criterion) {
    let pool = Arc::new(ProcessPool::new(2).expect("a pool"));
    pool.start().expect("the workers start");
    let n = 100_000_000 / 8;
    let graph = Graph::from_tasks([
        ("x", Task::literal(vec![1.5f64; n])),
        ("y", Task::call(&echo::func(), [key("x")])),
    ])
    .expect("a graph");
    let collection = GraphKeys::new(graph, ["y"]);
    let mut group = c.benchmark_group("processes");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(8 * n as u64));
    group.bench_function("array-100MB-there-and-back", |b| {
        b.iter(|| {
            let out = compute_with(&collection, &on(&pool)).expect("the graph runs");
            assert_eq!(
                out[0].downcast_ref::<Vec<f64>>().expect("a vector").len(),
                n
            );
        });
    });
    group.finish();
}

criterion_group!(benches, pool_start, per_task, round_trip);

fn main() {
    // The workers are this benchmark started again.
    barrow_processes::worker_main();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
