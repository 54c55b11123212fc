//! `fn main() -> barrow::Result<()>` prints a returned error with `Debug`
//! (`Error: {err:?}`): every crate's error type prints there what `Display`
//! prints, then its causes, as `anyhow` does, never a struct with literal
//! `\n`s.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::fmt::{Debug, Display};

use barrow::array::Array;
use barrow::bag::Bag;
use barrow::collection::GraphKeys;
use barrow::{Func, Graph, Options, Task, arg::lit, compute_with};

/// What `main` prints for `error`, as the standard library's `Termination`
/// for `Result` does.
fn as_main_prints(error: &impl Debug) -> String {
    format!("Error: {error:?}")
}

/// The printed error starts with the message and has no trace of a
/// derived `Debug`.
fn assert_readable(error: &(impl Debug + Display), what: &str) -> String {
    let printed = as_main_prints(error);
    let message = error.to_string();
    assert!(
        printed.starts_with(&format!("Error: {message}")),
        "{what}: printed\n{printed}\ninstead of starting with the message\n{message}"
    );
    for derived in ["Error {", "kind:", "message:", "\\n", "Some("] {
        assert!(
            !printed.contains(derived),
            "{what}: {derived:?} in\n{printed}"
        );
    }
    printed
}

#[test]
fn a_failing_task_prints_its_message_and_its_cause() {
    let open = Func::try_new("open_data", |path: &String| -> barrow::Result<u8> {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");
        Err(
            barrow::Error::new(barrow::ErrorKind::Io, format!("cannot open {path}"))
                .with_source(io),
        )
    });
    let graph =
        Graph::from_tasks([("data", Task::call(&open, [lit("data.csv".to_string())]))]).unwrap();
    let err = compute_with(
        GraphKeys::new(graph, ["data"]),
        &Options::new().scheduler("sync"),
    )
    .unwrap_err();
    let printed = assert_readable(&err, "a failing task");
    assert!(
        printed.contains("task data (function 'open_data')"),
        "{printed}"
    );
    assert!(
        printed.ends_with("\n\nCaused by:\n    permission denied"),
        "the cause follows the message: {printed}"
    );
}

#[test]
fn a_cause_the_message_already_quotes_is_not_repeated() {
    let io = std::io::Error::other("disk full");
    let err =
        barrow::Error::new(barrow::ErrorKind::Store, "cannot spill: disk full").with_source(io);
    assert_eq!(as_main_prints(&err), "Error: cannot spill: disk full");
}

#[test]
fn the_alternate_form_still_shows_the_fields() {
    let err = barrow::Error::new(barrow::ErrorKind::Config, "bad");
    let fields = format!("{err:#?}");
    assert!(fields.contains("kind: Config"), "{fields}");
}

#[test]
fn array_bag_config_and_plugin_errors_print_readably() {
    let err = Array::<f64>::ones(&[3, 4], [0usize, 1]).unwrap_err();
    assert_readable(&err, "barrow::Error from an array");
    let array_error = err
        .source_as::<barrow::array::ArrayError>()
        .expect("an ArrayError inside");
    assert_readable(array_error, "ArrayError");

    let err = Bag::range(10, 0).unwrap_err();
    assert_readable(&err, "barrow::Error from a bag");
    let bag_error = err
        .source_as::<barrow::bag::BagError>()
        .expect("a BagError inside");
    assert_readable(bag_error, "BagError");

    let mut sandbox = barrow::config::Sandbox::new().unwrap();
    sandbox.set_env("BARROW_NUM_WORKERS", "many");
    let err = sandbox
        .config()
        .snapshot()
        .unwrap()
        .get::<u64>("num-workers")
        .unwrap_err();
    let printed = assert_readable(&err, "barrow_config::Error");
    assert!(printed.contains("BARROW_NUM_WORKERS"), "{printed}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libnotes.so");
    std::fs::write(&path, "just text").unwrap();
    let err = barrow::plugins::load(&path).unwrap_err();
    assert_readable(&err, "barrow_plugin_host::Error");
}

#[test]
fn wire_errors_print_readably() {
    let codecs = barrow::Registry::global().codecs();
    let err = barrow_wire::decode(b"not a frame at all", codecs).unwrap_err();
    assert_readable(&err, "barrow_wire::Error");
}
