//! `hist`: an example Barrow plugin with a type of its own, [`Histogram`],
//! and the codec that lets its values spill to disk and travel between
//! processes (tag `hist.histogram`).
//!
//! | Function         | Takes                                  | Returns                      |
//! |------------------|----------------------------------------|------------------------------|
//! | `hist.histogram` | f64 numbers (array block or vector)    | a [`Histogram`]: 10 bins over [0, 1) |
//! | `hist.merge`     | two histograms with the same bins      | their sum, a [`Histogram`]   |
//! | `hist.total`     | a histogram                            | its count of values, a u64   |
//! | `hist.counts`    | a histogram                            | its counts, a vector of u64  |
//!
//! A per-block `hist.histogram` followed by a tree of `hist.merge` is a
//! reduction: only the small histograms move, never the data.
//!
//! # Loading it
//!
//! Build the library and tell Barrow to load it, by name from a directory
//! in `plugins.paths` or by the path of the file:
//!
//! ```text
//! cargo build --release -p barrow-example-codec
//! BARROW_PLUGINS__PATHS=target/release BARROW_PLUGINS__LOAD=hist my-program
//! BARROW_PLUGINS__LOAD=target/release/libbarrow_example_codec.so my-program
//! ```
//!
//! # Encoding
//!
//! Little-endian, 26 bytes of header then the counts:
//!
//! | Bytes      | Field                                  |
//! |------------|----------------------------------------|
//! | 0          | magic `b'h'`                           |
//! | 1          | format version, 1                      |
//! | 2..10      | `lo`, f64                              |
//! | 10..18     | `hi`, f64                              |
//! | 18..26     | `n`, the number of bins, u64 (at least 1) |
//! | 26..26+8n  | the counts, u64 each                   |

use barrow_plugin::{Call, Codec, Function, Object, Out, Plugin, Result, export_plugin};

/// The plugin: its functions and the codec of [`Histogram`], exported as
/// this library's root module.
pub static PLUGIN: Plugin = Plugin {
    name: "hist",
    version: env!("CARGO_PKG_VERSION"),
    description: "Histograms of blocks, merged across blocks.",
    functions: &[
        Function::new(
            "histogram",
            "Counts f64 numbers (an array block or a vector) in 10 equal bins over [0, 1); \
             values below 0 count in the first bin, values at or above 1 in the last, NaNs \
             nowhere. Returns a hist.histogram.",
            histogram,
        ),
        Function::new(
            "merge",
            "Adds two hist.histogram with the same bins (same lo, hi and number of bins). \
             Returns a hist.histogram.",
            merge,
        ),
        Function::new(
            "total",
            "The number of values a hist.histogram counted. Returns a u64.",
            total,
        ),
        Function::new(
            "counts",
            "The counts of a hist.histogram, bin by bin. Returns a vector of u64.",
            counts,
        ),
    ],
    codecs: &[Codec::of::<Histogram>()],
    ..Plugin::EMPTY
};

export_plugin!(PLUGIN);

/// The bins `hist.histogram` counts in.
pub const BINS: usize = 10;

/// Counts of values in equal bins over `[lo, hi)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// The lower edge of the first bin.
    pub lo: f64,
    /// The upper edge of the last bin.
    pub hi: f64,
    /// The count of each bin, from `lo` up.
    pub counts: Vec<u64>,
}

const MAGIC: u8 = b'h';
const VERSION: u8 = 1;
const HEADER: usize = 2 + 8 + 8 + 8;

impl Histogram {
    /// An empty histogram of `bins` equal bins over `[lo, hi)`; an error
    /// unless `lo < hi`, both finite, and `bins >= 1`.
    pub fn new(lo: f64, hi: f64, bins: usize) -> Result<Histogram> {
        check_bins(lo, hi, bins)?;
        Ok(Histogram {
            lo,
            hi,
            counts: vec![0; bins],
        })
    }

    /// Counts `values`: those below `lo` in the first bin, those at or above
    /// `hi` in the last, NaNs nowhere.
    pub fn add(&mut self, values: &[f64]) {
        let Some(last) = self.counts.len().checked_sub(1) else {
            return;
        };
        let span = self.hi - self.lo;
        let bins = self.counts.len() as f64;
        for &v in values {
            if v.is_nan() {
                continue;
            }
            // Scaled as (v - lo) / span * bins, not divided by the bin width:
            // 0.3 lands in bin 3, not 2. `as` saturates, so -inf and huge
            // values land in range once clamped.
            let bin = ((v - self.lo) / span * bins).floor().max(0.0) as usize;
            let bin = bin.min(last);
            self.counts[bin] = self.counts[bin].saturating_add(1);
        }
    }

