//! Reductions: a task per partition, then partial results combined in a
//! tree, `split_every` at a time.

use std::ops::Add;
use std::sync::Arc;

use barrow_core::arg::keys;
use barrow_core::function::{FromInput, Input, List};
use barrow_core::{Error, Graph, Key, Layer, Result, Task, Value};
use barrow_delayed::Delayed;

use crate::Bag;
use crate::feed::{Body, Consume, Element, Elements, name_of, unique_name};
use crate::numeric::Numeric;
use crate::recipe::End;
use crate::reductions;

/// Folds one partial result into another.
pub(crate) type Merge<A> = Arc<dyn Fn(&mut A, &A) + Send + Sync>;

/// Turns the combined partial result into the reduction's value.
pub(crate) type Finish<A, R> = Arc<dyn Fn(A) -> Result<R> + Send + Sync>;

/// A reduction: what each partition gives, how two partial results combine,
/// and what the last one becomes.
pub(crate) struct Reduction<T, A, R> {
    pub(crate) per_part: Consume<T, A>,
    pub(crate) merge: Merge<A>,
    pub(crate) finish: Finish<A, R>,
}

/// A reduction as its three kinds of tasks run it, partial results behind
/// values.
pub(crate) struct Erased<T> {
    /// A partition's partial result.
    pub(crate) per_part: Consume<T, Value>,
    /// A list of partial results combined into one.
    pub(crate) aggregate: Body,
    /// A list of partial results combined into the result.
    pub(crate) finish: Body,
}

impl<T, A, R> Reduction<T, A, R>
where
    T: Element,
    A: Clone + Send + Sync + 'static,
    R: Send + Sync + 'static,
{
    /// The reduction's tasks.
    pub(crate) fn erase(self) -> Erased<T> {
        let Reduction {
            per_part,
            merge,
            finish,
        } = self;
        let merge_last = merge.clone();
        Erased {
            per_part: Arc::new(move |elements: &Elements<'_, T>| {
                per_part(elements).map(Value::new)
            }),
            aggregate: Arc::new(move |inputs: &[Input]| {
                Ok(Value::new(combine_inputs::<A>(inputs, &*merge)?))
            }),
            finish: Arc::new(move |inputs: &[Input]| {
                Ok(Value::new(finish(combine_inputs::<A>(
                    inputs,
                    &*merge_last,
                )?)?))
            }),
        }
    }
}

impl<T: Element> Bag<T> {
    /// Builds the tasks of `reduction` under names made from `base`
    /// (`op-token`): `(op-part-token, i)` per partition, `(op-agg-token,
    /// level, j)` per combining task, and `out` for the result. With an
    /// `end`, the tasks are registered ones when the bag and its element
    /// type allow (see [`crate::registered`]).
    pub(crate) fn reduce_graph<A, R>(
        &self,
        op: &str,
        base: &str,
        out: Key,
        end: Option<End>,
        reduction: Reduction<T, A, R>,
    ) -> Graph
    where
        A: Clone + Send + Sync + 'static,
        R: Send + Sync + 'static,
    {
        let token = base.strip_prefix(op).unwrap_or(base);
        let part_name: Arc<str> = Arc::from(format!("{op}-part{token}"));
        let agg_name: Arc<str> = Arc::from(format!("{op}-agg{token}"));
        let erased = reduction.erase();
        let (aggregate, finish) =
            crate::registered::reduce_funcs::<T>(op, end.as_ref(), erased.aggregate, erased.finish);
        let mut graph = self.graph.clone();
        let mut layers =
            vec![self.partition_layer_with(&part_name, op, end, erased.per_part, |value| value)];
        let mut level: Vec<Key> = layers[0].iter().map(|(k, _)| k.clone()).collect();

        let mut depth = 0u32;
        while level.len() > self.split_every {
            let mut layer = Layer::with_capacity(agg_name.clone(), level.len() / 2);
            let mut next = Vec::with_capacity(level.len().div_ceil(self.split_every));
            for (j, group) in level.chunks(self.split_every).enumerate() {
                let key = Key::from((agg_name.clone(), depth, j as u32));
                let task = Task::call(&aggregate, [keys(group.iter().cloned())]);
                let inserted = layer.insert(key.clone(), task);
                debug_assert!(inserted.is_ok(), "(name, depth, j) keys are distinct");
                next.push(key);
            }
            layers.push(layer);
            level = next;
            depth += 1;
        }
        let mut layer = Layer::with_capacity(Arc::from(out.name()), 1);
        let inserted = layer.insert(out, Task::call(&finish, [keys(level)]));
        debug_assert!(inserted.is_ok());
        layers.push(layer);
        for layer in layers {
            // New names: nothing to conflict with but the same reduction of
            // the same bag, which add_layer recognizes and drops.
            if let Err(error) = graph.add_layer(Arc::new(layer)) {
                tracing::debug!("bag reduction layer not added: {error}");
            }
        }
        graph
    }

