//! Per-task overhead of the local engine with optimizations off: wall time
//! of `get` (lowering, ordering and running) divided by the tasks executed.
//! Target (issue "Foundation II"): <= 0.5 us per task on `sync`.
#![allow(
    clippy::expect_used,
    reason = "a benchmark that cannot run its workload should stop"
)]

use std::hint::black_box;

use barrow_benches::{CountingAllocator, Workload, by_name};
use barrow_core::{Options, Registry, RunContext, Scheduler};
use barrow_local::SyncScheduler;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn run(scheduler: &dyn Scheduler, workload: &Workload) {
    let options = Options::new().optimize_graph(false);
    let mut ctx = RunContext::new(Registry::global(), &options).expect("a valid configuration");
    let out = scheduler
        .get(
            &workload.graph,
            std::slice::from_ref(&workload.output),
            &mut ctx,
        )
        .expect("the graph runs");
    let result = *out[0].downcast_ref::<i64>().expect("an i64");
    assert_eq!(result, workload.expected);
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync");
    group.sample_size(20);
    for name in ["indep100k", "chain10k", "tree2^14"] {
        let workload = by_name(name)
            .expect("a known shape")
            .expect("the graph builds");
        group.throughput(Throughput::Elements(workload.graph.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| run(black_box(&SyncScheduler), &workload))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
