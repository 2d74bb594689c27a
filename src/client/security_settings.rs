//! Typed security settings: TLS and SASL for every client this crate creates.
//!
//! A [`Security`] is given once to [`SourceConfigBuilder::security`] and
//! [`SinkConfigBuilder::security`]; every client built from those configurations (the group's
//! consumer, its commit and metadata side clients, the sink's producer, `rebuild_to_kafka`'s
//! readers) connects with it. It turns into the librdkafka keys Kafka's own clients use
//! (`security.protocol`, `ssl.*`, `sasl.*`); those keys may not also be passed through
//! `set` (an error names the key), while any other security key still passes through.
//!
//! Passwords, private keys and client secrets are [`Secret`]s: they never appear in `Debug`
//! output, error messages or logs.
//!
//! [`SourceConfigBuilder::security`]: crate::SourceConfigBuilder::security
//! [`SinkConfigBuilder::security`]: crate::sink::SinkConfigBuilder::security

use std::fmt;
use std::path::PathBuf;

use super::passthrough::Passthrough;
use crate::error::ConfigError;

/// A value that is never shown: `Debug` prints `[redacted]`, and there is no `Display`.
///
/// ```
/// use timely_kafka::client::Secret;
///
/// let password = Secret::new("hunter2");
/// assert_eq!(format!("{password:?}"), "[redacted]");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Reads a secret from the environment variable `name`, so it need not be on a command
    /// line or in a file. The error names the variable, never a value.
    pub fn from_env(name: &str) -> Result<Self, ConfigError> {
        match std::env::var(name) {
            Ok(value) if !value.is_empty() => Ok(Secret(value)),
            Ok(_) => Err(ConfigError::Invalid {
                key: format!("${{env:{name}}}"),
                value: String::new(),
                reason: "the environment variable is empty".into(),
            }),
            Err(e) => Err(ConfigError::Missing {
                key: format!("${{env:{name}}}"),
                hint: format!("set the environment variable {name} ({e})"),
            }),
        }
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A certificate or key: a file librdkafka reads when it connects, or PEM text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pem {
    /// A PEM file (`*.location`): checked to be readable at `build()`.
    File(PathBuf),
    /// PEM text (`*.pem`). For a private key, wrap it in a [`Secret`] with
    /// [`Security::client_key_pem`].
    Text(String),
}

/// How a client proves who it is over SASL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sasl {
    /// SASL PLAIN: user name and password, sent as they are (use it over TLS only).
    Plain {
        /// `sasl.username`
        username: String,
        /// `sasl.password`
        password: Secret,
    },
    /// SCRAM-SHA-256 (the password never crosses the wire).
    ScramSha256 {
        /// `sasl.username`
        username: String,
        /// `sasl.password`
        password: Secret,
    },
    /// SCRAM-SHA-512.
    ScramSha512 {
        /// `sasl.username`
        username: String,
        /// `sasl.password`
        password: Secret,
    },
    /// OAUTHBEARER with tokens fetched from an OIDC token endpoint by client credentials
    /// (`sasl.oauthbearer.method=oidc`). timely-kafka fetches the tokens itself (librdkafka's
    /// own OIDC needs libcurl, which this build does not link), for every client it makes;
    /// needs the `tls` feature (on by default).
    OAuthBearerOidc {
        /// `sasl.oauthbearer.client.id`
        client_id: String,
        /// `sasl.oauthbearer.client.secret`
        client_secret: Secret,
        /// `sasl.oauthbearer.token.endpoint.url`
        token_endpoint: String,
        /// `sasl.oauthbearer.scope`, if the endpoint wants one.
        scope: Option<String>,
    },
    /// Kerberos (GSSAPI), with the `gssapi` cargo feature.
    Gssapi {
        /// `sasl.kerberos.service.name` (Kafka's default: `kafka`).
        service_name: String,
        /// `sasl.kerberos.principal`
        principal: String,
        /// `sasl.kerberos.keytab`
        keytab: Option<PathBuf>,
    },
}

