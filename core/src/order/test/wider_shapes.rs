//! More shapes from Dask's test suite: wider graphs, and the recorded
//! graphs of real workloads in [`graphs`](super::graphs).

use super::graphs;
use super::support::*;

/// Overlapping windows (map_overlap): one end of the array is finished
/// before the other end starts (Dask: `test_map_overlap`).
///
///       b1      b3      b5
///        |\    / | \  / |
///       c1  c2  c3  c4  c5
///        |/  | \ | / | \|
///       d1  d2  d3  d4  d5
///        |       |      |
///       e1      e3      e5
#[test]
fn overlapping_windows_finish_one_end_first() {
    for g in both(&[
        ("d1", &["e1"]),
        ("c1", &["d1"]),
        ("b1", &["c1", "c2"]),
        ("c2", &["d1", "d2", "d3"]),
        ("d3", &["e3"]),
        ("c3", &["d3"]),
        ("b3", &["c2", "c3", "c4"]),
        ("c4", &["d3", "d4", "d5"]),
        ("d5", &["e5"]),
        ("c5", &["d5"]),
        ("b5", &["c4", "c5"]),
    ]) {
        let o = g.order();
        assert!(
            o.of("b1") < o.of("e5") || o.of("b5") < o.of("e1"),
            "{:?}",
            o.sequence()
        );
    }
}

/// The structure decides, not the keys: ten inputs, each output reads three
/// consecutive ones of a ring, listed in scrambled key order. The order
/// walks around the ring, alternating one new input and one output, with
/// at most three inputs held besides the outputs (Dask:
/// `test_use_structure_not_keys`).
///
///     a2 a0 a7 a4 a9 a6 a5 a1 a8 a3   (ring order of the inputs)
///     \|/ \|/ ...                     b5=f(a2) b7=f(a0,a2) b9=f(a7,a0,a2) ...
#[test]
fn structure_decides_not_keys() {
    for g in both(&[
        ("b5", &["a2"]),
        ("b7", &["a0", "a2"]),
        ("b9", &["a7", "a0", "a2"]),
        ("b1", &["a4", "a7", "a0"]),
        ("b2", &["a9", "a4", "a7"]),
        ("b4", &["a6", "a9", "a4"]),
        ("b3", &["a5", "a6", "a9"]),
        ("b8", &["a1", "a5", "a6"]),
        ("b6", &["a8", "a1", "a5"]),
        ("b0", &["a3", "a8", "a1"]),
    ]) {
        let o = g.order();
        let seq = o.sequence();
        // After the first input or two, inputs and outputs alternate.
        let inputs: Vec<usize> = (0..seq.len())
            .filter(|&i| seq[i].starts_with('a'))
            .collect();
        let gaps = inputs.windows(2).filter(|w| w[1] - w[0] == 2).count();
        assert!(gaps >= 7, "{seq:?}");
        // Three inputs of the ring are live at a time, besides the outputs.
        assert!(o.peak_live() <= 10 + 3, "{} {seq:?}", o.peak_live());
    }
}

/// A chain of reducers, each also reading a fresh dependent of two shared
/// inputs b0 and c0: the chain advances one step per three tasks instead of
/// running all dependents of b0 and c0 up front, holding at most six
/// results (Dask: `test_dont_run_all_dependents_too_early`).
///
///     a0 b0 c0
///      \ | /
///       d0    b1 c1      b_i = f(b0), c_i = f(c0)
///         \   | /
///           d1    b2 c2
///             \   | /
///               d2 ...  d9
#[test]
fn shared_inputs_do_not_run_all_their_dependents_early() {
    let mut spec: OwnedSpec = vec![("d0".into(), vec!["a0".into(), "b0".into(), "c0".into()])];
    for i in 1..10 {
        spec.push((format!("b{i}"), vec!["b0".into()]));
        spec.push((format!("c{i}"), vec!["c0".into()]));
        spec.push((
            format!("d{i}"),
            vec![format!("d{}", i - 1), format!("b{i}"), format!("c{i}")],
        ));
    }
    for g in both_owned(spec) {
        let o = g.order();
        let d: Vec<u32> = (0..10).map(|i| o.of(&format!("d{i}"))).collect();
        // d0..d7 every third task; at the end, b9 and c9 may run as soon as
        // they free b0 and c0 (Dask runs them after d8; same peak).
        let expected: Vec<u32> = (1..=8).map(|i| 3 * i).collect();
        assert_eq!(d[..8], expected, "{:?}", o.sequence());
        assert_eq!(d[9], 30);
        assert!(o.peak_live() <= 6, "{} {:?}", o.peak_live(), o.sequence());
    }
}

