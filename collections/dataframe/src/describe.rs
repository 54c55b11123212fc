//! `describe`: count, mean, standard deviation, minimum, quartiles and
//! maximum of every numeric column, in one pass over the partitions (a
//! tree reduction, as the other reductions).
//!
//! Count, mean, deviation and extremes are exact (moments merged by Chan's
//! formula). The quartiles are approximate, as Dask's: each partition
//! keeps a weighted sample of its values, merged samples are thinned back
//! to [`KEEP`] points of equal weight, and the quartiles are read off the
//! last one.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use barrow_core::tokenize::tokenize;
use barrow_core::{Error, Result};
use barrow_delayed::Delayed;
use serde::{Deserialize, Serialize};

use crate::DataFrame;
use crate::error::{self, compute_error};
use crate::reduce::tree;
use crate::tasks::Op;

/// How many weighted points a column's sample keeps.
const KEEP: usize = 2000;

/// The statistics `describe` gives, in its row order.
const STATISTICS: [&str; 8] = ["count", "mean", "std", "min", "25%", "50%", "75%", "max"];

/// What one or more partitions say about one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Summary {
    n: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    /// (value, how many values it stands for), by value.
    sample: Vec<(f64, f64)>,
}

/// The summaries of every column described, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Summaries(pub(crate) Vec<Summary>);

impl Summary {
    fn of(values: &ArrayRef) -> Result<Summary> {
        let floats = cast(values, &DataType::Float64).map_err(|e| compute_error("describe", e))?;
        let floats = floats
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| Error::internal("describe: a cast to Float64 gave another type"))?;
        let mut present: Vec<f64> = floats.iter().flatten().filter(|x| !x.is_nan()).collect();
        let n = present.len() as u64;
        let mean = present.iter().sum::<f64>() / n.max(1) as f64;
        let m2 = present.iter().map(|x| (x - mean) * (x - mean)).sum();
        present.sort_unstable_by(f64::total_cmp);
        let (min, max) = (
            present.first().copied().unwrap_or(f64::NAN),
            present.last().copied().unwrap_or(f64::NAN),
        );
        let summary = Summary {
            n,
            mean,
            m2,
            min,
            max,
            sample: present.into_iter().map(|x| (x, 1.0)).collect(),
        };
        Ok(summary.thinned())
    }

    /// Two summaries as one.
    fn merge(&self, other: &Summary) -> Summary {
        if other.n == 0 {
            return self.clone();
        }
        if self.n == 0 {
            return other.clone();
        }
        let total = self.n + other.n;
        let (a, b, t) = (self.n as f64, other.n as f64, total as f64);
        let delta = other.mean - self.mean;
        let mut sample = Vec::with_capacity(self.sample.len() + other.sample.len());
        sample.extend_from_slice(&self.sample);
        sample.extend_from_slice(&other.sample);
        sample.sort_by(|x, y| x.0.total_cmp(&y.0));
        Summary {
            n: total,
            mean: self.mean + delta * b / t,
            m2: self.m2 + other.m2 + delta * delta * a * b / t,
            min: self.min.min(other.min),
            max: self.max.max(other.max),
            sample,
        }
        .thinned()
    }

    /// The sample cut down to [`KEEP`] points of equal weight, each the
    /// value at the middle of its share.
    fn thinned(mut self) -> Summary {
        if self.sample.len() <= KEEP {
            return self;
        }
        let total: f64 = self.sample.iter().map(|p| p.1).sum();
        let step = total / KEEP as f64;
        let mut kept = Vec::with_capacity(KEEP);
        let mut seen = 0.0;
        let mut target = step / 2.0;
        for &(value, weight) in &self.sample {
            seen += weight;
            while seen >= target && kept.len() < KEEP {
                kept.push((value, step));
                target += step;
            }
        }
        self.sample = kept;
        self
    }

    /// The value below which a fraction `q` of the values lie.
    fn quantile(&self, q: f64) -> f64 {
        let total: f64 = self.sample.iter().map(|p| p.1).sum();
        let target = q * total;
        let mut seen = 0.0;
        for &(value, weight) in &self.sample {
            seen += weight;
            if seen >= target {
                return value;
            }
        }
        self.max
    }

    fn statistics(&self) -> [Option<f64>; 8] {
        if self.n == 0 {
            return [Some(0.0), None, None, None, None, None, None, None];
        }
        let std = (self.n > 1).then(|| (self.m2 / (self.n - 1) as f64).sqrt());
        [
            Some(self.n as f64),
            Some(self.mean),
            std,
            Some(self.min),
            Some(self.quantile(0.25)),
            Some(self.quantile(0.5)),
            Some(self.quantile(0.75)),
            Some(self.max),
        ]
    }
}

