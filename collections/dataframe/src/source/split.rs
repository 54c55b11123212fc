//! The CSV reader for the common file: Int64, Float64 and Utf8 columns,
//! fields quoted whole or not at all.
//!
//! arrow-csv tokenizes through `csv_core`, a byte-at-a-time state machine,
//! and that was half the time of a CSV group-by. This reader finds the
//! fields 64 bytes at a time, as simdjson and simd-csv do: masks of the
//! quotes, delimiters and line ends of each block, a prefix XOR of the
//! quotes for the bytes inside quoted fields, and the delimiters and line
//! ends outside them are the field ends. Only the columns read are looked
//! at, and their values are parsed by arrow's own parsers
//! (`Parser::parse`), an empty field a null, so the columns are the ones
//! arrow-csv makes. A field with a stray quote (`ab"c`, `"a"b`), a quote
//! never closed, or a `\r` that does not end a line (csv_core ends records
//! there) leaves the block to arrow-csv ([`Split::Quoted`]).

use std::io::Read;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Builder, Int64Builder, RecordBatch, StringBuilder};
use arrow::compute::kernels::cast_utils::Parser;
use arrow::datatypes::{DataType, Int64Type, SchemaRef};

/// How many bytes are read at a time (a record cut by the chunk's end is
/// read with the next).
const CHUNK: u64 = 4 << 20;

/// What the reader made of a block.
pub(super) enum Split {
    /// The block's batches, `BATCH_ROWS` rows each (the last fewer).
    Batches(Vec<RecordBatch>),
    /// The block has a quote this reader does not read as csv_core
    /// would: arrow-csv reads it.
    Quoted,
}

/// What went wrong in a block, naming its line (counted from the block's
/// first, 1-based).
pub(super) struct SplitError {
    pub(super) message: String,
}

/// Whether this reader can read these columns with this delimiter.
pub(super) fn suits(projected: &SchemaRef, delimiter: u8) -> bool {
    !projected.fields().is_empty()
        && !matches!(delimiter, b'"' | b'\n' | b'\r')
        && projected.fields().iter().all(|f| {
            matches!(
                f.data_type(),
                DataType::Int64 | DataType::Float64 | DataType::Utf8
            )
        })
}

/// One column being built.
enum Column {
    Int(Int64Builder),
    Float(Float64Builder),
    Text(StringBuilder),
}

impl Column {
    fn new(data_type: &DataType) -> Column {
        match data_type {
            DataType::Int64 => Column::Int(Int64Builder::with_capacity(super::BATCH_ROWS)),
            DataType::Float64 => Column::Float(Float64Builder::with_capacity(super::BATCH_ROWS)),
            _ => Column::Text(StringBuilder::with_capacity(
                super::BATCH_ROWS,
                super::BATCH_ROWS * 8,
            )),
        }
    }

    /// Appends `field`; `Err` with what it is not, when it does not parse.
    fn push(&mut self, field: &[u8]) -> Result<(), &'static str> {
        if field.is_empty() {
            match self {
                Column::Int(b) => b.append_null(),
                Column::Float(b) => b.append_null(),
                Column::Text(b) => b.append_null(),
            }
            return Ok(());
        }
        let text = || std::str::from_utf8(field).map_err(|_| "UTF-8 text");
        match self {
            // `Float64Type::parse` on the bytes, without checking them as
            // UTF-8 first (a float is ASCII).
            Column::Float(b) => b.append_value(
                lexical_core::parse::<f64>(field)
                    .or_else(|_| lexical_core::parse::<f64>(field.trim_ascii()))
                    .map_err(|_| "a Float64")?,
            ),
            Column::Int(b) => b.append_value(Int64Type::parse(text()?).ok_or("an Int64")?),
            Column::Text(b) => b.append_value(text()?),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Int(b) => Arc::new(b.finish()),
            Column::Float(b) => Arc::new(b.finish()),
            Column::Text(b) => Arc::new(b.finish()),
        }
    }
}

/// The bits of a 64-byte block (bit `i` for byte `i`).
#[derive(Default)]
struct Masks {
    quotes: u64,
    /// Delimiters and line ends.
    structural: u64,
    /// Carriage returns and line ends, when the chunk has a `\r` (else 0).
    returns: u64,
    line_ends: u64,
}

