//! The spill file: one file per store, in a folder of its own inside the
//! temporary directory (made too if missing), made at the first spill and
//! removed with the store.
//!
//! Values go into extents of that one file: a freed extent is reused
//! (best fit, neighbours merged), and the file is cut back when its end is
//! freed. One file rather than one per value because creating a file costs
//! far more than writing into one (0.8 ms against 1 µs on the project's
//! machine), and a spilling run may write hundreds of thousands of values.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use barrow_core::config::TemporaryDirectory;
use barrow_core::{Error, ErrorKind, Key, Result};

/// The name of the spill file inside the store's folder.
const FILE_NAME: &str = "values.spill";

/// Free space at the end of the file past which the file is cut back.
const TRIM_AT: u64 = 1 << 20;

/// Where a spilled value lies in the spill file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Extent {
    pub(super) offset: u64,
    pub(super) len: u64,
}

/// The store's folder and spill file, made when first needed.
#[derive(Debug)]
pub(super) struct Arena {
    /// Where the folder goes: the parent given, or the one that the
    /// configuration chose once it is made.
    parent: PathBuf,
    /// The configuration's `temporary-directory` and its fall-back, when
    /// the store was made from the configuration.
    configured: Option<TemporaryDirectory>,
    open: Option<Open>,
    free: FreeList,
}

#[derive(Debug)]
struct Open {
    // Declared before `dir`, so it is closed before the folder is removed.
    file: File,
    path: PathBuf,
    dir: tempfile::TempDir,
    /// Where the used part of the file ends.
    end: u64,
    /// The file's length.
    len: u64,
}

impl Arena {
    pub(super) fn new(parent: PathBuf) -> Arena {
        Arena {
            parent,
            configured: None,
            open: None,
            free: FreeList::default(),
        }
    }

    /// An arena in the configured temporary directory, falling back to the
    /// system's (with a warning) if its folder cannot be made there.
    pub(super) fn configured(choice: TemporaryDirectory) -> Arena {
        Arena {
            parent: choice.preferred().to_owned(),
            configured: Some(choice),
            open: None,
            free: FreeList::default(),
        }
    }

    pub(super) fn parent(&self) -> &Path {
        &self.parent
    }

    /// The store's folder, once made.
    pub(super) fn dir(&self) -> Option<&Path> {
        self.open.as_ref().map(|open| open.dir.path())
    }

    /// The spill file, once made.
    pub(super) fn path(&self) -> Option<&Path> {
        self.open.as_ref().map(|open| open.path.as_path())
    }

    fn open(&mut self) -> Result<&mut Open> {
        if self.open.is_none() {
            let cannot = |what: &str, path: &Path, e: std::io::Error| {
                Error::new(
                    ErrorKind::Store,
                    format!(
                        "cannot {what} {}: {e}; set `temporary-directory` to a writable folder \
                         with free space, or raise `local.spill.memory-limit`",
                        path.display()
                    ),
                )
                .with_source(e)
            };
            let make = |parent: &Path| {
                tempfile::Builder::new()
                    .prefix("barrow-spill-")
                    .tempdir_in(parent)
            };
            let dir = match &self.configured {
                Some(choice) => {
                    let (dir, parent) = choice.make_in("a spill folder", make).map_err(|e| {
                        Error::new(
                            ErrorKind::Store,
                            format!("{e}, or raise `local.spill.memory-limit`"),
                        )
                        .with_source(e)
                    })?;
                    self.parent = parent;
                    dir
                }
                None => {
                    std::fs::create_dir_all(&self.parent)
                        .map_err(|e| cannot("create the temporary directory", &self.parent, e))?;
                    make(&self.parent)
                        .map_err(|e| cannot("create a spill folder in", &self.parent, e))?
                }
            };
            let path = dir.path().join(FILE_NAME);
            let file = File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| cannot("create the spill file", &path, e))?;
            self.open = Some(Open {
                file,
                path,
                dir,
                end: 0,
                len: 0,
            });
        }
        match &mut self.open {
            Some(open) => Ok(open),
            None => Err(Error::internal("the spill file vanished after it was made")),
        }
    }

    /// Writes `bytes`, the encoded result of task `key`, into a free extent.
    /// A failed write frees the extent again.
    pub(super) fn write(&mut self, key: &Key, bytes: &[u8]) -> Result<Extent> {
        let len = bytes.len() as u64;
        let reused = self.free.take(len);
        let open = self.open()?;
        let offset = match reused {
            Some(offset) => offset,
            None => {
                open.end += len;
                open.len = open.len.max(open.end);
                open.end - len
            }
        };
        let written = open
            .file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| open.file.write_all(bytes));
        let extent = Extent { offset, len };
        if let Err(e) = written {
            let path = open.path.clone();
            // The value stays in memory; its extent is free space again.
            let _ = self.release(extent);
            return Err(Error::new(
                ErrorKind::Store,
                format!(
                    "cannot spill the result of task {key} ({len} bytes) to {}: {e}; the disk \
                     may be full: free space, set `temporary-directory` to a folder on another \
                     disk, or raise `local.spill.memory-limit`",
                    path.display()
                ),
            )
            .with_source(e));
        }
        Ok(extent)
    }

    /// Reads back the bytes of task `key`.
    pub(super) fn read(&mut self, extent: Extent, key: &Key) -> Result<Vec<u8>> {
        let open = self.open()?;
        let mut bytes = Vec::new();
        let read = usize::try_from(extent.len)
            .map_err(std::io::Error::other)
            .and_then(|len| {
                bytes
                    .try_reserve_exact(len)
                    .map_err(std::io::Error::other)?;
                open.file.seek(SeekFrom::Start(extent.offset))?;
                (&mut open.file).take(extent.len).read_to_end(&mut bytes)
            });
        match read {
            Ok(n) if n as u64 == extent.len => Ok(bytes),
            Ok(n) => Err(Error::new(
                ErrorKind::Store,
                format!(
                    "the spill file {} ends early: the result of task {key} needs bytes {} to {}, \
                     and only {n} of them are there; was it changed while the computation ran?",
                    open.path.display(),
                    extent.offset,
                    extent.offset + extent.len
                ),
            )),
            Err(e) => Err(Error::new(
                ErrorKind::Store,
                format!(
                    "cannot read the spilled result of task {key} back from {}: {e}",
                    open.path.display()
                ),
            )
            .with_source(e)),
        }
    }

    /// Frees `extent`; cuts the file back when enough of its end is free.
    pub(super) fn release(&mut self, extent: Extent) -> Result<()> {
        let Some(open) = &mut self.open else {
            return Ok(());
        };
        let (offset, len) = self.free.give(extent.offset, extent.len);
        if offset + len == open.end {
            self.free.remove(offset, len);
            open.end = offset;
        }
        if open.len - open.end >= TRIM_AT.min(open.len / 2).max(4096) {
            open.file.set_len(open.end).map_err(|e| {
                Error::new(
                    ErrorKind::Store,
                    format!("cannot shorten the spill file {}: {e}", open.path.display()),
                )
                .with_source(e)
            })?;
            open.len = open.end;
        }
        Ok(())
    }
}

