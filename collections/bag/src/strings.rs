//! String steps (Dask's `bag.str` methods): built into the crate, so a bag
//! using them can still run in worker processes.

use crate::Bag;
use crate::feed::name_of;
use crate::recipe::Step;
use crate::steps;

impl Bag<String> {
    /// The whitespace-separated words of every string, as one bag of words
    /// (Dask's `.str.split().flatten()`), each word pushed straight on
    /// without a list per string.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let lines = Bag::from_sequence(["to be", "  or\tnot "].map(String::from), 2)?;
    /// let words = lines.split_whitespace();
    /// assert_eq!(compute_with(&words, &Options::new().scheduler("sync"))?, ["to", "be", "or", "not"]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn split_whitespace(&self) -> Bag<String> {
        let lent = self.lent.clone().map(steps::split_whitespace_lent);
        self.derive_step(
            "split_whitespace",
            name_of("split_whitespace", &*self.name),
            steps::split_whitespace(self.feed.clone()),
            Some(Step::SplitWhitespace),
        )
        .lending(lent)
    }

    /// Every string cut at each `separator` (Dask's `.str.split(sep)`):
    /// a bag of lists, which [`Bag::flatten`] turns into a bag of pieces.
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let options = Options::new().scheduler("sync");
    /// let rows = Bag::from_sequence(["a,b", "c"].map(String::from), 1)?.split(",");
    /// assert_eq!(compute_with(&rows, &options)?, [vec!["a", "b"], vec!["c"]]);
    /// assert_eq!(compute_with(&rows.flatten(), &options)?, ["a", "b", "c"]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn split(&self, separator: &str) -> Bag<Vec<String>> {
        self.derive_step(
            "split",
            name_of("split", &(&*self.name, separator)),
            steps::split(self.feed.clone(), separator),
            Some(Step::Split(separator.to_owned())),
        )
    }

    /// Every string in lower case (Dask's `.str.lower()`; Unicode-aware,
    /// as [`str::to_lowercase`]).
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let options = Options::new().scheduler("sync");
    /// let words = Bag::from_sequence(["To", "BE"].map(String::from), 1)?;
    /// assert_eq!(compute_with(&words.to_lowercase(), &options)?, ["to", "be"]);
    /// assert_eq!(compute_with(&words.to_uppercase(), &options)?, ["TO", "BE"]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn to_lowercase(&self) -> Bag<String> {
        self.derive_step(
            "to_lowercase",
            name_of("to_lowercase", &*self.name),
            steps::lowercase(self.feed.clone()),
            Some(Step::Lowercase),
        )
    }

    /// Every string in upper case (Dask's `.str.upper()`; see
    /// [`Bag::to_lowercase`]).
    pub fn to_uppercase(&self) -> Bag<String> {
        self.derive_step(
            "to_uppercase",
            name_of("to_uppercase", &*self.name),
            steps::uppercase(self.feed.clone()),
            Some(Step::Uppercase),
        )
    }

    /// Every string without leading and trailing whitespace (Dask's
    /// `.str.strip()`).
    ///
    /// ```
    /// use barrow_bag::Bag;
    /// use barrow_core::{Options, compute_with};
    /// # barrow_local::link();
    ///
    /// let lines = Bag::from_sequence([" a b \n", "c"].map(String::from), 1)?.trim();
    /// assert_eq!(compute_with(&lines, &Options::new().scheduler("sync"))?, ["a b", "c"]);
    /// # Ok::<(), barrow_core::Error>(())
    /// ```
    pub fn trim(&self) -> Bag<String> {
        self.derive_step(
            "trim",
            name_of("trim", &*self.name),
            steps::trim(self.feed.clone()),
            Some(Step::Trim),
        )
    }
}
