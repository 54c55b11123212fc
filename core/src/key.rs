//! Keys name the outputs of tasks.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

use smallvec::SmallVec;
use xxhash_rust::xxh3::Xxh3;

/// The name of a task's output: a plain name (`"x"`) or a name with a chunk
/// index (`("x", 0, 3)`), exactly as Dask's string-or-tuple keys.
///
/// A key is a precomputed hash and one pointer: cloning it bumps a
/// reference count, and hashing it reads no memory, so keys are cheap to copy
/// around graphs and to look up in maps.
///
/// ```
/// use barrow_core::Key;
///
/// let x = Key::new("x");
/// let block = Key::with_index("x", [0, 3]);
/// assert_eq!(x.to_string(), "x");
/// assert_eq!(block.to_string(), "('x', 0, 3)");
/// assert_eq!(block.name(), "x");
/// assert_eq!(block.index(), &[0, 3]);
/// assert_eq!(block, Key::from(("x", 0, 3)));
/// ```
#[derive(Clone)]
pub struct Key {
    /// xxh3 of the name and index, with the lowest bit replaced by whether
    /// the key is a tuple. Kept beside the pointer so that hashing and most
    /// comparisons never touch the shared data (lowering is bound by these
    /// lookups).
    hash: u64,
    data: Arc<KeyData>,
}

struct KeyData {
    name: Arc<str>,
    index: SmallVec<[u32; 4]>,
}

const INDEXED: u64 = 1;

impl Key {
    /// A plain name, like Dask's `'x'`.
    pub fn new(name: impl Into<Arc<str>>) -> Key {
        Key::build(name.into(), false, SmallVec::new())
    }

    /// A name with an index tuple, like Dask's `('x', 0, 3)`.
    ///
    /// Pass an `Arc<str>` to share one name allocation between the keys of a
    /// whole layer. An empty index gives `('x',)`, which differs from `'x'`.
    pub fn with_index(name: impl Into<Arc<str>>, index: impl AsRef<[u32]>) -> Key {
        Key::build(name.into(), true, SmallVec::from_slice(index.as_ref()))
    }

    fn build(name: Arc<str>, indexed: bool, index: SmallVec<[u32; 4]>) -> Key {
        let mut hasher = Xxh3::new();
        hasher.update(name.as_bytes());
        hasher.update(&[u8::from(indexed)]);
        for i in &index {
            hasher.update(&i.to_le_bytes());
        }
        let hash = (hasher.digest() & !INDEXED) | u64::from(indexed);
        Key {
            hash,
            data: Arc::new(KeyData { name, index }),
        }
    }

    /// The name part: `"x"` for both `'x'` and `('x', 0, 3)`.
    pub fn name(&self) -> &str {
        &self.data.name
    }

    /// The shared allocation of the name, to build sibling keys without
    /// allocating the name again.
    pub fn shared_name(&self) -> &Arc<str> {
        &self.data.name
    }

    /// The index part: empty for a plain name.
    pub fn index(&self) -> &[u32] {
        &self.data.index
    }

    /// Whether this key is a tuple (`('x', ...)`) rather than a plain name.
    pub fn is_indexed(&self) -> bool {
        self.hash & INDEXED != 0
    }

    /// The precomputed 64-bit hash: xxh3 of the name, a tuple marker byte
    /// and the little-endian index, with the lowest bit set for tuples.
    /// Stable across processes and runs.
    pub fn stable_hash(&self) -> u64 {
        self.hash
    }
}

