//! Scalar field values, parsed from the raw JSON text of one field. Each parser returns `None`
//! for an absent value (`null`, or `""` where a number, date or flag was expected) and a
//! [`ValueError`] naming the rule when the value cannot be taken exactly as sent. The forms
//! taken, and why: docs/decisions.md, "Text", "Blank values, counts and money" and "Dates".

use std::borrow::Cow;
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::Serialize;
use serde_json::value::RawValue;

use super::{Code, WarningKind};

/// A rule a field broke, without the field's name (the record decoder adds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    pub code: Code,
    pub message: String,
}

impl ValueError {
    fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// A rule a field of a record broke, as it appears in the response (`Errors` entries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FieldError {
    pub field: &'static str,
    pub code: Code,
    pub message: Cow<'static, str>,
}

/// A remark on a record that was read anyway (an ignored key, a value sent twice, money taken
/// as its nearest cent). Its result entry's `Warnings` say the message alone; the batch history
/// counts warnings by field and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The field it is about, or the unknown key as sent.
    pub field: Cow<'static, str>,
    pub kind: WarningKind,
    pub message: String,
}

impl Serialize for Warning {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.message)
    }
}

/// The field errors of one record, shared: a decoded record's errors are the very list its
/// result entry carries (copying them for a body of 100,000 broken records cost 60 MB).
pub type FieldErrors = std::sync::Arc<[FieldError]>;

/// Largest amount accepted, in cents: every amount up to it prints back exactly as a JSON number.
pub const MAX_MONEY_CENTS: i64 = 999_999_999_999_999;
const MAX_INT: i64 = i32::MAX as i64;

enum Scalar<'a> {
    Null,
    Bool(bool),
    Number(&'a str),
    Str(String),
    Array,
    Object,
}

fn scalar(raw: &RawValue) -> Result<Scalar<'_>, ValueError> {
    let text = raw.get().trim();
    Ok(match text.as_bytes().first() {
        None | Some(b'n') => Scalar::Null,
        Some(b't') => Scalar::Bool(true),
        Some(b'f') => Scalar::Bool(false),
        Some(b'[') => Scalar::Array,
        Some(b'{') => Scalar::Object,
        Some(b'"') => {
            // Fast path: without escapes the raw text between the quotes is the string.
            let inner = &text[1..text.len() - 1];
            if inner.contains('\\') {
                Scalar::Str(
                    serde_json::from_str::<String>(text)
                        .map_err(|e| ValueError::new(Code::InvalidString, format!("is not a valid string: {e}")))?,
                )
            } else {
                Scalar::Str(inner.to_owned())
            }
        }
        Some(_) => Scalar::Number(text),
    })
}

/// What a message says of a field whose key an object sent more than once with different
/// values: `ShopID was sent twice with different values ("1", then "2")`, each value the JSON
/// as sent (its first 40 characters).
pub fn sent_more_than_once(field: &str, values: &[&str]) -> String {
    // The first three and the last of a key sent a thousand times.
    let mut shown: Vec<String> = values.iter().take(3).map(|json| as_sent(json)).collect();
    if values.len() > 4 {
        shown.push("...".to_owned());
    }
    if values.len() > 3 {
        shown.extend(values.last().map(|json| as_sent(json)));
    }
    let (last, earlier) = shown.split_last().map_or(("", &[][..]), |(l, e)| (l.as_str(), e));
    let times = match values.len() {
        2 => "twice".to_owned(),
        n => format!("{n} times"),
    };
    format!(
        "{field} was sent {times} with different values ({}, then {last})",
        earlier.join(", ")
    )
}

/// A JSON value as it was sent, its first 40 characters when longer.
pub fn as_sent(json: &str) -> String {
    const MAX: usize = 40;
    match json.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &json[..end]),
        None => json.to_owned(),
    }
}

/// Quotes a sent value for an error message, shortened: a 100k-character value is not echoed.
pub fn echo(value: &str) -> String {
    const MAX: usize = 40;
    let count = value.chars().count();
    if count <= MAX {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(MAX).collect();
        format!("{head:?}... ({count} characters)")
    }
}

fn kind_name(s: &Scalar) -> &'static str {
    match s {
        Scalar::Null => "null",
        Scalar::Bool(_) => "a boolean",
        Scalar::Number(_) => "a number",
        Scalar::Str(_) => "a string",
        Scalar::Array => "an array",
        Scalar::Object => "an object",
    }
}

/// A string field. Whole numbers are taken by their digits (`5308` is `"5308"`); anything that
/// would need rounding or formatting to become text is refused. Control characters are refused.
pub fn parse_text(raw: &RawValue, max_chars: usize) -> Result<Option<String>, ValueError> {
    let s = match scalar(raw)? {
        Scalar::Null => return Ok(None),
        Scalar::Str(s) => s,
        Scalar::Number(n) if is_integer_literal(n) => n.to_owned(),
        other => {
            return Err(ValueError::new(
                Code::InvalidType,
                format!("must be a string, got {}", kind_name(&other)),
            ));
        }
    };
    check_characters(&s)?;
    // A POS that pads fixed-width fields sends " 005308": the record is stored, and found, by
    // what is inside the padding.
    let s = match trim_padding(&s) {
        trimmed if trimmed.len() == s.len() => s,
        trimmed => trimmed.to_owned(),
    };
    let count = s.chars().count();
    if count > max_chars {
        return Err(ValueError::new(
            Code::TooLong,
            format!("must be at most {max_chars} characters, got {count}"),
        ));
    }
    Ok(Some(s))
}

