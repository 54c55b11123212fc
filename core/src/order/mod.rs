//! Static ordering of tasks (interim: a topological order by key; the
//! branch-finishing order replaces it).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::plan::Csr;

/// Returns a priority per node (0 runs first): a topological order that
/// breaks ties by key.
pub fn order<K: Ord>(dependencies: &Csr, dependents: &Csr, keys: &[K]) -> Vec<u32> {
    let n = dependencies.len();
    let mut waiting: Vec<u32> = dependencies.rows().map(|r| r.len() as u32).collect();
    let mut ready: BinaryHeap<Reverse<(&K, u32)>> = (0..n as u32)
        .filter(|&i| waiting[i as usize] == 0)
        .map(|i| Reverse((&keys[i as usize], i)))
        .collect();
    let mut priorities = vec![u32::MAX; n];
    let mut next = 0u32;
    while let Some(Reverse((_, id))) = ready.pop() {
        priorities[id as usize] = next;
        next += 1;
        for &d in dependents.row(id) {
            waiting[d as usize] -= 1;
            if waiting[d as usize] == 0 {
                ready.push(Reverse((&keys[d as usize], d)));
            }
        }
    }
    for p in priorities.iter_mut().filter(|p| **p == u32::MAX) {
        *p = next;
        next += 1;
    }
    priorities
}
