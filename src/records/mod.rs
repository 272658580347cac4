//! The four record types of the guide's data dictionary. Each module declares its fields (type,
//! length, required) and turns a raw wire record into a typed domain record, returning every
//! field error at once. Nothing here knows HTTP or SQL.

mod cancellation;
mod claim;
mod registration;
pub mod rules;
mod sale;
pub mod serde_out;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::value::RawValue;

pub use cancellation::Cancellation;
pub use claim::Claim;
pub use registration::Registration;
pub use sale::Sale;

use crate::wire::{self, BodyError, FieldError, FieldSpec, Kind, RawItem, RawRecord, ValueError};

/// Money in integer cents: never a float.
pub type Cents = i64;

/// A record type of the guide.
pub trait Record: Sized {
    /// The body's array name, and the `Record` of a result entry ("Registrations").
    const NAME: &'static str;
    const FIELDS: &'static [FieldSpec];
    /// Reads the record's fields; the reader collects the errors.
    fn read(r: &mut FieldReader<'_, '_>) -> Self;
    /// The natural key: a resend with the same key updates the stored record.
    fn key(&self) -> NaturalKey;
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
    /// Fields are usually read in declaration order: this makes the lookup O(1).
    next: usize,
}

impl<'r, 'a> FieldReader<'r, 'a> {
    pub fn new(fields: &'static [FieldSpec], raw: &'r RawRecord<'a>, zone: Tz) -> Self {
        Self {
            fields,
            raw,
            zone,
            errors: Vec::new(),
            warnings: Vec::new(),
            next: 0,
        }
    }

    fn spec(&mut self, name: &'static str) -> (usize, FieldSpec) {
        let i = match self.fields.get(self.next) {
            Some(f) if f.name == name => self.next,
            _ => self
                .fields
                .iter()
                .position(|f| f.name == name)
                .unwrap_or_else(|| panic!("{name} is not a declared field")),
        };
        self.next = i + 1;
        (i, self.fields[i])
    }

    fn value<T>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&RawValue, Kind, Tz) -> Result<Option<T>, ValueError>,
    ) -> Option<T> {
        let (i, spec) = self.spec(name);
        let parsed = match self.raw.values[i] {
            Some(raw) => parse(raw, spec.kind, self.zone),
            None => Ok(None),
        };
        match parsed {
            Ok(None) if spec.required => {
                self.error(spec.name, "required", format!("{} is required", spec.name));
                None
            }
            Ok(v) => v,
            Err(e) => {
                self.error(spec.name, e.code, format!("{} {}", spec.name, e.message));
                None
            }
        }
    }

    fn error(&mut self, field: &'static str, code: &'static str, message: String) {
        self.errors.push(FieldError { field, code, message });
    }

    /// A string field; `""` when absent. A required one must not be blank.
    pub fn text(&mut self, name: &'static str) -> String {
        self.value(name, |raw, kind, _| {
            let Kind::Text(max) = kind else {
                unreachable!("{name} is not text")
            };
            Ok(wire::parse_text(raw, max)?.filter(|s| !s.trim().is_empty()))
        })
        .unwrap_or_default()
    }

    pub fn int(&mut self, name: &'static str) -> Option<i64> {
        self.value(name, |raw, kind, _| {
            let Kind::Int { min } = kind else {
                unreachable!("{name} is not an int")
            };
            wire::parse_int(raw, min)
        })
    }

    /// Money in cents; a JSON number taken as its nearest cent (float noise) adds a warning.
    pub fn money(&mut self, name: &'static str) -> Option<Cents> {
        let money = self.value(name, |raw, _, _| wire::parse_money(raw))?;
        if let Some(sent) = money.float_noise {
            self.warnings.push(format!(
                "{name} {sent} was taken as {} (a binary floating-point value within 1e-9 of a whole cent)",
                wire::format_cents(money.cents)
            ));
        }
        Some(money.cents)
    }

    pub fn date(&mut self, name: &'static str) -> Option<DateTime<Utc>> {
        self.value(name, |raw, _, zone| wire::parse_date(raw, zone))
    }

    /// A Yes/No field; false when absent.
    pub fn flag(&mut self, name: &'static str) -> bool {
        self.value(name, |raw, _, _| wire::parse_flag(raw)).unwrap_or(false)
    }

    /// The record or its field errors, and the remarks on values taken.
    fn finish<T>(self, record: T) -> (Result<T, Vec<FieldError>>, Vec<String>) {
        let record = if self.errors.is_empty() {
            Ok(record)
        } else {
            Err(self.errors)
        };
        (record, self.warnings)
    }
}

/// One input record after decoding: where it was, and the typed record or its field errors.
#[derive(Debug)]
pub struct Decoded<T> {
    pub index: usize,
    pub record: Result<T, Vec<FieldError>>,
    /// Unknown fields, ignored: named so a misspelt field is noticed.
    pub warnings: Vec<String>,
}

/// Decodes one raw record of type `T`.
pub fn decode_record<T: Record>(index: usize, item: RawItem<'_>, zone: Tz) -> Decoded<T> {
    match item {
        RawItem::NotAnObject(what) => Decoded {
            index,
            record: Err(vec![FieldError {
                field: T::NAME,
                code: "invalid_type",
                message: format!("each entry of {} must be a JSON object, got {what}", T::NAME),
            }]),
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

/// Every record of one POST body, decoded, by type.
#[derive(Debug, Default)]
pub struct Batch {
    pub registrations: Vec<Decoded<Registration>>,
    pub sales: Vec<Decoded<Sale>>,
    pub claims: Vec<Decoded<Claim>>,
    pub cancellations: Vec<Decoded<Cancellation>>,
}

impl Batch {
    /// Decodes a POST body; dates without a zone are in `zone`.
    pub fn decode(body: &[u8], zone: Tz) -> Result<Batch, BodyError> {
        const TYPES: &[(&str, &[FieldSpec])] = &[
            (Registration::NAME, Registration::FIELDS),
            (Sale::NAME, Sale::FIELDS),
            (Claim::NAME, Claim::FIELDS),
            (Cancellation::NAME, Cancellation::FIELDS),
        ];
        let mut arrays = wire::decode_batch(body, TYPES)?.into_iter();
        let mut next = || -> Vec<RawItem<'_>> { arrays.next().unwrap_or_default() };
        fn all<T: Record>(items: Vec<RawItem<'_>>, zone: Tz) -> Vec<Decoded<T>> {
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| decode_record(i, item, zone))
                .collect()
        }
        Ok(Batch {
            registrations: all(next(), zone),
            sales: all(next(), zone),
            claims: all(next(), zone),
            cancellations: all(next(), zone),
        })
    }

    pub fn len(&self) -> usize {
        self.registrations.len() + self.sales.len() + self.claims.len() + self.cancellations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