/// From one input, five branches of different sizes join in a3: the two
/// biggest (dd3 and ee3, with their d and e feeders) run first, and the
/// single task c1 runs after them; no order holds fewer results (Dask:
/// `test_many_branches_use_ndependencies` runs c1 last; here it may run as
/// soon as it is the last task holding a0, which frees a0 for the same
/// peak).
///
///                          a3
///         ___________/ / |  \ \______________
///        /            /  |   \               \
///       a2          b2   c1   dd3             ee3
///       |           |    |   /   \           /   \
///       a1          b1   |  d2   dd2        e2   ee2
///        \           \   |  |     |         |     |
///         \           \  |  d1   dd1        e1   ee1
///          \___________\_|__/_____/_________/_____/
///                        a0
#[test]
fn bigger_branches_run_first() {
    for g in both(&[
        ("a1", &["a0"]),
        ("a2", &["a1"]),
        ("b1", &["a0"]),
        ("b2", &["b1"]),
        ("c1", &["a0"]),
        ("d1", &["a0"]),
        ("d2", &["d1"]),
        ("dd1", &["a0"]),
        ("dd2", &["dd1"]),
        ("dd3", &["d2", "dd2"]),
        ("e1", &["a0"]),
        ("e2", &["e1"]),
        ("ee1", &["a0"]),
        ("ee2", &["ee1"]),
        ("ee3", &["e2", "ee2"]),
        ("a3", &["a2", "b2", "c1", "dd3", "ee3"]),
    ]) {
        let o = g.order();
        let mut big: Vec<u32> = [
            "d1", "d2", "dd1", "dd2", "dd3", "e1", "e2", "ee1", "ee2", "ee3",
        ]
        .iter()
        .map(|n| o.of(n))
        .collect();
        big.sort_unstable();
        assert_eq!(big, (1..=10).collect::<Vec<u32>>(), "{:?}", o.sequence());
        assert!(o.of("c1") > 10, "{:?}", o.sequence());
        assert_eq!(o.peak_live(), optimal_peak(&g), "{:?}", o.sequence());
    }
}

/// Sixteen bundles crossing four groups (the `(maxima, argmax)` graph of
/// dask#5859). The two ends of each bundle run close together, and few
/// results are held; also with one end extended, or one or two ends removed
/// (Dask: `test_order_with_equal_dependents`).
///
///     x0 ── x1          for each group x and each group y:
///     |      |            x3_y = f(x2_0, y2_1)
///     x2_0  x2_1          x4_y = f(x3_y)
///                         x5_y_0, x5_y_1 = f(x4_y)
///                         x6_y_0 = f(x5_y_0), x6_y_1 = f(x5_y_1)
#[test]
fn bundles_of_equal_dependents_stay_together() {
    let letters = ["a", "b", "c", "d"];
    let build = |extend: bool, drop: usize| {
        let mut spec: OwnedSpec = Vec::new();
        for x in letters {
            spec.push((format!("{x}-1"), vec![format!("{x}-0")]));
            spec.push((format!("{x}-2-0"), vec![format!("{x}-0")]));
            spec.push((format!("{x}-2-1"), vec![format!("{x}-1")]));
            for (i, y) in letters.iter().enumerate() {
                spec.push((
                    format!("{x}-3-{i}"),
                    vec![format!("{x}-2-0"), format!("{y}-2-1")],
                ));
                spec.push((format!("{x}-4-{i}"), vec![format!("{x}-3-{i}")]));
                spec.push((format!("{x}-5-{i}-0"), vec![format!("{x}-4-{i}")]));
                spec.push((format!("{x}-5-{i}-1"), vec![format!("{x}-4-{i}")]));
                if drop < 1 {
                    spec.push((format!("{x}-6-{i}-0"), vec![format!("{x}-5-{i}-0")]));
                }
                if drop < 2 {
                    spec.push((format!("{x}-6-{i}-1"), vec![format!("{x}-5-{i}-1")]));
                }
                if extend {
                    spec.push((format!("{x}-7-{i}-0"), vec![format!("{x}-6-{i}-0")]));
                }
            }
        }
        spec
    };
    for (extend, drop) in [(false, 0), (true, 0), (false, 1), (false, 2)] {
        for g in both_owned(build(extend, drop)) {
            let o = g.order();
            let ends = |x: &str, i: usize| -> (String, String) {
                match (extend, drop) {
                    (false, 0) => (format!("{x}-6-{i}-0"), format!("{x}-6-{i}-1")),
                    (true, _) => (format!("{x}-7-{i}-0"), format!("{x}-6-{i}-1")),
                    (_, 1) => (format!("{x}-6-{i}-1"), format!("{x}-5-{i}-0")),
                    _ => (format!("{x}-5-{i}-0"), format!("{x}-5-{i}-1")),
                }
            };
            let mut total = 0;
            for x in letters {
                for i in 0..4 {
                    let (p, q) = ends(x, i);
                    total += o.of(&p).abs_diff(o.of(&q));
                }
            }
            let ideal = match (extend, drop) {
                (true, _) => 3 * 16,
                (_, 2) => 16,
                _ => 2 * 16,
            };
            assert!(
                total <= ideal,
                "spread {total} > {ideal}: {:?}",
                o.sequence()
            );
            assert!(o.peak_intermediate() <= 11, "{}", o.peak_intermediate());
        }
    }
}

