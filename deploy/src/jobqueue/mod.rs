//! Workers as jobs of a batch system (dask-jobqueue's counterpart): the
//! scheduler runs in this process; each worker is one job whose script
//! runs `barrow worker`; `scale` submits and cancels jobs, `adapt` follows
//! the scheduler's demand, and dropping the cluster cancels every job.
//!
//! A batch system is a [`BatchSystem`]: how its job scripts ask for
//! resources and which commands submit and cancel. [`Slurm`] and [`Pbs`]
//! are the two given; the rest (the scheduler, the token, the scaling) is
//! shared.

mod pbs;
mod slurm;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use barrow_core::config::{ByteSize, Snapshot};
use barrow_distributed::{
    AdaptOptions, Client, ClientOptions, ScaledWorkers, SchedulerServer, Spawner,
};

pub use pbs::{Pbs, PbsCluster};
pub use slurm::{Slurm, SlurmCluster};

use crate::command::{WorkerSpec, new_token, quote_all};
use crate::error::{Error, Result, describe};

/// What one job asks its batch system for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobSpec {
    /// Cores (one worker with this many threads).
    pub cores: usize,
    /// Memory in bytes (also the worker's memory limit).
    pub memory: u64,
    /// Wall-clock limit (`None`: the queue's default).
    pub walltime: Option<Duration>,
    /// The partition (Slurm) or queue (PBS).
    pub queue: Option<String>,
    /// The account charged.
    pub account: Option<String>,
    /// More directives, each written as a `#SBATCH`/`#PBS` line as given
    /// (`--gres=gpu:1`, `-l place=excl`).
    pub extra_directives: Vec<String>,
    /// Shell lines run before the worker starts (`module load …`,
    /// `source venv/bin/activate`).
    pub prologue: Vec<String>,
}

/// A batch system: how its job scripts are written and which commands
/// submit and cancel jobs.
pub trait BatchSystem: std::fmt::Debug + Send + Sync + 'static {
    /// Its name in `distributed.jobqueue.NAME.*` and in messages.
    fn name(&self) -> &'static str;
    /// The directive lines (`#SBATCH --cpus-per-task=2`) of a job named
    /// `job_name` writing its output to `output`.
    fn directives(&self, spec: &JobSpec, job_name: &str, output: &Path) -> Vec<String>;
    /// The command that submits a script read from its stdin.
    fn submit(&self) -> Command;
    /// The job id in what the submit command printed.
    fn job_id(&self, stdout: &str) -> Result<String>;
    /// The command that cancels these jobs.
    fn cancel(&self, ids: &[String]) -> Command;
    /// What to install when its commands are missing.
    fn install_hint(&self) -> &'static str;
}

/// Sets up a [`JobCluster`]: the job each worker is, from
/// `distributed.jobqueue.NAME.*` and then code.
#[derive(Debug, Clone)]
pub struct JobClusterBuilder<B: BatchSystem> {
    system: B,
    spec: JobSpec,
    worker: WorkerSpec,
    scheduler_host: Option<String>,
    directory: Option<PathBuf>,
    config: Option<Snapshot>,
}

/// A cluster whose workers are jobs of a batch system; its scheduler runs
/// in this process. Dropping it cancels every job it submitted.
#[derive(Debug)]
pub struct JobCluster<B: BatchSystem> {
    scaled: ScaledWorkers,
    spawner: Arc<JobSpawner<B>>,
    client: Client,
    scheduler: SchedulerServer,
}

/// Submits one job per worker and remembers which.
#[derive(Debug)]
struct JobSpawner<B: BatchSystem> {
    system: B,
    spec: JobSpec,
    worker: WorkerSpec,
    address: String,
    directory: PathBuf,
    token_file: PathBuf,
    next: AtomicUsize,
    /// Job ids by worker name.
    jobs: Mutex<HashMap<String, String>>,
}

impl<B: BatchSystem> JobClusterBuilder<B> {
    /// A cluster of `system`'s jobs, with `distributed.jobqueue.NAME.*`
    /// read when it starts.
    pub fn new(system: B) -> JobClusterBuilder<B> {
        JobClusterBuilder {
            system,
            spec: JobSpec::default(),
            worker: WorkerSpec::default(),
            scheduler_host: None,
            directory: None,
            config: None,
        }
    }

    /// Cores per job: the worker's threads (`cores`; default 1).
    pub fn cores(mut self, cores: usize) -> Self {
        self.spec.cores = cores;
        self
    }

    /// Memory per job in bytes: also the worker's limit (`memory`;
    /// default 1 GiB).
    pub fn memory(mut self, bytes: u64) -> Self {
        self.spec.memory = bytes;
        self
    }

