//! Bags built from registered operations can run in worker processes: every
//! task function is found again by its name and parameters, every literal
//! and every value between tasks crosses as codec-tagged bytes, and the
//! answer is the one computed locally. A bag with a closure is refused
//! before anything runs, naming the task and the function.
//!
//! A "remote run" here is simulated in this process: each function is
//! replaced by the one the registry rebuilds from its name and parameters,
//! and (in [`run_remotely`]) each value is encoded and decoded on its way
//! from one task to the next.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use barrow_bag::{Bag, read_text};
use barrow_core::collection::{Collection, GraphKeys};
use barrow_core::function::Input;
use barrow_core::task::{Arg, Call, TaskBody};
use barrow_core::{
    ErrorKind, Func, Graph, Key, Options, Registry, Result, Task, Value, compute_with,
};
use barrow_wire::NotShippable;

/// `3x + 1`.
#[barrow_core::task(name = "tests.shippable.triple_plus_one")]
fn triple_plus_one(x: &i64) -> i64 {
    x * 3 + 1
}

/// Whether `x` is a multiple of 7.
#[barrow_core::task(name = "tests.shippable.divisible_by_seven")]
fn divisible_by_seven(x: &i64) -> bool {
    x % 7 == 0
}

/// The last decimal digit of `x`.
#[barrow_core::task(name = "tests.shippable.last_digit")]
fn last_digit(x: &i64) -> i64 {
    x.rem_euclid(10)
}

/// A number written in words, or an error.
#[barrow_core::task(name = "tests.shippable.parse")]
#[allow(
    clippy::ptr_arg,
    reason = "task functions take elements as the type values hold"
)]
fn parse(text: &String) -> std::result::Result<i64, std::num::ParseIntError> {
    text.parse()
}

/// The letters of a word that are vowels, each as a string.
#[barrow_core::task(name = "tests.shippable.vowels")]
#[allow(
    clippy::ptr_arg,
    reason = "task functions take elements as the type values hold"
)]
fn vowels(word: &String) -> Vec<String> {
    word.chars()
        .filter(|c| "aeiou".contains(*c))
        .map(String::from)
        .collect()
}

/// The running totals of a partition: depends on the whole partition.
#[barrow_core::task(name = "tests.shippable.running_total")]
#[allow(
    clippy::ptr_arg,
    reason = "task functions take partitions as the type values hold"
)]
fn running_total(part: &Vec<i64>) -> Vec<i64> {
    part.iter()
        .scan(0, |total, x| {
            *total += x;
            Some(*total)
        })
        .collect()
}

/// A partition's length, as a partition of one element.
#[barrow_core::task(name = "tests.shippable.partition_len")]
#[allow(
    clippy::ptr_arg,
    reason = "task functions take partitions as the type values hold"
)]
fn partition_len(part: &Vec<i64>) -> Vec<u64> {
    vec![part.len() as u64]
}

/// A partition's total: a number, not the new partition a
/// `map_partitions_func` needs.
#[barrow_core::task(name = "tests.shippable.partition_total")]
#[allow(
    clippy::ptr_arg,
    reason = "task functions take partitions as the type values hold"
)]
fn partition_total(part: &Vec<i64>) -> i64 {
    part.iter().sum()
}

/// The distinct words of a partition, sorted: a partition of strings.
#[barrow_core::task(name = "tests.shippable.sorted_distinct")]
#[allow(
    clippy::ptr_arg,
    reason = "task functions take partitions as the type values hold"
)]
fn sorted_distinct(part: &Vec<String>) -> Vec<String> {
    let mut words = part.clone();
    words.sort_unstable();
    words.dedup();
    words
}

fn sync() -> Options {
    barrow_local::link();
    Options::new().scheduler("sync")
}

/// Encodes and decodes `value` as a worker would receive it.
fn ship(value: &Value) -> Value {
    let codecs = Registry::global().codecs();
    let bytes = barrow_wire::encode(value, codecs)
        .unwrap_or_else(|e| panic!("a {} cannot cross: {e}", value.type_name()));
    barrow_wire::decode(&bytes, codecs).unwrap()
}

