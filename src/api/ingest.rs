use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use futures_util::StreamExt;

use super::{ApiError, AppState};
use crate::auth::Caller;
use crate::ingest::{IngestError, Outcome, ingest_body};

#[derive(Clone, Copy)]
enum Encoding {
    Identity,
    Gzip,
}

/// POST /v2/partners/{company}: a batch of records.
#[tracing::instrument(
    name = "post_batch",
    skip_all,
    fields(partner = %caller.partner.company, tenant = %caller.tenant.as_str(), bytes, records)
)]
pub async fn post_batch(
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let started = Instant::now();
    let limit = state.max_body_bytes;
    let encoding = content_encoding(&req)?;
    let timeout = state.body_timeout;
    let raw = actix_web::rt::time::timeout(timeout, read_limited(&req, payload, limit))
        .await
        .map_err(|_| ApiError::BodyTimeout(timeout.as_secs()))??;
    tracing::Span::current().record("bytes", raw.len());

    let store = Arc::clone(&state.store);
    let partner = Arc::clone(&caller.partner);
    let scope = caller.scope();
    // Decompression, decoding, validation, the write and the response's serialization are
    // all CPU or disk work: none of it runs on the async executor.
    // The blocking thread carries on this request's span (and so its request id).
    let span = tracing::Span::current();
    let (outcome, body) = web::block(move || -> Result<(Outcome, Vec<u8>), ApiError> {
        let _entered = span.enter();
        let body = match encoding {
            Encoding::Identity => raw,
            Encoding::Gzip => gunzip(&raw, limit)?,
        };
        let outcome = ingest_body(&store, &partner, scope, &body, Utc::now()).map_err(|e| match e {
            IngestError::Body(e) => ApiError::from(e),
            IngestError::Store(e) => ApiError::Internal(anyhow::Error::new(e).context("writing the batch")),
        })?;
        let json = serde_json::to_vec(&outcome.results).map_err(anyhow::Error::new)?;
        Ok((outcome, json))
    })
    .await??;

    let status = match (outcome.accepted(), outcome.rejected()) {
        (_, 0) => StatusCode::OK,
        (0, _) => StatusCode::BAD_REQUEST,
        _ => StatusCode::PARTIAL_CONTENT,
    };
    let c = |c: crate::ingest::Counts| format!("{}/{}", c.accepted, c.rejected);
    tracing::Span::current().record("records", outcome.results.len());
    tracing::info!(
        partner = %caller.partner.company,
        tenant = %caller.tenant.as_str(),
        status = status.as_u16(),
        accepted = outcome.accepted(),
        rejected = outcome.rejected(),
        registrations = %c(outcome.registrations),
        sales = %c(outcome.sales),
        claims = %c(outcome.claims),
        cancellations = %c(outcome.cancellations),
        duration_ms = started.elapsed().as_millis() as u64,
        "batch posted (accepted/rejected per type)"
    );
    Ok(HttpResponse::build(status).content_type("application/json").body(body))
}

fn content_encoding(req: &HttpRequest) -> Result<Encoding, ApiError> {
    let Some(value) = req.headers().get(CONTENT_ENCODING) else {
        return Ok(Encoding::Identity);
    };
    let text = value.to_str().unwrap_or_default().trim().to_ascii_lowercase();
    match text.as_str() {
        "" | "identity" => Ok(Encoding::Identity),
        "gzip" | "x-gzip" => Ok(Encoding::Gzip),
        _ => Err(ApiError::UnsupportedEncoding(
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        )),
    }
}

/// Reads the body, refusing it as soon as it is over the limit (before reading at all when
/// Content-Length says so).
async fn read_limited(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadBody {
            code: "incomplete_body",
            message: format!("the body could not be read: {e}"),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Inflates a gzip body; the limit counts the inflated size, so a small bomb is refused too.
fn gunzip(raw: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(raw)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::BadBody {
            code: "invalid_gzip",
            message: format!("the body is not valid gzip: {e}"),
        })?;
    if out.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(out)
}
