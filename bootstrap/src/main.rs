//! The lamina runtime layer's `bootstrap`, which Lambda runs as `/opt/bootstrap` when the
//! function's own package has none.
//!
//! It finds the function's handler library from `_HANDLER` (the function's Handler setting) and
//! `LAMBDA_TASK_ROOT`, loads it, and runs lamina's invoke loop with it — the same loop a bin-mode
//! function links, through [`lamina::abi::serve`]. Outside Lambda it runs one local invocation,
//! like any lamina function: `_HANDLER=hello LAMBDA_TASK_ROOT=. bootstrap --event event.json`.

mod library;

use std::process::ExitCode;

fn main() -> ExitCode {
    lamina::abi::serve(|| {
        let env = |name: &str| std::env::var(name).ok();
        library::load(&library::locate(env)?)
    })
}
