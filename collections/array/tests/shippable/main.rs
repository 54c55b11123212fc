//! Arrays in worker processes: every registered operation's graph passes
//! `check_serializable`, runs in a simulated worker (functions rebuilt
//! from name and parameters, values through their codecs) with the same
//! result as locally, and equals the ndarray reference.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on the first surprise"
)]

mod codecs;
mod remote;

use barrow_array::random::Generator;
use barrow_array::{Array, Axes, concatenate, stack, where_};
use barrow_core::{ErrorKind, Registry};
use ndarray::{ArrayD, Axis, IxDyn, array, s};
use remote::ship;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn matrix() -> ndarray::Array2<f64> {
    ndarray::Array2::from_shape_fn((5, 7), |(i, j)| (i * 7 + j) as f64 * 0.5 - 6.0)
}

#[test]
fn creation_ships() -> TestResult {
    barrow_local::link();
    assert_eq!(
        ship(&Array::<f64>::zeros(&[4, 5], 2)?),
        ArrayD::<f64>::zeros(IxDyn(&[4, 5]))
    );
    assert_eq!(
        ship(&Array::<i32>::ones(&[3, 3], 2)?),
        ArrayD::<i32>::ones(IxDyn(&[3, 3]))
    );
    assert_eq!(
        ship(&Array::<u8>::full(&[5], 7, 2)?),
        ArrayD::from_elem(IxDyn(&[5]), 7u8)
    );
    assert_eq!(ship(&Array::<bool>::full(&[2, 3], true, 2)?).len(), 6);
    let r = ship(&Array::<i64>::arange(3, 40, 4, 3)?);
    assert_eq!(
        r.into_raw_vec_and_offset().0,
        (3..40).step_by(4).collect::<Vec<_>>()
    );
    let l = ship(&Array::<f64>::linspace(0.0, 1.0, 11, 4)?);
    assert_eq!(
        l.into_raw_vec_and_offset().0,
        ndarray::Array1::linspace(0.0, 1.0, 11).to_vec()
    );
    assert_eq!(
        ship(&Array::<f32>::eye(5, 2)?),
        ndarray::Array2::<f32>::eye(5).into_dyn()
    );
    assert_eq!(
        ship(&Array::from_array(matrix(), [2, 3])?),
        matrix().into_dyn()
    );
    assert_eq!(
        ship(&Array::from_array(matrix(), [5, 7])?),
        matrix().into_dyn()
    );
    let v = ship(&Array::<usize>::from_vec(vec![1, 2, 3, 4, 5], 2)?);
    assert_eq!(v.into_raw_vec_and_offset().0, [1, 2, 3, 4, 5]);
    let rng = Generator::new(7);
    ship(&rng.random(&[6, 5], 3)?);
    ship(&rng.uniform(-2.0, 3.0, &[9], 4)?);
    ship(&rng.normal(1.0, 2.0, &[4, 4], [3, 2])?);
    let ints = ship(&rng.integers(-5, 5, &[20], 6)?);
    assert!(ints.iter().all(|&v| (-5..5).contains(&v)));
    Ok(())
}

