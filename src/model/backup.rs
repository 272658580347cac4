//! A backup `warranty-gateway backup` made of the SQLite database, as the database keeps it: the
//! newest says how old the last backup is.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::wire::out;

/// How old the last backup may be before it is stale: the daily timer missed a run (a day,
/// with room for the timer's spread and a slow copy). The operators' page and the alert
/// WarrantyGatewayBackupStale draw the line at the same 26 hours.
pub const STALE_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(26);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backup {
    /// When the copy was whole, checked and named.
    #[serde(serialize_with = "out::timestamp")]
    pub finished_at: DateTime<Utc>,
    /// The file it wrote (its absolute path).
    pub file: String,
    pub bytes: u64,
}
