//! One POST body, end to end: decode every record, then judge and write them in processing
//! order (Registrations, Sales, Claims, Cancellations, each in array order) inside one
//! transaction, so a batch may register and claim at once and a failed commit writes nothing.

mod decode;

pub use decode::{Arrivals, Batch, Pass};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::time::Instant;

use actix_web::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Partner;
use crate::ledger::{Ledger, RegistrationKey};
use crate::model::batch::{
    KEPT_REJECTED, KEPT_WARNING_KINDS, KeptRejection, NewBatch, NewTrailEntry, RecordOutcome, RejectionCount,
    Rejections, TypeCounts, Warned, WarningCount,
};
use crate::model::kept_text;
use crate::query;
use crate::records::{Action, Decoded, FiledUnder, NaturalKey, Readable, Record, rules};
use crate::scope::Scope;
use crate::store::{self, Store, StoreError, StoreFailure};
use crate::wire::{BodyError, Code, FieldError, FieldErrors, Warning, WarningKind};

/// The result entry of one input record, as the response lists it.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordResult {
    pub record: &'static str,
    pub index: usize,
    pub status: Status,
    pub action: Option<Action>,
    pub key: Option<NaturalKey>,
    /// None when it was written.
    pub errors: Option<FieldErrors>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
    /// The record's JSON in the body, as sent (kept with a rejected entry).
    #[serde(skip)]
    pub sent: Range<usize>,
    /// The registration a record refused by its fields names, when readable.
    #[serde(skip)]
    pub filed: Option<Box<FiledUnder>>,
}

impl RecordResult {
    /// The ShopID and InvoiceNumber the record names (its trail is found by them), when known.
    fn filed_under(&self) -> Option<(&str, &str)> {
        if let Some(f) = &self.filed {
            return Some((&f.shop_id, &f.invoice_number));
        }
        self.key.as_ref()?.filed_under()
    }

    /// What became of it, once its write is known.
    fn outcome(&self) -> Option<RecordOutcome> {
        Some(match (self.status, self.action) {
            (Status::Rejected, _) => RecordOutcome::Rejected,
            (Status::Posted, action) => match action? {
                Action::Inserted => RecordOutcome::Inserted,
                Action::Updated => RecordOutcome::Updated,
                Action::Unchanged => RecordOutcome::Unchanged,
            },
        })
    }
}

#[cfg(test)]
impl RecordResult {
    /// A written record's entry with `warnings` (its action not yet known), for tests.
    pub(crate) fn written(record: &'static str, index: usize, warnings: Vec<Warning>) -> Self {
        RecordResult {
            record,
            index,
            status: Status::Posted,
            action: None,
            key: None,
            errors: None,
            warnings,
            sent: 0..0,
            filed: None,
        }
    }
}

/// What became of a record, in the guide's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    #[serde(rename = "Successfully Posted")]
    Posted,
    Rejected,
}

