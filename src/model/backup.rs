//! A backup `warranty-gateway backup` made of the SQLite database, as the database keeps it: the
//! newest says how old the last backup is.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::wire::out;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backup {
    /// When the copy was whole, checked and named.
    #[serde(serialize_with = "out::timestamp")]
    pub finished_at: DateTime<Utc>,
    /// The file it wrote (its absolute path).
    pub file: String,
    pub bytes: u64,
}
