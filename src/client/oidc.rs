//! SASL OAUTHBEARER tokens from an OIDC provider's token endpoint (the client credentials
//! grant), fetched in Rust for every librdkafka client this crate creates.
//!
//! librdkafka's own OIDC support (`sasl.oauthbearer.method=oidc`) needs libcurl, which
//! rdkafka-sys's build does not link. So the same keys librdkafka and the Java client read
//! are served here instead:
//!
//! | key | meaning |
//! |---|---|
//! | `sasl.oauthbearer.method` | `oidc` turns this on |
//! | `sasl.oauthbearer.token.endpoint.url` | the provider's token endpoint (`https://`, or `http://` for loopback tests) |
//! | `sasl.oauthbearer.client.id` | the client id |
//! | `sasl.oauthbearer.client.secret` | the client secret (never printed) |
//! | `sasl.oauthbearer.scope` | optional scope |
//! | `https.ca.location` / `https.ca.pem` | optional CA for the token endpoint (else the system's) |
//!
//! When a configuration says `sasl.oauthbearer.method=oidc`, these keys are taken out of what
//! librdkafka sees and carried, as JSON, in `sasl.oauthbearer.config` (a key librdkafka
//! treats as sensitive and hands, unread, to the token refresh callback). Every client
//! context of this crate answers librdkafka's refresh callback with [`token_for`]: a POST of
//! `grant_type=client_credentials` to the endpoint, the id and secret in HTTP basic
//! authentication (RFC 6749 §2.3.1), and the JWT's `sub` and `exp` claims as the principal
//! and lifetime librdkafka needs. librdkafka asks again at 80 % of the lifetime. Tokens are
//! shared by the clients of one process with the same settings while more than half their
//! lifetime is left, so a pipeline's consumer, producer and side clients fetch one token, not
//! one each.
//!
//! The fetch runs on the thread that serves the client's events (the consumer's poll, the
//! producer's polling thread), bounded by [`FETCH_TIMEOUT`]; a failure is reported to
//! librdkafka, which fails authentication with the error's text (endpoint, HTTP status and
//! the provider's `error` field, never the secret or a token) and asks again later.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use rdkafka::client::OAuthToken;
use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// The key whose value `oidc` turns this on.
pub(crate) const METHOD: &str = "sasl.oauthbearer.method";
/// The token endpoint's URL.
pub(crate) const ENDPOINT: &str = "sasl.oauthbearer.token.endpoint.url";
/// The client id.
pub(crate) const CLIENT_ID: &str = "sasl.oauthbearer.client.id";
/// The client secret.
pub(crate) const CLIENT_SECRET: &str = "sasl.oauthbearer.client.secret";
/// The optional scope.
pub(crate) const SCOPE: &str = "sasl.oauthbearer.scope";
/// SASL extensions: refused, librdkafka's token callback in rdkafka cannot pass them.
const EXTENSIONS: &str = "sasl.oauthbearer.extensions";
/// A CA file for the token endpoint.
const CA_LOCATION: &str = "https.ca.location";
/// A CA in PEM for the token endpoint.
const CA_PEM: &str = "https.ca.pem";
/// Where the settings travel to the refresh callback.
const CARRIER: &str = "sasl.oauthbearer.config";

/// What `application/x-www-form-urlencoded` leaves as it is: letters, digits and `*-._`.
const FORM: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

/// How long one token request may take, connect to last byte.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The keys this module takes out of librdkafka's view when OIDC is on.
const ROUTED: &[&str] = &[
    METHOD,
    ENDPOINT,
    CLIENT_ID,
    CLIENT_SECRET,
    SCOPE,
    CA_LOCATION,
    CA_PEM,
];

/// Whether a key is one of the OIDC keys served here (so that validation does not ask a
/// librdkafka without OIDC about it).
pub(crate) fn is_oidc_key(key: &str) -> bool {
    ROUTED.contains(&key)
}

pub(crate) use super::oidc_wanted as wanted;

