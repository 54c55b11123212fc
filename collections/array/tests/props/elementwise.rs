//! Element-wise operations, with NumPy broadcasting between differently
//! chunked operands, against `ndarray`.

use barrow_array::{Array, where_};
use ndarray::{ArrayD, IxDyn, Zip};
use proptest::prelude::*;

use super::strategies::{
    Case, broadcastable, case, case_of, finite, nonzero_int, pair, shape, small_int,
};
use super::{broadcast_shape, check, config, ref_zip};

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn integer_arithmetic_broadcasts((x, y) in pair(small_int(), small_int())) {
        let (a, b) = (x.array(), y.array());
        check(&(&a + &b), &ref_zip(&x.data, &y.data, |p, q| p + q), "a + b");
        check(&(&a - &b), &ref_zip(&x.data, &y.data, |p, q| p - q), "a - b");
        check(&(a.clone() * b.clone()), &ref_zip(&x.data, &y.data, |p, q| p * q), "a * b");
        // A chain, fused into one task per block, reusing blocks in place.
        let chained = (&(&a + 1) * 2) - &b;
        check(&chained, &ref_zip(&x.data, &y.data, |p, q| (p + 1) * 2 - q), "(a + 1) * 2 - b");
    }

    #[test]
    fn integer_division_broadcasts((x, y) in pair(small_int(), nonzero_int())) {
        let (a, b) = (x.array(), y.array());
        check(&(&a / &b), &ref_zip(&x.data, &y.data, |p, q| p / q), "a / b");
        check(&(&a % &b), &ref_zip(&x.data, &y.data, |p, q| p % q), "a % b");
    }

    #[test]
    fn float_arithmetic_broadcasts((x, y) in pair(finite(), finite())) {
        let (a, b) = (x.array(), y.array());
        check(&(&a + &b), &ref_zip(&x.data, &y.data, |p, q| p + q), "a + b");
        check(&(&a - &b), &ref_zip(&x.data, &y.data, |p, q| p - q), "a - b");
        check(&(&a * &b), &ref_zip(&x.data, &y.data, |p, q| p * q), "a * b");
        check(&(&a / &b), &ref_zip(&x.data, &y.data, |p, q| p / q), "a / b");
        check(&(&b % &a), &ref_zip(&y.data, &x.data, |p, q| p % q), "b % a");
    }

    #[test]
    fn scalars_on_either_side(x in case(0, 4, nonzero_int()), s in nonzero_int()) {
        let a = x.array();
        let d = &x.data;
        check(&(&a + s), &d.mapv(|v| v + s), "a + s");
        check(&(s + &a), &d.mapv(|v| s + v), "s + a");
        check(&(&a - s), &d.mapv(|v| v - s), "a - s");
        check(&(s - &a), &d.mapv(|v| s - v), "s - a");
        check(&(&a * s), &d.mapv(|v| v * s), "a * s");
        check(&(s * a.clone()), &d.mapv(|v| s * v), "s * a");
        check(&(&a / s), &d.mapv(|v| v / s), "a / s");
        check(&(s / &a), &d.mapv(|v| s / v), "s / a");
        check(&(&a % s), &d.mapv(|v| v % s), "a % s");
        check(&(s % &a), &d.mapv(|v| s % v), "s % a");
        let f = x.data.mapv(|v| v as f64 * 0.5);
        let af = Array::from_array(f.clone(), x.chunks.clone()).unwrap();
        check(&(2.5 - &af), &f.mapv(|v| 2.5 - v), "2.5 - af");
        check(&(&af / 4.0), &f.mapv(|v| v / 4.0), "af / 4");
    }

    #[test]
    fn unary_maps_and_casts(x in case(0, 4, finite()), lo in -50.0f64..0.0, width in 0.0f64..60.0) {
        let a = x.array();
        let d = &x.data;
        check(&(-&a), &d.mapv(|v| -v), "-a");
        check(&a.abs(), &d.mapv(f64::abs), "abs");
        check(&a.clip(lo, lo + width), &d.mapv(|v| v.max(lo).min(lo + width)), "clip");
        check(&a.map(|v| v * 3.0 + 1.0), &d.mapv(|v| v * 3.0 + 1.0), "map");
        check(&a.map_into(|v| v > 0.0), &d.mapv(|v| v > 0.0), "map_into");
        check(&a.astype::<i32>(), &d.mapv(|v| v as i32), "astype i32");
        check(&a.astype::<u8>(), &d.mapv(|v| v as u8), "astype u8 (saturating)");
        check(&a.astype::<bool>(), &d.mapv(|v| v != 0.0), "astype bool");
        check(&a.astype::<bool>().astype::<i64>(), &d.mapv(|v| i64::from(v != 0.0)), "bool to i64");
        check(&a.astype::<f32>(), &d.mapv(|v| v as f32), "astype f32");
        let i = a.astype::<i64>();
        check(&(-&i).abs(), &d.mapv(|v| (v as i64).abs()), "integer abs");
        check(&i.clip(-2, 2), &d.mapv(|v| (v as i64).clamp(-2, 2)), "integer clip");
    }

    #[test]
    fn maximum_minimum_broadcast((x, y) in pair(small_int(), small_int()), s in small_int()) {
        let (a, b) = (x.array(), y.array());
        check(&a.maximum(&b), &ref_zip(&x.data, &y.data, |p, q| p.max(q)), "maximum");
        check(&a.minimum(&b), &ref_zip(&x.data, &y.data, |p, q| p.min(q)), "minimum");
        check(&a.maximum(s), &x.data.mapv(|v| v.max(s)), "maximum scalar");
        check(&b.minimum(s), &y.data.mapv(|v| v.min(s)), "minimum scalar");
    }

    #[test]
    fn comparisons_broadcast((x, y) in pair(small_int(), small_int()), s in small_int()) {
        let (a, b) = (x.array(), y.array());
        let (p, q) = (&x.data, &y.data);
        check(&a.equal(&b), &ref_zip(p, q, |u, v| u == v), "equal");
        check(&a.not_equal(&b), &ref_zip(p, q, |u, v| u != v), "not_equal");
        check(&a.less(&b), &ref_zip(p, q, |u, v| u < v), "less");
        check(&a.less_equal(&b), &ref_zip(p, q, |u, v| u <= v), "less_equal");
        check(&a.greater(&b), &ref_zip(p, q, |u, v| u > v), "greater");
        check(&a.greater_equal(&b), &ref_zip(p, q, |u, v| u >= v), "greater_equal");
        check(&a.less(s), &p.mapv(|u| u < s), "less scalar");
        check(&a.equal(s), &p.mapv(|u| u == s), "equal scalar");
    }

    #[test]
    fn boolean_logic_broadcasts((x, y) in pair(any::<bool>(), any::<bool>()), s in any::<bool>()) {
        let (a, b) = (x.array(), y.array());
        let (p, q) = (&x.data, &y.data);
        check(&(&a & &b), &ref_zip(p, q, |u, v| u & v), "a & b");
        check(&(&a | &b), &ref_zip(p, q, |u, v| u | v), "a | b");
        check(&(a.clone() ^ b.clone()), &ref_zip(p, q, |u, v| u ^ v), "a ^ b");
        check(&!&a, &p.mapv(|u| !u), "!a");
        check(&(&a & s), &p.mapv(|u| u & s), "a & s");
        check(&a.logical_or(s), &p.mapv(|u| u | s), "logical_or scalar");
        check(&a.logical_xor(&b).logical_not(), &ref_zip(p, q, |u, v| !(u ^ v)), "!(a xor b)");
        check(&a.logical_and(&b), &ref_zip(p, q, |u, v| u && v), "logical_and");
    }

    #[test]
    fn float_functions(x in case(0, 3, finite())) {
        let a = x.array();
        let d = &x.data;
        let pos = a.abs() + 0.5;
        let dpos = d.mapv(|v| v.abs() + 0.5);
        check(&pos.sqrt(), &dpos.mapv(f64::sqrt), "sqrt");
        check(&pos.ln(), &dpos.mapv(f64::ln), "ln");
        check(&pos.log10(), &dpos.mapv(f64::log10), "log10");
        check(&pos.log2(), &dpos.mapv(f64::log2), "log2");
        check(&(&a / 50.0).exp(), &d.mapv(|v| (v / 50.0).exp()), "exp");
        check(&a.sin(), &d.mapv(f64::sin), "sin");
        check(&a.cos(), &d.mapv(f64::cos), "cos");
        check(&(&a / 100.0).tan(), &d.mapv(|v| (v / 100.0).tan()), "tan");
        check(&a.tanh(), &d.mapv(f64::tanh), "tanh");
        check(&a.floor(), &d.mapv(f64::floor), "floor");
        check(&a.ceil(), &d.mapv(f64::ceil), "ceil");
        check(&a.round(), &d.mapv(f64::round), "round");
        check(&a.powi(3), &d.mapv(|v| v.powi(3)), "powi");
        check(&pos.powf(1.5), &dpos.mapv(|v| v.powf(1.5)), "powf");
        check(&(-&pos).sqrt().is_nan(), &dpos.mapv(|v| (-v).sqrt().is_nan()), "is_nan");
    }

    #[test]
    fn zip_with_mixes_types((x, y) in pair(small_int(), finite())) {
        let (a, b) = (x.array(), y.array());
        let got = a.zip_with(&b, |p: i64, q: f64| p as f64 * q);
        check(&got, &ref_zip(&x.data, &y.data, |p, q| p as f64 * q), "zip_with i64 f64");
        let cmp = a.zip_with(2i64, |p: i64, q: i64| p > q);
        check(&cmp, &x.data.mapv(|p| p > 2), "zip_with scalar");
    }

    #[test]
    fn where_broadcasts_three_ways(
        (c, a, b) in shape(0, 4).prop_flat_map(|full| {
            (broadcastable(full.clone()), broadcastable(full.clone()), broadcastable(full))
        }).prop_flat_map(|(sc, sa, sb)| {
            (case_of(sc, any::<bool>()), case_of(sa, small_int()), case_of(sb, small_int()))
        }),
        s in small_int(),
    ) {
        let want = ref_where(&c, &a, &b);
        check(&where_(&c.array(), a.array(), b.array()), &want, "where(c, a, b)");
        let want_scalar = ref_zip(&c.data, &a.data, |k, v| if k { s } else { v });
        check(&where_(&c.array(), s, a.array()), &want_scalar, "where(c, s, a)");
        let want_both = c.data.mapv(|k| if k { 1i64 } else { s });
        check(&where_(&c.array(), 1i64, s), &want_both, "where(c, 1, s)");
    }
}

/// NumPy's `where` of three broadcast operands.
fn ref_where(c: &Case<bool>, a: &Case<i64>, b: &Case<i64>) -> ArrayD<i64> {
    let ab = broadcast_shape(a.data.shape(), b.data.shape()).unwrap();
    let shape = broadcast_shape(c.data.shape(), &ab).unwrap();
    let (cv, av, bv) = (
        c.data.broadcast(IxDyn(&shape)).unwrap(),
        a.data.broadcast(IxDyn(&shape)).unwrap(),
        b.data.broadcast(IxDyn(&shape)).unwrap(),
    );
    Zip::from(&cv)
        .and(&av)
        .and(&bv)
        .map_collect(|&k, &x, &y| if k { x } else { y })
}
