//! The four record types of the guide's data dictionary. Each module declares its fields (type,
//! length, required) and turns a raw wire record into a typed domain record, returning every
//! field error at once. Nothing here knows HTTP or SQL.

mod cancellation;
mod claim;
mod declare;
mod registration;
pub mod rules;
mod sale;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::mpsc;

use chrono_tz::Tz;
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeStruct};
use serde_json::value::RawValue;

pub use cancellation::Cancellation;
pub use claim::Claim;
pub use declare::{FieldType, OwnedValue, Shape, Value};
pub use registration::Registration;
pub use sale::Sale;

use crate::wire::{
    self, BodyError, FieldError, FieldErrors, FieldSpec, Kind, RawChunk, RawItem, RawRecord, ValueError,
};

pub use crate::wire::Cents;

/// The guide's four record types, in processing order: within one body, Registrations, then
/// Sales, then Claims, then Cancellations, so a batch may register and claim at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    Registrations,
    Sales,
    Claims,
    Cancellations,
}

impl RecordKind {
    /// Every kind, in processing order.
    pub const ALL: [RecordKind; 4] = [
        RecordKind::Registrations,
        RecordKind::Sales,
        RecordKind::Claims,
        RecordKind::Cancellations,
    ];

    /// Its place in processing order (in `ALL`).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The body's array name, and the `Record` of a result entry ("Registrations").
    pub const fn name(self) -> &'static str {
        match self {
            RecordKind::Registrations => "Registrations",
            RecordKind::Sales => "Sales",
            RecordKind::Claims => "Claims",
            RecordKind::Cancellations => "Cancellations",
        }
    }

    /// The data dictionary of the kind's records.
    pub const fn fields(self) -> &'static [FieldSpec] {
        match self {
            RecordKind::Registrations => Registration::FIELDS,
            RecordKind::Sales => Sale::FIELDS,
            RecordKind::Claims => Claim::FIELDS,
            RecordKind::Cancellations => Cancellation::FIELDS,
        }
    }

    /// The stored column of each field, in declaration order.
    pub const fn columns(self) -> &'static [&'static str] {
        match self {
            RecordKind::Registrations => Registration::COLUMNS,
            RecordKind::Sales => Sale::COLUMNS,
            RecordKind::Claims => Claim::COLUMNS,
            RecordKind::Cancellations => Cancellation::COLUMNS,
        }
    }

    /// The wire names of the natural key's fields.
    pub const fn key(self) -> &'static [&'static str] {
        match self {
            RecordKind::Registrations => Registration::KEY,
            RecordKind::Sales => Sale::KEY,
            RecordKind::Claims => Claim::KEY,
            RecordKind::Cancellations => Cancellation::KEY,
        }
    }

    /// Claims and cancellations are filed against a registration (same ShopID and
    /// InvoiceNumber).
    pub const fn belongs_to_registration(self) -> bool {
        matches!(self, RecordKind::Claims | RecordKind::Cancellations)
    }
}

/// A record type of the guide, declared once with `record!` (see `declare.rs`): every list of
/// its fields (wire names, rules, stored columns, GET shape) comes from that declaration.
pub trait Record: Sized + Serialize {
    const KIND: RecordKind;
    /// The body's array name, and the `Record` of a result entry ("Registrations").
    const NAME: &'static str = Self::KIND.name();
    /// The data dictionary: wire name, kind, length, required; in declaration order.
    const FIELDS: &'static [FieldSpec];
    /// The stored column of each field (its Rust name), in the same order.
    const COLUMNS: &'static [&'static str];
    /// The wire names of the natural key's fields: a resend with the same key updates the
    /// stored record.
    const KEY: &'static [&'static str];

    /// Reads the record's fields; the reader collects the errors.
    fn read(r: &mut FieldReader<'_, '_>) -> Self;
    /// Every field's value, in declaration order.
    fn values(&self) -> Vec<Value<'_>>;
    /// One field's value, by its wire name.
    fn value_of(&self, name: &str) -> Option<Value<'_>>;
    /// The record from its values in declaration order (as a store reads them back); `None`
    /// when one has the wrong shape.
    fn from_values(values: Vec<OwnedValue>) -> Option<Self>;

    /// The natural key, shown in results as an object of the guide's field names.
    fn key(&self) -> NaturalKey;
}

