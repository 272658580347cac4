//! GET lookups: records and registration status by ShopID and InvoiceNumber, in one read
//! snapshot, shaped as the guide's examples.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Partner;
use crate::records::{Cancellation, Claim, Registration, Sale};
use crate::scope::Scope;
use crate::status::{RegistrationUsage, registration_status};
use crate::store::{self, Lookup, Store, StoreError};

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
