//! The reductions with no closure of the user's, as generic constructors:
//! the bag methods build them for any element type, and a worker process
//! rebuilds the same ones for the registered element types
//! ([`crate::registered`]).

use std::cmp::Ordering;
use std::hash::Hash;
use std::ops::Add;
use std::sync::Arc;

use hashbrown::{HashMap, HashSet};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::invalid;
use crate::feed::{Element, Elements};
use crate::numeric::{Moments, Numeric};
use crate::reduce::{Finish, Reduction};

/// `count`: the number of elements.
pub(crate) fn count<T: Element>() -> Reduction<T, u64, u64> {
    Reduction {
        per_part: Arc::new(|elements: &Elements<'_, T>| {
            let mut n = 0u64;
            elements.for_each(&mut |_| {
                n += 1;
                Ok(())
            })?;
            Ok(n)
        }),
        merge: Arc::new(|a: &mut u64, b: &u64| *a += b),
        finish: Arc::new(Ok),
    }
}

/// `sum`: the sum of the elements, `T::default()` for none.
pub(crate) fn sum<T>() -> Reduction<T, T, T>
where
    T: Element + Default + Add<Output = T>,
{
    Reduction {
        per_part: Arc::new(|elements: &Elements<'_, T>| {
            let mut acc = Some(T::default());
            elements.for_each(&mut |x| {
                acc = acc.take().map(|a| a + x);
                Ok(())
            })?;
            Ok(acc.unwrap_or_default())
        }),
        merge: Arc::new(|a: &mut T, b: &T| *a = std::mem::take(a) + b.clone()),
        finish: Arc::new(Ok),
    }
}

/// `min` (`better` is `<`) or `max` (`>`): the best element, `None` for
/// none. Elements that do not compare never replace the current best.
pub(crate) fn extreme<T>(better: fn(&T, &T) -> bool) -> Reduction<T, Option<T>, Option<T>>
where
    T: Element + PartialOrd,
{
    Reduction {
        per_part: Arc::new(move |elements: &Elements<'_, T>| {
            let mut best: Option<T> = None;
            elements.for_each(&mut |x| {
                if best.as_ref().is_none_or(|b| better(&x, b)) {
                    best = Some(x);
                }
                Ok(())
            })?;
            Ok(best)
        }),
        merge: Arc::new(move |a: &mut Option<T>, b: &Option<T>| {
            if let Some(b) = b
                && a.as_ref().is_none_or(|a| better(b, a))
            {
                *a = Some(b.clone());
            }
        }),
        finish: Arc::new(Ok),
    }
}

/// Whether `a` comes before `b` (for `min`).
pub(crate) fn less<T: PartialOrd>(a: &T, b: &T) -> bool {
    a < b
}

/// Whether `a` comes after `b` (for `max`).
pub(crate) fn greater<T: PartialOrd>(a: &T, b: &T) -> bool {
    a > b
}

/// The moments of the elements, turned into a number by `finish`.
pub(crate) fn moments<T>(finish: Finish<Moments, f64>) -> Reduction<T, Moments, f64>
where
    T: Element + Numeric,
{
    Reduction {
        per_part: Arc::new(|elements: &Elements<'_, T>| {
            let mut m = Moments::default();
            elements.for_each(&mut |x| {
                m.push(x.to_f64());
                Ok(())
            })?;
            Ok(m)
        }),
        merge: Arc::new(|a: &mut Moments, b: &Moments| a.merge(b)),
        finish,
    }
}

/// The mean of the moments; an error for an empty bag.
pub(crate) fn mean() -> Finish<Moments, f64> {
    Arc::new(|m: Moments| {
        if m.n == 0 {
            Err(invalid(
                "mean of an empty bag: there is no element to average",
            ))
        } else {
            Ok(m.mean)
        }
    })
}

