//! Reductions over all axes, single axes and axis subsets, with keepdims
//! and several tree widths, against plain folds over `ndarray` lanes.

use barrow_array::{Array, Axes, Element};
use ndarray::ArrayD;
use proptest::prelude::*;

use super::strategies::{Case, axes_subset, case, finite, small_int};
use super::{
    assert_scalar, check, compute_all, config, errors_all, ref_arg, ref_extreme, ref_mean,
    ref_reduce, ref_var,
};

/// Dask's `split_every`: the default, or a tree of width 2, 3 or 16.
fn split_every() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![Just(None), Just(Some(2)), Just(Some(3)), Just(Some(16))]
}

fn with_split<T: Element>(case: &Case<T>, split: Option<usize>) -> Array<T> {
    match split {
        Some(n) => case.array().split_every(n),
        None => case.array(),
    }
}

/// A case and a subset of its axes.
fn case_axes<T: std::fmt::Debug + Clone + 'static>(
    elem: impl Strategy<Value = T> + Clone + 'static,
) -> impl Strategy<Value = (Case<T>, Vec<usize>)> {
    case(0, 4, elem).prop_flat_map(|c| {
        let n = c.data.ndim();
        (Just(c), axes_subset(n))
    })
}

fn axes(list: &[usize], keepdims: bool) -> Axes {
    let a = Axes::from(list.to_vec());
    if keepdims { a.keepdims() } else { a }
}

fn flat<T: Copy>(x: &ArrayD<T>) -> Vec<T> {
    x.iter().copied().collect()
}

fn as_f64(values: &[i64]) -> Vec<f64> {
    values.iter().map(|&v| v as f64).collect()
}

/// Whether reducing `axes` of `shape` leaves output positions whose lanes
/// are empty (min, max and arg* must fail then).
/// NumPy refuses a reduction without identity along an empty axis, even
/// when the result would be empty too.
fn has_empty_lanes(shape: &[usize], axes: &[usize]) -> bool {
    axes.iter().any(|&a| shape[a] == 0)
}

