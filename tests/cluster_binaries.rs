//! The cluster as an operator runs it: `barrow scheduler` and two
//! `barrow worker` processes on loopback, a program of the user's started
//! as a worker for its own functions, and this test process as the
//! client. The commands are the README's two-terminal example.
// Without the `cli` feature there is no `barrow` binary to run.
#![cfg(all(feature = "cli", feature = "distributed"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use barrow::array::random::Generator;
use barrow::bag::read_text;
use barrow::distributed::{Client, ClientOptions};
use barrow::{ErrorKind, Func, Options, compute_with};
use ndarray::ArrayD;

barrow::processes::worker_entry!();

/// Doubles a block: only this test binary has it.
#[barrow::task(name = "tests.cluster.double-block")]
fn double_block(block: &ArrayD<f64>) -> ArrayD<f64> {
    block * 2.0
}

/// A child process, killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `program args` with only `home` as its home and `vars`.
fn start(program: &Path, args: &[&str], home: &Path, vars: &[(&str, &str)]) -> Running {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("xdg"))
        .env("BARROW_ROOT_CONFIG", home.join("etc"))
        .env("BARROW_LOGGING__LEVEL", "warn")
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    Running(command.spawn().unwrap())
}

/// The scheduler's address, from the first line it prints.
fn address_of(scheduler: &mut Running) -> String {
    let stdout = scheduler.0.stdout.take().unwrap();
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = send.send(line);
        }
        // Keep reading so the scheduler never blocks on a full pipe.
        for _ in lines {}
    });
    let line = receive
        .recv_timeout(Duration::from_secs(20))
        .expect("the scheduler prints its address");
    line.strip_prefix("barrow scheduler at ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned()
}

