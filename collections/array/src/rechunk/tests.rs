//! Cases ported from `dask/array/tests/test_rechunk.py` and the docstrings of
//! `dask/array/rechunk.py` (inputs and expected chunks or slices kept), then
//! property tests.
//!
//! Dropped, and why:
//! - Unknown (NaN) chunks: `test_old_to_new_single`, `test_old_to_new`,
//!   `test_old_to_new_large`, `test_intersect_nan*`, the NaN case of
//!   `test_plan_rechunk`, `test_rechunk_*unknown*`. Chunks here are always known.
//! - Tests of array values, task graphs, warnings or the p2p method
//!   (`test_rechunk_1d` values, `test_rechunk_intermediates`,
//!   `test_dont_concatenate_single_chunks`, `test_rechunk_avoid_needless_chunking`,
//!   `test_rechunk_warning`, `test_rechunk_method`, `test_dtype`,
//!   `test_rechunk_non_perfect_slicing_of_dimensions`, the graph-size half of
//!   `test_plan_rechunk_asymmetric`): no arrays here; their chunk arithmetic is kept.
//! - `test_rechunk_bad_keys`: dict keys and negative axes are resolved by the caller,
//!   which passes one entry per axis.
//! - Zero-size blocks on non-empty axes (`test_rechunk_with_zero_placeholders`,
//!   `test_rechunk_empty_chunks`, `test_rechunk_with_zero`): [`Chunks::new`] rejects
//!   them; `old_to_new`/`intersect_chunks` still handle them (their Dask cases are
//!   kept, built with `from_vec_unchecked`).
//! - `test_rechunk_zero` (a 1-byte chunk-size giving one-element chunks) is an error
//!   here; see `limit_below_one_element_is_an_error` in the chunks tests.

use proptest::prelude::*;

use super::*;
use crate::chunks::{DEFAULT_CHUNK_SIZE_BYTES, DEFAULT_CHUNK_SIZE_TOLERANCE};

