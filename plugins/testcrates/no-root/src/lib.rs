//! A shared library that is not a Barrow plugin: it exports one C function
//! and no Barrow root module, so the host's tests can check that loading it
//! fails with a clear error (and without undefined behaviour). It does not
//! depend on `barrow-plugin`; build it with `cargo build -p
//! barrow-test-no-root` (`target/debug/libbarrow_test_no_root.so`).

/// Returns 7: a symbol that proves the library is a real, loadable one.
#[unsafe(no_mangle)]
pub extern "C" fn barrow_test_no_root() -> u32 {
    7
}

/// Runs when the dynamic loader opens this library: writes the file named
/// by `BARROW_TEST_CONSTRUCTOR_MARKER`, so that a test can tell whether a
/// host ran any of this library's code (it must not when it only checks or
/// inspects the file).
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static MARK_LOADED: extern "C" fn() = mark_loaded;

#[cfg(target_os = "linux")]
extern "C" fn mark_loaded() {
    if let Some(path) = std::env::var_os("BARROW_TEST_CONSTRUCTOR_MARKER") {
        let _ = std::fs::write(path, "loaded");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_exported_function_returns_seven() {
        assert_eq!(super::barrow_test_no_root(), 7);
    }
}