/// The block's masks. The compares are a plain loop over a fixed-size
/// block, which LLVM vectorizes (16 bytes at a time on SSE2); a multiply
/// then gathers eight 0/1 bytes into eight bits.
fn masks(block: &[u8; 64], delimiter: u8, returns: bool) -> Masks {
    let mut flags = [0u8; 64];
    if returns {
        for (flag, &b) in flags.iter_mut().zip(block) {
            *flag = u8::from(b == b'"')
                | (u8::from(b == delimiter || b == b'\n') << 1)
                | (u8::from(b == b'\r') << 2)
                | (u8::from(b == b'\n') << 3);
        }
    } else {
        for (flag, &b) in flags.iter_mut().zip(block) {
            *flag = u8::from(b == b'"') | (u8::from(b == delimiter || b == b'\n') << 1);
        }
    }
    let mut m = Masks::default();
    for (k, word) in flags.chunks_exact(8).enumerate() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_le_bytes(bytes);
        let bit =
            |i: u32| ((w >> i) & 0x0101_0101_0101_0101).wrapping_mul(0x0102_0408_1020_4080) >> 56;
        m.quotes |= bit(0) << (8 * k);
        m.structural |= bit(1) << (8 * k);
        if returns {
            m.returns |= bit(2) << (8 * k);
            m.line_ends |= bit(3) << (8 * k);
        }
    }
    m
}

/// What the scan carries from one block to the next.
#[derive(Default)]
struct Carry {
    /// All ones when the previous block ended inside quotes.
    inside: u64,
    /// The previous block's last byte was a field end (bit 0 is a start).
    start: u64,
    /// Its last byte was a closing quote.
    closing: u64,
    /// Its last byte was a `\r` outside quotes.
    ret: u64,
}

/// The block's field ends outside quotes, or `None` when a quote is one
/// csv_core reads otherwise than quoted-whole fields (`ab"c`, `"a"b`), or
/// a `\r` outside quotes does not end a line (csv_core ends a record at
/// a lone `\r`).
fn field_ends(m: &Masks, carry: &mut Carry) -> Option<u64> {
    let quoted = prefix_xor(m.quotes) ^ carry.inside;
    let before = quoted ^ m.quotes;
    let opening = m.quotes & !before;
    let closing = m.quotes & before;
    let structural = m.structural & !quoted;
    let starts = (structural << 1) | carry.start;
    let returns = m.returns & !quoted;
    // An opening quote starts a field, or is the second of a doubled one.
    let after_closing = (closing << 1) | carry.closing;
    // A closing quote is followed by a field end, a `\r` or the second
    // quote of a doubled one (the next block's first byte, for bit 63).
    let followers = structural | returns | opening;
    let bad_close = closing & !(followers >> 1) & !(1 << 63);
    let bad_return = returns & !(m.line_ends >> 1) & !(1 << 63);
    let bad = (opening & !(starts | after_closing))
        | bad_close
        | bad_return
        | (carry.closing & !followers & 1)
        | (carry.ret & !m.line_ends & 1);
    carry.inside = if quoted >> 63 == 1 { u64::MAX } else { 0 };
    carry.start = structural >> 63;
    carry.closing = closing >> 63;
    carry.ret = returns >> 63;
    (bad == 0).then_some(structural)
}

/// Each bit set where an odd number of bits at or below it are: the bytes
/// between an opening quote (included) and its closing one.
fn prefix_xor(mut x: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        x ^= x << shift;
    }
    x
}

/// A field's value: without its quotes, doubled quotes made single.
fn unquoted(field: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    match field {
        // Fields are short: a plain loop beats a call to memchr.
        [b'"', inner @ .., b'"'] if inner.contains(&b'"') => {
            let mut value = Vec::with_capacity(inner.len());
            let mut rest = inner;
            while let Some(at) = memchr::memchr(b'"', rest) {
                value.extend_from_slice(&rest[..=at]);
                rest = rest.get(at + 2..).unwrap_or_default();
            }
            value.extend_from_slice(rest);
            value.into()
        }
        [b'"', inner @ .., b'"'] => inner.into(),
        _ => field.into(),
    }
}

