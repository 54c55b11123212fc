//! The bag's registered functions and codecs: what lets its tasks run in
//! worker processes.
//!
//! A bag whose feed has a [recipe](crate::recipe) gives its whole-partition
//! tasks the registered name [`PARTITION`], with the recipe and what the
//! task does with the elements (an [`End`]) as parameters; its reductions
//! combine partial results with [`AGGREGATE`] and [`FINISH`], whose
//! parameters are the element type and the end. A worker process rebuilds
//! each function from the name and the parameters, through the same
//! builders, for the closed set of element types in [`ElemType`]. Every
//! value these tasks exchange has a codec registered here (or built into
//! core), so the tasks and their results cross process boundaries.
//!
//! Locally nothing of this runs: the functions in the graph are the bag's
//! own closures, which only *report* the registered name and parameters.

use std::hash::Hash;
use std::ops::Add;
use std::sync::Arc;

use barrow_core::codec::{SerdeCodec, StaticCodec};
use barrow_core::function::{StaticFactory, decode_params, encode_params};
use barrow_core::{Error, ErrorKind, Func, Result, Value};

use crate::feed::{Body, Consume, Element, Elements, body_func, partition_func, partition_value};
use crate::numeric::{Moments, Numeric};
use crate::recipe::{ElemType, End, Recipe, with_elem};
use crate::reduce::Erased;
use crate::reductions::{self, Counts, Ranked, Seen};

/// The partition tasks of bags with a recipe (parameters: the recipe and
/// the [`End`]).
pub(crate) const PARTITION: &str = "barrow.bag.partition";
/// The tasks combining partial results of a registered reduction
/// (parameters: the element type and the [`End`]).
pub(crate) const AGGREGATE: &str = "barrow.bag.aggregate";
/// The last task of a registered reduction (parameters: as [`AGGREGATE`]).
pub(crate) const FINISH: &str = "barrow.bag.finish";

/// An element type of the registered set, with the reductions registered
/// for it.
pub(crate) trait Shippable: Element {
    /// Its name in recipes.
    const TYPE: ElemType;

    /// The registered reduction `end` of elements of this type, if there is
    /// one.
    fn reduction(end: &End) -> Option<Erased<Self>>;
}

/// Reductions of any element type.
fn common<T: Element>(end: &End) -> Option<Erased<T>> {
    match end {
        End::Count => Some(reductions::count::<T>().erase()),
        _ => None,
    }
}

/// Reductions of ordered elements.
fn ordered<T: Element + PartialOrd>(end: &End) -> Option<Erased<T>> {
    match end {
        End::Min => Some(reductions::extreme::<T>(reductions::less).erase()),
        End::Max => Some(reductions::extreme::<T>(reductions::greater).erase()),
        _ => None,
    }
}

/// Reductions of numbers.
fn numeric<T>(end: &End) -> Option<Erased<T>>
where
    T: Element + Numeric + Default + Add<Output = T>,
{
    match end {
        End::Sum => Some(reductions::sum::<T>().erase()),
        End::Mean => Some(reductions::moments::<T>(reductions::mean()).erase()),
        End::Var(ddof) => {
            Some(reductions::moments::<T>(reductions::spread("var", *ddof, |v| v)).erase())
        }
        End::Std(ddof) => {
            Some(reductions::moments::<T>(reductions::spread("std", *ddof, f64::sqrt)).erase())
        }
        _ => None,
    }
}

/// Reductions of hashable elements.
fn hashed<T: Element + Hash + Eq>(end: &End) -> Option<Erased<T>> {
    match end {
        End::Frequencies => Some(reductions::frequencies::<T>().erase()),
        End::Distinct => Some(reductions::distinct::<T>().erase()),
        _ => None,
    }
}

/// Reductions of totally ordered elements.
fn ranked<T: Element + Ord>(end: &End) -> Option<Erased<T>> {
    match end {
        End::TopK(k) => {
            Some(reductions::top(saturating_usize(*k), reductions::itself::<T>).erase())
        }
        _ => None,
    }
}

