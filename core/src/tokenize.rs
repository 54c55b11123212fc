//! Deterministic tokens: names for what produced a result.
//!
//! Keys are tokens of what produced them (Dask's `tokenize`), so the same
//! operation on the same inputs gets the same key, in every process, on every
//! machine and in every version: merging graphs then shares their common
//! work. The hash is xxh3-128 over a canonical encoding: every item is
//! written as a one-byte type tag followed by its little-endian bytes, and
//! every variable-length item (string, sequence) by its length first, so no
//! two different inputs encode the same. `DefaultHasher` is never used: its
//! output may change between Rust versions.

use std::sync::atomic::{AtomicU64, Ordering};

use xxhash_rust::xxh3::Xxh3;

use crate::function::Func;
use crate::key::Key;
use crate::task::{Arg, Call, Task, TaskBody};
use crate::value::{Value, for_each_scalar};

/// A value that can be written into a token.
///
/// Implement it for your own types by writing their fields in order:
///
/// ```
/// use barrow_core::tokenize::{Tokenize, Tokenizer, tokenize};
///
/// struct Window { size: u32, name: String }
///
/// impl Tokenize for Window {
///     fn tokenize_into(&self, t: &mut Tokenizer) {
///         self.size.tokenize_into(t);
///         self.name.tokenize_into(t);
///     }
/// }
///
/// let a = tokenize(&Window { size: 3, name: "mean".into() });
/// let b = tokenize(&Window { size: 3, name: "mean".into() });
/// assert_eq!(a, b);
/// assert_eq!(a.len(), 32);
/// ```
pub trait Tokenize {
    /// Writes `self` into `t`.
    fn tokenize_into(&self, t: &mut Tokenizer);
}

/// The hash state of a token being computed.
#[derive(Clone)]
pub struct Tokenizer(Xxh3);

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokenizer")
    }
}

impl Default for Tokenizer {
    fn default() -> Tokenizer {
        Tokenizer::new()
    }
}

impl Tokenizer {
    /// A fresh tokenizer.
    pub fn new() -> Tokenizer {
        Tokenizer(Xxh3::new())
    }

    /// Writes a type tag.
    pub fn tag(&mut self, tag: u8) {
        self.0.update(&[tag]);
    }

    /// Writes a length or count.
    pub fn len(&mut self, len: usize) {
        self.0.update(&(len as u64).to_le_bytes());
    }

    /// Writes raw bytes, length first.
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.len(bytes.len());
        self.0.update(bytes);
    }

    /// Writes raw bytes of fixed meaning (no length).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Writes any tokenizable item.
    pub fn write<T: Tokenize + ?Sized>(&mut self, item: &T) {
        item.tokenize_into(self);
    }

    /// The 32 hex digits of the token.
    pub fn finish(&self) -> String {
        format!("{:032x}", self.0.digest128())
    }
}

/// The token of `item`: 32 lowercase hex digits, stable across processes,
/// machines and versions.
///
/// ```
/// use barrow_core::tokenize::tokenize;
///
/// assert_eq!(tokenize(&("sum", 3u32)), tokenize(&("sum", 3u32)));
/// assert_ne!(tokenize(&("sum", 3u32)), tokenize(&("sum", 4u32)));
/// ```
pub fn tokenize<T: Tokenize + ?Sized>(item: &T) -> String {
    let mut t = Tokenizer::new();
    item.tokenize_into(&mut t);
    t.finish()
}

/// A key name `prefix-token`, as Dask names the outputs of an operation
/// (`"sum-5d2c…"`).
pub fn token_name<T: Tokenize + ?Sized>(prefix: &str, item: &T) -> String {
    format!("{prefix}-{}", tokenize(item))
}

mod tag {
    pub const STR: u8 = 1;
    pub const SEQ: u8 = 2;
    pub const TUPLE: u8 = 3;
    pub const NONE: u8 = 4;
    pub const SOME: u8 = 5;
    pub const KEY: u8 = 6;
    pub const FUNC: u8 = 7;
    pub const VALUE_UNIQUE: u8 = 8;
    pub const LITERAL: u8 = 9;
    pub const ALIAS: u8 = 10;
    pub const CALL: u8 = 11;
    pub const LIST: u8 = 12;
    pub const SCALAR_BASE: u8 = 32;
}

macro_rules! tokenize_scalars {
    ($($t:ty),*) => {
        $(impl Tokenize for $t {
            fn tokenize_into(&self, t: &mut Tokenizer) {
                t.tag(tag::SCALAR_BASE + scalar_index::<$t>());
                t.raw(&scalar_bytes(*self));
            }
        })*
    };
}

/// A fixed small number per scalar type, so `1u8` and `1i64` differ.
fn scalar_index<T: 'static>() -> u8 {
    use std::any::TypeId;
    let id = TypeId::of::<T>();
    let mut index = 0u8;
    macro_rules! find {
        ($($s:ty),*) => {
            $(if id == TypeId::of::<$s>() { return index; } index += 1;)*
        };
    }
    for_each_scalar!(find);
    index
}

