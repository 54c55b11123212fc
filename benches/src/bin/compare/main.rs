//! Barrow's side of `benches/compare/run`: runs the graph shapes of Dask's
//! `bench_graph.py` through the public scheduler API, the bag workloads
//! (`bag.rs`) and the array workloads (`array.rs`), and prints one JSON
//! object per workload on standard output.
//!
//! ```text
//! compare --workload NAME [--workload NAME…] [--scheduler sync|threads|processes|distributed]
//!         [--reps N] [--warmup N] [--workers N]
//! compare --list
//! ```
//!
//! For each workload it
//!
//! 1. builds the graph `warmup + reps` times with [`barrow_benches::by_name`]
//!    and reports the median as `build_seconds` (graph construction is timed
//!    apart from running it, as `bench_graph.py` does);
//! 2. runs it `warmup` times untimed, then `reps` times timed, each run being
//!    one call of [`barrow_core::compute_with`] on a
//!    [`GraphKeys`] with
//!    `Options::new().scheduler(NAME).optimize_graph(false)` (and
//!    `num_workers(N)` for `threads` and `processes`, 2 by default to match Dask's
//!    `num_workers=2`), so the figure is pure scheduling of the given tasks,
//!    like Dask's `optimize_graph=False`;
//! 3. checks every result against the closed form in
//!    [`barrow_benches::Workload::expected`];
//! 4. prints `{"system": "barrow", "workload", "scheduler", "workers",
//!    "tasks", "reps", "warmup", "seconds" (median), "times", "us_per_task",
//!    "build_seconds", "peak_rss_mb", "ok", "result", "expected"}`, or
//!    `{…, "ok": false, "error": "…"}` when the workload fails.
//!
//! `distributed` starts a [`LocalCluster`](barrow_distributed::LocalCluster)
//! of `--workers` processes (this program, one thread each) once, before the
//! first build, and reports how long that took as `start_seconds`; every
//! run computes through its client.
//!
//! `peak_rss_mb` is the high-water mark of the whole process's resident set
//! (`VmHWM` in `/proc/self/status`), read after the workload: give one
//! workload per process (as `benches/compare/run` does) for a per-workload
//! figure. It is `null` where `/proc` is missing.
//!
//! Exit status: 0 when every workload ran and matched, 1 when one failed
//! (its JSON line says why), 2 on a usage error.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use barrow_benches::{Workload, by_name};
use barrow_core::collection::GraphKeys;
use barrow_core::{Options, compute_with};
use barrow_distributed::{Client, LocalCluster};
use std::sync::OnceLock;

mod array;
mod bag;
mod dataframe;

/// mimalloc, as the project recommends for programs that allocate many
/// small values (bags of strings): about twice as fast as glibc's malloc on
/// small blocks and on blocks freed by another thread (`shared/notes/crates.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The workloads `--list` shows and a usage error names.
const KNOWN: &[&str] = &[
    "indep10k",
    "indep100k",
    "chain1k",
    "chain10k",
    "tree2^12",
    "tree2^14",
    "bag-mapfilter",
    "bag-text-frequencies",
    "bag-text-frequencies-gz",
    "ones-sum",
    "ones-materialized",
    "random-mean",
    "x-plus-xT-sum",
    "dot-xxT",
    "random-sum-50k",
    "rechunk-cols-to-rows",
    "df-csv-groupby",
    "df-parquet-projection",
    "df-join",
    "df-sort",
];

/// The schedulers this runner accepts.
const SCHEDULERS: &[&str] = &["sync", "threads", "processes", "distributed"];

