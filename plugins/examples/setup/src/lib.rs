//! `setup-example`: an example Barrow plugin with a worker set-up step (in
//! the spirit of Dask's `PipInstall` worker plugin): `setup-example.install`
//! runs configured shell commands once per host, before the workers there
//! take tasks.
//!
//! # Configuration
//!
//! | Key                         | Type | Default | What                                       |
//! |-----------------------------|------|---------|--------------------------------------------|
//! | `setup-example.commands`    | list | `[]`    | shell commands run once per worker host    |
//! | `setup-example.state-dir`   | path | unset   | where the lock and "done" markers live; unset: `$TMPDIR/barrow-setup-example` |
//! | `setup-example.restart`     | bool | `false` | whether workers restart after installing   |
//!
//! # How it runs
//!
//! The commands' list is hashed (FNV-1a, stable across builds) into a marker
//! name. Under an exclusive lock on `<state-dir>/<marker>.lock`, the step runs
//! the commands in order with `sh -c` unless `<state-dir>/<marker>.done`
//! exists, and writes that marker (what ran, when, by which worker) once they
//! all succeed. So every worker of a host may run the step at once: one runs
//! the commands, the others wait for the lock and then find them done. A
//! worker restarted to see what was installed finds them done too, and does
//! not ask for another restart. Changing the list changes the marker, so the
//! new list runs.
//!
//! A command that fails stops the step with an error naming the command,
//! its exit status (or signal) and the last lines of its output; nothing is
//! marked done, so the next worker to start tries again, from the first
//! command (commands should be safe to repeat, as `pip install` is). A
//! command should not leave a background process holding its output open:
//! the step reads the output to its end.
//!
//! # Loading it
//!
//! ```text
//! cargo build --release -p barrow-example-setup
//! BARROW_PLUGINS__PATHS=target/release BARROW_PLUGINS__LOAD=setup-example \
//! BARROW_SETUP_EXAMPLE__COMMANDS='["pip install --user numpy"]' my-program
//! ```
//!
//! or by the path of the file:
//! `BARROW_PLUGINS__LOAD=target/release/libbarrow_example_setup.so`.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use barrow_plugin::{Error, Outcome, Plugin, Result, Setup, SetupContext, export_plugin};

/// The plugin: its configuration keys and its set-up step, exported as this
/// library's root module.
pub static PLUGIN: Plugin = Plugin {
    name: "setup-example",
    version: env!("CARGO_PKG_VERSION"),
    description: "Runs configured shell commands once per worker host.",
    config: CONFIG,
    setup: &[Setup {
        name: "install",
        doc: "Runs the shell commands of setup-example.commands once per host (under a file \
              lock in setup-example.state-dir, marked done there), then asks workers to \
              restart if setup-example.restart is true. Workers that find the commands \
              already run do nothing.",
        run: install,
    }],
    ..Plugin::EMPTY
};

export_plugin!(PLUGIN);

/// The configuration keys, in `barrow_config::register_namespace`'s format.
const CONFIG: &str = r#"
commands:
  doc: >-
    Shell commands run once per worker host, in order, each with `sh -c`,
    before the workers there take tasks (for instance package installs).
    Changing the list runs the new list once more.
  type: list
  default: []

state-dir:
  doc: >-
    Directory of the lock and "done" markers that make the commands run once
    per host; it must be on a file system local to the host. Unset:
    `barrow-setup-example` in the system's temporary directory.
  type: path
  default: null

restart:
  doc: >-
    Whether workers restart after the commands ran, to see what they
    installed. A restarted worker finds the commands done and does not
    restart again.
  type: bool
  default: false
"#;

/// The message of a step that found its commands already run.
pub const ALREADY_INSTALLED: &str = "already installed";

/// Output lines quoted in the error of a failed command.
const TAIL_LINES: usize = 10;
/// Bytes of a command's output kept to quote from.
const TAIL_BYTES: usize = 64 * 1024;

