//! Every registered (element type, end) pair rebuilds in a "worker" from
//! its name and parameters, and every value its tasks exchange has a codec.

use barrow_core::function::Input;
use barrow_core::{ErrorKind, Registry, Value};

use super::*;
use crate::recipe::{FuncRef, SourceSpec, Step};

/// A partition, reversed: a registered whole-partition function.
#[barrow_core::task(name = "barrow.bag.tests.reversed")]
#[allow(
    clippy::ptr_arg,
    reason = "task functions take partitions as the type values hold"
)]
fn reversed(part: &Vec<i64>) -> Vec<i64> {
    part.iter().rev().copied().collect()
}

/// A partition's length, as a partition of one `u64`.
#[barrow_core::task(name = "barrow.bag.tests.length")]
#[allow(
    clippy::ptr_arg,
    reason = "task functions take partitions as the type values hold"
)]
fn length(part: &Vec<i64>) -> Vec<u64> {
    vec![part.len() as u64]
}

/// Negates a number: a registered element function.
#[barrow_core::task(name = "barrow.bag.tests.negated")]
fn negated(x: &i64) -> i64 {
    -x
}

fn registered(func: &Func) -> FuncRef {
    FuncRef::to_registered(func).expect("registered by #[barrow_core::task]")
}

/// A few elements of each registered type.
trait Examples: Sized {
    fn examples() -> Vec<Self>;
}

impl Examples for String {
    fn examples() -> Vec<String> {
        ["b", "a", "b"].map(String::from).to_vec()
    }
}
impl Examples for i64 {
    fn examples() -> Vec<i64> {
        vec![3, -1, 3]
    }
}
impl Examples for u64 {
    fn examples() -> Vec<u64> {
        vec![3, 1, 3]
    }
}
impl Examples for f64 {
    fn examples() -> Vec<f64> {
        vec![0.5, -2.0, 4.0]
    }
}
impl Examples for bool {
    fn examples() -> Vec<bool> {
        vec![true, false]
    }
}
impl Examples for Vec<String> {
    fn examples() -> Vec<Vec<String>> {
        vec![String::examples(), Vec::new()]
    }
}
impl<K: Examples> Examples for (K, u64) {
    fn examples() -> Vec<(K, u64)> {
        K::examples().into_iter().zip([4, 7, 1]).collect()
    }
}

/// Encodes and decodes `value` as a worker would receive it.
fn ship(value: &Value) -> Value {
    let codecs = Registry::global().codecs();
    let bytes = barrow_wire::encode(value, codecs)
        .unwrap_or_else(|e| panic!("{} has no codec: {e}", value.type_name()));
    barrow_wire::decode(&bytes, codecs).unwrap()
}

fn resolve(name: &str, params: &[u8]) -> Func {
    let func = Registry::global()
        .functions()
        .resolve(name, Some(params))
        .unwrap();
    assert_eq!((func.name(), func.params()), (name, Some(params)));
    func
}

/// Runs `end` over two partitions of examples the way workers would.
fn run<T: Shippable + Examples>(end: &End) -> Value {
    let recipe = Recipe::stored::<T>().unwrap();
    let (name, params) = partition_naming::<T>(Some(&recipe), Some(end)).unwrap();
    let part = resolve(&name, &params);
    let partials: Vec<Value> = (0..2u32)
        .map(|i| {
            let inputs = [
                Input::Value(Value::new(i)),
                Input::Value(ship(&Value::new(T::examples()))),
            ];
            ship(&part.call(&inputs).unwrap())
        })
        .collect();
    if *end == End::Store {
        return partials[0].clone();
    }
    let nothing: Body = Arc::new(|_| Ok(Value::new(())));
    let (aggregate, _) = reduce_funcs::<T>("test", Some(end), nothing.clone(), nothing);
    let params = aggregate.params().unwrap();
    let list = |values: Vec<Value>| [Input::List(values.into_iter().map(Input::Value).collect())];
    let combined = resolve(AGGREGATE, params).call(&list(partials)).unwrap();
    let result = resolve(FINISH, params)
        .call(&list(vec![ship(&combined)]))
        .unwrap();
    ship(&result)
}

