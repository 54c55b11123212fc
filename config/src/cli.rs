//! The logic of the `barrow config` command, as functions that return the
//! text to print and the exit code, so the binary stays thin and the logic
//! is tested here.
//!
//! ```
//! use barrow_config::{Sandbox, cli};
//!
//! let mut sandbox = Sandbox::new()?;
//! sandbox.set_env("BARROW_ARRAY__CHUNK_SIZE", "64MiB");
//! let out = cli::get(&sandbox.config(), "array.chunk-size", false);
//! assert_eq!(out.stdout(), "64MiB\n");
//! assert_eq!(out.code(), 0);
//!
//! let out = cli::get(&sandbox.config(), "array.chunk-sise", false);
//! assert_eq!(out.code(), 1);
//! assert!(out.stderr().contains("did you mean \"array.chunk-size\"?"));
//! # Ok::<(), barrow_config::Error>(())
//! ```

mod get;
mod json;

pub use get::get;

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::error::Error;
use crate::instance::Config;
use crate::load::{leaves_of, read_file};
use crate::schema::Schema;
use crate::setting::Setting;
use crate::snapshot::{Lookup, Snapshot};
use crate::sources::{CONFIG_PATH_VAR, ENV_PREFIX, is_key_variable};
use crate::tree::protected;
use crate::value::{Layer, Origin, Value};
use crate::warning::{CallerReports, Warning, WarningKind};

/// What a subcommand prints and its exit code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    stdout: String,
    stderr: String,
    code: i32,
}

impl Output {
    /// The text for standard output.
    pub fn stdout(&self) -> &str {
        &self.stdout
    }

    /// The text for standard error (problems and warnings).
    pub fn stderr(&self) -> &str {
        &self.stderr
    }

    /// The exit code: 0 on success, 1 when something is wrong.
    pub fn code(&self) -> i32 {
        self.code
    }

    /// Whether the command succeeded.
    pub fn success(&self) -> bool {
        self.code == 0
    }

    fn fail(mut self, message: impl std::fmt::Display) -> Output {
        let _ = writeln!(self.stderr, "error: {message}");
        self.code = 1;
        self
    }

    fn warn(&mut self, message: impl std::fmt::Display) {
        let _ = writeln!(self.stderr, "warning: {message}");
    }
}

/// The snapshot, with its warnings (other than unknown keys) on stderr.
fn snapshot_or_fail(config: &Config, out: Output) -> Result<(Snapshot, Output), Output> {
    match config.snapshot() {
        Ok(snapshot) => {
            let mut out = out;
            for warning in snapshot.warnings() {
                out.warn(warning);
            }
            Ok((snapshot, out))
        }
        Err(err) => Err(out.fail(err)),
    }
}

/// A value as `list` and `get` show it: canonical, strings without quotes.
fn shown_setting(setting: &Setting) -> String {
    match setting {
        Setting::Unset => "(unset)".to_owned(),
        other => other.to_string(),
    }
}

fn shown_value(value: &Value) -> String {
    match value {
        Value::Null => "(unset)".to_owned(),
        other => other.to_plain_string(),
    }
}

/// `barrow config list [--json]`: every declared key, its value and the
/// layer it came from, and the values it overrides with theirs; then the
/// keys nobody declared that hold a value.
/// Exit 1 if a value is bad (the listing is printed all the same).
pub fn list(config: &Config, as_json: bool) -> Output {
    let _shown_here = CallerReports::new();
    let (snapshot, mut out) = match snapshot_or_fail(config, Output::default()) {
        Ok(ok) => ok,
        Err(out) => return out,
    };
    let mut errors = Vec::new();
    for lookup in snapshot.iter() {
        if let Err(err) = lookup.setting() {
            errors.push(err);
        }
    }
    out.stdout = if as_json {
        json::list(&snapshot, &errors)
    } else {
        list_text(&snapshot)
    };
    if errors.is_empty() {
        out
    } else {
        errors.iter().fold(out, |out, err| out.fail(err))
    }
}

