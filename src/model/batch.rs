//! The batch history: what each POST was and what became of it, as partners and support staff
//! read it back (`GET /v2/partners/{company}/batches`).

use actix_web::http::StatusCode;
use chrono::{DateTime, SubsecRound, Utc};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use strum::{EnumString, IntoStaticStr, VariantArray};

use crate::records::{FiledUnder, RecordKind};
use crate::scope::Tenant;
use crate::wire::{WarningKind, out};

/// The time as the server records it (a batch's arrival, a registration's CreatedDate): whole
/// seconds, since legacy clients parse the guide's `2018-12-04T13:08:00Z` with a fixed pattern.
pub fn server_time() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// Accepted and rejected records of one type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Counts {
    pub accepted: usize,
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
    pub fn status(&self) -> StatusCode {
        match (self.accepted(), self.rejected()) {
            (_, 0) => StatusCode::OK,
            (0, _) => StatusCode::BAD_REQUEST,
            _ => StatusCode::PARTIAL_CONTENT,
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
#[serde(rename_all = "PascalCase")]
pub struct RejectionCount {
    pub record: String,
    pub field: String,
    pub code: String,
    pub count: u64,
}

/// How many different warnings (record type, field, kind) a batch's history counts. Past these
/// its warnings are only counted in all: 100,000 records may each name a different unknown key.
pub const KEPT_WARNING_KINDS: usize = 100;

/// How many of a batch's records of one type had a warning of one kind on one field, with the
/// first of them and its words; kept as the batch's detail answers it (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WarningCount {
    pub record: String,
    /// The field, or the unknown key as sent (at most [`crate::model::KEPT_CHARACTERS`]).
    pub field: String,
    #[serde(rename = "Code")]
    pub kind: String,
    pub count: u64,
    /// The first record that had it: its index in its array.
    pub first_index: u64,
    /// That record's warning, as its result entry said it.
    pub message: String,
}

/// A batch's warnings: how many of each kind (its metric), and the first [`KEPT_WARNING_KINDS`]
/// (record type, field, kind) counted (its history).
#[derive(Debug, Clone, Default)]
pub struct Warned {
    pub per_kind: BTreeMap<WarningKind, u64>,
    pub counted: Vec<WarningCount>,
}

impl Warned {
    /// How many in all.
    pub fn total(&self) -> u64 {
        self.per_kind.values().sum()
    }
}

/// What the history keeps of a batch's rejected records.
#[derive(Debug, Clone, Default)]
pub struct Rejections {
    /// The first [`KEPT_REJECTED`].
    pub entries: Vec<KeptRejection>,
    /// The errors of the rest, counted.
    pub counted: Vec<RejectionCount>,
}

/// One kept rejected record: its result entry as the response carried it (JSON), and the
/// record as the client sent it (its JSON), for `rejected.csv`. A body refused whole has an
/// entry and nothing sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptRejection {
    pub entry: String,
    pub sent: Option<String>,
}

/// What became of one record of a batch, as its trail tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, IntoStaticStr, EnumString, VariantArray)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case", const_into_str)]
pub enum RecordOutcome {
    Inserted,
    Updated,
    Unchanged,
    Rejected,
}

/// One record of a batch in its trail, as it is recorded: every record that names a ShopID and
/// InvoiceNumber gets one, so support finds every batch that carried an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTrailEntry<'a> {
    /// The record type ("Registrations").
    pub record: &'static str,
    /// Its index in its array.
    pub index: usize,
    pub shop_id: &'a str,
    pub invoice_number: &'a str,
    pub outcome: RecordOutcome,
    /// The codes of its errors, comma-separated (as stored), when it was rejected.
    pub codes: Option<String>,
}

/// One batch that carried a record of some ShopID and InvoiceNumber, and what became of it
/// (`/ops/records`' `trail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrailEntry {
    pub batch_id: i64,
    #[serde(serialize_with = "out::timestamp")]
    pub received_at: DateTime<Utc>,
    pub record: String,
    pub index: u64,
    pub outcome: RecordOutcome,
    pub codes: Vec<String>,
}

/// A batch as it is recorded.
#[derive(Debug, Clone)]
pub struct NewBatch {
    pub received_at: DateTime<Utc>,
    /// What the POST was answered.
    pub status: StatusCode,
    pub duration_ms: u64,
    pub body_bytes: usize,
    pub counts: TypeCounts,
    /// Why the whole body was refused, when it was.
    pub error: Option<String>,
}

/// A recorded batch, as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchSummary {
    #[serde(rename = "BatchID")]
    pub batch_id: i64,
    pub tenant: &'static str,
    #[serde(serialize_with = "out::timestamp")]
    pub received_at: DateTime<Utc>,
    #[serde(serialize_with = "out::status")]
    pub status: StatusCode,
    pub duration_ms: u64,
    pub bytes: u64,
    #[serde(rename = "Records")]
    pub counts: TypeCounts,
    /// How many warnings its answer gave, over all its records (0 for batches kept before the
    /// history counted them).
    pub warnings: u64,
    pub error: Option<String>,
}

