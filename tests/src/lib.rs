//! # rill-tests
//!
//! Cross-crate integration and end-to-end tests of Rill. The tests live in this crate's
//! `tests/it/` binary; this library holds the helpers they share: the sqllogictest adapter
//! ([`slt::RillDb`]) that runs `.slt` files against an embedded environment.

#![deny(missing_docs)]

pub mod slt;