#[test]
fn elementwise_ships() -> TestResult {
    barrow_local::link();
    let m = matrix();
    let row = ndarray::Array1::from_shape_fn(7, |j| j as f64 + 1.0);
    let a = Array::from_array(m.clone(), [2, 3])?;
    let b = Array::from_array(row.clone(), 4)?;
    let expr = ((&a + &b) * 2.0 - &a / 3.0) % 5.0;
    let want = ((&m + &row) * 2.0 - &m / 3.0) % 5.0;
    assert_eq!(ship(&expr), want.clone().into_dyn());
    assert_eq!(ship(&(2.0 - &a)), (2.0 - &m).into_dyn());
    assert_eq!(ship(&(10.0 / &b)), (10.0 / &row).into_dyn());
    assert_eq!(ship(&-&a), (-&m).into_dyn());
    assert_eq!(ship(&a.abs()), m.mapv(f64::abs).into_dyn());
    assert_eq!(
        ship(&a.clip(-1.0, 2.0)),
        m.mapv(|v| v.clamp(-1.0, 2.0)).into_dyn()
    );
    assert_eq!(
        ship(&a.maximum(&b)),
        ndarray::Zip::from(&m)
            .and_broadcast(&row)
            .map_collect(|&x, &y| x.max(y))
            .into_dyn()
    );
    assert_eq!(ship(&a.minimum(0.5)), m.mapv(|v| v.min(0.5)).into_dyn());
    let pos = a.abs() + 1.0;
    let pm = m.mapv(|v| v.abs() + 1.0);
    assert_eq!(
        ship(&pos.sqrt().exp().ln()),
        pm.mapv(|v| v.sqrt().exp().ln()).into_dyn()
    );
    assert_eq!(
        ship(&pos.log2().floor()),
        pm.mapv(|v| v.log2().floor()).into_dyn()
    );
    assert_eq!(ship(&pos.powf(1.5)), pm.mapv(|v| v.powf(1.5)).into_dyn());
    assert_eq!(ship(&pos.powi(3)), pm.mapv(|v| v.powi(3)).into_dyn());
    assert_eq!(
        ship(&a.sin().tanh().round()),
        m.mapv(|v| v.sin().tanh().round()).into_dyn()
    );
    assert_eq!(ship(&a.is_nan()), m.mapv(f64::is_nan).into_dyn());
    // Other element types, casts, comparisons, logic and where.
    let i = Array::<i32>::arange(-6, 6, 1, 5)?;
    let iv = ndarray::Array1::from_iter(-6..6);
    assert_eq!(ship(&((&i * 3) % 4 - 1)), ((&iv * 3) % 4 - 1).into_dyn());
    assert_eq!(ship(&i.astype::<f64>()), iv.mapv(f64::from).into_dyn());
    assert_eq!(ship(&a.astype::<u8>()), m.mapv(|v| v as u8).into_dyn());
    assert_eq!(ship(&i.astype::<bool>()), iv.mapv(|v| v != 0).into_dyn());
    let gt = a.greater(&b);
    let gm = ndarray::Zip::from(&m)
        .and_broadcast(&row)
        .map_collect(|&x, &y| x > y);
    assert_eq!(ship(&gt), gm.clone().into_dyn());
    assert_eq!(ship(&i.less_equal(0)), iv.mapv(|v| v <= 0).into_dyn());
    assert_eq!(ship(&i.equal(2)), iv.mapv(|v| v == 2).into_dyn());
    let neg = a.less(0.0);
    let both = (&gt & &neg) | !&gt;
    let nm = m.mapv(|v| v < 0.0);
    let bm = ndarray::Zip::from(&gm)
        .and(&nm)
        .map_collect(|&g, &n| (g & n) | !g);
    assert_eq!(ship(&both), bm.into_dyn());
    assert_eq!(ship(&(&neg ^ true)), nm.mapv(|n| n ^ true).into_dyn());
    let picked = where_(&neg, 0.0, &a);
    assert_eq!(
        ship(&picked),
        m.mapv(|v| if v < 0.0 { 0.0 } else { v }).into_dyn()
    );
    Ok(())
}

#[test]
fn reductions_ship() -> TestResult {
    barrow_local::link();
    let m = matrix();
    let a = Array::from_array(m.clone(), [2, 2])?.split_every(2);
    assert_eq!(ship(&a.sum()), m.sum());
    assert_eq!(ship(&a.sum_axis(0)), m.sum_axis(Axis(0)).into_dyn());
    assert_eq!(ship(&a.max()), 11.0);
    assert_eq!(
        ship(&a.min_axis(1)),
        m.map_axis(Axis(1), |l| l.fold(f64::INFINITY, |x, &y| x.min(y)))
            .into_dyn()
    );
    assert_eq!(ship(&a.argmin()), 0);
    assert_eq!(ship(&a.argmax()), 34);
    assert_eq!(
        ship(&a.argmax_axis(0)),
        ArrayD::from_elem(IxDyn(&[7]), 4usize)
    );
    ship(&a.mean());
    ship(&a.mean_axis(Axes::from(1usize).keepdims()));
    ship(&a.var(1));
    ship(&a.std_axis(0, 0));
    let i = Array::<i16>::arange(1, 9, 1, 3)?.split_every(2);
    assert_eq!(ship(&i.prod()), 40320i64);
    assert!(ship(&i.any()));
    assert!(!ship(&i.greater(4).all()));
    assert_eq!(
        ship(&i.reshape(&[2, 4])?.all_axis(1)),
        ArrayD::from_elem(IxDyn(&[2]), true)
    );
    let u = Array::<u8>::full(&[300], 200, 64)?;
    assert_eq!(ship(&u.sum()), 60000u64);
    // Random sources fold a tile at a time into a full reduction.
    let rng = Generator::new(3);
    let x = rng.random(&[40, 30], [10, 15])?;
    let streamed = ship(&x.sum());
    let stored = ship(&x.map_blocks_func::<f64>(&identity()).sum());
    assert!((streamed - stored).abs() < 1e-9);
    ship(&rng.integers(0, 10, &[50], 7)?.max());
    // Cumulative sums carry along the axis.
    let c = Array::from_array(array![[1i32, 2, 3], [4, 5, 6]], [1, 2])?;
    assert_eq!(
        ship(&c.cumsum(1)?),
        array![[1i64, 3, 6], [4, 9, 15]].into_dyn()
    );
    assert_eq!(
        ship(&c.cumsum(0)?),
        array![[1i64, 2, 3], [5, 7, 9]].into_dyn()
    );
    Ok(())
}

