//! Looking at a graph before running it: a Graphviz drawing ([`to_dot`])
//! and a few numbers ([`summarize`]), after Dask's `visualize` and its
//! "inspecting graphs" docs.
//!
//! ```
//! use barrow_core::arg::key;
//! use barrow_core::inspect::{summarize, to_dot};
//! use barrow_core::{Func, Graph, Key, Task};
//!
//! let inc = Func::new("inc", |x: &i64| x + 1);
//! let add = Func::new("add", |a: &i64, b: &i64| a + b);
//! let graph = Graph::from_tasks([
//!     ("x", Task::literal(1i64)),
//!     ("y", Task::call(&inc, [key("x")])),
//!     ("z", Task::call(&add, [key("x"), key("y")])),
//! ])?;
//!
//! let summary = summarize(&graph);
//! assert_eq!((summary.tasks, summary.edges, summary.depth, summary.width), (3, 3, 3, 1));
//! assert_eq!(summary.functions, [("add".to_string(), 1), ("inc".to_string(), 1)]);
//!
//! let dot = to_dot(&graph, &[Key::new("z")]);
//! assert!(dot.starts_with("digraph"));
//! assert!(dot.contains("label=\"inc\""));
//! # Ok::<(), barrow_core::Error>(())
//! ```
//!
//! Drawing style (Dask's): every task has a **box** for its result,
//! labelled by its key; a call also has an **ellipse** for the call itself,
//! labelled by the function's name (the last `::` segment; the full name is
//! the tooltip), with an arrow from the ellipse to its box. Arrows go from
//! each result a task reads (once, however often it reads it) to the
//! ellipse of a call, or to the box of an alias. So a graph of `n` tasks, `c`
//! of them calls, with `e` dependency [edges](Summary::edges), draws as
//! `n + c` nodes and `e + c` arrows. The requested keys have a bold box. A
//! dependency on a key no task produces is drawn as a dashed red box: a
//! broken graph can still be drawn, which is when a drawing helps most.
//! Time flows upwards (`rankdir=BT`), as in Dask.

use std::collections::{HashMap, VecDeque};
use std::fmt::{self, Write as _};

use crate::graph::Graph;
use crate::key::{Key, KeyMap, KeySet};
use crate::task::{Task, TaskBody};

/// The graph as Graphviz DOT, in the style described in the [module
/// docs](self): the tasks needed for `keys`, or every task when `keys` is
/// empty. Render it with Graphviz (`dot -Tsvg`), or with
/// `barrow_diagnostics::render`, which limits the size it accepts.
pub fn to_dot(graph: &Graph, keys: &[Key]) -> String {
    let selected = select(graph, keys);
    let requested: KeySet = keys.iter().cloned().collect();
    let mut ids: KeyMap<usize> = KeyMap::default();
    for (i, (key, _)) in selected.iter().enumerate() {
        ids.insert((*key).clone(), i);
    }
    let mut out = String::with_capacity(128 + selected.len() * 96);
    out.push_str("digraph barrow {\n");
    out.push_str("  graph [rankdir=BT];\n");
    out.push_str("  node [fontname=\"Helvetica\", fontsize=10];\n");
    for (i, (key, task)) in selected.iter().enumerate() {
        let bold = if requested.contains(*key) {
            ", penwidth=2"
        } else {
            ""
        };
        let label = escape(&key.to_string());
        let _ = writeln!(
            out,
            "  t{i} [shape=box, label=\"{label}\", tooltip=\"{label}\"{bold}];"
        );
        if let Some(function) = task.function_name() {
            let short = function.rsplit("::").next().unwrap_or(function);
            let _ = writeln!(
                out,
                "  f{i} [shape=ellipse, label=\"{}\", tooltip=\"{}\"];",
                escape(short),
                escape(&truncate(&task.to_string(), 300)),
            );
            let _ = writeln!(out, "  f{i} -> t{i};");
        }
    }
    let mut missing: KeyMap<usize> = KeyMap::default();
    let mut seen = KeySet::default();
    for (i, (_, task)) in selected.iter().enumerate() {
        let entry = if task.function_name().is_some() {
            'f'
        } else {
            't'
        };
        seen.clear();
        task.for_each_dependency(&mut |dep| {
            if !seen.insert(dep.clone()) {
                return;
            }
            match ids.get(dep) {
                Some(d) => {
                    let _ = writeln!(out, "  t{d} -> {entry}{i};");
                }
                None => {
                    let next = missing.len();
                    let m = *missing.entry(dep.clone()).or_insert_with(|| {
                        let label = escape(&dep.to_string());
                        let _ = writeln!(
                            out,
                            "  m{next} [shape=box, style=dashed, color=red, \
                             label=\"{label}\\n(missing)\", tooltip=\"no task produces {label}\"];"
                        );
                        next
                    });
                    let _ = writeln!(out, "  m{m} -> {entry}{i};");
                }
            }
        });
    }
    out.push_str("}\n");
    out
}

