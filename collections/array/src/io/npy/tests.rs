//! Tests of `.npy` reading and writing.

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn, SliceInfoElem, s};
use proptest::prelude::*;

use super::header::{encode_header, parse_dict};
use super::*;
use crate::error::ArrayError;

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.npy");
    (dir, path)
}

/// An array of `shape` whose elements are `f(linear index)`.
fn make<T>(shape: &[usize], f: impl Fn(usize) -> T) -> ArrayD<T> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n).map(f).collect()).unwrap()
}

/// The slice of `a` at `[start, start + extent)`.
fn slice_of<T: Clone>(a: &ArrayD<T>, start: &[usize], extent: &[usize]) -> ArrayD<T> {
    let info: Vec<SliceInfoElem> = start
        .iter()
        .zip(extent)
        .map(|(&s, &e)| SliceInfoElem::from(s..s + e))
        .collect();
    a.slice(info.as_slice()).to_owned()
}

const SHAPES: &[&[usize]] = &[&[], &[0], &[1], &[7], &[3, 0, 2], &[2, 3, 4], &[1, 1, 5, 1]];

fn round_trip<T: NpyElement + PartialEq + Debug>(f: impl Fn(usize) -> T) {
    for shape in SHAPES {
        let (_dir, path) = tmp();
        let a = make(shape, &f);
        write(&path, a.view()).unwrap();
        let h = read_header(&path).unwrap();
        assert_eq!(h.descr, T::DESCR);
        assert_eq!(h.shape, *shape);
        assert!(!h.fortran_order);
        assert_eq!(h.data_offset % 64, 0);
        assert_eq!(read::<T>(&path).unwrap(), a, "shape {shape:?}");
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(len, h.data_offset + (a.len() * T::SIZE) as u64);

        // The same through create + write_region of the whole array.
        let created = create::<T>(&path, shape).unwrap();
        assert_eq!(created, h);
        write_region(&path, &vec![0; shape.len()], a.view()).unwrap();
        assert_eq!(read::<T>(&path).unwrap(), a, "shape {shape:?}");
    }
}

#[test]
fn round_trip_every_type() {
    round_trip(|i| i as f64 * 0.5 - 3.25);
    round_trip(|i| i as f32 * -1.5);
    round_trip(|i| i as i64 * -1_000_000_007);
    round_trip(|i| i as i32 * -7);
    round_trip(|i| u64::MAX - i as u64);
    round_trip(|i| u32::MAX - i as u32);
    round_trip(|i| (i * 37) as u8);
    round_trip(|i| (i as i8).wrapping_mul(-5));
    round_trip(|i| i % 3 == 0);
}

#[test]
fn special_floats_keep_their_bits() {
    let (_dir, path) = tmp();
    let vals = [f64::NAN, f64::INFINITY, -0.0, f64::MIN_POSITIVE, f64::MAX];
    let a = ArrayD::from_shape_vec(IxDyn(&[5]), vals.to_vec()).unwrap();
    write(&path, a.view()).unwrap();
    let b = read::<f64>(&path).unwrap();
    for (x, y) in a.iter().zip(b.iter()) {
        assert_eq!(x.to_bits(), y.to_bits());
    }
}

#[test]
fn header_is_aligned_version_1_text() {
    let bytes = encode_header("<f8", false, &[2, 3]);
    assert_eq!(bytes.len(), 128);
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    assert_eq!(u16::from_le_bytes([bytes[8], bytes[9]]), 118);
    let text = std::str::from_utf8(&bytes[10..]).unwrap();
    assert!(text.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }"));
    assert!(text.ends_with(" \n"));
    assert!(String::from_utf8_lossy(&encode_header("|b1", true, &[4])).contains("'shape': (4,)"));
    assert!(String::from_utf8_lossy(&encode_header("|b1", false, &[])).contains("'shape': ()"));
}

#[test]
fn long_headers_use_version_2() {
    let (_dir, path) = tmp();
    let shape = vec![1usize; 22_000];
    let h = create::<u8>(&path, &shape).unwrap();
    assert!(h.data_offset > 65_535);
    assert_eq!(h.data_offset % 64, 0);
    assert_eq!(&std::fs::read(&path).unwrap()[6..8], &[2, 0]);
    assert_eq!(read_header(&path).unwrap(), h);
    let block = ArrayD::from_elem(IxDyn(&shape), 9u8);
    write_region(&path, &vec![0; shape.len()], block.view()).unwrap();
    assert_eq!(
        read::<u8>(&path)
            .unwrap()
            .iter()
            .copied()
            .collect::<Vec<_>>(),
        vec![9]
    );
}

