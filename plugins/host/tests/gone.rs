//! A plugin file that disappears after it was loaded (its own process: the
//! copy it loads would clash by name with the original in the main tests).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

#[path = "host/support.rs"]
mod support;

use barrow_plugin_host::{Error, load};
use support::library;

#[test]
fn a_plugin_file_that_disappears_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("libbarrow_example_scheduler.so");
    std::fs::copy(library("barrow-example-scheduler"), &copy).unwrap();
    let plugin = load(&copy).unwrap();
    assert_eq!(plugin.name(), "lifo-example");
    std::fs::remove_file(&copy).unwrap();
    let err = load(&copy).unwrap_err();
    assert!(matches!(err, Error::Gone { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("has disappeared since it was loaded"),
        "{text}"
    );
    assert!(text.contains("libbarrow_example_scheduler.so"), "{text}");
}