/// The tasks to draw, in the graph's order: those needed for `keys` (every
/// task for none).
fn select<'g>(graph: &'g Graph, keys: &[Key]) -> Vec<(&'g Key, &'g Task)> {
    if keys.is_empty() {
        return graph.iter().collect();
    }
    let mut needed = KeySet::default();
    let mut queue: VecDeque<Key> = VecDeque::new();
    for key in keys {
        if needed.insert(key.clone()) {
            queue.push_back(key.clone());
        }
    }
    while let Some(key) = queue.pop_front() {
        if let Some(task) = graph.get(&key) {
            task.for_each_dependency(&mut |dep| {
                if needed.insert(dep.clone()) {
                    queue.push_back(dep.clone());
                }
            });
        }
    }
    graph.iter().filter(|(k, _)| needed.contains(*k)).collect()
}

/// Escapes a DOT string: quotes, backslashes and line breaks.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// The shape of a graph: how big, how deep, how wide, and what it calls
/// (see [`summarize`]). `Display` prints it as a small table.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Summary {
    /// Number of tasks.
    pub tasks: usize,
    /// Number of dependency edges: pairs (task, a key it reads), counted
    /// once however often the task reads the key.
    pub edges: usize,
    /// Number of tasks on the longest chain of dependencies (0 for an empty
    /// graph, 1 when no task depends on another).
    pub depth: usize,
    /// The most tasks at one level, a task's level being the length of the
    /// longest chain below it: how many tasks could run at once with
    /// unlimited workers, at best.
    pub width: usize,
    /// Tasks per layer, in the graph's order: `(layer name, tasks)`.
    pub layers: Vec<(String, usize)>,
    /// Calls per function, most called first: `(function name, tasks)`.
    pub functions: Vec<(String, usize)>,
    /// Tasks that are literal values.
    pub literals: usize,
    /// Tasks that are aliases of another key.
    pub aliases: usize,
    /// Keys read by some task but produced by none, sorted.
    pub missing: Vec<Key>,
    /// Tasks on or behind a cycle, which have no level (0 in a valid graph).
    pub in_cycles: usize,
}

impl Summary {
    /// Number of tasks that call a function.
    pub fn calls(&self) -> usize {
        self.functions.iter().map(|(_, n)| n).sum()
    }
}

/// Counts tasks, edges, levels, layers and functions of `graph`. Works on
/// broken graphs too: keys nobody produces are listed in
/// [`Summary::missing`], and tasks caught in a cycle are counted in
/// [`Summary::in_cycles`].
pub fn summarize(graph: &Graph) -> Summary {
    let mut index: KeyMap<u32> = KeyMap::default();
    for (i, key) in (0u32..).zip(graph.keys()) {
        index.insert(key.clone(), i);
    }
    let n = index.len();
    // Dependencies of every task, once each, as one flat list with offsets.
    let mut offsets = Vec::with_capacity(n + 1);
    let mut deps: Vec<u32> = Vec::with_capacity(n);
    let mut missing = KeySet::default();
    let mut edges = 0usize;
    let mut functions: HashMap<&str, usize> = HashMap::new();
    let (mut literals, mut aliases) = (0, 0);
    let mut seen = KeySet::default();
    offsets.push(0);
    for (_, task) in graph.iter() {
        match task.body() {
            TaskBody::Literal(_) => literals += 1,
            TaskBody::Alias(_) => aliases += 1,
            TaskBody::Call(call) => {
                *functions.entry(call.function().name()).or_insert(0) += 1;
            }
        }
        seen.clear();
        task.for_each_dependency(&mut |dep| {
            if !seen.insert(dep.clone()) {
                return;
            }
            edges += 1;
            match index.get(dep) {
                Some(&d) => deps.push(d),
                None => {
                    missing.insert(dep.clone());
                }
            }
        });
        offsets.push(deps.len());
    }
    let (depth, width, levelled) = levels(n, &offsets, &deps);
    let mut functions: Vec<(String, usize)> = functions
        .into_iter()
        .map(|(name, count)| (name.to_string(), count))
        .collect();
    functions.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut missing: Vec<Key> = missing.into_iter().collect();
    missing.sort();
    Summary {
        tasks: n,
        edges,
        depth,
        width,
        layers: graph
            .layers()
            .iter()
            .map(|l| (l.name().to_string(), l.len()))
            .collect(),
        functions,
        literals,
        aliases,
        missing,
        in_cycles: n - levelled,
    }
}

