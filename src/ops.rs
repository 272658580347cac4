//! The operators' services: a batch opened or exported (and audited), an invoice's records and
//! trail searched (and audited), the audit log kept and read. Each is one read, then the audit
//! entry's write, of the store; no HTTP here.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Days, Utc};
use chrono_tz::Tz;

use crate::config::{CredentialInfo, Operator, Partner, Partners, UploadDue};
use crate::history;
use crate::model::audit::{AUDIT_RETENTION_DAYS, AuditAction, AuditEntry};
use crate::model::backup::Backup;
use crate::model::batch::{BatchSums, StoredBatch, TrailEntry};
use crate::model::credential::{CredentialUse, KEPT_FOR};
use crate::records::{Cancellation, Claim, FiledUnder, Registration, Sale};
use crate::scope::{Scope, Tenant};
use crate::status::RegistrationUsage;
use crate::store::{self, Applied, Lookup, Store, StoreError, Tx};

/// Keeps `entry` in the audit log (a year of it: older entries go as new ones come).
pub fn record(store: &Store, entry: &AuditEntry) -> Result<(), StoreError> {
    let keep_after = entry.at - chrono::Duration::days(AUDIT_RETENTION_DAYS);
    store.write(|tx| store::insert_audit(tx, entry, keep_after))
}

/// One page (from 1) of the audit log, newest first, and how many entries it has in all.
pub fn audit_log(store: &Store, page: u32, page_size: u32) -> Result<(u64, Vec<AuditEntry>), StoreError> {
    store.read(|tx| store::list_audit(tx, page, page_size))
}

