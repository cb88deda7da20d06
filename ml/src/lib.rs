//! # rill-ml
//!
//! Machine learning on Rill (estimators, transformers, pipelines; k-means, linear and logistic
//! regression, naive Bayes, PCA) as plans over the iteration primitives. Empty until the
//! iterations milestone.

#![deny(missing_docs)]
