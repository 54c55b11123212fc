//! What `barrow plugin inspect` and `barrow plugin list` print, here so that
//! it is tested without the binary.

use std::fmt::Write as _;
use std::path::Path;

use barrow_config::Snapshot;

use crate::config::configured_each;
use crate::error::Result;
use crate::load::{Plugin, Provides, load};

/// Everything a plugin file provides, as `barrow plugin inspect PATH`
/// prints it; an error (one line) for a file that is not a loadable plugin.
pub fn inspect(path: &Path) -> Result<String> {
    let plugin = load(path)?;
    Ok(describe(&plugin))
}

fn describe(plugin: &Plugin) -> String {
    let mut out = String::new();
    let (major, minor) = plugin.abi_version();
    let _ = writeln!(out, "name: {}", plugin.name());
    let _ = writeln!(out, "version: {}", plugin.version());
    let _ = writeln!(out, "description: {}", plugin.description());
    let _ = writeln!(
        out,
        "abi: barrow-plugin {major}.{minor} (this program: {}.{})",
        barrow_plugin::ABI_MAJOR,
        barrow_plugin::ABI_MINOR
    );
    let _ = writeln!(out, "file: {}", plugin.path().display());
    for (label, provides) in plugin.capabilities() {
        let items = match label {
            "functions" => plugin.functions(),
            "codecs" => plugin.codecs(),
            "set-up steps" => plugin.setup_steps(),
            _ => plugin.schedulers(),
        };
        match provides {
            Provides::Yes => {
                let _ = writeln!(out, "{label}:");
                for (name, doc) in items {
                    let _ = writeln!(out, "  {name}: {}", first_sentence(&doc));
                }
            }
            Provides::No => {
                let _ = writeln!(out, "{label}: none");
            }
            Provides::Absent { since } => {
                let _ = writeln!(
                    out,
                    "{label}: absent (built against barrow-plugin {major}.{minor}; {label} came \
                     in {major}.{since})"
                );
            }
        }
    }
    let declared = plugin.config_declarations().trim();
    if declared.is_empty() {
        let _ = writeln!(out, "configuration keys: none");
    } else {
        let _ = writeln!(out, "configuration keys (under '{}.'):", plugin.name());
        for line in declared
            .lines()
            .filter(|l| !l.starts_with(' ') && l.ends_with(':'))
        {
            let _ = writeln!(out, "  {}.{}", plugin.name(), line.trim_end_matches(':'));
        }
    }
    out
}

fn first_sentence(doc: &str) -> &str {
    let doc = doc.trim();
    match doc.find(". ") {
        Some(end) => &doc[..=end],
        None => doc,
    }
}

/// The plugins the configuration loads and from where, as `barrow plugin
/// list` prints it; the second value is false when one of them cannot be
/// loaded (its line says why).
pub fn list(config: &Snapshot) -> Result<(String, bool)> {
    let mut out = String::new();
    for key in ["plugins.paths", "plugins.load"] {
        let lookup = config.lookup(key)?;
        let _ = writeln!(out, "{key} = {} (from {})", lookup.value(), lookup.origin());
    }
    let entries = configured_each(config)?;
    if entries.is_empty() {
        let _ = writeln!(out, "no plugins are configured");
    }
    let mut ok = true;
    for (item, path) in entries {
        match path.and_then(|path| load(&path)) {
            Ok(plugin) => {
                let (major, minor) = plugin.abi_version();
                let _ = writeln!(
                    out,
                    "{} {} (barrow-plugin {major}.{minor}) from {}",
                    plugin.name(),
                    plugin.version(),
                    plugin.path().display()
                );
            }
            Err(e) => {
                ok = false;
                let _ = writeln!(out, "{item}: error: {e}");
            }
        }
    }
    Ok((out, ok))
}
