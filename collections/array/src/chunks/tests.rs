//! Cases ported from `dask/array/tests/test_array_core.py` and the docstrings of
//! `dask/array/core.py` (inputs and expected chunks kept), then property tests.
//!
//! Dropped, and why:
//! - NaN (unknown) chunk sizes: `test_normalize_chunks_nan`, the `((nan,),)` case of
//!   `test_normalize_chunks`, the NaN docstring example. Chunks here are always known.
//! - `test_normalize_chunks_object_dtype`: no object dtypes; the caller gives the item size.
//! - `blockdims_from_blockshape((10,), None)`, `test_raise_on_no_chunks`: missing
//!   arguments cannot be expressed in Rust. The `np.int8` and float (`1e2`) shapes of
//!   `test_blockdims_from_blockshape` are plain integers here.
//! - `normalize_chunks_cached`: no cache here.
//! - `test_nbytes_auto` cases where a byte string conflicts with `limit=`: `limit_bytes`
//!   is always passed (from configuration), so a byte target in the request replaces it;
//!   two different targets in one request still fail.
//! - `normalize_chunks((1,), ())` returning `()`: extra chunks for a 0-d shape are
//!   an error here. Calls without a shape take the shape their blocks imply.
//! - Array-level tests (`from_array`, `asarray`, h5py, `ones`) keep only their chunk
//!   arithmetic; dict chunks become one [`AxisChunks`] per axis ([`AxisChunks::Full`]
//!   for unmentioned axes, as Dask's `normalize_chunks` does).

use proptest::prelude::*;

use super::*;

const MIB: u64 = 1 << 20;

fn norm(spec: impl Into<ChunkSpec>, shape: &[usize], itemsize: usize, limit: u64) -> Chunks {
    try_norm(spec, shape, itemsize, limit, None).unwrap()
}

fn norm_prev(
    spec: impl Into<ChunkSpec>,
    shape: &[usize],
    itemsize: usize,
    limit: u64,
    previous: Vec<Vec<usize>>,
) -> Chunks {
    let previous = Chunks::from_vec_unchecked(previous);
    try_norm(spec, shape, itemsize, limit, Some(&previous)).unwrap()
}

fn try_norm(
    spec: impl Into<ChunkSpec>,
    shape: &[usize],
    itemsize: usize,
    limit: u64,
    previous: Option<&Chunks>,
) -> Result<Chunks, ArrayError> {
    normalize_chunks(
        &spec.into(),
        shape,
        itemsize,
        limit,
        DEFAULT_CHUNK_SIZE_TOLERANCE,
        previous,
    )
}

fn b<const N: usize>(axes: [&[usize]; N]) -> Vec<Vec<usize>> {
    axes.iter().map(|a| a.to_vec()).collect()
}

fn rep(value: usize, count: usize) -> Vec<usize> {
    vec![value; count]
}

fn cat(parts: &[&[usize]]) -> Vec<usize> {
    parts.concat()
}

use AxisChunks::{Auto, Blocks, Bytes, Full, Size};

#[test]
fn blockdims_from_blockshape_cases() {
    let got = blockdims_from_blockshape(&[10, 10], &[4, 3]).unwrap();
    assert_eq!(got.as_slices(), b([&[4, 4, 2], &[3, 3, 3, 1]]));
    let got = blockdims_from_blockshape(&[10, 0], &[4, 0]).unwrap();
    assert_eq!(got.as_slices(), b([&[4, 4, 2], &[0]]));
    let got = blockdims_from_blockshape(&[100, 3], &[10, 3]).unwrap();
    assert_eq!(got.as_slices(), vec![rep(10, 10), vec![3]]);
    let got = blockdims_from_blockshape(&[10], &[5]).unwrap();
    assert_eq!(got.as_slices(), b([&[5, 5]]));
}

