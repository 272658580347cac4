//! The one place errors become HTTP responses. 500 bodies stay generic; details go to the log.

use actix_web::http::StatusCode;
use actix_web::http::header::{ALLOW, HeaderName, HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, HttpResponseBuilder, ResponseError};
use serde_json::json;

use crate::auth::{AuthError, V3AuthError};
use crate::ingest::IngestError;
use crate::query::{QueryError, Rec};
use crate::store::StoreError;
use crate::telemetry::escaped;
use crate::v3::{Refusal, V3Error};
use crate::wire::BodyError;
use crate::wire::Code;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    #[error("the body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the body did not arrive within {0} seconds; nothing was written")]
    BodyTimeout(u64),
    #[error("Content-Encoding {0:?} is not supported; send the body as is or with Content-Encoding: gzip")]
    UnsupportedEncoding(String),
    /// The POST body could not be used at all.
    #[error("{message}")]
    BadBody { code: Code, message: String },
    /// A GET without the parameters it needs.
    #[error("{message}")]
    BadQuery {
        message: String,
        missing: Vec<&'static str>,
    },
    #[error("method {method} is not allowed here; use {allow}")]
    MethodNotAllowed { method: String, allow: &'static str },
    #[error(
        "DELETE resets a test tenant only (/v2/partners/<company>_test); live data is never deleted through the API"
    )]
    ResetLive,
    /// A parameter with a value it cannot have.
    #[error("{0}")]
    BadParameter(String),
    #[error("no such resource: {0}")]
    NotFound(String),
    /// An operator whose role does not allow this (a support operator on an admin route).
    #[error("{0}")]
    Forbidden(String),
    /// A storage fault (a full disk, a busy or unreachable database): nothing was written, and
    /// the same request may succeed later. The fault itself goes to the log as it is answered.
    #[error(
        "the database cannot take this request now ({}); nothing of it was written: retry in {RETRY_AFTER_SECS} seconds or later",
        .0.unavailable().unwrap_or("a storage fault")
    )]
    Storage(StoreError),
    /// The same, found before the store was reached (every connection busy).
    #[error(
        "the database cannot take this request now ({0}); nothing of it was written: retry in {RETRY_AFTER_SECS} seconds or later"
    )]
    Unavailable(&'static str),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// What a 503's `Retry-After` says: long enough for an operator to notice, short enough that a
/// nightly upload still lands the same night.
pub const RETRY_AFTER_SECS: u64 = 30;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e.unavailable() {
            Some(_) => ApiError::Storage(e),
            None => ApiError::Internal(anyhow::Error::new(e)),
        }
    }
}

/// What a 500's body says: the details are in the log, found by the request id.
const INTERNAL_MESSAGE: &str = "internal error; the X-Request-Id header identifies this request in the server log";

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Body(e) => ApiError::from(e),
            IngestError::Store(e) => ApiError::from(e).context("writing the batch"),
            IngestError::Json(e) => ApiError::Internal(anyhow::Error::new(e).context("recording the batch")),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Store(e) => ApiError::from(e),
            QueryError::Json(e) => ApiError::Internal(anyhow::Error::new(e)),
        }
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        let code = match &e {
            BodyError::Empty => Code::EmptyBody,
            BodyError::NotUtf8 { .. } | BodyError::Utf16 | BodyError::Gzipped => Code::InvalidUtf8,
            BodyError::Json(_) | BodyError::NotJson(_) => Code::InvalidJson,
            BodyError::NoRecordArrays { .. } => Code::NoRecords,
            BodyError::UnknownArray { .. } => Code::UnknownArray,
            BodyError::TooManyRecords(_) => Code::TooManyRecords,
        };
        ApiError::BadBody {
            code,
            message: e.to_string(),
        }
    }
}

