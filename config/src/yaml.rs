//! Reading YAML: yaml-rust2's event parser turned into Barrow's values,
//! within limits, with the position of every mapping key.
//!
//! Barrow builds the values itself instead of using yaml-rust2's loader (or
//! the `config` crate, which uses it) for three reasons:
//!
//! - **Limits.** The loader copies a node for every alias, so a few lines of
//!   nested anchors (a "billion laughs") grow until the process aborts.
//!   Here a text may hold at most [`MAX_VALUES`] values, each alias counting
//!   as every value it repeats, nested at most [`MAX_DEPTH`] deep; the
//!   reader of a file also stops at [`MAX_BYTES`].
//! - **Positions.** Every key keeps its line and column, so a key given twice
//!   (under two spellings, `chunk-size` and `chunk_size`) is an error naming
//!   both places instead of one value vanishing.
//! - **Scalars as YAML 1.2 reads them**: `null`, `Null`, `NULL`, `~` and
//!   nothing are null (the loader keeps `Null` and `NULL` as text); `true`,
//!   `True`, `TRUE` and the `false`s are booleans; `.inf` and `.nan` are
//!   floats. Merge keys (`<<: *defaults`) work as in YAML 1.1 and Dask's
//!   PyYAML.

use std::collections::{HashMap, HashSet};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::key::canonical_key;
use crate::value::Value;

/// The largest configuration file read, in bytes.
pub(crate) const MAX_BYTES: usize = 4 << 20;

/// How deep lists and mappings may nest in one text.
pub(crate) const MAX_DEPTH: usize = 64;

/// How many values (scalars, lists, mappings) one text may hold, counting
/// each alias as all the values it repeats.
pub(crate) const MAX_VALUES: usize = 200_000;

/// A place in a YAML text: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

impl Position {
    /// For values that come from code, not from a text.
    pub(crate) const NOWHERE: Position = Position { line: 0, column: 0 };

    fn of(mark: Marker) -> Position {
        Position {
            line: mark.line(),
            column: mark.col() + 1,
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} column {}", self.line, self.column)
    }
}

/// A parsed YAML node: a mapping keeps its keys as written, in order, with
/// their positions; anything else is a plain value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// A scalar or a list (whose mappings need no positions).
    Value(Value),
    /// A mapping.
    Map(Vec<Keyed>),
}

/// One key of a mapping, as written, where it was written, and its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Keyed {
    pub(crate) key: String,
    pub(crate) at: Position,
    pub(crate) node: Node,
}

impl Node {
    /// The node as a value; of two equal keys in one mapping, the last wins
    /// (loaders check for them before, where it matters).
    pub(crate) fn into_value(self) -> Value {
        match self {
            Node::Value(value) => value,
            Node::Map(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|keyed| (keyed.key, keyed.node.into_value()))
                    .collect(),
            ),
        }
    }

    /// A value as a node (a mapping's keys all at `at`).
    pub(crate) fn from_value(value: Value, at: Position) -> Node {
        match value {
            Value::Map(map) => Node::Map(
                map.into_iter()
                    .map(|(key, value)| Keyed {
                        key,
                        at,
                        node: Node::from_value(value, at),
                    })
                    .collect(),
            ),
            other => Node::Value(other),
        }
    }
}

/// Why a text is not a YAML value Barrow reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Failure {
    /// Not valid YAML, or YAML Barrow cannot use (a list as a key...).
    Syntax { at: Option<Position>, what: String },
    /// Past one of the limits.
    TooLarge { what: String },
}

/// Parses `text`: `Ok(None)` when it holds no value at all (empty, or
/// only comments), else its one document.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, Failure> {
    if text.len() > MAX_BYTES {
        return Err(Failure::TooLarge {
            what: too_large_text(text.len()),
        });
    }
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(scan) = parser.load(&mut builder, true) {
        // A limit reached before the syntax error says more.
        if let Some(failure) = builder.failure {
            return Err(failure);
        }
        return Err(Failure::Syntax {
            at: Some(Position::of(*scan.marker())),
            what: scan.info().to_owned(),
        });
    }
    if let Some(failure) = builder.failure {
        return Err(failure);
    }
    Ok(builder.root)
}

/// Why a text of `len` bytes, past [`MAX_BYTES`], is not read.
pub(crate) fn too_large_text(len: usize) -> String {
    format!(
        "it is larger than {} MiB ({len} bytes or more), the most Barrow reads",
        MAX_BYTES >> 20
    )
}