#[test]
fn every_registered_end_rebuilds_by_name_and_its_values_cross() {
    let mut ran = 0;
    for elem in ElemType::ALL {
        for end in &End::ALL {
            if supports(elem, end) {
                with_elem!(elem, T => run::<T>(end));
                ran += 1;
            }
        }
    }
    // Store and count of the 9 types; min and max of 4; sum, mean, var and
    // std of 3; frequencies and distinct of 3; topk of 3; any and all;
    // most_common of the 3 counted types.
    assert_eq!(ran, 18 + 8 + 12 + 6 + 3 + 2 + 3);
}

#[test]
fn rebuilt_reductions_compute_what_the_bag_does() {
    let top = with_elem!(ElemType::StrCount, T => run::<T>(&End::MostCommon(2)));
    assert_eq!(
        top.downcast_ref::<Vec<(String, u64)>>().unwrap(),
        &[("a".to_string(), 7), ("a".to_string(), 7)]
    );
    let mean = with_elem!(ElemType::F64, T => run::<T>(&End::Mean));
    assert!((mean.downcast_ref::<f64>().unwrap() - 2.5 / 3.0).abs() < 1e-12);
    let distinct = with_elem!(ElemType::I64, T => run::<T>(&End::Distinct));
    assert_eq!(distinct.downcast_ref::<Vec<i64>>().unwrap(), &[3, -1]);
}

#[test]
fn every_codec_tag_is_registered_once() {
    let codecs = Registry::global().codecs();
    let mut tags = CODEC_TAGS.to_vec();
    for tag in &tags {
        assert!(codecs.by_tag(tag).is_ok(), "{tag}");
    }
    tags.sort_unstable();
    tags.dedup();
    assert_eq!(tags.len(), CODEC_TAGS.len());
}

#[test]
fn unregistered_pairs_are_not_named_as_registered() {
    let recipe = Recipe::stored::<f64>().unwrap();
    assert!(partition_naming::<f64>(Some(&recipe), Some(&End::Frequencies)).is_none());
    assert!(partition_naming::<f64>(None, Some(&End::Count)).is_none());
    assert!(partition_naming::<f64>(Some(&recipe), None).is_none());
    let nothing: Body = Arc::new(|_| Ok(Value::new(())));
    let (aggregate, finish) = reduce_funcs::<f32>("sum", Some(&End::Sum), nothing.clone(), nothing);
    assert_eq!((aggregate.name(), finish.name()), ("sum-aggregate", "sum"));
    assert!(aggregate.params().is_none());
}

#[test]
fn damaged_or_mismatched_parameters_are_errors() {
    let functions = Registry::global().functions();
    for name in [PARTITION, AGGREGATE, FINISH] {
        for bytes in [&[][..], &[0xff, 0xff, 0xff][..], &[9, 0][..]] {
            let error = functions.resolve(name, Some(bytes)).unwrap_err();
            assert!(
                matches!(error.kind(), ErrorKind::Codec | ErrorKind::InvalidArgument),
                "{error}"
            );
        }
    }
    // Flattening numbers: the steps do not fit together.
    let recipe = Recipe::stored::<i64>().unwrap().then(Step::Flatten);
    let params = encode_params(PARTITION, &(&*recipe, &End::Count)).unwrap();
    let error = functions.resolve(PARTITION, Some(&params)).unwrap_err();
    assert!(
        error.to_string().contains("Vec<alloc::string::String>"),
        "{error}"
    );
    // A range in no partition would divide by zero.
    let recipe = Recipe::new(SourceSpec::Range {
        n: 10,
        partitions: 0,
    });
    let params = encode_params(PARTITION, &(&*recipe, &End::Count)).unwrap();
    assert!(functions.resolve(PARTITION, Some(&params)).is_err());
    // Summing strings: not a registered reduction.
    let params = encode_params(AGGREGATE, &(ElemType::Str, End::Sum)).unwrap();
    let error = functions.resolve(AGGREGATE, Some(&params)).unwrap_err();
    assert!(error.to_string().contains("no registered Sum"), "{error}");
}

