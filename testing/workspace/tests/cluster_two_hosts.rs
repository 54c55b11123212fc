//! Two hosts on one machine: the scheduler, a client and one worker in
//! this network namespace, another worker in a network namespace the test
//! makes (`ip netns`, joined by a veth pair, with 1 ms of delay by `tc
//! netem` when the kernel has it). An array persisted over both is summed
//! with values crossing between the hosts. Needs root and `ip`; skips
//! with one line otherwise (fails under `CI=true`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use barrow::array::Array;
use barrow::distributed::{Client, ClientOptions, SchedulerServer, WorkerOptions};
use barrow::{Options, compute_with};

barrow::processes::worker_entry!();

/// A namespace joined to this one by a veth pair; removed when dropped.
struct Netns {
    name: String,
    veth: String,
    here: String,
    there: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Netns {
    fn create() -> Result<Netns, String> {
        let id = std::process::id();
        let subnet = 20 + id % 200;
        let ns = Netns {
            name: format!("barrow-{id}"),
            veth: format!("bw{}", id % 1_000_000),
            here: format!("10.77.{subnet}.1"),
            there: format!("10.77.{subnet}.2"),
        };
        let peer = format!("{}p", ns.veth);
        ip(&["netns", "add", &ns.name])?;
        ip(&[
            "link", "add", &ns.veth, "type", "veth", "peer", "name", &peer,
        ])?;
        ip(&["link", "set", &peer, "netns", &ns.name])?;
        ip(&["addr", "add", &format!("{}/24", ns.here), "dev", &ns.veth])?;
        ip(&["link", "set", &ns.veth, "up"])?;
        let inside = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &ns.name, "ip"];
            all.extend_from_slice(args);
            ip(&all)
        };
        inside(&["addr", "add", &format!("{}/24", ns.there), "dev", &peer])?;
        inside(&["link", "set", &peer, "up"])?;
        inside(&["link", "set", "lo", "up"])?;
        let delayed = Command::new("tc")
            .args([
                "qdisc", "add", "dev", &ns.veth, "root", "netem", "delay", "1ms",
            ])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        println!(
            "namespace {} at {} (netem delay: {delayed})",
            ns.name, ns.there
        );
        Ok(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.veth]);
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// A worker process in the namespace, killed when dropped.
struct Remote(Child);

impl Drop for Remote {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether this machine can make namespaces; if not, says so in one line
/// (and fails under `CI=true`).
fn can_make_namespaces() -> bool {
    if !barrow_test_support::require_program("ip", "iproute2") {
        return false;
    }
    // The effective uid, from /proc (no libc call needed).
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    });
    if root {
        return true;
    }
    let reason = "it makes network namespaces, which needs root";
    if barrow_test_support::is_ci(std::env::var_os("CI").as_deref()) {
        panic!("cannot run: {reason}, and CI=true");
    }
    eprintln!("skipped the two-host test: {reason}");
    false
}

#[test]
fn an_array_spread_over_two_hosts_is_summed_across_them() {
    if !can_make_namespaces() {
        return;
    }
    let ns = Netns::create().expect("a network namespace and a veth pair");
    let token = barrow::distributed::generate_token().unwrap();
    let config = barrow::config::snapshot().unwrap();
    let scheduler = SchedulerServer::start(&ns.here, 0, &token, &config).unwrap();
    let address = scheduler.address().to_string();
    // Host 1: a worker in this namespace.
    let local = {
        let options = WorkerOptions::new(scheduler.address().clone())
            .name("host-1")
            .host(&ns.here)
            .nthreads(1)
            .token(&token);
        std::thread::spawn(move || barrow::distributed::run_worker(Some(options)))
    };
    // Host 2: this test binary as a worker process in the namespace.
    let (program, args, _) = barrow::processes::__private::worker_command().unwrap();
    let remote = Remote(
        Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .arg(&program)
            .args(&args)
            .env("BARROW_WORKER__SCHEDULER", &address)
            .env("BARROW_WORKER__NAME", "host-2")
            .env("BARROW_WORKER__NTHREADS", "1")
            .env("BARROW_DISTRIBUTED__SECURITY__TOKEN", &token)
            .stdout(Stdio::null())
            .spawn()
            .expect("a worker in the namespace"),
    );
    let client = Client::connect_with(&address, &ClientOptions::new().token(&token)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.scheduler_info().unwrap().workers.len() < 2 {
        assert!(Instant::now() < deadline, "both workers join");
        std::thread::sleep(Duration::from_millis(10));
    }
    let array = Array::<f64>::ones(&[400, 400], 20).unwrap();
    let persisted = client.persist(&array).unwrap();
    // Persisting returns at once: wait for all 400 chunks.
    let deadline = Instant::now() + Duration::from_secs(20);
    let held = loop {
        let held = client.has_what().unwrap();
        if held.iter().map(|(_, keys)| keys.len()).sum::<usize>() >= 400 {
            break held;
        }
        assert!(
            Instant::now() < deadline,
            "the chunks are computed: {held:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let there = held
        .iter()
        .find(|(worker, _)| worker.contains(&ns.there))
        .map(|(_, keys)| keys.len());
    let here = held
        .iter()
        .find(|(worker, _)| worker.contains(&ns.here))
        .map(|(_, keys)| keys.len());
    assert!(
        there.is_some_and(|n| n > 0) && here.is_some_and(|n| n > 0),
        "chunks on both hosts: {held:?}"
    );
    let sum = compute_with(&persisted.sum(), &Options::new().scheduler(&client)).unwrap();
    assert_eq!(sum, 160_000.0);
    client.retire_workers(&["host-1", "host-2"]).unwrap_err(); // they hold the chunks
    drop(persisted);
    let deadline = Instant::now() + Duration::from_secs(10);
    while client
        .has_what()
        .unwrap()
        .iter()
        .any(|(_, keys)| !keys.is_empty())
    {
        assert!(Instant::now() < deadline, "the chunks are released");
        std::thread::sleep(Duration::from_millis(10));
    }
    client.retire_workers(&["host-1", "host-2"]).unwrap();
    let _ = local.join();
    drop(remote);
    scheduler.validate().unwrap();
}