/// Which batches an operator lists (`/ops/batches`): each filter only when given; `since` and
/// `until` bound the time it was received, both included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchFilter {
    pub partner_id: Option<i64>,
    pub tenant: Option<Tenant>,
    pub status: Option<StatusCode>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// A partner's tenant's batches over some time, summed (`/ops/partners`' `last_24h`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchSums {
    pub batches: u64,
    pub records_written: u64,
    pub records_rejected: u64,
    /// The warnings their answers gave.
    pub warnings: u64,
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
    /// The result entries of its first rejected records (at most `KEPT_REJECTED`), each with
    /// the record as it was sent, when it was kept.
    pub rejected: Vec<(Box<RawValue>, Option<String>)>,
    /// The errors of the rest, counted by record type, field and code; most frequent first.
    pub counted: Vec<RejectionCount>,
    /// Its warnings, counted by record type, field and kind; most frequent first.
    pub warned: Vec<WarningCount>,
}

/// One error of one rejected record, as a row of `rejected.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RejectedRow {
    pub record: String,
    pub index: Option<u64>,
    #[serde(rename = "ShopID")]
    pub shop_id: String,
    pub invoice_number: String,
    pub field: String,
    pub code: String,
    pub message: String,
    /// The record as the client sent it (its JSON); empty when it was not kept.
    pub sent: String,
}

impl RejectedRow {
    /// The columns, in order (as the fields serialize).
    pub const HEADER: [&'static str; 8] = [
        "Record",
        "Index",
        "ShopID",
        "InvoiceNumber",
        "Field",
        "Code",
        "Message",
        "Sent",
    ];
}

/// What `rejected.csv` reads of a kept result entry.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeptEntry {
    record: String,
    index: Option<u64>,
    key: Option<BTreeMap<String, String>>,
    #[serde(default)]
    errors: Vec<KeptError>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeptError {
    field: String,
    code: String,
    message: String,
}

impl StoredBatch {
    /// Its kept rejected records, a row per error: the ShopID and InvoiceNumber as the record
    /// named them (read from what was sent, or from its key).
    pub fn rejected_rows(&self) -> Result<Vec<RejectedRow>, serde_json::Error> {
        let mut rows = Vec::new();
        for (entry, sent) in &self.rejected {
            let kept: KeptEntry = serde_json::from_str(entry.get())?;
            let kind = RecordKind::ALL.into_iter().find(|k| k.name() == kept.record);
            let filed = match (kind, sent) {
                (Some(kind), Some(sent)) => FiledUnder::of_sent(kind, sent),
                _ => None,
            };
            let key = |name: &str| kept.key.as_ref().and_then(|k| k.get(name)).cloned();
            let (shop_id, invoice_number) = match filed {
                Some(f) => (f.shop_id, f.invoice_number),
                None => (
                    key("ShopID").unwrap_or_default(),
                    key("InvoiceNumber").unwrap_or_default(),
                ),
            };
            let row = |field: String, code: String, message: String| RejectedRow {
                record: kept.record.clone(),
                index: kept.index,
                shop_id: shop_id.clone(),
                invoice_number: invoice_number.clone(),
                field,
                code,
                message,
                sent: sent.clone().unwrap_or_default(),
            };
            if kept.errors.is_empty() {
                rows.push(row(String::new(), String::new(), String::new()));
            }
            for e in &kept.errors {
                rows.push(row(e.field.clone(), e.code.clone(), e.message.clone()));
            }
        }
        Ok(rows)
    }

    /// How many of its rejected records are only counted (past the kept ones), not listed.
    pub fn rejected_not_listed(&self) -> usize {
        let listed = self.rejected.len();
        self.summary.counts.rejected().saturating_sub(listed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csv_header_is_the_rows_fields_in_order() {
        let row = RejectedRow {
            record: "Claims".into(),
            index: Some(3),
            shop_id: "S".into(),
            invoice_number: "I".into(),
            field: "ClaimDate".into(),
            code: "invalid_date".into(),
            message: "m".into(),
            sent: "{}".into(),
        };
        let mut out = csv::Writer::from_writer(Vec::new());
        out.serialize(&row).unwrap();
        let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
        assert_eq!(text.lines().next(), Some(RejectedRow::HEADER.join(",").as_str()));
    }

    /// The guide's rule for a POST's status, from its counts; the history shows it as a number.
    #[test]
    fn a_batch_is_answered_200_206_or_400_by_what_was_written() {
        let counts = |accepted, rejected| {
            let mut c = TypeCounts::default();
            c.set(RecordKind::Claims, Counts { accepted, rejected });
            c
        };
        assert_eq!(counts(3, 0).status(), StatusCode::OK);
        assert_eq!(counts(0, 0).status(), StatusCode::OK);
        assert_eq!(counts(2, 1).status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(counts(0, 1).status(), StatusCode::BAD_REQUEST);
        let summary = BatchSummary {
            batch_id: 1,
            tenant: "production",
            received_at: DateTime::UNIX_EPOCH,
            status: StatusCode::PARTIAL_CONTENT,
            duration_ms: 0,
            bytes: 0,
            counts: counts(2, 1),
            warnings: 0,
            error: None,
        };
        assert_eq!(serde_json::to_value(&summary).unwrap()["Status"], 206);
    }

    #[test]
    fn each_outcome_is_named_back() {
        crate::wire::spelled_once_in_snake_case::<RecordOutcome>();
        for &outcome in RecordOutcome::VARIANTS {
            assert_eq!(outcome.into_str().parse(), Ok(outcome));
        }
    }
}
