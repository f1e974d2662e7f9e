//! The lamina side of the benchmark: echo the event.

include!("../echo_lamina.rs");
