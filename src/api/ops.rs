//! The operators' routes (`/ops`): support staff and admins see across partners. An operator's
//! token (`token --operator`) is the only way in; a partner's token is a 401 here, and an
//! operator's is a 401 on a partner's route. Answers are JSON with snake_case keys
//! (docs/operators.md, "Routes").

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::value::RawValue;

use super::errors::OpsApiError;
use super::history::{batch_conditions, csv_answer, number_param, paging, time_param};
use super::query::{Params, meant};
use super::{ApiError, AppState, Proven, Request, get_or_head};
use crate::auth;
use crate::client::client_of;
use crate::config::{Operator, Partners, Role};
use crate::history;
use crate::model::audit::AuditAction;
use crate::model::backup::Backup;
use crate::model::batch::{
    BatchFilter, BatchSummary, RejectionCount, StoredBatch, TrailEntry, TypeCounts, WarningCount,
};
use crate::model::refused::RefusalFilter;
use crate::ops::{self, Asker, InvoiceSearch, Searched, TenantActivity, Within};
use crate::query::WithPartner;
use crate::records::{Cancellation, Claim, Registration, Sale};
use crate::scope::{Scope, Tenant};
use crate::status::registration_status;
use crate::store;
use crate::store::{Store, StoreError};
use crate::wire::out;

/// The operators' routes, under `/ops`: every answer there, an unknown path's and a wrong
/// method's included, is in the surface's own shape ([`OpsApiError`]).
pub fn routes(cfg: &mut web::ServiceConfig) {
    let resource = |path: &str, allow: &'static str| {
        web::resource(path).default_service(web::to(move |req: HttpRequest| async move {
            Err::<HttpResponse, _>(OpsApiError(ApiError::MethodNotAllowed {
                method: req.method().to_string(),
                allow,
            }))
        }))
    };
    const READ_ONLY: &str = "GET, HEAD";
    cfg.service(
        web::scope("/ops")
            .service(resource("/partners", READ_ONLY).route(get_or_head().to(partners)))
            .service(resource("/partners/{company}/test", "DELETE").route(web::delete().to(reset_test_tenant)))
            .service(resource("/batches", READ_ONLY).route(get_or_head().to(list_batches)))
            .service(resource("/batches/{id}", READ_ONLY).route(get_or_head().to(get_batch)))
            .service(resource("/batches/{id}/rejected.csv", READ_ONLY).route(get_or_head().to(rejected_csv)))
            .service(resource("/records", READ_ONLY).route(get_or_head().to(records)))
            .service(resource("/refused", READ_ONLY).route(get_or_head().to(refused)))
            .service(resource("/summary", READ_ONLY).route(get_or_head().to(summary)))
            .service(resource("/audit", READ_ONLY).route(get_or_head().to(audit)))
            .service(resource("/server", READ_ONLY).route(get_or_head().to(server)))
            .default_service(web::to(|req: HttpRequest| async move {
                Err::<HttpResponse, _>(OpsApiError(ApiError::no_route(req.path())))
            })),
    );
}

/// A request on an operators' route: the operator its token proved, with the role the config
/// gives them.
pub type OpsRequest = Request<Arc<Operator>>;

impl Proven for Arc<Operator> {
    type Error = OpsApiError;

    fn prove(req: &HttpRequest, state: &AppState, header: Option<&[u8]>) -> Result<Arc<Operator>, OpsApiError> {
        auth::authenticate_operator(&state.operators.get(), header)
            .inspect_err(|e| super::note_refusal(req, state, e, None))
            .map_err(OpsApiError::from)
    }
}

/// A batch as the operators' routes show it: the partner's `/batches` entry in snake_case, with
/// whose it is.
#[derive(Serialize)]
struct OpsBatch {
    batch_id: i64,
    /// The partner's company; null when the partner is no longer configured.
    company: Option<String>,
    partner_id: i64,
    tenant: &'static str,
    #[serde(serialize_with = "out::timestamp")]
    received_at: DateTime<Utc>,
    #[serde(serialize_with = "out::status")]
    status: StatusCode,
    duration_ms: u64,
    bytes: u64,
    records: SnakeCounts,
    /// How many warnings its answer gave.
    warnings: u64,
    error: Option<String>,
}