fn list_text(snapshot: &Snapshot) -> String {
    let mut text = String::new();
    for lookup in snapshot.iter() {
        let _ = writeln!(text, "{}", winner_line(&lookup));
        for entry in lookup.overridden() {
            let _ = writeln!(
                text,
                "    overrides {}  # from {}",
                shown_value(entry.value()),
                entry.origin()
            );
        }
    }
    let undeclared: Vec<_> = snapshot
        .leaves()
        .filter(|(key, _)| snapshot.schema().get(key).is_none())
        .collect();
    if !undeclared.is_empty() {
        text.push_str("\n# Undeclared keys (nothing in Barrow reads them; code may):\n");
        for (key, winner) in undeclared {
            let suggestion = snapshot
                .schema()
                .suggest(key)
                .map(|s| format!("  (did you mean \"{s}\"?)"))
                .unwrap_or_default();
            let _ = writeln!(
                text,
                "{key} = {}  # from {}{suggestion}",
                shown_value(winner.value()),
                winner.origin()
            );
            let layers = snapshot
                .unknown_keys()
                .find(|(k, _)| k == &key)
                .map_or(&[][..], |(_, entries)| entries);
            for entry in layers.iter().rev().skip(1) {
                let _ = writeln!(
                    text,
                    "    overrides {}  # from {}",
                    shown_value(entry.value()),
                    entry.origin()
                );
            }
        }
    }
    text
}

fn winner_line(lookup: &Lookup<'_>) -> String {
    match lookup.setting() {
        Ok(setting) => format!(
            "{} = {}  # from {}",
            lookup.key(),
            shown_setting(&setting),
            lookup.origin()
        ),
        Err(err) => format!(
            "{} = {}  # from {}  (invalid: expected {})",
            lookup.key(),
            lookup.value(),
            lookup.origin(),
            err.expected().unwrap_or("another value")
        ),
    }
}

/// `barrow config paths`: where configuration comes from, lowest
/// precedence first, marking which folders and files exist.
pub fn paths(config: &Config) -> Output {
    let _shown_here = CallerReports::new();
    let resolved = config.sources().resolve();
    let (search_path, warnings) = resolved.search_path();
    let mut out = Output::default();
    for warning in &warnings {
        out.warn(warning);
    }
    let text = &mut out.stdout;
    text.push_str("# Configuration layers, lowest precedence first\n");
    let row = |text: &mut String, layer: &str, what: String| {
        let _ = writeln!(text, "{layer:<14}{what}");
    };
    let mark = |exists: bool| if exists { "[exists]" } else { "[missing]" };
    row(
        text,
        "defaults",
        "built into barrow-config (`barrow config list` shows them)".to_owned(),
    );
    let mut layers = vec![Layer::System, Layer::User, Layer::ConfigPath];
    for search in &search_path {
        layers.retain(|l| *l != search.layer());
        let shown = if search.is_dir() {
            format!("{}/*.yaml", search.path().display())
        } else {
            search.path().display().to_string()
        };
        row(
            text,
            search.layer().name(),
            format!("{shown}  {}", mark(search.exists())),
        );
        if search.is_dir() {
            for file in search.files() {
                row(
                    text,
                    "",
                    format!("  {}  {}", file.display(), mark(file.exists())),
                );
            }
        }
    }
    for layer in layers {
        let why = match layer {
            Layer::User => "(no home directory and no XDG_CONFIG_HOME: not read)".to_owned(),
            _ => format!("({CONFIG_PATH_VAR} is unset)"),
        };
        row(text, layer.name(), why);
    }
    let names: Vec<&str> = resolved
        .env
        .keys()
        .filter(|name| is_key_variable(name))
        .map(String::as_str)
        .collect();
    let vars = if names.is_empty() {
        "none set".to_owned()
    } else {
        names.join(", ")
    };
    row(
        text,
        "environment",
        format!("{ENV_PREFIX}* variables: {vars}"),
    );
    row(
        text,
        "global",
        "overrides set in code for the whole process".to_owned(),
    );
    row(
        text,
        "scoped",
        "overrides set in code for one thread".to_owned(),
    );
    row(text, "call", "options passed to one call".to_owned());
    out
}

