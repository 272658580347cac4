//! What one batch knows of the registrations its records touch: read from the store once each,
//! as the batch's records arrive, before they are judged, then kept up to date in memory as
//! its records are accepted, so a batch may register and claim at once and a second claim
//! counts the first.
//! The business rules read it; nothing here knows SQL.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::records::{Cancellation, Claim, Registration};
use crate::status::{CancellationRef, RegistrationUsage};

/// A registration's natural key: ShopID and InvoiceNumber (within one partner and tenant).
pub type RegistrationKey = (String, String);

/// A claim as stored, as much as the rules need of it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredClaim {
    pub org_id: String,
    pub repair_shop_id: String,
    pub repair_invoice_number: String,
    pub tire_claim_count: i64,
    pub claim_date: DateTime<Utc>,
}

impl StoredClaim {
    /// Whether `claim` has this claim's key (within their registration).
    fn is(&self, claim: &Claim) -> bool {
        self.org_id == claim.org_id
            && self.repair_shop_id == claim.repair_shop_id
            && self.repair_invoice_number == claim.repair_invoice_number
    }
}

/// A registration as stored, with its claims (its cancellation is in `usage`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRegistration {
    pub usage: RegistrationUsage,
    /// A registration has a few claims (they count its tires): a list, searched in place.
    pub claims: Vec<StoredClaim>,
}

impl StoredRegistration {
    /// A stored registration as read, before its claims and cancellations are added.
    pub fn read(usage: RegistrationUsage) -> StoredRegistration {
        StoredRegistration {
            usage,
            claims: Vec::new(),
        }
    }

    /// One of its stored claims, as read: counted in its usage.
    pub fn add_claim(&mut self, claim: StoredClaim) {
        self.usage.tires_claimed += claim.tire_claim_count;
        self.usage.latest_claim_date = self.usage.latest_claim_date.max(Some(claim.claim_date));
        self.claims.push(claim);
    }

    /// One of its stored cancellations, as read in id order: counted in its usage; the first
    /// is the registration's cancellation (there is one).
    pub fn add_cancellation(&mut self, cancel: CancellationRef) {
        self.usage.tires_cancelled += cancel.tire_cancel_count;
        self.usage.cancellation.get_or_insert(cancel);
    }

    /// Sums what the claims count, as the store would on a fresh read.
    fn recount(&mut self) {
        self.usage.tires_claimed = self.claims.iter().map(|c| c.tire_claim_count).sum();
        self.usage.latest_claim_date = self.claims.iter().map(|c| c.claim_date).max();
    }
}

/// The registrations a batch touches, by ShopID, then InvoiceNumber: looked up by `&str`,
/// without building a key for every record.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: HashMap<String, HashMap<String, StoredRegistration>>,
}

impl Ledger {
    pub fn new(stored: Vec<StoredRegistration>) -> Ledger {
        let mut ledger = Ledger::default();
        ledger.add(stored);
        ledger
    }

    /// Registrations read from the store (a batch reads them as its records arrive).
    pub fn add(&mut self, stored: Vec<StoredRegistration>) {
        for s in stored {
            self.entries
                .entry(s.usage.shop_id.clone())
                .or_default()
                .insert(s.usage.invoice_number.clone(), s);
        }
    }

    /// Whether the ledger holds the registration with this ShopID and InvoiceNumber (read from
    /// the store, or accepted earlier in the batch).
    pub fn knows(&self, shop_id: &str, invoice_number: &str) -> bool {
        self.entry(shop_id, invoice_number).is_some()
    }

    fn entry(&self, shop_id: &str, invoice_number: &str) -> Option<&StoredRegistration> {
        self.entries.get(shop_id)?.get(invoice_number)
    }

    fn entry_mut(&mut self, shop_id: &str, invoice_number: &str) -> Option<&mut StoredRegistration> {
        self.entries.get_mut(shop_id)?.get_mut(invoice_number)
    }

    /// The registration with this ShopID and InvoiceNumber, as stored or as accepted earlier
    /// in the batch.
    pub fn usage(&self, shop_id: &str, invoice_number: &str) -> Option<&RegistrationUsage> {
        self.entry(shop_id, invoice_number).map(|e| &e.usage)
    }

    /// What a stored (or earlier) claim with the same key already counts: a resend replaces it.
    pub fn claim_count(&self, claim: &Claim) -> i64 {
        self.entry(&claim.shop_id, &claim.invoice_number)
            .and_then(|e| e.claims.iter().find(|c| c.is(claim)))
            .map_or(0, |c| c.tire_claim_count)
    }

    /// A registration was accepted (`registration_id` its row, if it has one yet; `now` the
    /// batch's time, its CreatedDate when it is new).
    pub fn registered(&mut self, reg: &Registration, registration_id: i64, now: DateTime<Utc>) {
        let invoices = self.entries.entry(reg.shop_id.clone()).or_default();
        let entry = invoices
            .entry(reg.invoice_number.clone())
            .or_insert_with(|| StoredRegistration {
                usage: RegistrationUsage {
                    registration_id,
                    org_id: String::new(),
                    shop_id: reg.shop_id.clone(),
                    invoice_number: reg.invoice_number.clone(),
                    plan_enroll_date: reg.plan_enroll_date,
                    created_at: now,
                    tires_covered: 0,
                    tires_claimed: 0,
                    tires_cancelled: 0,
                    latest_claim_date: None,
                    cancellation: None,
                },
                claims: Vec::new(),
            });
        let u = &mut entry.usage;
        u.registration_id = registration_id;
        u.org_id.clone_from(&reg.org_id);
        u.plan_enroll_date = reg.plan_enroll_date;
        u.tires_covered = reg.tires_covered;
    }

