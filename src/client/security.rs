//! Checks of the security settings every client takes (`security.protocol`, `ssl.*`,
//! `sasl.*`), run by the source's and the sink's `build()` on top of librdkafka's own
//! per-key checks, so a setting that librdkafka would accept but that cannot work is an error
//! naming its key before anything connects:
//!
//! - a SASL mechanism librdkafka does not know, or one this build lacks (GSSAPI without the
//!   `gssapi` feature);
//! - OIDC (`sasl.oauthbearer.method=oidc`) without its token endpoint, client id or secret,
//!   and SASL OAUTHBEARER with neither OIDC nor librdkafka's unsecured test tokens;
//! - SASL PLAIN or SCRAM without `sasl.username` or `sasl.password`;
//! - a certificate, key, CA, CRL, keystore or keytab file that does not exist or cannot be
//!   read;
//! - a client certificate without its private key, or a key without its certificate.
//!
//! Two settings are allowed but warned about, since they leave a connection open to
//! eavesdropping or impersonation: SASL PLAIN without TLS to a host that is not loopback, and
//! certificate or host name verification switched off.

use std::path::Path;

use super::passthrough::{shown, Passthrough};
use crate::build_info::BuildInfo;
use crate::error::ConfigError;

/// Keys whose value is a file librdkafka opens when it connects.
const FILE_KEYS: &[&str] = &[
    "ssl.ca.location",
    "ssl.certificate.location",
    "ssl.key.location",
    "ssl.crl.location",
    "ssl.keystore.location",
    "sasl.kerberos.keytab",
];

/// SASL mechanisms and the `builtin.features` entry each needs.
const MECHANISMS: &[(&str, &str)] = &[
    ("GSSAPI", "sasl_gssapi"),
    ("PLAIN", "sasl_plain"),
    ("SCRAM-SHA-256", "sasl_scram"),
    ("SCRAM-SHA-512", "sasl_scram"),
    ("OAUTHBEARER", "sasl_oauthbearer"),
];

/// Checks the security settings in `passthrough` for a client of `brokers`.
pub(crate) fn check_security(passthrough: &Passthrough, brokers: &str) -> Result<(), ConfigError> {
    for key in FILE_KEYS {
        if let Some(path) = passthrough.get(key) {
            check_file(key, path)?;
        }
    }
    check_certificate_pair(passthrough)?;
    let protocol = passthrough
        .get("security.protocol")
        .map(|p| p.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "plaintext".to_owned());
    let uses_sasl = protocol.starts_with("sasl_");
    let (mechanism_key, mechanism) = match (
        passthrough.get("sasl.mechanisms"),
        passthrough.get("sasl.mechanism"),
    ) {
        (Some(m), _) => ("sasl.mechanisms", m.trim().to_ascii_uppercase()),
        (None, Some(m)) => ("sasl.mechanism", m.trim().to_ascii_uppercase()),
        // librdkafka's default.
        (None, None) => ("sasl.mechanisms", "GSSAPI".to_owned()),
    };
    if uses_sasl {
        check_mechanism(mechanism_key, &mechanism)?;
        if matches!(
            mechanism.as_str(),
            "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512"
        ) {
            for key in ["sasl.username", "sasl.password"] {
                if passthrough.get(key).is_none_or(|v| v.is_empty()) {
                    return Err(ConfigError::Missing {
                        key: key.to_owned(),
                        hint: format!("SASL {mechanism} needs sasl.username and sasl.password"),
                    });
                }
            }
        }
        if protocol == "sasl_plaintext" && mechanism == "PLAIN" && !loopback_only(brokers) {
            tracing::warn!(
                "security.protocol=sasl_plaintext with SASL PLAIN sends the password unencrypted \
                 to `{brokers}`: use sasl_ssl"
            );
        }
    }
    #[cfg(feature = "tls")]
    super::oidc::check(|key| passthrough.get(key))?;
    #[cfg(not(feature = "tls"))]
    if super::oidc_wanted(passthrough.get("sasl.oauthbearer.method")) {
        return Err(ConfigError::Invalid {
            key: "sasl.oauthbearer.method".to_owned(),
            value: "oidc".to_owned(),
            reason: "OIDC tokens are fetched by timely-kafka's `tls` feature, which this build \
                     was compiled without"
                .to_owned(),
        });
    }
    if uses_sasl
        && mechanism == "OAUTHBEARER"
        && !super::oidc_wanted(passthrough.get("sasl.oauthbearer.method"))
        && !passthrough
            .get("enable.sasl.oauthbearer.unsecure.jwt")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    {
        return Err(ConfigError::Missing {
            key: "sasl.oauthbearer.method".to_owned(),
            hint: "SASL OAUTHBEARER needs sasl.oauthbearer.method=oidc with \
                   sasl.oauthbearer.token.endpoint.url, sasl.oauthbearer.client.id and \
                   sasl.oauthbearer.client.secret (or enable.sasl.oauthbearer.unsecure.jwt=true, \
                   for tests only)"
                .to_owned(),
        });
    }
    if passthrough
        .get("enable.ssl.certificate.verification")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"))
    {
        tracing::warn!(
            "enable.ssl.certificate.verification=false: the brokers' certificates are not \
             checked, so anyone on the path can pose as the cluster"
        );
    }
    if passthrough
        .get("ssl.endpoint.identification.algorithm")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("none"))
    {
        tracing::warn!(
            "ssl.endpoint.identification.algorithm=none: the brokers' host names are not \
             checked against their certificates"
        );
    }
    Ok(())
}

