//! The functions workers registered, interned, and which function sets
//! (one per distinct build or plugin set) have each: what the placement
//! rule reads.

use std::collections::HashMap;

/// The functions workers have registered, interned, and which sets of
/// workers (one set per distinct build) have each.
#[derive(Debug, Default)]
pub(crate) struct Functions {
    ids: HashMap<String, u32>,
    names: Vec<String>,
    /// By function: a bit per function set that has it.
    holders: Vec<Vec<u64>>,
    /// By function set: its fingerprint and names.
    sets: Vec<(u64, std::collections::HashSet<String>)>,
}

impl Functions {
    /// The id of `name`, interned on first use.
    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        let mut bits = vec![0u64; self.sets.len().div_ceil(64)];
        for (set, (_, names)) in self.sets.iter().enumerate() {
            if names.contains(name) {
                bits[set / 64] |= 1 << (set % 64);
            }
        }
        self.holders.push(bits);
        id
    }

    /// The function set of a worker registering `names` under
    /// `fingerprint`.
    pub(crate) fn set_of(&mut self, fingerprint: u64, names: &[String]) -> usize {
        if let Some(set) = self.sets.iter().position(|(f, _)| *f == fingerprint) {
            return set;
        }
        let set = self.sets.len();
        self.sets
            .push((fingerprint, names.iter().cloned().collect()));
        for (id, name) in self.names.iter().enumerate() {
            let bits = &mut self.holders[id];
            if bits.len() <= set / 64 {
                bits.resize(set / 64 + 1, 0);
            }
            if self.sets[set].1.contains(name) {
                bits[set / 64] |= 1 << (set % 64);
            }
        }
        set
    }

    /// Whether workers of function set `set` have function `id`.
    pub(crate) fn has(&self, set: usize, id: u32) -> bool {
        self.holders
            .get(id as usize)
            .and_then(|bits| bits.get(set / 64))
            .is_some_and(|word| word & (1 << (set % 64)) != 0)
    }

    /// The name of function `id`.
    pub(crate) fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("?", String::as_str)
    }
}