impl ApiError {
    /// Whether it says "not now" (a 503 the client retries), not a refusal.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ApiError::Storage(_) | ApiError::Unavailable(_))
    }

    /// The header an answer of this error carries beside its status.
    fn header(&self) -> Option<(HeaderName, HeaderValue)> {
        match self {
            ApiError::Storage(_) | ApiError::Unavailable(_) => Some((RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS))),
            ApiError::MethodNotAllowed { allow, .. } => Some((ALLOW, HeaderValue::from_static(allow))),
            ApiError::ResetLive => Some((ALLOW, HeaderValue::from_static(super::LIVE_COMPANY))),
            _ => None,
        }
    }

    /// Its status and header, for a body in v2's shape or v3's.
    fn answer(&self) -> HttpResponseBuilder {
        let mut answer = HttpResponse::build(self.status_code());
        if let Some(header) = self.header() {
            answer.insert_header(header);
        }
        answer
    }

    /// What the client is told. As it is answered, a fault goes to the log: a storage fault's
    /// cause, an internal error's every detail (its body stays generic).
    fn message(&self) -> String {
        match self {
            ApiError::Storage(e) => {
                tracing::warn!(error = ?escaped(e), "storage fault");
                self.to_string()
            }
            ApiError::Internal(e) => {
                // One line, the causes joined: a message may quote what the client sent.
                tracing::error!(error = ?escaped(format!("{e:#}")), "internal error");
                INTERNAL_MESSAGE.to_owned()
            }
            other => other.to_string(),
        }
    }

    /// A path no route serves: named (shortened), with the route it may have meant, and where
    /// every route is listed, for a client that mistyped one.
    pub fn no_route(path: &str) -> Self {
        let meant = match super::route_meant(path) {
            Some(meant) if meant.eq_ignore_ascii_case(path.trim_end_matches('/')) => {
                format!(
                    ": paths are case-sensitive: did you mean {}?",
                    crate::wire::echo(&meant)
                )
            }
            Some(meant) => format!(": did you mean {}?", crate::wire::echo(&meant)),
            None => String::new(),
        };
        ApiError::NotFound(format!(
            "{}{meant} (every route is listed at /openapi.yaml)",
            crate::wire::echo(path)
        ))
    }

    /// Says what was being done, for the log of an internal error.
    pub fn context(self, what: &'static str) -> Self {
        match self {
            ApiError::Internal(e) => ApiError::Internal(e.context(what)),
            other => other,
        }
    }

    /// The result entry of a body refused whole (a body-level 400), as the response carries it.
    pub fn body_entry(&self) -> Option<serde_json::Value> {
        match self {
            ApiError::BadBody { code, message } => Some(json!({
                "Record": "Body",
                "Status": crate::ingest::Status::Rejected,
                "Errors": [{"Field": "Body", "Code": code, "Message": message}],
            })),
            _ => None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BadBody { .. } | ApiError::BadQuery { .. } | ApiError::BadParameter(_) => StatusCode::BAD_REQUEST,
            ApiError::MethodNotAllowed { .. } | ApiError::ResetLive => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Storage(_) | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut answer = self.answer();
        match self {
            // A body-level 400 has the shape of the per-record results: one entry saying what
            // was expected.
            ApiError::BadBody { .. } => answer.json(json!([self.body_entry()])),
            ApiError::BadQuery { message, missing } => answer.json(json!({
                "Error": message,
                "Missing": missing,
                "Expected": [
                    {"Field": "rec", "Required": true, "Values": Rec::NAMES},
                    {"Field": "ShopID", "Required": true},
                    {"Field": "InvoiceNumber", "Required": true},
                    {"Field": "OrgID", "Required": false},
                    {"Field": "partnerid", "Required": false, "Note": "when given, must be your partner id"},
                ],
            })),
            other => answer.json(json!({"Error": other.message()})),
        }
    }
}

