//! Shapes ported from Dask's `dask/tests/test_order.py` (rewritten as
//! properties of Barrow's order), plus robustness tests.
//!
//! Graphs are written as `(name, dependencies)` lists. Names double as keys
//! and sort "naturally" (digit runs compare as numbers), as Barrow keys sort
//! by name then index. Every call to [`Graph::order`] also checks that the
//! result is a permutation and a topological order.

mod general;
mod graphs;
mod support;
mod wider_shapes;

use support::*;

/// Two reductions; each branch should finish before the next one starts.
///
///   a0  a1    b0  b1
///    \  /      \  /
///     sa        sb
///       \      /
///        total         expected: a0 a1 sa b0 b1 sb total
#[test]
fn order_finishes_one_branch_before_the_next() {
    let g = graph(&[
        ("sa", &["a0", "a1"]),
        ("sb", &["b0", "b1"]),
        ("total", &["sa", "sb"]),
    ]);
    assert_eq!(
        g.order().sequence(),
        ["a0", "a1", "sa", "b0", "b1", "sb", "total"]
    );
}

/// The two inputs of each reducer run next to each other, whichever inputs
/// are paired (Dask: `test_ordering_keeps_groups_together`).
///
///   a0  a1  a2  a3        a0  a2  a1  a3
///    \  /    \  /          \  /    \  /
///     b0      b1            b0      b1
#[test]
fn inputs_of_a_reducer_run_together() {
    for g in both(&[("b0", &["a0", "a1"]), ("b1", &["a2", "a3"])]) {
        let o = g.order();
        assert_eq!(o.of("a0").abs_diff(o.of("a1")), 1);
        assert_eq!(o.of("a2").abs_diff(o.of("a3")), 1);
    }
    for g in both(&[("b0", &["a0", "a2"]), ("b1", &["a1", "a3"])]) {
        let o = g.order();
        assert_eq!(o.of("a0").abs_diff(o.of("a2")), 1);
        assert_eq!(o.of("a1").abs_diff(o.of("a3")), 1);
    }
}

/// Whichever input runs first, its branch finishes before the other input
/// is loaded, and no order holds fewer results (Dask:
/// `test_avoid_broker_nodes`, whose docstring states this; its assertion
/// reads differently).
///
///   b0    b1  b2
///   |      \  /
///   a0      a1
#[test]
fn a_branch_finishes_before_the_next_input_loads() {
    for g in both(&[("b0", &["a0"]), ("b1", &["a1"]), ("b2", &["a1"])]) {
        let o = g.order();
        let a_first = o.of("b0") < o.of("a1");
        let b_first = o.of("b1") < o.of("a0") && o.of("b2") < o.of("a0");
        assert!(a_first || b_first, "{:?}", o.sequence());
        assert_eq!(o.peak_live(), optimal_peak(&g));
    }
}

/// The base of a deep reduction runs first: b0 right after the shared input
/// c (at most second), and b1 at most fourth (Dask:
/// `test_base_of_reduce_preferred`).
///
///                a3
///               /|
///             a2 |
///            /|  |
///          a1 |  |
///         /|  |  |
///       a0 |  |  |
///       |  |  |  |
///       b0 b1 b2 b3
///         \ \ / /
///            c
#[test]
fn base_of_a_reduction_runs_first() {
    for g in both(&[
        ("a0", &["b0"]),
        ("a1", &["a0", "b1"]),
        ("a2", &["a1", "b2"]),
        ("a3", &["a2", "b3"]),
        ("b0", &["c"]),
        ("b1", &["c"]),
        ("b2", &["c"]),
        ("b3", &["c"]),
    ]) {
        let o = g.order();
        assert!(o.of("b0") <= 1, "{:?}", o.sequence());
        assert!(o.of("b1") <= 3, "{:?}", o.sequence());
    }
}

/// Once c1 is computed, its other dependent d1 runs before the b branch
/// starts, so c1 can be freed as soon as a3 runs
/// (Dask: `test_avoid_upwards_branching`).
///
///        a1
///        |
///        a2
///        |
///        a3    d1
///       /  \  /
///     b1    c1
///     |     |
///     b2    c2
///           |
///           c3
#[test]
fn dependents_of_a_finished_input_run_before_a_new_branch() {
    for g in both(&[
        ("a1", &["a2"]),
        ("a2", &["a3"]),
        ("a3", &["b1", "c1"]),
        ("b1", &["b2"]),
        ("c1", &["c2"]),
        ("c2", &["c3"]),
        ("d1", &["c1"]),
    ]) {
        let o = g.order();
        assert!(o.of("d1") < o.of("b1"), "{:?}", o.sequence());
    }
}

