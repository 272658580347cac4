//! The batch history's service: a tenant's batches listed, one read back, a test tenant reset.
//! Each is one read or one write of the store; no HTTP here.

use chrono::{DateTime, Utc};

use crate::model::batch::{BatchFilter, BatchSummary, DaySummary, StoredBatch};
use crate::scope::Scope;
use crate::store::{self, Store, StoreError};

/// One of the tenant's batches with its rejected entries; `None` when it has no such batch.
pub fn find(store: &Store, scope: Scope, batch_id: i64) -> Result<Option<StoredBatch>, StoreError> {
    store.read(|tx| store::find_batch(tx, scope, batch_id))
}

/// Removes every record and batch of the tenant, in one transaction.
pub fn reset(store: &Store, scope: Scope) -> Result<(), StoreError> {
    store.write(|tx| store::reset_tenant(tx, scope))
}

/// One page (from 1) of the batches the filter names, newest first, each with its partner's
/// id: a partner's tenant's own, or every partner's (the operators' view).
pub fn list(
    store: &Store,
    filter: &BatchFilter,
    page: u32,
    page_size: u32,
) -> Result<(u64, Vec<(i64, BatchSummary)>), StoreError> {
    store.read(|tx| store::list_batches(tx, filter, page, page_size))
}

/// Any partner's batch with its rejected entries, and whose it is (the operators' view).
pub fn find_any(store: &Store, batch_id: i64) -> Result<Option<(Scope, StoredBatch)>, StoreError> {
    store.read(|tx| store::find_any_batch(tx, batch_id))
}

/// Each UTC day's batches from `since` on, summed per partner and tenant (of one partner, when
/// given): the operators' chart.
pub fn day_summaries(
    store: &Store,
    since: DateTime<Utc>,
    partner_id: Option<i64>,
) -> Result<Vec<DaySummary>, StoreError> {
    store.read(|tx| store::day_summaries(tx, since, partner_id))
}
