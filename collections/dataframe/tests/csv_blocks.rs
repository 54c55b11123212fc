//! `read_csv` with a `blocksize`: each file cut into blocks at line ends,
//! every row read exactly once whatever the cut, and a bad row still named
//! by its file.
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