#[test]
fn blockdims_from_blockshape_errors() {
    assert_eq!(
        format!("{:?}", blockdims_from_blockshape(&[10, 10], &[5])),
        format!(
            "{:?}",
            Err(ArrayError::DimensionMismatch {
                chunks: 1,
                shape: 2
            })
            .map(|_: ()| ())
        )
    );
    assert_eq!(
        format!("{:?}", blockdims_from_blockshape(&[10, 10], &[5, 0])),
        format!(
            "{:?}",
            Err(ArrayError::ZeroChunkSize { axis: 1 }).map(|_: ()| ())
        )
    );
    assert!(matches!(
        blockdims_from_blockshape(&[usize::MAX], &[1]),
        Err(ArrayError::TooManyBlocks { axis: 0, .. })
    ));
}

#[test]
fn normalize_chunks_basic() {
    // test_normalize_chunks
    assert_eq!(
        norm(3usize, &[4, 6], 8, MIB).as_slices(),
        b([&[3, 1], &[3, 3]])
    );
    let blocks = b([&[3, 3], &[8]]);
    assert_eq!(norm(blocks.clone(), &[6, 8], 8, MIB).as_slices(), blocks);
    assert_eq!(norm([4usize, 5], &[9], 8, MIB).as_slices(), b([&[4, 5]]));
    assert_eq!(
        norm([4usize, 5], &[9, 9], 8, MIB).as_slices(),
        b([&[4, 4, 1], &[5, 4]])
    );
    assert_eq!(norm(-1i64, &[5, 5], 8, MIB).as_slices(), b([&[5], &[5]]));
    assert_eq!(
        norm([3i64, -1], &[5, 5], 8, MIB).as_slices(),
        b([&[3, 2], &[5]])
    );
    // (3, None) and the dict {0: 3}
    assert_eq!(
        norm([Size(3), Full], &[5, 5], 8, MIB).as_slices(),
        b([&[3, 2], &[5]])
    );
    assert_eq!(
        norm(b([&[2, 2], &[3, 3]]), &[4, 6], 8, MIB).as_slices(),
        b([&[2, 2], &[3, 3]])
    );
    assert_eq!(
        norm(10usize, &[30, 5], 8, MIB).as_slices(),
        b([&[10, 10, 10], &[5]])
    );
    assert_eq!(
        norm(ChunkSpec::Axes(vec![]), &[0, 0], 8, MIB).as_slices(),
        b([&[0], &[0]])
    );
    assert_eq!(norm(-1i64, &[0, 3], 8, MIB).as_slices(), b([&[0], &[3]]));
    assert_eq!(
        norm(ChunkSpec::Auto, &[20], 1, 5).as_slices(),
        b([&[5, 5, 5, 5]])
    );
    assert_eq!(
        norm([Auto, Full], &[5, 5], 8, DEFAULT_CHUNK_SIZE_BYTES).as_slices(),
        b([&[5], &[5]])
    );

    assert!(matches!(
        try_norm(b([&[10]]), &[11], 8, MIB, None),
        Err(ArrayError::SumMismatch {
            axis: 0,
            sum: 10,
            expected: 11,
            ..
        })
    ));
    assert_eq!(
        format!("{:?}", try_norm(b([&[5], &[5]]), &[5], 8, MIB, None)),
        format!(
            "{:?}",
            Err(ArrayError::DimensionMismatch {
                chunks: 2,
                shape: 1
            })
            .map(|_: ()| ())
        )
    );
}

#[test]
fn normalize_chunks_docstring_examples() {
    let blocks = b([&[2, 2, 1], &[2, 2, 2]]);
    assert_eq!(norm(blocks.clone(), &[5, 6], 8, MIB).as_slices(), blocks);
    assert_eq!(norm([2usize, 2], &[5, 6], 8, MIB).as_slices(), blocks);
    assert_eq!(norm([3usize, 2], &[5], 8, MIB).as_slices(), b([&[3, 2]]));
    assert_eq!(
        norm([Size(2), Size(3)], &[6, 6], 8, MIB).as_slices(),
        b([&[2, 2, 2], &[3, 3]])
    );
    assert_eq!(
        norm([5i64, -1], &[10, 10], 8, MIB).as_slices(),
        b([&[5, 5], &[10]])
    );
    assert_eq!(
        norm([Size(5), Full], &[10, 10], 8, MIB).as_slices(),
        b([&[5, 5], &[10]])
    );
    assert_eq!(norm([Auto], &[20], 1, 5).as_slices(), b([&[5, 5, 5, 5]]));
    assert_eq!(
        norm(ChunkSpec::Auto, &[2, 3], 4, DEFAULT_CHUNK_SIZE_BYTES).as_slices(),
        b([&[2], &[3]])
    );
    assert_eq!(
        norm(ChunkSpec::Bytes(1024), &[2000], 4, DEFAULT_CHUNK_SIZE_BYTES).as_slices(),
        vec![cat(&[&rep(256, 7), &[208]])]
    );
    assert_eq!(norm(ChunkSpec::Axes(vec![]), &[], 8, MIB).ndim(), 0);
}