/// The kind of task a key names, as Dask's `key_split`: the name's first
/// word, followed by the next words made only of letters, up to the first
/// that is a number or looks like a token (`"x-1"` → `"x"`,
/// `"hello-world-1"` → `"hello-world"`, `("x-2", 1)` → `"x"`). A name that is
/// a 32-digit hex token is `"data"`; `"<module.Class object at ...>"` is
/// `"Class"`. Used to name fused tasks and to group tasks in progress bars.
///
/// ```
/// use barrow_core::key::key_split;
/// use barrow_core::Key;
///
/// assert_eq!(key_split(&Key::new("x-1-2-3")), "x");
/// assert_eq!(key_split(&Key::new("hello-world-1")), "hello-world");
/// assert_eq!(key_split(&Key::from(("x-2", 1))), "x");
/// assert_eq!(key_split(&Key::new("x-abcdefab")), "x");
/// assert_eq!(key_split(&Key::new("b1")), "b1");
/// assert_eq!(key_split(&Key::new("ae05086432ca935f6eba409a8ecd4896")), "data");
/// ```
pub fn key_split(key: &Key) -> std::borrow::Cow<'_, str> {
    use std::borrow::Cow;
    let name = key.name();
    let mut words = name.split('-');
    let first = words.next().unwrap_or("");
    let Some(initial) = first.chars().next() else {
        return Cow::Borrowed("Other");
    };
    // A name starting with a letter keeps its first word as is; anything
    // else (a stringified tuple) keeps its first item, unquoted.
    let plain = initial.is_alphabetic();
    let first = if plain {
        first
    } else {
        first
            .split(',')
            .next()
            .unwrap_or("")
            .trim_matches(|c| "_'()\"".contains(c))
    };
    let mut end = first.len();
    for word in words {
        // Dask's hex test matches 8 letters that start with a to f.
        let looks_hex = word.len() == 8 && word.starts_with(|c: char| ('a'..='f').contains(&c));
        if word.is_empty() || !word.chars().all(char::is_alphabetic) || looks_hex {
            break;
        }
        end += 1 + word.len();
    }
    let result: Cow<'_, str> = if plain {
        Cow::Borrowed(&name[..end])
    } else {
        // The words after the first item follow it in the name.
        let rest = &name[name.len().min(name.find('-').unwrap_or(name.len()))..];
        let rest = &rest[..(end - first.len()).min(rest.len())];
        Cow::Owned(format!("{first}{rest}"))
    };
    if result.len() == 32
        && result
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Cow::Borrowed("data");
    }
    if let Some(inner) = result.strip_prefix('<') {
        let class = inner
            .trim_matches(|c| c == '<' || c == '>')
            .split_whitespace()
            .next()
            .unwrap_or("")
            .rsplit('.')
            .next()
            .unwrap_or("");
        return Cow::Owned(class.to_owned());
    }
    result
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        Arc::ptr_eq(&self.data, &other.data)
            || (self.hash == other.hash
                && (Arc::ptr_eq(&self.data.name, &other.data.name)
                    || self.data.name == other.data.name)
                && self.data.index == other.data.index)
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Keys sort by name, then plain names before tuples, then by index, so
/// `('x', 2)` comes before `('x', 10)` (Dask sorts tuples the same way).
impl Ord for Key {
    fn cmp(&self, other: &Key) -> Ordering {
        if Arc::ptr_eq(&self.data, &other.data) {
            return Ordering::Equal;
        }
        // Keys of one layer share their name's allocation: skip comparing
        // the bytes then (ordering is on the hot path of `order`).
        let names = if Arc::ptr_eq(&self.data.name, &other.data.name) {
            Ordering::Equal
        } else {
            self.name().cmp(other.name())
        };
        names
            .then_with(|| self.is_indexed().cmp(&other.is_indexed()))
            .then_with(|| self.index().cmp(other.index()))
    }
}

/// Prints as Dask does: `x` for a name, `('x', 0, 3)` for a tuple.
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.is_indexed() {
            false => f.write_str(&self.data.name),
            true => write_tuple(f, &self.data.name, &self.data.index),
        }
    }
}

/// Like Dask's `repr`: `'x'` or `('x', 0, 3)`.
impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.is_indexed() {
            false => write!(f, "'{}'", self.data.name),
            true => write_tuple(f, &self.data.name, &self.data.index),
        }
    }
}

fn write_tuple(f: &mut fmt::Formatter<'_>, name: &str, index: &[u32]) -> fmt::Result {
    write!(f, "('{name}'")?;
    if index.is_empty() {
        f.write_str(",")?;
    }
    for i in index {
        write!(f, ", {i}")?;
    }
    f.write_str(")")
}

impl From<&str> for Key {
    fn from(name: &str) -> Key {
        Key::new(name)
    }
}

impl From<String> for Key {
    fn from(name: String) -> Key {
        Key::new(name)
    }
}

