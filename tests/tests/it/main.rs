//! Rill's cross-crate integration tests: one binary, one module per area.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod bad_input;
mod common;
mod connectors;
mod coprocess;
mod dataset_api;
mod datastream_api;
mod nexmark;
mod parquet_scan;
mod runtime;
mod shared_subplans;
mod sinks;
mod slt;
mod streaming;
mod tpch;