fn wait_for_workers(client: &Client, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.scheduler_info().unwrap().workers.len() < n {
        assert!(Instant::now() < deadline, "{n} workers did not join");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_scheduler_two_generic_workers_and_a_user_program_compute_together() {
    let home = tempfile::tempdir().unwrap();
    let barrow = PathBuf::from(env!("CARGO_BIN_EXE_barrow"));
    // Terminal 1: `barrow scheduler` (it writes a token to the token file).
    let mut scheduler = start(&barrow, &["scheduler", "--port", "0"], home.path(), &[]);
    let address = address_of(&mut scheduler);
    let token_file = home.path().join("xdg/barrow/cluster-token");
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(token.len(), 64);
    // Terminal 2: `barrow worker ADDRESS` (it finds the token file in the
    // same home), twice.
    let _workers: Vec<Running> = (0..2)
        .map(|i| {
            let name = format!("generic-{i}");
            start(
                &barrow,
                &["worker", &address, "--nthreads", "1", "--name", &name],
                home.path(),
                &[],
            )
        })
        .collect();
    // The user's own program as a worker, for its #[barrow::task]s.
    let test_binary = std::env::current_exe().unwrap();
    let _user = start(
        &test_binary,
        &[
            "barrow_worker_entry",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ],
        home.path(),
        &[
            ("BARROW_WORKER__SCHEDULER", &address),
            ("BARROW_WORKER__NAME", "user-program"),
            ("BARROW_WORKER__NTHREADS", "1"),
            ("BARROW_DISTRIBUTED__SECURITY__TOKEN", &token),
        ],
    );
    let client = Client::connect_with(&address, &ClientOptions::new().token(&token)).unwrap();
    wait_for_workers(&client, 3);
    let on_cluster = Options::new().scheduler(&client);
    let local = Options::new().scheduler("threads");

    // Built-in operations run on the generic workers as on threads.
    let x = Generator::new(3).random(&[60, 40], [20, 15]).unwrap();
    let y = &x + &x.t().slice(ndarray::s![..40, ..]).unwrap().t();
    for stat in [y.sum(), y.mean(), x.dot(&x.t()).unwrap().sum()] {
        let a = compute_with(&stat, &on_cluster).unwrap();
        let b = compute_with(&stat, &local).unwrap();
        assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} != {b}");
    }
    // Persisted, y's blocks stay on the workers, generic ones among them.
    let kept = client.persist(&y).unwrap();
    assert_eq!(
        compute_with(&kept, &on_cluster).unwrap(),
        compute_with(&y, &local).unwrap()
    );
    let generic_holds = client
        .has_what()
        .unwrap()
        .into_iter()
        .filter(|(address, keys)| {
            !keys.is_empty() && {
                let info = client.scheduler_info().unwrap();
                info.workers
                    .iter()
                    .any(|w| &w.summary.address == address && w.summary.name.starts_with("generic"))
            }
        })
        .count();
    assert!(generic_holds > 0, "the generic workers ran array tasks too");
    drop(kept);

    let text = home.path().join("words");
    std::fs::create_dir_all(&text).unwrap();
    for (i, line) in ["a rose is a rose", "is a rose\nrose"].iter().enumerate() {
        let mut file = std::fs::File::create(text.join(format!("{i}.txt"))).unwrap();
        writeln!(file, "{line}").unwrap();
    }
    let top = read_text(text.join("*.txt").as_path())
        .into_bag()
        .unwrap()
        .split_whitespace()
        .frequencies()
        .most_common(2);
    assert_eq!(
        compute_with(&top, &on_cluster).unwrap(),
        [("rose".into(), 4), ("a".into(), 3)]
    );

    // Dataframes too: a CSV group-by and a sort, each partition a task the
    // generic workers run (they link barrow-dataframe's functions).
    #[cfg(feature = "dataframe")]
    {
        use barrow::dataframe::{Agg, DataFrame};
        let tables = home.path().join("tables");
        std::fs::create_dir_all(&tables).unwrap();
        for part in 0..4 {
            let mut text = String::from("k,v\n");
            for i in 0..50 {
                text.push_str(&format!("{},{}.5\n", (part * 50 + i) % 7, i));
            }
            std::fs::write(tables.join(format!("{part}.csv")), text).unwrap();
        }
        let df = DataFrame::read_csv(tables.join("*.csv").to_str().unwrap()).unwrap();
        let grouped = df
            .groupby(["k"])
            .unwrap()
            .agg([("v", Agg::Sum), ("v", Agg::Count)])
            .unwrap();
        assert_eq!(
            compute_with(&grouped, &on_cluster).unwrap(),
            compute_with(&grouped, &local).unwrap()
        );
        let sorted = df.set_index("v").unwrap();
        let kept = client.persist(&sorted).unwrap();
        assert_eq!(
            compute_with(&kept, &on_cluster).unwrap(),
            compute_with(&sorted, &local).unwrap()
        );
        let info = client.scheduler_info().unwrap();
        let generic_holds = client
            .has_what()
            .unwrap()
            .into_iter()
            .any(|(address, keys)| {
                !keys.is_empty()
                    && info.workers.iter().any(|w| {
                        w.summary.address == address && w.summary.name.starts_with("generic")
                    })
            });
        assert!(generic_holds, "the generic workers ran dataframe tasks too");
    }

    // The user's function runs only where it is registered.
    let doubled = barrow::array::Array::<f64>::arange(0.0, 8.0, 1.0, 3)
        .unwrap()
        .map_blocks_func::<f64>(&double_block::func());
    let persisted = client.persist(&doubled).unwrap();
    let values = compute_with(&persisted, &on_cluster).unwrap();
    assert_eq!(
        values.into_raw_vec_and_offset().0,
        (0..8).map(|i| 2.0 * f64::from(i)).collect::<Vec<_>>()
    );
    let user_address: Vec<String> = client
        .scheduler_info()
        .unwrap()
        .workers
        .into_iter()
        .filter(|w| w.summary.name == "user-program")
        .map(|w| w.summary.address)
        .collect();
    let block = client
        .scatter([ArrayD::<f64>::from_elem(ndarray::IxDyn(&[3]), 1.5)], false)
        .unwrap();
    let doubled = client
        .submit::<ArrayD<f64>>(&double_block::func(), [(&block[0]).into()])
        .unwrap();
    assert_eq!(
        doubled.result().unwrap().as_slice(),
        Some(&[3.0, 3.0, 3.0][..])
    );
    let holders = client.who_has(&[doubled]).unwrap();
    assert_eq!(holders[0].1, user_address, "it ran on the user's program");

    // A function no worker has fails at once, naming it and the workers
    // (registered at run time here, so the client may send it).
    let stray = Func::new("tests.cluster.nowhere", |x: &i64| x + 1);
    barrow::Registry::global()
        .functions()
        .register(stray.clone())
        .unwrap();
    let future = client
        .submit::<i64>(&stray, [barrow::arg::lit(1i64)])
        .unwrap();
    let err = future.result().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownFunction);
    assert_eq!(err.key(), Some(future.key()), "the error names the task");
    assert_eq!(err.function(), Some("tests.cluster.nowhere"));
    let text = err.to_string();
    assert!(text.contains("tests.cluster.nowhere"), "{text}");
    assert!(text.contains(&future.key().to_string()), "{text}");
    assert!(
        text.contains("generic-0") && text.contains("user-program"),
        "{text}"
    );
}