impl OpsBatch {
    fn of(state: &AppState, partner_id: i64, summary: BatchSummary) -> OpsBatch {
        OpsBatch {
            batch_id: summary.batch_id,
            company: state.partners.get().company_of(partner_id),
            partner_id,
            tenant: summary.tenant,
            received_at: summary.received_at,
            status: summary.status,
            duration_ms: summary.duration_ms,
            bytes: summary.bytes,
            records: SnakeCounts(summary.counts),
            warnings: summary.warnings,
            error: summary.error,
        }
    }
}

/// Each record type's accepted and rejected counts, keyed `registrations`, `sales`...
struct SnakeCounts(TypeCounts);

impl Serialize for SnakeCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Counts {
            accepted: usize,
            rejected: usize,
        }
        let mut map = s.serialize_map(None)?;
        for (kind, counts) in self.0.iter() {
            let counts = Counts {
                accepted: counts.accepted,
                rejected: counts.rejected,
            };
            map.serialize_entry(&kind.name().to_ascii_lowercase(), &counts)?;
        }
        map.end()
    }
}

/// One page of a list, as every `/ops` list answers it.
#[derive(Serialize)]
struct OpsPage<T> {
    page: u32,
    page_size: u32,
    total: u64,
    items: Vec<T>,
}

#[derive(Serialize)]
struct OpsBatchDetail {
    #[serde(flatten)]
    batch: OpsBatch,
    /// The result entries of its rejected records, as the partner's response carried them.
    rejected_records: Vec<Box<RawValue>>,
    /// Past those, each record type's errors counted by field and code.
    rejected_counts: Vec<SnakeRejectionCount>,
    /// Its records' warnings, counted by record type, field and kind.
    warning_counts: Vec<SnakeWarningCount>,
}

#[derive(Serialize)]
struct SnakeWarningCount {
    record: String,
    field: String,
    code: String,
    count: u64,
    first_index: u64,
    message: String,
}

impl From<WarningCount> for SnakeWarningCount {
    fn from(w: WarningCount) -> Self {
        SnakeWarningCount {
            record: w.record,
            field: w.field,
            code: w.kind,
            count: w.count,
            first_index: w.first_index,
            message: w.message,
        }
    }
}

#[derive(Serialize)]
struct SnakeRejectionCount {
    record: String,
    field: String,
    code: String,
    count: u64,
}

impl From<RejectionCount> for SnakeRejectionCount {
    fn from(c: RejectionCount) -> Self {
        SnakeRejectionCount {
            record: c.record,
            field: c.field,
            code: c.code,
            count: c.count,
        }
    }
}

/// `company`: a configured partner's id; an unknown company named.
fn company_param(state: &AppState, params: &Params) -> Result<Option<i64>, ApiError> {
    params
        .once("company")?
        .map(|company| {
            let partners = state.partners.get();
            partners.by_company(company).map(|p| p.partner_id).ok_or_else(|| {
                let companies: Vec<&str> = partners.iter().map(|p| p.company.as_str()).collect();
                ApiError::BadParameter(format!(
                    "company {} is not a partner of this gateway{}",
                    crate::wire::echo(company),
                    meant(company, &companies).map_or(String::new(), |c| format!(": is it {c}?"))
                ))
            })
        })
        .transpose()
}

/// `tenant`: live or test.
fn tenant_param(params: &Params) -> Result<Option<Tenant>, ApiError> {
    params
        .once("tenant")?
        .map(|tenant| {
            tenant.parse::<Tenant>().map_err(|_| {
                ApiError::BadParameter(format!(
                    "tenant must be live or test, got {}",
                    crate::wire::echo(tenant)
                ))
            })
        })
        .transpose()
}

/// The filter of `/ops/batches`: each parameter checked, an unknown company named.
fn batch_filter(state: &AppState, params: &Params) -> Result<BatchFilter, ApiError> {
    params.only(&["company", "tenant", "status", "since", "until", "page", "pageSize"])?;
    batch_conditions(params, company_param(state, params)?, tenant_param(params)?)
}