/// `s` without the padding around it: whitespace, but never a control character (a line
/// break or a tab is not padding; it makes the value one that nothing matches).
pub fn trim_padding(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() && !c.is_control())
}

/// The first control character of `s` (C0 and C1, tab included, and DEL), if any: no stored
/// text holds one, in either API, on either engine (PostgreSQL cannot store a NUL at all).
pub fn control_character(s: &str) -> Option<char> {
    s.chars().find(|c| c.is_control())
}

/// `invalid_character` when `s` holds a control character: a NUL, a line break or an escape
/// sequence is never data a partner means to store.
pub fn check_characters(s: &str) -> Result<(), ValueError> {
    match control_character(s) {
        Some(c) => Err(ValueError::new(
            Code::InvalidCharacter,
            format!("must not contain control characters (found U+{:04X})", c as u32),
        )),
        None => Ok(()),
    }
}

fn is_integer_literal(n: &str) -> bool {
    let digits = n.strip_prefix('-').unwrap_or(n);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The numeric text of a number field: a JSON number, or a string holding one (spaces around
/// it allowed). `Ok(None)` for null or an empty string.
fn numeric_text(raw: &RawValue) -> Result<Option<String>, ValueError> {
    numeric(raw).map(|n| n.map(|(text, _)| text))
}

/// Like [`numeric_text`], and whether the value came as a JSON number (`true`) or a string.
fn numeric(raw: &RawValue) -> Result<Option<(String, bool)>, ValueError> {
    match scalar(raw)? {
        Scalar::Null => Ok(None),
        Scalar::Number(n) => Ok(Some((n.to_owned(), true))),
        Scalar::Str(s) => {
            let t = s.trim();
            if t.is_empty() {
                return Ok(None);
            }
            // A numeric string is accepted exactly when its content is a JSON number.
            if is_json_number(t) {
                Ok(Some((t.to_owned(), false)))
            } else {
                let said = match other_number_form(t) {
                    Some(meaning) => format!("must be a number, got {} ({meaning})", echo(&s)),
                    None => format!("must be a number, got {}", echo(&s)),
                };
                Err(ValueError::new(Code::InvalidNumber, said))
            }
        }
        other => Err(ValueError::new(
            Code::InvalidType,
            format!("must be a number, got {}", kind_name(&other)),
        )),
    }
}

/// Whether `text` is a JSON number, as a numeric string must be.
fn is_json_number(text: &str) -> bool {
    text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) && serde_json::from_str::<&RawValue>(text).is_ok()
}

/// What a number written as people write it means plainly, for its error: with a currency sign
/// (`$1,000.00`), thousands separators or a decimal comma (`10,50`). A comma before exactly
/// three digits and nothing else (`1,000`) reads both ways, and both are said.
fn other_number_form(sent: &str) -> Option<String> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mut changes = Vec::new();
    let mut s = sent.trim();
    for sign in ["US$", "USD", "$"] {
        let stripped = (s.get(..sign.len()))
            .filter(|head| head.eq_ignore_ascii_case(sign))
            .map(|_| &s[sign.len()..])
            .or_else(|| s.strip_suffix(sign).filter(|_| sign.len() == 3));
        if let Some(rest) = stripped {
            s = rest.trim();
            changes.push("without the currency sign");
            break;
        }
    }
    let mut plain = s.to_owned();
    if s.contains(',') {
        let (whole, fraction) = s.split_once('.').map_or((s, None), |(w, f)| (w, Some(f)));
        let groups: Vec<&str> = whole.trim_start_matches('-').split(',').collect();
        let thousands = groups.len() > 1
            && (1..=3).contains(&groups[0].len())
            && groups.iter().all(|g| digits(g))
            && groups[1..].iter().all(|g| g.len() == 3)
            && fraction.is_none_or(digits);
        if thousands && groups.len() == 2 && fraction.is_none() {
            let (before, after) = (groups[0], groups[1]);
            return Some(format!(
                "{before}{after} if the comma separates thousands, {before}.{after} if it is a decimal comma: send the \
                 number meant without it"
            ));
        }
        if thousands {
            plain = s.replace(',', "");
            changes.push("without the thousands separators");
        } else if let [whole, fraction] = s.trim_start_matches('-').split(',').collect::<Vec<_>>()[..]
            && digits(whole)
            && digits(fraction)
        {
            plain = s.replace(',', ".");
            changes.push("with a decimal point");
        } else if let Some((whole, fraction)) = s.split_once(',')
            && digits(fraction)
            && let groups = whole.trim_start_matches('-').split('.').collect::<Vec<_>>()
            && groups.len() > 1
            && (1..=3).contains(&groups[0].len())
            && groups[1..].iter().all(|g| g.len() == 3)
            && groups.iter().all(|g| digits(g))
        {
            // Dots between the thousands and a decimal comma (`1.234,56`).
            plain = format!("{}.{fraction}", whole.replace('.', ""));
            changes.push("with a decimal point and without the thousands separators");
        }
    }
    (!changes.is_empty() && is_json_number(&plain)).then(|| format!("that is {plain} {}", changes.join(" and ")))
}

fn decimal(text: &str) -> Result<Decimal, ValueError> {
    let parsed = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text)
    } else {
        Decimal::from_str_exact(text)
    };
    parsed.map_err(|_| ValueError::new(Code::OutOfRange, format!("is out of range, got {}", echo(text))))
}

