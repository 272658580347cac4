//! Registration status: a pure function of what is stored about a registration and the time.

use chrono::{DateTime, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::wire::out;

/// The cancellation recorded against a registration (there is at most one).
#[derive(Debug, Clone, PartialEq)]
pub struct CancellationRef {
    pub org_id: String,
    pub cancel_shop_id: String,
    pub cancel_invoice_number: String,
    pub tire_cancel_count: i64,
    pub cancel_date: DateTime<Utc>,
}

/// What the store knows of a registration's use: all that its status and the business rules need.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationUsage {
    pub registration_id: i64,
    pub org_id: String,
    pub shop_id: String,
    pub invoice_number: String,
    pub plan_enroll_date: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub tires_covered: i64,
    /// Sum of TireClaimCount over the registration's claims.
    pub tires_claimed: i64,
    /// Sum of TireCancelCount over its cancellations.
    pub tires_cancelled: i64,
    pub latest_claim_date: Option<DateTime<Utc>>,
    pub cancellation: Option<CancellationRef>,
}

impl RegistrationUsage {
    pub fn tires_left(&self) -> i64 {
        self.tires_covered - self.tires_claimed - self.tires_cancelled
    }
}

/// A wall-clock time in `zone`: the earlier of two where a daylight-saving change repeats it,
/// an hour later where one skips it.
pub fn wall_clock(zone: Tz, local: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
    (zone.from_local_datetime(&local).earliest())
        .or_else(|| {
            zone.from_local_datetime(&(local + chrono::TimeDelta::hours(1)))
                .earliest()
        })
        .map(|d| d.with_timezone(&Utc))
}

/// A partner's plan: how long it runs, and the time zone its calendar days are counted in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub term_months: u32,
    pub zone: Tz,
}

impl Plan {
    /// ExpireDate: PlanEnrollDate plus the term, in calendar months of the partner's zone (a
    /// month-end enrollment clamps: Jan 31 + 1 month = Feb 28 or 29), at the same wall-clock
    /// time.
    pub fn expire_date(&self, plan_enroll_date: DateTime<Utc>) -> DateTime<Utc> {
        let months = Months::new(self.term_months);
        let local = plan_enroll_date.with_timezone(&self.zone).naive_local();
        local
            .checked_add_months(months)
            .and_then(|naive| self.zone.from_local_datetime(&naive).earliest())
            // That wall-clock time falls in a daylight-saving gap: count the months in UTC.
            .map(|d| d.with_timezone(&Utc))
            .or_else(|| plan_enroll_date.checked_add_months(months))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The calendar day (in the partner's zone) of `at`.
    pub fn day_of(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.zone).date_naive()
    }

    /// The first moment of a calendar day in the partner's zone: its midnight (or, where a
    /// daylight-saving change skips midnight, the hour after).
    pub fn day_starts(&self, day: NaiveDate) -> DateTime<Utc> {
        let midnight = day.and_time(chrono::NaiveTime::MIN);
        wall_clock(self.zone, midnight).unwrap_or_else(|| midnight.and_utc())
    }

    /// Whether the plan still covers `at`: expiry is by calendar day, so anything dated on
    /// ExpireDate's day, at any time, is within the plan.
    pub fn covers(&self, plan_enroll_date: DateTime<Utc>, at: DateTime<Utc>) -> bool {
        self.covers_until(self.expire_date(plan_enroll_date), at)
    }

    /// The same, for an ExpireDate already worked out.
    pub fn covers_until(&self, expire_date: DateTime<Utc>, at: DateTime<Utc>) -> bool {
        self.day_of(at) <= self.day_of(expire_date)
    }
}

/// The guide's WarrantyStatus values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarrantyStatus {
    Active = 1,
    Cancelled = 2,
    NoTiresLeft = 3,
    Expired = 4,
}

impl WarrantyStatus {
    pub fn message(self) -> &'static str {
        match self {
            WarrantyStatus::Active => "Registration is Active",
            WarrantyStatus::Cancelled => "Registration is Cancelled",
            WarrantyStatus::NoTiresLeft => "No Tires left on Registration",
            WarrantyStatus::Expired => "Registration is Expired",
        }
    }
}