/// One partition's summaries of `columns`.
pub(crate) fn partial(batch: &RecordBatch, columns: &[String]) -> Result<Summaries> {
    columns
        .iter()
        .map(|c| {
            let values = batch
                .column_by_name(c)
                .ok_or_else(|| Error::internal(format!("describe lost its column {c:?}")))?;
            Summary::of(values)
        })
        .collect::<Result<Vec<_>>>()
        .map(Summaries)
}

/// Summaries of several partitions as one.
pub(crate) fn combine(parts: &[&Summaries]) -> Result<Summaries> {
    let (first, rest) = parts
        .split_first()
        .ok_or_else(|| Error::internal("describe combined nothing"))?;
    Ok(rest.iter().fold((*first).clone(), |acc, p| {
        Summaries(acc.0.iter().zip(&p.0).map(|(a, b)| a.merge(b)).collect())
    }))
}

/// The table `describe` gives: a `statistic` column, then one per column.
pub(crate) fn finish(summaries: &Summaries, columns: &[String]) -> Result<RecordBatch> {
    let mut fields = vec![Field::new("statistic", DataType::Utf8, false)];
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(StringArray::from(STATISTICS.to_vec()))];
    for (c, summary) in columns.iter().zip(&summaries.0) {
        fields.push(Field::new(c, DataType::Float64, true));
        arrays.push(Arc::new(Float64Array::from(summary.statistics().to_vec())));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
        .map_err(|e| compute_error("describe", e))
}

/// Builds `df.describe()`.
pub(crate) fn describe(df: &DataFrame) -> Result<Delayed<RecordBatch>> {
    let schema = df.schema();
    let columns: Vec<String> = schema
        .fields()
        .iter()
        .filter(|f| f.data_type().is_integer() || f.data_type().is_floating())
        .map(|f| f.name().clone())
        .collect();
    if columns.is_empty() {
        return Err(error::invalid(format!(
            "describe found no numeric column among [{}]: cast one with astype first",
            df.columns().join(", ")
        )));
    }
    let only = df.select(&columns)?;
    let (graph, parts) = only.partitions()?;
    let base = format!("describe-{}", tokenize(&only.token()));
    let partial = Op::DescribePartial(columns.clone()).func()?;
    let combine = Op::DescribeCombine.func()?;
    let finish = Op::DescribeFinish(columns).func()?;
    let (graph, out) = tree(graph, &base, parts, &partial, &combine, &finish)?;
    Ok(Delayed::from_graph(graph, out, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinned_samples_keep_the_quartiles_close() {
        let values: Vec<f64> = (0..100_000)
            .map(|i| ((i * 7919) % 100_000) as f64)
            .collect();
        let mut merged: Option<Summary> = None;
        for chunk in values.chunks(9_000) {
            let part = Summary::of(&(Arc::new(Float64Array::from(chunk.to_vec())) as ArrayRef))
                .unwrap_or_else(|e| panic!("{e}"));
            merged = Some(match merged {
                None => part,
                Some(m) => m.merge(&part),
            });
        }
        let Some(summary) = merged else {
            panic!("no summary")
        };
        assert!(summary.sample.len() <= KEEP);
        assert_eq!(summary.n, 100_000);
        for q in [0.25, 0.5, 0.75] {
            let got = summary.quantile(q);
            assert!((got - q * 100_000.0).abs() < 1_000.0, "{q}: {got}");
        }
    }
}
