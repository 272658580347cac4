//! The v3 resource API's handlers (under `/api/v3`): authenticate with ES256, read the
//! request, call `crate::v3` on a blocking thread, answer in v3's shapes.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::{FromRequest, HttpRequest, HttpResponse, Resource, Scope, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::errors::V3ApiError;
use super::{ApiError, AppState, Proven, Request, get_or_head};
use crate::auth::{self, V3Caller};
use crate::model::motor_club::StoredMotorClub;
use crate::v3::tire_protection::TireProtection;
use crate::v3::{self, Call, Page, PageRequest, V3Error};

/// Where the v3 API is served.
pub const PREFIX: &str = "/api/v3";

/// The largest v3 body: one registration (a v2 batch may be far larger).
const MAX_BODY_BYTES: usize = 1024 * 1024;

impl Proven for V3Caller {
    type Error = V3ApiError;

    fn prove(req: &HttpRequest, state: &AppState, header: Option<&[u8]>) -> Result<V3Caller, V3ApiError> {
        auth::authenticate_v3(&state.partners.get(), state.v3.get().as_ref().as_ref(), header)
            .inspect(|caller| super::keep_use(state, caller.used.as_ref()))
            .inspect_err(|e| super::note_refusal(req, state, e, None))
            .map_err(V3ApiError::from)
    }
}

/// A request on a v3 route: the partner and tenant its v3 token proved.
type V3Request = Request<V3Caller>;

/// What each v3 resource allows.
const ALLOW_COLLECTION: &str = "GET, HEAD, POST, PATCH";
const ALLOW_ONE: &str = "GET, HEAD, PATCH";
const ALLOW_METADATA: &str = "GET, HEAD";

/// The v3 routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    let v3 = collection::<MotorClubs>(collection::<TireProtections>(web::scope(PREFIX)));
    cfg.service(
        v3.service(
            resource("/tire-protection/registrations/{id}/metadata", ALLOW_METADATA)
                .route(get_or_head().to(tire_protection_metadata)),
        )
        .default_service(web::to(|req: HttpRequest| async move {
            Err::<HttpResponse, _>(V3ApiError::from(ApiError::no_route(req.path())))
        })),
    );
}

/// A resource that answers 405, naming what it allows, to any other method.
fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(V3ApiError::MethodNotAllowed(allow))
    }))
}

/// A collection's resources: its registrations, and one of them by id.
fn collection<C: Collection>(scope: Scope) -> Scope {
    scope
        .service(
            resource(C::PATH, ALLOW_COLLECTION)
                .route(get_or_head().to(list::<C>))
                .route(web::post().to(create::<C>))
                .route(web::patch().to(patch::<C>)),
        )
        .service(
            resource(&format!("{}/{{id}}", C::PATH), ALLOW_ONE)
                .route(get_or_head().to(get::<C>))
                .route(web::patch().to(patch::<C>)),
        )
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
async fn json_body(request: &V3Request, payload: web::Payload) -> Result<Vec<u8>, V3ApiError> {
    require_json(&request.req)?;
    let limit = MAX_BODY_BYTES.min(request.state.max_body_bytes);
    Ok(super::ingest::read_body(&request.req, payload, limit, request.state.body_timeout).await?)
}

impl V3Request {
    /// Runs a v3 service for the caller (its partner and tenant) off the executor; `what` it
    /// does names its errors in the log.
    async fn run<R: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&Call) -> Result<R, V3Error> + Send + 'static,
    ) -> Result<R, V3ApiError> {
        let caller = &self.caller;
        let (partner, keys, scope) = (Arc::clone(&caller.partner), Arc::clone(&caller.keys), caller.scope());
        let call = move |store: &_| {
            Ok::<_, ApiError>(f(&Call {
                store,
                partner: &partner,
                keys: &keys,
                scope,
            }))
        };
        Ok(self.on_store(what, call).await??)
    }
}

/// 201 with the new registration's id, and its Location under the collection it was posted to.
fn created(req: &HttpRequest, id: &str) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((LOCATION, format!("{}/{id}", req.path().trim_end_matches('/'))))
        .json(json!({ "id": id }))
}

/// The registration a PATCH names: `{id}` in the path, else the query's invoiceNumber (and
/// storeNumber). Extracted after the `V3Request`, so a bad token is a 401 before a bad query is a 400.
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

/// GET /api/v3/tire-protection/registrations/{id}/metadata
async fn tire_protection_metadata(request: V3Request, id: web::Path<String>) -> Result<HttpResponse, V3ApiError> {
    let reading = move |call: &Call| v3::tire_protection_metadata(call, &id, Utc::now());
    let found = request.run("reading a v3 registration's metadata", reading).await?;
    Ok(request.answer(&found))
}

