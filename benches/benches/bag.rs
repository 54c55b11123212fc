//! Bag throughput: the comparison's `bag-mapfilter`, and its text pipeline
//! over a corpus generated here (Zipf-distributed words from a 10,000-word
//! vocabulary, 5–15 words a line), plain and gzip-compressed.
//!
//! `cargo bench --bench bag`. The side-by-side figures against Dask come
//! from `benches/compare/run` (workloads `bag-*`).

use std::io::Write;
use std::path::Path;

use barrow_benches::bag::{MAPFILTER_ITEMS, MAPFILTER_PARTITIONS, mapfilter, text_frequencies};
use barrow_core::{Options, compute_with};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Bytes of text in the corpus.
const CORPUS_BYTES: usize = 32_000_000;
/// Files in the corpus.
const FILES: usize = 4;

/// A deterministic generator (SplitMix64): the corpus is the same in every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Writes `FILES` plain and gzip files of Zipf words under `dir`.
fn write_corpus(dir: &Path) -> std::io::Result<()> {
    let mut rng = SplitMix(42);
    let vocabulary: Vec<String> = (0..10_000)
        .map(|_| {
            let len = 2 + (rng.next() % 11) as usize;
            (0..len)
                .map(|_| (b'a' + (rng.next() % 26) as u8) as char)
                .collect()
        })
        .collect();
    // Cumulative Zipf weights (s = 1) for sampling by binary search.
    let mut cumulative = Vec::with_capacity(vocabulary.len());
    let mut total = 0.0;
    for rank in 1..=vocabulary.len() {
        total += 1.0 / rank as f64;
        cumulative.push(total);
    }
    std::fs::create_dir_all(dir.join("plain"))?;
    std::fs::create_dir_all(dir.join("gz"))?;
    for file in 0..FILES {
        let mut text = String::with_capacity(CORPUS_BYTES / FILES + 200);
        while text.len() < CORPUS_BYTES / FILES {
            let words = 5 + rng.next() % 11;
            for w in 0..words {
                let x = rng.unit() * total;
                let rank = cumulative
                    .partition_point(|&c| c < x)
                    .min(vocabulary.len() - 1);
                if w > 0 {
                    text.push(' ');
                }
                text.push_str(&vocabulary[rank]);
            }
            text.push('\n');
        }
        std::fs::write(dir.join(format!("plain/part-{file}.txt")), &text)?;
        let gz = std::fs::File::create(dir.join(format!("gz/part-{file}.txt.gz")))?;
        let mut encoder = flate2::write::GzEncoder::new(gz, flate2::Compression::new(6));
        encoder.write_all(text.as_bytes())?;
        encoder.finish()?;
    }
    Ok(())
}

fn benches(c: &mut Criterion) {
    barrow_local::link();
    let mut group = c.benchmark_group("bag");
    group.sample_size(10);
    for scheduler in ["sync", "threads"] {
        let options = Options::new().scheduler(scheduler).num_workers(2);
        group.throughput(Throughput::Elements(MAPFILTER_ITEMS as u64));
        group.bench_function(format!("mapfilter-2M/{scheduler}"), |b| {
            b.iter(|| {
                let count = mapfilter(MAPFILTER_ITEMS, MAPFILTER_PARTITIONS)
                    .and_then(|d| compute_with(d, &options));
                assert!(matches!(count, Ok(285_714)), "{count:?}");
            });
        });
    }
    let Ok(dir) = tempfile::tempdir() else {
        eprintln!("bag bench: no temporary directory; text benches skipped");
        return;
    };
    if let Err(e) = write_corpus(dir.path()) {
        eprintln!("bag bench: cannot write the corpus ({e}); text benches skipped");
        return;
    }
    group.throughput(Throughput::Bytes(CORPUS_BYTES as u64));
    for (name, pattern, blocksize) in [
        ("text-frequencies", "plain/*.txt", Some(2_000_000)),
        ("text-frequencies-gz", "gz/*.txt.gz", None),
    ] {
        for scheduler in ["sync", "threads"] {
            let options = Options::new().scheduler(scheduler).num_workers(2);
            let pattern = dir.path().join(pattern);
            group.bench_function(format!("{name}-32MB/{scheduler}"), |b| {
                b.iter(|| {
                    let top = text_frequencies(&pattern, blocksize)
                        .and_then(|bag| compute_with(&bag, &options));
                    assert!(matches!(&top, Ok(top) if top.len() == 10), "{top:?}");
                });
            });
        }
    }
    group.finish();
}

criterion_group!(bag, benches);
criterion_main!(bag);
