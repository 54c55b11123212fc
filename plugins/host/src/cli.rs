//! What `barrow plugin inspect` and `barrow plugin list` print, here so that
//! it is tested without the binary.

use std::fmt::Write as _;
use std::path::Path;

use barrow_config::Snapshot;

use crate::config::configured_each;
use crate::error::Result;
use barrow_plugin::meta::Metadata;

use crate::load::{KNOWN, Plugin, Provides, load};

/// Everything a plugin file provides, as `barrow plugin inspect PATH`
/// prints it; an error (one line) for a file that is not a plugin.
///
/// The file is checked and its description read from the section the
/// export macro embeds, without loading it: none of the plugin's code runs.
/// A plugin built before descriptions were embedded is loaded to be
/// described (after the same checks).
pub fn inspect(path: &Path) -> Result<String> {
    let canonical = crate::load::canonical(path)?;
    let checked = crate::check::check_file(&canonical)?;
    let description = match checked.metadata {
        Some(meta) => Description::from_metadata(meta, &canonical),
        None => Description::from_loaded(&*load(path)?),
    };
    Ok(description.render())
}

/// One capability: its report name, whether the plugin provides it, and
/// its items (name, documentation).
type Capability = (&'static str, Provides, Vec<(String, String)>);

/// What `inspect` prints, from a loaded plugin or from its file.
struct Description {
    name: String,
    version: String,
    description: String,
    abi: (u32, u32),
    file: String,
    read_from_file: bool,
    capabilities: Vec<Capability>,
    config: String,
}

impl Description {
    fn from_loaded(plugin: &Plugin) -> Description {
        let capabilities = plugin
            .capabilities()
            .into_iter()
            .map(|(label, provides)| {
                let items = match label {
                    "functions" => plugin.functions(),
                    "codecs" => plugin.codecs(),
                    "set-up steps" => plugin.setup_steps(),
                    "schedulers" => plugin.schedulers(),
                    _ => plugin.hooks(),
                };
                (label, provides, items)
            })
            .collect();
        Description {
            name: plugin.name().to_owned(),
            version: plugin.version().to_owned(),
            description: plugin.description().to_owned(),
            abi: plugin.abi_version(),
            file: plugin.path().display().to_string(),
            read_from_file: false,
            capabilities,
            config: plugin.config_declarations().to_owned(),
        }
    }

    fn from_metadata(meta: Metadata, path: &Path) -> Description {
        let namespaced = |name: &str| format!("{}.{name}", meta.name);
        let lists: [Vec<(String, String)>; 5] = [
            meta.functions
                .iter()
                .map(|f| (namespaced(&f.name), f.doc.clone()))
                .collect(),
            meta.codecs
                .iter()
                .map(|tag| (tag.clone(), String::new()))
                .collect(),
            meta.setup
                .iter()
                .map(|s| (namespaced(&s.name), s.doc.clone()))
                .collect(),
            meta.schedulers
                .iter()
                .map(|s| (s.name.clone(), s.doc.clone()))
                .collect(),
            meta.hooks
                .iter()
                .map(|h| (namespaced(&h.name), h.doc.clone()))
                .collect(),
        ];
        let capabilities = KNOWN
            .iter()
            .zip(lists)
            .map(|(&(_, since, label), items)| {
                let provides = if !items.is_empty() {
                    Provides::Yes
                } else if meta.abi.1 < since {
                    Provides::Absent { since }
                } else {
                    Provides::No
                };
                (label, provides, items)
            })
            .collect();
        Description {
            name: meta.name,
            version: meta.version,
            description: meta.description,
            abi: meta.abi,
            file: path.display().to_string(),
            read_from_file: true,
            capabilities,
            config: meta.config,
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        let (major, minor) = self.abi;
        let _ = writeln!(out, "name: {}", self.name);
        let _ = writeln!(out, "version: {}", self.version);
        let _ = writeln!(out, "description: {}", self.description);
        let loadable = if major == barrow_plugin::ABI_MAJOR {
            ""
        } else {
            "; another major version: this program cannot load it"
        };
        let _ = writeln!(
            out,
            "abi: barrow-plugin {major}.{minor} (this program: {}.{}{loadable})",
            barrow_plugin::ABI_MAJOR,
            barrow_plugin::ABI_MINOR
        );
        let _ = writeln!(out, "file: {}", self.file);
        if self.read_from_file {
            let _ = writeln!(
                out,
                "read from the file's embedded description; nothing was loaded"
            );
        }
        for (label, provides, items) in &self.capabilities {
            match provides {
                Provides::Yes => {
                    let _ = writeln!(out, "{label}:");
                    for (name, doc) in items {
                        let _ = writeln!(out, "  {name}: {}", first_sentence(doc));
                    }
                }
                Provides::No => {
                    let _ = writeln!(out, "{label}: none");
                }
                Provides::Absent { since } => {
                    let _ = writeln!(
                        out,
                        "{label}: absent (built against barrow-plugin {major}.{minor}; {label} \
                         came in {major}.{since})"
                    );
                }
            }
        }
        let declared = self.config.trim();
        if declared.is_empty() {
            let _ = writeln!(out, "configuration keys: none");
        } else {
            let _ = writeln!(out, "configuration keys (under '{}.'):", self.name);
            for line in declared
                .lines()
                .filter(|l| !l.starts_with(' ') && l.ends_with(':'))
            {
                let _ = writeln!(out, "  {}.{}", self.name, line.trim_end_matches(':'));
            }
        }
        out
    }
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