/// Kahn's algorithm over the flat dependency lists: (depth, width, tasks
/// given a level).
fn levels(n: usize, offsets: &[usize], deps: &[u32]) -> (usize, usize, usize) {
    let mut dependents: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut waiting = vec![0u32; n];
    for task in 0..n {
        let row = &deps[offsets[task]..offsets[task + 1]];
        waiting[task] = row.len() as u32;
        for &d in row {
            dependents[d as usize].push(task as u32);
        }
    }
    let mut level = vec![0usize; n];
    let mut ready: VecDeque<u32> = (0..n as u32)
        .filter(|&t| waiting[t as usize] == 0)
        .collect();
    let mut per_level: Vec<usize> = Vec::new();
    let mut levelled = 0;
    while let Some(task) = ready.pop_front() {
        levelled += 1;
        let here = level[task as usize];
        if per_level.len() <= here {
            per_level.resize(here + 1, 0);
        }
        per_level[here] += 1;
        for &dependent in &dependents[task as usize] {
            let d = dependent as usize;
            level[d] = level[d].max(here + 1);
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.push_back(dependent);
            }
        }
    }
    let width = per_level.iter().copied().max().unwrap_or(0);
    (per_level.len(), width, levelled)
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} tasks, {} edges, depth {}, width {}",
            self.tasks, self.edges, self.depth, self.width
        )?;
        let mut layers: Vec<(String, usize)> = self.layers.clone();
        if layers.len() > 1 || layers.first().is_some_and(|(name, _)| name != "graph") {
            layers.retain(|(_, n)| *n > 0);
            table(f, "layer", &layers)?;
        }
        let mut kinds = self.functions.clone();
        if self.literals > 0 {
            kinds.push(("(literal)".to_string(), self.literals));
        }
        if self.aliases > 0 {
            kinds.push(("(alias)".to_string(), self.aliases));
        }
        table(f, "function", &kinds)?;
        if !self.missing.is_empty() {
            let shown: Vec<String> = self.missing.iter().take(5).map(Key::to_string).collect();
            let more = self.missing.len().saturating_sub(shown.len());
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            writeln!(f, "missing: {}{more}", shown.join(", "))?;
        }
        if self.in_cycles > 0 {
            writeln!(f, "{} tasks on or behind a cycle", self.in_cycles)?;
        }
        Ok(())
    }
}

