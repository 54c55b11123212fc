//! The README's main job: the first graph of Dask's scheduler overview and
//! its three `get`s (`3`, `6`, `[1, 2, 3]`), a 100,000-task tree reduction
//! on the local schedulers (`sync`, then `threads`), chunked arrays (a sum, a
//! mean and `x + x.T` over random data), and a bag: the most
//! frequent words of generated text files, plain and gzip-compressed, with
//! their throughput. Each line names the scheduler that really ran it, as
//! the scheduler reported itself to a callback.
//!
//! Run with `cargo run --release --example quickstart`.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use std::io::Write;
use std::path::Path;

use barrow::arg::{key, keys, lit};
use barrow::bag::read_text;
use barrow::callback::{Callback, RunInfo};
use barrow::collection::GraphKeys;
use barrow::function::List;
use barrow::{Func, Graph, Key, Options, Task, compute_with};

fn main() -> barrow::Result<()> {
    // Dask's scheduler overview: {'a': 1, 'b': 2, 'c': (add, 'a', 'b'),
    // 'd': (sum, ['a', 'b', 'c'])}, then get(dsk, 'c'), get(dsk, 'd') and
    // get(dsk, ['a', 'b', 'c']), on the scheduler the configuration picks.
    let add = Func::new("add", |a: &i64, b: &i64| a + b);
    let sum = Func::new("sum", |xs: List<i64>| xs.iter().sum::<i64>());
    let graph = Graph::from_tasks([
        ("a", Task::literal(1i64)),
        ("b", Task::literal(2i64)),
        ("c", Task::call(&add, [key("a"), key("b")])),
        ("d", Task::call(&sum, [keys(["a", "b", "c"])])),
    ])?;
    let ran_on = RanOn::new();
    let options = Options::new().callback(ran_on.clone());
    for wanted in [&["c"][..], &["d"], &["a", "b", "c"]] {
        let values = compute_with(GraphKeys::new(graph.clone(), wanted.to_vec()), &options)?;
        let values = values
            .iter()
            .map(|value| value.downcast_ref::<i64>().copied())
            .collect::<barrow::Result<Vec<i64>>>()?;
        // One key gives its value; a list of keys, the list of values.
        let (asked, got) = match (wanted, values.as_slice()) {
            ([one], [value]) => (format!("{one:?}"), value.to_string()),
            _ => (format!("{wanted:?}"), format!("{values:?}")),
        };
        println!("get(dsk, {asked}) = {got} on '{}'", ran_on.name());
    }

    // A binary tree reduction: 50,000 leaves (i + 1), summed pairwise.
    let leaves = 50_000u32;
    let started = Instant::now();
    let (graph, root, tasks) = tree_reduction(&add, leaves)?;
    let built = started.elapsed();
    for scheduler in ["sync", "threads"] {
        let started = Instant::now();
        let options = Options::new()
            .scheduler(scheduler)
            .optimize_graph(false)
            .callback(ran_on.clone());
        let values = compute_with(GraphKeys::new(graph.clone(), [root.clone()]), &options)?;
        let ran = started.elapsed();
        let total = *values[0].downcast_ref::<i64>()?;
        let n = i64::from(leaves);
        assert_eq!(total, n * (n + 1) / 2, "the tree sums 1..=n");
        println!(
            "tree reduction of {leaves} leaves on '{}': {total} ({tasks} tasks; built in \
             {:.1} ms, ran in {:.1} ms: {:.2} M tasks/s)",
            ran_on.name(),
            built.as_secs_f64() * 1e3,
            ran.as_secs_f64() * 1e3,
            tasks as f64 / ran.as_secs_f64() / 1e6,
        );
    }

    arrays(&ran_on)?;
    word_count(&ran_on)
}

/// Remembers the scheduler of the last computation, as it named itself
/// when it started: the one that really ran, whatever chose it (the call,
/// `BARROW_SCHEDULER`, a configuration file, the collection's default).
#[derive(Default)]
struct RanOn(Mutex<String>);

impl RanOn {
    fn new() -> Arc<RanOn> {
        Arc::new(RanOn::default())
    }

    /// The scheduler of the computation since the last call.
    fn name(&self) -> String {
        let name = self
            .0
            .lock()
            .map(|mut name| std::mem::take(&mut *name))
            .unwrap_or_default();
        if name.is_empty() {
            "an unnamed scheduler".to_owned()
        } else {
            name
        }
    }
}

impl Callback for RanOn {
    fn start(&self, run: &RunInfo<'_>) {
        if let Ok(mut name) = self.0.lock() {
            *name = run.scheduler.to_owned();
        }
    }
}

