use super::*;

#[test]
fn byte_sizes_parse() {
    let table: &[(&str, u64)] = &[
        ("0", 0),
        ("1", 1),
        ("1024", 1024),
        ("  42  ", 42),
        ("42B", 42),
        ("42 b", 42),
        ("1kB", 1000),
        ("1 KB", 1000),
        ("1k", 1000),
        ("1KiB", 1024),
        ("64 KiB", 64 * 1024),
        ("64kib", 64 * 1024),
        ("64Ki", 64 * 1024),
        ("128MiB", 128 << 20),
        ("128 mib", 128 << 20),
        ("1MB", 1_000_000),
        ("1M", 1_000_000),
        ("1.5 GB", 1_500_000_000),
        ("1.5GiB", 3 << 29),
        ("2TB", 2_000_000_000_000),
        ("1TiB", 1 << 40),
        ("1PB", 1_000_000_000_000_000),
        ("1PiB", 1 << 50),
        ("1EiB", 1 << 60),
        ("1e9", 1_000_000_000),
        ("1E9", 1_000_000_000),
        ("2.5e3 kB", 2_500_000),
        ("0.5KiB", 512),
        ("1.7", 1),
        ("18446744073709551615", u64::MAX),
    ];
    for &(text, bytes) in table {
        let parsed: ByteSize = text
            .parse()
            .unwrap_or_else(|e| panic!("{text:?} should parse: {e}"));
        assert_eq!(parsed.as_u64(), bytes, "{text:?}");
    }
}

#[test]
fn bad_byte_sizes_are_errors_that_say_why() {
    let table: &[(&str, &str)] = &[
        ("12 lots", "unknown unit \"lots\""),
        ("", "it has no number"),
        ("MiB", "it has no number"),
        ("-5", "finite number >= 0"),
        ("-5MiB", "finite number >= 0"),
        ("inf", "unknown unit \"inf\""),
        ("1.2.3 MB", "\"1.2.3\" is not a number"),
        ("1 2 MB", "\"1 2\" is not a number"),
        ("16EiB", "larger than 2^64 bytes"),
        ("1e30", "larger than 2^64 bytes"),
        ("5 kB/s", "unknown unit \"s\""),
    ];
    for &(text, why) in table {
        let err = text
            .parse::<ByteSize>()
            .expect_err(&format!("{text:?} should be refused"));
        assert_eq!(err.kind(), crate::ErrorKind::Parse);
        let message = err.to_string();
        assert!(message.contains(why), "{text:?}: {message}");
        assert!(
            message.starts_with(&format!("invalid byte size {text:?}")),
            "{message}"
        );
    }
}

#[test]
fn byte_sizes_display_canonically_and_round_trip() {
    let table: &[(u64, &str)] = &[
        (0, "0B"),
        (1, "1B"),
        (1023, "1023B"),
        (1024, "1KiB"),
        (1000, "1kB"),
        (1536, "1536B"),
        (128 << 20, "128MiB"),
        (3 << 29, "1536MiB"),
        (1_500_000_000, "1500MB"),
        (1_000_000_000, "1GB"),
        (1 << 30, "1GiB"),
        (1_024_000, "1000KiB"),
        (u64::MAX, "18446744073709551615B"),
    ];
    for &(bytes, text) in table {
        let size = ByteSize::b(bytes);
        assert_eq!(size.to_string(), text, "{bytes}");
        assert_eq!(text.parse::<ByteSize>().ok(), Some(size), "{text}");
    }
}

#[test]
fn byte_size_constructors_agree_with_parsing() {
    assert_eq!(ByteSize::kb(3), "3kB".parse().unwrap());
    assert_eq!(ByteSize::mb(3), "3MB".parse().unwrap());
    assert_eq!(ByteSize::gb(3), "3GB".parse().unwrap());
    assert_eq!(ByteSize::kib(3), "3KiB".parse().unwrap());
    assert_eq!(ByteSize::mib(3), "3MiB".parse().unwrap());
    assert_eq!(ByteSize::gib(3), "3GiB".parse().unwrap());
    assert_eq!(u64::from(ByteSize::from(7)), 7);
}