/// Keeps a use of a partner's credential, for every instance to see (and forgets uses past
/// [`KEPT_FOR`]).
pub fn keep_credential_use(store: &Store, used: &CredentialUse) -> Result<(), StoreError> {
    store.write(|tx| store::keep_credential_use(tx, used, used.at - KEPT_FOR))
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
            role: self.operator.role.into_str().to_owned(),
            action: action.into_str().to_owned(),
            company,
            tenant: tenant.map(|t| t.into_str().to_owned()),
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

/// Removes every record and batch of `partner`'s test tenant, as the partner's own DELETE
/// would, and audits it as `asker`'s: both in one transaction.
pub fn reset_test_tenant(store: &Store, partner: &Partner, asker: &Asker<'_>) -> Result<(), StoreError> {
    let scope = Scope {
        partner_id: partner.partner_id,
        tenant: Tenant::Test,
    };
    let entry = asker.entry(
        AuditAction::TestReset,
        Some(partner.company.clone()),
        Some(Tenant::Test),
        format!("{}_test reset", partner.company),
    );
    let keep_after = entry.at - chrono::Duration::days(AUDIT_RETENTION_DAYS);
    store.write(|tx| {
        store::reset_tenant(tx, scope)?;
        store::insert_audit(tx, &entry, keep_after)
    })
}

/// What one partner's tenant holds of an invoice at one shop: its stored records and the trail
/// of the batches that carried it.
#[derive(Debug)]
pub struct RecordsMatch {
    pub scope: Scope,
    pub shop_id: String,
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

/// What an operator searches: an invoice at one shop, or (support often has only the number)
/// at every shop that has it.
#[derive(Debug, Clone)]
pub struct InvoiceSearch {
    pub invoice_number: String,
    pub shop_id: Option<String>,
}

/// How many shops a search by InvoiceNumber alone may answer for; past it, the operator is
/// asked for the ShopID rather than handed a partial answer or an unbounded one.
pub const MAX_SHOPS: usize = 25;

/// A search's answer: the matches, or how many shops have the invoice when they are too many.
#[derive(Debug)]
pub enum Searched {
    Found {
        matches: Vec<RecordsMatch>,
        /// A ShopID asked that matched nothing: the other shops that have the InvoiceNumber
        /// (within the same partners and tenant), when at most [`MAX_SHOPS`] do. A shop code
        /// sent without its leading zeros, or the repair shop's for the selling shop's, is
        /// what support most often searches by mistake.
        other_shops: Vec<String>,
    },
    TooManyShops(usize),
}

/// Every partner's tenant (within `within`) that stores a record of the invoice (at its shop, or
/// at each shop that has it), or whose history's trail has one, with those records and that
/// trail; audited as `asker`'s search. Read in one snapshot.
pub fn search_records(
    store: &Store,
    partners: &Partners,
    asker: &Asker<'_>,
    search: &InvoiceSearch,
    within: Within,
) -> Result<Searched, StoreError> {
    let partner_ids: Vec<i64> = match within.partner_id {
        Some(id) => vec![id],
        None => partners.iter().map(|p| p.partner_id).collect(),
    };
    let found = store.read(|tx| {
        let invoice_shops = || {
            store::invoice_shops(
                tx,
                &search.invoice_number,
                &partner_ids,
                within.partner_id,
                within.tenant,
            )
        };
        let shops = match &search.shop_id {
            Some(shop) => vec![shop.clone()],
            None => invoice_shops()?,
        };
        if shops.len() > MAX_SHOPS {
            return Ok(Searched::TooManyShops(shops.len()));
        }
        let mut matches = Vec::new();
        for shop_id in shops {
            let filed = FiledUnder {
                shop_id,
                invoice_number: search.invoice_number.clone(),
            };
            matches.extend(shop_matches(tx, &filed, &partner_ids, within)?);
        }
        let mut other_shops = Vec::new();
        if let (Some(asked), true) = (&search.shop_id, matches.is_empty()) {
            other_shops = invoice_shops()?;
            other_shops.retain(|shop| shop != asked);
            if other_shops.len() > MAX_SHOPS {
                other_shops.clear();
            }
        }
        Ok(Searched::Found { matches, other_shops })
    })?;
    let company = within.partner_id.and_then(|id| partners.company_of(id));
    let detail = match &search.shop_id {
        Some(shop) => format!("ShopID {shop} InvoiceNumber {}", search.invoice_number),
        None => format!("InvoiceNumber {} at every shop", search.invoice_number),
    };
    record(
        store,
        &asker.entry(AuditAction::RecordsSearch, company, within.tenant, detail),
    )?;
    Ok(found)
}

/// What a search by a v3 id found.
#[derive(Debug)]
pub enum IdSearched {
    /// A tire-protection registration's id: the search of its invoice at its shop, in its
    /// partner's tenant.
    Registration(Searched),
    /// A motor-club membership's id: whose (it is no v2 record, and has no trail).
    MotorClub(Scope),
    /// No record of any partner has it.
    Nothing,
}

/// The operators' search by a v3 id (a partner quotes one from a v3 answer): any partner's,
/// either tenant. A tire-protection registration's is the search of its invoice at its shop;
/// either way the search is audited.
pub fn search_v3_id(store: &Store, partners: &Partners, asker: &Asker<'_>, id: &str) -> Result<IdSearched, StoreError> {
    match store.read(|tx| store::v3_id_owner(tx, id))? {
        Some(store::V3IdOwner::Registration(scope, filed)) => {
            let search = InvoiceSearch {
                invoice_number: filed.invoice_number,
                shop_id: Some(filed.shop_id),
            };
            let within = Within {
                partner_id: Some(scope.partner_id),
                tenant: Some(scope.tenant),
            };
            Ok(IdSearched::Registration(search_records(
                store, partners, asker, &search, within,
            )?))
        }
        Some(store::V3IdOwner::MotorClub(scope)) => {
            let company = partners.company_of(scope.partner_id);
            audit_id_search(store, asker, id, company, Some(scope.tenant))?;
            Ok(IdSearched::MotorClub(scope))
        }
        None => {
            audit_id_search(store, asker, id, None, None)?;
            Ok(IdSearched::Nothing)
        }
    }
}

/// The audit entry of a search by a v3 id that found no registration.
fn audit_id_search(
    store: &Store,
    asker: &Asker<'_>,
    id: &str,
    company: Option<String>,
    tenant: Option<Tenant>,
) -> Result<(), StoreError> {
    record(
        store,
        &asker.entry(AuditAction::RecordsSearch, company, tenant, format!("v3 id {id}")),
    )
}

/// Each partner's tenant that stores a record filed under `filed` or has one in its trail.
fn shop_matches(
    tx: &Tx,
    filed: &FiledUnder,
    partner_ids: &[i64],
    within: Within,
) -> Result<Vec<RecordsMatch>, StoreError> {
    let mut trails: BTreeMap<Scope, Vec<TrailEntry>> = BTreeMap::new();
    for (scope, entry) in store::find_trail(tx, filed, within.partner_id, within.tenant)? {
        trails.entry(scope).or_default().push(entry);
    }
    for scope in store::stored_scopes(tx, filed, partner_ids)? {
        if within.tenant.is_none_or(|t| t == scope.tenant) {
            trails.entry(scope).or_default();
        }
    }
    trails
        .into_iter()
        .map(|(scope, trail)| stored_match(tx, scope, filed, trail))
        .collect()
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
        shop_id: filed.shop_id.clone(),
        registration: store::find::<Registration>(tx, scope, &key)?.into_iter().next(),
        usage,
        claims: store::find(tx, scope, &key)?,
        sales: store::find(tx, scope, &key)?,
        cancellations: store::find(tx, scope, &key)?,
        trail,
    })
}