    /// The jobs' wall-clock limit (`walltime`).
    pub fn walltime(mut self, walltime: Duration) -> Self {
        self.spec.walltime = Some(walltime);
        self
    }

    /// The partition (Slurm) or queue (PBS) (`partition` / `queue`).
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.spec.queue = Some(queue.into());
        self
    }

    /// The account charged (`account`).
    pub fn account(mut self, account: impl Into<String>) -> Self {
        self.spec.account = Some(account.into());
        self
    }

    /// One more directive line, as the batch system takes it
    /// (`job-extra-directives`).
    pub fn directive(mut self, directive: impl Into<String>) -> Self {
        self.spec.extra_directives.push(directive.into());
        self
    }

    /// One more shell line before the worker starts (`prologue`).
    pub fn prologue(mut self, line: impl Into<String>) -> Self {
        self.spec.prologue.push(line.into());
        self
    }

    /// The `barrow` program on the compute nodes (`barrow-command`;
    /// default `barrow` on their PATH).
    pub fn barrow_command(mut self, program: impl Into<PathBuf>) -> Self {
        self.worker.program = program.into();
        self
    }

    /// More `barrow worker` arguments (`--resource GPU=1`).
    pub fn worker_arg(mut self, arg: impl Into<String>) -> Self {
        self.worker.extra_args.push(arg.into());
        self
    }

    /// The host the scheduler listens on, as the compute nodes reach it
    /// (`scheduler-host`; default the address of this machine's default
    /// route, else its host name).
    pub fn scheduler_host(mut self, host: impl Into<String>) -> Self {
        self.scheduler_host = Some(host.into());
        self
    }

    /// Where the jobs' output and the cluster's token go: a folder every
    /// compute node can read, such as one in a shared home (`directory`;
    /// default `barrow-jobs` in the working directory). The token file is
    /// readable by its owner only and removed with the cluster.
    pub fn directory(mut self, directory: impl Into<PathBuf>) -> Self {
        self.directory = Some(directory.into());
        self
    }

    /// Reads settings from `config` instead of the current configuration.
    pub fn config(mut self, config: Snapshot) -> Self {
        self.config = Some(config);
        self
    }

    /// The settings, with `distributed.jobqueue.NAME.*` under what code set.
    fn resolved(&self) -> Result<(JobSpec, WorkerSpec, String, PathBuf, Snapshot)> {
        let config = match &self.config {
            Some(config) => config.clone(),
            None => barrow_core::config::snapshot()?,
        };
        let key = |name: &str| format!("distributed.jobqueue.{}.{name}", self.system.name());
        let mut spec = self.spec.clone();
        if spec.cores == 0 {
            spec.cores = config.get::<u64>(&key("cores"))?.map_or(1, |c| c as usize);
        }
        if spec.memory == 0 {
            spec.memory = config
                .get::<ByteSize>(&key("memory"))?
                .map_or(1 << 30, ByteSize::as_u64);
        }
        if spec.walltime.is_none() {
            spec.walltime = config.get::<Duration>(&key("walltime"))?;
        }
        if spec.queue.is_none() {
            let name = if self.system.name() == "slurm" {
                "partition"
            } else {
                "queue"
            };
            spec.queue = config.get::<String>(&key(name))?;
        }
        if spec.account.is_none() {
            spec.account = config.get::<String>(&key("account"))?;
        }
        let mut directives: Vec<String> = config
            .get::<Vec<String>>(&key("job-extra-directives"))?
            .unwrap_or_default();
        directives.append(&mut spec.extra_directives);
        spec.extra_directives = directives;
        let mut prologue: Vec<String> = config
            .get::<Vec<String>>(&key("prologue"))?
            .unwrap_or_default();
        prologue.append(&mut spec.prologue);
        spec.prologue = prologue;
        let mut worker = self.worker.clone();
        if worker.program == Path::new("barrow")
            && let Some(program) = config.get::<PathBuf>(&key("barrow-command"))?
        {
            worker.program = program;
        }
        worker.nthreads = Some(spec.cores);
        worker.memory_limit = Some(spec.memory);
        let host = match &self.scheduler_host {
            Some(host) => host.clone(),
            None => match config.get::<String>(&key("scheduler-host"))? {
                Some(host) => host,
                // The interface of the default route: a host name may
                // resolve to 127.0.1.1 (Debian's /etc/hosts), which compute
                // nodes cannot reach.
                None => barrow_distributed::outward_ip().map_or_else(
                    || {
                        rustix::system::uname()
                            .nodename()
                            .to_string_lossy()
                            .into_owned()
                    },
                    |ip| ip.to_string(),
                ),
            },
        };
        let directory = match &self.directory {
            Some(directory) => directory.clone(),
            None => config
                .get::<PathBuf>(&key("directory"))?
                .unwrap_or_else(|| PathBuf::from("barrow-jobs")),
        };
        if spec.cores == 0 || spec.memory == 0 {
            return Err(Error::Invalid(format!(
                "a {} job needs at least one core and some memory (cores {}, memory {})",
                self.system.name(),
                spec.cores,
                spec.memory
            )));
        }
        Ok((spec, worker, host, directory, config))
    }

    /// The script the first worker's job would run, for a scheduler at
    /// `tcp://SCHEDULER-HOST:PORT` (dask-jobqueue's `job_script()`).
    pub fn job_script(&self) -> Result<String> {
        let (spec, worker, host, directory, _) = self.resolved()?;
        let directory = absolute(&directory)?;
        let token_file = directory.join("token");
        job_script(
            &self.system,
            &spec,
            &worker,
            &format!("tcp://{host}:PORT"),
            &worker_name(self.system.name(), 0),
            &directory,
            &token_file,
        )
    }

    /// Starts the scheduler in this process (no workers yet: `scale` or
    /// `adapt` submits them).
    pub fn start(self) -> Result<JobCluster<B>> {
        let (spec, worker, host, directory, config) = self.resolved()?;
        let token = new_token()?;
        let scheduler = SchedulerServer::start(&host, 0, &token, &config)?;
        let address = scheduler.address().to_string();
        // A folder of its own per cluster: several may share `directory`.
        let directory = absolute(&directory)?.join(format!(
            "{}-{}-{}",
            self.system.name(),
            std::process::id(),
            scheduler.address().port()
        ));
        std::fs::create_dir_all(&directory).map_err(|source| Error::File {
            what: "cannot make the job folder",
            path: directory.clone(),
            source,
        })?;
        let token_file = directory.join("token");
        write_private(&token_file, &token)?;
        let client = Client::connect_with(&address, &ClientOptions::new().token(&token))?;
        let spawner = Arc::new(JobSpawner {
            system: self.system,
            spec,
            worker,
            address,
            directory,
            token_file,
            next: AtomicUsize::new(0),
            jobs: Mutex::new(HashMap::new()),
        });
        let scaled = ScaledWorkers::new(spawner.clone(), client.clone(), Vec::new());
        Ok(JobCluster {
            scaled,
            spawner,
            client,
            scheduler,
        })
    }
}