fn ch(blocks: Vec<Vec<usize>>) -> Chunks {
    Chunks::from_vec_unchecked(blocks)
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

/// Dask's `da.ones(shape, chunks=...)`: chunks normalized without a hint.
fn ones(shape: &[usize], chunks: impl Into<ChunkSpec>) -> Chunks {
    normalize_chunks(
        &chunks.into(),
        shape,
        8,
        DEFAULT_CHUNK_SIZE_BYTES,
        DEFAULT_CHUNK_SIZE_TOLERANCE,
        None,
    )
    .unwrap()
}

/// Dask's `x.rechunk(chunks, block_size_limit=limit)` with one request for all axes.
fn rechunk(old: &Chunks, chunks: impl Into<ChunkSpec>, itemsize: usize, limit: u64) -> Chunks {
    normalize_chunks(
        &chunks.into(),
        &old.shape(),
        itemsize,
        limit,
        DEFAULT_CHUNK_SIZE_TOLERANCE,
        Some(old),
    )
    .unwrap()
}

/// Dask's `x.rechunk({...})`: one optional request per axis.
fn rechunk_axes(
    old: &Chunks,
    target: Vec<Option<AxisChunks>>,
    itemsize: usize,
    limit: u64,
) -> Result<Chunks, ArrayError> {
    normalize_rechunk_target(&target, old, itemsize, limit, DEFAULT_CHUNK_SIZE_TOLERANCE)
}

fn p(index: usize, range: Range<usize>) -> Piece {
    (index, range)
}

use AxisChunks::{Auto, Blocks, Full, Size};

// ------------------------------------------------------------ intersections

#[test]
fn rechunk_internals_1() {
    let new = [
        cumulative(&[1, 1, 2], Label::New),
        cumulative(&[1, 5, 1], Label::New),
    ];
    let old = [
        cumulative(&[4], Label::Old),
        cumulative(&[1; 5], Label::Old),
    ];
    use Label::{New as N, Old as O};
    let breaks: Vec<_> = old
        .iter()
        .zip(&new)
        .map(|(o, n)| breakpoints(o, n))
        .collect();
    assert_eq!(
        breaks[0],
        vec![(O, 0), (N, 0), (N, 1), (N, 2), (O, 4), (N, 4)]
    );
    let answer2 = vec![
        (O, 0),
        (N, 0),
        (O, 1),
        (N, 1),
        (O, 2),
        (O, 3),
        (O, 4),
        (O, 5),
        (N, 6),
        (N, 7),
    ];
    assert_eq!(breaks[1], answer2);
    assert_eq!(
        intersect_1d(&breaks[0]),
        vec![vec![p(0, 0..1)], vec![p(0, 1..2)], vec![p(0, 2..4)]]
    );
    let answer4 = vec![
        vec![p(0, 0..1)],
        vec![p(1, 0..1), p(2, 0..1), p(3, 0..1), p(4, 0..1), p(5, 0..1)],
        vec![p(5, 1..2)],
    ];
    assert_eq!(intersect_1d(&breaks[1]), answer4);

    let new1 = cumulative(&[1, 5, 1, 0], Label::New);
    let breaks1 = breakpoints(&old[1], &new1);
    let mut answer5 = answer2.clone();
    answer5.push((N, 7));
    assert_eq!(breaks1, answer5);
    let mut answer6 = answer4.clone();
    answer6.push(vec![p(5, 2..2)]);
    assert_eq!(intersect_1d(&breaks1), answer6);
}

#[test]
fn breakpoints_and_intersect_1d_docstrings() {
    use Label::{New as N, Old as O};
    let new = [
        cumulative(&[2, 3], Label::New),
        cumulative(&[2, 2, 1], Label::New),
    ];
    let old = [
        cumulative(&[2, 2, 1], Label::Old),
        cumulative(&[5], Label::Old),
    ];
    assert_eq!(
        breakpoints(&new[0], &old[0]),
        vec![(N, 0), (O, 0), (N, 2), (O, 2), (O, 4), (N, 5), (O, 5)]
    );
    assert_eq!(
        breakpoints(&new[1], &old[1]),
        vec![(N, 0), (O, 0), (N, 2), (N, 4), (N, 5), (O, 5)]
    );
    assert_eq!(
        intersect_1d(&breakpoints(&old[0], &new[0])),
        vec![vec![p(0, 0..2)], vec![p(1, 0..2), p(2, 0..1)]]
    );
    assert_eq!(
        intersect_1d(&breakpoints(&old[1], &new[1])),
        vec![vec![p(0, 0..2)], vec![p(0, 2..4)], vec![p(0, 4..5)]]
    );
}

#[test]
fn intersect_1() {
    let old = ch(vec![rep(10, 5)]);
    let new = ch(b([&[25, 5, 20]]));
    let cross: Vec<_> = intersect_chunks(&old, &new).unwrap().collect();
    assert_eq!(
        cross,
        vec![
            vec![vec![p(0, 0..10)], vec![p(1, 0..10)], vec![p(2, 0..5)]],
            vec![vec![p(2, 5..10)]],
            vec![vec![p(3, 0..10)], vec![p(4, 0..10)]],
        ]
    );
}

#[test]
fn intersect_2() {
    let old = ch(vec![rep(20, 5)]);
    let new = ch(b([&[58, 4, 20, 18]]));
    let cross: Vec<_> = intersect_chunks(&old, &new).unwrap().collect();
    assert_eq!(
        cross,
        vec![
            vec![vec![p(0, 0..20)], vec![p(1, 0..20)], vec![p(2, 0..18)]],
            vec![vec![p(2, 18..20)], vec![p(3, 0..2)]],
            vec![vec![p(3, 2..20)], vec![p(4, 0..2)]],
            vec![vec![p(4, 2..20)]],
        ]
    );
}

#[test]
fn intersect_chunks_with_nonzero() {
    // Also the docstring example of intersect_chunks.
    let old = ch(b([&[4, 4], &[2]]));
    let new = ch(b([&[8], &[1, 1]]));
    let cross: Vec<_> = intersect_chunks(&old, &new).unwrap().collect();
    assert_eq!(
        cross,
        vec![
            vec![vec![p(0, 0..4), p(0, 0..1)], vec![p(1, 0..4), p(0, 0..1)]],
            vec![vec![p(0, 0..4), p(0, 1..2)], vec![p(1, 0..4), p(0, 1..2)]],
        ]
    );
}

#[test]
fn intersect_chunks_with_zero() {
    let one = |a: Piece, b: Piece| vec![vec![a, b]];
    let old = ch(b([&[4, 4], &[2]]));
    let new = ch(b([&[4, 0, 0, 4], &[1, 1]]));
    let cross: Vec<_> = intersect_chunks(&old, &new).unwrap().collect();
    assert_eq!(
        cross,
        vec![
            one(p(0, 0..4), p(0, 0..1)),
            one(p(0, 0..4), p(0, 1..2)),
            one(p(1, 0..0), p(0, 0..1)),
            one(p(1, 0..0), p(0, 1..2)),
            one(p(1, 0..0), p(0, 0..1)),
            one(p(1, 0..0), p(0, 1..2)),
            one(p(1, 0..4), p(0, 0..1)),
            one(p(1, 0..4), p(0, 1..2)),
        ]
    );

    let old = ch(b([&[4, 0, 0, 4], &[1, 1]]));
    let new = ch(b([&[4, 4], &[2]]));
    let cross: Vec<_> = intersect_chunks(&old, &new).unwrap().collect();
    assert_eq!(
        cross,
        vec![
            vec![vec![p(0, 0..4), p(0, 0..1)], vec![p(0, 0..4), p(1, 0..1)]],
            vec![vec![p(3, 0..4), p(0, 0..1)], vec![p(3, 0..4), p(1, 0..1)]],
        ]
    );

    let old = ch(b([&[4, 4], &[2]]));
    let new = ch(b([&[2, 0, 0, 2, 4], &[1, 1]]));
    let cross: Vec<_> = intersect_chunks(&old, &new).unwrap().collect();
    assert_eq!(
        cross,
        vec![
            one(p(0, 0..2), p(0, 0..1)),
            one(p(0, 0..2), p(0, 1..2)),
            one(p(0, 2..2), p(0, 0..1)),
            one(p(0, 2..2), p(0, 1..2)),
            one(p(0, 2..2), p(0, 0..1)),
            one(p(0, 2..2), p(0, 1..2)),
            one(p(0, 2..4), p(0, 0..1)),
            one(p(0, 2..4), p(0, 1..2)),
            one(p(1, 0..4), p(0, 0..1)),
            one(p(1, 0..4), p(0, 1..2)),
        ]
    );

    let old = ch(b([&[4, 4], &[2]]));
    let new = ch(b([&[0, 0, 4, 4], &[1, 1]]));
    let cross: Vec<_> = intersect_chunks(&old, &new).unwrap().collect();
    assert_eq!(
        cross,
        vec![
            one(p(0, 0..0), p(0, 0..1)),
            one(p(0, 0..0), p(0, 1..2)),
            one(p(0, 0..0), p(0, 0..1)),
            one(p(0, 0..0), p(0, 1..2)),
            one(p(0, 0..4), p(0, 0..1)),
            one(p(0, 0..4), p(0, 1..2)),
            one(p(1, 0..4), p(0, 0..1)),
            one(p(1, 0..4), p(0, 1..2)),
        ]
    );
}

#[test]
fn old_to_new_known() {
    // Also the docstring example of old_to_new.
    let old = ch(vec![rep(10, 5)]);
    let new = ch(b([&[25, 5, 20]]));
    assert_eq!(
        old_to_new(&old, &new).unwrap(),
        vec![vec![
            vec![p(0, 0..10), p(1, 0..10), p(2, 0..5)],
            vec![p(2, 5..10)],
            vec![p(3, 0..10), p(4, 0..10)],
        ]]
    );
}

#[test]
fn old_to_new_with_zero() {
    let cases = [
        (
            b([&[4, 4]]),
            b([&[4, 0, 4]]),
            vec![vec![p(0, 0..4)], vec![p(1, 0..0)], vec![p(1, 0..4)]],
        ),
        (
            b([&[4]]),
            b([&[4, 0]]),
            vec![vec![p(0, 0..4)], vec![p(0, 4..4)]],
        ),
        (
            b([&[4, 0, 4]]),
            b([&[4, 0, 2, 2]]),
            vec![
                vec![p(0, 0..4)],
                vec![p(2, 0..0)],
                vec![p(2, 0..2)],
                vec![p(2, 2..4)],
            ],
        ),
    ];
    for (old, new, expected) in cases {
        assert_eq!(old_to_new(&ch(old), &ch(new)).unwrap(), vec![expected]);
    }
}

#[test]
fn old_to_new_errors() {
    assert_eq!(
        format!("{:?}", old_to_new(&ch(b([&[4]])), &ch(b([&[4], &[1]])))),
        format!(
            "{:?}",
            Err(ArrayError::RechunkDimensionMismatch { old: 1, new: 2 }).map(|_: ()| ())
        )
    );
    assert_eq!(
        format!(
            "{:?}",
            old_to_new(&ch(b([&[4], &[2]])), &ch(b([&[4], &[1]])))
        ),
        format!(
            "{:?}",
            Err(ArrayError::RechunkShapeMismatch {
                axis: 1,
                old: 2,
                new: 1
            })
            .map(|_: ()| ())
        )
    );
    assert_eq!(
        format!("{:?}", old_to_new(&ch(b([&[]])), &ch(b([&[]])))),
        format!(
            "{:?}",
            Err(ArrayError::NoBlocks { axis: 0 }).map(|_: ()| ())
        )
    );
    assert!(intersect_chunks(&ch(b([&[4]])), &ch(b([&[5]]))).is_err());
    // A 0-d array has one block made of one piece.
    let scalar = ch(vec![]);
    let cross: Vec<_> = intersect_chunks(&scalar, &scalar).unwrap().collect();
    assert_eq!(cross, vec![vec![Vec::<Piece>::new()]]);
}

// ------------------------------------------------------- rechunk targets

#[test]
fn rechunk_chunk_arithmetic() {
    // test_rechunk_1d, _2d, _4d, _expand, _method: the target chunks are kept as given.
    let cases = [
        (ch(vec![rep(10, 3)]), vec![rep(5, 6)]),
        (
            ch(vec![vec![1, 2, 3, 4], rep(5, 6)]),
            vec![vec![5, 5], vec![15, 15]],
        ),
        (ch(vec![vec![5, 5]; 4]), vec![vec![10]; 4]),
        (ch(vec![vec![5, 5]; 2]), vec![vec![3, 3, 3, 1]; 2]),
        (ch(vec![vec![5, 2, 3]; 4]), vec![vec![3, 3, 3, 1]; 4]),
    ];
    for (old, new) in cases {
        let got = rechunk(&old, new.clone(), 8, DEFAULT_CHUNK_SIZE_BYTES);
        assert_eq!(got.as_slices(), new);
        let plan = plan_rechunk(&old, &got, 8, None, DEFAULT_CHUNK_SIZE_BYTES);
        assert_eq!(plan.last(), Some(&got));
    }
}

#[test]
fn rechunk_expand2() {
    let (a, dims) = (3usize, 2usize);
    for off in 1..a - 1 {
        for off2 in 1..a - 1 {
            let old = ch(vec![vec![a - off, off]; dims]);
            let new = vec![vec![a - off2, off2]; dims];
            assert_eq!(
                rechunk(&old, new.clone(), 8, DEFAULT_CHUNK_SIZE_BYTES).as_slices(),
                new
            );
            if a > off + off2 {
                let new = vec![vec![off, a - off2 - off, off2]; dims];
                assert_eq!(
                    rechunk(&old, new.clone(), 8, DEFAULT_CHUNK_SIZE_BYTES).as_slices(),
                    new
                );
            }
        }
    }
}

#[test]
fn rechunk_blockshape() {
    let old = ch(b([&[4, 4, 2], &[3, 3, 3, 1]]));
    let got = rechunk(&old, [4usize, 3], 8, DEFAULT_CHUNK_SIZE_BYTES);
    assert_eq!(got, ones(&[10, 10], [4usize, 3]));
}

#[test]
fn rechunk_with_dict() {
    let limit = DEFAULT_CHUNK_SIZE_BYTES;
    let x = ones(&[24, 24], [4usize, 8]);
    let got = rechunk_axes(&x, vec![Some(Size(12)), None], 8, limit).unwrap();
    assert_eq!(got.as_slices(), b([&[12, 12], &[8, 8, 8]]));
    let got = rechunk_axes(&x, vec![Some(Blocks(vec![12, 12])), None], 8, limit).unwrap();
    assert_eq!(got.as_slices(), b([&[12, 12], &[8, 8, 8]]));
    let got = rechunk_axes(&x, vec![Some(Full), None], 8, limit).unwrap();
    assert_eq!(got.as_slices(), b([&[24], &[8, 8, 8]]));
    let got = rechunk_axes(&x, vec![None, Some(Auto)], 8, limit).unwrap();
    assert_eq!(got.as_slices(), vec![rep(4, 6), vec![24]]);
}

#[test]
fn rechunk_with_empty_input() {
    let x = ones(&[24, 24], [4usize, 8]);
    assert_eq!(rechunk_axes(&x, vec![None, None], 8, 1).unwrap(), x);
    assert_eq!(
        format!(
            "{:?}",
            rechunk_axes(&x, vec![], 8, DEFAULT_CHUNK_SIZE_BYTES)
        ),
        format!(
            "{:?}",
            Err(ArrayError::DimensionMismatch {
                chunks: 0,
                shape: 2
            })
            .map(|_: ()| ())
        )
    );
}

#[test]
fn rechunk_with_null_dimensions() {
    let x = ones(&[24, 24], [4usize, 8]);
    let expected = ones(&[24, 24], [4usize, 4]);
    let got = rechunk_axes(&x, vec![None, Some(Size(4))], 8, DEFAULT_CHUNK_SIZE_BYTES).unwrap();
    assert_eq!(got, expected);
}

#[test]
fn rechunk_with_integer_and_minus_one() {
    let x = ones(&[5], 4usize);
    assert_eq!(
        rechunk(&x, 3usize, 8, DEFAULT_CHUNK_SIZE_BYTES).as_slices(),
        b([&[3, 2]])
    );
    let x = ones(&[24, 24], [4usize, 8]);
    assert_eq!(
        rechunk(&x, [-1i64, 8], 8, DEFAULT_CHUNK_SIZE_BYTES).as_slices(),
        b([&[24], &[8, 8, 8]])
    );
}

#[test]
fn rechunk_0d_and_empty() {
    let scalar = ones(&[], ChunkSpec::Axes(vec![]));
    assert_eq!(rechunk_axes(&scalar, vec![], 8, 1).unwrap().ndim(), 0);

    // test_rechunk_empty_array: arrays without elements keep their chunks.
    for shape in [vec![0], vec![2, 0], vec![2, 1, 0]] {
        let x = ones(&shape, ChunkSpec::Auto);
        let target = vec![Some(Auto); shape.len()];
        assert_eq!(
            rechunk_axes(&x, target, 8, DEFAULT_CHUNK_SIZE_BYTES).unwrap(),
            x
        );
    }

    // test_rechunk_empty
    let x = ones(&[0, 10], [5usize, 5]);
    let got = rechunk(&x, [2usize, 2], 8, DEFAULT_CHUNK_SIZE_BYTES);
    assert_eq!(got.as_slices(), vec![vec![0], rep(2, 5)]);

    // test_rechunk_zero_dim_array, _II
    let x = ones(&[4, 0], 3usize);
    let got = rechunk_axes(&x, vec![Some(Size(4)), None], 8, DEFAULT_CHUNK_SIZE_BYTES).unwrap();
    assert_eq!(got.as_slices(), b([&[4], &[0]]));
    let x = ones(&[4, 0, 6, 10], 3usize);
    let target = vec![Some(Size(4)), None, Some(Size(2)), None];
    let got = rechunk_axes(&x, target, 8, DEFAULT_CHUNK_SIZE_BYTES).unwrap();
    assert_eq!(got.as_slices(), b([&[4], &[0], &[2, 2, 2], &[3, 3, 3, 1]]));

    // test_rechunk_zero_dim
    let x = ones(&[0, 10, 100], [0usize, 10, 10]);
    let got = rechunk(&x, [0usize, 10, 50], 8, DEFAULT_CHUNK_SIZE_BYTES);
    assert_eq!(got.as_slices(), b([&[0], &[10], &[50, 50]]));
}

#[test]
fn rechunk_same_and_zero_placeholders() {
    let x = ones(&[24, 24], [4usize, 8]);
    assert_eq!(rechunk(&x, x.clone(), 8, DEFAULT_CHUNK_SIZE_BYTES), x);
    // test_rechunk_with_zero_placeholders: zero-size blocks are rejected here.
    assert!(matches!(
        normalize_chunks(
            &b([&[12, 12], &[24, 0]]).into(),
            &[24, 24],
            8,
            DEFAULT_CHUNK_SIZE_BYTES,
            DEFAULT_CHUNK_SIZE_TOLERANCE,
            Some(&x)
        ),
        Err(ArrayError::ZeroBlock {
            axis: 1,
            block: 1,
            ..
        })
    ));
}

#[test]
fn rechunk_auto_1d() {
    let cases: Vec<(usize, Vec<usize>, u64, Vec<usize>)> = vec![
        (100, vec![1], 10, rep(10, 10)),
        (100, vec![50], 10, rep(10, 10)),
        (100, vec![100], 10, rep(10, 10)),
        (20, vec![7], 10, vec![7, 7, 6]),
        (20, vec![1, 1, 1, 1, 6, 2, 1, 7], 5, vec![5, 5, 5, 5]),
        (21, rep(1, 21), 10, vec![10, 10, 1]),
        (30, rep(3, 10), 7, rep(6, 5)),
        (20, vec![2, 2, 2, 9, 1, 2, 2], 5, vec![4, 4, 4, 4, 4]),
        (20, vec![10, 10], 4, rep(4, 5)),
        (21, vec![10, 11], 4, vec![4, 4, 4, 4, 4, 1]),
        (20, vec![1, 18, 1], 5, rep(5, 4)),
        (38, vec![10, 18, 10], 5, vec![5, 5, 5, 5, 5, 5, 5, 3]),
    ];
    for (shape, chunks, bs, expected) in cases {
        // da.ones(shape, chunks=(chunks,)): a single size, or explicit blocks.
        let x = match chunks.as_slice() {
            [size] => ones(&[shape], *size),
            _ => ones(&[shape], vec![chunks.clone()]),
        };
        let got = rechunk_axes(&x, vec![Some(Auto)], 8, bs * 8).unwrap();
        assert_eq!(
            got.as_slices(),
            vec![expected],
            "shape {shape}, chunks {chunks:?}, bs {bs}"
        );
    }
}

#[test]
fn normalize_chunks_auto_2d_with_previous() {
    let cases = [
        (vec![vec![1, 1, 1], rep(10, 8)], 160, b([&[3], &[50, 30]])),
        (b([&[2, 2], &[20]]), 5, vec![vec![1, 1, 1, 1], rep(5, 4)]),
        (b([&[1, 1], &[20]]), 5, vec![vec![1, 1], rep(5, 4)]),
    ];
    for (previous, bs, expected) in cases {
        let previous = ch(previous);
        let got = normalize_chunks(
            &[Auto, Auto].into(),
            &previous.shape(),
            1,
            bs,
            DEFAULT_CHUNK_SIZE_TOLERANCE,
            Some(&previous),
        )
        .unwrap();
        assert_eq!(got.as_slices(), expected, "previous {previous}");
    }
}

#[test]
fn rechunk_auto_2d_and_3d() {
    let x = ones(&[20, 20], [2usize, 2]);
    let got = rechunk_axes(&x, vec![Some(Full), Some(Auto)], 8, 20 * 8).unwrap();
    assert_eq!(got.as_slices(), vec![vec![20], rep(1, 20)]);
    let got = rechunk(&x, [Full, Auto], 8, 80 * 8);
    assert_eq!(got.as_slices(), vec![vec![20], rep(4, 5)]);
    let got = rechunk_axes(&x, vec![Some(Auto), None], 8, 20 * 8).unwrap();
    assert_eq!(got.axis(1), x.axis(1));
    assert_eq!(got.axis(0), &[10, 10]);

    let x = ch(vec![rep(2, 10), vec![2, 2, 2, 2, 2, 5, 5]]);
    let got = rechunk_axes(&x, vec![Some(Auto), None], 8, 20 * 8).unwrap();
    assert_eq!(got.axis(1), x.axis(1));
    assert_eq!(got.axis(0), &[4, 4, 4, 4, 4]);

    let x = ones(&[20, 20, 20], 2usize);
    let got = rechunk_axes(&x, vec![Some(Auto), Some(Auto), None], 8, 200 * 8).unwrap();
    assert_eq!(got.axis(2), x.axis(2));
    assert_eq!(got.axis(0), &[10, 10]);
    assert_eq!(got.axis(1), &[10, 10]);
}

#[test]
fn rechunk_auto_image_stack() {
    for n in [100usize, 1000] {
        let x = ch(vec![rep(1, n), vec![1000], vec![1000]]);
        let y = rechunk(&x, ChunkSpec::Auto, 1, 10 * MIB);
        assert_eq!(y.as_slices(), vec![rep(10, n / 10), vec![1000], vec![1000]]);
        assert_eq!(rechunk(&y, ChunkSpec::Auto, 1, 10 * MIB), y);

        let z = rechunk(&x, ChunkSpec::Auto, 1, 7 * MIB);
        let expected = if n == 100 {
            cat(&[&rep(7, 14), &[2]])
        } else {
            cat(&[&rep(7, 142), &[6]])
        };
        assert_eq!(z.as_slices(), vec![expected, vec![1000], vec![1000]]);

        let z = rechunk(&x, ChunkSpec::Auto, 8, MIB);
        assert_eq!(
            z.as_slices(),
            vec![rep(1, n), vec![362, 362, 276], vec![362, 362, 276]]
        );

        let x = ch(vec![rep(1, n), vec![1000, 1000], vec![1000, 1000]]);
        let z = rechunk(&x, ChunkSpec::Auto, 8, MIB);
        let side = vec![362, 362, 362, 362, 362, 190];
        assert_eq!(z.as_slices(), vec![rep(1, n), side.clone(), side]);
    }
}

const MIB: u64 = 1 << 20;

#[test]
fn rechunk_down() {
    let x = ch(vec![rep(1, 100), vec![1000], vec![1000]]);
    let y = rechunk(&x, ChunkSpec::Auto, 1, 10 * MIB);
    assert_eq!(y.as_slices(), vec![rep(10, 10), vec![1000], vec![1000]]);

    let z = rechunk(&y, ChunkSpec::Auto, 1, MIB);
    assert_eq!(
        z.as_slices(),
        vec![rep(4, 25), vec![511, 489], vec![511, 489]]
    );

    let z = rechunk_axes(&y, vec![Some(Auto), None, None], 1, MIB).unwrap();
    assert_eq!(z.as_slices(), vec![rep(1, 100), vec![1000], vec![1000]]);
    let z = rechunk_axes(&y, vec![None, Some(Auto), None], 1, MIB).unwrap();
    assert_eq!(
        z.as_slices(),
        vec![rep(10, 10), cat(&[&rep(104, 9), &[64]]), vec![1000]]
    );
}

#[test]
fn rechunk_auto_whole_array() {
    // test_rechunk_auto in test_array_core.py
    let x = ones(&[10], 1usize);
    let y = rechunk(&x, ChunkSpec::Auto, 8, DEFAULT_CHUNK_SIZE_BYTES);
    assert_eq!(y.nblocks(), 1);
}

// ----------------------------------------------------------------- balance

fn balanced(shape: &[usize], chunks: impl Into<ChunkSpec>) -> (Vec<Vec<usize>>, Vec<usize>) {
    let x = ones(shape, ChunkSpec::Full);
    let target = rechunk(&x, chunks, 8, DEFAULT_CHUNK_SIZE_BYTES);
    let (chunks, unbalanced) = balance_chunks(&target);
    (chunks.into_inner(), unbalanced)
}

#[test]
fn balance_basics_and_unchanged() {
    assert_eq!(ones(&[220], 100usize).as_slices(), b([&[100, 100, 20]]));
    assert_eq!(balanced(&[220], 100usize), (b([&[110, 110]]), vec![]));
}

#[test]
fn balance_small() {
    assert_eq!(balanced(&[13], 4usize).0, b([&[5, 5, 3]]));
    assert_eq!(ones(&[13], 4usize).as_slices(), b([&[4, 4, 4, 1]]));
    assert_eq!(balanced(&[7], 3usize).0, b([&[4, 3]]));
    assert_eq!(ones(&[7], 3usize).as_slices(), b([&[3, 3, 1]]));
}

#[test]
fn balance_n_chunks_size() {
    assert_eq!(
        balanced(&[100], 100usize / 8).0,
        vec![cat(&[&rep(13, 7), &[9]])]
    );
    assert_eq!(
        ones(&[100], 12usize).as_slices(),
        vec![cat(&[&rep(12, 8), &[4]])]
    );
}

#[test]
fn balance_not_possible() {
    let (chunks, unbalanced) = balanced(&[100], 100usize / 11);
    assert_eq!(chunks, ones(&[100], 9usize).into_inner());
    assert_eq!(unbalanced, vec![0]);
    assert_eq!(balanced(&[100], 10usize).1, Vec::<usize>::new());
}

#[test]
fn balance_2d() {
    assert_eq!(
        ones(&[210, 210], [100usize, 100]).as_slices(),
        b([&[100, 100, 10], &[100, 100, 10]])
    );
    assert_eq!(
        balanced(&[210, 210], [100usize, 100]).0,
        b([&[105, 105], &[105, 105]])
    );
    assert_eq!(
        balanced(&[210, 210], [100i64, -1]).0,
        b([&[105, 105], &[210]])
    );
    // test_balance_different_inputs: a byte target already gives one block.
    let bytes = [AxisChunks::Bytes(10_000_000), Full];
    let unbalanced = rechunk(
        &ones(&[210, 210], ChunkSpec::Full),
        bytes.clone(),
        8,
        DEFAULT_CHUNK_SIZE_BYTES,
    );
    assert_eq!(balanced(&[210, 210], bytes).0, unbalanced.into_inner());
}

#[test]
fn balance_split_into_n_chunks() {
    let lengths = [
        991, 997, 1009, 1013, 1019, 1021, 1031, 1033, 1039, 1049, 1051, 1061, 1063, 1069,
    ];
    for n in lengths {
        for nchunks in 1..20 {
            let (chunks, _) = balanced(&[n], n / nchunks);
            assert_eq!(chunks[0].len(), nchunks, "length {n}, {nchunks} chunks");
        }
    }
}

/// Dask's `_balance_chunksizes` as written: a scan over every candidate size.
fn balance_axis_by_scan(blocks: &[usize]) -> Option<Vec<usize>> {
    let total: usize = blocks.iter().sum();
    let mut sorted = blocks.to_vec();
    sorted.sort_unstable();
    let mid = sorted.len() / 2;
    let median = if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        ((sorted[mid - 1] + sorted[mid]) as f64 / 2.0) as usize
    };
    let eps = median / 2;
    let mut n_chunks = blocks.len();
    if (sorted[0] as f64) <= 0.5 * sorted[sorted.len() - 1] as f64 {
        n_chunks -= 1;
    }
    let candidates: Vec<Vec<usize>> = (median - eps..=median + eps)
        .filter(|&len| len > 0)
        .map(|len| crate::chunks::blockdims_axis(0, total, len).unwrap())
        .filter(|c| c.len() == n_chunks)
        .collect();
    let spreads: Vec<usize> = candidates
        .iter()
        .map(|c| c.iter().max().unwrap() - c.iter().min().unwrap())
        .collect();
    let best = spreads.iter().min()?;
    let position = spreads.iter().position(|s| s == best)?;
    Some(candidates[position].clone())
}

