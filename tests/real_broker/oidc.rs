//! SASL OAUTHBEARER with OIDC client credentials, as a user connects to a cluster behind an
//! identity provider: `sasl.oauthbearer.method=oidc` in a `--config` file. The broker's `oidc`
//! listener (`scripts/kafka-broker.sh`) checks each JWT's signature against a JWKS made at
//! start, its audience and its issuer; the token endpoint is served here, on loopback: it
//! checks the client's id and secret (HTTP basic) and the grant type, counts the requests,
//! and hands out the JWT the script signed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use base64::Engine as _;

use crate::broker::*;
use crate::common::*;
use crate::security::*;
use timely_kafka::client::{Pem, Sasl, Secret, Security};
use timely_kafka::testing::unique_name;

/// A client credentials token endpoint on loopback.
struct TokenEndpoint {
    url: String,
    /// Requests answered with a token.
    granted: Arc<AtomicUsize>,
    /// Requests refused (wrong credentials or grant).
    refused: Arc<AtomicUsize>,
}

impl TokenEndpoint {
    /// Grants `token` to `client_id`:`secret` asking for `client_credentials` with scope
    /// `kafka`; anything else gets RFC 6749's `invalid_client` with HTTP 401.
    fn start(client_id: &str, secret: &str, token: &str) -> TokenEndpoint {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/oauth2/token",
            server.server_addr().to_ip().unwrap()
        );
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
        );
        let token = token.to_owned();
        let (granted, refused) = (Arc::default(), Arc::default());
        let (g, r): (Arc<AtomicUsize>, Arc<AtomicUsize>) =
            (Arc::clone(&granted), Arc::clone(&refused));
        // The thread ends with the process: the test harness exits after the tests.
        thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                let authorized = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .is_some_and(|h| h.value.as_str() == expected);
                let form: Vec<&str> = body.split('&').collect();
                let ok = *request.method() == tiny_http::Method::Post
                    && authorized
                    && form.contains(&"grant_type=client_credentials")
                    && form.contains(&"scope=kafka");
                let (status, json) = if ok {
                    g.fetch_add(1, Ordering::SeqCst);
                    (
                        200,
                        format!(
                            r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":3600}}"#
                        ),
                    )
                } else {
                    r.fetch_add(1, Ordering::SeqCst);
                    (
                        401,
                        r#"{"error":"invalid_client","error_description":"client authentication failed"}"#
                            .to_owned(),
                    )
                };
                let header =
                    tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
                let _ = request.respond(
                    tiny_http::Response::from_string(json)
                        .with_status_code(status)
                        .with_header(header),
                );
            }
        });
        TokenEndpoint {
            url,
            granted,
            refused,
        }
    }
}

/// The JWT the broker script signed for `alice`.
fn signed_token() -> String {
    std::fs::read_to_string(clients().join("oidc-token.jwt"))
        .unwrap()
        .trim()
        .to_owned()
}

/// An endpoint for the script's client id and secret, and the `oidc` properties pointing at it.
fn endpoint_and_config(extra: &[&str]) -> (TokenEndpoint, std::path::PathBuf) {
    let endpoint = TokenEndpoint::start(
        &property("oidc", "sasl.oauthbearer.client.id"),
        &property("oidc", "sasl.oauthbearer.client.secret"),
        &signed_token(),
    );
    let mut edits = vec![format!(
        "sasl.oauthbearer.token.endpoint.url={}",
        endpoint.url
    )];
    edits.extend(extra.iter().map(|e| e.to_string()));
    let edits: Vec<&str> = edits.iter().map(String::as_str).collect();
    let config = edited("oidc", &edits);
    (endpoint, config)
}

/// Nothing printed holds the client secret or the token.
fn assert_no_oidc_secret(printed: &str) {
    let secret = property("oidc", "sasl.oauthbearer.client.secret");
    assert!(!printed.contains(&secret), "the client secret was printed");
    let token = signed_token();
    let signature = token.rsplit('.').next().unwrap();
    assert!(!printed.contains(signature), "the token was printed");
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn pipe_over_oidc_client_credentials() {
    let (endpoint, config) = endpoint_and_config(&[]);
    let (input, output, group) = loaded();
    let child = pipe_with_config(&config, &group, &input, &output, &["--idle-exit", "3"]);
    let (ok, printed) = finish(child, Duration::from_secs(120));
    assert!(ok, "pipe over oidc: {printed}");
    assert_eq!(
        total_end(&output),
        50 * PARTITIONS as i64,
        "everything copied"
    );
    assert_committed_to_end(&committed(&brokers(), &group, &input, PARTITIONS), 50);
    assert!(
        endpoint.granted.load(Ordering::SeqCst) >= 1,
        "the token came from the endpoint"
    );
    assert_eq!(
        endpoint.refused.load(Ordering::SeqCst),
        0,
        "no refused request"
    );
    assert_no_oidc_secret(&printed);
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn the_bench_runs_over_oidc_and_writes_no_secret() {
    let (endpoint, config) = endpoint_and_config(&[]);
    let (printed, written) = bench_with_config(&config);
    assert_no_oidc_secret(&printed);
    assert_no_oidc_secret(&written);
    assert!(endpoint.granted.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        endpoint.refused.load(Ordering::SeqCst),
        0,
        "no refused request"
    );
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn a_wrong_client_secret_is_reported_with_the_providers_answer() {
    let planted = format!("planted-{}", unique_name("secret"));
    let (endpoint, config) =
        endpoint_and_config(&[&format!("sasl.oauthbearer.client.secret={planted}")]);
    let printed = fails_naming("oidc", config, &["invalid_client", "http 401"]);
    assert!(!printed.contains(&planted), "the wrong secret was printed");
    assert!(
        printed.contains(&endpoint.url),
        "the endpoint is named: {printed}"
    );
    assert!(endpoint.refused.load(Ordering::SeqCst) >= 1);
    assert_no_oidc_secret(&printed);
}

#[test]
#[ignore = "needs a real broker: scripts/real-broker-tests.sh"]
fn typed_security_oidc() {
    let endpoint = TokenEndpoint::start(
        &property("oidc", "sasl.oauthbearer.client.id"),
        &property("oidc", "sasl.oauthbearer.client.secret"),
        &signed_token(),
    );
    let security = Security::sasl_ssl(Sasl::OAuthBearerOidc {
        client_id: property("oidc", "sasl.oauthbearer.client.id"),
        client_secret: Secret::new(property("oidc", "sasl.oauthbearer.client.secret")),
        token_endpoint: endpoint.url.clone(),
        scope: Some("kafka".to_owned()),
    })
    .ca(Pem::File(property("oidc", "ssl.ca.location").into()));
    library_copies_over("oidc", security);
    assert!(endpoint.granted.load(Ordering::SeqCst) >= 1);
}