/// Two halves joined only by the output; after the first half's first
/// store, the descent continues with the store that shares the already
/// loaded a1, not with the next store in key order, which is in the other
/// half (Dask: `test_terminal_node_backtrack`).
///
///                        store
///                /   /         \    \
///        store-0-0  store-1-0  store-0-1  store-1-1
///             |      |            |      |
///            b0     b1           b2     b3
///            / \   / \           / \   / \
///          a0   a1    a2       a3   a4    a5
#[test]
fn shared_loaded_input_decides_the_next_branch() {
    let g = graph(&[
        ("b0", &["a0", "a1"]),
        ("b1", &["a1", "a2"]),
        ("store-0-0", &["b0"]),
        ("store-1-0", &["b1"]),
        ("b2", &["a3", "a4"]),
        ("b3", &["a4", "a5"]),
        ("store-0-1", &["b2"]),
        ("store-1-1", &["b3"]),
        (
            "store",
            &["store-0-0", "store-1-0", "store-0-1", "store-1-1"],
        ),
    ]);
    let o = g.order();
    assert!(o.of("a2") < o.of("a3"), "{:?}", o.sequence());
    assert_eq!(o.peak_live(), optimal_peak(&g), "{:?}", o.sequence());
}

/// Motifs where one input b feeds two consumers c1, c2 in two different
/// reduction trees. Running c2 right after c1 frees b; the two deep
/// branches are reduced as far as possible before the shallow inputs load
/// (Dask: `test_eager_to_compute_dependent_to_free_parent`).
///
///     |      |
///     c1    c2
///       \  /
///        b
///        |
///        a      (72 tasks, see `graphs::EAGER`)
#[test]
fn consumer_of_a_shared_input_runs_soon() {
    for g in both(graphs::EAGER) {
        let o = g.order();
        assert!(o.peak_intermediate() <= 9, "{}", o.peak_intermediate());
        let shallow = ["a64", "a66"].map(|n| o.of(n)).into_iter().min();
        let before_shallow = |names: &[&str]| names.iter().all(|n| Some(o.of(n)) < shallow);
        assert!(
            before_shallow(&["a68", "a63", "a65", "a67"]),
            "{:?}",
            o.sequence()
        );
        assert!(
            before_shallow(&["a69", "a70", "a71", "a62"]),
            "{:?}",
            o.sequence()
        );
        assert!(
            before_shallow(&["a06", "a41", "a39", "a00"]),
            "{:?}",
            o.sequence()
        );
    }
}