/// GET /ops/batches?company=&tenant=&status=&since=&until=&page=&pageSize=: every partner's
/// batches the filters name, newest first.
#[tracing::instrument(name = "ops_batches", skip_all, fields(operator = %request.caller.name))]
pub async fn list_batches(request: OpsRequest) -> Result<HttpResponse, OpsApiError> {
    let params = request.params();
    let filter = batch_filter(&request.state, &params)?;
    let (page, page_size) = paging(&params)?;
    let (total, found) = request
        .on_store("listing batches across partners", move |store| {
            history::list(store, &filter, page, page_size)
        })
        .await?;
    let items = found
        .into_iter()
        .map(|(partner_id, summary)| OpsBatch::of(&request.state, partner_id, summary))
        .collect();
    Ok(request.page_answer((page, page_size), total, items))
}

/// Any partner's batch `id`, opened by the caller for `action` (audited); 404 when there is
/// none.
async fn open_batch(
    request: &OpsRequest,
    id: &str,
    action: AuditAction,
) -> Result<(i64, Scope, StoredBatch), ApiError> {
    let not_found = || ApiError::NotFound(format!("batch {id}"));
    let Ok(batch_id) = id.parse::<i64>() else {
        return Err(not_found());
    };
    let found = request
        .asking(
            &request.state.partners.get(),
            "reading a batch",
            move |store, partners, asker| ops::open_batch(store, partners, asker, action, batch_id),
        )
        .await?;
    let (scope, batch) = found.ok_or_else(not_found)?;
    Ok((batch_id, scope, batch))
}

/// GET /ops/batches/{id}: any partner's batch, with its rejected records.
#[tracing::instrument(name = "ops_batch", skip_all, fields(operator = %request.caller.name))]
pub async fn get_batch(request: OpsRequest, id: web::Path<String>) -> Result<HttpResponse, OpsApiError> {
    let (_, scope, batch) = open_batch(&request, &id, AuditAction::BatchDetail).await?;
    let detail = OpsBatchDetail {
        batch: OpsBatch::of(&request.state, scope.partner_id, batch.summary),
        rejected_records: batch.rejected.into_iter().map(|(entry, _)| entry).collect(),
        rejected_counts: batch.counted.into_iter().map(SnakeRejectionCount::from).collect(),
        warning_counts: batch.warned.into_iter().map(SnakeWarningCount::from).collect(),
    };
    Ok(request.answer(&detail))
}

/// GET /ops/batches/{id}/rejected.csv: any partner's batch's rejected records, a row per error
/// with the record as sent (audited).
#[tracing::instrument(name = "ops_rejected_csv", skip_all, fields(operator = %request.caller.name))]
pub async fn rejected_csv(request: OpsRequest, id: web::Path<String>) -> Result<HttpResponse, OpsApiError> {
    let (batch_id, _, batch) = open_batch(&request, &id, AuditAction::RejectedCsv).await?;
    Ok(csv_answer(batch_id, &batch)?)
}

/// One partner's tenant's records of an invoice, and its trail.
#[derive(Serialize)]
struct OpsMatch {
    company: Option<String>,
    partner_id: i64,
    tenant: &'static str,
    shop_id: String,
    /// The guide's shapes, as the partner's own GET answers them.
    registration: Option<WithPartner<Registration>>,
    status: Option<serde_json::Value>,
    claims: Vec<WithPartner<Claim>>,
    sales: Vec<WithPartner<Sale>>,
    cancellations: Vec<WithPartner<Cancellation>>,
    trail: Vec<TrailEntry>,
}

#[derive(Serialize)]
struct OpsMatches {
    matches: Vec<OpsMatch>,
    /// No match at the ShopID asked: the shops that have the InvoiceNumber (at most 25).
    other_shops: Vec<String>,
}

/// Each record in the guide's shape, PartnerID first.
fn with_partner<T>(partner_id: i64, records: impl IntoIterator<Item = T>) -> Vec<WithPartner<T>> {
    records
        .into_iter()
        .map(|record| WithPartner { partner_id, record })
        .collect()
}

