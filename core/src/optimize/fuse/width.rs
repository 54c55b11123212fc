//! Dask's `fuse` on integer ids: the walk over reduction trees and the
//! width metrics that decide what merges (see `README.md`).

use std::collections::HashMap;

use smallvec::SmallVec;

use crate::plan::{Csr, Dependencies};
use crate::task::{Task, TaskBody};
use crate::value::Value;

use super::substitute::{call_depth, substitute_moving};
use super::{FuseOptions, MAX_FUSED_CHAIN};

/// What fusing decided, by task id.
pub(super) struct Outcome {
    /// New tasks (fused, or subgraphs); `None` keeps the original.
    pub(super) replaced: HashMap<u32, Task>,
    /// Tasks fused into others.
    pub(super) removed: Vec<bool>,
    /// With renaming: the ids fused into each task, its own last.
    pub(super) fused_trees: HashMap<u32, Vec<u32>>,
    /// The distinct dependencies of each task after fusing, sorted.
    pub(super) dependencies: Vec<Ids>,
    /// Whether fused groups are renamed (so `fused_trees` is kept).
    pub(super) renaming: bool,
}

impl Outcome {
    /// Nothing fused.
    pub(super) fn unchanged(dependencies: &Dependencies<'_>, renaming: bool) -> Outcome {
        let n = dependencies.len();
        Outcome {
            replaced: HashMap::new(),
            removed: vec![false; n],
            fused_trees: HashMap::new(),
            dependencies: distinct(dependencies.dependency_lists()),
            renaming,
        }
    }

    /// Whether any task changed.
    pub(super) fn changed(&self) -> bool {
        self.removed.iter().any(|r| *r) || !self.replaced.is_empty()
    }
}

fn distinct(lists: &Csr) -> Vec<Ids> {
    lists
        .rows()
        .map(|row| {
            let mut row = Ids::from_slice(row);
            row.sort_unstable();
            row.dedup();
            row
        })
        .collect()
}

/// One finished subtree of a reduction, on the way up (Dask's info tuple).
struct Info {
    /// Its top task.
    key: u32,
    /// Its fused task; `None` while it is still the original.
    task: Option<Box<Task>>,
    /// With renaming, the ids in it.
    keys: Vec<u32>,
    height: u32,
    width: f64,
    num_nodes: u32,
    fudge: i64,
    /// What it depends on outside the reduction, sorted.
    edges: Ids,
    /// How deeply its task nests calls, once known (it is worked out only
    /// for tasks about to be fused).
    depth: Option<u32>,
}

/// A small set of task ids, sorted: most tasks read a few others.
type Ids = SmallVec<[u32; 2]>;

/// An entry of the stack of finished subtrees: a leaf is only its id (a
/// wide reduction pushes one per input; its metrics are known), anything
/// else its [`Info`].
enum Entry {
    Leaf(u32),
    Tree(Box<Info>),
}

