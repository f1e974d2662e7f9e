//! Pins what `#[lamina::handler]` accepts and what it says about everything else.
//!
//! Each file under `ui/pass` is a whole bin crate the macro must accept. trybuild also runs it,
//! as a local invocation with an empty payload, which lamina decodes as JSON `null`: so the pass
//! cases take events that accept `null` (`Option<T>`, `()`), and their `init`s succeed. Each file under
//! `ui/fail` makes one mistake, is named after it, and has its expected diagnostics in the
//! `.stderr` beside it. Regenerate those with `TRYBUILD=overwrite cargo test -p lamina-lambda-macros
//! --test ui`, then read the diff: every error should point at the user's own token and say
//! what to write instead.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
