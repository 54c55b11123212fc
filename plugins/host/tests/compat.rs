//! Compatibility is a promise: a plugin built against an older minor
//! version of `barrow-plugin` loads and works; another major version, or a
//! changed layout, is refused with one line. Each plugin here is built
//! against its own copy of the ABI crate, in a target folder of its own
//! (`<target>/plugin-compat`): a shared one would reuse a previous build.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use barrow_core::function::Input;
use barrow_core::{Registry, Value};
use barrow_plugin_host::{Error, Provides, cli, load, register};

/// `<target>`, from this test binary's path (`<target>/<profile>/deps/…`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// Builds the cdylib package at `manifest` into the compatibility target
/// folder and returns its library.
fn build(manifest: &Path, library: &str) -> PathBuf {
    let target = target_dir().join("plugin-compat");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(manifest)
        .arg("--target-dir")
        .arg(&target)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "building {} failed:\n{}",
        manifest.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let file = format!(
        "{}{library}.{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_EXTENSION
    );
    target.join("debug").join(file)
}

/// Writes `contents` unless the file already holds them, so that cargo
/// reuses the previous build.
fn write(path: &Path, contents: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(contents) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
}

/// A copy of the current `barrow-plugin` at `version`, its sources passed
/// through `patch`, and a plugin `package` built against it.
fn variant(package: &str, version: &str, patch: impl Fn(&str, &str) -> String) -> PathBuf {
    let root = target_dir().join("plugin-compat").join("src").join(package);
    let abi = workspace().join("plugins/abi");
    let manifest = std::fs::read_to_string(abi.join("Cargo.toml")).unwrap();
    let manifest = manifest
        .replace("version = \"1.2.0\"", &format!("version = \"{version}\""))
        .replace("edition.workspace = true", "edition = \"2024\"")
        .replace("rust-version.workspace = true\n", "")
        .replace("license.workspace = true\n", "")
        .replace("repository.workspace = true\n", "")
        .replace("bytemuck = { workspace = true }", "bytemuck = { version = \"1.25\", default-features = false, features = [\"extern_crate_alloc\"] }")
        .replace("[lints]\nworkspace = true\n", "");
    write(&root.join("abi/Cargo.toml"), &manifest);
    for entry in std::fs::read_dir(abi.join("src")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let source = std::fs::read_to_string(&path).unwrap();
        write(&root.join("abi/src").join(&name), &patch(&name, &source));
    }
    write(
        &root.join("plugin/Cargo.toml"),
        &format!(
            "[package]\nname = \"{package}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [workspace]\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\n\
             barrow-plugin = {{ path = \"../abi\" }}\n"
        ),
    );
    write(
        &root.join("plugin/src/lib.rs"),
        "use barrow_plugin::{Call, Function, Out, Plugin, Result, export_plugin};\n\
         fn one(_: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> { out.f64(1.0); Ok(()) }\n\
         static PLUGIN: Plugin = Plugin { name: \"variant\", \
         functions: &[Function::new(\"one\", \"One.\", one)], ..Plugin::EMPTY };\n\
         export_plugin!(PLUGIN);\n",
    );
    let lock = root.join("plugin/Cargo.lock");
    if !lock.exists() {
        std::fs::copy(workspace().join("Cargo.lock"), &lock).unwrap();
    }
    build(&root.join("plugin/Cargo.toml"), &package.replace('-', "_"))
}

#[test]
fn a_plugin_built_against_an_older_minor_loads_works_and_lacks_newer_capabilities() {
    let path = build(
        &workspace().join("plugins/compat/old-plugin/Cargo.toml"),
        "barrow_compat_old",
    );
    let plugin = load(&path).unwrap();
    assert_eq!(plugin.name(), "old-stats");
    assert_eq!(plugin.abi_version(), (1, 0));
    let capabilities = plugin.capabilities();
    assert!(
        capabilities.contains(&("functions", Provides::Yes)),
        "{capabilities:?}"
    );
    assert!(
        capabilities.contains(&("schedulers", Provides::Absent { since: 1 })),
        "{capabilities:?}"
    );
    assert!(
        capabilities.contains(&("hooks", Provides::Absent { since: 2 })),
        "{capabilities:?}"
    );
    let registry = Registry::new();
    register(&plugin, &registry).unwrap();
    let double = registry.functions().get("old-stats.double").unwrap();
    let out = double
        .call(&[Input::Value(Value::new(vec![1.0f64, 2.5]))])
        .unwrap();
    assert_eq!(out.downcast_ref::<Vec<f64>>().unwrap(), &[2.0, 5.0]);
    let text = cli::inspect(&path).unwrap();
    assert!(
        text.contains("abi: barrow-plugin 1.0 (this program: 1.2)"),
        "{text}"
    );
    assert!(
        text.contains(
            "schedulers: absent (built against barrow-plugin 1.0; schedulers came in 1.1)"
        ),
        "{text}"
    );
}

#[test]
fn a_plugin_of_another_major_version_is_refused_naming_both() {
    let path = variant("barrow-compat-major", "2.0.0", |name, source| {
        if name == "abi.rs" {
            source.replace(
                "pub const ABI_MAJOR: u32 = 1;",
                "pub const ABI_MAJOR: u32 = 2;",
            )
        } else {
            source.to_owned()
        }
    });
    let err = load(&path).unwrap_err();
    assert!(matches!(err, Error::AbiVersion { .. }), "{err:?}");
    let text = err.to_string();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("built against barrow-plugin 2.0.0"), "{text}");
    assert!(
        text.contains("this program uses barrow-plugin 1.2.0"),
        "{text}"
    );
    assert!(
        text.contains("rebuild the plugin against barrow-plugin 1.x"),
        "{text}"
    );
}

#[test]
fn a_plugin_with_another_layout_is_refused_in_one_line_naming_the_field() {
    let path = variant("barrow-compat-layout", "1.2.1", |name, source| match name {
        "abi.rs" => source.replace("    pub description: RString,", "    pub summary: RString,"),
        "export.rs" => source.replace(
            "description: plugin.description.into(),",
            "summary: plugin.description.into(),",
        ),
        _ => source.to_owned(),
    });
    let err = load(&path).unwrap_err();
    assert!(matches!(err, Error::Layout { .. }), "{err:?}");
    let text = err.to_string();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("libbarrow_compat_layout"), "{text}");
    assert!(text.contains("barrow-plugin 1.2"), "{text}");
    assert!(
        text.contains("expected `description`, found `summary`"),
        "{text}"
    );
    assert!(text.contains("`PluginInfo`"), "{text}");
}
