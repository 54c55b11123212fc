//! Bad input and faults: an unreachable address, a wrong token, a bad
//! address, bytes that are not messages, a worker that leaves while it
//! runs a task or holds a needed value. Each fails with an error naming
//! what went wrong, and nothing hangs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

mod support;

use std::io::{Read, Write};
use std::time::Duration;

use barrow_core::arg::lit;
use barrow_core::testing::functions::inc;
use barrow_core::{Annotations, ErrorKind};
use barrow_distributed::{Client, ClientOptions};
use support::{TestCluster, wait_until, within};

/// Sleeps `ms` milliseconds, then gives them back.
#[barrow_core::task(name = "tests.bad-input.sleep")]
fn sleep_ms(ms: &u64) -> u64 {
    std::thread::sleep(Duration::from_millis(*ms));
    *ms
}

#[test]
fn an_unreachable_address_is_an_error_naming_it() {
    within(Duration::from_secs(20), || {
        // Nothing listens on port 9 (discard) of loopback here.
        let options = ClientOptions::new()
            .token("t")
            .timeout(Duration::from_millis(200));
        let err = Client::connect_with("tcp://127.0.0.1:9", &options).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Comm);
        let text = err.to_string();
        assert!(text.contains("tcp://127.0.0.1:9"), "{text}");
        assert!(text.contains("distributed.comm.timeouts.connect"), "{text}");
    });
}

#[test]
fn a_bad_address_says_how_to_write_one() {
    for bad in ["localhost", "udp://h:1", "tcp://h:port"] {
        let err = Client::connect_with(bad, &ClientOptions::new().token("t")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad}");
        assert!(err.to_string().contains("tcp://HOST:PORT"), "{err}");
    }
}

#[test]
fn a_wrong_token_is_refused_and_the_cluster_serves_on() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(1, 1);
        let options = ClientOptions::new().token("not-the-token");
        let err = Client::connect_with(&test.cluster.address(), &options).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Comm);
        assert!(err.to_string().contains("wrong token"), "{err}");
        // A worker with a wrong token cannot join either.
        let worker =
            barrow_distributed::WorkerOptions::new(test.cluster.address().parse().unwrap())
                .token("not-the-token");
        let err = barrow_distributed::run_worker(Some(worker)).unwrap_err();
        assert!(err.to_string().contains("wrong token"), "{err}");
        let f = test.client.submit::<i64>(&inc(), [lit(1i64)]).unwrap();
        assert_eq!(f.result().unwrap(), 2);
        assert_eq!(test.client.scheduler_info().unwrap().workers.len(), 1);
    });
}

#[test]
fn bytes_that_are_not_messages_close_the_connection_and_nothing_else() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(1, 1);
        let address = test.cluster.address();
        let socket = address.trim_start_matches("tcp://").to_owned();
        for garbage in [
            &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            &[0xffu8; 64][..],
            &b"BRWM\x02\x00\x0a\x00"[..],
        ] {
            let mut stream = std::net::TcpStream::connect(&socket).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            stream.write_all(garbage).unwrap();
            // A short message ends with the peer's close. The scheduler may
            // have refused the bytes and closed first, which is the point:
            // a reset socket refuses the shutdown, and that is fine.
            let _ = stream.shutdown(std::net::Shutdown::Write);
            // The scheduler speaks first (its challenge), then closes.
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
        }
        let f = test.client.submit::<i64>(&inc(), [lit(41i64)]).unwrap();
        assert_eq!(f.result().unwrap(), 42);
        // A worker's data port too.
        let info = test.client.scheduler_info().unwrap();
        let worker = info.workers[0]
            .summary
            .address
            .trim_start_matches("tcp://")
            .to_owned();
        let mut stream = std::net::TcpStream::connect(worker).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(&[7u8; 100]).unwrap();
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        assert_eq!(f.result().unwrap(), 42, "the worker still serves its value");
    });
}

#[test]
fn a_worker_that_leaves_mid_run_has_its_work_done_elsewhere() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(2, 1);
        // On local-0, elsewhere if it must.
        let on_local0 = Annotations::new()
            .workers(["local-0"])
            .allow_other_workers(true);
        // A computed value only local-0 holds, and a scattered one.
        let computed = test
            .client
            .submit_with::<i64>(&inc(), [lit(1i64)], on_local0.clone())
            .unwrap();
        assert_eq!(computed.result().unwrap(), 2);
        let held = test.client.scatter_to([5i64], false, &["local-0"]).unwrap();
        let running = test
            .client
            .submit_with::<u64>(&sleep_ms::func(), [lit(1000u64)], on_local0)
            .unwrap();
        wait_until(
            Duration::from_secs(5),
            || {
                let processing = test
                    .cluster
                    .scheduler()
                    .inspect(|s| s.info().workers.iter().map(|w| w.processing).sum::<u64>())
                    .unwrap();
                (processing > 0).then_some(())
            },
            || "no task started".to_owned(),
        );
        test.cluster.kill_worker(0).unwrap();
        // What it ran runs on local-1; what it computed is computed again.
        assert_eq!(running.result().unwrap(), 1000);
        assert_eq!(computed.result().unwrap(), 2);
        // A scattered value has no task to compute it again: it fails,
        // naming the worker that held it.
        let err = held[0].result().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Worker);
        let text = err.to_string();
        assert!(
            text.contains("local-0") && text.contains("scatter it again"),
            "{text}"
        );
        let workers = test.client.scheduler_info().unwrap().workers;
        assert_eq!(workers.len(), 1);
        assert_eq!(workers[0].summary.name, "local-1");
    });
}

#[test]
fn a_graph_with_a_closure_is_refused_before_it_is_sent() {
    within(Duration::from_secs(20), || {
        let test = TestCluster::new(1, 1);
        let closure = barrow_core::Func::new("my-closure", |x: &i64| x + 1);
        let err = test
            .client
            .submit::<i64>(&closure, [lit(1i64)])
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotShippable);
        assert!(err.to_string().contains("my-closure"), "{err}");
        assert_eq!(test.cluster.scheduler().task_count(), 0);
    });
}