/// The function a worker process builds from `func`'s name and parameters;
/// it must report the same name and parameters.
fn rebuilt(func: &Func) -> Func {
    let twin = Registry::global()
        .functions()
        .resolve(func.name(), func.params())
        .unwrap_or_else(|e| panic!("{} does not resolve: {e}", func.name()));
    assert_eq!(twin.name(), func.name());
    assert_eq!(twin.params(), func.params(), "{}", func.name());
    twin
}

fn rebuild_call(call: &Call) -> Call {
    Call::new(
        &rebuilt(call.function()),
        call.args().iter().map(rebuild_arg),
    )
}

fn rebuild_arg(arg: &Arg) -> Arg {
    match arg {
        Arg::Literal(value) => Arg::Literal(ship(value)),
        Arg::Key(key) => Arg::Key(key.clone()),
        Arg::List(items) => Arg::List(items.iter().map(rebuild_arg).collect()),
        Arg::Call(call) => Arg::Call(Box::new(rebuild_call(call))),
        Arg::Fused(fused) => Arg::Fused(Box::new((fused.0.clone(), rebuild_call(&fused.1)))),
    }
}

/// `graph` with every function replaced by its rebuilt twin and every
/// literal by its decoded copy.
fn rebuilt_graph(graph: &Graph) -> Graph {
    let tasks = graph.iter().map(|(key, task)| {
        let body = match task.body() {
            TaskBody::Literal(value) => TaskBody::Literal(ship(value)),
            TaskBody::Alias(key) => TaskBody::Alias(key.clone()),
            TaskBody::Call(call) => TaskBody::Call(rebuild_call(call)),
        };
        (key.clone(), Task::from_body(body))
    });
    Graph::from_tasks(tasks).unwrap()
}

/// Runs every task as a worker would: its function rebuilt, its inputs
/// decoded from bytes, its result encoded.
fn run_remotely(graph: &Graph, outputs: &[Key]) -> Vec<Value> {
    let mut done: HashMap<Key, Value> = HashMap::new();
    let mut pending: Vec<(&Key, &Task)> = graph.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|(key, task)| {
            if !task.dependencies().iter().all(|d| done.contains_key(d)) {
                return true;
            }
            let value = match task.body() {
                TaskBody::Literal(value) => value.clone(),
                TaskBody::Alias(source) => done[source].clone(),
                TaskBody::Call(call) => eval_call(call, &done),
            };
            done.insert((*key).clone(), ship(&value));
            false
        });
        assert!(pending.len() < before, "the graph has a cycle");
    }
    outputs.iter().map(|key| done[key].clone()).collect()
}

fn eval_call(call: &Call, done: &HashMap<Key, Value>) -> Value {
    let inputs: Vec<Input> = call.args().iter().map(|arg| eval_arg(arg, done)).collect();
    rebuilt(call.function()).call(&inputs).unwrap()
}

fn eval_arg(arg: &Arg, done: &HashMap<Key, Value>) -> Input<'static> {
    match arg {
        Arg::Literal(value) => Input::Value(ship(value)),
        Arg::Key(key) => Input::Value(done[key].clone()),
        Arg::List(items) => Input::List(items.iter().map(|a| eval_arg(a, done)).collect()),
        Arg::Call(call) => Input::Value(eval_call(call, done)),
        Arg::Fused(fused) => Input::Value(eval_call(&fused.1, done)),
    }
}

/// Checks that `collection` ships and gives `expected` locally, with
/// rebuilt functions on the sync scheduler, and with every value crossing
/// as bytes.
fn assert_ships<C>(collection: &C, expected: &C::Output)
where
    C: Collection,
    C::Output: PartialEq + std::fmt::Debug,
{
    let graph = collection.graph().unwrap();
    barrow_wire::check_serializable(&graph, Registry::global()).unwrap();
    for task in graph.iter().filter_map(|(_, task)| task.function_name()) {
        assert!(
            task.starts_with("barrow.bag.") || task.starts_with("tests."),
            "{task}"
        );
    }
    let keys = collection.output_keys();
    let local = compute_with(collection, &sync()).unwrap();
    assert_eq!(&local, expected, "computed locally");
    let threads = compute_with(collection, &Options::new().scheduler("threads")).unwrap();
    assert_eq!(&threads, expected, "computed on threads");
    let values = compute_with(GraphKeys::new(rebuilt_graph(&graph), keys.clone()), &sync());
    let rebuilt = collection.finalize(values.unwrap()).unwrap();
    assert_eq!(&rebuilt, expected, "computed with rebuilt functions");
    let remote = collection.finalize(run_remotely(&graph, &keys)).unwrap();
    assert_eq!(&remote, expected, "computed with values crossing as bytes");
}