/// A list or mapping being built.
#[derive(Debug)]
enum Frame {
    List {
        anchor: usize,
        start: usize,
        items: Vec<Value>,
    },
    Map {
        anchor: usize,
        start: usize,
        entries: Vec<Keyed>,
        /// Values of `<<` keys, to merge when the mapping ends.
        merges: Vec<(Position, Node)>,
        /// The key read, waiting for its value; `true` for a merge key.
        key: Option<(String, Position, bool)>,
    },
}

/// A node an anchor names, with the number of values it holds and, for a
/// scalar, its text (for use as a key).
#[derive(Debug)]
struct Anchored {
    node: Node,
    values: usize,
    text: Option<String>,
}

#[derive(Debug, Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    root: Option<Node>,
    documents: usize,
    /// Values seen so far, aliases counted as what they repeat.
    values: usize,
    failure: Option<Failure>,
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.failure.is_some() {
            return;
        }
        if let Err(failure) = self.event(event, Position::of(mark)) {
            self.failure = Some(failure);
        }
    }
}

impl Builder {
    fn event(&mut self, event: Event, at: Position) -> Result<(), Failure> {
        match event {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(Failure::Syntax {
                        at: Some(at),
                        what: "it holds several YAML documents (separated by `---`); \
                               Barrow reads one per file"
                            .to_owned(),
                    });
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, at, false)?;
                if self.take_key(&text, at) {
                    if anchor != 0 {
                        self.anchors.insert(
                            anchor,
                            Anchored {
                                node: Node::Value(resolve(&text, style, tag.as_ref())),
                                values: 1,
                                text: Some(text),
                            },
                        );
                    }
                    return Ok(());
                }
                let value = resolve(&text, style, tag.as_ref());
                if anchor != 0 {
                    self.anchors.insert(
                        anchor,
                        Anchored {
                            node: Node::Value(value.clone()),
                            values: 1,
                            text: Some(text),
                        },
                    );
                }
                self.complete(Node::Value(value), at)?;
            }
            Event::Alias(id) => {
                let Some(anchored) = self.anchors.get(&id) else {
                    return Err(Failure::Syntax {
                        at: Some(at),
                        what: "an alias names no anchor defined before it".to_owned(),
                    });
                };
                let (values, text) = (anchored.values, anchored.text.clone());
                self.count(values, at, true)?;
                if let Some(text) = text
                    && self.take_key(&text, at)
                {
                    return Ok(());
                }
                if self.expects_key() {
                    return Err(key_not_text(at));
                }
                let node = self.anchors.get(&id).map(|a| a.node.clone());
                if let Some(node) = node {
                    self.complete(node, at)?;
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.expects_key() {
                    return Err(key_not_text(at));
                }
                if self.stack.len() >= MAX_DEPTH {
                    return Err(Failure::TooLarge {
                        what: format!(
                            "its lists and mappings nest deeper than {MAX_DEPTH} levels (at {at})"
                        ),
                    });
                }
                let start = self.values;
                self.count(1, at, false)?;
                self.stack
                    .push(if matches!(event, Event::SequenceStart(..)) {
                        Frame::List {
                            anchor,
                            start,
                            items: Vec::new(),
                        }
                    } else {
                        Frame::Map {
                            anchor,
                            start,
                            entries: Vec::new(),
                            merges: Vec::new(),
                            key: None,
                        }
                    });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor, start) = match self.stack.pop() {
                    Some(Frame::List {
                        anchor,
                        start,
                        items,
                    }) => (Node::Value(Value::List(items)), anchor, start),
                    Some(Frame::Map {
                        anchor,
                        start,
                        entries,
                        merges,
                        ..
                    }) => (Node::Map(merge(entries, merges)?), anchor, start),
                    None => return Ok(()),
                };
                if anchor != 0 {
                    self.anchors.insert(
                        anchor,
                        Anchored {
                            node: node.clone(),
                            values: self.values - start,
                            text: None,
                        },
                    );
                }
                self.complete(node, at)?;
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
        Ok(())
    }

    /// Counts `more` values, failing past [`MAX_VALUES`].
    fn count(&mut self, more: usize, at: Position, alias: bool) -> Result<(), Failure> {
        self.values = self.values.saturating_add(more);
        if self.values <= MAX_VALUES {
            return Ok(());
        }
        Err(Failure::TooLarge {
            what: if alias {
                format!(
                    "its aliases expand it past {MAX_VALUES} values, the most Barrow reads (the \
                     alias at {at} repeats {more}); nested anchors that repeat each other grow \
                     exponentially: write the values out, or use fewer levels of aliases"
                )
            } else {
                format!("it holds more than {MAX_VALUES} values, the most Barrow reads")
            },
        })
    }