/// Arrays: a 400 MB random matrix in 64 chunks, its mean, and the sum of
/// `x + x.T` (each chunk of the result reads two chunks of `x`).
fn arrays(ran_on: &Arc<RanOn>) -> barrow::Result<()> {
    use barrow::array::{Array, random::Generator};

    let ones = Array::<f64>::ones(&[20_000, 20_000], 2000)?;
    println!("{}", ones.info());
    let started = Instant::now();
    let options = Options::new().callback(ran_on.clone());
    let total = compute_with(ones.sum(), &options)?;
    assert_eq!(total, 4.0e8);
    println!(
        "ones.sum() = {total:e} in {:.1} ms on '{}'",
        started.elapsed().as_secs_f64() * 1e3,
        ran_on.name(),
    );

    let x: Array<f64> = Generator::new(7).random(&[8000, 8000], 1000)?;
    let started = Instant::now();
    let (mean, symmetric) = compute_with((x.mean(), (&x + &x.t()).sum()), &options)?;
    let seconds = started.elapsed().as_secs_f64();
    assert!((mean - 0.5).abs() < 1e-3);
    assert!((symmetric / 6.4e7 - 1.0).abs() < 1e-3);
    println!(
        "random 8000x8000 (64 chunks): mean {mean:.5}, sum(x + x.T) {symmetric:.4e} in {:.0} ms \
         ({:.2} GB/s of array data) on '{}'",
        seconds * 1e3,
        2.0 * 8000.0 * 8000.0 * 8.0 / seconds / 1e9,
        ran_on.name(),
    );
    Ok(())
}

/// Word frequencies over 8 generated text files (16 MB), read in 1 MB blocks
/// when plain and whole when gzip-compressed.
fn word_count(ran_on: &Arc<RanOn>) -> barrow::Result<()> {
    let folder = tempfile::tempdir().map_err(io_error)?;
    let bytes = write_text(folder.path(), 8, 2_000_000).map_err(io_error)?;
    for (what, pattern, blocksize) in [
        ("plain", "*.txt", Some(1_000_000)),
        ("gzip", "*.txt.gz", None),
    ] {
        let started = Instant::now();
        let lines = read_text(folder.path().join(pattern).as_path())
            .blocksize_option(blocksize)
            .into_bag()?;
        let words = lines.flat_map(|line| {
            line.split_ascii_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        });
        let top = compute_with(
            &words.frequencies().topk_by(3, |(_, n)| *n),
            &Options::new().callback(ran_on.clone()),
        )?;
        let ran = started.elapsed();
        println!(
            "word count over {:.0} MB of {what} text in {} partitions on '{}': {top:?} \
             ({:.0} MB/s)",
            bytes as f64 / 1e6,
            lines.npartitions(),
            ran_on.name(),
            bytes as f64 / ran.as_secs_f64() / 1e6,
        );
    }
    Ok(())
}

/// Writes `files` files of about `size` bytes of lines of 5 to 14 words
/// (a skewed pick among 1,000), plain and gzip-compressed; returns the
/// bytes of text per copy.
fn write_text(folder: &Path, files: usize, size: usize) -> std::io::Result<usize> {
    let words: Vec<String> = (0..1000u32)
        .map(|i| format!("w{}", i * 7919 % 1000))
        .collect();
    let mut state = 1u64;
    let mut next = move || {
        // A linear congruential generator is enough to make text.
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) as usize
    };
    let mut total = 0;
    for file in 0..files {
        let mut text = String::with_capacity(size + 100);
        while text.len() < size {
            for i in 0..5 + next() % 10 {
                // The product of two uniforms favours small indexes.
                let word = &words[(next() % 1000) * (next() % 1000) / 1000];
                text.push_str(if i == 0 { "" } else { " " });
                text.push_str(word);
            }
            text.push('\n');
        }
        std::fs::write(folder.join(format!("part-{file}.txt")), &text)?;
        let gz = std::fs::File::create(folder.join(format!("part-{file}.txt.gz")))?;
        let mut encoder = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
        encoder.write_all(text.as_bytes())?;
        encoder.finish()?;
        total += text.len();
    }
    Ok(total)
}

fn io_error(error: std::io::Error) -> barrow::Error {
    barrow::Error::new(
        barrow::ErrorKind::Io,
        format!("quickstart: cannot write its text files: {error}"),
    )
}

/// Leaves `('leaf', i) = i + 1`, then levels `('sum', level, i)` adding
/// pairs (an odd one out moves up unchanged) until one root is left.
fn tree_reduction(add: &Func, leaves: u32) -> barrow::Result<(Graph, Key, usize)> {
    let mut tasks = Vec::new();
    let mut level: Vec<Key> = (0..leaves)
        .map(|i| {
            let k = Key::from(("leaf", i));
            tasks.push((k.clone(), Task::call(add, [lit(i64::from(i)), lit(1i64)])));
            k
        })
        .collect();
    let mut depth = 0u32;
    while level.len() > 1 {
        depth += 1;
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for (i, pair) in level.chunks(2).enumerate() {
            match pair {
                [a, b] => {
                    let k = Key::from(("sum", depth, i as u32));
                    tasks.push((k.clone(), Task::call(add, [key(a), key(b)])));
                    next.push(k);
                }
                [a] => next.push(a.clone()),
                _ => unreachable!("chunks(2) gives one or two"),
            }
        }
        level = next;
    }
    let count = tasks.len();
    let root = level.pop().unwrap_or_else(|| Key::from(("leaf", 0)));
    Ok((Graph::from_tasks(tasks)?, root, count))
}
