//! v3 request bodies: JSON objects, checked field by field into typed values. Every error is
//! collected with its field's path (`tires[2].size`, indexes from 0), so a 400 lists them all.
//! Unknown fields are ignored; a key sent twice with different values is an error. A required field reads as its value or as the proof
//! ([`Reported`]) that its error was listed, so a record is assembled with `?`, and only from a
//! body without errors.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Utc};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use validator::ValidateEmail;

use crate::records::Cents;
use crate::wire::Code;
use crate::wire::{MAX_YEAR, MIN_YEAR, parse_money, sent_more_than_once};

/// One field's error, as a v3 400 lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: Code,
    pub message: String,
}

/// The proof that an error was pushed: what a read gives for a required field it could not
/// read. Only [`Errors::push`] makes one, so a body read with one has at least one error, and
/// a record is assembled from its required fields with `?` (no field "must be there").
#[derive(Debug, Clone, Copy)]
pub struct Reported(());

/// A required field's value, or the proof that its error is listed.
pub type Read<T> = Result<T, Reported>;

/// The errors of one body, in the order its fields were checked.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn push(&mut self, field: &str, code: Code, rule: impl std::fmt::Display) -> Reported {
        self.0.push(FieldError {
            field: field.to_owned(),
            code,
            message: format!("{field} {rule}"),
        });
        Reported(())
    }

    /// The value sent, `got`, broke `rule`: the message quotes it (as [`crate::wire::echo`]
    /// does).
    pub fn push_got(&mut self, field: &str, code: Code, rule: &str, got: &str) -> Reported {
        self.push(field, code, format!("{rule}; got {}", crate::wire::echo(got)))
    }

    /// The record `assemble` makes of the fields read, when nothing was wrong; else every
    /// error (a required field it lacks was [`Reported`], so there is at least one).
    pub fn into_result<T>(self, assemble: impl FnOnce() -> Read<T>) -> Result<T, Vec<FieldError>> {
        match assemble() {
            Ok(value) if self.0.is_empty() => Ok(value),
            _ => Err(self.0),
        }
    }
}

/// A body as JSON, and an error for each key one of its objects sent more than once with
/// different values (serde_json keeps the last silently; a v3 answer has no place to say so,
/// so the body is refused, naming them, with its other errors). The repeats are found in a
/// second reading of the body as raw text, each object's values compared as sent; a body is
/// one registration, at most the 1 MB limit.
pub fn parse(body: &[u8]) -> Result<(Value, Vec<FieldError>), serde_json::Error> {
    let json = serde_json::from_slice(body)?;
    let mut repeated = Vec::new();
    repeated_keys(serde_json::from_slice(body)?, "", &mut repeated);
    Ok((json, repeated))
}

/// An object's entries, in the order sent, repeated keys included.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'de>, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(EntriesVisitor)
    }
}

/// The keys sent twice with different values in `raw` and the objects and arrays within it
/// (what serde_json kept of those: the last).
fn repeated_keys(raw: &RawValue, prefix: &str, errors: &mut Vec<FieldError>) {
    let text = raw.get().trim_start();
    if text.starts_with('[') {
        let items: Vec<&RawValue> = serde_json::from_str(text).unwrap_or_default();
        for (i, item) in items.into_iter().enumerate() {
            repeated_keys(item, &format!("{prefix}[{i}]"), errors);
        }
    } else if text.starts_with('{') {
        let Ok(Entries(entries)) = serde_json::from_str(text) else {
            return;
        };
        // Each key's values in the order sent, the keys in the order first met (through a map:
        // an object of a million keys is no quadratic walk).
        let mut sent: Vec<(&str, Vec<&str>, &RawValue)> = Vec::new();
        let mut place_of: HashMap<&str, usize> = HashMap::new();
        for (key, value) in &entries {
            match place_of.get(key.as_str()) {
                Some(&at) => {
                    sent[at].1.push(value.get());
                    sent[at].2 = value;
                }
                None => {
                    place_of.insert(key, sent.len());
                    sent.push((key, vec![value.get()], value));
                }
            }
        }
        for (key, values, last) in sent {
            let field = path(prefix, key);
            if values.iter().any(|value| *value != last.get()) {
                errors.push(FieldError {
                    message: format!("{}; send it once", sent_more_than_once(&field, &values)),
                    field: field.clone(),
                    code: Code::Ambiguous,
                });
            }
            repeated_keys(last, &field, errors);
        }
    }
}

