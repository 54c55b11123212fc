//! The scheduler's dashboard in a real headless Chromium, while a
//! `LocalCluster` computes an array reduction whose inputs spill: the page
//! loads without console errors, the task stream gains rectangles while
//! the graph runs, the memory bars show the managed and spilled bytes the
//! scheduler reports, progress reaches 100%, and a failed task appears with
//! its error. Screenshots go to `target/tmp/`.
//!
//! Needs `chromium` and `chromedriver` (Debian's `chromium` and
//! `chromium-driver`): skipped without them, failed under CI=true.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod browser;

use std::time::Duration;

use barrow::array::random::Generator;
use barrow::distributed::LocalCluster;
use barrow::{Options, compute_with};
use barrow_test_support::require_program;
use browser::Browser;

/// Every wait's bound: the page updates every 100 ms.
const WAIT: Duration = Duration::from_secs(5);

/// Sleeps, then gives its input: slow enough for the page to watch.
#[barrow::task(name = "tests.dashboard.slow")]
fn slow(x: &i64) -> i64 {
    std::thread::sleep(Duration::from_millis(2));
    *x
}

/// Always fails.
#[barrow::task(name = "tests.dashboard.broken")]
fn broken(_x: &i64) -> barrow::Result<i64> {
    Err(barrow::Error::new(
        barrow::ErrorKind::TaskFailed,
        "this task is broken on purpose".to_owned(),
    ))
}

fn number(browser: &Browser, css: &str, attr: &str) -> Option<u64> {
    browser.attr(css, attr)?.parse().ok()
}

#[test]
fn the_status_page_follows_a_cluster_that_spills() {
    if !require_program("chromium", "chromium")
        || !require_program("chromedriver", "chromium-driver")
    {
        return;
    }
    // Two in-process workers of 8 MB: their values past 60% go to disk.
    let cluster = LocalCluster::new()
        .workers(2)
        .threads_per_worker(1)
        .processes(false)
        .memory_limit(8_000_000)
        .start()
        .unwrap();
    let client = cluster.client().unwrap();
    let browser = Browser::start();
    browser.goto(&cluster.dashboard_url().unwrap());
    browser.wait_for("the event stream to connect", WAIT, |b| {
        (b.attr("#connection", "data-state")? == "live").then_some(())
    });

    // 600 slow tasks, watched while they run.
    let run = {
        let client = client.clone();
        std::thread::spawn(move || {
            let futures: Vec<_> = (0..600i64)
                .map(|i| {
                    client
                        .submit::<i64>(&slow::func(), [barrow::arg::lit(i)])
                        .unwrap()
                })
                .collect();
            client.gather(&futures).unwrap()
        })
    };
    let first = browser.wait_for("the first rectangles", WAIT, |b| {
        number(b, "#task-stream", "data-rects").filter(|&n| n > 0)
    });
    let (later, running) = browser.wait_for("more rectangles", WAIT, |b| {
        let n = number(b, "#task-stream", "data-rects")?;
        (n > first).then(|| (n, !run.is_finished()))
    });
    assert!(
        running,
        "the graph ended before the stream grew ({first} → {later})"
    );
    let values = run.join().unwrap();
    assert_eq!(values.len(), 600);

    // 24 MB of chunks kept on two 8 MB workers: most of them spill.
    let x = Generator::new(3)
        .random(&[3000, 1000], [100, 1000])
        .unwrap();
    let kept = client.persist(&x).unwrap();
    let total = compute_with(&kept.sum(), &Options::new().scheduler(&client)).unwrap();
    let expected = compute_with(&x.sum(), &Options::new().scheduler("sync")).unwrap();
    assert!((total - expected).abs() <= 1e-9 * expected.abs());

    // The bars show what the scheduler knows, worker by worker.
    // (Values go to disk on the workers' spill threads; heartbeats say so.)
    let info = barrow_test_support::wait_until(
        WAIT.as_secs(),
        || {
            let info = client.scheduler_info().unwrap();
            let settled = info.workers.iter().all(|w| w.memory.managed <= 4_800_000);
            (settled && info.workers.iter().any(|w| w.memory.spilled > 0)).then_some(info)
        },
        || format!("nothing spilled: {:?}", client.scheduler_info()),
    );
    for worker in &info.workers {
        let bar = format!(r#".worker[data-name="{}"]"#, worker.summary.name);
        let want = (worker.memory.managed, worker.memory.spilled);
        browser.wait_for(&format!("{bar} to match the scheduler"), WAIT, |b| {
            let shown = (
                number(b, &bar, "data-managed")?,
                number(b, &bar, "data-spilled")?,
            );
            (shown == want).then_some(())
        });
    }
    browser.wait_for("progress at 100%", WAIT, |b| {
        let done = number(b, "#overall", "data-done")?;
        let all = number(b, "#overall", "data-all")?;
        (all > 600 && done == all && b.attr("#overall", "data-fraction")? == "1").then_some(())
    });
    let shot = browser.screenshot("dashboard-cluster.png");

    // A failed task: an event with its error.
    let failed = client
        .submit::<i64>(&broken::func(), [barrow::arg::lit(0i64)])
        .unwrap();
    assert!(failed.result().is_err());
    let text = browser.wait_for("the task-failed event", WAIT, |b| {
        let found = b.js(
            "const e = document.querySelector('#events li[data-kind=\"task-failed\"]');\
             return e ? e.textContent : null;",
        );
        found.as_str().map(str::to_owned)
    });
    assert!(text.contains("this task is broken on purpose"), "{text}");
    assert!(text.contains("tests.dashboard.broken"), "{text}");
    browser.screenshot("dashboard-cluster-failed.png");

    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    drop(kept);
    eprintln!("screenshot: {}", shot.display());
}
