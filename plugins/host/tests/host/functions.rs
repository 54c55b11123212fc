//! A plugin's functions in array computations, on the threads scheduler.

use barrow_array::Array;
use barrow_core::{Registry, Value};
use barrow_plugin_host::{Provides, load, register};
use ndarray::ArrayD;

use crate::support::library;

fn stats() {
    barrow_local::link();
    let plugin = load(&library("barrow-example-functions")).unwrap();
    register(&plugin, Registry::global()).unwrap();
}

#[test]
fn the_plugin_describes_itself() {
    let plugin = load(&library("barrow-example-functions")).unwrap();
    assert_eq!(plugin.name(), "stats");
    assert_eq!(
        plugin.abi_version(),
        (barrow_plugin::ABI_MAJOR, barrow_plugin::ABI_MINOR)
    );
    let functions: Vec<String> = plugin.functions().into_iter().map(|(n, _)| n).collect();
    assert!(
        functions.contains(&"stats.zscore".to_string()),
        "{functions:?}"
    );
    let capabilities = plugin.capabilities();
    assert_eq!(capabilities[0], ("functions", Provides::Yes));
    assert_eq!(capabilities[3], ("schedulers", Provides::No));
}

fn zscore_native(block: &ArrayD<f64>) -> ArrayD<f64> {
    let n = block.len() as f64;
    let mean = block.sum() / n;
    let std = (block.mapv(|v| (v - mean).powi(2)).sum() / n).sqrt();
    block.mapv(|v| if std > 0.0 { (v - mean) / std } else { 0.0 })
}

#[test]
fn an_array_computation_calls_a_plugin_kernel_on_every_block() {
    stats();
    let zscore = Registry::global().functions().get("stats.zscore").unwrap();
    let x = Array::<f64>::arange(0.0, 24.0, 1.0, 5)
        .unwrap()
        .map_blocks(|b| Ok(b.mapv(|v| v * v)));
    let z = x.map_blocks_func::<f64>(&zscore).compute().unwrap();
    let blocks: Vec<f64> = x.compute().unwrap().into_raw_vec_and_offset().0;
    let expected: Vec<f64> = blocks
        .chunks(5)
        .flat_map(|c| {
            zscore_native(&ArrayD::from_shape_vec(vec![c.len()], c.to_vec()).unwrap())
                .into_raw_vec_and_offset()
                .0
        })
        .collect();
    let got = z.into_raw_vec_and_offset().0;
    assert_eq!(got.len(), 24);
    for (g, e) in got.iter().zip(&expected) {
        assert!((g - e).abs() < 1e-12, "{got:?} vs {expected:?}");
    }
}

#[test]
fn a_transposed_block_reaches_the_plugin_in_row_major_order() {
    stats();
    let clip = Registry::global().functions().get("stats.clip").unwrap();
    let a = ArrayD::from_shape_vec(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let t = a.clone().reversed_axes();
    let out = clip
        .call(&[
            barrow_core::function::Input::Value(Value::new(t)),
            barrow_core::function::Input::Value(Value::new(2.0f64)),
            barrow_core::function::Input::Value(Value::new(5.0f64)),
        ])
        .unwrap();
    let out = out.downcast_ref::<ArrayD<f64>>().unwrap();
    assert_eq!(out.shape(), [3, 2]);
    assert_eq!(out.as_slice().unwrap(), [2.0, 4.0, 2.0, 5.0, 3.0, 5.0]);
}

/// The guide's worked example: a function with parameters, bound by the
/// host with `function_with_params`, decoded by the plugin with
/// `Call::params_as`.
#[test]
fn a_function_with_parameters_is_bound_by_the_host() {
    stats();
    let scale = barrow_plugin_host::function_with_params("stats.scale", &2.5f64).unwrap();
    let x = Array::<f64>::arange(0.0, 10.0, 1.0, 4).unwrap();
    let y = x.map_blocks_func::<f64>(&scale).compute().unwrap();
    let expected: Vec<f64> = (0..10).map(|v| 2.5 * f64::from(v)).collect();
    assert_eq!(y.into_raw_vec_and_offset().0, expected);
    // Parameters of another type fail the task, naming the function.
    let wrong = barrow_plugin_host::function_with_params("stats.scale", &"twice").unwrap();
    let err = x.map_blocks_func::<f64>(&wrong).compute().unwrap_err();
    assert!(err.to_string().contains("are not a f64"), "{err}");
    // A function without parameters cannot be bound.
    assert!(barrow_plugin_host::function_with_params("stats.zscore", &1.0f64).is_err());
}
