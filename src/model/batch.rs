//! The batch history: what each POST was and what became of it, as partners and support staff
//! read it back (`GET /v2/partners/{company}/batches`).

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use serde_json::value::RawValue;

use crate::records::RecordKind;
use crate::scope::Tenant;
use crate::wire::out;

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

/// Counts per record type; shown as an object named as the body's arrays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeCounts([Counts; 4]);

impl TypeCounts {
    pub fn of(&self, kind: RecordKind) -> Counts {
        self.0[kind.index()]
    }

    pub fn set(&mut self, kind: RecordKind, counts: Counts) {
        self.0[kind.index()] = counts;
    }

    /// Each kind's counts, in processing order.
    pub fn iter(&self) -> impl Iterator<Item = (RecordKind, Counts)> + '_ {
        RecordKind::ALL.into_iter().map(|k| (k, self.of(k)))
    }

    pub fn accepted(&self) -> usize {
        self.0.iter().map(|c| c.accepted).sum()
    }

    pub fn rejected(&self) -> usize {
        self.0.iter().map(|c| c.rejected).sum()
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

impl Serialize for TypeCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(RecordKind::ALL.len()))?;
        for (kind, counts) in self.iter() {
            map.serialize_entry(kind.name(), &counts)?;
        }
        map.end()
    }
}

/// `Registrations 3/1, Sales 0/0, ...`: accepted/rejected per type, for a log line.
impl std::fmt::Display for TypeCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (kind, c)) in self.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{} {}/{}", kind.name(), c.accepted, c.rejected)?;
        }
        Ok(())
    }
}

/// How many rejected records a batch's history keeps whole (their result entries, as the
/// response carried them). Past these it only counts each (record type, field, code): one POST
/// of 100,000 broken records would otherwise keep its 100 MB of answers for the retention.
pub const KEPT_REJECTED: usize = 1_000;

/// Past a batch's first [`KEPT_REJECTED`] rejected records: how many errors with this code its
/// records of this type had on this field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectionCount {
    #[serde(rename = "Record")]
    pub record: String,
    #[serde(rename = "Field")]
    pub field: String,
    #[serde(rename = "Code")]
    pub code: String,
    #[serde(rename = "Count")]
    pub count: u64,
}

/// What the history keeps of a batch's rejected records.
#[derive(Debug, Clone, Default)]
pub struct Rejections {
    /// The result entries of the first [`KEPT_REJECTED`], as JSON.
    pub entries: Vec<String>,
    /// The errors of the rest, counted.
    pub counted: Vec<RejectionCount>,
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
    #[serde(rename = "ReceivedAt", serialize_with = "out::timestamp")]
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

/// Which batches an operator lists (`/ops/batches`): each filter only when given; `since` and
/// `until` bound the time it was received, both included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchFilter {
    pub partner_id: Option<i64>,
    pub tenant: Option<Tenant>,
    pub status: Option<u16>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// One UTC day of one partner's tenant's batches, summed (`/ops/summary`, the operators' chart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySummary {
    /// `2026-12-06`.
    pub date: String,
    pub partner_id: i64,
    pub tenant: Tenant,
    pub batches: u64,
    pub records_written: u64,
    pub records_rejected: u64,
}

/// A batch with the result entries of its rejected records (JSON, as the response carried them).
#[derive(Debug)]
pub struct StoredBatch {
    pub summary: BatchSummary,
    /// The result entries of its first rejected records (at most `KEPT_REJECTED`).
    pub rejected: Vec<Box<RawValue>>,
    /// The errors of the rest, counted by record type, field and code; most frequent first.
    pub counted: Vec<RejectionCount>,
}
