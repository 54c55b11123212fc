//! barrow-wire and the spilling store on a 100 MB `Vec<f64>`: MB/s of
//! encoding and decoding (raw buffers, raw + lz4, postcard for comparison),
//! and of a spill to disk and back. The machine's ceiling for anything that
//! allocates a fresh 100 MB buffer is about 2.2 GB/s with the system
//! allocator (`shared/notes/crates.md` §3).
#![allow(
    clippy::expect_used,
    reason = "a benchmark that cannot run its workload should stop"
)]

use std::hint::black_box;
use std::sync::Arc;

use barrow_core::codec::CodecRegistry;
use barrow_core::store::Store;
use barrow_core::{Key, Value};
use barrow_local::SpillStore;
use barrow_wire::{Compression, WireOptions};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const LEN: usize = 12_500_000;

fn wire(c: &mut Criterion) {
    let codecs = CodecRegistry::with_builtins();
    let data: Vec<f64> = (0..LEN).map(|i| (i as f64).sin()).collect();
    let value = Value::new(data);
    let mut group = c.benchmark_group("wire-100MB-f64");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(value.nbytes() as u64));
    for (name, options) in [
        ("raw", WireOptions::new()),
        ("raw+lz4", WireOptions::new().compression(Compression::Lz4)),
        ("postcard", WireOptions::new().raw_numeric(false)),
    ] {
        let bytes = barrow_wire::encode_with(&value, &codecs, &options).expect("encodes");
        group.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| barrow_wire::encode_with(black_box(&value), &codecs, &options))
        });
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| barrow_wire::decode(black_box(&bytes), &codecs))
        });
    }
    group.finish();
}

fn spill(c: &mut Criterion) {
    let codecs = Arc::new(CodecRegistry::with_builtins());
    let value = Value::new(vec![1.5f64; LEN]);
    let folder = std::env::temp_dir();
    let mut group = c.benchmark_group("spill-100MB-f64");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(value.nbytes() as u64));
    group.bench_function("put-spill-get", |b| {
        b.iter(|| {
            let mut store = SpillStore::new(0, &folder, codecs.clone());
            let key = Key::new("x");
            store.put(0, &key, value.clone()).expect("spills");
            let back = store.get(0, &key).expect("reads back").expect("held");
            black_box(back);
        })
    });
    group.finish();
}

criterion_group!(benches, wire, spill);
criterion_main!(benches);
