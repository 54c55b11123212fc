//! What `barrow plugin inspect` and `barrow plugin list` print.

use barrow_plugin_host::cli;

use crate::support::library;

#[test]
fn inspect_lists_what_each_example_provides() {
    let text = cli::inspect(&library("barrow-example-functions")).unwrap();
    assert!(text.contains("name: stats"), "{text}");
    assert!(text.contains("abi: barrow-plugin 1.2"), "{text}");
    assert!(text.contains("  stats.zscore: "), "{text}");
    assert!(text.contains("schedulers: none"), "{text}");
    // Its hook, read from the file without loading it.
    assert!(
        text.contains("hooks:\n  stats.audit: Keeps the last"),
        "{text}"
    );
    let text = cli::inspect(&library("barrow-example-codec")).unwrap();
    assert!(text.contains("  hist.histogram: "), "{text}");
    let text = cli::inspect(&library("barrow-example-setup")).unwrap();
    assert!(text.contains("  setup-example.install: "), "{text}");
    assert!(text.contains("  setup-example.commands"), "{text}");
    let text = cli::inspect(&library("barrow-example-scheduler")).unwrap();
    assert!(text.contains("  lifo: "), "{text}");
}

#[test]
fn inspect_fails_clearly_on_a_text_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.so");
    std::fs::write(&path, "hello").unwrap();
    let err = cli::inspect(&path).unwrap_err().to_string();
    assert!(
        err.contains("notes.so is not a loadable plugin library"),
        "{err}"
    );
}

#[test]
fn list_shows_each_configured_plugin_and_where_it_comes_from() {
    let dir = library("barrow-example-functions")
        .parent()
        .unwrap()
        .to_path_buf();
    let config = barrow_core::Options::new()
        .set("plugins.paths", vec![dir.display().to_string()])
        .set("plugins.load", vec!["stats", "missing-one"])
        .resolve_config()
        .unwrap();
    let (text, ok) = cli::list(&config).unwrap();
    assert!(!ok, "{text}");
    assert!(
        text.contains("stats 0.1.0 (barrow-plugin 1.2) from "),
        "{text}"
    );
    assert!(text.contains("libbarrow_example_functions"), "{text}");
    assert!(
        text.contains("missing-one: error: plugin 'missing-one' not found"),
        "{text}"
    );
}
