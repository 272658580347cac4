//! The batch history (`/batches`) and the test-tenant reset (`DELETE` on `<company>_test`).

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_DISPOSITION;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::value::RawValue;

use super::query::Params;
use super::{ApiError, PartnerRequest};
use crate::history;
use crate::model::batch::{BatchFilter, BatchSummary, RejectedRow, RejectionCount, StoredBatch, WarningCount};
use crate::scope::Tenant;

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchPage {
    tenant: &'static str,
    page: u32,
    page_size: u32,
    total: u64,
    batches: Vec<BatchSummary>,
}

#[derive(Serialize)]
struct BatchDetail {
    #[serde(flatten)]
    summary: BatchSummary,
    /// The result entries of its rejected records, as the response carried them (the first
    /// `KEPT_REJECTED`).
    #[serde(rename = "RejectedRecords")]
    rejected: Vec<Box<RawValue>>,
    /// Past those, each record type's errors counted by field and code.
    #[serde(rename = "RejectedCounts")]
    counted: Vec<RejectionCount>,
    /// Its records' warnings, counted by record type, field and kind.
    #[serde(rename = "WarningCounts")]
    warned: Vec<WarningCount>,
}

/// A whole-number parameter from `min` to `max`, `default` when absent. These paging
/// parameters are the gateway's own (not the guide's), so they are strict: given once, and a
/// number (an empty value is no number).
pub(super) fn number_param(params: &Params, name: &str, default: u32, min: u32, max: u32) -> Result<u32, ApiError> {
    let Some(text) = params.once(name)? else {
        return Ok(default);
    };
    match text.trim().parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::BadParameter(format!(
            "{name} must be a whole number from {min} to {max}, got {}",
            crate::wire::echo(text)
        ))),
    }
}

/// `page` (from 1) and `pageSize` (1 to 500, 50 by default), as every paged list takes them.
pub(super) fn paging(params: &Params) -> Result<(u32, u32), ApiError> {
    Ok((
        number_param(params, "page", 1, 1, u32::MAX)?,
        number_param(params, "pageSize", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)?,
    ))
}

/// `since` and `until`: RFC 3339 date-times with their offset, as sent (no padding).
pub(super) fn time_param(params: &Params, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    params
        .once(name)?
        .map(|text| {
            DateTime::parse_from_rfc3339(text)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::BadParameter(format!(
                        "{name} must be an RFC 3339 date-time with its offset, such as 2026-12-06T06:00:00Z, got {}",
                        crate::wire::echo(text)
                    ))
                })
        })
        .transpose()
}

/// The batches of `partner_id` and `tenant` (each, when given) that the parameters `status` (what
/// the POST was answered, such as 206), `since` and `until` (both included) name, each checked.
pub(super) fn batch_conditions(
    params: &Params,
    partner_id: Option<i64>,
    tenant: Option<Tenant>,
) -> Result<BatchFilter, ApiError> {
    let status = params
        .once("status")?
        .map(|text| {
            let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
            let status = text.parse::<u16>().ok().filter(|n| digits && *n <= 599);
            status.and_then(|n| StatusCode::from_u16(n).ok()).ok_or_else(|| {
                ApiError::BadParameter(format!(
                    "status must be an HTTP status from 100 to 599, got {}",
                    crate::wire::echo(text)
                ))
            })
        })
        .transpose()?;
    Ok(BatchFilter {
        partner_id,
        tenant,
        status,
        since: time_param(params, "since")?,
        until: time_param(params, "until")?,
    })
}

/// GET /v2/partners/{company}/batches?page=1&pageSize=50[&status=][&since=][&until=]: the
/// tenant's batches, newest first.
#[tracing::instrument(name = "list_batches", skip_all, fields(partner = %request.caller.partner.company, tenant = %request.caller.tenant))]
pub async fn list_batches(request: PartnerRequest) -> Result<HttpResponse, ApiError> {
    let params = request.params();
    params.only(&["page", "pageSize", "status", "since", "until"])?;
    let scope = request.caller.scope();
    let filter = batch_conditions(&params, Some(scope.partner_id), Some(scope.tenant))?;
    let (page, page_size) = paging(&params)?;
    let (total, batches) = request
        .in_tenant("listing batches", move |store, _| {
            history::list(store, &filter, page, page_size)
        })
        .await?;
    Ok(request.answer(&BatchPage {
        tenant: request.caller.tenant.into_str(),
        page,
        page_size,
        total,
        batches: batches.into_iter().map(|(_, batch)| batch).collect(),
    }))
}