/// `barrow config validate [FILE…]`: checks the files against the
/// declarations (bad values, keys that look like typos of declared ones,
/// keys given twice, malformed or oversized YAML); other keys nobody
/// declared are warnings. Without files, checks every layer of the
/// configuration `config` reads. Exit 1 naming each problem.
pub fn validate(config: &Config, files: &[PathBuf]) -> Output {
    let _shown_here = CallerReports::new();
    let mut out = Output::default();
    let mut problems = Vec::new();
    if files.is_empty() {
        let snapshot = match config.snapshot() {
            Ok(snapshot) => snapshot,
            Err(err) => return out.fail(err),
        };
        for warning in snapshot.warnings() {
            if is_problem(warning) {
                problems.push(warning.to_string());
            } else {
                out.warn(warning);
            }
        }
        problems.extend(snapshot.problems().iter().map(Error::to_string));
        if problems.is_empty() {
            out.stdout = "configuration is valid\n".to_owned();
        }
    } else {
        let schema = Schema::current();
        for path in files {
            let before = problems.len();
            for check in check_file(&schema, path) {
                match check {
                    Check::Problem(problem) => problems.push(problem),
                    Check::Warning(warning) => out.warn(warning),
                }
            }
            if problems.len() == before {
                let _ = writeln!(out.stdout, "{}: valid", path.display());
            }
        }
    }
    problems.iter().fold(out, |out, problem| out.fail(problem))
}

/// The problems of one file, as messages naming the file.
fn check_file(schema: &Schema, path: &std::path::Path) -> Vec<Check> {
    let table = match read_file(path) {
        Ok(Ok(table)) => table,
        Ok(Err(unreadable)) => return vec![Check::Problem(unreadable.to_string())],
        Err(malformed) => return vec![Check::Problem(malformed.to_string())],
    };
    let origin = Origin::File {
        layer: Layer::ConfigPath,
        path: path.to_owned(),
    };
    let entries = match leaves_of(table, &origin, schema) {
        Ok(entries) => entries,
        Err(repeated) => return vec![Check::Problem(repeated.to_string())],
    };
    let mut problems = Vec::new();
    for (key, entry) in &entries {
        if let Some(declaration) = schema.get(key) {
            if let Err(err) = declaration.check(entry.value(), entry.origin()) {
                problems.push(Check::Problem(err.to_string()));
            }
            continue;
        }
        let warning = match protected(schema, key) {
            Some(why) => Warning::ignored_key(key, &origin, &why),
            None => Warning::unknown_key(key, &origin, schema.suggest(key)),
        };
        problems.push(if is_problem(&warning) {
            // The same words as `get` and `scoped` use for a typo in code.
            match warning.kind() {
                WarningKind::UnknownKey => Check::Problem(
                    Error::unknown_key(key, Some(&origin), warning.suggestion()).to_string(),
                ),
                _ => Check::Problem(warning.to_string()),
            }
        } else {
            Check::Warning(warning.to_string())
        });
    }
    problems
}

/// What `validate` makes of one thing it found.
enum Check {
    Problem(String),
    Warning(String),
}

/// Whether `validate` fails for a warning: a key that looks like a typo of
/// a declared one, or one that would replace declared keys. Other keys
/// nobody declared may be read by code, so they only warn.
fn is_problem(warning: &Warning) -> bool {
    match warning.kind() {
        WarningKind::UnknownKey => warning.suggestion().is_some(),
        WarningKind::IgnoredKey => true,
        _ => false,
    }
}