#[derive(Debug, Default)]
pub struct Outcome {
    /// One entry per input record, in processing order.
    pub results: Vec<RecordResult>,
    pub counts: TypeCounts,
    /// Its records' warnings, counted.
    pub warned: Warned,
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
    fn history(&self, status: StatusCode, counts: TypeCounts, error: Option<String>) -> NewBatch {
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

/// How one run of a batch's write ends when it is not kept; either way its transaction rolls
/// back.
#[derive(Debug)]
enum Attempt {
    /// The batch is refused (or the store failed): the answer.
    Failed(IngestError),
    /// The body repeats its Registrations array, and this run judged one that is not the last
    /// (the one that counts): the work runs again on the last. Never answered.
    Superseded,
}

impl<E: Into<IngestError>> From<E> for Attempt {
    fn from(e: E) -> Self {
        Attempt::Failed(e.into())
    }
}

impl StoreFailure for Attempt {
    fn store_error(&self) -> Option<&StoreError> {
        match self {
            Attempt::Failed(e) => e.store_error(),
            Attempt::Superseded => None,
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
    // Decoding needs no lock: the write starts once there are records to write, and judges
    // and writes the registrations while the rest of a big body is still being decoded.
    std::thread::scope(|threads| {
        let mut arrivals = Arrivals::start(threads, body, partner.timezone);
        arrivals.wait()?;
        let _write = tracing::debug_span!("store_write").entered();
        loop {
            // The work may run again from the start (another instance was in the way, or the
            // body repeats its Registrations array): it keeps nothing between runs.
            match store.write(|tx| write_batch(tx, &mut arrivals.pass(), body, partner, scope, received)) {
                Ok(out) => {
                    tracing::Span::current().record("records", out.results.len());
                    return Ok(out);
                }
                Err(Attempt::Failed(e)) => return Err(e),
                Err(Attempt::Superseded) => continue,
            }
        }
    })
}

/// Judges and writes a batch as it arrives, in processing order (Registrations as they are
/// decoded, then Sales, Claims and Cancellations once the body is read), with its history
/// entry.
fn write_batch(
    tx: &store::Tx,
    arrivals: &mut Pass,
    body: &[u8],
    partner: &Partner,
    scope: Scope,
    received: &Received,
) -> Result<Outcome, Attempt> {
    let now = store::Stamp::of(&received.at);
    let plan = partner.plan();
    let mut out = Outcome::default();
    // Every registration the batch touches, read once; judged and kept up to date in memory.
    let mut ledger = Ledger::default();
    while let Some(registrations) = arrivals.next_registrations() {
        let keys = keys_of(registrations, |r| (&r.shop_id, &r.invoice_number));
        read_into(tx, scope, &mut ledger, keys)?;
        let accepted = judge(&mut out, registrations, |reg| {
            let stored = ledger.usage(&reg.shop_id, &reg.invoice_number);
            rules::check_registration(reg, stored)?;
            // A new one's id is known once it is written (below).
            let id = stored.map_or(UNWRITTEN, |u| u.registration_id);
            ledger.registered(reg, id, received.at);
            Ok((None, ()))
        });
        let written = store::upsert_all(tx, scope, &pending(&accepted), &now)?;
        for ((i, _, reg, ()), &w) in accepted.iter().zip(&written) {
            out.results[*i].action = Some(w.action());
            let new = ledger
                .usage(&reg.shop_id, &reg.invoice_number)
                .is_some_and(|u| u.registration_id == UNWRITTEN);
            // The first write of a registration that was not stored must insert it: else
            // another instance stored it after this batch read, and the batch was judged on a
            // stale read. Running again reads (and locks) it.
            if new && w.action() != Action::Inserted {
                let stale = format!(
                    "registration {}/{} was stored meanwhile",
                    reg.shop_id, reg.invoice_number
                );
                return Err(StoreError::Conflict(stale.into()).into());
            }
            if let store::Written::Inserted(id) = w {
                ledger.written(&reg.shop_id, &reg.invoice_number, id);
            }
        }
    }
    // A body-level error found late refuses it all: returning it rolls back what was written.
    let Some(batch) = arrivals.rest()? else {
        return Err(Attempt::Superseded);
    };
    let keys = keys_of(&batch.claims, |c| (&c.shop_id, &c.invoice_number))
        .chain(keys_of(&batch.cancellations, |c| (&c.shop_id, &c.invoice_number)));
    read_into(tx, scope, &mut ledger, keys)?;
    let sales = judge(&mut out, &batch.sales, |_| Ok((None, ())));
    write(tx, scope, &now, &mut out, &sales)?;
    let claims = judge(&mut out, &batch.claims, |claim| {
        let stored = ledger.usage(&claim.shop_id, &claim.invoice_number);
        let previous = ledger.claim_count(claim);
        let id = rules::check_claim(claim, stored, previous, plan)?.registration_id;
        ledger.claimed(claim);
        Ok((Some(id), ()))
    });
    write(tx, scope, &now, &mut out, &claims)?;
    let cancellations = judge(&mut out, &batch.cancellations, |cancel| {
        let stored = ledger.usage(&cancel.shop_id, &cancel.invoice_number);
        let id = rules::check_cancellation(cancel, stored, plan)?.registration_id;
        ledger.cancelled(cancel);
        Ok((Some(id), ()))
    });
    write(tx, scope, &now, &mut out, &cancellations)?;
    say_where_registrations_are(tx, scope, &mut out.results)?;
    // The history entry commits with the records: a batch that is kept is always listed.
    let rejected = rejections(&out.results, body)?;
    let entry = received.history(out.counts.status(), out.counts, None);
    out.warned = warned(&out.results);
    out.batch_id = store::insert_batch(tx, scope, &entry, &rejected, &out.warned, &trail(&out.results))?;
    store::prune_batches(tx, &(received.at - received.retention))?;
    Ok(out)
}

/// How many different registrations a batch's claims and cancellations did not find are looked
/// for elsewhere (two index probes each): a batch of 100,000 orphans costs 200 probes more.
const LOOKED_FOR: usize = 100;

/// Adds to each "no registration" refusal where the partner has that registration instead: at
/// another shop of the tenant (a ShopID sent without its leading zeros, say), or in its other
/// tenant (a claim sent to live for a registration made while testing).
fn say_where_registrations_are(tx: &store::Tx, scope: Scope, results: &mut [RecordResult]) -> Result<(), StoreError> {
    let mut said: HashMap<FiledUnder, Option<String>> = HashMap::new();
    for entry in results.iter_mut() {
        let error = match entry.errors.as_deref() {
            Some([e]) if e.code == Code::RegistrationNotFound => e.clone(),
            _ => continue,
        };
        let Some((shop_id, invoice_number)) = entry.filed_under() else {
            continue;
        };
        let filed = FiledUnder {
            shop_id: shop_id.to_owned(),
            invoice_number: invoice_number.to_owned(),
        };
        let hint = match said.get(&filed) {
            Some(hint) => hint.clone(),
            None if said.len() < LOOKED_FOR => {
                let hint = query::registered_elsewhere(tx, scope, &filed)?;
                said.insert(filed, hint.clone());
                hint
            }
            None => None,
        };
        if let Some(hint) = hint {
            let error = FieldError {
                message: format!("{}; {hint}", error.message).into(),
                ..error
            };
            entry.errors = Some(FieldErrors::from([error]));
        }
    }
    Ok(())
}

/// What the history keeps of the rejected entries of `results`: the first [`KEPT_REJECTED`]
/// whole, each with the record as sent in `body`, then each (record type, field, code)
/// counted.
fn rejections(results: &[RecordResult], body: &[u8]) -> Result<Rejections, serde_json::Error> {
    let mut entries = Vec::new();
    let mut counted: BTreeMap<(&str, &str, Code), u64> = BTreeMap::new();
    for r in results.iter().filter(|r| r.status == Status::Rejected) {
        if entries.len() < KEPT_REJECTED {
            // The body was read as UTF-8 text, and an item is whole JSON within it.
            let sent = body.get(r.sent.clone()).and_then(|b| std::str::from_utf8(b).ok());
            entries.push(KeptRejection {
                entry: serde_json::to_string(r)?,
                sent: sent.map(str::to_owned),
            });
            continue;
        }
        for e in r.errors.iter().flat_map(|e| e.iter()) {
            *counted.entry((r.record, e.field, e.code)).or_default() += 1;
        }
    }
    let counted = counted
        .into_iter()
        .map(|((record, field, code), count)| RejectionCount {
            record: record.to_owned(),
            field: field.to_owned(),
            code: code.into_str().to_owned(),
            count,
        })
        .collect();
    Ok(Rejections { entries, counted })
}

/// What the history keeps of the warnings of `results`: how many of each kind, and each (record
/// type, field, kind) counted with its first record, the first [`KEPT_WARNING_KINDS`] met, most
/// frequent first.
pub(crate) fn warned(results: &[RecordResult]) -> Warned {
    let mut warned = Warned::default();
    let mut place: HashMap<(&str, &str, WarningKind), usize> = HashMap::new();
    for r in results {
        for w in &r.warnings {
            *warned.per_kind.entry(w.kind).or_default() += 1;
            let kind = (r.record, w.field.as_ref(), w.kind);
            match place.get(&kind) {
                Some(&at) => warned.counted[at].count += 1,
                None if warned.counted.len() < KEPT_WARNING_KINDS => {
                    place.insert(kind, warned.counted.len());
                    warned.counted.push(WarningCount {
                        record: r.record.to_owned(),
                        field: kept_text(&w.field),
                        kind: w.kind.into_str().to_owned(),
                        count: 1,
                        first_index: r.index as u64,
                        message: w.message.clone(),
                    });
                }
                None => {}
            }
        }
    }
    // Most frequent first; as met among equals.
    warned.counted.sort_by_key(|w| std::cmp::Reverse(w.count));
    warned
}

/// The batch's trail: each record that names a ShopID and InvoiceNumber, and what became of it.
fn trail(results: &[RecordResult]) -> Vec<NewTrailEntry<'_>> {
    results
        .iter()
        .filter_map(|r| {
            let (shop_id, invoice_number) = r.filed_under()?;
            Some(NewTrailEntry {
                record: r.record,
                index: r.index,
                shop_id,
                invoice_number,
                outcome: r.outcome()?,
                codes: r.errors.as_ref().map(|errors| {
                    let codes: Vec<&str> = errors.iter().map(|e| e.code.into_str()).collect();
                    codes.join(",")
                }),
            })
        })
        .collect()
}

/// The registrations (ShopID, InvoiceNumber) the valid ones of `records` are filed against.
fn keys_of<'b, T>(
    records: &'b [Decoded<T>],
    key: impl Fn(&'b T) -> (&'b String, &'b String) + 'b,
) -> impl Iterator<Item = (&'b str, &'b str)> + 'b {
    records
        .iter()
        .filter_map(move |d| d.record.as_ref().ok().map(&key))
        .map(|(shop_id, invoice_number)| (shop_id.as_str(), invoice_number.as_str()))
}

/// Reads into the ledger the registrations of `keys` it does not hold yet, each once.
fn read_into<'k>(
    tx: &store::Tx,
    scope: Scope,
    ledger: &mut Ledger,
    keys: impl Iterator<Item = (&'k str, &'k str)>,
) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    let missing: Vec<RegistrationKey> = keys
        .filter(|&(shop_id, invoice_number)| {
            !ledger.knows(shop_id, invoice_number) && seen.insert((shop_id, invoice_number))
        })
        .map(|(shop_id, invoice_number)| (shop_id.to_owned(), invoice_number.to_owned()))
        .collect();
    if !missing.is_empty() {
        ledger.add(store::load_registrations(tx, scope, &missing)?);
    }
    Ok(())
}

