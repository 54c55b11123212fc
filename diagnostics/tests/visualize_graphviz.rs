#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
//! Drawing graphs with the real Graphviz `dot` (which `.ci/run` installs):
//! the SVG has one node per box or ellipse and one edge per arrow. Where
//! `dot` is missing, the tests that need it say so and skip that part
//! (under `CI=true` they fail instead: `barrow_test_support`).

mod support;

use std::path::Path;

use barrow_core::arg::key;
use barrow_core::inspect::summarize;
use barrow_core::{Func, Graph, Key, Task};
use barrow_diagnostics::{ErrorKind, Format, Visualize, render, to_dot, visualize};
use barrow_test_support::require_program;
use support::*;

/// Whether Graphviz's `dot` is here to run (else the caller returns).
fn graphviz() -> bool {
    require_program("dot", "graphviz")
}

/// Map, a tree reduction, and an alias: every kind of task.
fn mixed_graph() -> Graph {
    let mut graph = map_reduce(6, 0, 8);
    let add = Func::new("add", |a: &u64, b: &u64| a + b);
    graph
        .insert("twice", Task::call(&add, [key("total"), key("total")]))
        .unwrap();
    graph.insert("result", Task::alias("twice")).unwrap();
    graph
}

/// Counts the `<g ... class="node">` and `class="edge"` groups of an SVG.
fn svg_counts(svg: &str) -> (usize, usize) {
    (
        svg.matches("class=\"node\"").count(),
        svg.matches("class=\"edge\"").count(),
    )
}

fn render_or_explain(dot: &str, path: &Path) {
    if let Err(err) = render(dot, Format::Svg, path) {
        panic!("rendering with Graphviz failed: {err}");
    }
}

#[test]
fn dot_renders_to_svg_with_a_node_per_shape_and_an_edge_per_arrow() {
    if !graphviz() {
        return;
    }
    let graph = mixed_graph();
    let summary = summarize(&graph);
    assert_eq!(summary.tasks, 6 * 2 + 3);
    assert_eq!(summary.calls(), 6 + 2);
    assert_eq!(summary.aliases, 1);
    let path = out_dir("visualize-svg").join("graph.svg");
    render_or_explain(&to_dot(&graph, &[]), &path);

    let svg = std::fs::read_to_string(&path).unwrap();
    let (nodes, edges) = svg_counts(&svg);
    assert_eq!(
        nodes,
        summary.tasks + summary.calls(),
        "a box per task, an ellipse per call"
    );
    assert_eq!(
        edges,
        summary.edges + summary.calls(),
        "an arrow per dependency and per call"
    );
    assert!(svg.contains(">work<"), "ellipses are labelled by function");
    assert!(svg.contains("(&#39;work&#39;, 3)") || svg.contains("('work', 3)"));
}

#[test]
fn visualize_draws_the_tasks_behind_the_keys_in_the_format_of_the_name() {
    let graph = mixed_graph();
    let dir = out_dir("visualize-keys");
    // DOT text needs no Graphviz.
    visualize(&graph, &[], dir.join("all.dot")).unwrap();
    let dot = std::fs::read_to_string(dir.join("all.dot")).unwrap();
    assert_eq!(dot, to_dot(&graph, &[]));
    if !graphviz() {
        return;
    }

    // ('work', 2) needs ('x', 2): two boxes, one ellipse, two arrows.
    visualize(&graph, &[Key::from(("work", 2))], dir.join("one.svg")).unwrap();
    let svg = std::fs::read_to_string(dir.join("one.svg")).unwrap();
    assert_eq!(svg_counts(&svg), (3, 2));

    visualize(&graph, &[], dir.join("all.png")).unwrap();
    let png = std::fs::read(dir.join("all.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG image");
}

#[test]
fn a_missing_graphviz_says_to_install_it() {
    let graph = mixed_graph();
    let path = out_dir("visualize-no-dot").join("graph.svg");
    let err = Visualize::new(&graph)
        .graphviz("/nonexistent/bin/dot")
        .write(&path)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::GraphvizMissing);
    let message = err.to_string();
    assert!(message.contains("install Graphviz"), "{message}");
    assert!(message.contains("graph.svg"), "{message}");
    assert!(!path.exists());
}

#[test]
fn graphviz_errors_are_reported_with_its_message() {
    if !graphviz() {
        return;
    }
    let path = out_dir("visualize-bad-dot").join("bad.svg");
    let err = render("digraph { a -> }", Format::Svg, &path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Graphviz, "{err}");
    assert!(err.to_string().contains("syntax error"), "{err}");
}

#[test]
fn large_graphs_are_refused_with_a_way_out() {
    let graph = many_small(3_000);
    let path = out_dir("visualize-large").join("big.svg");
    let err = visualize(&graph, &[], &path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    let message = err.to_string();
    assert!(message.contains("3001 tasks"), "{message}");
    assert!(message.contains("max_tasks"), "{message}");
    // A raised limit is fine (as DOT); so are the tasks behind a few keys.
    Visualize::new(&graph)
        .max_tasks(10_000)
        .format(Format::Dot)
        .write(path.with_extension("dot"))
        .unwrap();
    if !graphviz() {
        return;
    }
    visualize(&graph, &[Key::from(("add", 7))], &path).unwrap();
}

#[test]
fn unknown_extensions_are_refused() {
    let err = Format::from_path("graph.jpeg").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Format);
    assert!(err.to_string().contains("graph.jpeg"), "{err}");
    assert_eq!(Format::from_path("G.SVG").unwrap(), Format::Svg);
    assert_eq!(Format::from_path("g.gv").unwrap(), Format::Dot);
}

#[test]
fn collections_draw_the_tasks_their_compute_runs() {
    let dir = out_dir("visualize-collections");
    // A bag's count: 2 stored partitions, 2 partial counts, the total.
    let bag = barrow_bag::Bag::from_sequence(0..10, 2)
        .unwrap()
        .map(|x| x + 1);
    let path = dir.join("bag.dot");
    barrow_diagnostics::visualize_collection(&bag.count(), &path).unwrap();
    let dot = std::fs::read_to_string(&path).unwrap();
    assert!(dot.contains("map-count"), "the fused map and count: {dot}");
    let graph = barrow_core::Collection::graph(&bag.count()).unwrap();
    assert_eq!(graph.len(), 5);
    if !graphviz() {
        return;
    }

    // A delayed chain: a literal and two calls, two arrows.
    let inc = barrow_delayed::delayed("inc", |x: &i64| x + 1);
    let two = inc.call(inc.call(barrow_delayed::Delayed::value(0i64)));
    barrow_diagnostics::visualize_collection(&two, dir.join("delayed.svg")).unwrap();
    let svg = std::fs::read_to_string(dir.join("delayed.svg")).unwrap();
    assert_eq!(svg_counts(&svg), (5, 4), "3 tasks, 2 results:\n{svg}");
}
