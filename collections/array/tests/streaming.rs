//! Reductions over generated arrays fold the generated elements as they
//! come, and give the same results as reducing the stored blocks.

use barrow_array::Array;
use barrow_array::random::Generator;
use barrow_core::collection::Collection;
use barrow_core::{Options, compute_with};

fn schedulers() -> [Options; 2] {
    barrow_local::link();
    [
        Options::new().scheduler("sync"),
        Options::new().scheduler("threads").num_workers(2),
    ]
}

#[test]
fn streamed_reductions_equal_stored_ones() -> barrow_core::Result<()> {
    for options in schedulers() {
        let x: Array<i64> = Generator::new(3).integers(-50, 50, &[37, 23], [10, 7])?;
        let data = compute_with(&x, &options)?;
        let stored = x.map(|v| v);
        assert_eq!(compute_with(&x.sum(), &options)?, data.sum());
        assert_eq!(
            compute_with(&x.sum(), &options)?,
            compute_with(&stored.sum(), &options)?
        );
        assert_eq!(
            compute_with(&x.min(), &options)?,
            compute_with(&stored.min(), &options)?
        );
        assert_eq!(
            compute_with(&x.max(), &options)?,
            compute_with(&stored.max(), &options)?
        );
        let (m1, m2) = (
            compute_with(&x.mean(), &options)?,
            compute_with(&stored.mean(), &options)?,
        );
        assert!((m1 - m2).abs() < 1e-12);
        let (v1, v2) = (
            compute_with(&x.var(1), &options)?,
            compute_with(&stored.var(1), &options)?,
        );
        assert!((v1 - v2).abs() < 1e-9 * v2.abs().max(1.0));
        // Positions matter to argmax: it reads the stored blocks.
        assert_eq!(
            compute_with(&x.argmax(), &options)?,
            compute_with(&stored.argmax(), &options)?
        );
    }
    Ok(())
}

#[test]
fn a_streamed_sum_reads_no_block() -> barrow_core::Result<()> {
    let x = Generator::new(5).random(&[100, 100], 10)?;
    let total = x.sum();
    let graph = total.graph()?;
    // 100 streamed partials, 100 / 16 combines, one aggregate: no block of x.
    assert!(graph.keys().all(|k| !k.name().starts_with("random-")));
    let value = total.compute()?;
    assert!((value / 5000.0 - 1.0).abs() < 0.05);
    Ok(())
}
