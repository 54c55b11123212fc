//! Arrays and bags on the `processes` scheduler, with real worker processes:
//! their registered operations give what `threads` gives, user functions
//! registered with `#[barrow::task]` run in the workers, and closures are
//! refused before anything runs.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on the first surprise"
)]

use std::io::Write;

use barrow::array::{Array, random::Generator};
use barrow::bag::{Bag, read_text};
use barrow::{ErrorKind, Options, compute_with};
use ndarray::ArrayD;

barrow::processes::worker_entry!();

fn processes() -> Options {
    Options::new().scheduler("processes").num_workers(2)
}

fn threads() -> Options {
    Options::new().scheduler("threads").num_workers(2)
}

/// Doubles a block, in whichever process runs it.
#[barrow::task(name = "tests.double-block")]
fn double_block(block: &ArrayD<f64>) -> ArrayD<f64> {
    block * 2.0
}

#[test]
fn array_operations_give_the_same_results_on_processes() {
    let x = Generator::new(7).random(&[48, 48], [20, 15]).unwrap();
    let y = &x + &x.t();
    let z = (&y * 3.0).slice(ndarray::s![5..45;2, ..]).unwrap();
    let stats = [
        y.sum(),
        y.mean(),
        z.max(),
        x.dot(&x.t()).unwrap().sum(),
        x.cumsum(1).unwrap().sum(),
    ];
    for stat in &stats {
        let on_processes = compute_with(stat, &processes()).unwrap();
        let on_threads = compute_with(stat, &threads()).unwrap();
        assert!(
            (on_processes - on_threads).abs() <= 1e-9 * on_threads.abs().max(1.0),
            "{on_processes} != {on_threads}"
        );
    }
    let whole = compute_with(&z, &processes()).unwrap();
    assert_eq!(whole, compute_with(&z, &threads()).unwrap());
    let sums = compute_with(&y.sum_axis(0), &processes()).unwrap();
    assert_eq!(sums.shape(), &[48]);
}

#[test]
fn a_registered_block_function_runs_in_the_workers() {
    let x = Array::<f64>::arange(0.0, 12.0, 1.0, 5).unwrap();
    let doubled = x.map_blocks_func::<f64>(&double_block::func());
    let out = compute_with(&doubled, &processes()).unwrap();
    assert_eq!(
        out.into_raw_vec_and_offset().0,
        (0..12).map(|i| 2.0 * f64::from(i)).collect::<Vec<_>>()
    );
}

#[test]
fn an_array_closure_is_refused_naming_the_task() {
    let x = Array::<f64>::ones(&[10], 5).unwrap();
    let y = x.map(|v| v + 1.0).sum();
    let err = compute_with(&y, &processes()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotShippable);
    assert!(err.to_string().contains("map"), "{err}");
}

/// Keeps the even numbers.
#[barrow::task(name = "tests.is-even")]
fn is_even(x: &i64) -> bool {
    x % 2 == 0
}

/// Squares a number.
#[barrow::task(name = "tests.square")]
fn square(x: &i64) -> i64 {
    x * x
}

#[test]
fn bag_word_frequencies_run_on_processes() {
    let dir = tempfile::tempdir().unwrap();
    for (i, text) in [
        "a rose is a rose\nis a rose",
        "a bag of words\n",
        "rose rose",
    ]
    .iter()
    .enumerate()
    {
        let mut file = std::fs::File::create(dir.path().join(format!("{i}.txt"))).unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }
    let pattern = dir.path().join("*.txt");
    let top = read_text(pattern.as_path())
        .into_bag()
        .unwrap()
        .split_whitespace()
        .frequencies()
        .most_common(3);
    let on_processes = compute_with(&top, &processes()).unwrap();
    assert_eq!(on_processes, compute_with(&top, &threads()).unwrap());
    assert_eq!(
        on_processes,
        [("rose".into(), 5), ("a".into(), 4), ("is".into(), 2)]
    );
}

#[test]
fn bag_user_functions_registered_by_name_run_on_processes() {
    let numbers = Bag::from_sequence(0..100i64, 7).unwrap();
    let total = numbers
        .filter_func(&is_even::func())
        .map_func::<i64>(&square::func())
        .sum();
    let expected: i64 = (0..100).filter(|x| x % 2 == 0).map(|x| x * x).sum();
    assert_eq!(compute_with(&total, &processes()).unwrap(), expected);

    let closure = numbers.map(|x| x + 1).count();
    let err = compute_with(&closure, &processes()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotShippable);
}
