//! The `barrow` command: `barrow config list | get | paths | validate`,
//! `barrow plugin inspect | list`, and the cluster's `barrow scheduler`
//! and `barrow worker ADDRESS`.
//!
//! A thin shell over `barrow_config::cli` and `barrow_plugin_host::cli`,
//! where the logic and its tests live.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use barrow_config::{Config, cli};
use clap::{Parser, Subcommand};

/// Parallel computing with task graphs: command-line tools.
#[derive(Debug, Parser)]
#[command(name = "barrow", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show and check Barrow's configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Inspect plugin libraries and the plugins the configuration loads.
    #[cfg(feature = "plugins")]
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Run a cluster's scheduler: workers and clients connect to it.
    #[cfg(feature = "distributed")]
    Scheduler {
        /// The host or IP to listen on (loopback unless told otherwise;
        /// 0.0.0.0 for every interface).
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// The port to listen on (0: any free port).
        #[arg(long, default_value_t = 8786)]
        port: u16,
        /// Where to write the token when none is configured (default:
        /// ~/.config/barrow/cluster-token).
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// The CA certificate (PEM) that signed the cluster's
        /// certificates (distributed.comm.tls.ca-file).
        #[arg(long)]
        tls_ca_file: Option<PathBuf>,
        /// The scheduler's certificate (PEM): with it, the scheduler
        /// listens on tls:// (distributed.comm.tls.scheduler.cert).
        #[arg(long)]
        tls_cert: Option<PathBuf>,
        /// The private key of --tls-cert (distributed.comm.tls.scheduler.key).
        #[arg(long)]
        tls_key: Option<PathBuf>,
    },
    /// Start a cluster over SSH: the scheduler on the first HOST, a worker
    /// on each of the others (on the first too when it is the only one),
    /// through this machine's `ssh`; runs until interrupted (Ctrl-C,
    /// SIGTERM, SIGHUP), then ends them all.
    #[cfg(feature = "deploy")]
    Ssh {
        /// The hosts, as `ssh` takes them (user@host, aliases of
        /// ~/.ssh/config).
        #[arg(required = true)]
        hosts: Vec<String>,
        /// Task threads per worker (default: one per core of its host).
        #[arg(long)]
        nthreads: Option<usize>,
        /// Each worker's memory limit, such as 4GiB.
        #[arg(long)]
        memory_limit: Option<String>,
        /// Workers on each worker host.
        #[arg(long, default_value_t = 1)]
        workers_per_host: usize,
        /// The scheduler's port (0: any free one).
        #[arg(long, default_value_t = 8786)]
        scheduler_port: u16,
        /// The address the scheduler listens on and is reached at (default:
        /// the first HOST; give its IP where its name resolves to loopback
        /// there, or 0.0.0.0 for every interface).
        #[arg(long)]
        scheduler_host: Option<String>,
        /// The `barrow` program on the hosts.
        #[arg(long, default_value = "barrow")]
        barrow_command: PathBuf,
        /// An option for every `ssh`, such as `-p2222` or
        /// `-oStrictHostKeyChecking=accept-new` (repeatable).
        #[arg(long = "ssh-option", allow_hyphen_values = true)]
        ssh_options: Vec<String>,
    },
    /// Run a worker of the scheduler at ADDRESS (tcp://HOST:PORT, or
    /// tls://HOST:PORT with the --tls-* flags).
    #[cfg(feature = "distributed")]
    Worker {
        /// The scheduler's address.
        address: String,
        /// Tasks run at once (default: one per core).
        #[arg(long)]
        nthreads: Option<usize>,
        /// Its memory limit, such as 4GiB.
        #[arg(long)]
        memory_limit: Option<String>,
        /// Its name in the cluster (default: its address).
        #[arg(long)]
        name: Option<String>,
        /// A resource it offers, NAME=AMOUNT (repeatable).
        #[arg(long = "resource")]
        resources: Vec<String>,
        /// The host or IP to listen on for peers (default: the one it
        /// reaches the scheduler from).
        #[arg(long)]
        host: Option<String>,
        /// Run the worker in this process, without the nanny that
        /// otherwise supervises it (restarts it when it dies, reports how
        /// it died, kills it past its memory limit).
        #[arg(long)]
        no_nanny: bool,
        /// The CA certificate (PEM) that signed the cluster's
        /// certificates (distributed.comm.tls.ca-file).
        #[arg(long)]
        tls_ca_file: Option<PathBuf>,
        /// The worker's certificate (PEM), for a tls:// scheduler
        /// (distributed.comm.tls.worker.cert).
        #[arg(long)]
        tls_cert: Option<PathBuf>,
        /// The private key of --tls-cert (distributed.comm.tls.worker.key).
        #[arg(long)]
        tls_key: Option<PathBuf>,
    },
}