/// Three small files: "the" 5 times, "cat" 4, "sat" 3, other words fewer.
const CORPUS: [&str; 3] = [
    "the cat sat\non the mat\n",
    "The cat and the dog\nthe end\n\nsat down\n",
    "a cat sat on the hat\ncat naps\n",
];

fn write_corpus(dir: &Path) -> std::io::Result<()> {
    for (i, text) in CORPUS.iter().enumerate() {
        std::fs::write(dir.join(format!("part-{i}.txt")), text)?;
        let file = std::fs::File::create(dir.join(format!("part-{i}.txt.gz")))?;
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        gz.write_all(text.as_bytes())?;
        gz.finish()?;
    }
    Ok(())
}

fn words() -> Vec<String> {
    CORPUS
        .iter()
        .flat_map(|text| text.split_whitespace().map(String::from))
        .collect()
}

fn pair(word: &str, n: u64) -> (String, u64) {
    (word.to_owned(), n)
}

#[test]
fn text_frequencies_ship_plain_and_gzipped() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| barrow_core::Error::internal(e.to_string()))?;
    write_corpus(dir.path()).map_err(|e| barrow_core::Error::internal(e.to_string()))?;
    for (pattern, blocksize) in [("*.txt", Some(16)), ("*.txt.gz", None)] {
        let pattern = dir.path().join(pattern);
        let lines = read_text(pattern.as_path())
            .blocksize_option(blocksize)
            .into_bag()?;
        let top = lines.split_whitespace().frequencies().most_common(3);
        assert_ships(&top, &vec![pair("the", 5), pair("cat", 4), pair("sat", 3)]);

        let n = words().len() as u64;
        assert_ships(&lines.split_whitespace().count(), &n);
        let lower = lines.split(" ").flatten().to_lowercase().trim();
        let mut expected: Vec<String> = words().iter().map(|w| w.to_lowercase()).collect();
        expected.sort_unstable_by(|a, b| b.cmp(a));
        expected.dedup();
        expected.truncate(2);
        assert_ships(&lower.distinct().topk(2), &expected);
        let vowels = lower.flat_map_func::<String>(&vowels::func()).frequencies();
        assert_ships(&vowels.most_common(1), &vec![pair("a", 12)]);
    }
    Ok(())
}

#[test]
fn registered_functions_ship_through_every_reduction() -> Result<()> {
    let expected: Vec<i64> = (0..200).map(|x| x * 3 + 1).filter(|x| x % 7 == 0).collect();
    let numbers = Bag::from_sequence(0..200i64, 7)?
        .map_func::<i64>(&triple_plus_one::func())
        .filter_func(&divisible_by_seven::func())
        .split_every(3);
    assert_ships(&numbers, &expected);
    assert_ships(&numbers.sum(), &expected.iter().sum());
    assert_ships(&numbers.count(), &(expected.len() as u64));
    assert_ships(&numbers.min(), &expected.iter().min().copied());
    assert_ships(&numbers.max(), &expected.iter().max().copied());
    let mean = expected.iter().sum::<i64>() as f64 / expected.len() as f64;
    let computed = compute_with(numbers.mean(), &sync())?;
    assert!((computed - mean).abs() < 1e-9, "{computed} != {mean}");
    let top: Vec<i64> = expected.iter().rev().take(4).copied().collect();
    assert_ships(&numbers.topk(4), &top);

    let digits = numbers.map_func::<i64>(&last_digit::func());
    let mut counts: HashMap<i64, u64> = HashMap::new();
    expected
        .iter()
        .for_each(|x| *counts.entry(x % 10).or_default() += 1);
    let graph = digits.frequencies().graph()?;
    barrow_wire::check_serializable(&graph, Registry::global())?;
    let keys = digits.frequencies().output_keys();
    let remote = digits.frequencies().finalize(run_remotely(&graph, &keys))?;
    assert_eq!(remote.into_iter().collect::<HashMap<_, _>>(), counts);
    // Distinct digits in the order they first appear.
    let mut first_seen: Vec<i64> = Vec::new();
    for digit in expected.iter().map(|x| x % 10) {
        if !first_seen.contains(&digit) {
            first_seen.push(digit);
        }
    }
    assert_ships(&digits.distinct(), &first_seen);
    Ok(())
}

