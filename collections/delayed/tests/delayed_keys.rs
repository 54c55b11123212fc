#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
//! Keys: deterministic by default (Dask's `pure=True`), unique on request.

use barrow_core::function::List;
use barrow_delayed::{Delayed, delayed};

#[test]
fn the_same_call_twice_gives_the_same_key() {
    let inc = delayed("inc", |x: &i64| x + 1);
    let x = Delayed::value(1i64);
    assert_eq!(inc.call(&x).key(), inc.call(&x).key());
    assert_eq!(inc.call(5i64).key(), inc.call(5i64).key());
    // A second wrapping of an equal value is the same literal.
    assert_eq!(Delayed::value(1i64).key(), x.key());
    assert!(inc.call(&x).key().name().starts_with("inc-"));
    assert!(x.key().name().starts_with("literal-"));
}

#[test]
fn different_arguments_or_functions_give_different_keys() {
    let inc = delayed("inc", |x: &i64| x + 1);
    let dec = delayed("dec", |x: &i64| x - 1);
    let add = delayed("add", |a: &i64, b: &i64| a + b);
    assert_ne!(inc.call(1i64).key(), inc.call(2i64).key());
    assert_ne!(inc.call(1i64).key(), dec.call(1i64).key());
    assert_ne!(add.call(1i64, 2i64).key(), add.call(2i64, 1i64).key());
    // A delayed argument's token is its key, not its value's content.
    assert_ne!(inc.call(1i64).key(), inc.call(Delayed::value(1i64)).key());
}

#[test]
fn impure_functions_and_unique_values_get_fresh_keys() {
    let inc = delayed("inc", |x: &i64| x + 1).pure(false);
    let a = inc.call(1i64);
    let b = inc.call(1i64);
    assert_ne!(a.key(), b.key());
    assert!(a.key().name().starts_with("inc-"));

    struct Opaque;
    let u = Delayed::unique_value(Opaque);
    let v = Delayed::unique_value(Opaque);
    assert_ne!(u.key(), v.key());

    let x = Delayed::value(3i64);
    assert_ne!(x.unique().key(), x.unique().key());
}

#[test]
fn lists_of_handles_are_keyed_by_their_elements() {
    let total = delayed("total", |xs: List<i64>| xs.iter().copied().sum::<i64>());
    let one = Delayed::value(1i64);
    let two = Delayed::value(2i64);
    let a = total.call(vec![one.clone(), two.clone()]);
    let b = total.call([one.clone(), two.clone()]);
    let c = total.call(vec![two, one]);
    assert_eq!(a.key(), b.key());
    assert_ne!(a.key(), c.key());
    assert_ne!(
        total.call(vec![1i64, 2]).key(),
        total.call(vec![2i64, 1]).key()
    );
}

#[test]
fn shared_intermediates_appear_once_in_the_graph() {
    let inc = delayed("inc", |x: &i64| x + 1);
    let add = delayed("add", |a: &i64, b: &i64| a + b);
    let x = Delayed::value(1i64);
    let y = inc.call(&x);
    let z = add.call(&y, &y);
    // literal, inc, add
    assert_eq!(z.graph_ref().len(), 3);
    let w = add.call(&z, inc.call(&x));
    assert_eq!(w.graph_ref().len(), 4);
    // Two equal literals of a type compared by identity merge without conflict.
    let v1 = Delayed::value(vec![String::from("a")]);
    let v2 = Delayed::value(vec![String::from("a")]);
    let both = delayed("both", |a: &Vec<String>, b: &Vec<String>| a.len() + b.len()).call(v1, v2);
    assert_eq!(both.graph_ref().len(), 2);
}