impl Sasl {
    /// The mechanism's name, as `sasl.mechanism` takes it.
    pub fn mechanism(&self) -> &'static str {
        match self {
            Sasl::Plain { .. } => "PLAIN",
            Sasl::ScramSha256 { .. } => "SCRAM-SHA-256",
            Sasl::ScramSha512 { .. } => "SCRAM-SHA-512",
            Sasl::OAuthBearerOidc { .. } => "OAUTHBEARER",
            Sasl::Gssapi { .. } => "GSSAPI",
        }
    }

    fn entries(&self, out: &mut Vec<(&'static str, String)>) {
        out.push(("sasl.mechanism", self.mechanism().to_owned()));
        match self {
            Sasl::Plain { username, password }
            | Sasl::ScramSha256 { username, password }
            | Sasl::ScramSha512 { username, password } => {
                out.push(("sasl.username", username.clone()));
                out.push(("sasl.password", password.expose().to_owned()));
            }
            Sasl::OAuthBearerOidc {
                client_id,
                client_secret,
                token_endpoint,
                scope,
            } => {
                out.push(("sasl.oauthbearer.method", "oidc".to_owned()));
                out.push(("sasl.oauthbearer.client.id", client_id.clone()));
                out.push((
                    "sasl.oauthbearer.client.secret",
                    client_secret.expose().to_owned(),
                ));
                out.push((
                    "sasl.oauthbearer.token.endpoint.url",
                    token_endpoint.clone(),
                ));
                if let Some(scope) = scope {
                    out.push(("sasl.oauthbearer.scope", scope.clone()));
                }
            }
            Sasl::Gssapi {
                service_name,
                principal,
                keytab,
            } => {
                out.push(("sasl.kerberos.service.name", service_name.clone()));
                out.push(("sasl.kerberos.principal", principal.clone()));
                if let Some(keytab) = keytab {
                    out.push(("sasl.kerberos.keytab", keytab.display().to_string()));
                }
            }
        }
    }
}

/// How every client of a configuration connects: TLS or not, SASL or not, with which
/// certificates and credentials.
///
/// ```
/// use timely_kafka::client::{Sasl, Secret, Security};
/// use timely_kafka::SourceConfig;
///
/// let security = Security::sasl_ssl(Sasl::ScramSha512 {
///     username: "orders-audit".into(),
///     password: Secret::new("hunter2"), // or Secret::from_env("KAFKA_PASSWORD")?
/// });
/// let config = SourceConfig::builder()
///     .brokers("kafka-1.example.com:9093")
///     .group_id("orders-audit")
///     .topic("orders")
///     .security(security)
///     .build()
///     .unwrap();
/// assert!(!format!("{config:?}").contains("hunter2"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    tls: bool,
    sasl: Option<Sasl>,
    ca: Option<Pem>,
    certificate: Option<Pem>,
    key: Option<Pem>,
    key_pem: Option<Secret>,
    key_password: Option<Secret>,
    verify_hostname: bool,
}

impl Security {
    fn new(tls: bool, sasl: Option<Sasl>) -> Self {
        Security {
            tls,
            sasl,
            ca: None,
            certificate: None,
            key: None,
            key_pem: None,
            key_password: None,
            verify_hostname: true,
        }
    }

    /// No TLS, no SASL (`security.protocol=plaintext`), librdkafka's default.
    pub fn plaintext() -> Self {
        Security::new(false, None)
    }

    /// TLS (`security.protocol=ssl`), trusting the system's CAs unless
    /// [`ca`](Self::ca) says otherwise, with the brokers' host names verified.
    pub fn ssl() -> Self {
        Security::new(true, None)
    }

    /// SASL over TLS (`security.protocol=sasl_ssl`): what managed Kafka services want.
    pub fn sasl_ssl(sasl: Sasl) -> Self {
        Security::new(true, Some(sasl))
    }

    /// SASL without TLS (`security.protocol=sasl_plaintext`). With PLAIN, the password
    /// crosses the network in clear: `build()` warns unless every broker is on loopback.
    pub fn sasl_plaintext(sasl: Sasl) -> Self {
        Security::new(false, Some(sasl))
    }

    /// The CA that signed the brokers' certificates (`ssl.ca.location` / `ssl.ca.pem`).
    pub fn ca(mut self, ca: Pem) -> Self {
        self.ca = Some(ca);
        self
    }

    /// A client certificate and its private key, both files, for mutual TLS
    /// (`ssl.certificate.location`, `ssl.key.location`).
    pub fn client_certificate(
        mut self,
        certificate: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.certificate = Some(Pem::File(certificate.into()));
        self.key = Some(Pem::File(key.into()));
        self.key_pem = None;
        self
    }

    /// A client certificate and its private key as PEM text (`ssl.certificate.pem`,
    /// `ssl.key.pem`); the key is a [`Secret`].
    pub fn client_key_pem(mut self, certificate: impl Into<String>, key: Secret) -> Self {
        self.certificate = Some(Pem::Text(certificate.into()));
        self.key = None;
        self.key_pem = Some(key);
        self
    }

    /// The password of an encrypted private key (`ssl.key.password`).
    pub fn key_password(mut self, password: Secret) -> Self {
        self.key_password = Some(password);
        self
    }

    /// Stops checking the brokers' host names against their certificates
    /// (`ssl.endpoint.identification.algorithm=none`). Anyone holding a certificate from the
    /// same CA can then pose as the cluster: `build()` logs a warning every time.
    pub fn without_hostname_verification(mut self) -> Self {
        self.verify_hostname = false;
        self
    }

