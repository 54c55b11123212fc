//! The error type of `barrow-deploy`: a cluster manager's command that
//! failed or could not start, a setting that does not hold, the cluster
//! itself. It converts into [`barrow_core::Error`], so `?` works in a
//! function returning `barrow::Result`.

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong starting or steering a cluster, and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A program the manager needs is not installed here.
    #[error("`{program}` cannot be started ({source}): {hint}")]
    Missing {
        /// The program (`sbatch`, `ssh`).
        program: String,
        /// What to do.
        hint: String,
        /// Why it could not start.
        #[source]
        source: std::io::Error,
    },
    /// A manager's command ran and failed.
    #[error("`{command}` failed ({status}){}", output_lines(.output))]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: String,
        /// Its last lines of output (stderr, then stdout).
        output: String,
    },
    /// A setting (in code or `distributed.jobqueue.*`) that does not hold.
    #[error("{0}")]
    Invalid(String),
    /// A host of an SSH cluster did not do what it was asked.
    #[error("host {host}: {message}")]
    Host {
        /// The host, as given.
        host: String,
        /// What happened, and what to do.
        message: String,
    },
    /// A file of the cluster's (its job folder, token, scripts).
    #[error("{what} {}: {source}", .path.display())]
    File {
        /// What it is.
        what: &'static str,
        /// Where.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The cluster (scheduler, client, scaling) or the configuration.
    #[error(transparent)]
    Cluster(#[from] barrow_core::Error),
}

impl From<barrow_core::config::Error> for Error {
    fn from(error: barrow_core::config::Error) -> Error {
        Error::Cluster(error.into())
    }
}

impl From<barrow_distributed::Error> for Error {
    fn from(error: barrow_distributed::Error) -> Error {
        Error::Cluster(error.into())
    }
}

fn output_lines(output: &str) -> String {
    let output = output.trim();
    if output.is_empty() {
        String::new()
    } else {
        format!(": {output}")
    }
}

impl From<Error> for barrow_core::Error {
    fn from(error: Error) -> barrow_core::Error {
        use barrow_core::ErrorKind;
        match error {
            Error::Cluster(error) => error,
            Error::Invalid(message) => barrow_core::Error::new(ErrorKind::InvalidArgument, message),
            other => barrow_core::Error::new(ErrorKind::Worker, other.to_string()),
        }
    }
}

impl Error {
    /// `program` could not start; `hint` says how to get it.
    pub(crate) fn missing(program: &str, hint: &str, source: std::io::Error) -> Error {
        Error::Missing {
            program: program.to_owned(),
            hint: hint.to_owned(),
            source,
        }
    }

    /// `command` exited with `status`, having printed `output`.
    pub(crate) fn command(command: &std::process::Command, output: &std::process::Output) -> Error {
        let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stdout));
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let last = lines[lines.len().saturating_sub(5)..].join(" | ");
        Error::Command {
            command: describe(command),
            status: output.status.to_string(),
            output: last,
        }
    }
}

/// A command as a shell would show it.
pub(crate) fn describe(command: &std::process::Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|word| {
            let word = word.to_string_lossy();
            shlex::try_quote(&word).map_or_else(|_| word.to_string(), |q| q.into_owned())
        })
        .collect::<Vec<_>>()
        .join(" ")
}
