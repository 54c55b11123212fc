#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
//! Computing delayed handles on the local schedulers.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use barrow_core::function::List;
use barrow_core::{ErrorKind, Options, compute_with, persist_with};
use barrow_delayed::{Delayed, delayed, delayed_try};

const SCHEDULERS: [&str; 2] = ["sync", "threads"];

fn on(scheduler: &str) -> Options {
    barrow_local::link();
    Options::new().scheduler(scheduler)
}

#[test]
fn a_chain_computes_on_every_scheduler() {
    let inc = delayed("inc", |x: &i64| x + 1);
    let add = delayed("add", |a: &i64, b: &i64| a + b);
    let x = Delayed::value(1i64);
    let z = add.call(inc.call(&x), 10i64);
    for scheduler in SCHEDULERS {
        assert_eq!(compute_with(&z, &on(scheduler)).unwrap(), 12, "{scheduler}");
    }
}

#[test]
fn shared_work_runs_once() {
    for scheduler in SCHEDULERS {
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        let expensive = delayed("expensive", move |x: &i64| {
            counter.fetch_add(1, Ordering::SeqCst);
            x * 2
        });
        let add = delayed("add", |a: &i64, b: &i64| a + b);
        let shared = expensive.call(Delayed::value(5i64));
        let a = add.call(&shared, 1i64);
        let b = add.call(&shared, 2i64);
        // The same call again is the same task.
        let c = add.call(expensive.call(Delayed::value(5i64)), 3i64);
        let (a, b, c) = compute_with((&a, &b, &c), &on(scheduler)).unwrap();
        assert_eq!((a, b, c), (11, 12, 13));
        assert_eq!(runs.load(Ordering::SeqCst), 1, "{scheduler}");
    }
}

#[test]
fn impure_calls_run_each_time() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let tick = delayed("tick", move |x: &i64| {
        counter.fetch_add(1, Ordering::SeqCst);
        *x
    })
    .pure(false);
    let a = tick.call(1i64);
    let b = tick.call(1i64);
    assert_eq!(compute_with((&a, &b), &on("sync")).unwrap(), (1, 1));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[test]
fn lists_of_delayed_values() {
    let square = delayed("square", |x: &i64| x * x);
    let total = delayed("total", |xs: List<i64>| xs.iter().copied().sum::<i64>());
    let squares: Vec<Delayed<i64>> = (1..=4i64).map(|i| square.call(i)).collect();
    let sum = total.call(&squares);
    let all = Delayed::list(squares.clone());
    for scheduler in SCHEDULERS {
        let options = on(scheduler);
        assert_eq!(compute_with(&sum, &options).unwrap(), 30);
        assert_eq!(compute_with(&all, &options).unwrap(), vec![1, 4, 9, 16]);
        // A Vec of handles is a collection too.
        assert_eq!(
            compute_with(squares.clone(), &options).unwrap(),
            vec![1, 4, 9, 16]
        );
    }
    assert_eq!(
        compute_with(Delayed::list(Vec::<Delayed<i64>>::new()), &on("sync")).unwrap(),
        Vec::<i64>::new()
    );
}

#[test]
fn a_tuple_result_splits_into_handles() {
    let divmod = delayed("divmod", |a: &i64, b: &i64| (a / b, a % b));
    let (quotient, remainder) = divmod.call(17i64, 5i64).split();
    let label = delayed("label", |q: &i64, s: &String| format!("{s}{q}"));
    let text = label.call(&quotient, String::from("q="));
    for scheduler in SCHEDULERS {
        let (q, r, t) = compute_with((&quotient, &remainder, &text), &on(scheduler)).unwrap();
        assert_eq!((q, r, t.as_str()), (3, 2, "q=3"));
    }
    let triple = delayed("triple", |x: &i64| (*x, x.to_string(), *x > 0));
    let (n, s, positive) = triple.call(7i64).split();
    assert_eq!(
        compute_with((n, s, positive), &on("sync")).unwrap(),
        (7, String::from("7"), true)
    );
}

#[test]
fn errors_name_the_function_and_the_key() {
    let parse = delayed_try("parse", |s: &String| s.parse::<i64>());
    let inc = delayed("inc", |x: &i64| x + 1);
    let bad = parse.call(String::from("x1"));
    let after = inc.call(&bad);
    for scheduler in SCHEDULERS {
        // Without graph optimization the failing task is `bad` itself.
        let options = on(scheduler).optimize_graph(false);
        let err = compute_with(&after, &options).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TaskFailed, "{scheduler}: {err}");
        assert_eq!(err.function(), Some("parse"));
        assert_eq!(err.key(), Some(bad.key()));
        let message = err.to_string();
        assert!(message.contains("'parse'"), "{message}");
        assert!(message.contains(bad.key().name()), "{message}");
        assert!(message.contains("invalid digit"), "{message}");

        // With the default optimizations, core fuses the linear chain
        // parse -> inc into one task under the output key; the error still
        // names the task and the function that failed.
        let err = compute_with(&after, &on(scheduler)).unwrap_err();
        assert_eq!(err.function(), Some("parse"), "{scheduler}: {err}");
        assert_eq!(err.key(), Some(bad.key()), "{scheduler}: {err}");
    }
}

#[test]
fn a_panicking_function_is_an_error() {
    let boom = delayed("boom", |x: &i64| -> i64 {
        assert!(*x < 0, "boom on {x}");
        *x
    });
    let y = boom.call(1i64);
    let err = compute_with(&y, &on("threads")).unwrap_err();
    assert!(err.is_panic(), "{err}");
    assert_eq!(err.key(), Some(y.key()));
}

#[test]
fn persist_keeps_the_result_and_not_the_work() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let slow = delayed("slow", move |x: &i64| {
        counter.fetch_add(1, Ordering::SeqCst);
        x * 10
    });
    let inc = delayed("inc", |x: &i64| x + 1);
    let y = slow.call(Delayed::value(4i64));
    for scheduler in SCHEDULERS {
        let persisted = persist_with(&y, &on(scheduler)).unwrap();
        assert_eq!(persisted.key(), y.key());
        assert_eq!(persisted.graph_ref().len(), 1);
        let z = inc.call(&persisted);
        assert_eq!(compute_with(&z, &on(scheduler)).unwrap(), 41);
        assert_eq!(compute_with(&persisted, &on(scheduler)).unwrap(), 40);
    }
    assert_eq!(runs.load(Ordering::SeqCst), SCHEDULERS.len());
}

#[test]
fn the_default_scheduler_is_threads() {
    use barrow_core::Collection;
    let x = Delayed::value(1i64);
    assert_eq!(x.default_scheduler(), Some("threads"));
    barrow_local::link();
    assert_eq!(barrow_core::compute(&x).unwrap(), 1);
}

#[test]
fn outputs_that_are_not_clone_compute_as_values() {
    struct Opaque(Vec<u8>);
    let make = delayed("make", |n: &usize| Opaque(vec![0; *n]));
    let values = compute_with(make.call(3usize).to_graph_keys().unwrap(), &on("sync")).unwrap();
    assert_eq!(values[0].downcast_ref::<Opaque>().unwrap().0.len(), 3);
}
