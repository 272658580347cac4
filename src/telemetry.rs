//! Logging on stderr, filtered by RUST_LOG (default `info`): human-readable lines by default
//! (colours only on a terminal), or one JSON object per line for log shippers.

use std::io::IsTerminal;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use serde::Deserialize;
use tracing::{Span, field};
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
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

/// The span of each HTTP request (its log lines carry its fields). Like tracing-actix-web's
/// default, but every field is worked out inside the span macro, that is only when the span
/// is enabled: the default reads the connection info, user agent and route of every request
/// first, a sixth of a lookup's work when RUST_LOG leaves request spans off.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %request.match_pattern().unwrap_or_else(|| "default".to_owned()),
            http.target = %request.uri().path_and_query().map(|p| p.as_str()).unwrap_or(""),
            http.client_ip = %request.connection_info().realip_remote_addr().unwrap_or(""),
            http.user_agent = %request.headers().get("User-Agent").and_then(|h| h.to_str().ok()).unwrap_or(""),
            http.status_code = field::Empty,
            otel.status_code = field::Empty,
            request_id = %request.extensions().get::<RequestId>().map(ToString::to_string).unwrap_or_default(),
            exception.message = field::Empty,
            exception.details = field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