#[test]
fn balance_edge_cases() {
    assert_eq!(balance_axis(&[0]), Some(vec![0]));
    assert_eq!(balance_axis(&[]), None);
    assert_eq!(balance_axis(&[7]), Some(vec![7]));
}

// --------------------------------------------------------------- planning

#[test]
fn divide_to_width_cases() {
    assert_eq!(divide_to_width(&[8, 9, 10], 10), vec![8, 9, 10]);
    // 9 becomes (3, 3, 3), not (4, 4, 1).
    assert_eq!(
        divide_to_width(&[8, 2, 9, 10, 11, 12], 4),
        vec![4, 4, 2, 3, 3, 3, 3, 3, 4, 3, 4, 4, 4, 4, 4]
    );
}

#[test]
fn merge_to_number_cases() {
    let tens = rep(10, 4);
    assert_eq!(merge_to_number(&tens, 5), vec![10, 10, 10, 10]);
    assert_eq!(merge_to_number(&tens, 4), vec![10, 10, 10, 10]);
    assert_eq!(merge_to_number(&tens, 3), vec![20, 10, 10]);
    assert_eq!(merge_to_number(&tens, 2), vec![20, 20]);
    assert_eq!(merge_to_number(&tens, 1), vec![40]);

    assert_eq!(merge_to_number(&rep(10, 10), 2), vec![50, 50]);
    assert_eq!(merge_to_number(&rep(10, 10), 3), vec![40, 30, 30]);

    let mixed = [5, 1, 1, 15, 10];
    assert_eq!(merge_to_number(&mixed, 4), vec![5, 2, 15, 10]);
    assert_eq!(merge_to_number(&mixed, 3), vec![7, 15, 10]);
    assert_eq!(merge_to_number(&mixed, 2), vec![22, 10]);
    assert_eq!(merge_to_number(&mixed, 1), vec![32]);

    let ones_and_three = [1, 1, 1, 1, 3, 1, 1];
    assert_eq!(merge_to_number(&ones_and_three, 6), vec![2, 1, 1, 3, 1, 1]);
    assert_eq!(merge_to_number(&ones_and_three, 5), vec![2, 2, 3, 1, 1]);
    assert_eq!(merge_to_number(&ones_and_three, 4), vec![2, 2, 3, 2]);
    assert_eq!(merge_to_number(&ones_and_three, 3), vec![4, 3, 2]);
    assert_eq!(merge_to_number(&ones_and_three, 2), vec![4, 5]);
    assert_eq!(merge_to_number(&ones_and_three, 1), vec![9]);
}

