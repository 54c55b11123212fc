//! The worker hook: how a program becomes a worker when the pool starts it
//! again, and how a test binary does the same.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use barrow_core::{Registry, Result};

/// Environment variables the pool sets on the processes it starts.
pub(crate) mod env {
    /// Path of the pool's socket to connect to.
    pub const SOCKET: &str = "BARROW_WORKER_SOCKET";
    /// The secret the worker repeats in its greeting.
    pub const TOKEN: &str = "BARROW_WORKER_TOKEN";
    /// The worker's id, for set-up steps that run before it joins.
    pub const ID: &str = "BARROW_WORKER_ID";
    /// Set when a worker restarted itself after its set-up asked to: it does
    /// not restart again.
    pub const RESTARTED: &str = "BARROW_WORKER_RESTARTED";
}

/// What the error says when a worker never arrives.
pub(crate) const HOOK_HINT: &str = "the processes scheduler runs this program again as its workers; add \
     `barrow::processes::worker_main();` as the first line of `fn main()` (or \
     `barrow_processes::worker_main();` without the facade), or \
     `barrow_processes::worker_entry!();` in a test file";

/// Whether this process passed through the hook without being a worker:
/// then a re-executed copy of it will reach the hook too.
static HOOK_SEEN: AtomicBool = AtomicBool::new(false);

/// Whether the hook (or a test entry) is in place in this program.
pub(crate) fn hook_seen() -> bool {
    HOOK_SEEN.load(Ordering::Relaxed) || test_entry().is_some()
}

/// Whether this process was started by a pool as a worker.
pub(crate) fn started_as_worker() -> bool {
    std::env::var_os(env::SOCKET).is_some()
}

/// The one line that makes a program able to run the `processes`
/// scheduler: put it first in `main`. When the pool starts the program
/// again as a worker, this call runs the worker and exits the process; in
/// the program itself it returns at once (after starting the fork server
/// when `processes.context` is `fork`).
///
/// ```no_run
/// fn main() {
///     barrow_processes::worker_main();
///     // ... the program, which may compute on the "processes" scheduler
/// }
/// ```
#[allow(
    clippy::needless_doctest_main,
    reason = "the example shows where in `main` the hook goes"
)]
pub fn worker_main() {
    if let Err(error) = worker_main_with(|_| Ok(())) {
        // No set-up: it cannot fail.
        eprintln!("barrow: {error}");
    }
}

/// [`worker_main`] with a set-up function that registers functions and
/// codecs at run time. It runs in every process of the program — the
/// program itself and each worker — so all of them know the same names
/// (a worker whose registrations differ is refused at the handshake). In
/// the program, an error of `setup` is returned; in a worker, it is sent to
/// the pool, which reports it.
///
/// ```no_run
/// use barrow_core::{Func, Registry};
///
/// fn setup(registry: &Registry) -> barrow_core::Result<()> {
///     registry.functions().register(Func::new("app.scale", |x: &f64| 2.0 * x))
/// }
///
/// fn main() -> barrow_core::Result<()> {
///     barrow_processes::worker_main_with(setup)?;
///     // ... the program
///     Ok(())
/// }
/// ```
pub fn worker_main_with(setup: impl FnOnce(&Registry) -> Result<()>) -> Result<()> {
    if started_as_worker() {
        // Before the set-up, which may take long: die with the program.
        crate::orphans::watch_parent();
    }
    let mut outcome = Ok(());
    SETUP.call_once(|| outcome = setup(Registry::global()));
    if started_as_worker() {
        let code = crate::worker::run(outcome);
        std::process::exit(code);
    }
    // Another kind of worker (a cluster's), when a crate linked in says
    // this process was started as one.
    if let Some(mode) = barrow_core::hooks::active_worker_mode() {
        let code = (mode.run)(outcome);
        std::process::exit(code);
    }
    HOOK_SEEN.store(true, Ordering::Relaxed);
    outcome?;
    let config = barrow_core::config::snapshot()?;
    if config.get::<String>("processes.context")?.as_deref() == Some("fork") {
        crate::fork::start_server()?;
    }
    Ok(())
}

