//! Dask's names for fused tasks.

use std::collections::BTreeSet;

use crate::key::{Key, key_split};

/// The longest name [`default_fused_keys_renamer`] makes by default
/// (Dask's `max_fused_key_length`); longer names are cut and end with a
/// short hash of the whole name, so different groups keep different names.
pub const MAX_FUSED_KEY_LENGTH: usize = 120;

/// Dask's `default_fused_keys_renamer`: the kinds
/// ([`key_split`]) of a fused group's tasks other than its last, sorted and
/// without the last one's kind, then the last one's full name, joined by
/// `-`. A tuple key keeps the last key's index. With `max_length`, a longer
/// name keeps its first `max_length - 5` characters and ends with `-` and 4
/// hex digits of a hash of the whole name (xxh3, stable across runs and
/// processes).
///
/// ```
/// use barrow_core::optimize::default_fused_keys_renamer;
/// use barrow_core::Key;
///
/// let keys = [Key::new("b2"), Key::new("b1"), Key::new("c")];
/// assert_eq!(default_fused_keys_renamer(&keys, None), Some(Key::new("b1-b2-c")));
///
/// let blocks = [Key::from(("inc-1", 0)), Key::from(("add-7", 0))];
/// assert_eq!(default_fused_keys_renamer(&blocks, None), Some(Key::from(("inc-add-7", 0))));
///
/// let long: Vec<Key> = (0..30).map(|i| Key::new(format!("step{i}-1"))).collect();
/// let name = default_fused_keys_renamer(&long, Some(120)).unwrap();
/// assert_eq!(name.name().len(), 120);
/// ```
pub fn default_fused_keys_renamer(keys: &[Key], max_length: Option<usize>) -> Option<Key> {
    let (last, others) = keys.split_last()?;
    let last_kind = key_split(last);
    let mut kinds: BTreeSet<String> = others.iter().map(|k| key_split(k).into_owned()).collect();
    kinds.remove(last_kind.as_ref());
    let mut name = String::new();
    for kind in &kinds {
        name.push_str(kind);
        name.push('-');
    }
    name.push_str(last.name());
    let name = cap_length(name, max_length);
    Some(if last.is_indexed() {
        Key::with_index(name, last.index())
    } else {
        Key::new(name)
    })
}

fn cap_length(name: String, max_length: Option<usize>) -> String {
    let Some(max) = max_length else {
        return name;
    };
    // Room for "-" and 4 hex digits.
    let keep = max.saturating_sub(5);
    if max == 0 || name.chars().count() <= keep {
        return name;
    }
    let hash = xxhash_rust::xxh3::xxh3_64(name.as_bytes());
    let cut: String = name.chars().take(keep).collect();
    format!("{cut}-{:04x}", hash >> 48)
}
