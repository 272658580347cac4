//! HTTP handlers, thin: authenticate, read the request, hand it to the service on a blocking
//! thread (a point read of SQLite runs in place: it never waits; a registration's status on
//! PostgreSQL reached directly is awaited on the worker's own connection), write the answer.
//! Every v2, v3 and `/ops` handler takes one [`Request`]: who its token proved (a partner's
//! tenant by v2's or v3's token, an operator), with the request's parameters, its answer and its
//! way to the store.

mod answer;
mod errors;
mod history;
mod ingest;
mod ops;
mod query;
mod v3;

use std::future::{Ready, ready};
use std::sync::{Arc, LazyLock};

use actix_web::dev::Payload;
use actix_web::http::header::{AUTHORIZATION, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, guard, web};
use serde_json::json;

pub use errors::ApiError;

use crate::auth::{self, Caller};
use crate::config::Partners;
use crate::live::Live;
use crate::scope::Scope;
use crate::store::Store;

/// What every handler shares.
pub struct AppState {
    pub store: Arc<Store>,
    /// The partners, their credentials, zones, plans and due times: swapped whole by a reload.
    pub partners: Live<Partners>,
    pub max_body_bytes: usize,
    pub body_timeout: std::time::Duration,
    pub history_retention: chrono::Duration,
    /// Tokens already checked, so a night's calls with one token check it once.
    pub verified_tokens: auth::VerifiedTokens,
    /// The v3 API's audiences; none: no partner is on v3. Swapped by a reload.
    pub v3: Live<Option<crate::config::V3Settings>>,
    /// Who may use the operators' routes. Swapped by a reload.
    pub operators: Live<crate::config::Operators>,
    /// Requests refused at the door, as far as they are kept.
    pub refused: Arc<crate::refused::RefusedLog>,
    /// When this process started serving.
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// The HTTPS certificate new connections are offered, when the server speaks HTTPS.
    pub certificate: Option<Arc<crate::https::Certificate>>,
}

/// Every route the server registers, with its methods: `routes` below registers exactly these,
/// and openapi.yaml describes exactly these (both checked by tests/api/openapi.rs). Every GET
/// route answers HEAD too (health checkers and proxies use it). DELETE on
/// `/v2/partners/{company}` is for `_test` tenants only.
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/healthz", &["GET", "HEAD"]),
    ("/console", &["GET", "HEAD"]),
    ("/console/ops", &["GET", "HEAD"]),
    ("/metrics", &["GET", "HEAD"]),
    ("/openapi.yaml", &["GET", "HEAD"]),
    ("/v2/partners/{company}", &["GET", "HEAD", "POST", "DELETE"]),
    ("/v2/partners/{company}/batches", &["GET", "HEAD"]),
    ("/v2/partners/{company}/batches/{id}", &["GET", "HEAD"]),
    ("/v2/partners/{company}/batches/{id}/rejected.csv", &["GET", "HEAD"]),
    ("/ops/partners", &["GET", "HEAD"]),
    ("/ops/partners/{company}/test", &["DELETE"]),
    ("/ops/batches", &["GET", "HEAD"]),
    ("/ops/batches/{id}", &["GET", "HEAD"]),
    ("/ops/batches/{id}/rejected.csv", &["GET", "HEAD"]),
    ("/ops/records", &["GET", "HEAD"]),
    ("/ops/refused", &["GET", "HEAD"]),
    ("/ops/summary", &["GET", "HEAD"]),
    ("/ops/audit", &["GET", "HEAD"]),
    ("/ops/server", &["GET", "HEAD"]),
    (
        "/api/v3/tire-protection/registrations",
        &["GET", "HEAD", "POST", "PATCH"],
    ),
    ("/api/v3/tire-protection/registrations/{id}", &["GET", "HEAD", "PATCH"]),
    ("/api/v3/tire-protection/registrations/{id}/metadata", &["GET", "HEAD"]),
    ("/api/v3/motor-club/registrations", &["GET", "HEAD", "POST", "PATCH"]),
    ("/api/v3/motor-club/registrations/{id}", &["GET", "HEAD", "PATCH"]),
];

/// The path a request that no route serves may have meant: as a route takes it, whose fixed
/// segments differ from the path's by case alone or by at most two letters in all
/// (`/v2/Partners/acme`, `/v2/partner/acme`, `/ops/batch/7`), nearer than any other route.
pub(crate) fn route_meant(path: &str) -> Option<String> {
    nearest_route(ROUTES.iter().map(|&(route, _)| route), path)
}

