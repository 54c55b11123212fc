//! Frames round-trip every kind of value, and every kind of damage is an
//! error saying what is wrong, never a panic.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::Arc;

use barrow_core::Value;
use barrow_core::codec::{CodecRegistry, SerdeCodec};
use barrow_wire::frame::{FrameHeader, HEADER_LEN, MAGIC, read_frame, write_frame};
use barrow_wire::{Compression, ErrorKind, WireOptions, decode, encode, encode_frame, encode_with};
use proptest::prelude::*;

fn codecs() -> CodecRegistry {
    CodecRegistry::with_builtins()
}

/// Recomputes the checksum of a frame patched by a test.
fn reseal(bytes: &mut [u8]) {
    let checksum = xxhash_rust::xxh3::xxh3_64(&bytes[12..]);
    bytes[4..12].copy_from_slice(&checksum.to_le_bytes());
}

fn splitmix64(i: u64) -> u64 {
    let mut z = i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn round_trip<T: Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static>(
    data: T,
    options: &WireOptions,
) -> Vec<u8> {
    let codecs = codecs();
    let bytes = encode_with(&Value::new(data.clone()), &codecs, options).unwrap();
    let back = decode(&bytes, &codecs).unwrap();
    assert_eq!(back.downcast_ref::<T>().unwrap(), &data);
    bytes
}

#[test]
fn every_raw_element_type_round_trips_as_raw_bytes() {
    let options = WireOptions::new();
    macro_rules! check {
        ($($t:ty),*) => {$(
            let data: Vec<$t> = (0..100u8).map(|i| i as $t).collect();
            let bytes = round_trip(data, &options);
            let frame = read_frame(&bytes).unwrap();
            assert_eq!(frame.tag(), concat!("barrow.raw.vec.", stringify!($t)));
            assert_eq!(frame.payload().len(), 9 + 100 * size_of::<$t>());
        )*};
    }
    check!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);
    round_trip(vec![f64::NAN.to_bits()], &options);
    round_trip(Vec::<f64>::new(), &options);
}

#[test]
fn split_frames_borrow_the_vector_and_have_the_same_bytes() {
    let codecs = codecs();
    let options = WireOptions::new();
    macro_rules! check {
        ($($t:ty),*) => {$(
            for len in [0usize, 1, 1000] {
                let value = Value::new((0..len).map(|i| (i % 100) as $t).collect::<Vec<$t>>());
                let frame = encode_frame(&value, &codecs, &options).unwrap();
                assert_eq!(frame.tail().len(), len * size_of::<$t>());
                let whole = encode_with(&value, &codecs, &options).unwrap();
                assert_eq!(frame.to_vec(), whole, "{} of {len}", stringify!($t));
            }
        )*};
    }
    check!(i8, i16, i32, i64, u8, u16, u32, u64, f32, f64);
    // Other types are encoded whole.
    let text = Value::new("a wheelbarrow".to_owned());
    let frame = encode_frame(&text, &codecs, &options).unwrap();
    assert!(frame.tail().is_empty());
    assert_eq!(
        decode(&frame.to_vec(), &codecs)
            .unwrap()
            .downcast_ref::<String>()
            .unwrap(),
        "a wheelbarrow"
    );
}

#[test]
fn split_frames_are_compressed_whole_when_asked() {
    let codecs = codecs();
    let value = Value::new(vec![7u32; 100_000]);
    let options = WireOptions::new()
        .compression(Compression::Lz4)
        .compress_above(1024);
    let frame = encode_frame(&value, &codecs, &options).unwrap();
    assert!(frame.tail().is_empty());
    assert!(frame.len() < 40_000, "{} bytes", frame.len());
    let back = decode(&frame.to_vec(), &codecs).unwrap();
    assert_eq!(
        back.downcast_ref::<Vec<u32>>().unwrap(),
        &vec![7u32; 100_000]
    );
    // Under the threshold it stays split.
    let small = Value::new(vec![7u32; 100]);
    let frame = encode_frame(&small, &codecs, &options).unwrap();
    assert_eq!(frame.tail().len(), 400);
}

