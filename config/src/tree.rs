//! The merged tree: every key that holds a value once all layers are
//! applied, declared or not, merged as Dask's `update` merges dicts.
//!
//! Each layer's values arrive as leaves (`array.chunk-size = 64MiB`), in
//! precedence order. Mappings merge key by key, and anything else replaces
//! whole: a leaf hides the leaves below it that came before (`x: [1, 2]`
//! replaces an earlier `x.y: 1`), and leaves below a key hide an earlier
//! value of the key itself (`x.y: 1` replaces an earlier `x: 5`, which
//! becomes a mapping). An empty mapping (`x: {}`) only makes sure `x` is a
//! mapping, as merging `{}` does in Dask.
//!
//! Declared keys are protected: a value given to a key that holds declared
//! keys (`array: 5`) or a key inside a declared key (`num-workers.x: 1`)
//! would replace or corrupt Barrow's own keys, so it is left out of the
//! tree (and warned about, see [`protected`]).

use std::collections::BTreeMap;

use crate::schema::Schema;
use crate::value::{Entry, Value};

/// The leaves of the merged tree, by canonical key.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tree {
    leaves: BTreeMap<String, Entry>,
}

/// Why an undeclared key cannot enter the tree, if it cannot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Protected {
    /// The key holds declared keys (`array`).
    Namespace,
    /// The key is inside this declared key.
    InsideDeclared(String),
}

/// Whether `key` (canonical, undeclared) would replace declared keys.
pub(crate) fn protected(schema: &Schema, key: &str) -> Option<Protected> {
    if schema.get(key).is_some() {
        return None;
    }
    if schema.is_namespace(key) {
        return Some(Protected::Namespace);
    }
    ancestors(key)
        .find(|ancestor| schema.get(ancestor).is_some())
        .map(|declared| Protected::InsideDeclared(declared.to_owned()))
}

/// The proper prefixes of a dotted key, longest first: `a.b.c` → `a.b`, `a`.
fn ancestors(key: &str) -> impl Iterator<Item = &str> {
    key.rmatch_indices('.').map(move |(at, _)| &key[..at])
}

impl Tree {
    /// Applies one layer's value of `key` on top of the tree.
    pub(crate) fn apply(&mut self, schema: &Schema, key: &str, entry: &Entry) {
        if protected(schema, key).is_some() {
            return;
        }
        let has_inside = self.inside(key).next().is_some();
        if matches!(&entry.value, Value::Map(map) if map.is_empty()) && has_inside {
            return;
        }
        if has_inside {
            let inside: Vec<String> = self.inside(key).map(|(k, _)| k.to_owned()).collect();
            for below in inside {
                self.leaves.remove(&below);
            }
        }
        for ancestor in ancestors(key) {
            self.leaves.remove(ancestor);
        }
        self.leaves.insert(key.to_owned(), entry.clone());
    }

    /// The leaves below `key` (not `key` itself), sorted.
    pub(crate) fn inside<'a>(&'a self, key: &str) -> impl Iterator<Item = (&'a str, &'a Entry)> {
        let prefix = format!("{key}.");
        self.leaves
            .range(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
            .map(|(k, e)| (k.as_str(), e))
    }

    /// The winning entry of the leaf `key`, if it is one.
    pub(crate) fn leaf(&self, key: &str) -> Option<&Entry> {
        self.leaves.get(key)
    }

    /// Every leaf, sorted by key.
    pub(crate) fn leaves(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.leaves.iter().map(|(k, e)| (k.as_str(), e))
    }

    /// The value at `key`: a leaf's value, or the mapping of the leaves
    /// below it (keys relative to `key`); `None` if nothing is there. An
    /// empty `key` is the whole tree.
    pub(crate) fn value(&self, key: &str) -> Option<Value> {
        if key.is_empty() {
            return Some(nest(self.leaves()));
        }
        if let Some(entry) = self.leaves.get(key) {
            return Some(entry.value.clone());
        }
        let prefix_len = key.len() + 1;
        let mut inside = self.inside(key).peekable();
        inside.peek()?;
        Some(nest(inside.map(|(k, e)| (&k[prefix_len..], e))))
    }
}

