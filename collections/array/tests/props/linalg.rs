//! `dot`, `tensordot`, `cumsum`, `blockwise`, `qr` and `svd` against plain
//! ndarray, on random shapes and uneven chunkings.

use barrow_array::{Array, blockwise};
use ndarray::{Array2, ArrayD, Axis, Ix2, IxDyn};
use proptest::prelude::*;

use super::strategies::{axis_chunks, case, case_of, data_for, finite, small_int};
use super::{check, compute_all, config, dask};

/// Two matrices that multiply, with their own chunkings (the contracted
/// axis chunked differently on each side).
/// A matrix and its chunks.
type Chunked = (ArrayD<f64>, Vec<Vec<usize>>);

fn matmul_pair() -> impl Strategy<Value = (Chunked, Chunked)> {
    (1usize..=7, 1usize..=7, 1usize..=7).prop_flat_map(|(m, k, n)| {
        (
            data_for(&[m, k], finite()),
            axis_chunks(m, 3),
            axis_chunks(k, 3),
            data_for(&[k, n], finite()),
            axis_chunks(k, 3),
            axis_chunks(n, 3),
        )
            .prop_map(|(a, am, ak, b, bk, bn)| ((a, vec![am, ak]), (b, vec![bk, bn])))
    })
}

fn plain_dot(a: &ArrayD<f64>, b: &ArrayD<f64>) -> ArrayD<f64> {
    let a = a.view().into_dimensionality::<Ix2>().unwrap();
    let b = b.view().into_dimensionality::<Ix2>().unwrap();
    a.dot(&b).into_dyn()
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn dot_matches_ndarray(((a, ac), (b, bc)) in matmul_pair()) {
        let got = dask(&a, &ac).dot(&dask(&b, &bc)).unwrap();
        check(&got, &plain_dot(&a, &b), "dot");
    }

    #[test]
    fn dot_with_vectors(((a, ac), (b, bc)) in matmul_pair()) {
        let v = b.index_axis(Axis(1), 0).to_owned();
        let x = dask(&a, &ac);
        let vx = dask(&v, &bc[..1]);
        let want = a.view().into_dimensionality::<Ix2>().unwrap().dot(&v.view().into_dimensionality::<ndarray::Ix1>().unwrap());
        check(&x.dot(&vx).unwrap(), &want.into_dyn(), "matrix · vector");
        let inner: f64 = v.iter().map(|x| x * x).sum();
        check(&vx.dot(&vx).unwrap(), &ArrayD::from_elem(IxDyn(&[]), inner), "vector · vector");
    }

    #[test]
    fn tensordot_contracts_like_two_dots(c in case_of(vec![3, 4, 2], finite()), d in case_of(vec![4, 2, 3], finite())) {
        // Contract (axis 1, axis 2) of c with (axis 0, axis 1) of d.
        let got = c.array().tensordot(&d.array(), (&[1, 2], &[0, 1])).unwrap();
        let a = c.data.to_shape((3, 8)).unwrap().to_owned();
        let b = d.data.to_shape((8, 3)).unwrap().to_owned();
        check(&got, &a.dot(&b).into_dyn(), "tensordot");
    }

    #[test]
    fn cumsum_along_every_axis(c in case(1, 3, small_int())) {
        for axis in 0..c.data.ndim() {
            let mut want = c.data.clone();
            want.accumulate_axis_inplace(Axis(axis), |&prev, cur| *cur += prev);
            check(&c.array().cumsum(axis as isize).unwrap(), &want, &format!("cumsum along {axis}"));
        }
    }

    #[test]
    fn blockwise_contracts_and_aligns(c in case(2, 2, small_int())) {
        // Row sums through blockwise: "ij" -> "i".
        let sums = blockwise("i", &[(&c.array(), "ij")], |b| Ok(b[0].sum_axis(Axis(1)))).unwrap();
        check(&sums, &c.data.sum_axis(Axis(1)), "blockwise row sums");
        // Element-wise through blockwise with a transposed second operand: "ij","ji" -> "ij".
        let t = c.array().t();
        let both = blockwise("ij", &[(&c.array(), "ij"), (&t, "ji")], |b| Ok(&b[0] + &b[1].t())).unwrap();
        check(&both, &(&c.data * 2), "blockwise aligned");
    }

    #[test]
    fn qr_and_svd_of_tall_skinny(rows in axis_chunks(24, 4), n in 1usize..=4, data in data_for(&[24, 4], finite())) {
        let a: Array2<f64> = data.slice(ndarray::s![.., ..n]).to_owned();
        let x = Array::from_array(a.clone(), vec![rows.clone(), vec![n]]).unwrap();
        let (q, r) = x.qr().unwrap();
        for (q, r) in compute_all(&q, "q").into_iter().zip(compute_all(&r, "r")) {
            let q = q.into_dimensionality::<Ix2>().unwrap();
            let r = r.into_dimensionality::<Ix2>().unwrap();
            let back = q.dot(&r);
            prop_assert!(back.iter().zip(a.iter()).all(|(x, y)| (x - y).abs() <= 1e-9 * (1.0 + y.abs())));
            let qtq = q.t().dot(&q);
            let identity = |i: usize, j: usize| if i == j { 1.0 } else { 0.0 };
            let orthonormal = qtq.indexed_iter().all(|((i, j), v)| (v - identity(i, j)).abs() < 1e-9);
            prop_assert!(orthonormal);
        }
        let (u, s, vt) = x.svd().unwrap();
        let (u, s, vt) = (compute_all(&u, "u").remove(0), compute_all(&s, "s").remove(0), compute_all(&vt, "vt").remove(0));
        let u = u.into_dimensionality::<Ix2>().unwrap();
        let vt = vt.into_dimensionality::<Ix2>().unwrap();
        let us = (&u * &s.view().insert_axis(Axis(0))).into_dimensionality::<Ix2>().unwrap();
        let back = us.dot(&vt);
        prop_assert!(back.iter().zip(a.iter()).all(|(x, y)| (x - y).abs() <= 1e-9 * (1.0 + y.abs())));
        prop_assert!(s.iter().zip(s.iter().skip(1)).all(|(a, b)| a >= b));
    }
}

#[test]
fn qr_refuses_column_chunks_and_says_how_to_rechunk() {
    let x = Array::<f64>::ones(&[100, 30], [25, 10]).unwrap();
    let err = x.qr().unwrap_err().to_string();
    assert!(err.contains("3 chunks along its columns"), "{err}");
    assert!(err.contains(".rechunk([25, 30])"), "{err}");
}