#[test]
fn staged_rechunks_ship_with_their_pieces() -> TestResult {
    barrow_local::link();
    // A budget of nothing: the rechunk stages its pieces through files,
    // and the staged values travel with their pieces' data.
    let _budget = barrow_core::config::scoped([("array.rechunk.memory-budget", "0")])?;
    let m = matrix();
    let columns = Array::from_array(m.clone(), [5, 2])?;
    let rows = columns.rechunk([1, 7])?;
    assert!(
        rows.graph_ref()
            .keys()
            .any(|k| k.name().starts_with("rechunk-stage")),
        "the rechunk is staged"
    );
    assert_eq!(ship(&rows), m.clone().into_dyn());
    let ones = Array::<i32>::ones(&[5, 7], [5, 1])?;
    assert_eq!(ship(&ones.rechunk([1, 7])?.sum()), 35);
    Ok(())
}

#[test]
fn shapes_slices_and_rechunks_ship() -> TestResult {
    barrow_local::link();
    let m = matrix();
    let a = Array::from_array(m.clone(), [2, 3])?;
    assert_eq!(ship(&a.t()), m.t().to_owned().into_dyn());
    assert_eq!(
        ship(&a.swap_axes(0, 1)?.permute_axes(&[1, 0])?),
        m.clone().into_dyn()
    );
    assert_eq!(
        ship(&a.reshape(&[7, 5])?),
        m.clone().into_shape_with_order((7, 5))?.into_dyn()
    );
    let ones = Array::<f64>::ones(&[5, 7], 3)?;
    let joined = concatenate(&[a.clone(), ones.clone()], 0)?;
    let want = ndarray::concatenate(Axis(0), &[m.view(), ndarray::Array2::ones((5, 7)).view()])?;
    assert_eq!(ship(&joined), want.into_dyn());
    let stacked = stack(&[a.clone(), ones.t().t()], 1)?;
    let want = ndarray::stack(Axis(1), &[m.view(), ndarray::Array2::ones((5, 7)).view()])?;
    assert_eq!(ship(&stacked), want.into_dyn());
    assert_eq!(ship(&a.rechunk([3, 4])?), m.clone().into_dyn());
    assert_eq!(ship(&ones.rechunk([5, 1])?.sum()), 35.0);
    assert_eq!(
        ship(&a.slice(s![1..4, ..;-2])?),
        m.slice(s![1..4, ..;-2]).to_owned().into_dyn()
    );
    assert_eq!(
        ship(&a.slice(s![3, 2..])?),
        m.slice(s![3, 2..]).to_owned().into_dyn()
    );
    assert_eq!(
        ship(&a.slice(s![.., ndarray::NewAxis, 1..2])?),
        m.slice(s![.., ndarray::NewAxis, 1..2])
            .to_owned()
            .into_dyn()
    );
    assert_eq!(
        ship(&a.take(&[6, 0, 1, 1], 1)?),
        m.select(Axis(1), &[6, 0, 1, 1]).into_dyn()
    );
    let mask = [true, false, false, true, true];
    assert_eq!(
        ship(&a.compress(&mask, 0)?),
        m.select(Axis(0), &[0, 3, 4]).into_dyn()
    );
    Ok(())
}

#[test]
fn linear_algebra_ships() -> TestResult {
    barrow_local::link();
    let m = matrix();
    let a = Array::from_array(m.clone(), [2, 3])?;
    let b = Array::from_array(m.t().to_owned(), [4, 2])?;
    let product = ship(&a.dot(&b)?);
    let want = m.dot(&m.t());
    assert!(
        product
            .iter()
            .zip(want.iter())
            .all(|(x, y)| (x - y).abs() < 1e-9)
    );
    let v = Array::<f64>::ones(&[7], 3)?;
    let mv = ship(&a.matmul(&v)?);
    assert!(
        mv.iter()
            .zip(m.sum_axis(Axis(1)).iter())
            .all(|(x, y)| (x - y).abs() < 1e-9)
    );
    let t3 = Array::from_array(m.clone().into_shape_with_order((5, 7, 1))?, [2, 3, 1])?;
    let td = ship(&t3.tensordot(&b.reshape(&[7, 5])?, (&[1], &[0]))?);
    assert_eq!(td.shape(), [5, 1, 5]);
    let f32s = Array::<f32>::eye(4, 3)?;
    assert_eq!(
        ship(&f32s.dot(&f32s)?),
        ndarray::Array2::<f32>::eye(4).into_dyn()
    );
    Ok(())
}

