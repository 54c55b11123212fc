//! The logic of `barrow scheduler` and `barrow worker`, for the `barrow`
//! command (which parses the arguments and calls these).

use std::path::PathBuf;

use barrow_core::config::{ByteSize, Snapshot};
use barrow_core::{Error, ErrorKind, Result};

use crate::server::SchedulerServer;
use crate::settings::{CA_FILE, TlsRole, TokenSource, default_token_file, find_token, write_token};
use crate::worker::hook::WorkerExit;
use crate::worker::{WorkerOptions, parse_resource};

/// `barrow scheduler`'s arguments.
#[derive(Debug, Clone)]
pub struct SchedulerArgs {
    /// The host or IP to listen on (loopback unless told otherwise).
    pub host: String,
    /// The port (0: any free one).
    pub port: u16,
    /// Where to write a generated token (default: the default token file).
    pub token_file: Option<PathBuf>,
    /// The CA certificate of the cluster (`distributed.comm.tls.ca-file`).
    pub tls_ca_file: Option<PathBuf>,
    /// The scheduler's certificate (`distributed.comm.tls.scheduler.cert`):
    /// with it, the scheduler listens on `tls://`.
    pub tls_cert: Option<PathBuf>,
    /// The key of `tls_cert` (`distributed.comm.tls.scheduler.key`).
    pub tls_key: Option<PathBuf>,
}

/// The configuration with the `--tls-*` flags of `role` on top.
fn with_tls_flags(
    config: &Snapshot,
    role: TlsRole,
    ca_file: &Option<PathBuf>,
    cert: &Option<PathBuf>,
    key: &Option<PathBuf>,
) -> Result<Snapshot> {
    let mut options = Vec::new();
    if let Some(ca_file) = ca_file {
        options.push((CA_FILE.to_owned(), ca_file.clone()));
    }
    if let Some(cert) = cert {
        options.push((role.cert_setting(), cert.clone()));
    }
    if let Some(key) = key {
        options.push((role.key_setting(), key.clone()));
    }
    Ok(config.with_options(options)?)
}

/// Starts a scheduler as `args` say and prints its address and how to
/// connect. The token is the configured one (`distributed.security.token`
/// or `distributed.security.token-file`), else the one in the token file,
/// else a new one written there (readable by its owner only). Returns the
/// running scheduler; the command then waits for ever.
///
/// With a certificate (`--tls-cert`, `--tls-key` and `--tls-ca-file`, or
/// `distributed.comm.tls.*`) it listens on `tls://` and prints that
/// address.
pub fn scheduler(args: &SchedulerArgs) -> Result<SchedulerServer> {
    let config = with_tls_flags(
        &barrow_core::config::snapshot()?,
        TlsRole::Scheduler,
        &args.tls_ca_file,
        &args.tls_cert,
        &args.tls_key,
    )?;
    let file = args.token_file.clone().or_else(default_token_file);
    let (token, told) = match find_token(&config, None)? {
        Some((token, TokenSource::File(path))) => {
            (token, format!("the token in {}", path.display()))
        }
        Some((token, _)) => (
            token,
            "the configured token (distributed.security.token)".to_owned(),
        ),
        None => {
            let token = crate::generate_token()?;
            let path = file.ok_or_else(|| {
                Error::new(
                    ErrorKind::Config,
                    "no token is configured and there is no home directory to write one to: set \
                     distributed.security.token, or pass --token-file",
                )
            })?;
            write_token(&path, &token)?;
            (token, format!("a new token, written to {}", path.display()))
        }
    };
    // The plugins of `plugins.load`: their hooks see the scheduler's events.
    barrow_core::hooks::before_run(barrow_core::Registry::global(), &config)?;
    let server = SchedulerServer::start(&args.host, args.port, &token, &config)?;
    let address = server.address();
    println!("barrow scheduler at {address}");
    println!("  accepts connections that prove {told}");
    if address.scheme() == crate::Scheme::Tls {
        println!(
            "  over TLS: every worker and client needs a certificate the CA of {CA_FILE} signed"
        );
        println!(
            "  workers:  barrow worker {address} --tls-ca-file CA.pem --tls-cert WORKER.pem \
             --tls-key WORKER-KEY.pem"
        );
    } else {
        println!("  workers:  barrow worker {address}");
    }
    println!(
        "  clients:  barrow_distributed::Client::connect(\"{address}\"), or \
         BARROW_DISTRIBUTED__SCHEDULER_ADDRESS={address} with the scheduler \"distributed\""
    );
    println!(
        "  on other machines, give the token as BARROW_DISTRIBUTED__SECURITY__TOKEN or copy the \
         token file"
    );
    if let Some(url) = server.dashboard_url() {
        println!("  dashboard: {url}");
    }
    Ok(server)
}

