//! Element-wise operations: each wraps the feed, adding no task.

use std::sync::Arc;

use barrow_core::Result;

use crate::Bag;
use crate::error::{BagError, invalid};
use crate::feed::{Element, Feed, Part, Sink, element_error, name_of, unique_name};
use crate::recipe::{ElemType, Step};
use crate::steps;

impl<T: Element> Bag<T> {
    /// Applies `f` to every element (Dask's `map`).
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let words = Bag::from_sequence(["a", "bb", "ccc"], 2)?.map(|w| w.len());
    /// assert_eq!(compute_with(&words, &Options::new().scheduler("sync"))?, [1, 2, 3]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn map<U, F>(&self, f: F) -> Bag<U>
    where
        U: Element,
        F: Fn(T) -> U + Send + Sync + 'static,
    {
        let parent = self.feed.clone();
        let feed: Feed<U> =
            Arc::new(move |part: &Part<'_>, sink: Sink<'_, U>| parent(part, &mut |x| sink(f(x))));
        self.derive("map", unique_name("map"), feed)
    }

    /// Applies a fallible `f` to every element; the first error fails the
    /// computation, naming the partition.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let options = Options::new().scheduler("sync");
    /// let numbers = Bag::from_sequence(["1", "2", "x"], 3)?.try_map(|s| s.parse::<i32>());
    /// let err = compute_with(&numbers, &options).unwrap_err();
    /// assert!(err.to_string().contains("partition 2"), "{err}");
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn try_map<U, E, F>(&self, f: F) -> Bag<U>
    where
        U: Element,
        E: std::error::Error + Send + Sync + 'static,
        F: Fn(T) -> std::result::Result<U, E> + Send + Sync + 'static,
    {
        let parent = self.feed.clone();
        let feed: Feed<U> = Arc::new(move |part: &Part<'_>, sink: Sink<'_, U>| {
            parent(part, &mut |x| match f(x) {
                Ok(y) => sink(y),
                Err(e) => Err(element_error("try_map", part.index, e)),
            })
        });
        self.derive("try_map", unique_name("try_map"), feed)
    }

    /// Keeps the elements for which `predicate` is true (Dask's `filter`).
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let even = Bag::from_sequence(0..10, 3)?.filter(|x| x % 2 == 0);
    /// assert_eq!(compute_with(&even, &Options::new().scheduler("sync"))?, [0, 2, 4, 6, 8]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn filter<F>(&self, predicate: F) -> Bag<T>
    where
        F: Fn(&T) -> bool + Send + Sync + 'static,
    {
        let parent = self.feed.clone();
        let feed: Feed<T> = Arc::new(move |part: &Part<'_>, sink: Sink<'_, T>| {
            parent(part, &mut |x| if predicate(&x) { sink(x) } else { Ok(()) })
        });
        self.derive("filter", unique_name("filter"), feed)
    }

    /// Drops the elements for which `predicate` is true (Dask's `remove`).
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let odd = Bag::from_sequence(0..6, 2)?.remove(|x| x % 2 == 0);
    /// assert_eq!(compute_with(&odd, &Options::new().scheduler("sync"))?, [1, 3, 5]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn remove<F>(&self, predicate: F) -> Bag<T>
    where
        F: Fn(&T) -> bool + Send + Sync + 'static,
    {
        self.filter(move |x| !predicate(x))
    }

    /// Applies `f` to every element and concatenates the results (Dask's
    /// `map(f).flatten()`).
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let lines = Bag::from_sequence(["to be", "or not"], 1)?;
    /// let words = lines.flat_map(|line| line.split(' ').map(String::from).collect::<Vec<_>>());
    /// let options = Options::new().scheduler("sync");
    /// assert_eq!(compute_with(&words, &options)?, ["to", "be", "or", "not"]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn flat_map<U, I, F>(&self, f: F) -> Bag<U>
    where
        U: Element,
        I: IntoIterator<Item = U>,
        F: Fn(T) -> I + Send + Sync + 'static,
    {
        let parent = self.feed.clone();
        let feed: Feed<U> = Arc::new(move |part: &Part<'_>, sink: Sink<'_, U>| {
            parent(part, &mut |x| {
                for y in f(x) {
                    sink(y)?;
                }
                Ok(())
            })
        });
        self.derive("flat_map", unique_name("flat_map"), feed)
    }