#[test]
fn ranges_samples_and_float_statistics_ship() -> Result<()> {
    let sample = Bag::range(1000, 5)?.random_sample(0.3, 11)?;
    let local = compute_with(&sample, &sync())?;
    assert_ships(&sample, &local);
    assert_ships(&sample.count(), &(local.len() as u64));
    let floats = Bag::from_sequence([0.5f64, 2.0, -1.5, 4.0], 3)?;
    assert_ships(&floats.max(), &Some(4.0));
    let var = compute_with(floats.var(1), &sync())?;
    let values = run_remotely(&floats.var(1).graph()?, &floats.var(1).output_keys());
    assert_eq!(*values[0].downcast_ref::<f64>()?, var);
    let flags = Bag::from_sequence([true, false, true], 2)?;
    assert_ships(&flags.any(), &true);
    assert_ships(&flags.all(), &false);
    Ok(())
}

#[test]
fn a_closure_is_refused_naming_the_task_and_the_function() -> Result<()> {
    let count = Bag::from_sequence(0..10i64, 2)?.map(|x| x + 1).count();
    let graph = count.graph()?;
    let error = barrow_wire::check_serializable(&graph, Registry::global()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotShippable);
    let text = error.to_string();
    assert!(
        text.contains("count-part-") && text.contains("'map-count'"),
        "{text}"
    );
    let report = error.source_as::<NotShippable>().expect("a report");
    // Both partition tasks, and nothing else: the combining tasks of a
    // count are registered whatever feeds them.
    assert_eq!(report.problems.len(), 2, "{text}");
    for problem in &report.problems {
        assert!(problem.key.name().starts_with("count-part-"), "{problem}");
        assert_eq!(problem.function.as_deref(), Some("map-count"));
        assert!(problem.fix.contains("#[barrow::task]"), "{problem}");
    }
    // The same bag still computes locally.
    assert_eq!(compute_with(count, &sync())?, 10);
    Ok(())
}

#[test]
fn an_unregistered_func_is_refused_with_its_name() -> Result<()> {
    let closure = Func::new("my-closure", |x: &i64| x + 1);
    let total = Bag::from_sequence(0..4i64, 1)?
        .map_func::<i64>(&closure)
        .sum();
    let error = barrow_wire::check_serializable(&total.graph()?, Registry::global()).unwrap_err();
    assert!(
        error.to_string().contains("'map_func(my-closure)-sum'"),
        "{error}"
    );
    assert_eq!(compute_with(total, &sync())?, 10);
    Ok(())
}

#[test]
fn a_failing_registered_function_names_itself_and_the_partition() -> Result<()> {
    let texts = Bag::from_sequence(["1", "2", "x"].map(String::from), 3)?;
    let total = texts.map_func::<i64>(&parse::func()).sum();
    barrow_wire::check_serializable(&total.graph()?, Registry::global())?;
    let error = compute_with(total, &sync()).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("map_func('tests.shippable.parse') failed on an element of partition 2"),
        "{text}"
    );
    assert!(text.contains("invalid digit"), "{text}");
    // A result of the wrong type is named too.
    let wrong = texts.map_func::<u64>(&vowels::func());
    let error = compute_with(&wrong, &sync()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("map_func('tests.shippable.vowels')"),
        "{error}"
    );
    Ok(())
}