#[test]
fn parses_numpy_dict_spellings() {
    let (d, f, s) =
        parse_dict("{'descr': '<i8', 'fortran_order': True, 'shape': (3L, 4L), }   \n").unwrap();
    assert_eq!((d.as_str(), f, s), ("<i8", true, vec![3, 4]));
    let (_, _, s) =
        parse_dict("{\"shape\": (5,), \"fortran_order\": False, \"descr\": \"|u1\"}").unwrap();
    assert_eq!(s, vec![5]);
    let (_, _, s) = parse_dict("{'descr':'<f4','fortran_order':False,'shape':()}").unwrap();
    assert!(s.is_empty());
    for (bad, part) in [
        (
            "{'descr': '<f8', 'fortran_order': False}",
            "'shape' is missing",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3), }",
            "'shape' is an integer",
        ),
        (
            "{'descr': '<f8', 'fortran_order': 0, 'shape': (3,), }",
            "'fortran_order'",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }",
            "invalid length -1",
        ),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'x': 1}",
            "unexpected key",
        ),
        (
            "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (3,)}",
            "structured",
        ),
        ("{'descr': '<f8', 'descr': '<f8'}", "twice"),
        ("{'descr': '<f8' 'x'}", "garbage"),
        ("{'descr': '<f8', 'fortran_order': Flase}", "unknown name"),
        (
            "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999999999999999999999,)}",
            "too large",
        ),
        ("{'descr': '<f8'", "ends early"),
        ("['descr']", "not a dict"),
        ("{} x", "after the header dict"),
    ] {
        let err = parse_dict(bad).unwrap_err();
        assert!(err.contains(part), "{bad:?} gave {err:?}, wanted {part:?}");
    }
    let deep = format!("{}{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(parse_dict(&deep).unwrap_err().contains("deeper"));
}

/// Writes a file with a hand-made header and `data`.
fn raw_file(path: &Path, header: &[u8], data: &[u8]) {
    std::fs::write(path, [header, data].concat()).unwrap();
}

