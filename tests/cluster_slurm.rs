//! `SlurmCluster` against a real single-node Slurm (Debian's slurm-wlm
//! and munge, started by `.ci/slurm-up`): workers are jobs Slurm starts,
//! a graph computes on them, `scale` submits and cancels jobs, and after
//! `scale(0)` or the drop none of the cluster's jobs is left in `squeue`.
#![cfg(all(feature = "cli", feature = "deploy"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::process::Command;
use std::time::{Duration, Instant};

use barrow::array::random::Generator;
use barrow::deploy::SlurmCluster;
use barrow::{Options, compute_with};
use barrow_test_support::wait_until;

/// Whether Slurm takes jobs here; if not, one line says why and the test
/// returns (under CI it fails: `.ci/slurm-up` starts Slurm).
fn slurm_is_up() -> bool {
    if !barrow_test_support::require_program("sbatch", "slurm-client") {
        return false;
    }
    let state = Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    if state.starts_with("idle") || state.starts_with("mixed") || state.starts_with("alloc") {
        return true;
    }
    let reason = format!(
        "Slurm is installed but its node is not taking jobs (sinfo says {state:?}): run \
         .ci/slurm-up to start munged, slurmctld and slurmd"
    );
    assert!(
        !barrow_test_support::is_ci(std::env::var_os("CI").as_deref()),
        "{reason}"
    );
    eprintln!("skipped: {reason}");
    false
}

/// The ids of the jobs in `squeue` among `ids`.
fn queued(ids: &[String]) -> Vec<String> {
    let output = Command::new("squeue")
        .args(["-h", "-o", "%i"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|id| ids.contains(id))
        .collect()
}

fn wait_until_gone(ids: &[String]) {
    wait_until(
        20,
        || queued(ids).is_empty().then_some(()),
        || format!("jobs {:?} still in squeue", queued(ids)),
    );
}

fn builder(
    directory: &std::path::Path,
) -> barrow::deploy::JobClusterBuilder<barrow::deploy::Slurm> {
    SlurmCluster::builder()
        .cores(1)
        .memory(512 << 20)
        .walltime(Duration::from_secs(600))
        .queue("debug")
        .scheduler_host("127.0.0.1")
        .directory(directory)
        .barrow_command(env!("CARGO_BIN_EXE_barrow"))
}

#[test]
fn a_graph_computes_on_workers_slurm_started_and_scale_zero_leaves_no_job() {
    if !slurm_is_up() {
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let cluster = builder(directory.path()).start().unwrap();
    let script = cluster.job_script().unwrap();
    eprintln!("the job script:\n{script}");
    for line in [
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --mem=512M",
        "#SBATCH --time=00:10:00",
        "#SBATCH --partition=debug",
        "export BARROW_DISTRIBUTED__SECURITY__TOKEN_FILE=",
    ] {
        assert!(script.contains(line), "{line} in\n{script}");
    }
    assert!(!script.contains(&cluster.address().replace("tcp://", "x")));

    let started = Instant::now();
    cluster.scale(2).unwrap();
    cluster
        .wait_for_workers(2, Duration::from_secs(60))
        .unwrap();
    eprintln!(
        "scale(2) on Slurm: 2 workers joined in {:?}",
        started.elapsed()
    );
    let ids: Vec<String> = cluster.jobs().into_iter().map(|(_, id)| id).collect();
    assert_eq!(ids.len(), 2);
    assert_eq!(queued(&ids).len(), 2, "both jobs run");

    let client = cluster.client();
    let x = Generator::new(9).random(&[60, 40], [20, 20]).unwrap();
    let on_slurm = compute_with(x.sum(), &Options::new().scheduler(&client)).unwrap();
    let local = compute_with(x.sum(), &Options::new().scheduler("threads")).unwrap();
    assert!((on_slurm - local).abs() < 1e-9, "{on_slurm} vs {local}");
    let workers = client.scheduler_info().unwrap().workers;
    assert!(workers.iter().all(|w| w.summary.name.starts_with("slurm-")));

    cluster.scale(1).unwrap();
    assert_eq!(cluster.jobs().len(), 1);
    cluster.scale(0).unwrap();
    assert!(cluster.jobs().is_empty());
    wait_until_gone(&ids);
    // The workers' output is in the job folder.
    let outputs = std::fs::read_dir(cluster.directory()).unwrap().count();
    assert!(
        outputs >= 2,
        "job output files in {}",
        cluster.directory().display()
    );
}

#[test]
fn dropping_the_cluster_cancels_its_jobs() {
    if !slurm_is_up() {
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let cluster = builder(directory.path()).start().unwrap();
    cluster.scale(2).unwrap();
    let ids: Vec<String> = cluster.jobs().into_iter().map(|(_, id)| id).collect();
    assert_eq!(queued(&ids).len(), 2);
    let token = cluster.directory().join("token");
    assert!(token.exists());
    drop(cluster);
    wait_until_gone(&ids);
    assert!(!token.exists(), "the token file goes with the cluster");
}

#[test]
fn a_refused_submission_says_what_sbatch_said() {
    if !slurm_is_up() {
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let cluster = builder(directory.path())
        .queue("no-such-partition")
        .start()
        .unwrap();
    let error = cluster.scale(1).unwrap_err().to_string();
    assert!(error.contains("sbatch"), "{error}");
    assert!(
        error.contains("no-such-partition") || error.contains("partition"),
        "{error}"
    );
    assert!(cluster.jobs().is_empty());
}

#[test]
fn adapt_submits_jobs_for_work_and_cancels_them_when_idle() {
    if !slurm_is_up() {
        return;
    }
    let directory = tempfile::tempdir().unwrap();
    let cluster = builder(directory.path()).start().unwrap();
    cluster
        .adapt_with(barrow::distributed::AdaptOptions {
            minimum: 0,
            maximum: 2,
            interval: Duration::from_millis(100),
            target_duration: Duration::from_millis(500),
            // Half a second idle before closing: the jobs are still there
            // when the test looks right after the result.
            wait_count: 5,
        })
        .unwrap();
    assert!(cluster.jobs().is_empty(), "no work, no job");
    // Work arrives with no worker at all: the scheduler asks for some.
    let client = cluster.client();
    let x = Generator::new(4).random(&[80, 80], [20, 20]).unwrap();
    let started = Instant::now();
    let total = compute_with(x.sum(), &Options::new().scheduler(&client)).unwrap();
    let ids: Vec<String> = cluster.jobs().into_iter().map(|(_, id)| id).collect();
    eprintln!(
        "adapt(0, 2): the first result {:?} after submitting",
        started.elapsed()
    );
    let local = compute_with(x.sum(), &Options::new().scheduler("threads")).unwrap();
    assert!((total - local).abs() < 1e-9);
    assert!(!ids.is_empty() && ids.len() <= 2, "{ids:?}");
    // Idle: every job goes.
    wait_until(
        20,
        || cluster.jobs().is_empty().then_some(()),
        || format!("jobs {:?} stay", cluster.jobs()),
    );
    wait_until_gone(&ids);
}
