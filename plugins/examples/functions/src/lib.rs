//! `stats`: an example Barrow plugin of task functions that work on whole
//! chunks: an array's block or a bag's partition, never one element at a
//! time.
//!
//! | Function            | Takes                                   | Returns                          |
//! |---------------------|-----------------------------------------|----------------------------------|
//! | `stats.zscore`      | f64 numbers (array block or vector)     | standard scores, same shape/kind |
//! | `stats.clip`        | f64 numbers, `lo` (f64), `hi` (f64)     | values clamped, same shape/kind  |
//! | `stats.sum`         | f64 numbers                             | their sum, an f64                |
//! | `stats.word-lengths`| strings (a bag partition)               | a vector of u64 lengths in chars |
//! | `stats.lowercase`   | strings                                 | strings, lowercased              |
//! | `stats.scale`       | f64 numbers; parameter: one f64 factor  | numbers times the factor         |
//! | `stats.audit-log`   | anything                                | the events `stats.audit` saw, one per line |
//!
//! And one hook, `stats.audit` (Dask's worker and scheduler plugins): it
//! keeps the last 10,000 cluster events this process saw (a worker started
//! or closing, workers added or removed, task transitions on the
//! scheduler), which `stats.audit-log` returns, one line each
//! (`worker-added local-0`, `transition x waiting processing local-0`).
//!
//! Results of numbers are of the kind the numbers came in: an array block
//! gives an array, a bag's vector gives a vector.
//!
//! # Loading it
//!
//! Build the library and tell Barrow to load it, by name from a directory
//! in `plugins.paths` or by the path of the file:
//!
//! ```text
//! cargo build --release -p barrow-example-functions
//! BARROW_PLUGINS__PATHS=target/release BARROW_PLUGINS__LOAD=stats my-program
//! BARROW_PLUGINS__LOAD=target/release/libbarrow_example_functions.so my-program
//! ```
//!
//! Tasks then call the functions as `stats.zscore`, `stats.clip` and so on.

use std::collections::VecDeque;
use std::sync::Mutex;

use barrow_plugin::{
    Call, Event, Function, Hook, Numbers, Out, Plugin, Result, Shape, export_plugin,
};

/// The plugin: its functions, exported as this library's root module.
pub static PLUGIN: Plugin = Plugin {
    name: "stats",
    version: env!("CARGO_PKG_VERSION"),
    description: "Statistics and string functions on whole blocks and partitions.",
    functions: &[
        Function::new(
            "zscore",
            "Standard scores of a block or vector of f64: (x - mean) / std, with the \
             population standard deviation; 0 everywhere when std is 0. Takes f64 numbers, \
             returns f64 numbers of the same shape and kind.",
            zscore,
        ),
        Function::new(
            "clip",
            "Clamps f64 numbers into [lo, hi]. Takes f64 numbers, lo (f64) and hi (f64), with \
             lo <= hi; returns f64 numbers of the same shape and kind. NaNs stay NaN.",
            clip,
        ),
        Function::new(
            "sum",
            "The sum of a block or vector of f64. Takes f64 numbers, returns an f64 (0 when \
             empty).",
            sum,
        ),
        Function::new(
            "word-lengths",
            "The length in characters (Unicode scalar values) of each string of a partition. \
             Takes strings, returns a vector of u64.",
            word_lengths,
        ),
        Function::new(
            "lowercase",
            "Lowercases each string of a partition. Takes strings, returns strings.",
            lowercase,
        ),
        Function {
            name: "scale",
            doc: "Multiplies f64 numbers by a factor bound as the task's parameter (one f64, \
                  postcard-encoded: 8 little-endian bytes). Takes f64 numbers, returns f64 \
                  numbers of the same shape and kind.",
            takes_params: true,
            body: scale,
        },
        Function::new(
            "audit-log",
            "The cluster events the stats.audit hook saw in this process, one per line,              oldest first. Takes anything, returns a string.",
            audit_log,
        ),
    ],
    hooks: &[Hook {
        name: "audit",
        doc: "Keeps the last 10,000 cluster events of this process, for stats.audit-log.",
        on: audit,
    }],
    ..Plugin::EMPTY
};