/// What one partner's tenant did lately (`/ops/partners`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantActivity {
    /// Its last batch whose body was read (one refused whole, as not JSON or too large, is not
    /// a delivered batch), within the history's retention.
    pub last_batch_at: Option<DateTime<Utc>>,
    /// Live only: a day it is due, past today's `expected_upload_by` and no batch since the
    /// previous day's.
    pub late: bool,
    /// The last 24 hours' batches.
    pub last_24h: BatchSums,
    /// The last 24 hours' requests refused before they reached its data.
    pub refused_requests: u64,
}

/// A configured partner and what its tenants did lately.
#[derive(Debug)]
pub struct PartnerActivity {
    pub partner: Arc<Partner>,
    pub live: TenantActivity,
    pub test: TenantActivity,
    /// Its credentials, each last used when any instance last kept it so (or this one knows).
    pub credentials: Vec<CredentialInfo>,
}

/// Every configured partner's activity at `now`, in the config's order (one read).
pub fn partners_activity(
    store: &Store,
    partners: &Partners,
    now: DateTime<Utc>,
) -> Result<Vec<PartnerActivity>, StoreError> {
    store.read(|tx| activity_in(tx, partners, now))
}

/// What a scrape of `/metrics` reads of the database.
pub struct Scrape {
    pub activity: Vec<PartnerActivity>,
    pub last_backup: Option<Backup>,
    /// The newest migration applied to the database.
    pub database_migration: Option<Applied>,
}

/// [`Scrape`], in one read, so that a database out of reach costs the scrape one wait for a
/// connection rather than one a gauge (three of them outlasted Prometheus's 10 s scrape timeout,
/// and the scrape that should have shown the 503s failed whole).
pub fn scrape(store: &Store, partners: &Partners, now: DateTime<Utc>) -> Result<Scrape, StoreError> {
    store.read(|tx| {
        Ok(Scrape {
            activity: activity_in(tx, partners, now)?,
            last_backup: store::last_backup(tx)?,
            database_migration: store::newest_migration(tx)?,
        })
    })
}

/// What `/ops/server` reads of the database: the last backup, and the newest migration applied
/// to it (a newer build's than this one's in a rolling upgrade), in one read.
pub fn server(store: &Store) -> Result<(Option<Backup>, Option<Applied>), StoreError> {
    store.read(|tx| Ok((store::last_backup(tx)?, store::newest_migration(tx)?)))
}

fn activity_in(tx: &Tx, partners: &Partners, now: DateTime<Utc>) -> Result<Vec<PartnerActivity>, StoreError> {
    let since = now - chrono::Duration::hours(24);
    let (last, recent, refused, used) = (
        store::last_batches(tx)?,
        store::activity_since(tx, since)?,
        store::refusals_since(tx, since)?,
        store::credential_uses(tx)?,
    );
    let mut by_scope: BTreeMap<Scope, TenantActivity> = BTreeMap::new();
    for (scope, at) in last {
        by_scope.entry(scope).or_default().last_batch_at = Some(at);
    }
    for (scope, sums) in recent {
        by_scope.entry(scope).or_default().last_24h = sums;
    }
    for (scope, count) in refused {
        by_scope.entry(scope).or_default().refused_requests = count;
    }
    Ok(partners
        .iter()
        .map(|partner| {
            let mut of = |tenant| {
                let scope = Scope {
                    partner_id: partner.partner_id,
                    tenant,
                };
                by_scope.remove(&scope).unwrap_or_default()
            };
            let mut live = of(Tenant::Live);
            let test = of(Tenant::Test);
            live.late = partner
                .upload_due
                .is_some_and(|due| is_late(due, partner.timezone, live.last_batch_at, now));
            PartnerActivity {
                partner: Arc::clone(partner),
                live,
                test,
                credentials: partner.credentials_used(&used),
            }
        })
        .collect())
}