#[test]
fn single_element_tuple_as_previous_block_size() {
    let got = norm_prev(
        [Size(100), Auto],
        &[500, 500_000],
        8,
        DEFAULT_CHUNK_SIZE_BYTES,
        b([&[1], &[500]]),
    );
    assert_eq!(
        got.as_slices(),
        vec![rep(100, 5), vec![167_500, 167_500, 165_000]]
    );
}

#[test]
fn align_chunks_to_previous_chunks() {
    let got = norm_prev(ChunkSpec::Auto, &[2000], 1, 600, b([&[512]]));
    assert_eq!(got.as_slices(), b([&[512, 512, 512, 2000 - 512 * 3]]));
    let got = norm_prev(ChunkSpec::Auto, &[2000], 1, 600, b([&[128]]));
    assert_eq!(got.as_slices(), b([&[512, 512, 512, 2000 - 512 * 3]]));
    let got = norm_prev(ChunkSpec::Auto, &[2000], 1, 1200, b([&[512]]));
    assert_eq!(got.as_slices(), b([&[1024, 2000 - 1024]]));

    let got = norm_prev(
        ChunkSpec::Auto,
        &[3, 10211, 10376],
        4,
        MIB,
        b([&[1], &[512], &[512]]),
    );
    assert_eq!(got.axis(0), &[1, 1, 1]);
    for axis in 1..3 {
        let blocks = got.axis(axis);
        assert!(
            blocks[..blocks.len() - 1].iter().all(|c| c % 512 == 0),
            "{got}"
        );
    }

    let previous = b([&[36, 12], &[720], &[1440]]);
    let got = norm_prev(
        ChunkSpec::Auto,
        &[48, 720, 1440],
        4,
        134_217_728,
        previous.clone(),
    );
    assert_eq!(got.as_slices(), previous);
}

#[test]
fn auto_chunks_from_previous_chunks() {
    // test_auto_chunks
    let previous = vec![cat(&[&rep(1264, 6), &[1045]]), vec![1264, 491]];
    let shape = [previous[0].iter().sum(), previous[1].iter().sum()];
    let got = norm_prev([Auto, Auto], &shape, 4, DEFAULT_CHUNK_SIZE_BYTES, previous);
    assert_eq!(got.as_slices(), b([&[8629], &[1755]]));

    // test_auto_chunks_h5py: h5py reports its chunk shape (32, 64) as the previous chunks.
    let got = norm_prev(ChunkSpec::Auto, &[1000, 1000], 8, MIB, b([&[32], &[64]]));
    assert_eq!(got.as_slices(), b([&[256, 256, 256, 232], &[512, 488]]));
}

#[test]
fn normalize_chunks_auto_1d() {
    let cases: [(usize, u64, Vec<usize>); 6] = [
        (100, 10, rep(10, 10)),
        (20, 10, vec![10, 10]),
        (20, 5, vec![5, 5, 5, 5]),
        (24, 5, vec![5, 5, 5, 5, 4]),
        (23, 5, vec![5, 5, 5, 5, 3]),
        (1000, 167, vec![167, 167, 167, 167, 167, 165]),
    ];
    for (shape, limit, expected) in cases {
        let got = norm(ChunkSpec::Auto, &[shape], 1, limit);
        assert_eq!(
            got.as_slices(),
            vec![expected],
            "shape {shape}, limit {limit}"
        );
    }
}

