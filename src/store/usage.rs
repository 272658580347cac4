//! What a registration's status and a batch's rules read of a registration, on either engine:
//! its own columns, its claims, its cancellations and their totals. Each list of columns is
//! written once here; both engines' statements are made from them and their rows read back by
//! the readers below (by position: the lists fix the order, and a lookup is too hot for a name
//! looked up per column).

use std::sync::LazyLock;

use super::StoreError;
use super::sql::{Row, Sql};
use crate::ledger::StoredClaim;
use crate::status::{CancellationRef, RegistrationUsage};

/// A registration's own columns, as [`usage_of`] reads them (the registrations table as `r`).
pub(super) const REGISTRATION: &str =
    "r.id, r.org_id, r.shop_id, r.invoice_number, r.plan_enroll_date, r.created_at, r.tires_covered";

/// A claim as a batch's rules read it, after its registration's id ([`claim_of`]).
pub(super) const CLAIM: &str =
    "registration_id, org_id, repair_shop_id, repair_invoice_number, tire_claim_count, claim_date";

/// A cancellation's columns, as [`cancellation_of`] reads them (the table as `c`).
pub(super) const CANCELLATION: &str =
    "c.org_id, c.cancel_shop_id, c.cancel_invoice_number, c.tire_cancel_count, c.cancel_date";

/// The claims of a set of registrations (`Arg::Ids`), as [`claim_of`] reads them.
pub(super) static CLAIMS_OF: LazyLock<Sql> =
    LazyLock::new(|| Sql::with_ids(&format!("SELECT {CLAIM} FROM claims WHERE registration_id {{ids}}")));

/// The cancellations of a set of registrations (`Arg::Ids`), after their registration's id,
/// oldest first.
pub(super) static CANCELLATIONS_OF: LazyLock<Sql> = LazyLock::new(|| {
    Sql::with_ids(&format!(
        "SELECT c.registration_id, {CANCELLATION} FROM cancellations c WHERE c.registration_id {{ids}} ORDER BY c.id"
    ))
});

/// A registration's usage by its key, in one statement (so a lookup runs without a transaction):
/// its own columns, its claims' and cancellations' totals (one row by its id, kept by migration
/// V6's triggers; none when it has neither) and its first cancellation (joined in by the id
/// kept there). Parameters: partner, tenant, ShopID, InvoiceNumber, OrgID or NULL.
pub(super) static REGISTRATION_USAGE: LazyLock<Sql> = LazyLock::new(|| {
    Sql::new(format!(
        "SELECT {} FROM registrations r {USAGE_JOINS} \
         WHERE r.partner_id = $1 AND r.tenant = $2 AND r.shop_id = $3 AND r.invoice_number = $4 \
           AND (CAST($5 AS TEXT) IS NULL OR r.org_id = $5)",
        *USAGE
    ))
});

/// A registration's usage as [`usage_with_totals`] reads it, from the registrations table as
/// `r` and [`USAGE_JOINS`].
pub(super) static USAGE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{REGISTRATION}, COALESCE(t.tires_claimed, 0), t.latest_claim_date, COALESCE(t.tires_cancelled, 0), \
         {CANCELLATION}"
    )
});

/// What [`USAGE`] joins to a registration: its totals (one row by its id, kept by migration
/// V6's triggers; none when it has neither claims nor cancellations) and its first
/// cancellation (by the id kept there).
pub(super) const USAGE_JOINS: &str = "LEFT JOIN registration_totals t ON t.registration_id = r.id \
     LEFT JOIN cancellations c ON c.id = t.first_cancellation_id";

/// [`REGISTRATION`]'s columns, first in a row, as a usage before its claims and cancellation
/// are counted.
pub(super) fn usage_of(row: &Row) -> Result<RegistrationUsage, StoreError> {
    Ok(RegistrationUsage {
        registration_id: row.int(0)?,
        org_id: row.text(1)?,
        shop_id: row.text(2)?,
        invoice_number: row.text(3)?,
        plan_enroll_date: row.date(4)?,
        created_at: row.date(5)?,
        tires_covered: row.int(6)?,
        tires_claimed: 0,
        tires_cancelled: 0,
        latest_claim_date: None,
        cancellation: None,
    })
}

/// A row of [`REGISTRATION_USAGE`].
pub(super) fn usage_with_totals(row: &Row) -> Result<RegistrationUsage, StoreError> {
    Ok(RegistrationUsage {
        tires_claimed: row.int(7)?,
        latest_claim_date: row.opt_date(8)?,
        tires_cancelled: row.int(9)?,
        // The cancellation's count is NOT NULL: NULL there means no cancellation was joined.
        cancellation: match row.opt_int(13)? {
            Some(_) => Some(cancellation_of(row, 10)?),
            None => None,
        },
        ..usage_of(row)?
    })
}

/// [`CANCELLATION`]'s columns from position `first` on.
pub(super) fn cancellation_of(row: &Row, first: usize) -> Result<CancellationRef, StoreError> {
    Ok(CancellationRef {
        org_id: row.text(first)?,
        cancel_shop_id: row.text(first + 1)?,
        cancel_invoice_number: row.text(first + 2)?,
        tire_cancel_count: row.int(first + 3)?,
        cancel_date: row.date(first + 4)?,
    })
}

/// A row of [`CLAIM`]: its registration's id, and the claim.
pub(super) fn claim_of(row: &Row) -> Result<(i64, StoredClaim), StoreError> {
    Ok((
        row.int(0)?,
        StoredClaim {
            org_id: row.text(1)?,
            repair_shop_id: row.text(2)?,
            repair_invoice_number: row.text(3)?,
            tire_claim_count: row.int(4)?,
            claim_date: row.date(5)?,
        },
    ))
}