/// A count or a mileage: a whole number from `min` up to 2147483647.
pub fn parse_int(raw: &RawValue, min: i64) -> Result<Option<i64>, ValueError> {
    let Some(text) = numeric_text(raw)? else {
        return Ok(None);
    };
    let d = decimal(&text)?;
    if !d.fract().is_zero() {
        return Err(ValueError::new(
            Code::NotWholeNumber,
            format!("must be a whole number, got {}", echo(&text)),
        ));
    }
    if d.is_sign_negative() && !d.is_zero() {
        return Err(ValueError::new(
            Code::Negative,
            format!("must not be negative, got {}", echo(&text)),
        ));
    }
    match d.to_i64() {
        Some(n) if n < min => Err(ValueError::new(
            Code::OutOfRange,
            format!("must be at least {min}, got {n}"),
        )),
        Some(n) if n <= MAX_INT => Ok(Some(n)),
        _ => Err(ValueError::new(
            Code::OutOfRange,
            format!("must be at most {MAX_INT}, got {}", echo(&text)),
        )),
    }
}

/// An amount of money as read: integer cents, and the value as sent when it was a binary
/// floating-point approximation of those cents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub cents: i64,
    /// The JSON number as sent (`64.03999999999999`) when it was taken as the nearest cent.
    pub float_noise: Option<String>,
}

/// How far from a whole cent a JSON number may lie and still be that cent: POS systems that
/// compute in doubles send `0.30000000000000004`; a real third decimal (`1.005`) is much further.
const FLOAT_NOISE: Decimal = Decimal::from_parts(1, 0, 0, false, 9);

/// Money in integer cents. More decimals are fine when they are zeros (`"1.000"`); anything
/// that is not exact to the cent (`1.005`) is refused rather than rounded, except a JSON number
/// within 1e-9 of a whole cent (binary floating-point noise), which is that cent.
pub fn parse_money(raw: &RawValue) -> Result<Option<Money>, ValueError> {
    let Some((text, json_number)) = numeric(raw)? else {
        return Ok(None);
    };
    let mut float_noise = None;
    let mut d = match decimal(&text) {
        Ok(d) => d,
        // Noise around zero (`5.551115123125783e-17`) has more decimals than a Decimal holds;
        // what no double can be (`1e-400`) is no noise.
        Err(_) if json_number && text.parse::<f64>().is_ok_and(|f| f != 0.0 && f.abs() <= 1e-9) => {
            float_noise = Some(text.clone());
            Decimal::ZERO
        }
        Err(e) => return Err(e),
    };
    // Checked: a hundredfold of an amount near Decimal's limit (8.4e26, say) overflows; such an
    // amount is out of range below.
    if json_number
        && d.checked_mul(Decimal::ONE_HUNDRED)
            .is_some_and(|cents| !cents.fract().is_zero())
    {
        let nearest = (d * Decimal::ONE_HUNDRED).round() / Decimal::ONE_HUNDRED;
        if (d - nearest).abs() <= FLOAT_NOISE {
            d = nearest;
            float_noise = Some(text.clone());
        }
    }
    if d.is_sign_negative() && !d.is_zero() {
        return Err(ValueError::new(
            Code::Negative,
            format!("must not be negative, got {}", echo(&text)),
        ));
    }
    let max = Decimal::new(MAX_MONEY_CENTS, 2);
    if d > max {
        return Err(ValueError::new(
            Code::OutOfRange,
            format!("must be at most {max}, got {}", echo(&text)),
        ));
    }
    let cents = d * Decimal::ONE_HUNDRED;
    if !cents.fract().is_zero() {
        return Err(ValueError::new(
            Code::TooManyDecimals,
            format!("must be exact to the cent (2 decimal places), got {}", echo(&text)),
        ));
    }
    let cents = cents
        .to_i64()
        .ok_or_else(|| ValueError::new(Code::OutOfRange, format!("is out of range, got {}", echo(&text))))?;
    Ok(Some(Money { cents, float_noise }))
}

/// Cents as a decimal amount: `6404` is `64.04`.
pub fn format_cents(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// A flag: Yes/No, Y/N, true/false, 1/0 in any case, as a string, a boolean or a number.
pub fn parse_flag(raw: &RawValue) -> Result<Option<bool>, ValueError> {
    let bad = |got: &str| {
        ValueError::new(
            Code::InvalidBoolean,
            format!("must be Yes or No (or Y/N, true/false, 1/0), got {got}"),
        )
    };
    match scalar(raw)? {
        Scalar::Null => Ok(None),
        Scalar::Bool(b) => Ok(Some(b)),
        Scalar::Number("1") => Ok(Some(true)),
        Scalar::Number("0") => Ok(Some(false)),
        Scalar::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "yes" | "y" | "true" | "1" => Ok(Some(true)),
            "no" | "n" | "false" | "0" => Ok(Some(false)),
            _ => Err(bad(&echo(&s))),
        },
        Scalar::Number(n) => Err(bad(n)),
        other => Err(bad(kind_name(&other))),
    }
}

/// The years a date may have.
pub const MIN_YEAR: i32 = 1900;
pub const MAX_YEAR: i32 = 2999;

const DATE_HINT: &str = "a date such as \"2018-12-04\", \"2018-12-04T13:08:00\" or \"2018-12-04T13:08:00Z\"";