/// The variance with `ddof` delta degrees of freedom, then `then` (the
/// identity for `var`, the square root for `std`, named `op`).
pub(crate) fn spread(op: &'static str, ddof: u32, then: fn(f64) -> f64) -> Finish<Moments, f64> {
    Arc::new(move |m: Moments| {
        if m.n <= u64::from(ddof) {
            Err(invalid(format!(
                "{op} with ddof = {ddof} needs more than {ddof} elements, the bag has {}",
                m.n
            )))
        } else {
            Ok(then(m.m2 / (m.n - u64::from(ddof)) as f64))
        }
    })
}

/// `any` (`all` false) or `all` (`all` true) of booleans.
pub(crate) fn truth(all: bool) -> Reduction<bool, bool, bool> {
    Reduction {
        per_part: Arc::new(move |elements: &Elements<'_, bool>| {
            let mut acc = all;
            elements.for_each(&mut |x| {
                acc = if all { acc && x } else { acc || x };
                Ok(())
            })?;
            Ok(acc)
        }),
        merge: Arc::new(move |a: &mut bool, b: &bool| {
            *a = if all { *a && *b } else { *a || *b };
        }),
        finish: Arc::new(Ok),
    }
}

/// The count of each distinct element: the partial result of
/// `frequencies`. Travels as a list of `(element, count)` pairs.
#[derive(Debug, Clone)]
pub(crate) struct Counts<T: Hash + Eq>(pub(crate) HashMap<T, u64>);

/// `frequencies`: `(element, count)` pairs in no particular order.
pub(crate) fn frequencies<T>() -> Reduction<T, Counts<T>, Vec<(T, u64)>>
where
    T: Element + Hash + Eq,
{
    Reduction {
        per_part: Arc::new(|elements: &Elements<'_, T>| {
            if let Some(counts) = count_lent::<T>(elements) {
                return counts;
            }
            let mut counts: HashMap<T, u64> = HashMap::new();
            elements.for_each(&mut |x| {
                *counts.entry(x).or_insert(0) += 1;
                Ok(())
            })?;
            Ok(Counts(counts))
        }),
        merge: Arc::new(|a: &mut Counts<T>, b: &Counts<T>| {
            let a = &mut a.0;
            a.reserve(b.0.len() / 2);
            for (x, n) in &b.0 {
                match a.get_mut(x) {
                    Some(count) => *count += n,
                    None => {
                        a.insert(x.clone(), *n);
                    }
                }
            }
        }),
        finish: Arc::new(|counts: Counts<T>| Ok(counts.0.into_iter().collect())),
    }
}

/// The counts of a partition of strings that can be lent (see
/// [`crate::feed::Lent`]), made without a `String` per element: only a
/// string not counted yet is copied, into the map. `None` for other
/// elements.
fn count_lent<T: Hash + Eq + 'static>(
    elements: &Elements<'_, T>,
) -> Option<barrow_core::Result<Counts<T>>> {
    let mut counts: HashMap<String, u64> = HashMap::new();
    let done = elements.for_each_lent(&mut |s: &str| {
        *counts.entry_ref(s).or_insert(0) += 1;
        Ok(())
    })?;
    Some(done.and_then(|()| {
        let counts: Box<dyn std::any::Any> = Box::new(Counts(counts));
        // Only strings are lent, so `T` is `String`.
        counts
            .downcast::<Counts<T>>()
            .map(|counts| *counts)
            .map_err(|_| {
                barrow_core::Error::internal("frequencies: lent elements that are not strings")
            })
    }))
}

/// Elements with their rank key and position (partition, index): the
/// partial result of `topk`.
pub(crate) type Ranked<K, T> = Vec<(K, (u32, u64), T)>;

/// Larger keys first, then earlier positions.
fn order<K: Ord, T>(a: &(K, (u32, u64), T), b: &(K, (u32, u64), T)) -> Ordering {
    b.0.cmp(&a.0).then(a.1.cmp(&b.1))
}

/// Keeps the first `k` in [`order`] (not sorted).
fn keep<K: Ord, T>(ranked: &mut Ranked<K, T>, k: usize) {
    if ranked.len() > k {
        if k > 0 {
            ranked.select_nth_unstable_by(k - 1, order);
        }
        ranked.truncate(k);
    }
}

