//! The README's main job: a small graph, then a 100,000-task tree reduction
//! on the local schedulers (`sync`, then `threads`), with their throughput.
//!
//! Run with `cargo run --release --example quickstart`.

use std::time::Instant;

use barrow::arg::{key, keys, lit};
use barrow::collection::GraphKeys;
use barrow::function::List;
use barrow::{Func, Graph, Key, Options, Task, compute_with};

fn main() -> barrow::Result<()> {
    // Dask's {'a': 1, 'b': 2, 'c': (add, 'a', 'b'), 'd': (sum, ['a', 'b', 'c'])}
    let add = Func::new("add", |a: &i64, b: &i64| a + b);
    let sum = Func::new("sum", |xs: List<i64>| xs.iter().sum::<i64>());
    let graph = Graph::from_tasks([
        ("a", Task::literal(1i64)),
        ("b", Task::literal(2i64)),
        ("c", Task::call(&add, [key("a"), key("b")])),
        ("d", Task::call(&sum, [keys(["a", "b", "c"])])),
    ])?;
    let options = Options::new().scheduler("sync");
    let values = compute_with(GraphKeys::new(graph, ["a", "c", "d"]), &options)?;
    for (name, value) in ["a", "c", "d"].iter().zip(&values) {
        println!("{name} = {}", value.downcast_ref::<i64>()?);
    }

    // A binary tree reduction: 50,000 leaves (i + 1), summed pairwise.
    let leaves = 50_000u32;
    let started = Instant::now();
    let (graph, root, tasks) = tree_reduction(&add, leaves)?;
    let built = started.elapsed();
    for scheduler in ["sync", "threads"] {
        let started = Instant::now();
        let options = Options::new().scheduler(scheduler).optimize_graph(false);
        let values = compute_with(GraphKeys::new(graph.clone(), [root.clone()]), &options)?;
        let ran = started.elapsed();
        let total = *values[0].downcast_ref::<i64>()?;
        let n = i64::from(leaves);
        assert_eq!(total, n * (n + 1) / 2, "the tree sums 1..=n");
        println!(
            "tree reduction of {leaves} leaves on '{scheduler}': {total} ({tasks} tasks; built in \
             {:.1} ms, ran in {:.1} ms: {:.2} M tasks/s)",
            built.as_secs_f64() * 1e3,
            ran.as_secs_f64() * 1e3,
            tasks as f64 / ran.as_secs_f64() / 1e6,
        );
    }
    Ok(())
}

/// Leaves `('leaf', i) = i + 1`, then levels `('sum', level, i)` adding
/// pairs (an odd one out moves up unchanged) until one root is left.
fn tree_reduction(add: &Func, leaves: u32) -> barrow::Result<(Graph, Key, usize)> {
    let mut tasks = Vec::new();
    let mut level: Vec<Key> = (0..leaves)
        .map(|i| {
            let k = Key::from(("leaf", i));
            tasks.push((k.clone(), Task::call(add, [lit(i64::from(i)), lit(1i64)])));
            k
        })
        .collect();
    let mut depth = 0u32;
    while level.len() > 1 {
        depth += 1;
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for (i, pair) in level.chunks(2).enumerate() {
            match pair {
                [a, b] => {
                    let k = Key::from(("sum", depth, i as u32));
                    tasks.push((k.clone(), Task::call(add, [key(a), key(b)])));
                    next.push(k);
                }
                [a] => next.push(a.clone()),
                _ => unreachable!("chunks(2) gives one or two"),
            }
        }
        level = next;
    }
    let count = tasks.len();
    let root = level.pop().unwrap_or_else(|| Key::from(("leaf", 0)));
    Ok((Graph::from_tasks(tasks)?, root, count))
}
