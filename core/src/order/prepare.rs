//! First pass: a cleaned copy of the dependency lists, each sorted in the
//! order the walk descends into them, and an estimate of the work behind
//! every node.

use std::cmp::Ordering;

use crate::plan::Csr;

/// Fills the slots that removed duplicates leave at the end of a row, and
/// marks "no priority yet" in the result.
pub(super) const NONE: u32 = u32::MAX;

/// The graph as the walk reads it.
#[derive(Debug)]
pub(super) struct Prepared {
    /// Row `i` is `targets[offsets[i]..offsets[i + 1]]`.
    pub offsets: Vec<u32>,
    /// The distinct dependencies of each node, most work first (ties by key),
    /// padded at the end of the row with [`NONE`].
    pub targets: Vec<u32>,
    /// How many tasks must run to produce each node, itself included
    /// (shared inputs are counted once per path: an over-estimate on
    /// diamonds, saturating at `u32::MAX`).
    pub cost: Vec<u32>,
    /// Spare buffer with room for `n` ids, handed to the walk as its stack.
    pub spare: Vec<u32>,
    /// A counter per node, handed to the walk.
    pub counters: Vec<u32>,
    /// The reverse lists, rebuilt here when the caller's turned out not to
    /// be the transpose of `dependencies`.
    pub rebuilt_dependents: Option<Csr>,
}

/// Compares two nodes by key, then by id, so that the order is total even when
/// keys are missing or equal.
pub(super) fn by_key<K: Ord>(keys: &[K], a: u32, b: u32) -> Ordering {
    let by_key = match (keys.get(a as usize), keys.get(b as usize)) {
        (Some(x), Some(y)) => x.cmp(y),
        _ => Ordering::Equal,
    };
    by_key.then(a.cmp(&b))
}

/// Compares two nodes for descent: more work first, then by key.
pub(super) fn by_work<K: Ord>(cost: &[u32], keys: &[K], a: u32, b: u32) -> Ordering {
    let (ca, cb) = (cost[a as usize], cost[b as usize]);
    cb.cmp(&ca).then_with(|| by_key(keys, a, b))
}

/// Builds the walk's view of the graph, or, when the graph has a cycle,
/// returns `Err` with a permutation to use as the answer instead (acyclic part
/// in topological order, then the rest by id).
pub(super) fn prepare<K: Ord>(
    dependencies: &Csr,
    dependents: &Csr,
    keys: &[K],
) -> Result<Prepared, Vec<u32>> {
    let n = dependencies.len();
    let mut offsets = Vec::with_capacity(n + 1);
    let mut targets = Vec::with_capacity(dependencies.edge_count());
    offsets.push(0u32);
    let mut dropped = false;
    for row in dependencies.rows() {
        for &t in row {
            if (t as usize) < n {
                targets.push(t);
            } else {
                dropped = true;
            }
        }
        offsets.push(targets.len() as u32);
    }
    let mut graph = Rows { offsets, targets };
    let mut queue = Vec::with_capacity(n);
    let mut pending = vec![0u32; n];
    let mut cost = vec![0u32; n];

    // The caller passes `dependencies.transpose()`. Anything else (wrong
    // shape, or lists that disagree with the dependencies, or a cycle, which
    // may be either) is checked again against our own transpose.
    let mut rebuilt_dependents = None;
    let shape_ok =
        !dropped && dependents.len() == n && dependents.edge_count() == graph.targets.len();
    if !shape_ok || !graph.sort(dependents, keys, &mut queue, &mut pending, &mut cost) {
        let own = graph.transpose();
        let acyclic = graph.sort(&own, keys, &mut queue, &mut pending, &mut cost);
        if !acyclic {
            return Err(cyclic_fallback(n, &queue));
        }
        rebuilt_dependents = Some(own);
    }
    queue.clear();
    Ok(Prepared {
        offsets: graph.offsets,
        targets: graph.targets,
        cost,
        spare: queue,
        counters: pending,
        rebuilt_dependents,
    })
}

