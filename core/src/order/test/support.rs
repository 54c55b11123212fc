//! Test helpers: building graphs from name lists, checking and measuring
//! orders.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::super::order;
use crate::plan::Csr;

/// A graph written as `(name, dependencies)`; names only listed as
/// dependencies become inputs.
pub(super) type Spec<'a> = [(&'a str, &'a [&'a str])];

/// The same, with owned names, for generated shapes.
pub(super) type OwnedSpec = Vec<(String, Vec<String>)>;

/// A key that compares digit runs as numbers (`x2 < x10`, `a-1-2 < a-1-10`),
/// as Barrow keys sort by name, then by index numerically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct NaturalKey(pub(super) String);

impl NaturalKey {
    fn chunks(&self) -> Vec<(bool, &str)> {
        let s = self.0.as_str();
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut start = 0;
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
}

impl PartialOrd for NaturalKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for NaturalKey {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.chunks(), other.chunks());
        for (x, y) in a.iter().zip(&b) {
            let o = match (x, y) {
                ((true, x), (true, y)) => {
                    let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                    x.len().cmp(&y.len()).then_with(|| x.cmp(y))
                }
                ((_, x), (_, y)) => x.cmp(y),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.len().cmp(&b.len()).then_with(|| self.0.cmp(&other.0))
    }
}

/// A test graph: `names` for assertions, `keys` for tie-breaking.
#[derive(Debug)]
pub(super) struct Graph {
    pub(super) names: Vec<String>,
    pub(super) keys: Vec<NaturalKey>,
    ids: HashMap<String, u32>,
    pub(super) dependencies: Csr,
    pub(super) dependents: Csr,
}

/// Builds a graph whose keys are its names.
pub(super) fn graph(spec: &Spec) -> Graph {
    graph_from(owned(spec), |name| name.to_string())
}

/// Builds a generated graph whose keys are its names.
pub(super) fn graph_owned(spec: OwnedSpec) -> Graph {
    graph_from(spec, |name| name.to_string())
}

/// The graph twice: keyed by its names, and keyed by its names with the
/// letters a..e mirrored (a↔e, b↔d), as Dask's `abcde`/`edcba` fixture does.
/// The shape is the same; every key tie flips.
pub(super) fn both(spec: &Spec) -> [Graph; 2] {
    [graph(spec), graph_from(owned(spec), mirrored)]
}

/// [`both`] for generated shapes.
pub(super) fn both_owned(spec: OwnedSpec) -> [Graph; 2] {
    [
        graph_from(spec.clone(), |n| n.to_string()),
        graph_from(spec, mirrored),
    ]
}

fn mirrored(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='e' => (b'e' - (c as u8 - b'a')) as char,
            _ => c,
        })
        .collect()
}

fn owned(spec: &Spec) -> OwnedSpec {
    spec.iter()
        .map(|(n, d)| (n.to_string(), d.iter().map(|d| d.to_string()).collect()))
        .collect()
}

fn graph_from(spec: OwnedSpec, key: impl Fn(&str) -> String) -> Graph {
    let mut names: Vec<String> = Vec::new();
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut id = |name: &str, names: &mut Vec<String>| -> u32 {
        *ids.entry(name.to_string()).or_insert_with(|| {
            names.push(name.to_string());
            names.len() as u32 - 1
        })
    };
    let mut rows: Vec<Vec<u32>> = Vec::new();
    for (name, deps) in &spec {
        let i = id(name, &mut names) as usize;
        let deps: Vec<u32> = deps.iter().map(|d| id(d, &mut names)).collect();
        if rows.len() <= i {
            rows.resize(i + 1, Vec::new());
        }
        rows[i] = deps;
    }
    rows.resize(names.len(), Vec::new());
    let dependencies = Csr::from_rows(rows);
    let dependents = dependencies.transpose();
    let keys = names.iter().map(|n| NaturalKey(key(n))).collect();
    Graph {
        names,
        keys,
        ids,
        dependencies,
        dependents,
    }
}

/// Priorities of a [`Graph`], looked up by name.
#[derive(Debug)]
pub(super) struct Ordered<'g> {
    graph: &'g Graph,
    pub(super) priority: Vec<u32>,
}

impl Graph {
    pub(super) fn id(&self, name: &str) -> u32 {
        match self.ids.get(name) {
            Some(&id) => id,
            None => panic!("no node named {name}"),
        }
    }

    /// Orders the graph and checks the result is a topological permutation.
    pub(super) fn order(&self) -> Ordered<'_> {
        let priority = order(&self.dependencies, &self.dependents, &self.keys);
        check_valid(&self.dependencies, &priority);
        Ordered {
            graph: self,
            priority,
        }
    }
}