/// Dask's test helper `_plan`: itemsize 1, limit 1e7, threshold 4.
fn plan(old: Vec<Vec<usize>>, new: Vec<Vec<usize>>) -> Vec<Vec<Vec<usize>>> {
    plan_with(old, new, 1, 10_000_000, 4.0)
}

fn plan_with(
    old: Vec<Vec<usize>>,
    new: Vec<Vec<usize>>,
    itemsize: usize,
    limit: u64,
    threshold: f64,
) -> Vec<Vec<Vec<usize>>> {
    plan_rechunk(&ch(old), &ch(new), itemsize, Some(threshold), limit)
        .into_iter()
        .map(Chunks::into_inner)
        .collect()
}

#[test]
fn plan_rechunk_cases() {
    let c = rep(20, 2);
    let f = rep(2, 20);

    // Trivial cases
    assert_eq!(plan(vec![], vec![]), vec![Vec::<Vec<usize>>::new()]);
    let empty_axis = vec![f.clone(), vec![]];
    assert_eq!(
        plan_rechunk_raw(
            &ch(vec![c.clone(), vec![]]),
            &ch(empty_axis.clone()),
            1,
            Some(4.0),
            10_000_000
        ),
        vec![empty_axis]
    );

    // No intermediate required
    assert_eq!(
        plan(vec![c.clone()], vec![f.clone()]),
        vec![vec![f.clone()]]
    );
    assert_eq!(
        plan(vec![f.clone()], vec![c.clone()]),
        vec![vec![c.clone()]]
    );
    let cc = vec![c.clone(), c.clone()];
    let ff = vec![f.clone(), f.clone()];
    assert_eq!(plan(cc.clone(), ff.clone()), vec![ff.clone()]);
    assert_eq!(plan(ff.clone(), cc.clone()), vec![cc.clone()]);
    assert_eq!(
        plan(vec![f.clone(), c.clone()], cc.clone()),
        vec![cc.clone()]
    );
    let cfcc = vec![c.clone(), f.clone(), c.clone(), c.clone()];
    assert_eq!(plan(vec![c.clone(); 4], cfcc.clone()), vec![cfcc]);

    // An intermediate is used to reduce graph size
    let fc = vec![f.clone(), c.clone()];
    let cf = vec![c.clone(), f.clone()];
    assert_eq!(plan(fc.clone(), cf.clone()), vec![cc.clone(), cf.clone()]);
    let cat2 = |a: &[usize], b: &[usize]| cat(&[a, b]);
    assert_eq!(
        plan(
            vec![cat2(&c, &c), cat2(&c, &f)],
            vec![cat2(&f, &f), cat2(&c, &c)]
        ),
        vec![
            vec![cat2(&c, &c), cat2(&c, &c)],
            vec![cat2(&f, &f), cat2(&c, &c)]
        ]
    );

    // Regression test for dask#5908
    assert_eq!(
        plan_with(cc.clone(), ff.clone(), 1, 10_000_000, 1.0),
        vec![ff.clone()]
    );

    // Just at the memory limit => an intermediate is used
    assert_eq!(
        plan_with(fc.clone(), cf.clone(), 1, 400, 4.0),
        vec![cc.clone(), cf.clone()]
    );

    // Hitting the memory limit => partial merge
    let m = rep(10, 4);
    let steps = plan_with(fc.clone(), cf.clone(), 1, 399, 4.0);
    assert_eq!(steps, vec![vec![m.clone(), c.clone()], cf.clone()]);
    assert_eq!(plan_with(fc.clone(), cf.clone(), 10, 3999, 4.0), steps);

    // Larger problem size => more intermediates
    let c = rep(1000, 2);
    let f = rep(2, 1000);
    let steps = plan_with(
        vec![f.clone(), c.clone()],
        vec![c.clone(), f.clone()],
        1,
        99_999,
        4.0,
    );
    assert_eq!(steps.len(), 3);
    assert_eq!(steps.last(), Some(&vec![c, f]));
    for pair in steps.windows(2) {
        let (prev, succ) = (&pair[0], &pair[1]);
        // Merging on the first axis, splitting on the second.
        assert!(succ[0].len() as f64 <= prev[0].len() as f64 / 2.0);
        assert!(succ[1].len() as f64 >= prev[1].len() as f64 * 2.0);
    }
}