/// A date field as sent: a string in one of the accepted forms, see [`parse_date_str`].
pub fn parse_date(raw: &RawValue, zone: Tz) -> Result<Option<DateTime<Utc>>, ValueError> {
    match scalar(raw)? {
        Scalar::Null => Ok(None),
        Scalar::Str(s) if s.trim().is_empty() => Ok(None),
        Scalar::Str(s) => parse_date_str(&s, zone).map(Some),
        Scalar::Number(n) => Err(ValueError::new(
            Code::InvalidType,
            match other_date_form(n) {
                Some(meaning) => format!("must be {DATE_HINT} (a string), got the number {n} ({meaning})"),
                None => format!("must be {DATE_HINT}, got a number"),
            },
        )),
        other => Err(ValueError::new(
            Code::InvalidType,
            format!("must be {DATE_HINT}, got {}", kind_name(&other)),
        )),
    }
}

/// What a date sent in another common form means in ours, for its error: with slashes, dots or
/// dashes, year first or last (month or day first: both are said when both exist), a month or
/// day of one digit, a month by name, or a Unix time (seconds or milliseconds), so that the
/// sender sees the value to send instead. A hint only: the date is still refused.
fn other_date_form(sent: &str) -> Option<String> {
    let s = sent.trim();
    if let Some(said) = numeric_date(s) {
        return Some(said);
    }
    if s.contains(|c: char| c.is_ascii_alphabetic()) {
        let named = [
            "%d-%b-%Y",
            "%d %b %Y",
            "%b %d, %Y",
            "%b %d %Y",
            "%d-%B-%Y",
            "%d %B %Y",
            "%B %d, %Y",
            "%B %d %Y",
        ];
        return named
            .iter()
            .find_map(|form| NaiveDate::parse_from_str(s, form).ok())
            .map(as_ours);
    }
    let n: i64 = s.parse().ok()?;
    let (seconds, unit) = match s.len() {
        9 | 10 => (n, "seconds"),
        12 | 13 => (n.div_euclid(1000), "milliseconds"),
        _ => return None,
    };
    let utc = DateTime::from_timestamp(seconds, 0)?;
    Some(format!(
        "if it is a Unix time in {unit}, that is \"{}\"",
        utc.format("%Y-%m-%dT%H:%M:%SZ")
    ))
}

/// [`other_date_form`] of a date in numbers with slashes, dots or dashes, year first or last.
fn numeric_date(s: &str) -> Option<String> {
    let [first, second, rest] = s.splitn(3, ['/', '.', '-']).collect::<Vec<_>>()[..] else {
        return None;
    };
    // The third part may go on with a time ("4/13/2018 1:08 PM"): its leading digits.
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .map_or(rest, |end| &rest[..end]);
    let number = |part: &str| part.parse::<u32>().ok().filter(|_| (1..=2).contains(&part.len()));
    if first.len() == 4 {
        let date = NaiveDate::from_ymd_opt(first.parse().ok()?, number(second)?, number(digits)?)?;
        // Sent as ours already: what is wrong is after the date (its time or offset).
        return (!s.starts_with(&date.to_string())).then(|| as_ours(date));
    }
    if digits.len() != 4 {
        return None;
    }
    let year = digits.parse().ok()?;
    let (first, second) = (number(first)?, number(second)?);
    match (
        NaiveDate::from_ymd_opt(year, first, second),
        NaiveDate::from_ymd_opt(year, second, first),
    ) {
        (Some(month_first), Some(day_first)) if month_first != day_first => Some(format!(
            "month first that is \"{month_first}\", day first \"{day_first}\": send the one meant as YYYY-MM-DD"
        )),
        (Some(date), _) | (None, Some(date)) => Some(as_ours(date)),
        (None, None) => None,
    }
}

/// A date another way sent, in our words.
fn as_ours(date: NaiveDate) -> String {
    format!("that is \"{date}\": send dates as YYYY-MM-DD")
}

const ZONED: &[&str] = &["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H%M%S%.f%z", "%Y-%m-%dT%H:%M%z"];
const LOCAL: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H%M%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
];

/// The patterns above, read once: `parse_from_str` would read its pattern again for every date
/// of a batch.
static ZONED_ITEMS: LazyLock<Vec<Vec<Item<'static>>>> = LazyLock::new(|| compile(ZONED));
static LOCAL_ITEMS: LazyLock<Vec<Vec<Item<'static>>>> = LazyLock::new(|| compile(LOCAL));

fn compile(patterns: &[&str]) -> Vec<Vec<Item<'static>>> {
    patterns
        .iter()
        .map(|p| {
            StrftimeItems::new(p)
                .parse_to_owned()
                .expect("the date patterns are valid")
        })
        .collect()
}

fn parse_with(s: &str, patterns: &[Vec<Item<'static>>]) -> Option<Parsed> {
    patterns.iter().find_map(|items| {
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, s, items.iter())
            .ok()
            .map(|()| parsed)
    })
}

