//! Creation functions, against the same arrays built by `ndarray`.

use barrow_array::Array;
use barrow_array::random::Generator;
use ndarray::{ArrayD, Dimension, IxDyn};
use proptest::prelude::*;

use super::strategies::{axis_chunks, chunks_for, shape};
use super::{check, compute_all, config};

/// A shape and a random chunking of it.
fn shape_chunks() -> impl Strategy<Value = (Vec<usize>, Vec<Vec<usize>>)> {
    shape(0, 4).prop_flat_map(|s| (Just(s.clone()), chunks_for(&s)))
}

/// A length and a random chunking of it.
fn len_chunks(max: usize) -> impl Strategy<Value = (usize, Vec<usize>)> {
    (0..=max).prop_flat_map(|n| (Just(n), axis_chunks(n, 9)))
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn constant_fills((s, chunks) in shape_chunks(), v in -5i64..5) {
        let sh = IxDyn(&s);
        check(&Array::<i64>::zeros(&s, chunks.clone()).unwrap(), &ArrayD::zeros(sh.clone()), "zeros");
        check(&Array::<f64>::ones(&s, chunks.clone()).unwrap(), &ArrayD::ones(sh.clone()), "ones");
        let full = Array::<i64>::full(&s, v, chunks.clone()).unwrap();
        check(&full, &ArrayD::from_elem(sh.clone(), v), "full");
        // Filled blocks reduce in closed form; compare with the dense sum.
        let n = s.iter().product::<usize>() as i64;
        for r in compute_all(&full.sum(), "sum of full") {
            assert_eq!(r, v * n, "sum of full");
        }
        // And combine with dense blocks.
        let dense = ArrayD::from_shape_fn(sh.clone(), |ix| ix.slice().iter().sum::<usize>() as i64);
        let d = super::dask(&dense, &chunks);
        check(&(&full * &d), &dense.mapv(|x| x * v), "full * dense");
        check(&Array::from_scalar(v), &ArrayD::from_elem(IxDyn(&[]), v), "from_scalar");
    }

    #[test]
    fn ranges(start in -20i64..20, len in 0usize..30, step in prop_oneof![-3i64..=-1, 1i64..=3], size in 1usize..=7) {
        let stop = start + step * len as i64;
        let want: Vec<i64> = (0..len as i64).map(|i| start + i * step).collect();
        let got = Array::<i64>::arange(start, stop, step, size).unwrap();
        check(&got, &ArrayD::from_shape_vec(IxDyn(&[len]), want).unwrap(), &format!("arange({start}, {stop}, {step})"));
        // A stop past the last step: NumPy's ceil((stop - start) / step).
        let ragged = Array::<f64>::arange(0.0, len as f64 + 0.5, 1.0, size).unwrap();
        let want: Vec<f64> = (0..=len).map(|i| i as f64).collect();
        check(&ragged, &ArrayD::from_shape_vec(IxDyn(&[len + 1]), want).unwrap(), "arange with a ragged end");
    }

    #[test]
    fn linspace_and_eye((num, chunks) in len_chunks(12), lo in -10.0f64..10.0, width in -10.0f64..10.0, (n, eye_chunks) in len_chunks(8)) {
        let hi = lo + width;
        let got = Array::<f64>::linspace(lo, hi, num, chunks).unwrap();
        let want = ndarray::Array1::linspace(lo, hi, num).into_dyn();
        check(&got, &want, &format!("linspace({lo}, {hi}, {num})"));
        let eye = Array::<i32>::eye(n, vec![eye_chunks.clone(), eye_chunks]).unwrap();
        check(&eye, &ndarray::Array2::<i32>::eye(n).into_dyn(), "eye");
    }

    #[test]
    fn from_fn_and_from_vec((s, chunks) in shape_chunks(), (n, vchunks) in len_chunks(20)) {
        let f = |ix: &[usize]| ix.iter().enumerate().map(|(k, &i)| (i * (k + 3)) as i64).sum::<i64>();
        let got = Array::<i64>::from_fn(&s, chunks, move |start, shape| {
            Ok(ArrayD::from_shape_fn(IxDyn(shape), |ix| {
                let global: Vec<usize> = (0..shape.len()).map(|k| start[k] + ix[k]).collect();
                f(&global)
            }))
        }).unwrap();
        let want = ArrayD::from_shape_fn(IxDyn(&s), |ix| f(ix.slice()));
        check(&got, &want, "from_fn");
        let data: Vec<u16> = (0..n as u16).collect();
        let size = vchunks.first().copied().unwrap_or(1).max(1);
        let v = Array::from_vec(data.clone(), size).unwrap();
        check(&v, &ArrayD::from_shape_vec(IxDyn(&[n]), data).unwrap(), "from_vec");
    }

    #[test]
    fn random_is_reproducible((s, chunks) in shape_chunks(), seed in any::<u64>()) {
        // The same seed and call order give the same values on every
        // scheduler and every time; values lie in the requested range.
        let g = Generator::new(seed);
        let x = g.random(&s, chunks.clone()).unwrap();
        let u = g.uniform(-2.0, 3.0, &s, chunks.clone()).unwrap();
        let i = g.integers(-4, 4, &s, chunks.clone()).unwrap();
        let nrm = g.normal(1.0, 0.0, &s, chunks.clone()).unwrap();
        let xs = compute_all(&x, "random");
        assert_eq!(xs[0], xs[1], "random differs between schedulers");
        assert!(xs[0].iter().all(|v| (0.0..1.0).contains(v)), "random in [0, 1)");
        let us = compute_all(&u, "uniform");
        assert_eq!(us[0], us[1]);
        assert!(us[0].iter().all(|v| (-2.0..3.0).contains(v)), "uniform in range");
        let is = compute_all(&i, "integers");
        assert_eq!(is[0], is[1]);
        assert!(is[0].iter().all(|v| (-4..4).contains(v)), "integers in range");
        check(&nrm, &ArrayD::from_elem(IxDyn(&s), 1.0), "normal with scale 0");
        let again = Generator::new(seed).random(&s, chunks).unwrap();
        assert_eq!(compute_all(&again, "random again")[0], xs[0], "same seed, same values");
    }
}
