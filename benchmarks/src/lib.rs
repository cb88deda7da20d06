//! # rill-benchmarks
//!
//! Data generators, queries and runners for Rill's benchmarks. [`tpch`] generates the eight
//! TPC-H tables as Parquet files (with the `tpchgen` crate's generators) and holds the TPC-H
//! query texts; `benches/operators.rs` holds the criterion micro-benchmarks of single
//! operators through the SQL API.

#![deny(missing_docs)]

pub mod tpch;
