//! The lamina echo function as a handler library, run by the layer's `bootstrap`.

include!("../echo_lamina.rs");
