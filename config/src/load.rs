//! The loader: reads the file layers and the environment, splits nested
//! mappings into canonical dotted keys, and remembers where each value came
//! from. A key given twice in one file (under any spelling) is an error.

use std::collections::BTreeMap;
use std::io::{ErrorKind as IoKind, Read as _};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::key::canonical_key;
use crate::schema::Schema;
use crate::sources::{ENV_PREFIX, Sources, WORKER_ENV_PREFIX, is_key_variable};
use crate::value::{Entry, Origin, Value};
use crate::warning::{Warning, WarningKind};
use crate::yaml::{self, Failure, Keyed, MAX_BYTES, Node, Position};

/// Layers 2 to 5, as loaded: every value with its canonical key and origin,
/// in precedence order.
#[derive(Debug, Clone)]
pub(crate) struct Base {
    pub(crate) entries: Vec<(String, Entry)>,
    pub(crate) warnings: Vec<Warning>,
    pub(crate) temp_dir: PathBuf,
    /// Whether this process is a worker that a Barrow program started (its
    /// environment has `BARROW_WORKER_*` variables): the program read the
    /// same files and variables and told its user about their problems, so
    /// the worker does not repeat them.
    pub(crate) in_worker: bool,
}

/// Reads every file of the search path and every `BARROW_*` variable.
pub(crate) fn load(sources: &Sources, schema: &Schema) -> Result<Base> {
    let resolved = sources.resolve();
    let (search_path, mut warnings) = resolved.search_path();
    let mut entries = Vec::new();
    for search in &search_path {
        for path in search.files() {
            let origin = Origin::File {
                layer: search.layer(),
                path: path.clone(),
            };
            match read_file(path)? {
                Ok(table) => entries.extend(leaves_of(table, &origin, schema)?),
                Err(warning) => warnings.push(warning),
            }
        }
    }
    for (name, raw) in &resolved.env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if !is_key_variable(name) {
            continue;
        }
        let segments: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
        if segments.iter().any(|s| s.is_empty()) {
            warnings.push(Warning::new(
                WarningKind::IgnoredVariable,
                format!("{name} is ignored: `__` separates key segments, which cannot be empty"),
            ));
            continue;
        }
        let key = canonical_key(&segments.join("."));
        let origin = Origin::Env(name.clone());
        let node = parse_env_value(raw).map_err(|what| Error::too_large(&origin, &what))?;
        let mut leaves = Vec::new();
        // Keys inside the value are named as written there.
        flatten(key, String::new(), None, node, schema, &mut leaves);
        entries.extend(unique(leaves, &origin)?);
    }
    let in_worker = resolved
        .env
        .keys()
        .any(|name| name.starts_with(WORKER_ENV_PREFIX) && !is_key_variable(name));
    Ok(Base {
        entries,
        warnings,
        temp_dir: resolved.temp_dir,
        in_worker,
    })
}

/// An environment value read as YAML (`4`, `true`, `[a, b]`,
/// `{chunk-size: 1MiB}`); text that is not valid YAML stays text. As in
/// Dask, `None`, `null`, `true` and `false` mean the same in any case.
/// Fails (saying why) only past the limits of [`yaml::parse`].
pub(crate) fn parse_env_value(raw: &str) -> std::result::Result<Node, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "none" | "null" => return Ok(Node::Value(Value::Null)),
        "true" => return Ok(Node::Value(Value::Bool(true))),
        "false" => return Ok(Node::Value(Value::Bool(false))),
        _ => {}
    }
    match yaml::parse(raw) {
        Ok(Some(node)) => Ok(node),
        Ok(None) => Ok(Node::Value(Value::Null)),
        Err(Failure::Syntax { .. }) => Ok(Node::Value(Value::String(raw.to_owned()))),
        Err(Failure::TooLarge { what }) => Err(what),
    }
}

/// One value read from a file or variable: its canonical key, where its
/// key was written (if in a YAML text) and how it was spelled there.
#[derive(Debug)]
pub(crate) struct Leaf {
    key: String,
    written: String,
    at: Option<Position>,
    value: Value,
}

impl Leaf {
    /// The canonical key and the value.
    pub(crate) fn into_parts(self) -> (String, Value) {
        (self.key, self.value)
    }
}

/// The entries of a file's top-level mapping, checked for keys given twice.
pub(crate) fn leaves_of(
    table: Vec<Keyed>,
    origin: &Origin,
    schema: &Schema,
) -> Result<Vec<(String, Entry)>> {
    let mut leaves = Vec::new();
    flatten_entries(String::new(), String::new(), table, schema, &mut leaves);
    unique(leaves, origin)
}