    /// Whether `other` has the same bins as `self`.
    pub fn same_bins(&self, other: &Histogram) -> bool {
        self.lo == other.lo && self.hi == other.hi && self.counts.len() == other.counts.len()
    }

    /// The sum of `self` and `other`; an error if their bins differ or a
    /// count overflows.
    pub fn merge(&self, other: &Histogram) -> Result<Histogram> {
        if !self.same_bins(other) {
            return Err(format!(
                "cannot merge histograms with different bins: {} bins over [{}, {}) and {} bins \
                 over [{}, {})",
                self.counts.len(),
                self.lo,
                self.hi,
                other.counts.len(),
                other.lo,
                other.hi
            )
            .into());
        }
        let counts = self
            .counts
            .iter()
            .zip(&other.counts)
            .map(|(a, b)| a.checked_add(*b).ok_or("a merged count overflows u64"))
            .collect::<Result<Vec<u64>, _>>()?;
        Ok(Histogram {
            lo: self.lo,
            hi: self.hi,
            counts,
        })
    }

    /// The number of values counted; an error if it overflows u64.
    pub fn total(&self) -> Result<u64> {
        self.counts
            .iter()
            .try_fold(0u64, |sum, c| sum.checked_add(*c))
            .ok_or_else(|| "the histogram's total overflows u64".into())
    }
}

fn check_bins(lo: f64, hi: f64, bins: usize) -> Result<()> {
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(format!("a histogram needs finite edges lo < hi, got [{lo}, {hi})").into());
    }
    if bins == 0 {
        return Err("a histogram needs at least one bin".into());
    }
    Ok(())
}

/// Reads 8 little-endian bytes at `at` (the caller checked the length).
fn le_bytes(bytes: &[u8], at: usize) -> Result<[u8; 8]> {
    bytes
        .get(at..at + 8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("a histogram is truncated at byte {at}").into())
}

impl Object for Histogram {
    const TAG: &'static str = "hist.histogram";

    fn encode(&self, out: &mut Vec<u8>) -> Result<()> {
        out.reserve(HEADER + 8 * self.counts.len());
        out.push(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&self.lo.to_le_bytes());
        out.extend_from_slice(&self.hi.to_le_bytes());
        out.extend_from_slice(&(self.counts.len() as u64).to_le_bytes());
        for count in &self.counts {
            out.extend_from_slice(&count.to_le_bytes());
        }
        Ok(())
    }

    fn decode(bytes: &[u8]) -> Result<Histogram> {
        if bytes.len() < HEADER {
            return Err(format!(
                "a histogram has a {HEADER}-byte header, but only {} bytes were given",
                bytes.len()
            )
            .into());
        }
        if bytes[0] != MAGIC {
            return Err(format!(
                "not a histogram: the first byte is {:#04x}, not {MAGIC:#04x} ('h')",
                bytes[0]
            )
            .into());
        }
        if bytes[1] != VERSION {
            return Err(format!(
                "a histogram of format version {}, but this plugin reads version {VERSION}",
                bytes[1]
            )
            .into());
        }
        let lo = f64::from_le_bytes(le_bytes(bytes, 2)?);
        let hi = f64::from_le_bytes(le_bytes(bytes, 10)?);
        let n = u64::from_le_bytes(le_bytes(bytes, 18)?);
        let body = &bytes[HEADER..];
        let expected = usize::try_from(n).ok().and_then(|n| n.checked_mul(8));
        if expected != Some(body.len()) {
            return Err(format!(
                "a histogram of {n} bins has {} bytes of counts, but {} were given",
                expected.map_or_else(|| "too many".to_owned(), |e| e.to_string()),
                body.len()
            )
            .into());
        }
        let bins = body.len() / 8;
        check_bins(lo, hi, bins).map_err(|e| format!("a bad histogram: {e}"))?;
        let counts = body
            .chunks_exact(8)
            .map(|c| <[u8; 8]>::try_from(c).map(u64::from_le_bytes))
            .collect::<Result<Vec<u64>, _>>()
            .map_err(|e| format!("a bad histogram count: {e}"))?;
        Ok(Histogram { lo, hi, counts })
    }