    /// Runs `f` on each whole partition (Dask's `map_partitions`): for
    /// work that needs all of a partition at once (sorting, a model
    /// applied in batches).
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let sorted = Bag::from_partitions(vec![vec![3, 1, 2], vec![9, 7]])?.map_partitions(|mut p| {
    ///     p.sort();
    ///     p
    /// });
    /// assert_eq!(compute_with(&sorted, &Options::new().scheduler("sync"))?, [1, 2, 3, 7, 9]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn map_partitions<U, I, F>(&self, f: F) -> Bag<U>
    where
        U: Element,
        I: IntoIterator<Item = U>,
        F: Fn(Vec<T>) -> I + Send + Sync + 'static,
    {
        let parent = self.feed.clone();
        let feed: Feed<U> = Arc::new(move |part: &Part<'_>, sink: Sink<'_, U>| {
            let mut elements = Vec::new();
            parent(part, &mut |x| {
                elements.push(x);
                Ok(())
            })?;
            for y in f(elements) {
                sink(y)?;
            }
            Ok(())
        });
        self.derive("map_partitions", unique_name("map_partitions"), feed)
    }

    /// A field of every element, cloned out (Dask's `pluck`, for tuples and
    /// structs): `pluck(|(name, _)| name)`, `pluck(|r| &r.id)`.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let people = Bag::from_sequence(vec![("ada", 36), ("alan", 41)], 1)?;
    /// let ages = people.pluck(|(_, age)| age);
    /// assert_eq!(compute_with(&ages, &Options::new().scheduler("sync"))?, [36, 41]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn pluck<U, F>(&self, field: F) -> Bag<U>
    where
        U: Element,
        F: Fn(&T) -> &U + Send + Sync + 'static,
    {
        let parent = self.feed.clone();
        let feed: Feed<U> = Arc::new(move |part: &Part<'_>, sink: Sink<'_, U>| {
            parent(part, &mut |x| sink(field(&x).clone()))
        });
        self.derive("pluck", unique_name("pluck"), feed)
    }

    /// Keeps each element with probability `prob` (Dask's
    /// `random_sample`). The same `seed` on the same bag keeps the same
    /// elements on every scheduler: each partition draws from its own
    /// generator, seeded from `seed` and the partition's index.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let bag = Bag::range(10_000, 4)?;
    /// let sample = bag.random_sample(0.1, 7)?;
    /// let options = Options::new().scheduler("sync");
    /// let n = compute_with(sample.count(), &options)?;
    /// assert!((800..1200).contains(&n), "{n}");
    /// assert_eq!(compute_with(&sample, &options)?, compute_with(&bag.random_sample(0.1, 7)?, &options)?);
    /// assert!(bag.random_sample(1.5, 7).is_err());
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn random_sample(&self, prob: f64, seed: u64) -> Result<Bag<T>> {
        if !(0.0..=1.0).contains(&prob) {
            return Err(invalid(format!(
                "random_sample: prob must be between 0 and 1, got {prob}"
            )));
        }
        let feed = steps::sample(self.feed.clone(), prob, seed);
        let name = name_of("random_sample", &(&*self.name, prob.to_bits(), seed));
        Ok(self.derive_step(
            "random_sample",
            name,
            feed,
            Some(Step::Sample { prob, seed }),
        ))
    }

    /// Pairs the elements of two bags partitioned alike (Dask's
    /// `bag.zip`): the same number of partitions, of the same lengths.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let names = Bag::from_sequence(["a", "b", "c"], 2)?;
    /// let counts = Bag::from_sequence(1..=3u8, 2)?;
    /// let pairs = names.zip(&counts)?;
    /// let options = Options::new().scheduler("sync");
    /// assert_eq!(compute_with(&pairs, &options)?, [("a", 1), ("b", 2), ("c", 3)]);
    ///
    /// assert!(names.zip(&Bag::from_sequence(1..=3u8, 3)?).is_err());
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn zip<U: Element>(&self, other: &Bag<U>) -> Result<Bag<(T, U)>> {
        if self.npartitions() != other.npartitions() {
            return Err(BagError::PartitionMismatch {
                operation: "zip",
                left: self.npartitions(),
                right: other.npartitions(),
            }
            .into());
        }
        let left = self.to_stored();
        let right = other.to_stored();
        let mut graph = left.graph.clone();
        let mut problem = left.problem.clone().or_else(|| right.problem.clone());
        if let Err(error) = graph.merge(&right.graph) {
            problem.get_or_insert_with(|| Arc::from(error.to_string()));
        }
        let parts = left
            .parts
            .iter()
            .zip(right.parts.iter())
            .map(|(l, r)| l.iter().chain(r).cloned().collect())
            .collect();
        let feed: Feed<(T, U)> = Arc::new(|part: &Part<'_>, sink: Sink<'_, (T, U)>| {
            let l = part.stored::<T>(0)?;
            let r = part.stored::<U>(1)?;
            if l.len() != r.len() {
                return Err(BagError::LengthMismatch {
                    partition: part.index,
                    left: l.len(),
                    right: r.len(),
                }
                .into());
            }
            for (x, y) in l.iter().zip(r) {
                sink((x.clone(), y.clone()))?;
            }
            Ok(())
        });
        let name = name_of("zip", &(&*left.name, &*right.name));
        Ok(Bag::fed(graph, problem, name, "zip", parts, (feed, None)))
    }
}

impl<I> Bag<I>
where
    I: Element + IntoIterator,
    I::Item: Element,
{
    /// Concatenates the elements' own elements (Dask's `flatten`).
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let nested = Bag::from_sequence(vec![vec![1, 2], vec![], vec![3]], 2)?;
    /// assert_eq!(compute_with(&nested.flatten(), &Options::new().scheduler("sync"))?, [1, 2, 3]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn flatten(&self) -> Bag<I::Item> {
        // Registered for lists of strings.
        let step = (ElemType::of::<I>() == Some(ElemType::Strings)).then_some(Step::Flatten);
        self.derive_step(
            "flatten",
            name_of("flatten", &*self.name),
            steps::flatten(self.feed.clone()),
            step,
        )
    }
}
