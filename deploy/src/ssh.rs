//! A cluster on hosts reached through the system's OpenSSH client (Dask's
//! `SSHCluster`): the scheduler on the first host, workers on the others
//! (on the one host when only one is given), each a `barrow` command run
//! by `ssh`. Whatever the user's `~/.ssh/config` says (keys, jump hosts,
//! user names) applies, since it is their `ssh` that connects.
//!
//! The token reaches each host on `ssh`'s standard input, into a file only
//! its owner reads (`~/.cache/barrow/`), never on a command line. Every
//! remote command runs on a terminal of its own (`ssh -tt`), so when its
//! `ssh` ends — the cluster dropped, a worker scaled away, the connection
//! lost — the remote side hangs up and the command ends with it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use barrow_distributed::{AdaptOptions, Client, ClientOptions, ScaledWorkers, Spawner};

use crate::command::{WorkerSpec, new_token, quote_all};
use crate::error::{Error, Result, describe};

/// Sets up an [`SshCluster`].
#[derive(Debug, Clone)]
pub struct SshClusterBuilder {
    hosts: Vec<String>,
    ssh: PathBuf,
    ssh_options: Vec<String>,
    worker: WorkerSpec,
    workers_per_host: usize,
    scheduler_port: u16,
    scheduler_host: Option<String>,
    scheduler_options: Vec<String>,
    timeout: Duration,
}

/// A scheduler and workers started over SSH; dropping it ends them.
#[derive(Debug)]
pub struct SshCluster {
    /// Taken when the cluster ends, before the scheduler: a client left
    /// connected would warn that its scheduler went away.
    live: Option<Live>,
    spawner: Arc<SshSpawner>,
    address: String,
    token: String,
    dashboard: Option<String>,
    scheduler: Mutex<Remote>,
}

/// What talks to the scheduler.
#[derive(Debug)]
struct Live {
    scaled: ScaledWorkers,
    client: Client,
}

/// A command running on a host through `ssh`.
#[derive(Debug)]
struct Remote {
    host: String,
    child: Child,
}

impl Remote {
    fn end(&mut self) {
        // The local `ssh` ends; the remote terminal hangs up, and the
        // command with it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        self.end();
    }
}

#[derive(Debug)]
struct SshSpawner {
    ssh: Ssh,
    hosts: Vec<String>,
    worker: WorkerSpec,
    address: String,
    token_file: String,
    next: AtomicUsize,
    workers: Mutex<HashMap<String, Remote>>,
}

/// How this cluster runs `ssh`.
#[derive(Debug, Clone)]
struct Ssh {
    program: PathBuf,
    options: Vec<String>,
}

impl Ssh {
    /// `ssh [options] HOST COMMAND`; `terminal` adds `-tt`.
    fn command(&self, host: &str, remote: &str, terminal: bool) -> Command {
        let mut command = Command::new(&self.program);
        command.args(["-o", "BatchMode=yes"]);
        if terminal {
            command.arg("-tt");
        }
        command.args(&self.options).arg(host).arg(remote);
        command
    }

    /// Runs `remote` on `host` with `stdin` as its input, to the end.
    fn run(&self, host: &str, remote: &str, stdin: &str) -> Result<String> {
        let mut command = self.command(host, remote, false);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| self.missing(e))?;
        if let Some(mut pipe) = child.stdin.take() {
            let _ = pipe.write_all(stdin.as_bytes());
        }
        let output = child.wait_with_output().map_err(|e| self.missing(e))?;
        if !output.status.success() {
            return Err(Error::command(&command, &output));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn missing(&self, error: std::io::Error) -> Error {
        Error::missing(
            &self.program.display().to_string(),
            "install OpenSSH's client (Debian: openssh-client)",
            error,
        )
    }
}

impl SshCluster {
    /// A cluster on `hosts`: the scheduler on the first, a worker on each
    /// of the others (on the first too when it is the only one).
    ///
    /// ```no_run
    /// use barrow_deploy::SshCluster;
    ///
    /// let cluster = SshCluster::builder(["login1", "node1", "node2"])
    ///     .nthreads(8)
    ///     .memory_limit(32 << 30)
    ///     .start()?;
    /// let client = cluster.client();
    /// cluster.scale(4)?; // two workers on each of node1 and node2
    /// # let _ = client;
    /// # Ok::<(), barrow_deploy::Error>(())
    /// ```
    pub fn builder<I, S>(hosts: I) -> SshClusterBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        SshClusterBuilder {
            hosts: hosts.into_iter().map(Into::into).collect(),
            ssh: PathBuf::from("ssh"),
            ssh_options: Vec::new(),
            worker: WorkerSpec::default(),
            workers_per_host: 1,
            scheduler_port: 0,
            scheduler_host: None,
            scheduler_options: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }

