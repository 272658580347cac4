//! How stored values are written back out (serde `serialize_with` forms): in v2's GET
//! responses as the guide's examples show them (dates in RFC 3339 UTC, money as a JSON number
//! of dollars, empty numbers as 0, flags as "true"/"false"), and v3's dates.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

use super::{Cents, format_date};

pub fn date<S: Serializer>(d: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_date(d))
}

/// A time the server made itself (CreatedDate, a batch's ReceivedAt): whole seconds, always in
/// the guide's `2018-12-04T13:08:00Z` form, even for a time stored with a fraction by an older
/// build.
pub fn timestamp<S: Serializer>(d: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&super::format_timestamp(d))
}

/// An HTTP status, as its number (a batch's Status in the history).
pub fn status<S: Serializer>(status: &actix_web::http::StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

/// An optional time the server made: null when there is none (the operators' routes).
pub fn opt_timestamp<S: Serializer>(d: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => timestamp(d, s),
        None => s.serialize_none(),
    }
}

/// An optional date: `""` when there is none, as the guide's registration status shows.
pub fn opt_date<S: Serializer>(d: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => date(d, s),
        None => s.serialize_str(""),
    }
}

/// Whole dollars print as integers (`60`), others with their cents (`64.04`). Amounts are capped
/// well below 2^53 cents, so the shortest float text is always the exact amount.
pub fn money<S: Serializer>(cents: &Cents, s: S) -> Result<S::Ok, S::Error> {
    if cents % 100 == 0 {
        s.serialize_i64(cents / 100)
    } else {
        s.serialize_f64(*cents as f64 / 100.0)
    }
}

pub fn opt_money<S: Serializer>(cents: &Option<Cents>, s: S) -> Result<S::Ok, S::Error> {
    money(&cents.unwrap_or(0), s)
}

pub fn opt_int<S: Serializer>(n: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(n.unwrap_or(0))
}

pub fn flag<S: Serializer>(b: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if *b { "true" } else { "false" })
}

/// v3's dates: UTC with milliseconds, `2021-08-01T13:08:00.000Z`.
pub fn format_v3_date(d: &DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn v3_date<S: Serializer>(d: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_v3_date(d))
}

pub fn v3_opt_date<S: Serializer>(d: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => v3_date(d, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize)]
    struct M(#[serde(serialize_with = "super::money")] i64);

    #[test]
    fn money_prints_exactly() {
        let p = |c| serde_json::to_string(&M(c)).unwrap();
        assert_eq!(p(6000), "60");
        assert_eq!(p(6404), "64.04");
        assert_eq!(p(29), "0.29");
        assert_eq!(p(10), "0.1");
        assert_eq!(p(0), "0");
        assert_eq!(p(crate::wire::MAX_MONEY_CENTS), "9999999999999.99");
    }
}
