//! The four record types of the guide's data dictionary. Each module declares its fields (type,
//! length, required) and turns a raw wire record into a typed domain record, returning every
//! field error at once. Nothing here knows HTTP or SQL.

mod cancellation;
mod claim;
mod declare;
#[cfg(test)]
mod reference;
mod registration;
pub mod rules;
mod sale;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

use crate::wire::Code;
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
    self, FieldError, FieldErrors, FieldSpec, Kind, RawItem, RawRecord, ValueError, Warning, WarningKind,
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

    /// The natural key's fields, as their places in [`RecordKind::fields`].
    pub const fn key_at(self) -> &'static [usize] {
        match self {
            RecordKind::Registrations => Registration::KEY_AT,
            RecordKind::Sales => Sale::KEY_AT,
            RecordKind::Claims => Claim::KEY_AT,
            RecordKind::Cancellations => Cancellation::KEY_AT,
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

    /// The kind's own date (PlanEnrollDate, SaleDate, ClaimDate or CancelDate): the one
    /// required date field its declaration has, as its place in [`RecordKind::fields`].
    pub fn own_date(self) -> Option<usize> {
        (self.fields().iter()).position(|f| f.required && f.kind == crate::wire::Kind::Date)
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
    /// The natural key's fields, as their places in [`Record::FIELDS`].
    const KEY_AT: &'static [usize];
    /// The wire names of the natural key's fields: a resend with the same key updates the
    /// stored record.
    const KEY: &'static [&'static str];

    /// Reads the record's fields; the reader collects the errors.
    fn read(r: &mut FieldReader<'_, '_>) -> Self;
    /// Every field's value, in declaration order.
    fn values(&self) -> Vec<Value<'_>>;
    /// The natural key's values (key fields are text: the declaration does not compile
    /// otherwise).
    fn key_text(&self) -> Vec<&str>;
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

impl NaturalKey {
    /// The ShopID and InvoiceNumber it holds (every kind's key holds both): the registration
    /// the record is filed under.
    pub fn filed_under(&self) -> Option<(&str, &str)> {
        let field = |name: &str| self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str());
        Some((field("ShopID")?, field("InvoiceNumber")?))
    }
}

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
    warnings: Vec<Warning>,
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
                self.error(spec.name, Code::Required, message);
                None
            }
            Ok(v) => v,
            Err(e) => {
                self.error(spec.name, e.code, format!("{} {}", spec.name, e.message).into());
                None
            }
        }
    }

    fn error(&mut self, field: &'static str, code: Code, message: Cow<'static, str>) {
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
            self.warnings.push(Warning {
                field: Cow::Borrowed(spec.name),
                kind: WarningKind::RoundedMoney,
                message: format!(
                    "{} {sent} was taken as {} (a binary floating-point value within 1e-9 of a whole cent)",
                    spec.name,
                    wire::format_cents(money.cents)
                ),
            });
        }
        Some(money.cents)
    }

    /// The record or its field errors, and the remarks on values taken.
    fn finish<T>(self, record: T) -> (Result<T, FieldErrors>, Vec<Warning>) {
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
    /// Remarks on what was read anyway: unknown fields (ignored, named so a misspelt field is
    /// noticed), fields sent twice, money taken as its nearest cent.
    pub warnings: Vec<Warning>,
    /// Its JSON's bytes in the body, as sent (kept in the history when it is rejected).
    pub sent: Range<usize>,
    /// When it was refused by its fields: what it still names, so that its result entry says
    /// which invoice it was and support finds it (a decoded record has its own key).
    pub readable: Option<Box<Readable>>,
}

/// What a record refused by its fields still names, read as a valid record's would be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readable {
    /// Its whole natural key: none of the key's fields was refused.
    Key(NaturalKey),
    /// Only the registration it is filed against: its ShopID and InvoiceNumber.
    Registration(FiledUnder),
}

/// The registration a record is filed against (every record type has both fields): what the
/// operators' search finds a record's trail by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FiledUnder {
    pub shop_id: String,
    pub invoice_number: String,
}

