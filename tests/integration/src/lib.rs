//! Functions for the end-to-end tests live in `src/bin`; this library holds what several tests share.

pub mod emf;
