//! GET lookups: records and registration status by ShopID and InvoiceNumber, in one read
//! snapshot, shaped as the guide's examples.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Partner;
use crate::records::{Cancellation, Claim, FiledUnder, RecordKind, Registration, Sale};
use crate::scope::{Scope, Tenant};
use crate::status::{RegistrationUsage, registration_status};
use crate::store::{self, Lookup, Store, StoreError, Tx};

/// The `rec` parameter's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rec {
    Registrations,
    Claims,
    Sales,
    Cancellations,
    RegistrationStatus,
}

impl Rec {
    pub const NAMES: &'static [&'static str] = &[
        "registrations",
        "claims",
        "sales",
        "cancellations",
        "registrationstatus",
    ];

    /// Whether a lookup of this that matches nothing says where the registration is instead:
    /// registrations and their status only. A claim, sale or cancellation that a shop does not
    /// have says nothing about where its registration is.
    pub fn says_where_instead(self) -> bool {
        matches!(self, Rec::Registrations | Rec::RegistrationStatus)
    }

    /// The record type it names; `None` for registrationstatus.
    pub fn record_kind(self) -> Option<RecordKind> {
        Some(match self {
            Rec::Registrations => RecordKind::Registrations,
            Rec::Claims => RecordKind::Claims,
            Rec::Sales => RecordKind::Sales,
            Rec::Cancellations => RecordKind::Cancellations,
            Rec::RegistrationStatus => return None,
        })
    }

    pub fn parse(value: &str) -> Option<Rec> {
        Some(match value.trim().to_ascii_lowercase().as_str() {
            "registrations" => Rec::Registrations,
            "claims" => Rec::Claims,
            "sales" => Rec::Sales,
            "cancellations" => Rec::Cancellations,
            "registrationstatus" => Rec::RegistrationStatus,
            _ => return None,
        })
    }
}

/// A stored record as returned: the guide puts PartnerID first.
#[derive(Serialize)]
pub struct WithPartner<T> {
    #[serde(rename = "PartnerID")]
    pub partner_id: i64,
    #[serde(flatten)]
    pub record: T,
}