    /// A reduction whose result is a delayed value under key `base`.
    pub(crate) fn reduce_to_delayed<A, R>(
        &self,
        op: &str,
        base: Arc<str>,
        end: Option<End>,
        reduction: Reduction<T, A, R>,
    ) -> Delayed<R>
    where
        A: Clone + Send + Sync + 'static,
        R: Send + Sync + 'static,
    {
        let out = Key::new(base.clone());
        let graph = self.reduce_graph(op, &base, out.clone(), end, reduction);
        Delayed::from_graph(graph, out, self.problem.clone())
    }

    /// A reduction whose result is a bag of one partition, `(base, 0)`.
    pub(crate) fn reduce_to_bag<A, U>(
        &self,
        op: &str,
        base: Arc<str>,
        end: Option<End>,
        reduction: Reduction<T, A, Vec<U>>,
    ) -> Bag<U>
    where
        A: Clone + Send + Sync + 'static,
        U: Element,
    {
        let out = Key::from((base.clone(), 0u32));
        let graph = self.reduce_graph(op, &base, out, end, reduction);
        Bag {
            split_every: self.split_every,
            ..Bag::stored(graph, self.problem.clone(), base, 1)
        }
    }

    /// The number of elements (Dask's `count`).
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let n = Bag::range(1000, 7)?.filter(|x| x % 3 == 0).count();
    /// assert_eq!(compute_with(n, &Options::new().scheduler("sync"))?, 334);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn count(&self) -> Delayed<u64> {
        self.reduce_to_delayed(
            "count",
            name_of("count", &*self.name),
            Some(End::Count),
            reductions::count(),
        )
    }

    /// Folds every element into an accumulator starting from `init` with
    /// `binop`, then folds the partitions' accumulators together with
    /// `combine` (Dask's `fold(binop, combine, initial)`). `init` must be
    /// neutral for `combine`: it starts every partition.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let words = Bag::from_sequence(["a", "bb", "ccc"], 2)?;
    /// let letters = words.fold(0usize, |n, w| n + w.len(), |a, b| a + b);
    /// assert_eq!(compute_with(letters, &Options::new().scheduler("sync"))?, 6);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn fold<A, B, C>(&self, init: A, binop: B, combine: C) -> Delayed<A>
    where
        A: Element,
        B: Fn(A, T) -> A + Send + Sync + 'static,
        C: Fn(A, A) -> A + Send + Sync + 'static,
    {
        self.reduce_to_delayed(
            "fold",
            unique_name("fold"),
            None,
            Reduction {
                per_part: Arc::new(move |elements: &Elements<'_, T>| {
                    let mut acc = Some(init.clone());
                    elements.for_each(&mut |x| {
                        acc = acc.take().map(|a| binop(a, x));
                        Ok(())
                    })?;
                    acc.ok_or_else(|| barrow_core::Error::internal("fold lost its accumulator"))
                }),
                merge: Arc::new(move |a: &mut A, b: &A| {
                    let left = std::mem::replace(a, b.clone());
                    *a = combine(left, b.clone());
                }),
                finish: Arc::new(Ok),
            },
        )
    }

    /// Reduces each whole partition with `perpartition`, then lists of
    /// partial results with `aggregate`, in a tree (Dask's
    /// `reduction(perpartition, aggregate)`).
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let longest = Bag::from_sequence(["a", "ccc", "bb"], 3)?.reduction(
    ///     |part| part.iter().map(|w| w.len()).max().unwrap_or(0),
    ///     |maxima| maxima.into_iter().max().unwrap_or(0),
    /// );
    /// assert_eq!(compute_with(longest, &Options::new().scheduler("sync"))?, 3);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn reduction<A, P, G>(&self, perpartition: P, aggregate: G) -> Delayed<A>
    where
        A: Element,
        P: Fn(Vec<T>) -> A + Send + Sync + 'static,
        G: Fn(Vec<A>) -> A + Send + Sync + 'static,
    {
        self.reduce_to_delayed(
            "reduction",
            unique_name("reduction"),
            None,
            Reduction {
                per_part: Arc::new(move |elements: &Elements<'_, T>| {
                    Ok(perpartition(elements.collect()?))
                }),
                merge: Arc::new(move |a: &mut A, b: &A| {
                    let left = std::mem::replace(a, b.clone());
                    *a = aggregate(vec![left, b.clone()]);
                }),
                finish: Arc::new(Ok),
            },
        )
    }

    /// The smallest element, `None` for an empty bag. Elements that do not
    /// compare (NaN) never replace the current minimum.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let options = Options::new().scheduler("sync");
    /// let bag = Bag::from_sequence([3.5, -1.0, 2.0], 2)?;
    /// assert_eq!(compute_with((bag.min(), bag.max()), &options)?, (Some(-1.0), Some(3.5)));
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn min(&self) -> Delayed<Option<T>>
    where
        T: PartialOrd,
    {
        self.extreme("min", End::Min, reductions::less)
    }

    /// The largest element, `None` for an empty bag (see [`Bag::min`]).
    pub fn max(&self) -> Delayed<Option<T>>
    where
        T: PartialOrd,
    {
        self.extreme("max", End::Max, reductions::greater)
    }

    fn extreme(&self, op: &str, end: End, better: fn(&T, &T) -> bool) -> Delayed<Option<T>>
    where
        T: PartialOrd,
    {
        self.reduce_to_delayed(
            op,
            name_of(op, &*self.name),
            Some(end),
            reductions::extreme(better),
        )
    }

    /// The sum of the elements (`T::default()` for an empty bag).
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let total = Bag::from_sequence(1..=100i64, 8)?.sum();
    /// assert_eq!(compute_with(total, &Options::new().scheduler("sync"))?, 5050);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn sum(&self) -> Delayed<T>
    where
        T: Default + Add<Output = T>,
    {
        self.reduce_to_delayed(
            "sum",
            name_of("sum", &*self.name),
            Some(End::Sum),
            reductions::sum(),
        )
    }

    /// The arithmetic mean, as an `f64`; an error for an empty bag.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let options = Options::new().scheduler("sync");
    /// let bag = Bag::from_sequence([1, 2, 3, 4], 3)?;
    /// assert_eq!(compute_with(bag.mean(), &options)?, 2.5);
    /// assert_eq!(compute_with(bag.var(0), &options)?, 1.25);
    /// assert!((compute_with(bag.std(1), &options)? - 1.2909944).abs() < 1e-6);
    /// assert!(compute_with(bag.filter(|_| false).mean(), &options).is_err());
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn mean(&self) -> Delayed<f64>
    where
        T: Numeric,
    {
        self.reduce_to_delayed(
            "mean",
            name_of("mean", &*self.name),
            Some(End::Mean),
            reductions::moments(reductions::mean()),
        )
    }

    /// The variance with `ddof` delta degrees of freedom (divides by
    /// `n - ddof`: 0 for the population variance, Dask's default; 1 for the
    /// sample variance). An error when `n <= ddof`.
    pub fn var(&self, ddof: u32) -> Delayed<f64>
    where
        T: Numeric,
    {
        self.spread("var", End::Var(ddof), ddof, |v| v)
    }

    /// The standard deviation with `ddof` delta degrees of freedom (see
    /// [`Bag::var`]).
    pub fn std(&self, ddof: u32) -> Delayed<f64>
    where
        T: Numeric,
    {
        self.spread("std", End::Std(ddof), ddof, f64::sqrt)
    }

    fn spread(&self, op: &'static str, end: End, ddof: u32, then: fn(f64) -> f64) -> Delayed<f64>
    where
        T: Numeric,
    {
        self.reduce_to_delayed(
            op,
            name_of(op, &(&*self.name, ddof)),
            Some(end),
            reductions::moments(reductions::spread(op, ddof, then)),
        )
    }
}

