//! A plugin file is checked before the dynamic loader sees it: the loader
//! trusts the file's headers (a truncated library made it fault with
//! SIGBUS) and runs a library's constructors as it opens it, so whatever
//! can be told from the bytes is told first, by reading them with the
//! `object` crate:
//!
//! - a regular file, not empty (a directory, a device, a file of 0 bytes);
//! - an object file of this system's format (ELF, Mach-O or PE), for this
//!   machine's architecture and pointer width;
//! - a shared library, not an executable or an object file;
//! - every segment and section within the file's size (a cut-off copy);
//! - Barrow's entry symbol exported;
//! - the description [`export_plugin!`](barrow_plugin::export_plugin)
//!   embeds (section [`barrow_plugin::meta::ELF_SECTION`]), when present,
//!   readable: `barrow plugin inspect` reads it instead of loading the
//!   library. Plugins built before it existed have none; they are still
//!   loaded.
//!
//! Layout and version checks stay with the loading: they need the types
//! the library builds. The checks catch mistakes, not malice (a file can
//! change between the check and the load); plugins are trusted code.

use std::io::Read;
use std::path::Path;

use barrow_plugin::meta::{ELF_SECTION, MACHO_SECTION, Metadata, PE_SECTION};
use object::{Architecture, BinaryFormat, Object, ObjectKind, ObjectSection, ObjectSegment};

use crate::error::{Error, Result};

/// Larger files are refused before they are read: no plugin library is
/// near this, and reading a huge file whole would exhaust memory.
const MAX_FILE_SIZE: u64 = 2 << 30;

/// The symbol every Barrow plugin exports (abi_stable's root module
/// loader).
const ENTRY_SYMBOL: &str = barrow_plugin::__private::ROOT_SYMBOL;

/// What the checks found out about a plugin file.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The description the plugin embeds, if it was built with one.
    pub metadata: Option<Metadata>,
}