/// A mechanism librdkafka knows and this build has.
fn check_mechanism(key: &str, mechanism: &str) -> Result<(), ConfigError> {
    let Some((_, feature)) = MECHANISMS.iter().find(|(m, _)| *m == mechanism) else {
        return Err(ConfigError::Invalid {
            key: key.to_owned(),
            value: mechanism.to_owned(),
            reason: "librdkafka's SASL mechanisms are GSSAPI, PLAIN, SCRAM-SHA-256, \
                     SCRAM-SHA-512 and OAUTHBEARER"
                .to_owned(),
        });
    };
    if !BuildInfo::current().has(feature) {
        return Err(ConfigError::Invalid {
            key: key.to_owned(),
            value: mechanism.to_owned(),
            reason: format!(
                "this build of librdkafka has no {mechanism} (`{feature}` is not in \
                 `timely-kafka version`'s builtin.features){}",
                if mechanism == "GSSAPI" {
                    "; it is librdkafka's default when sasl.mechanisms is not set: set it, or \
                     build with the `gssapi` feature"
                } else {
                    ""
                }
            ),
        });
    }
    Ok(())
}

/// A file (or, for the CA, a directory of certificates) that can be read.
fn check_file(key: &str, path: &str) -> Result<(), ConfigError> {
    // librdkafka's special CA values: the system's store.
    if key == "ssl.ca.location" && path.trim().eq_ignore_ascii_case("probe") {
        return Ok(());
    }
    let readable = if Path::new(path).is_dir() {
        std::fs::read_dir(path).map(drop)
    } else {
        std::fs::File::open(path).map(drop)
    };
    readable.map_err(|e| ConfigError::Invalid {
        key: key.to_owned(),
        value: shown(key, path),
        reason: format!("cannot be read: {e}"),
    })
}

/// A client certificate comes with its private key, and a key with its certificate.
fn check_certificate_pair(passthrough: &Passthrough) -> Result<(), ConfigError> {
    let has = |keys: &[&str]| keys.iter().any(|k| passthrough.get(k).is_some());
    let certificate = has(&["ssl.certificate.location", "ssl.certificate.pem"]);
    let key = has(&["ssl.key.location", "ssl.key.pem"]);
    match (certificate, key) {
        (true, false) => Err(ConfigError::Missing {
            key: "ssl.key.location".to_owned(),
            hint: "a client certificate (ssl.certificate.location or .pem) needs its private \
                   key: ssl.key.location or ssl.key.pem"
                .to_owned(),
        }),
        (false, true) => Err(ConfigError::Missing {
            key: "ssl.certificate.location".to_owned(),
            hint: "a private key (ssl.key.location or .pem) needs its client certificate: \
                   ssl.certificate.location or ssl.certificate.pem"
                .to_owned(),
        }),
        _ => Ok(()),
    }
}

/// Whether every bootstrap server is on this machine.
fn loopback_only(brokers: &str) -> bool {
    brokers.split(',').all(|server| {
        let host = server
            .trim()
            .rsplit_once(':')
            .map_or(server.trim(), |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Passthrough {
        let mut p = Passthrough::default();
        for (k, v) in pairs {
            p.set(*k, *v);
        }
        p
    }

    fn key_of(err: ConfigError) -> String {
        match err {
            ConfigError::Invalid { key, .. } | ConfigError::Missing { key, .. } => key,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unknown_or_missing_mechanism_is_named() {
        let err = check_security(
            &settings(&[
                ("security.protocol", "sasl_ssl"),
                ("sasl.mechanisms", "SCRAM-SHA-1"),
            ]),
            "b:9093",
        )
        .unwrap_err();
        assert!(err.to_string().contains("SCRAM-SHA-1"), "{err}");
        assert_eq!(key_of(err), "sasl.mechanisms");
        if !BuildInfo::current().has("sasl_gssapi") {
            let err = check_security(&settings(&[("security.protocol", "sasl_ssl")]), "b:9093")
                .unwrap_err();
            assert!(err.to_string().contains("GSSAPI"), "{err}");
        }
    }

    #[test]
    fn scram_without_credentials_names_the_missing_key_and_never_a_password() {
        let err = check_security(
            &settings(&[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanisms", "scram-sha-512"),
                ("sasl.password", "hunter2"),
            ]),
            "b:9093",
        )
        .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert_eq!(key_of(err), "sasl.username");
        check_security(
            &settings(&[
                ("security.protocol", "sasl_ssl"),
                ("sasl.mechanism", "PLAIN"),
                ("sasl.username", "u"),
                ("sasl.password", "p"),
            ]),
            "b:9093",
        )
        .unwrap();
    }

    #[test]
    fn files_must_be_readable_and_certificates_come_with_keys() {
        let err = check_security(
            &settings(&[("ssl.ca.location", "/nonexistent/ca.pem")]),
            "b:9093",
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        assert_eq!(key_of(err), "ssl.ca.location");
        check_security(&settings(&[("ssl.ca.location", "probe")]), "b:9093").unwrap();
        let here = env!("CARGO_MANIFEST_DIR");
        let file = format!("{here}/Cargo.toml");
        let err = check_security(
            &settings(&[("ssl.certificate.location", file.as_str())]),
            "b:9093",
        )
        .unwrap_err();
        assert_eq!(key_of(err), "ssl.key.location");
        let err =
            check_security(&settings(&[("ssl.key.pem", "-----BEGIN")]), "b:9093").unwrap_err();
        assert_eq!(key_of(err), "ssl.certificate.location");
        check_security(
            &settings(&[
                ("ssl.certificate.location", file.as_str()),
                ("ssl.key.location", file.as_str()),
                ("ssl.ca.location", here),
            ]),
            "b:9093",
        )
        .unwrap();
    }

    #[test]
    fn loopback_is_told_apart() {
        assert!(loopback_only("127.0.0.1:9092,localhost:9093,[::1]:9094"));
        assert!(!loopback_only("127.0.0.1:9092,broker.example.com:9092"));
    }
}
