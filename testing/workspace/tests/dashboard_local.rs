//! The dashboard of a local `threads` run, in a real headless Chromium:
//! the page loads without console errors, the task stream grows while the
//! run goes on, progress reaches 100% of the plan, and a failed task shows
//! as an event with its error. Screenshots go to `target/tmp/`.
//!
//! Needs `chromium` and `chromedriver` (Debian's `chromium` and
//! `chromium-driver`): skipped without them, failed under CI=true. The
//! `processes` test needs no browser: it checks what the callback records
//! from a pool of worker processes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod browser;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use barrow::arg::key;
use barrow::bag::Bag;
use barrow::callback::{Callback, RunInfo};
use barrow::collection::GraphKeys;
use barrow::local::ThreadsScheduler;
use barrow::{Func, Graph, Options, Task, compute_with};
use barrow_core::testing::functions::{fail, inc};
use barrow_dashboard::{Cursor, Dashboard, ServeOptions};
use barrow_test_support::require_program;
use browser::Browser;

// The test binary is also the `processes` pool's worker.
barrow::processes::worker_entry!();

/// Every wait's bound: the page updates every 100 ms.
const WAIT: Duration = Duration::from_secs(5);

/// Remembers how many tasks the last run's plan had.
#[derive(Debug, Default)]
struct PlanSize(AtomicUsize);

impl Callback for PlanSize {
    fn start(&self, run: &RunInfo<'_>) {
        self.0.store(run.plan.len(), Ordering::SeqCst);
    }
}

fn number(browser: &Browser, css: &str, attr: &str) -> Option<u64> {
    browser.attr(css, attr)?.parse().ok()
}

