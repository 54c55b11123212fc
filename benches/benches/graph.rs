//! Graph build + validate + lowering, per task; and the peak bytes
//! allocated from building a graph through lowering it, per task.
//! Targets (issue "Foundation I"): <= 0.3 us and <= 300 bytes per task.
//!
//! Also the optimizations `compute` makes before a run, per task: the
//! check, cull and Dask's width-aware `fuse` (`optimize`), beside the
//! `cull` + `fuse_linear` pipeline it replaced.
#![allow(
    clippy::expect_used,
    reason = "a benchmark that cannot run its workload should stop"
)]

use std::hint::black_box;

use barrow_benches::{CountingAllocator, by_name, peak_bytes_during};
use barrow_core::optimize;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const SHAPES: [&str; 3] = ["indep100k", "chain10k", "tree2^14"];

fn build_validate_lower(name: &str) -> usize {
    let workload = by_name(name)
        .expect("a known shape")
        .expect("the graph builds");
    workload.graph.validate().expect("a valid graph");
    let plan = workload
        .graph
        .lower(std::slice::from_ref(&workload.output))
        .expect("lowers");
    plan.len()
}

fn report_memory() {
    for name in SHAPES {
        let (tasks, peak) = peak_bytes_during(|| build_validate_lower(name));
        println!(
            "memory {name}: {tasks} tasks, peak {peak} bytes = {:.0} bytes per task (target <= 300)",
            peak as f64 / tasks as f64
        );
    }
}

fn bench(c: &mut Criterion) {
    report_memory();
    let mut group = c.benchmark_group("build+validate+lower");
    group.sample_size(20);
    for name in SHAPES {
        let tasks = build_validate_lower(name);
        group.throughput(Throughput::Elements(tasks as u64));
        group.bench_function(name, |b| b.iter(|| black_box(build_validate_lower(name))));
    }
    group.finish();

    let mut group = c.benchmark_group("optimize");
    group.sample_size(20);
    for name in SHAPES {
        let workload = by_name(name)
            .expect("a known shape")
            .expect("the graph builds");
        let keys = std::slice::from_ref(&workload.output);
        group.throughput(Throughput::Elements(workload.graph.len() as u64));
        group.bench_function(format!("{name}/fuse"), |b| {
            b.iter(|| black_box(optimize::optimize(&workload.graph, keys).expect("optimizes")))
        });
        group.bench_function(format!("{name}/deps"), |b| {
            b.iter(|| {
                black_box(
                    barrow_core::plan::Dependencies::of(&workload.graph, Some(keys))
                        .expect("x")
                        .len(),
                )
            })
        });
        group.bench_function(format!("{name}/cull+fuse_linear"), |b| {
            b.iter(|| {
                let culled = optimize::cull(&workload.graph, keys).expect("culls");
                black_box(optimize::fuse_linear(&culled, keys).expect("fuses"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