#[cfg(feature = "plugins")]
#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// A plugin's name, version, ABI version and everything it provides.
    Inspect {
        /// The plugin's library file.
        path: PathBuf,
    },
    /// The plugins the configuration loads, and from where.
    List,
    /// Writes the crate of a new plugin NAME (in ./NAME) that builds and
    /// loads as it is: `cargo build` in it, then `barrow plugin inspect`.
    New {
        /// The plugin's name: lowercase letters, digits and '-'.
        name: String,
        /// Depend on the `barrow-plugin` in this folder (default: the one
        /// this program was built from, if its sources are still there,
        /// else the registry's).
        #[arg(long, conflicts_with = "git")]
        path: Option<PathBuf>,
        /// Depend on `barrow-plugin` from this git repository of Barrow.
        #[arg(long)]
        git: Option<String>,
        /// Where to write the crate's folder.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Every key, its value and the layer it came from (a file's path or a
    /// variable's name), with the values it overrides.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the value of one key alone (nothing if it is unset), or the
    /// keys inside it as YAML (`barrow config get array`).
    Get {
        /// The key, such as `array.chunk-size`, declared or not.
        key: String,
        /// Print the value as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The places configuration is read from, lowest precedence first,
    /// marking which files exist.
    Paths,
    /// Check files against the declared keys; without files, check the
    /// whole configuration. Exits 1 naming each problem.
    Validate {
        /// YAML files to check.
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    #[cfg(feature = "distributed")]
    if let Some(code) = cluster(&args.command) {
        return code;
    }
    let config = Config::process();
    #[cfg(feature = "plugins")]
    if let Command::Plugin(command) = &args.command {
        return plugin(command, config);
    }
    let output = match args.command {
        Command::Config(ConfigCommand::List { json }) => cli::list(config, json),
        Command::Config(ConfigCommand::Get { key, json }) => cli::get(config, &key, json),
        Command::Config(ConfigCommand::Paths) => cli::paths(config),
        Command::Config(ConfigCommand::Validate { files }) => cli::validate(config, &files),
        #[cfg(feature = "plugins")]
        Command::Plugin(_) => return ExitCode::FAILURE,
        #[cfg(feature = "distributed")]
        Command::Scheduler { .. } | Command::Worker { .. } => return ExitCode::FAILURE,
        #[cfg(feature = "deploy")]
        Command::Ssh { .. } => return ExitCode::FAILURE,
    };
    // A closed pipe (`barrow config list | head`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(output.stdout().as_bytes());
    let _ = std::io::stderr().write_all(output.stderr().as_bytes());
    if output.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(feature = "plugins")]
fn plugin(command: &PluginCommand, config: &Config) -> ExitCode {
    use barrow_plugin_host::cli as plugins;
    let result = match command {
        PluginCommand::Inspect { path } => plugins::inspect(path).map(|text| (text, true)),
        PluginCommand::List => config
            .snapshot()
            .map_err(barrow_plugin_host::Error::from)
            .and_then(|snapshot| plugins::list(&snapshot)),
        PluginCommand::New {
            name,
            path,
            git,
            dir,
        } => {
            use barrow_plugin_host::PluginDependency;
            let dependency = match (path, git) {
                (Some(path), _) => PluginDependency::Path(
                    std::path::absolute(path).unwrap_or_else(|_| path.clone()),
                ),
                (None, Some(url)) => PluginDependency::Git(url.clone()),
                (None, None) => PluginDependency::of_this_build(),
            };
            barrow_plugin_host::new_plugin(dir, name, &dependency).map(|made| {
                let text = format!(
                    "wrote the plugin crate {}; build it with `cargo build --manifest-path \
                     {}/Cargo.toml`\n",
                    made.display(),
                    made.display()
                );
                (text, true)
            })
        }
    };
    match result {
        Ok((text, ok)) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `barrow scheduler` or `barrow worker`; `None` for other commands.
#[cfg(feature = "distributed")]
fn cluster(command: &Command) -> Option<ExitCode> {
    use barrow_distributed::cli;
    if matches!(command, Command::Scheduler { .. } | Command::Worker { .. }) {
        log_to_stderr();
    }
    #[cfg(feature = "deploy")]
    if let Command::Ssh { .. } = command {
        log_to_stderr();
        return Some(match ssh(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "error: {e}");
                ExitCode::FAILURE
            }
        });
    }
    // The generic worker runs every built-in operation: link the crates
    // whose functions and codecs register themselves.
    #[cfg(feature = "array")]
    barrow::array::link();
    #[cfg(feature = "bag")]
    barrow::bag::link();
    #[cfg(feature = "delayed")]
    barrow::delayed::link();
    #[cfg(feature = "dataframe")]
    barrow::dataframe::link();
    let outcome = match command {
        Command::Scheduler {
            host,
            port,
            token_file,
            tls_ca_file,
            tls_cert,
            tls_key,
        } => cli::scheduler(&cli::SchedulerArgs {
            host: host.clone(),
            port: *port,
            token_file: token_file.clone(),
            tls_ca_file: tls_ca_file.clone(),
            tls_cert: tls_cert.clone(),
            tls_key: tls_key.clone(),
        })
        .map(|scheduler| {
            let _ = std::io::stdout().flush();
            scheduler.wait();
            0
        }),
        Command::Worker {
            address,
            nthreads,
            memory_limit,
            name,
            resources,
            host,
            no_nanny,
            tls_ca_file,
            tls_cert,
            tls_key,
        } => cli::worker(&cli::WorkerArgs {
            scheduler: address.clone(),
            nthreads: *nthreads,
            memory_limit: memory_limit.clone(),
            name: name.clone(),
            resources: resources.clone(),
            host: host.clone(),
            nanny: !no_nanny,
            tls_ca_file: tls_ca_file.clone(),
            tls_cert: tls_cert.clone(),
            tls_key: tls_key.clone(),
        })
        .map(|exit| exit.code()),
        _ => return None,
    };
    Some(match outcome {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::FAILURE
        }
    })
}

/// Logs to stderr at `logging.level`, or at info when it is not set: a
/// scheduler's or worker's log is what its operator reads.
#[cfg(feature = "distributed")]
fn log_to_stderr() {
    use tracing_subscriber::filter::LevelFilter;
    let level = barrow_config::snapshot()
        .ok()
        .and_then(|config| config.get_with_origin::<String>("logging.level").ok())
        .map(|(level, origin)| match origin {
            barrow_config::Origin::Defaults => "info".to_owned(),
            _ => level.unwrap_or_else(|| "info".to_owned()),
        })
        .unwrap_or_else(|| "info".to_owned());
    let filter = match level.as_str() {
        "error" => LevelFilter::ERROR,
        "warn" => LevelFilter::WARN,
        "debug" => LevelFilter::DEBUG,
        "trace" => LevelFilter::TRACE,
        _ => LevelFilter::INFO,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// `barrow ssh`: starts the cluster, says where it is, and ends it at the
/// first SIGINT, SIGTERM or SIGHUP.
#[cfg(feature = "deploy")]
fn ssh(command: &Command) -> Result<(), barrow_deploy::Error> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Command::Ssh {
        hosts,
        nthreads,
        memory_limit,
        workers_per_host,
        scheduler_port,
        scheduler_host,
        barrow_command,
        ssh_options,
    } = command
    else {
        return Ok(());
    };
    // Listening before the cluster starts: a signal during the start ends
    // it as soon as it is up, rather than leaving remote commands behind.
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| barrow_deploy::Error::Invalid(format!("cannot listen for signals: {e}")))?;
    let mut builder = barrow_deploy::SshCluster::builder(hosts.iter().cloned())
        .workers_per_host(*workers_per_host)
        .scheduler_port(*scheduler_port)
        .barrow_command(barrow_command.clone());
    if let Some(n) = nthreads {
        builder = builder.nthreads(*n);
    }
    if let Some(host) = scheduler_host {
        builder = builder.scheduler_host(host.clone());
    }
    if let Some(limit) = memory_limit {
        let bytes: barrow_config::ByteSize = limit.parse().map_err(|_| {
            barrow_deploy::Error::Invalid(format!(
                "--memory-limit '{limit}' is not a byte size such as 4GiB"
            ))
        })?;
        builder = builder.memory_limit(bytes.as_u64());
    }
    for option in ssh_options {
        builder = builder.ssh_option(option.clone());
    }
    let cluster = builder.start()?;
    let mut out = std::io::stdout();
    let _ = writeln!(out, "barrow ssh cluster at {}", cluster.address());
    let _ = writeln!(
        out,
        "  scheduler on {}; workers: {}",
        cluster.scheduler_host(),
        cluster
            .workers()
            .iter()
            .map(|(name, host)| format!("{name} on {host}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(url) = cluster.dashboard_url() {
        let _ = writeln!(out, "  dashboard: {url} (on the scheduler's host)");
    }
    let _ = writeln!(
        out,
        "  clients: the token is in {} on each host (BARROW_DISTRIBUTED__SECURITY__TOKEN_FILE)",
        cluster.token_file()
    );
    let _ = writeln!(
        out,
        "  stop with Ctrl-C (or SIGTERM): every remote command ends"
    );
    let _ = out.flush();
    let signal = signals.forever().next();
    let _ = writeln!(
        out,
        "signal {}: ending the cluster",
        signal.unwrap_or_default()
    );
    drop(cluster);
    Ok(())
}
