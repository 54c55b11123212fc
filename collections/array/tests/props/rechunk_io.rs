//! Rechunking, `map_blocks`, `.npy` round trips and `store`.

use barrow_array::{Array, AxisChunks, ChunkSpec};
use ndarray::ArrayD;
use proptest::prelude::*;

use super::strategies::{Case, case, case_of, chunks_for, finite, shape, small_int};
use super::{check, compute_all, config};

/// A case and another random chunking of its shape.
fn rechunk_case() -> impl Strategy<Value = (Case<i64>, Vec<Vec<usize>>)> {
    shape(0, 4).prop_flat_map(|s| (case_of(s.clone(), small_int()), chunks_for(&s)))
}

/// What `size` blocks along an axis of `len` are.
fn regular(len: usize, size: usize) -> Vec<usize> {
    if len == 0 {
        return vec![0];
    }
    let mut blocks = vec![size; len / size];
    if !len.is_multiple_of(size) {
        blocks.push(len % size);
    }
    blocks
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn rechunk_keeps_values((c, target) in rechunk_case(), size in 1usize..=4) {
        let a = c.array();
        let got = a.rechunk(target.clone()).unwrap();
        assert_eq!(got.chunks().clone().into_inner(), target, "requested chunks");
        check(&got, &c.data, &format!("rechunk {:?} to {target:?}", c.chunks));
        // Then back, through a regular chunking.
        let uniform = got.rechunk(size).unwrap();
        let want: Vec<Vec<usize>> = c.shape().iter().map(|&n| regular(n, size)).collect();
        assert_eq!(uniform.chunks().clone().into_inner(), want, "chunks of size {size}");
        check(&uniform, &c.data, "rechunk to a size");
        check(&uniform.rechunk(-1).unwrap(), &c.data, "rechunk to one block");
        // Arithmetic between the two chunkings unifies them.
        check(&(&got - &a), &c.data.mapv(|_| 0), "rechunked - original");
    }

    #[test]
    fn rechunk_some_axes(
        (c, target) in rechunk_case(),
        keep in proptest::collection::vec(0u8..4, 4),
    ) {
        let request: Vec<Option<AxisChunks>> = target
            .iter()
            .zip(&keep)
            .map(|(blocks, &k)| match k {
                0 => None,
                1 => Some(AxisChunks::Full),
                2 => Some(AxisChunks::Size(2)),
                _ => Some(AxisChunks::Blocks(blocks.clone())),
            })
            .collect();
        let got = c.array().rechunk_axes(&request).unwrap();
        let shape = c.shape();
        let empty = !shape.is_empty() && shape.iter().all(|&n| n == 0);
        if !empty {
            let want: Vec<Vec<usize>> = request
                .iter()
                .enumerate()
                .map(|(axis, r)| match r {
                    None => c.chunks[axis].clone(),
                    Some(AxisChunks::Full) => vec![shape[axis]],
                    Some(AxisChunks::Size(s)) => regular(shape[axis], *s),
                    Some(AxisChunks::Blocks(b)) => b.clone(),
                    Some(_) => unreachable!(),
                })
                .collect();
            assert_eq!(got.chunks().clone().into_inner(), want, "rechunk_axes {request:?}");
        }
        check(&got, &c.data, "rechunk_axes");
    }

    #[test]
    fn staged_rechunk_keeps_values(
        (c, target) in rechunk_case(),
        (f, other) in shape(1, 3).prop_flat_map(|s| (case_of(s.clone(), finite()), chunks_for(&s))),
        ones_shape in shape(1, 3),
    ) {
        // A budget of nothing: every step stages its pieces through files.
        let _budget = barrow_core::config::scoped([("array.rechunk.memory-budget", "0")]).unwrap();
        let staged = |a: &Array<i64>| a.graph_ref().keys().any(|k| k.name().starts_with("rechunk-stage"));
        let got = c.array().rechunk(target.clone()).unwrap();
        assert_eq!(got.chunks().clone().into_inner(), target, "requested chunks");
        if target != c.chunks && !c.data.is_empty() {
            assert!(staged(&got), "a budget of 0 stages every step with data");
        }
        check(&got, &c.data, &format!("staged rechunk {:?} to {target:?}", c.chunks));
        check(&f.array().rechunk(other.clone()).unwrap(), &f.data, "staged rechunk of f64");
        // Filled blocks are cut in memory.
        let ones = Array::<f64>::ones(&ones_shape, 2).unwrap();
        let want = ArrayD::from_elem(ndarray::IxDyn(&ones_shape), 1.0);
        check(&ones.rechunk(3).unwrap(), &want, "staged rechunk of ones");
    }

    #[test]
    fn rechunk_auto_keeps_values(c in case(0, 3, finite())) {
        let got = c.array().rechunk(ChunkSpec::Auto).unwrap();
        check(&got, &c.data, "rechunk auto");
    }

    #[test]
    fn map_blocks_with_copies(c in case(0, 4, small_int())) {
        let a = c.array();
        let copied = a.map_blocks(|block| Ok(block.to_owned()));
        assert_eq!(copied.chunks(), a.chunks(), "map_blocks keeps the chunks");
        check(&copied, &c.data, "map_blocks copy");
        let doubled = a.map_blocks(|block| Ok(block.mapv(|v| v as f64 * 2.0)));
        check(&doubled, &c.data.mapv(|v| v as f64 * 2.0), "map_blocks to f64");
        check(&(&doubled + 1.0).sum_axis(barrow_array::Axes::from(Vec::new())), &c.data.mapv(|v| v as f64 * 2.0 + 1.0), "sum over no axes");
    }

    #[test]
    fn npy_round_trip(
        (c, other) in shape(0, 4).prop_flat_map(|s| (case_of(s.clone(), finite()), chunks_for(&s))),
        b in case(0, 3, any::<bool>()),
        u in case(0, 3, any::<u8>()),
        i in case(0, 3, small_int()),
    ) {
        let dir = tempfile::tempdir().unwrap();
        round_trip(&c, &other, &dir.path().join("f.npy"));
        round_trip(&b, &b.chunks, &dir.path().join("b.npy"));
        round_trip(&u, &u.chunks, &dir.path().join("u.npy"));
        round_trip(&i, &i.chunks, &dir.path().join("i.npy"));
    }

    #[test]
    fn store_fills_the_target(c in case(0, 4, finite())) {
        barrow_local::link();
        let mut out = ArrayD::from_elem(c.data.raw_dim(), f64::NAN);
        (c.array() * 1.0).store(&mut out).unwrap();
        super::assert_close(&out, &c.data, "store");
        let mut wrong = ArrayD::from_elem(vec![c.data.len() + 1], 0.0);
        assert!(c.array().store(&mut wrong).is_err(), "store into a wrong shape must fail");
    }
}

/// Writes the array with its chunks, reads it back with `read_chunks`, on
/// every scheduler.
fn round_trip<T>(c: &Case<T>, read_chunks: &[Vec<usize>], path: &std::path::Path)
where
    T: barrow_array::Element + barrow_array::io::npy::NpyElement + super::Close,
{
    let written = compute_all(&c.array().to_npy(path).unwrap(), "to_npy");
    assert_eq!(written[0], path, "to_npy gives the path");
    let back = Array::<T>::from_npy(path, read_chunks.to_vec()).unwrap();
    assert_eq!(
        back.chunks().clone().into_inner(),
        read_chunks,
        "from_npy chunks"
    );
    check(
        &back,
        &c.data,
        &format!("npy round trip of {:?}", c.shape()),
    );
}