/// GET /v2/partners/{company}/batches/{id}: one batch with its rejected records.
#[tracing::instrument(name = "get_batch", skip_all, fields(partner = %request.caller.partner.company, tenant = %request.caller.tenant))]
pub async fn get_batch(request: PartnerRequest, path: web::Path<(String, String)>) -> Result<HttpResponse, ApiError> {
    let (_, found) = find_batch(&request, path.into_inner()).await?;
    Ok(request.answer(&BatchDetail {
        summary: found.summary,
        rejected: found.rejected.into_iter().map(|(entry, _)| entry).collect(),
        counted: found.counted,
        warned: found.warned,
    }))
}

/// The caller's tenant's batch `{id}` (of the path's company and id); 404 when it has none.
async fn find_batch(request: &PartnerRequest, (company, id): (String, String)) -> Result<(i64, StoredBatch), ApiError> {
    let not_found = || ApiError::NotFound(format!("batch {id} of {company}"));
    let Ok(batch_id) = id.parse::<i64>() else {
        return Err(not_found());
    };
    let found = request
        .in_tenant("reading a batch", move |store, scope| {
            history::find(store, scope, batch_id)
        })
        .await?;
    Ok((batch_id, found.ok_or_else(not_found)?))
}

/// GET /v2/partners/{company}/batches/{id}/rejected.csv: the batch's rejected records, a row
/// per error, each with the record as it was sent.
#[tracing::instrument(name = "rejected_csv", skip_all, fields(partner = %request.caller.partner.company, tenant = %request.caller.tenant))]
pub async fn rejected_csv(
    request: PartnerRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (batch_id, found) = find_batch(&request, path.into_inner()).await?;
    csv_answer(batch_id, &found)
}

/// `rejected.csv` of a batch: `Record,Index,ShopID,InvoiceNumber,Field,Code,Message,Sent`, a
/// row per error of each kept rejected record; `X-Rejected-Not-Listed` says how many more were
/// only counted (past the first 1,000).
pub(super) fn csv_answer(batch_id: i64, batch: &StoredBatch) -> Result<HttpResponse, ApiError> {
    let rows = batch.rejected_rows().map_err(anyhow::Error::new)?;
    let mut out = csv::Writer::from_writer(Vec::new());
    if rows.is_empty() {
        // The header alone: a batch with nothing rejected is an empty sheet, not an empty file.
        out.write_record(RejectedRow::HEADER).map_err(anyhow::Error::new)?;
    }
    for row in &rows {
        out.serialize(row).map_err(anyhow::Error::new)?;
    }
    let body = out.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut answer = HttpResponse::Ok();
    answer.content_type("text/csv; charset=utf-8").insert_header((
        CONTENT_DISPOSITION,
        format!("attachment; filename=\"batch-{batch_id}-rejected.csv\""),
    ));
    let not_listed = batch.rejected_not_listed();
    if not_listed > 0 {
        answer.insert_header((X_REJECTED_NOT_LISTED, not_listed.to_string()));
    }
    Ok(answer.body(body))
}

/// How many rejected records a `rejected.csv` does not list (past the kept ones).
const X_REJECTED_NOT_LISTED: &str = "x-rejected-not-listed";

/// DELETE /v2/partners/{company}_test: removes all of the partner's test data (records and
/// history). On a live company it is refused and deletes nothing.
#[tracing::instrument(name = "reset_test_tenant", skip_all, fields(partner = %request.caller.partner.company, tenant = %request.caller.tenant))]
pub async fn reset_test_tenant(request: PartnerRequest) -> Result<HttpResponse, ApiError> {
    if request.caller.tenant != Tenant::Test {
        return Err(ApiError::ResetLive);
    }
    request.in_tenant("resetting the test tenant", history::reset).await?;
    tracing::info!(partner = %request.caller.partner.company, "test tenant reset");
    Ok(HttpResponse::NoContent().finish())
}