/// The block's rows: `width` fields each, the ones at `projection`
/// (ascending) read into `projected`'s columns; the first line skipped
/// when `skip_header`. Lines are counted as records (a quoted line break
/// does not count).
pub(super) fn read(
    mut input: impl Read,
    skip_header: bool,
    delimiter: u8,
    width: usize,
    projection: &[usize],
    projected: &SchemaRef,
) -> Result<Split, SplitError> {
    if projection.iter().any(|&c| c >= width) {
        return Err(SplitError {
            message: format!("a column past the {width} the header names was asked for"),
        });
    }
    let mut columns: Vec<Column> = projected
        .fields()
        .iter()
        .map(|f| Column::new(f.data_type()))
        .collect();
    let mut batches = Vec::new();
    let mut rows = 0usize;
    let mut line = 0usize;
    let mut header = skip_header;
    let mut buffer: Vec<u8> = Vec::with_capacity(CHUNK as usize + 4096);
    // The builder of each field that is read, by field index, and the
    // byte range in `buffer` of each read field of the current record.
    let mut slot: Vec<Option<usize>> = vec![None; width];
    for (i, &c) in projection.iter().enumerate() {
        slot[c] = Some(i);
    }
    let mut ranges = vec![(0usize, 0usize); projection.len()];
    loop {
        let read = input
            .by_ref()
            .take(CHUNK)
            .read_to_end(&mut buffer)
            .map_err(|e| SplitError {
                message: format!("cannot read after line {line}: {e}"),
            })?;
        let end_of_input = read == 0;
        if end_of_input && !buffer.is_empty() && buffer.last() != Some(&b'\n') {
            buffer.push(b'\n');
        }
        // Scan from the first record not yet taken (outside any quote):
        // every delimiter and line end outside quotes ends a field.
        // Up to the last line end: the bytes after it wait for the next
        // chunk, and would look irregular where their quote's follower is
        // not read yet.
        let Some(last) = memchr::memrchr(b'\n', &buffer) else {
            if end_of_input {
                break;
            }
            continue;
        };
        let text = &buffer[..=last];
        let returns = memchr::memchr(b'\r', text).is_some();
        let mut taken = 0;
        let mut field_start = 0;
        let mut field = 0;
        let mut carry = Carry {
            start: 1,
            ..Carry::default()
        };
        for base in (0..text.len()).step_by(64) {
            let bytes = &text[base..text.len().min(base + 64)];
            let m = match <&[u8; 64]>::try_from(bytes) {
                Ok(block) => masks(block, delimiter, returns),
                Err(_) => {
                    let mut block = [0u8; 64];
                    block[..bytes.len()].copy_from_slice(bytes);
                    masks(&block, delimiter, returns)
                }
            };
            let Some(mut ends) = field_ends(&m, &mut carry) else {
                return Ok(Split::Quoted);
            };
            while ends != 0 {
                let at = base + ends.trailing_zeros() as usize;
                ends &= ends - 1;
                if let Some(Some(i)) = slot.get(field) {
                    ranges[*i] = (field_start, at);
                }
                field += 1;
                field_start = at + 1;
                if text[at] != b'\n' {
                    continue;
                }
                let line_start = std::mem::replace(&mut taken, at + 1);
                line += 1;
                let fields = std::mem::take(&mut field);
                // Blank lines are skipped, as csv_core does.
                let blank = fields == 1 && matches!(&text[line_start..at], [] | [b'\r']);
                if header || blank {
                    header &= blank;
                    continue;
                }
                if fields != width {
                    return Err(SplitError {
                        message: format!(
                            "line {line} has {fields} fields, but the header has {width}"
                        ),
                    });
                }
                for (i, column) in columns.iter_mut().enumerate() {
                    let (a, mut b) = ranges[i];
                    if b > a && text[b - 1] == b'\r' && text[b] == b'\n' {
                        b -= 1;
                    }
                    push_field(column, projected, i, &text[a..b], line)?;
                }
                rows += 1;
                if rows == super::BATCH_ROWS {
                    batches.push(batch(&mut columns, projected)?);
                    rows = 0;
                }
            }
        }
        buffer.drain(..taken);
        if end_of_input {
            if !buffer.is_empty() {
                // A quote never closed: arrow-csv says so.
                return Ok(Split::Quoted);
            }
            break;
        }
    }
    if rows > 0 || batches.is_empty() {
        batches.push(batch(&mut columns, projected)?);
    }
    Ok(Split::Batches(batches))
}

fn push_field(
    column: &mut Column,
    projected: &SchemaRef,
    i: usize,
    value: &[u8],
    line: usize,
) -> Result<(), SplitError> {
    let value = unquoted(value);
    column.push(&value).map_err(|expected| SplitError {
        message: format!(
            "cannot parse {:?} as {expected} in column {:?} at line {line}",
            String::from_utf8_lossy(&value),
            projected.field(i).name()
        ),
    })
}

