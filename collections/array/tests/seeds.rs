//! The examples Barrow's arrays were born from (Dask's documentation), with
//! their results asserted, and the promises about fusion and sharing.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use barrow_array::Array;
use barrow_core::callback::{Callback, TaskEvent};
use barrow_core::collection::Collection;
use barrow_core::{Options, Value, compute_with};
use ndarray::Array2;

/// Counts finished tasks whose key starts with a prefix.
struct CountKeys {
    prefix: String,
    seen: AtomicUsize,
}

impl Callback for CountKeys {
    fn posttask(&self, task: &TaskEvent<'_>, _value: &Value) {
        if task.key.name().starts_with(&self.prefix) {
            self.seen.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn schedulers() -> [Options; 2] {
    barrow_local::link();
    [
        Options::new().scheduler("sync"),
        Options::new().scheduler("threads").num_workers(2),
    ]
}

#[test]
fn arange_sum_is_4950() -> barrow_core::Result<()> {
    for options in schedulers() {
        let x = Array::<i64>::arange(0, 100, 1, 10)?;
        assert_eq!(compute_with(&x.sum(), &options)?, 4950);
    }
    Ok(())
}

#[test]
fn shared_blocks_run_once_for_two_results() -> barrow_core::Result<()> {
    for options in schedulers() {
        let x = Array::<i64>::arange(1, 101, 1, 10)?;
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let y = x.map(move |v| {
            counter.fetch_add(1, Ordering::Relaxed);
            v
        });
        let y = &y + 0;
        let blocks = Arc::new(CountKeys {
            prefix: y.name().split('-').next().unwrap_or_default().to_string() + "-",
            seen: AtomicUsize::new(0),
        });
        let options = options.callback(blocks.clone());
        let (total, mean) = compute_with((y.sum(), y.mean()), &options)?;
        assert_eq!((total, mean), (5050, 50.5));
        // Every element went through `map` once, not once per result…
        assert_eq!(calls.load(Ordering::Relaxed), 100);
        // …because each of y's 10 blocks was one task, read by both sums.
        assert_eq!(blocks.seen.load(Ordering::Relaxed), 10);
    }
    Ok(())
}

#[test]
fn the_seed_example_x_plus_one() -> barrow_core::Result<()> {
    for options in schedulers() {
        let x = Array::<i64>::arange(0, 100, 1, 10)?;
        let y = &x + 1;
        assert_eq!(compute_with((y.sum(), y.mean()), &options)?, (5050, 50.5));
    }
    Ok(())
}

#[test]
fn from_array_chunks_like_dask() -> barrow_core::Result<()> {
    let data = Array2::<f64>::zeros((4000, 3000));
    let x = Array::from_array(data, [1000, 1000])?;
    assert_eq!(x.chunks().as_slices(), [vec![1000; 4], vec![1000; 3]]);
    assert_eq!(
        x.chunks().to_string(),
        "((1000, 1000, 1000, 1000), (1000, 1000, 1000))"
    );
    Ok(())
}

#[test]
fn element_wise_chains_fuse_into_one_task_per_chunk() -> barrow_core::Result<()> {
    let x = Array::<f64>::arange(0.0, 100.0, 1.0, 10)?;
    let y = (&x + 1.0) * 2.0;
    let graph = y.graph()?;
    let optimized = barrow_core::optimize::optimize(&graph, &y.output_keys())?;
    assert_eq!(graph.len(), 30);
    assert_eq!(optimized.len(), 10, "one fused task per chunk");
    for options in schedulers() {
        let out = compute_with(&y, &options)?;
        assert_eq!(out[[99]], 200.0);
    }
    Ok(())
}
