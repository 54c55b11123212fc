//! Element-wise and partition-wise operations with registered task
//! functions (`#[barrow::task]`) instead of closures: a bag built from them
//! can run in worker processes, where each function is found again by its
//! name.

use barrow_core::Func;

use crate::Bag;
use crate::feed::{Element, name_of, unique_name};
use crate::recipe::{ElemType, FuncRef, Step};
use crate::steps;

impl<T: Element> Bag<T> {
    /// Applies the task function `func` to every element (Dask's `map`
    /// with a named function): `func` takes a `&T` and returns a `U`.
    ///
    /// With a function registered by `#[barrow::task]` (or a registered
    /// factory) and element types a worker knows (`String`, `i64`, `u64`,
    /// `f64`, `bool`, …: see the crate's README), the bag's tasks can run in
    /// worker processes; with any other `Func` it computes in this process
    /// like [`Bag::map`]. Calling through a `Func` wraps each element in a
    /// [`Value`](barrow_core::Value): a closure with [`Bag::map`] is faster
    /// where processes are not needed. An element of the wrong type, or a
    /// result that is not a `U`, fails the computation naming the function
    /// and the partition.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::collection::Collection;
    /// use barrow_core::{Options, Registry, compute_with};
    ///
    /// /// Squares a number.
    /// #[barrow_core::task(name = "example.square")]
    /// fn square(x: &i64) -> i64 {
    ///     x * x
    /// }
    ///
    /// /// Whether a number is odd.
    /// #[barrow_core::task(name = "example.odd")]
    /// fn odd(x: &i64) -> bool {
    ///     x % 2 != 0
    /// }
    ///
    /// # fn main() -> barrow_core::Result<()> {
    /// # barrow_local::link();
    /// let numbers = Bag::from_sequence(1..=5i64, 2)?;
    /// let odd_squares = numbers.filter_func(&odd::func()).map_func::<i64>(&square::func());
    /// let options = Options::new().scheduler("sync");
    /// assert_eq!(compute_with(&odd_squares, &options)?, [1, 9, 25]);
    ///
    /// // Every task can be sent to a worker process.
    /// let total = odd_squares.sum();
    /// barrow_wire::check_serializable(&total.graph()?, Registry::global())?;
    /// assert_eq!(compute_with(total, &options)?, 35);
    /// # Ok(())
    /// # }
    /// ```
    pub fn map_func<U: Element>(&self, func: &Func) -> Bag<U> {
        match FuncRef::to_registered(func) {
            Some(reference) => self.derive_step(
                "map_func",
                name_of("map_func", &(&*self.name, func)),
                steps::map_func::<T, U>(self.feed.clone(), func.clone()),
                ElemType::of::<U>().map(|out| Step::Map {
                    func: reference,
                    out,
                }),
            ),
            None => self.derive(
                &format!("map_func({})", func.name()),
                unique_name("map_func"),
                steps::map_func::<T, U>(self.feed.clone(), func.clone()),
            ),
        }
    }

    /// Keeps the elements for which the task function `func` (from `&T`
    /// to `bool`) is true (Dask's `filter` with a named function); see
    /// [`Bag::map_func`] for when the bag can run in worker processes.
    pub fn filter_func(&self, func: &Func) -> Bag<T> {
        match FuncRef::to_registered(func) {
            Some(reference) => self.derive_step(
                "filter_func",
                name_of("filter_func", &(&*self.name, func)),
                steps::filter_func::<T>(self.feed.clone(), func.clone()),
                Some(Step::Filter(reference)),
            ),
            None => self.derive(
                &format!("filter_func({})", func.name()),
                unique_name("filter_func"),
                steps::filter_func::<T>(self.feed.clone(), func.clone()),
            ),
        }
    }

