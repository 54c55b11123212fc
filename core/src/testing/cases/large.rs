//! Cases on graphs of 100,000 tasks, checked against closed forms.

use super::*;

/// 100,000 independent tasks and one sum over all of them.
pub fn independent_100k<S: Scheduler + ?Sized>(s: &S) {
    let n = 100_000u32;
    let add = add();
    let one = Value::new(1i64);
    let mut tasks: Vec<(Key, Task)> = (0..n)
        .map(|i| {
            let i_value = crate::task::arg::lit(i64::from(i));
            (
                Key::from(("x", i)),
                Task::call(&add, [i_value, crate::task::arg::value(one.clone())]),
            )
        })
        .collect();
    tasks.push((
        Key::new("total"),
        Task::call(&sum(), [keys((0..n).map(|i| ("x", i)))]),
    ));
    let graph = Graph::from_tasks(tasks).expect("a valid graph");
    let n = i64::from(n);
    assert_eq!(get_ints(s, &graph, &["total"]), [n * (n - 1) / 2 + n]);
}

/// A chain of 100,000 tasks (no recursion may overflow the stack).
pub fn chain_100k<S: Scheduler + ?Sized>(s: &S) {
    let n = 100_000u32;
    let add = add();
    let mut tasks = vec![(
        Key::from(("c", 0)),
        Task::call(&add, [lit(0i64), lit(1i64)]),
    )];
    for i in 1..n {
        tasks.push((
            Key::from(("c", i)),
            Task::call(&add, [key(("c", i - 1)), lit(1i64)]),
        ));
    }
    let graph = Graph::from_tasks(tasks).expect("a valid graph");
    let out = run(s, &graph, &[Key::from(("c", n - 1))]).expect("the chain runs");
    assert_eq!(ints(&out), [i64::from(n)]);
}

/// A binary reduction tree over 2^16 leaves (131,071 tasks).
pub fn tree_100k<S: Scheduler + ?Sized>(s: &S) {
    let levels = 16u32;
    let add = add();
    let mut tasks = Vec::new();
    for i in 0..1u32 << levels {
        tasks.push((
            Key::from(("t", 0, i)),
            Task::call(&add, [lit(i64::from(i)), lit(1i64)]),
        ));
    }
    for level in 1..=levels {
        for i in 0..1u32 << (levels - level) {
            tasks.push((
                Key::from(("t", level, i)),
                Task::call(
                    &add,
                    [
                        key(("t", level - 1, 2 * i)),
                        key(("t", level - 1, 2 * i + 1)),
                    ],
                ),
            ));
        }
    }
    let graph = Graph::from_tasks(tasks).expect("a valid graph");
    let out = run(s, &graph, &[Key::from(("t", levels, 0))]).expect("the tree runs");
    let n = 1i64 << levels;
    assert_eq!(ints(&out), [n * (n - 1) / 2 + n]);
}
