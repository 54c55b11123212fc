//! Rechunks through intermediate chunkings (a tiny `array.chunk-size`
//! forces multi-step plans), and `.npy` files written by hand in Fortran
//! order.

use std::io::Write;

use barrow_array::{Array, ChunkSpec};
use ndarray::{ArrayD, Dimension, IxDyn, ShapeBuilder};
use proptest::prelude::*;

use super::strategies::{case_of, chunks_for, shape, small_int};
use super::{check, config};

/// The bytes of a version 1.0 `.npy` file of little-endian i64 `data`,
/// written in Fortran order.
fn fortran_npy(data: &ArrayD<i64>) -> Vec<u8> {
    let shape: Vec<String> = data.shape().iter().map(usize::to_string).collect();
    let tuple = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!("({})", shape.join(", ")),
    };
    let mut header = format!("{{'descr': '<i8', 'fortran_order': True, 'shape': {tuple}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    // Fortran order: the first axis varies fastest.
    for v in data.t().iter() {
        out.extend(v.to_le_bytes());
    }
    out
}

proptest! {
    #![proptest_config(config(16))]

    #[test]
    fn rechunk_under_a_tiny_chunk_size(
        (c, target) in shape(1, 3).prop_flat_map(|s| (case_of(s.clone(), small_int()), chunks_for(&s))),
        limit in prop_oneof![Just("8B"), Just("24B"), Just("64B")],
    ) {
        // The plan is made on this thread, under the scoped limit.
        let got = barrow_core::config::with_scoped([("array.chunk-size", limit)], || {
            c.array().rechunk(target.clone())
        }).unwrap().unwrap();
        assert_eq!(got.chunks().clone().into_inner(), target, "requested chunks");
        check(&got, &c.data, &format!("rechunk {:?} -> {target:?} under {limit}", c.chunks));
        let auto = barrow_core::config::with_scoped([("array.chunk-size", limit)], || {
            c.array().rechunk(ChunkSpec::Auto)
        }).unwrap();
        match auto {
            Ok(auto) => check(&auto, &c.data, &format!("rechunk auto under {limit}")),
            // A target below one element cannot be met; saying so is right.
            Err(e) => assert!(limit == "8B" || e.to_string().contains("chunk"), "{e}"),
        }
    }

    #[test]
    fn fortran_order_npy(
        (s, chunks) in shape(1, 3).prop_flat_map(|s| (Just(s.clone()), chunks_for(&s))),
    ) {
        let data = ArrayD::from_shape_fn(IxDyn(&s).f(), |ix| {
            ix.as_array_view().iter().enumerate().map(|(k, &i)| (i * 10usize.pow(k as u32)) as i64).sum()
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.npy");
        std::fs::File::create(&path).unwrap().write_all(&fortran_npy(&data)).unwrap();
        let x = Array::<i64>::from_npy(&path, chunks.clone()).unwrap();
        check(&x, &data, &format!("Fortran-order {s:?} read in {chunks:?}"));
        // Copied out (in C order) and read back.
        let dir2 = tempfile::tempdir().unwrap();
        let copy = dir2.path().join("c.npy");
        super::compute_all(&(&x + 1).to_npy(&copy).unwrap(), "to_npy");
        check(&Array::<i64>::from_npy(&copy, -1).unwrap(), &data.mapv(|v| v + 1), "copy");
    }
}
