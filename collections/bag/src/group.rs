//! Counting, ranking and grouping: `frequencies`, `topk`, `most_common`,
//! `distinct`, `foldby` (a tree reduction of hash maps) and `groupby` (a
//! shuffle). The reductions without closures are built in
//! [`crate::reductions`].

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hash};
use std::sync::Arc;

use barrow_core::arg::{key, keys, lit};
use barrow_core::function::{Function, Input, List};
use barrow_core::{Error, Func, Key, Layer, Result, Task, Value};
use hashbrown::HashMap;
use hashbrown::hash_map::Entry;

use crate::Bag;
use crate::error::BagError;
use crate::feed::{Element, Elements, name_of, partition_nbytes, partition_value, unique_name};
use crate::recipe::End;
use crate::reduce::Reduction;
use crate::reductions;

/// Where a shuffle sends an element: the same bucket for the same key in
/// every process of one build (std's SipHash with its fixed keys), unlike a
/// hash map's randomly seeded hasher.
fn bucket_of<K: Hash>(key: &K, buckets: usize) -> usize {
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
    (hash % buckets as u64) as usize
}

impl<T: Element> Bag<T> {
    /// How many times each distinct element occurs, as a bag of one
    /// partition of `(element, count)` pairs in no particular order (Dask's
    /// `frequencies`).
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let words = Bag::from_sequence(["a", "b", "a", "c", "a", "b"], 3)?;
    /// let mut counts = compute_with(&words.frequencies(), &Options::new().scheduler("sync"))?;
    /// counts.sort();
    /// assert_eq!(counts, [("a", 3), ("b", 2), ("c", 1)]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn frequencies(&self) -> Bag<(T, u64)>
    where
        T: Hash + Eq,
    {
        self.reduce_to_bag(
            "frequencies",
            name_of("frequencies", &*self.name),
            Some(End::Frequencies),
            reductions::frequencies(),
        )
    }

    /// The `k` largest elements, largest first, as a bag of one partition
    /// (Dask's `topk`). Of equal elements, the earlier ones (by partition,
    /// then position) come first.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let top = Bag::from_sequence([5, 1, 9, 3, 7], 2)?.topk(2);
    /// assert_eq!(compute_with(&top, &Options::new().scheduler("sync"))?, [9, 7]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn topk(&self, k: usize) -> Bag<T>
    where
        T: Ord,
    {
        self.reduce_to_bag(
            "topk",
            name_of("topk", &(&*self.name, k as u64)),
            Some(End::TopK(k as u64)),
            reductions::top(k, reductions::itself::<T>),
        )
    }

    /// The `k` largest elements, largest first: [`Bag::topk`] under the name
    /// Dask's `Series` users know.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let top = Bag::from_sequence(["b", "c", "a"], 2)?.nlargest(2);
    /// assert_eq!(compute_with(&top, &Options::new().scheduler("sync"))?, ["c", "b"]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn nlargest(&self, k: usize) -> Bag<T>
    where
        T: Ord,
    {
        self.topk(k)
    }

    /// The `k` elements with the largest `key`, largest first (Dask's
    /// `topk(k, key=...)`); ties keep the earlier element first.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let counts = Bag::from_sequence([("a", 3), ("b", 7), ("c", 5)], 2)?;
    /// let top = counts.topk_by(2, |(_, n)| *n);
    /// assert_eq!(compute_with(&top, &Options::new().scheduler("sync"))?, [("b", 7), ("c", 5)]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn topk_by<K, F>(&self, k: usize, key: F) -> Bag<T>
    where
        K: Ord + Clone + Send + Sync + 'static,
        F: Fn(&T) -> K + Send + Sync + 'static,
    {
        self.reduce_to_bag("topk", unique_name("topk"), None, reductions::top(k, key))
    }

    /// The distinct elements, in the order they first appear, as a bag of
    /// one partition (Dask's `distinct`).
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let unique = Bag::from_sequence([3, 1, 3, 2, 1], 2)?.distinct();
    /// assert_eq!(compute_with(&unique, &Options::new().scheduler("sync"))?, [3, 1, 2]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn distinct(&self) -> Bag<T>
    where
        T: Hash + Eq,
    {
        self.reduce_to_bag(
            "distinct",
            name_of("distinct", &*self.name),
            Some(End::Distinct),
            reductions::distinct(),
        )
    }