/// The deeper branch c runs before b, and the two dependents of d1 run
/// together (Dask: `test_avoid_upwards_branching_complex`).
///
///          a1
///          |
///     e2   a2  d2  d3
///     |    |    \  /
///     e1   a3    d1
///      \  /  \  /
///       b1    c1
///       |     |
///       b2    c2
///             |
///             c3
#[test]
fn deeper_branch_first_and_siblings_together() {
    for g in both(&[
        ("a1", &["a2"]),
        ("a2", &["a3"]),
        ("a3", &["b1", "c1"]),
        ("b1", &["b2"]),
        ("c1", &["c2"]),
        ("c2", &["c3"]),
        ("d1", &["c1"]),
        ("d2", &["d1"]),
        ("d3", &["d1"]),
        ("e1", &["b1"]),
        ("e2", &["e1"]),
    ]) {
        let o = g.order();
        assert!(o.of("c1") < o.of("b1"), "{:?}", o.sequence());
        assert_eq!(o.of("d2").abs_diff(o.of("d3")), 1, "{:?}", o.sequence());
    }
}

/// Of two dependencies of `a`, the one with more work below (b, which also
/// needs e) runs before the cheaper one (Dask:
/// `test_deep_bases_win_over_dependents`).
///
///             a
///           / | \
///          b  c |
///         / \ | /
///        e    d
#[test]
fn more_work_below_runs_first() {
    for g in both(&[("a", &["b", "c", "d"]), ("b", &["d", "e"]), ("c", &["d"])]) {
        let o = g.order();
        assert!(o.of("b") < o.of("c"), "{:?}", o.sequence());
    }
}

/// The longer of two independent chains starts first (Dask:
/// `test_prefer_deep`).
///
///         c
///         |
///     e   b
///     |   |
///     d   a
#[test]
fn longer_chain_first() {
    for g in both(&[("b", &["a"]), ("c", &["b"]), ("e", &["d"])]) {
        let o = g.order();
        assert!(o.of("a") < o.of("d"), "{:?}", o.sequence());
        assert!(o.of("b") < o.of("d"), "{:?}", o.sequence());
    }
}

/// Ten equal inputs of one sum run in key order, numerically (Dask:
/// `test_break_ties_by_str`; Dask happens to pick descending order, Barrow
/// ascending).
///
///   x0  x1  x2 ... x9
///     \  \   |   /
///           y           expected: x0 x1 ... x9 y
#[test]
fn ties_run_in_key_order() {
    let xs: Vec<String> = (0..10).map(|i| format!("x{i}")).collect();
    let g = graph_owned(vec![("y".to_string(), xs.clone())]);
    let o = g.order();
    let mut expected: Vec<&str> = xs.iter().map(String::as_str).collect();
    expected.push("y");
    assert_eq!(o.sequence(), expected);
}

/// The chain under b runs before the short dependents d and e of the
/// shared input (Dask: `test_favor_longest_critical_path`).
///
///        a
///        |
///     d  b  e
///      \ | /
///        c
#[test]
fn longest_path_before_short_siblings() {
    for g in both(&[("d", &["c"]), ("e", &["c"]), ("b", &["c"]), ("a", &["b"])]) {
        let o = g.order();
        assert!(o.of("d") > o.of("b"), "{:?}", o.sequence());
        assert!(o.of("e") > o.of("b"), "{:?}", o.sequence());
    }
}

/// Small sections finish one at a time, holding as few results as any
/// order can (Dask: `test_run_smaller_sections`).
///
///             aa
///            / |
///       b   d  bb dd
///      / \ /|  | /
///     a   c e  cc
#[test]
fn small_sections_one_at_a_time() {
    for g in both(&[
        ("b", &["a", "c"]),
        ("d", &["c", "e"]),
        ("bb", &["cc"]),
        ("aa", &["d", "bb"]),
        ("dd", &["cc"]),
    ]) {
        let o = g.order();
        assert_eq!(o.peak_live(), optimal_peak(&g), "{:?}", o.sequence());
    }
}