/// Splits nested mappings into dotted canonical keys; stops at declared
/// keys, so that a mapping given to one is kept (and refused when read) as
/// its value. An empty mapping given to a key that is neither declared nor
/// holds declared keys is kept as that key's (empty) value, as Dask keeps
/// `{}`.
pub(crate) fn flatten(
    key: String,
    written: String,
    at: Option<Position>,
    node: Node,
    schema: &Schema,
    out: &mut Vec<Leaf>,
) {
    match node {
        Node::Map(entries) if key.is_empty() || schema.get(&key).is_none() => {
            if entries.is_empty() && !key.is_empty() && !schema.is_namespace(&key) {
                out.push(Leaf {
                    key,
                    written,
                    at,
                    value: Value::Map(BTreeMap::new()),
                });
            } else {
                flatten_entries(key, written, entries, schema, out);
            }
        }
        node => out.push(Leaf {
            key,
            written,
            at,
            value: node.into_value(),
        }),
    }
}

fn flatten_entries(
    key: String,
    written: String,
    entries: Vec<Keyed>,
    schema: &Schema,
    out: &mut Vec<Leaf>,
) {
    let join = |prefix: &str, child: &str| {
        if prefix.is_empty() {
            child.to_owned()
        } else {
            format!("{prefix}.{child}")
        }
    };
    for keyed in entries {
        let child = join(&key, &canonical_key(&keyed.key));
        let spelled = join(&written, &keyed.key);
        flatten(child, spelled, Some(keyed.at), keyed.node, schema, out);
    }
}

/// The leaves as entries, unless two give one key (in any spelling), or one
/// gives a key a value and another keys inside it: then one would silently
/// replace the other, so it is an error naming both places.
fn unique(leaves: Vec<Leaf>, origin: &Origin) -> Result<Vec<(String, Entry)>> {
    let mut seen: BTreeMap<&str, &Leaf> = BTreeMap::new();
    for leaf in &leaves {
        if let Some(first) = seen.get(leaf.key.as_str()) {
            return Err(Error::duplicate_key(
                origin,
                &leaf.key,
                (&first.written, first.at),
                (&leaf.written, leaf.at),
            ));
        }
        seen.insert(&leaf.key, leaf);
    }
    for leaf in &leaves {
        let inside = format!("{}.", leaf.key);
        if let Some((_, nested)) = seen.range(inside.as_str()..).next()
            && nested.key.starts_with(&inside)
        {
            return Err(Error::value_and_keys_inside(
                origin,
                (&leaf.key, &leaf.written, leaf.at),
                (&nested.key, &nested.written, nested.at),
            ));
        }
    }
    Ok(leaves
        .into_iter()
        .map(|leaf| {
            let entry = Entry {
                value: leaf.value,
                origin: origin.clone(),
            };
            (leaf.key, entry)
        })
        .collect())
}

/// Reads and parses one file: `Ok(Err(warning))` when it cannot be read,
/// `Err` when it is not valid YAML, too large, or not a mapping.
pub(crate) fn read_file(path: &Path) -> Result<std::result::Result<Vec<Keyed>, Warning>> {
    let unreadable = |err: std::io::Error| {
        Warning::about_path(
            WarningKind::UnreadableFile,
            path,
            format!(
                "cannot read the configuration file {}: {err}; it is ignored",
                path.display()
            ),
        )
    };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) => return Ok(Err(unreadable(err))),
    };
    // Never more than the limit, whatever the file claims (`/dev/zero`).
    let mut bytes = Vec::new();
    if let Err(err) = file.take(MAX_BYTES as u64 + 1).read_to_end(&mut bytes) {
        return Ok(Err(unreadable(err)));
    }
    if bytes.len() > MAX_BYTES {
        return Err(Error::too_large_file(
            path,
            &yaml::too_large_text(bytes.len()),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|err| {
        let err = std::io::Error::new(IoKind::InvalidData, err);
        Error::syntax(path, None, "it is not UTF-8 text").with_source(err)
    })?;
    parse_yaml(path, &text).map(Ok)
}

/// Parses a file's text: its top-level mapping, or an error naming the
/// file and line.
pub(crate) fn parse_yaml(path: &Path, text: &str) -> Result<Vec<Keyed>> {
    match yaml::parse(text) {
        Ok(None | Some(Node::Value(Value::Null))) => Ok(Vec::new()),
        Ok(Some(Node::Map(entries))) => Ok(entries),
        Ok(Some(Node::Value(other))) => Err(Error::syntax(
            path,
            None,
            &format!(
                "the top level must be a mapping of keys to values, not {}",
                describe(&other)
            ),
        )),
        Err(Failure::Syntax { at, what }) => Err(Error::syntax(
            path,
            at.map(|at| (at.line, at.column)),
            &what,
        )),
        Err(Failure::TooLarge { what }) => Err(Error::too_large_file(path, &what)),
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::List(_) => "a list",
        Value::Map(_) => "a mapping",
        _ => "a single value",
    }
}