/// A text parameter given at most once, without its padding; blank is absent.
fn optional_text(params: &Params, name: &str) -> Result<Option<String>, ApiError> {
    Ok(params
        .once(name)?
        .filter(|text| !text.trim().is_empty())
        .map(|text| crate::wire::trim_padding(text).to_owned()))
}

/// `/ops/records?id=`: the search of the invoice that a v3 id's registration is filed under (at
/// its shop, in its partner's tenant), and that invoice as the answer names it. The id names all
/// of that, so it comes alone; a motor-club membership's id is said to be one.
async fn by_v3_id(
    request: &OpsRequest,
    params: &Params<'_>,
    partners: &Arc<Partners>,
    id: String,
) -> Result<(Searched, String), ApiError> {
    if let Some(other) = ["InvoiceNumber", "ShopID", "company", "tenant"]
        .into_iter()
        .find(|n| params.once(n).ok().flatten().is_some())
    {
        return Err(ApiError::BadParameter(format!(
            "id names one registration (its partner, tenant, shop and invoice): send it without {other}"
        )));
    }
    let echoed = crate::wire::echo(&id);
    let found = request
        .asking(partners, "searching a v3 id", move |store, partners, asker| {
            ops::search_v3_id(store, partners, asker, &id)
        })
        .await?;
    match found {
        ops::IdSearched::Registration(searched) => Ok((searched, format!("of v3 id {echoed}"))),
        ops::IdSearched::Nothing => Ok((
            Searched::Found {
                matches: Vec::new(),
                other_shops: Vec::new(),
            },
            echoed,
        )),
        ops::IdSearched::MotorClub(scope) => Err(ApiError::BadParameter(format!(
            "id {echoed} is a motor-club membership of {} ({}), which is no v2 record: the search finds \
             tire-protection registrations and v2 records",
            partners
                .company_of(scope.partner_id)
                .unwrap_or_else(|| format!("partner {}", scope.partner_id)),
            scope.tenant
        ))),
    }
}

/// A required text parameter: present, once, not blank. (One sent under another name, such as
/// `invoice`, is refused before, by [`Params::only`], as what it may be.)
fn required_text(params: &Params, name: &str) -> Result<String, ApiError> {
    optional_text(params, name)?.ok_or_else(|| ApiError::BadParameter(format!("{name} is required")))
}

/// GET /ops/records?InvoiceNumber=[&ShopID=][&company=][&tenant=]: every partner's tenant that
/// stores a record of that invoice (at that shop, or at each shop that has it), or whose
/// history carried one, with those records and the trail (audited).
#[tracing::instrument(name = "ops_records", skip_all, fields(operator = %request.caller.name))]
pub async fn records(request: OpsRequest) -> Result<HttpResponse, OpsApiError> {
    let params = request.params();
    params.only(&["InvoiceNumber", "ShopID", "company", "tenant", "id"])?;
    let now = Utc::now();
    // One reading of the partners for the search and for naming what it found.
    let partners = request.state.partners.get();
    let (found, invoice) = match optional_text(&params, "id")? {
        Some(id) => by_v3_id(&request, &params, &partners, id).await?,
        None => {
            let search = InvoiceSearch {
                invoice_number: required_text(&params, "InvoiceNumber")?,
                shop_id: optional_text(&params, "ShopID")?,
            };
            let invoice = crate::wire::echo(&search.invoice_number);
            let within = Within {
                partner_id: company_param(&request.state, &params)?,
                tenant: tenant_param(&params)?,
            };
            let found = request
                .asking(
                    &partners,
                    "searching an invoice's records",
                    move |store, partners, asker| ops::search_records(store, partners, asker, &search, within),
                )
                .await?;
            (found, invoice)
        }
    };
    let (found, other_shops) = match found {
        Searched::Found { matches, other_shops } => (matches, other_shops),
        Searched::TooManyShops(shops) => {
            return Err(ApiError::BadParameter(format!(
                "InvoiceNumber {invoice} is at {shops} shops, more than the {} a search answers for: add ShopID (or company, or tenant)",
                ops::MAX_SHOPS
            ))
            .into());
        }
    };
    let matches = found
        .into_iter()
        .map(|m| {
            let partner = partners.iter().find(|p| p.partner_id == m.scope.partner_id);
            let id = m.scope.partner_id;
            let status = match (&m.usage, partner) {
                (Some(usage), Some(partner)) => Some(serde_json::to_value(registration_status(
                    usage,
                    partner.partner_id,
                    partner.plan(),
                    now,
                ))?),
                _ => None,
            };
            Ok(OpsMatch {
                company: partner.map(|p| p.company.clone()),
                partner_id: m.scope.partner_id,
                tenant: m.scope.tenant.into_str(),
                shop_id: m.shop_id,
                registration: with_partner(id, m.registration).pop(),
                status,
                claims: with_partner(id, m.claims),
                sales: with_partner(id, m.sales),
                cancellations: with_partner(id, m.cancellations),
                trail: m.trail,
            })
        })
        .collect::<Result<Vec<_>, serde_json::Error>>()
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e)))?;
    Ok(request.answer(&OpsMatches { matches, other_shops }))
}

