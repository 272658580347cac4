//! The v3 resource API's handlers (under `/api/v3`): authenticate with ES256, read the
//! request, call `crate::v3` on a blocking thread, answer in v3's shapes.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::answer::json_answer;
use super::errors::V3ApiError;
use super::{ApiError, AppState, blocking, get_or_head};
use crate::auth::{self, Caller};
use crate::config::Partner;
use crate::scope::Scope;
use crate::store::Store;
use crate::v3::{self, PageRequest};

/// Where the v3 API is served.
pub const PREFIX: &str = "/api/v3";

/// The largest v3 body: one registration (a v2 batch may be far larger).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A caller a v3 token authenticated: the partner its `iss` names, the tenant its `aud` names.
pub struct V3Caller(Caller);

impl FromRequest for V3Caller {
    type Error = V3ApiError;
    type Future = Ready<Result<V3Caller, V3ApiError>>;

    /// Authenticates before anything of the request is read.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req
            .app_data::<web::Data<AppState>>()
            .expect("AppState is registered by startup");
        let header = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
        ready(
            auth::authenticate_v3(&state.partners, state.v3.as_deref(), header)
                .map(V3Caller)
                .map_err(V3ApiError::from),
        )
    }
}

/// What each v3 resource allows.
const REGISTRATIONS: &str = "GET, HEAD, POST, PATCH";
const ONE: &str = "GET, HEAD, PATCH";
const METADATA: &str = "GET, HEAD";

/// The v3 routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let resource = |path: &str, allow: &'static str| {
        web::resource(path).default_service(web::to(move || async move {
            Err::<HttpResponse, _>(V3ApiError::MethodNotAllowed(allow))
        }))
    };
    cfg.service(
        web::scope(PREFIX)
            .service(
                resource("/tire-protection/registrations", REGISTRATIONS)
                    .route(get_or_head().to(list_tire_protection))
                    .route(web::post().to(create_tire_protection))
                    .route(web::patch().to(cancel_tire_protection)),
            )
            .service(
                resource("/tire-protection/registrations/{id}", ONE)
                    .route(get_or_head().to(get_tire_protection))
                    .route(web::patch().to(cancel_tire_protection)),
            )
            .service(
                resource("/tire-protection/registrations/{id}/metadata", METADATA)
                    .route(get_or_head().to(tire_protection_metadata)),
            )
            .service(
                resource("/motor-club/registrations", REGISTRATIONS)
                    .route(get_or_head().to(list_motor_club))
                    .route(web::post().to(create_motor_club))
                    .route(web::patch().to(change_motor_club)),
            )
            .service(
                resource("/motor-club/registrations/{id}", ONE)
                    .route(get_or_head().to(get_motor_club))
                    .route(web::patch().to(change_motor_club)),
            )
            .default_service(web::to(|req: HttpRequest| async move {
                Err::<HttpResponse, _>(V3ApiError::from(ApiError::NotFound(req.path().to_owned())))
            })),
    );
}

/// POST and PATCH take JSON only (415 otherwise), as v3's docs say.
fn require_json(req: &HttpRequest) -> Result<(), V3ApiError> {
    let json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if json { Ok(()) } else { Err(V3ApiError::NotJsonContent) }
}

/// The body of a POST or PATCH: JSON (415 otherwise), at most one registration's size, within
/// the body timeout.
async fn json_body(req: &HttpRequest, payload: web::Payload, state: &AppState) -> Result<Vec<u8>, V3ApiError> {
    require_json(req)?;
    let limit = MAX_BODY_BYTES.min(state.max_body_bytes);
    Ok(super::ingest::read_body(req, payload, limit, state.body_timeout).await?)
}

/// Runs a v3 service for the caller (its partner and tenant) on a blocking thread.
async fn service<R: Send + 'static>(
    what: &'static str,
    caller: &V3Caller,
    state: &AppState,
    f: impl FnOnce(&Store, &Partner, Scope) -> Result<R, v3::V3Error> + Send + 'static,
) -> Result<R, V3ApiError> {
    let (store, partner, scope) = (
        Arc::clone(&state.store),
        Arc::clone(&caller.0.partner),
        caller.0.scope(),
    );
    Ok(blocking(what, move || Ok::<_, ApiError>(f(&store, &partner, scope))).await??)
}

/// POST /api/v3/tire-protection/registrations: 201 with the new id and its Location.
#[tracing::instrument(name = "v3_create", skip_all, fields(partner = %caller.0.partner.company, tenant = %caller.0.tenant.as_str()))]
async fn create_tire_protection(
    caller: V3Caller,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V3ApiError> {
    let body = json_body(&req, payload, &state).await?;
    let id = service(
        "registering through v3",
        &caller,
        &state,
        move |store, partner, scope| v3::create_tire_protection(store, partner, scope, &body, Utc::now()),
    )
    .await?;
    Ok(created(&req, &id))
}

/// 201 with the new registration's id, and its Location under the collection it was posted to.
fn created(req: &HttpRequest, id: &str) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((LOCATION, format!("{}/{id}", req.path().trim_end_matches('/'))))
        .json(json!({ "id": id }))
}

/// A PATCH's service: changes the target with the body.
type ChangeService = fn(&Store, &Partner, Scope, &v3::Target, &[u8], DateTime<Utc>) -> Result<(), v3::V3Error>;

