//! One POST body, end to end: decode every record, then judge and write them in processing
//! order (Registrations, Sales, Claims, Cancellations, each in array order) inside one
//! transaction, so a batch may register and claim at once and a failed commit writes nothing.

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Partner;
use crate::history::{Counts, NewBatch, TypeCounts};
use crate::ledger::Ledger;
use crate::records::{Action, Batch, Decoded, NaturalKey, Record, rules};
use crate::scope::Scope;
use crate::store::{self, Store, StoreError, StoreFailure};
use crate::wire::{BodyError, FieldError};

/// The result entry of one input record, as the response lists it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordResult {
    #[serde(rename = "Record")]
    pub record: &'static str,
    #[serde(rename = "Index")]
    pub index: usize,
    #[serde(rename = "Status")]
    pub status: &'static str,
    #[serde(rename = "Action", skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(rename = "Key", skip_serializing_if = "Option::is_none")]
    pub key: Option<NaturalKey>,
    #[serde(rename = "Errors", skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(rename = "Warnings", skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

pub const POSTED: &str = "Successfully Posted";
pub const REJECTED: &str = "Rejected";

#[derive(Debug, Default)]
pub struct Outcome {
    /// One entry per input record, in processing order.
    pub results: Vec<RecordResult>,
    pub counts: TypeCounts,
    /// The batch's entry in the history.
    pub batch_id: i64,
}

/// How a POST arrived: what its history entry needs besides its records.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: DateTime<Utc>,
    pub started: Instant,
    /// The body's size as sent (before any gzip is inflated).
    pub body_bytes: usize,
    /// History older than this is pruned as new batches come in.
    pub retention: chrono::Duration,
}

impl Received {
    fn history(&self, status: u16, counts: TypeCounts, error: Option<String>) -> NewBatch {
        NewBatch {
            received_at: self.at,
            status,
            duration_ms: self.started.elapsed().as_millis() as u64,
            body_bytes: self.body_bytes,
            counts,
            error,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl StoreFailure for IngestError {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            IngestError::Store(e) => Some(e),
            _ => None,
        }
    }
}

/// Decodes `body` (dates without a zone in the partner's zone) and writes what passes every
/// rule, with the batch's history entry, durably, before returning.
#[tracing::instrument(name = "ingest", skip_all, fields(records))]
pub fn ingest_body(
    store: &Store,
    partner: &Partner,
    scope: Scope,
    body: &[u8],
    received: &Received,
) -> Result<Outcome, IngestError> {
    // Decoding needs no lock: only the writes wait for the writer.
    let batch = Batch::decode(body, partner.timezone)?;
    tracing::Span::current().record("records", batch.len());
    let now = store::Stamp::of(&received.at);
    let plan = partner.plan();
    let mut out = Outcome {
        results: Vec::with_capacity(batch.len()),
        ..Outcome::default()
    };
    let _write = tracing::debug_span!("store_write").entered();
    store.write(|tx| {
        // Every registration the batch touches, read once; judged and kept up to date in memory.
        let mut ledger = Ledger::new(store::load_registrations(tx, scope, &batch.registration_keys())?);
        each(&mut out, batch.registrations, |reg| {
            let stored = ledger.usage(&reg.shop_id, &reg.invoice_number);
            if let Err(e) = rules::check_registration(reg, stored) {
                return Ok(Err(e));
            }
            let known = stored.map(|u| u.registration_id);
            let written = store::upsert(tx, scope, None, reg, &now)?;
            // An unchanged registration was stored (or written earlier in this batch) already.
            let id = written
                .id
                .or(known)
                .ok_or_else(|| StoreError::Database("an unchanged registration was not among those read".into()))?;
            ledger.registered(reg, id, received.at);
            Ok(Ok(written.action))
        })?;
        each(&mut out, batch.sales, |sale| {
            store::upsert(tx, scope, None, sale, &now).map(|w| Ok(w.action))
        })?;
        each(&mut out, batch.claims, |claim| {
            let stored = ledger.usage(&claim.shop_id, &claim.invoice_number);
            let previous = ledger.claim_count(claim);
            let id = match rules::check_claim(claim, stored, previous, plan) {
                Ok(u) => u.registration_id,
                Err(e) => return Ok(Err(e)),
            };
            let written = store::upsert(tx, scope, Some(id), claim, &now)?;
            ledger.claimed(claim);
            Ok(Ok(written.action))
        })?;
        each(&mut out, batch.cancellations, |cancel| {
            let stored = ledger.usage(&cancel.shop_id, &cancel.invoice_number);
            let id = match rules::check_cancellation(cancel, stored, plan) {
                Ok(u) => u.registration_id,
                Err(e) => return Ok(Err(e)),
            };
            let written = store::upsert(tx, scope, Some(id), cancel, &now)?;
            ledger.cancelled(cancel);
            Ok(Ok(written.action))
        })?;
        // The history entry commits with the records: a batch that is kept is always listed.
        let rejected = out
            .results
            .iter()
            .filter(|r| r.status == REJECTED)
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()?;
        let entry = received.history(out.counts.status(), out.counts, None);
        out.batch_id = store::insert_batch(tx, scope, &entry, rejected.iter().map(String::as_str))?;
        store::prune_batches(tx, &(received.at - received.retention))?;
        Ok::<_, IngestError>(())
    })?;
    Ok(out)
}

/// Records a POST that was refused whole (not usable JSON, too large, too slow...) in the
/// history, in a transaction of its own; `entry` is the body-level result entry, when the
/// response carried one.
pub fn record_refused(
    store: &Store,
    scope: Scope,
    received: &Received,
    status: u16,
    error: &str,
    entry: Option<&str>,
) -> Result<i64, StoreError> {
    let batch = received.history(status, TypeCounts::default(), Some(error.to_owned()));
    store.write(|tx| store::insert_batch(tx, scope, &batch, entry))
}

/// Writes each decoded record of one type with `write` (which answers the action, or the
/// business rule it broke), appends its result entry and counts it under its type.
fn each<T: Record>(
    out: &mut Outcome,
    records: Vec<Decoded<T>>,
    mut write: impl FnMut(&T) -> Result<Result<Action, FieldError>, StoreError>,
) -> Result<(), StoreError> {
    let mut counts = Counts::default();
    for d in records {
        let mut entry = RecordResult {
            record: T::NAME,
            index: d.index,
            status: REJECTED,
            action: None,
            key: None,
            errors: Vec::new(),
            warnings: d.warnings,
        };
        match d.record {
            Err(errors) => entry.errors = errors,
            Ok(record) => {
                entry.key = Some(record.key());
                match write(&record)? {
                    Ok(action) => {
                        entry.status = POSTED;
                        entry.action = Some(action);
                    }
                    Err(rule) => entry.errors = vec![rule],
                }
            }
        }
        if entry.errors.is_empty() {
            counts.accepted += 1;
        } else {
            counts.rejected += 1;
        }
        out.results.push(entry);
    }
    out.counts.set(T::KIND, counts);
    Ok(())
}