#[test]
fn normalize_chunks_auto_2d() {
    let got = norm([Auto, Size(2)], &[20, 20], 1, 20);
    assert_eq!(got.as_slices(), vec![vec![10, 10], rep(2, 10)]);
    let got = norm([Auto, Blocks(vec![2, 2, 2, 2, 2, 5, 5])], &[20, 20], 1, 20);
    assert_eq!(
        got.as_slices(),
        b([&[4, 4, 4, 4, 4], &[2, 2, 2, 2, 2, 5, 5]])
    );
    let got = norm(ChunkSpec::Auto, &[1, 20], 1, 10);
    assert_eq!(got.as_slices(), b([&[1], &[10, 10]]));
}

#[test]
fn normalize_chunks_auto_3d() {
    let got = norm([Auto, Auto, Size(2)], &[20, 20, 20], 1, 200);
    assert_eq!(
        got.as_slices(),
        vec![vec![10, 10], vec![10, 10], rep(2, 10)]
    );
    let got = norm(ChunkSpec::Auto, &[20, 20, 20], 1, 8);
    assert_eq!(got.as_slices(), vec![rep(2, 10); 3]);
}

#[test]
fn dict_chunks_in_constructors() {
    // test_constructors_chunks_dict
    let got = norm([Size(10), Size(5)], &[20, 20], 8, DEFAULT_CHUNK_SIZE_BYTES);
    assert_eq!(got.as_slices(), b([&[10, 10], &[5, 5, 5, 5]]));
    let got = norm([Size(10), Auto], &[20, 20], 8, DEFAULT_CHUNK_SIZE_BYTES);
    assert_eq!(got.as_slices(), b([&[10, 10], &[20]]));

    // test_from_array_chunks_dict
    let got = norm([Size(10), Full, Auto], &[100, 100, 100], 8, 128 * 1024);
    let expected = norm(
        [Size(10), Size(100), Blocks(cat(&[&rep(16, 6), &[4]]))],
        &[100, 100, 100],
        8,
        128 * 1024,
    );
    assert_eq!(got, expected);

    // test_from_array_with_missing_chunks: (None, 2, None)
    let got = norm([Full, Size(2), Full], &[2, 4, 3], 8, MIB);
    assert_eq!(got, norm([2usize, 2, 3], &[2, 4, 3], 8, MIB));
}

#[test]
fn chunks_error_on_wrong_number_of_axes() {
    // test_chunks_error
    assert_eq!(
        format!("{:?}", try_norm([5usize], &[10, 10], 8, MIB, None)),
        format!(
            "{:?}",
            Err(ArrayError::DimensionMismatch {
                chunks: 1,
                shape: 2
            })
            .map(|_: ()| ())
        )
    );
}

#[test]
fn normalize_chunks_tuples_of_tuples() {
    let got = norm([Blocks(vec![2, 3, 5]), Auto], &[10, 10], 1, 10);
    assert_eq!(got.as_slices(), b([&[2, 3, 5], &[2, 2, 2, 2, 2]]));
}

#[test]
fn nbytes_auto() {
    let limit = DEFAULT_CHUNK_SIZE_BYTES;
    assert_eq!(
        norm(ChunkSpec::Bytes(800), &[500], 8, limit).as_slices(),
        vec![rep(100, 5)]
    );
    assert_eq!(
        norm(ChunkSpec::Bytes(200), &[10, 10], 8, limit).as_slices(),
        b([&[5, 5], &[5, 5]])
    );
    assert_eq!(
        norm([Size(5), Bytes(200)], &[10, 10], 8, limit).as_slices(),
        b([&[5, 5], &[5, 5]])
    );
    assert_eq!(
        norm(ChunkSpec::Bytes(33), &[10, 10], 8, limit).as_slices(),
        vec![rep(2, 5); 2]
    );
    assert_eq!(
        norm(ChunkSpec::Bytes(1800), &[10, 20, 30], 8, limit).as_slices(),
        b([&[6, 4], &[6, 6, 6, 2], &[6, 6, 6, 6, 6]])
    );
    // A byte target replaces the limit rather than conflicting with it.
    assert_eq!(
        norm(ChunkSpec::Bytes(800), &[500], 8, 20).as_slices(),
        vec![rep(100, 5)]
    );
    assert_eq!(
        format!(
            "{:?}",
            try_norm([Bytes(100), Bytes(10)], &[10, 10], 8, limit, None)
        ),
        format!(
            "{:?}",
            Err(ArrayError::ConflictingByteTargets {
                first: 100,
                second: 10
            })
            .map(|_: ()| ())
        )
    );
}