/// The events `audit` kept.
static AUDIT: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());

/// Events kept at most.
const AUDIT_LENGTH: usize = 10_000;

fn audit(event: &Event<'_>) -> Result<()> {
    let line = match *event {
        Event::WorkerStarted { worker } => format!("worker-started {worker}"),
        Event::WorkerClosing { worker, reason } => format!("worker-closing {worker}: {reason}"),
        Event::SchedulerStarted { address } => format!("scheduler-started {address}"),
        Event::SchedulerClosing => "scheduler-closing".to_owned(),
        Event::WorkerAdded { worker } => format!("worker-added {worker}"),
        Event::WorkerRemoved { worker, reason } => format!("worker-removed {worker}: {reason}"),
        Event::Transition {
            key,
            from,
            to,
            worker,
        } => format!("transition {key} {from} {to} {worker}"),
    };
    let mut log = AUDIT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if log.len() == AUDIT_LENGTH {
        log.pop_front();
    }
    log.push_back(line);
    Ok(())
}

fn audit_log(_: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
    let log = AUDIT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let text: Vec<&str> = log.iter().map(String::as_str).collect();
    out.string(&text.join("\n"));
    Ok(())
}

export_plugin!(PLUGIN);

/// Sets a result of `x`'s shape and kind (array or vector) and returns its
/// elements to fill.
fn like<'o>(out: &'o mut Out<'_, '_>, x: &Numbers<'_, f64>) -> Result<&'o mut [f64]> {
    let elements = x.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if elements != Some(x.data.len()) {
        return Err(format!(
            "numbers shaped {:?} should hold {} elements, but hold {}",
            x.shape,
            elements.map_or_else(|| "too many".to_owned(), |n| n.to_string()),
            x.data.len()
        )
        .into());
    }
    match x.kind {
        Shape::Array => out.array::<f64>(x.shape),
        Shape::Vec => out.vec::<f64>(x.data.len()),
    }
}

/// Maps every element of argument 0 through `f` into a result of its shape
/// and kind.
fn map(call: &Call<'_>, out: &mut Out<'_, '_>, f: impl Fn(f64) -> f64) -> Result<()> {
    let x = call.numbers::<f64>(0)?;
    let y = like(out, &x)?;
    for (y, &x) in y.iter_mut().zip(x.data) {
        *y = f(x);
    }
    Ok(())
}