#[test]
fn a_tls_scheduler_prints_a_tls_address_and_workers_join_with_their_flags() {
    use barrow::distributed::{TemporaryCertificates, TlsRole};
    let home = tempfile::tempdir().unwrap();
    let certs = TemporaryCertificates::generate().unwrap();
    let barrow = PathBuf::from(env!("CARGO_BIN_EXE_barrow"));
    let path = |p: PathBuf| p.to_str().unwrap().to_owned();
    let (ca, scheduler_cert, scheduler_key) = (
        path(certs.ca_file()),
        path(certs.cert(TlsRole::Scheduler)),
        path(certs.key(TlsRole::Scheduler)),
    );
    let mut scheduler = start(
        &barrow,
        &[
            "scheduler",
            "--port",
            "0",
            "--tls-ca-file",
            &ca,
            "--tls-cert",
            &scheduler_cert,
            "--tls-key",
            &scheduler_key,
        ],
        home.path(),
        &[],
    );
    let address = address_of(&mut scheduler);
    assert!(address.starts_with("tls://127.0.0.1:"), "{address}");
    let (worker_cert, worker_key) = (
        path(certs.cert(TlsRole::Worker)),
        path(certs.key(TlsRole::Worker)),
    );
    let _worker = start(
        &barrow,
        &[
            "worker",
            &address,
            "--nthreads",
            "1",
            "--tls-ca-file",
            &ca,
            "--tls-cert",
            &worker_cert,
            "--tls-key",
            &worker_key,
        ],
        home.path(),
        &[],
    );
    let token = std::fs::read_to_string(home.path().join("xdg/barrow/cluster-token")).unwrap();
    let options = ClientOptions::new()
        .token(token.trim())
        .tls_ca_file(certs.ca_file())
        .tls_cert(certs.cert(TlsRole::Client), certs.key(TlsRole::Client));
    let client = Client::connect_with(&address, &options).unwrap();
    wait_for_workers(&client, 1);
    assert!(
        client.scheduler_info().unwrap().workers[0]
            .summary
            .address
            .starts_with("tls://")
    );
    let x = Generator::new(5).random(&[8, 6], [4, 3]).unwrap();
    let on_cluster = compute_with(&x.sum(), &Options::new().scheduler(&client)).unwrap();
    let local = compute_with(&x.sum(), &Options::new().scheduler("threads")).unwrap();
    assert!((on_cluster - local).abs() <= 1e-9 * local.abs().max(1.0));
}
