//! # rill-benchmarks
//!
//! Data generators, queries and runners for Rill's benchmarks. [`tpch`] generates the eight
//! TPC-H tables as Parquet files (with the `tpchgen` crate's generators) and holds the TPC-H
//! query texts; [`nexmark`] generates the Nexmark benchmark's event streams (people, auctions,
//! bids) column-wise into Arrow, as Rill sources or Parquet files; [`ops`] generates the data and holds the queries of the operator
//! micro-benchmarks (`benches/operators.rs`, criterion, through the SQL API).

#![deny(missing_docs)]

pub mod nexmark;
pub mod ops;
mod temp_file;
pub mod tpch;
