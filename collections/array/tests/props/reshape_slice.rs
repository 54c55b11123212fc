//! Reshapes to random shapes of the same size, and basic slicing with
//! ndarray's semantics (negative steps reverse, bounds past the axis fail).

use ndarray::{IxDyn, SliceInfoElem};
use proptest::prelude::*;

use super::strategies::{Case, case, small_int};
use super::{check, config};

/// A shape of `n` elements: the prime factors of `n` spread over the axes
/// by `seeds` (axes that get none stay 1); for `n == 0` one axis is 0.
fn target_shape(n: usize, seeds: &[usize]) -> Vec<usize> {
    let ndim = seeds[0] % 5;
    if n == 0 {
        let ndim = ndim.max(1);
        let zero = seeds[1] % ndim;
        return (0..ndim)
            .map(|a| if a == zero { 0 } else { seeds[2 + a] % 4 })
            .collect();
    }
    let ndim = if n > 1 { ndim.max(1) } else { ndim };
    let mut shape = vec![1; ndim];
    let (mut rest, mut p, mut k) = (n, 2, 0);
    while rest > 1 {
        while rest % p == 0 {
            shape[seeds[1 + k % (seeds.len() - 1)] % ndim] *= p;
            rest /= p;
            k += 1;
        }
        p += 1;
    }
    shape
}

/// A case and a shape with as many elements.
fn reshape_case() -> impl Strategy<Value = (Case<i64>, Vec<usize>)> {
    (
        case(0, 4, small_int()),
        proptest::collection::vec(0usize..64, 8),
    )
        .prop_map(|(c, seeds)| {
            let n = c.data.len();
            (c, target_shape(n, &seeds))
        })
}

/// A valid slice element for an axis of `len`.
fn elem(len: usize) -> BoxedStrategy<SliceInfoElem> {
    let l = len as isize;
    let bound = -l..=l;
    let range = (
        bound.clone(),
        prop::option::of(bound),
        prop_oneof![-3isize..=-1, 1isize..=3],
    )
        .prop_map(|(start, end, step)| SliceInfoElem::Slice { start, end, step });
    if len == 0 {
        range.boxed()
    } else {
        prop_oneof![3 => range, 1 => (-l..l).prop_map(SliceInfoElem::Index)].boxed()
    }
}

/// A case and a valid slice of it: one element per axis for a prefix of
/// the axes (the rest implied whole), new axes anywhere.
fn slice_case() -> impl Strategy<Value = (Case<i64>, Vec<SliceInfoElem>)> {
    case(0, 4, small_int()).prop_flat_map(|c| {
        let shape = c.shape();
        let elems: Vec<BoxedStrategy<SliceInfoElem>> = shape.iter().map(|&n| elem(n)).collect();
        let ndim = shape.len();
        (
            Just(c),
            elems,
            0..=ndim,
            proptest::collection::vec(0usize..=ndim, 0..=2),
        )
            .prop_map(|(c, elems, given, new_axes)| {
                let mut info: Vec<SliceInfoElem> = elems.into_iter().take(given).collect();
                for at in new_axes {
                    info.insert(at.min(info.len()), SliceInfoElem::NewAxis);
                }
                (c, info)
            })
    })
}

/// `info` with the implied whole axes written out, as ndarray needs.
fn full_info(info: &[SliceInfoElem], ndim: usize) -> Vec<SliceInfoElem> {
    let given = info
        .iter()
        .filter(|e| !matches!(e, SliceInfoElem::NewAxis))
        .count();
    let mut out = info.to_vec();
    out.extend((given..ndim).map(|_| SliceInfoElem::Slice {
        start: 0,
        end: None,
        step: 1,
    }));
    out
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn reshape_keeps_row_major_order((c, target) in reshape_case()) {
        // Arrays without elements: see `reshape_of_empty_arrays`.
        prop_assume!(!c.data.is_empty());
        let a = c.array();
        let got = a.reshape(&target).unwrap();
        let want = c.data.to_shape(IxDyn(&target)).unwrap().to_owned();
        check(&got, &want, &format!("reshape {:?} chunks {:?} to {target:?}", c.shape(), c.chunks));
        // And back.
        check(&got.reshape(&c.shape()).unwrap(), &c.data, "reshape back");
        let mut bigger = target.clone();
        bigger.push(2);
        assert!(a.reshape(&bigger).is_err(), "reshape to more elements must fail");
    }

    #[test]
    fn slices_match_ndarray((c, info) in slice_case()) {
        let got = c.array().slice(&info).unwrap();
        let full = full_info(&info, c.data.ndim());
        let want = c.data.slice(full.as_slice()).to_owned();
        check(&got, &want, &format!("slice {info:?} of {:?} chunks {:?}", c.shape(), c.chunks));
        // Slicing a slice, then arithmetic on it.
        let again = got.slice(Vec::<SliceInfoElem>::new()).unwrap();
        check(&(&again * 2), &want.mapv(|v| v * 2), "sliced * 2");
    }

    #[test]
    fn out_of_range_slices_fail(
        c in case(1, 4, small_int()),
        pick in any::<prop::sample::Index>(),
        kind in 0usize..6,
    ) {
        let shape = c.shape();
        let axis = pick.index(shape.len());
        let l = shape[axis] as isize;
        let bad = match kind {
            0 => SliceInfoElem::Index(l),
            1 => SliceInfoElem::Index(-l - 1),
            2 => SliceInfoElem::Slice { start: l + 1, end: None, step: 1 },
            3 => SliceInfoElem::Slice { start: 0, end: Some(l + 1), step: -1 },
            4 => SliceInfoElem::Slice { start: -l - 1, end: None, step: 2 },
            _ => SliceInfoElem::Slice { start: 0, end: None, step: 0 },
        };
        let mut info = full_info(&[], axis);
        info.push(bad);
        let result = c.array().slice(&info);
        assert!(result.is_err(), "slice {info:?} of {shape:?} should be an error");
        let msg = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains(&format!("axis {axis}")), "error names the axis: {msg}");
        // More indices than axes.
        let too_many = full_info(&[], shape.len() + 1);
        assert!(c.array().slice(&too_many).is_err(), "too many indices should be an error");
    }
}

#[test]
fn target_shapes_have_the_same_size() {
    for n in [0, 1, 2, 6, 12, 36, 729] {
        for s in 0..40 {
            let seeds: Vec<usize> = (0..8).map(|k| (s * 7 + k * 13) % 64).collect();
            let t = target_shape(n, &seeds);
            assert_eq!(t.iter().product::<usize>(), n, "{t:?}");
        }
    }
}

#[test]
fn reshape_of_empty_arrays() {
    let pairs: &[(&[usize], &[usize])] = &[
        (&[0], &[2, 0]),
        (&[0], &[3, 2, 0]),
        (&[2, 0], &[0]),
        (&[2, 0], &[0, 3]),
        (&[0, 3], &[3, 0]),
        (&[1, 0], &[0, 5]),
    ];
    for &(from, to) in pairs {
        let x = barrow_array::Array::<i64>::zeros(from, 1).unwrap();
        let want = ndarray::ArrayD::<i64>::zeros(IxDyn(to));
        check(
            &x.reshape(to).unwrap(),
            &want,
            &format!("reshape {from:?} to {to:?}"),
        );
    }
}
