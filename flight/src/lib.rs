//! # rill-flight
//!
//! Rill's Arrow Flight data plane: the shuffle service between executors of a cluster and the
//! Flight SQL endpoint for client tools. It is empty until the cluster runtime milestone: a
//! job today runs on the embedded mini-cluster, whose exchanges are in-memory channels
//! (`rill_exec::runtime`). The shuffle service will implement the same exchange contract
//! (bounded, credit-based, `StreamElement`s as Arrow IPC) across processes.

#![deny(missing_docs)]