/// Compares a reduction that has no identity: an error where a lane is
/// empty (as NumPy raises), the reference elsewhere.
fn check_partial<T: Element + super::Close>(
    got: &Array<T>,
    shape: &[usize],
    axes: &[usize],
    want: Option<ArrayD<T>>,
    what: &str,
) {
    let empty_reduced = axes.iter().any(|&a| shape[a] == 0);
    if has_empty_lanes(shape, axes) {
        errors_all(got, what);
    } else if let Some(want) = want {
        check(got, &want, what);
    } else {
        assert!(
            empty_reduced,
            "{what}: no reference for a non-empty reduction"
        );
    }
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn whole_array_reductions(c in case(0, 4, small_int()), split in split_every()) {
        let a = with_split(&c, split);
        let v = flat(&c.data);
        let f = as_f64(&v);
        for r in compute_all(&a.sum(), "sum") {
            assert_eq!(r, v.iter().sum::<i64>(), "sum");
        }
        for m in compute_all(&a.mean(), "mean") {
            assert_scalar(m, ref_mean(&f), "mean");
        }
        for ddof in 0..=2 {
            for r in compute_all(&a.var(ddof), "var") {
                assert_scalar(r, ref_var(&f, ddof), &format!("var ddof {ddof}"));
            }
            for r in compute_all(&a.std(ddof), "std") {
                assert_scalar(r, ref_var(&f, ddof).sqrt(), &format!("std ddof {ddof}"));
            }
        }
        for r in compute_all(&a.any(), "any") {
            assert_eq!(r, v.iter().any(|&x| x != 0), "any");
        }
        for r in compute_all(&a.all(), "all") {
            assert_eq!(r, v.iter().all(|&x| x != 0), "all");
        }
        if v.is_empty() {
            let msg = errors_all(&a.min(), "min of empty");
            assert!(msg[0].contains("empty"), "min of empty: {msg:?}");
            errors_all(&a.max(), "max of empty");
            errors_all(&a.argmin(), "argmin of empty");
            errors_all(&a.argmax(), "argmax of empty");
        } else {
            for (max, got) in [(false, a.min()), (true, a.max())] {
                for r in compute_all(&got, "min/max") {
                    assert_eq!(Some(r), ref_extreme(&v, max), "extreme max={max}");
                }
            }
            for (max, got) in [(false, a.argmin()), (true, a.argmax())] {
                for r in compute_all(&got, "argmin/argmax") {
                    assert_eq!(Some(r), ref_arg(&v, max), "arg max={max} of {v:?}");
                }
            }
        }
    }

    #[test]
    fn products(
        c in case(0, 4, -1i64..=1),
        g in case(0, 3, 0.5f64..1.5),
        split in split_every(),
    ) {
        let a = with_split(&c, split);
        for r in compute_all(&a.prod(), "prod") {
            assert_eq!(r, c.data.iter().product::<i64>(), "prod");
        }
        let axes_list: Vec<usize> = (0..c.data.ndim()).step_by(2).collect();
        let want = ref_reduce(&c.data, &axes_list, false, |l| l.iter().product::<i64>());
        check(&a.prod_axis(axes(&axes_list, false)), &want, "prod_axis");
        let b = with_split(&g, split);
        for r in compute_all(&b.prod(), "float prod") {
            assert_scalar(r, g.data.iter().product::<f64>(), "float prod");
        }
    }

    #[test]
    fn axis_reductions(
        (c, ax) in case_axes(small_int()),
        keep in any::<bool>(),
        split in split_every(),
        ddof in 0usize..=2,
    ) {
        let a = with_split(&c, split);
        let d = &c.data;
        let shape = c.shape();
        let what = |op: &str| format!("{op} over {ax:?} keepdims={keep} of {shape:?} chunks {:?}", c.chunks);
        check(&a.sum_axis(axes(&ax, keep)), &ref_reduce(d, &ax, keep, |l| l.iter().sum::<i64>()), &what("sum"));
        check(&a.mean_axis(axes(&ax, keep)), &ref_reduce(d, &ax, keep, |l| ref_mean(&as_f64(l))), &what("mean"));
        check(&a.var_axis(axes(&ax, keep), ddof), &ref_reduce(d, &ax, keep, |l| ref_var(&as_f64(l), ddof)), &what("var"));
        check(&a.std_axis(axes(&ax, keep), ddof), &ref_reduce(d, &ax, keep, |l| ref_var(&as_f64(l), ddof).sqrt()), &what("std"));
        check(&a.any_axis(axes(&ax, keep)), &ref_reduce(d, &ax, keep, |l| l.iter().any(|&x| x != 0)), &what("any"));
        check(&a.all_axis(axes(&ax, keep)), &ref_reduce(d, &ax, keep, |l| l.iter().all(|&x| x != 0)), &what("all"));
        for max in [false, true] {
            let got = if max { a.max_axis(axes(&ax, keep)) } else { a.min_axis(axes(&ax, keep)) };
            let lanes = ref_reduce(d, &ax, keep, |l| ref_extreme(l, max));
            let want = lanes.iter().all(Option::is_some).then(|| lanes.mapv(|m| m.unwrap_or_default()));
            check_partial(&got, &shape, &ax, want, &what(if max { "max" } else { "min" }));
        }
    }

    #[test]
    fn float_axis_reductions(
        (c, ax) in case_axes(finite()),
        keep in any::<bool>(),
        split in split_every(),
    ) {
        let a = with_split(&c, split);
        let d = &c.data;
        check(&a.sum_axis(axes(&ax, keep)), &ref_reduce(d, &ax, keep, |l| l.iter().sum::<f64>()), "f64 sum_axis");
        check(&a.mean_axis(axes(&ax, keep)), &ref_reduce(d, &ax, keep, ref_mean), "f64 mean_axis");
        check(&a.var_axis(axes(&ax, keep), 1), &ref_reduce(d, &ax, keep, |l| ref_var(l, 1)), "f64 var_axis");
        for r in compute_all(&a.sum(), "f64 sum") {
            assert_scalar(r, d.iter().sum::<f64>(), "f64 sum");
        }
        for r in compute_all(&a.std(0), "f64 std") {
            assert_scalar(r, ref_var(&flat(d), 0).sqrt(), "f64 std");
        }
    }

    #[test]
    fn arg_reductions_per_axis(
        c in case(1, 4, -2i64..=2),
        pick in any::<prop::sample::Index>(),
        negative in any::<bool>(),
        split in split_every(),
    ) {
        let a = with_split(&c, split);
        let shape = c.shape();
        let axis = pick.index(shape.len());
        let given = if negative { axis as isize - shape.len() as isize } else { axis as isize };
        for max in [false, true] {
            let got = if max { a.argmax_axis(given) } else { a.argmin_axis(given) };
            let lanes = ref_reduce(&c.data, &[axis], false, |l| ref_arg(l, max));
            let want = lanes.iter().all(Option::is_some).then(|| lanes.mapv(|m| m.unwrap_or_default()));
            let what = format!("arg max={max} axis {given} of {shape:?} chunks {:?}", c.chunks);
            check_partial(&got, &shape, &[axis], want, &what);
        }
    }

    #[test]
    fn single_negative_axis(c in case(1, 4, small_int()), pick in any::<prop::sample::Index>(), keep in any::<bool>()) {
        let n = c.data.ndim();
        let axis = pick.index(n);
        let neg = axis as isize - n as isize;
        let a = c.array();
        let ax = if keep { Axes::from(neg).keepdims() } else { Axes::from(neg) };
        check(&a.sum_axis(ax), &ref_reduce(&c.data, &[axis], keep, |l| l.iter().sum::<i64>()), "sum over a negative axis");
    }

    #[test]
    fn narrow_integers_accumulate_wide(
        c in case(0, 3, any::<u8>()),
        i in case(0, 3, any::<i32>()),
        split in split_every(),
    ) {
        let a = with_split(&c, split);
        for r in compute_all(&a.sum(), "u8 sum") {
            assert_eq!(r, c.data.iter().map(|&v| u64::from(v)).sum::<u64>(), "u8 sum in u64");
        }
        let ax: Vec<usize> = (0..c.data.ndim()).filter(|k| k % 2 == 1).collect();
        check(&a.sum_axis(axes(&ax, false)), &ref_reduce(&c.data, &ax, false, |l| l.iter().map(|&v| u64::from(v)).sum::<u64>()), "u8 sum_axis");
        let b = with_split(&i, split);
        for r in compute_all(&b.sum(), "i32 sum") {
            assert_eq!(r, i.data.iter().map(|&v| i64::from(v)).sum::<i64>(), "i32 sum in i64");
        }
        if !i.data.is_empty() {
            for r in compute_all(&b.max(), "i32 max") {
                assert_eq!(Some(r), i.data.iter().copied().max(), "i32 max");
            }
        }
    }

    #[test]
    fn bool_reductions((c, ax) in case_axes(any::<bool>()), keep in any::<bool>()) {
        let a = c.array();
        check(&a.any_axis(axes(&ax, keep)), &ref_reduce(&c.data, &ax, keep, |l| l.iter().any(|&x| x)), "bool any_axis");
        check(&a.all_axis(axes(&ax, keep)), &ref_reduce(&c.data, &ax, keep, |l| l.iter().all(|&x| x)), "bool all_axis");
        let count = a.astype::<i64>().sum();
        for r in compute_all(&count, "count true") {
            assert_eq!(r, c.data.iter().filter(|&&x| x).count() as i64, "count of true");
        }
    }
}