    /// Groups elements by `key` and folds each group, without a shuffle
    /// (Dask's `foldby`, the fast way to group): every partition folds its
    /// elements into one accumulator per key, starting from `init`, with
    /// `binop`; accumulators of the same key from different partitions are
    /// folded together with `combine`. The result is a bag of one partition
    /// of `(key, accumulator)` pairs in no particular order.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// // Sum of the even and of the odd numbers below 10.
    /// let sums = Bag::range(10, 3)?.foldby(|x| x % 2, 0, |acc, x| acc + x, |a, b| a + b);
    /// let mut sums = compute_with(&sums, &Options::new().scheduler("sync"))?;
    /// sums.sort();
    /// assert_eq!(sums, [(0, 20), (1, 25)]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn foldby<K, A, KF, B, C>(&self, key: KF, init: A, binop: B, combine: C) -> Bag<(K, A)>
    where
        K: Element + Hash + Eq,
        A: Element,
        KF: Fn(&T) -> K + Send + Sync + 'static,
        B: Fn(A, T) -> A + Send + Sync + 'static,
        C: Fn(A, A) -> A + Send + Sync + 'static,
    {
        self.reduce_to_bag(
            "foldby",
            unique_name("foldby"),
            None,
            Reduction {
                per_part: Arc::new(move |elements: &Elements<'_, T>| {
                    let mut groups: HashMap<K, A> = HashMap::new();
                    elements.for_each(&mut |x| {
                        match groups.entry(key(&x)) {
                            Entry::Occupied(slot) => {
                                slot.replace_entry_with(|_, acc| Some(binop(acc, x)));
                            }
                            Entry::Vacant(slot) => {
                                slot.insert(binop(init.clone(), x));
                            }
                        }
                        Ok(())
                    })?;
                    Ok(groups)
                }),
                merge: Arc::new(move |a: &mut HashMap<K, A>, b: &HashMap<K, A>| {
                    for (k, acc) in b {
                        match a.entry(k.clone()) {
                            Entry::Occupied(slot) => {
                                slot.replace_entry_with(|_, mine| Some(combine(mine, acc.clone())));
                            }
                            Entry::Vacant(slot) => {
                                slot.insert(acc.clone());
                            }
                        }
                    }
                }),
                finish: Arc::new(|groups: HashMap<K, A>| Ok(groups.into_iter().collect())),
            },
        )
    }

    /// Groups elements by `key` into `(key, elements)` pairs, with a
    /// shuffle that moves every element (Dask's `groupby`; prefer
    /// [`Bag::foldby`] when the groups are only reduced). The result has as
    /// many partitions as this bag; each key's elements are in one pair, in
    /// partition order.
    ///
    /// The shuffle splits every partition into one piece per output
    /// partition, and each piece is a task result of its own: with a memory
    /// limit (`local.spill.memory-limit`) and a codec registered for
    /// `Vec<T>` (see [`register_codecs`](crate::register_codecs)), pieces
    /// that do not fit in memory are spilled to disk until their output
    /// partition is built, so the shuffle stays within the budget.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let words = Bag::from_sequence(["apple", "bee", "avocado", "cat", "bear"], 2)?;
    /// let groups = words.groupby(|w| w.chars().next().unwrap_or(' '));
    /// let mut groups = compute_with(&groups, &Options::new().scheduler("sync"))?;
    /// groups.sort();
    /// assert_eq!(groups, [('a', vec!["apple", "avocado"]), ('b', vec!["bee", "bear"]), ('c', vec!["cat"])]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn groupby<K, KF>(&self, key: KF) -> Bag<(K, Vec<T>)>
    where
        K: Element + Hash + Eq,
        KF: Fn(&T) -> K + Send + Sync + 'static,
    {
        self.shuffle_groups(key, self.npartitions())
    }

    /// [`Bag::groupby`] into `npartitions` output partitions.
    pub fn groupby_into<K, KF>(&self, key: KF, npartitions: usize) -> Result<Bag<(K, Vec<T>)>>
    where
        K: Element + Hash + Eq,
        KF: Fn(&T) -> K + Send + Sync + 'static,
    {
        if npartitions == 0 {
            return Err(BagError::ZeroPartitions {
                what: "npartitions",
            }
            .into());
        }
        // The shuffle makes a piece per input and output partition.
        barrow_core::graph::check_task_count(
            &format!(
                "a groupby of {} partitions into {npartitions}",
                self.npartitions()
            ),
            self.npartitions().saturating_mul(npartitions),
        )?;
        Ok(self.shuffle_groups(key, npartitions))
    }

    fn shuffle_groups<K, KF>(&self, key_of: KF, outputs: usize) -> Bag<(K, Vec<T>)>
    where
        K: Element + Hash + Eq,
        KF: Fn(&T) -> K + Send + Sync + 'static,
    {
        let key_of = Arc::new(key_of);
        let name = unique_name("groupby");
        let token = name.strip_prefix("groupby").unwrap_or(&name);
        let split_name: Arc<str> = Arc::from(format!("groupby-split{token}"));
        let piece_name: Arc<str> = Arc::from(format!("groupby-piece{token}"));

        // 1. Each partition, split into one bucket per output partition.
        let split_key = key_of.clone();
        let split = self.partition_layer_with(
            &split_name,
            "groupby-split",
            None,
            Arc::new(move |elements: &Elements<'_, T>| {
                let mut buckets: Vec<Vec<T>> = vec![Vec::new(); outputs];
                elements.for_each(&mut |x| {
                    buckets[bucket_of(&split_key(&x), outputs)].push(x);
                    Ok(())
                })?;
                Ok(buckets)
            }),
            |buckets: Vec<Vec<T>>| {
                let nbytes = buckets.iter().map(partition_nbytes).sum();
                Value::with_nbytes(buckets, nbytes)
            },
        );
        // 2. Each bucket, a value of its own (spillable on its own).
        let pick = Func::from_function(PickBucket::<T>(std::marker::PhantomData));
        let inputs = self.npartitions();
        let mut pieces = Layer::with_capacity(piece_name.clone(), inputs * outputs);
        for i in 0..inputs {
            for j in 0..outputs {
                let task = Task::call(&pick, [key((split_name.clone(), i as u32)), lit(j as u32)]);
                let inserted =
                    pieces.insert(Key::from((piece_name.clone(), i as u32, j as u32)), task);
                debug_assert!(inserted.is_ok());
            }
        }
        // 3. Each output partition, grouped from its pieces.
        let group = Func::new("groupby-group", move |pieces: List<Vec<T>>| {
            let mut index: HashMap<K, usize> = HashMap::new();
            let mut groups: Vec<(K, Vec<T>)> = Vec::new();
            for piece in &pieces {
                for x in piece.iter() {
                    let k = key_of(x);
                    match index.get(&k) {
                        Some(&g) => groups[g].1.push(x.clone()),
                        None => {
                            index.insert(k.clone(), groups.len());
                            groups.push((k, vec![x.clone()]));
                        }
                    }
                }
            }
            partition_value(groups)
        });
        let mut grouped = Layer::with_capacity(name.clone(), outputs);
        for j in 0..outputs {
            let inputs_j = (0..inputs).map(|i| Key::from((piece_name.clone(), i as u32, j as u32)));
            let inserted = grouped.insert(
                Key::from((name.clone(), j as u32)),
                Task::call(&group, [keys(inputs_j)]),
            );
            debug_assert!(inserted.is_ok());
        }
        let mut graph = self.graph.clone();
        let mut problem = self.problem.clone();
        for layer in [split, pieces, grouped] {
            if let Err(error) = graph.add_layer(Arc::new(layer)) {
                problem.get_or_insert_with(|| Arc::from(error.to_string()));
            }
        }
        Bag {
            split_every: self.split_every,
            ..Bag::stored(graph, problem, name, outputs)
        }
    }
}

