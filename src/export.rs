//! `export`: a partner's records of one type, as a CSV file whose header row names the guide's
//! fields: the form `import` reads, so an export imports back (into this gateway or another)
//! as the same records. For a report or a feed to the plan's administrator: every field as
//! stored, first stored first, optionally only the records whose own date (PlanEnrollDate,
//! SaleDate, ClaimDate or CancelDate) falls on given calendar days of the partner's zone. Or
//! each registration's status, as `rec=registrationstatus` answers it: a report of the plans
//! still running and their tires left.

use std::borrow::Cow;
use std::io::Write;

use anyhow::Context as _;
use chrono::{DateTime, Days, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;

use crate::config::Partner;
use crate::query::Rec;
use crate::records::{Cancellation, Claim, Record, RecordKind, Registration, Sale, Value};
use crate::scope::Scope;
use crate::status::registration_status;
use crate::store::{self, Store, StoreError, Tx};
use crate::wire::{Kind, format_cents};

/// How many records are read at a time: the export's memory, however many the tenant holds.
const PAGE: u32 = 5_000;

/// The calendar days, in the partner's zone and both included, whose records are exported
/// (by each record's own date); any day when not given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DaySpan {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl DaySpan {
    /// The span as moments: from the first day's start to the start of the day after the last.
    /// An open end is a year no record's date can have (a record's is within 1900 to 2999): a
    /// bound both engines store and compare as they do a record's date.
    fn moments(&self, partner: &Partner) -> (DateTime<Utc>, DateTime<Utc>) {
        let plan = partner.plan();
        let year = |y| NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or_default();
        let from = self.from.unwrap_or(year(1000));
        let after = (self.to.and_then(|day| day.checked_add_days(Days::new(1)))).unwrap_or(year(9000));
        (plan.day_starts(from), plan.day_starts(after))
    }
}

/// A day `--from` or `--to` names: `YYYY-MM-DD`, within the years a record's date may have.
pub fn day(text: &str) -> Result<NaiveDate, String> {
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| format!("{text:?} is not a day as YYYY-MM-DD ({e})"))?;
    let years = crate::wire::MIN_YEAR..=crate::wire::MAX_YEAR;
    if !years.contains(&chrono::Datelike::year(&day)) {
        return Err(format!(
            "{text:?} is outside the years a record's date may have ({} to {})",
            years.start(),
            years.end()
        ));
    }
    Ok(day)
}

/// `--type` (any case): what a GET's `rec` names, a record type or `registrationstatus`.
pub fn rec(name: &str) -> Result<Rec, String> {
    Rec::parse(name).ok_or_else(|| format!("expected one of {}", Rec::NAMES.join(", ")))
}

/// What the summary calls the rows of a `rec`: `claims`, `registration statuses`.
pub fn rows(rec: Rec) -> String {
    rec.record_kind()
        .map_or_else(|| "registration statuses".to_owned(), |kind| kind.name().to_lowercase())
}

/// The record type whose own date `--from` and `--to` pick by: a status's registration's.
pub fn dated_by(rec: Rec) -> RecordKind {
    rec.record_kind().unwrap_or(RecordKind::Registrations)
}

/// The registrationstatus answer's fields, the header of its export: a unit test holds them to
/// the answer's own names (`RegistrationStatus`'s serde names).
const STATUS_HEADER: [&str; 16] = [
    "RegistrationID",
    "PartnerID",
    "OrgID",
    "ShopID",
    "InvoiceNumber",
    "PlanEnrollDate",
    "CreatedDate",
    "TiresCovered",
    "TireClaimCount",
    "TireCancelCount",
    "TiresLeft",
    "WarrantyStatus",
    "CancelDate",
    "ExpireDate",
    "StatusDate",
    "Message",
];