/// One UTC day of one partner's tenant, summed.
#[derive(Serialize)]
struct OpsDay {
    date: String,
    company: Option<String>,
    partner_id: i64,
    tenant: &'static str,
    batches: u64,
    records_written: u64,
    records_rejected: u64,
}

#[derive(Serialize)]
struct OpsSummary {
    days: Vec<OpsDay>,
}

/// The most days `/ops/summary` sums (a leap year).
const MAX_SUMMARY_DAYS: u32 = 366;

/// GET /ops/summary?days=N[&company=]: the last N UTC days (today included, 30 by default),
/// one entry per day, partner and tenant that had batches: batches, records written and
/// rejected. What the operators' chart draws; the history keeps `history_retention_days`.
#[tracing::instrument(name = "ops_summary", skip_all, fields(operator = %request.caller.name))]
pub async fn summary(request: OpsRequest) -> Result<HttpResponse, OpsApiError> {
    let params = request.params();
    params.only(&["days", "company"])?;
    let days = number_param(&params, "days", 30, 1, MAX_SUMMARY_DAYS)?;
    let partner_id = company_param(&request.state, &params)?;
    let today = Utc::now().date_naive();
    let first = today - chrono::Days::new(u64::from(days - 1));
    let since = first.and_time(chrono::NaiveTime::MIN).and_utc();
    let found = request
        .on_store("summing the days' batches", move |store| {
            history::day_summaries(store, since, partner_id)
        })
        .await?;
    let partners = request.state.partners.get();
    let days = found
        .into_iter()
        .map(|d| OpsDay {
            date: d.date,
            company: partners.company_of(d.partner_id),
            partner_id: d.partner_id,
            tenant: d.tenant.into_str(),
            batches: d.batches,
            records_written: d.records_written,
            records_rejected: d.records_rejected,
        })
        .collect();
    Ok(request.answer(&OpsSummary { days }))
}

#[derive(Serialize)]
struct OpsPartners {
    partners: Vec<OpsPartner>,
}

#[derive(Serialize)]
struct OpsPartner {
    company: String,
    partner_id: i64,
    timezone: String,
    /// `HH:MM` in its time zone, or null when no nightly batch is expected.
    expected_upload_by: Option<String>,
    /// The days (`Mon`...) on whose mornings it is due, in its time zone; null with no time.
    upload_days: Option<Vec<String>>,
    live: OpsTenantActivity,
    test: OpsTenantActivity,
    /// Its secrets (by position from 1) and v3 keys (by kid): what a rotation waits on.
    credentials: Vec<OpsCredential>,
}

/// One credential: never its value.
#[derive(Serialize)]
struct OpsCredential {
    kind: &'static str,
    id: String,
    #[serde(serialize_with = "out::opt_timestamp")]
    not_after: Option<DateTime<Utc>>,
    /// When it last verified a token on any instance (kept in the database to the minute; this
    /// instance's own to the second); null when it has not (in the last 400 days).
    #[serde(serialize_with = "out::opt_timestamp")]
    last_used_at: Option<DateTime<Utc>>,
}

impl From<crate::config::CredentialInfo> for OpsCredential {
    fn from(c: crate::config::CredentialInfo) -> Self {
        OpsCredential {
            kind: c.kind.into_str(),
            id: c.id,
            not_after: c.not_after,
            last_used_at: c.last_used_at,
        }
    }
}

