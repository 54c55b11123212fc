//! Tests of `text`: block planning, line reading and writing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;

/// No limit on line lengths but the tests' own.
const NO_LIMIT: u64 = u64::MAX;

fn lines_of(blocks: &[TextBlock]) -> Vec<String> {
    blocks
        .iter()
        .flat_map(|block| read_block_lines(block).unwrap())
        .collect()
}

fn plain_file(dir: &Path, bytes: &[u8]) -> PathBuf {
    let path = dir.join("t.txt");
    fs::write(&path, bytes).unwrap();
    path
}

fn check_blocks(dir: &Path, text: &str, blocksize: u64) {
    let path = plain_file(dir, text.as_bytes());
    let blocks = plan_blocks(&[path], Some(blocksize), None, NO_LIMIT).unwrap();
    let expected = text.len().div_ceil(blocksize as usize).max(1);
    assert_eq!(blocks.len(), expected, "{text:?} / {blocksize}");
    let want: Vec<&str> = text.lines().collect();
    assert_eq!(lines_of(&blocks), want, "{text:?} / {blocksize}");
}

#[test]
fn blocks_reassemble_to_the_lines() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("{}\n{}\r\nz", "x".repeat(150), "é".repeat(40));
    let texts = [
        "",
        "\n",
        "a",
        "a\n",
        "a\nb",
        "a\nb\n",
        "\n\n\n",
        "a\n\nb\n\n",
        "a\r\nb\r\n",
        "\r\n\r\n",
        "x\r",
        "x\ry\n\r",
        "é\r\n\r\nü",
        "one line\ntwo lines\nthree lines\nno end",
        long.as_str(),
    ];
    for text in texts {
        for blocksize in [1, 2, 3, 7, 64, text.len() as u64 + 10] {
            check_blocks(dir.path(), text, blocksize);
        }
    }
}

#[test]
fn lines_longer_than_the_buffer_cross_refills() {
    let dir = tempfile::tempdir().unwrap();
    let big = "y".repeat(BUFFER_SIZE + BUFFER_SIZE / 2);
    let text = format!("a\n{big}\r\nb\n{big}");
    for blocksize in [BUFFER_SIZE as u64, 3 * BUFFER_SIZE as u64 / 2 + 1] {
        check_blocks(dir.path(), &text, blocksize);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn any_text_any_blocksize(
        chars in proptest::collection::vec(
            prop::sample::select(vec!['a', 'b', '\n', '\r', 'é', '€']), 0..120),
        blocksize in 1u64..40,
    ) {
        let text: String = chars.into_iter().collect();
        let dir = tempfile::tempdir().unwrap();
        let path = plain_file(dir.path(), text.as_bytes());
        let blocks = plan_blocks(&[path], Some(blocksize), None, NO_LIMIT).unwrap();
        let want: Vec<&str> = text.lines().collect();
        prop_assert_eq!(lines_of(&blocks), want);
    }
}

#[test]
fn plans_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let plain = plain_file(dir.path(), b"0123456789");
    let gz = dir.path().join("t.txt.gz");
    write_lines(&gz, Compression::Gzip, ["x"; 100]).unwrap();
    let empty = dir.path().join("empty.txt");
    fs::write(&empty, b"").unwrap();

    let blocks = plan_blocks(std::slice::from_ref(&plain), Some(3), None, NO_LIMIT).unwrap();
    let ranges: Vec<_> = blocks.iter().map(|b| (b.start, b.end)).collect();
    assert_eq!(
        ranges,
        [(0, Some(3)), (3, Some(6)), (6, Some(9)), (9, None)]
    );
    let blocks = plan_blocks(&[gz.clone(), empty.clone()], Some(1), None, NO_LIMIT).unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].compression, Compression::Gzip);
    assert_eq!((blocks[0].start, blocks[0].end), (0, None));
    assert_eq!((blocks[1].start, blocks[1].end), (0, None));
    let blocks = plan_blocks(&[plain.clone(), gz.clone()], None, None, NO_LIMIT).unwrap();
    assert!(blocks.iter().all(|b| b.start == 0 && b.end.is_none()));
    // A compression given explicitly applies to every file.
    let gz_len = fs::metadata(&gz).unwrap().len();
    let blocks = plan_blocks(&[gz], Some(4), Some(Compression::None), NO_LIMIT).unwrap();
    assert_eq!(blocks.len() as u64, gz_len.div_ceil(4));
    assert!(blocks.iter().all(|b| b.compression == Compression::None));

    let err = plan_blocks(&[plain], Some(0), None, NO_LIMIT).unwrap_err();
    assert!(matches!(err, BagError::ZeroBlocksize));
    let missing = dir.path().join("missing.txt");
    let err = plan_blocks(std::slice::from_ref(&missing), Some(10), None, NO_LIMIT).unwrap_err();
    assert!(matches!(&err, BagError::Read { path, .. } if *path == missing));
    // Without a block size nothing is looked at: the error comes on read.
    let blocks = plan_blocks(std::slice::from_ref(&missing), None, None, NO_LIMIT).unwrap();
    let err = read_block_lines(&blocks[0]).unwrap_err();
    assert!(matches!(&err, BagError::Read { path, source }
        if *path == missing && source.kind() == io::ErrorKind::NotFound));
}