#[test]
fn recipes_with_every_step_round_trip_through_their_encoding() {
    let func = registered(&reversed::func());
    let every_step = [
        Step::SplitWhitespace,
        Step::Lowercase,
        Step::Uppercase,
        Step::Trim,
        Step::Split(",".into()),
        Step::Flatten,
        Step::Sample {
            prob: 0.25,
            seed: 9,
        },
        Step::Map {
            func: func.clone(),
            out: ElemType::U64,
        },
        Step::Filter(func.clone()),
        Step::FlatMap {
            func: func.clone(),
            out: ElemType::Str,
        },
        Step::MapPartitions {
            func,
            out: ElemType::I64Count,
        },
    ];
    let sources = [
        SourceSpec::Stored(ElemType::I64),
        SourceSpec::Range {
            n: 10,
            partitions: 3,
        },
    ];
    for source in sources {
        let recipe = every_step.iter().fold(Recipe::new(source), |recipe, step| {
            recipe.then(step.clone())
        });
        for end in &End::ALL {
            let bytes = encode_params(PARTITION, &(&*recipe, end)).unwrap();
            let (decoded, decoded_end): (Recipe, End) = decode_params(PARTITION, &bytes).unwrap();
            assert_eq!((&decoded, &decoded_end), (&*recipe, end));
        }
    }
}

/// Runs the partition task of `recipe` ending in `end` as a worker would:
/// rebuilt from its name and parameters, on `partition` crossed as bytes.
fn run_partition<T: 'static>(recipe: &Recipe, end: &End, partition: Vec<i64>) -> Value {
    let (name, params) = partition_naming::<T>(Some(recipe), Some(end)).unwrap();
    let part = resolve(&name, &params);
    let inputs = [
        Input::Value(Value::new(1u32)),
        Input::Value(ship(&Value::new(partition))),
    ];
    ship(&part.call(&inputs).unwrap())
}

#[test]
fn a_map_partitions_step_rebuilds_in_a_worker() {
    let recipe = Recipe::stored::<i64>().unwrap().then(Step::MapPartitions {
        func: registered(&reversed::func()),
        out: ElemType::I64,
    });
    let stored = run_partition::<i64>(&recipe, &End::Store, vec![1, 2, 3]);
    assert_eq!(stored.downcast_ref::<Vec<i64>>().unwrap(), &[3, 2, 1]);
    // An element step after it, fused into the same task.
    let then_map = recipe.then(Step::Map {
        func: registered(&negated::func()),
        out: ElemType::I64,
    });
    let stored = run_partition::<i64>(&then_map, &End::Store, vec![1, 2, 3]);
    assert_eq!(stored.downcast_ref::<Vec<i64>>().unwrap(), &[-3, -2, -1]);
    let sum = run_partition::<i64>(&then_map, &End::Sum, vec![1, 2, 3]);
    assert_eq!(sum.downcast_ref::<i64>().unwrap(), &-6);
    // To another element type, on an empty partition.
    let lengths = Recipe::stored::<i64>().unwrap().then(Step::MapPartitions {
        func: registered(&length::func()),
        out: ElemType::U64,
    });
    let stored = run_partition::<u64>(&lengths, &End::Store, Vec::new());
    assert_eq!(stored.downcast_ref::<Vec<u64>>().unwrap(), &[0]);
}

#[test]
fn a_map_partitions_step_that_does_not_fit_fails_naming_the_function() {
    // A list of u64s where the recipe says i64s: the rebuilt task fails
    // when it runs, naming the function and both types.
    let recipe = Recipe::stored::<i64>().unwrap().then(Step::MapPartitions {
        func: registered(&length::func()),
        out: ElemType::I64,
    });
    let (name, params) = partition_naming::<i64>(Some(&recipe), Some(&End::Store)).unwrap();
    let part = resolve(&name, &params);
    let inputs = [
        Input::Value(Value::new(0u32)),
        Input::Value(Value::new(vec![1i64])),
    ];
    let error = part.call(&inputs).unwrap_err();
    let text = error.to_string();
    assert_eq!(error.kind(), ErrorKind::TaskFailed, "{text}");
    assert!(
        text.contains("map_partitions_func('barrow.bag.tests.length') on partition 0"),
        "{text}"
    );
    assert!(
        text.contains("alloc::vec::Vec<u64>") && text.contains("alloc::vec::Vec<i64>"),
        "{text}"
    );
    // A closure is not registered, so no recipe step names it.
    let closure = Func::new("not-registered", |part: &Vec<i64>| part.clone());
    assert!(FuncRef::to_registered(&closure).is_none());
}
