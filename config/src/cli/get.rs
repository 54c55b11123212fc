//! `barrow config get KEY [--json]`: one key's value, or the keys inside
//! it, declared ones in their checked form.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value as Json;

use super::json::{setting_json, value_json};
use super::{Output, snapshot_or_fail};
use crate::error::{Error, ErrorKind};
use crate::instance::Config;
use crate::key::{canonical_key, is_inside, is_well_formed};
use crate::setting::Setting;
use crate::snapshot::Snapshot;
use crate::value::Value;
use crate::warning::CallerReports;

/// What one leaf shows: a declared key's checked value, or the value of a
/// key nobody declared as its layer gave it.
enum Shown {
    Declared(Setting),
    Undeclared(Value),
}

/// A tree of shown leaves, keys relative to the key asked for.
enum Node {
    Leaf(Shown),
    Map(BTreeMap<String, Node>),
}

/// `barrow config get KEY`: the value alone on stdout (nothing for an
/// unset key); for a key that holds others (`array`), those keys as YAML.
/// With `as_json`, the value as JSON (`null` when unset; an object, with
/// keys in `-` form, for a key that holds others). Exit 1 for a key
/// nobody sets or declares, or a bad value.
pub fn get(config: &Config, key: &str, as_json: bool) -> Output {
    let _shown_here = CallerReports::new();
    let (snapshot, out) = match snapshot_or_fail(config, Output::default()) {
        Ok(ok) => ok,
        Err(out) => return out,
    };
    match shown(&snapshot, key) {
        Ok(node) => Output {
            stdout: if as_json {
                format!("{:#}\n", node_json(&node))
            } else {
                node_text(&node)
            },
            ..out
        },
        Err(err) => out.fail(err),
    }
}

fn shown(snapshot: &Snapshot, key: &str) -> Result<Node, Error> {
    let key = canonical_key(key);
    if !is_well_formed(&key) {
        return Err(Error::unknown_key(&key, None, None));
    }
    if snapshot.schema().get(&key).is_some() {
        return Ok(Node::Leaf(Shown::Declared(snapshot.setting(&key)?)));
    }
    let mut root = BTreeMap::new();
    let mut found = false;
    for (leaf, entry) in snapshot.leaves() {
        let relative = if leaf == key {
            ""
        } else if is_inside(leaf, &key) {
            &leaf[key.len() + 1..]
        } else {
            continue;
        };
        found = true;
        let shown = match snapshot.schema().get(leaf) {
            Some(_) => Shown::Declared(snapshot.setting(leaf)?),
            None => Shown::Undeclared(entry.value().clone()),
        };
        if relative.is_empty() {
            return Ok(Node::Leaf(shown));
        }
        insert(&mut root, relative, shown);
    }
    if !found {
        let mut message = format!("no configuration key \"{key}\" is set or declared");
        match snapshot.schema().suggest(&key) {
            Some(s) => message.push_str(&format!("; did you mean \"{s}\"?")),
            None => message.push_str("; `barrow config list` shows every key"),
        }
        return Err(Error::new(ErrorKind::UnknownKey, message));
    }
    Ok(Node::Map(root))
}

fn insert(map: &mut BTreeMap<String, Node>, relative: &str, shown: Shown) {
    match relative.split_once('.') {
        None => {
            map.insert(relative.to_owned(), Node::Leaf(shown));
        }
        Some((first, rest)) => {
            let child = map
                .entry(first.to_owned())
                .or_insert_with(|| Node::Map(BTreeMap::new()));
            if let Node::Leaf(_) = child {
                *child = Node::Map(BTreeMap::new());
            }
            if let Node::Map(inner) = child {
                insert(inner, rest, shown);
            }
        }
    }
}

fn node_json(node: &Node) -> Json {
    match node {
        Node::Leaf(Shown::Declared(setting)) => setting_json(setting),
        Node::Leaf(Shown::Undeclared(value)) => value_json(value),
        Node::Map(map) => Json::Object(
            map.iter()
                .map(|(key, child)| (key.clone(), node_json(child)))
                .collect(),
        ),
    }
}

/// A leaf alone as plain text; a mapping as a YAML block a file could hold.
fn node_text(node: &Node) -> String {
    match node {
        Node::Leaf(Shown::Declared(Setting::Unset) | Shown::Undeclared(Value::Null)) => {
            String::new()
        }
        Node::Leaf(Shown::Declared(setting)) => format!("{setting}\n"),
        Node::Leaf(Shown::Undeclared(Value::String(text))) => format!("{text}\n"),
        Node::Leaf(Shown::Undeclared(value)) => format!("{}\n", yaml_inline(value)),
        Node::Map(map) => {
            let mut text = String::new();
            yaml_block(&mut text, map, 0);
            text
        }
    }
}

fn yaml_block(text: &mut String, map: &BTreeMap<String, Node>, indent: usize) {
    for (key, node) in map {
        let pad = " ".repeat(indent);
        match node {
            Node::Map(inner) => {
                let _ = writeln!(text, "{pad}{}:", yaml_text(key));
                yaml_block(text, inner, indent + 2);
            }
            Node::Leaf(shown) => {
                let value = match shown {
                    Shown::Declared(Setting::Unset) => "null".to_owned(),
                    Shown::Declared(Setting::List(items)) => {
                        yaml_inline(&Value::from(items.clone()))
                    }
                    Shown::Declared(Setting::PathList(items)) => yaml_inline(&Value::List(
                        items.iter().map(|p| Value::from(p.as_path())).collect(),
                    )),
                    Shown::Declared(setting) => yaml_text(&setting.to_string()),
                    Shown::Undeclared(value) => yaml_inline(value),
                };
                let _ = writeln!(text, "{pad}{}: {value}", yaml_text(key));
            }
        }
    }
}

/// A value in YAML's flow style, strings quoted only where YAML needs it.
fn yaml_inline(value: &Value) -> String {
    match value {
        Value::String(s) => yaml_text(s),
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(yaml_inline).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(map) => {
            let items: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", yaml_text(k), yaml_inline(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// Text as a YAML scalar: plain when it reads back as the same text (also
/// inside a flow list or mapping), else double-quoted.
fn yaml_text(text: &str) -> String {
    let flow = |c: char| ",[]{}".contains(c) || c.is_control();
    let plain = !text.is_empty()
        && text.trim() == text
        && !text.chars().any(flow)
        && !text.contains(": ")
        && !text.contains(" #")
        && matches!(
            crate::yaml::parse(text),
            Ok(Some(crate::yaml::Node::Value(Value::String(ref s)))) if s == text
        );
    if plain {
        text.to_owned()
    } else {
        format!("{text:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_quoted_only_where_yaml_needs_it() {
        assert_eq!(yaml_text("threads"), "threads");
        assert_eq!(yaml_text("128MiB"), "128MiB");
        assert_eq!(yaml_text("/opt/plugins"), "/opt/plugins");
        assert_eq!(yaml_text("https://example.org"), "https://example.org");
        for needs in [
            "4", "true", "null", "", " x", "a: b", "#x", "[x]", "~", "a, b", "*x", "&x y", "- x",
        ] {
            assert_eq!(yaml_text(needs), format!("{needs:?}"), "{needs}");
        }
        let value = Value::from(vec![Value::from(1), Value::from("3"), Value::from("x")]);
        assert_eq!(yaml_inline(&value), r#"[1, "3", x]"#);
    }
}