/// Writes what `rec` names of `scope`'s, whose own date falls within `days`, as CSV to
/// `out` (a header row, then a row a record), all read in one snapshot of the database: the
/// file is the tenant as it was at one moment, even while batches arrive. A status is as of
/// `now`. Answers how many rows it wrote.
pub fn export(
    store: &Store,
    partner: &Partner,
    scope: Scope,
    (rec, days): (Rec, DaySpan),
    now: DateTime<Utc>,
    out: impl Write,
) -> anyhow::Result<u64> {
    let dated = days.moments(partner);
    let kind = match rec.record_kind() {
        Some(kind) => kind,
        None => {
            let plan = partner.plan();
            return write_pages(
                store,
                &STATUS_HEADER,
                out,
                |tx, after| {
                    let page = store::dated_registration_usage(tx, scope, dated, after, PAGE)?;
                    Ok(page.into_iter().map(|usage| (usage.registration_id, usage)).collect())
                },
                |csv, usage| csv.serialize(registration_status(usage, partner.partner_id, plan, now)),
            );
        }
    };
    match kind {
        RecordKind::Registrations => export_kind::<Registration>(store, partner, scope, dated, out),
        RecordKind::Sales => export_kind::<Sale>(store, partner, scope, dated, out),
        RecordKind::Claims => export_kind::<Claim>(store, partner, scope, dated, out),
        RecordKind::Cancellations => export_kind::<Cancellation>(store, partner, scope, dated, out),
    }
}

fn export_kind<T: Record>(
    store: &Store,
    partner: &Partner,
    scope: Scope,
    dated: (DateTime<Utc>, DateTime<Utc>),
    out: impl Write,
) -> anyhow::Result<u64> {
    let header: Vec<&str> = T::FIELDS.iter().map(|f| f.name).collect();
    write_pages(
        store,
        &header,
        out,
        |tx, after| store::dated_records::<T>(tx, scope, dated, after, PAGE),
        |csv, record| csv.write_record(cells(record, partner.timezone).iter().map(|cell| cell.as_bytes())),
    )
}

/// Writes `header`, then every row of the pages `page` reads (a page of rows after the id
/// `after`, each with its id; an empty one ends), each with `write`, all in one read
/// transaction. Answers how many rows it wrote.
fn write_pages<W: Write, R>(
    store: &Store,
    header: &[&str],
    out: W,
    mut page: impl FnMut(&Tx, i64) -> Result<Vec<(i64, R)>, StoreError>,
    mut write: impl FnMut(&mut csv::Writer<W>, &R) -> csv::Result<()>,
) -> anyhow::Result<u64> {
    let mut csv = csv::WriterBuilder::new().has_headers(false).from_writer(out);
    csv.write_record(header)?;
    // A write that fails (a full disk) ends the read; it is said once the snapshot is closed.
    let mut failed = None;
    let written = store.read(|tx| {
        let (mut after, mut written) = (0, 0u64);
        loop {
            let rows = page(tx, after)?;
            let Some(&(last, _)) = rows.last() else {
                return Ok(written);
            };
            for (_, row) in &rows {
                if let Err(e) = write(&mut csv, row) {
                    failed = Some(e);
                    return Ok(written);
                }
                written += 1;
            }
            after = last;
        }
    });
    let written = written.map_err(|e: StoreError| anyhow::anyhow!("cannot read the database: {e}"))?;
    if let Some(e) = failed {
        return Err(e).context("cannot write the export");
    }
    csv.flush().context("cannot write the export")?;
    Ok(written)
}