#[test]
fn plan_rechunk_5d() {
    let c = vec![10];
    let f = rep(1, 10);
    let v = |axes: [&Vec<usize>; 5]| axes.iter().map(|a| a.to_vec()).collect::<Vec<_>>();
    assert_eq!(
        plan(v([&c, &c, &c, &c, &c]), v([&f, &f, &f, &f, &f])),
        vec![v([&f, &f, &f, &f, &f])]
    );
    assert_eq!(
        plan(v([&f, &f, &f, &f, &c]), v([&c, &c, &c, &f, &f])),
        vec![v([&c, &c, &c, &f, &c]), v([&c, &c, &c, &f, &f])]
    );
    // Only one axis can be merged at first
    assert_eq!(
        plan_with(
            v([&c, &c, &f, &f, &c]),
            v([&c, &c, &c, &f, &f]),
            1,
            20_000,
            4.0
        ),
        vec![v([&c, &c, &c, &f, &c]), v([&c, &c, &c, &f, &f])]
    );
}

#[test]
fn plan_rechunk_heterogeneous() {
    let c = vec![10];
    let f = rep(1, 10);
    let cf = cat(&[&c, &f]);
    let cc = cat(&[&c, &c]);
    let ff = cat(&[&f, &f]);
    let fc = cat(&[&f, &c]);

    // No intermediate required
    let target = vec![ff.clone(), ff.clone()];
    assert_eq!(
        plan(vec![cc.clone(), cf.clone()], target.clone()),
        vec![target]
    );
    let target = vec![ff.clone(), cf.clone()];
    assert_eq!(
        plan(vec![cf.clone(), fc.clone()], target.clone()),
        vec![target]
    );

    // An intermediate is used to reduce graph size
    assert_eq!(
        plan(vec![cc.clone(), cf.clone()], vec![ff.clone(), cc.clone()]),
        vec![vec![cc.clone(), cc.clone()], vec![ff.clone(), cc.clone()]]
    );
    assert_eq!(
        plan(
            vec![cc.clone(), cf.clone(), cc.clone()],
            vec![ff.clone(), cc.clone(), cf.clone()]
        ),
        vec![
            vec![cc.clone(), cc.clone(), cc.clone()],
            vec![ff.clone(), cc.clone(), cf.clone()]
        ]
    );

    // A memory limit constrains the first intermediate.
    assert_eq!(
        plan_with(
            vec![cc.clone(), ff.clone(), cf.clone()],
            vec![ff.clone(), cf.clone(), cc.clone()],
            1,
            100,
            4.0
        ),
        vec![vec![cc.clone(), ff.clone(), cc.clone()], vec![ff, cf, cc]]
    );
}

