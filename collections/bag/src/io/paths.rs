//! Turning the paths and glob patterns a user gives into a list of files.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;

use crate::error::BagError;

/// The characters that make an entry a glob pattern rather than a path.
const GLOB_CHARS: [char; 3] = ['*', '?', '['];

/// Expands paths and glob patterns into the files they name.
///
/// Each entry is either a plain path, which must exist and be a file, or
/// a glob pattern (any entry with `*`, `?` or `[`; `**` matches any number
/// of directories), which must match at least one file. A glob's matches
/// are sorted by their text, as Dask sorts them; directories it matches
/// are skipped, and so are hidden files (whose names start with `.`)
/// unless the pattern spells the dot, so that `out/*` does not pick up
/// checksum files such as `.part-0.crc`. To name a file whose name holds
/// one of `*?[`, escape it with [`glob::Pattern::escape`].
///
/// The files come in the order of the entries; a file named twice is kept
/// where it first appears.
///
/// # Errors
/// - [`BagError::Read`] if a plain path cannot be looked at (for instance
///   it does not exist: the error's kind is then
///   [`NotFound`](std::io::ErrorKind::NotFound)), or if a directory a glob
///   walks through cannot be listed;
/// - [`BagError::IsDirectory`] if a plain path is a directory;
/// - [`BagError::BadPattern`] if a glob pattern is malformed;
/// - [`BagError::NoMatch`] if a glob pattern matches no file.
pub fn expand<S: AsRef<str>>(patterns: &[S]) -> Result<Vec<PathBuf>, BagError> {
    let mut seen = HashSet::new();
    let mut files = Vec::new();
    for pattern in patterns {
        let pattern = pattern.as_ref();
        for path in expand_one(pattern)? {
            if seen.insert(path.clone()) {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// The files one entry names, in order.
fn expand_one(pattern: &str) -> Result<Vec<PathBuf>, BagError> {
    if !pattern.contains(GLOB_CHARS) {
        let path = PathBuf::from(pattern);
        return match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => Err(BagError::IsDirectory { path }),
            Ok(_) => Ok(vec![path]),
            Err(source) => Err(BagError::Read { path, source }),
        };
    }
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let matches = glob::glob_with(pattern, options).map_err(|err| BagError::BadPattern {
        pattern: pattern.to_owned(),
        message: format!("{} (at character {})", err.msg, err.pos),
    })?;
    let mut files = Vec::new();
    for entry in matches {
        let path = entry.map_err(|err| BagError::Read {
            path: err.path().to_path_buf(),
            source: err.into(),
        })?;
        // `is_dir` follows links, so a link to a directory is skipped too;
        // a dangling link is kept, and fails when read with its own name.
        if !path.is_dir() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(BagError::NoMatch {
            pattern: pattern.to_owned(),
        });
    }
    files.sort_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    Ok(files)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::ErrorKind;
    use std::path::Path;

    fn touch(dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        fs::write(&path, b"x\n").unwrap();
        path
    }

    fn s(path: &Path) -> String {
        path.to_str().unwrap().to_owned()
    }

    #[test]
    fn globs_are_sorted_and_skip_directories_and_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let b = touch(root, "b.txt");
        let a = touch(root, "a.txt");
        let c10 = touch(root, "c10.txt");
        let c9 = touch(root, "c9.txt");
        touch(root, ".hidden.txt");
        fs::create_dir(root.join("d.txt")).unwrap();
        let found = expand(&[s(&root.join("*.txt"))]).unwrap();
        // Text order, as Dask sorts: "c10" before "c9".
        assert_eq!(found, vec![a, b, c10, c9]);
    }

    #[test]
    fn recursive_globs_and_character_classes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let deep = touch(root, "x/y/z/1.log");
        let top = touch(root, "x/2.log");
        touch(root, "x/3.txt");
        let found = expand(&[s(&root.join("x/**/*.log"))]).unwrap();
        assert_eq!(found, vec![top.clone(), deep]);
        let found = expand(&[s(&root.join("x/[0-2].log"))]).unwrap();
        assert_eq!(found, vec![top]);
    }

    #[test]
    fn keeps_entry_order_and_drops_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let a = touch(root, "a");
        let b = touch(root, "b");
        let found = expand(&[s(&b), s(&root.join("?")), s(&a)]).unwrap();
        assert_eq!(found, vec![b, a]);
    }

    #[test]
    fn missing_path_is_a_read_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.txt");
        let err = expand(&[s(&missing)]).unwrap_err();
        match &err {
            BagError::Read { path, source } => {
                assert_eq!(path, &missing);
                assert_eq!(source.kind(), ErrorKind::NotFound);
            }
            other => panic!("expected Read, got {other:?}"),
        }
        assert!(err.to_string().contains("nope.txt"));
    }

    #[test]
    fn directory_path_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let err = expand(&[s(dir.path())]).unwrap_err();
        assert!(matches!(&err, BagError::IsDirectory { path } if path == dir.path()));
        assert!(err.to_string().contains("/*"));
    }

    #[test]
    fn empty_glob_and_bad_pattern() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        let pattern = s(&dir.path().join("*.csv"));
        let err = expand(&[&pattern]).unwrap_err();
        assert!(matches!(&err, BagError::NoMatch { pattern: p } if *p == pattern));
        // Only a directory matches: still no file.
        let err = expand(&[s(&dir.path().join("s*"))]).unwrap_err();
        assert!(matches!(err, BagError::NoMatch { .. }));
        let err = expand(&["data/[a.txt"]).unwrap_err();
        assert!(matches!(&err, BagError::BadPattern { pattern, .. } if pattern == "data/[a.txt"));
        let err = expand(&["a/***/b"]).unwrap_err();
        assert!(matches!(err, BagError::BadPattern { .. }), "{err:?}");
    }

    #[test]
    fn no_entries_give_no_files() {
        let none: [&str; 0] = [];
        assert!(expand(&none).unwrap().is_empty());
    }
}
