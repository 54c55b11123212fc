//! Helpers the dataframe tests share: a random table of an integer, a
//! float and a string column, cut into random partitions.
#![allow(dead_code, reason = "each test file uses some of the helpers")]

use std::sync::Arc;

use arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use barrow_core::Options;
use barrow_dataframe::DataFrame;
use proptest::prelude::*;

pub fn options(scheduler: &str) -> Options {
    barrow_local::link();
    Options::new().scheduler(scheduler)
}

/// A row of the test table.
#[derive(Debug, Clone)]
pub struct Row {
    pub a: Option<i64>,
    pub b: Option<f64>,
    pub s: String,
}

pub fn batch(rows: &[Row]) -> RecordBatch {
    RecordBatch::try_from_iter([
        (
            "a",
            Arc::new(Int64Array::from(
                rows.iter().map(|r| r.a).collect::<Vec<_>>(),
            )) as _,
        ),
        (
            "b",
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.b).collect::<Vec<_>>(),
            )) as _,
        ),
        (
            "s",
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.s.as_str()),
            )) as _,
        ),
    ])
    .unwrap()
}

/// The rows cut at `cuts` (sorted, in range): some partitions may be empty.
pub fn partitioned(rows: &[Row], cuts: &[usize]) -> DataFrame {
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(rows.len())).collect();
    bounds.sort_unstable();
    let mut parts = Vec::new();
    let mut start = 0;
    for end in bounds.into_iter().chain([rows.len()]) {
        parts.push(batch(&rows[start..end]));
        start = end;
    }
    DataFrame::from_record_batches(parts).unwrap()
}

pub fn rows() -> impl Strategy<Value = Vec<Row>> {
    let row = (
        proptest::option::weighted(0.8, -1000i64..1000),
        proptest::option::weighted(0.8, -100.0f64..100.0),
        "[a-c]{0,3}",
    )
        .prop_map(|(a, b, s)| Row { a, b, s });
    proptest::collection::vec(row, 0..60)
}

pub fn floats(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let array = batch.column_by_name(name).unwrap();
    let array = array.as_any().downcast_ref::<Float64Array>().unwrap();
    array.iter().collect()
}

pub fn close(x: f64, y: f64) -> bool {
    (x - y).abs() <= 1e-9 * (1.0 + x.abs().max(y.abs()))
}

pub fn ints(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    let array = batch.column_by_name(name).unwrap();
    let array = array.as_any().downcast_ref::<Int64Array>().unwrap();
    array.iter().collect()
}
