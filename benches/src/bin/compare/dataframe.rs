//! The dataframe workloads (`df-csv-groupby`, `df-parquet-projection`,
//! `df-join`, `df-sort`), as `benches/compare/dask/run_dataframe.py` runs
//! them on Dask, over the table `benches/compare/gen_table.py` writes.

use std::path::{Path, PathBuf};

use arrow::array::{Array, Float64Array, Int64Array, StringArray};
use barrow_dataframe::arrow;
use barrow_dataframe::{Agg, DataFrame, How, Scalar, col, lit};

use crate::bag::time_runs;
use crate::{Args, Measured, median};

/// The workloads of this module.
pub(crate) const WORKLOADS: &[&str] = &[
    "df-csv-groupby",
    "df-parquet-projection",
    "df-join",
    "df-sort",
];

/// What `gen_table.py` wrote into `expected.json`.
struct Table {
    bytes: u64,
    /// `[groups, rows kept, sum of sums, sum of group (0, "a"), its count]`.
    summary: [f64; 5],
    rows: u64,
    parquet_bytes: u64,
    /// The sum of y where x > 0.5.
    sum: f64,
    /// The sum of w over the join.
    join_w: i64,
    x_range: (f64, f64),
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
    let stale = || "expected.json predates the Parquet files: run benches/compare/gen_table.py";
    Ok(Table {
        rows: json["rows"].as_u64().ok_or("expected.json has no rows")?,
        parquet_bytes: json["parquet_bytes"].as_u64().ok_or_else(stale)?,
        sum: num(&json["sum"])?,
        join_w: json["join_w"].as_i64().ok_or_else(stale)?,
        x_range: (
            json["x_min"].as_f64().ok_or_else(stale)?,
            json["x_max"].as_f64().ok_or_else(stale)?,
        ),
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
    let dir: PathBuf = args
        .data
        .clone()
        .ok_or("the dataframe workloads need --data DIR")?;
    let table = read_table(&dir)?;
    let glob = |sub: &str, ext: &str| -> Result<String, String> {
        dir.join(sub)
            .join(format!("*.{ext}"))
            .to_str()
            .map(str::to_owned)
            .ok_or_else(|| "the data path is not UTF-8".to_owned())
    };
    match name {
        "df-csv-groupby" => csv_groupby(args, &table, &glob("csv", "csv")?),
        "df-parquet-projection" => parquet_projection(args, &table, &glob("parquet", "parquet")?),
        "df-join" => join(
            args,
            &table,
            &glob("parquet", "parquet")?,
            &glob("dim", "parquet")?,
        ),
        "df-sort" => sort(args, &table, &glob("parquet", "parquet")?),
        _ => Err(format!("unknown dataframe workload {name}")),
    }
}

/// A workload's record: its runs, the last result and the expected one
/// (as JSON), its size (`bytes` or `rows`, how many, and the unit of the
/// throughput) and its partitions.
fn measured(
    (tasks, build, times): (usize, std::time::Duration, Vec<std::time::Duration>),
    result: String,
    expected: String,
    (size_key, size, unit): (&'static str, u64, &str),
    partitions: usize,
) -> Measured {
    let seconds = median(&times).as_secs_f64();
    Measured {
        tasks,
        build,
        times,
        result,
        expected,
        extra: vec![
            (size_key, size.to_string()),
            ("partitions", partitions.to_string()),
            ("throughput", format!("{:.4}", size as f64 / seconds / 1e6)),
            ("throughput_unit", format!("\"{unit}\"")),
        ],
        check: None,
        peak_rss_mb: None,
    }
}

fn partitions(df: barrow_core::Result<DataFrame>) -> Result<usize, String> {
    df.map(|d| d.npartitions()).map_err(|e| e.to_string())
}

fn csv_groupby(args: &Args, table: &Table, pattern: &str) -> Result<Measured, String> {
    let (tasks, build, times, result) = time_runs(
        args,
        || {
            DataFrame::read_csv(pattern)?
                .filter(col("x").gt(lit(0.5)))?
                .groupby(["k1", "k2"])?
                .agg([("y", Agg::Sum), ("y", Agg::Mean), ("y", Agg::Count)])
        },
        |out| groupby_summary(out) == Some(table.summary),
    )?;
    let as_json = |s: Option<[f64; 5]>| serde_json::to_string(&s).unwrap_or_default();
    Ok(measured(
        (tasks, build, times),
        as_json(groupby_summary(&result)),
        as_json(Some(table.summary)),
        ("bytes", table.bytes, "MB/s"),
        partitions(DataFrame::read_csv(pattern))?,
    ))
}

/// A sum rounded as the Dask side rounds it, so sums in another order agree.
fn cents(s: &Scalar) -> Option<f64> {
    s.as_f64().map(|v| (v * 100.0).round() / 100.0)
}

fn parquet_projection(args: &Args, table: &Table, pattern: &str) -> Result<Measured, String> {
    let expected = (table.sum * 100.0).round() / 100.0;
    let (tasks, build, times, result) = time_runs(
        args,
        || {
            DataFrame::read_parquet(pattern)?
                .filter(col("x").gt(lit(0.5)))?
                .sum("y")
        },
        |out| cents(out) == Some(expected),
    )?;
    Ok(measured(
        (tasks, build, times),
        serde_json::to_string(&cents(&result)).unwrap_or_default(),
        serde_json::to_string(&Some(expected)).unwrap_or_default(),
        ("bytes", table.parquet_bytes, "MB/s"),
        partitions(DataFrame::read_parquet(pattern))?,
    ))
}

fn join(args: &Args, table: &Table, big: &str, dim: &str) -> Result<Measured, String> {
    let (tasks, build, times, result) = time_runs(
        args,
        || {
            DataFrame::read_parquet(big)?
                .select(["c0", "y"])?
                .merge(&DataFrame::read_parquet(dim)?, ["c0"], How::Inner)?
                .sum("w")
        },
        |out| *out == Scalar::Int64(table.join_w),
    )?;
    let joined = match result {
        Scalar::Int64(w) => Some(w),
        _ => None,
    };
    Ok(measured(
        (tasks, build, times),
        serde_json::to_string(&joined).unwrap_or_default(),
        serde_json::to_string(&Some(table.join_w)).unwrap_or_default(),
        ("rows", table.rows, "Mrows/s"),
        partitions(DataFrame::read_parquet(big))?,
    ))
}

/// Rows, first and last x of a table sorted by x, if it is.
fn sort_summary(table: &arrow::record_batch::RecordBatch) -> Option<(u64, f64, f64)> {
    let x = table
        .column_by_name("x")?
        .as_any()
        .downcast_ref::<Float64Array>()?;
    let sorted = x.null_count() == 0 && x.values().windows(2).all(|w| w[0] <= w[1]);
    let (first, last) = (x.values().first()?, x.values().last()?);
    sorted.then_some((table.num_rows() as u64, *first, *last))
}

fn sort(args: &Args, table: &Table, pattern: &str) -> Result<Measured, String> {
    let expected = Some((table.rows, table.x_range.0, table.x_range.1));
    let (tasks, build, times, result) = time_runs(
        args,
        || {
            DataFrame::read_parquet(pattern)?
                .select(["x", "y"])?
                .set_index("x")
        },
        |out| sort_summary(out) == expected,
    )?;
    Ok(measured(
        (tasks, build, times),
        serde_json::to_string(&sort_summary(&result)).unwrap_or_default(),
        serde_json::to_string(&expected).unwrap_or_default(),
        ("rows", table.rows, "Mrows/s"),
        partitions(DataFrame::read_parquet(pattern))?,
    ))
}