    fn expects_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    /// Takes `text` as the key of the current mapping if a key is expected.
    fn take_key(&mut self, text: &str, at: Position) -> bool {
        match self.stack.last_mut() {
            Some(Frame::Map {
                key: key @ None, ..
            }) => {
                *key = Some((text.to_owned(), at, text == "<<"));
                true
            }
            _ => false,
        }
    }

    /// Adds a finished node to its list or mapping, or makes it the root.
    fn complete(&mut self, node: Node, at: Position) -> Result<(), Failure> {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::List { items, .. }) => items.push(node.into_value()),
            Some(Frame::Map {
                entries,
                merges,
                key,
                ..
            }) => match key.take() {
                Some((_, _, true)) => merges.push((at, node)),
                Some((key, at, false)) => entries.push(Keyed { key, at, node }),
                None => return Err(key_not_text(at)),
            },
        }
        Ok(())
    }
}

fn key_not_text(at: Position) -> Failure {
    Failure::Syntax {
        at: Some(at),
        what: "a key must be text, not a list or a mapping".to_owned(),
    }
}

/// Adds the keys of the mappings merged with `<<` that `entries` does not
/// give itself (YAML's merge key: the mapping's own keys win, then the
/// earlier merged mappings). Keys are compared in their canonical form, so
/// `chunk_size` given beside a merged `chunk-size` overrides it.
fn merge(mut entries: Vec<Keyed>, merges: Vec<(Position, Node)>) -> Result<Vec<Keyed>, Failure> {
    if merges.is_empty() {
        return Ok(entries);
    }
    let mut given: HashSet<String> = entries.iter().map(|k| canonical_key(&k.key)).collect();
    for (at, node) in merges {
        let maps = match node {
            Node::Map(map) => vec![map],
            Node::Value(Value::List(items)) => items
                .into_iter()
                .map(|item| match Node::from_value(item, at) {
                    Node::Map(map) => Ok(map),
                    Node::Value(_) => Err(merge_not_a_mapping(at)),
                })
                .collect::<Result<_, _>>()?,
            Node::Value(_) => return Err(merge_not_a_mapping(at)),
        };
        for keyed in maps.into_iter().flatten() {
            if given.insert(canonical_key(&keyed.key)) {
                entries.push(keyed);
            }
        }
    }
    Ok(entries)
}

fn merge_not_a_mapping(at: Position) -> Failure {
    Failure::Syntax {
        at: Some(at),
        what: "`<<` merges mappings: give it an alias of a mapping, or a list of them".to_owned(),
    }
}

/// The value of a scalar: quoted and block scalars are text; plain ones
/// are null, booleans, integers or floats when they read as one (YAML 1.2's
/// core schema), else text. `!!str`, `!!int`... tags are obeyed.
fn resolve(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag {
        if tag.handle != "tag:yaml.org,2002:" {
            return Value::String(text.to_owned());
        }
        let plain = resolve_plain(text);
        let fits = match (tag.suffix.as_str(), &plain) {
            ("null", Value::Null)
            | ("bool", Value::Bool(_))
            | ("int", Value::Integer(_))
            | ("float", Value::Float(_)) => true,
            ("float", Value::Integer(i)) => return Value::Float(*i as f64),
            _ => false,
        };
        return if fits {
            plain
        } else {
            Value::String(text.to_owned())
        };
    }
    if style == TScalarStyle::Plain {
        resolve_plain(text)
    } else {
        Value::String(text.to_owned())
    }
}

fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let unsigned = text.strip_prefix('+').unwrap_or(text);
    let integer = if let Some(hex) = text.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(octal) = text.strip_prefix("0o") {
        i64::from_str_radix(octal, 8).ok()
    } else {
        unsigned.parse::<i64>().ok()
    };
    if let Some(i) = integer {
        return Value::Integer(i);
    }
    // A digit is required, so that words Rust reads as floats ("inf",
    // "NaN") stay text.
    if text.bytes().any(|b| b.is_ascii_digit())
        && let Ok(x) = unsigned.parse::<f64>()
    {
        return Value::Float(x);
    }
    Value::String(text.to_owned())
}

#[cfg(test)]
mod test;
