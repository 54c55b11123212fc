//! `barrow config list --json`.

use serde_json::{Value as Json, json};

use crate::error::Error;
use crate::setting::Setting;
use crate::snapshot::Snapshot;
use crate::value::{Entry, Value};

/// `{"keys": [...], "tree": {...}, "warnings": [...], "errors": [...]}`.
///
/// `keys` lists every declared key, then every key nobody declared that
/// holds a value; each has `key`, `declared`, `type` and `doc` (null when
/// undeclared), `value` (checked when declared), `from`, `layer`,
/// `overrides` (highest layer first), `suggestion` (a declared key an
/// undeclared one looks like, or null) and, if its value is bad, `error`.
///
/// `tree` is the merged tree: an object of nodes by name, where a node
/// holding keys is `{"keys": {...}}` and a leaf is `{"value": ..., "from":
/// ..., "layer": ..., "declared": ...}`.
pub(super) fn list(snapshot: &Snapshot, errors: &[Error]) -> String {
    let mut keys: Vec<Json> = snapshot
        .iter()
        .map(|lookup| {
            let declaration = lookup.declaration();
            let (value, error) = match lookup.setting() {
                Ok(setting) => (setting_json(&setting), None),
                Err(err) => (value_json(lookup.value()), Some(err.to_string())),
            };
            let mut object = json!({
                "key": lookup.key(),
                "declared": true,
                "type": declaration.key_type().name(),
                "doc": declaration.doc(),
                "value": value,
                "from": lookup.origin().to_string(),
                "layer": lookup.origin().layer().name(),
                "overrides": lookup.overridden().map(entry_json).collect::<Vec<_>>(),
                "suggestion": null,
            });
            if let (Some(error), Some(fields)) = (error, object.as_object_mut()) {
                fields.insert("error".into(), Json::String(error));
            }
            object
        })
        .collect();
    let mut tree = serde_json::Map::new();
    for (key, winner) in snapshot.leaves() {
        let declared = snapshot.schema().get(key).is_some();
        let value = if declared {
            snapshot
                .setting(key)
                .map_or_else(|_| value_json(winner.value()), |s| setting_json(&s))
        } else {
            value_json(winner.value())
        };
        let leaf = json!({
            "value": value,
            "from": winner.origin().to_string(),
            "layer": winner.origin().layer().name(),
            "declared": declared,
        });
        insert(&mut tree, key, leaf);
        if declared {
            continue;
        }
        let layers = snapshot
            .unknown_keys()
            .find(|(k, _)| *k == key)
            .map_or(&[][..], |(_, entries)| entries);
        keys.push(json!({
            "key": key,
            "declared": false,
            "type": null,
            "doc": null,
            "value": value_json(winner.value()),
            "from": winner.origin().to_string(),
            "layer": winner.origin().layer().name(),
            "overrides": layers.iter().rev().skip(1).map(entry_json).collect::<Vec<_>>(),
            "suggestion": snapshot.schema().suggest(key),
        }));
    }
    let warnings: Vec<&str> = snapshot.warnings().iter().map(|w| w.message()).collect();
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let document = json!({
        "keys": keys,
        "tree": tree,
        "warnings": warnings,
        "errors": errors,
    });
    format!("{document:#}\n")
}

/// Puts `leaf` at the dotted `key` of `tree`, as `{"keys": {...}}` nodes.
fn insert(tree: &mut serde_json::Map<String, Json>, key: &str, leaf: Json) {
    match key.split_once('.') {
        None => {
            tree.insert(key.to_owned(), leaf);
        }
        Some((first, rest)) => {
            let node = tree
                .entry(first.to_owned())
                .or_insert_with(|| json!({"keys": {}}));
            if node.get("keys").is_none() {
                *node = json!({"keys": {}});
            }
            if let Some(Json::Object(inner)) = node.get_mut("keys") {
                insert(inner, rest, leaf);
            }
        }
    }
}

fn entry_json(entry: &Entry) -> Json {
    json!({
        "value": value_json(entry.value()),
        "from": entry.origin().to_string(),
        "layer": entry.origin().layer().name(),
    })
}

/// A float as a JSON number; infinities and NaN (which JSON lacks) as text.
fn number(x: f64) -> Json {
    serde_json::Number::from_f64(x).map_or_else(|| Json::String(x.to_string()), Json::Number)
}

pub(super) fn setting_json(setting: &Setting) -> Json {
    match setting {
        Setting::Unset => Json::Null,
        Setting::Integer(i) => json!(i),
        Setting::Float(x) => number(*x),
        Setting::Bool(b) => json!(b),
        Setting::List(items) => json!(items),
        Setting::PathList(items) => Json::Array(
            items
                .iter()
                .map(|p| json!(p.display().to_string()))
                .collect(),
        ),
        other => Json::String(other.to_string()),
    }
}

pub(super) fn value_json(value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Integer(i) => json!(i),
        Value::Float(x) => number(*x),
        Value::String(s) => json!(s),
        Value::List(items) => Json::Array(items.iter().map(value_json).collect()),
        Value::Map(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), value_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_become_json() {
        assert_eq!(number(1.25), json!(1.25));
        assert_eq!(number(f64::INFINITY), json!("inf"));
        assert_eq!(
            value_json(&Value::from(vec![
                Value::Null,
                Value::from(2),
                Value::from("x")
            ])),
            json!([null, 2, "x"])
        );
    }
}
