//! What this build of timely-kafka can do: its version, its own features (`oidc`: OIDC
//! client credentials for SASL OAUTHBEARER, fetched by timely-kafka), the librdkafka it
//! links, and librdkafka's `builtin.features` (compression codecs, `ssl`, `sasl_plain`,
//! `sasl_scram`, `sasl_oauthbearer`, `sasl_gssapi`, ...), so a user can tell whether a
//! security setting will work before pointing it at a cluster.

use std::fmt;

use rdkafka::ClientConfig;

/// The versions and features of this build.
///
/// ```
/// let info = timely_kafka::BuildInfo::current();
/// assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
/// assert!(info.librdkafka.starts_with("2."));
/// println!("{info}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// This crate's version.
    pub version: &'static str,
    /// librdkafka's version, e.g. `2.12.1`.
    pub librdkafka: String,
    /// librdkafka's `builtin.features`, in its order.
    pub features: Vec<String>,
    /// What timely-kafka itself adds: `oidc` (OIDC client credentials for SASL
    /// OAUTHBEARER, with the `tls` cargo feature), `concurrent` (`process_concurrent`).
    pub crate_features: Vec<&'static str>,
}

impl BuildInfo {
    /// This build's.
    pub fn current() -> BuildInfo {
        let (_, librdkafka) = rdkafka::util::get_rdkafka_version();
        // A fresh configuration reports the features compiled in; reading it cannot fail
        // for a property librdkafka defines, but an empty list is the honest fallback.
        let features = ClientConfig::new()
            .create_native_config()
            .and_then(|native| native.get("builtin.features"))
            .map(|list| {
                list.split(',')
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let crate_features = [
            (cfg!(feature = "tls"), "oidc"),
            (cfg!(feature = "concurrent"), "concurrent"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        BuildInfo {
            version: env!("CARGO_PKG_VERSION"),
            librdkafka,
            features,
            crate_features,
        }
    }

    /// Whether librdkafka was built with `feature` (as `builtin.features` names it).
    pub fn has(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }
}

impl fmt::Display for BuildInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "timely-kafka {}", self.version)?;
        writeln!(f, "features {}", self.crate_features.join(","))?;
        writeln!(f, "librdkafka {}", self.librdkafka)?;
        write!(f, "builtin.features {}", self.features.join(","))
    }
}
