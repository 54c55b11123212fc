//! `barrow plugin new NAME`: a plugin crate that builds and loads as it is,
//! with an example function, one that takes parameters, and their tests.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where the new crate's `barrow-plugin` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginDependency {
    /// A folder holding `barrow-plugin` (a checkout of Barrow's
    /// `plugins/abi`).
    Path(PathBuf),
    /// A git repository holding Barrow (cargo finds `barrow-plugin` in it).
    Git(String),
    /// A version from a registry (`"1.1"`).
    Version(String),
}

impl PluginDependency {
    /// The `barrow-plugin` this program was built from, when its sources
    /// are still where they were built (a checkout of Barrow); else the
    /// version from a registry.
    pub fn of_this_build() -> PluginDependency {
        let abi = Path::new(env!("CARGO_MANIFEST_DIR")).join("../abi");
        match abi.canonicalize() {
            Ok(path) if path.join("Cargo.toml").is_file() => PluginDependency::Path(path),
            _ => PluginDependency::Version(format!(
                "{}.{}",
                barrow_plugin::ABI_MAJOR,
                barrow_plugin::ABI_MINOR
            )),
        }
    }

    fn toml(&self) -> String {
        let quoted = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        match self {
            PluginDependency::Path(path) => {
                format!("{{ path = {} }}", quoted(&path.display().to_string()))
            }
            PluginDependency::Git(url) => format!("{{ git = {} }}", quoted(url)),
            PluginDependency::Version(version) => quoted(version),
        }
    }
}

/// Writes the crate of a new plugin `name` in `parent/name` and returns its
/// folder: `Cargo.toml` (a workspace of its own, `cdylib` and `rlib`) and
/// `src/lib.rs`. It builds with `cargo build` and loads as it is.
///
/// # Errors
/// A name that is not a valid plugin namespace (lowercase letters, digits
/// and `-`, starting with a letter), a folder that exists already, or a
/// file that cannot be written.
pub fn new_plugin(parent: &Path, name: &str, dependency: &PluginDependency) -> Result<PathBuf> {
    let invalid = |problem: String| Error::Invalid {
        path: parent.join(name),
        problem,
    };
    if !crate::load::valid_name(name) {
        return Err(invalid(format!(
            "{name:?} is not a valid plugin name: use lowercase letters, digits and '-', \
             starting with a letter (it becomes the namespace of the plugin's functions)"
        )));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(invalid(format!(
            "{} exists already: choose another name or folder",
            dir.display()
        )));
    }
    let write = |relative: &str, contents: String| {
        let path = dir.join(relative);
        let made = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, contents));
        made.map_err(|e| invalid(format!("cannot write {}: {e}", path.display())))
    };
    let library = name.replace('-', "_");
    write(
        "Cargo.toml",
        CARGO_TOML
            .replace("{name}", name)
            .replace("{dependency}", &dependency.toml()),
    )?;
    write(
        "src/lib.rs",
        LIB_RS
            .replace("{name}", name)
            .replace("{library}", &library),
    )?;
    write(".gitignore", "/target\n".to_owned())?;
    Ok(dir)
}

const CARGO_TOML: &str = r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
description = "A Barrow plugin."

# A workspace of its own, even inside another project's folder.
[workspace]

[lib]
# cdylib: the library a Barrow program loads; rlib: so that tests link it.
crate-type = ["cdylib", "rlib"]

[dependencies]
barrow-plugin = {dependency}
"#;

const LIB_RS: &str = r#"//! `{name}`: a Barrow plugin.
//!
//! ```sh
//! cargo build --release
//! barrow plugin inspect target/release/lib{library}.so   # what it provides
//! BARROW_PLUGINS__PATHS=target/release BARROW_PLUGINS__LOAD={name} your-program
//! ```

use barrow_plugin::{Call, Function, Out, Plugin, Result, export_plugin};

/// Doubles every element of an array's block or a bag's partition.
fn double(call: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
    let x = call.numbers::<f64>(0)?;
    for (y, x) in out.like::<f64, f64>(&x)?.iter_mut().zip(x.data) {
        *y = 2.0 * x;
    }
    Ok(())
}

/// Multiplies every element by the factor the program binds:
/// `barrow_plugin_host::function_with_params("{name}.scale", &2.5)`.
fn scale(call: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
    let factor: f64 = call.params_as()?;
    let x = call.numbers::<f64>(0)?;
    for (y, x) in out.like::<f64, f64>(&x)?.iter_mut().zip(x.data) {
        *y = factor * x;
    }
    Ok(())
}

/// The plugin. Its name is the namespace of its functions
/// (`{name}.double`) and configuration keys.
pub static PLUGIN: Plugin = Plugin {
    name: "{name}",
    version: env!("CARGO_PKG_VERSION"),
    description: "Doubles and scales blocks of numbers.",
    functions: &[
        Function::new("double", "Doubles every element.", double),
        Function::with_params(
            "scale",
            "Multiplies every element by the bound factor (an f64).",
            scale,
        ),
    ],
    ..Plugin::EMPTY
};

export_plugin!(PLUGIN);

#[cfg(test)]
mod tests {
    use super::PLUGIN;
    use barrow_plugin::testing::{self, Value};

    #[test]
    fn double_doubles_every_element() {
        let out = testing::call(&PLUGIN, "double", &[Value::vec(&[1.0f64, 2.0])]).unwrap();
        assert_eq!(out.numbers::<f64>(), Some((&[2usize][..], &[2.0, 4.0][..])));
    }

    #[test]
    fn scale_multiplies_by_its_parameter() {
        let x = [Value::vec(&[1.0f64, -2.0])];
        let out = testing::call_with(&PLUGIN, "scale", &3.0f64, &x).unwrap();
        assert_eq!(out.numbers::<f64>(), Some((&[2usize][..], &[3.0, -6.0][..])));
        assert!(testing::call(&PLUGIN, "scale", &x).is_err(), "no factor bound");
    }
}
"#;