/// Parses the guide's date forms: `2018-12-04`, `2018-12-04T13:08:00` (also with a space, with
/// fractional seconds, with `Z` or an offset) and the basic forms `20181204T13:08:00` and
/// `20181204`. A date or time without a zone is in `zone` (the partner's).
pub fn parse_date_str(input: &str, zone: Tz) -> Result<DateTime<Utc>, ValueError> {
    let invalid = || {
        let said = match other_date_form(input) {
            Some(meaning) => format!("must be {DATE_HINT}, got {} ({meaning})", echo(input)),
            None => format!("must be {DATE_HINT}, got {}", echo(input)),
        };
        ValueError::new(Code::InvalidDate, said)
    };
    let s = input.trim();
    // The basic forms are the extended ones without the date's dashes.
    let extended;
    let s = if s.len() >= 8 && s.as_bytes()[..8].iter().all(u8::is_ascii_digit) {
        extended = format!("{}-{}-{}{}", &s[..4], &s[4..6], &s[6..8], &s[8..]);
        extended.as_str()
    } else {
        s
    };
    // The forms without a zone come first: they are what most POS systems send. The year is
    // judged as sent (in the sender's zone).
    let (utc, year) = if let Some(naive) = parse_naive(s) {
        let utc = match zone.from_local_datetime(&naive) {
            LocalResult::Single(dt) => dt.with_timezone(&Utc),
            // A clock set back repeats an hour: take the first, as the wall clock showed it first.
            LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
            LocalResult::None => {
                return Err(ValueError::new(
                    Code::InvalidDate,
                    format!(
                        "{} does not exist in {} (a daylight-saving gap); send it with an offset",
                        echo(input),
                        zone.name()
                    ),
                ));
            }
        };
        (utc, naive.year())
    } else if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        (dt.with_timezone(&Utc), dt.year())
    } else if let Some(naive) = s.strip_suffix(['Z', 'z']).and_then(parse_naive) {
        (naive.and_utc(), naive.year())
    } else if let Some(dt) = parse_with(s, &ZONED_ITEMS).and_then(|p| p.to_datetime().ok()) {
        (dt.with_timezone(&Utc), dt.year())
    } else {
        return Err(invalid());
    };
    // chrono reads a second of 60 as a leap second, which no POS clock shows and which would
    // not survive being stored and read back (found by fuzzing).
    if utc.nanosecond() >= 1_000_000_000 {
        return Err(ValueError::new(
            Code::InvalidDate,
            format!("has a seconds value of 60, got {}", echo(input)),
        ));
    }
    // Every date derived from one (ExpireDate, years later) must still print as RFC 3339.
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return Err(ValueError::new(
            Code::OutOfRange,
            format!("must be in the years {MIN_YEAR} to {MAX_YEAR}, got {}", echo(input)),
        ));
    }
    Ok(utc)
}

fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    if s.len() < 10 || s.as_bytes()[4] != b'-' {
        return None;
    }
    parse_with(s, &LOCAL_ITEMS)
        .and_then(|p| p.to_naive_datetime_with_offset(0).ok())
        .or_else(|| NaiveDate::from_str(s).ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
}