#[derive(Serialize)]
struct OpsTenantActivity {
    #[serde(serialize_with = "out::opt_timestamp")]
    last_batch_at: Option<DateTime<Utc>>,
    late: bool,
    last_24h: OpsLast24h,
}

#[derive(Serialize)]
struct OpsLast24h {
    batches: u64,
    records_written: u64,
    records_rejected: u64,
    warnings: u64,
    refused_requests: u64,
}

impl From<TenantActivity> for OpsTenantActivity {
    fn from(a: TenantActivity) -> Self {
        OpsTenantActivity {
            last_batch_at: a.last_batch_at,
            late: a.late,
            last_24h: OpsLast24h {
                batches: a.last_24h.batches,
                records_written: a.last_24h.records_written,
                records_rejected: a.last_24h.records_rejected,
                warnings: a.last_24h.warnings,
                refused_requests: a.refused_requests,
            },
        }
    }
}

/// GET /ops/partners: every configured partner, whether its nightly batch is late, and what
/// each tenant did in the last 24 hours.
#[tracing::instrument(name = "ops_partners", skip_all, fields(operator = %request.caller.name))]
pub async fn partners(request: OpsRequest) -> Result<HttpResponse, OpsApiError> {
    request.params().only(&[])?;
    let partners = request.state.partners.get();
    let found = request
        .on_store("reading the partners' activity", move |store| {
            ops::partners_activity(store, &partners, Utc::now())
        })
        .await?;
    let partners = found
        .into_iter()
        .map(|a| OpsPartner {
            company: a.partner.company.clone(),
            partner_id: a.partner.partner_id,
            timezone: a.partner.timezone.name().to_owned(),
            expected_upload_by: a.partner.upload_due.map(|due| due.by.format("%H:%M").to_string()),
            upload_days: (a.partner.upload_due)
                .map(|due| due.days.iter(chrono::Weekday::Mon).map(|d| d.to_string()).collect()),
            live: a.live.into(),
            test: a.test.into(),
            credentials: a.credentials.into_iter().map(Into::into).collect(),
        })
        .collect();
    Ok(request.answer(&OpsPartners { partners }))
}

/// GET /ops/refused?company=&since=&page=&pageSize=: requests refused before they reached a
/// partner's data (as far as they were kept), newest first.
#[tracing::instrument(name = "ops_refused", skip_all, fields(operator = %request.caller.name))]
pub async fn refused(request: OpsRequest) -> Result<HttpResponse, OpsApiError> {
    let params = request.params();
    params.only(&["company", "since", "page", "pageSize"])?;
    let filter = RefusalFilter {
        partner_id: company_param(&request.state, &params)?,
        since: time_param(&params, "since")?,
    };
    let (page, page_size) = paging(&params)?;
    let (total, items) = request
        .on_store("listing refused requests", move |store| {
            crate::refused::list(store, &filter, page, page_size)
        })
        .await?;
    Ok(request.page_answer((page, page_size), total, items))
}

impl OpsRequest {
    /// `f` off the executor, asked by this operator from the request's client, now: what an
    /// audit entry says of who asked. `partners` is the request's one reading of them.
    async fn asking<R: Send + 'static>(
        &self,
        partners: &Arc<Partners>,
        what: &'static str,
        f: impl FnOnce(&Store, &Partners, &Asker<'_>) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, ApiError> {
        let (partners, operator) = (Arc::clone(partners), Arc::clone(&self.caller));
        let client = client_of(&self.req).map(|ip| ip.to_string());
        self.on_store(what, move |store| {
            let asker = Asker {
                operator: &operator,
                client,
                at: Utc::now(),
            };
            f(store, &partners, &asker)
        })
        .await
    }

    /// One page of a listing (of `total` items), as a 200.
    fn page_answer<T: Serialize>(&self, (page, page_size): (u32, u32), total: u64, items: Vec<T>) -> HttpResponse {
        self.answer(&OpsPage {
            page,
            page_size,
            total,
            items,
        })
    }

