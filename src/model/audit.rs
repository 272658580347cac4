//! The operators' audit log: what an operator read or did, when, with which role, whose data
//! and from where.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::wire::out;

/// What an operator did that the audit log keeps, as it keeps it (`batch_detail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case", const_into_str)]
pub enum AuditAction {
    /// Opened one batch with its rejected records (`/ops/batches/{id}`).
    BatchDetail,
    /// Exported a batch's rejected records (`/ops/batches/{id}/rejected.csv`).
    RejectedCsv,
    /// Searched the records and trail of a ShopID and InvoiceNumber (`/ops/records`).
    RecordsSearch,
    /// An admin reset a partner's test tenant (`DELETE /ops/partners/{company}/test`).
    TestReset,
}

/// One entry of the audit log, as `/ops/audit` shows it. `action` is text: the log keeps what
/// older builds wrote too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    #[serde(serialize_with = "out::timestamp")]
    pub at: DateTime<Utc>,
    pub operator: String,
    pub role: String,
    pub action: String,
    pub company: Option<String>,
    pub tenant: Option<String>,
    /// What the action was about (a batch id, the ShopID and InvoiceNumber searched).
    pub detail: Option<String>,
    /// The client's address, as the trusted proxies say.
    pub client: Option<String>,
}

/// How long the audit log keeps an entry.
pub const AUDIT_RETENTION_DAYS: i64 = 366;
