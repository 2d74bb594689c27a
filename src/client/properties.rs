//! Client properties files: the `key=value` files Kafka's own tools and kcat read
//! (`--command-config`, `-F`), so a cluster's connection settings (bootstrap servers,
//! security protocol, certificates, SASL credentials) live in one file shared by every tool
//! instead of on command lines.
//!
//! The format is Java's `.properties` (`key=value` or `key: value`, `#`/`!` comments, `\`
//! line continuations and escapes). A value may name environment variables as Kafka's
//! `EnvVarConfigProvider` does, `${env:NAME}`, so secrets need not be written to the file:
//! `sasl.password=${env:KAFKA_PASSWORD}`. A variable that is not set is an error naming the
//! key and the variable, never the value.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use crate::error::ConfigError;

/// Reads a client properties file into `(key, value)` pairs, in file order, with
/// `${env:NAME}` references replaced by the environment's values.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = std::env::temp_dir().join(format!("tk-props-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let file = dir.join("client.properties");
/// std::fs::write(&file, "# my cluster\nsecurity.protocol=sasl_ssl\nsasl.password=${env:TK_DOC_PASSWORD}\n")?;
/// std::env::set_var("TK_DOC_PASSWORD", "s3cret");
/// let settings = timely_kafka::client::read_properties(&file)?;
/// assert_eq!(settings[0], ("security.protocol".to_owned(), "sasl_ssl".to_owned()));
/// assert_eq!(settings[1].1, "s3cret");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
pub fn read_properties(path: &Path) -> Result<Vec<(String, String)>, ConfigError> {
    let failed = |reason: String| ConfigError::PropertiesFile {
        path: path.to_path_buf(),
        reason,
    };
    let file = File::open(path).map_err(|e| failed(format!("cannot be read: {e}")))?;
    let mut settings = Vec::new();
    java_properties::PropertiesIter::new(BufReader::new(file))
        .read_into(|key, value| settings.push((key, value)))
        .map_err(|e| failed(format!("is not a properties file: {e}")))?;
    settings
        .into_iter()
        .map(|(key, value)| {
            let value = substitute_env(&key, &value)?;
            Ok((key, value))
        })
        .collect()
}

/// A client properties file split the way a command line takes it: the bootstrap servers
/// (which a `--brokers` flag may override) apart from every other setting.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ClientProperties {
    /// `bootstrap.servers` (or `metadata.broker.list`), the last one in the file, if any.
    pub bootstrap_servers: Option<String>,
    /// Every other `(key, value)` pair, in file order, for the builders' `set`.
    pub settings: Vec<(String, String)>,
}

impl ClientProperties {
    /// Reads `path` with [`read_properties`] and takes the bootstrap servers out; no path
    /// gives no settings.
    pub fn read(path: Option<&Path>) -> Result<Self, ConfigError> {
        let Some(path) = path else {
            return Ok(ClientProperties::default());
        };
        let mut settings = read_properties(path)?;
        let is_bootstrap = |key: &str| key == "bootstrap.servers" || key == "metadata.broker.list";
        let bootstrap_servers = settings
            .iter()
            .rev()
            .find(|(key, _)| is_bootstrap(key))
            .map(|(_, value)| value.clone());
        settings.retain(|(key, _)| !is_bootstrap(key));
        Ok(ClientProperties {
            bootstrap_servers,
            settings,
        })
    }
}

impl std::fmt::Debug for ClientProperties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown: Vec<(&str, String)> = self
            .settings
            .iter()
            .map(|(k, v)| (k.as_str(), super::passthrough::shown(k, v)))
            .collect();
        f.debug_struct("ClientProperties")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("settings", &shown)
            .finish()
    }
}

/// Replaces every `${env:NAME}` in `value` with the environment variable `NAME`.
fn substitute_env(key: &str, value: &str) -> Result<String, ConfigError> {
    const OPEN: &str = "${env:";
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find('}') else {
            return Err(ConfigError::Invalid {
                key: key.to_owned(),
                value: super::passthrough::shown(key, value),
                reason: "`${env:` without its closing `}`".to_owned(),
            });
        };
        let name = &after[..end];
        match std::env::var(name) {
            Ok(found) => out.push_str(&found),
            Err(_) => {
                return Err(ConfigError::Missing {
                    key: key.to_owned(),
                    hint: format!("its value refers to the environment variable `{name}`, which is not set (or not UTF-8)"),
                })
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, contents: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tk-props-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("client.properties");
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn reads_java_properties_in_order_with_comments_continuations_and_colons() {
        let path = file(
            "syntax",
            "# comment\n! another\nbootstrap.servers = a:9092,\\\n    b:9092\nsecurity.protocol: ssl\n\nssl.ca.location=/etc/ca.pem\n",
        );
        assert_eq!(
            read_properties(&path).unwrap(),
            vec![
                ("bootstrap.servers".to_owned(), "a:9092,b:9092".to_owned()),
                ("security.protocol".to_owned(), "ssl".to_owned()),
                ("ssl.ca.location".to_owned(), "/etc/ca.pem".to_owned()),
            ]
        );
    }

    #[test]
    fn substitutes_environment_variables_and_names_a_missing_one_without_the_value() {
        std::env::set_var("TK_PROPS_TEST_USER", "alice");
        let path = file(
            "env",
            "sasl.username=${env:TK_PROPS_TEST_USER}@corp\nsasl.password=${env:TK_PROPS_TEST_UNSET_PASSWORD}\n",
        );
        match read_properties(&path) {
            Err(ConfigError::Missing { key, hint }) => {
                assert_eq!(key, "sasl.password");
                assert!(hint.contains("TK_PROPS_TEST_UNSET_PASSWORD"), "{hint}");
            }
            other => panic!("{other:?}"),
        }
        let path = file("env-ok", "sasl.username=${env:TK_PROPS_TEST_USER}@corp\n");
        assert_eq!(read_properties(&path).unwrap()[0].1, "alice@corp");
    }

    #[test]
    fn an_unreadable_file_is_named() {
        let missing = std::path::Path::new("/nonexistent/client.properties");
        match read_properties(missing) {
            Err(e @ ConfigError::PropertiesFile { .. }) => {
                assert!(
                    e.to_string().contains("/nonexistent/client.properties"),
                    "{e}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn client_properties_take_the_bootstrap_servers_apart() {
        let dir = std::env::temp_dir().join(format!("tk-client-props-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.properties");
        std::fs::write(
            &file,
            "bootstrap.servers=a:9092\nsecurity.protocol=ssl\nbootstrap.servers=b:9093\nsasl.password=pw-planted\n",
        )
        .unwrap();
        let read = ClientProperties::read(Some(&file)).unwrap();
        assert_eq!(
            read.bootstrap_servers.as_deref(),
            Some("b:9093"),
            "the last one wins"
        );
        assert_eq!(read.settings.len(), 2);
        assert!(read.settings.iter().all(|(k, _)| k != "bootstrap.servers"));
        assert!(!format!("{read:?}").contains("pw-planted"));
        assert_eq!(
            ClientProperties::read(None).unwrap(),
            ClientProperties::default()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