/// Reductions of counted elements, `(element, count)`.
fn counted<K: Element>(end: &End) -> Option<Erased<(K, u64)>> {
    match end {
        End::MostCommon(k) => {
            Some(reductions::top(saturating_usize(*k), reductions::count_of::<K>).erase())
        }
        _ => None,
    }
}

/// Reductions of booleans.
fn truth(end: &End) -> Option<Erased<bool>> {
    match end {
        End::Any => Some(reductions::truth(false).erase()),
        End::All => Some(reductions::truth(true).erase()),
        _ => None,
    }
}

fn saturating_usize(k: u64) -> usize {
    usize::try_from(k).unwrap_or(usize::MAX)
}

/// Implements [`Shippable`] for each type, with the reductions of the
/// groups listed (each a function of the end, its element type inferred).
macro_rules! shippable {
    ($($ty:ty => $elem:ident: $($group:ident),+;)*) => {
        $(impl Shippable for $ty {
            const TYPE: ElemType = ElemType::$elem;

            fn reduction(end: &End) -> Option<Erased<Self>> {
                None $(.or_else(|| $group(end)))+
            }
        })*
    };
}

shippable! {
    String => Str: common, ordered, hashed, ranked;
    i64 => I64: common, ordered, numeric, hashed, ranked;
    u64 => U64: common, ordered, numeric, hashed, ranked;
    f64 => F64: common, ordered, numeric;
    bool => Bool: common, truth;
    Vec<String> => Strings: common;
    (String, u64) => StrCount: common, counted;
    (i64, u64) => I64Count: common, counted;
    (u64, u64) => U64Count: common, counted;
}

/// Registers a [`SerdeCodec`] for each type, under its tag, in every
/// process.
macro_rules! codecs {
    ($($ty:ty => $tag:literal,)*) => {
        $(inventory::submit! {
            StaticCodec { make: || Arc::new(SerdeCodec::<$ty>::new($tag)) }
        })*
        /// The tags registered here, for tests.
        #[cfg(test)]
        pub(crate) const CODEC_TAGS: &[&str] = &[$($tag),*];
    };
}

// Partitions of the element types core has no codec for, and the partial
// results of the registered reductions (counts and booleans are core's).
codecs! {
    Vec<Vec<String>> => "barrow.bag.vec.strings",
    Vec<(String, u64)> => "barrow.bag.vec.string-count",
    Vec<(i64, u64)> => "barrow.bag.vec.i64-count",
    Vec<(u64, u64)> => "barrow.bag.vec.u64-count",
    Option<String> => "barrow.bag.extreme.string",
    Option<i64> => "barrow.bag.extreme.i64",
    Option<u64> => "barrow.bag.extreme.u64",
    Option<f64> => "barrow.bag.extreme.f64",
    Moments => "barrow.bag.moments",
    Counts<String> => "barrow.bag.counts.string",
    Counts<i64> => "barrow.bag.counts.i64",
    Counts<u64> => "barrow.bag.counts.u64",
    Seen<String> => "barrow.bag.seen.string",
    Seen<i64> => "barrow.bag.seen.i64",
    Seen<u64> => "barrow.bag.seen.u64",
    Ranked<String, String> => "barrow.bag.ranked.string",
    Ranked<i64, i64> => "barrow.bag.ranked.i64",
    Ranked<u64, u64> => "barrow.bag.ranked.u64",
    Ranked<u64, (String, u64)> => "barrow.bag.ranked.string-count",
    Ranked<u64, (i64, u64)> => "barrow.bag.ranked.i64-count",
    Ranked<u64, (u64, u64)> => "barrow.bag.ranked.u64-count",
}

inventory::submit! { StaticFactory { name: PARTITION, make: make_partition } }
inventory::submit! { StaticFactory { name: AGGREGATE, make: make_aggregate } }
inventory::submit! { StaticFactory { name: FINISH, make: make_finish } }

