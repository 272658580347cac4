//! Requests refused before they reached a partner's data (a bad or missing token, an unknown
//! company): what support reads when a partner's night failed at the door.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::wire::out;

/// One refused request, as `/ops/refused` shows it. Never the token: only why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    #[serde(serialize_with = "out::timestamp")]
    pub at: DateTime<Utc>,
    /// The company the path named (as sent), when it named one.
    pub company: Option<String>,
    /// The configured partner and tenant it names, when it names one.
    #[serde(skip)]
    pub partner_id: Option<i64>,
    pub tenant: Option<String>,
    /// Why: `missing_token`, `bad_signature`, `expired`, `unknown_company`...
    pub reason: String,
    /// The client's address, as the trusted proxies say.
    pub client: Option<String>,
    pub user_agent: Option<String>,
    pub method: String,
    /// The path, without its query.
    pub path: String,
}

/// Which refused requests an operator lists: each filter only when given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefusalFilter {
    pub partner_id: Option<i64>,
    pub since: Option<DateTime<Utc>>,
}
