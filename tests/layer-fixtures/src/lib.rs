//! Nothing here: the handler libraries are this package's examples (see Cargo.toml).