impl<B: BatchSystem> JobCluster<B> {
    /// The scheduler's address.
    pub fn address(&self) -> String {
        self.scheduler.address().to_string()
    }

    /// A client of the cluster (connected when it started).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The scheduler's dashboard, if it serves one.
    pub fn dashboard_url(&self) -> Option<String> {
        self.scheduler.dashboard_url()
    }

    /// The script of the next worker's job.
    pub fn job_script(&self) -> Result<String> {
        let s = &self.spawner;
        job_script(
            &s.system,
            &s.spec,
            &s.worker,
            &s.address,
            &worker_name(s.system.name(), s.next.load(Ordering::Relaxed)),
            &s.directory,
            &s.token_file,
        )
    }

    /// Where the jobs write their output (and the token lives).
    pub fn directory(&self) -> &Path {
        &self.spawner.directory
    }

    /// Submits or cancels jobs until `n` workers are asked for (pending or
    /// running): going down, pending jobs are cancelled first, then idle
    /// workers are retired (their values move to the others) and their
    /// jobs end. Stops adapting.
    pub fn scale(&self, n: usize) -> Result<()> {
        Ok(self.scaled.scale(n)?)
    }

    /// Follows the scheduler's demand between `minimum` and `maximum`
    /// jobs (`distributed.adaptive.*` for the rest).
    pub fn adapt(&self, minimum: usize, maximum: usize) -> Result<()> {
        let config = barrow_core::config::snapshot()?;
        self.adapt_with(AdaptOptions::from_config(minimum, maximum, &config)?)
    }

    /// [`adapt`](Self::adapt) with every setting given.
    pub fn adapt_with(&self, options: AdaptOptions) -> Result<()> {
        Ok(self.scaled.adapt(options)?)
    }

