//! The task functions of the conformance cases, registered at compile time
//! under `barrow.testing.*`, so the cases also run on schedulers that ship
//! tasks to other processes (which find them by name in their own registry).

use crate::function::{Func, Input, List, Raw, StaticFunction};

/// Names the functions are registered under.
pub mod names {
    /// `a + b` on `i64`.
    pub const ADD: &str = "barrow.testing.add";
    /// `x + 1` on `i64`.
    pub const INC: &str = "barrow.testing.inc";
    /// The sum of a list of `i64`.
    pub const SUM: &str = "barrow.testing.sum";
    /// The sum of nested lists of `i64`.
    pub const NESTED_TOTAL: &str = "barrow.testing.nested-total";
    /// The square root of an `i64`; fails on a negative one.
    pub const CHECKED_SQRT: &str = "barrow.testing.checked-sqrt";
    /// Panics on a positive `i64`.
    pub const BOOM: &str = "barrow.testing.boom";
    /// Fails on 137, else returns its input.
    pub const FRAGILE: &str = "barrow.testing.fragile";
    /// Always fails.
    pub const FAIL: &str = "barrow.testing.fail";
}

/// The error [`checked_sqrt`] fails with.
#[derive(Debug)]
pub struct Negative(pub i64);

impl std::fmt::Display for Negative {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "negative input {}", self.0)
    }
}

impl std::error::Error for Negative {}

/// `a + b`.
pub fn add() -> Func {
    Func::new(names::ADD, |a: &i64, b: &i64| a + b)
}

/// `x + 1`.
pub fn inc() -> Func {
    Func::new(names::INC, |x: &i64| x + 1)
}

/// The sum of a list.
pub fn sum() -> Func {
    Func::new(names::SUM, |xs: List<i64>| xs.iter().sum::<i64>())
}

/// The sum of nested lists of numbers.
pub fn nested_total() -> Func {
    Func::new(names::NESTED_TOTAL, |outer: Raw| -> i64 {
        fn walk(input: &Input) -> i64 {
            match input {
                Input::List(items) => items.iter().map(walk).sum(),
                value => value
                    .as_value()
                    .and_then(|v| v.downcast_ref::<i64>().copied())
                    .unwrap_or(i64::MIN),
            }
        }
        walk(outer.0)
    })
}

/// The square root; a negative input fails with [`Negative`].
pub fn checked_sqrt() -> Func {
    Func::try_new(names::CHECKED_SQRT, |x: &i64| {
        if *x < 0 {
            Err(Negative(*x))
        } else {
            Ok((*x as f64).sqrt())
        }
    })
}

/// Panics with "boom at {x}" on a positive input.
pub fn boom() -> Func {
    Func::new(names::BOOM, |x: &i64| -> i64 {
        if *x > 0 {
            panic!("boom at {x}");
        }
        *x
    })
}

/// Fails with "bad item 137" on 137.
pub fn fragile() -> Func {
    Func::try_new(names::FRAGILE, |x: &i64| {
        if *x == 137 {
            Err(format!("bad item {x}"))
        } else {
            Ok(*x)
        }
    })
}

/// Fails with "no".
pub fn fail() -> Func {
    Func::try_new(names::FAIL, |_: &i64| Err::<i64, _>("no"))
}

macro_rules! register {
    ($($name:ident => $make:ident),* $(,)?) => {
        $(inventory::submit! { StaticFunction { name: names::$name, make: $make } })*
    };
}

register!(
    ADD => add, INC => inc, SUM => sum, NESTED_TOTAL => nested_total,
    CHECKED_SQRT => checked_sqrt, BOOM => boom, FRAGILE => fragile, FAIL => fail,
);
