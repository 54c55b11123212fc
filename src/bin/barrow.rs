//! The `barrow` command: `barrow config list | get | paths | validate` and
//! `barrow plugin inspect | list`.
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
    /// Print the value of one key alone (nothing if it is unset).
    Get {
        /// The key, such as `array.chunk-size`.
        key: String,
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
    let config = Config::process();
    #[cfg(feature = "plugins")]
    if let Command::Plugin(command) = &args.command {
        return plugin(command, config);
    }
    let output = match args.command {
        Command::Config(ConfigCommand::List { json }) => cli::list(config, json),
        Command::Config(ConfigCommand::Get { key }) => cli::get(config, &key),
        Command::Config(ConfigCommand::Paths) => cli::paths(config),
        Command::Config(ConfigCommand::Validate { files }) => cli::validate(config, &files),
        #[cfg(feature = "plugins")]
        Command::Plugin(_) => return ExitCode::FAILURE,
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
