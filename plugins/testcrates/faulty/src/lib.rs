//! `faulty`: a Barrow plugin that exists for the host's failure-mode tests.
//! It is never published and does nothing useful: its functions panic, fail
//! or return without a result on purpose, and `faulty.identity` works, so a
//! test can show that the host reports each failure as an error for the task
//! and keeps working after it.
//!
//! | Function           | Does                                                  |
//! |--------------------|-------------------------------------------------------|
//! | `faulty.panics`    | panics with "faulty plugin panicked on purpose"       |
//! | `faulty.fails`     | returns the error "faulty plugin failed on purpose"   |
//! | `faulty.no-result` | returns `Ok` without setting a result                 |
//! | `faulty.identity`  | returns its f64 argument                              |
//!
//! Its hook `faulty.panics-on-events` panics whenever a worker joins a
//! scheduler, so a test can show that the cluster contains and reports it.
//!
//! Load it like any plugin, after `cargo build -p barrow-test-faulty`:
//! `BARROW_PLUGINS__LOAD=target/debug/libbarrow_test_faulty.so` (or
//! `BARROW_PLUGINS__LOAD=faulty` with `target/debug` in `plugins.paths`).

use barrow_plugin::{Call, Event, Function, Hook, Out, Plugin, Result, export_plugin};

/// The message `faulty.panics` panics with.
pub const PANIC_MESSAGE: &str = "faulty plugin panicked on purpose";
/// The error `faulty.fails` returns.
pub const ERROR_MESSAGE: &str = "faulty plugin failed on purpose";

/// The plugin, exported as this library's root module.
pub static PLUGIN: Plugin = Plugin {
    name: "faulty",
    version: env!("CARGO_PKG_VERSION"),
    description: "Functions that panic, fail or return nothing on purpose, for tests.",
    functions: &[
        Function::new(
            "panics",
            "Panics with \"faulty plugin panicked on purpose\"; takes anything.",
            panics,
        ),
        Function::new(
            "fails",
            "Returns the error \"faulty plugin failed on purpose\"; takes anything.",
            fails,
        ),
        Function::new(
            "no-result",
            "Returns without setting a result, which the host must report; takes anything.",
            no_result,
        ),
        Function::new(
            "identity",
            "Returns its argument, an f64 (an i64 or u64 converts).",
            identity,
        ),
    ],
    hooks: &[Hook {
        name: "panics-on-events",
        doc: "Panics when a worker joins the scheduler, with \"faulty hook panicked on \
              purpose\".",
        on: panics_on_events,
    }],
    ..Plugin::EMPTY
};

export_plugin!(PLUGIN);

fn panics(_: &Call<'_>, _: &mut Out<'_, '_>) -> Result<()> {
    panic!("{PANIC_MESSAGE}")
}

fn fails(_: &Call<'_>, _: &mut Out<'_, '_>) -> Result<()> {
    Err(ERROR_MESSAGE.into())
}

fn no_result(_: &Call<'_>, _: &mut Out<'_, '_>) -> Result<()> {
    Ok(())
}

fn panics_on_events(event: &Event<'_>) -> Result<()> {
    if let Event::WorkerAdded { worker } = event {
        panic!("faulty hook panicked on purpose when {worker} joined");
    }
    Ok(())
}

fn identity(call: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
    out.f64(call.f64(0)?);
    Ok(())
}

/// Runs when the dynamic loader opens this library: writes the file named
/// by `BARROW_TEST_CONSTRUCTOR_MARKER`, so that a test can tell whether a
/// host ran any of this library's code (it must not when it only checks or
/// inspects the file).
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static MARK_LOADED: extern "C" fn() = mark_loaded;

#[cfg(target_os = "linux")]
extern "C" fn mark_loaded() {
    if let Some(path) = std::env::var_os("BARROW_TEST_CONSTRUCTOR_MARKER") {
        let _ = std::fs::write(path, "loaded");
    }
}

#[cfg(test)]
mod tests {
    use super::{ERROR_MESSAGE, PANIC_MESSAGE, PLUGIN};
    use barrow_plugin::testing::{self, Value};

    #[test]
    fn a_panic_is_an_error_and_the_plugin_keeps_working() {
        let err = testing::call(&PLUGIN, "panics", &[]).unwrap_err();
        // The host may add where it panicked after the message.
        assert!(
            err.message()
                .starts_with(&format!("panicked: {PANIC_MESSAGE}")),
            "{err}"
        );
        let value = testing::call(&PLUGIN, "identity", &[Value::F64(2.5)]).unwrap();
        assert!(matches!(value, Value::F64(v) if v == 2.5), "{value:?}");
    }

    #[test]
    fn fails_returns_its_error_without_panicking() {
        let err = testing::call(&PLUGIN, "fails", &[Value::F64(1.0)]).unwrap_err();
        assert_eq!(err.message(), ERROR_MESSAGE);
    }

    #[test]
    fn no_result_is_reported_as_an_error() {
        let err = testing::call(&PLUGIN, "no-result", &[]).unwrap_err();
        assert!(
            err.message()
                .contains("no-result returned without a result"),
            "{err}"
        );
    }

    #[test]
    fn identity_returns_its_argument_and_checks_it() {
        let value = testing::call(&PLUGIN, "identity", &[Value::I64(-4)]).unwrap();
        assert!(matches!(value, Value::F64(v) if v == -4.0), "{value:?}");
        let err = testing::call(&PLUGIN, "identity", &[]).unwrap_err();
        assert!(err.message().contains("identity needs argument 0"), "{err}");
    }
}