fn batch(columns: &mut [Column], projected: &SchemaRef) -> Result<RecordBatch, SplitError> {
    let arrays: Vec<ArrayRef> = columns.iter_mut().map(Column::finish).collect();
    RecordBatch::try_new(projected.clone(), arrays).map_err(|e| SplitError {
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "a test fails loudly on the first surprise"
    )]

    use arrow::array::{AsArray, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, true),
            Field::new("x", DataType::Float64, true),
            Field::new("s", DataType::Utf8, true),
        ]))
    }

    fn split(text: &str, projection: &[usize]) -> Result<Split, SplitError> {
        let projected = Arc::new(schema().project(projection).unwrap());
        read(text.as_bytes(), true, b',', 3, projection, &projected)
    }

    #[test]
    fn reads_the_columns_asked_for_with_nulls_crlf_and_blank_lines() {
        let text = "n,x,s\r\n1,2.5,a\r\n\r\n,,\n\n3,-1e3,c d";
        let Ok(Split::Batches(batches)) = split(text, &[0, 1, 2]) else {
            panic!("not read")
        };
        let b = &batches[0];
        let n: &Int64Array = b.column(0).as_primitive();
        let x: &Float64Array = b.column(1).as_primitive();
        let s: &StringArray = b.column(2).as_string();
        assert_eq!(n.iter().collect::<Vec<_>>(), [Some(1), None, Some(3)]);
        assert_eq!(
            x.iter().collect::<Vec<_>>(),
            [Some(2.5), None, Some(-1000.0)]
        );
        assert_eq!(s.iter().collect::<Vec<_>>(), [Some("a"), None, Some("c d")]);
        let Ok(Split::Batches(only)) = split(text, &[2]) else {
            panic!("not read")
        };
        assert_eq!(only[0].num_columns(), 1);
        assert_eq!(only[0].num_rows(), 3);
    }

    #[test]
    fn quoted_fields_are_read_and_stray_quotes_hand_the_block_to_arrow() {
        let text = "\"n\",\"x\",\"s\"\n1,2,\"a,b\"\n3,4,\"say \"\"hi\"\"\n,\nthere\"\n";
        let Ok(Split::Batches(batches)) = split(text, &[0, 2]) else {
            panic!("not read")
        };
        let s: &StringArray = batches[0].column(1).as_string();
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [Some("a,b"), Some("say \"hi\"\n,\nthere")]
        );
        for stray in [
            "n,x,s\n1,2,a\"b\n",
            "n,x,s\n1,2,\"a\"b\n",
            "n,x,s\n1,2,\"ab\n",
        ] {
            assert!(matches!(split(stray, &[0]), Ok(Split::Quoted)), "{stray}");
        }
    }

    #[test]
    fn records_longer_than_a_block_are_whole() {
        let long = "w".repeat(150);
        let mut text = String::from("n,x,s\n");
        for i in 0..50 {
            text.push_str(&format!("{i},{i}.5,\"{long}{i}\"\n"));
        }
        let Ok(Split::Batches(batches)) = split(&text, &[0, 2]) else {
            panic!("not read")
        };
        let n: &Int64Array = batches[0].column(0).as_primitive();
        assert_eq!(n.values().to_vec(), (0..50).collect::<Vec<i64>>());
        let s: &StringArray = batches[0].column(1).as_string();
        assert_eq!(s.value(49), format!("{long}49"));
    }

    #[test]
    fn bad_lines_are_named() {
        let short = split("n,x,s\n1,2,a\n3,4\n", &[0]).err().unwrap();
        assert!(
            short.message.contains("line 3 has 2 fields"),
            "{}",
            short.message
        );
        let long = split("n,x,s\n1,2,a,b\n", &[2]).err().unwrap();
        assert!(
            long.message.contains("line 2 has 4 fields"),
            "{}",
            long.message
        );
        let bad = split("n,x,s\n1,2,a\nfour,5,b\n", &[0, 1]).err().unwrap();
        assert!(bad.message.contains("at line 3"), "{}", bad.message);
        assert!(
            bad.message.contains("\"four\"") && bad.message.contains("\"n\""),
            "{}",
            bad.message
        );
    }
}