/// [`route_meant`] among `routes`.
fn nearest_route<'r>(routes: impl Iterator<Item = &'r str>, path: &str) -> Option<String> {
    let sent: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let near: Vec<(usize, String)> = routes
        .filter_map(|route| {
            let fixed: Vec<&str> = route.split('/').collect();
            if fixed.len() != sent.len() {
                return None;
            }
            let mut edits = 0;
            let mut meant = Vec::with_capacity(fixed.len());
            for (&fixed, &sent) in fixed.iter().zip(&sent) {
                if fixed.starts_with('{') {
                    // A parameter: any value but none.
                    if sent.is_empty() {
                        return None;
                    }
                    meant.push(sent);
                } else {
                    // Longer by more than two letters is too far: not worked out (a path may be long).
                    if sent.len() > fixed.len() + 2 {
                        return None;
                    }
                    edits += strsim::damerau_levenshtein(&fixed.to_ascii_lowercase(), &sent.to_ascii_lowercase());
                    meant.push(fixed);
                }
            }
            (edits <= 2).then(|| (edits, meant.join("/")))
        })
        .collect();
    crate::wire::nearest(near).filter(|meant| meant != path)
}

/// The API's description (OpenAPI 3.1).
const OPENAPI: &str = include_str!("../../openapi.yaml");

/// What a read-only route allows.
const READ_ONLY: &str = "GET, HEAD";

/// What `/v2/partners/{company}` allows on a live company.
pub(crate) const LIVE_COMPANY: &str = "GET, HEAD, POST";

/// `Content-Type: application/json`, from a static string: a `&str` would be checked and copied
/// into a new header value on every response.
pub(super) fn application_json() -> HeaderValue {
    HeaderValue::from_static("application/json")
}

/// What `/v2/partners/{company}` allows: a test tenant can also be reset.
fn company_allows(company: &str) -> &'static str {
    if company.to_ascii_lowercase().ends_with("_test") {
        "GET, HEAD, POST, DELETE"
    } else {
        LIVE_COMPANY
    }
}

/// GET, and HEAD with the same status and headers (actix sends no body for HEAD).
pub(super) fn get_or_head() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// A resource whose other methods are 405 with an `Allow` of `allow`.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move |req: HttpRequest| not_allowed(req, allow)))
}

/// Routes of the v2 and v3 APIs and the operational endpoints. actix tries them in this order
/// (their paths never overlap), so the one the nightly batches and the day's lookups hit comes
/// first: each resource tried before it costs a lookup a pattern match.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/v2/partners/{company}")
            .route(get_or_head().to(query::get_records))
            .route(web::post().to(ingest::post_batch))
            .route(web::delete().to(history::reset_test_tenant))
            .default_service(web::to(|req: HttpRequest| {
                let allow = company_allows(req.match_info().get("company").unwrap_or_default());
                not_allowed(req, allow)
            })),
    )
    .service(resource("/v2/partners/{company}/batches", READ_ONLY).route(get_or_head().to(history::list_batches)))
    .service(resource("/v2/partners/{company}/batches/{id}", READ_ONLY).route(get_or_head().to(history::get_batch)))
    .service(
        resource("/v2/partners/{company}/batches/{id}/rejected.csv", READ_ONLY)
            .route(get_or_head().to(history::rejected_csv)),
    );
    cfg.configure(v3::routes);
    cfg.configure(ops::routes);
    cfg.service(resource("/healthz", READ_ONLY).route(get_or_head().to(healthz)))
        .service(resource("/console", READ_ONLY).route(get_or_head().to(console)))
        .service(resource("/console/ops", READ_ONLY).route(get_or_head().to(ops_console)))
        .service(resource("/metrics", READ_ONLY).route(get_or_head().to(metrics)))
        .service(
            resource("/openapi.yaml", READ_ONLY).route(
                get_or_head().to(|| async { HttpResponse::Ok().content_type("application/yaml").body(OPENAPI) }),
            ),
        )
        .default_service(web::to(not_found));
}

/// What a request is authenticated against (the partners, the token cache) and its
/// Authorization header, as sent.
pub(crate) fn credentials(req: &HttpRequest) -> (&web::Data<AppState>, Option<&[u8]>) {
    let state = req
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered by startup");
    (state, req.headers().get(AUTHORIZATION).map(|v| v.as_bytes()))
}

/// Who a surface's credentials prove: a partner's tenant (v2, v3) or an operator (`/ops`).
pub trait Proven: Sized {
    /// The surface's error: a refusal is answered in the surface's shape.
    type Error: ResponseError + 'static;