impl FiledUnder {
    /// The ShopID and InvoiceNumber of a raw record of `fields`, as the decoder reads them
    /// (padding trimmed), when both are there and valid.
    fn of_raw(fields: &[FieldSpec], raw: &RawRecord<'_>) -> Option<FiledUnder> {
        let text = |name: &str| {
            let i = fields.iter().position(|f| f.name == name)?;
            let Kind::Text(max) = fields[i].kind else { return None };
            wire::parse_text(raw.values[i]?, max)
                .ok()
                .flatten()
                .filter(|s| !s.trim().is_empty())
        };
        Some(FiledUnder {
            shop_id: text("ShopID")?,
            invoice_number: text("InvoiceNumber")?,
        })
    }

    /// The ShopID and InvoiceNumber of a record of `kind` as it was sent (its JSON), when both
    /// are there and valid.
    pub fn of_sent(kind: RecordKind, sent: &str) -> Option<FiledUnder> {
        let body = format!("{{\"{}\": [{sent}]}}", kind.name());
        let arrays = wire::decode_batch(body.as_bytes(), &[(kind.name(), kind.fields())]).ok()?;
        let item = arrays.into_iter().next()?.into_iter().next()?;
        FiledUnder::of_raw(kind.fields(), item.record.as_ref().ok()?)
    }

    /// The ShopID and InvoiceNumber of a natural key (every kind's key holds both).
    pub fn of_key(key: &NaturalKey) -> Option<FiledUnder> {
        let (shop_id, invoice_number) = key.filed_under()?;
        Some(FiledUnder {
            shop_id: shop_id.to_owned(),
            invoice_number: invoice_number.to_owned(),
        })
    }
}

/// Decodes one raw record of type `T`.
pub fn decode_record<T: Record>(index: usize, item: RawItem<'_>, zone: Tz) -> Decoded<T> {
    match item.record {
        Err(what) => Decoded {
            index,
            record: Err(FieldErrors::from([FieldError {
                field: T::NAME,
                code: Code::InvalidType,
                message: format!("each entry of {} must be a JSON object, got {what}", T::NAME).into(),
            }])),
            warnings: Vec::new(),
            sent: item.sent,
            readable: None,
        },
        Ok(raw) => {
            let mut reader = FieldReader::new(T::FIELDS, &raw, zone);
            let read = T::read(&mut reader);
            // Refused for none of its key's fields: those were read as a valid record's are.
            let whole_key = reader.errors.iter().all(|e| !T::KEY.contains(&e.field));
            let key = (!reader.errors.is_empty() && whole_key).then(|| read.key());
            let (record, remarks) = reader.finish(read);
            let mut warnings: Vec<Warning> = (raw.unknown.iter())
                .map(|k| Warning {
                    field: Cow::Owned(k.clone()),
                    kind: WarningKind::UnknownField,
                    message: match nearest_field(T::FIELDS, k).filter(|&i| raw.values[i].is_none()) {
                        Some(meant) => format!(
                            "unknown field {} was ignored: is it {}?",
                            wire::echo(k),
                            T::FIELDS[meant].name
                        ),
                        None => format!("unknown field {} was ignored", wire::echo(k)),
                    },
                })
                .collect();
            warnings.extend(repeated_fields(T::FIELDS, &raw));
            warnings.extend(remarks);
            let readable = match (&record, key) {
                (Ok(_), _) => None,
                (Err(_), Some(key)) => Some(Readable::Key(key)),
                (Err(_), None) => FiledUnder::of_raw(T::FIELDS, &raw).map(Readable::Registration),
            };
            Decoded {
                index,
                record,
                warnings,
                sent: item.sent,
                readable: readable.map(Box::new),
            }
        }
    }
}