#[test]
fn plan_rechunk_asymmetric() {
    let a = ch(vec![rep(1, 1000), vec![80_000_000]]);
    let b = ch(vec![vec![1000], rep(80_000, 1000)]);
    let steps = plan_rechunk(&a, &b, 8, None, DEFAULT_CHUNK_SIZE_BYTES);
    assert!(steps.len() > 1);
    assert_eq!(steps.last(), Some(&b));
}

#[test]
fn plan_rechunk_odd_arguments() {
    let old = ch(b([&[5, 5], &[10]]));
    let new = ch(b([&[10], &[2; 5]]));
    // A mismatched pair gets no intermediate.
    let other = ch(b([&[10], &[3, 3]]));
    assert_eq!(plan_rechunk(&old, &other, 8, None, 0), vec![other]);
    for threshold in [None, Some(0.0), Some(-1.0), Some(f64::NAN), Some(0.01)] {
        for itemsize in [0, 1, 8] {
            let steps = plan_rechunk(&old, &new, itemsize, threshold, 0);
            assert_eq!(steps.last(), Some(&new));
        }
    }
}

// ------------------------------------------------------------- properties

fn chunkings(
    ndim: std::ops::Range<usize>,
) -> impl Strategy<Value = (Vec<Vec<usize>>, Vec<Vec<usize>>)> {
    use crate::chunks::tests::partition;
    let length = prop_oneof![Just(0usize), Just(1usize), 2usize..30, 30usize..400];
    prop::collection::vec(length, ndim).prop_flat_map(|shape| {
        let old: Vec<_> = shape.iter().map(|&l| partition(l)).collect();
        let new: Vec<_> = shape.iter().map(|&l| partition(l)).collect();
        (old, new)
    })
}

