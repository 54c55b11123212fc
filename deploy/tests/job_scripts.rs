//! The job scripts a cluster's workers run, from code and from
//! `distributed.jobqueue.*`, for Slurm and PBS: written without a batch
//! system (the live tests, against a real Slurm, are the facade's
//! `cluster_slurm`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use barrow_config::Sandbox;
use barrow_deploy::{
    BatchSystem, JobClusterBuilder, JobSpec, Pbs, PbsCluster, Slurm, SlurmCluster,
};

#[test]
fn the_configuration_fills_what_code_leaves_and_code_wins() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_DISTRIBUTED__JOBQUEUE__SLURM__CORES", "8");
    sandbox.set_env("BARROW_DISTRIBUTED__JOBQUEUE__SLURM__MEMORY", "32GiB");
    sandbox.set_env("BARROW_DISTRIBUTED__JOBQUEUE__SLURM__WALLTIME", "90m");
    sandbox.set_env("BARROW_DISTRIBUTED__JOBQUEUE__SLURM__PARTITION", "long");
    sandbox.set_env("BARROW_DISTRIBUTED__JOBQUEUE__SLURM__ACCOUNT", "physics");
    sandbox.set_env(
        "BARROW_DISTRIBUTED__JOBQUEUE__SLURM__JOB_EXTRA_DIRECTIVES",
        "[--gres=gpu:1]",
    );
    sandbox.set_env(
        "BARROW_DISTRIBUTED__JOBQUEUE__SLURM__PROLOGUE",
        "[module load rust]",
    );
    sandbox.set_env(
        "BARROW_DISTRIBUTED__JOBQUEUE__SLURM__BARROW_COMMAND",
        "/opt/barrow/bin/barrow",
    );
    sandbox.set_env(
        "BARROW_DISTRIBUTED__JOBQUEUE__SLURM__SCHEDULER_HOST",
        "login1",
    );
    let config = sandbox.config().snapshot().unwrap();
    let script = SlurmCluster::builder()
        .config(config.clone())
        .job_script()
        .unwrap();
    for line in [
        "#!/usr/bin/env bash",
        "#SBATCH --job-name=barrow-slurm-0",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=32768M",
        "#SBATCH --time=01:30:00",
        "#SBATCH --partition=long",
        "#SBATCH --account=physics",
        "#SBATCH --gres=gpu:1",
        "module load rust",
        "exec /opt/barrow/bin/barrow worker tcp://login1:PORT --name slurm-0 --nthreads 8 \
         --memory-limit 34359738368",
    ] {
        assert!(script.contains(line), "{line:?} in\n{script}");
    }
    // The prologue runs before the worker; the token is a file, never text.
    assert!(script.find("module load rust") < script.find("exec "));
    assert!(script.contains("export BARROW_DISTRIBUTED__SECURITY__TOKEN_FILE="));
    // Code wins over the configuration.
    let script = SlurmCluster::builder()
        .config(config)
        .cores(2)
        .queue("short")
        .job_script()
        .unwrap();
    assert!(script.contains("#SBATCH --cpus-per-task=2"), "{script}");
    assert!(script.contains("#SBATCH --partition=short"), "{script}");
    assert!(script.contains("--nthreads 2"), "{script}");
}

#[test]
fn a_pbs_job_asks_with_pbs_directives() {
    let config = Sandbox::new().unwrap().config().snapshot().unwrap();
    let script = PbsCluster::builder()
        .config(config)
        .cores(4)
        .memory(6 << 30)
        .walltime(Duration::from_secs(3600 + 61))
        .queue("workq")
        .account("astro")
        .directive("-l place=excl")
        .scheduler_host("head")
        .job_script()
        .unwrap();
    for line in [
        "#PBS -N barrow-pbs-0",
        "#PBS -l select=1:ncpus=4:mem=6144MB",
        "#PBS -l walltime=01:01:01",
        "#PBS -q workq",
        "#PBS -A astro",
        "#PBS -j oe",
        "#PBS -l place=excl",
        "worker tcp://head:PORT --name pbs-0 --nthreads 4 --memory-limit 6442450944",
    ] {
        assert!(script.contains(line), "{line:?} in\n{script}");
    }
    assert!(!script.contains("#SBATCH"));
}

#[test]
fn paths_with_spaces_are_quoted_for_the_shell() {
    let config = Sandbox::new().unwrap().config().snapshot().unwrap();
    let script = SlurmCluster::builder()
        .config(config)
        .barrow_command("/opt/my tools/barrow")
        .directory("/shared/jobs of mine")
        .scheduler_host("h")
        .job_script()
        .unwrap();
    assert!(
        script.contains("exec '/opt/my tools/barrow' worker"),
        "{script}"
    );
    assert!(
        script.contains("TOKEN_FILE='/shared/jobs of mine/token'"),
        "{script}"
    );
}

#[test]
fn a_job_without_cores_is_refused_naming_the_setting() {
    let mut sandbox = Sandbox::new().unwrap();
    sandbox.set_env("BARROW_DISTRIBUTED__JOBQUEUE__SLURM__CORES", "0");
    let error = SlurmCluster::builder()
        .config(sandbox.config().snapshot().unwrap())
        .job_script()
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("distributed.jobqueue.slurm.cores"),
        "{error}"
    );
}

/// Slurm's scripts, with a submit command that is not installed.
#[derive(Debug)]
struct Uninstalled;

impl BatchSystem for Uninstalled {
    fn name(&self) -> &'static str {
        "slurm"
    }
    fn directives(&self, spec: &JobSpec, job_name: &str, output: &Path) -> Vec<String> {
        Slurm.directives(spec, job_name, output)
    }
    fn submit(&self) -> Command {
        Command::new("/nonexistent/sbatch")
    }
    fn job_id(&self, stdout: &str) -> barrow_deploy::Result<String> {
        Slurm.job_id(stdout)
    }
    fn cancel(&self, ids: &[String]) -> Command {
        Slurm.cancel(ids)
    }
    fn install_hint(&self) -> &'static str {
        Slurm.install_hint()
    }
}

#[test]
fn a_missing_submit_command_says_where_to_run_and_submits_nothing() {
    let config = Sandbox::new().unwrap().config().snapshot().unwrap();
    let jobs = tempfile::tempdir().unwrap();
    let cluster = JobClusterBuilder::new(Uninstalled)
        .config(config)
        .scheduler_host("127.0.0.1")
        .directory(jobs.path())
        .start()
        .unwrap();
    let error = cluster.scale(1).unwrap_err().to_string();
    assert!(error.contains("/nonexistent/sbatch"), "{error}");
    assert!(error.contains("Slurm login node"), "{error}");
    assert!(cluster.jobs().is_empty());
}

#[test]
fn a_job_id_is_read_from_what_sbatch_and_qsub_print() {
    assert_eq!(Slurm.job_id("4242\n").unwrap(), "4242");
    assert_eq!(Slurm.job_id("4242;cluster2\n").unwrap(), "4242");
    assert!(Slurm.job_id("sbatch: error: x\n").is_err());
    assert_eq!(Pbs.job_id("17.head\n").unwrap(), "17.head");
    assert!(Pbs.job_id("").is_err());
}