#[test]
fn round_trip_every_compression() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..5000).map(|i| format!("{{\"i\": {i}}}")).collect();
    let mut with_edges = lines.clone();
    with_edges.extend(["".into(), "\r".into(), "ü".into(), "".into()]);
    for c in Compression::ALL {
        let name = match c.extension() {
            Some(ext) => format!("sub/dir/out.txt.{ext}"),
            None => "sub/dir/out.txt".into(),
        };
        let path = dir.path().join(name);
        assert_eq!(write_lines(&path, c, &with_edges).unwrap(), 5004);
        let blocks = plan_blocks(std::slice::from_ref(&path), Some(1000), None, NO_LIMIT).unwrap();
        assert_eq!(blocks[0].compression, c);
        // "\r" alone on a line loses it to the "\r\n" rule, as in `str::lines`.
        let mut want = with_edges.clone();
        want[5001] = String::new();
        assert_eq!(lines_of(&blocks), want, "{c}");
        assert_eq!(write_lines(&path, c, Vec::<String>::new()).unwrap(), 0);
        assert_eq!(
            lines_of(&plan_blocks(&[path], None, None, NO_LIMIT).unwrap()),
            Vec::<String>::new()
        );
    }
}

#[test]
fn compressed_blocks_starting_past_zero() {
    let dir = tempfile::tempdir().unwrap();
    for c in [Compression::Gzip, Compression::Zstd] {
        let path = dir.path().join(format!("t.{}", c.name()));
        write_lines(&path, c, ["aa", "bb", "cc", "dd"]).unwrap();
        let block = |start, end| TextBlock {
            path: path.clone(),
            compression: c,
            start,
            end,
            max_line_length: NO_LIMIT,
        };
        assert_eq!(read_block_lines(&block(3, Some(7))).unwrap(), ["bb", "cc"]);
        assert_eq!(read_block_lines(&block(4, None)).unwrap(), ["cc", "dd"]);
        assert!(read_block_lines(&block(100, None)).unwrap().is_empty());
    }
}

#[test]
fn interrupted_reads_are_retried() {
    /// Gives its text a few bytes at a time, interrupted before each.
    struct Flaky<'a>(&'a [u8], bool);
    impl Read for Flaky<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 = !self.1;
            if self.1 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.0.len()).min(3);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
    let text = "first\r\nsecond\n\nthird";
    let block = TextBlock {
        path: PathBuf::from("flaky"),
        compression: Compression::None,
        start: 2,
        end: None,
        max_line_length: NO_LIMIT,
    };
    let reader = BufReader::new(Flaky(text.as_bytes(), false));
    let mut lines = Vec::new();
    let count = LineReader::new(reader, &block, 1)
        .run(&block, &mut |line: &str| {
            lines.push(line.to_owned());
            Ok::<(), Infallible>(())
        })
        .unwrap();
    assert_eq!(count, 3);
    assert_eq!(lines, ["second", "", "third"]);
}

#[test]
fn sink_errors_pass_through_unchanged() {
    #[derive(Debug, PartialEq)]
    struct Stop(usize);
    let dir = tempfile::tempdir().unwrap();
    let path = plain_file(dir.path(), b"a\nb\nc\nd\n");
    let block = TextBlock {
        path,
        compression: Compression::None,
        start: 0,
        end: None,
        max_line_length: NO_LIMIT,
    };
    let mut seen = Vec::new();
    let err = read_lines(&block, |line| {
        seen.push(line);
        if seen.len() == 2 {
            Err(Stop(2))
        } else {
            Ok(())
        }
    })
    .unwrap_err();
    assert!(matches!(err, ReadError::Sink(Stop(2))));
    assert_eq!(seen, ["a", "b"]);
    assert_eq!(read_lines(&block, |_| Ok::<(), Stop>(())).unwrap(), 4);
}

