//! `read_csv` with a `blocksize`: each file cut into blocks at line ends,
//! every row read exactly once whatever the cut, and a bad row still named
//! by its file; and Barrow's CSV reader against arrow-csv's, on one
//! table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use barrow_core::compute_with;
use barrow_dataframe::{CsvOptions, DataFrame};
use proptest::prelude::*;

mod common;

use common::options;

fn write_table(dir: &std::path::Path, name: &str, rows: &[(i64, String)]) {
    let mut text = String::from("id,word\n");
    for (id, word) in rows {
        text.push_str(&format!("{id},{word}\n"));
    }
    std::fs::write(dir.join(name), text).unwrap();
}

fn blocks(size: u64) -> CsvOptions {
    CsvOptions {
        blocksize: Some(size),
        ..CsvOptions::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_row_is_read_once_whatever_the_blocks(
        words in proptest::collection::vec("[a-z]{0,12}", 0..40),
        more in proptest::collection::vec("[a-z]{1,3}", 0..10),
        size in 1u64..120,
        threads in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let first: Vec<(i64, String)> = words.into_iter().enumerate().map(|(i, w)| (i as i64, w)).collect();
        let second: Vec<(i64, String)> =
            more.into_iter().enumerate().map(|(i, w)| (1000 + i as i64, w)).collect();
        write_table(dir.path(), "a.csv", &first);
        write_table(dir.path(), "b.csv", &second);
        let pattern = dir.path().join("*.csv");
        let pattern = pattern.to_str().unwrap();
        let whole = DataFrame::read_csv(pattern).unwrap();
        let cut = DataFrame::read_csv_with(pattern, blocks(size)).unwrap();
        let bytes = std::fs::metadata(dir.path().join("a.csv")).unwrap().len();
        prop_assert!(cut.npartitions() as u64 >= bytes.div_ceil(size));
        let opts = options(if threads { "threads" } else { "sync" });
        let (a, b) = (compute_with(&whole, &opts).unwrap(), compute_with(&cut, &opts).unwrap());
        // (With no rows, `id` is inferred as text: compare whole tables.)
        prop_assert_eq!(a, b);
    }
}

/// A row of the table both readers read: an integer, a float, a text,
/// each maybe empty (null).
type Mixed = (Option<i64>, Option<f64>, Option<String>);

/// The table as CSV, texts quoted (with a doubled quote inside). With
/// `stray`, an unused column has a quote inside an unquoted field on every
/// line: csv_core reads it as a plain character, and Barrow's own reader
/// hands such a block to arrow-csv.
fn mixed_text(rows: &[Mixed], stray: bool, crlf: bool) -> String {
    let end = if crlf { "\r\n" } else { "\n" };
    let extra = if stray { "un\"used" } else { "unused" };
    let mut text = format!("n,x,extra,s{end}");
    for (n, x, s) in rows {
        let n = n.map(|n| n.to_string()).unwrap_or_default();
        let x = x.map(|x| x.to_string()).unwrap_or_default();
        let s = s
            .as_ref()
            .map(|s| format!("\"{}\"", s.replace('"', "\"\"")))
            .unwrap_or_default();
        text.push_str(&format!("{n},{x},{extra},{s}{end}"));
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn barrows_csv_reader_reads_as_arrow_csv_does(
        rows in proptest::collection::vec(
            (
                proptest::option::of(any::<i64>()),
                proptest::option::of(-1e12f64..1e12),
                proptest::option::of("[a-z ,\"\n]{1,8}"),
            ),
            1..60,
        ),
        crlf in any::<bool>(),
        size in proptest::option::of(16u64..400),
    ) {
        let dir = tempfile::tempdir().unwrap();
        // The first row fixes the types for inference: no nulls in it.
        let mut rows = rows;
        rows[0] = (Some(1), Some(0.5), Some("first".into()));
        // A block cut inside a quoted line break is not read whole by
        // either reader (as in Dask): cut only files without them.
        let size = size.filter(|_| rows.iter().all(|r| !r.2.as_deref().unwrap_or("").contains('\n')));
        std::fs::write(dir.path().join("ours.csv"), mixed_text(&rows, false, crlf)).unwrap();
        std::fs::write(dir.path().join("arrow.csv"), mixed_text(&rows, true, crlf)).unwrap();
        let read = |name: &str| {
            let path = dir.path().join(name);
            let csv = CsvOptions { blocksize: size, ..CsvOptions::default() };
            let df = DataFrame::read_csv_with(path.to_str().unwrap(), csv).unwrap();
            let some = df.select(["n", "x", "s"]).unwrap();
            compute_with(&some, &options("sync")).unwrap()
        };
        prop_assert_eq!(read("ours.csv"), read("arrow.csv"));
    }
}

#[test]
fn a_bad_row_in_a_later_block_names_the_file_and_where_the_block_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("id,word\n");
    // Past the rows types are inferred from (1,000).
    for i in 0..1200 {
        text.push_str(&format!("{i},w{i}\n"));
    }
    text.push_str("oops,w\n");
    std::fs::write(dir.path().join("t.csv"), text).unwrap();
    let path = dir.path().join("t.csv");
    let df = DataFrame::read_csv_with(path.to_str().unwrap(), blocks(4096)).unwrap();
    assert!(df.explain().contains("blocks"), "{}", df.explain());
    let err = compute_with(&df, &options("sync")).unwrap_err().to_string();
    assert!(err.contains("t.csv"), "{err}");
    assert!(err.contains("lines counted from byte"), "{err}");
    assert!(err.contains("oops"), "{err}");
    let err = DataFrame::read_csv_with(path.to_str().unwrap(), blocks(0)).unwrap_err();
    assert!(err.to_string().contains("blocksize 0"), "{err}");
}