/// Returns its block unchanged.
#[barrow_core::task(name = "barrow-array-tests.identity")]
fn identity_block(block: &ArrayD<f64>) -> ArrayD<f64> {
    block.clone()
}

/// Every element of a block doubled, as `i64`.
#[barrow_core::task(name = "barrow-array-tests.twice")]
fn twice(block: &ArrayD<i32>) -> ArrayD<i64> {
    block.mapv(|v| 2 * i64::from(v))
}

fn identity() -> barrow_core::Func {
    Registry::global()
        .functions()
        .get(identity_block::NAME)
        .expect("registered")
}

#[test]
fn registered_block_functions_ship() -> TestResult {
    barrow_local::link();
    let f = Registry::global().functions().get(twice::NAME)?;
    let x = Array::<i32>::arange(0, 10, 1, 4)?;
    let y = x.map_blocks_func::<i64>(&f);
    assert_eq!(
        ship(&y).into_raw_vec_and_offset().0,
        (0..20).step_by(2).collect::<Vec<i64>>()
    );
    // Registered functions name their arrays deterministically.
    assert_eq!(y.name(), x.map_blocks_func::<i64>(&f).name());
    // A block of the wrong shape is an error naming the block.
    let cut = Array::<f64>::ones(&[4], 2)?.map_blocks_func_with_chunks::<f64>(
        barrow_array::Chunks::new(vec![vec![1, 3]], &[4])?,
        &identity(),
    );
    let err = cut.compute().unwrap_err();
    assert!(err.to_string().contains("map_blocks_func"), "{err}");
    Ok(())
}

#[test]
fn closures_are_refused_naming_the_task() -> TestResult {
    barrow_local::link();
    let x = Array::<f64>::arange(0.0, 6.0, 1.0, 3)?;
    let y = (&x + 1.0).map(|v| v * v);
    let err = barrow_wire::check_serializable(y.graph_ref(), Registry::global()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotShippable);
    let text = err.to_string();
    assert!(text.contains("2 of 6 tasks"), "{text}");
    assert!(text.contains(y.name()) && text.contains("'map'"), "{text}");
    assert!(text.contains("#[barrow::task]"), "{text}");
    for refused in [
        x.zip_with(&x, |a: f64, b: f64| a * b).graph_ref().clone(),
        Array::<f64>::from_fn(&[4], 2, |_, shape| Ok(ArrayD::zeros(shape)))?
            .graph_ref()
            .clone(),
        x.map_blocks(|b| Ok(b.to_owned())).graph_ref().clone(),
        x.map_blocks_func::<f64>(&barrow_core::Func::new("mine", |b: &ArrayD<f64>| b.clone()))
            .graph_ref()
            .clone(),
    ] {
        let err = barrow_wire::check_serializable(&refused, Registry::global()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotShippable, "{err}");
    }
    Ok(())
}

#[test]
fn every_function_of_a_pipeline_rebuilds_by_name() -> TestResult {
    barrow_local::link();
    let x = Array::from_array(matrix(), [2, 3])?;
    let y = ((&x * 2.0).t().rechunk([7, 1])?.sum_axis(1) + 1.0).cumsum(0)?;
    let graph = barrow_core::Collection::graph(&y)?;
    let functions = remote::functions(&graph);
    assert!(functions.len() > 20);
    for (key, f) in functions {
        assert!(f.name().starts_with("barrow.array."), "{key}: {}", f.name());
        let rebuilt = Registry::global()
            .functions()
            .resolve(f.name(), f.params())?;
        assert_eq!(
            (rebuilt.name(), rebuilt.params()),
            (f.name(), f.params()),
            "{key}"
        );
    }
    Ok(())
}

#[test]
fn damaged_parameters_are_errors() {
    let functions = Registry::global().functions();
    for name in functions
        .names()
        .iter()
        .filter(|n| n.starts_with("barrow.array."))
    {
        for bytes in [&[][..], &[0xff; 3][..], &[200, 1, 2, 3, 4, 5, 6, 7][..]] {
            // Some short inputs happen to decode to a valid spec; none may panic.
            let _ = functions.resolve(name, Some(bytes));
        }
    }
}
