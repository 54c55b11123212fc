//! A worker process with a small `--memory-limit` computes a reduction of
//! an array larger than its limit: the array is persisted on it, its
//! chunks past `target` go to disk, come back for the sum, and the answer
//! is the one `sync` gives. The figures (spilled bytes, the worker's peak
//! resident memory against its limit, the time) are printed for the notes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::time::{Duration, Instant};

use barrow::array::random::Generator;
use barrow::distributed::LocalCluster;
use barrow::{Options, compute_with};

barrow::processes::worker_entry!();

/// The worker's memory limit: the array is 2.5 times larger.
const LIMIT: u64 = 128 << 20;

/// The largest resident size a process reached (`VmHWM`), in bytes.
fn peak_resident(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[test]
fn a_worker_computes_an_array_larger_than_its_memory_limit_by_spilling() {
    let cluster = LocalCluster::new()
        .workers(1)
        .threads_per_worker(1)
        .memory_limit(LIMIT)
        .start_timeout(Duration::from_secs(30))
        .start()
        .expect("a cluster of one worker process");
    let client = cluster.client().unwrap();
    // 4000 × 10,000 float64 = 320 MB in 20 chunks of 16 MB.
    let x = Generator::new(7)
        .random(&[4000, 10_000], [200, 10_000])
        .unwrap();
    let bytes = 4000 * 10_000 * 8u64;
    assert!(bytes > 2 * LIMIT);
    let start = Instant::now();
    let (done, finished) = std::sync::mpsc::channel();
    {
        let (client, x) = (client.clone(), x.clone());
        std::thread::spawn(move || {
            let kept = client.persist(&x).unwrap();
            let total = compute_with(&kept.sum(), &Options::new().scheduler(&client));
            // The persisted chunks stay on the worker while `kept` lives.
            let _ = done.send((total, kept));
        });
    }
    let Ok((total, _kept)) = finished.recv_timeout(Duration::from_secs(60)) else {
        panic!(
            "no sum after 60 s; workers: {:?}\n{}",
            client.scheduler_info().map(|i| i.workers),
            cluster.scheduler().unfinished_report(10)
        );
    };
    let total = total.unwrap();
    let elapsed = start.elapsed();
    let expected = compute_with(&x.sum(), &Options::new().scheduler("sync")).unwrap();
    assert!(
        (total - expected).abs() <= 1e-9 * expected.abs(),
        "{total} != {expected}"
    );
    // What stayed in memory is under the limit; the rest is on disk.
    let info = client.scheduler_info().unwrap();
    let memory = info.workers[0].memory;
    assert!(memory.spilled > 0, "nothing was spilled: {memory:?}");
    assert!(
        memory.managed <= LIMIT,
        "{} bytes of values in memory against a limit of {LIMIT}",
        memory.managed
    );
    // The worker process reports its processor use (the dashboard's CPU
    // column) with its heartbeats.
    let feed = cluster.scheduler().dashboard_feed().unwrap();
    let cpu = feed.snapshot(Default::default()).workers[0].row.cpu;
    assert!(cpu.is_some_and(|c| c >= 0.0), "{cpu:?}");
    let peak = cluster.worker_pid(0).and_then(peak_resident);
    println!(
        "persisted {bytes} bytes and summed them in {elapsed:?} ({:.0} MB/s) on a worker \
         limited to {LIMIT} bytes: {} bytes spilled, {} in memory, peak resident {peak:?}",
        bytes as f64 / elapsed.as_secs_f64() / 1e6,
        memory.spilled,
        memory.managed
    );
}
