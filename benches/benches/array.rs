//! Array throughput: the comparison's array workloads at smaller sizes
//! (`ones` 4000² in chunks of 1000, summed as filled blocks and as
//! materialized copies; `random` 4000² mean; `x + x.T` of 2000² in chunks
//! of 500, summed; `x.dot(x.T)` of 1000² in chunks of 250), on `threads`
//! with 2 workers; throughput in the array's logical bytes.
//!
//! `cargo bench --bench array`. The side-by-side figures against Dask come
//! from `benches/compare/run` (workloads `ones-sum`, `ones-materialized`,
//! `random-mean`, `x-plus-xT-sum`, `dot-xxT`, `random-sum-50k`).

use barrow_benches::array::{dot_xxt, ones_materialized, ones_sum, random_mean, x_plus_xt_sum};
use barrow_core::{Options, compute_with};
use barrow_delayed::Delayed;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A scalar workload: its name, size, chunks, builder and check.
type Scalar = (
    &'static str,
    usize,
    usize,
    fn(usize, usize) -> barrow_core::Result<Delayed<f64>>,
    fn(f64, usize) -> bool,
);

fn benches(c: &mut Criterion) {
    barrow_local::link();
    let options = Options::new().scheduler("threads").num_workers(2);
    let mut group = c.benchmark_group("array");
    group.sample_size(10);
    let scalars: [Scalar; 4] = [
        ("ones-sum", 4000, 1000, ones_sum, |r, n| r == (n * n) as f64),
        (
            "ones-materialized",
            4000,
            1000,
            ones_materialized,
            |r, n| r == (n * n) as f64,
        ),
        ("random-mean", 4000, 1000, random_mean, |r, _| {
            (r - 0.5).abs() < 1e-2
        }),
        ("x-plus-xT-sum", 2000, 500, x_plus_xt_sum, |r, n| {
            (r / (n * n) as f64 - 1.0).abs() < 1e-2
        }),
    ];
    for (name, n, chunks, build, check) in scalars {
        group.throughput(Throughput::Bytes((n * n * 8) as u64));
        group.bench_function(format!("{name}-{n}/threads"), |b| {
            b.iter(|| {
                let result = build(n, chunks).and_then(|d| compute_with(&d, &options));
                assert!(matches!(result, Ok(r) if check(r, n)), "{result:?}");
            });
        });
    }
    let n = 1000;
    group.throughput(Throughput::Bytes((n * n * 8) as u64));
    group.bench_function(format!("dot-xxT-{n}/threads"), |b| {
        b.iter(|| {
            let product = dot_xxt(n, 250).and_then(|(_, p)| compute_with(&p, &options));
            assert!(
                matches!(&product, Ok(p) if p.shape() == [n, n]),
                "{:?}",
                product.map(|p| p.shape().to_vec())
            );
        });
    });
    group.finish();
}

criterion_group!(array, benches);
criterion_main!(array);
