//! Barrow clusters started by the managers a site already runs, never by
//! one of Barrow's own: workers as Slurm or PBS jobs ([`SlurmCluster`],
//! [`PbsCluster`], dask-jobqueue's counterparts), and a scheduler and
//! workers on hosts reached through the system's OpenSSH client
//! ([`SshCluster`], `barrow ssh HOST…`, Dask's `SSHCluster`). For
//! Kubernetes, the image recipe (`deploy/docker/Dockerfile`) and the Helm
//! chart (`deploy/helm/barrow`) sit beside this crate.
//!
//! ```
//! use barrow_deploy::SlurmCluster;
//!
//! // What each worker's job runs: shown without submitting anything.
//! let script = SlurmCluster::builder()
//!     .cores(4)
//!     .memory(8 << 30)
//!     .walltime(std::time::Duration::from_secs(2 * 3600))
//!     .queue("compute")
//!     .account("physics")
//!     .scheduler_host("login1")
//!     .job_script()?;
//! assert!(script.contains("#SBATCH --cpus-per-task=4"));
//! assert!(script.contains("#SBATCH --mem=8192M"));
//! assert!(script.contains("#SBATCH --time=02:00:00"));
//! assert!(script.contains("worker tcp://login1:PORT --name slurm-0 --nthreads 4"));
//! # Ok::<(), barrow_deploy::Error>(())
//! ```
//!
//! Every cluster here scales by hand (`scale(n)`) and adaptively
//! (`adapt(minimum, maximum)`) through `barrow_distributed`'s
//! [`ScaledWorkers`](barrow_distributed::ScaledWorkers), and takes its
//! workers away when dropped: jobs are cancelled, remote commands end.
#![deny(missing_docs, missing_debug_implementations)]

mod command;
mod error;
mod jobqueue;
mod ssh;

pub use command::WorkerSpec;
pub use error::{Error, Result};
pub use jobqueue::{
    BatchSystem, JobCluster, JobClusterBuilder, JobSpec, Pbs, PbsCluster, Slurm, SlurmCluster,
};
pub use ssh::{SshCluster, SshClusterBuilder};