fn not_a_library(path: &Path, reason: impl Into<String>) -> Error {
    Error::NotALibrary {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Checks the file at `path` (see the module's notes) without loading it.
pub(crate) fn check_file(path: &Path) -> Result<Checked> {
    let bytes = read(path)?;
    let file = object::File::parse(bytes.as_slice()).map_err(|e| {
        not_a_library(
            path,
            format!("its contents are not an object file ({e}): it is not a shared library"),
        )
    })?;
    check_format(path, &file)?;
    check_extent(path, &file, bytes.len() as u64)?;
    let damaged = |e: object::Error| {
        not_a_library(
            path,
            format!("its table of exported symbols is damaged ({e})"),
        )
    };
    let mut has_entry = false;
    for export in file.exports().map_err(damaged)? {
        let export = export.map_err(damaged)?;
        let Some(name) = export.name().into_name() else {
            continue;
        };
        // Mach-O prefixes C symbols with an underscore.
        let name = match file.format() {
            BinaryFormat::MachO => name.strip_prefix(b"_").unwrap_or(name),
            _ => name,
        };
        if name == ENTRY_SYMBOL.as_bytes() {
            has_entry = true;
            break;
        }
    }
    if !has_entry {
        return Err(Error::NotAPlugin {
            path: path.to_path_buf(),
        });
    }
    let section = [ELF_SECTION, MACHO_SECTION, PE_SECTION]
        .into_iter()
        .find_map(|name| file.section_by_name(name));
    let metadata = match section {
        None => None,
        Some(section) => {
            let data = section.data().map_err(|e| Error::Invalid {
                path: path.to_path_buf(),
                problem: format!("its embedded description cannot be read ({e})"),
            })?;
            Some(Metadata::decode(data).map_err(|e| Error::Invalid {
                path: path.to_path_buf(),
                problem: format!("its embedded description is damaged ({e}); rebuild the plugin"),
            })?)
        }
    };
    Ok(Checked { metadata })
}

/// The whole file, once it is known to be a regular file of a sane size.
fn read(path: &Path) -> Result<Vec<u8>> {
    let facts = std::fs::metadata(path).map_err(|e| Error::NotFound {
        what: path.display().to_string(),
        detail: format!("{e}; give the path of a plugin library (lib<name>.so)"),
    })?;
    if facts.is_dir() {
        return Err(not_a_library(path, "it is a directory, not a library file"));
    }
    if !facts.is_file() {
        return Err(not_a_library(
            path,
            "it is not a regular file (a device, a pipe or a socket)",
        ));
    }
    if facts.len() == 0 {
        return Err(not_a_library(path, "the file is empty"));
    }
    if facts.len() > MAX_FILE_SIZE {
        return Err(not_a_library(
            path,
            format!(
                "the file has {} bytes, more than any plugin library",
                facts.len()
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(facts.len() as usize);
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_FILE_SIZE).read_to_end(&mut bytes))
        .map_err(|e| not_a_library(path, format!("it cannot be read: {e}")))?;
    Ok(bytes)
}

/// The object format, architecture, pointer width and kind this system
/// loads as a library.
fn check_format(path: &Path, file: &object::File<'_>) -> Result<()> {
    let native = native_format();
    if file.format() != native {
        return Err(not_a_library(
            path,
            format!(
                "it is a {} file; this system loads {} libraries",
                format_name(file.format()),
                format_name(native)
            ),
        ));
    }
    if let Some(host) = host_architecture()
        && file.architecture() != host
    {
        return Err(not_a_library(
            path,
            format!(
                "it is built for {:?}, and this program runs on {host:?}: build the plugin for \
                 this machine",
                file.architecture()
            ),
        ));
    }
    if file.is_64() != cfg!(target_pointer_width = "64") {
        let bits = |is_64| if is_64 { 64 } else { 32 };
        return Err(not_a_library(
            path,
            format!(
                "it is a {}-bit library, and this program is {}-bit",
                bits(file.is_64()),
                bits(cfg!(target_pointer_width = "64"))
            ),
        ));
    }
    match file.kind() {
        ObjectKind::Dynamic => Ok(()),
        ObjectKind::Executable => Err(not_a_library(
            path,
            "it is an executable, not a shared library (a plugin crate has crate-type \
             [\"cdylib\"])",
        )),
        ObjectKind::Relocatable => Err(not_a_library(
            path,
            "it is an object file (.o), not a shared library",
        )),
        other => Err(not_a_library(
            path,
            format!("it is an object of kind {other:?}, not a shared library"),
        )),
    }
}

/// Every segment and section the file describes lies within its bytes: a
/// cut-off copy of a library describes more than it has.
fn check_extent(path: &Path, file: &object::File<'_>, len: u64) -> Result<()> {
    let beyond = |what: &str, offset: u64, size: u64| {
        let end = offset.checked_add(size);
        (end.is_none_or(|end| end > len)).then(|| {
            not_a_library(
                path,
                format!(
                    "it is truncated: {what} at byte {offset} takes {size} bytes, but the file \
                     has {len}"
                ),
            )
        })
    };
    for segment in file.segments() {
        let (offset, size) = segment.file_range();
        if let Some(error) = beyond("a segment", offset, size) {
            return Err(error);
        }
    }
    for section in file.sections() {
        if let Some((offset, size)) = section.file_range()
            && let Some(error) = beyond("a section", offset, size)
        {
            return Err(error);
        }
    }
    Ok(())
}

fn native_format() -> BinaryFormat {
    if cfg!(target_vendor = "apple") {
        BinaryFormat::MachO
    } else if cfg!(windows) {
        BinaryFormat::Pe
    } else {
        BinaryFormat::Elf
    }
}

fn format_name(format: BinaryFormat) -> &'static str {
    match format {
        BinaryFormat::Elf => "ELF",
        BinaryFormat::MachO => "Mach-O",
        BinaryFormat::Pe => "PE (Windows)",
        BinaryFormat::Coff => "COFF",
        BinaryFormat::Wasm => "WebAssembly",
        BinaryFormat::Xcoff => "XCOFF",
        _ => "another object format's",
    }
}

/// This machine's architecture as `object` names it; `None` for one it
/// has no name for here (then it is not checked).
fn host_architecture() -> Option<Architecture> {
    Some(match std::env::consts::ARCH {
        "x86_64" => Architecture::X86_64,
        "x86" => Architecture::I386,
        "aarch64" => Architecture::Aarch64,
        "arm" => Architecture::Arm,
        "riscv64" => Architecture::Riscv64,
        "powerpc64" => Architecture::PowerPc64,
        "s390x" => Architecture::S390x,
        "loongarch64" => Architecture::LoongArch64,
        _ => return None,
    })
}