/// Asserts that `priority` is a permutation of `0..n` and a topological
/// order of `dependencies`.
pub(super) fn check_valid(dependencies: &Csr, priority: &[u32]) {
    let n = dependencies.len();
    assert_eq!(priority.len(), n);
    let mut seen = vec![false; n];
    for &p in priority {
        assert!((p as usize) < n, "priority {p} out of range");
        assert!(!seen[p as usize], "priority {p} given twice");
        seen[p as usize] = true;
    }
    for (i, row) in dependencies.rows().enumerate() {
        for &d in row {
            assert!(
                priority[i] > priority[d as usize],
                "{i} runs before its dependency {d}"
            );
        }
    }
}

impl Ordered<'_> {
    /// The priority of the node named `name`.
    pub(super) fn of(&self, name: &str) -> u32 {
        self.priority[self.graph.id(name) as usize]
    }

    /// Node names in priority order.
    pub(super) fn sequence(&self) -> Vec<&str> {
        let mut by_priority = vec![""; self.priority.len()];
        for (i, &p) in self.priority.iter().enumerate() {
            by_priority[p as usize] = &self.graph.names[i];
        }
        by_priority
    }

    /// Peak number of results held when running one task at a time in
    /// priority order; see [`peak_live`].
    pub(super) fn peak_live(&self) -> usize {
        peak_live(&self.graph.dependencies, &self.priority, true)
    }

    /// Like [`Ordered::peak_live`], but outputs are handed over as soon as
    /// they run and are not counted: the intermediate results only (Dask's
    /// `diagnostics` pressure, plus the running task itself).
    pub(super) fn peak_intermediate(&self) -> usize {
        peak_live(&self.graph.dependencies, &self.priority, false)
    }
}

/// Peak number of results held when running one task at a time in priority
/// order. A result is live from when its task runs until its last dependent
/// has run (both included, so a task's inputs and its own result count
/// together); outputs stay live to the end if `keep_outputs`, else they are
/// not counted at all.
pub(super) fn peak_live(dependencies: &Csr, priority: &[u32], keep_outputs: bool) -> usize {
    let n = dependencies.len();
    let mut by_priority = vec![0u32; n];
    for (i, &p) in priority.iter().enumerate() {
        by_priority[p as usize] = i as u32;
    }
    let distinct = |v: u32| {
        let mut row = dependencies.row(v).to_vec();
        row.sort_unstable();
        row.dedup();
        row
    };
    let mut waiting = vec![0usize; n];
    for v in 0..n as u32 {
        for d in distinct(v) {
            waiting[d as usize] += 1;
        }
    }
    let (mut live, mut peak) = (0usize, 0usize);
    for &v in &by_priority {
        let output = waiting[v as usize] == 0;
        if keep_outputs || !output {
            live += 1;
        }
        peak = peak.max(live);
        for d in distinct(v) {
            waiting[d as usize] -= 1;
            if waiting[d as usize] == 0 {
                live -= 1;
            }
        }
    }
    peak
}

/// A small deterministic generator (SplitMix64), so the random tests need
/// no dependency and always see the same graphs.
#[derive(Debug)]
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The smallest [`peak_live`] any topological order reaches, by dynamic
/// programming over the sets of tasks already run (graphs of at most 20
/// nodes).
pub(super) fn optimal_peak(g: &Graph) -> usize {
    let n = g.names.len();
    assert!(n <= 20, "too large for the exhaustive search");
    let mask = |row: &[u32]| row.iter().fold(0u32, |m, &d| m | 1 << d);
    let deps: Vec<u32> = g.dependencies.rows().map(mask).collect();
    let users: Vec<u32> = g.dependents.rows().map(mask).collect();
    let full = (1u32 << n) - 1;
    let live = |set: u32| {
        (0..n)
            .filter(|&u| set & 1 << u != 0 && (users[u] == 0 || users[u] & !set != 0))
            .count()
    };
    let mut best = vec![usize::MAX; 1 << n];
    best[0] = 0;
    for set in 0..full {
        if best[set as usize] == usize::MAX {
            continue;
        }
        let during = live(set) + 1;
        for (v, &needs) in deps.iter().enumerate() {
            if set & 1 << v == 0 && needs & !set == 0 {
                let next = (set | 1 << v) as usize;
                best[next] = best[next].min(best[set as usize].max(during));
            }
        }
    }
    best[full as usize]
}

/// Random dependency lists for `n` nodes, dependencies always on earlier
/// nodes (so acyclic), with occasional duplicates. `style` 0: sparse and
/// scattered, 1: some wide reducers, 2: local (recent nodes only).
pub(super) fn random_rows(rng: &mut Rng, n: u32, style: u32) -> Vec<Vec<u32>> {
    (0..n)
        .map(|i| {
            if i == 0 {
                return Vec::new();
            }
            let k = match style {
                0 => rng.below(3),
                1 => rng.below(4) + u64::from(rng.below(5) == 0) * 6,
                _ => 1 + rng.below(2),
            };
            (0..k)
                .map(|_| match style {
                    2 => i - 1 - rng.below(u64::from(i).min(6)) as u32,
                    _ => rng.below(u64::from(i)) as u32,
                })
                .collect()
        })
        .collect()
}
