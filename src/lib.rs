//! placeholder: the crate root is being written.
#![deny(missing_docs)]

pub mod testing;