/// The `rec=registrationstatus` answer, shaped as the guide's example.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegistrationStatus<'a> {
    #[serde(rename = "RegistrationID")]
    pub registration_id: i64,
    #[serde(rename = "PartnerID")]
    pub partner_id: i64,
    #[serde(rename = "OrgID")]
    pub org_id: &'a str,
    #[serde(rename = "ShopID")]
    pub shop_id: &'a str,
    pub invoice_number: &'a str,
    #[serde(serialize_with = "out::date")]
    pub plan_enroll_date: DateTime<Utc>,
    #[serde(serialize_with = "out::timestamp")]
    pub created_date: DateTime<Utc>,
    pub tires_covered: i64,
    pub tire_claim_count: i64,
    pub tire_cancel_count: i64,
    pub tires_left: i64,
    #[serde(serialize_with = "status_code")]
    pub warranty_status: WarrantyStatus,
    #[serde(serialize_with = "out::opt_date")]
    pub cancel_date: Option<DateTime<Utc>>,
    #[serde(serialize_with = "out::date")]
    pub expire_date: DateTime<Utc>,
    #[serde(serialize_with = "out::opt_date")]
    pub status_date: Option<DateTime<Utc>>,
    pub message: &'static str,
}

fn status_code<S: serde::Serializer>(s: &WarrantyStatus, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_u8(*s as u8)
}

