//! How a partition's elements are made.
//!
//! A bag does not add a task per element-wise operation. It keeps a *feed*:
//! a function that pushes one partition's elements into a sink, built from
//! its source (a stored partition, a range, a block of a text file) and the
//! operations applied since (each `map` or `filter` wraps the feed in one
//! more closure). Only operations that need whole partitions (a reduction,
//! a shuffle, `compute`) add tasks, and each such task runs the whole feed:
//! `read_text → flat_map → frequencies` reads lines, splits them and counts
//! words in one pass, with no intermediate vectors. This is the fusion
//! Dask's bag gets from Python iterators, done when the graph is built.

use std::sync::Arc;

use barrow_core::function::{Function, Input};
use barrow_core::{Error, ErrorKind, Func, Result, Value};

/// What a bag's elements must be: owned, shareable values. Stored
/// partitions are shared between the tasks that read them, so reading one
/// clones its elements (cheap for numbers; for large elements, keep the
/// operations in one chain so they are read once).
pub trait Element: Clone + Send + Sync + 'static {}

impl<T: Clone + Send + Sync + 'static> Element for T {}

/// The receiving end of a feed; an error stops the partition.
pub(crate) type Sink<'s, T> = &'s mut dyn FnMut(T) -> Result<()>;

/// Pushes the elements of the partition described by [`Part`] into a sink.
pub(crate) type Feed<T> = Arc<dyn Fn(&Part<'_>, Sink<'_, T>) -> Result<()> + Send + Sync>;

/// The receiving end of a [`Lent`] feed.
pub(crate) type LentSink<'s> = &'s mut dyn FnMut(&str) -> Result<()>;

/// A bag of strings' elements *lent*: the same strings as its [`Feed`], in
/// the same order, as `&str` borrowed from the text being read (a line in
/// the reader's buffer, a word of that line), so a consumer that only looks
/// at them (`frequencies` counting words) makes no `String` per element.
/// Text sources, stored strings and the string steps that can lend keep
/// one beside the feed; any other operation drops it.
pub(crate) type Lent = Arc<dyn Fn(&Part<'_>, LentSink<'_>) -> Result<()> + Send + Sync>;

/// One partition as its task sees it: its index and its inputs (the values
/// of the keys and literals the bag listed for it).
#[derive(Clone, Copy)]
pub(crate) struct Part<'a> {
    pub(crate) index: usize,
    pub(crate) inputs: &'a [Input<'a>],
}

impl<'a> Part<'a> {
    /// The stored partition (a `Vec<T>`) at input `at`.
    pub(crate) fn stored<T: 'static>(&self, at: usize) -> Result<&'a Vec<T>> {
        let value = self
            .inputs
            .get(at)
            .ok_or_else(|| Error::internal(format!("bag partition input {at} is missing")))?
            .as_value()?;
        value.downcast_ref::<Vec<T>>()
    }
}

/// The feed of a stored partition at input `at`: its elements, cloned.
pub(crate) fn stored_feed<T: Element>(at: usize) -> Feed<T> {
    Arc::new(move |part: &Part<'_>, sink: Sink<'_, T>| {
        for x in part.stored::<T>(at)? {
            sink(x.clone())?;
        }
        Ok(())
    })
}

/// The feed of stored strings at input `at`, lent: none for elements of
/// another type.
pub(crate) fn stored_lent<T: 'static>(at: usize) -> Option<Lent> {
    if std::any::TypeId::of::<T>() != std::any::TypeId::of::<String>() {
        return None;
    }
    Some(Arc::new(move |part: &Part<'_>, sink: LentSink<'_>| {
        for x in part.stored::<String>(at)? {
            sink(x)?;
        }
        Ok(())
    }))
}

/// A partition's elements, for the function that consumes them.
pub(crate) struct Elements<'a, T> {
    feed: &'a Feed<T>,
    lent: Option<&'a Lent>,
    part: Part<'a>,
}

impl<T> Elements<'_, T> {
    /// The partition's index.
    pub(crate) fn index(&self) -> usize {
        self.part.index
    }

    /// Pushes every element, lent as a `&str`, into `sink`: `None` (and
    /// nothing pushed) unless the elements are strings whose source can
    /// lend them (see [`Lent`]).
    pub(crate) fn for_each_lent(&self, sink: LentSink<'_>) -> Option<Result<()>> {
        self.lent.map(|lent| lent(&self.part, sink))
    }

    /// Pushes every element into `sink`.
    pub(crate) fn for_each(&self, sink: Sink<'_, T>) -> Result<()> {
        (self.feed)(&self.part, sink)
    }

    /// Every element, in a vector.
    pub(crate) fn collect(&self) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.for_each(&mut |x| {
            out.push(x);
            Ok(())
        })?;
        Ok(out)
    }
}

