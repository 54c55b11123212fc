//! The scheduler's dashboard on a real cluster (in this process): what its
//! feed shows matches the scheduler — every task done, each worker's
//! managed bytes, a failed task with its error, transfers between workers
//! — and its pages answer over HTTP. (The page itself is driven in a
//! browser by the workspace's `dashboard_cluster` test.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use barrow_core::arg::lit;
use barrow_dashboard::{Activity, Cursor, Snapshot};
use barrow_distributed::LocalCluster;
use support::{TestCluster, wait_until, within};

#[barrow_core::task(name = "tests.dashboard.inc")]
fn inc(x: &i64) -> i64 {
    x + 1
}

#[barrow_core::task(name = "tests.dashboard.add")]
fn add(a: &i64, b: &i64) -> i64 {
    a + b
}

#[barrow_core::task(name = "tests.dashboard.fail")]
fn fail(_x: &i64) -> barrow_core::Result<i64> {
    Err(barrow_core::Error::new(
        barrow_core::ErrorKind::TaskFailed,
        "the dashboard should show this".to_owned(),
    ))
}

/// Every rectangle and event so far, with the latest state.
fn everything(test: &TestCluster) -> Snapshot {
    let feed = test.cluster.scheduler().dashboard_feed().unwrap();
    feed.snapshot(Cursor::default())
}

