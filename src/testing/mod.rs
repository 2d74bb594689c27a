//! placeholder for the embedded cluster module
