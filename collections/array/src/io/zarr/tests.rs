//! Tests of the Zarr back end.

use std::path::{Path, PathBuf};

use ndarray::{ArrayD, Dimension, IxDyn, SliceInfoElem};
use proptest::prelude::*;
use tempfile::TempDir;

use super::*;
use crate::error::{ArrayError, NotArrayReason};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn uncompressed() -> ZarrOptions {
    ZarrOptions {
        compression: None,
        ..ZarrOptions::default()
    }
}

/// `original[start..start + shape]` as an owned standard-layout array.
fn slice<T: Clone>(original: &ArrayD<T>, start: &[u64], shape: &[u64]) -> ArrayD<T> {
    let info: Vec<SliceInfoElem> = start
        .iter()
        .zip(shape)
        .map(|(&s, &n)| SliceInfoElem::from(s as usize..(s + n) as usize))
        .collect();
    original.slice(info.as_slice()).to_owned()
}

/// Every start of a block when axis `len` is cut at the given chunk multiples.
fn cuts(len: u64, chunk: u64, multiples: &[u64]) -> Vec<u64> {
    let mut cuts: Vec<u64> = multiples
        .iter()
        .map(|m| m * chunk)
        .filter(|&c| c > 0 && c < len)
        .collect();
    cuts.push(0);
    cuts.push(len);
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Writes `original` block by block, cut along each axis at `bounds`.
fn write_blocks<T: ZarrElement>(
    path: &Path,
    original: &ArrayD<T>,
    bounds: &[Vec<u64>],
) -> TestResult {
    let nblocks: Vec<usize> = bounds.iter().map(|b| b.len().saturating_sub(1)).collect();
    if nblocks.contains(&0) {
        return Ok(());
    }
    for index in ndarray::indices(IxDyn(&nblocks)) {
        let start: Vec<u64> = (0..bounds.len()).map(|a| bounds[a][index[a]]).collect();
        let shape: Vec<u64> = (0..bounds.len())
            .map(|a| bounds[a][index[a] + 1] - bounds[a][index[a]])
            .collect();
        let block = slice(original, &start, &shape);
        write_region(path, &start, block.view())?;
    }
    Ok(())
}

macro_rules! round_trip {
    ($name:ident, $t:ty, $value:expr) => {
        #[test]
        fn $name() -> TestResult {
            let dir = TempDir::new()?;
            let path = dir.path().join("a");
            let shape = [5u64, 7];
            let meta = create::<$t>(&path, &shape, &[2, 3], &ZarrOptions::default())?;
            assert_eq!(meta.dtype, <$t as ZarrElement>::ZARR_TYPE);
            assert_eq!(open(&path)?, meta);
            let f: fn(usize) -> $t = $value;
            let original = ArrayD::from_shape_fn(IxDyn(&[5, 7]), |i| f(i[0] * 7 + i[1]));
            write_blocks(&path, &original, &[vec![0, 2, 4, 5], vec![0, 6, 7]])?;
            assert_eq!(read_region::<$t>(&path, &[0, 0], &shape)?, original);
            assert_eq!(
                read_region::<$t>(&path, &[1, 2], &[3, 4])?,
                slice(&original, &[1, 2], &[3, 4])
            );
            Ok(())
        }
    };
}

round_trip!(round_trip_f64, f64, |i| i as f64 * 0.5 - 3.0);
round_trip!(round_trip_f32, f32, |i| i as f32 * 0.25 - 1.0);
round_trip!(round_trip_i64, i64, |i| i as i64 * -1_000_000_007);
round_trip!(round_trip_i32, i32, |i| i as i32 * -7);
round_trip!(round_trip_u64, u64, |i| u64::MAX - i as u64);
round_trip!(round_trip_u32, u32, |i| i as u32 * 3);
round_trip!(round_trip_u8, u8, |i| (i * 37 % 256) as u8);
round_trip!(round_trip_i8, i8, |i| (i % 256) as u8 as i8);
round_trip!(round_trip_bool, bool, |i| i % 3 == 0);

#[test]
fn files_are_zarr_json_and_chunk_keys() -> TestResult {
    let dir = TempDir::new()?;
    let path = dir.path().join("a");
    create::<f64>(&path, &[4, 4], &[2, 2], &uncompressed())?;
    write_region(
        &path,
        &[2, 0],
        ArrayD::from_elem(IxDyn(&[2, 2]), 1.5).view(),
    )?;
    assert!(path.join("zarr.json").is_file());
    assert!(path.join("c/1/0").is_file());
    assert_eq!(std::fs::metadata(path.join("c/1/0"))?.len(), 32);
    assert!(!path.join("c/0/0").exists());
    Ok(())
}

#[test]
fn fill_values_and_unwritten_chunks() -> TestResult {
    let dir = TempDir::new()?;
    let nan = ZarrOptions {
        fill_value: Some(f64::NAN),
        ..ZarrOptions::default()
    };
    let p = dir.path().join("nan");
    create::<f64>(&p, &[3, 3], &[2, 2], &nan)?;
    assert!(
        read_region::<f64>(&p, &[0, 0], &[3, 3])?
            .iter()
            .all(|v| v.is_nan())
    );

    let minus_one = ZarrOptions {
        fill_value: Some(-1.0),
        ..ZarrOptions::default()
    };
    let p = dir.path().join("i32");
    create::<i32>(&p, &[3], &[2], &minus_one)?;
    write_region(&p, &[0], ArrayD::from_elem(IxDyn(&[2]), 4).view())?;
    assert_eq!(
        read_region::<i32>(&p, &[0], &[3])?
            .into_raw_vec_and_offset()
            .0,
        [4, 4, -1]
    );

    let p = dir.path().join("bool");
    let one = ZarrOptions {
        fill_value: Some(1.0),
        ..ZarrOptions::default()
    };
    create::<bool>(&p, &[2], &[2], &one)?;
    assert!(read_region::<bool>(&p, &[0], &[2])?.iter().all(|&b| b));

    for (bad, name) in [(1.5, "b1"), (300.0, "b2"), (-1.0, "b3")] {
        let options = ZarrOptions {
            fill_value: Some(bad),
            ..ZarrOptions::default()
        };
        let err = create::<u8>(&dir.path().join(name), &[2], &[2], &options);
        assert!(
            matches!(&err, Err(ArrayError::InvalidOptions { message, .. }) if message.contains("not representable as uint8")),
            "{err:?}"
        );
    }
    let options = ZarrOptions {
        fill_value: Some(2.0),
        ..ZarrOptions::default()
    };
    let err = create::<bool>(&dir.path().join("b4"), &[2], &[2], &options);
    assert!(
        matches!(err, Err(ArrayError::InvalidOptions { .. })),
        "{err:?}"
    );
    let options = ZarrOptions {
        fill_value: Some(9_223_372_036_854_775_808.0), // 2^63
        ..ZarrOptions::default()
    };
    let err = create::<i64>(&dir.path().join("b5"), &[2], &[2], &options);
    assert!(
        matches!(err, Err(ArrayError::InvalidOptions { .. })),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn unaligned_and_strided_writes() -> TestResult {
    let dir = TempDir::new()?;
    let path = dir.path().join("a");
    create::<i32>(&path, &[7, 5], &[3, 2], &ZarrOptions::default())?;
    let mut expected = ArrayD::<i32>::zeros(IxDyn(&[7, 5]));
    let block = ArrayD::from_shape_fn(IxDyn(&[4, 3]), |i| (i[0] * 10 + i[1]) as i32 + 1);
    write_region(&path, &[2, 1], block.view())?;
    expected.slice_mut(ndarray::s![2..6, 1..4]).assign(&block);
    // A transposed (non-standard-layout) view.
    let t = ArrayD::from_shape_fn(IxDyn(&[2, 2]), |i| (i[0] * 2 + i[1]) as i32 + 100);
    write_region(&path, &[5, 3], t.t())?;
    expected.slice_mut(ndarray::s![5..7, 3..5]).assign(&t.t());
    assert_eq!(read_region::<i32>(&path, &[0, 0], &[7, 5])?, expected);
    Ok(())
}

#[test]
fn zero_dimensional_and_empty() -> TestResult {
    let dir = TempDir::new()?;
    let path = dir.path().join("scalar");
    create::<f64>(&path, &[], &[], &ZarrOptions::default())?;
    write_region(&path, &[], ArrayD::from_elem(IxDyn(&[]), 2.5).view())?;
    assert_eq!(
        read_region::<f64>(&path, &[], &[])?,
        ArrayD::from_elem(IxDyn(&[]), 2.5)
    );

    let path = dir.path().join("empty");
    let meta = create::<u8>(&path, &[0, 3], &[2, 2], &ZarrOptions::default())?;
    assert_eq!(meta.shape, [0, 3]);
    write_region(&path, &[0, 0], ArrayD::<u8>::zeros(IxDyn(&[0, 3])).view())?;
    assert_eq!(read_region::<u8>(&path, &[0, 1], &[0, 2])?.shape(), [0, 2]);
    let err = read_region::<u8>(&path, &[1, 0], &[0, 1]);
    assert!(
        matches!(err, Err(ArrayError::ZarrOutOfBounds { .. })),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn create_overwrite_rules() -> TestResult {
    let dir = TempDir::new()?;
    let path = dir.path().join("a");
    create::<f64>(&path, &[4], &[2], &ZarrOptions::default())?;
    write_region(&path, &[0], ArrayD::from_elem(IxDyn(&[4]), 1.0).view())?;
    let err = create::<f64>(&path, &[4], &[2], &ZarrOptions::default());
    assert!(
        matches!(&err, Err(e @ ArrayError::AlreadyExists { .. }) if e.to_string().contains("set overwrite")),
        "{err:?}"
    );
    let overwrite = ZarrOptions {
        overwrite: true,
        ..ZarrOptions::default()
    };
    let meta = create::<i32>(&path, &[3, 3], &[3, 1], &overwrite)?;
    assert_eq!(meta.chunk_shape, [3, 1]);
    assert!(!path.join("c/0").exists());
    assert_eq!(
        read_region::<i32>(&path, &[0, 0], &[3, 3])?,
        ArrayD::<i32>::zeros(IxDyn(&[3, 3]))
    );

    // A non-Zarr folder or a file is never replaced.
    let plain = dir.path().join("plain");
    std::fs::create_dir(&plain)?;
    std::fs::write(plain.join("notes.txt"), "keep me")?;
    let err = create::<f64>(&plain, &[1], &[1], &overwrite);
    assert!(
        matches!(err, Err(ArrayError::AlreadyExists { .. })),
        "{err:?}"
    );
    assert!(plain.join("notes.txt").is_file());
    let file = plain.join("notes.txt");
    let err = create::<f64>(&file, &[1], &[1], &overwrite);
    assert!(
        matches!(err, Err(ArrayError::AlreadyExists { .. })),
        "{err:?}"
    );
    // An empty folder is used.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty)?;
    create::<f64>(&empty, &[1], &[1], &ZarrOptions::default())?;
    Ok(())
}

#[test]
fn bad_create_arguments() -> TestResult {
    let dir = TempDir::new()?;
    let p = dir.path().join("a");
    let err = create::<f64>(&p, &[4, 4], &[2], &ZarrOptions::default());
    assert!(
        matches!(
            err,
            Err(ArrayError::ZarrDimensionMismatch {
                what: "chunk shape",
                got: 1,
                expected: 2,
                ..
            })
        ),
        "{err:?}"
    );
    let err = create::<f64>(&p, &[4], &[0], &ZarrOptions::default());
    assert!(
        matches!(err, Err(ArrayError::InvalidOptions { .. })),
        "{err:?}"
    );
    let lz4 = ZarrOptions {
        compression: Some(("lz4".to_owned(), 1)),
        ..ZarrOptions::default()
    };
    let err = create::<f64>(&p, &[4], &[2], &lz4);
    assert!(
        matches!(&err, Err(ArrayError::UnknownCompression { name }) if name == "lz4"),
        "{err:?}"
    );
    assert_eq!(
        err.err().map(|e| e.to_string()).unwrap_or_default(),
        "unknown compression \"lz4\": the supported one is \"zstd\" (or none, for uncompressed)"
    );
    let level = ZarrOptions {
        compression: Some(("zstd".to_owned(), 99)),
        ..ZarrOptions::default()
    };
    let err = create::<f64>(&p, &[4], &[2], &level);
    assert!(
        matches!(err, Err(ArrayError::InvalidOptions { .. })),
        "{err:?}"
    );
    assert!(!p.exists(), "nothing is created on bad options");
    Ok(())
}

fn not_array_reason(path: &Path) -> Option<NotArrayReason> {
    match open(path) {
        Err(ArrayError::NotAnArray { reason, .. }) => Some(reason),
        _ => None,
    }
}

#[test]
fn paths_that_are_not_arrays() -> TestResult {
    let dir = TempDir::new()?;
    let root = dir.path();
    let shown = |p: &PathBuf| p.display().to_string();

    let missing = root.join("missing");
    assert_eq!(not_array_reason(&missing), Some(NotArrayReason::Missing));

    let plain = root.join("plain");
    std::fs::create_dir(&plain)?;
    assert_eq!(not_array_reason(&plain), Some(NotArrayReason::NoMetadata));
    let err = read_region::<f64>(&plain, &[0], &[1])
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.unwrap_or_default(),
        format!(
            "{} is not a Zarr array: no zarr.json in the folder; give the path of an array inside the store",
            shown(&plain)
        )
    );

    let file = root.join("file");
    std::fs::write(&file, "x")?;
    assert_eq!(not_array_reason(&file), Some(NotArrayReason::NotAFolder));

    let group = root.join("group");
    std::fs::create_dir(&group)?;
    std::fs::write(
        group.join("zarr.json"),
        r#"{"zarr_format":3,"node_type":"group","attributes":{}}"#,
    )?;
    create::<f64>(&group.join("child"), &[2], &[2], &ZarrOptions::default())?;
    assert_eq!(not_array_reason(&group), Some(NotArrayReason::Group));
    let err = write_region(&group, &[0], ArrayD::from_elem(IxDyn(&[1]), 1.0).view());
    assert_eq!(
        err.err().map(|e| e.to_string()).unwrap_or_default(),
        format!(
            "{} is not a Zarr array: its zarr.json describes a group, not an array; give the path of an array inside the store",
            shown(&group)
        )
    );
    assert!(open(&group.join("child")).is_ok());

    let v2 = root.join("v2");
    std::fs::create_dir(&v2)?;
    std::fs::write(v2.join(".zarray"), r#"{"zarr_format":2}"#)?;
    assert_eq!(not_array_reason(&v2), Some(NotArrayReason::ZarrV2Array));
    let v2g = root.join("v2g");
    std::fs::create_dir(&v2g)?;
    std::fs::write(v2g.join(".zgroup"), r#"{"zarr_format":2}"#)?;
    assert_eq!(not_array_reason(&v2g), Some(NotArrayReason::ZarrV2Group));

    let garbage = root.join("garbage");
    std::fs::create_dir(&garbage)?;
    std::fs::write(garbage.join("zarr.json"), "{not json")?;
    assert!(
        matches!(not_array_reason(&garbage), Some(NotArrayReason::Unparsable(m)) if m.starts_with("not JSON"))
    );
    std::fs::write(
        garbage.join("zarr.json"),
        r#"{"zarr_format":2,"node_type":"array"}"#,
    )?;
    assert!(
        matches!(not_array_reason(&garbage), Some(NotArrayReason::Unparsable(m)) if m.contains("zarr_format"))
    );
    std::fs::write(
        garbage.join("zarr.json"),
        r#"{"zarr_format":3,"node_type":"table"}"#,
    )?;
    assert!(
        matches!(not_array_reason(&garbage), Some(NotArrayReason::Unparsable(m)) if m.contains("node_type"))
    );
    Ok(())
}

/// Rewrites `key` of the array's `zarr.json` to `value`.
fn edit_metadata(path: &Path, key: &str, value: serde_json::Value) -> TestResult {
    let text = std::fs::read(path.join("zarr.json"))?;
    let mut json: serde_json::Value = serde_json::from_slice(&text)?;
    if let Some(object) = json.as_object_mut() {
        object.insert(key.to_owned(), value);
    }
    std::fs::write(path.join("zarr.json"), serde_json::to_vec(&json)?)?;
    Ok(())
}

#[test]
fn arrays_this_module_cannot_use() -> TestResult {
    let dir = TempDir::new()?;
    let rect = dir.path().join("rect");
    create::<f64>(&rect, &[6], &[2], &ZarrOptions::default())?;
    edit_metadata(
        &rect,
        "chunk_grid",
        serde_json::json!({"name": "rectilinear", "configuration": {"kind": "inline", "chunk_shapes": [[1, 2, 3]]}}),
    )?;
    let err = open(&rect);
    assert!(
        matches!(&err, Err(ArrayError::IrregularChunks { grid, .. }) if grid == "rectilinear"),
        "{err:?}"
    );

    let blosc = dir.path().join("blosc");
    create::<f64>(&blosc, &[6], &[2], &ZarrOptions::default())?;
    edit_metadata(
        &blosc,
        "codecs",
        serde_json::json!([{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5, "shuffle": "shuffle", "typesize": 8, "blocksize": 0}}]),
    )?;
    let err = open(&blosc);
    assert!(
        matches!(&err, Err(ArrayError::Zarr { message, .. }) if message.contains("blosc")),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn dtype_and_bounds_errors() -> TestResult {
    let dir = TempDir::new()?;
    let path = dir.path().join("a");
    create::<i32>(&path, &[4, 6], &[2, 3], &ZarrOptions::default())?;
    let shown = path.display().to_string();

    let err = read_region::<f64>(&path, &[0, 0], &[1, 1]);
    assert!(
        matches!(&err, Err(ArrayError::ZarrDtypeMismatch { stored, requested: "f64", .. }) if stored == "int32"),
        "{err:?}"
    );
    assert_eq!(
        err.err().map(|e| e.to_string()).unwrap_or_default(),
        format!("{shown} holds int32 values, not f64")
    );
    let err = write_region(
        &path,
        &[0, 0],
        ArrayD::from_elem(IxDyn(&[1, 1]), 1u8).view(),
    );
    assert!(
        matches!(
            err,
            Err(ArrayError::ZarrDtypeMismatch {
                requested: "u8",
                ..
            })
        ),
        "{err:?}"
    );

    let err = read_region::<i32>(&path, &[3, 0], &[2, 6]);
    assert_eq!(
        err.err().map(|e| e.to_string()).unwrap_or_default(),
        format!(
            "region starting at [3, 0] with shape [2, 6] is out of bounds of {shown}, whose shape is [4, 6]"
        )
    );
    let err = read_region::<i32>(&path, &[u64::MAX, 0], &[2, 1]);
    assert!(
        matches!(err, Err(ArrayError::ZarrOutOfBounds { .. })),
        "{err:?}"
    );
    let err = write_region(
        &path,
        &[0, 5],
        ArrayD::from_elem(IxDyn(&[1, 2]), 1i32).view(),
    );
    assert!(
        matches!(err, Err(ArrayError::ZarrOutOfBounds { .. })),
        "{err:?}"
    );
    let err = read_region::<i32>(&path, &[0], &[1, 1]);
    assert!(
        matches!(
            err,
            Err(ArrayError::ZarrDimensionMismatch { what: "start", .. })
        ),
        "{err:?}"
    );
    let err = read_region::<i32>(&path, &[0, 0], &[1]);
    assert!(
        matches!(
            err,
            Err(ArrayError::ZarrDimensionMismatch {
                what: "region shape",
                ..
            })
        ),
        "{err:?}"
    );
    let err = write_region(
        &path,
        &[0, 0],
        ArrayD::from_elem(IxDyn(&[1, 1, 1]), 1i32).view(),
    );
    assert!(
        matches!(
            err,
            Err(ArrayError::ZarrDimensionMismatch {
                what: "block",
                got: 3,
                expected: 2,
                ..
            })
        ),
        "{err:?}"
    );
    Ok(())
}

/// A shape of 1 to 3 axes (extents 0..=9), a chunk shape, and for each
/// axis the chunk multiples at which the writer cuts its blocks.
fn layout() -> impl Strategy<Value = (Vec<u64>, Vec<u64>, Vec<Vec<u64>>)> {
    prop::collection::vec(
        (0u64..=9, 1u64..=5, prop::collection::vec(0u64..=5, 0..=3)),
        1..=3,
    )
    .prop_map(|axes| {
        let shape = axes.iter().map(|a| a.0).collect();
        let chunks = axes.iter().map(|a| a.1).collect();
        let multiples = axes.into_iter().map(|a| a.2).collect();
        (shape, chunks, multiples)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn aligned_writes_then_random_reads(
        (shape, chunks, multiples) in layout(),
        reads in prop::collection::vec(prop::collection::vec((0.0f64..1.0, 0.0f64..1.0), 3), 4),
        compressed in any::<bool>(),
    ) {
        let run = || -> TestResult {
            let dir = TempDir::new()?;
            let path = dir.path().join("a");
            let options = if compressed { ZarrOptions::default() } else { uncompressed() };
            create::<f64>(&path, &shape, &chunks, &options)?;
            let dims: Vec<usize> = shape.iter().map(|&n| n as usize).collect();
            let original = ArrayD::from_shape_fn(IxDyn(&dims), |i| {
                i.as_array_view().iter().fold(1.0, |acc, &x| acc * 10.0 + x as f64)
            });
            let bounds: Vec<Vec<u64>> = (0..shape.len())
                .map(|a| cuts(shape[a], chunks[a], &multiples[a]))
                .collect();
            write_blocks(&path, &original, &bounds)?;
            assert_eq!(read_region::<f64>(&path, &vec![0; shape.len()], &shape)?, original.clone());
            for read in &reads {
                let (start, size): (Vec<u64>, Vec<u64>) = shape
                    .iter()
                    .zip(read)
                    .map(|(&len, &(a, b))| {
                        let s = (a * (len + 1) as f64) as u64 % (len + 1);
                        let n = (b * (len - s + 1) as f64) as u64 % (len - s + 1);
                        (s, n)
                    })
                    .unzip();
                assert_eq!(read_region::<f64>(&path, &start, &size)?, slice(&original, &start, &size));
            }
            Ok(())
        };
        run().map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

#[test]
fn concurrent_aligned_writes() -> TestResult {
    let dir = TempDir::new()?;
    let path = dir.path().join("a");
    create::<u32>(&path, &[6, 6], &[3, 2], &ZarrOptions::default())?;
    let original = ArrayD::from_shape_fn(IxDyn(&[6, 6]), |i| (i[0] * 6 + i[1]) as u32 + 1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2u64)
            .flat_map(|i| (0..3u64).map(move |j| (i * 3, j * 2)))
            .map(|(r, c)| {
                let (path, original) = (&path, &original);
                scope.spawn(move || {
                    let block = slice(original, &[r, c], &[3, 2]);
                    write_region(path, &[r, c], block.view())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| "writer panicked")?
                    .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<()>, _>>()
    })?;
    assert_eq!(read_region::<u32>(&path, &[0, 0], &[6, 6])?, original);
    Ok(())
}
