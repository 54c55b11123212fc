//! `barrow plugin new NAME` writes a crate that builds and loads as it is,
//! outside the workspace, depending on `barrow-plugin` by path (as a crate
//! outside Barrow does while `barrow-plugin` is not on a registry).
// Without the `cli` feature there is no `barrow` binary to run.
#![cfg(all(feature = "cli", feature = "plugins"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use barrow::function::Input;
use barrow::{Registry, Value};

/// `<target>`, from this test binary's path (`<target>/<profile>/deps/…`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(command: &mut Command, what: &str) -> String {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_new_plugin_crate_builds_outside_the_workspace_and_loads() {
    let outside = tempfile::tempdir().unwrap();
    let abi = workspace().join("plugins/abi");
    let said = run(
        Command::new(env!("CARGO_BIN_EXE_barrow"))
            .args(["plugin", "new", "my-stats", "--path"])
            .arg(&abi)
            .arg("--dir")
            .arg(outside.path()),
        "barrow plugin new",
    );
    let crate_dir = outside.path().join("my-stats");
    assert!(said.contains("wrote the plugin crate"), "{said}");
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("barrow-plugin = { path = "), "{manifest}");

    // The same versions as the workspace (and no network): its lock file.
    std::fs::copy(workspace().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    // Its own target folder, kept between runs so only the crate rebuilds.
    let target = target_dir().join("plugin-new");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for step in ["build", "test"] {
        run(
            Command::new(&cargo)
                .args([step, "--quiet", "--manifest-path"])
                .arg(crate_dir.join("Cargo.toml"))
                .arg("--target-dir")
                .arg(&target),
            &format!("cargo {step} of the new crate"),
        );
    }
    let library = target.join("debug").join(format!(
        "{}my_stats.{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_EXTENSION
    ));

    let described = barrow::plugins::cli::inspect(&library).unwrap();
    assert!(described.contains("name: my-stats"), "{described}");
    assert!(described.contains("  my-stats.scale: "), "{described}");

    let plugin = barrow::plugins::load(&library).unwrap();
    let registry = Registry::new();
    barrow::plugins::register(&plugin, &registry).unwrap();
    let double = registry.functions().get("my-stats.double").unwrap();
    let out = double
        .call(&[Input::Value(Value::new(vec![1.5f64, -2.0]))])
        .unwrap();
    assert_eq!(out.downcast_ref::<Vec<f64>>().unwrap(), &[3.0, -4.0]);
}

#[test]
fn a_bad_name_or_an_existing_folder_is_refused() {
    let outside = tempfile::tempdir().unwrap();
    let new = |name: &str| {
        Command::new(env!("CARGO_BIN_EXE_barrow"))
            .args(["plugin", "new", name, "--dir"])
            .arg(outside.path())
            .output()
            .unwrap()
    };
    let out = new("My_Stats");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"My_Stats\" is not a valid plugin name"),
        "{err}"
    );
    assert!(new("stats").status.success());
    let out = new("stats");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("exists already"),
        "the existing crate is left alone"
    );
}