/// The OIDC settings, as they travel in `sasl.oauthbearer.config`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
struct Settings {
    endpoint: String,
    client_id: String,
    client_secret: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ca_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ca_pem: Option<String>,
}

/// The JSON object in the carrier: one field, so a user's own `sasl.oauthbearer.config`
/// can never be mistaken for it.
#[derive(Serialize, Deserialize)]
struct Carrier {
    timely_kafka_oidc: Settings,
}

/// Checks OIDC settings by key, before any client is made. `get` reads the configuration.
pub(crate) fn check<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<(), ConfigError> {
    if !wanted(get(METHOD)) {
        return Ok(());
    }
    let mechanism = get("sasl.mechanism")
        .or_else(|| get("sasl.mechanisms"))
        .unwrap_or("GSSAPI");
    if !mechanism.trim().eq_ignore_ascii_case("OAUTHBEARER") {
        return Err(ConfigError::Invalid {
            key: "sasl.mechanism".to_owned(),
            value: mechanism.to_owned(),
            reason: "sasl.oauthbearer.method=oidc needs sasl.mechanism=OAUTHBEARER".to_owned(),
        });
    }
    for (key, hint) in [
        (
            ENDPOINT,
            "the OIDC provider's token endpoint, e.g. https://idp.example.com/oauth2/token",
        ),
        (CLIENT_ID, "the client id the provider issued"),
        (CLIENT_SECRET, "the client secret the provider issued"),
    ] {
        if get(key).is_none_or(|v| v.trim().is_empty()) {
            return Err(ConfigError::Missing {
                key: key.to_owned(),
                hint: format!("sasl.oauthbearer.method=oidc needs {hint}"),
            });
        }
    }
    let endpoint = get(ENDPOINT).unwrap_or_default().trim();
    if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
        return Err(ConfigError::Invalid {
            key: ENDPOINT.to_owned(),
            value: endpoint.to_owned(),
            reason: "a token endpoint is an https:// URL".to_owned(),
        });
    }
    if endpoint.starts_with("http://") && !is_loopback_url(endpoint) {
        tracing::warn!(
            "{ENDPOINT}={endpoint} is plain http: the client secret and the tokens cross the \
             network unencrypted; use https"
        );
    }
    for refused in [EXTENSIONS, CARRIER] {
        if get(refused).is_some() {
            return Err(ConfigError::Invalid {
                key: refused.to_owned(),
                value: "[given]".to_owned(),
                reason: "cannot be combined with sasl.oauthbearer.method=oidc in this build \
                         (OIDC tokens are fetched by timely-kafka, which carries its settings \
                         in sasl.oauthbearer.config and sends no SASL extensions)"
                    .to_owned(),
            });
        }
    }
    if let Some(path) = get(CA_LOCATION) {
        if let Err(err) = std::fs::read(path) {
            return Err(ConfigError::Invalid {
                key: CA_LOCATION.to_owned(),
                value: path.to_owned(),
                reason: format!("cannot read it: {err}"),
            });
        }
    }
    Ok(())
}

/// Whether an `http://` URL names a loopback host.
fn is_loopback_url(url: &str) -> bool {
    let rest = url.trim_start_matches("http://");
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(host, "localhost" | "127.0.0.1" | "[::1]") || host.starts_with("127.")
}

/// Moves OIDC settings out of librdkafka's view into `sasl.oauthbearer.config`, where the
/// refresh callback finds them. Does nothing without `sasl.oauthbearer.method=oidc`.
/// Missing keys are not an error here: [`check`] names them at build time, and a client
/// made without that check fails its first token fetch with the same names.
pub(crate) fn route(config: &mut ClientConfig) {
    if !wanted(config.get(METHOD)) {
        return;
    }
    let get = |key: &str| config.get(key).map(str::to_owned);
    let settings = Settings {
        endpoint: get(ENDPOINT).unwrap_or_default().trim().to_owned(),
        client_id: get(CLIENT_ID).unwrap_or_default(),
        client_secret: get(CLIENT_SECRET).unwrap_or_default(),
        scope: get(SCOPE).filter(|s| !s.trim().is_empty()),
        ca_location: get(CA_LOCATION),
        ca_pem: get(CA_PEM),
    };
    for key in ROUTED {
        config.remove(key);
    }
    let carrier = Carrier {
        timely_kafka_oidc: settings,
    };
    // Serializing strings into JSON cannot fail.
    if let Ok(json) = serde_json::to_string(&carrier) {
        config.set(CARRIER, json);
    }
}