/// Overlapping triples feeding five outputs are swept from one side to
/// the other, holding at most three inputs besides the running task (Dask:
/// `test_diagnostics`, which accepts a sweep from either side).
///
///         a1  b1  c1  d1  e1
///         /|\ /|\ /|\ /|  /
///        / | X | X | X | /
///       /  |/ \|/ \|/ \|/
///     a0  b0  c0  d0  e0
#[test]
fn overlapping_triples_hold_few_results() {
    for g in both(&[
        ("a1", &["a0", "b0", "c0"]),
        ("b1", &["b0", "c0", "d0"]),
        ("c1", &["c0", "d0", "e0"]),
        ("d1", &["d0", "e0"]),
        ("e1", &["e0"]),
    ]) {
        let o = g.order();
        let outputs: Vec<u32> = ["a1", "b1", "c1", "d1", "e1"].map(|n| o.of(n)).to_vec();
        let rising = outputs.windows(2).all(|w| w[0] < w[1]);
        let falling = outputs.windows(2).all(|w| w[0] > w[1]);
        assert!(rising || falling, "{:?}", o.sequence());
        assert!(o.peak_intermediate() <= 4, "{:?}", o.sequence());
    }
}

/// Three independent parts, each two inputs fanning out to three chains,
/// gathered three ways at the end: at most ten intermediate results are held
/// (Dask: `test_xarray_like_reduction`, at most nine before a task runs).
///
///     a-0-i   a-1-i          (for i in 0..3)
///      |   \ /    |
///     b-0-i b-1-i b-2-i
///      |     |     |
///     c-0-i c-1-i c-2-i      d-j = f(c-j-0, c-j-1, c-j-2)
#[test]
fn xarray_like_reduction_holds_few_results() {
    let mut spec: OwnedSpec = Vec::new();
    for i in 0..3 {
        let s = |x: &str| format!("{x}-{i}");
        spec.push((s("b-0"), vec![s("a-0")]));
        spec.push((s("b-1"), vec![s("a-0"), s("a-1")]));
        spec.push((s("b-2"), vec![s("a-1")]));
        for j in 0..3 {
            spec.push((format!("c-{j}-{i}"), vec![format!("b-{j}-{i}")]));
        }
    }
    for j in 0..3 {
        spec.push((
            format!("d-{j}"),
            (0..3).map(|i| format!("c-{j}-{i}")).collect(),
        ));
    }
    for g in both_owned(spec) {
        let o = g.order();
        assert!(
            o.peak_intermediate() <= 10,
            "{} {:?}",
            o.peak_intermediate(),
            o.sequence()
        );
    }
}

/// An anomaly (each value minus the mean of its group, then gathered): the
/// even inputs' branch (h-1-0, d-0-0, d-2-0, d-4-0) completes before the odd
/// inputs a-1-0 and a-3-0 load (Dask: `test_anom_mean_raw`; the graph is
/// `graphs::ANOM_MEAN_RAW`).
///
///     a0    a2    a4            a1    a3
///     |     |     |             |     |
///     b-0-0 b-0-1 b-0-2         b-2-0 b-2-1
///     |     |     |             |     |
///     c-0-0 c-0-1 c-0-2         c-1-0 c-1-1
///        \    |    /               \  /
///           g-1-0                  g-3-0        (group means)
///            |                      |
///           e-0-0                  e-1-0
///        /    |    \               /   ///     b-1-0 b-1-2 b-1-4         b-1-1  b-1-3
///     d-i = f(a-i, b-1-i);  c-2-i = f(d-i)
///     h-0-0 = f(c-2-0 .. c-2-3);  h-1-0 = f(c-2-4);  g-2-0 = f(h-0-0, h-1-0)
#[test]
fn anomaly_finishes_the_left_branch_before_loading_more() {
    for g in both(graphs::ANOM_MEAN_RAW) {
        let o = g.order();
        for n in ["h-1-0", "d-0-0", "d-2-0", "d-4-0"] {
            assert!(o.of(n) < o.of("a-1-0"), "{n}: {:?}", o.sequence());
            assert!(o.of(n) < o.of("a-3-0"), "{n}: {:?}", o.sequence());
        }
    }
}