    /// Who the Authorization `header` proves; a refusal is logged once, with its reason, by
    /// the request's span, and kept for support.
    fn prove(req: &HttpRequest, state: &AppState, header: Option<&[u8]>) -> Result<Self, Self::Error>;
}

/// A request on an authenticated route: who its credentials proved, the request, and the
/// server's state.
pub struct Request<C> {
    pub caller: C,
    req: HttpRequest,
    state: web::Data<AppState>,
}

impl<C: Proven> FromRequest for Request<C> {
    type Error = C::Error;
    type Future = Ready<Result<Request<C>, C::Error>>;

    /// Authenticates before anything of the request is read.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let (state, header) = credentials(req);
        ready(C::prove(req, state, header).map(|caller| Request {
            caller,
            req: req.clone(),
            state: web::Data::clone(state),
        }))
    }
}

impl<C> Request<C> {
    fn params(&self) -> query::Params<'_> {
        query::Params::of(&self.req)
    }

    /// `value` as a 200, compressed when the client takes gzip.
    fn answer(&self, value: &impl serde::Serialize) -> HttpResponse {
        answer::json_answer(&self.req, actix_web::http::StatusCode::OK, value)
    }

    /// `f` on the store, off the executor (as [`blocking`]); `what` it does names its errors.
    async fn on_store<R: Send + 'static, E: Into<ApiError> + Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Store) -> Result<R, E> + Send + 'static,
    ) -> Result<R, ApiError> {
        let store = Arc::clone(&self.state.store);
        blocking(what, move || f(&store)).await
    }

    /// A point read of the store: on the handler's own thread when the store answers reads
    /// without waiting (SQLite), else as [`Request::on_store`] once a connection is free.
    async fn point_read<R: Send + 'static, E: Into<ApiError> + Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Store) -> Result<R, E> + Send + 'static,
    ) -> Result<R, ApiError> {
        let store = &self.state.store;
        if store.reads_without_waiting() {
            return f(store).map_err(|e| ApiError::context(e.into(), what));
        }
        let _permit = match store.read_permits() {
            Some(permits) => match tokio::time::timeout(crate::store::CONNECTION_WAIT, permits.acquire()).await {
                Ok(Ok(permit)) => Some(permit),
                _ => return Err(ApiError::Unavailable("every database connection is busy")),
            },
            None => None,
        };
        self.on_store(what, f).await
    }
}

impl Proven for Caller {
    type Error = ApiError;

    fn prove(req: &HttpRequest, state: &AppState, header: Option<&[u8]>) -> Result<Caller, ApiError> {
        let company = req.match_info().get("company").unwrap_or_default();
        auth::authenticate(&state.partners.get(), &state.verified_tokens, company, header)
            .inspect(|caller| keep_use(state, caller.used.as_ref()))
            .inspect_err(|e| note_refusal(req, state, e, Some(company)))
            .map_err(ApiError::from)
    }
}

/// A request on a partner's v2 route: the partner and tenant its token proved.
pub type PartnerRequest = Request<Caller>;

impl PartnerRequest {
    /// `f` on the caller's tenant, off the executor (as [`blocking`]).
    async fn in_tenant<R: Send + 'static, E: Into<ApiError> + Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Store, Scope) -> Result<R, E> + Send + 'static,
    ) -> Result<R, ApiError> {
        let scope = self.caller.scope();
        self.on_store(what, move |store| f(store, scope)).await
    }
}

/// Counts a request refused at the door (`reason`, a code), and keeps it for support as the
/// limits allow (`refused::RefusedLog`), written off the request's path: a refusal is answered
/// at once, whatever the database is doing.
pub(crate) fn note_refusal<E: auth::Refused>(req: &HttpRequest, state: &AppState, refused: &E, company: Option<&str>) {
    let reason = refused.reason();
    crate::monitoring::count_refused(reason);
    let at = chrono::Utc::now();
    let client = crate::client::client_of(req);
    let Some(admitted) = state.refused.admit(client, at) else {
        return;
    };
    let partners = state.partners.get();
    let named = company.and_then(|c| auth::resolve_company(&partners, c));
    let refusal = crate::model::refused::Refusal {
        at,
        company: company.map(crate::model::kept_text),
        partner_id: named.map(|(p, _)| p.partner_id),
        tenant: named.map(|(_, t)| t.into_str().to_owned()),
        reason: reason.into_str().to_owned(),
        detail: Some(crate::model::kept_text(&refused.to_string())),
        client: client.map(|ip| ip.to_string()),
        user_agent: req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .map(|ua| crate::model::kept_text(&String::from_utf8_lossy(ua.as_bytes()))),
        method: crate::monitoring::method_label(req.method()).to_owned(),
        path: crate::model::kept_text(req.path()),
    };
    let (store, keep_after) = (Arc::clone(&state.store), at - state.history_retention);
    actix_web::rt::spawn(async move {
        let written = off_executor(move || {
            let _place = admitted;
            crate::refused::record(&store, &refusal, keep_after)
        })
        .await;
        if let Ok(Err(e)) = written {
            tracing::warn!(error = ?crate::telemetry::escaped(e), "a refused request could not be kept");
        }
    });
}

