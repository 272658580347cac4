//! Logging on stderr, filtered by RUST_LOG (default `info`): human-readable lines by default
//! (colours only on a terminal), or one JSON object per line for log shippers.

use std::io::IsTerminal;

use serde::Deserialize;
use tracing_subscriber::EnvFilter;

/// How log lines are written: `--log-format` or the config's `server.log_format`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub fn init(format: LogFormat) {
    init_with(format, "info");
}

/// For commands whose output is their own report: warnings and errors only, unless RUST_LOG says.
pub fn init_quiet(format: LogFormat) {
    init_with(format, "warn");
}

fn init_with(format: LogFormat, default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless.
    let _ = match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        // Fields and the enclosing spans (request id, partner...) as JSON, no colour codes.
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(true).try_init(),
    };
}