/// Nested mappings from dotted keys and their entries.
fn nest<'a>(leaves: impl Iterator<Item = (&'a str, &'a Entry)>) -> Value {
    let mut root = BTreeMap::new();
    for (key, entry) in leaves {
        let segments: Vec<&str> = key.split('.').collect();
        insert(&mut root, &segments, &entry.value);
    }
    Value::Map(root)
}

/// Puts `value` at the path `segments` of `map`, making mappings on the way.
fn insert(map: &mut BTreeMap<String, Value>, segments: &[&str], value: &Value) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    if rest.is_empty() {
        // An empty mapping leaf beside keys already there keeps them.
        if !(matches!(value, Value::Map(m) if m.is_empty()) && map.contains_key(*first)) {
            map.insert((*first).to_owned(), value.clone());
        }
        return;
    }
    let child = map
        .entry((*first).to_owned())
        .or_insert_with(|| Value::Map(BTreeMap::new()));
    if !matches!(child, Value::Map(_)) {
        *child = Value::Map(BTreeMap::new());
    }
    if let Value::Map(inner) = child {
        insert(inner, rest, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Origin;

    fn entry(value: impl Into<Value>) -> Entry {
        Entry {
            value: value.into(),
            origin: Origin::Global,
        }
    }

    fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn later_values_replace_structure_as_dask_update_does() {
        let schema = Schema::default();
        let mut tree = Tree::default();
        tree.apply(&schema, "x", &entry(vec![1, 2]));
        tree.apply(&schema, "w", &entry(3));
        tree.apply(&schema, "x.y", &entry(1));
        tree.apply(&schema, "x.z", &entry(2));
        assert_eq!(
            tree.value("x"),
            Some(map(&[("y", 1.into()), ("z", 2.into())]))
        );
        tree.apply(&schema, "x", &entry(vec![1, 2]));
        assert_eq!(tree.value("x"), Some(Value::from(vec![1, 2])));
        assert_eq!(tree.value("x.y"), None);
        // Null is a value; a mapping replaces it.
        tree.apply(&schema, "a", &entry(Value::Null));
        assert_eq!(tree.value("a"), Some(Value::Null));
        tree.apply(&schema, "a.b", &entry(1));
        assert_eq!(tree.value("a"), Some(map(&[("b", 1.into())])));
        // `{}` merges: it keeps what is there, or makes an empty mapping.
        tree.apply(&schema, "a", &entry(Value::Map(BTreeMap::new())));
        assert_eq!(tree.value("a.b"), Some(1.into()));
        tree.apply(&schema, "e", &entry(Value::Map(BTreeMap::new())));
        assert_eq!(tree.value("e"), Some(map(&[])));
        let Some(Value::Map(whole)) = tree.value("") else {
            panic!("the root is a mapping");
        };
        assert_eq!(whole.keys().collect::<Vec<_>>(), ["a", "e", "w", "x"]);
    }

    #[test]
    fn declared_keys_are_protected() {
        let schema = Schema::builtin().unwrap_or_default();
        let mut tree = Tree::default();
        tree.apply(&schema, "array.chunk-size", &entry("64MiB"));
        assert_eq!(protected(&schema, "array"), Some(Protected::Namespace));
        assert_eq!(
            protected(&schema, "num-workers.threads"),
            Some(Protected::InsideDeclared("num-workers".into()))
        );
        assert_eq!(protected(&schema, "array.my-own"), None);
        tree.apply(&schema, "array", &entry(5));
        tree.apply(&schema, "array.chunk-size.x", &entry(5));
        assert_eq!(tree.value("array.chunk-size"), Some("64MiB".into()));
        assert_eq!(
            tree.value("array"),
            Some(map(&[("chunk-size", "64MiB".into())]))
        );
    }
}