/// What a value of the wrong JSON type was, for its error: a number sent as a string is told
/// to lose its quotes.
fn got(value: &Value) -> String {
    let sent = crate::wire::as_sent(&value.to_string());
    match value {
        Value::String(s) if s.trim().parse::<f64>().is_ok() => {
            format!("got {sent}, a string: send the number without quotes")
        }
        _ => format!("got {sent}"),
    }
}

/// The key of `object` that most likely means the field `name` it lacks: the same but for case,
/// `_` and `-` (`productId`, `invoice_number`, `Name`), or within two letters of it (one for
/// names under six letters: `tire` for tires), and nearer than any other.
fn sent_as<'o>(object: &'o Map<String, Value>, name: &str) -> Option<&'o str> {
    let plain = |s: &str| {
        s.chars()
            .filter(|c| !matches!(c, '_' | '-'))
            .collect::<String>()
            .to_lowercase()
    };
    let wanted = plain(name);
    let near = (object.keys())
        .filter(|key| key.as_str() != name)
        .filter_map(|key| Some((crate::wire::misspelling_of(&plain(key), &wanted)?, key.as_str())))
        .collect();
    crate::wire::nearest(near)
}

/// What a date sent without its zone (or time) is missing, with the value it would be in UTC:
/// the zone is never guessed, so the sender says which it meant.
fn zoneless(text: &str) -> Option<String> {
    use chrono::{NaiveDate, NaiveDateTime};
    let text = text.trim();
    let utc = |at: NaiveDateTime| at.and_utc().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let midnight = utc(date.and_hms_opt(0, 0, 0)?);
        return Some(format!(
            " (it has no time or zone: {midnight:?} is its midnight in UTC)"
        ));
    }
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|form| NaiveDateTime::parse_from_str(text, form).ok())
        .map(|at| format!(" (it has no zone: {:?} if it is UTC)", utc(at)))
}

/// `path.name`, or `name` at the top.
fn path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

/// The fields of one JSON object, read with their paths.
pub struct Fields<'v> {
    /// The object, or (a body that is no object) the proof that this was said once: its
    /// fields are then not reported one by one.
    object: Read<&'v Map<String, Value>>,
    prefix: String,
}

/// Longest texts v3 accepts, for both kinds of registration (docs/decisions.md,
/// "Lengths are wire rules, not column widths").
pub const INVOICE_MAX: usize = 50;
/// A store number is v2's ShopID: at most 25, so v2 can file claims against it.
pub const STORE_MAX: usize = 25;
/// `customer.name`.
pub const NAME_MAX: usize = 100;

/// Years a v3 date or vehicle year may have.
pub const YEARS: std::ops::RangeInclusive<i32> = MIN_YEAR..=MAX_YEAR;

impl<'v> Fields<'v> {
    /// The top of a body: an object, or one error saying it must be.
    pub fn top(body: &'v Value, errors: &mut Errors) -> Fields<'v> {
        let object = body
            .as_object()
            .ok_or_else(|| errors.push("body", Code::InvalidType, "must be a JSON object"));
        Fields {
            object,
            prefix: String::new(),
        }
    }

    fn get(&self, name: &str) -> Option<&'v Value> {
        self.object.ok()?.get(name).filter(|v| !v.is_null())
    }

    /// Whether `name` was sent (null is not sent).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A required field that was not sent: `rule` said of `field`, unless the body is no
    /// object (that one error stands for all its fields).
    pub fn lacks(&self, field: &str, rule: &str, errors: &mut Errors) -> Reported {
        match self.object {
            Err(said) => said,
            Ok(object) => {
                let name = field.rsplit('.').next().unwrap_or(field);
                match sent_as(object, name) {
                    Some(key) => errors.push(
                        field,
                        Code::Required,
                        format!("{rule} ({} was sent: is it {name}?)", crate::wire::echo(key)),
                    ),
                    None => errors.push(field, Code::Required, rule),
                }
            }
        }
    }

    /// The required field `name` was not sent.
    fn missing(&self, name: &str, errors: &mut Errors) -> Reported {
        self.lacks(&path(&self.prefix, name), "is required", errors)
    }

