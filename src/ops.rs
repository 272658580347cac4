//! The operators' services: a batch opened or exported (and audited), an invoice's records and
//! trail searched (and audited), the audit log kept and read. Each is one read, then the audit
//! entry's write, of the store; no HTTP here.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::config::{Operator, Partners};
use crate::history;
use crate::model::audit::{AUDIT_RETENTION_DAYS, AuditAction, AuditEntry};
use crate::model::batch::{StoredBatch, TrailEntry};
use crate::records::{Cancellation, Claim, FiledUnder, Registration, Sale};
use crate::scope::{Scope, Tenant};
use crate::status::RegistrationUsage;
use crate::store::{self, Lookup, Store, StoreError, Tx};

/// Keeps `entry` in the audit log (a year of it: older entries go as new ones come).
pub fn record(store: &Store, entry: &AuditEntry) -> Result<(), StoreError> {
    let keep_after = entry.at - chrono::Duration::days(AUDIT_RETENTION_DAYS);
    store.write(|tx| store::insert_audit(tx, entry, keep_after))
}

/// One page (from 1) of the audit log, newest first, and how many entries it has in all.
pub fn audit_log(store: &Store, page: u32, page_size: u32) -> Result<(u64, Vec<AuditEntry>), StoreError> {
    store.read(|tx| store::list_audit(tx, page, page_size))
}

/// Who asked, from where and when: what an audit entry says besides the action.
pub struct Asker<'a> {
    pub operator: &'a Operator,
    pub client: Option<String>,
    pub at: DateTime<Utc>,
}

impl Asker<'_> {
    fn entry(
        &self,
        action: AuditAction,
        company: Option<String>,
        tenant: Option<Tenant>,
        detail: String,
    ) -> AuditEntry {
        AuditEntry {
            at: self.at,
            operator: self.operator.name.clone(),
            role: self.operator.role.as_str().to_owned(),
            action: action.as_str().to_owned(),
            company,
            tenant: tenant.map(|t| t.as_str().to_owned()),
            detail: Some(detail),
            client: self.client.clone(),
        }
    }
}

/// Any partner's batch, opened (`BatchDetail`) or exported (`RejectedCsv`) by `asker`: written
/// to the audit log (who, role, whose, which); `None`, and nothing audited, when there is no
/// such batch.
pub fn open_batch(
    store: &Store,
    partners: &Partners,
    asker: &Asker<'_>,
    action: AuditAction,
    batch_id: i64,
) -> Result<Option<(Scope, StoredBatch)>, StoreError> {
    let Some((scope, batch)) = history::find_any(store, batch_id)? else {
        return Ok(None);
    };
    let company = partners.company_of(scope.partner_id);
    record(
        store,
        &asker.entry(action, company, Some(scope.tenant), format!("batch {batch_id}")),
    )?;
    Ok(Some((scope, batch)))
}

/// What one partner's tenant holds of an invoice: its stored records and the trail of the
/// batches that carried it.
#[derive(Debug)]
pub struct RecordsMatch {
    pub scope: Scope,
    pub registration: Option<Registration>,
    /// The registration's use, for its status (when it is stored).
    pub usage: Option<RegistrationUsage>,
    pub claims: Vec<Claim>,
    pub sales: Vec<Sale>,
    pub cancellations: Vec<Cancellation>,
    pub trail: Vec<TrailEntry>,
}

/// Which tenants the search looks in: one partner's or all of them, one tenant or both.
#[derive(Debug, Clone, Copy)]
pub struct Within {
    pub partner_id: Option<i64>,
    pub tenant: Option<Tenant>,
}

/// Every partner's tenant (within `within`) that stores a record filed under `filed`, or
/// whose history's trail has one, with those records and that trail; audited as `asker`'s
/// search. Read in one snapshot.
pub fn search_records(
    store: &Store,
    partners: &Partners,
    asker: &Asker<'_>,
    filed: &FiledUnder,
    within: Within,
) -> Result<Vec<RecordsMatch>, StoreError> {
    let partner_ids: Vec<i64> = match within.partner_id {
        Some(id) => vec![id],
        None => partners.iter().map(|p| p.partner_id).collect(),
    };
    let found = store.read(|tx| {
        let mut trails: BTreeMap<Scope, Vec<TrailEntry>> = BTreeMap::new();
        for (scope, entry) in store::find_trail(tx, filed, within.partner_id, within.tenant)? {
            trails.entry(scope).or_default().push(entry);
        }
        for scope in store::stored_scopes(tx, filed, &partner_ids)? {
            if within.tenant.is_none_or(|t| t == scope.tenant) {
                trails.entry(scope).or_default();
            }
        }
        trails
            .into_iter()
            .map(|(scope, trail)| stored_match(tx, scope, filed, trail))
            .collect::<Result<Vec<_>, _>>()
    })?;
    let company = within.partner_id.and_then(|id| partners.company_of(id));
    let detail = format!("ShopID {} InvoiceNumber {}", filed.shop_id, filed.invoice_number);
    record(
        store,
        &asker.entry(AuditAction::RecordsSearch, company, within.tenant, detail),
    )?;
    Ok(found)
}

/// One tenant's records filed under `filed`, with its trail.
fn stored_match(tx: &Tx, scope: Scope, filed: &FiledUnder, trail: Vec<TrailEntry>) -> Result<RecordsMatch, StoreError> {
    let key = Lookup {
        shop_id: filed.shop_id.clone(),
        invoice_number: filed.invoice_number.clone(),
        org_id: None,
    };
    let usage = store::registration_usage(tx, scope, &filed.shop_id, &filed.invoice_number, None)?;
    Ok(RecordsMatch {
        scope,
        registration: store::find::<Registration>(tx, scope, &key)?.into_iter().next(),
        usage,
        claims: store::find(tx, scope, &key)?,
        sales: store::find(tx, scope, &key)?,
        cancellations: store::find(tx, scope, &key)?,
        trail,
    })
}
