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

/// A file without newlines (a binary blob) ends the read with an error
/// naming the file and where the line starts, at `bag.max-line-length`.
#[test]
fn a_file_without_newlines_stops_at_the_line_length_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut blob = b"header\n".to_vec();
    blob.extend(
        (0..3 << 20)
            .map(|i: u32| (i % 251) as u8 | 0x80)
            .filter(|&b| b != b'\n'),
    );
    std::fs::write(dir.path().join("blob.bin"), &blob).unwrap();
    let _limit = barrow_core::config::scoped([("bag.max-line-length", "1MiB")]).unwrap();
    let bag = read_text(pattern(dir.path(), "blob.bin"))
        .into_bag()
        .unwrap();
    for scheduler in ["sync", "threads"] {
        let err = compute_with(&bag.count(), &options(scheduler)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io);
        let text = err.to_string();
        assert!(text.contains("blob.bin"), "{text}");
        assert!(text.contains("line starting at byte 7"), "{text}");
        assert!(
            text.contains("bag.max-line-length (1048576 bytes)"),
            "{text}"
        );
    }
    // Set in code, the limit wins over the configuration.
    let bag = read_text(pattern(dir.path(), "blob.bin"))
        .max_line_length(8 << 20)
        .into_bag()
        .unwrap();
    let count = compute_with(&bag.count(), &options("sync"));
    assert!(
        matches!(&count, Err(e) if e.to_string().contains("not valid UTF-8")),
        "within the limit, the blob is read (and is not text): {count:?}"
    );
}

/// `/dev/zero` never ends and has no newline: without a limit the read
/// grows one line until the process aborts, so this runs in a child.
#[cfg(target_os = "linux")]
#[test]
fn dev_zero_is_refused_at_bag_max_line_length_without_crashing() {
    let name = "dev_zero_is_refused_at_bag_max_line_length_without_crashing";
    let Some(output) =
        barrow_core::testing::child::run(name, &[("BARROW_BAG__MAX_LINE_LENGTH", "4MiB")])
    else {
        let bag = read_text("/dev/zero").into_bag().unwrap();
        let err = compute_with(&bag.count(), &options("sync")).unwrap_err();
        assert!(
            matches!(
                err.source_as::<BagError>(),
                Some(BagError::LineTooLong {
                    offset: 0,
                    limit: 4194304,
                    ..
                })
            ),
            "{err}"
        );
        assert!(err.to_string().contains("/dev/zero"), "{err}");
        return;
    };
    barrow_core::testing::child::assert_passed(name, &output);
}