/// Why a token could not be had. Never carries the client secret or a token.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// SASL OAUTHBEARER without OIDC settings and without librdkafka's unsecured test tokens.
    #[error(
        "SASL OAUTHBEARER needs sasl.oauthbearer.method=oidc with \
         sasl.oauthbearer.token.endpoint.url, sasl.oauthbearer.client.id and \
         sasl.oauthbearer.client.secret (or enable.sasl.oauthbearer.unsecure.jwt=true, for \
         tests only)"
    )]
    NotConfigured,
    /// A required key was empty.
    #[error("sasl.oauthbearer.method=oidc needs {key}")]
    Missing {
        /// The key.
        key: &'static str,
    },
    /// The CA for the token endpoint could not be read or parsed.
    #[error("{key}: {reason}")]
    Ca {
        /// `https.ca.location` or `https.ca.pem`.
        key: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// The endpoint could not be reached, or the exchange broke off.
    #[error("token endpoint {endpoint}: {reason}")]
    Transport {
        /// The endpoint.
        endpoint: String,
        /// What failed (connection refused, TLS, timeout, ...).
        reason: String,
    },
    /// The endpoint answered with an error status.
    #[error("token endpoint {endpoint} answered HTTP {status}{}", describe(.error))]
    Refused {
        /// The endpoint.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The provider's `error` and `error_description` (RFC 6749 §5.2), if it sent them.
        error: Option<String>,
    },
    /// The answer was not a token response, or its token not a JWT with `sub` and `exp`.
    #[error("token endpoint {endpoint}: {reason}")]
    BadToken {
        /// The endpoint.
        endpoint: String,
        /// What was wrong with it.
        reason: String,
    },
}

fn describe(error: &Option<String>) -> String {
    error
        .as_ref()
        .map(|e| format!(" ({e})"))
        .unwrap_or_default()
}

/// A token and when to stop sharing it.
#[derive(Clone)]
struct Cached {
    token: String,
    principal: String,
    /// When it expires, ms since the epoch.
    expires_ms: i64,
    /// When it is too old to hand to another client, ms since the epoch.
    share_until_ms: i64,
}

fn cache() -> &'static Mutex<HashMap<Settings, Cached>> {
    static CACHE: OnceLock<Mutex<HashMap<Settings, Cached>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Answers librdkafka's OAUTHBEARER refresh callback: a token from the OIDC settings in
/// `oauthbearer_config` (see [`route`]).
pub(crate) fn token_for(oauthbearer_config: Option<&str>) -> Result<OAuthToken, OidcError> {
    let carrier: Carrier = oauthbearer_config
        .and_then(|c| serde_json::from_str(c).ok())
        .ok_or(OidcError::NotConfigured)?;
    let settings = carrier.timely_kafka_oidc;
    let now = now_ms();
    let mut cache = cache().lock().unwrap_or_else(|e| e.into_inner());
    let cached = match cache.get(&settings) {
        Some(cached) if cached.share_until_ms > now => cached.clone(),
        _ => {
            let fresh = fetch(&settings, now)?;
            cache.insert(settings, fresh.clone());
            fresh
        }
    };
    Ok(OAuthToken {
        token: cached.token,
        principal_name: cached.principal,
        lifetime_ms: cached.expires_ms,
    })
}

/// The token endpoint's answer (RFC 6749 §5.1).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    expires_in: Option<i64>,
}

/// The token endpoint's error answer (RFC 6749 §5.2).
#[derive(Deserialize)]
struct ErrorResponse {
    error: Option<String>,
    error_description: Option<String>,
}

/// The claims of the JWT this module reads.
#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    exp: Option<f64>,
}

