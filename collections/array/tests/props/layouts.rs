//! Blocks that are not plain contiguous data (transposed, reversed,
//! filled with one value), operands shared between tasks (which must not
//! be changed in place), and NaN.

use barrow_array::{Array, Axes, where_};
use ndarray::{ArrayD, Dimension, IxDyn, SliceInfoElem};
use proptest::prelude::*;

use super::strategies::{Case, axes_subset, case, chunks_for, shape, small_int};
use super::{
    SCHEDULERS, assert_close, check, compute_all, config, options, ref_arg, ref_mean, ref_reduce,
    ref_var, ref_zip,
};

/// Every axis reversed (`..;-1` everywhere).
fn reversed_info(ndim: usize) -> Vec<SliceInfoElem> {
    (0..ndim)
        .map(|_| SliceInfoElem::Slice {
            start: 0,
            end: None,
            step: -1,
        })
        .collect()
}

/// The same array as `c`, built three ways whose blocks have other
/// layouts: transposed twice, reversed twice, and `+ 0` on a fill.
fn odd_layouts(c: &Case<i64>) -> Vec<(&'static str, Array<i64>)> {
    let a = c.array();
    let n = c.data.ndim();
    let rev = reversed_info(n);
    let perm: Vec<usize> = (0..n).rev().collect();
    vec![
        ("t().t()", a.t().permute_axes(&perm).unwrap()),
        (
            "reversed twice",
            a.slice(&rev).unwrap().slice(&rev).unwrap(),
        ),
        (
            "zeros + a",
            Array::<i64>::zeros(&c.shape(), c.chunks.clone()).unwrap() + &a,
        ),
    ]
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn reductions_of_strided_blocks(
        (c, ax) in case(0, 4, small_int()).prop_flat_map(|c| {
            let n = c.data.ndim();
            (Just(c), axes_subset(n))
        }),
        keep in any::<bool>(),
    ) {
        let d = &c.data;
        for (how, a) in odd_layouts(&c) {
            let what = |op: &str| format!("{op} over {ax:?} of {how} {:?} chunks {:?}", c.shape(), c.chunks);
            let axes = || if keep { Axes::from(ax.clone()).keepdims() } else { Axes::from(ax.clone()) };
            check(&a.sum_axis(axes()), &ref_reduce(d, &ax, keep, |l| l.iter().sum::<i64>()), &what("sum"));
            check(&a.var_axis(axes(), 0), &ref_reduce(d, &ax, keep, |l| {
                ref_var(&l.iter().map(|&v| v as f64).collect::<Vec<_>>(), 0)
            }), &what("var"));
            if !d.is_empty() {
                for r in compute_all(&a.argmax(), &what("argmax")) {
                    assert_eq!(Some(r), ref_arg(&d.iter().copied().collect::<Vec<_>>(), true), "{}", what("argmax"));
                }
                if let Some(&axis) = ax.first().filter(|&&axis| d.shape()[axis] > 0) {
                    let want = ref_reduce(d, &[axis], false, |l| ref_arg(l, false).unwrap_or_default());
                    check(&a.argmin_axis(axis as isize), &want, &what("argmin_axis"));
                }
            }
            check(&a.map(|v| v * 2), &d.mapv(|v| v * 2), &what("map"));
        }
        // A transposed array's reductions, against the transposed data.
        let t = c.array().t();
        let dt = d.t().to_owned();
        check(&t.mean_axis(Axes::from(ax.clone())), &ref_reduce(&dt, &ax, false, |l| {
            ref_mean(&l.iter().map(|&v| v as f64).collect::<Vec<_>>())
        }), "mean of t()");
    }

    #[test]
    fn inputs_in_other_memory_orders(c in case(0, 4, small_int())) {
        // Fortran order, and every axis reversed (negative strides).
        let n = c.data.ndim();
        let fortran = c.data.t().to_owned().reversed_axes();
        let chunks_t: Vec<Vec<usize>> = c.chunks.clone();
        check(&Array::from_array(fortran, chunks_t.clone()).unwrap(), &c.data, "from Fortran order");
        let mut flipped = c.data.clone();
        for k in 0..n {
            flipped.invert_axis(ndarray::Axis(k));
        }
        let back = Array::from_array(flipped, chunks_t).unwrap();
        let want = c.data.slice(reversed_info(n).as_slice()).to_owned();
        check(&back, &want, "from reversed strides");
        check(&back.sum_axis(Axes::from((0..n).collect::<Vec<_>>())), &ArrayD::from_elem(IxDyn(&[]), c.data.sum()), "sum of reversed");
    }

    #[test]
    fn npy_of_strided_blocks(c in case(0, 4, small_int())) {
        let dir = tempfile::tempdir().unwrap();
        for (k, (how, a)) in odd_layouts(&c).into_iter().enumerate() {
            let path = dir.path().join(format!("{k}.npy"));
            compute_all(&a.to_npy(&path).unwrap(), how);
            let back = Array::<i64>::from_npy(&path, c.chunks.clone()).unwrap();
            check(&back, &c.data, &format!("npy of {how}"));
        }
        let path = dir.path().join("t.npy");
        compute_all(&c.array().t().to_npy(&path).unwrap(), "t() to npy");
        let back = Array::<i64>::from_npy(&path, -1).unwrap();
        check(&back, &c.data.t().to_owned(), "npy of t()");
    }

    #[test]
    fn shared_operands_are_not_changed_in_place(
        c in case(0, 4, small_int()),
        s in small_int(),
    ) {
        // `a` feeds several tasks of one graph; operations that reuse an
        // unshared block in place must leave it alone.
        let a = c.array();
        let d = &c.data;
        let b = &a + s;
        let twice = &a + &a;
        let neg = -&a;
        let big = a.maximum(&a);
        let picked = where_(&a.greater(0), &a, &neg);
        for sch in SCHEDULERS {
            let (rb, rt, rn, rm, rp, ra) = barrow_core::compute_with(
                (&b, &twice, &neg, &big, &picked, &a),
                &options(sch),
            ).unwrap();
            assert_close(&rb, &d.mapv(|v| v + s), "a + s");
            assert_close(&rt, &d.mapv(|v| v + v), "a + a");
            assert_close(&rn, &d.mapv(|v| -v), "-a");
            assert_close(&rm, d, "maximum(a, a)");
            assert_close(&rp, &d.mapv(i64::abs), "where(a > 0, a, -a)");
            assert_close(&ra, d, "a itself, computed with the others");
        }
        // And again, from the same graph: nothing was changed in it.
        check(&((&a + 1) * 3), &d.mapv(|v| (v + 1) * 3), "a after the others");
        check(&a, d, "a last");
    }

    #[test]
    fn filled_blocks_behave_like_dense(
        (s, chunks, other) in shape(0, 4).prop_flat_map(|s| (Just(s.clone()), chunks_for(&s), chunks_for(&s))),
        v in -3i64..=3,
        ax_seed in any::<prop::sample::Index>(),
    ) {
        let full = Array::<i64>::full(&s, v, chunks.clone()).unwrap();
        let dense = ArrayD::from_elem(IxDyn(&s), v);
        let n = s.len();
        let ax: Vec<usize> = if n == 0 { vec![] } else { vec![ax_seed.index(n)] };
        check(&full.sum_axis(Axes::from(ax.clone())), &ref_reduce(&dense, &ax, false, |l| l.iter().sum::<i64>()), "sum_axis of full");
        check(&full.var_axis(Axes::from(ax.clone()).keepdims(), 1), &ref_reduce(&dense, &ax, true, |l| {
            ref_var(&l.iter().map(|&x| x as f64).collect::<Vec<_>>(), 1)
        }), "var_axis of full");
        check(&full.rechunk(other.clone()).unwrap(), &dense, "rechunk of full");
        check(&full.t(), &dense.t().to_owned(), "t() of full");
        check(&full.slice(reversed_info(n)).unwrap(), &dense, "reversed full");
        check(&full.reshape(&[dense.len()]).unwrap(), &dense.clone().into_shape_with_order(IxDyn(&[dense.len()])).unwrap(), "flattened full");
        check(&full.astype::<f64>().sqrt().is_nan(), &dense.mapv(|x| (x as f64).sqrt().is_nan()), "sqrt of full");
        check(&full.map_blocks(|b| Ok(b.to_owned())), &dense, "map_blocks of full");
        if !dense.is_empty() {
            for r in compute_all(&full.argmin(), "argmin of full") {
                assert_eq!(r, 0, "argmin of a constant is its first position");
            }
            for r in compute_all(&full.min(), "min of full") {
                assert_eq!(r, v, "min of full");
            }
        }
        let data = ArrayD::from_shape_fn(IxDyn(&s), |ix| ix.slice().iter().sum::<usize>() as i64 % 5);
        let mixed = &full - &super::dask(&data, &other);
        check(&mixed, &ref_zip(&dense, &data, |p, q| p - q), "full - dense, chunked differently");
    }

    #[test]
    fn nan_propagates_as_in_numpy(
        c in case(1, 3, prop_oneof![4 => (-3i32..=3).prop_map(f64::from), 1 => Just(f64::NAN)]),
    ) {
        let a = c.array();
        let v: Vec<f64> = c.data.iter().copied().collect();
        let first_nan = v.iter().position(|x| x.is_nan());
        for (max, got) in [(false, a.argmin()), (true, a.argmax())] {
            if v.is_empty() { break; }
            let want = first_nan.or_else(|| ref_arg(&v, max));
            for r in compute_all(&got, "arg with NaN") {
                assert_eq!(Some(r), want, "arg max={max} of {v:?}");
            }
        }
        if !v.is_empty() {
            for r in compute_all(&a.max(), "max with NaN") {
                let want = if first_nan.is_some() { f64::NAN } else { v.iter().copied().fold(f64::MIN, f64::max) };
                super::assert_scalar(r, want, "max with NaN");
            }
        }
        for r in compute_all(&a.sum(), "sum with NaN") {
            super::assert_scalar(r, v.iter().sum::<f64>(), "sum with NaN");
        }
        let lanes = ref_reduce(&c.data, &[0], false, |l| l.iter().any(|x| x.is_nan()));
        let got = a.min_axis(0usize);
        if c.data.shape()[0] > 0 {
            let mins = compute_all(&got, "min_axis with NaN");
            for m in mins {
                for (g, nan) in m.iter().zip(lanes.iter()) {
                    assert_eq!(g.is_nan(), *nan, "min_axis NaN lanes {m:?}");
                }
            }
        }
    }
}