trait ScalarBytes: Copy {
    fn le_bytes(self) -> Vec<u8>;
}

macro_rules! scalar_bytes_int {
    ($($t:ty),*) => {
        $(impl ScalarBytes for $t {
            fn le_bytes(self) -> Vec<u8> { self.to_le_bytes().to_vec() }
        })*
    };
}
scalar_bytes_int!(i8, i16, i32, i64, i128, u8, u16, u32, u64, u128);

impl ScalarBytes for isize {
    fn le_bytes(self) -> Vec<u8> {
        (self as i64).to_le_bytes().to_vec()
    }
}

impl ScalarBytes for usize {
    fn le_bytes(self) -> Vec<u8> {
        (self as u64).to_le_bytes().to_vec()
    }
}

impl ScalarBytes for f32 {
    fn le_bytes(self) -> Vec<u8> {
        // One NaN and one zero, so equal-looking values get equal tokens.
        let v = if self.is_nan() { f32::NAN } else { self + 0.0 };
        v.to_bits().to_le_bytes().to_vec()
    }
}

impl ScalarBytes for f64 {
    fn le_bytes(self) -> Vec<u8> {
        let v = if self.is_nan() { f64::NAN } else { self + 0.0 };
        v.to_bits().to_le_bytes().to_vec()
    }
}

impl ScalarBytes for bool {
    fn le_bytes(self) -> Vec<u8> {
        vec![self as u8]
    }
}

impl ScalarBytes for char {
    fn le_bytes(self) -> Vec<u8> {
        (self as u32).to_le_bytes().to_vec()
    }
}

fn scalar_bytes<T: ScalarBytes>(v: T) -> Vec<u8> {
    v.le_bytes()
}

for_each_scalar!(tokenize_scalars);

impl Tokenize for str {
    fn tokenize_into(&self, t: &mut Tokenizer) {
        t.tag(tag::STR);
        t.bytes(self.as_bytes());
    }
}

impl Tokenize for String {
    fn tokenize_into(&self, t: &mut Tokenizer) {
        self.as_str().tokenize_into(t);
    }
}

impl<T: Tokenize + ?Sized> Tokenize for &T {
    fn tokenize_into(&self, t: &mut Tokenizer) {
        (**self).tokenize_into(t);
    }
}

impl<T: Tokenize> Tokenize for [T] {
    fn tokenize_into(&self, t: &mut Tokenizer) {
        t.tag(tag::SEQ);
        t.len(self.len());
        for item in self {
            item.tokenize_into(t);
        }
    }
}

impl<T: Tokenize> Tokenize for Vec<T> {
    fn tokenize_into(&self, t: &mut Tokenizer) {
        self.as_slice().tokenize_into(t);
    }
}

impl<T: Tokenize, const N: usize> Tokenize for [T; N] {
    fn tokenize_into(&self, t: &mut Tokenizer) {
        self.as_slice().tokenize_into(t);
    }
}

impl<T: Tokenize> Tokenize for Option<T> {
    fn tokenize_into(&self, t: &mut Tokenizer) {
        match self {
            None => t.tag(tag::NONE),
            Some(v) => {
                t.tag(tag::SOME);
                v.tokenize_into(t);
            }
        }
    }
}

macro_rules! tokenize_tuple {
    ($n:literal; $($name:ident),+) => {
        impl<$($name: Tokenize),+> Tokenize for ($($name,)+) {
            #[allow(non_snake_case, reason = "fields named after their types")]
            fn tokenize_into(&self, t: &mut Tokenizer) {
                t.tag(tag::TUPLE);
                t.len($n);
                let ($($name,)+) = self;
                $($name.tokenize_into(t);)+
            }
        }
    };
}
tokenize_tuple!(1; A);
tokenize_tuple!(2; A, B);
tokenize_tuple!(3; A, B, C);
tokenize_tuple!(4; A, B, C, D);
tokenize_tuple!(5; A, B, C, D, E);
tokenize_tuple!(6; A, B, C, D, E, F);

impl Tokenize for Key {
    fn tokenize_into(&self, t: &mut Tokenizer) {
        t.tag(tag::KEY);
        self.name().tokenize_into(t);
        match self.is_indexed() {
            false => t.tag(tag::NONE),
            true => self.index().tokenize_into(t),
        }
    }
}

impl Tokenize for Func {
    fn tokenize_into(&self, t: &mut Tokenizer) {
        t.tag(tag::FUNC);
        self.name().tokenize_into(t);
        match self.params() {
            None => t.tag(tag::NONE),
            Some(bytes) => {
                t.tag(tag::SOME);
                t.bytes(bytes);
            }
        }
    }
}

