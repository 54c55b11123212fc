//! The `barrow` command: `barrow config list | get | paths | validate`.
//!
//! A thin shell over `barrow_config::cli`, where the logic and its tests live.

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
    let output = match args.command {
        Command::Config(ConfigCommand::List { json }) => cli::list(config, json),
        Command::Config(ConfigCommand::Get { key }) => cli::get(config, &key),
        Command::Config(ConfigCommand::Paths) => cli::paths(config),
        Command::Config(ConfigCommand::Validate { files }) => cli::validate(config, &files),
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