/// A flox groupby reduction: one group of three outputs (g-1-*) finishes
/// before the other (g-2-*) starts, although a-0 is read by all six (Dask:
/// `test_flox_reduction`; the graph is `graphs::FLOX`).
///
///     a-1-0  a-2-0        a-1-1  a-2-1
///       |      |            |      |
///     b-2-0  b-1-0        b-2-1  b-1-1      (then renamed: b-2-2-0, b-1-1-0, ...)
///       |      |            |      |
///     c-1-0  c-2-0        c-1-1  c-2-1
///        \    |  (and a-1-0, a-2-0)  \    |  (and a-1-1, a-2-1)
///          d-0 -> e-0                  d-1 -> e-1
///     g-1-0 = f(a-0, b-1-1-0), g-1-1 = f(a-0, b-2-2-0), g-1-2 = f(a-0, e-0)
///     g-2-0 = f(a-0, b-1-1-1), g-2-1 = f(a-0, b-2-2-1), g-2-2 = f(a-0, e-1)
#[test]
fn flox_groups_finish_one_at_a_time() {
    for g in both(graphs::FLOX) {
        let o = g.order();
        let first: Vec<u32> = (0..3).map(|i| o.of(&format!("g-1-{i}"))).collect();
        let second: Vec<u32> = (0..3).map(|i| o.of(&format!("g-2-{i}"))).collect();
        let separated =
            first.iter().max() < second.iter().min() || second.iter().max() < first.iter().min();
        assert!(separated, "{:?}", o.sequence());
    }
}

/// A second-order difference of a 3-d array gathered by one output holds
/// at most 11 results at a time (Dask: `test_doublediff`, at most 11 before a
/// task runs; the graph is `graphs::DOUBLEDIFF`).
///
///     a-3-*  a-4-*  a-5-0-0  a-2-2-2      (8 input blocks)
///       |      |       |        |
///     b-0-*  b-1-*     |        |          (slices; an input feeds 1 to 6)
///       |      |       |        |
///     c-1-*  c-0-*  ---+        |          (renamed slices)
///         \   /                 |
///        d-0-i-j = f(c-1-i-j, c-0-i-j)     (d-0-2-2 reads a-2-2-2)
///           |
///        e-0-i-j                           (9 blocks)
///           \ | /
///            END
#[test]
fn double_difference_holds_few_results() {
    for g in both(graphs::DOUBLEDIFF) {
        let o = g.order();
        assert!(o.peak_live() <= 11, "{} {:?}", o.peak_live(), o.sequence());
    }
}

/// An input that the longest path needs only late (a-2) is still loaded
/// before a-3 and a-4, because it unblocks reductions; at most six
/// intermediate results are held (Dask: `test_gh_3055_explicit`; the graph is
/// `graphs::GH3055`).
///
///          root-0             a-1              a-2
///            |              /  |  \            /
///           a-0        b-1-0 b-1-2  '----- c-0-0
///         /  |  \          \  /              |
///     b-0-0 b-0-1 c-0-1    c-1-0             |
///         \  /      \         \          d-0-0, d-0-1 = f(c-0-1, c-0-0)
///         c-0-2      '---------\---------'   |
///            \                  \          f-1-1 = f(d-0-1)
///             '------- e-0 -----'
///                       |
///          g-1 = f(e-0, a-3);  g-2 = f(g-1, a-4, d-0-0)
#[test]
fn input_unblocking_reductions_loads_early() {
    for g in both(graphs::GH3055) {
        let o = g.order();
        assert!(o.peak_intermediate() <= 6, "{}", o.peak_intermediate());
        assert!(
            o.of("e-0") < o.of("a-3") && o.of("a-3") < o.of("a-4"),
            "{:?}",
            o.sequence()
        );
        assert!(o.of("a-2") < o.of("a-3"), "{:?}", o.sequence());
    }
}