/// A v3 call refused: its answers are `{"error": {"message": ...}}` (and, for a 400 of fields,
/// `"errors": [{"field", "code", "message"}]`), as docs/v3-api.md, "Errors", says.
#[derive(Debug, thiserror::Error)]
pub enum V3ApiError {
    #[error(transparent)]
    Unauthorized(#[from] V3AuthError),
    #[error("send the body as JSON with the header Content-Type: application/json")]
    NotJsonContent,
    #[error("this method is not allowed here; use {0}")]
    MethodNotAllowed(&'static str),
    /// What the service refused (a storage fault is `Api`'s).
    #[error(transparent)]
    Service(Refusal),
    /// What v2 and v3 share: a body too large or too slow, a storage fault, an internal error.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<Refusal> for V3ApiError {
    fn from(refusal: Refusal) -> Self {
        V3ApiError::Service(refusal)
    }
}

impl From<V3Error> for V3ApiError {
    fn from(e: V3Error) -> Self {
        match e {
            V3Error::Refused(refusal) => V3ApiError::Service(refusal),
            V3Error::Store(e) => V3ApiError::Api(ApiError::from(e)),
        }
    }
}

impl ResponseError for V3ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            V3ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            V3ApiError::NotJsonContent => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            V3ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            V3ApiError::Service(refusal) => match refusal {
                Refusal::Invalid { .. } | Refusal::NotJson(_) => StatusCode::BAD_REQUEST,
                Refusal::NotFound { .. } => StatusCode::NOT_FOUND,
                Refusal::Conflict(_) | Refusal::Rule { .. } => StatusCode::CONFLICT,
            },
            V3ApiError::Api(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self {
            V3ApiError::Service(Refusal::Invalid { errors, .. }) => {
                json!({"error": {"message": self.to_string(), "errors": errors}})
            }
            V3ApiError::Service(Refusal::Rule { code, message }) => {
                json!({"error": {"message": message, "code": code}})
            }
            // v2's status and header (Retry-After, Allow), in v3's shape.
            V3ApiError::Api(e) => return e.answer().json(json!({"error": {"message": e.message()}})),
            other => json!({"error": {"message": other.to_string()}}),
        };
        let mut res = HttpResponse::build(self.status_code());
        if let V3ApiError::MethodNotAllowed(allow) = self {
            res.insert_header((actix_web::http::header::ALLOW, *allow));
        }
        res.json(body)
    }
}

/// An operators' route refused (`/ops`): answered in that surface's shape, snake_case like the
/// rest of it: `{"error": {"code": "...", "message": "..."}}`, with v2's status and headers
/// (Retry-After, Allow).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct OpsApiError(#[from] pub ApiError);

impl From<AuthError> for OpsApiError {
    fn from(e: AuthError) -> Self {
        OpsApiError(ApiError::from(e))
    }
}

impl OpsApiError {
    /// What kind of refusal, as a code a script can match; an authentication failure says
    /// why (`bad_signature`, `expired`...), as `/ops/refused` keeps it.
    pub fn code(&self) -> &'static str {
        match &self.0 {
            ApiError::Unauthorized(e) => e.reason().into_str(),
            ApiError::PayloadTooLarge { .. } => "too_large",
            ApiError::BodyTimeout(_) => "body_timeout",
            ApiError::UnsupportedEncoding(_) => "unsupported_encoding",
            ApiError::BadBody { .. } | ApiError::BadQuery { .. } | ApiError::BadParameter(_) => "bad_parameter",
            ApiError::MethodNotAllowed { .. } | ApiError::ResetLive => "method_not_allowed",
            ApiError::NotFound(_) => "not_found",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::Storage(_) | ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl ResponseError for OpsApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.0
            .answer()
            .json(json!({"error": {"code": self.code(), "message": self.0.message()}}))
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(anyhow::anyhow!("blocking task failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody;

    use super::*;

    fn storage_fault() -> StoreError {
        StoreError::Unavailable {
            reason: "the database cannot be reached",
            cause: "connection refused".into(),
        }
    }

    /// The status each error is answered with, pinned: changing one changes the contract. The
    /// match has no wildcard, so a new variant must be given its status here.
    fn expected(e: &ApiError) -> u16 {
        match e {
            ApiError::Unauthorized(_) => 401,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::BodyTimeout(_) => 408,
            ApiError::UnsupportedEncoding(_) => 415,
            ApiError::BadBody { .. } | ApiError::BadQuery { .. } | ApiError::BadParameter(_) => 400,
            ApiError::MethodNotAllowed { .. } | ApiError::ResetLive => 405,
            ApiError::NotFound(_) => 404,
            ApiError::Forbidden(_) => 403,
            ApiError::Storage(_) | ApiError::Unavailable(_) => 503,
            ApiError::Internal(_) => 500,
        }
    }

    fn every_api_error() -> Vec<ApiError> {
        vec![
            ApiError::Unauthorized(AuthError::MissingHeader),
            ApiError::PayloadTooLarge { limit: 10 },
            ApiError::BodyTimeout(30),
            ApiError::UnsupportedEncoding("br".into()),
            ApiError::from(BodyError::Empty),
            ApiError::BadQuery {
                message: "missing".into(),
                missing: vec!["rec"],
            },
            ApiError::BadParameter("page".into()),
            ApiError::MethodNotAllowed {
                method: "PUT".into(),
                allow: "GET",
            },
            ApiError::ResetLive,
            ApiError::NotFound("/x".into()),
            ApiError::Forbidden("admins only".into()),
            ApiError::from(storage_fault()),
            ApiError::Unavailable("every database connection is busy"),
            ApiError::from(StoreError::Database("a constraint broke".into())),
        ]
    }

    fn body(response: HttpResponse) -> serde_json::Value {
        let bytes = response.into_body().try_into_bytes().expect("a whole body");
        serde_json::from_slice(&bytes).expect("a JSON body")
    }

    #[test]
    fn each_error_is_answered_with_its_status_and_header() {
        for e in every_api_error() {
            let response = e.error_response();
            assert_eq!(response.status().as_u16(), expected(&e), "{e:?}");
            let headers = response.headers();
            match expected(&e) {
                503 => assert_eq!(headers.get(RETRY_AFTER).unwrap(), "30", "{e:?}"),
                405 => assert!(headers.contains_key(ALLOW), "{e:?}"),
                _ => assert!(
                    !headers.contains_key(RETRY_AFTER) && !headers.contains_key(ALLOW),
                    "{e:?}"
                ),
            }
        }
    }

    /// v3 answers what v2 and v3 share with v2's status and header, in v3's shape; a 500 says
    /// nothing of its cause in either.
    #[test]
    fn v3_answers_shared_errors_in_its_own_shape() {
        for e in every_api_error() {
            let status = expected(&e);
            let v3 = V3ApiError::from(e);
            assert_eq!(v3.status_code().as_u16(), status, "{v3:?}");
            let response = v3.error_response();
            assert_eq!(response.status().as_u16(), status, "{v3:?}");
            if status == 503 {
                assert_eq!(response.headers().get(RETRY_AFTER).unwrap(), "30");
            }
            let message = body(response)["error"]["message"].as_str().unwrap().to_owned();
            if status == 500 {
                assert!(
                    message.starts_with("internal error;") && !message.contains("constraint"),
                    "{message}"
                );
            }
        }
        let storage = V3ApiError::from(V3Error::Store(storage_fault()));
        assert_eq!(storage.status_code().as_u16(), 503);
        let message = body(storage.error_response())["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains("the database cannot be reached"), "{message}");
    }

    /// Each v3 refusal's status, pinned.
    #[test]
    fn each_v3_refusal_has_its_status() {
        let cases = [
            (V3ApiError::Unauthorized(V3AuthError::NotConfigured), 401),
            (V3ApiError::NotJsonContent, 415),
            (V3ApiError::MethodNotAllowed("GET"), 405),
            (
                V3ApiError::from(Refusal::Invalid {
                    what: "registration",
                    errors: Vec::new(),
                }),
                400,
            ),
            (V3ApiError::from(Refusal::NotJson("eof".into())), 400),
            (
                V3ApiError::from(Refusal::NotFound {
                    what: "registration",
                    key: "id",
                    elsewhere: None,
                }),
                404,
            ),
            (V3ApiError::from(Refusal::Conflict("cancelled".into())), 409),
            (
                V3ApiError::from(Refusal::Rule {
                    code: Code::AlreadyCancelled,
                    message: "already cancelled".into(),
                }),
                409,
            ),
        ];
        for (e, status) in cases {
            assert_eq!(e.status_code().as_u16(), status, "{e:?}");
            assert_eq!(e.error_response().status().as_u16(), status, "{e:?}");
        }
    }
}
