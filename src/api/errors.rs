//! The one place errors become HTTP responses. 500 bodies stay generic; details go to the log.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::auth::{AuthError, V3AuthError};
use crate::ingest::IngestError;
use crate::query::{QueryError, Rec};
use crate::store::StoreError;
use crate::telemetry::escaped;
use crate::v3::V3Error;
use crate::wire::BodyError;

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
    BadBody { code: &'static str, message: String },
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
    /// A storage fault (a full disk, a busy or unreachable database): nothing was written, and
    /// the same request may succeed later.
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
            Some(reason) => {
                tracing::warn!(error = ?escaped(&e), "storage fault");
                ApiError::Unavailable(reason)
            }
            None => ApiError::Internal(anyhow::Error::new(e)),
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Body(e) => ApiError::from(e),
            IngestError::Store(e) => ApiError::from(e).context("writing the batch"),
            IngestError::Json(e) => ApiError::Internal(anyhow::Error::new(e).context("recording the batch")),
            IngestError::Superseded => ApiError::Internal(anyhow::Error::new(e)),
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
            BodyError::Empty => "empty_body",
            BodyError::NotUtf8(_) => "invalid_utf8",
            BodyError::Json(_) => "invalid_json",
            BodyError::NoRecordArrays { .. } => "no_records",
            BodyError::UnknownArray { .. } => "unknown_array",
            BodyError::TooManyRecords(_) => "too_many_records",
        };
        ApiError::BadBody {
            code,
            message: e.to_string(),
        }
    }
}

impl ApiError {
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
                "Status": "Rejected",
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
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        match self {
            // A body-level 400 has the shape of the per-record results: one entry saying what
            // was expected.
            ApiError::BadBody { .. } => res.json(json!([self.body_entry()])),
            ApiError::BadQuery { message, missing } => res.json(json!({
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
            ApiError::Internal(e) => {
                // One line, the causes joined: a message may quote what the client sent.
                tracing::error!(error = ?escaped(format!("{e:#}")), "internal error");
                res.json(json!({"Error": "internal error; the X-Request-Id header identifies this request in the server log"}))
            }
            ApiError::MethodNotAllowed { allow, .. } => res
                .insert_header((actix_web::http::header::ALLOW, *allow))
                .json(json!({"Error": self.to_string()})),
            ApiError::Unavailable(_) => res
                .insert_header((actix_web::http::header::RETRY_AFTER, RETRY_AFTER_SECS))
                .json(json!({"Error": self.to_string()})),
            ApiError::ResetLive => res
                .insert_header((actix_web::http::header::ALLOW, super::LIVE_COMPANY))
                .json(json!({"Error": self.to_string()})),
            other => res.json(json!({"Error": other.to_string()})),
        }
    }
}

/// A v3 call refused: its answers are `{"error": {"message": ...}}` (and, for a 400 of fields,
/// `"errors": [{"field", "code", "message"}]`), as the README's "The v3 resource API" says.
#[derive(Debug, thiserror::Error)]
pub enum V3ApiError {
    #[error(transparent)]
    Unauthorized(#[from] V3AuthError),
    #[error("send the body as JSON with the header Content-Type: application/json")]
    NotJsonContent,
    #[error("this method is not allowed here; use {0}")]
    MethodNotAllowed(&'static str),
    /// What the service refused (never a storage fault: that is `Api`).
    #[error(transparent)]
    Service(V3Error),
    /// What v2 and v3 share: a body too large or too slow, a storage fault, an internal error.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<V3Error> for V3ApiError {
    fn from(e: V3Error) -> Self {
        match e {
            V3Error::Store(e) => V3ApiError::Api(ApiError::from(e)),
            other => V3ApiError::Service(other),
        }
    }
}

impl ResponseError for V3ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            V3ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            V3ApiError::NotJsonContent => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            V3ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            V3ApiError::Service(e) => match e {
                V3Error::Invalid { .. } | V3Error::NotJson(_) => StatusCode::BAD_REQUEST,
                V3Error::NotFound { .. } => StatusCode::NOT_FOUND,
                V3Error::Conflict(_) | V3Error::Rule { .. } => StatusCode::CONFLICT,
                V3Error::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            },
            V3ApiError::Api(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let body = match self {
            V3ApiError::Service(V3Error::Invalid { errors, .. }) => {
                json!({"error": {"message": self.to_string(), "errors": errors}})
            }
            V3ApiError::Service(V3Error::Rule { code, message }) => {
                json!({"error": {"message": message, "code": code}})
            }
            V3ApiError::Api(e) => {
                // Its headers (Retry-After, Allow) and status; a v3 body. It logs an internal
                // error's details.
                let message = match e {
                    ApiError::Internal(_) => {
                        "internal error; the X-Request-Id header identifies this request in the server log".to_owned()
                    }
                    other => other.to_string(),
                };
                let res = e.error_response();
                return res.set_body(actix_web::body::BoxBody::new(
                    json!({"error": {"message": message}}).to_string(),
                ));
            }
            other => json!({"error": {"message": other.to_string()}}),
        };
        let mut res = HttpResponse::build(self.status_code());
        if let V3ApiError::MethodNotAllowed(allow) = self {
            res.insert_header((actix_web::http::header::ALLOW, *allow));
        }
        res.json(body)
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(anyhow::anyhow!("blocking task failed: {e}"))
    }
}