const USAGE: &str = "usage: compare --workload NAME [--workload NAME...] \
[--scheduler sync|threads|processes|distributed] [--reps N] [--warmup N] [--workers N] [--data DIR]
       [--dashboard on|off|page]
       compare --list
  --workload NAME   a graph shape, bag or array workload (repeat or separate with commas)
  --scheduler NAME  sync, threads, processes or distributed (default: sync)
  --reps N          timed runs, the median is reported (default: 3, at least 1)
  --warmup N        untimed runs first (default: 1)
  --workers N       workers of threads, processes and distributed (default: 2)
  --data DIR        the text corpus of benches/compare/gen_text.py (bag-text-*), or the
                    table of gen_table.py (df-*)
  --dashboard MODE  distributed only: the scheduler's dashboard on (the default), off, or
                    page (on, with a reader of its update stream open, as a browser's page)
  --list            print the known workloads, one a line";

/// What the command line asked for.
#[derive(Debug)]
struct Args {
    workloads: Vec<String>,
    scheduler: String,
    reps: usize,
    warmup: usize,
    workers: usize,
    data: Option<std::path::PathBuf>,
    dashboard: String,
}

/// What the command line asks for: run, list, or help.
#[derive(Debug)]
enum Command {
    Run(Args),
    List,
    Help,
}

/// Parses the arguments (without the program name); the error is a message
/// for the user.
fn parse(mut argv: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut args = Args {
        workloads: Vec::new(),
        scheduler: "sync".to_owned(),
        reps: 3,
        warmup: 1,
        workers: 2,
        data: None,
        dashboard: "on".to_owned(),
    };
    while let Some(flag) = argv.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (flag, None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match inline.clone().or_else(|| argv.next()) {
                Some(v) => Ok(v),
                None => Err(format!("{name} needs a value")),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--list" => return Ok(Command::List),
            "--workload" => {
                let names = value("--workload")?;
                for name in names.split(',').filter(|n| !n.is_empty()) {
                    if !KNOWN.contains(&name) {
                        return Err(format!(
                            "unknown workload {name:?}; known: {}",
                            KNOWN.join(", ")
                        ));
                    }
                    args.workloads.push(name.to_owned());
                }
            }
            "--scheduler" => {
                let name = value("--scheduler")?;
                if !SCHEDULERS.contains(&name.as_str()) {
                    return Err(format!(
                        "unknown scheduler {name:?}; known: {}",
                        SCHEDULERS.join(", ")
                    ));
                }
                args.scheduler = name;
            }
            "--reps" => args.reps = count("--reps", &value("--reps")?, 1)?,
            "--warmup" => args.warmup = count("--warmup", &value("--warmup")?, 0)?,
            "--workers" => args.workers = count("--workers", &value("--workers")?, 1)?,
            "--data" => args.data = Some(value("--data")?.into()),
            "--dashboard" => {
                let mode = value("--dashboard")?;
                if !["on", "off", "page"].contains(&mode.as_str()) {
                    return Err(format!("--dashboard takes on, off or page, not {mode:?}"));
                }
                args.dashboard = mode;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.workloads.is_empty() {
        return Err(format!("no --workload given; known: {}", KNOWN.join(", ")));
    }
    Ok(Command::Run(args))
}

/// Parses a whole number of at least `min` for `flag`.
fn count(flag: &str, text: &str, min: usize) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!(
            "{flag} takes a whole number >= {min}, not {text:?}"
        )),
    }
}

/// The figures of one successful workload.
#[derive(Debug)]
struct Measured {
    tasks: usize,
    build: Duration,
    times: Vec<Duration>,
    /// The last result and the expected one, as JSON.
    result: String,
    expected: String,
    /// Workload-specific fields, as raw JSON values (`throughput`, ...).
    extra: Vec<(&'static str, String)>,
    /// The check of a result that is not compared as text (a tolerance, a
    /// shape and an entry: the arrays), with what differs on failure;
    /// `None` compares `result` and `expected`.
    check: Option<Result<(), String>>,
    /// The peak RSS to report instead of the one at the end (the dot
    /// workload reads it before its reference GEMM allocates).
    peak_rss_mb: Option<f64>,
}

impl Measured {
    fn ok(&self) -> bool {
        match &self.check {
            Some(check) => check.is_ok(),
            None => self.result == self.expected,
        }
    }

    /// Why the result is wrong, when it is.
    fn mismatch(&self) -> Option<String> {
        match &self.check {
            Some(Err(e)) => Some(e.clone()),
            Some(Ok(())) => None,
            None => (self.result != self.expected)
                .then(|| format!("result {} != expected {}", self.result, self.expected)),
        }
    }
}

/// The median of `times` (the mean of the middle two for an even count).
fn median(times: &[Duration]) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let mid = sorted.len() / 2;
    match sorted.len() {
        0 => Duration::ZERO,
        n if n % 2 == 1 => sorted[mid],
        _ => (sorted[mid - 1] + sorted[mid]) / 2,
    }
}

/// Builds the workload `warmup + reps` times (median of the last `reps`),
/// keeping the last graph. The previous graph is dropped before the next is
/// built, so the peak memory holds one graph.
fn build(name: &str, args: &Args) -> Result<(Workload, Duration), String> {
    let mut times = Vec::with_capacity(args.reps);
    let mut last = None;
    for i in 0..args.warmup + args.reps {
        drop(last.take());
        let start = Instant::now();
        let built = match by_name(name) {
            Some(Ok(workload)) => workload,
            Some(Err(e)) => return Err(format!("building the graph failed: {e}")),
            None => return Err(format!("unknown workload {name:?}")),
        };
        let elapsed = start.elapsed();
        last = Some(built);
        if i >= args.warmup {
            times.push(elapsed);
        }
    }
    match last {
        Some(workload) => Ok((workload, median(&times))),
        None => Err("no build ran".to_owned()),
    }
}

/// Runs the workload once through `compute_with` and returns its result.
fn run_once(target: &GraphKeys, options: &Options) -> Result<i64, String> {
    let values = compute_with(target, options).map_err(|e| format!("the graph failed: {e}"))?;
    let first = values
        .first()
        .ok_or_else(|| "the scheduler returned no value".to_owned())?;
    first
        .downcast_ref::<i64>()
        .copied()
        .map_err(|e| format!("unexpected result: {e}"))
}

/// The cluster of `--scheduler distributed`, started on first use, and
/// how long its start took.
fn cluster(
    workers: usize,
    dashboard: &str,
) -> Result<&'static (LocalCluster, Client, Duration), String> {
    static CLUSTER: OnceLock<Result<(LocalCluster, Client, Duration), String>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| {
            let start = Instant::now();
            let enabled = if dashboard == "off" { "false" } else { "true" };
            let config = barrow_core::config::snapshot()
                .and_then(|c| {
                    c.with_options([
                        ("distributed.dashboard.enabled", enabled),
                        ("distributed.dashboard.address", "127.0.0.1:0"),
                    ])
                })
                .map_err(|e| format!("the configuration does not load: {e}"))?;
            let cluster = LocalCluster::new()
                .workers(workers)
                .threads_per_worker(1)
                .config(config)
                .start()
                .map_err(|e| format!("the LocalCluster did not start: {e}"))?;
            let client = cluster
                .client()
                .map_err(|e| format!("no client of the LocalCluster: {e}"))?;
            if dashboard == "page"
                && let Some(url) = cluster.dashboard_url()
            {
                open_page(&url)?;
            }
            Ok((cluster, client, start.elapsed()))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Reads the dashboard's update stream for the rest of the run, as an open
/// page does (without drawing it).
fn open_page(url: &str) -> Result<(), String> {
    use std::io::{Read, Write};
    let host = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&host)
        .map_err(|e| format!("the dashboard at {host} does not answer: {e}"))?;
    write!(
        stream,
        "GET /api/v1/stream HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .map_err(|e| format!("the dashboard at {host} does not answer: {e}"))?;
    std::thread::spawn(move || {
        let mut buffer = vec![0u8; 1 << 16];
        while matches!(stream.read(&mut buffer), Ok(n) if n > 0) {}
    });
    Ok(())
}

/// The options of every run: the scheduler, and its workers for `threads`
/// and `processes`.
fn run_options(args: &Args) -> Options {
    if args.scheduler == "distributed" {
        return match cluster(args.workers, &args.dashboard) {
            Ok((_, client, _)) => Options::new().scheduler(client),
            // The error is reported by `main` before any workload runs.
            Err(_) => Options::new().scheduler("distributed"),
        };
    }
    let options = Options::new().scheduler(args.scheduler.as_str());
    if args.scheduler != "sync" {
        options.num_workers(args.workers)
    } else {
        options
    }
}

/// Builds, warms up, times and checks one workload.
fn measure(name: &str, args: &Args) -> Result<Measured, String> {
    let (workload, build_time) = build(name, args)?;
    let tasks = workload.graph.len();
    let expected = workload.expected;
    let target = GraphKeys::new(workload.graph, [workload.output]);
    let options = run_options(args).optimize_graph(false);
    for _ in 0..args.warmup {
        let result = run_once(&target, &options)?;
        if result != expected {
            return Err(format!("warm-up gave {result}, expected {expected}"));
        }
    }
    let mut times = Vec::with_capacity(args.reps);
    let mut result = expected;
    for _ in 0..args.reps {
        let start = Instant::now();
        result = run_once(&target, &options)?;
        times.push(start.elapsed());
        if result != expected {
            break;
        }
    }
    Ok(Measured {
        tasks,
        build: build_time,
        times,
        result: result.to_string(),
        expected: expected.to_string(),
        extra: Vec::new(),
        check: None,
        peak_rss_mb: None,
    })
}

/// Peak resident set size of this process in MiB (`VmHWM`), if `/proc`
/// tells it.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A float as JSON (rounded to `digits` decimals), `null` when absent.
fn json_float(x: Option<f64>, digits: usize) -> String {
    match x {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        _ => "null".to_owned(),
    }
}

/// One JSON line for one workload.
fn record(name: &str, args: &Args, outcome: &Result<Measured, String>) -> String {
    let workers = if args.scheduler != "sync" {
        args.workers.to_string()
    } else {
        "null".to_owned()
    };
    let mut line = format!(
        "{{\"system\": \"barrow\", \"workload\": {}, \"scheduler\": {}, \"workers\": {workers}, \
\"reps\": {}, \"warmup\": {}",
        json_string(name),
        json_string(&args.scheduler),
        args.reps,
        args.warmup,
    );
    match outcome {
        Ok(m) => {
            let seconds = median(&m.times).as_secs_f64();
            let times: Vec<String> = m
                .times
                .iter()
                .map(|t| json_float(Some(t.as_secs_f64()), 6))
                .collect();
            // usize -> f64 is exact for any task count a graph here has.
            #[allow(clippy::cast_precision_loss, reason = "task counts are far below 2^52")]
            let us_per_task = seconds / m.tasks.max(1) as f64 * 1e6;
            // Bags are measured by throughput; time per task says nothing there.
            let us_per_task =
                (!m.extra.iter().any(|(f, _)| *f == "throughput")).then_some(us_per_task);
            let ok = m.ok();
            let _ = write!(
                line,
                ", \"tasks\": {}, \"seconds\": {}, \"times\": [{}], \"us_per_task\": {}, \
\"build_seconds\": {}, \"peak_rss_mb\": {}, \"result\": {}, \"expected\": {}, \"ok\": {ok}",
                m.tasks,
                json_float(Some(seconds), 6),
                times.join(", "),
                json_float(us_per_task, 3),
                json_float(Some(m.build.as_secs_f64()), 6),
                json_float(m.peak_rss_mb.or_else(peak_rss_mb), 1),
                m.result,
                m.expected,
            );
            if args.scheduler == "distributed"
                && let Ok((_, _, start)) = cluster(args.workers, &args.dashboard)
            {
                let _ = write!(
                    line,
                    ", \"start_seconds\": {}, \"dashboard\": {}",
                    json_float(Some(start.as_secs_f64()), 4),
                    json_string(&args.dashboard)
                );
            }
            for (field, value) in &m.extra {
                let _ = write!(line, ", {}: {value}", json_string(field));
            }
            if let Some(mismatch) = m.mismatch() {
                let _ = write!(line, ", \"error\": {}", json_string(&mismatch));
            }
        }
        Err(e) => {
            let _ = write!(
                line,
                ", \"seconds\": null, \"peak_rss_mb\": {}, \"ok\": false, \"error\": {}",
                json_float(peak_rss_mb(), 1),
                json_string(e)
            );
        }
    }
    line.push('}');
    line
}

fn main() -> ExitCode {
    // The workers of `processes` are this program started again.
    barrow_processes::worker_main();
    let args = match parse(std::env::args().skip(1)) {
        Ok(Command::Run(args)) => args,
        Ok(Command::List) => {
            for name in KNOWN {
                println!("{name}");
            }
            return ExitCode::SUCCESS;
        }
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("compare: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Registers `sync`, `threads` and `processes` with the process-wide registry.
    barrow_local::link();
    barrow_processes::link();
    if args.scheduler == "distributed"
        && let Err(e) = cluster(args.workers, &args.dashboard)
    {
        for name in &args.workloads {
            println!("{}", record(name, &args, &Err(e.clone())));
        }
        return ExitCode::FAILURE;
    }
    let mut all_ok = true;
    for name in &args.workloads {
        let outcome = if name.starts_with("bag-") {
            bag::measure(name, &args)
        } else if dataframe::WORKLOADS.contains(&name.as_str()) {
            dataframe::measure(name, &args)
        } else if array::WORKLOADS.contains(&name.as_str()) {
            array::measure(name, &args)
        } else {
            measure(name, &args)
        };
        all_ok &= matches!(&outcome, Ok(m) if m.ok());
        println!("{}", record(name, &args, &outcome));
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Command, String> {
        parse(list.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn parses_and_rejects() {
        let parsed = args(&["--workload", "chain1k,tree2^12", "--scheduler=threads"]);
        assert!(
            matches!(&parsed, Ok(Command::Run(a)) if a.workloads.len() == 2 && a.scheduler == "threads" && a.reps == 3)
        );
        let unknown = args(&["--workload", "nope"]);
        assert!(matches!(&unknown, Err(m) if m.contains("indep100k")));
        assert!(args(&["--workload", "chain1k", "--reps", "0"]).is_err());
        assert!(args(&["--workload", "chain1k", "--scheduler", "distributed"]).is_ok());
        assert!(args(&["--workload", "chain1k", "--scheduler", "cluster"]).is_err());
        assert!(args(&["--workload", "chain1k", "--scheduler", "processes"]).is_ok());
        assert!(args(&["--reps"]).is_err());
        assert!(args(&[]).is_err());
    }

    #[test]
    fn median_and_json() {
        let ms = Duration::from_millis;
        assert_eq!(median(&[ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(
            median(&[ms(4), ms(1), ms(2), ms(3)]),
            Duration::from_micros(2500)
        );
        assert_eq!(json_string("a\"b\\\n"), "\"a\\\"b\\\\\\n\"");
        assert_eq!(json_float(None, 3), "null");
    }

    #[test]
    fn runs_a_small_workload() {
        barrow_local::link();
        let Ok(Command::Run(a)) = args(&["--workload", "chain1k", "--reps", "1", "--warmup", "0"])
        else {
            panic!("arguments parse");
        };
        let outcome = measure("chain1k", &a);
        assert!(matches!(&outcome, Ok(m) if m.ok() && m.tasks == 1000));
        assert!(record("chain1k", &a, &outcome).contains("\"ok\": true"));
    }
}