/// One client credentials exchange.
fn fetch(settings: &Settings, now: i64) -> Result<Cached, OidcError> {
    for (key, value) in [
        (ENDPOINT, &settings.endpoint),
        (CLIENT_ID, &settings.client_id),
        (CLIENT_SECRET, &settings.client_secret),
    ] {
        if value.trim().is_empty() {
            return Err(OidcError::Missing { key });
        }
    }
    let endpoint = settings.endpoint.clone();
    let transport = |err: ureq::Error| OidcError::Transport {
        endpoint: endpoint.clone(),
        reason: err.to_string(),
    };
    let agent = agent(settings)?;
    let encode = |s: &str| percent_encoding::utf8_percent_encode(s, FORM).to_string();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        encode(&settings.client_id),
        encode(&settings.client_secret)
    ));
    let mut form = vec![("grant_type", "client_credentials")];
    if let Some(scope) = &settings.scope {
        form.push(("scope", scope.as_str()));
    }
    tracing::debug!(endpoint = %endpoint, client_id = %settings.client_id, "fetching an OIDC token");
    let mut response = agent
        .post(&settings.endpoint)
        .header("Authorization", &format!("Basic {basic}"))
        .header("Accept", "application/json")
        .send_form(form)
        .map_err(transport)?;
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()
        .map_err(transport)?;
    if !(200..300).contains(&status) {
        let error = serde_json::from_str::<ErrorResponse>(&body)
            .ok()
            .and_then(|e| match (e.error, e.error_description) {
                (Some(error), Some(description)) => Some(format!("{error}: {description}")),
                (error, description) => error.or(description),
            });
        return Err(OidcError::Refused {
            endpoint,
            status,
            error,
        });
    }
    let bad = |reason: &str| OidcError::BadToken {
        endpoint: endpoint.clone(),
        reason: reason.to_owned(),
    };
    let answer: TokenResponse =
        serde_json::from_str(&body).map_err(|_| bad("the answer is not a JSON token response"))?;
    let token = answer
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("the answer has no access_token"))?;
    let claims = jwt_claims(&token).ok_or_else(|| {
        bad("the access_token is not a JWT (three base64url parts with a JSON payload)")
    })?;
    let principal = claims
        .sub
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad("the access_token has no `sub` claim to use as the principal"))?;
    let expires_ms = match (claims.exp, answer.expires_in) {
        (Some(exp), _) => (exp * 1000.0) as i64,
        (None, Some(seconds)) => now + seconds * 1000,
        (None, None) => return Err(bad("neither an `exp` claim nor expires_in")),
    };
    if expires_ms <= now {
        return Err(bad("the access_token has already expired"));
    }
    Ok(Cached {
        token,
        principal,
        expires_ms,
        share_until_ms: now + (expires_ms - now) / 2,
    })
}

/// An HTTP agent for the endpoint: bounded time, OpenSSL (native-tls), the given CA or the
/// system's, and error statuses returned as responses so their bodies can be read.
fn agent(settings: &Settings) -> Result<ureq::Agent, OidcError> {
    use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
    let pem = match (&settings.ca_pem, &settings.ca_location) {
        (Some(pem), _) => Some((CA_PEM, pem.clone().into_bytes())),
        (None, Some(path)) => Some((
            CA_LOCATION,
            std::fs::read(path).map_err(|err| OidcError::Ca {
                key: CA_LOCATION,
                reason: format!("cannot read {path}: {err}"),
            })?,
        )),
        (None, None) => None,
    };
    let mut tls = TlsConfig::builder().provider(TlsProvider::NativeTls);
    if let Some((key, pem)) = pem {
        let certificates = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(Ok(c)),
                Ok(_) => None,
                Err(err) => Some(Err(err)),
            })
            .collect::<Result<Vec<Certificate<'static>>, _>>()
            .map_err(|err| OidcError::Ca {
                key,
                reason: format!("not PEM certificates: {err}"),
            })?;
        if certificates.is_empty() {
            return Err(OidcError::Ca {
                key,
                reason: "holds no certificate".to_owned(),
            });
        }
        tls = tls.root_certs(RootCerts::new_with_certs(&certificates));
    }
    Ok(ureq::Agent::config_builder()
        .timeout_global(Some(FETCH_TIMEOUT))
        .http_status_as_error(false)
        .tls_config(tls.build())
        .build()
        .into())
}

