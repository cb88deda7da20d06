//! Runnable examples of Rill's Rust APIs; each one is a binary under `src/bin/`:
//!
//! * `windowed_counts`: a windowed aggregation over a rate-controlled generator with the
//!   DataStream API, written to Parquet
//!   (`cargo run -p rill-examples --bin windowed_counts [-- OUTPUT.parquet]`).

#![deny(missing_docs)]
