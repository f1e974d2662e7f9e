//! A shared library that exports something, but not lamina's entry point.

/// Adds two numbers, to give the library one exported symbol.
#[unsafe(no_mangle)]
pub extern "C" fn plain_add(a: u32, b: u32) -> u32 {
    a.wrapping_add(b)
}