/// The claims of a JWT, read without checking its signature (the broker checks it).
fn jwt_claims(token: &str) -> Option<Claims> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64(payload))
    }

    #[test]
    fn route_moves_the_oidc_keys_into_the_carrier() {
        let mut config = ClientConfig::new();
        config
            .set("sasl.mechanism", "OAUTHBEARER")
            .set(METHOD, "OIDC")
            .set(ENDPOINT, "https://idp.example/token")
            .set(CLIENT_ID, "me")
            .set(CLIENT_SECRET, "planted-secret")
            .set(SCOPE, "kafka");
        route(&mut config);
        for key in ROUTED {
            assert!(config.get(key).is_none(), "{key} left for librdkafka");
        }
        let carrier: Carrier = serde_json::from_str(config.get(CARRIER).unwrap()).unwrap();
        assert_eq!(carrier.timely_kafka_oidc.client_secret, "planted-secret");
        assert_eq!(carrier.timely_kafka_oidc.scope.as_deref(), Some("kafka"));
        // librdkafka accepts what is left, and treats the carrier as sensitive.
        config.create_native_config().unwrap();
        assert!(crate::client::is_secret_key(CARRIER));
    }

    #[test]
    fn without_oidc_nothing_moves() {
        let mut config = ClientConfig::new();
        config.set("sasl.oauthbearer.config", "principal=alice");
        route(&mut config);
        assert_eq!(config.get(CARRIER), Some("principal=alice"));
        assert!(matches!(
            token_for(Some("principal=alice")),
            Err(OidcError::NotConfigured)
        ));
    }

    #[test]
    fn check_names_the_missing_key() {
        let keys = [
            ("sasl.mechanism", "OAUTHBEARER"),
            (METHOD, "oidc"),
            (ENDPOINT, "https://idp.example/token"),
            (CLIENT_ID, "me"),
        ];
        let get = |key: &str| keys.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        match check(get) {
            Err(ConfigError::Missing { key, .. }) => assert_eq!(key, CLIENT_SECRET),
            other => panic!("expected the secret missing, got {other:?}"),
        }
    }

    #[test]
    fn check_wants_oauthbearer() {
        let keys = [("sasl.mechanism", "PLAIN"), (METHOD, "oidc")];
        let get = |key: &str| keys.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
        assert!(
            matches!(check(get), Err(ConfigError::Invalid { key, .. }) if key == "sasl.mechanism")
        );
    }

    #[test]
    fn claims_come_from_the_payload() {
        let claims = jwt_claims(&jwt(r#"{"sub":"alice","exp":1900000000}"#)).unwrap();
        assert_eq!(claims.sub.as_deref(), Some("alice"));
        assert_eq!(claims.exp, Some(1_900_000_000.0));
        assert!(jwt_claims("opaque-token").is_none());
    }

    #[test]
    fn an_unreachable_endpoint_is_named_without_the_secret() {
        let settings = Settings {
            // Port 9 on loopback: nothing listens (discard), so the connect is refused.
            endpoint: "http://127.0.0.1:9/token".to_owned(),
            client_id: "me".to_owned(),
            client_secret: "planted-secret".to_owned(),
            scope: None,
            ca_location: None,
            ca_pem: None,
        };
        let err = fetch(&settings, now_ms())
            .err()
            .expect("nothing listens there");
        let text = format!("{err} {err:?}");
        assert!(text.contains("http://127.0.0.1:9/token"), "{text}");
        assert!(!text.contains("planted-secret"), "{text}");
    }

    #[test]
    fn loopback_urls_are_recognised() {
        assert!(is_loopback_url("http://127.0.0.1:8080/token"));
        assert!(is_loopback_url("http://localhost/token"));
        assert!(!is_loopback_url("http://idp.example.com/token"));
    }
}