/// Whether a nightly batch due as `due` says in `zone` is late at `now`: today (in `zone`) is
/// one of its days, it is past today's due time, and the last batch (if any) came before the
/// previous day's, so none has come for today. A due time that a daylight-saving change skips
/// is taken an hour later (docs/operators.md, "Routes", `/ops/partners`).
pub fn is_late(due: UploadDue, zone: Tz, last_batch_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    let today = now.with_timezone(&zone).date_naive();
    if !due.days.contains(today.weekday()) {
        return false;
    }
    let due = due.by;
    let due_on = |day: chrono::NaiveDate| crate::status::wall_clock(zone, day.and_time(due));
    let (Some(today_due), Some(yesterday_due)) = (due_on(today), today.checked_sub_days(Days::new(1)).and_then(due_on))
    else {
        return false;
    };
    now >= today_due && last_batch_at.is_none_or(|at| at < yesterday_due)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    /// Due by `hh:mm` every day.
    fn daily(hh: u32, mm: u32) -> UploadDue {
        UploadDue {
            by: chrono::NaiveTime::from_hms_opt(hh, mm, 0).unwrap(),
            days: chrono::WeekdaySet::ALL,
        }
    }

    #[test]
    fn a_partner_is_late_past_its_due_time_with_no_batch_since_the_day_before() {
        let due = daily(6, 0);
        let denver = chrono_tz::America::Denver;
        // 06:30 in Denver (13:30 UTC in December).
        let now = utc("2026-12-06T13:30:00Z");
        // Last night's batch, at 01:00 Denver time: on time.
        assert!(!is_late(due, denver, Some(utc("2026-12-06T08:00:00Z")), now));
        // Yesterday at 07:00 (after yesterday's due time): it counts as today's.
        assert!(!is_late(due, denver, Some(utc("2026-12-05T14:00:00Z")), now));
        // Yesterday at 05:00 (yesterday's own batch): none for today.
        assert!(is_late(due, denver, Some(utc("2026-12-05T12:00:00Z")), now));
        assert!(is_late(due, denver, None, now));
        // Before the due time nothing is late yet: 05:59 in Denver.
        assert!(!is_late(due, denver, None, utc("2026-12-06T12:59:00Z")));
        // The day is the partner's: 23:00 UTC on the 6th is 16:00 in Denver, still the 6th.
        assert!(is_late(
            due,
            denver,
            Some(utc("2026-12-05T12:00:00Z")),
            utc("2026-12-06T23:00:00Z")
        ));
    }

    #[test]
    fn a_due_time_skipped_by_daylight_saving_is_an_hour_later() {
        // 02:30 does not happen in Denver on 2026-03-08: due at 03:30 that day.
        let due = daily(2, 30);
        let denver = chrono_tz::America::Denver;
        // 03:00 MDT (09:00 UTC): not yet.
        assert!(!is_late(due, denver, None, utc("2026-03-08T09:00:00Z")));
        // 03:45 MDT: late.
        assert!(is_late(due, denver, None, utc("2026-03-08T09:45:00Z")));
    }

    /// A shop closed on Sundays sends nothing on Monday morning: with Monday not among its days,
    /// it is not late then, and is again on Tuesday.
    #[test]
    fn a_partner_is_never_late_on_a_day_no_batch_is_due() {
        use chrono::Weekday::*;
        let due = UploadDue {
            days: chrono::WeekdaySet::from_array([Tue, Wed, Thu, Fri, Sat, Sun]),
            ..daily(6, 0)
        };
        let denver = chrono_tz::America::Denver;
        // Saturday night's batch, then nothing: Monday 2026-12-07 at 07:00 in Denver.
        let last = Some(utc("2026-12-06T08:00:00Z"));
        assert!(!is_late(due, denver, last, utc("2026-12-07T14:00:00Z")));
        assert!(is_late(daily(6, 0), denver, last, utc("2026-12-07T14:00:00Z")));
        // Tuesday at 07:00: late, Monday's silence notwithstanding.
        assert!(is_late(due, denver, last, utc("2026-12-08T14:00:00Z")));
        // The day is the partner's: 05:00 UTC on Tuesday is still Monday in Denver.
        assert!(!is_late(due, denver, last, utc("2026-12-08T05:00:00Z")));
    }
}