/// Regular chunkings that are fine along some axes and coarse along others, the
/// transposition-like rechunks for which the planner adds intermediates.
fn fine_or_coarse(
    ndim: std::ops::Range<usize>,
) -> impl Strategy<Value = (Vec<Vec<usize>>, Vec<Vec<usize>>)> {
    let axis = (1usize..300).prop_flat_map(|length| {
        let size = prop_oneof![1usize..6, Just(length), 1..=length];
        (Just(length), size.clone(), size)
    });
    prop::collection::vec(axis, ndim).prop_map(|axes| {
        let blocks =
            |size: usize, length: usize| crate::chunks::blockdims_axis(0, length, size).unwrap();
        axes.iter()
            .map(|&(length, o, n)| (blocks(o, length), blocks(n, length)))
            .unzip()
    })
}

/// Blocks with some empty blocks slipped in, as Dask's slicing can produce.
fn with_zeros(blocks: Vec<Vec<usize>>, seed: u64) -> Vec<Vec<usize>> {
    blocks
        .into_iter()
        .enumerate()
        .map(|(axis, mut axis_blocks)| {
            let position = (seed as usize).wrapping_add(axis * 7) % (axis_blocks.len() + 1);
            if (seed >> axis) & 1 == 1 {
                axis_blocks.insert(position, 0);
            }
            axis_blocks
        })
        .collect()
}