/// GET `path` from the dashboard; the status line and the body.
fn get(url: &str, path: &str) -> (String, String) {
    let host = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

#[test]
fn the_feed_shows_every_task_each_workers_memory_and_a_failure() {
    within(Duration::from_secs(30), || {
        let test = TestCluster::new(2, 1);
        let client = &test.client;
        let ones: Vec<_> = (0..40)
            .map(|i| {
                client
                    .submit::<i64>(&inc::func(), [lit(i64::from(i))])
                    .unwrap()
            })
            .collect();
        // Pairs of values on different workers: some must move.
        let sums: Vec<_> = ones
            .chunks(2)
            .map(|pair| {
                client
                    .submit::<i64>(&add::func(), [(&pair[0]).into(), (&pair[1]).into()])
                    .unwrap()
            })
            .collect();
        client.wait(&sums, None).unwrap();
        let failed = client.submit::<i64>(&fail::func(), [lit(1i64)]).unwrap();
        assert!(failed.result().is_err());

        let snapshot = wait_until(
            Duration::from_secs(10),
            || {
                let s = everything(&test);
                let inc = s
                    .progress
                    .iter()
                    .find(|p| p.prefix == "tests.dashboard.inc")?;
                let add = s
                    .progress
                    .iter()
                    .find(|p| p.prefix == "tests.dashboard.add")?;
                let failed = s.events.iter().any(|e| e.kind == "task-failed");
                (inc.done == 40 && add.done == 20 && failed).then_some(s)
            },
            || format!("{:?}", everything(&test).progress),
        );
        let add = snapshot
            .progress
            .iter()
            .find(|p| p.prefix == "tests.dashboard.add")
            .unwrap();
        assert_eq!((add.all, add.memory, add.processing), (20, 20, 0));
        let fail = snapshot
            .progress
            .iter()
            .find(|p| p.prefix == "tests.dashboard.fail")
            .unwrap();
        assert_eq!((fail.all, fail.failed, fail.done), (1, 1, 0));

        // A rectangle per computed task, on the workers' threads, and the
        // failed one black (marked failed), with its error in the events.
        let computed: Vec<_> = snapshot
            .stream
            .rects
            .iter()
            .filter(|r| r.activity == Activity::Compute)
            .collect();
        assert_eq!(computed.len(), 61, "{computed:?}");
        assert!(
            computed
                .iter()
                .all(|r| r.worker.starts_with("local-") && r.thread == 0)
        );
        assert!(
            computed
                .iter()
                .all(|r| r.duration_ms >= 0.0 && r.start_ms >= 0.0)
        );
        let black: Vec<_> = computed.iter().filter(|r| r.failed).collect();
        assert_eq!(black.len(), 1);
        assert_eq!(&*black[0].function, "tests.dashboard.fail");
        let event = snapshot
            .events
            .iter()
            .find(|e| e.kind == "task-failed")
            .unwrap();
        assert!(
            event.text.contains("the dashboard should show this"),
            "{event:?}"
        );
        assert!(
            event
                .key
                .as_deref()
                .is_some_and(|k| k.starts_with("tests.dashboard.fail"))
        );
        assert_eq!(
            snapshot
                .events
                .iter()
                .filter(|e| e.kind == "worker-added")
                .count(),
            2
        );

        // Transfers: the adds read values from the other worker; they come
        // with the heartbeats, as do the transfer totals.
        let snapshot = wait_until(
            Duration::from_secs(10),
            || {
                let s = everything(&test);
                let moved = s
                    .stream
                    .rects
                    .iter()
                    .any(|r| r.activity == Activity::Transfer);
                let counted = s.workers.iter().any(|w| w.row.transfer_in > 0);
                (moved && counted).then_some(s)
            },
            || format!("{:?}", everything(&test).workers),
        );
        let sent: u64 = snapshot.workers.iter().map(|w| w.row.transfer_out).sum();
        let received: u64 = snapshot.workers.iter().map(|w| w.row.transfer_in).sum();
        assert!(sent > 0 && received > 0);

        // The memory bars carry the scheduler's own managed bytes.
        let info = client.scheduler_info().unwrap();
        let snapshot = everything(&test);
        for worker in &info.workers {
            let row = snapshot
                .workers
                .iter()
                .find(|w| w.row.name == worker.summary.name)
                .unwrap();
            assert_eq!(
                row.row.memory.managed, worker.memory.managed,
                "{}",
                worker.summary.name
            );
            assert_eq!(row.row.threads, 1);
            assert_eq!(row.row.status, "running");
        }
        let states: u64 = snapshot.states.iter().map(|(_, n)| n).sum();
        assert!(states >= 61);
    });
}

#[test]
fn the_pages_answer_over_http() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(1, 1);
        let one = test
            .client
            .submit::<i64>(&inc::func(), [lit(1i64)])
            .unwrap();
        assert_eq!(one.result().unwrap(), 2);
        let url = test.cluster.dashboard_url().unwrap();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        let (status, body) = get(&url, "/health");
        assert!(status.contains("200"), "{status}");
        assert_eq!(body.trim(), "ok");
        let (status, page) = get(&url, "/status");
        assert!(status.contains("200"), "{status}");
        assert!(
            page.contains("<html") || page.contains("<!DOCTYPE"),
            "{page}"
        );
        let metrics = wait_until(
            Duration::from_secs(5),
            || {
                let (_, body) = get(&url, "/metrics");
                body.contains(
                    "barrow_prefix_tasks{prefix=\"tests.dashboard.inc\",phase=\"done\"} 1",
                )
                .then_some(body)
            },
            || get(&url, "/metrics").1,
        );
        assert!(
            metrics.contains("barrow_worker_memory_bytes{worker=\"local-0\",kind=\"managed\"}")
        );
        let (status, json) = get(&url, "/api/v1/snapshot");
        assert!(status.contains("200"), "{status}");
        assert!(json.contains("\"workers\""), "{json}");
    });
}

#[test]
fn a_taken_port_gives_way_to_a_free_one_and_the_dashboard_can_be_turned_off() {
    within(Duration::from_secs(20), || {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let address = format!("127.0.0.1:{port}");
        let config = |pairs: &[(&str, &str)]| {
            barrow_core::config::snapshot()
                .unwrap()
                .with_options(pairs.iter().copied())
                .unwrap()
        };
        let cluster = LocalCluster::new()
            .workers(1)
            .processes(false)
            .config(config(&[
                ("distributed.dashboard.address", &address),
                ("distributed.dashboard.task-stream-length", "7"),
            ]))
            .start()
            .unwrap();
        let url = cluster.dashboard_url().unwrap();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        assert!(
            !url.contains(&format!(":{port}/")),
            "{url} is on the taken port"
        );
        let feed = cluster.scheduler().dashboard_feed().unwrap();
        assert_eq!(feed.stream_capacity(), 7);
        drop(cluster);
        let off = LocalCluster::new()
            .workers(1)
            .processes(false)
            .config(config(&[("distributed.dashboard.enabled", "false")]))
            .start()
            .unwrap();
        assert_eq!(off.dashboard_url(), None);
    });
}
