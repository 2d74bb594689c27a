//! What every librdkafka client this crate creates shares: passthrough of librdkafka keys,
//! their validation, security checks, client properties files, and OAUTHBEARER tokens from
//! an OIDC provider.
//!
//! The source's consumer, the sink's producer, the side clients that commit and read
//! metadata, `rebuild_to_kafka`'s readers, the bench and the CLI all take their librdkafka
//! settings through [`Passthrough`]: keys the typed setters own are refused there, keys
//! correctness depends on are forced, anything else passes to librdkafka, which checks it
//! when the configuration is built. Secrets (passwords, private keys, tokens) print as
//! `[redacted]`. Each of those clients is made by [`create`], and each of their contexts
//! answers librdkafka's OAUTHBEARER token refresh with [`oauth_token`] (OIDC client
//! credentials, see `sasl.oauthbearer.method=oidc` in the README's security section). This
//! module imports nothing from the group, the source or the sink.

#[cfg(feature = "tls")]
mod oidc;
mod passthrough;
mod properties;
mod security;
mod security_settings;
mod validate;

use rdkafka::client::{ClientContext, OAuthToken};
use rdkafka::config::FromClientConfigAndContext;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaResult;
use rdkafka::producer::ProducerContext;
use rdkafka::ClientConfig;

#[cfg(feature = "tls")]
pub use oidc::{OidcError, FETCH_TIMEOUT as OIDC_FETCH_TIMEOUT};
pub(crate) use passthrough::{check_client_config, Forced, Managed, Refused};
pub use passthrough::{is_secret_key, Passthrough};
pub use properties::{read_properties, ClientProperties};
pub(crate) use security::check_security;
pub(crate) use security_settings::merge_security;
pub use security_settings::{Pem, Sasl, Secret, Security};
pub(crate) use validate::{millis, positive, required, validate_topic_name};

/// Whether `sasl.oauthbearer.method` asks for OIDC tokens.
pub(crate) fn oidc_wanted(method: Option<&str>) -> bool {
    method.is_some_and(|m| m.trim().eq_ignore_ascii_case("oidc"))
}

/// Makes a librdkafka client from `config` with `context`, with OIDC settings
/// (`sasl.oauthbearer.method=oidc`) moved where the context's token refresh finds them.
/// Every client this crate creates is made here.
pub fn create<T, C>(config: &ClientConfig, context: C) -> KafkaResult<T>
where
    T: FromClientConfigAndContext<C>,
    C: ClientContext,
{
    #[cfg(feature = "tls")]
    let config = &{
        let mut routed = config.clone();
        oidc::route(&mut routed);
        routed
    };
    config.create_with_context(context)
}

/// Inside an `impl rdkafka::ClientContext for …` block: turns on librdkafka's OAUTHBEARER
/// token refresh and answers it with [`oauth_token`], as every client context of this crate
/// does, so a context of your own fetches OIDC tokens from the same settings.
///
/// ```
/// struct MyContext;
///
/// impl rdkafka::ClientContext for MyContext {
///     timely_kafka::oauth_token_refresh!();
/// }
/// ```
#[macro_export]
macro_rules! oauth_token_refresh {
    () => {
        const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

        /// OAUTHBEARER tokens from the OIDC provider the settings name.
        fn generate_oauth_token(
            &self,
            oauthbearer_config: ::std::option::Option<&str>,
        ) -> ::std::result::Result<
            ::rdkafka::client::OAuthToken,
            ::std::boxed::Box<dyn ::std::error::Error>,
        > {
            $crate::client::oauth_token(oauthbearer_config)
        }
    };
}

/// Answers librdkafka's OAUTHBEARER token refresh: a token from the OIDC provider that
/// `oauthbearer_config` names (as [`create`] left it). Every client context of this crate
/// calls it from `ClientContext::generate_oauth_token`, with
/// `ENABLE_REFRESH_OAUTH_TOKEN = true`; librdkafka's unsecured test tokens
/// (`enable.sasl.oauthbearer.unsecure.jwt=true`) never reach it.
pub fn oauth_token(
    oauthbearer_config: Option<&str>,
) -> Result<OAuthToken, Box<dyn std::error::Error>> {
    #[cfg(feature = "tls")]
    {
        oidc::token_for(oauthbearer_config).map_err(Into::into)
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = oauthbearer_config;
        Err("OIDC tokens for SASL OAUTHBEARER need timely-kafka's `tls` feature".into())
    }
}

/// Serves what a new consumer's event queue holds before it connects: with OAUTHBEARER,
/// librdkafka asks for the first token there and connects only once it has one, so a
/// consumer that waits for metadata before it first polls must call this first. Meant for
/// consumers not yet subscribed or assigned (a record it meets would be dropped).
pub fn serve_startup_events<C: ConsumerContext>(consumer: &rdkafka::consumer::BaseConsumer<C>) {
    // A served event reads as `None`, like an empty queue: a few polls cover the token
    // request (queued first, at flash priority) and the logs around it.
    for _ in 0..16 {
        let _ = consumer.poll(std::time::Duration::ZERO);
    }
}

/// rdkafka's default context, plus OAUTHBEARER tokens from [`oauth_token`]: for clients
/// that need nothing else (metadata and offsets readers, the bench's raw clients).
#[derive(Debug, Clone, Copy, Default)]
pub struct BasicContext;

impl ClientContext for BasicContext {
    crate::oauth_token_refresh!();
}

impl ConsumerContext for BasicContext {}

impl ProducerContext for BasicContext {
    type DeliveryOpaque = ();

    fn delivery(
        &self,
        _result: &rdkafka::message::DeliveryResult<'_>,
        _opaque: Self::DeliveryOpaque,
    ) {
    }
}