/// Running totals of `partitions`, partition by partition.
fn running_totals(partitions: &[Vec<i64>]) -> Vec<i64> {
    partitions
        .iter()
        .flat_map(|part| {
            part.iter().scan(0, |total, x| {
                *total += x;
                Some(*total)
            })
        })
        .collect()
}

#[test]
fn map_partitions_func_ships_and_sees_whole_partitions() -> Result<()> {
    let partitions = vec![vec![1, 2, 3], vec![4, 5], vec![6], vec![7, 8, 9, 10]];
    let bag = Bag::from_partitions(partitions.clone())?;
    let totals = bag.map_partitions_func::<i64>(&running_total::func());
    barrow_wire::check_serializable(totals.graph_ref(), Registry::global())?;
    // Locally (sync and threads), with rebuilt functions, and with values
    // crossing as bytes.
    let expected = running_totals(&partitions);
    assert_eq!(expected, [1, 3, 6, 4, 9, 6, 7, 15, 24, 34]);
    assert_ships(&totals, &expected);
    let graph = totals.graph()?;
    let partition_tasks: Vec<&str> = graph
        .iter()
        .filter_map(|(_, task)| task.function_name())
        .collect();
    assert_eq!(partition_tasks, ["barrow.bag.partition"; 4]);

    // After a registered element step, and before a reduction.
    let after_map = bag
        .map_func::<i64>(&triple_plus_one::func())
        .map_partitions_func::<i64>(&running_total::func());
    let tripled: Vec<Vec<i64>> = partitions
        .iter()
        .map(|p| p.iter().map(|x| x * 3 + 1).collect())
        .collect();
    assert_ships(&after_map.count(), &10);
    assert_ships(
        &after_map.max(),
        &running_totals(&tripled).into_iter().max(),
    );
    // To another element type.
    let lengths = bag.map_partitions_func::<u64>(&partition_len::func());
    assert_ships(&lengths, &vec![3, 2, 1, 4]);
    assert_ships(&lengths.sum(), &10);
    Ok(())
}

#[test]
fn map_partitions_func_then_map_func_then_sum_fuses_into_one_task_per_partition() -> Result<()> {
    let partitions = vec![vec![1, 2, 3], vec![4, 5], vec![6, 7]];
    let bag = Bag::from_partitions(partitions.clone())?;
    let chain = bag
        .map_partitions_func::<i64>(&running_total::func())
        .map_func::<i64>(&triple_plus_one::func())
        .filter_func(&divisible_by_seven::func());
    let expected: Vec<i64> = running_totals(&partitions)
        .into_iter()
        .map(|x| x * 3 + 1)
        .filter(|x| x % 7 == 0)
        .collect();
    assert_eq!(expected, [28]);
    assert_ships(&chain, &expected);
    let total = bag
        .map_partitions_func::<i64>(&running_total::func())
        .map_func::<i64>(&triple_plus_one::func())
        .sum();
    let expected_total: i64 = running_totals(&partitions).iter().map(|x| x * 3 + 1).sum();
    assert_ships(&total, &expected_total);
    // The steps add no task: as many as the sum of the bag itself.
    assert_eq!(total.graph()?.len(), bag.sum().graph()?.len());
    // Steps after it keep their own names in the task names of a local bag.
    let closure = Func::new("batch-closure", |part: &Vec<i64>| part.clone());
    let local = bag
        .map_partitions_func::<i64>(&closure)
        .map(|x| x + 1)
        .count();
    assert_eq!(local.graph()?.len(), bag.count().graph()?.len());
    Ok(())
}

#[test]
fn map_partitions_func_is_called_on_empty_partitions() -> Result<()> {
    let bag = Bag::from_partitions(vec![vec![5i64, 6], Vec::new(), vec![7]])?;
    let lengths = bag.map_partitions_func::<u64>(&partition_len::func());
    assert_ships(&lengths, &vec![2, 0, 1]);
    let totals = bag.map_partitions_func::<i64>(&running_total::func());
    assert_ships(&totals, &vec![5, 11, 7]);
    assert_ships(&totals.count(), &3);
    // A filter leaving a partition empty before it.
    let none_of_them = bag
        .filter_func(&divisible_by_seven::func())
        .map_partitions_func::<u64>(&partition_len::func());
    assert_ships(&none_of_them, &vec![0, 0, 1]);
    Ok(())
}