/// The field of `fields` an unknown key most likely meant (its index), to ask about when the
/// record lacks it: the nearest name (or alias) by letters left out, added, changed or swapped,
/// in any case, at most two (one for names under six letters), and nearer than any other.
/// Remembered per decoding thread: a batch's 100,000 records usually share their one misspelling.
pub fn nearest_field(fields: &'static [FieldSpec], key: &str) -> Option<usize> {
    thread_local! {
        static MEANT: RefCell<HashMap<(usize, String), Option<usize>>> = RefCell::new(HashMap::new());
    }
    let slot = (fields.as_ptr() as usize, key.to_ascii_lowercase());
    MEANT.with_borrow_mut(|meant| {
        if let Some(&found) = meant.get(&slot) {
            return found;
        }
        if meant.len() > 4096 {
            meant.clear();
        }
        let found = nearest(fields, &slot.1);
        meant.insert(slot, found);
        found
    })
}

/// [`nearest_field`] worked out: `key` in lower case against every name and alias.
fn nearest(fields: &[FieldSpec], key: &str) -> Option<usize> {
    let names = (fields.iter().enumerate()).flat_map(|(i, f)| {
        std::iter::once(f.name)
            .chain(f.aliases.iter().copied())
            .map(move |name| (i, name))
    });
    let mut near: Vec<(usize, usize)> = names
        .filter_map(|(i, name)| Some((wire::misspelling_of(key, name)?, i)))
        .collect();
    // A field near by its name and by an alias is one field; two fields as near (TireDOT7:
    // TireDOT1 to TireDOT6) are no answer.
    near.sort_unstable();
    near.dedup_by_key(|&mut (_, i)| i);
    wire::nearest(near)
}

