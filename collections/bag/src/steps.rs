//! The feed builders of the operations a recipe can describe, shared by
//! the bag methods (in this process) and by [`crate::recipe`] (rebuilding
//! the same feed in a worker process).

use std::sync::Arc;

use barrow_core::function::Input;
use barrow_core::{Error, ErrorKind, Func, Result, Value};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use crate::feed::{Element, Feed, Lent, LentSink, Part, Sink, element_error};
use crate::io::text::{ReadError, TextBlock, read_lines, read_lines_lent};

/// The numbers of partition `index` of `range(n, partitions)`:
/// `[i·n/p, (i+1)·n/p)`, so sizes differ by at most one.
pub(crate) fn range(n: u64, partitions: u64) -> Feed<u64> {
    Arc::new(move |part: &Part<'_>, sink: Sink<'_, u64>| {
        let i = part.index as u64;
        let start = (u128::from(i) * u128::from(n) / u128::from(partitions)) as u64;
        let end = (u128::from(i + 1) * u128::from(n) / u128::from(partitions)) as u64;
        for x in start..end {
            sink(x)?;
        }
        Ok(())
    })
}

/// The lines of block `index` of `blocks`.
pub(crate) fn text(blocks: Arc<[TextBlock]>) -> Feed<String> {
    Arc::new(move |part: &Part<'_>, sink: Sink<'_, String>| {
        let block = blocks
            .get(part.index)
            .ok_or_else(|| Error::internal(format!("read_text has no block {}", part.index)))?;
        match read_lines(block, &mut *sink) {
            Ok(_) => Ok(()),
            Err(ReadError::Bag(error)) => Err(error.into()),
            Err(ReadError::Sink(error)) => Err(error),
        }
    })
}

/// The lines of block `index` of `blocks`, lent from the reader's buffer.
pub(crate) fn text_lent(blocks: Arc<[TextBlock]>) -> Lent {
    Arc::new(move |part: &Part<'_>, sink: LentSink<'_>| {
        let block = blocks
            .get(part.index)
            .ok_or_else(|| Error::internal(format!("read_text has no block {}", part.index)))?;
        match read_lines_lent(block, &mut *sink) {
            Ok(_) => Ok(()),
            Err(ReadError::Bag(error)) => Err(error.into()),
            Err(ReadError::Sink(error)) => Err(error),
        }
    })
}

/// The whitespace-separated words of every string, each pushed on without
/// a list per string.
pub(crate) fn split_whitespace(parent: Feed<String>) -> Feed<String> {
    Arc::new(move |part: &Part<'_>, sink: Sink<'_, String>| {
        parent(part, &mut |line: String| {
            for_each_word(&line, &mut |word| sink(word.to_owned()))
        })
    })
}

/// [`split_whitespace`] lent: the words of every lent string, lent in turn.
pub(crate) fn split_whitespace_lent(parent: Lent) -> Lent {
    Arc::new(move |part: &Part<'_>, sink: LentSink<'_>| {
        parent(part, &mut |line: &str| for_each_word(line, &mut *sink))
    })
}