/// Scalars, strings and vectors of them tokenize by content. Any other value
/// gets a token unique to this handle in this process (Dask does the same
/// for objects it cannot hash deterministically), so two computations on
/// such a value never share keys by mistake.
impl Tokenize for Value {
    fn tokenize_into(&self, t: &mut Tokenizer) {
        let any = self.as_any();
        macro_rules! try_content {
            ($($s:ty),*) => {
                $(if let Some(v) = any.downcast_ref::<$s>() {
                    return v.tokenize_into(t);
                }
                if let Some(v) = any.downcast_ref::<Vec<$s>>() {
                    return v.tokenize_into(t);
                })*
            };
        }
        for_each_scalar!(try_content);
        try_content!(String);
        t.tag(tag::VALUE_UNIQUE);
        t.raw(&unique_salt().to_le_bytes());
        t.raw(&(std::ptr::from_ref(any).cast::<u8>() as usize as u64).to_le_bytes());
    }
}

/// A number drawn once per process, so unique value tokens never collide
/// with those of another process.
fn unique_salt() -> u64 {
    static SALT: AtomicU64 = AtomicU64::new(0);
    let salt = SALT.load(Ordering::Relaxed);
    if salt != 0 {
        return salt;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let fresh = xxhash_rust::xxh3::xxh3_64(
        &[now.to_le_bytes(), (std::process::id() as u64).to_le_bytes()].concat(),
    ) | 1;
    match SALT.compare_exchange(0, fresh, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => fresh,
        Err(existing) => existing,
    }
}

impl Tokenize for Arg {
    fn tokenize_into(&self, t: &mut Tokenizer) {
        match self {
            Arg::Literal(v) => {
                t.tag(tag::LITERAL);
                v.tokenize_into(t);
            }
            Arg::Key(k) => k.tokenize_into(t),
            Arg::List(items) => {
                t.tag(tag::LIST);
                items.as_ref().tokenize_into(t);
            }
            Arg::Call(call) => call.tokenize_into(t),
            // Fusion changes where a call runs, not what it computes.
            Arg::Fused(fused) => fused.1.tokenize_into(t),
        }
    }
}

impl Tokenize for Call {
    fn tokenize_into(&self, t: &mut Tokenizer) {
        t.tag(tag::CALL);
        self.function().tokenize_into(t);
        self.args().tokenize_into(t);
    }
}

impl Tokenize for Task {
    fn tokenize_into(&self, t: &mut Tokenizer) {
        match self.body() {
            TaskBody::Literal(v) => {
                t.tag(tag::LITERAL);
                v.tokenize_into(t);
            }
            TaskBody::Alias(k) => {
                t.tag(tag::ALIAS);
                k.tokenize_into(t);
            }
            TaskBody::Call(call) => call.tokenize_into(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fixed_across_versions_and_processes() {
        // These strings are part of Barrow's stability promise: a change here
        // renames every key every collection makes. Change them only with a
        // deliberate, documented break. They were checked against an
        // independent xxh3 implementation (Python's `xxhash`) fed the
        // documented encoding: tag byte, u64 lengths, little-endian scalars.
        assert_eq!(tokenize(&1i64), "d3218ab8fffb94fe0515c9a42f015a89");
        assert_eq!(tokenize("x"), "5960f35150a84c392c2ea4a79491c274");
        assert_eq!(
            tokenize(&("sum", 3u32, vec![1.5f64, 2.0])),
            "a8ed137133f2091d93b6ecde52b8b72d"
        );
        assert_eq!(
            tokenize(&Key::from(("x", 0, 3))),
            "ca6d1dd35c156048d829de333f319a25"
        );
    }

    #[test]
    fn types_and_structure_are_distinguished() {
        assert_ne!(tokenize(&1u8), tokenize(&1i64));
        assert_ne!(tokenize(&("ab", "c")), tokenize(&("a", "bc")));
        assert_ne!(tokenize(&vec![1u8, 2]), tokenize(&(1u8, 2u8)));
        assert_ne!(tokenize(&Some(0u8)), tokenize(&None::<u8>));
        assert_eq!(tokenize(&0.0f64), tokenize(&-0.0f64));
        assert_eq!(tokenize(&f64::NAN), tokenize(&-f64::NAN));
    }

    #[test]
    fn values_tokenize_by_content_when_known() {
        assert_eq!(tokenize(&Value::new(3i64)), tokenize(&3i64));
        assert_eq!(
            tokenize(&Value::new(vec![1.0f64, 2.0])),
            tokenize(&vec![1.0f64, 2.0])
        );
        struct Opaque;
        let a = Value::new(Opaque);
        let b = Value::new(Opaque);
        assert_eq!(tokenize(&a), tokenize(&a.clone()));
        assert_ne!(tokenize(&a), tokenize(&b));
    }

    #[test]
    fn tasks_tokenize_by_function_and_arguments() {
        use crate::task::arg::{key, lit};
        let inc = Func::new("inc", |x: &i64| x + 1);
        let inc_again = Func::new("inc", |x: &i64| x + 1);
        let a = Task::call(&inc, [key("x"), lit(1i64)]);
        let b = Task::call(&inc_again, [key("x"), lit(1i64)]);
        let c = Task::call(&inc, [key("y"), lit(1i64)]);
        assert_eq!(tokenize(&a), tokenize(&b));
        assert_ne!(tokenize(&a), tokenize(&c));
    }
}