    fn live(&self) -> &Live {
        match &self.live {
            Some(live) => live,
            // Taken only by the drop.
            None => unreachable!("an SshCluster is used while it is dropped"),
        }
    }

    /// The scheduler's address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// A client of the cluster (connected when it started).
    pub fn client(&self) -> Client {
        self.live().client.clone()
    }

    /// The cluster's token, for more clients.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Where each host keeps the token (`~/.cache/barrow/ssh-ID.token`),
    /// removed when the cluster ends.
    pub fn token_file(&self) -> String {
        self.spawner.token_file.replace("\"$HOME\"", "~")
    }

    /// The dashboard the scheduler printed (on the scheduler's host).
    pub fn dashboard_url(&self) -> Option<&str> {
        self.dashboard.as_deref()
    }

    /// The host the scheduler runs on.
    pub fn scheduler_host(&self) -> String {
        self.scheduler
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .host
            .clone()
    }

    /// Starts or stops workers until `n` run, placed over the worker hosts
    /// in turn; going down, idle workers are retired (their values move
    /// to the others) and their commands end. Stops adapting.
    pub fn scale(&self, n: usize) -> Result<()> {
        Ok(self.live().scaled.scale(n)?)
    }

    /// Follows the scheduler's demand between `minimum` and `maximum`
    /// workers (`distributed.adaptive.*` for the rest).
    pub fn adapt(&self, minimum: usize, maximum: usize) -> Result<()> {
        let config = barrow_core::config::snapshot()?;
        Ok(self
            .live()
            .scaled
            .adapt(AdaptOptions::from_config(minimum, maximum, &config)?)?)
    }

    /// The workers running, by name, with their hosts.
    pub fn workers(&self) -> Vec<(String, String)> {
        let mut workers: Vec<_> = self
            .spawner
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(name, remote)| (name.clone(), remote.host.clone()))
            .collect();
        workers.sort();
        workers
    }

    /// Waits until `n` workers have joined.
    pub fn wait_for_workers(&self, n: usize, timeout: Duration) -> Result<()> {
        crate::command::wait_for(
            n,
            timeout,
            || Ok(self.client().scheduler_info()?.workers.len()),
            |joined| {
                Error::Invalid(format!(
                    "{joined} of {n} workers joined the SSH cluster within {timeout:?}; their \
                     output goes to this program's log (tracing, target barrow_deploy, level info; `barrow ssh` prints it with BARROW_LOGGING__LEVEL=info)"
                ))
            },
        )
    }
}

impl Drop for SshCluster {
    fn drop(&mut self) {
        if let Some(live) = &self.live {
            live.scaled.stop_adapting();
        }
        let workers: Vec<Remote> = self
            .spawner
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, remote)| remote)
            .collect();
        drop(workers);
        drop(self.live.take());
        self.scheduler
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .end();
        let mut hosts = self.spawner.hosts.clone();
        hosts.push(self.scheduler_host());
        hosts.sort();
        hosts.dedup();
        let remove = format!("rm -f {}", self.spawner.token_file);
        for host in hosts {
            if let Err(error) = self.spawner.ssh.run(&host, &remove, "") {
                tracing::warn!("removing the cluster's token from {host}: {error}");
            }
        }
    }
}

impl SshClusterBuilder {
    /// Task threads per worker (default: one per core of its host).
    pub fn nthreads(mut self, n: usize) -> Self {
        self.worker.nthreads = Some(n.max(1));
        self
    }

