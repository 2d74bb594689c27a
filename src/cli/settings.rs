//! Where a command's cluster is and how its clients reach it, the same way for every
//! command: `--brokers`, a client properties file (`--config FILE`, read with
//! [`ClientProperties`]) and `--set KEY=VALUE` settings.
//!
//! Each command declares the flags itself, so its `--help` says what they mean for it,
//! and hands them here.

use std::path::Path;

use timely_kafka::client::ClientProperties;

/// The bootstrap servers and the client settings of a `--config` file.
#[derive(Debug)]
pub struct ClusterSettings {
    /// `--brokers`, or else the file's `bootstrap.servers`.
    pub brokers: String,
    /// The file's other settings, in file order.
    pub file: Vec<(String, String)>,
}

impl ClusterSettings {
    /// Reads `config` if given ([`ClientProperties::read`]); `brokers` wins over the file's
    /// `bootstrap.servers`, and one of the two is required.
    pub fn read(brokers: Option<&str>, config: Option<&Path>) -> Result<Self, String> {
        let file = ClientProperties::read(config).map_err(|e| e.to_string())?;
        let brokers = brokers
            .map(str::to_owned)
            .or(file.bootstrap_servers)
            .ok_or(
                "no brokers: give --brokers, or bootstrap.servers in the --config file".to_owned(),
            )?;
        Ok(ClusterSettings {
            brokers,
            file: file.settings,
        })
    }
}

/// Parses a `--set KEY=VALUE` value (and the pipe's `--consumer-set` and `--producer-set`).
pub fn parse_setting(value: &str) -> Result<(String, String), String> {
    match value.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err("expected KEY=VALUE with a non-empty key".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_the_file_and_the_file_keeps_the_rest() {
        let dir = std::env::temp_dir().join(format!("tk-cli-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("client.properties");
        std::fs::write(
            &file,
            "bootstrap.servers=a:1\nsecurity.protocol=ssl\nbootstrap.servers=b:2\n",
        )
        .unwrap();
        let from_file = ClusterSettings::read(None, Some(&file)).unwrap();
        assert_eq!(from_file.brokers, "b:2", "the file's last value");
        assert_eq!(
            from_file.file,
            [("security.protocol".to_owned(), "ssl".to_owned())]
        );
        let flag = ClusterSettings::read(Some("c:3"), Some(&file)).unwrap();
        assert_eq!(flag.brokers, "c:3");
        assert_eq!(flag.file.len(), 1);
        let none = ClusterSettings::read(None, None).unwrap_err();
        assert!(none.contains("--brokers"), "{none}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_setting_needs_a_key_and_an_equals_sign() {
        assert_eq!(
            parse_setting("a.b=c=d").unwrap(),
            ("a.b".to_owned(), "c=d".to_owned())
        );
        assert!(parse_setting("=x").is_err());
        assert!(parse_setting("no-equals").is_err());
    }
}
