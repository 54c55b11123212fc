//! The dataframe workloads: `df-csv-groupby`, as
//! `benches/compare/dask/run_dataframe.py` runs it on Dask, over the table
//! `benches/compare/gen_table.py` writes.

use std::path::{Path, PathBuf};

use arrow::array::{Array, Float64Array, Int64Array, StringArray};
use barrow_dataframe::arrow;
use barrow_dataframe::{Agg, DataFrame, col, lit};

use crate::bag::time_runs;
use crate::{Args, Measured, median};

/// The workloads of this module.
pub(crate) const WORKLOADS: &[&str] = &["df-csv-groupby"];

/// What `gen_table.py` wrote into `expected.json`.
struct Table {
    bytes: u64,
    /// `[groups, rows kept, sum of sums, sum of group (0, "a"), its count]`.
    summary: [f64; 5],
}

fn read_table(dir: &Path) -> Result<Table, String> {
    let path = dir.join("expected.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read {}: {e} (run benches/compare/gen_table.py)",
            path.display()
        )
    })?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    let num = |v: &serde_json::Value| {
        v.as_f64()
            .ok_or(format!("{}: a field is not a number", path.display()))
    };
    let g0 = json["g_0_a"]
        .as_array()
        .ok_or("expected.json has no g_0_a")?;
    let (Some(g0_sum), Some(g0_count)) = (g0.first(), g0.get(1)) else {
        return Err("expected.json: g_0_a is not [sum, count]".to_owned());
    };
    Ok(Table {
        bytes: json["bytes"].as_u64().ok_or("expected.json has no bytes")?,
        summary: summary(
            num(&json["groups"])?,
            num(&json["count"])?,
            num(&json["sum"])?,
            num(g0_sum)?,
            num(g0_count)?,
        ),
    })
}

/// Rounded as the Dask side rounds, so sums in another order agree.
fn summary(groups: f64, count: f64, total: f64, g0_sum: f64, g0_count: f64) -> [f64; 5] {
    [
        groups,
        count,
        (total * 100.0).round() / 100.0,
        (g0_sum * 1e4).round() / 1e4,
        g0_count,
    ]
}

fn groupby_summary(table: &arrow::record_batch::RecordBatch) -> Option<[f64; 5]> {
    let k1 = table
        .column_by_name("k1")?
        .as_any()
        .downcast_ref::<Int64Array>()?;
    let k2 = table
        .column_by_name("k2")?
        .as_any()
        .downcast_ref::<StringArray>()?;
    let sums = table
        .column_by_name("y_sum")?
        .as_any()
        .downcast_ref::<Float64Array>()?;
    let counts = table
        .column_by_name("y_count")?
        .as_any()
        .downcast_ref::<Int64Array>()?;
    let g0 = (0..table.num_rows()).find(|&i| k1.value(i) == 0 && k2.value(i) == "a")?;
    Some(summary(
        table.num_rows() as f64,
        counts.values().iter().sum::<i64>() as f64,
        sums.values().iter().sum(),
        sums.value(g0),
        counts.value(g0) as f64,
    ))
}

/// Runs one dataframe workload.
pub(crate) fn measure(name: &str, args: &Args) -> Result<Measured, String> {
    if name != "df-csv-groupby" {
        return Err(format!("unknown dataframe workload {name}"));
    }
    let dir: PathBuf = args
        .data
        .clone()
        .ok_or("the dataframe workloads need --data DIR")?;
    let table = read_table(&dir)?;
    let pattern = dir.join("csv").join("*.csv");
    let pattern = pattern
        .to_str()
        .ok_or("the data path is not UTF-8")?
        .to_owned();
    let (tasks, build, times, result) = time_runs(
        args,
        || {
            DataFrame::read_csv(pattern.as_str())?
                .filter(col("x").gt(lit(0.5)))?
                .groupby(["k1", "k2"])?
                .agg([("y", Agg::Sum), ("y", Agg::Mean), ("y", Agg::Count)])
        },
        |out| groupby_summary(out) == Some(table.summary),
    )?;
    let seconds = median(&times).as_secs_f64();
    let partitions = DataFrame::read_csv(pattern.as_str())
        .map_err(|e| e.to_string())?
        .npartitions();
    let as_json = |s: Option<[f64; 5]>| serde_json::to_string(&s).unwrap_or_default();
    Ok(Measured {
        tasks,
        build,
        times,
        result: as_json(groupby_summary(&result)),
        expected: as_json(Some(table.summary)),
        extra: vec![
            ("bytes", table.bytes.to_string()),
            ("partitions", partitions.to_string()),
            (
                "throughput",
                format!("{:.2}", table.bytes as f64 / seconds / 1e6),
            ),
            ("throughput_unit", "\"MB/s\"".to_owned()),
        ],
        check: None,
        peak_rss_mb: None,
    })
}
