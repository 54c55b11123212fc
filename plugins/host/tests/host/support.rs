//! Builds the example and test plugins (workspace members) with the cargo
//! running these tests, into the same target folder, and finds their files.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The plugin packages the tests load.
const PACKAGES: [&str; 6] = [
    "barrow-example-functions",
    "barrow-example-codec",
    "barrow-example-setup",
    "barrow-example-scheduler",
    "barrow-test-faulty",
    "barrow-test-no-root",
];

/// The folder cargo put this test binary's dependencies in, whose parent
/// holds the libraries of workspace members.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("test binaries live in <target>/<profile>/deps")
        .to_path_buf()
}

/// The library file of plugin package `package`, built if needed.
pub fn library(package: &str) -> PathBuf {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--quiet"]);
        for package in PACKAGES {
            command.args(["-p", package]);
        }
        let output = command.output().map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    });
    if let Err(e) = built {
        panic!("building the test plugins failed:\n{e}");
    }
    let name = format!(
        "{}{}.{}",
        std::env::consts::DLL_PREFIX,
        package.replace('-', "_"),
        std::env::consts::DLL_EXTENSION
    );
    let path = profile_dir().join(name);
    assert!(path.is_file(), "no plugin library at {}", path.display());
    path
}