/// `barrow worker`'s arguments.
#[derive(Debug, Clone, Default)]
pub struct WorkerArgs {
    /// The scheduler's address.
    pub scheduler: String,
    /// Task threads (default: `worker.nthreads`, else one per core).
    pub nthreads: Option<usize>,
    /// The memory limit, such as `4GiB`.
    pub memory_limit: Option<String>,
    /// Its name in the cluster.
    pub name: Option<String>,
    /// Resources, `NAME=AMOUNT`.
    pub resources: Vec<String>,
    /// The host to listen on for peers.
    pub host: Option<String>,
    /// Run the worker under a nanny (a supervising process that restarts
    /// it when it dies and reports how it died), as `barrow worker` does
    /// unless given `--no-nanny`.
    pub nanny: bool,
    /// The CA certificate of the cluster (`distributed.comm.tls.ca-file`).
    pub tls_ca_file: Option<PathBuf>,
    /// The worker's certificate (`distributed.comm.tls.worker.cert`).
    pub tls_cert: Option<PathBuf>,
    /// The key of `tls_cert` (`distributed.comm.tls.worker.key`).
    pub tls_key: Option<PathBuf>,
}

/// Runs a worker of `args.scheduler` until the scheduler closes; under a
/// nanny, `args` run again in a child process with `--no-nanny` added,
/// restarted after each death.
pub fn worker(args: &WorkerArgs) -> Result<WorkerExit> {
    let config = barrow_core::config::snapshot()?;
    let options = worker_options(args, &config)?;
    if args.nanny {
        return nanny(&options, &config);
    }
    // Plugins the configuration loads give the worker their functions.
    barrow_core::hooks::before_run(barrow_core::Registry::global(), &config)?;
    println!("barrow worker joining {}", options.scheduler());
    crate::run_worker(Some(options))
}

fn worker_options(args: &WorkerArgs, config: &Snapshot) -> Result<WorkerOptions> {
    let mut options = WorkerOptions::new(args.scheduler.parse()?);
    if args.tls_cert.is_some() != args.tls_key.is_some() {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "--tls-cert and --tls-key go together: give both, or neither",
        ));
    }
    if let Some(ca_file) = &args.tls_ca_file {
        options = options.tls_ca_file(ca_file);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        options = options.tls_cert(cert, key);
    }
    // Read now, so a bad file fails before a nanny starts the worker.
    let tls = with_tls_flags(
        config,
        TlsRole::Worker,
        &args.tls_ca_file,
        &args.tls_cert,
        &args.tls_key,
    )?;
    crate::settings::Security::from_config(&tls, TlsRole::Worker)?;
    if let Some(n) = args.nthreads.or(config
        .get::<i64>("worker.nthreads")?
        .and_then(|n| usize::try_from(n).ok()))
    {
        options = options.nthreads(n);
    }
    if let Some(limit) = &args.memory_limit {
        let bytes: ByteSize = limit.parse().map_err(|_| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("--memory-limit '{limit}' is not a byte size such as 4GiB"),
            )
        })?;
        options = options.memory_limit(u64::from(bytes));
    } else if let Some(bytes) = config.get::<ByteSize>("worker.memory-limit")? {
        options = options.memory_limit(u64::from(bytes));
    }
    if let Some(name) = args.name.clone().or(config.get("worker.name")?) {
        options = options.name(name);
    }
    if let Some(host) = args.host.clone().or(config.get("worker.host")?) {
        options = options.host(host);
    }
    for resource in &args.resources {
        let (name, amount) = parse_resource(resource)?;
        options = options.resource(name, amount);
    }
    Ok(options)
}

/// Supervises this command run again with `--no-nanny`.
fn nanny(options: &WorkerOptions, config: &Snapshot) -> Result<WorkerExit> {
    let program = std::env::current_exe().map_err(|e| {
        Error::new(
            ErrorKind::Worker,
            format!("the nanny cannot find its own program to start the worker: {e}"),
        )
    })?;
    let mut arguments: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    arguments.push("--no-nanny".into());
    let threads = options.threads();
    let label = options
        .name_ref()
        .map_or_else(|| format!("of {}", options.scheduler()), str::to_owned);
    println!(
        "barrow nanny: starting worker {label} ({threads} threads); it is started again if it \
         dies"
    );
    let nanny = crate::nanny::NannyConfig {
        label,
        command: Box::new(move || {
            let mut command = std::process::Command::new(&program);
            command.args(&arguments);
            crate::nanny::thread_environment(&mut command, threads);
            command
        }),
        memory_limit: options.memory_limit_ref(),
        terminate: terminate_share(config)?,
        sink: std::sync::Arc::new(|line: &str, stderr: bool| {
            if stderr {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }),
    };
    crate::nanny::supervise(nanny, &crate::nanny::Watch::default())
        .map(|()| WorkerExit::Closed)
        .map_err(barrow_core::Error::from)
}

/// `distributed.worker.memory.terminate`: the share of a worker's memory
/// limit past which its nanny kills it (`None`: never).
pub(crate) fn terminate_share(config: &Snapshot) -> Result<Option<f64>> {
    Ok(config
        .get::<f64>("distributed.worker.memory.terminate")?
        .filter(|&share| share > 0.0))
}