/// FNV-1a (64 bits) of the commands, each prefixed by its length so that
/// `["a", "b"]` and `["ab"]` differ. Stable across builds and platforms.
pub fn fnv1a(commands: &[String]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for command in commands {
        let len = (command.len() as u64).to_le_bytes();
        for &byte in len.iter().chain(command.as_bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// The marker name of a list of commands.
pub fn marker(commands: &[String]) -> String {
    format!("install-{:016x}", fnv1a(commands))
}

/// The directory of the markers: `state-dir`, or its default.
fn state_dir(ctx: &SetupContext) -> Result<PathBuf> {
    Ok(match ctx.config_string("state-dir")? {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::temp_dir().join("barrow-setup-example"),
    })
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(format!(
        "setup-example: cannot {what} {}: {e}",
        path.display()
    ))
}

fn install(ctx: &SetupContext) -> Result<Outcome> {
    let commands = ctx.config_strings("commands")?;
    let restart = ctx.config_bool("restart")?;
    if commands.is_empty() {
        return Ok(Outcome {
            message: "no commands configured (setup-example.commands)".to_owned(),
            restart: false,
        });
    }
    let dir = state_dir(ctx)?;
    fs::create_dir_all(&dir).map_err(|e| io_error("create the state directory", &dir, e))?;
    let marker = marker(&commands);

    let lock_path = dir.join(format!("{marker}.lock"));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| io_error("open the lock file", &lock_path, e))?;
    // Blocks while another worker of this host installs; released when
    // `lock` drops, also on an error or a panic.
    lock.lock().map_err(|e| io_error("lock", &lock_path, e))?;

    let done = dir.join(format!("{marker}.done"));
    if done.exists() {
        return Ok(Outcome {
            message: ALREADY_INSTALLED.to_owned(),
            restart: false,
        });
    }

    let started = Instant::now();
    for (i, command) in commands.iter().enumerate() {
        run(command).map_err(|why| {
            Error::new(format!(
                "setup-example: command {} of {} failed: `{command}`: {why}\nNothing was marked \
                 done; the next worker to start runs the commands again.",
                i + 1,
                commands.len()
            ))
        })?;
    }
    write_done(&done, ctx.worker(), &commands)?;
    drop(lock);
    Ok(Outcome {
        message: format!(
            "ran {} command(s) in {:.1?}; marked done in {}",
            commands.len(),
            started.elapsed(),
            done.display()
        ),
        restart,
    })
}

/// Runs `command` with `sh -c`, its stdout and stderr in one pipe; an error
/// with its status and the last lines of its output if it fails.
fn run(command: &str) -> std::result::Result<(), String> {
    let (mut reader, writer) =
        std::io::pipe().map_err(|e| format!("cannot make a pipe for its output: {e}"))?;
    let stderr = writer
        .try_clone()
        .map_err(|e| format!("cannot make a pipe for its output: {e}"))?;
    // The `Command` (holding the pipe's write ends) drops at the end of this
    // statement, so the read below ends when the command's own ends close.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start sh: {e}"))?;

    let mut tail = Vec::new();
    let mut buf = [0u8; 8192];
    let read_error = loop {
        match reader.read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => {
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > 2 * TAIL_BYTES {
                    tail.drain(..tail.len() - TAIL_BYTES);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Some(e),
        }
    };
    drop(reader);
    let status = child
        .wait()
        .map_err(|e| format!("cannot wait for it: {e}"))?;
    if status.success() {
        return match read_error {
            None => Ok(()),
            Some(e) => Err(format!("it succeeded, but reading its output failed: {e}")),
        };
    }
    Err(format!(
        "{}; the last lines of its output:\n{}",
        describe(status),
        last_lines(&tail, TAIL_LINES)
    ))
}

/// "exit status N", or the signal that killed the command.
fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    status.to_string()
}

/// The last `n` lines of `output`, indented; "(no output)" if none.
fn last_lines(output: &[u8], n: usize) -> String {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.trim_end().lines().collect();
    if lines.is_empty() {
        return "    (no output)".to_owned();
    }
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|line| format!("    {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Writes the "done" marker, a record of what ran, atomically: a reader
/// never sees half of it.
fn write_done(done: &Path, worker: u32, commands: &[String]) -> Result<()> {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut record = format!(
        "# barrow setup-example: these commands ran successfully.\n\
         time: {seconds} (seconds since 1970-01-01 UTC)\n\
         worker: {worker}\n\
         pid: {}\n\
         commands:\n",
        std::process::id()
    );
    for command in commands {
        record.push_str("  - ");
        record.push_str(command);
        record.push('\n');
    }
    let partial = done.with_extension("done.partial");
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&partial)?;
        file.write_all(record.as_bytes())?;
        file.sync_all()?;
        fs::rename(&partial, done)
    };
    write().map_err(|e| io_error("write the marker", done, e))
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Barrier;

    use barrow_plugin::testing;
    use barrow_plugin::{Outcome, SetupContext};

    use super::{ALREADY_INSTALLED, PLUGIN, fnv1a, last_lines, marker};

    /// `s` as a JSON string.
    fn json(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    fn context(state: &Path, commands: &[String], restart: bool) -> SetupContext {
        let list = commands
            .iter()
            .map(|c| json(c))
            .collect::<Vec<_>>()
            .join(",");
        let state = state.to_str().expect("a UTF-8 temporary path");
        SetupContext::new(
            1,
            vec![
                ("commands".to_owned(), format!("[{list}]")),
                ("state-dir".to_owned(), json(state)),
                ("restart".to_owned(), restart.to_string()),
            ],
        )
    }

    fn install(ctx: &SetupContext) -> barrow_plugin::Result<Outcome> {
        testing::run_setup(&PLUGIN, "install", ctx)
    }

    /// A command appending a line to `log`.
    fn append(log: &Path, line: &str) -> String {
        format!("echo {line} >> '{}'", log.display())
    }

    fn lines(log: &Path) -> Vec<String> {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn commands_run_once_and_a_second_run_finds_them_installed() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let commands = [append(&log, "first"), append(&log, "second")];
        let ctx = context(&dir.path().join("state"), &commands, true);

        let outcome = install(&ctx).unwrap();
        assert!(
            outcome.message.starts_with("ran 2 command(s)"),
            "{}",
            outcome.message
        );
        assert!(outcome.restart, "the restart key asks for a restart");
        assert_eq!(lines(&log), ["first", "second"]);

        let again = install(&ctx).unwrap();
        assert_eq!(
            again,
            Outcome {
                message: ALREADY_INSTALLED.to_owned(),
                restart: false
            }
        );
        assert_eq!(lines(&log), ["first", "second"], "the commands ran once");

        let done = dir
            .path()
            .join("state")
            .join(format!("{}.done", marker(&commands)));
        let record = std::fs::read_to_string(done).unwrap();
        assert!(record.contains("worker: 1"), "{record}");
        assert!(record.contains(&commands[1]), "{record}");
    }

    #[test]
    fn restart_defaults_to_false() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let commands = [append(&log, "x")];
        let ctx = context(dir.path(), &commands, false);
        assert!(!install(&ctx).unwrap().restart);
    }

    #[test]
    fn a_new_list_of_commands_runs_again() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        install(&context(dir.path(), &[append(&log, "a")], false)).unwrap();
        install(&context(
            dir.path(),
            &[append(&log, "a"), append(&log, "b")],
            false,
        ))
        .unwrap();
        assert_eq!(lines(&log), ["a", "a", "b"]);
    }

    #[test]
    fn no_commands_is_nothing_to_do() {
        let ctx = SetupContext::new(0, Vec::new());
        let outcome = install(&ctx).unwrap();
        assert!(
            outcome.message.contains("no commands"),
            "{}",
            outcome.message
        );
        assert!(!outcome.restart);
    }

    #[test]
    fn a_failing_command_is_an_error_with_its_status_and_output() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let commands = [
            append(&log, "before"),
            "echo oops; echo to-stderr >&2; exit 3".to_owned(),
            append(&log, "after"),
        ];
        let ctx = context(dir.path(), &commands, true);
        let err = install(&ctx).unwrap_err();
        let message = err.message();
        assert!(message.contains("command 2 of 3"), "{message}");
        assert!(
            message.contains("echo oops; echo to-stderr >&2; exit 3"),
            "{message}"
        );
        assert!(message.contains("exit status 3"), "{message}");
        assert!(message.contains("oops"), "{message}");
        assert!(message.contains("to-stderr"), "{message}");
        assert_eq!(
            lines(&log),
            ["before"],
            "commands after the failure do not run"
        );

        // Nothing was marked done: the next worker tries again.
        let err = install(&ctx).unwrap_err();
        assert!(err.message().contains("exit status 3"));
        assert_eq!(lines(&log), ["before", "before"]);
    }

    #[test]
    fn the_error_quotes_only_the_last_ten_lines() {
        let dir = tempfile::tempdir().unwrap();
        let commands = ["for i in $(seq 1 25); do echo line-$i; done; exit 1".to_owned()];
        let err = install(&context(dir.path(), &commands, false)).unwrap_err();
        let message = err.message();
        assert!(
            message.contains("line-16") && message.contains("line-25"),
            "{message}"
        );
        assert!(!message.contains("line-15\n"), "{message}");
    }

    #[cfg(unix)]
    #[test]
    fn a_command_killed_by_a_signal_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let commands = ["echo dying; kill -9 $$".to_owned()];
        let err = install(&context(dir.path(), &commands, false)).unwrap_err();
        assert!(err.message().contains("killed by signal 9"), "{err}");
        assert!(err.message().contains("dying"), "{err}");
    }

    #[test]
    fn concurrent_workers_run_the_commands_once() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        // Slow enough that the workers overlap.
        let commands = [format!("sleep 0.2; {}", append(&log, "installed"))];
        let ctx = context(&dir.path().join("state"), &commands, true);
        let barrier = Barrier::new(4);
        let outcomes: Vec<Outcome> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        install(&ctx)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap().unwrap())
                .collect()
        });
        assert_eq!(lines(&log), ["installed"]);
        let ran: Vec<_> = outcomes
            .iter()
            .filter(|o| o.message != ALREADY_INSTALLED)
            .collect();
        assert_eq!(ran.len(), 1, "{outcomes:?}");
        assert!(ran[0].restart);
        assert!(
            outcomes
                .iter()
                .filter(|o| o.message == ALREADY_INSTALLED)
                .all(|o| !o.restart)
        );
    }

    #[test]
    fn bad_configuration_is_an_error() {
        let ctx = SetupContext::new(0, vec![("commands".to_owned(), "\"ls\"".to_owned())]);
        let err = install(&ctx).unwrap_err();
        assert!(
            err.message()
                .contains("'commands' should be a list of strings"),
            "{err}"
        );
    }

    #[test]
    fn the_hash_is_stable_and_separates_commands() {
        // FNV-1a's offset basis for no input: the same in every build.
        assert_eq!(fnv1a(&[]), 0xcbf2_9ce4_8422_2325);
        let ab = fnv1a(&["ab".to_owned()]);
        assert_ne!(ab, fnv1a(&["a".to_owned(), "b".to_owned()]));
        assert_eq!(ab, fnv1a(&["ab".to_owned()]));
        assert_eq!(marker(&["ab".to_owned()]).len(), "install-".len() + 16);
    }

    #[test]
    fn last_lines_keeps_the_tail() {
        assert_eq!(last_lines(b"", 10), "    (no output)");
        assert_eq!(last_lines(b"a\nb\nc\n", 2), "    b\n    c");
    }

    #[test]
    fn the_configuration_declarations_are_valid() {
        barrow_config::register_namespace("setup-example", PLUGIN.config).unwrap();
        let mut sandbox = barrow_config::Sandbox::new().unwrap();
        let snapshot = sandbox.config().snapshot().unwrap();
        assert_eq!(
            snapshot
                .get::<Vec<String>>("setup-example.commands")
                .unwrap(),
            Some(Vec::new())
        );
        assert_eq!(
            snapshot
                .get::<std::path::PathBuf>("setup-example.state-dir")
                .unwrap(),
            None
        );
        assert_eq!(
            snapshot.get::<bool>("setup-example.restart").unwrap(),
            Some(false)
        );

        sandbox.set_env(
            "BARROW_SETUP_EXAMPLE__COMMANDS",
            "[pip install numpy, echo hi]",
        );
        sandbox.set_env("BARROW_SETUP_EXAMPLE__RESTART", "true");
        let snapshot = sandbox.config().snapshot().unwrap();
        assert_eq!(
            snapshot
                .get::<Vec<String>>("setup-example.commands")
                .unwrap(),
            Some(vec!["pip install numpy".to_owned(), "echo hi".to_owned()])
        );
        assert_eq!(
            snapshot.get::<bool>("setup-example.restart").unwrap(),
            Some(true)
        );
    }
}