    /// A registration accepted in this batch was written: `registration_id` is its row.
    pub fn written(&mut self, shop_id: &str, invoice_number: &str, registration_id: i64) {
        if let Some(e) = self.entry_mut(shop_id, invoice_number) {
            e.usage.registration_id = registration_id;
        }
    }

    /// A claim was written against its registration.
    pub fn claimed(&mut self, claim: &Claim) {
        if let Some(e) = self.entry_mut(&claim.shop_id, &claim.invoice_number) {
            match e.claims.iter_mut().find(|c| c.is(claim)) {
                Some(c) => {
                    c.tire_claim_count = claim.tire_claim_count;
                    c.claim_date = claim.claim_date;
                }
                None => e.claims.push(StoredClaim {
                    org_id: claim.org_id.clone(),
                    repair_shop_id: claim.repair_shop_id.clone(),
                    repair_invoice_number: claim.repair_invoice_number.clone(),
                    tire_claim_count: claim.tire_claim_count,
                    claim_date: claim.claim_date,
                }),
            }
            e.recount();
        }
    }

    /// A cancellation was written against its registration (there is one; a resend with the
    /// same key replaces its count).
    pub fn cancelled(&mut self, cancel: &Cancellation) {
        if let Some(e) = self.entry_mut(&cancel.shop_id, &cancel.invoice_number) {
            let u = &mut e.usage;
            let previous = u.cancellation.as_ref().map_or(0, |c| c.tire_cancel_count);
            u.tires_cancelled += cancel.tire_cancel_count - previous;
            u.cancellation = Some(CancellationRef {
                org_id: cancel.org_id.clone(),
                cancel_shop_id: cancel.cancel_shop_id.clone(),
                cancel_invoice_number: cancel.cancel_invoice_number.clone(),
                tire_cancel_count: cancel.tire_cancel_count,
                cancel_date: cancel.cancel_date,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::test_support::decode;
    use crate::status::tests::{day, usage};

    fn claim(repair: &str, count: i64, date: &str) -> Claim {
        decode::<Claim>(&format!(
            r#"{{"ShopID": "005108", "InvoiceNumber": "104252", "ClaimDate": "{date}", "RepairShopID": "R",
                "RepairInvoiceNumber": "{repair}", "TireClaimCount": {count}, "CreditAmount": 1,
                "CostPerUnit": 1, "TireBrand": "B", "TireSize": "S", "TireCost": 1}}"#
        ))
        .record
        .unwrap()
    }

    fn cancellation(key: &str, count: i64) -> Cancellation {
        decode::<Cancellation>(&format!(
            r#"{{"ShopID": "005108", "InvoiceNumber": "104252", "CancelShopID": "005108",
                "CancelInvoiceNumber": "{key}", "TireCancelCount": {count}, "CancelDate": "2019-07-01"}}"#
        ))
        .record
        .unwrap()
    }

    #[test]
    fn a_batch_sees_its_own_earlier_records() {
        let mut ledger = Ledger::default();
        assert!(ledger.usage("005108", "104252").is_none());
        let reg = decode::<Registration>(
            r#"{"ShopID": "005108", "InvoiceNumber": "104252", "PlanEnrollDate": "2018-12-04",
                "EmployeeID": "E", "CustomerID": "C", "TiresCovered": 4, "TPPPrice": 1, "TireBrand": "B",
                "TireSize": "S", "TirePrice": 1, "TireCost": 1}"#,
        )
        .record
        .unwrap();
        ledger.registered(&reg, 7, day(2020, 1, 1));
        let u = ledger.usage("005108", "104252").unwrap();
        assert_eq!(
            (u.registration_id, u.tires_covered, u.created_at),
            (7, 4, day(2020, 1, 1))
        );

        ledger.claimed(&claim("R1", 1, "2019-06-01"));
        ledger.claimed(&claim("R2", 2, "2019-05-01"));
        let u = ledger.usage("005108", "104252").unwrap();
        assert_eq!((u.tires_claimed, u.latest_claim_date), (3, Some(day(2019, 6, 1))));
        // A resend replaces its earlier count and date.
        assert_eq!(ledger.claim_count(&claim("R1", 9, "2019-06-01")), 1);
        ledger.claimed(&claim("R1", 1, "2019-04-01"));
        let u = ledger.usage("005108", "104252").unwrap();
        assert_eq!((u.tires_claimed, u.latest_claim_date), (3, Some(day(2019, 5, 1))));

        ledger.cancelled(&cancellation("C1", 1));
        ledger.cancelled(&cancellation("C1", 1));
        let u = ledger.usage("005108", "104252").unwrap();
        assert_eq!((u.tires_cancelled, u.tires_left()), (1, 0));
    }

    #[test]
    fn a_stored_registration_keeps_its_id_and_creation() {
        let stored = StoredRegistration {
            usage: usage(4, 2, 0),
            claims: vec![StoredClaim {
                org_id: String::new(),
                repair_shop_id: "R".into(),
                repair_invoice_number: "R1".into(),
                tire_claim_count: 2,
                claim_date: day(2019, 6, 1),
            }],
        };
        let ledger = Ledger::new(vec![stored]);
        assert_eq!(ledger.claim_count(&claim("R1", 1, "2019-06-01")), 2);
        assert_eq!(ledger.claim_count(&claim("R2", 1, "2019-06-01")), 0);
        assert_eq!(ledger.usage("005108", "104252").unwrap().registration_id, 70);
    }
}