/// The status of a registration at `now`: the first rule of the table in docs/v2-api.md,
/// "Registration status", that holds. It is
/// Expired once ExpireDate's day (in the partner's zone) has ended.
pub fn registration_status(
    usage: &RegistrationUsage,
    partner_id: i64,
    plan: Plan,
    now: DateTime<Utc>,
) -> RegistrationStatus<'_> {
    let tires_left = usage.tires_left();
    let expire = plan.expire_date(usage.plan_enroll_date);
    let cancel_date = usage.cancellation.as_ref().map(|c| c.cancel_date);
    let (warranty_status, status_date) = if cancel_date.is_some() && tires_left <= 0 {
        (WarrantyStatus::Cancelled, cancel_date)
    } else if tires_left <= 0 {
        (WarrantyStatus::NoTiresLeft, usage.latest_claim_date)
    } else if !plan.covers_until(expire, now) {
        (WarrantyStatus::Expired, Some(expire))
    } else {
        (WarrantyStatus::Active, None)
    };
    RegistrationStatus {
        registration_id: usage.registration_id,
        partner_id,
        org_id: &usage.org_id,
        shop_id: &usage.shop_id,
        invoice_number: &usage.invoice_number,
        plan_enroll_date: usage.plan_enroll_date,
        created_date: usage.created_at,
        tires_covered: usage.tires_covered,
        tire_claim_count: usage.tires_claimed,
        tire_cancel_count: usage.tires_cancelled,
        tires_left,
        warranty_status,
        cancel_date,
        expire_date: expire,
        status_date,
        message: warranty_status.message(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    pub fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    pub fn usage(covered: i64, claimed: i64, cancelled: i64) -> RegistrationUsage {
        RegistrationUsage {
            registration_id: 70,
            org_id: String::new(),
            shop_id: "005108".into(),
            invoice_number: "104252".into(),
            plan_enroll_date: day(2018, 12, 4),
            created_at: day(2018, 12, 5),
            tires_covered: covered,
            tires_claimed: claimed,
            tires_cancelled: cancelled,
            latest_claim_date: (claimed > 0).then(|| day(2019, 6, 1)),
            cancellation: (cancelled > 0).then(|| CancellationRef {
                org_id: String::new(),
                cancel_shop_id: "005108".into(),
                cancel_invoice_number: "C1".into(),
                tire_cancel_count: cancelled,
                cancel_date: day(2019, 7, 1),
            }),
        }
    }

    #[test]
    fn the_first_rule_that_holds_wins() {
        let during = day(2020, 1, 1);
        let after = day(2022, 1, 1);
        let u = usage(2, 0, 0);
        let s = registration_status(&u, 1001, UTC36, during);
        assert_eq!(
            (s.warranty_status, s.status_date, s.tires_left),
            (WarrantyStatus::Active, None, 2)
        );
        assert_eq!(s.message, "Registration is Active");
        assert_eq!(s.expire_date, day(2021, 12, 4));

        let u = usage(4, 2, 2);
        let s = registration_status(&u, 1001, UTC36, during);
        assert_eq!(
            (s.warranty_status, s.status_date),
            (WarrantyStatus::Cancelled, Some(day(2019, 7, 1)))
        );
        assert_eq!(s.message, "Registration is Cancelled");

        let u = usage(4, 4, 0);
        let s = registration_status(&u, 1001, UTC36, after);
        assert_eq!(
            (s.warranty_status, s.status_date),
            (WarrantyStatus::NoTiresLeft, Some(day(2019, 6, 1)))
        );

        let u = usage(4, 1, 0);
        let s = registration_status(&u, 1001, UTC36, after);
        assert_eq!(
            (s.warranty_status, s.status_date),
            (WarrantyStatus::Expired, Some(day(2021, 12, 4)))
        );

        // A partial cancellation leaves the registration active.
        let u = usage(4, 0, 1);
        let s = registration_status(&u, 1001, UTC36, during);
        assert_eq!((s.warranty_status, s.tires_left), (WarrantyStatus::Active, 3));
        assert_eq!(s.cancel_date, Some(day(2019, 7, 1)));
    }

    pub const UTC36: Plan = Plan {
        term_months: 36,
        zone: Tz::UTC,
    };

    /// A plan of `term_months` counted in `zone`.
    pub fn plan(term_months: u32, zone: Tz) -> Plan {
        Plan { term_months, zone }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn expire_date_adds_calendar_months() {
        let month = plan(1, Tz::UTC);
        assert_eq!(month.expire_date(day(2019, 1, 31)), day(2019, 2, 28));
        assert_eq!(month.expire_date(day(2020, 1, 31)), day(2020, 2, 29));
        assert_eq!(UTC36.expire_date(day(2018, 12, 4)), day(2021, 12, 4));
    }

    #[test]
    fn expire_date_counts_months_in_the_partners_zone() {
        let denver = plan(1, chrono_tz::America::Denver);
        // Jan 30, 23:30 in Denver is Jan 31 in UTC: a month later is Feb 28 in Denver (not Feb
        // 27, as months counted in UTC would make it).
        let expire = denver.expire_date(at("2019-01-31T06:30:00Z"));
        assert_eq!(expire, at("2019-03-01T06:30:00Z"));
        assert_eq!(denver.day_of(expire), NaiveDate::from_ymd_opt(2019, 2, 28).unwrap());
        // Across a daylight-saving change the wall-clock time stays.
        assert_eq!(
            denver.expire_date(at("2019-02-10T19:00:00Z")),
            at("2019-03-10T18:00:00Z")
        );
        // A wall-clock time that the expiry day skips (02:30 on 2019-03-10) counts in UTC.
        assert_eq!(
            denver.expire_date(at("2019-02-10T09:30:00Z")),
            at("2019-03-10T09:30:00Z")
        );
    }

    #[test]
    fn a_day_starts_at_the_partners_midnight_or_the_hour_after_a_skipped_one() {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let chicago = plan(36, chrono_tz::America::Chicago);
        assert_eq!(chicago.day_starts(date(2026, 11, 1)), at("2026-11-01T05:00:00Z"));
        assert_eq!(chicago.day_starts(date(2026, 12, 1)), at("2026-12-01T06:00:00Z"));
        // Santiago's clocks went from 00:00 to 01:00 on 2024-09-08: that day starts at 01:00.
        let santiago = plan(36, chrono_tz::America::Santiago);
        assert_eq!(santiago.day_starts(date(2024, 9, 8)), at("2024-09-08T04:00:00Z"));
        assert_eq!(santiago.day_of(at("2024-09-08T04:00:00Z")), date(2024, 9, 8));
        assert_eq!(santiago.day_of(at("2024-09-08T03:59:59Z")), date(2024, 9, 7));
        assert_eq!(UTC36.day_starts(date(2018, 12, 4)), day(2018, 12, 4));
    }

    #[test]
    fn expiry_is_by_calendar_day_in_the_partners_zone() {
        let denver = plan(12, chrono_tz::America::Denver);
        // Enrolled 2023-06-01 at 09:00 in Denver: expires 2024-06-01 09:00 Denver time, and the
        // plan covers all of that day in Denver (to 2024-06-02T06:00Z).
        let enrolled = at("2023-06-01T15:00:00Z");
        assert!(denver.covers(enrolled, at("2024-06-01T15:00:00Z")));
        assert!(denver.covers(enrolled, at("2024-06-02T00:30:00Z")), "18:30 on the day");
        assert!(
            denver.covers(enrolled, at("2024-06-02T05:59:59Z")),
            "23:59:59 on the day"
        );
        assert!(!denver.covers(enrolled, at("2024-06-02T06:00:00Z")), "the next day");
        let u = RegistrationUsage {
            plan_enroll_date: enrolled,
            ..usage(4, 0, 0)
        };
        let s = registration_status(&u, 1001, denver, at("2024-06-02T05:59:59Z"));
        assert_eq!(s.warranty_status, WarrantyStatus::Active);
        let s = registration_status(&u, 1001, denver, at("2024-06-02T06:00:00Z"));
        assert_eq!(
            (s.warranty_status, s.status_date),
            (WarrantyStatus::Expired, Some(at("2024-06-01T15:00:00Z")))
        );
    }
}
