//! The batch history: what each POST was and what became of it, as partners and support staff
//! read it back (`GET /v2/partners/{company}/batches`).

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;

use crate::records::serde_out;

/// The time as the server records it (a batch's arrival, a registration's CreatedDate): whole
/// seconds, since legacy clients parse the guide's `2018-12-04T13:08:00Z` with a fixed pattern.
pub fn server_time() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// Accepted and rejected records of one type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    #[serde(rename = "Accepted")]
    pub accepted: usize,
    #[serde(rename = "Rejected")]
    pub rejected: usize,
}

/// Counts per record type, named as the body's arrays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TypeCounts {
    #[serde(rename = "Registrations")]
    pub registrations: Counts,
    #[serde(rename = "Sales")]
    pub sales: Counts,
    #[serde(rename = "Claims")]
    pub claims: Counts,
    #[serde(rename = "Cancellations")]
    pub cancellations: Counts,
}

impl TypeCounts {
    fn all(&self) -> [Counts; 4] {
        [self.registrations, self.sales, self.claims, self.cancellations]
    }

    pub fn accepted(&self) -> usize {
        self.all().iter().map(|c| c.accepted).sum()
    }

    pub fn rejected(&self) -> usize {
        self.all().iter().map(|c| c.rejected).sum()
    }

    /// The POST's status: 200 when every record was written, 206 when some were, 400 when none.
    pub fn status(&self) -> u16 {
        match (self.accepted(), self.rejected()) {
            (_, 0) => 200,
            (0, _) => 400,
            _ => 206,
        }
    }
}

/// A batch as it is recorded.
#[derive(Debug, Clone)]
pub struct NewBatch {
    pub received_at: DateTime<Utc>,
    pub status: u16,
    pub duration_ms: u64,
    pub body_bytes: usize,
    pub counts: TypeCounts,
    /// Why the whole body was refused, when it was.
    pub error: Option<String>,
}

/// A recorded batch, as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchSummary {
    #[serde(rename = "BatchID")]
    pub batch_id: i64,
    #[serde(rename = "Tenant")]
    pub tenant: &'static str,
    #[serde(rename = "ReceivedAt", serialize_with = "serde_out::timestamp")]
    pub received_at: DateTime<Utc>,
    #[serde(rename = "Status")]
    pub status: u16,
    #[serde(rename = "DurationMs")]
    pub duration_ms: u64,
    #[serde(rename = "Bytes")]
    pub bytes: u64,
    #[serde(rename = "Records")]
    pub counts: TypeCounts,
    #[serde(rename = "Error")]
    pub error: Option<String>,
}