    /// `security.protocol`'s value.
    pub fn protocol(&self) -> &'static str {
        match (self.tls, self.sasl.is_some()) {
            (false, false) => "plaintext",
            (true, false) => "ssl",
            (false, true) => "sasl_plaintext",
            (true, true) => "sasl_ssl",
        }
    }

    /// The librdkafka keys and values this stands for.
    pub(crate) fn entries(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("security.protocol", self.protocol().to_owned())];
        let pem = |out: &mut Vec<(&'static str, String)>, pem: &Option<Pem>, file, text| match pem {
            Some(Pem::File(path)) => out.push((file, path.display().to_string())),
            Some(Pem::Text(text_value)) => out.push((text, text_value.clone())),
            None => {}
        };
        pem(&mut out, &self.ca, "ssl.ca.location", "ssl.ca.pem");
        pem(
            &mut out,
            &self.certificate,
            "ssl.certificate.location",
            "ssl.certificate.pem",
        );
        pem(&mut out, &self.key, "ssl.key.location", "ssl.key.pem");
        if let Some(key) = &self.key_pem {
            out.push(("ssl.key.pem", key.expose().to_owned()));
        }
        if let Some(password) = &self.key_password {
            out.push(("ssl.key.password", password.expose().to_owned()));
        }
        if self.tls && !self.verify_hostname {
            out.push(("ssl.endpoint.identification.algorithm", "none".to_owned()));
        }
        if let Some(sasl) = &self.sasl {
            sasl.entries(&mut out);
        }
        out
    }
}

/// Adds `security`'s keys to `passthrough`. A key given both ways is an error naming it: one
/// place says how a client connects.
pub(crate) fn merge_security(
    passthrough: &mut Passthrough,
    security: &Security,
) -> Result<(), ConfigError> {
    let entries = security.entries();
    // `sasl.mechanisms` is librdkafka's other spelling of `sasl.mechanism`.
    let aliases = |key: &str| -> &'static [&'static str] {
        if key == "sasl.mechanism" {
            &["sasl.mechanism", "sasl.mechanisms"]
        } else {
            &[]
        }
    };
    for (key, _) in &entries {
        let taken = passthrough.get(key).is_some()
            || aliases(key)
                .iter()
                .any(|alias| passthrough.get(alias).is_some());
        if taken {
            return Err(ConfigError::Managed {
                key: (*key).to_owned(),
                setter: "security".to_owned(),
            });
        }
    }
    for (key, value) in entries {
        passthrough.set(key, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scram() -> Security {
        Security::sasl_ssl(Sasl::ScramSha512 {
            username: "u".into(),
            password: Secret::new("pw-planted-secret"),
        })
        .ca(Pem::File("/etc/ca.pem".into()))
    }

    #[test]
    fn security_becomes_the_keys_kafka_clients_use() {
        let mut passthrough = Passthrough::default();
        merge_security(&mut passthrough, &scram()).unwrap();
        assert_eq!(passthrough.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(passthrough.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(passthrough.get("sasl.username"), Some("u"));
        assert_eq!(passthrough.get("sasl.password"), Some("pw-planted-secret"));
        assert_eq!(passthrough.get("ssl.ca.location"), Some("/etc/ca.pem"));
        assert_eq!(
            passthrough.get("ssl.endpoint.identification.algorithm"),
            None
        );
        let shown = format!("{:?} {passthrough:?}", scram());
        assert!(!shown.contains("pw-planted-secret"), "{shown}");
    }

    #[test]
    fn a_key_given_both_ways_is_refused_by_name() {
        let mut passthrough = Passthrough::default();
        passthrough.set("sasl.mechanisms", "PLAIN");
        let err = merge_security(&mut passthrough, &scram()).unwrap_err();
        assert!(
            matches!(&err, ConfigError::Managed { key, setter } if key == "sasl.mechanism" && setter == "security"),
            "{err}"
        );
    }

    #[test]
    fn hostname_verification_off_is_spelled_out() {
        let entries = Security::ssl().without_hostname_verification().entries();
        assert!(entries.contains(&("ssl.endpoint.identification.algorithm", "none".into())));
        assert!(entries.contains(&("security.protocol", "ssl".into())));
    }

    #[test]
    fn oidc_is_checked_by_name() {
        // No token endpoint: `build()` names the key before anything connects.
        let security = Security::sasl_ssl(Sasl::OAuthBearerOidc {
            client_id: "me".to_owned(),
            client_secret: Secret::new("oidc-planted-secret"),
            token_endpoint: String::new(),
            scope: None,
        });
        let err = crate::SourceConfig::builder()
            .brokers("localhost:9092")
            .group_id("g")
            .topic("t")
            .security(security)
            .build()
            .unwrap_err();
        #[cfg(feature = "tls")]
        assert!(
            matches!(&err, ConfigError::Missing { key, .. } if key == "sasl.oauthbearer.token.endpoint.url"),
            "{err}"
        );
        assert!(!format!("{err} {err:?}").contains("oidc-planted-secret"));
    }
}