/// Each stack finishes (up to its output) before the next one starts,
/// so the shared middle results are freed early (Dask:
/// `test_local_parents_of_reduction`).
///
///             c1
///             |
///         b1  c2
///         |  /|
///     a1  b2  c3
///     |  /|
///     a2  b3
///     |
///     a3          expected: a3 a2 a1 b3 b2 b1 c3 c2 c1
#[test]
fn local_parents_of_a_reduction_run_first() {
    for g in both(&[
        ("a2", &["a3"]),
        ("a1", &["a2"]),
        ("b2", &["b3", "a2"]),
        ("b1", &["b2"]),
        ("c2", &["c3", "b2"]),
        ("c1", &["c2"]),
    ]) {
        let o = g.order();
        assert_eq!(
            o.sequence(),
            ["a3", "a2", "a1", "b3", "b2", "b1", "c3", "c2", "c1"]
        );
    }
}

/// Overlapping neighbourhoods are swept from one end to the other: the
/// first half of the order holds about half of the inputs and half of the
/// outputs, and no order holds fewer results (Dask: `test_nearest_neighbor`).
///
///     a1  a2  a3  a4  a5  a6  a7 a8  a9
///      \  |  /  \ |  /  \ |  / \ |  /
///         b1      b2      b3     b4
#[test]
fn neighbourhoods_are_swept_in_order() {
    for g in both(&[
        ("a1", &["b1"]),
        ("a2", &["b1"]),
        ("a3", &["b1", "b2"]),
        ("a4", &["b2"]),
        ("a5", &["b2", "b3"]),
        ("a6", &["b3"]),
        ("a7", &["b3", "b4"]),
        ("a8", &["b4"]),
        ("a9", &["b4"]),
    ]) {
        let o = g.order();
        let half = 13 / 2;
        let early_a = (1..=9).filter(|i| o.of(&format!("a{i}")) < half).count();
        let early_b = (1..=4).filter(|i| o.of(&format!("b{i}")) < half).count();
        assert!((4..=6).contains(&early_a), "{:?}", o.sequence());
        assert!((2..=3).contains(&early_b), "{:?}", o.sequence());
        assert_eq!(o.peak_live(), optimal_peak(&g));
    }
}

/// Independent tasks run in key order (Dask: `test_string_ordering`).
///
///     a1  a2  a3        expected: a1 a2 a3
#[test]
fn independent_tasks_in_key_order() {
    let g = graph(&[("a1", &[]), ("a2", &[]), ("a3", &[])]);
    assert_eq!(g.order().sequence(), ["a1", "a2", "a3"]);
}

/// The first reduction, with its own inputs, completes before the inputs
/// of the second load (Dask: `test_prefer_short_narrow`).
///
///                 c2
///                / \ \
///              c1   \ \
///            / | \   \ \
///          c0  a0 b0  a1 b1
#[test]
fn first_reduction_before_the_inputs_of_the_next() {
    for g in both(&[("c1", &["c0", "a0", "b0"]), ("c2", &["c1", "a1", "b1"])]) {
        let o = g.order();
        assert!(o.of("b0") < o.of("b1"), "{:?}", o.sequence());
        assert!(o.of("b0") < o.of("c2"), "{:?}", o.sequence());
        assert!(o.of("c1") < o.of("a1"), "{:?}", o.sequence());
    }
}

/// Same with a shared input under all a's and b's: c1 still runs before
/// a1 and b1, because they are not needed for c1 and a0, b0 can then be
/// freed (Dask: `test_prefer_short_ancestor`).
///
///                 c2
///                / \ \
///              c1   \ \
///            / | \   \ \
///          c0  a0 b0  a1 b1
///                \ \  / /
///                  ab
#[test]
fn first_reduction_first_even_with_a_shared_input() {
    for g in both(&[
        ("a0", &["ab"]),
        ("b0", &["ab"]),
        ("c1", &["c0", "a0", "b0"]),
        ("a1", &["ab"]),
        ("b1", &["ab"]),
        ("c2", &["c1", "a1", "b1"]),
    ]) {
        let o = g.order();
        assert!(o.of("a0") < o.of("a1"), "{:?}", o.sequence());
        assert!(o.of("b0") < o.of("b1"), "{:?}", o.sequence());
        assert!(o.of("b0") < o.of("c2"), "{:?}", o.sequence());
        assert!(o.of("c1") < o.of("c2"), "{:?}", o.sequence());
        assert!(o.of("c1") < o.of("a1"), "{:?}", o.sequence());
    }
}