fn zscore(call: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
    let x = call.numbers::<f64>(0)?;
    let n = x.data.len().max(1) as f64;
    let mean = x.data.iter().sum::<f64>() / n;
    let std = (x.data.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    // A NaN std (from NaN input) keeps the NaNs rather than hiding them as 0.
    map(
        call,
        out,
        |v| if std == 0.0 { 0.0 } else { (v - mean) / std },
    )
}

fn clip(call: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
    let lo = call.f64(1)?;
    let hi = call.f64(2)?;
    if lo.is_nan() || hi.is_nan() {
        return Err(format!("clip: lo ({lo}) and hi ({hi}) must be numbers, not NaN").into());
    }
    if lo > hi {
        return Err(format!("clip: lo ({lo}) must not exceed hi ({hi})").into());
    }
    // Not `f64::clamp`, which would turn a NaN into a bound.
    map(call, out, |v| {
        if v < lo {
            lo
        } else if v > hi {
            hi
        } else {
            v
        }
    })
}

fn sum(call: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
    let x = call.numbers::<f64>(0)?;
    out.f64(x.data.iter().sum());
    Ok(())
}

fn word_lengths(call: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
    let words = call.strs(0)?;
    let lengths = out.vec::<u64>(words.len())?;
    for (length, word) in lengths.iter_mut().zip(words) {
        *length = word.chars().count() as u64;
    }
    Ok(())
}

fn lowercase(call: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
    let lowered: Vec<String> = call.strs(0)?.map(str::to_lowercase).collect();
    out.strings(lowered.iter().map(String::as_str));
    Ok(())
}

/// The factor is the parameter the host bound
/// (`barrow_plugin_host::function_with_params("stats.scale", &2.5)`).
fn scale(call: &Call<'_>, out: &mut Out<'_, '_>) -> Result<()> {
    let factor: f64 = call.params_as()?;
    map(call, out, |v| v * factor)
}

#[cfg(test)]
mod tests {
    use super::PLUGIN;
    use barrow_plugin::testing::{self, Value};

    /// The shape and elements of an f64 result.
    fn f64s(value: &Value) -> (Vec<usize>, Vec<f64>) {
        let (shape, data) = value.numbers::<f64>().expect("f64 numbers");
        (shape.to_vec(), data.to_vec())
    }

    /// Whether a result is an array or a vector: `testing::Value` does not
    /// expose the kind, its `Debug` does.
    fn kind(value: &Value) -> &'static str {
        let debug = format!("{value:?}");
        if debug.contains("kind: Array") {
            "array"
        } else if debug.contains("kind: Vec") {
            "vec"
        } else {
            "other"
        }
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-12)
    }

    #[test]
    fn zscore_standardizes_an_array_block_and_keeps_its_shape() {
        let x = Value::array(&[2, 2], &[1.0f64, 2.0, 3.0, 4.0]);
        let z = testing::call(&PLUGIN, "zscore", &[x]).unwrap();
        assert_eq!(kind(&z), "array");
        let (shape, data) = f64s(&z);
        assert_eq!(shape, [2, 2]);
        // mean 2.5, population std sqrt(1.25)
        let s = 1.25f64.sqrt();
        assert!(
            close(&data, &[-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s]),
            "{data:?}"
        );
    }

    #[test]
    fn zscore_of_a_vector_is_a_vector_and_constant_input_gives_zeros() {
        let z = testing::call(&PLUGIN, "zscore", &[Value::vec(&[7.0f64, 7.0, 7.0])]).unwrap();
        assert_eq!(kind(&z), "vec");
        assert_eq!(f64s(&z), (vec![3], vec![0.0, 0.0, 0.0]));

        let z = testing::call(&PLUGIN, "zscore", &[Value::vec::<f64>(&[])]).unwrap();
        assert_eq!(f64s(&z), (vec![0], vec![]));
    }

    #[test]
    fn zscore_refuses_numbers_of_another_type() {
        let err = testing::call(&PLUGIN, "zscore", &[Value::vec(&[1i64, 2])]).unwrap_err();
        assert!(
            err.message().contains("should be numbers of type f64"),
            "{err}"
        );
    }

    #[test]
    fn clip_clamps_and_keeps_the_kind() {
        let args = [
            Value::array(&[5], &[-2.0f64, 0.0, 0.5, 1.0, 3.0]),
            Value::F64(0.0),
            Value::F64(1.0),
        ];
        let y = testing::call(&PLUGIN, "clip", &args).unwrap();
        assert_eq!(kind(&y), "array");
        assert_eq!(f64s(&y), (vec![5], vec![0.0, 0.0, 0.5, 1.0, 1.0]));

        let args = [
            Value::vec(&[-1.0f64, f64::NAN, 9.0]),
            Value::I64(0),
            Value::U64(2),
        ];
        let y = testing::call(&PLUGIN, "clip", &args).unwrap();
        assert_eq!(kind(&y), "vec");
        let (_, data) = f64s(&y);
        assert_eq!(data[0], 0.0);
        assert!(data[1].is_nan());
        assert_eq!(data[2], 2.0);
    }

    #[test]
    fn clip_with_lo_above_hi_names_both() {
        let args = [Value::vec(&[1.0f64]), Value::F64(5.0), Value::F64(2.0)];
        let err = testing::call(&PLUGIN, "clip", &args).unwrap_err();
        assert!(err.message().contains("lo (5)"), "{err}");
        assert!(err.message().contains("hi (2)"), "{err}");

        let args = [Value::vec(&[1.0f64]), Value::F64(f64::NAN), Value::F64(2.0)];
        let err = testing::call(&PLUGIN, "clip", &args).unwrap_err();
        assert!(err.message().contains("not NaN"), "{err}");
    }

    #[test]
    fn clip_needs_its_bounds() {
        let err = testing::call(&PLUGIN, "clip", &[Value::vec(&[1.0f64])]).unwrap_err();
        assert!(err.message().contains("needs argument 1"), "{err}");
    }

    #[test]
    fn sum_adds_a_block() {
        let x = Value::array(&[2, 3], &[1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let s = testing::call(&PLUGIN, "sum", &[x]).unwrap();
        assert!(matches!(s, Value::F64(v) if v == 21.0), "{s:?}");
        let s = testing::call(&PLUGIN, "sum", &[Value::vec::<f64>(&[])]).unwrap();
        assert!(matches!(s, Value::F64(v) if v == 0.0), "{s:?}");
    }

    #[test]
    fn word_lengths_count_characters_not_bytes() {
        let words = Value::strings(["a", "barrow", "", "héllo", "日本"]);
        let lengths = testing::call(&PLUGIN, "word-lengths", &[words]).unwrap();
        assert_eq!(kind(&lengths), "vec");
        let (shape, data) = lengths.numbers::<u64>().unwrap();
        assert_eq!(shape, [5]);
        assert_eq!(data, [1, 6, 0, 5, 2]);
    }

    #[test]
    fn word_lengths_refuse_numbers() {
        let err = testing::call(&PLUGIN, "word-lengths", &[Value::vec(&[1.0f64])]).unwrap_err();
        assert!(err.message().contains("should be strings"), "{err}");
    }

    #[test]
    fn lowercase_lowercases_each_string() {
        let words = Value::strings(["Hello", "WORLD", "ÉCOLE", ""]);
        let lowered = testing::call(&PLUGIN, "lowercase", &[words]).unwrap();
        match lowered {
            Value::Strings(items) => assert_eq!(items, ["hello", "world", "école", ""]),
            other => panic!("expected strings, got {other:?}"),
        }
    }

    #[test]
    fn scale_multiplies_by_its_postcard_parameter() {
        // postcard writes an f64 as its 8 little-endian bytes.
        let params = 2.5f64.to_le_bytes();
        let y = testing::call_with_params(
            &PLUGIN,
            "scale",
            &params,
            &[Value::array(&[3, 1], &[1.0f64, -2.0, 4.0])],
        )
        .unwrap();
        assert_eq!(kind(&y), "array");
        assert_eq!(f64s(&y), (vec![3, 1], vec![2.5, -5.0, 10.0]));

        let y =
            testing::call_with_params(&PLUGIN, "scale", &params, &[Value::vec(&[2.0f64])]).unwrap();
        assert_eq!(kind(&y), "vec");
        assert_eq!(f64s(&y), (vec![1], vec![5.0]));
    }

    #[test]
    fn scale_refuses_parameters_that_are_not_one_f64() {
        let x = || [Value::vec(&[1.0f64])];
        let err = testing::call(&PLUGIN, "scale", &x()).unwrap_err();
        assert!(err.message().contains("(0 bytes) are not a f64"), "{err}");
        let err = testing::call_with(&PLUGIN, "scale", &"three", &x()).unwrap_err();
        assert!(err.message().contains("are not a f64"), "{err}");
        let y = testing::call_with(&PLUGIN, "scale", &3.0f64, &x()).unwrap();
        assert_eq!(f64s(&y).1, [3.0]);
    }

    #[test]
    fn every_function_is_documented_and_only_scale_takes_params() {
        for function in PLUGIN.functions {
            assert!(!function.doc.is_empty(), "{} has no doc", function.name);
            assert_eq!(
                function.takes_params,
                function.name == "scale",
                "{}",
                function.name
            );
        }
    }

    #[test]
    fn the_audit_hook_keeps_events_for_the_audit_log() {
        use barrow_plugin::Event;
        testing::hook(&PLUGIN, "audit", &Event::WorkerAdded { worker: "w7" }).unwrap();
        testing::hook(
            &PLUGIN,
            "audit",
            &Event::Transition {
                key: "x-1",
                from: "waiting",
                to: "processing",
                worker: "w7",
            },
        )
        .unwrap();
        let log = testing::call(&PLUGIN, "audit-log", &[Value::vec(&[0.0f64])]).unwrap();
        let Value::String(text) = log else {
            panic!("audit-log returns a string, not {log:?}");
        };
        assert!(
            text.contains("worker-added w7\ntransition x-1 waiting processing w7"),
            "{text}"
        );
    }
}