    /// The jobs submitted and not cancelled: (worker name, job id).
    pub fn jobs(&self) -> Vec<(String, String)> {
        let mut jobs: Vec<_> = self
            .spawner
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(n, j)| (n.clone(), j.clone()))
            .collect();
        jobs.sort();
        jobs
    }

    /// Waits until `n` workers have joined, failing after `timeout`
    /// with how many did.
    pub fn wait_for_workers(&self, n: usize, timeout: Duration) -> Result<()> {
        crate::command::wait_for(
            n,
            timeout,
            || Ok(self.scheduler.worker_count()),
            |joined| {
                Error::Invalid(format!(
                    "{joined} of {n} {} workers joined within {timeout:?}: see their jobs' \
                     output in {} (and `squeue`/`qstat` for jobs still pending)",
                    self.spawner.system.name(),
                    self.spawner.directory.display()
                ))
            },
        )
    }
}

impl<B: BatchSystem> Drop for JobCluster<B> {
    fn drop(&mut self) {
        self.scaled.stop_adapting();
        let ids: Vec<String> = self
            .spawner
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, id)| id)
            .collect();
        if !ids.is_empty()
            && let Err(error) = run(
                &mut self.spawner.system.cancel(&ids),
                None,
                &self.spawner.system,
            )
        {
            tracing::warn!("cancelling the cluster's jobs {ids:?}: {error}");
        }
        let _ = std::fs::remove_file(&self.spawner.token_file);
    }
}

impl<B: BatchSystem> Spawner for JobSpawner<B> {
    fn start_worker(&self) -> barrow_core::Result<String> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        let name = worker_name(self.system.name(), index);
        let script = job_script(
            &self.system,
            &self.spec,
            &self.worker,
            &self.address,
            &name,
            &self.directory,
            &self.token_file,
        )?;
        let stdout = run(&mut self.system.submit(), Some(&script), &self.system)?;
        let id = self.system.job_id(&stdout)?;
        tracing::info!(
            "{} job {id} submitted for worker {name}",
            self.system.name()
        );
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.clone(), id);
        Ok(name)
    }

    fn stop_worker(&self, name: &str) -> barrow_core::Result<()> {
        let id = self
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        if let Some(id) = id {
            run(&mut self.system.cancel(&[id]), None, &self.system)?;
        }
        Ok(())
    }
}

/// The worker named for job `index`.
fn worker_name(system: &str, index: usize) -> String {
    format!("{system}-{index}")
}

/// The job script of worker `name`.
fn job_script(
    system: &dyn BatchSystem,
    spec: &JobSpec,
    worker: &WorkerSpec,
    scheduler: &str,
    name: &str,
    directory: &Path,
    token_file: &Path,
) -> Result<String> {
    let output = directory.join(format!("{name}.out"));
    let mut script = String::from("#!/usr/bin/env bash\n");
    for line in system.directives(spec, &format!("barrow-{name}"), &output) {
        script.push_str(&line);
        script.push('\n');
    }
    script.push('\n');
    for line in &spec.prologue {
        script.push_str(line);
        script.push('\n');
    }
    // The token stays in a file only its owner reads, never in the script.
    script.push_str(&format!(
        "export BARROW_DISTRIBUTED__SECURITY__TOKEN_FILE={}\n",
        quote_all(&[token_file.display().to_string()])?
    ));
    script.push_str(&format!("exec {}\n", worker.shell_line(scheduler, name)?));
    Ok(script)
}

/// Runs a manager's command (with `stdin` written to it), returning its
/// stdout; a failure names the command, its status and its last lines.
fn run(command: &mut Command, stdin: Option<&str>, system: &dyn BatchSystem) -> Result<String> {
    use std::io::Write;
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = command.get_program().to_string_lossy().into_owned();
    let mut child = command
        .spawn()
        .map_err(|e| Error::missing(&program, system.install_hint(), e))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|source| Error::Command {
                command: describe(command),
                status: "its input could not be written".to_owned(),
                output: source.to_string(),
            })?;
    }
    let output = child.wait_with_output().map_err(|source| Error::Command {
        command: describe(command),
        status: "it could not be waited for".to_owned(),
        output: source.to_string(),
    })?;
    if !output.status.success() {
        return Err(Error::command(command, &output));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|source| Error::File {
        what: "cannot resolve the job folder",
        path: path.to_owned(),
        source,
    })
}

/// Writes `text` to a file only its owner may read.
fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path);
    file.and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|source| Error::File {
            what: "cannot write the cluster's token to",
            path: path.to_owned(),
            source,
        })
}

/// `bytes` as Slurm and PBS take memory: whole mebibytes, at least one.
pub(crate) fn mebibytes(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20).max(1)
}

/// `duration` as HH:MM:SS.
pub(crate) fn clock(duration: Duration) -> String {
    let s = duration.as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}
