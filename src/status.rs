//! Registration status: a pure function of what is stored about a registration and the time.

use chrono::{DateTime, Months, Utc};
use serde::Serialize;

use crate::records::serde_out;

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

/// PlanEnrollDate plus the partner's plan term.
pub fn expire_date(plan_enroll_date: DateTime<Utc>, plan_term_months: u32) -> DateTime<Utc> {
    plan_enroll_date
        .checked_add_months(Months::new(plan_term_months))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
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
pub struct RegistrationStatus {
    #[serde(rename = "RegistrationID")]
    pub registration_id: i64,
    #[serde(rename = "PartnerID")]
    pub partner_id: i64,
    #[serde(rename = "OrgID")]
    pub org_id: String,
    #[serde(rename = "ShopID")]
    pub shop_id: String,
    #[serde(rename = "InvoiceNumber")]
    pub invoice_number: String,
    #[serde(rename = "PlanEnrollDate", serialize_with = "serde_out::date")]
    pub plan_enroll_date: DateTime<Utc>,
    #[serde(rename = "CreatedDate", serialize_with = "serde_out::date")]
    pub created_date: DateTime<Utc>,
    #[serde(rename = "TiresCovered")]
    pub tires_covered: i64,
    #[serde(rename = "TireClaimCount")]
    pub tire_claim_count: i64,
    #[serde(rename = "TireCancelCount")]
    pub tire_cancel_count: i64,
    #[serde(rename = "TiresLeft")]
    pub tires_left: i64,
    #[serde(rename = "WarrantyStatus", serialize_with = "status_code")]
    pub warranty_status: WarrantyStatus,
    #[serde(rename = "CancelDate", serialize_with = "serde_out::opt_date")]
    pub cancel_date: Option<DateTime<Utc>>,
    #[serde(rename = "ExpireDate", serialize_with = "serde_out::date")]
    pub expire_date: DateTime<Utc>,
    #[serde(rename = "StatusDate", serialize_with = "serde_out::opt_date")]
    pub status_date: Option<DateTime<Utc>>,
    #[serde(rename = "Message")]
    pub message: &'static str,
}

fn status_code<S: serde::Serializer>(s: &WarrantyStatus, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_u8(*s as u8)
}

/// The status of a registration at `now`: the first rule of DESIGN.md's table that holds.
pub fn registration_status(
    usage: &RegistrationUsage,
    partner_id: i64,
    plan_term_months: u32,
    now: DateTime<Utc>,
) -> RegistrationStatus {
    let tires_left = usage.tires_left();
    let expire = expire_date(usage.plan_enroll_date, plan_term_months);
    let cancel_date = usage.cancellation.as_ref().map(|c| c.cancel_date);
    let (warranty_status, status_date) = if cancel_date.is_some() && tires_left <= 0 {
        (WarrantyStatus::Cancelled, cancel_date)
    } else if tires_left <= 0 {
        (WarrantyStatus::NoTiresLeft, usage.latest_claim_date)
    } else if now > expire {
        (WarrantyStatus::Expired, Some(expire))
    } else {
        (WarrantyStatus::Active, None)
    };
    RegistrationStatus {
        registration_id: usage.registration_id,
        partner_id,
        org_id: usage.org_id.clone(),
        shop_id: usage.shop_id.clone(),
        invoice_number: usage.invoice_number.clone(),
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
        let s = registration_status(&usage(2, 0, 0), 1001, 36, during);
        assert_eq!(
            (s.warranty_status, s.status_date, s.tires_left),
            (WarrantyStatus::Active, None, 2)
        );
        assert_eq!(s.message, "Registration is Active");
        assert_eq!(s.expire_date, day(2021, 12, 4));

        let s = registration_status(&usage(4, 2, 2), 1001, 36, during);
        assert_eq!(
            (s.warranty_status, s.status_date),
            (WarrantyStatus::Cancelled, Some(day(2019, 7, 1)))
        );
        assert_eq!(s.message, "Registration is Cancelled");

        let s = registration_status(&usage(4, 4, 0), 1001, 36, after);
        assert_eq!(
            (s.warranty_status, s.status_date),
            (WarrantyStatus::NoTiresLeft, Some(day(2019, 6, 1)))
        );

        let s = registration_status(&usage(4, 1, 0), 1001, 36, after);
        assert_eq!(
            (s.warranty_status, s.status_date),
            (WarrantyStatus::Expired, Some(day(2021, 12, 4)))
        );

        // A partial cancellation leaves the registration active.
        let s = registration_status(&usage(4, 0, 1), 1001, 36, during);
        assert_eq!((s.warranty_status, s.tires_left), (WarrantyStatus::Active, 3));
        assert_eq!(s.cancel_date, Some(day(2019, 7, 1)));
    }

    #[test]
    fn expire_date_adds_calendar_months() {
        assert_eq!(expire_date(day(2019, 1, 31), 1), day(2019, 2, 28));
        assert_eq!(expire_date(day(2018, 12, 4), 36), day(2021, 12, 4));
    }
}
