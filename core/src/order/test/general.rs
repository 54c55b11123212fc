//! Properties that hold on any graph (a topological permutation that depends
//! only on shape and keys, termination on bad input) and behaviour at scale.

use super::super::order;
use super::support::*;
use crate::plan::Csr;

/// No nodes, no priorities.
#[test]
fn empty_graph() {
    let empty = Csr::default();
    assert!(order::<u32>(&empty, &empty, &[]).is_empty());
}

/// A chain of a million tasks is ordered without recursion (no stack
/// overflow) and, having a single topological order, gets exactly it.
///
///     c0 <- c1 <- c2 <- ... <- c999999
#[test]
fn million_task_chain() {
    let n = 1_000_000u32;
    let mut dependencies = Csr::with_capacity(n as usize, n as usize);
    dependencies.finish_row();
    for i in 1..n {
        dependencies.push(i - 1);
        dependencies.finish_row();
    }
    let dependents = dependencies.transpose();
    let keys: Vec<u32> = (0..n).collect();
    let priority = order(&dependencies, &dependents, &keys);
    assert!(priority == keys);
}

/// On hundreds of random DAGs (with duplicate edges) the result is a
/// permutation and a topological order; and it depends only on the shape
/// and the keys: renumbering the nodes gives the same sequence of keys.
#[test]
fn random_dags_are_ordered_topologically_whatever_the_numbering() {
    let mut rng = Rng(0x5EED);
    for case in 0..300 {
        let n = 1 + rng.below(80) as u32;
        let rows = random_rows(&mut rng, n, case % 3);
        let keys: Vec<u32> = (0..n).map(|_| rng.below(u64::from(n)) as u32).collect();
        let dependencies = Csr::from_rows(rows.clone());
        let priority = order(&dependencies, &dependencies.transpose(), &keys);
        check_valid(&dependencies, &priority);

        // Renumber: node i becomes perm[i]. Keys travel with their nodes, but
        // equal keys (allowed) fall back to ids, so use distinct keys here.
        let distinct: Vec<(u32, u32)> = keys
            .iter()
            .enumerate()
            .map(|(i, &k)| (k, i as u32))
            .collect();
        let mut perm: Vec<u32> = (0..n).collect();
        for i in (1..n as usize).rev() {
            perm.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let mut renumbered = vec![Vec::new(); n as usize];
        let mut renumbered_keys = vec![(0, 0); n as usize];
        for i in 0..n as usize {
            renumbered[perm[i] as usize] = rows[i].iter().map(|&d| perm[d as usize]).collect();
            renumbered_keys[perm[i] as usize] = distinct[i];
        }
        let sequence = |deps: &Csr, keys: &[(u32, u32)]| -> Vec<(u32, u32)> {
            let priority = order(deps, &deps.transpose(), keys);
            let mut seq = vec![(0, 0); keys.len()];
            for (i, &p) in priority.iter().enumerate() {
                seq[p as usize] = keys[i];
            }
            seq
        };
        assert_eq!(
            sequence(&dependencies, &distinct),
            sequence(&Csr::from_rows(renumbered), &renumbered_keys),
            "case {case}"
        );
    }
}

/// Ties between equal shapes are broken by key, the same way on every run
/// and whatever the node numbering.
///
///     x3  x1  x2        three independent two-task chains
///     |   |   |
///     y3  y1  y2        expected: x1 y1 x2 y2 x3 y3
#[test]
fn ties_are_broken_by_key() {
    let g = graph(&[("y3", &["x3"]), ("y1", &["x1"]), ("y2", &["x2"])]);
    for _ in 0..3 {
        assert_eq!(g.order().sequence(), ["x1", "y1", "x2", "y2", "x3", "y3"]);
    }
}

/// A task may list the same input twice (`add(x, x)`); it still counts as
/// one input.
///
///     x   y
///     || /
///     s           s = f(x, x, y)
#[test]
fn duplicate_dependencies() {
    let g = graph(&[("s", &["x", "x", "y"]), ("t", &["s", "s"])]);
    let o = g.order();
    assert_eq!(o.sequence(), ["x", "y", "s", "t"]);
    assert_eq!(o.peak_live(), 3);
}

/// A cycle (never passed by the engine, which validates first) neither
/// hangs nor panics; the answer is a permutation, with the acyclic part
/// first and in topological order.
///
///     a -> b -> c -> a      d -> d      e (independent), f = g(e)
#[test]
fn cycles_terminate_with_a_permutation() {
    let g = graph(&[
        ("a", &["c"]),
        ("b", &["a"]),
        ("c", &["b"]),
        ("d", &["d"]),
        ("f", &["e"]),
    ]);
    let priority = order(&g.dependencies, &g.dependents, &g.keys);
    let mut sorted = priority.clone();
    sorted.sort_unstable();
    assert!(sorted.iter().copied().eq(0..priority.len() as u32));
    let (e, f) = (priority[g.id("e") as usize], priority[g.id("f") as usize]);
    assert!(e < f && f < 2, "{priority:?}");
}

/// Malformed input (ids out of range, reverse lists that are not the
/// transpose, too few keys) gives a permutation without panicking; reverse
/// lists that are wrong but well-formed are detected and rebuilt.
#[test]
fn malformed_input_does_not_panic() {
    let dependencies = Csr::from_rows([vec![], vec![0, 7], vec![1, 1, u32::MAX]]);
    let wrong = Csr::from_rows([vec![2u32], vec![]]);
    let cases = [Csr::default(), wrong.clone(), dependencies.clone()];
    for dependents in &cases {
        for keys in [&[][..], &[1u8][..], &[3u8, 2, 1][..]] {
            let priority = order(&dependencies, dependents, keys);
            let mut sorted = priority.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1, 2]);
        }
    }
    // Reverse lists of the right shape that are not the transpose, even one
    // that makes the dependencies look acyclic when they are not.
    let chain = Csr::from_rows([vec![], vec![0], vec![1]]);
    let scrambled = Csr::from_rows([vec![2u32], vec![0], vec![1]]);
    let priority = order(&chain, &scrambled, &[0, 1, 2]);
    check_valid(&chain, &priority);
    let cycle = Csr::from_rows([vec![1u32], vec![0], vec![]]);
    let lying = Csr::from_rows([vec![1u32], vec![], vec![0]]);
    let mut sorted = order(&cycle, &lying, &[0, 1, 2]);
    sorted.sort_unstable();
    assert_eq!(sorted, [0, 1, 2]);
}

