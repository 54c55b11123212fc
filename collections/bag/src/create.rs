//! Making bags: from values in memory, a range, delayed partitions.

use std::sync::Arc;

use barrow_core::arg::key;
use barrow_core::collection::Collection;
use barrow_core::{Graph, Key, Layer, Result, Task};
use barrow_delayed::Delayed;

use crate::error::BagError;
use crate::feed::{Element, name_of, partition_value, stored_feed, unique_name};
use crate::recipe::{Recipe, SourceSpec};
use crate::steps;
use crate::{Bag, Source};

impl<T: Element> Bag<T> {
    /// A bag of the items of `data`, cut into at most `npartitions`
    /// partitions of equal size (the last may be shorter), as Dask's
    /// `from_sequence(seq, npartitions=n)` does: 10 items in 4 partitions
    /// are partitions of 3, 3, 3 and 1. An empty sequence gives one empty
    /// partition.
    ///
    /// The items are stored in the graph. Its name is unique: items are not
    /// hashed (that would cost as much as a pass over them).
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let bag = Bag::from_sequence(vec!["a", "b", "c"], 2)?;
    /// assert_eq!(bag.npartitions(), 2);
    /// assert_eq!(compute_with(&bag, &Options::new().scheduler("sync"))?, ["a", "b", "c"]);
    ///
    /// let err = Bag::from_sequence(vec![1], 0).unwrap_err();
    /// assert!(err.to_string().contains("npartitions must be at least 1"));
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn from_sequence(data: impl IntoIterator<Item = T>, npartitions: usize) -> Result<Bag<T>> {
        if npartitions == 0 {
            return Err(BagError::ZeroPartitions {
                what: "npartitions",
            }
            .into());
        }
        let data: Vec<T> = data.into_iter().collect();
        let size = data.len().div_ceil(npartitions).max(1);
        Ok(Bag::from_chunks(data, size))
    }

    /// A bag of the items of `data` in partitions of `partition_size` items
    /// (the last may be shorter), as Dask's `from_sequence(seq,
    /// partition_size=n)`.
    ///
    /// ```
    /// use barrow_bag::Bag;
    ///
    /// let bag = Bag::from_sequence_sized(0..10u8, 4)?;
    /// assert_eq!(bag.npartitions(), 3);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn from_sequence_sized(
        data: impl IntoIterator<Item = T>,
        partition_size: usize,
    ) -> Result<Bag<T>> {
        if partition_size == 0 {
            return Err(BagError::ZeroPartitions {
                what: "partition_size",
            }
            .into());
        }
        Ok(Bag::from_chunks(data.into_iter().collect(), partition_size))
    }

    /// A bag of the given partitions, kept as they are (an empty partition
    /// stays, as an empty partition).
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let bag = Bag::from_partitions(vec![vec![1, 2], vec![], vec![3]])?;
    /// assert_eq!(bag.npartitions(), 3);
    /// assert_eq!(compute_with(bag.count(), &Options::new().scheduler("sync"))?, 3);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn from_partitions(partitions: impl IntoIterator<Item = Vec<T>>) -> Result<Bag<T>> {
        let partitions: Vec<Vec<T>> = partitions.into_iter().collect();
        if partitions.is_empty() {
            return Err(BagError::ZeroPartitions {
                what: "the number of partitions",
            }
            .into());
        }
        Ok(Bag::store_partitions(partitions))
    }

    fn from_chunks(data: Vec<T>, size: usize) -> Bag<T> {
        let count = data.len().div_ceil(size).max(1);
        let mut items = data.into_iter();
        // Each partition gets an allocation of its own size: splitting the
        // vector in place would leave every partition holding the capacity
        // of all the items after it.
        let partitions = (0..count)
            .map(|_| items.by_ref().take(size).collect())
            .collect();
        Bag::store_partitions(partitions)
    }

    fn store_partitions(partitions: Vec<Vec<T>>) -> Bag<T> {
        let name = unique_name("from_sequence");
        let n = partitions.len();
        let mut layer = Layer::with_capacity(name.clone(), n);
        for (i, part) in partitions.into_iter().enumerate() {
            let inserted = layer.insert(
                Key::from((name.clone(), i as u32)),
                Task::value(partition_value(part)),
            );
            debug_assert!(inserted.is_ok(), "keys (name, i) are distinct");
        }
        Bag::stored(Graph::from_layer(Arc::new(layer)), None, name, n)
    }

    /// A bag whose partitions are the values of delayed computations (Dask's
    /// `from_delayed`): each delayed value is one partition.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// use barrow_delayed::delayed;
    /// # barrow_local::link();
    ///
    /// let load = delayed("load", |n: &u32| (0..*n).collect::<Vec<u32>>());
    /// let bag = Bag::from_delayed([load.call(2), load.call(3)])?;
    /// assert_eq!(bag.npartitions(), 2);
    /// let all = compute_with(&bag, &Options::new().scheduler("sync"))?;
    /// assert_eq!(all, [0, 1, 0, 1, 2]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn from_delayed(partitions: impl IntoIterator<Item = Delayed<Vec<T>>>) -> Result<Bag<T>> {
        let partitions: Vec<Delayed<Vec<T>>> = partitions.into_iter().collect();
        if partitions.is_empty() {
            return Err(BagError::ZeroPartitions {
                what: "the number of delayed partitions",
            }
            .into());
        }
        let keys: Vec<&Key> = partitions.iter().map(|d| d.key()).collect();
        let name = name_of("from_delayed", &keys);
        let mut graph = Graph::new();
        let mut problem = None;
        for part in &partitions {
            if let Err(error) = part.graph().and_then(|g| graph.merge(&g)) {
                problem.get_or_insert_with(|| Arc::from(error.to_string()));
            }
        }
        let parts = partitions
            .iter()
            .map(|d| vec![key(d.key().clone())])
            .collect();
        Ok(Bag {
            source: Source::Aliased,
            ..Bag::fed(
                graph,
                problem,
                name,
                "",
                parts,
                (stored_feed(0), Recipe::stored::<T>()),
            )
        })
    }
}

impl Bag<u64> {
    /// The numbers `0..n` in `npartitions` partitions of nearly equal size
    /// (Dask's `bag.range`). Nothing is stored: each partition task counts
    /// its own range.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let bag = Bag::range(10, 3)?;
    /// let options = Options::new().scheduler("sync");
    /// assert_eq!(compute_with(bag.sum(), &options)?, 45);
    /// assert_eq!(compute_with(&bag, &options)?, (0..10).collect::<Vec<u64>>());
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn range(n: u64, npartitions: usize) -> Result<Bag<u64>> {
        if npartitions == 0 {
            return Err(BagError::ZeroPartitions {
                what: "npartitions",
            }
            .into());
        }
        let parts_n = npartitions as u64;
        let feed = steps::range(n, parts_n);
        let recipe = Recipe::new(SourceSpec::Range {
            n,
            partitions: parts_n,
        });
        let name = name_of("range", &(n, parts_n));
        Ok(Bag::fed(
            Graph::new(),
            None,
            name,
            "range",
            vec![Vec::new(); npartitions],
            (feed, Some(recipe)),
        ))
    }
}
