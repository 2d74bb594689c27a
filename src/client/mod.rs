//! What every librdkafka client this crate creates shares: passthrough of librdkafka keys,
//! their validation, security checks, and client properties files.
//!
//! The source's consumer, the sink's producer, the side clients that commit and read
//! metadata, `rebuild_to_kafka`'s readers, the bench and the CLI all take their librdkafka
//! settings through [`Passthrough`]: keys the typed setters own are refused there, keys
//! correctness depends on are forced, anything else passes to librdkafka, which checks it
//! when the configuration is built. Secrets (passwords, private keys, tokens) print as
//! `[redacted]`. This module imports nothing from the group, the source or the sink.

mod passthrough;
mod properties;
mod security;
mod security_settings;
mod validate;

pub(crate) use passthrough::{check_client_config, Forced, Managed, Refused};
pub use passthrough::{is_secret_key, Passthrough};
pub use properties::{read_properties, ClientProperties};
pub(crate) use security::check_security;
pub(crate) use security_settings::merge_security;
pub use security_settings::{Pem, Sasl, Secret, Security};
pub(crate) use validate::{millis, positive, required, validate_topic_name};
