//! Code and files on a running cluster: plugins and files uploaded to
//! generic `barrow worker` processes (which start without them), loaded
//! there, run by the scheduler only where they are, kept by content, and
//! sent to workers that join later; a plugin's codec carries its values
//! between workers; a plugin that cannot load is reported per worker.
#![cfg(all(feature = "cli", feature = "distributed", feature = "plugins"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

#[path = "../plugins/host/tests/host/support.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use barrow::arg::{key, lit};
use barrow::collection::GraphKeys;
use barrow::distributed::{Client, ClientOptions, SchedulerServer};
use barrow::plugins::ForeignObject;
use barrow::{Graph, Options, Registry, Task, compute_with};
use barrow_test_support::wait_until;
use support::library;

/// A worker process, killed when dropped.
struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A scheduler in this process and `barrow worker` processes of it.
struct Cluster {
    scheduler: SchedulerServer,
    token: String,
    home: tempfile::TempDir,
    env: Vec<(String, String)>,
    workers: Vec<Worker>,
}

impl Cluster {
    fn new(workers: usize) -> Cluster {
        Cluster::with_env(workers, &[])
    }

    /// Workers with `env` in their environment (their configuration).
    fn with_env(workers: usize, env: &[(&str, &str)]) -> Cluster {
        let token = barrow::distributed::generate_token().unwrap();
        let config = Options::new().resolve_config().unwrap();
        let scheduler = SchedulerServer::start("127.0.0.1", 0, &token, &config).unwrap();
        let mut cluster = Cluster {
            scheduler,
            token,
            home: tempfile::tempdir().unwrap(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            workers: Vec::new(),
        };
        for i in 0..workers {
            cluster.add_worker(&format!("w{i}"));
        }
        cluster.wait_for(workers);
        cluster
    }

    fn add_worker(&mut self, name: &str) {
        let child = Command::new(env!("CARGO_BIN_EXE_barrow"))
            .args(["worker", &self.scheduler.address().to_string()])
            .args(["--nthreads", "1", "--name", name])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("BARROW_DISTRIBUTED__SECURITY__TOKEN", &self.token)
            .env("BARROW_LOGGING__LEVEL", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        self.workers.push(Worker(child));
    }

    fn wait_for(&self, n: usize) {
        wait_until(
            30,
            || (self.scheduler.worker_count() >= n).then_some(()),
            || format!("{n} workers did not join"),
        );
    }

    fn client(&self) -> Client {
        Client::connect_with(
            &self.scheduler.address().to_string(),
            &ClientOptions::new().token(&self.token),
        )
        .unwrap()
    }
}

/// The plugin loaded here too: the client builds graphs with its functions
/// (workers must have the same code as the client, as the seed says).
fn load_here(package: &str) -> PathBuf {
    let path = library(package);
    let config = Options::new().resolve_config().unwrap();
    barrow::plugins::load_into(&path, Registry::global(), &config).unwrap();
    path
}

/// The ids of the workers joined now, sorted (a worker that restarts
/// joins with a new one).
fn ids(client: &Client) -> Vec<u32> {
    let mut ids: Vec<u32> = client
        .scheduler_info()
        .unwrap()
        .workers
        .iter()
        .map(|w| w.summary.id)
        .collect();
    ids.sort_unstable();
    ids
}

fn func(name: &str) -> barrow::Func {
    Registry::global().functions().get(name).unwrap()
}

#[test]
fn an_uploaded_plugin_runs_on_every_worker_and_on_workers_that_join_later() {
    let mut cluster = Cluster::new(4);
    let client = cluster.client();
    let path = load_here("barrow-example-functions");
    let scale = barrow::plugins::function_with_params("stats.scale", &2.5).unwrap();
    let graph = Graph::from_tasks([("x", Task::call(&scale, [lit(vec![1.0f64, 2.0])]))]).unwrap();
    // Before the upload no worker has the function: the task fails at once
    // naming it.
    let error = compute_with(
        GraphKeys::new(graph.clone(), ["x"]),
        &Options::new().scheduler(&client),
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("stats.scale"), "{error}");

    // The client has a plugin its workers lack: scheduler_info names each.
    // (Other tests of this binary load plugins too: only stats is looked at.)
    let about_stats = |client: &Client| -> Vec<String> {
        let info = client.scheduler_info().unwrap();
        info.plugin_differences
            .into_iter()
            .filter(|d| d.contains("stats"))
            .collect()
    };
    let before = about_stats(&client);
    assert_eq!(before.len(), 4, "{before:?}");
    assert!(
        before[0].contains("no stats (this client has stats "),
        "{before:?}"
    );

    let started = Instant::now();
    let outcomes = client.upload_plugin(&path).unwrap();
    eprintln!(
        "upload of a {} KiB plugin to 4 workers: {:?}",
        std::fs::metadata(&path).unwrap().len() / 1024,
        started.elapsed()
    );
    assert_eq!(outcomes.len(), 4);
    for outcome in &outcomes {
        let said = outcome.result.as_ref().unwrap();
        assert!(said.starts_with("loaded stats"), "{said}");
    }
    let out = compute_with(
        GraphKeys::new(graph.clone(), ["x"]),
        &Options::new().scheduler(&client),
    )
    .unwrap();
    assert_eq!(out[0].downcast_ref::<Vec<f64>>().unwrap(), &vec![2.5, 5.0]);
    assert_eq!(about_stats(&client), Vec::<String>::new());
    // Its hook (stats.audit) heard, on each worker, that the worker runs.
    let log = client
        .submit_with::<String>(
            &func("stats.audit-log"),
            [lit(0i64)],
            barrow::Annotations::new().workers(["w2"]),
        )
        .and_then(|f| f.result())
        .unwrap();
    assert!(log.contains("worker-started w2"), "{log}");

    // The same bytes again: nothing is loaded twice.
    for outcome in client.upload_plugin(&path).unwrap() {
        let said = outcome.result.unwrap();
        assert!(said.ends_with("(loaded before)"), "{said}");
    }

    // A worker that joins now gets it before its first task.
    cluster.add_worker("late");
    cluster.wait_for(5);
    let on_late = barrow::Annotations::new().workers(["late"]);
    let out = wait_until(
        20,
        || {
            let run = client
                .submit_with::<Vec<f64>>(&scale, [lit(vec![4.0f64])], on_late.clone())
                .and_then(|f| f.result());
            match run {
                Ok(out) => Some(out),
                // Joined, but its load may not have been reported yet.
                Err(error) => {
                    assert!(error.to_string().contains("stats.scale"), "{error}");
                    None
                }
            }
        },
        || "the late worker never ran the plugin".to_owned(),
    );
    assert_eq!(out, vec![10.0]);
}

#[test]
fn a_plugin_codec_carries_its_values_between_workers() {
    let cluster = Cluster::new(2);
    let client = cluster.client();
    let path = load_here("barrow-example-codec");
    client.upload_plugin(&path).unwrap();
    let (histogram, merge, total) = (
        func("hist.histogram"),
        func("hist.merge"),
        func("hist.total"),
    );
    // Histograms made on both workers, merged on one: at least one crosses.
    let mut tasks = Vec::new();
    for part in 0..4 {
        let values: Vec<f64> = (0..50).map(|i| f64::from(part * 50 + i) / 200.0).collect();
        tasks.push((format!("h{part}"), Task::call(&histogram, [lit(values)])));
    }
    tasks.push(("a".into(), Task::call(&merge, [key("h0"), key("h1")])));
    tasks.push(("b".into(), Task::call(&merge, [key("h2"), key("h3")])));
    tasks.push(("all".into(), Task::call(&merge, [key("a"), key("b")])));
    tasks.push(("n".into(), Task::call(&total, [key("all")])));
    let graph = Graph::from_tasks(tasks).unwrap();
    let out = compute_with(
        GraphKeys::new(graph, ["n", "all"]),
        &Options::new().scheduler(&client),
    )
    .unwrap();
    assert_eq!(*out[0].downcast_ref::<u64>().unwrap(), 200);
    assert_eq!(
        out[1].downcast_ref::<ForeignObject>().unwrap().tag(),
        "hist.histogram"
    );
}

#[test]
fn a_plugin_that_cannot_load_is_reported_for_each_worker() {
    let cluster = Cluster::new(2);
    let client = cluster.client();
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libnot_a_plugin.so");
    std::fs::write(&fake, b"\x7fELF but not really").unwrap();
    let error = client.upload_plugin(&fake).unwrap_err().to_string();
    eprintln!("{error}");
    assert!(error.contains("libnot_a_plugin.so"), "{error}");
    assert!(error.contains("on 2 of 2 workers"), "{error}");
    assert!(error.contains("w0: ") && error.contains("w1: "), "{error}");
    // The cluster serves on.
    assert_eq!(client.scheduler_info().unwrap().workers.len(), 2);
}

#[test]
fn an_uploaded_file_is_kept_on_each_worker_by_its_content() {
    let cluster = Cluster::new(2);
    let client = cluster.client();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lookup.csv");
    std::fs::write(&file, "a,1\nb,2\n").unwrap();
    let outcomes = client.upload_file(&file).unwrap();
    assert_eq!(outcomes.len(), 2);
    let kept: Vec<PathBuf> = outcomes
        .into_iter()
        .map(|o| PathBuf::from(o.result.unwrap().strip_prefix("kept at ").unwrap()))
        .collect();
    // Named by its content, so the two workers of this host share one copy
    // in a folder named by the bytes' hash.
    assert_eq!(kept[0], kept[1]);
    assert_eq!(kept[0].file_name().unwrap(), "lookup.csv");
    assert_eq!(std::fs::read_to_string(&kept[0]).unwrap(), "a,1\nb,2\n");
    let folder = kept[0]
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(folder.len(), 64);
    assert!(folder.bytes().all(|b| b.is_ascii_hexdigit()), "{folder}");
    // Other bytes under the same name: another folder.
    std::fs::write(&file, "a,1\nb,3\n").unwrap();
    let again = client.upload_file(&file).unwrap();
    let newer = PathBuf::from(
        again[0]
            .result
            .as_ref()
            .unwrap()
            .strip_prefix("kept at ")
            .unwrap(),
    );
    assert_ne!(newer, kept[0]);
    assert_eq!(std::fs::read_to_string(&newer).unwrap(), "a,1\nb,3\n");
    let missing = client
        .upload_file(dir.path().join("absent.csv"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("absent.csv"), "{missing}");
}

#[test]
fn a_set_up_plugin_runs_once_per_host_and_restarts_its_workers() {
    let state = tempfile::tempdir().unwrap();
    let log = state.path().join("log");
    let commands = format!("[\"echo ran >> {}\"]", log.display());
    let state_dir = state.path().display().to_string();
    let cluster = Cluster::with_env(
        2,
        &[
            ("BARROW_SETUP_EXAMPLE__COMMANDS", &commands),
            ("BARROW_SETUP_EXAMPLE__STATE_DIR", &state_dir),
            ("BARROW_SETUP_EXAMPLE__RESTART", "true"),
        ],
    );
    let client = cluster.client();
    let before = ids(&client);
    let outcomes = client
        .upload_plugin(library("barrow-example-setup"))
        .unwrap();
    assert_eq!(outcomes.len(), 2);
    // Both workers of this host set up; the commands ran once, under the
    // plugin's lock.
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "ran\n");
    // The one that ran them asked for a restart: its nanny started it
    // again, and it came back with the plugin (already set up: no second
    // restart, no second run).
    // A worker that joins again gets a new id.
    let now = wait_until(
        20,
        || {
            let now = ids(&client);
            (now.len() == 2 && now != before).then_some(now)
        },
        || "the restarted worker did not come back".to_owned(),
    );
    assert_eq!(
        now.iter().filter(|id| before.contains(id)).count(),
        1,
        "one worker restarted: {before:?} -> {now:?}"
    );
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "ran\n");
}

#[test]
fn a_failing_set_up_command_reports_its_status_and_output_from_each_worker() {
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().display().to_string();
    let cluster = Cluster::with_env(
        2,
        &[
            (
                "BARROW_SETUP_EXAMPLE__COMMANDS",
                "[\"echo fetching numpy; echo no such package >&2; exit 3\"]",
            ),
            ("BARROW_SETUP_EXAMPLE__STATE_DIR", &state_dir),
        ],
    );
    let client = cluster.client();
    let error = client
        .upload_plugin(library("barrow-example-setup"))
        .unwrap_err()
        .to_string();
    eprintln!("{error}");
    assert!(error.contains("on 2 of 2 workers"), "{error}");
    for worker in ["w0: ", "w1: "] {
        assert!(error.contains(worker), "{worker} in {error}");
    }
    assert!(
        error.contains("exit status 3") || error.contains("exit code 3"),
        "{error}"
    );
    assert!(error.contains("no such package"), "{error}");
}

#[test]
fn a_value_no_worker_can_decode_fails_naming_its_codec() {
    let cluster = Cluster::new(1);
    let client = cluster.client();
    load_here("barrow-example-codec");
    // A histogram made here, where the plugin is loaded; the worker has
    // not been given the plugin.
    let graph = Graph::from_tasks([(
        "h",
        Task::call(&func("hist.histogram"), [lit(vec![0.25f64, 0.5])]),
    )])
    .unwrap();
    let mut made = compute_with(
        GraphKeys::new(graph, ["h"]),
        &Options::new().scheduler("sync"),
    )
    .unwrap();
    let histogram: ForeignObject = made.remove(0).try_take().unwrap();
    let error = client
        .scatter([histogram], false)
        .and_then(|futures| futures[0].result_value())
        .map(|_| ())
        .unwrap_err()
        .to_string();
    eprintln!("{error}");
    assert!(error.contains("hist.histogram"), "{error}");
}

#[test]
fn a_new_version_of_a_plugin_restarts_the_workers_that_loaded_the_old_one() {
    let cluster = Cluster::new(2);
    let client = cluster.client();
    let original = load_here("barrow-example-functions");
    let name = original.file_name().unwrap().to_owned();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let v1 = one.path().join(&name);
    std::fs::copy(&original, &v1).unwrap();
    // Other bytes under the same file name (a loader ignores what follows
    // the library's segments).
    let mut bytes = std::fs::read(&original).unwrap();
    bytes.extend_from_slice(b"\0version 2");
    let v2 = two.path().join(&name);
    std::fs::write(&v2, bytes).unwrap();

    client.upload_plugin(&v1).unwrap();
    let before = ids(&client);
    for outcome in client.upload_plugin(&v2).unwrap() {
        let said = outcome.result.unwrap();
        assert!(
            said.contains("restarting to load the new version"),
            "{said}"
        );
    }
    // Both come back, as new processes with the new bytes.
    wait_until(
        20,
        || {
            let now = ids(&client);
            (now.len() == 2 && now.iter().all(|id| !before.contains(id))).then_some(())
        },
        || format!("both workers restarted: {before:?} -> {:?}", ids(&client)),
    );
    let scale = barrow::plugins::function_with_params("stats.scale", &3.0).unwrap();
    for worker in ["w0", "w1"] {
        // Rejoined, but its load may not have been reported yet.
        let out = wait_until(
            20,
            || {
                client
                    .submit_with::<Vec<f64>>(
                        &scale,
                        [lit(vec![1.0f64])],
                        barrow::Annotations::new().workers([worker]),
                    )
                    .and_then(|f| f.result())
                    .ok()
            },
            || format!("{worker} never ran the new version"),
        );
        assert_eq!(out, vec![3.0]);
    }
}