/// A binary tree reduction streams through its leaves: with 4,096 leaves
/// (12 levels), one partial result per level is held at a time.
///
///     l0  l1  l2  l3  ...
///      \  /    \  /
///       p0      p1     ...
///          \   /
///           q0         ...  -> root
#[test]
fn tree_reduction_streams() {
    let levels = 12;
    let mut rows: Vec<Vec<u32>> = (0..1u32 << levels).map(|_| Vec::new()).collect();
    let mut previous: Vec<u32> = (0..1u32 << levels).collect();
    while previous.len() > 1 {
        let mut next = Vec::new();
        for pair in previous.chunks(2) {
            next.push(rows.len() as u32);
            rows.push(pair.to_vec());
        }
        previous = next;
    }
    let dependencies = Csr::from_rows(rows);
    let keys: Vec<u32> = (0..dependencies.len() as u32).collect();
    let priority = order(&dependencies, &dependencies.transpose(), &keys);
    check_valid(&dependencies, &priority);
    assert!(peak_live(&dependencies, &priority, true) <= levels + 2);
}

/// Two reductions over the same chunks (a mean: sum and count) advance in
/// lock step: each chunk is freed before the next one loads.
///
///     x0      x1      x2   ...      (32 chunks)
///     | \     | \     | \
///     s0 c0   s1 c1   s2 c2 ...
///     \ \ sum tree / /  \ \ count tree / /
///            ssum          csum
///               \         /
///                  mean
#[test]
fn two_reductions_over_the_same_chunks_advance_together() {
    let mut spec: OwnedSpec = Vec::new();
    let (mut sums, mut counts) = (Vec::new(), Vec::new());
    for i in 0..32 {
        spec.push((format!("s{i}"), vec![format!("x{i}")]));
        spec.push((format!("c{i}"), vec![format!("x{i}")]));
        sums.push(format!("s{i}"));
        counts.push(format!("c{i}"));
    }
    for (name, mut level) in [("ssum", sums), ("csum", counts)] {
        let mut depth = 0;
        while level.len() > 1 {
            let mut next = Vec::new();
            for (i, pair) in level.chunks(2).enumerate() {
                let node = format!("{name}-{depth}-{i}");
                spec.push((node.clone(), pair.to_vec()));
                next.push(node);
            }
            level = next;
            depth += 1;
        }
        spec.push((name.to_string(), level));
    }
    spec.push(("mean".into(), vec!["ssum".into(), "csum".into()]));
    let g = graph_owned(spec);
    let o = g.order();
    for i in 0..31 {
        let next = o.of(&format!("x{}", i + 1));
        let (s, c) = (o.of(&format!("s{i}")), o.of(&format!("c{i}")));
        assert!(s.max(c) < next, "x{i} still held: {:?}", o.sequence());
    }
    assert!(o.peak_live() <= 14, "{} {:?}", o.peak_live(), o.sequence());
}
