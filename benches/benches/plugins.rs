//! A plugin kernel called through the function registry costs what the same
//! kernel registered natively costs (target: ≤ 1.1×): `stats.zscore` from
//! `barrow-example-functions` against the same code compiled into this
//! program and registered as a native function (`native`), on a
//! 1,000-element block, both called as a task calls them (`Func::call` on a
//! `Value`). `native-ndarray` is the same computation written with ndarray's
//! iterators, for context.
#![allow(
    clippy::expect_used,
    reason = "a benchmark stops on the first surprise"
)]

use std::path::PathBuf;
use std::process::Command;

use barrow_core::function::Input;
use barrow_core::{Func, Registry, Value};
use criterion::{Criterion, criterion_group, criterion_main};
use ndarray::ArrayD;

/// The same computation as the plugin's `zscore`, written with ndarray.
fn zscore_native(x: &ArrayD<f64>) -> ArrayD<f64> {
    let n = x.len().max(1) as f64;
    let mean = x.iter().sum::<f64>() / n;
    let std = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    x.mapv(|v| if std == 0.0 { 0.0 } else { (v - mean) / std })
}

/// The plugin's own code (slices), compiled into this program.
fn zscore_slices(x: &ArrayD<f64>) -> ArrayD<f64> {
    let data = x.as_slice().unwrap_or_default();
    let n = data.len().max(1) as f64;
    let mean = data.iter().sum::<f64>() / n;
    let std = (data.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let out: Vec<f64> = data
        .iter()
        .map(|&v| if std == 0.0 { 0.0 } else { (v - mean) / std })
        .collect();
    ArrayD::from_shape_vec(x.raw_dim(), out).unwrap_or_else(|_| x.clone())
}

/// Builds the example plugin in this profile (release) and returns its file.
fn plugin_library() -> PathBuf {
    let exe = std::env::current_exe().expect("the bench has a path");
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("benches live in <target>/<profile>/deps");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "barrow-example-functions",
        ])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building barrow-example-functions failed");
    profile.join(format!(
        "{}barrow_example_functions.{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_EXTENSION
    ))
}

fn bench(c: &mut Criterion) {
    let registry = Registry::global();
    let plugin = barrow_plugin_host::load(&plugin_library()).expect("the plugin loads");
    barrow_plugin_host::register(&plugin, registry).expect("the plugin registers");
    registry
        .functions()
        .register(Func::new("native.zscore", zscore_native))
        .expect("a new name");
    registry
        .functions()
        .register(Func::new("native.zscore-slices", zscore_slices))
        .expect("a new name");
    let block: Vec<f64> = (0..1000)
        .map(|i| ((i * 7919) % 1000) as f64 / 10.0)
        .collect();
    let input = [Input::Value(Value::new(
        ArrayD::from_shape_vec(vec![1000], block).expect("1000 elements"),
    ))];
    let mut group = c.benchmark_group("plugin-call-1000");
    for (label, name) in [
        ("native", "native.zscore-slices"),
        ("native-ndarray", "native.zscore"),
        ("plugin", "stats.zscore"),
    ] {
        let func = registry.functions().get(name).expect("registered");
        let first = func.call(&input).expect("it runs");
        assert_eq!(
            first.downcast_ref::<ArrayD<f64>>().expect("an array").len(),
            1000
        );
        group.bench_function(label, |b| {
            b.iter(|| func.call(std::hint::black_box(&input)).expect("it runs"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