#[test]
fn raw_buffers_can_be_turned_off() {
    let bytes = round_trip(
        vec![1i64, -5, 1 << 40],
        &WireOptions::new().raw_numeric(false),
    );
    assert_eq!(read_frame(&bytes).unwrap().tag(), "barrow.vec.i64");
}

#[test]
fn serde_types_round_trip_through_the_registry() {
    let options = WireOptions::new();
    round_trip(String::from("héllo"), &options);
    round_trip(vec![String::from("a"), String::new()], &options);
    round_trip(3.5f64, &options);
    round_trip(true, &options);
    let codecs = codecs();
    codecs
        .register(Arc::new(SerdeCodec::<(u8, String)>::new("test.pair")))
        .unwrap();
    let bytes = encode(&Value::new((7u8, String::from("x"))), &codecs).unwrap();
    let back = decode(&bytes, &codecs).unwrap();
    assert_eq!(
        back.downcast_ref::<(u8, String)>().unwrap(),
        &(7, "x".into())
    );
}

#[test]
fn compression_applies_above_the_threshold_and_only_when_it_pays() {
    let text = "the quick brown fox ".repeat(10_000);
    for compression in [Compression::Lz4, Compression::Zstd { level: 1 }] {
        let options = WireOptions::new().compression(compression);
        let bytes = round_trip(text.clone(), &options);
        assert!(
            bytes.len() < text.len() / 10,
            "{compression}: {}",
            bytes.len()
        );
        let stored = FrameHeader::parse(&bytes).unwrap().compression().unwrap();
        assert_eq!(stored.to_string()[..3], compression.to_string()[..3]);

        // Large ones too, past the sample tried first.
        let large = "jumps over the lazy dog ".repeat(50_000);
        let bytes = round_trip(large.clone(), &options);
        assert!(
            bytes.len() < large.len() / 10,
            "{compression}: {}",
            bytes.len()
        );

        // Small payloads stay as they are.
        let small = round_trip("tiny ".repeat(10), &options);
        assert_eq!(
            FrameHeader::parse(&small).unwrap().compression(),
            Some(Compression::None)
        );

        // Incompressible payloads are stored as they are.
        let noise: Vec<u64> = (0..100_000u64).map(splitmix64).collect();
        let bytes = round_trip(noise, &options.compress_above(0));
        assert_eq!(
            FrameHeader::parse(&bytes).unwrap().compression(),
            Some(Compression::None)
        );
    }
}

#[test]
fn every_truncation_is_an_error() {
    let options = WireOptions::new()
        .compression(Compression::Lz4)
        .compress_above(0);
    let bytes = encode_with(&Value::new("abc".repeat(100)), &codecs(), &options).unwrap();
    assert_eq!(
        FrameHeader::parse(&bytes).unwrap().compression(),
        Some(Compression::Lz4)
    );
    for len in 0..bytes.len() {
        let err = decode(&bytes[..len], &codecs()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Truncated, "{len}: {err}");
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}

#[test]
fn every_bit_flip_is_an_error() {
    for options in [
        WireOptions::new(),
        WireOptions::new()
            .compression(Compression::Lz4)
            .compress_above(0),
    ] {
        let bytes = encode_with(&Value::new(vec![1.5f64; 40]), &codecs(), &options).unwrap();
        for at in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[at] ^= 1 << bit;
                let err = decode(&damaged, &codecs()).unwrap_err();
                match at {
                    0..4 => assert_eq!(err.kind(), ErrorKind::NotAFrame),
                    12..14 => assert_eq!(err.kind(), ErrorKind::UnsupportedVersion),
                    // The tag's and the stored length: the frame now ends
                    // before or after the bytes do.
                    16..18 | 28..36 => assert!(
                        matches!(err.kind(), ErrorKind::Truncated | ErrorKind::Corrupt),
                        "byte {at} bit {bit}: {err}"
                    ),
                    _ => assert_eq!(err.kind(), ErrorKind::Corrupt, "byte {at} bit {bit}: {err}"),
                }
            }
        }
    }
}