    /// Each worker's memory limit in bytes.
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.worker.memory_limit = Some(bytes);
        self
    }

    /// Workers started on each worker host at first (default 1).
    pub fn workers_per_host(mut self, n: usize) -> Self {
        self.workers_per_host = n;
        self
    }

    /// The `barrow` program on the hosts (default: `barrow` on their
    /// PATH).
    pub fn barrow_command(mut self, program: impl Into<PathBuf>) -> Self {
        self.worker.program = program.into();
        self
    }

    /// More `barrow worker` arguments (`--resource GPU=1`).
    pub fn worker_arg(mut self, arg: impl Into<String>) -> Self {
        self.worker.extra_args.push(arg.into());
        self
    }

    /// The scheduler's port on its host (default 0: any free one).
    pub fn scheduler_port(mut self, port: u16) -> Self {
        self.scheduler_port = port;
        self
    }

    /// The address the scheduler listens on and the others reach it at
    /// (default: the first host as given, without its `user@`). Give its
    /// IP where the host's name resolves to loopback on the host itself
    /// (Debian maps it to 127.0.1.1), or `0.0.0.0` for every interface
    /// (then the address of its default route is the one handed out).
    pub fn scheduler_host(mut self, host: impl Into<String>) -> Self {
        self.scheduler_host = Some(host.into());
        self
    }

    /// More `barrow scheduler` arguments (`--tls-cert …`).
    pub fn scheduler_arg(mut self, arg: impl Into<String>) -> Self {
        self.scheduler_options.push(arg.into());
        self
    }

    /// The `ssh` program (default `ssh` on the PATH).
    pub fn ssh_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.ssh = program.into();
        self
    }

    /// One more option for every `ssh` (`-p`, `2222`, `-i`, a key,
    /// `-o`, `StrictHostKeyChecking=accept-new`).
    pub fn ssh_option(mut self, option: impl Into<String>) -> Self {
        self.ssh_options.push(option.into());
        self
    }

    /// How long the scheduler and the first workers may take to start
    /// (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Starts the scheduler, then the workers, and waits until they joined.
    pub fn start(self) -> Result<SshCluster> {
        let Some(scheduler_host) = self.hosts.first().cloned() else {
            return Err(Error::Invalid(
                "an SSH cluster needs at least one host: the scheduler's, then the workers'"
                    .to_owned(),
            ));
        };
        let worker_hosts: Vec<String> = if self.hosts.len() == 1 {
            self.hosts.clone()
        } else {
            self.hosts[1..].to_vec()
        };
        let ssh = Ssh {
            program: self.ssh.clone(),
            options: self.ssh_options.clone(),
        };
        let token = new_token()?;
        let id = &token[..12];
        let token_file = format!("\"$HOME\"/.cache/barrow/ssh-{id}.token");
        let mut hosts = self.hosts.clone();
        hosts.sort();
        hosts.dedup();
        let place = format!("umask 077 && mkdir -p \"$HOME\"/.cache/barrow && cat > {token_file}");
        for host in &hosts {
            ssh.run(host, &place, &token).map_err(|e| Error::Host {
                host: host.clone(),
                message: format!("cannot place the cluster's token: {e}"),
            })?;
        }
        let bind = self.scheduler_host.clone().unwrap_or_else(|| {
            scheduler_host
                .rsplit_once('@')
                .map_or(scheduler_host.as_str(), |(_, h)| h)
                .to_owned()
        });
        let mut words = vec![
            self.worker.program.display().to_string(),
            "scheduler".to_owned(),
            "--host".to_owned(),
            bind,
            "--port".to_owned(),
            self.scheduler_port.to_string(),
        ];
        words.extend(self.scheduler_options.iter().cloned());
        let remote = format!(
            "BARROW_DISTRIBUTED__SECURITY__TOKEN_FILE={token_file} exec {}",
            quote_all(&words)?
        );
        let (scheduler, lines) = spawn_remote(&ssh, &scheduler_host, &remote, "scheduler")?;
        let (address, dashboard) = read_banner(&scheduler_host, &lines, self.timeout)?;
        let client = Client::connect_with(&address, &ClientOptions::new().token(&token))?;
        let spawner = Arc::new(SshSpawner {
            ssh,
            hosts: worker_hosts.clone(),
            worker: self.worker.clone(),
            address: address.clone(),
            token_file,
            next: AtomicUsize::new(0),
            workers: Mutex::new(HashMap::new()),
        });
        let scaled = ScaledWorkers::new(spawner.clone(), client.clone(), Vec::new());
        let cluster = SshCluster {
            live: Some(Live { scaled, client }),
            spawner,
            address,
            token,
            dashboard,
            scheduler: Mutex::new(scheduler),
        };
        let n = worker_hosts.len() * self.workers_per_host;
        cluster.scale(n)?;
        cluster.wait_for_workers(n, self.timeout)?;
        Ok(cluster)
    }
}