#[test]
fn invalid_utf8_names_the_line_offset() {
    let dir = tempfile::tempdir().unwrap();
    let long = vec![b'z'; BUFFER_SIZE + 10];
    let cases: [(&[u8], u64); 4] = [
        (b"\xff", 0),
        (b"ok\nfine\n\xc3(\nmore\n", 8),
        (b"ok\nlast line \xff", 3),
        // The bad byte is past the first buffer: the line spans refills.
        (&[b"ab\n", long.as_slice(), b"\xff\n"].concat(), 3),
    ];
    for (bytes, offset) in cases {
        let path = plain_file(dir.path(), bytes);
        for blocksize in [None, Some(5)] {
            let blocks =
                plan_blocks(std::slice::from_ref(&path), blocksize, None, NO_LIMIT).unwrap();
            let err = blocks
                .iter()
                .find_map(|block| read_block_lines(block).err())
                .unwrap();
            match &err {
                BagError::NotUtf8 { path: p, offset: o } => {
                    assert_eq!((p, *o), (&path, offset));
                }
                other => panic!("expected NotUtf8, got {other:?}"),
            }
            assert!(err.to_string().contains(&format!("byte {offset} ")));
        }
    }
    // In a compressed file, the offset counts decompressed bytes.
    let path = dir.path().join("bad.gz");
    let mut writer = Compression::Gzip
        .writer(File::create(&path).unwrap())
        .unwrap();
    writer.write_all(b"good\n\xfe\n").unwrap();
    writer.finish().unwrap();
    let blocks = plan_blocks(&[path], None, None, NO_LIMIT).unwrap();
    let err = read_block_lines(&blocks[0]).unwrap_err();
    assert!(
        matches!(err, BagError::NotUtf8 { offset: 5, .. }),
        "{err:?}"
    );
}

#[test]
fn corrupt_files_fail_with_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.txt.zst");
    let lines: Vec<String> = (0..2000).map(|i| format!("line {i}")).collect();
    write_lines(&path, Compression::Zstd, &lines).unwrap();
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 20]).unwrap();
    let blocks = plan_blocks(std::slice::from_ref(&path), None, None, NO_LIMIT).unwrap();
    let err = read_block_lines(&blocks[0]).unwrap_err();
    assert!(
        matches!(&err, BagError::Corrupt { path: p, compression: "zstd", .. } if *p == path),
        "{err:?}"
    );
}

#[test]
fn write_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = plain_file(dir.path(), b"a file, not a directory");
    let path = blocker.join("out.txt");
    let err = write_lines(&path, Compression::None, ["x"]).unwrap_err();
    assert!(
        matches!(&err, BagError::Write { path: p, .. } if *p == blocker),
        "{err:?}"
    );
}

#[test]
fn name_patterns() {
    let names = |pattern, n| -> Vec<String> {
        expand_name_pattern(pattern, n)
            .unwrap()
            .into_iter()
            .map(|p| p.to_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names("out/*.json.gz", 3),
        ["out/0.json.gz", "out/1.json.gz", "out/2.json.gz"]
    );
    assert_eq!(names("out", 2), ["out/0.part", "out/1.part"]);
    assert_eq!(names("out/", 1), ["out/0.part"]);
    assert_eq!(names("p-*", 10).last().unwrap(), "p-9");
    let eleven = names("p-*", 11);
    assert_eq!((eleven[0].as_str(), eleven[10].as_str()), ("p-00", "p-10"));
    assert_eq!(names("p-*", 101)[7], "p-007");
    assert!(names("p-*", 0).is_empty());
    let err = expand_name_pattern("a/*/b*", 2).unwrap_err();
    assert!(matches!(&err, BagError::BadNamePattern { stars: 2, .. }));
    assert!(err.to_string().contains("exactly one `*`"));
}

#[test]
fn a_line_past_the_limit_names_the_file_and_where_the_line_starts() {
    let dir = tempfile::tempdir().unwrap();
    let long = vec![b'x'; BUFFER_SIZE * 2 + 17];
    // Short lines, then one long line that spans refills of the buffer.
    let text = [b"ok\nfine\n".as_slice(), &long, b"\nafter\n"].concat();
    let path = plain_file(dir.path(), &text);
    let block = |limit| TextBlock {
        path: path.clone(),
        compression: Compression::None,
        start: 0,
        end: None,
        max_line_length: limit,
    };
    let err = read_block_lines(&block(BUFFER_SIZE as u64)).unwrap_err();
    assert!(
        matches!(&err, BagError::LineTooLong { offset: 8, limit, .. } if *limit == BUFFER_SIZE as u64),
        "{err}"
    );
    assert!(err.to_string().contains("t.txt"), "{err}");
    // A line of exactly the limit is read; one byte more is refused, also
    // when the line is whole in the buffer.
    assert_eq!(
        read_block_lines(&block(long.len() as u64)).unwrap().len(),
        4
    );
    assert!(read_block_lines(&block(long.len() as u64 - 1)).is_err());
    let short = plain_file(dir.path(), b"abcdef\n");
    let mut six = block(5);
    six.path = short;
    assert!(matches!(
        read_block_lines(&six).unwrap_err(),
        BagError::LineTooLong { offset: 0, .. }
    ));
}
