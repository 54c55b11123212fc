//! Tests against straightforward references and the defining properties of
//! each decomposition, over random shapes and layouts.

use ndarray::{Array1, Array2, ArrayView2, Axis, ShapeBuilder, s};
use proptest::prelude::*;

use super::*;
use crate::error::ArrayError;

// ---------------------------------------------------------------- helpers

/// Deterministic pseudo-random matrix (xorshift), values in [-1, 1).
fn rand_mat<T: Real>(m: usize, n: usize, seed: u64) -> Array2<T> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Array2::from_shape_simple_fn((m, n), || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        T::from_f64((state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
    })
}

fn to_f64<T: Real>(a: ArrayView2<'_, T>) -> Array2<f64> {
    a.mapv(T::to_f64)
}

/// Triple-loop product in f64.
fn naive_matmul<T: Real>(a: ArrayView2<'_, T>, b: ArrayView2<'_, T>) -> Array2<f64> {
    let (m, k) = a.dim();
    let n = b.ncols();
    let mut c = Array2::<f64>::zeros((m, n));
    for i in 0..m {
        for j in 0..n {
            let mut sum = 0.0;
            for p in 0..k {
                sum += a[[i, p]].to_f64() * b[[p, j]].to_f64();
            }
            c[[i, j]] = sum;
        }
    }
    c
}

