//! Reading an asv results folder from disk (placeholder, being written).