#[test]
fn asarray_small_limit_gives_several_chunks() {
    // test_asarray_chunks
    assert!(norm(ChunkSpec::Auto, &[1000], 8, 100).nblocks() > 1);
}

#[test]
fn error_messages() {
    let msg = |r: Result<Chunks, ArrayError>| r.unwrap_err().to_string();
    assert_eq!(
        msg(try_norm([3usize, 3], &[7], 8, MIB, None)),
        "chunks (3, 3) along axis 0 add up to 6, but the shape has 7 there; \
         the block sizes of each axis must add up to that axis' length"
    );
    assert_eq!(
        msg(try_norm([5usize, 0], &[10, 10], 8, MIB, None)),
        "chunk size 0 along axis 1: chunk sizes must be positive (use -1 for the whole axis)"
    );
    assert_eq!(
        msg(try_norm([1usize, 1, 1], &[2, 2], 8, MIB, None)),
        "chunks give 3 axes but the shape has 2"
    );
    assert_eq!(
        msg(try_norm(ChunkSpec::Auto, &[10], 8, 4, None)),
        "\"auto\" chunks cannot reach 4 B with 8-byte items: the limit is smaller than a \
         single element; raise it to at least 8 B"
    );
    let fixed = msg(try_norm([Full, Auto], &[1 << 20, 10], 8, 4 * MIB, None));
    assert!(fixed.starts_with("\"auto\" chunks cannot reach 4.0 MiB with 8-byte items: "));
    assert!(fixed.contains("1048576 elements (8.0 MiB)"), "{fixed}");
    assert_eq!(
        msg(try_norm(-3i64, &[4], 8, MIB, None)),
        "chunk value -3: use a positive size, -1 for the whole axis, or \"auto\""
    );
    assert_eq!(
        msg(try_norm([4i64, -2], &[4, 4], 8, MIB, None)),
        "chunk value -2 along axis 1: use a positive size, -1 for the whole axis, or \"auto\""
    );
}

#[test]
fn limit_below_one_element_is_an_error() {
    // Dask's test_rechunk_zero (chunk-size 1B) gets one-element chunks; here it is an error.
    let previous = Chunks::from_vec_unchecked(b([&[5, 5]]));
    assert_eq!(
        format!(
            "{:?}",
            try_norm(ChunkSpec::Auto, &[10], 8, 1, Some(&previous))
        ),
        format!(
            "{:?}",
            Err(ArrayError::AutoLimitUnreachable {
                limit: 1,
                itemsize: 8,
                fixed_elements: 1
            })
            .map(|_: ()| ())
        )
    );
    assert_eq!(
        format!("{:?}", try_norm(ChunkSpec::Auto, &[10], 0, MIB, None)),
        format!("{:?}", Err(ArrayError::ZeroItemsize).map(|_: ()| ()))
    );
    // An empty array needs no budget.
    assert_eq!(
        norm(ChunkSpec::Auto, &[0, 10], 8, 1).as_slices(),
        b([&[0], &[10]])
    );
}

#[test]
fn invalid_blocks_are_rejected() {
    assert_eq!(
        format!("{:?}", Chunks::new(b([&[4, 0, 4]]), &[8])),
        format!(
            "{:?}",
            Err(ArrayError::ZeroBlock {
                axis: 0,
                block: 1,
                blocks: vec![4, 0, 4],
                length: 8
            })
            .map(|_: ()| ())
        )
    );
    assert_eq!(
        format!("{:?}", Chunks::new(b([&[]]), &[0])),
        format!(
            "{:?}",
            Err(ArrayError::NoBlocks { axis: 0 }).map(|_: ()| ())
        )
    );
    assert_eq!(
        format!("{:?}", Chunks::new(b([&[0, 0]]), &[0])),
        format!(
            "{:?}",
            Err(ArrayError::SplitEmptyAxis {
                axis: 0,
                blocks: vec![0, 0]
            })
            .map(|_: ()| ())
        )
    );
    assert!(Chunks::new(b([&[0]]), &[0]).is_ok());
    assert!(Chunks::new(vec![], &[]).is_ok());
    assert_eq!(
        format!("{:?}", try_norm(ChunkSpec::Size(0), &[0, 3], 8, MIB, None)),
        format!(
            "{:?}",
            Err(ArrayError::ZeroChunkSize { axis: 1 }).map(|_: ()| ())
        )
    );
    assert_eq!(norm(0usize, &[0, 0], 8, MIB).as_slices(), b([&[0], &[0]]));
}

