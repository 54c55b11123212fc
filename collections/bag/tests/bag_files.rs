//! Text files through bags: reading blocks and compressed files, writing
//! and reading back, and the errors a user sees for bad files.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::Path;

use barrow_bag::{Bag, BagError, read_text};
use barrow_core::{ErrorKind, Options, compute_with};
use proptest::prelude::*;

fn options(scheduler: &str) -> Options {
    barrow_local::link();
    Options::new().scheduler(scheduler).num_workers(2)
}

fn pattern(dir: &Path, name: &str) -> String {
    dir.join(name).to_string_lossy().into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Whatever the block size, the lines of a bag read from files are the
    /// files' lines, in order, each once; written back and read again,
    /// through any compression, they are the same.
    #[test]
    fn lines_survive_blocks_and_round_trips(
        files in prop::collection::vec(prop::collection::vec("[a-z ]{0,12}", 0..40), 1..4),
        blocksize in 1u64..200,
        extension in prop::sample::select(vec!["txt", "txt.gz", "txt.bz2", "txt.xz", "txt.zst"]),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut expected = Vec::new();
        for (i, lines) in files.iter().enumerate() {
            let mut text = lines.join("\n");
            if !lines.is_empty() {
                text.push('\n');
            }
            std::fs::write(dir.path().join(format!("in-{i}.txt")), text).unwrap();
            expected.extend(lines.iter().cloned());
        }
        for s in ["sync", "threads"] {
            let bag = read_text(pattern(dir.path(), "in-*.txt")).blocksize(blocksize).into_bag()?;
            prop_assert_eq!(&compute_with(&bag, &options(s))?, &expected);
            let out = pattern(dir.path(), &format!("{s}/out-*.{extension}"));
            let written = compute_with(bag.repartition(3)?.to_textfiles(&out)?, &options(s))?;
            prop_assert_eq!(written.len(), 3);
            let back = read_text(out.as_str()).into_bag()?;
            prop_assert_eq!(&compute_with(&back, &options(s))?, &expected);
        }
    }
}

#[test]
fn explicit_compression_reads_files_without_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    // A gzip file written by a bag, renamed so its extension says nothing.
    let bag = Bag::from_sequence(["one", "two"], 1).unwrap();
    let written = compute_with(
        bag.to_textfiles(&pattern(dir.path(), "x-*.gz")).unwrap(),
        &options("sync"),
    )
    .unwrap();
    let path = dir.path().join("data.log");
    std::fs::rename(&written[0], &path).unwrap();
    let plain = read_text(path.as_path()).into_bag().unwrap();
    assert_ne!(
        compute_with(&plain, &options("sync")).unwrap_or_default(),
        ["one", "two"]
    );
    let bag = read_text(path.as_path())
        .compression("gzip")
        .unwrap()
        .into_bag()
        .unwrap();
    assert_eq!(
        compute_with(&bag, &options("sync")).unwrap(),
        ["one", "two"]
    );
    let error = read_text(path.as_path()).compression("rar").unwrap_err();
    assert!(
        error.to_string().contains("unknown compression \"rar\""),
        "{error}"
    );
}

#[test]
fn a_missing_file_or_an_empty_glob_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = pattern(dir.path(), "nope.txt");
    let error = read_text(missing.as_str()).into_bag().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Io);
    assert!(error.to_string().contains("nope.txt"), "{error}");

    let error = read_text(pattern(dir.path(), "*.csv"))
        .into_bag()
        .unwrap_err();
    assert!(matches!(
        error.source_as::<BagError>(),
        Some(BagError::NoMatch { .. })
    ));
    assert!(error.to_string().contains("*.csv"), "{error}");

    let error = read_text(missing.as_str())
        .blocksize(0)
        .into_bag()
        .unwrap_err();
    assert!(
        error.to_string().contains("blocksize must be at least 1"),
        "{error}"
    );
}

#[test]
fn a_corrupt_compressed_file_fails_its_partition_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("good.txt"), "fine\n").unwrap();
    // A gzip header followed by garbage.
    let mut bad = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    bad.extend(std::iter::repeat_n(0xAB, 64));
    std::fs::write(dir.path().join("bad.txt.gz"), bad).unwrap();
    let bag = read_text([
        pattern(dir.path(), "good.txt"),
        pattern(dir.path(), "bad.txt.gz"),
    ])
    .into_bag()
    .unwrap();
    for s in ["sync", "threads"] {
        let error = compute_with(bag.count(), &options(s)).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Io, "{error}");
        let text = error.to_string();
        assert!(
            text.contains("bad.txt.gz") && text.contains("gzip"),
            "{text}"
        );
        assert_eq!(
            error.key().unwrap().index(),
            [1],
            "the second partition: {text}"
        );
    }
}

#[test]
fn invalid_utf8_names_the_file_and_the_line_offset() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("latin1.txt"), b"ok\ncaf\xe9\n").unwrap();
    let bag = read_text(pattern(dir.path(), "latin1.txt"))
        .into_bag()
        .unwrap();
    let error = compute_with(&bag, &options("sync")).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("latin1.txt") && text.contains("byte 3"),
        "{text}"
    );
}