/// Each field sent more than once with different values (the guide's own Claims example sends
/// ShopID and InvoiceNumber twice): what was sent, in order, and that the last was kept.
fn repeated_fields(fields: &'static [FieldSpec], raw: &RawRecord<'_>) -> Vec<Warning> {
    let mut named = Vec::new();
    let mut warnings = Vec::new();
    for &(field, _) in &raw.replaced {
        if named.contains(&field) {
            continue;
        }
        named.push(field);
        let sent: Vec<&str> = (raw.replaced.iter())
            .filter(|(f, _)| *f == field)
            .map(|(_, value)| *value)
            .chain(raw.values[field])
            .map(|value| value.get())
            .collect();
        let name = fields[field].name;
        let said = wire::sent_more_than_once(name, &sent);
        warnings.push(Warning {
            field: Cow::Borrowed(name),
            kind: WarningKind::RepeatedField,
            message: format!("{said}: the last was kept"),
        });
    }
    warnings
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

    /// What a record's warnings say, in order.
    pub fn messages(warnings: &[Warning]) -> Vec<String> {
        warnings.iter().map(|w| w.message.clone()).collect()
    }

    /// The (field, code) pairs of a rejected record.
    pub fn errors<T: Record + std::fmt::Debug>(json: &str) -> Vec<(&'static str, Code)> {
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
    fn every_record_type_has_one_date_of_its_own() {
        let own = RecordKind::ALL.map(|kind| kind.own_date().map(|at| kind.fields()[at].name));
        assert_eq!(
            own,
            [
                Some("PlanEnrollDate"),
                Some("SaleDate"),
                Some("ClaimDate"),
                Some("CancelDate")
            ]
        );
        for kind in RecordKind::ALL {
            let dates = kind
                .fields()
                .iter()
                .filter(|f| f.required && f.kind == crate::wire::Kind::Date);
            assert_eq!(dates.count(), 1, "{}", kind.name());
        }
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
    fn a_refused_record_still_names_the_registration_it_is_filed_under() {
        let d = decode::<Claim>(r#"{"ShopID": " 005308 ", "InvoiceNumber": 1044273, "ClaimDate": "someday"}"#);
        assert!(d.record.is_err());
        let filed = FiledUnder {
            shop_id: "005308".into(),
            invoice_number: "1044273".into(),
        };
        assert_eq!(d.readable.as_deref(), Some(&Readable::Registration(filed.clone())));
        // Without a readable InvoiceNumber it names none.
        assert_eq!(
            decode::<Claim>(r#"{"ShopID": "S", "InvoiceNumber": ""}"#).readable,
            None
        );
        assert_eq!(
            decode::<Claim>(r#"{"ShopID": "S", "InvoiceNumber": 1.5}"#).readable,
            None
        );
        // A valid record's is its key's; the decoder keeps none (the key has it).
        let valid = decode::<Sale>(
            r#"{"ShopID": "S", "InvoiceNumber": "I", "SaleDate": "2020-01-27", "TireCount": 4,
                "TireBrand": "B", "TireSize": "Z", "TirePrice": 1, "TireCost": 0.5}"#,
        );
        assert_eq!(valid.readable, None);
        let key = valid.record.unwrap().key();
        assert_eq!(FiledUnder::of_key(&key).unwrap().invoice_number, "I");
        // From the record as sent, as rejected.csv reads it; aliases and any case count.
        let sent = r#"{"shopid": "005308", "INVOICENUMBER": " 1044273", "ClaimDate": 5}"#;
        assert_eq!(FiledUnder::of_sent(RecordKind::Claims, sent), Some(filed));
        assert_eq!(FiledUnder::of_sent(RecordKind::Claims, "5"), None);
        assert_eq!(FiledUnder::of_sent(RecordKind::Claims, "{"), None);
    }

    #[test]
    fn a_record_refused_outside_its_key_names_its_key() {
        // Only TireCost is wrong: the key was read as a valid record's (padding trimmed, a whole
        // number as text, an optional field absent as empty).
        let d = decode::<Sale>(
            r#"{"OrgID": " O ", "ShopID": "S", "InvoiceNumber": 7, "SaleDate": "2020-01-27",
                "TireCount": 4, "TireBrand": "B", "TireSize": "Z", "TirePrice": 1, "TireCost": "x"}"#,
        );
        assert!(d.record.is_err());
        let Some(Readable::Key(key)) = d.readable.as_deref() else {
            panic!("no key: {:?}", d.readable)
        };
        let expected = [("OrgID", "O"), ("ShopID", "S"), ("InvoiceNumber", "7")]
            .into_iter()
            .chain([("TireBrand", "B"), ("TireModel", ""), ("TireSize", "Z")])
            .map(|(k, v)| (k, v.to_owned()))
            .collect::<Vec<_>>();
        assert_eq!(key.0, expected);
        assert_eq!(key.filed_under(), Some(("S", "7")));
        // A key field refused (missing, blank, not text): no key.
        for sale in [
            r#"{"ShopID": "S", "InvoiceNumber": "I", "TireSize": "Z"}"#,
            r#"{"ShopID": "S", "InvoiceNumber": "I", "TireBrand": " ", "TireSize": "Z"}"#,
            r#"{"ShopID": "S", "InvoiceNumber": "I", "TireBrand": "B", "TireSize": "Z", "OrgID": true}"#,
        ] {
            let d = decode::<Sale>(sale);
            let Some(Readable::Registration(filed)) = d.readable.as_deref() else {
                panic!("{sale}: {:?}", d.readable)
            };
            assert_eq!(filed.invoice_number, "I", "{sale}");
        }
        // A valid record: the decoder keeps none (the record has it).
        let valid = decode::<Registration>(
            r#"{"ShopID": "S", "InvoiceNumber": "I", "PlanEnrollDate": "2020-01-27", "EmployeeID": "E",
                "CustomerID": "C", "TiresCovered": 4, "TPPPrice": 1, "TireBrand": "B", "TireSize": "Z",
                "TirePrice": 1, "TireCost": 1}"#,
        );
        assert!(valid.record.is_ok());
        assert_eq!(valid.readable, None);
    }

    #[test]
    fn record_kinds_are_listed_once_in_processing_order() {
        let names: Vec<&str> = RecordKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names, ["Registrations", "Sales", "Claims", "Cancellations"]);
        assert_eq!(Registration::NAME, "Registrations");
        assert_eq!(Claim::KIND.fields().len(), Claim::FIELDS.len());
    }
}