impl From<&String> for Key {
    fn from(name: &String) -> Key {
        Key::new(name.as_str())
    }
}

impl From<Arc<str>> for Key {
    fn from(name: Arc<str>) -> Key {
        Key::new(name)
    }
}

impl From<&Key> for Key {
    fn from(key: &Key) -> Key {
        key.clone()
    }
}

impl<N: Into<Arc<str>>> From<(N, u32)> for Key {
    fn from((name, i): (N, u32)) -> Key {
        Key::with_index(name, [i])
    }
}

impl<N: Into<Arc<str>>> From<(N, u32, u32)> for Key {
    fn from((name, i, j): (N, u32, u32)) -> Key {
        Key::with_index(name, [i, j])
    }
}

impl<N: Into<Arc<str>>> From<(N, u32, u32, u32)> for Key {
    fn from((name, i, j, k): (N, u32, u32, u32)) -> Key {
        Key::with_index(name, [i, j, k])
    }
}

impl<N: Into<Arc<str>>> From<(N, u32, u32, u32, u32)> for Key {
    fn from((name, i, j, k, l): (N, u32, u32, u32, u32)) -> Key {
        Key::with_index(name, [i, j, k, l])
    }
}

/// A hasher for maps keyed by [`Key`]: keys carry a precomputed xxh3 hash, so
/// the map uses it as is instead of hashing again.
#[derive(Debug, Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached when something other than a Key is hashed with this
        // hasher; fold the bytes in so it still works.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = self.0.rotate_left(5) ^ value;
    }
}

/// A `HashMap` keyed by [`Key`] that reuses the keys' precomputed hashes.
pub type KeyMap<V> = std::collections::HashMap<Key, V, BuildHasherDefault<KeyHasher>>;

/// A `HashSet` of [`Key`]s that reuses the keys' precomputed hashes.
pub type KeySet = std::collections::HashSet<Key, BuildHasherDefault<KeyHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_a_hash_and_a_pointer_to_56_bytes() {
        assert_eq!(size_of::<Key>(), 16);
        assert_eq!(size_of::<KeyData>() + 2 * size_of::<usize>(), 56);
    }

    #[test]
    fn display_and_debug_match_dask() {
        assert_eq!(Key::new("x").to_string(), "x");
        assert_eq!(format!("{:?}", Key::new("x")), "'x'");
        assert_eq!(Key::from(("x", 1)).to_string(), "('x', 1)");
        assert_eq!(Key::with_index("x", [] as [u32; 0]).to_string(), "('x',)");
        assert_eq!(
            format!("{:?}", Key::with_index("x", [1, 2, 3, 4, 5])),
            "('x', 1, 2, 3, 4, 5)"
        );
    }

    #[test]
    fn equality_and_hash_follow_content() {
        let a = Key::from(("x", 0, 3));
        let b = Key::with_index(String::from("x"), vec![0, 3]);
        assert_eq!(a, b);
        assert_eq!(a.stable_hash(), b.stable_hash());
        assert_ne!(Key::new("x"), Key::with_index("x", [] as [u32; 0]));
        assert_ne!(Key::from(("x", 1)), Key::from(("x", 1, 0)));
        let mut map = KeyMap::default();
        map.insert(a, 1);
        assert_eq!(map.get(&b), Some(&1));
    }

    #[test]
    fn ordering_is_numeric_within_a_name() {
        let mut keys = [
            Key::from(("x", 10)),
            Key::from(("x", 2)),
            Key::new("x"),
            Key::new("a"),
        ];
        keys.sort();
        let shown: Vec<String> = keys.iter().map(Key::to_string).collect();
        assert_eq!(shown, ["a", "x", "('x', 2)", "('x', 10)"]);
    }

    #[test]
    fn hash_is_stable_across_builds() {
        // Fixed expected values (xxh3-64 of the name, a 0/1 tuple marker and
        // the little-endian index, as Python's `xxhash` computes them, with
        // the lowest bit set for tuples): key hashes must agree across
        // processes and versions.
        assert_eq!(Key::new("x").stable_hash(), 0xa687_07a2_dbd7_adac);
        assert_eq!(Key::from(("x", 0, 3)).stable_hash(), 0x42b6_7f20_6381_6739);
    }
}