#[test]
fn damage_is_named() {
    let codecs = codecs();
    let bytes = encode(&Value::new(String::from("abc")), &codecs).unwrap();

    let mut extra = bytes.clone();
    extra.push(0);
    let err = decode(&extra, &codecs).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupt);
    assert!(err.to_string().contains("1 bytes follow the end"), "{err}");

    let err = decode(b"PK\x03\x04 a zip file, say", &codecs).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAFrame);
    assert!(err.to_string().contains("not a barrow-wire frame"), "{err}");

    let mut newer = bytes.clone();
    newer[12] = 2;
    let err = decode(&newer, &codecs).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnsupportedVersion);
    assert!(err.to_string().contains("version 2"), "{err}");

    let mut unknown = bytes.clone();
    unknown[14] = 9;
    reseal(&mut unknown);
    let err = decode(&unknown, &codecs).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnsupportedCompression);
    assert_eq!(err.tag(), Some("barrow.string"));

    let mut reserved = bytes.clone();
    reserved[15] = 1;
    reseal(&mut reserved);
    assert_eq!(
        decode(&reserved, &codecs).unwrap_err().kind(),
        ErrorKind::Corrupt
    );

    let mut flipped = bytes.clone();
    *flipped.last_mut().unwrap() ^= 0x40;
    let err = decode(&flipped, &codecs).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
}

#[test]
fn lying_lengths_are_caught_before_allocating() {
    let codecs = codecs();
    let options = WireOptions::new()
        .compression(Compression::Lz4)
        .compress_above(0);
    let bytes = encode_with(&Value::new("z".repeat(1000)), &codecs, &options).unwrap();
    // Claims a terabyte uncompressed: more than lz4 can encode in so few bytes.
    let mut huge = bytes.clone();
    huge[20..28].copy_from_slice(&(1u64 << 40).to_le_bytes());
    reseal(&mut huge);
    let err = decode(&huge, &codecs).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupt);
    assert!(
        err.to_string().contains("more than lz4 can encode"),
        "{err}"
    );
    // Claims one byte less than it holds.
    let mut short = bytes.clone();
    let len = u64::from_le_bytes(short[20..28].try_into().unwrap());
    short[20..28].copy_from_slice(&(len - 1).to_le_bytes());
    reseal(&mut short);
    assert_eq!(
        decode(&short, &codecs).unwrap_err().kind(),
        ErrorKind::Corrupt
    );
    // A zstd frame claiming far more than it holds.
    let options = WireOptions::new()
        .compression(Compression::Zstd { level: 1 })
        .compress_above(0);
    let mut zstd = encode_with(&Value::new("z".repeat(1000)), &codecs, &options).unwrap();
    zstd[20..28].copy_from_slice(&(1u64 << 36).to_le_bytes());
    reseal(&mut zstd);
    assert!(decode(&zstd, &codecs).is_err());
    // Lengths past what the machine can address.
    let mut absurd = bytes;
    absurd[28..36].copy_from_slice(&u64::MAX.to_le_bytes());
    reseal(&mut absurd);
    assert!(decode(&absurd, &codecs).is_err());
}

#[test]
fn bad_raw_payloads_are_codec_errors() {
    let codecs = codecs();
    let options = WireOptions::new();
    // Says i32 where the tag says f64.
    let mut payload = vec![3u8];
    payload.extend_from_slice(&2u64.to_le_bytes());
    payload.extend_from_slice(&[0; 8]);
    let bytes = write_frame("barrow.raw.vec.f64", &payload, &options).unwrap();
    let err = decode(&bytes, &codecs).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Codec);
    assert!(err.to_string().contains("it holds i32"), "{err}");
    // Says 2 elements, holds 1.
    payload[0] = 10;
    let bytes = write_frame("barrow.raw.vec.f64", &payload, &options).unwrap();
    let err = decode(&bytes, &codecs).unwrap_err();
    assert!(err.to_string().contains("2 elements"), "{err}");
    // Not even a header.
    let bytes = write_frame("barrow.raw.vec.u16", &[10], &options).unwrap();
    assert_eq!(
        decode(&bytes, &codecs).unwrap_err().kind(),
        ErrorKind::Codec
    );
}