/// The id a registration accepted in this batch has in the ledger until it is written.
const UNWRITTEN: i64 = 0;

/// An accepted record: its result entry's position, the registration it is filed against,
/// the record, and what judging it noted.
type Accepted<'b, T, N> = (usize, Option<i64>, &'b T, N);

/// The records to write, from the accepted ones.
fn pending<'b, T, N>(accepted: &[Accepted<'b, T, N>]) -> Vec<store::Pending<'b, T>> {
    accepted.iter().map(|(_, id, record, _)| (*id, *record)).collect()
}

/// Writes the accepted records of one type (set-wise) and notes in each entry what its write
/// did.
fn write<T: Record>(
    tx: &store::Tx,
    scope: Scope,
    now: &store::Stamp,
    out: &mut Outcome,
    accepted: &[Accepted<T, ()>],
) -> Result<(), StoreError> {
    let written = store::upsert_all(tx, scope, &pending(accepted), now)?;
    for ((i, ..), w) in accepted.iter().zip(written) {
        out.results[*i].action = Some(w.action());
    }
    Ok(())
}

/// Records a POST that was refused whole (not usable JSON, too large, too slow...) in the
/// history, in a transaction of its own; `entry` is the body-level result entry, when the
/// response carried one.
pub fn record_refused(
    store: &Store,
    scope: Scope,
    received: &Received,
    status: StatusCode,
    error: &str,
    entry: Option<&str>,
) -> Result<i64, StoreError> {
    let batch = received.history(status, TypeCounts::default(), Some(error.to_owned()));
    let rejected = Rejections {
        entries: entry
            .into_iter()
            .map(|entry| KeptRejection {
                entry: entry.to_owned(),
                sent: None,
            })
            .collect(),
        counted: Vec::new(),
    };
    store.write(|tx| store::insert_batch(tx, scope, &batch, &rejected, &Warned::default(), &[]))
}

