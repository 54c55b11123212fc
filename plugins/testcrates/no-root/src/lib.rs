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

#[cfg(test)]
mod tests {
    #[test]
    fn the_exported_function_returns_seven() {
        assert_eq!(super::barrow_test_no_root(), 7);
    }
}