    /// The operator, when an admin; a 403 naming `what` otherwise.
    fn admin(&self, what: &str) -> Result<&Operator, ApiError> {
        match self.caller.role {
            Role::Admin => Ok(&self.caller),
            role => Err(ApiError::Forbidden(format!(
                "{what} is for admins; {} is {}",
                self.caller.name,
                role.into_str()
            ))),
        }
    }
}

/// DELETE /ops/partners/{company}/test: an admin resets a partner's test tenant (its records
/// and batch history), as the partner's own DELETE would; audited.
#[tracing::instrument(name = "ops_reset_test", skip_all, fields(operator = %request.caller.name))]
pub async fn reset_test_tenant(request: OpsRequest, company: web::Path<String>) -> Result<HttpResponse, OpsApiError> {
    request.admin("resetting a test tenant")?;
    let partner = request
        .state
        .partners
        .get()
        .by_company(&company)
        .cloned()
        .ok_or_else(|| ApiError::NotFound(format!("partner {}", crate::wire::echo(&company))))?;
    let company = partner.company.clone();
    request
        .asking(
            &request.state.partners.get(),
            "resetting a test tenant",
            move |store, _, asker| ops::reset_test_tenant(store, &partner, asker),
        )
        .await?;
    tracing::info!(partner = %company, "test tenant reset by an operator");
    Ok(HttpResponse::NoContent().finish())
}

/// What `/ops/server` says of this instance.
#[derive(Serialize)]
struct OpsServer {
    version: &'static str,
    /// The newest migration this build knows (`V16__schema_compatibility`).
    schema: String,
    #[serde(serialize_with = "crate::wire::out::timestamp")]
    started_at: DateTime<Utc>,
    database: OpsDatabase,
    /// When the HTTPS certificate it offers stops being valid; null when it speaks plain HTTP.
    #[serde(serialize_with = "crate::wire::out::opt_timestamp")]
    https_certificate_not_after: Option<DateTime<Utc>>,
    /// The newest backup `warranty-gateway backup` made of the database; null before the first.
    last_backup: Option<Backup>,
}

#[derive(Serialize)]
struct OpsDatabase {
    engine: &'static str,
    /// The SQLite file and its WAL, or the PostgreSQL database; null when it cannot be read.
    size_bytes: Option<u64>,
    /// The newest migration applied to it: a newer build's than `schema` once one migrated it
    /// (in a rolling upgrade, an instance still to be upgraded).
    schema: Option<String>,
}

/// GET /ops/server: this instance's build, start, database and HTTPS certificate, for an
/// operator without Prometheus (each instance answers for itself).
#[tracing::instrument(name = "ops_server", skip_all, fields(operator = %request.caller.name))]
pub async fn server(request: OpsRequest) -> Result<HttpResponse, OpsApiError> {
    request.params().only(&[])?;
    let state = &request.state;
    let (size_bytes, (last_backup, migration)) = request
        .on_store("measuring the database", |store| {
            // The read first: a database out of reach is a 503 after one wait, not two.
            let read = ops::server(store)?;
            Ok::<_, ApiError>((store.size_bytes(), read))
        })
        .await?;
    Ok(request.answer(&OpsServer {
        version: env!("CARGO_PKG_VERSION"),
        schema: store::latest_migration().to_string(),
        started_at: state.started_at,
        database: OpsDatabase {
            engine: state.store.engine(),
            size_bytes,
            schema: migration.map(|m| m.to_string()),
        },
        https_certificate_not_after: state.certificate.as_ref().map(|c| c.not_after()),
        last_backup,
    }))
}

/// GET /ops/audit?page=&pageSize=: the audit log, newest first; admins only.
#[tracing::instrument(name = "ops_audit", skip_all, fields(operator = %request.caller.name))]
pub async fn audit(request: OpsRequest) -> Result<HttpResponse, OpsApiError> {
    request.admin("the audit log")?;
    let params = request.params();
    params.only(&["page", "pageSize"])?;
    let (page, page_size) = paging(&params)?;
    let (total, items) = request
        .on_store("reading the audit log", move |store| {
            ops::audit_log(store, page, page_size)
        })
        .await?;
    Ok(request.page_answer((page, page_size), total, items))
}