/// Set-up runs once per process, however often the hook is reached.
static SETUP: Once = Once::new();

/// The worker entry of a test binary, declared by [`worker_entry!`].
#[doc(hidden)]
#[derive(Debug)]
pub struct TestEntry {
    /// `module_path!()` where the macro was used.
    pub module: &'static str,
    /// The set-up function to run in every process.
    pub setup: fn(&Registry) -> Result<()>,
}

inventory::collect!(TestEntry);

/// The test entry of this binary, if it declares one.
pub(crate) fn test_entry() -> Option<&'static TestEntry> {
    inventory::iter::<TestEntry>.into_iter().next()
}

/// How to start this program again as a worker: its executable, the
/// arguments that lead to the hook (a test binary's exact filter), and
/// whether it is a test binary (whose worker prints libtest's banner
/// first). Fails when the program has no worker hook.
#[doc(hidden)]
pub fn worker_command() -> Result<(std::path::PathBuf, Vec<String>, bool)> {
    if !hook_seen() {
        return Err(barrow_core::Error::new(
            barrow_core::ErrorKind::Worker,
            format!("no worker hook: {HOOK_HINT}"),
        ));
    }
    run_test_setup()?;
    let program = std::env::current_exe().map_err(|e| {
        barrow_core::Error::new(
            barrow_core::ErrorKind::Worker,
            format!("cannot find this program's executable: {e}"),
        )
    })?;
    Ok(match test_entry() {
        Some(entry) => (
            program,
            vec![
                test_name(entry),
                "--exact".into(),
                "--nocapture".into(),
                "--test-threads=1".into(),
                "--quiet".into(),
            ],
            true,
        ),
        None => (program, Vec::new(), false),
    })
}

/// The exact name libtest knows the entry test by.
pub(crate) fn test_name(entry: &TestEntry) -> String {
    match entry.module.split_once("::") {
        Some((_crate, path)) => format!("{path}::barrow_worker_entry"),
        None => "barrow_worker_entry".to_owned(),
    }
}

/// Runs the test entry's set-up in this process (once), so the pool's own
/// registrations match its workers'.
pub(crate) fn run_test_setup() -> Result<()> {
    let mut outcome = Ok(());
    if let Some(entry) = test_entry() {
        SETUP.call_once(|| outcome = (entry.setup)(Registry::global()));
    }
    outcome
}

/// The body of the test that [`worker_entry!`] declares.
#[doc(hidden)]
pub fn enter_from_test(setup: fn(&Registry) -> Result<()>) {
    if started_as_worker() || barrow_core::hooks::active_worker_mode().is_some() {
        let _ = worker_main_with(setup);
    }
}

/// Declares the worker entry of a test binary: tests cannot put the hook in
/// `main` (libtest owns it), so the pool starts the test binary again with
/// an exact filter that runs only the test this macro declares, which then
/// becomes the worker. Use it once per test file that computes on
/// `processes`, optionally with a set-up function (a `fn`, or a closure
/// that captures nothing).
///
/// ```no_run
/// barrow_processes::worker_entry!();
/// ```
///
/// Run outside a pool, the declared test returns at once.
#[macro_export]
macro_rules! worker_entry {
    () => {
        $crate::worker_entry!(|_| ::std::result::Result::Ok(()));
    };
    ($setup:expr) => {
        /// The worker entry of this test binary (see `barrow_processes::worker_entry!`).
        #[test]
        fn barrow_worker_entry() {
            $crate::__private::enter_from_test($setup);
        }

        $crate::__private::inventory::submit! {
            $crate::__private::TestEntry { module: ::core::module_path!(), setup: $setup }
        }
    };
}