impl Bag<bool> {
    /// Whether any element is true (false for an empty bag).
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let options = Options::new().scheduler("sync");
    /// let big = Bag::range(100, 4)?.map(|x| x > 90);
    /// assert_eq!(compute_with((big.any(), big.all()), &options)?, (true, false));
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn any(&self) -> Delayed<bool> {
        self.truth("any", End::Any, false)
    }

    /// Whether every element is true (true for an empty bag).
    pub fn all(&self) -> Delayed<bool> {
        self.truth("all", End::All, true)
    }

    fn truth(&self, op: &str, end: End, all: bool) -> Delayed<bool> {
        self.reduce_to_delayed(
            op,
            name_of(op, &*self.name),
            Some(end),
            reductions::truth(all),
        )
    }
}

/// The first partial result, cloned, with the others merged into it.
fn combine_all<A: Clone>(parts: &List<'_, A>, merge: &dyn Fn(&mut A, &A)) -> Result<A> {
    let mut items = parts.iter();
    let first = items.next().ok_or_else(|| {
        barrow_core::Error::internal("a bag reduction combined no partial result")
    })?;
    let mut acc = first.clone();
    for part in items {
        merge(&mut acc, part);
    }
    Ok(acc)
}

/// The partial results listed in a combining task's one argument, merged.
fn combine_inputs<A>(inputs: &[Input], merge: &dyn Fn(&mut A, &A)) -> Result<A>
where
    A: Clone + Send + Sync + 'static,
{
    let [list] = inputs else {
        return Err(Error::internal(format!(
            "a bag reduction's combining task takes one list of partial results, got {} arguments",
            inputs.len()
        )));
    };
    combine_all(&List::<A>::from_input(list)?, merge)
}