/// What a partition task of a stored partition does: collect the elements.
pub(crate) fn store<T: Element>() -> Consume<T, Value> {
    Arc::new(|elements: &Elements<'_, T>| elements.collect().map(partition_value))
}

/// What a registered partition task does with elements of type `T`.
fn consume<T: Shippable>(end: &End) -> Option<Consume<T, Value>> {
    match end {
        End::Store => Some(store::<T>()),
        _ => T::reduction(end).map(|reduction| reduction.per_part),
    }
}

/// Whether elements of type `elem` have the registered end `end`.
fn supports(elem: ElemType, end: &End) -> bool {
    *end == End::Store || with_elem!(elem, T => T::reduction(end).is_some())
}

/// The registered name and parameters for the partition tasks of a bag of
/// `T`s with `recipe`, ending in `end`; `None` when they are not
/// registered (no recipe, no end, or an end its element type lacks).
pub(crate) fn partition_naming<T: 'static>(
    recipe: Option<&Recipe>,
    end: Option<&End>,
) -> Option<(Arc<str>, Arc<[u8]>)> {
    let (recipe, end) = (recipe?, end?);
    if !supports(ElemType::of::<T>()?, end) {
        return None;
    }
    let params = encode_params(PARTITION, &(recipe, end)).ok()?;
    Some((Arc::from(PARTITION), params.into()))
}

/// The functions combining partial results of reduction `op`, from their
/// bodies: registered when `end` is one for elements of type `T`, else
/// named after `op` (`count-aggregate`, `count`).
pub(crate) fn reduce_funcs<T: 'static>(
    op: &str,
    end: Option<&End>,
    aggregate: Body,
    finish: Body,
) -> (Func, Func) {
    let registered = end.and_then(|end| {
        let elem = ElemType::of::<T>()?;
        if *end == End::Store || !supports(elem, end) {
            return None;
        }
        encode_params(AGGREGATE, &(elem, end)).ok()
    });
    match registered {
        Some(params) => {
            let params: Arc<[u8]> = params.into();
            (
                body_func(Arc::from(AGGREGATE), Some(params.clone()), aggregate),
                body_func(Arc::from(FINISH), Some(params), finish),
            )
        }
        None => (
            body_func(Arc::from(format!("{op}-aggregate")), None, aggregate),
            body_func(Arc::from(op), None, finish),
        ),
    }
}

fn unsupported(function: &str, elem: ElemType, end: &End) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!(
            "function '{function}': bags of {} have no registered {end:?}",
            elem.rust_name()
        ),
    )
}

/// Rebuilds a partition task function from its recipe and end.
fn make_partition(bytes: &[u8]) -> Result<Func> {
    let (recipe, end): (Recipe, End) = decode_params(PARTITION, bytes)?;
    let feed = recipe.build()?;
    let elem = feed.elem();
    let lent = feed.lent();
    with_elem!(elem, T => {
        let consume = consume::<T>(&end).ok_or_else(|| unsupported(PARTITION, elem, &end))?;
        Ok(partition_func(
            Arc::from(PARTITION),
            Some(Arc::from(bytes)),
            (feed.typed::<T>()?, lent),
            consume,
            |value| value,
        ))
    })
}

/// Rebuilds a combining task function of a registered reduction.
fn make_aggregate(bytes: &[u8]) -> Result<Func> {
    make_combining(AGGREGATE, bytes, true)
}

/// Rebuilds the last task function of a registered reduction.
fn make_finish(bytes: &[u8]) -> Result<Func> {
    make_combining(FINISH, bytes, false)
}

/// The [`AGGREGATE`] (`aggregate`) or [`FINISH`] function of the reduction
/// its parameters name.
fn make_combining(name: &'static str, bytes: &[u8], aggregate: bool) -> Result<Func> {
    let (elem, end): (ElemType, End) = decode_params(name, bytes)?;
    let body = with_elem!(elem, T => T::reduction(&end).map(|r| {
        if aggregate { r.aggregate } else { r.finish }
    }));
    let body = body.ok_or_else(|| unsupported(name, elem, &end))?;
    Ok(body_func(Arc::from(name), Some(Arc::from(bytes)), body))
}

#[cfg(test)]
#[path = "registered_tests.rs"]
mod tests;