fn table(f: &mut fmt::Formatter<'_>, title: &str, rows: &[(String, usize)]) -> fmt::Result {
    if rows.is_empty() {
        return Ok(());
    }
    let name_width = rows
        .iter()
        .map(|(name, _)| name.chars().count())
        .chain([title.len()])
        .max()
        .unwrap_or(0);
    let count_width = rows
        .iter()
        .map(|(_, n)| n.to_string().len())
        .chain(["tasks".len()])
        .max()
        .unwrap_or(0);
    writeln!(f, "{title:<name_width$}  {:>count_width$}", "tasks")?;
    for (name, count) in rows {
        writeln!(f, "{name:<name_width$}  {count:>count_width$}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arg::{key, lit};
    use crate::{Func, Layer};
    use std::sync::Arc;

    fn diamond() -> Graph {
        let inc = Func::new("inc", |x: &i64| x + 1);
        let add = Func::new("my_crate::ops::add", |a: &i64, b: &i64| a + b);
        Graph::from_tasks([
            ("a", Task::literal(1i64)),
            ("b", Task::call(&inc, [key("a")])),
            ("c", Task::call(&inc, [key("a")])),
            ("d", Task::call(&add, [key("b"), key("c")])),
            ("e", Task::alias("d")),
        ])
        .unwrap()
    }

    #[test]
    fn summary_counts_levels_edges_and_functions() {
        let s = summarize(&diamond());
        assert_eq!(s.tasks, 5);
        assert_eq!(s.edges, 5);
        assert_eq!(s.depth, 4);
        assert_eq!(s.width, 2);
        assert_eq!(
            s.functions,
            [
                ("inc".to_string(), 2),
                ("my_crate::ops::add".to_string(), 1)
            ]
        );
        assert_eq!((s.literals, s.aliases, s.calls()), (1, 1, 3));
        assert!(s.missing.is_empty());
        assert_eq!(s.in_cycles, 0);
        let shown = s.to_string();
        assert!(
            shown.starts_with("5 tasks, 5 edges, depth 4, width 2"),
            "{shown}"
        );
        let row = |name: &str| {
            shown
                .lines()
                .find(|l| l.starts_with(name))
                .map(|l| l.split_whitespace().collect::<Vec<_>>())
        };
        assert_eq!(row("inc"), Some(vec!["inc", "2"]), "{shown}");
        assert_eq!(row("(literal)"), Some(vec!["(literal)", "1"]), "{shown}");
        assert_eq!(row("function"), Some(vec!["function", "tasks"]), "{shown}");
    }

    #[test]
    fn a_key_read_twice_is_one_edge() {
        let add = Func::new("add", |a: &i64, b: &i64| a + b);
        let graph = Graph::from_tasks([
            ("a", Task::literal(1i64)),
            ("b", Task::call(&add, [key("a"), key("a")])),
        ])
        .unwrap();
        assert_eq!(summarize(&graph).edges, 1);
        assert_eq!(to_dot(&graph, &[]).matches(" -> ").count(), 2);
    }

    #[test]
    fn summary_lists_layers_missing_keys_and_cycles() {
        let inc = Func::new("inc", |x: &i64| x + 1);
        let mut first = Layer::new("load");
        first.insert("x", Task::literal(1i64)).unwrap();
        let mut second = Layer::new("step");
        second.insert("y", Task::call(&inc, [key("nope")])).unwrap();
        second.insert("p", Task::call(&inc, [key("q")])).unwrap();
        second.insert("q", Task::call(&inc, [key("p")])).unwrap();
        let mut graph = Graph::from_layer(first);
        graph.add_layer(Arc::new(second)).unwrap();
        let s = summarize(&graph);
        assert_eq!(s.layers, [("load".to_string(), 1), ("step".to_string(), 3)]);
        assert_eq!(s.missing, [Key::new("nope")]);
        assert_eq!(s.in_cycles, 2);
        let shown = s.to_string();
        assert!(shown.contains("load"), "{shown}");
        assert!(shown.contains("missing: nope"), "{shown}");
        assert!(shown.contains("2 tasks on or behind a cycle"), "{shown}");
    }

    #[test]
    fn empty_graph_summary() {
        let s = summarize(&Graph::new());
        assert_eq!((s.tasks, s.edges, s.depth, s.width), (0, 0, 0, 0));
        assert!(s.to_string().starts_with("0 tasks"));
    }

    #[test]
    fn dot_draws_a_box_per_task_and_an_ellipse_per_call() {
        let graph = diamond();
        let dot = to_dot(&graph, &[]);
        assert_eq!(dot.matches("shape=box").count(), 5);
        assert_eq!(dot.matches("shape=ellipse").count(), 3);
        // 5 dependency edges + 3 call-to-result arrows.
        assert_eq!(dot.matches(" -> ").count(), 8);
        assert!(dot.contains("label=\"add\""), "short name: {dot}");
        assert!(
            dot.contains("tooltip=\"my_crate::ops::add(b, c)\""),
            "{dot}"
        );
    }

    #[test]
    fn dot_culls_to_the_requested_keys_and_marks_them() {
        let dot = to_dot(&diamond(), &[Key::new("b")]);
        assert_eq!(dot.matches("shape=box").count(), 2);
        assert_eq!(dot.matches("penwidth=2").count(), 1);
        assert!(!dot.contains("\"d\""));
    }

    #[test]
    fn dot_escapes_labels_and_draws_missing_keys() {
        let inc = Func::new("inc", |x: &i64| x + 1);
        let graph =
            Graph::from_tasks([("say \"hi\"\\", Task::call(&inc, [key("gone"), lit(1i64)]))])
                .unwrap();
        let dot = to_dot(&graph, &[]);
        assert!(dot.contains(r#"label="say \"hi\"\\""#), "{dot}");
        assert!(dot.contains("style=dashed"), "{dot}");
        assert!(dot.contains("m0 -> f0"), "{dot}");
    }
}