/// A record as the guide's GET examples show it: every field, by its wire name, in
/// declaration order.
pub(crate) fn serialize_record<T: Record, S: serde::Serializer>(record: &T, s: S) -> Result<S::Ok, S::Error> {
    let mut st = s.serialize_struct(T::NAME, T::FIELDS.len())?;
    for (spec, value) in T::FIELDS.iter().zip(record.values()) {
        st.serialize_field(spec.name, &declare::Shown(spec.kind, value))?;
    }
    st.end()
}

/// What writing a record did to the stored one (a result entry's `Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Inserted,
    Updated,
    Unchanged,
}

/// A natural key, shown in results as an object of the guide's field names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaturalKey(pub Vec<(&'static str, String)>);

impl Serialize for NaturalKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Reads the fields of one raw record by name, collecting every error instead of stopping at
/// the first: a batch's author needs them all.
pub struct FieldReader<'r, 'a> {
    fields: &'static [FieldSpec],
    raw: &'r RawRecord<'a>,
    zone: Tz,
    errors: Vec<FieldError>,
    /// Values taken with a remark (money sent with float noise).
    warnings: Vec<String>,
}

impl<'r, 'a> FieldReader<'r, 'a> {
    pub fn new(fields: &'static [FieldSpec], raw: &'r RawRecord<'a>, zone: Tz) -> Self {
        Self {
            fields,
            raw,
            zone,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The value of field `i` (`spec`), parsed; `None` when absent or refused (with the error
    /// noted).
    fn value<T>(
        &mut self,
        i: usize,
        spec: FieldSpec,
        parse: impl FnOnce(&RawValue, Tz) -> Result<Option<T>, ValueError>,
    ) -> Option<T> {
        let parsed = match self.raw.values[i] {
            Some(raw) => parse(raw, self.zone),
            None => Ok(None),
        };
        match parsed {
            Ok(None) if spec.required => {
                let message = match spec.required_message {
                    Some(m) => Cow::Borrowed(m),
                    None => Cow::Owned(format!("{} is required", spec.name)),
                };
                self.error(spec.name, "required", message);
                None
            }
            Ok(v) => v,
            Err(e) => {
                self.error(spec.name, e.code, format!("{} {}", spec.name, e.message).into());
                None
            }
        }
    }

    fn error(&mut self, field: &'static str, code: &'static str, message: Cow<'static, str>) {
        self.errors.push(FieldError { field, code, message });
    }

    /// Field `i` (its place in the declaration), read by its declared kind: `T` is the declared
    /// Rust type, which `record!` checks at compile time fits the kind. An absent or refused
    /// value reads as `T::default()` (the reader has the error).
    pub fn get<T: FieldType>(&mut self, i: usize) -> T {
        let spec = self.fields[i];
        let value = match spec.kind {
            // A required text that is blank counts as missing.
            Kind::Text(max) => OwnedValue::Text(
                self.value(i, spec, |raw, _| {
                    Ok(wire::parse_text(raw, max)?.filter(|s| !s.trim().is_empty()))
                })
                .unwrap_or_default(),
            ),
            Kind::Int { min } => OwnedValue::Number(self.value(i, spec, |raw, _| wire::parse_int(raw, min))),
            Kind::Money => OwnedValue::Number(self.money(i, spec)),
            Kind::Date => OwnedValue::Date(self.value(i, spec, wire::parse_date)),
            // A Yes/No field is false when absent.
            Kind::Flag => OwnedValue::Flag(self.value(i, spec, |raw, _| wire::parse_flag(raw)).unwrap_or(false)),
        };
        // Always a value: `record!` refuses to compile a type that does not fit its kind.
        T::from_value(value).unwrap_or_default()
    }

    /// Money in cents; a JSON number taken as its nearest cent (float noise) adds a warning.
    fn money(&mut self, i: usize, spec: FieldSpec) -> Option<Cents> {
        let money = self.value(i, spec, |raw, _| wire::parse_money(raw))?;
        if let Some(sent) = money.float_noise {
            self.warnings.push(format!(
                "{} {sent} was taken as {} (a binary floating-point value within 1e-9 of a whole cent)",
                spec.name,
                wire::format_cents(money.cents)
            ));
        }
        Some(money.cents)
    }

    /// The record or its field errors, and the remarks on values taken.
    fn finish<T>(self, record: T) -> (Result<T, FieldErrors>, Vec<String>) {
        let record = if self.errors.is_empty() {
            Ok(record)
        } else {
            Err(self.errors.into())
        };
        (record, self.warnings)
    }
}

/// One input record after decoding: where it was, and the typed record or its field errors.
#[derive(Debug)]
pub struct Decoded<T> {
    pub index: usize,
    pub record: Result<T, FieldErrors>,
    /// Unknown fields, ignored: named so a misspelt field is noticed.
    pub warnings: Vec<String>,
}

/// Decodes one raw record of type `T`.
pub fn decode_record<T: Record>(index: usize, item: RawItem<'_>, zone: Tz) -> Decoded<T> {
    match item {
        RawItem::NotAnObject(what) => Decoded {
            index,
            record: Err(FieldErrors::from([FieldError {
                field: T::NAME,
                code: "invalid_type",
                message: format!("each entry of {} must be a JSON object, got {what}", T::NAME).into(),
            }])),
            warnings: Vec::new(),
        },
        RawItem::Record(raw) => {
            let mut reader = FieldReader::new(T::FIELDS, &raw, zone);
            let record = T::read(&mut reader);
            let (record, remarks) = reader.finish(record);
            let mut warnings: Vec<String> = raw
                .unknown
                .iter()
                .map(|k| format!("unknown field {} was ignored", wire::echo(k)))
                .collect();
            warnings.extend(remarks);
            Decoded {
                index,
                record,
                warnings,
            }
        }
    }
}

/// Bodies smaller than this (about 500 registrations) are decoded on the request's thread
/// alone: a thread costs more than they do.
const PARALLEL_DECODE_MIN_BYTES: usize = 256 * 1024;

/// Threads a big body is decoded on: the cores, at most four (asked once: the answer reads
/// cgroup files).
static DECODE_THREADS: std::sync::LazyLock<usize> =
    std::sync::LazyLock::new(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(4)));

/// Every record of one POST body, decoded, by type.
#[derive(Debug, Default)]
pub struct Batch {
    pub registrations: Vec<Decoded<Registration>>,
    pub sales: Vec<Decoded<Sale>>,
    pub claims: Vec<Decoded<Claim>>,
    pub cancellations: Vec<Decoded<Cancellation>>,
}

/// A chunk of one record array, decoded, with where it goes.
struct Piece {
    kind: RecordKind,
    occurrence: usize,
    first: usize,
    records: Records,
}

/// Decoded records of one type.
enum Records {
    Registrations(Vec<Decoded<Registration>>),
    Sales(Vec<Decoded<Sale>>),
    Claims(Vec<Decoded<Claim>>),
    Cancellations(Vec<Decoded<Cancellation>>),
}

impl Piece {
    fn decode(chunk: RawChunk<'_>, zone: Tz) -> Piece {
        fn all<T: Record>(chunk: RawChunk<'_>, zone: Tz) -> Vec<Decoded<T>> {
            let first = chunk.first;
            chunk
                .items
                .into_iter()
                .enumerate()
                .map(|(i, item)| decode_record(first + i, item, zone))
                .collect()
        }
        let kind = RecordKind::ALL[chunk.kind];
        let (occurrence, first) = (chunk.occurrence, chunk.first);
        let records = match kind {
            RecordKind::Registrations => Records::Registrations(all(chunk, zone)),
            RecordKind::Sales => Records::Sales(all(chunk, zone)),
            RecordKind::Claims => Records::Claims(all(chunk, zone)),
            RecordKind::Cancellations => Records::Cancellations(all(chunk, zone)),
        };
        Piece {
            kind,
            occurrence,
            first,
            records,
        }
    }
}

impl Batch {
    /// Decodes a POST body; dates without a zone are in `zone`.
    pub fn decode(body: &[u8], zone: Tz) -> Result<Batch, BodyError> {
        Batch::decode_with(body, zone, Arrivals::take_batch)
    }

    /// Decodes a POST body (dates without a zone in `zone`) and hands it to `use_it` as it
    /// arrives: its Registrations in array order while the rest of a big body is still being
    /// read and decoded (`use_it` then runs on a thread of its own), the other records once
    /// the body is read. So a batch's registrations are judged and written while its later
    /// records are decoded.
    pub fn decode_with<R: Send>(body: &[u8], zone: Tz, use_it: impl FnOnce(&mut Arrivals) -> R + Send) -> R {
        let types = RecordKind::ALL.map(|kind| (kind.name(), kind.fields()));
        let threads = *DECODE_THREADS;
        if body.len() < PARALLEL_DECODE_MIN_BYTES || threads < 2 {
            let decoded = wire::decode_batch(body, &types).map(|arrays| {
                let pieces = arrays.into_iter().enumerate().map(|(kind, items)| {
                    let chunk = RawChunk {
                        kind,
                        occurrence: 0,
                        first: 0,
                        items,
                    };
                    Piece::decode(chunk, zone)
                });
                Batch::assemble(pieces.collect(), &[1; RecordKind::ALL.len()])
            });
            return use_it(&mut Arrivals::decoded(decoded));
        }
        // This thread reads the body and hands its records on in chunks as it goes; the other
        // threads decode them meanwhile (and this one joins them once the body is read),
        // handing the Registrations on to `use_it` as they are decoded.
        let (send, receive) = mpsc::channel::<RawChunk<'_>>();
        let receive = std::sync::Mutex::new(receive);
        let (send_registrations, arrived) = mpsc::channel::<RegistrationPiece>();
        let (send_rest, rest) = mpsc::channel::<Result<Read, BodyError>>();
        let decode_all = |registrations: mpsc::Sender<RegistrationPiece>| {
            let mut pieces = Vec::new();
            loop {
                let next = receive.lock().expect("no decoding thread panics").recv();
                let Ok(chunk) = next else {
                    // The body is read, and every chunk taken.
                    return pieces;
                };
                match Piece::decode(chunk, zone) {
                    Piece {
                        occurrence,
                        first,
                        records: Records::Registrations(records),
                        ..
                    } => {
                        // Nobody is waiting for them any more when `use_it` gave up early.
                        let _ = registrations.send(RegistrationPiece {
                            occurrence,
                            first,
                            records,
                        });
                    }
                    other => pieces.push(other),
                }
            }
        };
        let decode_all = &decode_all;
        let mut arrivals = Arrivals::streaming(arrived, rest);
        std::thread::scope(|scope| {
            let span = tracing::Span::current();
            let user = scope.spawn(move || span.in_scope(|| use_it(&mut arrivals)));
            let others: Vec<_> = (1..threads)
                .map(|_| {
                    let registrations = send_registrations.clone();
                    scope.spawn(move || decode_all(registrations))
                })
                .collect();
            let read = wire::decode_batch_streaming(body, &types, &|chunk| {
                // Cannot fail: the receiver lives until the scope ends.
                let _ = send.send(chunk);
            });
            drop(send);
            let mut pieces = decode_all(send_registrations);
            for other in others {
                pieces.extend(other.join().expect("decoding records does not panic"));
            }
            let rest = read.map(|occurrences| Read {
                registration_arrays: occurrences[RecordKind::Registrations.index()],
                others: Batch::assemble(pieces, &occurrences),
            });
            // `use_it` may have returned already.
            let _ = send_rest.send(rest);
            user.join().expect("the batch's writer does not panic")
        })
    }

    /// The batch from its decoded pieces, in any order; `occurrences` says how many arrays of
    /// each type the body held: a repeated key keeps its last array, as JSON readers do.
    fn assemble(mut pieces: Vec<Piece>, occurrences: &[usize]) -> Batch {
        pieces.retain(|p| p.occurrence + 1 == occurrences[p.kind.index()]);
        pieces.sort_by_key(|p| p.first);
        let mut batch = Batch::default();
        for piece in pieces {
            match piece.records {
                Records::Registrations(r) => batch.registrations.extend(r),
                Records::Sales(r) => batch.sales.extend(r),
                Records::Claims(r) => batch.claims.extend(r),
                Records::Cancellations(r) => batch.cancellations.extend(r),
            }
        }
        batch
    }

    pub fn len(&self) -> usize {
        self.registrations.len() + self.sales.len() + self.claims.len() + self.cancellations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Decoded Registrations of one chunk, with where they go.
struct RegistrationPiece {
    occurrence: usize,
    first: usize,
    records: Vec<Decoded<Registration>>,
}

/// A body once read: its records other than the Registrations, and how many Registrations
/// arrays it held (the last one counts, as JSON readers do).
struct Read {
    others: Batch,
    registration_arrays: usize,
}

/// A body as it arrives (see [`Batch::decode_with`]): its Registrations in array order, then
/// the rest once the body is read. What was handed on is kept, so the work on it can start
/// again from the first Registration ([`Arrivals::rewind`]).
pub struct Arrivals {
    /// Decoded Registrations, until every decoding thread is done.
    arrived: Option<mpsc::Receiver<RegistrationPiece>>,
    /// The Registrations received, by array (a repeated key's) and first index.
    kept: BTreeMap<(usize, usize), Vec<Decoded<Registration>>>,
    /// Whether a Registration that decoded (and so may be written) has arrived.
    writable: bool,
    /// The array being handed on, and the index of its next Registration.
    occurrence: usize,
    next: usize,
    /// The rest of the body, until it is read; then what it was.
    coming: Option<mpsc::Receiver<Result<Read, BodyError>>>,
    rest: Option<Result<Read, BodyError>>,
}

/// The rest of a body whose reading thread ended without sending it: that thread panicked,
/// and the panic is the answer (this error is never seen).
fn reading_stopped() -> BodyError {
    BodyError::from(<serde_json::Error as serde::de::Error>::custom(
        "the body's reading stopped",
    ))
}

impl Arrivals {
    fn decoded(decoded: Result<Batch, BodyError>) -> Arrivals {
        let mut kept = BTreeMap::new();
        let rest = decoded.map(|mut others| {
            let registrations = std::mem::take(&mut others.registrations);
            if !registrations.is_empty() {
                kept.insert((0, 0), registrations);
            }
            Read {
                others,
                registration_arrays: 1,
            }
        });
        Arrivals {
            arrived: None,
            kept,
            // Nothing more arrives: the body is read.
            writable: true,
            occurrence: 0,
            next: 0,
            coming: None,
            rest: Some(rest),
        }
    }

    fn streaming(
        arrived: mpsc::Receiver<RegistrationPiece>,
        rest: mpsc::Receiver<Result<Read, BodyError>>,
    ) -> Arrivals {
        Arrivals {
            arrived: Some(arrived),
            kept: BTreeMap::new(),
            writable: false,
            occurrence: 0,
            next: 0,
            coming: Some(rest),
            rest: None,
        }
    }

    /// Waits for the next decoded Registrations; false once every decoding thread is done.
    fn receive(&mut self) -> bool {
        let Some(arrived) = &self.arrived else {
            return false;
        };
        match arrived.recv() {
            Ok(piece) => {
                if !piece.records.is_empty() {
                    self.writable |= piece.records.iter().any(|d| d.record.is_ok());
                    self.kept.insert((piece.occurrence, piece.first), piece.records);
                }
                true
            }
            Err(_) => {
                self.arrived = None;
                false
            }
        }
    }

    /// Waits until there is a Registration to write, or the body is read: answers the
    /// body-level error if it is already known (so an unusable body opens no transaction). A
    /// body whose Registrations are all refused takes the write lock only once it is read:
    /// 100,000 broken records, decoded while the lock is held, kept every other partner's
    /// batch waiting.
    pub fn wait(&mut self) -> Result<(), BodyError> {
        while !self.writable && self.receive() {}
        if self.kept.is_empty()
            && let Err(e) = self.read_rest()
        {
            return Err(e.clone());
        }
        Ok(())
    }

    /// The next Registrations of the body, in array order, as they are decoded (waiting for
    /// them); None after the last, or once a later Registrations array has been seen (the
    /// body repeats the key, and the last array counts: see [`Arrivals::rest`]).
    pub fn next_registrations(&mut self) -> Option<&[Decoded<Registration>]> {
        loop {
            let at = (self.occurrence, self.next);
            if let Some(len) = self.kept.get(&at).map(Vec::len) {
                self.next += len;
                return self.kept.get(&at).map(Vec::as_slice);
            }
            let later = self.kept.keys().next_back().is_some_and(|(o, _)| *o > self.occurrence);
            if later || !self.receive() {
                return None;
            }
        }
    }

    /// The rest of the body, waiting for it to be read.
    fn read_rest(&mut self) -> &Result<Read, BodyError> {
        let coming = &self.coming;
        self.rest.get_or_insert_with(|| {
            coming
                .as_ref()
                .and_then(|rest| rest.recv().ok())
                .unwrap_or_else(|| Err(reading_stopped()))
        })
    }

    /// Once the body is read (waiting for it): its other records (Sales, Claims,
    /// Cancellations), or the body-level error that refuses it all; None when the
    /// Registrations handed on were not of its last Registrations array (the body repeats
    /// the key): then [`Arrivals::rewind`] and start again.
    pub fn rest(&mut self) -> Result<Option<&Batch>, BodyError> {
        let occurrence = self.occurrence;
        match self.read_rest() {
            Ok(read) if occurrence + 1 >= read.registration_arrays => Ok(Some(&read.others)),
            Ok(_) => Ok(None),
            Err(e) => Err(e.clone()),
        }
    }

    /// Hands the Registrations on again from the first, of the body's last Registrations
    /// array once the body is read.
    pub fn rewind(&mut self) {
        if let Some(Ok(read)) = &self.rest {
            self.occurrence = read.registration_arrays.saturating_sub(1);
            self.kept.retain(|(o, _), _| *o >= self.occurrence);
        }
        self.next = 0;
    }

    /// The whole batch, once the body is read.
    fn take_batch(&mut self) -> Result<Batch, BodyError> {
        while self.receive() {}
        self.read_rest();
        let read = self.rest.take().unwrap_or_else(|| Err(reading_stopped()))?;
        let last = read.registration_arrays.saturating_sub(1);
        let mut batch = read.others;
        batch.registrations = std::mem::take(&mut self.kept)
            .into_iter()
            .filter(|((occurrence, _), _)| *occurrence == last)
            .flat_map(|(_, records)| records)
            .collect();
        Ok(batch)
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// Decodes one record of type `T` from a JSON object, in UTC.
    pub fn decode<T: Record>(json: &str) -> Decoded<T> {
        let body = format!("{{\"{}\": [{json}]}}", T::NAME);
        let arrays = wire::decode_batch(body.as_bytes(), &[(T::NAME, T::FIELDS)]).unwrap();
        let item = arrays.into_iter().next().unwrap().into_iter().next().unwrap();
        decode_record(0, item, Tz::UTC)
    }

    /// The (field, code) pairs of a rejected record.
    pub fn errors<T: Record + std::fmt::Debug>(json: &str) -> Vec<(&'static str, &'static str)> {
        let errs = decode::<T>(json).record.expect_err("expected a rejection");
        errs.iter().map(|e| (e.field, e.code)).collect()
    }
}

#[cfg(test)]
mod declaration_tests {
    use super::*;
    use crate::records::test_support::decode;

    fn owned(v: Value<'_>) -> OwnedValue {
        match v {
            Value::Text(t) => OwnedValue::Text(t.to_owned()),
            Value::Number(n) => OwnedValue::Number(n),
            Value::Date(d) => OwnedValue::Date(d),
            Value::Flag(b) => OwnedValue::Flag(b),
        }
    }

    /// Every field's declared type fits its kind: a record read back from its values (as a
    /// store does) is the record, and every field has a value and a column.
    fn round_trips<T: Record + PartialEq + std::fmt::Debug>(json: &str) {
        let record = decode::<T>(json).record.expect("a valid record");
        let values = record.values();
        assert_eq!(values.len(), T::FIELDS.len());
        assert_eq!(T::COLUMNS.len(), T::FIELDS.len());
        for key in T::KEY {
            assert!(T::FIELDS.iter().any(|f| f.name == *key), "{key}");
        }
        let back = T::from_values(values.into_iter().map(owned).collect());
        assert_eq!(back.as_ref(), Some(&record));
    }

    #[test]
    fn every_record_type_round_trips_through_its_values() {
        round_trips::<Registration>(
            r#"{"OrgID": "O", "ShopID": "S", "InvoiceNumber": "I", "PlanEnrollDate": "2018-12-04T13:08:00.25Z",
                "EmployeeID": "E", "CustomerID": "C", "VehicleYear": "08", "VehicleMake": "GMC",
                "VehicleModel": "SIERRA", "VIN": "V", "CurrentMileage": 187437, "TiresCovered": 4,
                "TPPPrice": 995.68, "TireBrand": "NIT", "TireModel": "M", "TireSize": "2656518",
                "TirePrice": 188.99, "TireCost": 105.98, "TireDOT1": "D1", "TireDOT6": "D6",
                "CommercialVehicle": "Yes"}"#,
        );
        round_trips::<Sale>(
            r#"{"ShopID": "S", "InvoiceNumber": "I", "SaleDate": "2020-01-27", "TireCount": 4,
                "TireBrand": "B", "TireSize": "Z", "TirePrice": 1, "TireCost": 0.5}"#,
        );
        round_trips::<Claim>(
            r#"{"ShopID": "S", "InvoiceNumber": "I", "ClaimDate": "2020-01-27", "RepairShopID": "R",
                "RepairInvoiceNumber": "RI", "TireClaimCount": 1, "CreditAmount": 64.04,
                "CostPerUnit": 60, "TireBrand": "B", "TireSize": "Z", "TireCost": 58,
                "TireLocation6": "L6"}"#,
        );
        round_trips::<Cancellation>(
            r#"{"ShopID": "S", "InvoiceNumber": "I", "CancelShopID": "S", "CancelInvoiceNumber": "C",
                "TireCancelCount": 1, "CancelDate": "2020-01-27"}"#,
        );
    }

    #[test]
    fn record_kinds_are_listed_once_in_processing_order() {
        let names: Vec<&str> = RecordKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names, ["Registrations", "Sales", "Claims", "Cancellations"]);
        assert_eq!(Registration::NAME, "Registrations");
        assert_eq!(Claim::KIND.fields().len(), Claim::FIELDS.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` sales; every 1000th is refused (its TireCount is "many"), its neighbours are not.
    fn sales(n: usize) -> Vec<serde_json::Value> {
        (0..n)
            .map(|i| {
                serde_json::json!({
                    "ShopID": "S1", "InvoiceNumber": format!("I{i}"), "SaleDate": "2026-01-27",
                    "TireCount": if i % 1000 == 999 { serde_json::json!("many") } else { serde_json::json!(4) },
                    "TireBrand": "SUM", "TireModel": "M", "TireSize": "2356018",
                    "TirePrice": 225.09, "TireCost": 195.09
                })
            })
            .collect()
    }

    /// Decoded on several threads while it is read, a big array keeps its order, its indexes
    /// and each record's own errors.
    #[test]
    fn a_big_array_decodes_in_order_with_its_indexes() {
        let n = wire::CHUNK_ITEMS * 8 + 7;
        let body = serde_json::to_vec(&serde_json::json!({ "Sales": sales(n) })).unwrap();
        assert!(
            body.len() >= PARALLEL_DECODE_MIN_BYTES,
            "the body is decoded on one thread"
        );
        let batch = Batch::decode(&body, chrono_tz::UTC).unwrap();
        assert_eq!(batch.sales.len(), n);
        for (i, d) in batch.sales.iter().enumerate() {
            assert_eq!(d.index, i);
            match &d.record {
                Ok(sale) => {
                    assert_ne!(i % 1000, 999);
                    assert_eq!(sale.invoice_number, format!("I{i}"));
                }
                Err(errors) => {
                    assert_eq!(i % 1000, 999);
                    assert_eq!(errors[0].field, "TireCount");
                }
            }
        }
    }

    /// A big body read in chunks keeps a repeated array key's last array, as a small one does,
    /// even when the last is null or short; and a body-level error still refuses it all.
    #[test]
    fn a_big_body_keeps_the_last_of_a_repeated_array() {
        let big = serde_json::to_string(&sales(wire::CHUNK_ITEMS * 8)).unwrap();
        let short = serde_json::to_string(&sales(3)).unwrap();
        let decode = |body: String| {
            assert!(body.len() >= PARALLEL_DECODE_MIN_BYTES);
            Batch::decode(body.as_bytes(), chrono_tz::UTC)
        };
        let batch = decode(format!(r#"{{"Sales": {big}, "Registrations": [], "SALES": null}}"#)).unwrap();
        assert!(batch.is_empty());
        let batch = decode(format!(r#"{{"Sales": {big}, "sales": {short}}}"#)).unwrap();
        assert_eq!(batch.sales.iter().map(|d| d.index).collect::<Vec<_>>(), [0, 1, 2]);
        let batch = decode(format!(r#"{{"Sales": {short}, "Sales": {big}}}"#)).unwrap();
        assert_eq!(batch.sales.len(), wire::CHUNK_ITEMS * 8);
        assert!(matches!(
            decode(format!(r#"{{"Sales": {big}, "Claims": 7}}"#)),
            Err(BodyError::Json(_))
        ));
    }
}
