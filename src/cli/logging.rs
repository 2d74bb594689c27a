//! Logging for the command: `tracing` to stderr, filtered by `RUST_LOG` (default `warn`).
//!
//! The commands print what they did themselves (the pipe's summary, the bench's progress
//! and table), so the library's and librdkafka's `info` lines are off unless asked for:
//! `RUST_LOG=info` (or any `EnvFilter` directive) brings them back. Colours are used only
//! when stderr is a terminal (and `NO_COLOR` is unset), so a log redirected to a file holds
//! no escape codes.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// The filter when `RUST_LOG` is unset: warnings and errors only.
pub const DEFAULT_FILTER: &str = "warn";

/// Installs the global subscriber; librdkafka's `log` records are forwarded to it.
pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour())
        .with_writer(std::io::stderr)
        .init();
}

/// Whether to colour the log: stderr is a terminal and `NO_COLOR` is unset or empty.
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
