use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use actix_web::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use futures_util::StreamExt;

use super::answer::{Json, prepare, send};
use super::{ApiError, PartnerRequest, Request};
use crate::ingest::RecordResult;
use crate::ingest::{Outcome, Received, ingest_body, record_refused as record_refused_batch};
use crate::telemetry::escaped;
use crate::wire::{Code, GZIP_MAGIC};

#[derive(Clone, Copy)]
enum Encoding {
    Identity,
    Gzip,
}

/// POST /v2/partners/{company}: a batch of records. Every POST, written or refused, gets an
/// entry in the batch history; its id is in the `X-Batch-Id` header.
#[tracing::instrument(
    name = "post_batch",
    skip_all,
    fields(partner = %request.caller.partner.company, tenant = %request.caller.tenant, bytes, records)
)]
pub async fn post_batch(request: PartnerRequest, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let mut received = Received {
        at: crate::model::batch::server_time(),
        started: Instant::now(),
        body_bytes: 0,
        retention: request.state.history_retention,
    };
    match receive_and_ingest(&request, payload, &mut received).await {
        Ok(response) => Ok(response),
        // A storage fault is "not now", not a refusal: nothing is recorded (the history could
        // not take it either), and the partner retries.
        Err(err) if err.is_unavailable() => Err(err),
        Err(err) => {
            // The answer names the history entry, so a partner can find the upload that failed.
            let mut response = err.error_response();
            if let Some(id) = record_refused(&request, &received, &err).await {
                response.headers_mut().insert(X_BATCH_ID, HeaderValue::from(id));
            }
            Ok(response)
        }
    }
}

const X_BATCH_ID: HeaderName = HeaderName::from_static("x-batch-id");

async fn receive_and_ingest(
    request: &PartnerRequest,
    payload: web::Payload,
    received: &mut Received,
) -> Result<HttpResponse, ApiError> {
    let Request { caller, req, state } = request;
    let limit = state.max_body_bytes;
    let encoding = content_encoding(req)?;
    let gzip = super::answer::accepts_gzip(req);
    let timeout = state.body_timeout;
    let raw = read_body(req, payload, limit, timeout).await?;
    received.body_bytes = raw.len();
    tracing::Span::current().record("bytes", raw.len());

    let partner = Arc::clone(&caller.partner);
    let arrived = received.clone();
    // Decompression, decoding, validation, the write and the response's serialization are
    // all CPU or disk work: none of it runs on the async executor. The blocking thread carries
    // on this request's span (and so its request id).
    let (outcome, body) = request
        .in_tenant(
            "ingesting a batch",
            move |store, scope| -> Result<(Outcome, Json<Vec<RecordResult>>), ApiError> {
                let body = match encoding {
                    Encoding::Identity => raw,
                    Encoding::Gzip => gunzip(&raw, limit)?,
                };
                let mut outcome = ingest_body(store, &partner, scope, &body, &arrived)?;
                drop(body);
                // One entry per record however many were refused: compressed as it is written when the
                // client takes gzip, else streamed when too big to hold, so a big refusal is never held
                // whole.
                let results = std::mem::take(&mut outcome.results);
                let json = prepare(results, gzip).map_err(anyhow::Error::new)?;
                Ok((outcome, json))
            },
        )
        .await?;

    let counts = outcome.counts;
    let status = counts.status();
    tracing::Span::current().record("records", counts.accepted() + counts.rejected());
    tracing::info!(
        partner = %caller.partner.company,
        tenant = %caller.tenant,
        batch_id = outcome.batch_id,
        status = status.as_u16(),
        accepted = counts.accepted(),
        rejected = counts.rejected(),
        records = %counts,
        warnings = outcome.warned.total(),
        duration_ms = received.started.elapsed().as_millis() as u64,
        "batch posted (accepted/rejected per type)"
    );
    crate::monitoring::count_batch(
        &caller.partner.company,
        caller.tenant,
        &counts,
        &outcome.warned.per_kind,
        received.started.elapsed().as_secs_f64(),
    );
    let mut response = HttpResponse::build(status);
    response.insert_header((X_BATCH_ID, HeaderValue::from(outcome.batch_id)));
    Ok(send(response, body))
}

/// Records a POST refused whole in the history (and logs it), so "what happened to last night's
/// upload" has an answer for those too; answers its id. A failure to record is logged, not
/// answered.
async fn record_refused(request: &PartnerRequest, received: &Received, err: &ApiError) -> Option<i64> {
    let caller = &request.caller;
    let status = err.status_code();
    let entry = err.body_entry().map(|e| e.to_string());
    let (received, error) = (received.clone(), err.to_string());
    tracing::warn!(
        partner = %caller.partner.company,
        tenant = %caller.tenant,
        status = status.as_u16(),
        error = ?escaped(&error),
        "batch refused whole"
    );
    let record =
        move |store: &_, scope| record_refused_batch(store, scope, &received, status, &error, entry.as_deref());
    match request.in_tenant("recording a refused batch", record).await {
        Ok(id) => Some(id),
        Err(failed) => {
            tracing::error!(failed = ?escaped(&failed), "the refused batch could not be recorded in the history");
            None
        }
    }
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

/// Reads a body of at most `limit` bytes within `timeout`, refusing it as soon as it is over
/// the limit (before reading at all when Content-Length says so).
pub(super) async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Vec<u8>, ApiError> {
    actix_web::rt::time::timeout(timeout, read_limited(req, payload, limit))
        .await
        .map_err(|_| ApiError::BodyTimeout(timeout.as_secs()))?
}

async fn read_limited(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    // The buffer grows with the bytes that arrive, never reserved from the length a client
    // declares: 200 connections declaring 64 MiB and trickling a byte a second held hundreds of
    // MiB between them.
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadBody {
            code: Code::IncompleteBody,
            message: format!("the body could not be read: {e}"),
        })?;
        let needed = body.len() + chunk.len();
        if needed > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        if needed > body.capacity() {
            // Doubling as bytes arrive, but not past the declared length: a body that arrives
            // whole ends in a buffer of its own size (growing past it cost a 10k batch 10 MB).
            let grown = needed.max(body.capacity() * 2);
            let grown = match declared {
                Some(declared) if declared >= needed as u64 => grown.min(declared as usize),
                _ => grown,
            };
            body.reserve_exact(grown - body.len());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Inflates a gzip body; the limit counts the inflated size, so a small bomb is refused too.
fn gunzip(raw: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    if !raw.starts_with(GZIP_MAGIC) && !raw.is_empty() {
        // Most often a client that sets the header whatever it sends.
        let start: String = String::from_utf8_lossy(&raw[..raw.len().min(20)]).into_owned();
        return Err(ApiError::BadBody {
            code: Code::InvalidGzip,
            message: format!(
                "the body is not gzip (Content-Encoding: gzip says it is, but it starts with {}, not gzip's bytes 1F 8B): \
                 compress it, or send it without that header",
                crate::wire::echo(&start)
            ),
        });
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(raw)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::BadBody {
            code: Code::InvalidGzip,
            message: format!("the body is not valid gzip: {e}"),
        })?;
    if out.len() > limit {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    Ok(out)
}
