//! Logging on stderr, filtered by RUST_LOG (default `info`): human-readable lines by default
//! (colours only on a terminal), or one JSON object per line for log shippers.

use std::fmt;
use std::io::IsTerminal;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use serde::Deserialize;
use tracing::{Span, field};
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::EnvFilter;

use crate::client::client_of;

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
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // The migration tool's own lines (a raw list, one migration a line) only when asked for by
    // name: the store says what it applied in one line of its own.
    let asked = std::env::var("RUST_LOG").is_ok_and(|v| v.contains("refinery"));
    if !asked && let Ok(quiet) = "refinery_core=warn".parse() {
        filter = filter.add_directive(quiet);
    }
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

/// A value a client sent (or one made from it, such as an error's message), for a log field:
/// written quoted, with control characters as escapes (`"1\n2026-... ERROR"`), so that no value
/// can start a line of its own or pass for another field in text logs. Log such values as
/// `field = ?escaped(value)`, never with `%`.
pub fn escaped<T: fmt::Display>(value: T) -> Escaped<T> {
    Escaped(value)
}

pub struct Escaped<T>(T);

impl<T: fmt::Display> fmt::Debug for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // str's Debug quotes and escapes; a value is formatted once, into a buffer.
        fmt::Debug::fmt(self.0.to_string().as_str(), f)
    }
}

/// The span of each HTTP request (its log lines carry its fields). Like tracing-actix-web's
/// default, but every field is worked out inside the span macro, that is only when the span
/// is enabled: the default reads the connection info, user agent and route of every request
/// first, a sixth of a lookup's work when RUST_LOG leaves request spans off. Whatever the
/// client wrote (target, user agent, an error's message) is recorded as a string, which the
/// text format quotes and escapes; the client's address is the TCP peer's unless the peer is a
/// trusted proxy.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        tracing::info_span!(
            "HTTP request",
            http.method = request.method().as_str(),
            http.route = request.match_pattern().unwrap_or_else(|| "default".to_owned()).as_str(),
            http.target = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or(""),
            http.client_ip = client_address(request).as_str(),
            http.user_agent = String::from_utf8_lossy(
                request.headers().get("User-Agent").map(|h| h.as_bytes()).unwrap_or_default()
            )
            .as_ref(),
            http.status_code = field::Empty,
            otel.status_code = field::Empty,
            request_id = %request.extensions().get::<RequestId>().map(ToString::to_string).unwrap_or_default(),
            exception.message = field::Empty,
            exception.details = field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, actix_web::Error>) {
        if span.is_disabled() {
            return;
        }
        let error = match outcome {
            Ok(response) => response
                .response()
                .error()
                .map(|e| (response.status(), e.as_response_error())),
            Err(e) => Some((e.as_response_error().status_code(), e.as_response_error())),
        };
        let Some((status, error)) = error else {
            return DefaultRootSpanBuilder::on_request_end(span, outcome);
        };
        // As the default records them, but as strings: an error's message may quote the client.
        span.record("exception.message", error.to_string().as_str());
        span.record("exception.details", format!("{error:?}").as_str());
        span.record("http.status_code", status.as_u16());
        span.record(
            "otel.status_code",
            if status.is_client_error() { "OK" } else { "ERROR" },
        );
    }
}

/// The request's client address ([`client_of`]); `""` when unknown.
fn client_address(request: &ServiceRequest) -> String {
    client_of(request.request())
        .map(|ip| ip.to_string())
        .unwrap_or_default()
}