fn check_tiling(old: &Chunks, new: &Chunks) -> Result<(), TestCaseError> {
    let pieces = old_to_new(old, new).unwrap();
    prop_assert_eq!(pieces.len(), new.ndim());
    for (axis, per_block) in pieces.iter().enumerate() {
        let old_blocks = old.axis(axis);
        let old_offsets = old.offsets(axis);
        let new_offsets = new.offsets(axis);
        prop_assert_eq!(per_block.len(), new.axis(axis).len());
        for (k, block_pieces) in per_block.iter().enumerate() {
            prop_assert!(!block_pieces.is_empty());
            let mut position = new_offsets[k];
            let mut last_index = None;
            for (index, range) in block_pieces {
                prop_assert!(*index < old_blocks.len());
                prop_assert!(range.start <= range.end && range.end <= old_blocks[*index]);
                prop_assert_eq!(
                    old_offsets[*index] + range.start,
                    position,
                    "axis {}, block {}",
                    axis,
                    k
                );
                position += range.len();
                prop_assert!(last_index.is_none_or(|l| l < *index));
                last_index = Some(*index);
            }
            prop_assert_eq!(position, new_offsets[k + 1]);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn old_to_new_tiles_each_new_block((old, new) in chunkings(0..4)) {
        let (old, new) = (ch(old), ch(new));
        check_tiling(&old, &new)?;
        prop_assert_eq!(intersect_chunks(&old, &new).unwrap().count(), new.nblocks());
    }

    #[test]
    fn old_to_new_tiles_with_empty_blocks((old, new) in chunkings(1..3), seed in any::<u64>()) {
        let old = ch(with_zeros(old, seed));
        let new = ch(with_zeros(new, seed.rotate_left(17)));
        check_tiling(&old, &new)?;
    }

    #[test]
    fn plan_steps_are_valid(
        (old, new) in prop_oneof![chunkings(1..5), fine_or_coarse(2..5)],
        itemsize in 1usize..9,
        limit in prop_oneof![0u64..20_000, 20_000u64..2_000_000],
        threshold in prop_oneof![Just(None), (0.5f64..8.0).prop_map(Some)],
    ) {
        let (old, new) = (ch(old), ch(new));
        let shape = new.shape();
        let steps = plan_rechunk_raw(&old, &new, itemsize, threshold, limit);
        prop_assert_eq!(steps.last().map(Vec::as_slice), Some(new.as_slices()));
        for step in &steps {
            prop_assert!(Chunks::new(step.clone(), &shape).is_ok(), "step {:?} for {}", step, new);
        }
        // No intermediate block is larger than the limit (raised to the largest
        // old or new block, as Dask does).
        let elements = |c: &Chunks| c.largest_block().iter().map(|&b| b as f64).product::<f64>();
        let limit_elements = (limit as f64 / itemsize as f64).max(elements(&old)).max(elements(&new));
        for step in &steps[..steps.len() - 1] {
            prop_assert!(elements(&ch(step.clone())) <= limit_elements, "step {:?}", step);
            prop_assert!(step != old.as_slices());
        }
        let plan = plan_rechunk(&old, &new, itemsize, threshold, limit);
        prop_assert_eq!(plan.len(), steps.len());
        if std::env::var_os("PLAN_STATS").is_some() && steps.len() > 1 {
            eprintln!("intermediates: {}", steps.len() - 1);
        }
    }

    #[test]
    fn merge_and_divide_keep_the_total(
        blocks in prop::collection::vec(1usize..50, 1..30),
        number in 0usize..40,
        width in 0usize..60,
    ) {
        let total: usize = blocks.iter().sum();
        let merged = merge_to_number(&blocks, number);
        prop_assert_eq!(merged.iter().sum::<usize>(), total);
        prop_assert!(merged.len() <= number.max(1));
        prop_assert!(merged.iter().all(|&b| b > 0));
        let divided = divide_to_width(&blocks, width);
        prop_assert_eq!(divided.iter().sum::<usize>(), total);
        prop_assert!(divided.iter().all(|&b| b > 0 && b <= width.max(1)));
    }

    #[test]
    fn balance_matches_the_scan(blocks in prop_oneof![
        prop::collection::vec(1usize..200, 1..30),
        (1usize..3000).prop_flat_map(|total| (Just(total), 1..=total))
            .prop_map(|(total, size)| crate::chunks::blockdims_axis(0, total, size).unwrap()),
    ]) {
        let balanced = balance_axis(&blocks);
        prop_assert_eq!(&balanced, &balance_axis_by_scan(&blocks));
        if let Some(balanced) = balanced {
            prop_assert_eq!(balanced.iter().sum::<usize>(), blocks.iter().sum::<usize>());
            prop_assert!(balanced.iter().all(|&b| b > 0));
        }
    }
}