/// What a partition task does with its elements.
pub(crate) type Consume<T, R> = Arc<dyn Fn(&Elements<'_, T>) -> Result<R> + Send + Sync>;

/// The task function of a whole-partition step: its first argument is the
/// partition index (a `u32` literal), the others the partition's inputs.
struct PartitionFn<T, R> {
    name: Arc<str>,
    /// The encoded recipe, when the function is registered.
    params: Option<Arc<[u8]>>,
    feed: Feed<T>,
    lent: Option<Lent>,
    consume: Consume<T, R>,
    to_value: fn(R) -> Value,
}

impl<T: Send + Sync + 'static, R: Send + Sync + 'static> Function for PartitionFn<T, R> {
    fn name(&self) -> &str {
        &self.name
    }

    fn params(&self) -> Option<&[u8]> {
        self.params.as_deref()
    }

    fn call(&self, inputs: &[Input]) -> Result<Value> {
        let (first, rest) = inputs
            .split_first()
            .ok_or_else(|| Error::internal("a bag partition task has no arguments"))?;
        let index = *first.as_value()?.downcast_ref::<u32>()? as usize;
        let elements = Elements {
            feed: &self.feed,
            lent: self.lent.as_ref(),
            part: Part {
                index,
                inputs: rest,
            },
        };
        Ok((self.to_value)((self.consume)(&elements)?))
    }
}

/// A [`Func`] running `feed` (or `lent`, the same elements lent, when
/// `consume` can use it) into `consume` for one partition, whose result
/// becomes a value with `to_value`; `params` are the encoded recipe of a
/// registered function (see [`crate::registered`]).
pub(crate) fn partition_func<T, R>(
    name: Arc<str>,
    params: Option<Arc<[u8]>>,
    (feed, lent): (Feed<T>, Option<Lent>),
    consume: Consume<T, R>,
    to_value: fn(R) -> Value,
) -> Func
where
    T: Send + Sync + 'static,
    R: Send + Sync + 'static,
{
    Func::from_function(PartitionFn {
        name,
        params,
        feed,
        lent,
        consume,
        to_value,
    })
}

/// What a task function does with its inputs.
pub(crate) type Body = Arc<dyn Fn(&[Input]) -> Result<Value> + Send + Sync>;

/// A task function running `body`, under `name` with `params` (those of a
/// registered function, or none).
struct BodyFn {
    name: Arc<str>,
    params: Option<Arc<[u8]>>,
    body: Body,
}

impl Function for BodyFn {
    fn name(&self) -> &str {
        &self.name
    }

    fn params(&self) -> Option<&[u8]> {
        self.params.as_deref()
    }

    fn call(&self, inputs: &[Input]) -> Result<Value> {
        (self.body)(inputs)
    }
}

/// A [`Func`] running `body`, named `name`, with `params`.
pub(crate) fn body_func(name: Arc<str>, params: Option<Arc<[u8]>>, body: Body) -> Func {
    Func::from_function(BodyFn { name, params, body })
}

/// A partition as a value that tells the store its size: what core can
/// count (numbers, strings), else the elements' inline size (the heap
/// data they point to is not seen), so memory limits and spilling see
/// bags of structs too.
pub(crate) fn partition_value<T: Send + Sync + 'static>(part: Vec<T>) -> Value {
    let nbytes = partition_nbytes(&part);
    Value::with_nbytes(part, nbytes)
}

/// The estimated bytes of a partition (see [`partition_value`]).
pub(crate) fn partition_nbytes<T: 'static>(part: &Vec<T>) -> usize {
    let inline = std::mem::size_of_val(part.as_slice());
    barrow_core::value::estimate_nbytes(part).max(inline)
}

/// An error of a user function on an element, with the operation and the
/// partition it happened in (the task's key is added by the scheduler).
pub(crate) fn element_error(
    operation: &str,
    partition: usize,
    error: impl Into<barrow_core::error::BoxError>,
) -> Error {
    let error = error.into();
    Error::new(
        ErrorKind::TaskFailed,
        format!("{operation} failed on an element of partition {partition}: {error}"),
    )
    .with_source(error)
}

/// A name no other call gives, `op-<token>`: for operations on closures,
/// which cannot be hashed (Dask hashes the function; a Rust closure has no
/// content to hash).
pub(crate) fn unique_name(op: &str) -> Arc<str> {
    Arc::from(barrow_delayed::unique_name(op))
}

/// A name determined by `what` (the parent's name and the parameters),
/// `op-<token>`: the same call on the same bag gives the same name, so its
/// work is shared when several results are computed together.
pub(crate) fn name_of<W: barrow_core::tokenize::Tokenize + ?Sized>(op: &str, what: &W) -> Arc<str> {
    Arc::from(barrow_core::tokenize::token_name(op, what))
}