#[test]
fn missing_codecs_are_named() {
    #[derive(Debug)]
    struct Opaque;
    let codecs = codecs();
    let err = encode(&Value::new(Opaque), &codecs).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoCodec);
    assert!(err.to_string().contains("Opaque"), "{err}");
    assert!(!barrow_wire::can_encode(
        &Value::new(Opaque),
        &codecs,
        &WireOptions::new()
    ));

    let bytes = write_frame("stats.histogram", b"...", &WireOptions::new()).unwrap();
    let err = decode(&bytes, &codecs).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoCodec);
    assert_eq!(err.tag(), Some("stats.histogram"));
    assert!(err.to_string().contains("'stats.histogram'"), "{err}");

    // Into core's error, as a codec error keeping the original.
    let core: barrow_core::Error = err.into();
    assert_eq!(core.kind(), barrow_core::ErrorKind::Codec);
    assert!(core.source_as::<barrow_wire::Error>().is_some());
}

#[test]
fn tags_must_fit_the_header() {
    let err = write_frame("", b"", &WireOptions::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Codec);
    assert!(write_frame(&"t".repeat(2000), b"", &WireOptions::new()).is_err());
}

#[test]
fn a_header_tells_a_reader_how_much_to_read() {
    let bytes = encode(&Value::new(vec![0u8; 1000]), &codecs()).unwrap();
    let header = FrameHeader::parse(&bytes[..HEADER_LEN]).unwrap();
    assert_eq!(header.frame_len(), bytes.len());
    assert_eq!(header.payload_len(), 9 + 1000);
    assert_eq!(&bytes[..4], &MAGIC);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any bytes at all: an error or a value, never a panic.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&bytes, &codecs());
    }

    /// Bytes that start like a frame get past the first checks.
    #[test]
    fn random_frames_never_panic(
        compression in 0u8..4,
        tag_len in any::<u16>(),
        payload_len in 0u64..3000,
        rest in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let tag_len = tag_len % (rest.len() as u16 + 1);
        let lengths = (payload_len, (rest.len() - usize::from(tag_len)) as u64);
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[0; 8]);
        bytes.extend_from_slice(&1u16.to_le_bytes());
        bytes.extend_from_slice(&[compression, 0]);
        bytes.extend_from_slice(&tag_len.to_le_bytes());
        bytes.extend_from_slice(&[0, 0]);
        bytes.extend_from_slice(&lengths.0.to_le_bytes());
        bytes.extend_from_slice(&lengths.1.to_le_bytes());
        bytes.extend_from_slice(&rest);
        reseal(&mut bytes);
        let _ = decode(&bytes, &codecs());
    }

    /// A valid frame with random bytes overwritten and its checksum made
    /// right again: the payload's decoder sees the damage, and copes.
    #[test]
    fn damaged_payloads_never_panic(
        value in 0usize..4,
        damage in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    ) {
        let value = match value {
            0 => Value::new(vec![1.0f64; 30]),
            1 => Value::new(vec![String::from("ab"); 30]),
            2 => Value::new("xyz".repeat(100)),
            _ => Value::new(vec![7i64; 30]),
        };
        let options = WireOptions::new().compression(Compression::Lz4).compress_above(0);
        let mut bytes = encode_with(&value, &codecs(), &options).unwrap();
        let start = HEADER_LEN;
        for (at, byte) in damage {
            let at = start + at % (bytes.len() - start);
            bytes[at] = byte;
        }
        reseal(&mut bytes);
        let _ = decode(&bytes, &codecs());
    }
}