#[test]
fn map_partitions_func_on_strings_ships_after_text_steps() -> Result<()> {
    // Partitions ["b a b", "c a"] and ["a d d"].
    let lines = Bag::from_sequence(["b a b", "c a", "a d d"].map(String::from), 2)?;
    let words = lines
        .split_whitespace()
        .map_partitions_func::<String>(&sorted_distinct::func())
        .to_uppercase();
    assert_ships(
        &words,
        &["A", "B", "C", "A", "D"].map(String::from).to_vec(),
    );
    assert_ships(
        &words.frequencies().most_common(1),
        &vec![("A".to_string(), 2)],
    );
    Ok(())
}

#[test]
fn map_partitions_func_of_the_wrong_type_names_the_function_and_the_types() -> Result<()> {
    let bag = Bag::from_partitions(vec![vec![1i64, 2], vec![3]])?;
    // A function returning a number, not a partition.
    let wrong = bag.map_partitions_func::<i64>(&partition_total::func());
    barrow_wire::check_serializable(&wrong.graph()?, Registry::global())?;
    for scheduler in ["sync", "threads"] {
        let options = Options::new().scheduler(scheduler);
        let error = compute_with(&wrong, &options).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::TaskFailed, "{error}");
        let text = error.to_string();
        assert!(
            text.contains("map_partitions_func('tests.shippable.partition_total')"),
            "{text}"
        );
        assert!(text.contains("alloc::vec::Vec<i64>"), "{text}");
        assert!(text.contains("returned a i64"), "{text}");
        assert!(text.contains("on partition "), "{text}");
    }
    // A list of the wrong element type.
    let error = compute_with(
        bag.map_partitions_func::<i64>(&partition_len::func()).sum(),
        &sync(),
    )
    .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("map_partitions_func('tests.shippable.partition_len')"),
        "{text}"
    );
    assert!(
        text.contains("returned a alloc::vec::Vec<u64>") && text.contains("a alloc::vec::Vec<i64>"),
        "{text}"
    );
    // A function over partitions of another element type.
    let texts = Bag::from_partitions(vec![vec![1.5f64]])?;
    let error = compute_with(
        &texts.map_partitions_func::<i64>(&running_total::func()),
        &sync(),
    )
    .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("map_partitions_func('tests.shippable.running_total') failed on partition 0"),
        "{text}"
    );
    assert!(text.contains("Vec<f64>"), "{text}");
    Ok(())
}

#[test]
fn map_partitions_func_with_a_closure_computes_locally_but_is_refused() -> Result<()> {
    let closure = Func::new("my-batch", |part: &Vec<i64>| -> Vec<i64> {
        part.iter().rev().copied().collect()
    });
    let bag = Bag::from_partitions(vec![vec![1i64, 2, 3], Vec::new(), vec![4, 5]])?;
    let reversed = bag.map_partitions_func::<i64>(&closure);
    for scheduler in ["sync", "threads"] {
        let options = Options::new().scheduler(scheduler);
        assert_eq!(compute_with(&reversed, &options)?, [3, 2, 1, 5, 4]);
    }
    let total = reversed.map_func::<i64>(&triple_plus_one::func()).sum();
    let error = barrow_wire::check_serializable(&total.graph()?, Registry::global()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotShippable);
    assert!(
        error
            .to_string()
            .contains("'map_partitions_func(my-batch)-map_func-sum'"),
        "{error}"
    );
    assert_eq!(compute_with(total, &sync())?, 15 * 3 + 5);
    // An element type outside the registered set computes locally too.
    let small = Bag::from_partitions(vec![vec![1i64, 2]])?;
    let as_i32 = Func::new("to-i32", |part: &Vec<i64>| -> Vec<i32> {
        part.iter().map(|&x| x as i32).collect()
    });
    let ints = small.map_partitions_func::<i32>(&as_i32);
    assert_eq!(compute_with(&ints, &sync())?, [1, 2]);
    Ok(())
}
