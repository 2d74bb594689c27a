//! librdkafka keys passed through untyped, with the rules that guard them.

use std::collections::BTreeMap;
use std::fmt;

use rdkafka::error::KafkaError;
use rdkafka::ClientConfig;

use crate::error::ConfigError;

/// Parts of a key that mark its value as a secret.
const SECRET_MARKERS: &[&str] = &[
    "password",
    "secret",
    "jaas",
    "token",
    "key.pem",
    "ssl.key",
    "oauthbearer.config",
];

/// Whether the value of a librdkafka key must never be printed.
///
/// ```
/// assert!(timely_kafka::client::is_secret_key("sasl.password"));
/// assert!(timely_kafka::client::is_secret_key("ssl.key.pem"));
/// assert!(!timely_kafka::client::is_secret_key("client.id"));
/// ```
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_MARKERS.iter().any(|marker| key.contains(marker))
}

/// Shows a value unless its key marks it as a secret.
pub(crate) fn shown(key: &str, value: &str) -> String {
    if is_secret_key(key) {
        "[redacted]".to_owned()
    } else {
        value.to_owned()
    }
}

/// A key that a typed setter owns: passing it through `set` is an error.
pub(crate) struct Managed {
    pub key: &'static str,
    pub setter: &'static str,
}

/// A key whose value timely-kafka fixes because correctness depends on it.
pub(crate) struct Forced {
    pub key: &'static str,
    pub value: &'static str,
    pub reason: &'static str,
}

/// A key the library refuses in any value: it could not honour it.
pub(crate) struct Refused {
    pub key: &'static str,
    pub reason: &'static str,
}

/// Asks librdkafka whether it accepts a whole client configuration; an error names the key.
/// OIDC settings are checked as [`create`](super::create) leaves them.
pub(crate) fn check_client_config(config: &ClientConfig) -> Result<(), ConfigError> {
    #[cfg(feature = "tls")]
    let config = &{
        let mut routed = config.clone();
        super::oidc::route(&mut routed);
        routed
    };
    config
        .create_native_config()
        .map(drop)
        .map_err(|err| match err {
            KafkaError::ClientConfig(_, message, key, value) => ConfigError::Rejected {
                value: shown(&key, &value),
                key,
                message,
            },
            other => ConfigError::Rejected {
                key: "(client configuration)".into(),
                value: String::new(),
                message: other.to_string(),
            },
        })
}

/// librdkafka settings given by key, printed with secrets redacted.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Passthrough {
    entries: BTreeMap<String, String>,
}

impl Passthrough {
    /// Records `key = value`; a later value for the same key replaces an earlier one.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.entries.insert(key.into(), value.into());
    }

    /// The value given for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// Iterates over the entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Checks the entries against the managed, forced and refused keys, then asks
    /// librdkafka whether it knows each key and accepts each value.
    pub(crate) fn validate(
        &self,
        managed: &[Managed],
        forced: &[Forced],
        refused: &[Refused],
    ) -> Result<(), ConfigError> {
        #[cfg(feature = "tls")]
        let oidc = super::oidc::wanted(self.get(super::oidc::METHOD));
        for (key, value) in self.iter() {
            if let Some(r) = refused.iter().find(|r| r.key == key) {
                return Err(ConfigError::Refused {
                    key: key.to_owned(),
                    value: shown(key, value),
                    reason: r.reason.to_owned(),
                });
            }
            if let Some(m) = managed.iter().find(|m| m.key == key) {
                return Err(ConfigError::Managed {
                    key: key.to_owned(),
                    setter: m.setter.to_owned(),
                });
            }
            if let Some(f) = forced.iter().find(|f| f.key == key) {
                if !value.trim().eq_ignore_ascii_case(f.value) {
                    return Err(ConfigError::Forced {
                        key: key.to_owned(),
                        value: shown(key, value),
                        required: f.value.to_owned(),
                        reason: f.reason.to_owned(),
                    });
                }
            }
            // Served by timely-kafka, not librdkafka (see `client::oidc`).
            #[cfg(feature = "tls")]
            if oidc && super::oidc::is_oidc_key(key) {
                continue;
            }
            let mut probe = ClientConfig::new();
            probe.set(key, value);
            if let Err(err) = probe.create_native_config() {
                let message = match err {
                    KafkaError::ClientConfig(_, description, _, _) => description,
                    other => other.to_string(),
                };
                return Err(ConfigError::Rejected {
                    key: key.to_owned(),
                    value: shown(key, value),
                    message,
                });
            }
        }
        Ok(())
    }

    /// Copies every entry into an rdkafka client configuration.
    pub(crate) fn apply_to(&self, config: &mut ClientConfig) {
        for (key, value) in self.iter() {
            config.set(key, value);
        }
    }
}

impl fmt::Debug for Passthrough {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (k, shown(k, v))))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let mut p = Passthrough::default();
        p.set("sasl.password", "hunter2");
        p.set("client.id", "me");
        let printed = format!("{p:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(
            printed.contains("[redacted]") && printed.contains("me"),
            "{printed}"
        );
    }

    #[test]
    fn unknown_key_is_rejected_by_name() {
        let mut p = Passthrough::default();
        p.set("no.such.property", "1");
        match p.validate(&[], &[], &[]) {
            Err(ConfigError::Rejected { key, .. }) => assert_eq!(key, "no.such.property"),
            other => panic!("expected Rejected, got {other:?}"),
        }
    }
}
