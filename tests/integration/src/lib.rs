//! Functions for the end-to-end tests live in `src/bin`; this library is empty.