/// The words of `text` as [`str::split_whitespace`] cuts them (at Unicode
/// white space), into `sink`. ASCII text, the common case, is cut byte by
/// byte (the six ASCII white-space characters `\t \n \x0B \x0C \r` and
/// space), several times as fast as decoding characters.
pub(crate) fn for_each_word(text: &str, sink: &mut dyn FnMut(&str) -> Result<()>) -> Result<()> {
    if !text.is_ascii() {
        for word in text.split_whitespace() {
            sink(word)?;
        }
        return Ok(());
    }
    let bytes = text.as_bytes();
    let mut start = None;
    for (i, &b) in bytes.iter().enumerate() {
        let space = matches!(b, b'\t'..=b'\r' | b' ');
        match (space, start) {
            (true, Some(from)) => {
                // Cut at ASCII bytes of an ASCII string: char boundaries.
                sink(&text[from..i])?;
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(from) = start {
        sink(&text[from..])?;
    }
    Ok(())
}

/// `str::to_lowercase` of every string.
pub(crate) fn lowercase(parent: Feed<String>) -> Feed<String> {
    Arc::new(move |part: &Part<'_>, sink: Sink<'_, String>| {
        parent(part, &mut |s: String| sink(s.to_lowercase()))
    })
}

/// `str::to_uppercase` of every string.
pub(crate) fn uppercase(parent: Feed<String>) -> Feed<String> {
    Arc::new(move |part: &Part<'_>, sink: Sink<'_, String>| {
        parent(part, &mut |s: String| sink(s.to_uppercase()))
    })
}

/// Every string without its leading and trailing whitespace (reusing the
/// string's buffer).
pub(crate) fn trim(parent: Feed<String>) -> Feed<String> {
    Arc::new(move |part: &Part<'_>, sink: Sink<'_, String>| {
        parent(part, &mut |mut s: String| {
            let end = s.trim_end().len();
            s.truncate(end);
            let start = s.len() - s.trim_start().len();
            s.drain(..start);
            sink(s)
        })
    })
}

/// Every string cut at each `separator`, as a list of its pieces.
pub(crate) fn split(parent: Feed<String>, separator: &str) -> Feed<Vec<String>> {
    let separator: Arc<str> = Arc::from(separator);
    Arc::new(move |part: &Part<'_>, sink: Sink<'_, Vec<String>>| {
        parent(part, &mut |s: String| {
            sink(s.split(&*separator).map(str::to_owned).collect())
        })
    })
}

/// The elements' own elements, concatenated.
pub(crate) fn flatten<I>(parent: Feed<I>) -> Feed<I::Item>
where
    I: Element + IntoIterator,
    I::Item: Element,
{
    Arc::new(move |part: &Part<'_>, sink: Sink<'_, I::Item>| {
        parent(part, &mut |x| {
            for y in x {
                sink(y)?;
            }
            Ok(())
        })
    })
}

/// Keeps each element with probability `prob`, drawing from a generator
/// seeded from `seed` and the partition's index.
pub(crate) fn sample<T: Element>(parent: Feed<T>, prob: f64, seed: u64) -> Feed<T> {
    Arc::new(move |part: &Part<'_>, sink: Sink<'_, T>| {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(seed, part.index as u64));
        parent(part, &mut |x| {
            if rng.random::<f64>() < prob {
                sink(x)
            } else {
                Ok(())
            }
        })
    })
}

/// Mixes a seed with a partition index into one generator seed
/// (SplitMix64's finalizer), so nearby indexes give unrelated streams.
fn mix(seed: u64, index: u64) -> u64 {
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Calls a task function on one element; its error names the operation,
/// the function and the partition.
fn call_on<T: Element>(op: &str, func: &Func, partition: usize, x: T) -> Result<Value> {
    let mut inputs = [Input::Value(Value::new(x))];
    func.call_taking(&mut inputs)
        .map_err(|e| element_error(&format!("{op}('{}')", func.name()), partition, e))
}

/// `func` (a task function from `&T` to `U`) applied to every element.
pub(crate) fn map_func<T: Element, U: Element>(parent: Feed<T>, func: Func) -> Feed<U> {
    Arc::new(move |part: &Part<'_>, sink: Sink<'_, U>| {
        parent(part, &mut |x| {
            let out = call_on("map_func", &func, part.index, x)?;
            sink(out.take_or_clone::<U>().map_err(|e| {
                element_error(&format!("map_func('{}')", func.name()), part.index, e)
            })?)
        })
    })
}

/// The elements for which `func` (a task function from `&T` to `bool`)
/// is true.
pub(crate) fn filter_func<T: Element>(parent: Feed<T>, func: Func) -> Feed<T> {
    Arc::new(move |part: &Part<'_>, sink: Sink<'_, T>| {
        let failed =
            |e: Error| element_error(&format!("filter_func('{}')", func.name()), part.index, e);
        parent(part, &mut |x| {
            let mut inputs = [Input::Value(Value::new(x))];
            let keep = func.call_taking(&mut inputs).map_err(failed)?;
            if !*keep.downcast_ref::<bool>().map_err(failed)? {
                return Ok(());
            }
            // The element goes on as it came in: moved back out of its
            // input unless the function kept a handle to it.
            let [Input::Value(x)] = inputs else {
                return Err(Error::internal(
                    "filter_func: the element's input changed kind",
                ));
            };
            sink(x.take_or_clone::<T>().map_err(failed)?)
        })
    })
}

/// The concatenated lists `func` (a task function from `&T` to `Vec<U>`)
/// gives for the elements.
pub(crate) fn flat_map_func<T: Element, U: Element>(parent: Feed<T>, func: Func) -> Feed<U> {
    Arc::new(move |part: &Part<'_>, sink: Sink<'_, U>| {
        parent(part, &mut |x| {
            let out = call_on("flat_map_func", &func, part.index, x)?;
            let items = out.take_or_clone::<Vec<U>>().map_err(|e| {
                element_error(&format!("flat_map_func('{}')", func.name()), part.index, e)
            })?;
            for y in items {
                sink(y)?;
            }
            Ok(())
        })
    })
}

/// The elements of the list `func` (a task function from `&Vec<T>` to
/// `Vec<U>`) gives for each whole partition: the partition's elements are
/// gathered into one `Vec<T>`, handed to `func` as its only argument, and
/// the `Vec<U>` it returns is fed on, element by element, to the steps
/// after it.
pub(crate) fn map_partitions_func<T: Element, U: Element>(parent: Feed<T>, func: Func) -> Feed<U> {
    Arc::new(move |part: &Part<'_>, sink: Sink<'_, U>| {
        let op = || format!("map_partitions_func('{}')", func.name());
        let mut elements = Vec::new();
        parent(part, &mut |x| {
            elements.push(x);
            Ok(())
        })?;
        let mut inputs = [Input::Value(Value::new(elements))];
        let out = func
            .call_taking(&mut inputs)
            .map_err(|e| partition_error(&op(), part.index, e))?;
        let got = out.type_name();
        let items = out.take_or_clone::<Vec<U>>().map_err(|e| {
            Error::new(
                ErrorKind::TaskFailed,
                format!(
                    "{} on partition {} returned a {got}, but it must return the new \
                     partition, a {}",
                    op(),
                    part.index,
                    std::any::type_name::<Vec<U>>()
                ),
            )
            .with_source(e)
        })?;
        for y in items {
            sink(y)?;
        }
        Ok(())
    })
}

/// An error of a user function on a whole partition, with the operation
/// and the partition (the task's key is added by the scheduler).
fn partition_error(operation: &str, partition: usize, error: Error) -> Error {
    Error::new(
        ErrorKind::TaskFailed,
        format!("{operation} failed on partition {partition}: {error}"),
    )
    .with_source(error)
}