#[test]
fn previous_chunks_must_fit_the_shape() {
    let previous = Chunks::from_vec_unchecked(b([&[5, 5]]));
    assert_eq!(
        format!(
            "{:?}",
            try_norm(ChunkSpec::Auto, &[10, 10], 8, MIB, Some(&previous))
        ),
        format!(
            "{:?}",
            Err(ArrayError::PreviousDimensionMismatch {
                previous: 1,
                shape: 2
            })
            .map(|_: ()| ())
        )
    );
    assert!(matches!(
        try_norm(ChunkSpec::Auto, &[12], 8, MIB, Some(&previous)),
        Err(ArrayError::PreviousSumMismatch {
            axis: 0,
            sum: 10,
            expected: 12,
            ..
        })
    ));
    let zero = Chunks::from_vec_unchecked(b([&[0]]));
    assert!(matches!(
        try_norm(ChunkSpec::Auto, &[12], 8, MIB, Some(&zero)),
        Err(ArrayError::PreviousSumMismatch { .. })
    ));
    // Previous chunks are only a hint for "auto"; they are not checked otherwise.
    assert!(try_norm(4usize, &[12], 8, MIB, Some(&previous)).is_ok());
}

#[test]
fn display_like_dask() {
    let chunks = Chunks::from_vec_unchecked(vec![rep(1000, 4), rep(1000, 3)]);
    assert_eq!(
        chunks.to_string(),
        "((1000, 1000, 1000, 1000), (1000, 1000, 1000))"
    );
    assert_eq!(
        Chunks::from_vec_unchecked(b([&[10]])).to_string(),
        "((10,),)"
    );
    assert_eq!(
        Chunks::from_vec_unchecked(b([&[5, 5]])).to_string(),
        "((5, 5),)"
    );
    assert_eq!(
        Chunks::from_vec_unchecked(b([&[2], &[3]])).to_string(),
        "((2,), (3,))"
    );
    assert_eq!(Chunks::from_vec_unchecked(vec![]).to_string(), "()");
}

#[test]
fn chunks_accessors() {
    let chunks = Chunks::new(b([&[4, 4, 2], &[3, 3, 3, 1]]), &[10, 10]).unwrap();
    assert_eq!(chunks.ndim(), 2);
    assert_eq!(chunks.shape(), vec![10, 10]);
    assert_eq!(chunks.axis(1), &[3, 3, 3, 1]);
    assert_eq!(chunks.axis(2), &[] as &[usize]);
    assert_eq!(chunks.numblocks(), vec![3, 4]);
    assert_eq!(chunks.nblocks(), 12);
    assert_eq!(chunks.offsets(0), vec![0, 4, 8, 10]);
    assert_eq!(chunks.offsets(5), Vec::<usize>::new());
    assert_eq!(chunks.block_shape(&[2, 3]), Some(vec![2, 1]));
    assert_eq!(chunks.block_shape(&[3, 0]), None);
    assert_eq!(chunks.block_shape(&[0]), None);
    assert_eq!(chunks.block_start(&[2, 3]), Some(vec![8, 9]));
    assert_eq!(chunks.block_start(&[0, 4]), None);
    assert_eq!(chunks.largest_block(), vec![4, 3]);
    let indices: Vec<Vec<usize>> = chunks.block_indices().collect();
    assert_eq!(indices.len(), 12);
    assert_eq!(indices[0], vec![0, 0]);
    assert_eq!(indices[1], vec![0, 1]);
    assert_eq!(indices[4], vec![1, 0]);
    assert_eq!(indices[11], vec![2, 3]);

    let scalar = Chunks::new(vec![], &[]).unwrap();
    assert_eq!(scalar.nblocks(), 1);
    assert_eq!(
        scalar.block_indices().collect::<Vec<_>>(),
        vec![Vec::<usize>::new()]
    );
    assert_eq!(scalar.block_shape(&[]), Some(vec![]));
}