/// Three inputs, each read by four groups; each group gathers three reads
/// and is renamed once. Groups finish one by one, the second five tasks
/// after the first (its three reads, the gather and the rename), holding as
/// few results as Dask (Dask: `test_order_flox_reduction_2`, where the inputs
/// are data rather than tasks and all four groups are five tasks apart;
/// here the last two groups interleave, which frees the inputs sooner for the
/// same peak).
///
///     a0       a1       a2
///     |...     |...     |...     b-i-j-k = f(a-k)
///     c-i-j = f(b-i-j-0, b-i-j-1, b-i-j-2)
///     d-i-j = f(c-i-j)           for i, j in 0..2
#[test]
fn groups_of_a_shared_read_finish_one_by_one() {
    let mut spec: OwnedSpec = Vec::new();
    for i in 0..2 {
        for j in 0..2 {
            for k in 0..3 {
                spec.push((format!("b-{i}-{j}-{k}"), vec![format!("a{k}")]));
            }
            let reads = (0..3).map(|k| format!("b-{i}-{j}-{k}")).collect();
            spec.push((format!("c-{i}-{j}"), reads));
            spec.push((format!("d-{i}-{j}"), vec![format!("c-{i}-{j}")]));
        }
    }
    for g in both_owned(spec) {
        let o = g.order();
        let mut finals: Vec<u32> = (0..4)
            .map(|x| o.of(&format!("d-{}-{}", x / 2, x % 2)))
            .collect();
        finals.sort_unstable();
        assert_eq!(finals[1] - finals[0], 5, "{:?}", o.sequence());
        assert!(o.peak_live() <= 9, "{} {:?}", o.peak_live(), o.sequence());
        assert!(o.peak_intermediate() <= 7, "{:?}", o.sequence());
    }
}

/// An xarray groupby map-reduce over sliced inputs: the four outputs finish
/// at a regular pace, eight tasks apart, holding at most six intermediate
/// results (Dask: `test_xarray_map_reduce_with_slicing`; the graph is
/// `graphs::SLICING`).
///
///     data -> open_data-i-j-k -> getitem-i-j-k      array-0   array-1
///                                     \                 |       /
///                  groupby-chunk-j-k-i = f(array-i, getitem-i-j-k)
///                  groupby-agg-0-j-k = f(groupby-chunk-j-k-0, groupby-chunk-j-k-1)
///                  transpose-0-j-k = f(groupby-agg-0-j-k)
#[test]
fn sliced_map_reduce_finishes_at_a_regular_pace() {
    for g in both(graphs::SLICING) {
        let o = g.order();
        let mut finals: Vec<u32> = (0..4)
            .map(|x| o.of(&format!("transpose-0-{}-{}", x / 2, x % 2)))
            .collect();
        finals.sort_unstable();
        let steps: Vec<u32> = finals.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(steps, [8, 8, 8], "{:?}", o.sequence());
        assert!(o.peak_intermediate() <= 6, "{}", o.peak_intermediate());
    }
}

/// An xarray rechunk then a cohorts groupby: two outputs finish close
/// together, then, after a longer stretch, the other two, holding at most
/// eight intermediate results (Dask: `test_xarray_rechunk_map_reduce_cohorts`;
/// the graph is `graphs::RECHUNK_MERGE`, 98 tasks).
///
///     open_dataset / getitem-open  (inputs)
///       -> getitem-2 -> shuffle-split
///       -> concat-shuffle                        (each joins 2 or 3 splits)
///       -> rechunk-split -> rechunk-merge        (each merges 2 pieces)
///       -> groupby-chunk(-2) -> groupby-cohort(-2)
///       -> concat-groupby -> transpose           (4 outputs)
#[test]
fn rechunk_then_cohorts_reduction() {
    for g in both(graphs::RECHUNK_MERGE) {
        let o = g.order();
        let mut finals: Vec<u32> = (0..4)
            .map(|x| o.of(&format!("transpose-{}-{}-0", x / 2, x % 2)))
            .collect();
        finals.sort_unstable();
        let steps: Vec<u32> = finals.windows(2).map(|w| w[1] - w[0]).collect();
        // Two outputs close together, a long gap (the other half), two more.
        assert!(steps[1] > steps[0] + steps[2], "{steps:?}");
        assert!(o.peak_intermediate() <= 8, "{}", o.peak_intermediate());
    }
}

/// A stackstac vectorised-indexing graph with two outputs holds at most ten
/// intermediate results (Dask: `test_stackstac`, at most nine before a task
/// runs; the graph is `graphs::STACKSTAC`).
///
///     asset-table-data -> asset_table -> fetch-raster   (4 rasters)
///       -> getitem-sub / concatenate-getitem
///       -> concatenate / shuffle-split
///       -> getitem-vindex -> vindex-slice                (8 slices)
///       -> vindex-merge (4 slices each) -> transpose     (2 outputs)
#[test]
fn stackstac_holds_few_results() {
    for g in both(graphs::STACKSTAC) {
        let o = g.order();
        assert!(o.peak_intermediate() <= 10, "{}", o.peak_intermediate());
    }
}