#[test]
fn corrupt_files_give_the_right_error() {
    let (_dir, path) = tmp();
    let good = encode_header("<f8", false, &[4]);

    raw_file(&path, b"PK\x03\x04 not an npy file", &[]);
    let err = read::<f64>(&path).unwrap_err();
    assert!(matches!(err, ArrayError::NotNpy { .. }), "{err}");
    assert!(
        err.to_string().contains("a.npy is not an .npy file"),
        "{err}"
    );

    raw_file(&path, b"", &[]);
    assert!(matches!(read_header(&path), Err(ArrayError::NotNpy { .. })));

    raw_file(&path, b"\x93NUM", &[]);
    assert!(matches!(
        read_header(&path),
        Err(ArrayError::BadHeader { .. })
    ));

    raw_file(&path, b"\x93NUMPY\x04\x00\x10\x00", &[]);
    let err = read_header(&path).unwrap_err();
    assert!(
        matches!(
            err,
            ArrayError::UnsupportedVersion {
                major: 4,
                minor: 0,
                ..
            }
        ),
        "{err}"
    );

    // Truncated header: cut inside the dict, and inside the length field.
    raw_file(&path, &good[..40], &[]);
    let err = read_header(&path).unwrap_err();
    assert!(
        matches!(err, ArrayError::BadHeader { .. }) && err.to_string().contains("truncated"),
        "{err}"
    );
    raw_file(&path, &good[..9], &[]);
    assert!(matches!(
        read_header(&path),
        Err(ArrayError::BadHeader { .. })
    ));

    // A version 2 length field claiming 4 GiB.
    raw_file(&path, b"\x93NUMPY\x02\x00\xff\xff\xff\xff{}", &[]);
    assert!(matches!(
        read_header(&path),
        Err(ArrayError::BadHeader { .. })
    ));

    // Header lying about the shape: 4 elements promised, 3 present.
    raw_file(&path, &good, &[0u8; 24]);
    let err = read::<f64>(&path).unwrap_err();
    assert!(
        matches!(
            err,
            ArrayError::Truncated {
                expected: 160,
                actual: 152,
                ..
            }
        ),
        "{err}"
    );
    // A shape of 2^40 elements in a tiny file fails before allocating.
    raw_file(
        &path,
        &encode_header("<f8", false, &[1 << 20, 1 << 20]),
        &[],
    );
    assert!(matches!(
        read::<f64>(&path),
        Err(ArrayError::Truncated { .. })
    ));
    assert!(matches!(
        read_region::<f64>(&path, &[0, 0], &[1, 1]),
        Err(ArrayError::Truncated { .. })
    ));
    // A shape whose element count overflows.
    raw_file(
        &path,
        &encode_header("<f8", false, &[1 << 40, 1 << 40]),
        &[],
    );
    let err = read_header(&path).unwrap_err();
    assert!(matches!(err, ArrayError::BadHeader { .. }), "{err}");

    // Garbage dict.
    let mut garbage = good.clone();
    garbage[10..20].copy_from_slice(b"{'descr' ?");
    raw_file(&path, &garbage, &[0u8; 32]);
    let err = read::<f64>(&path).unwrap_err();
    assert!(
        matches!(err, ArrayError::BadHeader { .. }) && err.to_string().contains("byte 9"),
        "{err}"
    );

    // A bool byte that is neither 0 nor 1.
    raw_file(&path, &encode_header("|b1", false, &[3]), &[1, 2, 0]);
    let err = read::<bool>(&path).unwrap_err();
    assert!(
        matches!(err, ArrayError::InvalidData { .. }) && err.to_string().contains("a.npy"),
        "{err}"
    );

    // Missing file.
    let err = read::<f64>(&path.with_extension("missing")).unwrap_err();
    assert!(
        matches!(err, ArrayError::Io { .. }) && err.to_string().contains("a.missing"),
        "{err}"
    );
}