#[test]
fn conversions() {
    assert_eq!(ChunkSpec::from(-1i64), ChunkSpec::Full);
    assert_eq!(ChunkSpec::from(-5i64), ChunkSpec::Invalid(-5));
    assert_eq!(ChunkSpec::from(0i64), ChunkSpec::Size(0));
    assert_eq!(
        ChunkSpec::from([3i64, -1, -7]),
        ChunkSpec::Axes(vec![Size(3), Full, AxisChunks::Invalid(-7)])
    );
    assert_eq!(
        ChunkSpec::from(&[1usize, 2][..]),
        ChunkSpec::from(vec![1usize, 2])
    );
    let chunks = Chunks::from_vec_unchecked(b([&[1, 2]]));
    assert_eq!(
        ChunkSpec::from(chunks.clone()),
        ChunkSpec::Axes(vec![Blocks(vec![1, 2])])
    );
    assert_eq!(ChunkSpec::from(&chunks), ChunkSpec::from(b([&[1, 2]])));
    assert_eq!(AxisChunks::from(vec![1usize, 2]), Blocks(vec![1, 2]));
}

// ---------------------------------------------------------------- properties

/// An axis length, favouring the edge cases 0 and 1.
fn length() -> impl Strategy<Value = usize> {
    prop_oneof![Just(0usize), Just(1usize), 2usize..40, 40usize..5000]
}

/// Positive blocks that add up to `length` ((0,) for an empty axis).
pub(crate) fn partition(length: usize) -> BoxedStrategy<Vec<usize>> {
    if length == 0 {
        return Just(vec![0]).boxed();
    }
    prop::collection::btree_set(1..length.max(2), 0..20.min(length))
        .prop_map(move |cuts| {
            let mut blocks = Vec::new();
            let mut last = 0;
            for cut in cuts.into_iter().filter(|&c| c < length) {
                blocks.push(cut - last);
                last = cut;
            }
            blocks.push(length - last);
            blocks
        })
        .boxed()
}

fn axis_request(length: usize) -> BoxedStrategy<AxisChunks> {
    prop_oneof![
        Just(Auto),
        Just(Full),
        (1usize..60).prop_map(Size),
        (1u64..4096).prop_map(Bytes),
        partition(length).prop_map(Blocks),
    ]
    .boxed()
}

/// A shape, one request per axis, and chunks the data might have now (irregular
/// blocks, or one block size per axis as storage formats report it).
fn shape_and_requests() -> impl Strategy<Value = (Vec<usize>, Vec<AxisChunks>, Vec<Vec<usize>>)> {
    prop::collection::vec(length(), 0..4).prop_flat_map(|shape| {
        let requests: Vec<_> = shape.iter().map(|&l| axis_request(l)).collect();
        let previous: Vec<_> = shape
            .iter()
            .map(|&l| prop_oneof![partition(l), (1..=l.max(1)).prop_map(|s| vec![s])])
            .collect();
        (Just(shape), requests, previous)
    })
}

