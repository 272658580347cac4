//! Requests refused before they reached a partner's data, kept for support (`/ops/refused`)
//! and counted (`warranty_gateway_refused_requests_total{reason}`). A flood of them must fill
//! no disk and slow nothing: at most [`KEPT_PER_ADDRESS`] a minute from one address and
//! [`KEPT_PER_MINUTE`] from all are kept, each written off the request's path, and the rest
//! only counted. No HTTP here.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::model::refused::{Refusal, RefusalFilter};
use crate::store::{self, Store, StoreError};

/// Refused requests kept a minute from one client address.
pub const KEPT_PER_ADDRESS: u32 = 60;
/// Refused requests kept a minute from every address together (a flood from many addresses).
pub const KEPT_PER_MINUTE: u32 = 600;
/// Addresses remembered in a minute; past these, a new address's refusals are only counted.
const ADDRESSES_PER_MINUTE: usize = 10_000;
/// Refusals waiting for their write at once; past these, only counted (the database is slow
/// or away, and the gateway's own work comes first).
const PENDING_WRITES: usize = 64;

/// What is kept of this minute's refusals, and the writes under way.
#[derive(Debug, Default)]
pub struct RefusedLog {
    minute: Mutex<Minute>,
    pending: Arc<AtomicUsize>,
}

#[derive(Debug, Default)]
struct Minute {
    /// Minutes since 1970.
    at: i64,
    kept: u32,
    per_address: HashMap<Option<IpAddr>, u32>,
}

/// A refusal admitted for writing: holds its place among the pending writes until dropped.
#[derive(Debug)]
pub struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl RefusedLog {
    /// Whether a refusal from `client` at `at` is to be kept, as the limits allow. `Some` holds
    /// its place among the pending writes until the write is done.
    pub fn admit(&self, client: Option<IpAddr>, at: DateTime<Utc>) -> Option<Admitted> {
        {
            let mut minute = self.minute.lock().unwrap_or_else(|e| e.into_inner());
            let now = at.timestamp().div_euclid(60);
            if minute.at != now {
                *minute = Minute {
                    at: now,
                    ..Minute::default()
                };
            }
            if minute.kept >= KEPT_PER_MINUTE {
                return None;
            }
            let known = minute.per_address.len();
            let count = match minute.per_address.get_mut(&client) {
                Some(count) => count,
                None if known < ADDRESSES_PER_MINUTE => minute.per_address.entry(client).or_default(),
                None => return None,
            };
            if *count >= KEPT_PER_ADDRESS {
                return None;
            }
            *count += 1;
            minute.kept += 1;
        }
        if self.pending.fetch_add(1, Ordering::Relaxed) >= PENDING_WRITES {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(Admitted(Arc::clone(&self.pending)))
    }
}

/// Keeps `refusal` (and forgets those from before `keep_after`).
pub fn record(store: &Store, refusal: &Refusal, keep_after: DateTime<Utc>) -> Result<(), StoreError> {
    store.write(|tx| store::insert_refusal(tx, refusal, keep_after))
}

/// One page (from 1) of the refused requests the filter names, newest first, and how many it
/// names in all.
pub fn list(
    store: &Store,
    filter: &RefusalFilter,
    page: u32,
    page_size: u32,
) -> Result<(u64, Vec<Refusal>), StoreError> {
    store.read(|tx| store::list_refusals(tx, filter, page, page_size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sixty_a_minute_are_kept_from_one_address_and_six_hundred_from_all() {
        let log = RefusedLog::default();
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 2, 0, 0).unwrap();
        let one: Option<IpAddr> = Some("203.0.113.7".parse().unwrap());
        let kept = (0..100).filter(|_| log.admit(one, at).is_some()).count();
        assert_eq!(kept, KEPT_PER_ADDRESS as usize);
        // Another address still has its own.
        assert!(log.admit(Some("203.0.113.8".parse().unwrap()), at).is_some());
        // The next minute starts afresh.
        assert!(log.admit(one, at + chrono::Duration::seconds(60)).is_some());
        // Many addresses: six hundred a minute in all.
        let later = at + chrono::Duration::minutes(5);
        let kept = (0..2000u32)
            .filter(|i| log.admit(Some(IpAddr::from(i.to_be_bytes())), later).is_some())
            .count();
        assert_eq!(kept, KEPT_PER_MINUTE as usize);
    }

    #[test]
    fn writes_under_way_are_bounded() {
        let log = RefusedLog::default();
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 2, 0, 0).unwrap();
        let held: Vec<_> = (0..100u32)
            .filter_map(|i| log.admit(Some(IpAddr::from(i.to_be_bytes())), at))
            .collect();
        assert_eq!(held.len(), PENDING_WRITES);
        drop(held);
        assert!(log.admit(Some("198.51.100.1".parse().unwrap()), at).is_some());
    }
}