fn max_abs_diff(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Tolerance for a computation on an `[m, n]` matrix of entries in [-1, 1].
fn tol<T: Real>(m: usize, n: usize) -> f64 {
    T::EPSILON.to_f64() * 64.0 * (1 + m.max(n)) as f64
}

fn identity(k: usize) -> Array2<f64> {
    Array2::from_diag(&Array1::ones(k))
}

/// Checks the thin QR of `a`: shapes, Q·R = A, QᵀQ = I, R upper triangular.
fn check_qr<T: Real>(
    a: ArrayView2<'_, T>,
    q: &Array2<T>,
    r: &Array2<T>,
) -> Result<(), TestCaseError> {
    let (m, n) = a.dim();
    let k = m.min(n);
    prop_assert_eq!(q.dim(), (m, k));
    prop_assert_eq!(r.dim(), (k, n));
    let (q, r) = (to_f64(q.view()), to_f64(r.view()));
    let t = tol::<T>(m, n);
    prop_assert!(max_abs_diff(&q.dot(&r), &to_f64(a)) <= t, "Q·R != A");
    prop_assert!(max_abs_diff(&q.t().dot(&q), &identity(k)) <= t, "QᵀQ != I");
    for ((i, j), x) in r.indexed_iter() {
        prop_assert!(
            j >= i || *x == 0.0,
            "R[{}, {}] = {} below the diagonal",
            i,
            j,
            x
        );
    }
    Ok(())
}

/// Checks the thin SVD of `a`: shapes, U·diag(S)·Vt = A, S descending and
/// non-negative, orthonormal U and Vt, rows of Vt with non-negative sums.
fn check_svd<T: Real>(
    a: ArrayView2<'_, T>,
    u: &Array2<T>,
    s: &Array1<T>,
    vt: &Array2<T>,
) -> Result<(), TestCaseError> {
    let (m, n) = a.dim();
    let k = m.min(n);
    prop_assert_eq!(u.dim(), (m, k));
    prop_assert_eq!(s.len(), k);
    prop_assert_eq!(vt.dim(), (k, n));
    let (u, vt) = (to_f64(u.view()), to_f64(vt.view()));
    let s = s.mapv(T::to_f64);
    let t = tol::<T>(m, n);
    let us = &u * &s.view().insert_axis(Axis(0));
    prop_assert!(max_abs_diff(&us.dot(&vt), &to_f64(a)) <= t, "U·S·Vt != A");
    prop_assert!(
        s.iter().all(|&x| x >= 0.0),
        "negative singular value in {:?}",
        s
    );
    prop_assert!(
        s.windows(2).into_iter().all(|w| w[0] >= w[1]),
        "not descending: {:?}",
        s
    );
    prop_assert!(max_abs_diff(&u.t().dot(&u), &identity(k)) <= t, "UᵀU != I");
    prop_assert!(
        max_abs_diff(&vt.dot(&vt.t()), &identity(k)) <= t,
        "Vt·V != I"
    );
    prop_assert!(
        vt.rows().into_iter().all(|row| row.sum() >= -t),
        "sign rule broken"
    );
    Ok(())
}

/// Random row-block sizes (some 0 or 1 row) and width.
fn blocks_strategy() -> impl Strategy<Value = (Vec<usize>, usize, u64)> {
    (
        prop::collection::vec(prop_oneof![Just(0usize), Just(1), 1usize..12], 1..6),
        1usize..6,
        any::<u64>(),
    )
}

fn make_blocks<T: Real>(rows: &[usize], n: usize, seed: u64) -> Vec<Array2<T>> {
    rows.iter()
        .enumerate()
        .map(|(i, &m)| rand_mat(m, n, seed.wrapping_add(i as u64)))
        .collect()
}

fn vstack<T: Real>(blocks: &[Array2<T>], n: usize) -> Array2<T> {
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    ndarray::concatenate(Axis(0), &views).unwrap_or_else(|_| Array2::zeros((0, n)))
}

fn check_tsqr<T: Real>(rows: &[usize], n: usize, seed: u64) -> Result<(), TestCaseError> {
    let blocks = make_blocks::<T>(rows, n, seed);
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    let (q, r) = tsqr_in_memory(&views).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(q.len(), blocks.len());
    for (q_i, b) in q.iter().zip(&blocks) {
        prop_assert_eq!(q_i.nrows(), b.nrows());
    }
    let a = vstack(&blocks, n);
    check_qr(a.view(), &vstack(&q, r.nrows()), &r)?;

    let (u, s, vt) = svd_in_memory(&views).map_err(|e| TestCaseError::fail(e.to_string()))?;
    check_svd(a.view(), &vstack(&u, s.len()), &s, &vt)?;
    let (_, s_direct, _) = svd(a.view()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let diff = s
        .iter()
        .zip(&s_direct)
        .map(|(x, y)| (x.to_f64() - y.to_f64()).abs())
        .fold(0.0, f64::max);
    prop_assert!(
        diff <= tol::<T>(a.nrows(), n),
        "S differs from the direct svd: {:?} vs {:?}",
        s,
        s_direct
    );
    Ok(())
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn matmul_matches_naive(m in 0usize..9, k in 0usize..9, n in 0usize..9, seed in any::<u64>()) {
        let a = rand_mat::<f64>(m, k, seed);
        let b = rand_mat::<f64>(k, n, seed ^ 1);
        let c = matmul(a.view(), b.view()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(max_abs_diff(&c, &naive_matmul(a.view(), b.view())) <= tol::<f64>(m, n.max(k)));

        let a32 = rand_mat::<f32>(m, k, seed);
        let b32 = rand_mat::<f32>(k, n, seed ^ 1);
        let c32 = matmul(a32.view(), b32.view()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(max_abs_diff(&to_f64(c32.view()), &naive_matmul(a32.view(), b32.view())) <= tol::<f32>(m, n.max(k)));
    }

    #[test]
    fn matmul_acc_sums_partial_products(m in 0usize..7, k1 in 0usize..6, k2 in 0usize..6, n in 0usize..7, seed in any::<u64>()) {
        // C = [A1 A2] · [B1; B2] = A1·B1 + A2·B2, accumulated into a start value.
        let start = rand_mat::<f64>(m, n, seed);
        let (a1, a2) = (rand_mat::<f64>(m, k1, seed ^ 2), rand_mat::<f64>(m, k2, seed ^ 3));
        let (b1, b2) = (rand_mat::<f64>(k1, n, seed ^ 4), rand_mat::<f64>(k2, n, seed ^ 5));
        let mut acc = start.clone();
        matmul_acc(&mut acc, a1.view(), b1.view()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        matmul_acc(&mut acc, a2.view(), b2.view()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected = &start + &naive_matmul(a1.view(), b1.view()) + naive_matmul(a2.view(), b2.view());
        prop_assert!(max_abs_diff(&acc, &expected) <= tol::<f64>(m, n + k1 + k2));
    }

    #[test]
    fn qr_properties(m in 0usize..10, n in 0usize..10, seed in any::<u64>()) {
        let a = rand_mat::<f64>(m, n, seed);
        let (q, r) = qr(a.view()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_qr(a.view(), &q, &r)?;
        let a32 = rand_mat::<f32>(m, n, seed);
        let (q, r) = qr(a32.view()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_qr(a32.view(), &q, &r)?;
    }

    #[test]
    fn svd_properties(m in 0usize..10, n in 0usize..10, seed in any::<u64>()) {
        let a = rand_mat::<f64>(m, n, seed);
        let (u, s, vt) = svd(a.view()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_svd(a.view(), &u, &s, &vt)?;
        let a32 = rand_mat::<f32>(m, n, seed);
        let (u, s, vt) = svd(a32.view()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check_svd(a32.view(), &u, &s, &vt)?;
    }

    #[test]
    fn tsqr_and_svd_over_uneven_blocks_f64((rows, n, seed) in blocks_strategy()) {
        check_tsqr::<f64>(&rows, n, seed)?;
    }

    #[test]
    fn tsqr_and_svd_over_uneven_blocks_f32((rows, n, seed) in blocks_strategy()) {
        check_tsqr::<f32>(&rows, n, seed)?;
    }

    #[test]
    fn reduction_groups_cover_blocks_in_order(rows in prop::collection::vec(0usize..40, 1..30), n in 1usize..10) {
        let max_rows = rows.iter().copied().max().unwrap_or(0);
        if let Some(groups) = tsqr_reduction_groups(&rows, n, max_rows) {
            let flat: Vec<usize> = groups.iter().flatten().copied().collect();
            prop_assert_eq!(flat, (0..rows.len()).collect::<Vec<_>>());
            for g in &groups {
                let stacked: usize = g.iter().map(|&i| rows[i].min(n)).sum();
                prop_assert!(g.len() == 1 || stacked <= max_rows);
            }
        }
    }
}

// ---------------------------------------------------------------- layouts

/// Views with odd strides: transposed, Fortran, stepped, negative step,
/// broadcast (zero stride).
#[test]
fn strided_views_match_standard_layout() {
    let base = rand_mat::<f64>(12, 10, 7);
    let fortran = {
        let mut f = Array2::<f64>::zeros((12, 10).f());
        f.assign(&base);
        f
    };
    let row = rand_mat::<f64>(1, 10, 8);
    let broadcast = row.broadcast((12, 10)).expect("broadcast 1x10 to 12x10");
    let views: Vec<(&str, ArrayView2<'_, f64>)> = vec![
        ("standard", base.view()),
        ("fortran", fortran.view()),
        ("transposed", base.t()),
        ("row step 2", base.slice(s![..;2, ..])),
        ("col step 3", base.slice(s![.., ..;3])),
        ("negative rows", base.slice(s![..;-1, ..])),
        ("negative both", base.slice(s![..;-2, ..;-1])),
        ("broadcast", broadcast),
        ("one row", base.slice(s![3..4, ..])),
        ("one col", base.slice(s![.., 4..5])),
    ];
    for (name, v) in views {
        let std = v.as_standard_layout().into_owned();
        let b = rand_mat::<f64>(v.ncols(), 3, 9);
        let bt = b.t().as_standard_layout().into_owned(); // b.t() of this is b with odd strides
        let got = matmul(v, bt.t()).expect("matmul");
        let want = matmul(std.view(), b.view()).expect("matmul");
        assert!(max_abs_diff(&got, &want) < 1e-12, "matmul rhs {name}");
        assert!(
            max_abs_diff(&got, &naive_matmul(v, b.view())) < 1e-12,
            "matmul naive {name}"
        );
        let c = rand_mat::<f64>(v.nrows(), 3, 10);
        let got = matmul(c.t(), v).expect("matmul");
        let want = matmul(c.t().as_standard_layout().view(), std.view()).expect("matmul");
        assert!(max_abs_diff(&got, &want) < 1e-12, "matmul lhs {name}");

        let (q, r) = qr(v).expect("qr");
        let (q0, r0) = qr(std.view()).expect("qr");
        assert!(
            max_abs_diff(&q, &q0) < 1e-12 && max_abs_diff(&r, &r0) < 1e-12,
            "qr {name}"
        );
        if name != "broadcast" {
            // A broadcast matrix has rank 1: its singular vectors for the
            // zero singular values are not unique.
            let (u, s, vt) = svd(v).expect("svd");
            let (u0, s0, vt0) = svd(std.view()).expect("svd");
            assert!(max_abs_diff(&u, &u0) < 1e-12, "svd U {name}");
            assert!(max_abs_diff(&vt, &vt0) < 1e-12, "svd Vt {name}");
            assert!(
                s.iter().zip(&s0).all(|(x, y)| (x - y).abs() < 1e-12),
                "svd S {name}"
            );
        }
    }
}

#[test]
fn matmul_acc_into_inverted_and_fortran_accumulators() {
    let a = rand_mat::<f64>(5, 4, 1);
    let b = rand_mat::<f64>(4, 6, 2);
    let start = rand_mat::<f64>(5, 6, 3);
    let expected = &start + &naive_matmul(a.view(), b.view());
    // Owned array with a negative stride.
    let mut inverted = start.slice(s![..;-1, ..]).as_standard_layout().into_owned();
    inverted.invert_axis(Axis(0));
    assert!(inverted.strides()[0] < 0);
    assert_eq!(inverted, start);
    matmul_acc(&mut inverted, a.view(), b.view()).expect("acc");
    assert!(max_abs_diff(&inverted, &expected) < 1e-12);
    let mut fortran = Array2::<f64>::zeros((5, 6).f());
    fortran.assign(&start);
    matmul_acc(&mut fortran, a.t().as_standard_layout().t(), b.view()).expect("acc");
    assert!(max_abs_diff(&fortran, &expected) < 1e-12);
}

// ---------------------------------------------------------------- tsqr specifics

#[test]
fn tsqr_matches_direct_qr_and_svd_on_a_fixed_matrix() {
    // Well separated singular values, so U and Vt are unique up to the sign
    // rule, which both paths apply.
    let rows = [5usize, 1, 0, 7, 3];
    let blocks = make_blocks::<f64>(&rows, 4, 42);
    let views: Vec<_> = blocks.iter().map(|b| b.view()).collect();
    let a = vstack(&blocks, 4);
    let (u, s, vt) = svd_in_memory(&views).expect("svd_in_memory");
    let (u0, s0, vt0) = svd(a.view()).expect("svd");
    assert!(
        s0.windows(2).into_iter().all(|w| w[0] - w[1] > 1e-3),
        "gaps {s0:?}"
    );
    assert!(max_abs_diff(&vstack(&u, 4), &u0) < 1e-12);
    assert!(max_abs_diff(&vt, &vt0) < 1e-12);
    assert!(s.iter().zip(&s0).all(|(x, y)| (x - y).abs() < 1e-12));
    // R from tsqr equals the direct R up to the sign of each row.
    let (_, r) = tsqr_in_memory(&views).expect("tsqr");
    let (_, r0) = qr(a.view()).expect("qr");
    for (i, (row, row0)) in r.rows().into_iter().zip(r0.rows()).enumerate() {
        let sign = if row[i] * row0[i] < 0.0 { -1.0 } else { 1.0 };
        assert!(
            row.iter()
                .zip(row0)
                .all(|(x, y)| (x - sign * y).abs() < 1e-12)
        );
    }
}

#[test]
fn tsqr_steps_shapes_and_short_array() {
    // 3 rows in total, 5 columns: short blocks and a short array still work.
    let blocks = [rand_mat::<f64>(2, 5, 1), rand_mat::<f64>(1, 5, 2)];
    let s1: Vec<_> = blocks
        .iter()
        .map(|b| tsqr_step1(b.view()).expect("step1"))
        .collect();
    assert_eq!(s1[0].0.dim(), (2, 2));
    assert_eq!(s1[0].1.dim(), (2, 5));
    let r1: Vec<_> = s1.iter().map(|(_, r)| r.view()).collect();
    let (q2, r) = tsqr_step2(&r1).expect("step2");
    assert_eq!(r.dim(), (3, 5));
    assert_eq!([q2[0].dim(), q2[1].dim()], [(2, 3), (1, 3)]);
    let q: Vec<_> = s1
        .iter()
        .zip(&q2)
        .map(|((q1, _), p)| tsqr_step3(q1.view(), p.view()).expect("step3"))
        .collect();
    let a = vstack(&blocks, 5);
    check_qr(a.view(), &vstack(&q, 3), &r).expect("valid qr");
}

#[test]
fn recursive_reduction_with_groups_is_a_valid_qr() {
    // Dask's recursive variant: stack the R1 of each group, tsqr those stacks,
    // then cut each group's inner Q back into per-block Q2 pieces.
    let rows = [6usize, 6, 6, 6, 6, 6, 5];
    let n = 3;
    let blocks = make_blocks::<f64>(&rows, n, 5);
    let groups = tsqr_reduction_groups(&rows, n, 6).expect("Dask recurses here");
    assert_eq!(groups, vec![vec![0, 1], vec![2, 3], vec![4, 5], vec![6]]);
    let s1: Vec<_> = blocks
        .iter()
        .map(|b| tsqr_step1(b.view()).expect("step1"))
        .collect();
    let stacks: Vec<Array2<f64>> = groups
        .iter()
        .map(|g| {
            let rs: Vec<_> = g.iter().map(|&i| s1[i].1.view()).collect();
            ndarray::concatenate(Axis(0), &rs).expect("stack")
        })
        .collect();
    let stack_views: Vec<_> = stacks.iter().map(|b| b.view()).collect();
    let (inner_q, r) = tsqr_in_memory(&stack_views).expect("inner tsqr");
    let mut q = Vec::new();
    for (g, q_g) in groups.iter().zip(&inner_q) {
        let mut start = 0;
        for &i in g {
            let k_i = s1[i].1.nrows();
            let piece = q_g.slice(s![start..start + k_i, ..]);
            q.push(tsqr_step3(s1[i].0.view(), piece).expect("step3"));
            start += k_i;
        }
    }
    check_qr(vstack(&blocks, n).view(), &vstack(&q, n), &r).expect("valid qr");
    assert_eq!(
        tsqr_reduction_groups(&[10, 10], 3, 10),
        None,
        "fits in one task"
    );
    assert_eq!(
        tsqr_reduction_groups(&[5, 5, 5], 3, 5),
        None,
        "blocks not tall enough to reduce"
    );
}

// ---------------------------------------------------------------- errors

#[test]
fn shape_mismatches_name_both_shapes() {
    let a = Array2::<f64>::zeros((3, 4));
    let b = Array2::<f64>::zeros((5, 2));
    let err = matmul(a.view(), b.view()).expect_err("mismatch");
    let msg = err.to_string();
    assert!(msg.contains("[3, 4]") && msg.contains("[5, 2]"), "{msg}");
    assert!(msg.contains("4 columns") && msg.contains("5 rows"), "{msg}");

    let mut acc = Array2::<f64>::zeros((3, 3));
    let b = Array2::<f64>::zeros((4, 2));
    let msg = matmul_acc(&mut acc, a.view(), b.view())
        .expect_err("acc")
        .to_string();
    assert!(msg.contains("[3, 3]") && msg.contains("[3, 2]"), "{msg}");

    let r1 = [Array2::<f64>::zeros((2, 3)), Array2::<f64>::zeros((2, 4))];
    let views: Vec<_> = r1.iter().map(|b| b.view()).collect();
    let msg = tsqr_step2(&views).expect_err("width").to_string();
    assert!(
        msg.contains("[2, 3]") && msg.contains("[2, 4]") && msg.contains("block 1"),
        "{msg}"
    );
    let msg = tsqr_in_memory(&views).expect_err("width").to_string();
    assert!(msg.contains("block 1 has 4"), "{msg}");

    let msg = tsqr_step3(
        Array2::<f64>::zeros((5, 3)).view(),
        Array2::<f64>::zeros((2, 3)).view(),
    )
    .expect_err("piece")
    .to_string();
    assert!(msg.contains("[5, 3]") && msg.contains("[2, 3]"), "{msg}");
    let msg = svd_u_block(
        Array2::<f64>::zeros((5, 3)).view(),
        Array2::<f64>::zeros((2, 2)).view(),
    )
    .expect_err("u_r")
    .to_string();
    assert!(msg.contains("[5, 3]") && msg.contains("[2, 2]"), "{msg}");
}

#[test]
fn check_tall_skinny_messages() {
    assert!(check_tall_skinny(&[100, 100, 50], &[30]).is_ok());
    // Short blocks are fine, as in Dask.
    assert!(check_tall_skinny(&[2, 0, 1], &[30]).is_ok());
    let err = check_tall_skinny(&[100, 100, 50], &[10, 10, 10]).expect_err("3 column chunks");
    assert_eq!(
        err.to_string(),
        "the array has 3 chunks along its columns (sizes [10, 10, 10]); tsqr/qr/svd need one: \
         call `.rechunk([100, 30])` with the whole column axis in one chunk"
    );
    assert!(matches!(
        check_tall_skinny(&[], &[3]),
        Err(ArrayError::NoBlocksFor { .. })
    ));
    let empty: &[ArrayView2<'_, f64>] = &[];
    assert!(matches!(
        tsqr_in_memory(empty),
        Err(ArrayError::NoBlocksFor { .. })
    ));
    assert!(matches!(
        tsqr_step2(empty),
        Err(ArrayError::NoBlocksFor { .. })
    ));
}

#[test]
fn svd_rejects_non_finite_values() {
    let mut a = rand_mat::<f64>(4, 3, 1);
    a[[2, 1]] = f64::NAN;
    let msg = svd(a.view()).expect_err("nan").to_string();
    assert!(
        msg.contains("[4, 3]") && msg.contains("[2, 1]") && msg.contains("NaN"),
        "{msg}"
    );
    // QR and matmul do not reject NaN: it propagates, without a panic.
    let (q, r) = qr(a.view()).expect("qr with NaN");
    assert!(q.iter().chain(&r).any(|x| x.is_nan()));
    a[[2, 1]] = f64::INFINITY;
    assert!(matches!(svd(a.view()), Err(ArrayError::NonFinite { .. })));
}

#[test]
fn rank_deficient_inputs_factor() {
    let zeros = Array2::<f64>::zeros((6, 3));
    let (q, r) = qr(zeros.view()).expect("qr of zeros");
    assert_eq!((q.dim(), r.dim()), ((6, 3), (3, 3)));
    assert!(r.iter().all(|&x| x == 0.0));
    let (u, s, vt) = svd(zeros.view()).expect("svd of zeros");
    assert!(s.iter().all(|&x| x == 0.0));
    check_svd(zeros.view(), &u, &s, &vt).expect("valid svd");
    let ones = Array2::<f64>::ones((5, 4));
    let (u, s, vt) = svd(ones.view()).expect("svd of rank 1");
    check_svd(ones.view(), &u, &s, &vt).expect("valid svd");
    assert!((s[0] - 20f64.sqrt()).abs() < 1e-12);
}