/// Keeps the use of the credential that verified a request's token in the database, for every
/// instance's `/ops/partners` and after a restart, off the request's way. A fault is logged only:
/// the credential's next use in a minute keeps it again.
pub(crate) fn keep_use(state: &AppState, used: Option<&crate::model::credential::CredentialUse>) {
    let Some(used) = used.cloned() else {
        return;
    };
    let store = Arc::clone(&state.store);
    actix_web::rt::spawn(async move {
        let kept = off_executor(move || crate::ops::keep_credential_use(&store, &used)).await;
        if let Ok(Err(e)) = kept {
            tracing::warn!(error = ?crate::telemetry::escaped(e), "a credential's use could not be kept");
        }
    });
}

/// The one way off the async executor: `f` on a blocking thread, started at once, inside the
/// current span (so its log lines carry the request id). Blocking work (the store's, and any
/// CPU-heavy step) never runs on the executor; handlers reach this through [`blocking`] (their
/// [`Request::on_store`] and [`Request::point_read`]), start-up and shutdown directly.
pub(crate) fn off_executor<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> impl Future<Output = Result<R, actix_web::error::BlockingError>> {
    let span = tracing::Span::current();
    web::block(move || span.in_scope(f))
}

/// A handler's blocking work, off the executor: a storage fault is a 503; any other failure is
/// an internal error whose details go to the log only.
pub(crate) async fn blocking<R: Send + 'static, E: Into<ApiError> + Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<R, E> + Send + 'static,
) -> Result<R, ApiError> {
    off_executor(f).await?.map_err(|e| ApiError::context(e.into(), what))
}

/// 200 when the database can be read and take writes; 503 with the reason when it cannot (a
/// load balancer stops sending, a POS waits), and 200 again by itself once it can.
async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let store = Arc::clone(&state.store);
    let reason = match blocking("checking health", move || Ok::<_, ApiError>(store.health())).await {
        Ok(Ok(())) => return HttpResponse::Ok().json(json!({"Status": "ok"})),
        Ok(Err(reason)) => reason,
        Err(_) => "the health check could not run",
    };
    tracing::error!(reason, "health check failed");
    HttpResponse::ServiceUnavailable()
        .insert_header((actix_web::http::header::RETRY_AFTER, errors::RETRY_AFTER_SECS))
        .json(json!({"Status": "unavailable", "Error": reason}))
}

/// Prometheus metrics, for the operator's scraper (no token, like /healthz).
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let (store, partners) = (Arc::clone(&state.store), state.partners.get());
    let certificate = state.certificate.clone();
    let render = move || {
        crate::monitoring::register_counters(&partners);
        let text = crate::monitoring::render(|gauges| {
            if let Some(certificate) = &certificate {
                gauges.certificate(certificate.not_after());
            }
            gauges.build_migration(&crate::store::latest_migration());
            // The gauges the database holds, as of now, in one read. Without the database the
            // rest still renders, at once: the credentials as this instance knows them.
            match crate::ops::scrape(&store, &partners, chrono::Utc::now()) {
                Ok(scrape) => {
                    gauges.partners(&scrape.activity);
                    for a in &scrape.activity {
                        gauges.credentials(&a.partner.company, &a.credentials);
                    }
                    if let Some(last) = &scrape.last_backup {
                        gauges.backup(last);
                    }
                    if let Some(newest) = &scrape.database_migration {
                        gauges.database_migration(newest);
                    }
                    if let Some(bytes) = store.size_bytes() {
                        gauges.database_size(bytes);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = ?crate::telemetry::escaped(e), "the gauges the database holds could not be read");
                    for p in partners.iter() {
                        gauges.credentials(&p.company, &p.credentials());
                    }
                }
            }
        });
        Ok::<_, ApiError>(text)
    };
    match blocking("rendering metrics", render).await {
        Ok(text) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(text),
        Err(e) => e.error_response(),
    }
}