    fn nbytes(&self) -> usize {
        std::mem::size_of::<Self>() + 8 * self.counts.capacity()
    }
}

fn histogram(call: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
    let x = call.numbers::<f64>(0)?;
    let mut h = Histogram::new(0.0, 1.0, BINS)?;
    h.add(x.data);
    out.object(h);
    Ok(())
}

fn merge(call: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
    let a = call.object::<Histogram>(0)?;
    let b = call.object::<Histogram>(1)?;
    out.object(a.merge(b)?);
    Ok(())
}

fn total(call: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
    let h = call.object::<Histogram>(0)?;
    out.u64(h.total()?);
    Ok(())
}

fn counts(call: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
    let h = call.object::<Histogram>(0)?;
    out.vec::<u64>(h.counts.len())?.copy_from_slice(&h.counts);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{BINS, Histogram, PLUGIN};
    use barrow_plugin::Object;
    use barrow_plugin::testing::{self, Value};

    fn hist(value: &Value) -> &Histogram {
        value.as_object::<Histogram>().expect("a histogram")
    }

    fn sample() -> Histogram {
        Histogram {
            lo: -1.5,
            hi: 2.25,
            counts: vec![0, 1, u64::MAX, 42],
        }
    }

    #[test]
    fn histogram_counts_a_block_with_outliers_in_the_edge_bins() {
        let x = Value::array(
            &[2, 4],
            &[0.05f64, 0.15, 0.15, 0.99, -3.0, 1.0, 7.5, f64::NAN],
        );
        let h = testing::call(&PLUGIN, "histogram", &[x]).unwrap();
        let h = hist(&h);
        assert_eq!((h.lo, h.hi), (0.0, 1.0));
        // -3.0 joins 0.05 in the first bin; 0.99, 1.0 and 7.5 share the last.
        assert_eq!(h.counts, [2, 2, 0, 0, 0, 0, 0, 0, 0, 3]);
        assert_eq!(h.counts.len(), BINS);
    }

    #[test]
    fn decimal_values_land_in_their_own_bin() {
        // Dividing by the bin width would put 0.3 (0.3 / 0.1 = 2.999...) in bin 2.
        let x: Vec<f64> = (0..10).map(|i| f64::from(i) / 10.0).collect();
        let h = testing::call(&PLUGIN, "histogram", &[Value::vec(&x)]).unwrap();
        assert_eq!(hist(&h).counts, [1; BINS]);
    }

    #[test]
    fn histogram_takes_a_vector_and_infinities() {
        let x = Value::vec(&[f64::NEG_INFINITY, 0.5, f64::INFINITY]);
        let h = testing::call(&PLUGIN, "histogram", &[x]).unwrap();
        assert_eq!(hist(&h).counts, [1, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
    }

    #[test]
    fn a_histogram_round_trips_through_its_codec() {
        for h in [sample(), Histogram::new(0.0, 1.0, 1).unwrap()] {
            let bytes = testing::encode(&Value::object(h.clone())).unwrap();
            assert_eq!(bytes.len(), 26 + 8 * h.counts.len());
            let back = testing::decode(&PLUGIN, Histogram::TAG, &bytes).unwrap();
            assert_eq!(hist(&back), &h);
        }
    }

    #[test]
    fn the_encoding_is_the_documented_layout() {
        let mut bytes = Vec::new();
        Histogram::new(0.0, 1.0, 2)
            .unwrap()
            .encode(&mut bytes)
            .unwrap();
        let mut expected = vec![b'h', 1];
        expected.extend_from_slice(&0.0f64.to_le_bytes());
        expected.extend_from_slice(&1.0f64.to_le_bytes());
        expected.extend_from_slice(&2u64.to_le_bytes());
        expected.extend_from_slice(&[0; 16]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = testing::encode(&Value::object(sample())).unwrap();
        for len in 0..bytes.len() {
            let err = testing::decode(&PLUGIN, Histogram::TAG, &bytes[..len]).unwrap_err();
            assert!(!err.message().starts_with("panicked"), "{len}: {err}");
            assert!(err.message().contains("histogram"), "{len}: {err}");
        }
        let err = Histogram::decode(&bytes[..5]).unwrap_err();
        assert!(err.message().contains("26-byte header"), "{err}");
        let err = Histogram::decode(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(
            err.message()
                .contains("4 bins has 32 bytes of counts, but 31"),
            "{err}"
        );
    }

    #[test]
    fn bad_headers_are_refused_with_the_reason() {
        let good = testing::encode(&Value::object(sample())).unwrap();
        let with = |at: usize, patch: &[u8]| {
            let mut bytes = good.clone();
            bytes[at..at + patch.len()].copy_from_slice(patch);
            Histogram::decode(&bytes).unwrap_err().message().to_owned()
        };
        assert!(with(0, b"x").contains("not a histogram"));
        assert!(with(1, &[2]).contains("format version 2"));
        assert!(with(2, &f64::NAN.to_le_bytes()).contains("finite edges"));
        assert!(with(10, &(-9.0f64).to_le_bytes()).contains("lo < hi"));
        assert!(with(18, &u64::MAX.to_le_bytes()).contains("too many"));
        assert!(with(18, &5u64.to_le_bytes()).contains("5 bins"));

        let mut trailing = good.clone();
        trailing.push(0);
        assert!(Histogram::decode(&trailing).is_err());

        let mut empty = Vec::new();
        Histogram {
            lo: 0.0,
            hi: 1.0,
            counts: Vec::new(),
        }
        .encode(&mut empty)
        .unwrap();
        assert!(
            Histogram::decode(&empty)
                .unwrap_err()
                .message()
                .contains("at least one bin")
        );
    }

    #[test]
    fn merge_adds_histograms_of_the_same_bins() {
        let a = testing::call(&PLUGIN, "histogram", &[Value::vec(&[0.1f64, 0.2, 0.95])]).unwrap();
        let b = testing::call(&PLUGIN, "histogram", &[Value::vec(&[0.15f64, -1.0])]).unwrap();
        let m = testing::call(&PLUGIN, "merge", &[a, b]).unwrap();
        assert_eq!(hist(&m).counts, [1, 2, 1, 0, 0, 0, 0, 0, 0, 1]);

        let total = testing::call(&PLUGIN, "total", &[m]).unwrap();
        assert!(matches!(total, Value::U64(5)), "{total:?}");
    }

    #[test]
    fn merge_refuses_different_bins_and_overflow() {
        let a = Value::object(Histogram::new(0.0, 1.0, 10).unwrap());
        let b = Value::object(Histogram::new(0.0, 2.0, 10).unwrap());
        let err = testing::call(&PLUGIN, "merge", &[a, b]).unwrap_err();
        assert!(err.message().contains("different bins"), "{err}");
        assert!(err.message().contains("[0, 2)"), "{err}");

        let full = || {
            Value::object(Histogram {
                lo: 0.0,
                hi: 1.0,
                counts: vec![u64::MAX],
            })
        };
        let err = testing::call(&PLUGIN, "merge", &[full(), full()]).unwrap_err();
        assert!(err.message().contains("overflows"), "{err}");
        let err = testing::call(&PLUGIN, "total", &[Value::object(sample())]).unwrap_err();
        assert!(err.message().contains("overflows"), "{err}");
    }

    #[test]
    fn merge_refuses_arguments_that_are_not_histograms() {
        let a = Value::object(Histogram::new(0.0, 1.0, 10).unwrap());
        let err = testing::call(&PLUGIN, "merge", &[a, Value::U64(3)]).unwrap_err();
        assert!(
            err.message()
                .contains("argument 1 should be a hist.histogram"),
            "{err}"
        );
    }

    #[test]
    fn counts_are_a_vector_of_u64() {
        let h = Value::object(Histogram {
            lo: 0.0,
            hi: 1.0,
            counts: vec![3, 0, 7],
        });
        let counts = testing::call(&PLUGIN, "counts", &[h]).unwrap();
        assert_eq!(
            counts.numbers::<u64>(),
            Some((&[3usize][..], &[3u64, 0, 7][..]))
        );
        assert!(format!("{counts:?}").contains("kind: Vec"));
    }

    #[test]
    fn the_plugin_declares_its_codec() {
        assert_eq!(PLUGIN.codecs.len(), 1);
        assert_eq!(PLUGIN.codecs[0].tag, "hist.histogram");
        assert!(PLUGIN.codecs[0].type_name().ends_with("Histogram"));
    }
}
