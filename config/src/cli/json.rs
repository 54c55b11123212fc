//! `barrow config list --json`.

use serde_json::{Value as Json, json};

use crate::error::Error;
use crate::setting::Setting;
use crate::snapshot::Snapshot;
use crate::value::{Entry, Value};

/// `{"keys": [...], "unknown": [...], "warnings": [...], "errors": [...]}`.
/// Each key has `key`, `type`, `doc`, `value`, `from`, `layer`, `overrides`
/// (highest layer first) and, if its value is bad, `error`.
pub(super) fn list(snapshot: &Snapshot, errors: &[Error]) -> String {
    let keys: Vec<Json> = snapshot
        .iter()
        .map(|lookup| {
            let declaration = lookup.declaration();
            let (value, error) = match lookup.setting() {
                Ok(setting) => (setting_json(&setting), None),
                Err(err) => (value_json(lookup.value()), Some(err.to_string())),
            };
            let mut object = json!({
                "key": lookup.key(),
                "type": declaration.key_type().name(),
                "doc": declaration.doc(),
                "value": value,
                "from": lookup.origin().to_string(),
                "layer": lookup.origin().layer().name(),
                "overrides": lookup.overridden().map(entry_json).collect::<Vec<_>>(),
            });
            if let (Some(error), Some(fields)) = (error, object.as_object_mut()) {
                fields.insert("error".into(), Json::String(error));
            }
            object
        })
        .collect();
    let unknown: Vec<Json> = snapshot
        .unknown_keys()
        .flat_map(|(key, entries)| {
            let suggestion = snapshot.schema().suggest(key);
            entries.iter().map(move |entry| {
                json!({
                    "key": key,
                    "value": value_json(entry.value()),
                    "from": entry.origin().to_string(),
                    "layer": entry.origin().layer().name(),
                    "suggestion": suggestion,
                })
            })
        })
        .collect();
    let warnings: Vec<&str> = snapshot.warnings().iter().map(|w| w.message()).collect();
    let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let document = json!({
        "keys": keys,
        "unknown": unknown,
        "warnings": warnings,
        "errors": errors,
    });
    format!("{document:#}\n")
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

fn setting_json(setting: &Setting) -> Json {
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

fn value_json(value: &Value) -> Json {
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