impl<K: Element> Bag<(K, u64)> {
    /// The `k` pairs with the largest counts, largest first, as a bag of
    /// one partition (Python's `Counter.most_common`): what
    /// `topk_by(k, |(_, n)| *n)` gives, with no closure, so that it can run
    /// in worker processes after [`Bag::frequencies`]. Ties keep the
    /// earlier pair first.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let words = Bag::from_sequence(["a", "b", "a", "c", "a", "b"].map(String::from), 3)?;
    /// let top = words.frequencies().most_common(2);
    /// let top = compute_with(&top, &Options::new().scheduler("sync"))?;
    /// assert_eq!(top, [("a".to_string(), 3), ("b".to_string(), 2)]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn most_common(&self, k: usize) -> Bag<(K, u64)> {
        self.reduce_to_bag(
            "most_common",
            name_of("most_common", &(&*self.name, k as u64)),
            Some(End::MostCommon(k as u64)),
            reductions::top(k, reductions::count_of::<K>),
        )
    }
}

/// Takes bucket `j` (the second argument) out of a split partition, as a
/// value that tells the store its size.
struct PickBucket<T>(std::marker::PhantomData<fn() -> T>);

impl<T: Element> Function for PickBucket<T> {
    fn name(&self) -> &str {
        "groupby-piece"
    }

    /// One bucket of a split: on processes it is taken out here rather
    /// than the whole split sent to a worker.
    fn is_selector(&self) -> bool {
        true
    }

    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let [buckets, j] = inputs else {
            return Err(Error::internal(
                "groupby-piece takes a split partition and an index",
            ));
        };
        let j = *j.as_value()?.downcast_ref::<u32>()?;
        let bucket = buckets
            .as_value()?
            .downcast_ref::<Vec<Vec<T>>>()?
            .get(j as usize)
            .ok_or_else(|| Error::internal(format!("groupby has no bucket {j}")))?;
        Ok(partition_value(bucket.clone()))
    }
}
