//! The guide's business rules, judged as of each record's own date (nightly batches and resends
//! arrive late): pure functions of the record and what is stored about its registration.
//! Each rule's code and field: docs/v2-api.md, "Error codes".

use crate::status::{Plan, RegistrationUsage};
use crate::wire::{Code, FieldError, format_date};

use super::{Cancellation, Claim, Registration};

fn reject(field: &'static str, code: Code, message: String) -> FieldError {
    FieldError {
        field,
        code,
        message: message.into(),
    }
}

/// A claim or cancellation takes at most the tires left (`count` is its `field`).
fn check_tires_left(field: &'static str, count: i64, tires_left: i64) -> Result<(), FieldError> {
    if count > tires_left {
        return Err(reject(
            field,
            Code::NotEnoughTires,
            format!(
                "{field} {count} is more than the {} tires left on the registration",
                tires_left.max(0)
            ),
        ));
    }
    Ok(())
}

fn not_found(shop_id: &str, invoice_number: &str) -> FieldError {
    reject(
        "InvoiceNumber",
        Code::RegistrationNotFound,
        format!(
            "no registration with ShopID {shop_id:?} and InvoiceNumber {invoice_number:?}; \
             send the registration first (or earlier in the same batch)"
        ),
    )
}

/// A resent registration must still cover the tires already claimed or cancelled on it.
pub fn check_registration(reg: &Registration, stored: Option<&RegistrationUsage>) -> Result<(), FieldError> {
    match stored {
        Some(u) if reg.tires_covered < u.tires_claimed + u.tires_cancelled => Err(reject(
            "TiresCovered",
            Code::TiresCoveredBelowUsed,
            format!(
                "TiresCovered {} is less than the {} tires already claimed or cancelled on this registration",
                reg.tires_covered,
                u.tires_claimed + u.tires_cancelled
            ),
        )),
        _ => Ok(()),
    }
}

/// A claim needs its registration, not cancelled, not expired at ClaimDate, with enough tires
/// left. `previous_count` is what a stored claim with the same key already counts: a resend
/// replaces it rather than adding to it.
pub fn check_claim<'u>(
    claim: &Claim,
    stored: Option<&'u RegistrationUsage>,
    previous_count: i64,
    plan: Plan,
) -> Result<&'u RegistrationUsage, FieldError> {
    let u = stored.ok_or_else(|| not_found(&claim.shop_id, &claim.invoice_number))?;
    let tires_left = u.tires_left() + previous_count;
    if let Some(c) = &u.cancellation
        && tires_left <= 0
    {
        return Err(reject(
            "InvoiceNumber",
            Code::RegistrationCancelled,
            format!(
                "the registration was cancelled on {} and has no tires left",
                format_date(&c.cancel_date)
            ),
        ));
    }
    check_not_expired(u, claim.claim_date, "ClaimDate", plan)?;
    check_tires_left("TireClaimCount", claim.tire_claim_count, tires_left)?;
    Ok(u)
}

/// A cancellation needs its registration, not expired at CancelDate, not already cancelled under
/// another key, with enough tires left.
pub fn check_cancellation<'u>(
    cancel: &Cancellation,
    stored: Option<&'u RegistrationUsage>,
    plan: Plan,
) -> Result<&'u RegistrationUsage, FieldError> {
    check_cancellation_dated(cancel, stored, plan, "CancelDate")
}

/// [`check_cancellation`], its refusals naming the cancellation's date `date_field` (v3 calls
/// it cancelledOn).
pub fn check_cancellation_dated<'u>(
    cancel: &Cancellation,
    stored: Option<&'u RegistrationUsage>,
    plan: Plan,
    date_field: &'static str,
) -> Result<&'u RegistrationUsage, FieldError> {
    let u = stored.ok_or_else(|| not_found(&cancel.shop_id, &cancel.invoice_number))?;
    let mut previous_count = 0;
    if let Some(c) = &u.cancellation {
        let same_key = c.org_id == cancel.org_id
            && c.cancel_shop_id == cancel.cancel_shop_id
            && c.cancel_invoice_number == cancel.cancel_invoice_number;
        if !same_key {
            return Err(reject(
                "CancelInvoiceNumber",
                Code::AlreadyCancelled,
                format!(
                    "the registration was already cancelled by CancelShopID {:?}, CancelInvoiceNumber {:?}; \
                     a registration can only be cancelled once",
                    c.cancel_shop_id, c.cancel_invoice_number
                ),
            ));
        }
        previous_count = c.tire_cancel_count;
    }
    check_not_expired(u, cancel.cancel_date, date_field, plan)?;
    let tires_left = u.tires_left() + previous_count;
    check_tires_left("TireCancelCount", cancel.tire_cancel_count, tires_left)?;
    Ok(u)
}

/// Expiry is by calendar day in the partner's zone: anything dated on ExpireDate's day is
/// within the plan.
fn check_not_expired(
    u: &RegistrationUsage,
    at: chrono::DateTime<chrono::Utc>,
    field: &'static str,
    plan: Plan,
) -> Result<(), FieldError> {
    let expire = plan.expire_date(u.plan_enroll_date);
    if plan.covers_until(expire, at) {
        return Ok(());
    }
    Err(reject(
        field,
        Code::RegistrationExpired,
        format!(
            "the registration expired at the end of {} ({}, PlanEnrollDate + {} months), before {field} {}",
            plan.day_of(expire),
            format_date(&expire),
            plan.term_months,
            format_date(&at)
        ),
    ))
}