/// One match is an object, several an array, none is `None` (204).
fn respond<T: Serialize>(partner_id: i64, found: &[T]) -> serde_json::Result<Option<Vec<u8>>> {
    let wrapped: Vec<_> = found.iter().map(|record| WithPartner { partner_id, record }).collect();
    match wrapped.as_slice() {
        [] => Ok(None),
        [one] => serde_json::to_vec(one).map(Some),
        many => serde_json::to_vec(many).map(Some),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// The JSON body answering a lookup, or `None` when nothing matches.
#[tracing::instrument(name = "lookup", skip_all, fields(rec = ?rec))]
pub fn lookup(
    store: &Store,
    partner: &Partner,
    scope: Scope,
    rec: Rec,
    key: &Lookup,
    now: DateTime<Utc>,
) -> Result<Option<Vec<u8>>, QueryError> {
    let id = partner.partner_id;
    Ok(match rec {
        Rec::Registrations => respond(id, &store.read_one(|tx| store::find::<Registration>(tx, scope, key))?)?,
        Rec::Claims => respond(id, &store.read_one(|tx| store::find::<Claim>(tx, scope, key))?)?,
        Rec::Sales => respond(id, &store.read_one(|tx| store::find::<Sale>(tx, scope, key))?)?,
        Rec::Cancellations => respond(id, &store.read_one(|tx| store::find::<Cancellation>(tx, scope, key))?)?,
        Rec::RegistrationStatus => {
            let usage = store.read_one(|tx| {
                store::registration_usage(tx, scope, &key.shop_id, &key.invoice_number, key.org_id.as_deref())
            })?;
            status_answer(usage, partner, now)?
        }
    })
}

/// How many other shops with the InvoiceNumber "registered elsewhere" names.
const SHOPS_NAMED: usize = 5;

/// Where the partner has the registration not found under `filed`, in words: at other shops of
/// the tenant with its InvoiceNumber (a ShopID sent as `5308` for `005308` is the usual
/// mistake), or under the same key in its other tenant (a claim sent to live for a registration
/// made while testing). Only the partner's own data is looked at, in two index probes; `None`
/// when it has the registration nowhere else.
pub fn registered_elsewhere(tx: &Tx, scope: Scope, filed: &FiledUnder) -> Result<Option<String>, StoreError> {
    let (shops, in_other) = store::registration_elsewhere(tx, scope, filed, SHOPS_NAMED + 1)?;
    Ok(whereabouts(
        filed,
        &shops,
        in_other.then(|| scope.other_tenant().tenant),
    ))
}

/// Where a lookup that matched nothing says the registration is instead (its 204's
/// `X-Registered-Elsewhere`), when [`Rec::says_where_instead`].
pub fn lookup_elsewhere(store: &Store, scope: Scope, filed: &FiledUnder) -> Result<Option<String>, StoreError> {
    store.read(|tx| registered_elsewhere(tx, scope, filed))
}

/// [`registered_elsewhere`] in words: the `shops` with its InvoiceNumber (more than
/// [`SHOPS_NAMED`] others: the first, then "and others"; its own ShopID, when a lookup narrowed by
/// OrgID missed it, as another OrgID), the `other` tenant.
fn whereabouts(filed: &FiledUnder, shops: &[String], other: Option<Tenant>) -> Option<String> {
    let mut said = Vec::new();
    let (own, others): (Vec<&String>, Vec<&String>) = shops.iter().partition(|&s| *s == filed.shop_id);
    if !own.is_empty() {
        said.push(format!(
            "ShopID {:?} has InvoiceNumber {:?} under another OrgID",
            filed.shop_id, filed.invoice_number
        ));
    }
    if !others.is_empty() {
        let named: Vec<String> = others.iter().take(SHOPS_NAMED).map(|s| format!("{s:?}")).collect();
        let more = if others.len() > SHOPS_NAMED { " and others" } else { "" };
        said.push(format!(
            "InvoiceNumber {:?} is registered at ShopID {}{more}",
            filed.invoice_number,
            named.join(", ")
        ));
    }
    if let Some(other) = other {
        said.push(format!("your {other} tenant has this registration"));
    }
    (!said.is_empty()).then(|| said.join("; "))
}

/// The JSON body of a registration's status, or `None` when there is no such registration.
pub fn status_answer(
    usage: Option<RegistrationUsage>,
    partner: &Partner,
    now: DateTime<Utc>,
) -> Result<Option<Vec<u8>>, QueryError> {
    let Some(usage) = usage else { return Ok(None) };
    // About 370 bytes: written once into a buffer that holds them.
    let mut body = Vec::with_capacity(512);
    serde_json::to_writer(
        &mut body,
        &registration_status(&usage, partner.partner_id, partner.plan(), now),
    )?;
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_a_registration_is_instead_is_said_in_words() {
        let filed = FiledUnder {
            shop_id: "5308".into(),
            invoice_number: "I7".into(),
        };
        let shops = |n: usize| (0..n).map(|i| format!("00530{i}")).collect::<Vec<_>>();
        assert_eq!(whereabouts(&filed, &[], None), None);
        assert_eq!(
            whereabouts(&filed, &shops(1), Some(Tenant::Test)).as_deref(),
            Some(r#"InvoiceNumber "I7" is registered at ShopID "005300"; your test tenant has this registration"#)
        );
        assert_eq!(
            whereabouts(&filed, &shops(SHOPS_NAMED + 1), None).as_deref(),
            Some(
                r#"InvoiceNumber "I7" is registered at ShopID "005300", "005301", "005302", "005303", "005304" and others"#
            )
        );
        // A lookup narrowed by OrgID that missed a registration of its own shop.
        let mut with_own = shops(1);
        with_own.push("5308".into());
        assert_eq!(
            whereabouts(&filed, &with_own, None).as_deref(),
            Some(
                r#"ShopID "5308" has InvoiceNumber "I7" under another OrgID; InvoiceNumber "I7" is registered at ShopID "005300""#
            )
        );
    }
}
