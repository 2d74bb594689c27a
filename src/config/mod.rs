//! Typed configuration, validated in one `build()` before anything connects.
//!
//! [`SourceConfig`] describes one consumer-group membership. Settings that correctness depends
//! on (`enable.auto.commit`, `enable.auto.offset.store`) are forced off; setting them to
//! anything else is an error naming the key. Any other librdkafka key passes through
//! [`SourceConfigBuilder::set`] and is checked by librdkafka itself during `build()`.
//! Secrets (passwords, private keys, tokens) print as `[redacted]`.

mod hooks;
mod passthrough;
mod properties;
mod protocol;
mod security;
mod source;
mod start;
mod validate;

pub use hooks::LifecycleHook;
pub(crate) use passthrough::{check_client_config, Forced, Managed, Refused};
pub use passthrough::{is_secret_key, Passthrough};
pub use properties::read_properties;
pub use protocol::{ClassicAssignor, GroupProtocol, ServerAssignor};
pub(crate) use security::check_security;
pub(crate) use source::SourceSettings;
pub use source::{CommitCadence, SourceConfig, SourceConfigBuilder};
pub use start::{OffsetReset, StartPolicy};
pub(crate) use validate::{millis, positive, required, validate_topic_name};
