//! Slurm: `#SBATCH` directives, `sbatch` and `scancel`.

use std::path::Path;
use std::process::Command;

use super::{BatchSystem, JobClusterBuilder, JobSpec, clock, mebibytes};
use crate::error::{Error, Result};

/// Slurm, through `sbatch --parsable` and `scancel`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Slurm;

/// A cluster of Slurm jobs (dask-jobqueue's `SLURMCluster`).
pub type SlurmCluster = super::JobCluster<Slurm>;

impl SlurmCluster {
    /// Sets one up: `distributed.jobqueue.slurm.*`, then code.
    ///
    /// ```no_run
    /// use barrow_deploy::SlurmCluster;
    ///
    /// let cluster = SlurmCluster::builder()
    ///     .cores(4)
    ///     .memory(16 << 30)
    ///     .walltime(std::time::Duration::from_secs(3600))
    ///     .queue("compute")
    ///     .start()?;
    /// println!("{}", cluster.job_script()?);
    /// cluster.scale(8)?;
    /// let client = cluster.client();
    /// # let _ = client;
    /// # Ok::<(), barrow_deploy::Error>(())
    /// ```
    pub fn builder() -> JobClusterBuilder<Slurm> {
        JobClusterBuilder::new(Slurm)
    }
}

impl BatchSystem for Slurm {
    fn name(&self) -> &'static str {
        "slurm"
    }

    fn directives(&self, spec: &JobSpec, job_name: &str, output: &Path) -> Vec<String> {
        let mut lines = vec![
            format!("#SBATCH --job-name={job_name}"),
            format!("#SBATCH --output={}", output.display()),
            "#SBATCH --nodes=1".to_owned(),
            "#SBATCH --ntasks=1".to_owned(),
            format!("#SBATCH --cpus-per-task={}", spec.cores),
            format!("#SBATCH --mem={}M", mebibytes(spec.memory)),
        ];
        if let Some(walltime) = spec.walltime {
            lines.push(format!("#SBATCH --time={}", clock(walltime)));
        }
        if let Some(partition) = &spec.queue {
            lines.push(format!("#SBATCH --partition={partition}"));
        }
        if let Some(account) = &spec.account {
            lines.push(format!("#SBATCH --account={account}"));
        }
        lines.extend(spec.extra_directives.iter().map(|d| format!("#SBATCH {d}")));
        lines
    }

    fn submit(&self) -> Command {
        let mut command = Command::new("sbatch");
        command.arg("--parsable");
        command
    }

    fn job_id(&self, stdout: &str) -> Result<String> {
        // `--parsable` prints `ID` or `ID;CLUSTER`.
        let id = stdout.trim().split(';').next().unwrap_or_default();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
            return Err(Error::Invalid(format!(
                "sbatch printed {stdout:?} where a job id was expected"
            )));
        }
        Ok(id.to_owned())
    }

    fn cancel(&self, ids: &[String]) -> Command {
        let mut command = Command::new("scancel");
        command.args(ids);
        command
    }

    fn install_hint(&self) -> &'static str {
        "run on a Slurm login node (the slurm-client package gives sbatch and scancel)"
    }
}
