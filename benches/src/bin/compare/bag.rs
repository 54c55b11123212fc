//! The bag workloads: `bag-mapfilter`, `bag-text-frequencies` and
//! `bag-text-frequencies-gz`, as `benches/compare/dask/run_bag.py` runs them
//! on Dask. Bags compute with graph optimization on, as Dask's `compute()`
//! does for them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use barrow_benches::bag::{
    MAPFILTER_ITEMS, MAPFILTER_PARTITIONS, TEXT_BLOCKSIZE, mapfilter, mapfilter_expected,
    text_frequencies,
};
use barrow_core::collection::Collection;
use barrow_core::compute_with;

use crate::{Args, Measured, median, run_options};

/// Builds `warmup + reps` times (median of the last `reps`), then runs the
/// last one built `warmup` times untimed and `reps` times timed.
pub(crate) fn time_runs<C: Collection>(
    args: &Args,
    build: impl Fn() -> barrow_core::Result<C>,
    check: impl Fn(&C::Output) -> bool,
) -> Result<(usize, Duration, Vec<Duration>, C::Output), String> {
    let mut build_times = Vec::new();
    let mut built = None;
    for i in 0..args.warmup + args.reps {
        drop(built.take());
        let start = Instant::now();
        let collection = build().map_err(|e| format!("building the bag failed: {e}"))?;
        if i >= args.warmup {
            build_times.push(start.elapsed());
        }
        built = Some(collection);
    }
    let collection = built.ok_or("no build ran")?;
    let tasks = collection.graph().map_err(|e| e.to_string())?.len();
    let options = run_options(args);
    let run = || compute_with(&collection, &options).map_err(|e| format!("the bag failed: {e}"));
    for _ in 0..args.warmup {
        let result = run()?;
        if !check(&result) {
            return Err("the warm-up run gave a wrong result".to_owned());
        }
    }
    let mut times = Vec::with_capacity(args.reps);
    let mut last = None;
    for _ in 0..args.reps {
        let start = Instant::now();
        let result = run()?;
        times.push(start.elapsed());
        last = Some(result);
    }
    let last = last.ok_or("no timed run")?;
    Ok((tasks, median(&build_times), times, last))
}

/// Runs one bag workload.
pub(crate) fn measure(name: &str, args: &Args) -> Result<Measured, String> {
    match name {
        "bag-mapfilter" => {
            let expected = mapfilter_expected(MAPFILTER_ITEMS);
            let (tasks, build, times, result) = time_runs(
                args,
                || mapfilter(MAPFILTER_ITEMS, MAPFILTER_PARTITIONS),
                |n| *n == expected,
            )?;
            let seconds = median(&times).as_secs_f64();
            Ok(Measured {
                tasks,
                build,
                times,
                result: result.to_string(),
                expected: expected.to_string(),
                extra: vec![
                    ("items", MAPFILTER_ITEMS.to_string()),
                    ("partitions", MAPFILTER_PARTITIONS.to_string()),
                    (
                        "throughput",
                        format!("{:.4}", MAPFILTER_ITEMS as f64 / seconds / 1e6),
                    ),
                    ("throughput_unit", "\"M items/s\"".to_owned()),
                ],
                check: None,
                peak_rss_mb: None,
            })
        }
        "bag-text-frequencies" => text(args, "plain/*.txt", Some(TEXT_BLOCKSIZE)),
        "bag-text-frequencies-gz" => text(args, "gz/*.txt.gz", None),
        other => Err(format!("unknown bag workload {other:?}")),
    }
}

/// What `gen_text.py` wrote into `expected.json`.
struct Corpus {
    bytes: u64,
    top10: Vec<(String, u64)>,
}

fn read_corpus(dir: &Path) -> Result<Corpus, String> {
    let path = dir.join("expected.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read {}: {e} (run benches/compare/gen_text.py)",
            path.display()
        )
    })?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    let bytes = json["bytes"]
        .as_u64()
        .ok_or_else(|| format!("{} has no \"bytes\"", path.display()))?;
    let top10 = json["top10"]
        .as_array()
        .ok_or_else(|| format!("{} has no \"top10\"", path.display()))?
        .iter()
        .map(|pair| match (pair[0].as_str(), pair[1].as_u64()) {
            (Some(word), Some(n)) => Ok((word.to_owned(), n)),
            _ => Err(format!(
                "{}: a top10 entry is not [word, count]",
                path.display()
            )),
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Corpus { bytes, top10 })
}

fn text(args: &Args, pattern: &str, blocksize: Option<u64>) -> Result<Measured, String> {
    let dir: PathBuf = args
        .data
        .clone()
        .ok_or("the text workloads need --data DIR")?;
    let corpus = read_corpus(&dir)?;
    let pattern = dir.join(pattern);
    let (tasks, build, times, result) = time_runs(
        args,
        || text_frequencies(&pattern, blocksize),
        |top| *top == corpus.top10,
    )?;
    let seconds = median(&times).as_secs_f64();
    let partitions = barrow_bag::read_text(pattern.as_path())
        .blocksize_option(blocksize)
        .into_bag()
        .map_err(|e| e.to_string())?
        .npartitions();
    let as_json = |pairs: &[(String, u64)]| {
        serde_json::to_string(
            &pairs
                .iter()
                .map(|(w, n)| serde_json::json!([w, n]))
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default()
    };
    Ok(Measured {
        tasks,
        build,
        times,
        result: as_json(&result),
        expected: as_json(&corpus.top10),
        extra: vec![
            ("bytes", corpus.bytes.to_string()),
            ("partitions", partitions.to_string()),
            (
                "throughput",
                format!("{:.2}", corpus.bytes as f64 / seconds / 1e6),
            ),
            ("throughput_unit", "\"MB/s\"".to_owned()),
        ],
        check: None,
        peak_rss_mb: None,
    })
}