#[test]
fn dtype_mismatch_names_both_types() {
    let (_dir, path) = tmp();
    write(&path, make(&[3], |i| i as i32).view()).unwrap();
    let err = read::<f64>(&path).unwrap_err();
    assert!(matches!(err, ArrayError::DtypeMismatch { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "{} holds <i4 (int32) values, not f64; read it as i32 or convert after reading",
            path.display()
        )
    );
    let err = write_region(&path, &[0], make(&[1], |_| 1u8).view()).unwrap_err();
    assert!(err.to_string().contains("not u8; read it as i32"), "{err}");

    raw_file(&path, &encode_header(">f8", false, &[1]), &[0; 8]);
    let err = read::<f64>(&path).unwrap_err().to_string();
    assert!(
        err.contains(">f8 (big-endian float64) values, not f64"),
        "{err}"
    );
    raw_file(&path, &encode_header("<c16", false, &[1]), &[0; 16]);
    let err = read::<f64>(&path).unwrap_err().to_string();
    assert!(
        err.contains("<c16 (complex128) values, not f64; that dtype is not supported"),
        "{err}"
    );
    // One-byte types match whatever byte order they are spelled with.
    raw_file(&path, &encode_header("<u1", false, &[2]), &[7, 8]);
    assert_eq!(read::<u8>(&path).unwrap(), make(&[2], |i| 7 + i as u8));
}

#[test]
fn regions_out_of_bounds_or_of_the_wrong_rank() {
    let (_dir, path) = tmp();
    create::<f32>(&path, &[4, 5]).unwrap();
    let block = make(&[2, 2], |i| i as f32);
    for start in [&[3usize, 0][..], &[0, 4], &[usize::MAX, 0], &[0]] {
        let err = write_region(&path, start, block.view()).unwrap_err();
        assert!(matches!(err, ArrayError::OutOfBounds { .. }), "{err}");
    }
    let err = read_region::<f32>(&path, &[0, 0], &[5, 1]).unwrap_err();
    assert!(
        err.to_string()
            .contains("does not fit in the array of shape [4, 5]"),
        "{err}"
    );
    assert!(matches!(
        read_region::<f32>(&path, &[0, 0, 0], &[1, 1, 1]),
        Err(ArrayError::OutOfBounds { .. })
    ));
    // Empty regions at the far edge are fine.
    assert_eq!(
        read_region::<f32>(&path, &[4, 5], &[0, 0]).unwrap().shape(),
        &[0, 0]
    );
    assert_eq!(
        read_region::<f32>(&path, &[1, 5], &[2, 0]).unwrap().shape(),
        &[2, 0]
    );
}

#[test]
fn created_files_read_as_zeros_and_take_any_block_layout() {
    let (_dir, path) = tmp();
    create::<i64>(&path, &[3, 4, 5]).unwrap();
    assert_eq!(
        read::<i64>(&path).unwrap(),
        ArrayD::<i64>::zeros(IxDyn(&[3, 4, 5]))
    );

    let full = make(&[3, 4, 5], |i| i as i64);
    // Transposed (Fortran-layout) block.
    let t = full.t().to_owned();
    let block = t.slice(s![.., 1..3, ..]).reversed_axes();
    write_region(&path, &[0, 1, 0], block.into_dyn()).unwrap();
    // Strided view with negative step.
    let rev = full.slice(s![.., ..;-1, ..]).to_owned();
    let block = rev.slice(s![.., ..;-1, ..]);
    write_region(&path, &[0, 0, 0], block.slice(s![.., 0..1, ..]).into_dyn()).unwrap();
    write_region(&path, &[0, 3, 0], full.slice(s![.., 3..4, ..]).into_dyn()).unwrap();
    assert_eq!(read::<i64>(&path).unwrap(), full);
}

#[test]
fn fortran_order_files_are_read_and_written() {
    let (_dir, path) = tmp();
    let a = make(&[3, 4, 2], |i| i as u32 * 3);
    // NumPy stores a Fortran-order array as the C-order data of its transpose.
    let mut data = Vec::new();
    let transposed = a.t().as_standard_layout().into_owned();
    u32::write_le(transposed.as_slice().unwrap(), &mut data);
    raw_file(&path, &encode_header("<u4", true, &[3, 4, 2]), &data);
    assert!(read_header(&path).unwrap().fortran_order);
    let b = read::<u32>(&path).unwrap();
    assert!(b.is_standard_layout());
    assert_eq!(b, a);
    let r = read_region::<u32>(&path, &[1, 1, 0], &[2, 2, 1]).unwrap();
    assert!(r.is_standard_layout());
    assert_eq!(r, slice_of(&a, &[1, 1, 0], &[2, 2, 1]));

    let mut expected = a.clone();
    let block = make(&[2, 3, 2], |i| 1000 + i as u32);
    expected.slice_mut(s![1..3, 0..3, ..]).assign(&block);
    write_region(&path, &[1, 0, 0], block.view()).unwrap();
    assert_eq!(read::<u32>(&path).unwrap(), expected);
}

#[test]
fn disjoint_regions_written_from_threads() {
    let (_dir, path) = tmp();
    let full = make(&[8, 6, 5], |i| i as f64);
    create::<f64>(&path, full.shape()).unwrap();
    std::thread::scope(|scope| {
        for i in 0..4 {
            for j in 0..2 {
                let (path, full) = (&path, &full);
                scope.spawn(move || {
                    let start = [i * 2, j * 3, 0];
                    let block = slice_of(full, &start, &[2, 3, 5]);
                    write_region(path, &start, block.view()).unwrap();
                });
            }
        }
    });
    assert_eq!(read::<f64>(&path).unwrap(), full);
}

/// A shape of up to 4 axes of up to 5 elements, and a chunk size per axis.
fn shape_and_chunks() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, u64)> {
    prop::collection::vec(0usize..=5, 0..=4).prop_flat_map(|shape| {
        let chunks: Vec<_> = shape.iter().map(|&n| 1usize..=n.max(1)).collect();
        (Just(shape), chunks, any::<u64>())
    })
}

/// A shape and a region inside it.
fn shape_and_region() -> impl Strategy<Value = (Vec<usize>, Vec<usize>, Vec<usize>)> {
    prop::collection::vec(0usize..=5, 0..=4).prop_flat_map(|shape| {
        let starts: Vec<_> = shape.iter().map(|&n| 0..=n).collect();
        (Just(shape), starts).prop_flat_map(|(shape, start)| {
            let extents: Vec<_> = shape.iter().zip(&start).map(|(&n, &s)| 0..=n - s).collect();
            (Just(shape), Just(start), extents)
        })
    })
}

