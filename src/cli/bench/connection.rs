//! The connection settings of `bench --config FILE`: every client the bench creates (the raw
//! consumers and producers, the pipeline's source and sink, the loader, the offsets reader,
//! the topic check) connects with them, so the bench runs against a secured cluster the way
//! `pipe` does. Set once when the bench starts; empty without `--config`.

use std::sync::OnceLock;

use rdkafka::ClientConfig;

static SETTINGS: OnceLock<Vec<(String, String)>> = OnceLock::new();

/// Records the file's settings (bootstrap servers taken apart). Called once, first thing.
pub fn set(settings: Vec<(String, String)>) {
    // A second call (never made) would keep the first file's settings.
    let _ = SETTINGS.set(settings);
}

/// The connection settings, in file order.
pub fn settings() -> &'static [(String, String)] {
    SETTINGS.get().map_or(&[], Vec::as_slice)
}

/// A librdkafka configuration for `bootstrap` with the connection settings applied.
pub fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (key, value) in settings() {
        config.set(key, value);
    }
    config.set("bootstrap.servers", bootstrap);
    config
}
