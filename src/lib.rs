//! The Warren suite package: it exists so the workspace root can hold the end-to-end
//! tests in `tests/` and the runnable client programs in `examples/`. The broker itself
//! lives in `crates/`.
#![deny(missing_docs)]
