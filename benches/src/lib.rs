//! Shared pieces of the Barrow benchmarks: the graph shapes of Dask's
//! `bench_graph.py` (so Barrow and Dask measure the same graphs) and a
//! counting allocator for memory figures.

pub mod array;
pub mod bag;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use barrow_core::arg::{key, keys, lit, value};
use barrow_core::function::List;
use barrow_core::{Graph, Key, Layer, Result, Task, Value};

/// A graph to run, with the key to ask for and the expected result.
#[derive(Debug)]
pub struct Workload {
    /// The graph.
    pub graph: Graph,
    /// The key to compute.
    pub output: Key,
    /// The closed-form result.
    pub expected: i64,
}

/// `a + b`: the task of every graph shape. Registered by name, so the
/// graphs also run on `processes`.
#[barrow_core::task]
pub fn add(a: &i64, b: &i64) -> i64 {
    a + b
}

/// The sum of a list: the last task of `indepN`.
#[barrow_core::task]
pub fn sum(xs: List<i64>) -> i64 {
    xs.iter().sum()
}

/// `indepN`: `('x', i) = add(i, 1)` for `i < n`, plus `total = sum(all)`:
/// n + 1 tasks.
pub fn indep(n: u32) -> Result<Workload> {
    let add = add::func();
    let sum = sum::func();
    let one = Value::new(1i64);
    let name: std::sync::Arc<str> = "x".into();
    let mut tasks = Layer::with_capacity("indep", n as usize + 1);
    let mut parts = Vec::with_capacity(n as usize);
    for i in 0..n {
        let part = Key::with_index(name.clone(), [i]);
        tasks.insert(
            part.clone(),
            Task::call(&add, [lit(i64::from(i)), value(one.clone())]),
        )?;
        parts.push(part);
    }
    tasks.insert(Key::new("total"), Task::call(&sum, [keys(parts)]))?;
    let n = i64::from(n);
    Ok(Workload {
        graph: Graph::from_layer(tasks),
        output: Key::new("total"),
        expected: n * (n - 1) / 2 + n,
    })
}

/// `chainN`: `('c', 0) = add(0, 1)`, `('c', i) = add(('c', i - 1), 1)`: n tasks.
pub fn chain(n: u32) -> Result<Workload> {
    let add = add::func();
    let one = Value::new(1i64);
    let name: std::sync::Arc<str> = "c".into();
    let mut tasks = Layer::with_capacity("chain", n as usize);
    tasks.insert(
        Key::with_index(name.clone(), [0]),
        Task::call(&add, [lit(0i64), value(one.clone())]),
    )?;
    let mut previous = Key::with_index(name.clone(), [0]);
    for i in 1..n {
        let next = Key::with_index(name.clone(), [i]);
        tasks.insert(
            next.clone(),
            Task::call(&add, [key(previous), value(one.clone())]),
        )?;
        previous = next;
    }
    Ok(Workload {
        graph: Graph::from_layer(tasks),
        output: Key::with_index(name, [n - 1]),
        expected: i64::from(n),
    })
}

/// `tree2^k`: 2^k leaves `add(i, 1)`, then pairwise `add` up to one root:
/// 2^(k+1) - 1 tasks.
pub fn tree(levels: u32) -> Result<Workload> {
    let add = add::func();
    let one = Value::new(1i64);
    let name: std::sync::Arc<str> = "t".into();
    let leaves = 1u32 << levels;
    let mut tasks = Layer::with_capacity("tree", 2 * leaves as usize);
    let mut below: Vec<Key> = (0..leaves)
        .map(|i| Key::with_index(name.clone(), [0, i]))
        .collect();
    for (i, leaf) in (0..leaves).zip(&below) {
        tasks.insert(
            leaf.clone(),
            Task::call(&add, [lit(i64::from(i)), value(one.clone())]),
        )?;
    }
    for level in 1..=levels {
        let mut current = Vec::with_capacity(below.len() / 2);
        for (i, pair) in (0..).zip(below.chunks_exact(2)) {
            let node = Key::with_index(name.clone(), [level, i]);
            let args = [key(pair[0].clone()), key(pair[1].clone())];
            tasks.insert(node.clone(), Task::call(&add, args))?;
            current.push(node);
        }
        below = current;
    }
    let n = i64::from(leaves);
    Ok(Workload {
        graph: Graph::from_layer(tasks),
        output: Key::with_index(name, [levels, 0]),
        expected: n * (n - 1) / 2 + n,
    })
}

/// The shapes by their names in Dask's `bench_graph.py`.
pub fn by_name(name: &str) -> Option<Result<Workload>> {
    Some(match name {
        "indep10k" => indep(10_000),
        "indep100k" => indep(100_000),
        "chain1k" => chain(1_000),
        "chain10k" => chain(10_000),
        "tree2^12" => tree(12),
        "tree2^14" => tree(14),
        _ => return None,
    })
}

/// The global allocator of the benchmark binaries: the system allocator,
/// counting bytes in use and their peak.
#[derive(Debug)]
pub struct CountingAllocator;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the same arguments, which
// upholds `GlobalAlloc`'s contract; the counters are only bookkeeping.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
            let now = IN_USE.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        new
    }
}

/// Peak bytes allocated above the starting level while `f` runs (needs
/// [`CountingAllocator`] as the global allocator).
pub fn peak_bytes_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = IN_USE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}