    /// A nested object (`customer`): its fields, or an error when it is missing or is not an
    /// object.
    pub fn object(&self, name: &str, errors: &mut Errors) -> Read<Fields<'v>> {
        self.nested(name, errors)?.ok_or_else(|| self.missing(name, errors))
    }

    /// A nested object that may be left out (`vehicle`, `address`), read with `read`; the
    /// default when it is not sent, an error when it is not an object.
    pub fn opt_object<T: Default>(
        &self,
        name: &str,
        errors: &mut Errors,
        read: impl FnOnce(&Fields<'v>, &mut Errors) -> Read<T>,
    ) -> Read<T> {
        match self.nested(name, errors)? {
            Some(fields) => read(&fields, errors),
            None => Ok(T::default()),
        }
    }

    /// A nested object's fields, `None` when it is not sent; an error when it is not an object.
    fn nested(&self, name: &str, errors: &mut Errors) -> Read<Option<Fields<'v>>> {
        let field = path(&self.prefix, name);
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(o)) => Ok(Some(Fields {
                object: Ok(o),
                prefix: field,
            })),
            Some(_) => Err(errors.push(&field, Code::InvalidType, "must be an object")),
        }
    }

    /// An array of objects (`tires`) holding `min` to `max` items: each item's fields (or its
    /// error, an item that is no object).
    pub fn objects(&self, name: &str, min: usize, max: usize, errors: &mut Errors) -> Read<Vec<Read<Fields<'v>>>> {
        let field = path(&self.prefix, name);
        let items = match self.get(name) {
            None => return Err(self.lacks(&field, &format!("is required: {min} to {max} items"), errors)),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(errors.push(&field, Code::InvalidType, "must be an array")),
        };
        if items.len() < min || items.len() > max {
            errors.push(
                &field,
                Code::InvalidCount,
                format!("must have {min} to {max} items, got {}", items.len()),
            );
        }
        let items = items.iter().take(max).enumerate().map(|(i, item)| {
            let at = format!("{field}[{i}]");
            match item {
                Value::Object(o) => Ok(Fields {
                    object: Ok(o),
                    prefix: at,
                }),
                _ => Err(errors.push(&at, Code::InvalidType, "must be an object")),
            }
        });
        Ok(items.collect())
    }

    /// A required string of 1 to `max` characters, as [`Fields::opt_text`] reads it.
    pub fn text(&self, name: &str, max: usize, errors: &mut Errors) -> Read<String> {
        self.opt_text(name, max, errors)?
            .ok_or_else(|| self.missing(name, errors))
    }

    /// A string of 1 to `max` characters, no control characters, kept with its surrounding
    /// whitespace trimmed; `None` when absent (or blank). The length is counted as sent, padding
    /// included: the `maxLength` v3's document gives (unlike v2, where a POS pads fixed-width
    /// fields and the padding does not count).
    pub fn opt_text(&self, name: &str, max: usize, errors: &mut Errors) -> Read<Option<String>> {
        let field = path(&self.prefix, name);
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => {
                // As v2: no control character (checked before trimming, so a line break is
                // refused, not trimmed away).
                if let Err(e) = crate::wire::check_characters(s) {
                    return Err(errors.push(&field, e.code, e.message));
                }
                let chars = s.chars().count();
                if chars > max {
                    let rule = format!("must be at most {max} characters, got {chars}");
                    return Err(errors.push(&field, Code::TooLong, rule));
                }
                let kept = crate::wire::trim_padding(s);
                Ok((!kept.is_empty()).then(|| kept.to_owned()))
            }
            Some(_) => Err(errors.push(&field, Code::InvalidType, "must be a string")),
        }
    }

    /// An ISO 8601 date and time in extended format with its zone (`2021-08-01T13:08:00.000Z`),
    /// in the years 1900 to 2999; required.
    pub fn date(&self, name: &str, errors: &mut Errors) -> Read<DateTime<Utc>> {
        let field = path(&self.prefix, name);
        let text = self.text(name, 64, errors)?;
        let Ok(date) = DateTime::parse_from_rfc3339(&text) else {
            let rule = "must be an ISO 8601 date and time with its zone, such as 2021-08-01T13:08:00.000Z";
            let got = format!("{}{}", crate::wire::echo(&text), zoneless(&text).unwrap_or_default());
            return Err(errors.push(&field, Code::InvalidDate, format!("{rule}; got {got}")));
        };
        let date = date.with_timezone(&Utc);
        if !YEARS.contains(&date.year()) {
            return Err(errors.push(
                &field,
                Code::OutOfRange,
                format!("must be in the years {MIN_YEAR} to {MAX_YEAR}"),
            ));
        }
        Ok(date)
    }

    /// A whole number from 1900 to 2999, when sent.
    pub fn year(&self, name: &str, errors: &mut Errors) -> Read<Option<i32>> {
        let field = path(&self.prefix, name);
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        match value.as_i64() {
            Some(y) if i32::try_from(y).is_ok_and(|y| YEARS.contains(&y)) => Ok(Some(y as i32)),
            Some(_) => Err(errors.push(&field, Code::OutOfRange, "must be from 1900 to 2999")),
            None => Err(errors.push(
                &field,
                Code::InvalidType,
                format!("must be a whole number (a year, such as 2021); {}", got(value)),
            )),
        }
    }

    /// Money: a JSON number, 0 or more, exact to the cent; required.
    pub fn money(&self, name: &str, errors: &mut Errors) -> Read<Cents> {
        let field = path(&self.prefix, name);
        let Some(value) = self.get(name) else {
            return Err(self.missing(name, errors));
        };
        let not_a_number = "must be a number (an amount such as 334.31)";
        let raw = match value {
            Value::Number(_) => serde_json::value::to_raw_value(value).ok(),
            _ => None,
        };
        let Some(raw) = raw else {
            return Err(errors.push(&field, Code::InvalidType, format!("{not_a_number}; {}", got(value))));
        };
        match parse_money(&raw) {
            Ok(Some(money)) => Ok(money.cents),
            Ok(None) => Err(errors.push(&field, Code::InvalidType, not_a_number)),
            Err(e) => Err(errors.push(&field, e.code, &e.message)),
        }
    }

    /// An email address, at most 254 characters, when sent.
    pub fn email(&self, name: &str, errors: &mut Errors) -> Read<Option<String>> {
        let field = path(&self.prefix, name);
        let Some(email) = self.opt_text(name, 254, errors)? else {
            return Ok(None);
        };
        if !email.validate_email() {
            return Err(errors.push_got(&field, Code::InvalidEmail, "must be an email address", &email));
        }
        Ok(Some(email))
    }

    /// A phone number in E.164 form: `+`, a country code and the number, at most 15 digits
    /// (`+13034579876`), when sent.
    pub fn phone(&self, name: &str, errors: &mut Errors) -> Read<Option<String>> {
        let field = path(&self.prefix, name);
        // Padding allowed (as the document's pattern says); the digits are counted below.
        let Some(phone) = self.opt_text(name, 64, errors)? else {
            return Ok(None);
        };
        let digits = phone.strip_prefix('+').unwrap_or_default();
        let e164 =
            (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
        if !e164 {
            let rule = "must be an E.164 phone number: +, the country code and the number, digits only \
                        (such as +13034579876)";
            return Err(errors.push_got(&field, Code::InvalidPhone, rule, &phone));
        }
        Ok(Some(phone))
    }

    /// An ISO 3166-1 alpha-2 country code, in capitals (`US`), when sent.
    pub fn country(&self, name: &str, errors: &mut Errors) -> Read<Option<String>> {
        let field = path(&self.prefix, name);
        let Some(country) = self.opt_text(name, 100, errors)? else {
            return Ok(None);
        };
        if isocountry::CountryCode::for_alpha2(&country).is_err() {
            let rule = match isocountry::CountryCode::for_alpha2_caseless(&country) {
                Ok(code) => format!(
                    "must be an ISO 3166-1 alpha-2 country code in capitals: {}",
                    code.alpha2()
                ),
                Err(_) => "must be an ISO 3166-1 alpha-2 country code such as US or CA".to_owned(),
            };
            return Err(errors.push_got(&field, Code::InvalidCountry, &rule, &country));
        }
        Ok(Some(country))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(body: Value, read: impl FnOnce(&Fields, &mut Errors)) -> Vec<(String, Code)> {
        let mut errors = Errors::default();
        let fields = Fields::top(&body, &mut errors);
        read(&fields, &mut errors);
        errors.0.into_iter().map(|e| (e.field, e.code)).collect()
    }

    #[test]
    fn a_date_without_its_zone_says_what_it_would_be_in_utc() {
        let said = |date: &str| {
            let body = json!({"enrollDate": date});
            let mut errors = Errors::default();
            let _ = Fields::top(&body, &mut errors).date("enrollDate", &mut errors);
            errors.0.remove(0).message
        };
        let rule = "enrollDate must be an ISO 8601 date and time with its zone, such as 2021-08-01T13:08:00.000Z";
        assert_eq!(
            said("2021-08-01"),
            format!(
                r#"{rule}; got "2021-08-01" (it has no time or zone: "2021-08-01T00:00:00.000Z" is its midnight in UTC)"#
            )
        );
        assert_eq!(
            said("2021-08-01T13:08:00"),
            format!(r#"{rule}; got "2021-08-01T13:08:00" (it has no zone: "2021-08-01T13:08:00.000Z" if it is UTC)"#)
        );
        assert!(
            said("2021-08-01 13:08:00.5").ends_with(r#"(it has no zone: "2021-08-01T13:08:00.500Z" if it is UTC)"#)
        );
        assert_eq!(said("08/01/2021"), format!(r#"{rule}; got "08/01/2021""#));
    }

    #[test]
    fn a_required_field_sent_under_another_spelling_is_asked_about() {
        let body = json!({
            "productId": "TPP-36", "invoice_number": "X1", "tire": [],
            "customer": {"Name": "J"}, "store": "0056"
        });
        let mut errors = Errors::default();
        let top = Fields::top(&body, &mut errors);
        let _ = top.text("product_id", 100, &mut errors);
        let _ = top.text("invoiceNumber", 50, &mut errors);
        let _ = top.objects("tires", 1, 6, &mut errors);
        if let Ok(customer) = top.object("customer", &mut errors) {
            let _ = customer.text("name", 100, &mut errors);
        }
        let _ = top.text("enrollDate", 50, &mut errors);
        let said: Vec<(&str, &str)> = (errors.0.iter())
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            said,
            vec![
                (
                    "product_id",
                    r#"product_id is required ("productId" was sent: is it product_id?)"#
                ),
                (
                    "invoiceNumber",
                    r#"invoiceNumber is required ("invoice_number" was sent: is it invoiceNumber?)"#
                ),
                (
                    "tires",
                    r#"tires is required: 1 to 6 items ("tire" was sent: is it tires?)"#
                ),
                (
                    "customer.name",
                    r#"customer.name is required ("Name" was sent: is it name?)"#
                ),
                // Nothing near: said plainly ("store" is not within a letter of anything asked).
                ("enrollDate", "enrollDate is required"),
            ]
        );
    }

    #[test]
    fn a_key_sent_twice_with_different_values_is_named_by_its_path() {
        let body = br#" {"invoiceNumber": "X1", "invoiceNumber": "X2", "a": 1, "a": 1,
            "tires": [{"size": "s"}, {"size": "t", "size": 5, "size": "t"}],
            "customer": {"name": "A"}, "customer": {"name": "B", "name": "C"}} "#;
        let (json, errors) = parse(body).unwrap();
        let said: Vec<(&str, Code, &str)> = (errors.iter())
            .map(|e| (e.field.as_str(), e.code, e.message.as_str()))
            .collect();
        assert_eq!(
            said,
            [
                (
                    "invoiceNumber",
                    Code::Ambiguous,
                    r#"invoiceNumber was sent twice with different values ("X1", then "X2"); send it once"#
                ),
                (
                    "tires[1].size",
                    Code::Ambiguous,
                    r#"tires[1].size was sent 3 times with different values ("t", 5, then "t"); send it once"#
                ),
                (
                    "customer",
                    Code::Ambiguous,
                    r#"customer was sent twice with different values ({"name": "A"}, then {"name": "B", "name": "C"}); send it once"#
                ),
                (
                    "customer.name",
                    Code::Ambiguous,
                    r#"customer.name was sent twice with different values ("B", then "C"); send it once"#
                ),
            ]
        );
        // The JSON itself is as serde_json reads it: the last of each.
        assert_eq!(json["invoiceNumber"], "X2");
        assert_eq!(json["customer"]["name"], "C");
        // Nothing repeated, nothing said; not JSON, serde_json's own error.
        assert!(parse(br#"{"a": [1, {"b": 2}], "c": {"d": 3}}"#).unwrap().1.is_empty());
        assert!(parse(b"[1, 2]").unwrap().1.is_empty());
        assert!(parse(br#"{"a": 1,}"#).is_err());
    }

    #[test]
    fn every_error_is_named_by_its_path() {
        let errors = check(
            json!({"customer": {"name": ""}, "tires": [{"size": "x"}, 3, {"make": 1}]}),
            |f, errors| {
                let customer = f.object("customer", errors).unwrap();
                let _ = customer.text("name", 100, errors);
                for tire in f.objects("tires", 1, 6, errors).unwrap().into_iter().flatten() {
                    let _ = tire.text("make", 50, errors);
                }
            },
        );
        assert_eq!(
            errors,
            vec![
                ("customer.name".into(), Code::Required),
                ("tires[1]".into(), Code::InvalidType),
                ("tires[0].make".into(), Code::Required),
                ("tires[2].make".into(), Code::InvalidType),
            ]
        );
    }

    /// A body that is no object is one error, which stands for every required field: each read
    /// gives its proof, and no record is made.
    #[test]
    fn a_body_that_is_no_object_is_one_error_for_all_its_fields() {
        let body = json!(["customer"]);
        let mut errors = Errors::default();
        let f = Fields::top(&body, &mut errors);
        let name = f.text("name", 100, &mut errors);
        let customer = f.object("customer", &mut errors);
        let tires = f.objects("tires", 1, 6, &mut errors);
        let money = f.money("m", &mut errors);
        assert!(name.is_err() && customer.is_err() && tires.is_err() && money.is_err());
        let listed = errors
            .into_result(|| Ok((name?, money?)))
            .expect_err("nothing is made of a body that is no object");
        let listed: Vec<(String, Code)> = listed.into_iter().map(|e| (e.field, e.code)).collect();
        assert_eq!(listed, vec![("body".into(), Code::InvalidType)]);
    }

    /// A record is made only when no error was pushed, even where every field it needs was read
    /// (an error of an optional field, or of the count of an array).
    #[test]
    fn a_record_is_made_only_of_a_body_without_errors() {
        let body = json!({"name": "N", "phone": "555"});
        let mut errors = Errors::default();
        let f = Fields::top(&body, &mut errors);
        let name = f.text("name", 100, &mut errors);
        let _ = f.phone("phone", &mut errors);
        let listed = errors.into_result(|| name).expect_err("the phone's error is listed");
        assert_eq!(listed[0].code, Code::InvalidPhone);
        let body = json!({"name": "N"});
        let mut errors = Errors::default();
        let name = Fields::top(&body, &mut errors).text("name", 100, &mut errors);
        assert_eq!(errors.into_result(|| name), Ok("N".to_owned()));
    }

    /// The length is the document's `maxLength`, counted as sent: padding counts (schemathesis
    /// found `" "` and 100 characters accepted under a maxLength of 100), and is trimmed when kept.
    #[test]
    fn a_length_counts_the_padding_and_the_value_is_kept_trimmed() {
        let text = |v: String| {
            let mut errors = Errors::default();
            let body = json!({ "product_id": v });
            let kept = Fields::top(&body, &mut errors)
                .text("product_id", 100, &mut errors)
                .ok();
            (kept, errors.0.into_iter().map(|e| e.message).collect::<Vec<_>>())
        };
        let hundred = "*".repeat(100);
        assert_eq!(text(hundred.clone()), (Some(hundred.clone()), vec![]));
        assert_eq!(
            text(format!(" {hundred}")),
            (
                None,
                vec!["product_id must be at most 100 characters, got 101".to_owned()]
            )
        );
        assert_eq!(
            text(format!("  {}  ", &hundred[..96])),
            (Some(hundred[..96].to_owned()), vec![])
        );
        // Padded phones stay allowed: the document's pattern allows the padding.
        let mut errors = Errors::default();
        let body = json!({ "phone": format!("   +13034579876{}", " ".repeat(20)) });
        let phone = Fields::top(&body, &mut errors).phone("phone", &mut errors).unwrap();
        assert_eq!(phone.as_deref(), Some("+13034579876"));
    }

    #[test]
    fn dates_need_their_zone_and_a_year_from_1900() {
        let date = |v: &str| {
            let mut errors = Errors::default();
            let body = json!({ "d": v });
            let d = Fields::top(&body, &mut errors).date("d", &mut errors).ok();
            (d.map(|d| d.to_rfc3339()), errors.0.first().map(|e| e.code))
        };
        assert_eq!(
            date("2021-08-01T13:08:00.000Z").0.as_deref(),
            Some("2021-08-01T13:08:00+00:00")
        );
        assert_eq!(
            date("2021-08-01T07:08:00-06:00").0.as_deref(),
            Some("2021-08-01T13:08:00+00:00")
        );
        assert_eq!(date("2021-08-01T13:08:00").1, Some(Code::InvalidDate));
        assert_eq!(date("2021-08-01").1, Some(Code::InvalidDate));
        assert_eq!(date("1899-12-31T00:00:00Z").1, Some(Code::OutOfRange));
    }

    #[test]
    fn money_is_exact_to_the_cent() {
        let money = |v: Value| {
            let mut errors = Errors::default();
            let body = json!({ "m": v });
            let m = Fields::top(&body, &mut errors).money("m", &mut errors).ok();
            (m, errors.0.first().map(|e| e.code))
        };
        assert_eq!(money(json!(334.31)), (Some(33431), None));
        assert_eq!(money(json!(0)), (Some(0), None));
        assert_eq!(money(json!(1.005)).1, Some(Code::TooManyDecimals));
        assert_eq!(money(json!(-1)).1, Some(Code::Negative));
        assert_eq!(money(json!("334.31")).1, Some(Code::InvalidType));
    }

    #[test]
    fn a_value_of_the_wrong_type_is_quoted_and_a_number_in_quotes_is_named() {
        let said = |read: fn(&Fields, &mut Errors), v: Value| {
            let mut errors = Errors::default();
            let body = json!({ "v": v });
            read(&Fields::top(&body, &mut errors), &mut errors);
            errors.0.remove(0).message
        };
        let money = |f: &Fields, e: &mut Errors| {
            let _ = f.money("v", e);
        };
        let year = |f: &Fields, e: &mut Errors| {
            let _ = f.year("v", e);
        };
        assert_eq!(
            said(money, json!("334.31")),
            "v must be a number (an amount such as 334.31); got \"334.31\", a string: send the number without quotes"
        );
        assert_eq!(
            said(money, json!("$1,199.99")),
            "v must be a number (an amount such as 334.31); got \"$1,199.99\""
        );
        assert_eq!(
            said(year, json!("2021")),
            "v must be a whole number (a year, such as 2021); got \"2021\", a string: send the number without quotes"
        );
        assert_eq!(
            said(year, json!([2021])),
            "v must be a whole number (a year, such as 2021); got [2021]"
        );
    }

    #[test]
    fn phones_are_e164_and_countries_iso_alpha_2() {
        let read = |name: &str, v: &str| {
            let mut errors = Errors::default();
            let body = json!({ name: v });
            let f = Fields::top(&body, &mut errors);
            let value = match name {
                "phone" => f.phone(name, &mut errors),
                _ => f.country(name, &mut errors),
            };
            let value = value.ok().flatten();
            (value, errors.0.first().map(|e| e.message.clone()))
        };
        assert_eq!(read("phone", "+13034579876").0.as_deref(), Some("+13034579876"));
        for bad in [
            "13034579876",
            "+1 303 457 9876",
            "+0123",
            "+1",
            "+1234567890123456",
            "+1303x",
        ] {
            assert!(read("phone", bad).1.is_some(), "{bad}");
        }
        assert_eq!(read("country", "US").0.as_deref(), Some("US"));
        assert_eq!(read("country", "CA").0.as_deref(), Some("CA"));
        let (none, message) = read("country", "us");
        assert_eq!(none, None);
        assert!(message.unwrap().contains("in capitals: US"));
        for bad in ["USA", "XX", "U"] {
            assert!(read("country", bad).1.is_some(), "{bad}");
        }
    }
}