/// A record's cells, each as `import` reads it back: text as stored, money as a decimal
/// amount, dates in RFC 3339 at the partner's offset (`2025-10-14T00:00:00-05:00`: the
/// partner's day as a person reads it, and the same moment to a machine), flags as true or
/// false, and an empty cell for a number that was not sent (import leaves an empty cell out,
/// as a POS leaves the field out).
fn cells<T: Record>(record: &T, zone: Tz) -> Vec<Cow<'_, str>> {
    (T::FIELDS.iter().zip(record.values()))
        .map(|(spec, value)| match (spec.kind, value) {
            (_, Value::Text(t)) => Cow::Borrowed(t),
            (_, Value::Number(None) | Value::Date(None)) => Cow::Borrowed(""),
            (Kind::Money, Value::Number(Some(cents))) => Cow::Owned(format_cents(cents)),
            (_, Value::Number(Some(n))) => Cow::Owned(n.to_string()),
            (_, Value::Date(Some(d))) => {
                Cow::Owned(d.with_timezone(&zone).to_rfc3339_opts(SecondsFormat::AutoSi, true))
            }
            (_, Value::Flag(b)) => Cow::Borrowed(if b { "true" } else { "false" }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::test_support::decode;

    #[test]
    fn cells_are_what_import_reads_back() {
        let claim = decode::<Claim>(
            r#"{"ShopID": "0056678", "InvoiceNumber": "35554367", "ClaimDate": "2020-01-27T10:30:00-06:00",
                "RepairShopID": "0056698", "RepairInvoiceNumber": "9994498", "TireClaimCount": 4,
                "CreditAmount": 64.04, "CostPerUnit": 60, "ServiceDescription": "FLAT, \"REAR\"",
                "TireBrand": "SUM", "TireSize": "2356018", "TireCost": 58.5}"#,
        )
        .record
        .unwrap();
        let cells = cells(&claim, Tz::America__Chicago);
        let at = |name: &str| {
            let i = Claim::FIELDS.iter().position(|f| f.name == name).unwrap();
            cells[i].as_ref()
        };
        assert_eq!(cells.len(), Claim::FIELDS.len());
        let expected = [
            ("ShopID", "0056678"),
            ("ClaimDate", "2020-01-27T10:30:00-06:00"),
            ("TireClaimCount", "4"),
            ("CreditAmount", "64.04"),
            ("CostPerUnit", "60.00"),
            ("TireCost", "58.50"),
            ("ServiceDescription", "FLAT, \"REAR\""),
            // Not sent: empty, not 0 (a GET shows 0; an import of 0 would store a 0).
            ("VehicleMileage", ""),
            ("TirePrice", ""),
            ("VIN", ""),
        ];
        for (field, cell) in expected {
            assert_eq!(at(field), cell, "{field}");
        }
    }

    #[test]
    fn the_status_header_is_the_registrationstatus_answers_fields() {
        let usage = crate::status::tests::usage(4, 1, 0);
        let plan = crate::status::tests::plan(36, Tz::UTC);
        let status = registration_status(&usage, 1001, plan, Utc::now());
        let mut csv = csv::Writer::from_writer(Vec::new());
        csv.serialize(&status).unwrap();
        let written = String::from_utf8(csv.into_inner().unwrap()).unwrap();
        assert_eq!(written.lines().next(), Some(STATUS_HEADER.join(",").as_str()));
        let answer = serde_json::to_value(&status).unwrap();
        for field in STATUS_HEADER {
            assert!(answer.get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn a_type_is_what_a_gets_rec_names() {
        assert_eq!(rec("Claims"), Ok(Rec::Claims));
        assert_eq!(rec("REGISTRATIONSTATUS"), Ok(Rec::RegistrationStatus));
        assert_eq!(
            rec("status"),
            Err("expected one of registrations, claims, sales, cancellations, registrationstatus".to_owned())
        );
        assert_eq!(
            (rows(Rec::Sales), rows(Rec::RegistrationStatus)),
            ("sales".to_owned(), "registration statuses".to_owned())
        );
        assert_eq!(dated_by(Rec::RegistrationStatus), RecordKind::Registrations);
    }

    #[test]
    fn a_flag_is_true_or_false() {
        let registration = decode::<Registration>(
            r#"{"ShopID": "1", "InvoiceNumber": "2", "PlanEnrollDate": "2018-12-04", "EmployeeID": "E",
                "CustomerID": "C", "TiresCovered": 4, "TPPPrice": 1, "TireBrand": "B", "TireSize": "S",
                "TirePrice": 1, "TireCost": 1, "CommercialVehicle": "Y"}"#,
        )
        .record
        .unwrap();
        let at = Registration::FIELDS
            .iter()
            .position(|f| f.name == "CommercialVehicle")
            .unwrap();
        let cells = cells(&registration, Tz::UTC);
        assert_eq!(cells[at], "true");
        let date = Registration::FIELDS
            .iter()
            .position(|f| f.name == "PlanEnrollDate")
            .unwrap();
        assert_eq!(cells[date], "2018-12-04T00:00:00Z");
    }
}