/// The registration a PATCH names: `{id}` in the path, else the query's invoiceNumber (and
/// storeNumber). Extracted after `V3Caller`, so a bad token is a 401 before a bad query is a 400.
struct PatchTarget(v3::Target);

impl FromRequest for PatchTarget {
    type Error = V3ApiError;
    type Future = Ready<Result<PatchTarget, V3ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let target = match req.match_info().get("id") {
            Some(id) => Ok(v3::Target::Id(id.to_owned())),
            None => v3::Target::from_query(req.path(), req.query_string()),
        };
        ready(target.map(PatchTarget).map_err(V3ApiError::from))
    }
}

/// What a PATCH does: its service, and what it is called in logs.
#[derive(Clone, Copy)]
struct Patch {
    what: &'static str,
    change: ChangeService,
}

const CANCEL_TIRE_PROTECTION: Patch = Patch {
    what: "cancelling through v3",
    change: v3::cancel_tire_protection,
};
const CHANGE_MOTOR_CLUB: Patch = Patch {
    what: "changing a v3 motor-club registration",
    change: v3::change_motor_club,
};

/// A PATCH: reads the JSON body, runs its change on the target, answers 204.
#[tracing::instrument(name = "v3_patch", skip_all, fields(partner = %caller.0.partner.company, tenant = %caller.0.tenant.as_str(), what = patch.what))]
async fn patch(
    patch: Patch,
    caller: V3Caller,
    target: v3::Target,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V3ApiError> {
    let body = json_body(&req, payload, &state).await?;
    service(patch.what, &caller, &state, move |store, partner, scope| {
        (patch.change)(store, partner, scope, &target, &body, Utc::now())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// GET /api/v3/tire-protection/registrations/{id}
async fn get_tire_protection(
    caller: V3Caller,
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V3ApiError> {
    let found = service(
        "reading a v3 registration",
        &caller,
        &state,
        move |store, partner, scope| v3::tire_protection(store, partner, scope, &id),
    )
    .await?;
    Ok(json_answer(&req, StatusCode::OK, &found))
}

/// GET /api/v3/tire-protection/registrations/{id}/metadata
async fn tire_protection_metadata(
    caller: V3Caller,
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V3ApiError> {
    let found = service(
        "reading a v3 registration's metadata",
        &caller,
        &state,
        move |store, partner, scope| v3::tire_protection_metadata(store, partner, scope, &id, Utc::now()),
    )
    .await?;
    Ok(json_answer(&req, StatusCode::OK, &found))
}

/// GET /api/v3/tire-protection/registrations?page=&pageSize=&invoiceNumber=&storeNumber=
async fn list_tire_protection(
    caller: V3Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V3ApiError> {
    let request = PageRequest::parse(req.query_string(), &["invoiceNumber", "storeNumber"])?;
    let page = service(
        "listing v3 registrations",
        &caller,
        &state,
        move |store, partner, scope| v3::tire_protection_page(store, partner, scope, &request),
    )
    .await?;
    Ok(json_answer(&req, StatusCode::OK, &page))
}

/// POST /api/v3/motor-club/registrations: 201 with the new id and its Location.
#[tracing::instrument(name = "v3_create_motor_club", skip_all, fields(partner = %caller.0.partner.company, tenant = %caller.0.tenant.as_str()))]
async fn create_motor_club(
    caller: V3Caller,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V3ApiError> {
    let body = json_body(&req, payload, &state).await?;
    let id = service(
        "registering a motor-club member through v3",
        &caller,
        &state,
        move |store, partner, scope| v3::create_motor_club(store, partner, scope, &body, Utc::now()),
    )
    .await?;
    Ok(created(&req, &id))
}

/// GET /api/v3/motor-club/registrations/{id}
async fn get_motor_club(
    caller: V3Caller,
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V3ApiError> {
    let found = service(
        "reading a v3 motor-club registration",
        &caller,
        &state,
        move |store, partner, scope| v3::motor_club(store, partner, scope, &id),
    )
    .await?;
    Ok(json_answer(&req, StatusCode::OK, &found))
}

/// GET /api/v3/motor-club/registrations?page=&pageSize=&invoiceNumber=&storeNumber=
async fn list_motor_club(
    caller: V3Caller,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V3ApiError> {
    let request = PageRequest::parse(req.query_string(), &["invoiceNumber", "storeNumber"])?;
    let page = service(
        "listing v3 motor-club registrations",
        &caller,
        &state,
        move |store, partner, scope| v3::motor_club_page(store, partner, scope, &request),
    )
    .await?;
    Ok(json_answer(&req, StatusCode::OK, &page))
}

/// PATCH /api/v3/tire-protection/registrations/{id} (or ?invoiceNumber=...[&storeNumber=...])
/// with `{"cancelledOn": ...}`: 204.
async fn cancel_tire_protection(
    caller: V3Caller,
    target: PatchTarget,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V3ApiError> {
    patch(CANCEL_TIRE_PROTECTION, caller, target.0, req, payload, state).await
}

/// PATCH /api/v3/motor-club/registrations/{id} (or ?invoiceNumber=...[&storeNumber=...]) with
/// `{"customer": ...}` or `{"cancelledOn": ...}`: 204.
async fn change_motor_club(
    caller: V3Caller,
    target: PatchTarget,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V3ApiError> {
    patch(CHANGE_MOTOR_CLUB, caller, target.0, req, payload, state).await
}