#[test]
fn durations_parse() {
    use std::time::Duration as Std;
    let table: &[(&str, Std)] = &[
        ("0", Std::ZERO),
        ("30", Std::from_secs(30)),
        ("30s", Std::from_secs(30)),
        ("30 sec", Std::from_secs(30)),
        ("1 second", Std::from_secs(1)),
        ("2 seconds", Std::from_secs(2)),
        ("5 min", Std::from_secs(300)),
        ("5m", Std::from_secs(300)),
        ("5 minutes", Std::from_secs(300)),
        ("100ms", Std::from_millis(100)),
        ("100 MS", Std::from_millis(100)),
        ("250us", Std::from_micros(250)),
        ("250µs", Std::from_micros(250)),
        ("7ns", Std::from_nanos(7)),
        ("2h", Std::from_secs(7200)),
        ("2 hours", Std::from_secs(7200)),
        ("1d", Std::from_secs(86_400)),
        ("1w", Std::from_secs(7 * 86_400)),
        ("1.5s", Std::from_millis(1500)),
        ("0.25 min", Std::from_secs(15)),
        ("1.5h", Std::from_secs(5400)),
    ];
    for &(text, expected) in table {
        let parsed: Duration = text
            .parse()
            .unwrap_or_else(|e| panic!("{text:?} should parse: {e}"));
        assert_eq!(parsed.as_std(), expected, "{text:?}");
    }
}

#[test]
fn bad_durations_are_errors_that_say_why() {
    let table: &[(&str, &str)] = &[
        ("soon", "unknown unit \"soon\""),
        ("5 fortnights", "unknown unit \"fortnights\""),
        ("", "it has no number"),
        ("s", "it has no number"),
        ("-1s", "finite number >= 0"),
        ("1h30m", "is not a number"),
        ("99999999999999999999w", "it is too long"),
        ("18446744073709551615d", "it is too long"),
    ];
    for &(text, why) in table {
        let err = text
            .parse::<Duration>()
            .expect_err(&format!("{text:?} should be refused"));
        let message = err.to_string();
        assert!(message.contains(why), "{text:?}: {message}");
        assert!(
            message.starts_with(&format!("invalid duration {text:?}")),
            "{message}"
        );
    }
}

#[test]
fn durations_display_canonically_and_round_trip() {
    use std::time::Duration as Std;
    let table: &[(Std, &str)] = &[
        (Std::ZERO, "0s"),
        (Std::from_secs(30), "30s"),
        (Std::from_secs(90), "90s"),
        (Std::from_secs(300), "5min"),
        (Std::from_secs(7200), "2h"),
        (Std::from_secs(86_400), "1d"),
        (Std::from_millis(100), "100ms"),
        (Std::from_millis(1500), "1500ms"),
        (Std::from_micros(250), "250us"),
        (Std::from_nanos(7), "7ns"),
    ];
    for &(duration, text) in table {
        let value = Duration::from(duration);
        assert_eq!(value.to_string(), text, "{duration:?}");
        assert_eq!(text.parse::<Duration>().ok(), Some(value), "{text}");
    }
}

#[test]
fn serde_reads_text_and_numbers() {
    use serde::Deserialize;
    use serde::de::value::{Error, F64Deserializer, StrDeserializer, U64Deserializer};
    let size = ByteSize::deserialize(StrDeserializer::<Error>::new("64MiB")).unwrap();
    assert_eq!(size, ByteSize::mib(64));
    let size = ByteSize::deserialize(U64Deserializer::<Error>::new(1000)).unwrap();
    assert_eq!(size, ByteSize::kb(1));
    assert!(ByteSize::deserialize(StrDeserializer::<Error>::new("lots")).is_err());
    let duration = Duration::deserialize(StrDeserializer::<Error>::new("2h")).unwrap();
    assert_eq!(duration, Duration::from_secs(7200));
    let duration = Duration::deserialize(F64Deserializer::<Error>::new(0.5)).unwrap();
    assert_eq!(duration, Duration::from_millis(500));
}