/// `topk`: the `k` elements with the largest `key`, largest first; ties
/// keep the earlier element first.
pub(crate) fn top<T, K, F>(k: usize, key: F) -> Reduction<T, Ranked<K, T>, Vec<T>>
where
    T: Element,
    K: Ord + Clone + Send + Sync + 'static,
    F: Fn(&T) -> K + Send + Sync + 'static,
{
    Reduction {
        per_part: Arc::new(move |elements: &Elements<'_, T>| {
            let partition = elements.index() as u32;
            let mut ranked: Ranked<K, T> = Vec::new();
            let mut position = 0u64;
            elements.for_each(&mut |x| {
                ranked.push((key(&x), (partition, position), x));
                position += 1;
                // Selecting at 2k keeps the work linear in the partition.
                if ranked.len() >= k.max(16).saturating_mul(2) {
                    keep(&mut ranked, k);
                }
                Ok(())
            })?;
            keep(&mut ranked, k);
            Ok(ranked)
        }),
        merge: Arc::new(move |a: &mut Ranked<K, T>, b: &Ranked<K, T>| {
            a.extend(b.iter().cloned());
            keep(a, k);
        }),
        finish: Arc::new(|mut ranked: Ranked<K, T>| {
            ranked.sort_by(order);
            Ok(ranked.into_iter().map(|(_, _, x)| x).collect())
        }),
    }
}

/// The key of `topk`: the element itself.
pub(crate) fn itself<T: Clone>(x: &T) -> T {
    x.clone()
}

/// The key of `most_common`: the count.
pub(crate) fn count_of<K>(pair: &(K, u64)) -> u64 {
    pair.1
}

/// The distinct elements in the order they first appear: the partial
/// result of `distinct`. Travels as the list of elements.
#[derive(Debug, Clone)]
pub(crate) struct Seen<T: Hash + Eq> {
    order: Vec<T>,
    set: HashSet<T>,
}

impl<T: Hash + Eq + Clone> Seen<T> {
    fn new() -> Seen<T> {
        Seen {
            order: Vec::new(),
            set: HashSet::new(),
        }
    }

    fn push(&mut self, x: T) {
        if !self.set.contains(&x) {
            self.set.insert(x.clone());
            self.order.push(x);
        }
    }
}

/// `distinct`: the distinct elements, in the order they first appear.
pub(crate) fn distinct<T>() -> Reduction<T, Seen<T>, Vec<T>>
where
    T: Element + Hash + Eq,
{
    Reduction {
        per_part: Arc::new(|elements: &Elements<'_, T>| {
            let mut seen = Seen::new();
            elements.for_each(&mut |x| {
                seen.push(x);
                Ok(())
            })?;
            Ok(seen)
        }),
        merge: Arc::new(|a: &mut Seen<T>, b: &Seen<T>| {
            for x in &b.order {
                if !a.set.contains(x) {
                    a.set.insert(x.clone());
                    a.order.push(x.clone());
                }
            }
        }),
        finish: Arc::new(|seen: Seen<T>| Ok(seen.order)),
    }
}

impl<T: Hash + Eq + Serialize> Serialize for Counts<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter())
    }
}

impl<'de, T: Hash + Eq + DeserializeOwned> Deserialize<'de> for Counts<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pairs = Vec::<(T, u64)>::deserialize(deserializer)?;
        Ok(Counts(pairs.into_iter().collect()))
    }
}

impl<T: Hash + Eq + Serialize> Serialize for Seen<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.order.serialize(serializer)
    }
}

impl<'de, T: Hash + Eq + Clone + DeserializeOwned> Deserialize<'de> for Seen<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let order = Vec::<T>::deserialize(deserializer)?;
        let mut seen = Seen::new();
        // Pushing drops repeats, which a well-formed encoding has none of.
        order.into_iter().for_each(|x| seen.push(x));
        Ok(seen)
    }
}