/// The debugging console: one page, plain HTML and a little JavaScript, that calls only the JSON
/// API with the token pasted into it.
static CONSOLE: LazyLock<String> = LazyLock::new(|| with_common(include_str!("../../static/console.html")));

/// The operators' page: partners with late badges, the 30 days' chart (SVG drawn by the page),
/// an invoice's trail, batches with their rejected records and CSV, refused requests, the audit
/// log; it calls only `/ops` with the operator's token pasted into it.
static OPS_CONSOLE: LazyLock<String> = LazyLock::new(|| with_common(include_str!("../../static/console-ops.html")));

/// What both pages' scripts and styles share, written once and put where each page marks it
/// (the mark is the file's name in a comment): each page stays one file to the browser, its
/// script and style inline as the pages' policy allows.
const COMMON: [(&str, &str); 2] = [
    (
        "/* console-common.js */",
        include_str!("../../static/console-common.js"),
    ),
    (
        "/* console-common.css */",
        include_str!("../../static/console-common.css"),
    ),
];

fn with_common(html: &str) -> String {
    COMMON
        .iter()
        .fold(html.to_owned(), |page, (mark, shared)| page.replacen(mark, shared, 1))
}

async fn console() -> HttpResponse {
    page(&CONSOLE)
}

async fn ops_console() -> HttpResponse {
    page(&OPS_CONSOLE)
}

/// A page of the gateway's own: no CDN, nothing from elsewhere, works offline.
fn page(html: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        // The page talks to this server only, and nothing may frame it.
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; \
             frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(html)
}

async fn not_allowed(req: HttpRequest, allow: &'static str) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed {
        method: req.method().to_string(),
        allow,
    })
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::no_route(req.path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each page marks once where the shared script and style go, and is served with them
    /// there: the script inside its <script>, the style first inside its <style>.
    #[test]
    fn each_page_is_served_with_the_shared_script_and_style_in_place() {
        for (file, served) in [
            (include_str!("../../static/console.html"), &*CONSOLE),
            (include_str!("../../static/console-ops.html"), &*OPS_CONSOLE),
        ] {
            for (mark, shared) in COMMON {
                assert_eq!(file.matches(mark).count(), 1, "{mark}");
                assert!(!served.contains(mark), "{mark}");
                assert_eq!(served.matches(shared).count(), 1, "{mark}");
            }
            let style = &served[served.find("<style>").unwrap()..served.find("</style>").unwrap()];
            assert!(style.starts_with(&format!("<style>\n{}", COMMON[1].1)));
            let script = &served[served.find("<script>").unwrap()..served.find("</script>").unwrap()];
            assert!(script.contains(COMMON[0].1));
        }
    }

    #[test]
    fn a_mistyped_path_is_answered_with_the_route_it_may_mean() {
        for (sent, meant) in [
            ("/v2/Partners/TireCompany", Some("/v2/partners/TireCompany")),
            (
                "/V2/partners/acme_test/batches/7/",
                Some("/v2/partners/acme_test/batches/7"),
            ),
            ("/v2/partner/acme", Some("/v2/partners/acme")),
            ("/v2/partners/acme/batch", Some("/v2/partners/acme/batches")),
            (
                "/v2/partners/acme/batches/7/rejected.CSV",
                Some("/v2/partners/acme/batches/7/rejected.csv"),
            ),
            (
                "/api/v3/tire-protection/registration",
                Some("/api/v3/tire-protection/registrations"),
            ),
            ("/ops/batch/7", Some("/ops/batches/7")),
            ("/HealthZ", Some("/healthz")),
            ("/ops/recused", Some("/ops/refused")),
            // Too far, or a parameter left empty: nothing said.
            ("/v2/partners/acme/uploads", None),
            ("/v2/partners//batches", None),
            ("/", None),
        ] {
            assert_eq!(route_meant(sent).as_deref(), meant, "{sent}");
        }
        let long = format!("/v2/partners/acme/{}", "b".repeat(100_000));
        assert_eq!(route_meant(&long), None);
        // Two routes as near: no answer.
        let routes = ["/ops/records", "/ops/recorded"];
        assert_eq!(nearest_route(routes.into_iter(), "/ops/recordd"), None);
        assert_eq!(
            nearest_route(routes.into_iter(), "/ops/recordds").as_deref(),
            Some("/ops/records")
        );
    }
}