/// A v3 collection: the services its POST, GET by id and list run. The handlers below serve
/// every collection.
trait Collection: 'static {
    /// A registration as the partner reads it, alone or in a page.
    type Registration: Serialize + Send + 'static;
    /// What the collection is called in logs.
    const NAME: &'static str;
    /// Its path below the v3 prefix.
    const PATH: &'static str;
    const CREATE: Create;
    const ONE: One<Self::Registration>;
    const PAGE: Listing<Self::Registration>;
    const CHANGE: Change;
}

/// A POST's service: stores the body's registration, answers its id.
type Create = fn(&Call, &[u8], DateTime<Utc>) -> Result<String, V3Error>;
/// A GET by id's service.
type One<R> = fn(&Call, &str) -> Result<R, V3Error>;
/// A list's service: one page.
type Listing<R> = fn(&Call, &PageRequest) -> Result<Page<R>, V3Error>;
/// A PATCH's service: changes the registration it names with the body.
type Change = fn(&Call, &v3::Target, &[u8], DateTime<Utc>) -> Result<(), V3Error>;

/// /api/v3/tire-protection/registrations
struct TireProtections;

impl Collection for TireProtections {
    type Registration = TireProtection;
    const NAME: &'static str = "v3 tire-protection registrations";
    const PATH: &'static str = "/tire-protection/registrations";
    const CREATE: Create = v3::create_tire_protection;
    const ONE: One<TireProtection> = v3::tire_protection;
    const PAGE: Listing<TireProtection> = v3::tire_protection_page;
    /// `{"cancelledOn": ...}`
    const CHANGE: Change = v3::cancel_tire_protection;
}

/// /api/v3/motor-club/registrations
struct MotorClubs;

impl Collection for MotorClubs {
    type Registration = StoredMotorClub;
    const NAME: &'static str = "v3 motor-club registrations";
    const PATH: &'static str = "/motor-club/registrations";
    const CREATE: Create = v3::create_motor_club;
    const ONE: One<StoredMotorClub> = v3::motor_club;
    const PAGE: Listing<StoredMotorClub> = v3::motor_club_page;
    /// `{"customer": ...}` or `{"cancelledOn": ...}`
    const CHANGE: Change = v3::change_motor_club;
}

/// POST to a collection: 201 with the new id and its Location.
#[tracing::instrument(name = "v3_create", skip_all, fields(partner = %request.caller.partner.company, tenant = %request.caller.tenant, collection = C::NAME))]
async fn create<C: Collection>(request: V3Request, payload: web::Payload) -> Result<HttpResponse, V3ApiError> {
    let body = json_body(&request, payload).await?;
    let creating = move |call: &Call| C::CREATE(call, &body, Utc::now());
    let id = request.run("creating a v3 registration", creating).await?;
    Ok(created(&request.req, &id))
}

/// GET a collection's registration by `{id}`.
#[tracing::instrument(name = "v3_read", skip_all, fields(partner = %request.caller.partner.company, tenant = %request.caller.tenant, collection = C::NAME))]
async fn get<C: Collection>(request: V3Request, id: web::Path<String>) -> Result<HttpResponse, V3ApiError> {
    let reading = move |call: &Call| C::ONE(call, &id);
    let found = request.run("reading a v3 registration", reading).await?;
    Ok(request.answer(&found))
}

/// GET a collection's page: ?page=&pageSize=&invoiceNumber=&storeNumber=
#[tracing::instrument(name = "v3_list", skip_all, fields(partner = %request.caller.partner.company, tenant = %request.caller.tenant, collection = C::NAME))]
async fn list<C: Collection>(request: V3Request) -> Result<HttpResponse, V3ApiError> {
    let asked = PageRequest::parse(request.req.query_string(), &["invoiceNumber", "storeNumber"])?;
    let listing = move |call: &Call| C::PAGE(call, &asked);
    let page = request.run("listing v3 registrations", listing).await?;
    Ok(request.answer(&page))
}

/// PATCH a collection's registration, by `{id}` or `?invoiceNumber=...[&storeNumber=...]`:
/// reads the JSON body, runs the collection's change on the registration, answers 204.
#[tracing::instrument(name = "v3_patch", skip_all, fields(partner = %request.caller.partner.company, tenant = %request.caller.tenant, collection = C::NAME))]
async fn patch<C: Collection>(
    request: V3Request,
    target: PatchTarget,
    payload: web::Payload,
) -> Result<HttpResponse, V3ApiError> {
    let body = json_body(&request, payload).await?;
    let changing = move |call: &Call| C::CHANGE(call, &target.0, &body, Utc::now());
    request.run("changing a v3 registration", changing).await?;
    Ok(HttpResponse::NoContent().finish())
}