/// A date as the API returns it: RFC 3339 in UTC, `2018-12-04T00:00:00Z`.
pub fn format_date(dt: &DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A time the server says (one it made, a credential's or certificate's end): RFC 3339 in UTC,
/// to the second, `2026-12-07T02:00:00Z`, whatever fraction it has.
pub fn format_timestamp(dt: &DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    fn code<T: std::fmt::Debug>(r: Result<Option<T>, ValueError>) -> Code {
        r.unwrap_err().code
    }

    #[test]
    fn text_takes_strings_and_whole_numbers_only() {
        assert_eq!(parse_text(&raw(r#""005308""#), 25).unwrap(), Some("005308".into()));
        assert_eq!(parse_text(&raw(r#""a\"b\u00e9""#), 25).unwrap(), Some("a\"bé".into()));
        assert_eq!(parse_text(&raw("5308"), 25).unwrap(), Some("5308".into()));
        assert_eq!(parse_text(&raw("null"), 25).unwrap(), None);
        assert_eq!(code(parse_text(&raw("1.5"), 25)), Code::InvalidType);
        assert_eq!(code(parse_text(&raw("true"), 25)), Code::InvalidType);
        assert_eq!(code(parse_text(&raw("[\"a\"]"), 25)), Code::InvalidType);
        assert_eq!(code(parse_text(&raw(r#""abc""#), 2)), Code::TooLong);
        // Length is in characters, not bytes.
        assert_eq!(parse_text(&raw(r#""ééé""#), 3).unwrap(), Some("ééé".into()));
        assert_eq!(code(parse_text(&raw(r#""a\u0000b""#), 25)), Code::InvalidCharacter);
        // Padding is trimmed before the length is counted; a line break is no padding.
        assert_eq!(
            parse_text(&raw(r#""  005308 \u00a0""#), 6).unwrap(),
            Some("005308".into())
        );
        assert_eq!(parse_text(&raw(r#""   ""#), 6).unwrap(), Some(String::new()));
        assert_eq!(code(parse_text(&raw(r#""005308\n""#), 25)), Code::InvalidCharacter);
        assert_eq!(code(parse_text(&raw(r#""\t005308""#), 25)), Code::InvalidCharacter);
        assert_eq!(trim_padding(" a\n "), "a\n");
        assert_eq!(code(parse_text(&raw(r#""\ud800""#), 25)), Code::InvalidString);
        let long = format!("\"{}\"", "x".repeat(100_000));
        let err = parse_text(&raw(&long), 25).unwrap_err();
        assert_eq!(err.code, Code::TooLong);
        assert!(err.message.len() < 100, "{}", err.message);
    }

    #[test]
    fn numbers_come_as_numbers_or_numeric_strings() {
        assert_eq!(parse_int(&raw("4"), 1).unwrap(), Some(4));
        assert_eq!(parse_int(&raw(r#""187437""#), 0).unwrap(), Some(187437));
        assert_eq!(parse_int(&raw(r#"" 12 ""#), 0).unwrap(), Some(12));
        assert_eq!(parse_int(&raw("4.0"), 0).unwrap(), Some(4));
        assert_eq!(parse_int(&raw("1e2"), 0).unwrap(), Some(100));
        assert_eq!(parse_int(&raw(r#""""#), 0).unwrap(), None);
        assert_eq!(parse_int(&raw("null"), 0).unwrap(), None);
        assert_eq!(code(parse_int(&raw("4.5"), 0)), Code::NotWholeNumber);
        assert_eq!(code(parse_int(&raw("-1"), 0)), Code::Negative);
        assert_eq!(code(parse_int(&raw("0"), 1)), Code::OutOfRange);
        assert_eq!(code(parse_int(&raw("2147483648"), 0)), Code::OutOfRange);
        assert_eq!(code(parse_int(&raw("1e400"), 0)), Code::OutOfRange);
        assert_eq!(
            code(parse_int(&raw("123456789012345678901234567890"), 0)),
            Code::OutOfRange
        );
        assert_eq!(code(parse_int(&raw(r#""four""#), 0)), Code::InvalidNumber);
        assert_eq!(code(parse_int(&raw(r#""0x10""#), 0)), Code::InvalidNumber);
        assert_eq!(code(parse_int(&raw(r#""1_000""#), 0)), Code::InvalidNumber);
        assert_eq!(code(parse_int(&raw(r#""NaN""#), 0)), Code::InvalidNumber);
        assert_eq!(code(parse_int(&raw("true"), 0)), Code::InvalidType);
        assert_eq!(code(parse_int(&raw("{}"), 0)), Code::InvalidType);
    }

    fn cents(json: &str) -> Option<i64> {
        let m = parse_money(&raw(json)).unwrap();
        if let Some(m) = &m {
            assert_eq!(m.float_noise, None, "{json}");
        }
        m.map(|m| m.cents)
    }

    #[test]
    fn money_is_exact_to_the_cent() {
        assert_eq!(cents("995.68"), Some(99568));
        assert_eq!(cents("60.00"), Some(6000));
        assert_eq!(cents("60"), Some(6000));
        assert_eq!(cents(r#""188.99""#), Some(18899));
        assert_eq!(cents(r#""1.000""#), Some(100));
        assert_eq!(cents("0.1"), Some(10));
        // 0.29 is not exact in binary floating point; cents must still be 29.
        assert_eq!(cents("0.29"), Some(29));
        assert_eq!(cents("1.5e2"), Some(15000));
        assert_eq!(cents("9999999999999.99"), Some(MAX_MONEY_CENTS));
        assert_eq!(cents("null"), None);
        assert_eq!(code(parse_money(&raw("1.005"))), Code::TooManyDecimals);
        assert_eq!(code(parse_money(&raw(r#""1.005""#))), Code::TooManyDecimals);
        assert_eq!(code(parse_money(&raw("-0.01"))), Code::Negative);
        assert_eq!(code(parse_money(&raw("10000000000000"))), Code::OutOfRange);
        assert_eq!(code(parse_money(&raw(r#""$5.00""#))), Code::InvalidNumber);
        // Near Decimal's limit a hundredfold overflows: refused by range, never a panic (a
        // schemathesis finding: 500 on a TPPPrice of -8.385032432739727e+26).
        assert_eq!(code(parse_money(&raw("8.385032432739727e+26"))), Code::OutOfRange);
        assert_eq!(code(parse_money(&raw("-8.385032432739727e+26"))), Code::Negative);
        assert_eq!(
            code(parse_money(&raw("79228162514264337593543950335"))),
            Code::OutOfRange
        );
        assert_eq!(
            code(parse_money(&raw("7.9228162514264337593543950335e28"))),
            Code::OutOfRange
        );
    }

    #[test]
    fn float_noise_in_a_json_number_is_the_nearest_cent() {
        let noisy = |json: &str| parse_money(&raw(json)).unwrap().unwrap();
        for (json, want) in [
            ("0.30000000000000004", 30),
            ("64.03999999999999", 6404),
            ("0.1000000001", 10),
            ("5.551115123125783e-17", 0),
            ("-5.551115123125783e-17", 0),
            ("199.99000000000001", 19999),
        ] {
            let m = noisy(json);
            assert_eq!(m.cents, want, "{json}");
            assert_eq!(m.float_noise.as_deref(), Some(json));
        }
        // Beyond 1e-9 of a cent it is a real fraction of a cent.
        assert_eq!(code(parse_money(&raw("1.005"))), Code::TooManyDecimals);
        assert_eq!(code(parse_money(&raw("0.10000001"))), Code::TooManyDecimals);
        assert_eq!(code(parse_money(&raw("-0.01000000001"))), Code::Negative);
        assert_eq!(code(parse_money(&raw("1e-400"))), Code::OutOfRange);
        // Strings are what the sender wrote: exact, always.
        assert_eq!(
            code(parse_money(&raw(r#""0.30000000000000004""#))),
            Code::TooManyDecimals
        );
        assert_eq!(code(parse_money(&raw(r#""64.03999999999999""#))), Code::TooManyDecimals);
    }

    #[test]
    fn flags_take_the_legacy_forms() {
        for (json, want) in [
            (r#""Yes""#, Some(true)),
            (r#""n""#, Some(false)),
            (r#""TRUE""#, Some(true)),
            (r#""false""#, Some(false)),
            (r#""1""#, Some(true)),
            ("0", Some(false)),
            ("true", Some(true)),
            (r#""""#, None),
            ("null", None),
        ] {
            assert_eq!(parse_flag(&raw(json)).unwrap(), want, "{json}");
        }
        assert_eq!(code(parse_flag(&raw(r#""maybe""#))), Code::InvalidBoolean);
        assert_eq!(code(parse_flag(&raw("2"))), Code::InvalidBoolean);
    }

    fn utc(s: &str) -> String {
        format_date(&parse_date_str(s, Tz::UTC).unwrap())
    }

    #[test]
    fn dates_take_the_guides_forms() {
        assert_eq!(utc("2018-12-04"), "2018-12-04T00:00:00Z");
        assert_eq!(utc("2018-12-04T13:08:00"), "2018-12-04T13:08:00Z");
        assert_eq!(utc("2018-12-04 13:08:00"), "2018-12-04T13:08:00Z");
        assert_eq!(utc("2018-12-04T13:08:00Z"), "2018-12-04T13:08:00Z");
        assert_eq!(utc("2018-12-04T13:08:00.250Z"), "2018-12-04T13:08:00.250Z");
        assert_eq!(utc("2018-12-04T13:08:00-07:00"), "2018-12-04T20:08:00Z");
        assert_eq!(utc("2018-12-04T13:08:00+0530"), "2018-12-04T07:38:00Z");
        assert_eq!(utc("20181204T13:08:00"), "2018-12-04T13:08:00Z");
        assert_eq!(utc("20181204T13:08:00Z"), "2018-12-04T13:08:00Z");
        assert_eq!(utc("20181204T130800"), "2018-12-04T13:08:00Z");
        assert_eq!(utc("20181204"), "2018-12-04T00:00:00Z");
        assert_eq!(utc(" 2018-12-04 "), "2018-12-04T00:00:00Z");
    }

    #[test]
    fn dates_without_a_zone_are_in_the_partners_zone() {
        let denver = chrono_tz::America::Denver;
        let d = |s| format_date(&parse_date_str(s, denver).unwrap());
        assert_eq!(d("2018-12-04"), "2018-12-04T07:00:00Z");
        assert_eq!(d("2018-07-04T12:00:00"), "2018-07-04T18:00:00Z");
        assert_eq!(d("2018-07-04T12:00:00Z"), "2018-07-04T12:00:00Z");
        // 02:30 on 2019-03-10 never happened in Denver.
        let gap = parse_date_str("2019-03-10T02:30:00", denver).unwrap_err();
        assert!(
            gap.message.contains("does not exist in America/Denver"),
            "{}",
            gap.message
        );
        // 01:30 on 2019-11-03 happened twice: the first is taken.
        assert_eq!(d("2019-11-03T01:30:00"), "2019-11-03T07:30:00Z");
    }

    #[test]
    fn impossible_dates_are_refused() {
        for bad in [
            "2018-02-30",
            "2018-13-01",
            "2018-12-04T25:00:00",
            "04/12/2018",
            "yesterday",
            "2018-12",
            "201812",
            "18-12-04",
            "2018-12-04T13:08:00+25:00",
            "",
        ] {
            let err = parse_date_str(bad, Tz::UTC).unwrap_err();
            assert_eq!(err.code, Code::InvalidDate, "{bad}");
        }
        // Fuzzing findings, kept as regressions.
        for bad in ["2018-12-04T23:59:60", "10090602T13:08:60", "2016-12-31T23:59:60Z"] {
            for zone in [Tz::UTC, chrono_tz::America::Denver] {
                assert_eq!(parse_date_str(bad, zone).unwrap_err().code, Code::InvalidDate, "{bad}");
            }
        }
        assert_eq!(code(parse_date(&raw("20181204"), Tz::UTC)), Code::InvalidType);
    }

    #[test]
    fn a_date_in_another_common_form_is_refused_saying_what_to_send() {
        let said = |raw_json: &str| parse_date(&raw(raw_json), Tz::UTC).unwrap_err().message;
        assert_eq!(
            said("\"12/04/2018\""),
            format!(
                "must be {DATE_HINT}, got \"12/04/2018\" (month first that is \"2018-12-04\", day first \
                 \"2018-04-12\": send the one meant as YYYY-MM-DD)"
            )
        );
        assert!(said("\"4/13/2018 1:08 PM\"").ends_with("(that is \"2018-04-13\": send dates as YYYY-MM-DD)"));
        assert!(said("\"13/4/2018\"").ends_with("(that is \"2018-04-13\": send dates as YYYY-MM-DD)"));
        assert!(said("\"4/4/2018\"").ends_with("(that is \"2018-04-04\": send dates as YYYY-MM-DD)"));
        assert!(said("\"13/13/2018\"").ends_with("got \"13/13/2018\""));
        // Year first with slashes or dots, day-first with dashes or dots, one-digit parts,
        // months by name: each said as ours.
        for (sent, ours) in [
            ("2018/12/04", "2018-12-04"),
            ("2018.12.04", "2018-12-04"),
            ("2018/12/04 13:08", "2018-12-04"),
            ("2018-12-4", "2018-12-04"),
            ("2018-1-4", "2018-01-04"),
            ("31.12.2018", "2018-12-31"),
            ("31-12-2018", "2018-12-31"),
            ("04-Dec-2018", "2018-12-04"),
            ("Dec 4, 2018", "2018-12-04"),
            ("4 December 2018", "2018-12-04"),
            ("december 4 2018", "2018-12-04"),
        ] {
            assert!(
                said(&format!("\"{sent}\"")).ends_with(&format!("(that is \"{ours}\": send dates as YYYY-MM-DD)")),
                "{sent}: {}",
                said(&format!("\"{sent}\""))
            );
        }
        assert!(said("\"04.12.2018\"").contains("month first that is \"2018-04-12\", day first \"2018-12-04\""));
        for nothing_meant in [
            "2018/13/04",
            "2018-02-30",
            "Smarch 4, 2018",
            "soon",
            "2018/123/4",
            "2018-12-04T25:00:00",
            "2018-12-04T13:08:00+25:00",
        ] {
            assert!(
                said(&format!("\"{nothing_meant}\"")).ends_with(&format!("got \"{nothing_meant}\"")),
                "{nothing_meant}"
            );
        }
        assert_eq!(
            said("1543881600"),
            format!(
                "must be {DATE_HINT} (a string), got the number 1543881600 (if it is a Unix time in seconds, that \
                 is \"2018-12-04T00:00:00Z\")"
            )
        );
        assert!(
            said("1543881600123").ends_with("(if it is a Unix time in milliseconds, that is \"2018-12-04T00:00:00Z\")")
        );
        assert!(
            said("\"1543881600\"").ends_with("(if it is a Unix time in seconds, that is \"2018-12-04T00:00:00Z\")")
        );
        assert_eq!(said("20181204"), format!("must be {DATE_HINT}, got a number"));
        assert_eq!(code(parse_date(&raw("1543881600"), Tz::UTC)), Code::InvalidType);
        assert_eq!(code(parse_date(&raw("\"12/04/2018\""), Tz::UTC)), Code::InvalidDate);
    }

    #[test]
    fn a_key_sent_many_times_is_said_with_its_first_values_and_its_last() {
        assert_eq!(
            sent_more_than_once("ShopID", &["\"1\"", "2"]),
            "ShopID was sent twice with different values (\"1\", then 2)"
        );
        let many: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            sent_more_than_once("VIN", &many),
            "VIN was sent 1000 times with different values (0, 1, 2, ..., then 999)"
        );
    }

    #[test]
    fn a_number_written_as_people_write_it_is_refused_saying_it_plainly() {
        let said = |sent: &str| parse_money(&raw(&format!("\"{sent}\""))).unwrap_err().message;
        assert_eq!(
            said("$10.00"),
            "must be a number, got \"$10.00\" (that is 10.00 without the currency sign)"
        );
        assert_eq!(
            said("$1,000.00"),
            "must be a number, got \"$1,000.00\" (that is 1000.00 without the currency sign and without the thousands separators)"
        );
        assert!(said("USD 12.5").ends_with("(that is 12.5 without the currency sign)"));
        assert!(said("12.50 USD").ends_with("(that is 12.50 without the currency sign)"));
        assert!(said("1,234,567").ends_with("(that is 1234567 without the thousands separators)"));
        assert!(said("10,50").ends_with("(that is 10.50 with a decimal point)"));
        assert!(
            said("1.234,56").ends_with("(that is 1234.56 with a decimal point and without the thousands separators)")
        );
        assert!(
            said("-1.234.567,5")
                .ends_with("(that is -1234567.5 with a decimal point and without the thousands separators)")
        );
        assert!(said("1.23,5").ends_with("got \"1.23,5\""));
        assert!(said("-3,5").ends_with("(that is -3.5 with a decimal point)"));
        assert!(said("1,000").ends_with(
            "(1000 if the comma separates thousands, 1.000 if it is a decimal comma: send the number meant without it)"
        ));
        for unknown in ["N/A", "ten", "$", "1,00,000", "12-50"] {
            assert_eq!(
                said(unknown),
                format!("must be a number, got {}", echo(unknown)),
                "{unknown}"
            );
        }
        let count = parse_int(&raw("\"109,871\""), 0).unwrap_err().message;
        assert!(count.ends_with("(109871 if the comma separates thousands, 109.871 if it is a decimal comma: send the number meant without it)"), "{count}");
    }

    #[test]
    fn years_are_1900_to_2999_as_sent() {
        for bad in [
            "0999-01-01",
            "1899-12-31",
            "1899-12-31T23:59:59Z",
            "3000-01-01",
            "9999-12-31",
            "30000101",
            "3000-01-01T00:00:00+14:00",
        ] {
            let err = parse_date_str(bad, Tz::UTC).unwrap_err();
            assert_eq!(err.code, Code::OutOfRange, "{bad}");
            assert!(err.message.contains("1900 to 2999"), "{}", err.message);
        }
        // The year as sent counts, not the year in UTC.
        assert_eq!(utc("1900-01-01T00:00:00+01:00"), "1899-12-31T23:00:00Z");
        assert_eq!(utc("2999-12-31T23:00:00-05:00"), "3000-01-01T04:00:00Z");
        assert_eq!(utc("1900-01-01"), "1900-01-01T00:00:00Z");
        assert_eq!(utc("2999-12-31T23:59:59"), "2999-12-31T23:59:59Z");
        assert_eq!(parse_date(&raw(r#""""#), Tz::UTC).unwrap(), None);
    }
}
