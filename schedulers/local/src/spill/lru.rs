//! A least-recently-used order over dense task ids: a doubly linked list
//! threaded through two vectors, so every operation is O(1) and allocates
//! only when ids grow.

/// The end of the list.
const NIL: u32 = u32::MAX;

/// Ids from the least to the most recently used.
#[derive(Debug, Default)]
pub(super) struct Lru {
    prev: Vec<u32>,
    next: Vec<u32>,
    linked: Vec<bool>,
    oldest: u32,
    newest: u32,
    len: usize,
}

impl Lru {
    pub(super) fn new() -> Lru {
        Lru {
            oldest: NIL,
            newest: NIL,
            ..Lru::default()
        }
    }

    fn grow(&mut self, id: u32) {
        let needed = id as usize + 1;
        if self.linked.len() < needed {
            self.prev.resize(needed, NIL);
            self.next.resize(needed, NIL);
            self.linked.resize(needed, false);
        }
    }

    /// Whether `id` is in the list.
    pub(super) fn contains(&self, id: u32) -> bool {
        self.linked.get(id as usize).copied().unwrap_or(false)
    }

    /// Adds `id` (not in the list) as the most recently used.
    pub(super) fn push_newest(&mut self, id: u32) {
        debug_assert!(!self.contains(id));
        self.grow(id);
        let i = id as usize;
        self.prev[i] = self.newest;
        self.next[i] = NIL;
        match self.newest {
            NIL => self.oldest = id,
            newest => self.next[newest as usize] = id,
        }
        self.newest = id;
        self.linked[i] = true;
        self.len += 1;
    }

    /// Adds `id` (not in the list) as the least recently used.
    pub(super) fn push_oldest(&mut self, id: u32) {
        debug_assert!(!self.contains(id));
        self.grow(id);
        let i = id as usize;
        self.next[i] = self.oldest;
        self.prev[i] = NIL;
        match self.oldest {
            NIL => self.newest = id,
            oldest => self.prev[oldest as usize] = id,
        }
        self.oldest = id;
        self.linked[i] = true;
        self.len += 1;
    }

    /// Takes `id` out of the list, if it is in it.
    pub(super) fn remove(&mut self, id: u32) {
        if !self.contains(id) {
            return;
        }
        let i = id as usize;
        let (prev, next) = (self.prev[i], self.next[i]);
        match prev {
            NIL => self.oldest = next,
            prev => self.next[prev as usize] = next,
        }
        match next {
            NIL => self.newest = prev,
            next => self.prev[next as usize] = prev,
        }
        self.linked[i] = false;
        self.len -= 1;
    }

    /// Marks `id` (in the list) as the most recently used.
    pub(super) fn touch(&mut self, id: u32) {
        if self.newest != id {
            self.remove(id);
            self.push_newest(id);
        }
    }

    /// Takes the least recently used id out of the list.
    pub(super) fn pop_oldest(&mut self) -> Option<u32> {
        let id = self.oldest;
        if id == NIL {
            return None;
        }
        self.remove(id);
        Some(id)
    }

    /// How many ids are in the list.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::Lru;

    fn drain(lru: &mut Lru) -> Vec<u32> {
        std::iter::from_fn(|| lru.pop_oldest()).collect()
    }

    #[test]
    fn oldest_first_and_touch_moves_to_the_end() {
        let mut lru = Lru::new();
        for id in [3, 0, 7, 1] {
            lru.push_newest(id);
        }
        lru.touch(0);
        lru.remove(7);
        lru.remove(7);
        lru.push_oldest(9);
        assert_eq!(lru.len(), 4);
        assert_eq!(drain(&mut lru), [9, 3, 1, 0]);
        assert_eq!(lru.len(), 0);
        lru.push_newest(2);
        lru.touch(2);
        assert_eq!(drain(&mut lru), [2]);
    }
}