/// Sorted union of two sorted lists.
fn union(a: &[u32], b: &[u32]) -> Ids {
    if b.is_empty() {
        return Ids::from_slice(a);
    }
    if a.is_empty() {
        return Ids::from_slice(b);
    }
    let mut out = Ids::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Whether a literal may be fused into its reader: numbers, booleans and
/// strings (Dask's `numbers.Number, str`); other data (an array, a buffer)
/// stays a task of its own, so it is sent or spilled once rather than as
/// part of every task that reads it.
fn is_scalar(value: &Value) -> bool {
    let any = value.as_any();
    let mut scalar = any.is::<String>() || any.is::<&'static str>();
    macro_rules! check {
        ($($t:ty),*) => { $(scalar |= any.is::<$t>();)* };
    }
    crate::value::for_each_scalar!(check);
    scalar
}

struct Fusion<'d, 'g> {
    deps: &'d Dependencies<'g>,
    ave_width: f64,
    max_width: f64,
    max_height: f64,
    max_depth_new_edges: f64,
    rename: bool,
    /// Each task's distinct dependencies, as fusion merges them.
    sets: Vec<Ids>,
    /// The reader of each task read exactly once (its first reader else).
    reader: Vec<u32>,
    reducible: Vec<bool>,
    replaced: HashMap<u32, Task>,
    removed: Vec<bool>,
    fused_trees: HashMap<u32, Vec<u32>>,
}

/// Fuses `dependencies`' tasks as Dask's `fuse` does; `protected` tasks
/// are never fused into others.
pub(super) fn fuse_ids(
    dependencies: &Dependencies<'_>,
    protected: &[bool],
    options: &FuseOptions,
) -> Outcome {
    let n = dependencies.len();
    let readers = dependencies.dependency_lists().transpose();
    let reader: Vec<u32> = (0..n as u32)
        .map(|id| readers.row(id).first().copied().unwrap_or(u32::MAX))
        .collect();
    let reducible: Vec<bool> = (0..n as u32)
        .map(|id| {
            let task = dependencies.task(id);
            readers.row(id).len() == 1
                && !protected[id as usize]
                && match task.body() {
                    TaskBody::Call(_) | TaskBody::Alias(_) => true,
                    TaskBody::Literal(value) => is_scalar(value),
                }
                && task.annotations() == dependencies.task(reader[id as usize]).annotations()
        })
        .collect();
    if !reducible.iter().any(|r| *r) {
        return Outcome::unchanged(dependencies, options.renames_keys());
    }
    let mut fusion = Fusion {
        deps: dependencies,
        ave_width: options.ave_width,
        max_width: options.effective_max_width(),
        max_height: options.max_height.map_or(f64::INFINITY, f64::from),
        max_depth_new_edges: options.effective_max_depth_new_edges(),
        rename: options.renames_keys(),
        sets: distinct(dependencies.dependency_lists()),
        reader,
        reducible,
        replaced: HashMap::new(),
        removed: vec![false; n],
        fused_trees: HashMap::new(),
    };
    let mut cursor = 0;
    while cursor < n {
        if fusion.reducible[cursor] {
            fusion.reduce_from(cursor as u32);
        } else {
            cursor += 1;
        }
    }
    Outcome {
        replaced: fusion.replaced,
        removed: fusion.removed,
        fused_trees: fusion.fused_trees,
        dependencies: fusion.sets,
        renaming: fusion.rename,
    }
}

impl Fusion<'_, '_> {
    fn reducible_children(&self, id: u32) -> Ids {
        self.sets[id as usize]
            .iter()
            .copied()
            .filter(|&d| self.reducible[d as usize])
            .collect()
    }

    fn outside_edges(&self, id: u32) -> Ids {
        self.sets[id as usize]
            .iter()
            .copied()
            .filter(|&d| !self.reducible[d as usize])
            .collect()
    }

    fn original_depth(&self, id: u32) -> u32 {
        call_depth(self.deps.task(id))
    }

    /// The info of a stack entry.
    fn expand(&self, entry: Entry) -> Info {
        match entry {
            Entry::Leaf(id) => self.leaf(id),
            Entry::Tree(info) => *info,
        }
    }

    /// How deeply an entry's task nests calls.
    fn entry_depth(&self, entry: &Entry) -> u32 {
        match entry {
            Entry::Leaf(id) => self.original_depth(*id),
            Entry::Tree(info) => self.depth(info),
        }
    }

    /// How deeply `info`'s task nests calls.
    fn depth(&self, info: &Info) -> u32 {
        match (info.depth, info.task.as_deref()) {
            (Some(depth), _) => depth,
            (None, Some(task)) => call_depth(task),
            (None, None) => self.original_depth(info.key),
        }
    }

    fn leaf(&self, id: u32) -> Info {
        Info {
            key: id,
            task: None,
            keys: if self.rename { vec![id] } else { Vec::new() },
            height: 1,
            width: 1.0,
            num_nodes: 1,
            fudge: 0,
            edges: self.outside_edges(id),
            depth: None,
        }
    }

    /// `parent`'s original task with the tasks of `children` in place of
    /// their reads; their fused tasks move into it.
    fn merged(&self, parent: u32, children: Vec<(u32, Option<Box<Task>>)>) -> Task {
        let bodies: Vec<(&crate::key::Key, TaskBody)> = children
            .into_iter()
            .map(|(key, task)| {
                let body = match task {
                    Some(task) => task.into_body(),
                    None => self.deps.task(key).body().clone(),
                };
                (self.deps.key(key), body)
            })
            .collect();
        substitute_moving(self.deps.task(parent), bodies)
    }

    /// A child left unfused keeps its (possibly fused) task.
    fn keep(&mut self, info: Info) {
        if let Some(task) = info.task {
            self.replaced.insert(info.key, *task);
        }
        self.reducible[info.key as usize] = false;
    }

    /// A child fused away: its dependencies become its reader's.
    fn absorb(&mut self, child: u32) -> Ids {
        self.removed[child as usize] = true;
        self.reducible[child as usize] = false;
        if self.rename {
            self.fused_trees.remove(&child);
        }
        std::mem::take(&mut self.sets[child as usize])
    }

    /// Walks the reduction tree that `start` belongs to, from its top down,
    /// and fuses it bottom up (Dask's main loop).
    fn reduce_from(&mut self, start: u32) {
        let mut parent = start;
        while self.reducible[parent as usize] {
            parent = self.reader[parent as usize];
        }
        let mut children_stack = vec![parent];
        children_stack.extend(self.reducible_children(parent));
        let mut info_stack: Vec<Entry> = Vec::new();
        loop {
            let Some(&top) = children_stack.last() else {
                return;
            };
            let mut child = top;
            if child != parent {
                let mut children = self.reducible_children(child);
                while !children.is_empty() {
                    // Depth first.
                    children_stack.extend(children);
                    parent = child;
                    child = children_stack.last().copied().unwrap_or(child);
                    children = self.reducible_children(child);
                }
                children_stack.pop();
                // A leaf of the reduction.
                info_stack.push(Entry::Leaf(child));
                continue;
            }
            children_stack.pop();
            let done = self.reduce_parent(parent, &mut info_stack, !children_stack.is_empty());
            if done {
                return;
            }
            // Up.
            parent = self.reader[parent as usize];
        }
    }

    /// Decides whether `parent` absorbs its reducible children, whose
    /// subtrees are the last infos; pushes `parent`'s info when it has a
    /// reader in the tree (`more`), else records it and says the tree is
    /// done.
    fn reduce_parent(&mut self, parent: u32, info_stack: &mut Vec<Entry>, more: bool) -> bool {
        let edges = self.outside_edges(parent);
        let children = self.reducible_children(parent);
        let num_children = children.len();
        let ave_width = self.ave_width;
        let at = info_stack.len().saturating_sub(num_children);
        if at == info_stack.len() {
            // Not reached (a task reaches here through a reducible child),
            // but harmless: the task stays as it is.
            if more {
                info_stack.push(Entry::Tree(Box::new(Info {
                    key: parent,
                    task: None,
                    keys: if self.rename {
                        vec![parent]
                    } else {
                        Vec::new()
                    },
                    height: 1,
                    width: 1.0,
                    num_nodes: 1,
                    fudge: 0,
                    edges,
                    depth: None,
                })));
                return false;
            }
            return true;
        }
        if num_children == 1 {
            let Some(info) = info_stack.pop().map(|entry| self.expand(entry)) else {
                return true;
            };
            let num_children_edges = info.edges.len() as i64;
            let mut fudge = info.fudge;
            if num_children_edges >= 1 && fudge > num_children_edges - 1 {
                fudge = num_children_edges - 1;
            }
            let edges = union(&edges, &info.edges);
            let no_new_edges = edges.len() as i64 == num_children_edges;
            if !no_new_edges {
                fudge += 1;
            }
            let narrow = (f64::from(info.num_nodes) + fudge as f64) / f64::from(info.height)
                <= ave_width
                && (no_new_edges || f64::from(info.height) < self.max_depth_new_edges);
            // Worked out only for a fusion the metrics allow.
            let depth = narrow
                .then(|| self.original_depth(parent) + self.depth(&info))
                .filter(|&depth| depth <= MAX_FUSED_CHAIN);
            if let Some(depth) = depth {
                let mut info = info;
                let val = self.merged(parent, vec![(info.key, info.task.take())]);
                let child_deps = self.absorb(info.key);
                let set = &mut self.sets[parent as usize];
                set.retain(|d| *d != info.key);
                *set = union(set, &child_deps);
                let mut keys = info.keys;
                if self.rename {
                    keys.push(parent);
                    self.fused_trees.insert(parent, keys.clone());
                }
                if more {
                    let (height, num_nodes) = if no_new_edges {
                        (info.height, info.num_nodes)
                    } else {
                        (info.height + 1, info.num_nodes + 1)
                    };
                    info_stack.push(Entry::Tree(Box::new(Info {
                        key: parent,
                        task: Some(Box::new(val)),
                        keys,
                        height,
                        width: info.width,
                        num_nodes,
                        fudge,
                        edges,
                        depth: Some(depth),
                    })));
                    false
                } else {
                    self.replaced.insert(parent, val);
                    true
                }
            } else {
                let width = info.width;
                self.keep(info);
                if more {
                    // The parent may still be fused, but only under strict
                    // circumstances; linear chains still can.
                    fudge = fudge.min((ave_width - 1.0).trunc() as i64);
                    info_stack.push(Entry::Tree(Box::new(Info {
                        key: parent,
                        task: None,
                        keys: if self.rename {
                            vec![parent]
                        } else {
                            Vec::new()
                        },
                        height: 1,
                        width,
                        num_nodes: 1,
                        fudge,
                        edges,
                        depth: None,
                    })));
                    false
                } else {
                    true
                }
            }
        } else {
            let mut height = 1u32;
            let mut width = 0f64;
            let mut num_single_nodes = 0u32;
            let mut num_nodes = 0u32;
            let mut fudge = 0i64;
            let mut children_edges: Vec<u32> = Vec::new();
            let mut max_num_edges = 0usize;
            for entry in &info_stack[at..] {
                let (info_height, info_width, info_nodes, info_fudge, info_edges) = match entry {
                    // A leaf's dependencies are all outside the reduction.
                    Entry::Leaf(id) => (1, 1.0, 1, 0, &self.sets[*id as usize][..]),
                    Entry::Tree(info) => (
                        info.height,
                        info.width,
                        info.num_nodes,
                        info.fudge,
                        &info.edges[..],
                    ),
                };
                if info_height == 1 {
                    num_single_nodes += 1;
                } else if info_height > height {
                    height = info_height;
                }
                width += info_width;
                num_nodes += info_nodes;
                fudge += info_fudge;
                max_num_edges = max_num_edges.max(info_edges.len());
                children_edges.extend_from_slice(info_edges);
            }
            children_edges.sort_unstable();
            children_edges.dedup();
            // Account for possible parallelism at the boundaries.
            let num_children_edges = children_edges.len() as i64;
            fudge +=
                (num_children as i64 - 1).min((num_children_edges - max_num_edges as i64).max(0));
            if num_children_edges >= 1 && fudge > num_children_edges - 1 {
                fudge = num_children_edges - 1;
            }
            let edges = union(&edges, &children_edges);
            let no_new_edges = edges.len() as i64 == num_children_edges;
            if !no_new_edges {
                fudge += 1;
            }
            let narrow = (f64::from(num_nodes) + fudge as f64) / f64::from(height) <= ave_width
                && f64::from(num_single_nodes) <= ave_width
                && width <= self.max_width
                && f64::from(height) <= self.max_height
                && (no_new_edges || f64::from(height) < self.max_depth_new_edges);
            // Worked out only for a fusion the metrics allow.
            let depth = narrow
                .then(|| {
                    let deepest = info_stack[at..].iter().map(|e| self.entry_depth(e)).max();
                    self.original_depth(parent) + deepest.unwrap_or(0)
                })
                .filter(|&depth| depth <= MAX_FUSED_CHAIN);
            if let Some(depth) = depth {
                let mut infos: Vec<Info> = info_stack.drain(at..).map(|e| self.expand(e)).collect();
                let tasks = infos.iter_mut().map(|i| (i.key, i.task.take())).collect();
                let val = self.merged(parent, tasks);
                let mut children_deps: Vec<u32> = Vec::new();
                let mut keys: Vec<u32> = Vec::new();
                for info in infos {
                    children_deps.extend(self.absorb(info.key));
                    keys.extend(info.keys);
                }
                let set = &mut self.sets[parent as usize];
                set.retain(|d| children.binary_search(d).is_err());
                children_deps.extend_from_slice(set);
                children_deps.sort_unstable();
                children_deps.dedup();
                *set = Ids::from_vec(children_deps);
                if self.rename {
                    keys.push(parent);
                    self.fused_trees.insert(parent, keys.clone());
                }
                if more {
                    info_stack.push(Entry::Tree(Box::new(Info {
                        key: parent,
                        task: Some(Box::new(val)),
                        keys,
                        height: height + 1,
                        width,
                        num_nodes: num_nodes + 1,
                        fudge,
                        edges,
                        depth: Some(depth),
                    })));
                    false
                } else {
                    self.replaced.insert(parent, val);
                    true
                }
            } else {
                for entry in info_stack.drain(at..) {
                    match entry {
                        Entry::Leaf(id) => self.reducible[id as usize] = false,
                        Entry::Tree(info) => self.keep(*info),
                    }
                }
                if more {
                    // The parent may still be fused, but only under strict
                    // circumstances; linear chains still can.
                    let width = width.min(self.max_width);
                    fudge = fudge.min((ave_width - 1.0).trunc() as i64);
                    info_stack.push(Entry::Tree(Box::new(Info {
                        key: parent,
                        task: None,
                        keys: if self.rename {
                            vec![parent]
                        } else {
                            Vec::new()
                        },
                        height: 1,
                        width,
                        num_nodes: 1,
                        fudge,
                        edges,
                        depth: None,
                    })));
                    false
                } else {
                    true
                }
            }
        }
    }
}