#[test]
fn the_status_page_follows_a_threads_run() {
    if !require_program("chromium", "chromium")
        || !require_program("chromedriver", "chromium-driver")
    {
        return;
    }
    let dashboard = Dashboard::serve(ServeOptions::at("127.0.0.1:0")).unwrap();
    let browser = Browser::start();
    browser.goto(&dashboard.url());
    browser.wait_for("the event stream to connect", WAIT, |b| {
        (b.attr("#connection", "data-state")? == "live").then_some(())
    });

    // 3,000 one-element partitions, each a ~1 ms task, then a tree sum:
    // about two seconds on two threads, long enough to watch.
    let plan = Arc::new(PlanSize::default());
    let options = Options::new()
        .scheduler_object(Arc::new(ThreadsScheduler::default()))
        .num_workers(2)
        .callback(dashboard.clone())
        .callback(plan.clone());
    let run = {
        let options = options.clone();
        std::thread::spawn(move || {
            let slow = Bag::from_sequence(0..3_000i64, 3_000)?.map(|x| {
                std::thread::sleep(Duration::from_millis(1));
                x + 1
            });
            compute_with(&slow.sum(), &options)
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
        "the run ended before the stream grew ({first} → {later})"
    );
    assert_eq!(
        browser.attr("body", "data-finished").as_deref(),
        Some("false")
    );
    browser.screenshot("dashboard-local-running.png");

    let total = run.join().unwrap().unwrap();
    assert_eq!(total, (1..=3_000).sum::<i64>());
    let tasks = plan.0.load(Ordering::SeqCst) as u64;
    assert!(tasks > 3_000, "{tasks} tasks");
    browser.wait_for("progress at 100%", WAIT, |b| {
        let done = number(b, "#overall", "data-done")?;
        let all = number(b, "#overall", "data-all")?;
        let finished = b.attr("body", "data-finished")? == "true";
        let complete = b.attr("#overall", "data-fraction")? == "1";
        (finished && complete && done == tasks && all == tasks).then_some(())
    });
    assert_eq!(number(&browser, "#task-stream", "data-rects"), Some(tasks));

    // The pool's memory bar, coloured by the snapshot's rule.
    let pool = r#".worker[data-name="local"]"#;
    let colour = browser.attr(pool, "data-colour").unwrap();
    assert!(
        ["normal", "spilling", "critical"].contains(&colour.as_str()),
        "{colour}"
    );
    if cfg!(target_os = "linux") {
        assert!(number(&browser, pool, "data-process").unwrap() > 0);
    }
    assert!(number(&browser, pool, "data-managed").is_some());
    assert_eq!(number(&browser, pool, "data-spilled"), Some(0));
    let threads =
        browser.js("return document.querySelector('#workers tbody tr').cells[1].textContent;");
    assert_eq!(threads, "2");

    // Hovering over the first thread's lane names a task.
    browser.js(
        "const c = document.getElementById('task-stream'); const r = c.getBoundingClientRect();\
         c.dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + 90 + (r.width - 94) * 0.5, clientY: r.top + 7, bubbles: true}));\
         return null;",
    );
    let tip = browser.wait_for("a tooltip", WAIT, |b| {
        let shown = b.js(
            "const t = document.getElementById('tooltip'); return t.hidden ? null : t.textContent;",
        );
        shown.as_str().map(str::to_owned)
    });
    assert!(tip.contains("worker: local, thread 0"), "{tip}");
    assert!(tip.contains(" ms"), "{tip}");
    let shot = browser.screenshot("dashboard-local.png");

    // A second run, with a task that fails.
    let fragile = Func::try_new("fragile", |x: &i64| {
        if *x == 137 {
            Err(format!("bad item {x}"))
        } else {
            Ok(*x)
        }
    });
    let graph = Graph::from_tasks([
        ("item".to_owned(), Task::literal(137i64)),
        ("fragile-0".to_owned(), Task::call(&fragile, [key("item")])),
    ])
    .unwrap();
    let failed = compute_with(GraphKeys::new(graph, ["fragile-0"]), &options).unwrap_err();
    assert!(failed.to_string().contains("bad item 137"), "{failed}");
    let text = browser.wait_for("the task-failed event", WAIT, |b| {
        let found = b.js(
            "const e = document.querySelector('#events li[data-kind=\"task-failed\"]');\
             return e ? e.textContent : null;",
        );
        found.as_str().map(str::to_owned)
    });
    assert!(
        text.contains("fragile-0") && text.contains("bad item 137"),
        "{text}"
    );
    browser.wait_for("the failed run's progress", WAIT, |b| {
        (number(b, "#overall", "data-failed")? == 1).then_some(())
    });
    browser.screenshot("dashboard-local-failed.png");

    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    eprintln!("screenshot: {}", shot.display());
}

#[test]
fn a_processes_run_reports_to_the_dashboard() {
    let dashboard = Dashboard::serve(ServeOptions::at("127.0.0.1:0")).unwrap();
    let options = Options::new()
        .scheduler("processes")
        .num_workers(2)
        .optimize_graph(false)
        .callback(dashboard.clone());
    let mut tasks = vec![("x".to_owned(), Task::literal(1i64))];
    for i in 0..40 {
        tasks.push((format!("inc-{i}"), Task::call(&inc(), [key("x")])));
    }
    let wanted: Vec<String> = (0..40).map(|i| format!("inc-{i}")).collect();
    let graph = Graph::from_tasks(tasks).unwrap();
    let out = compute_with(
        GraphKeys::new(graph, wanted.iter().map(String::as_str)),
        &options,
    )
    .unwrap();
    assert_eq!(out.len(), 40);
    let snap = dashboard.feed().snapshot(Cursor::default());
    assert!(snap.finished);
    assert_eq!((snap.overall.done, snap.overall.all), (41, 41));
    assert_eq!(snap.stream.rects.len(), 41);
    assert_eq!(snap.workers[0].row.threads, 2);
    assert!(snap.stream.rects.iter().all(|r| r.thread < 2));
    let inc_row = snap.progress.iter().find(|p| p.prefix == "inc").unwrap();
    assert_eq!(inc_row.done, 40);

    let graph =
        Graph::from_tasks([("oops", Task::call(&fail(), [barrow::arg::lit(1i64)]))]).unwrap();
    compute_with(GraphKeys::new(graph, ["oops"]), &options).unwrap_err();
    let snap = dashboard.feed().snapshot(Cursor::default());
    let event = snap
        .events
        .iter()
        .find(|e| e.kind == "task-failed")
        .unwrap();
    assert_eq!(event.key.as_deref(), Some("oops"));
    assert!(event.text.contains("no"), "{}", event.text);
}