/// Dependency rows being prepared, in raw form.
#[derive(Debug)]
struct Rows {
    offsets: Vec<u32>,
    targets: Vec<u32>,
}

impl Rows {
    fn row(&self, v: u32) -> std::ops::Range<usize> {
        self.offsets[v as usize] as usize..self.offsets[v as usize + 1] as usize
    }

    /// Kahn's algorithm: handles each node once all its dependencies are
    /// handled, so that their costs are final when its row is sorted. Fills
    /// `queue` with the nodes in that order. Returns false if some node could
    /// not be reached (a cycle) or a node was reached before one of its
    /// dependencies (`dependents` is not the transpose).
    fn sort<K: Ord>(
        &mut self,
        dependents: &Csr,
        keys: &[K],
        queue: &mut Vec<u32>,
        pending: &mut [u32],
        cost: &mut [u32],
    ) -> bool {
        let n = pending.len();
        queue.clear();
        cost.fill(0);
        for v in 0..n as u32 {
            let row = &self.targets[self.row(v)];
            // Padding only ever ends a row.
            let len = row
                .iter()
                .rposition(|&t| t != NONE)
                .map_or(0, |last| last + 1);
            pending[v as usize] = len as u32;
            if len == 0 {
                queue.push(v);
            }
        }
        let mut head = 0;
        while let Some(&v) = queue.get(head) {
            head += 1;
            let range = self.row(v);
            let row = &mut self.targets[range];
            // A dependency without a cost yet was not handled before `v`.
            let work = match row {
                [] => Some(1),
                [d] => cost
                    .get(*d as usize)
                    .filter(|&&c| c > 0)
                    .map(|c| c.saturating_add(1)),
                _ => sort_row(row, cost, keys),
            };
            match work {
                Some(work) => cost[v as usize] = work,
                None => return false,
            }
            for &y in dependents.row(v) {
                match pending.get_mut(y as usize) {
                    Some(p) if *p > 0 => {
                        *p -= 1;
                        if *p == 0 {
                            queue.push(y);
                        }
                    }
                    _ => {}
                }
            }
        }
        queue.len() == n
    }

    /// The reverse lists (ignoring the padding).
    fn transpose(&self) -> Csr {
        let rows = self.offsets.windows(2).map(|w| {
            self.targets[w[0] as usize..w[1] as usize]
                .iter()
                .copied()
                .filter(|&t| t != NONE)
        });
        Csr::from_rows(rows).transpose()
    }
}

/// Sorts a row (most work first, ties by key), removes duplicates (the
/// freed slots at the end become [`NONE`]) and returns the node's cost;
/// `None` if a dependency has no cost yet.
fn sort_row<K: Ord>(row: &mut [u32], cost: &[u32], keys: &[K]) -> Option<u32> {
    let len = row.iter().position(|&t| t == NONE).unwrap_or(row.len());
    let row = &mut row[..len];
    if row.iter().any(|&d| cost[d as usize] == 0) {
        return None;
    }
    row.sort_unstable_by(|&a, &b| by_work(cost, keys, a, b));
    let mut kept = 0;
    let mut work = 1u32;
    for r in 0..row.len() {
        let t = row[r];
        if kept == 0 || row[kept - 1] != t {
            row[kept] = t;
            kept += 1;
            work = work.saturating_add(cost[t as usize]);
        }
    }
    row[kept..].fill(NONE);
    Some(work)
}

/// Priorities for a graph with a cycle: the nodes Kahn's algorithm reached
/// keep their topological order, the rest follow by id.
fn cyclic_fallback(n: usize, reached: &[u32]) -> Vec<u32> {
    let mut priority = vec![NONE; n];
    let mut next = 0u32;
    for &v in reached {
        priority[v as usize] = next;
        next += 1;
    }
    for p in priority.iter_mut().filter(|p| **p == NONE) {
        *p = next;
        next += 1;
    }
    priority
}