    /// Applies the task function `func` (from `&T` to `Vec<U>`) to every
    /// element and concatenates the lists (Dask's `map(f).flatten()` with a
    /// named function); see [`Bag::map_func`] for when the bag can run in
    /// worker processes.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    ///
    /// /// The characters of a word, each as a string.
    /// #[barrow_core::task(name = "example.letters")]
    /// fn letters(word: &String) -> Vec<String> {
    ///     word.chars().map(String::from).collect()
    /// }
    ///
    /// # fn main() -> barrow_core::Result<()> {
    /// # barrow_local::link();
    /// let words = Bag::from_sequence(["ab", "c"].map(String::from), 2)?;
    /// let chars = words.flat_map_func::<String>(&letters::func());
    /// assert_eq!(compute_with(&chars, &Options::new().scheduler("sync"))?, ["a", "b", "c"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn flat_map_func<U: Element>(&self, func: &Func) -> Bag<U> {
        match FuncRef::to_registered(func) {
            Some(reference) => self.derive_step(
                "flat_map_func",
                name_of("flat_map_func", &(&*self.name, func)),
                steps::flat_map_func::<T, U>(self.feed.clone(), func.clone()),
                ElemType::of::<U>().map(|out| Step::FlatMap {
                    func: reference,
                    out,
                }),
            ),
            None => self.derive(
                &format!("flat_map_func({})", func.name()),
                unique_name("flat_map_func"),
                steps::flat_map_func::<T, U>(self.feed.clone(), func.clone()),
            ),
        }
    }

    /// Applies the task function `func` to each whole partition (Dask's
    /// `map_partitions` with a named function): `func` takes the
    /// partition's elements as one `&Vec<T>` and returns the new partition,
    /// a `Vec<U>` (of any length: it may sort, batch, drop or add
    /// elements). It is called once per partition, empty ones included.
    ///
    /// With a function registered by name (by `#[barrow::task]`, a
    /// registered factory, or a plugin's registration in
    /// `Registry::global()` made before the bag is built, and made in the
    /// workers too) and element types a worker knows, the bag's tasks can
    /// run in worker processes, as with [`Bag::map_func`]; with any other
    /// `Func` it computes in this process like [`Bag::map_partitions`].
    /// The steps before it still run in the partition's one task, but it
    /// gathers their elements into a `Vec` for `func`; the steps after it
    /// stream the elements `func` returned. A function that fails, takes
    /// something other than a `Vec<T>`, or returns something other than a
    /// `Vec<U>`, fails the computation naming the function and the
    /// partition (and, for a wrong result, the type it returned).
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::collection::Collection;
    /// use barrow_core::{Options, Registry, compute_with};
    ///
    /// /// The running totals of a partition.
    /// #[barrow_core::task(name = "example.running_total")]
    /// fn running_total(part: &Vec<i64>) -> Vec<i64> {
    ///     part.iter()
    ///         .scan(0, |total, x| {
    ///             *total += x;
    ///             Some(*total)
    ///         })
    ///         .collect()
    /// }
    ///
    /// /// Doubles a number.
    /// #[barrow_core::task(name = "example.double")]
    /// fn double(x: &i64) -> i64 {
    ///     2 * x
    /// }
    ///
    /// # fn main() -> barrow_core::Result<()> {
    /// # barrow_local::link();
    /// let numbers = Bag::from_partitions([vec![1i64, 2, 3], vec![], vec![10, 20]])?;
    /// let totals = numbers.map_partitions_func::<i64>(&running_total::func());
    /// let options = Options::new().scheduler("sync");
    /// assert_eq!(compute_with(&totals, &options)?, [1, 3, 6, 10, 30]);
    ///
    /// // Steps after it fuse into the same task, and every task can be
    /// // sent to a worker process.
    /// let total = totals.map_func::<i64>(&double::func()).sum();
    /// barrow_wire::check_serializable(&total.graph()?, Registry::global())?;
    /// assert_eq!(compute_with(total, &options)?, 100);
    /// # Ok(())
    /// # }
    /// ```
    pub fn map_partitions_func<U: Element>(&self, func: &Func) -> Bag<U> {
        let feed = steps::map_partitions_func::<T, U>(self.feed.clone(), func.clone());
        match FuncRef::to_registered(func) {
            Some(reference) => self.derive_step(
                "map_partitions_func",
                name_of("map_partitions_func", &(&*self.name, func)),
                feed,
                ElemType::of::<U>().map(|out| Step::MapPartitions {
                    func: reference,
                    out,
                }),
            ),
            None => self.derive(
                &format!("map_partitions_func({})", func.name()),
                unique_name("map_partitions_func"),
                feed,
            ),
        }
    }
}