/// Judges each decoded record of one type with `judge` (which answers the registration it is
/// filed against and a note, or the business rule it broke), appends its result entry (its
/// action is filled in once it is written), counts it under its type, and answers the accepted
/// ones in order.
fn judge<'b, T: Record, N>(
    out: &mut Outcome,
    records: &'b [Decoded<T>],
    mut judge: impl FnMut(&T) -> Result<(Option<i64>, N), FieldError>,
) -> Vec<Accepted<'b, T, N>> {
    // Registrations are judged a piece at a time: their counts add up.
    let mut counts = out.counts.of(T::KIND);
    let mut accepted = Vec::with_capacity(records.len());
    for d in records {
        let mut entry = RecordResult {
            record: T::NAME,
            index: d.index,
            status: Status::Rejected,
            action: None,
            key: None,
            errors: None,
            warnings: d.warnings.clone(),
            sent: d.sent.clone(),
            filed: None,
        };
        match &d.record {
            // The decode's own list, shared, not copied.
            Err(errors) => {
                entry.errors = Some(FieldErrors::clone(errors));
                match d.readable.as_deref() {
                    Some(Readable::Key(key)) => entry.key = Some(key.clone()),
                    Some(Readable::Registration(filed)) => entry.filed = Some(Box::new(filed.clone())),
                    None => {}
                }
            }
            Ok(record) => {
                entry.key = Some(record.key());
                match judge(record) {
                    Ok((registration_id, note)) => {
                        entry.status = Status::Posted;
                        accepted.push((out.results.len(), registration_id, record, note));
                    }
                    Err(rule) => entry.errors = Some(FieldErrors::from([rule])),
                }
            }
        }
        if entry.errors.is_none() {
            counts.accepted += 1;
        } else {
            counts.rejected += 1;
        }
        out.results.push(entry);
    }
    out.counts.set(T::KIND, counts);
    accepted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(record: &'static str, index: usize, warnings: &[(&str, WarningKind)]) -> RecordResult {
        let warnings = (warnings.iter())
            .map(|&(field, kind)| Warning {
                field: field.to_owned().into(),
                kind,
                message: format!("{field} {kind}"),
            })
            .collect();
        RecordResult::written(record, index, warnings)
    }

    #[test]
    fn the_history_counts_each_warning_by_record_type_field_and_kind_with_its_first_record_most_first() {
        use WarningKind::*;
        let results = [
            result("Registrations", 0, &[]),
            result("Registrations", 1, &[("Colour", UnknownField)]),
            result("Registrations", 2, &[("Colour", UnknownField), ("VIN", RepeatedField)]),
            result("Sales", 0, &[("Colour", UnknownField)]),
            result("Registrations", 3, &[("Colour", UnknownField)]),
            result("Sales", 1, &[("Colour", UnknownField)]),
        ];
        let warned = warned(&results);
        assert_eq!(warned.total(), 6);
        assert_eq!(
            warned.per_kind.into_iter().collect::<Vec<_>>(),
            [(UnknownField, 5), (RepeatedField, 1)]
        );
        let counted: Vec<_> = (warned.counted.iter())
            .map(|w| {
                (
                    w.record.as_str(),
                    w.field.as_str(),
                    w.kind.as_str(),
                    w.count,
                    w.first_index,
                )
            })
            .collect();
        assert_eq!(
            counted,
            [
                ("Registrations", "Colour", "unknown_field", 3, 1),
                ("Sales", "Colour", "unknown_field", 2, 0),
                ("Registrations", "VIN", "repeated_field", 1, 2),
            ]
        );
        assert_eq!(warned.counted[0].message, "Colour unknown_field");
    }

    #[test]
    fn past_a_hundred_kinds_warnings_are_only_counted_in_all() {
        let keys: Vec<String> = (0..KEPT_WARNING_KINDS + 50).map(|i| format!("Note{i}")).collect();
        let mut results: Vec<RecordResult> = (keys.iter().enumerate())
            .map(|(i, key)| result("Sales", i, &[(key, WarningKind::UnknownField)]))
            .collect();
        // A kind already kept is still counted after the limit is reached.
        results.push(result("Sales", 999, &[("Note0", WarningKind::UnknownField)]));
        let warned = warned(&results);
        assert_eq!(warned.total(), KEPT_WARNING_KINDS as u64 + 51);
        assert_eq!(warned.counted.len(), KEPT_WARNING_KINDS);
        assert_eq!(
            (warned.counted[0].field.as_str(), warned.counted[0].count),
            ("Note0", 2)
        );
        // A key longer than the history keeps is kept shortened, saying so.
        let long = "k".repeat(crate::model::KEPT_CHARACTERS + 3);
        let warned = super::warned(&[result("Sales", 0, &[(&long, WarningKind::UnknownField)])]);
        assert!(warned.counted[0].field.ends_with("... (3 more characters)"));
    }
}
