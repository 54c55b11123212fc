//! A plugin's set-up step, configured and run before computations.

use barrow_core::collection::GraphKeys;
use barrow_core::{Graph, Options, Task, compute_with};

use crate::support::library;

/// Computes with the plugin configured as an operator would: through the
/// environment (the plugin's keys are unknown until it is loaded).
fn run(commands: &str, state: &std::path::Path) -> barrow_core::Result<()> {
    barrow_local::link();
    let mut sandbox = barrow_config::Sandbox::new()?;
    sandbox
        .set_env(
            "BARROW_PLUGINS__LOAD",
            &library("barrow-example-setup").display().to_string(),
        )
        .set_env("BARROW_SETUP_EXAMPLE__COMMANDS", commands)
        .set_env(
            "BARROW_SETUP_EXAMPLE__STATE_DIR",
            &state.display().to_string(),
        );
    let options = Options::new()
        .scheduler("sync")
        .config(sandbox.config().snapshot()?);
    let graph = Graph::from_tasks([("a", Task::literal(1i64))])?;
    compute_with(GraphKeys::new(graph, ["a"]), &options).map(|_| ())
}

#[test]
fn configured_commands_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let commands = format!("[\"echo ran >> {}\"]", log.display());
    run(&commands, dir.path()).unwrap();
    run(&commands, dir.path()).unwrap();
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "ran\n");
}

#[test]
fn a_failing_command_fails_the_computation_with_its_status_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let err = run(r#"["echo oops-output; exit 3"]"#, dir.path()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("setup-example.install"), "{text}");
    assert!(text.contains('3'), "{text}");
    assert!(text.contains("oops-output"), "{text}");
}

#[test]
fn a_call_sets_the_plugins_keys_along_with_loading_it() {
    barrow_local::link();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let options = Options::new()
        .scheduler("sync")
        .set(
            "plugins.load",
            vec![library("barrow-example-setup").display().to_string()],
        )
        .set(
            "setup-example.commands",
            vec![format!("echo call >> {}", log.display())],
        )
        .set("setup-example.state-dir", dir.path().display().to_string());
    let graph = Graph::from_tasks([("a", Task::literal(1i64))]).unwrap();
    compute_with(GraphKeys::new(graph, ["a"]), &options).unwrap();
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "call\n");
}