/// The tiles of `shape` cut into `chunks`, as (start, extent) pairs.
fn tiles(shape: &[usize], chunks: &[usize]) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut out = vec![(Vec::new(), Vec::new())];
    for (&n, &c) in shape.iter().zip(chunks) {
        let mut next = Vec::new();
        for (start, extent) in &out {
            let mut s = 0;
            while s < n {
                let e = c.min(n - s);
                let (mut st, mut ex) = (start.clone(), extent.clone());
                st.push(s);
                ex.push(e);
                next.push((st, ex));
                s += e;
            }
        }
        out = next;
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn tiled_writes_rebuild_the_array((shape, chunks, seed) in shape_and_chunks()) {
        let (_dir, path) = tmp();
        let full = make(&shape, |i| i as i32 + 1);
        create::<i32>(&path, &shape).unwrap();
        let mut tiles = tiles(&shape, &chunks);
        // Fisher-Yates with a small LCG, so tiles land in a random order.
        let mut state = seed | 1;
        for k in (1..tiles.len()).rev() {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            tiles.swap(k, (state >> 33) as usize % (k + 1));
        }
        for (start, extent) in &tiles {
            write_region(&path, start, slice_of(&full, start, extent).view()).unwrap();
        }
        prop_assert_eq!(read::<i32>(&path).unwrap(), full);
    }

    #[test]
    fn region_reads_match_slicing((shape, start, extent) in shape_and_region()) {
        let (_dir, path) = tmp();
        let full = make(&shape, |i| (i as f64).sqrt());
        write(&path, full.view()).unwrap();
        let got = read_region::<f64>(&path, &start, &extent).unwrap();
        prop_assert!(got.is_standard_layout());
        prop_assert_eq!(got, slice_of(&full, &start, &extent));
    }

    #[test]
    fn region_writes_touch_only_the_region((shape, start, extent) in shape_and_region()) {
        let (_dir, path) = tmp();
        let mut full = make(&shape, |i| i % 2 == 0);
        write(&path, full.view()).unwrap();
        let block = make(&extent, |i| i % 3 == 0);
        write_region(&path, &start, block.view()).unwrap();
        let info: Vec<SliceInfoElem> =
            start.iter().zip(&extent).map(|(&s, &e)| SliceInfoElem::from(s..s + e)).collect();
        full.slice_mut(info.as_slice()).assign(&block);
        prop_assert_eq!(read::<bool>(&path).unwrap(), full);
    }
}

/// The (file offset, region index) of each run, and the run length.
fn runs_of(shape: &[usize], start: &[usize], extent: &[usize]) -> (Vec<(usize, usize)>, usize) {
    let runs = super::region::Runs::new(shape, start, extent).unwrap();
    let mut out = Vec::new();
    runs.try_for_each(|file, region| {
        out.push((file, region));
        Ok::<(), ()>(())
    })
    .unwrap();
    (out, runs.run_len())
}

#[test]
fn runs_are_coalesced() {
    // Whole array, and a 0-d array: one run.
    assert_eq!(
        runs_of(&[4, 5, 6], &[0, 0, 0], &[4, 5, 6]),
        (vec![(0, 0)], 120)
    );
    assert_eq!(runs_of(&[], &[], &[]), (vec![(0, 0)], 1));
    // Full trailing axes: one run per index of the leading partial axis.
    assert_eq!(
        runs_of(&[4, 5, 6], &[1, 0, 0], &[2, 5, 6]),
        (vec![(30, 0)], 60)
    );
    assert_eq!(
        runs_of(&[4, 5, 6], &[1, 2, 0], &[2, 1, 6]),
        (vec![(42, 0), (72, 6)], 6)
    );
    // Partial innermost axis: one run per row.
    let (runs, len) = runs_of(&[4, 5, 6], &[0, 1, 2], &[1, 2, 3]);
    assert_eq!((runs, len), (vec![(8, 0), (14, 3)], 3));
    assert!(super::region::Runs::new(&[4, 5], &[0, 0], &[4, 0]).is_none());
}
