//! Transposes, concatenation, stacking, `take` and `compress`.

use barrow_array::{concatenate, stack};
use ndarray::{ArrayD, Axis, IxDyn};
use proptest::prelude::*;

use super::strategies::{Case, case, case_of, chunks_for, data_for, permutation, shape, small_int};
use super::{check, config, ref_take};

/// A case and a permutation of its axes.
fn case_perm() -> impl Strategy<Value = (Case<i64>, Vec<usize>)> {
    case(0, 4, small_int()).prop_flat_map(|c| {
        let n = c.data.ndim();
        (Just(c), permutation(n))
    })
}

/// One to three cases of one shape but `axis`, each its own length and
/// chunks there.
fn concat_cases() -> impl Strategy<Value = (Vec<Case<i64>>, usize)> {
    (shape(1, 3), any::<prop::sample::Index>(), 1usize..=3).prop_flat_map(|(base, pick, count)| {
        let axis = pick.index(base.len());
        let parts: Vec<BoxedStrategy<Case<i64>>> = (0..count)
            .map(|_| {
                let base = base.clone();
                super::strategies::axis_len()
                    .prop_flat_map(move |len| {
                        let mut s = base.clone();
                        s[axis] = len;
                        case_of(s, small_int())
                    })
                    .boxed()
            })
            .collect();
        (parts, Just(axis))
    })
}

/// One to three cases of one shape, each chunked its own way.
fn stack_cases() -> impl Strategy<Value = (Vec<Case<i64>>, usize)> {
    (shape(0, 3), 1usize..=3).prop_flat_map(|(s, count)| {
        let parts: Vec<BoxedStrategy<Case<i64>>> = (0..count)
            .map(|_| case_of(s.clone(), small_int()))
            .collect();
        let ndim = s.len();
        (parts, 0..=ndim)
    })
}

/// A case, an axis, and indices into it (repeats, any order).
fn take_case() -> impl Strategy<Value = (Case<i64>, usize, Vec<usize>)> {
    case(1, 4, small_int()).prop_flat_map(|c| {
        let n = c.data.ndim();
        (Just(c), 0..n).prop_flat_map(|(c, axis)| {
            let len = c.data.shape()[axis];
            let indices = if len == 0 {
                Just(Vec::new()).boxed()
            } else {
                proptest::collection::vec(0..len, 0..=8).boxed()
            };
            (Just(c), Just(axis), indices)
        })
    })
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn transposes((c, perm) in case_perm(), a_pick in any::<prop::sample::Index>(), b_pick in any::<prop::sample::Index>()) {
        let a = c.array();
        let d = &c.data;
        check(&a.t(), &d.t().to_owned(), "t()");
        let got = a.permute_axes(&perm).unwrap();
        check(&got, &d.view().permuted_axes(IxDyn(&perm)).to_owned(), &format!("permute_axes {perm:?}"));
        // The blocks move with the axes.
        let want_chunks: Vec<Vec<usize>> = perm.iter().map(|&p| c.chunks[p].clone()).collect();
        assert_eq!(got.chunks().clone().into_inner(), want_chunks, "permuted chunks");
        let n = d.ndim();
        if n > 0 {
            let (x, y) = (a_pick.index(n), b_pick.index(n));
            let mut want = d.clone();
            want.swap_axes(x, y);
            check(&a.swap_axes(x as isize, y as isize - n as isize).unwrap(), &want, "swap_axes");
        }
        // A transpose of a transpose, then arithmetic: back where it started.
        check(&(&a.t().t() + 1), &d.mapv(|v| v + 1), "t().t() + 1");
    }

    #[test]
    fn concatenates_differently_chunked((parts, axis) in concat_cases(), negative in any::<bool>()) {
        let arrays: Vec<_> = parts.iter().map(Case::array).collect();
        let views: Vec<_> = parts.iter().map(|p| p.data.view()).collect();
        let want = ndarray::concatenate(Axis(axis), &views).unwrap();
        let ndim = want.ndim() as isize;
        let given = if negative { axis as isize - ndim } else { axis as isize };
        let got = concatenate(&arrays, given).unwrap();
        check(&got, &want, &format!("concatenate along {given}"));
        // The blocks along the axis are the inputs' blocks, in order.
        let along: Vec<usize> = parts.iter().flat_map(|p| p.chunks[axis].clone()).filter(|&b| b > 0).collect();
        let got_along: Vec<usize> = got.chunks().axis(axis).iter().copied().filter(|&b| b > 0).collect();
        assert_eq!(got_along, along, "blocks along the concatenation axis");
    }

    #[test]
    fn stacks_differently_chunked((parts, axis) in stack_cases()) {
        let arrays: Vec<_> = parts.iter().map(Case::array).collect();
        let views: Vec<_> = parts.iter().map(|p| p.data.view()).collect();
        let want = ndarray::stack(Axis(axis), &views).unwrap();
        let got = stack(&arrays, axis as isize).unwrap();
        check(&got, &want, &format!("stack along {axis}"));
        assert_eq!(got.chunks().axis(axis), vec![1; parts.len()].as_slice(), "one block per input");
    }

    #[test]
    fn take_gathers((c, axis, indices) in take_case()) {
        let got = c.array().take(&indices, axis as isize).unwrap();
        check(&got, &ref_take(&c.data, &indices, axis), &format!("take {indices:?} along {axis}"));
        let len = c.data.shape()[axis];
        assert!(c.array().take(&[len], axis as isize).is_err(), "take past the end must fail");
    }

    #[test]
    fn compress_masks(
        (c, axis, mask) in case(1, 4, small_int()).prop_flat_map(|c| {
            let n = c.data.ndim();
            (Just(c), 0..n)
        }).prop_flat_map(|(c, axis)| {
            let len = c.data.shape()[axis];
            (Just(c), Just(axis), proptest::collection::vec(any::<bool>(), len))
        }),
    ) {
        let got = c.array().compress(&mask, axis as isize).unwrap();
        let kept: Vec<usize> = mask.iter().enumerate().filter(|(_, m)| **m).map(|(i, _)| i).collect();
        check(&got, &ref_take(&c.data, &kept, axis), &format!("compress {mask:?} along {axis}"));
        let mut longer = mask.clone();
        longer.push(true);
        assert!(c.array().compress(&longer, axis as isize).is_err(), "a mask of the wrong length must fail");
    }

    #[test]
    fn operations_on_results_of_shape_ops(
        (s, data, chunks) in shape(2, 3).prop_flat_map(|s| (Just(s.clone()), data_for(&s, small_int()), chunks_for(&s))),
    ) {
        // Transpose, then add the original transposed by ndarray: chunks
        // of the two sides differ, so the sum unifies them.
        let a = super::dask(&data, &chunks);
        let other: ArrayD<i64> = data.t().to_owned();
        let b = super::dask(&other, &s.iter().rev().map(|&n| vec![n]).collect::<Vec<_>>());
        check(&(&a.t() + &b), &other.mapv(|v| v * 2), "t() + transposed copy");
    }
}