/// Free extents, by offset (to merge neighbours) and by size (best fit).
#[derive(Debug, Default)]
struct FreeList {
    by_offset: BTreeMap<u64, u64>,
    by_size: BTreeSet<(u64, u64)>,
}

impl FreeList {
    /// The offset of a free extent of `len` bytes, taken from the smallest
    /// that fits.
    fn take(&mut self, len: u64) -> Option<u64> {
        let &(size, offset) = self.by_size.range((len, 0)..).next()?;
        self.remove(offset, size);
        if size > len {
            self.insert(offset + len, size - len);
        }
        Some(offset)
    }

    /// Frees an extent, merged with free neighbours; gives the merged one.
    fn give(&mut self, mut offset: u64, mut len: u64) -> (u64, u64) {
        if let Some((&before, &before_len)) = self.by_offset.range(..offset).next_back()
            && before + before_len == offset
        {
            self.remove(before, before_len);
            offset = before;
            len += before_len;
        }
        if let Some(&after_len) = self.by_offset.get(&(offset + len)) {
            self.remove(offset + len, after_len);
            len += after_len;
        }
        self.insert(offset, len);
        (offset, len)
    }

    fn insert(&mut self, offset: u64, len: u64) {
        self.by_offset.insert(offset, len);
        self.by_size.insert((len, offset));
    }

    fn remove(&mut self, offset: u64, len: u64) {
        self.by_offset.remove(&offset);
        self.by_size.remove(&(len, offset));
    }
}

#[cfg(test)]
mod tests {
    use barrow_core::Key;

    use super::{Arena, Extent, FreeList};

    #[test]
    fn free_extents_merge_and_fit_best() {
        let mut free = FreeList::default();
        free.give(0, 10);
        free.give(20, 5);
        assert_eq!(free.take(4), Some(20), "the smallest that fits");
        assert_eq!(free.give(10, 10), (0, 20), "merged with the extent before");
        assert_eq!(free.give(24, 1), (24, 1));
        assert_eq!(free.give(20, 4), (0, 25), "merged on both sides");
        assert_eq!(free.take(26), None);
        assert_eq!(free.take(25), Some(0));
        assert!(free.by_offset.is_empty() && free.by_size.is_empty());
    }

    #[test]
    fn the_file_reuses_space_and_shrinks() {
        let parent = tempfile::tempdir().unwrap();
        let mut arena = Arena::new(parent.path().to_path_buf());
        assert!(arena.path().is_none(), "made at the first write");
        let key = Key::new("k");
        let a = arena.write(&key, &[1; 3000]).unwrap();
        let b = arena.write(&key, &[2; 5000]).unwrap();
        assert_eq!(
            b,
            Extent {
                offset: 3000,
                len: 5000
            }
        );
        arena.release(a).unwrap();
        let c = arena.write(&key, &[3; 1000]).unwrap();
        assert_eq!(c.offset, 0, "reuses freed space");
        assert_eq!(arena.read(b, &key).unwrap(), vec![2; 5000]);
        assert_eq!(arena.read(c, &key).unwrap(), vec![3; 1000]);
        let path = arena.path().unwrap().to_path_buf();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 8000);
        arena.release(b).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 1000, "cut back");
        arena.release(c).unwrap();
        arena.write(&key, &[4; 100]).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            1000,
            "small ends are not worth a cut"
        );
        let dir = arena.dir().unwrap().to_path_buf();
        drop(arena);
        assert!(!dir.exists());
    }
}
