//! # rill-gelly
//!
//! Graph processing on Rill (PageRank, connected components, label propagation, SSSP) as
//! plans over the bulk and delta iteration primitives. Empty until the iterations milestone.

#![deny(missing_docs)]
