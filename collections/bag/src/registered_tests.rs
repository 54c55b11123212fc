//! Every registered (element type, end) pair rebuilds in a "worker" from
//! its name and parameters, and every value its tasks exchange has a codec.

use barrow_core::function::Input;
use barrow_core::{ErrorKind, Registry, Value};

use super::*;
use crate::recipe::{SourceSpec, Step};

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
