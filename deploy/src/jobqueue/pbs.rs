//! PBS (OpenPBS, PBS Pro, Torque): `#PBS` directives, `qsub` and `qdel`.

use std::path::Path;
use std::process::Command;

use super::{BatchSystem, JobClusterBuilder, JobSpec, clock, mebibytes};
use crate::error::{Error, Result};

/// PBS, through `qsub` and `qdel`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pbs;

/// A cluster of PBS jobs (dask-jobqueue's `PBSCluster`).
pub type PbsCluster = super::JobCluster<Pbs>;

impl PbsCluster {
    /// Sets one up: `distributed.jobqueue.pbs.*`, then code.
    pub fn builder() -> JobClusterBuilder<Pbs> {
        JobClusterBuilder::new(Pbs)
    }
}

impl BatchSystem for Pbs {
    fn name(&self) -> &'static str {
        "pbs"
    }

    fn directives(&self, spec: &JobSpec, job_name: &str, output: &Path) -> Vec<String> {
        let mut lines = vec![
            format!("#PBS -N {job_name}"),
            format!(
                "#PBS -l select=1:ncpus={}:mem={}MB",
                spec.cores,
                mebibytes(spec.memory)
            ),
            // stdout and stderr in one file, as Slurm writes them.
            "#PBS -j oe".to_owned(),
            format!("#PBS -o {}", output.display()),
        ];
        if let Some(walltime) = spec.walltime {
            lines.push(format!("#PBS -l walltime={}", clock(walltime)));
        }
        if let Some(queue) = &spec.queue {
            lines.push(format!("#PBS -q {queue}"));
        }
        if let Some(account) = &spec.account {
            lines.push(format!("#PBS -A {account}"));
        }
        lines.extend(spec.extra_directives.iter().map(|d| format!("#PBS {d}")));
        lines
    }

    fn submit(&self) -> Command {
        Command::new("qsub")
    }

    fn job_id(&self, stdout: &str) -> Result<String> {
        // `qsub` prints `ID.SERVER`; `qdel` takes it whole.
        let id = stdout.trim();
        if id.is_empty() || id.contains(char::is_whitespace) {
            return Err(Error::Invalid(format!(
                "qsub printed {stdout:?} where a job id was expected"
            )));
        }
        Ok(id.to_owned())
    }

    fn cancel(&self, ids: &[String]) -> Command {
        let mut command = Command::new("qdel");
        command.args(ids);
        command
    }

    fn install_hint(&self) -> &'static str {
        "run on a PBS login node (qsub and qdel on the PATH)"
    }
}