impl Spawner for SshSpawner {
    fn start_worker(&self) -> barrow_core::Result<String> {
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        let host = self.hosts[index % self.hosts.len()].clone();
        let name = format!("ssh-{index}");
        let remote = format!(
            "BARROW_DISTRIBUTED__SECURITY__TOKEN_FILE={} exec {}",
            self.token_file,
            self.worker.shell_line(&self.address, &name)?
        );
        let (worker, lines) = spawn_remote(&self.ssh, &host, &remote, &name)?;
        // Its output goes to the log, line by line, until it ends.
        std::thread::spawn(move || for _ in lines {});
        self.workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.clone(), worker);
        Ok(name)
    }

    fn stop_worker(&self, name: &str) -> barrow_core::Result<()> {
        let remote = self
            .workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        drop(remote);
        Ok(())
    }
}

/// Starts `remote` on `host` on a terminal; its output lines (also
/// logged, marked with `label`) come through the receiver.
fn spawn_remote(
    ssh: &Ssh,
    host: &str,
    remote: &str,
    label: &str,
) -> Result<(Remote, mpsc::Receiver<String>)> {
    let mut command = ssh.command(host, remote, true);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    tracing::info!("starting {label} on {host}: {}", describe(&command));
    let mut child = command.spawn().map_err(|e| ssh.missing(e))?;
    let (send, lines) = mpsc::channel();
    for stream in [
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let send = send.clone();
        let label = format!("{label}@{host}");
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let Ok(line) = line else { break };
                // A terminal ends lines with \r\n.
                let line = line.trim_end_matches('\r').to_owned();
                tracing::info!("[{label}] {line}");
                if send.send(line).is_err() {
                    // Nobody reads any more: keep draining, so the
                    // command never blocks on a full pipe.
                    continue;
                }
            }
        });
    }
    Ok((
        Remote {
            host: host.to_owned(),
            child,
        },
        lines,
    ))
}

/// The address (and dashboard) `barrow scheduler` printed on `host`.
fn read_banner(
    host: &str,
    lines: &mpsc::Receiver<String>,
    timeout: Duration,
) -> Result<(String, Option<String>)> {
    let mut deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    let mut address = None;
    let mut dashboard = None;
    let mut ended = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                let text = line.trim();
                if let Some(found) = text.strip_prefix("barrow scheduler at ") {
                    address = Some(found.to_owned());
                } else if let Some(url) = text.strip_prefix("dashboard: ") {
                    dashboard = Some(url.to_owned());
                    break;
                } else if text.starts_with("on other machines") && address.is_some() {
                    // The dashboard's line comes next, if it serves one.
                    deadline = deadline.min(Instant::now() + Duration::from_millis(500));
                }
                seen.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => break,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                ended = true;
                break;
            }
        }
    }
    match address {
        Some(address) if !ended => Ok((address, dashboard)),
        _ => Err(banner_error(
            host,
            &seen,
            &if ended {
                "it ended".to_owned()
            } else {
                format!("nothing within {timeout:?}")
            },
        )),
    }
}

fn banner_error(host: &str, seen: &[String], what: &str) -> Error {
    let last: Vec<&str> = seen
        .iter()
        .rev()
        .take(5)
        .rev()
        .map(String::as_str)
        .collect();
    Error::Host {
        host: host.to_owned(),
        message: format!(
            "`barrow scheduler` did not say where it listens ({what}); its last lines: {}",
            if last.is_empty() {
                "none".to_owned()
            } else {
                last.join(" | ")
            }
        ),
    }
}