fn check_canonical(chunks: &Chunks, shape: &[usize]) {
    assert_eq!(chunks.ndim(), shape.len());
    for (blocks, &length) in chunks.as_slices().iter().zip(shape) {
        assert_eq!(
            blocks.iter().sum::<usize>(),
            length,
            "{chunks} for {shape:?}"
        );
        if length == 0 {
            assert_eq!(blocks, &[0]);
        } else {
            assert!(blocks.iter().all(|&b| b > 0), "{chunks} for {shape:?}");
        }
    }
    assert!(Chunks::new(chunks.as_slices().to_vec(), shape).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn normalized_chunks_tile_the_shape(
        (shape, requests, previous) in shape_and_requests(),
        itemsize in 1usize..17,
        limit in 1u64..100_000,
        with_previous in any::<bool>(),
    ) {
        let previous = Chunks::from_vec_unchecked(previous);
        let previous = with_previous.then_some(&previous);
        let spec = ChunkSpec::Axes(requests.clone());
        let result = normalize_chunks(&spec, &shape, itemsize, limit, DEFAULT_CHUNK_SIZE_TOLERANCE, previous);
        match result {
            Ok(chunks) => {
                check_canonical(&chunks, &shape);
                for ((request, blocks), &length) in requests.iter().zip(chunks.as_slices()).zip(&shape) {
                    match request {
                        Blocks(given) => prop_assert_eq!(given, blocks),
                        Full => prop_assert_eq!(blocks.len(), 1),
                        Size(s) if length > 0 => {
                            prop_assert!(blocks[..blocks.len() - 1].iter().all(|b| b == s));
                            prop_assert!(blocks.last().unwrap() <= s);
                        }
                        _ => {}
                    }
                }
                // Without a hint, auto blocks stay within the budget unless an auto axis
                // was already down to one element.
                let autos_present = requests.iter().any(|r| matches!(r, Auto | Bytes(_)));
                if previous.is_none() && autos_present && !shape.contains(&0) {
                    let target = requests.iter().find_map(|r| match r { Bytes(b) => Some(*b), _ => None }).unwrap_or(limit);
                    let elements: u128 = chunks.largest_block().iter().map(|&b| b as u128).product();
                    let auto_at_one = requests.iter().zip(chunks.as_slices())
                        .any(|(r, b)| matches!(r, Auto | Bytes(_)) && b[0] == 1);
                    prop_assert!(elements * itemsize as u128 <= u128::from(target) || auto_at_one,
                        "{} for {:?}", chunks, shape);
                }
            }
            Err(ArrayError::ConflictingByteTargets { .. }) => {
                let targets: std::collections::BTreeSet<u64> = requests.iter()
                    .filter_map(|r| match r { Bytes(b) => Some(*b), _ => None }).collect();
                prop_assert!(targets.len() > 1);
            }
            Err(ArrayError::AutoLimitUnreachable { limit: target, itemsize: i, fixed_elements }) => {
                prop_assert_eq!(i, itemsize);
                prop_assert!(fixed_elements * itemsize as u128 > u128::from(target.max(1)));
            }
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }

    #[test]
    fn whole_spec_forms_tile_the_shape(
        shape in prop::collection::vec(length(), 0..4),
        size in 0usize..50,
        itemsize in 1usize..9,
    ) {
        for spec in [ChunkSpec::Auto, ChunkSpec::Full, ChunkSpec::Size(size), ChunkSpec::Bytes(4096)] {
            match normalize_chunks(&spec, &shape, itemsize, MIB, DEFAULT_CHUNK_SIZE_TOLERANCE, None) {
                Ok(chunks) => check_canonical(&chunks, &shape),
                Err(ArrayError::ZeroChunkSize { axis }) => {
                    prop_assert_eq!(&spec, &ChunkSpec::Size(0));
                    prop_assert!(shape[axis] > 0);
                }
                Err(other) => prop_assert!(false, "unexpected error {other}"),
            }
        }
    }

    #[test]
    fn accessors_agree(blocks in prop::collection::vec(length(), 0..4).prop_flat_map(|shape| {
        shape.into_iter().map(partition).collect::<Vec<_>>()
    })) {
        let shape: Vec<usize> = blocks.iter().map(|b| b.iter().sum()).collect();
        let chunks = Chunks::new(blocks, &shape).unwrap();
        prop_assert_eq!(chunks.shape(), shape);
        let indices: Vec<Vec<usize>> = chunks.block_indices().collect();
        prop_assert_eq!(indices.len(), chunks.nblocks());
        for index in indices.iter().take(50) {
            let start = chunks.block_start(index).unwrap();
            let block = chunks.block_shape(index).unwrap();
            for (axis, (&s, &len)) in start.iter().zip(&block).enumerate() {
                let offsets = chunks.offsets(axis);
                prop_assert_eq!(s, offsets[index[axis]]);
                prop_assert_eq!(s + len, offsets[index[axis] + 1]);
            }
        }
        let mut sorted = indices.clone();
        sorted.sort();
        prop_assert_eq!(sorted, indices);
    }
}
