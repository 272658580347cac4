//! The operators' audit log, on either engine.

use chrono::{DateTime, Utc};

use super::sql::{Arg, Row};
use super::{StoreError, Tx};
use crate::model::audit::AuditEntry;

/// Adds an entry, and forgets those older than `keep_after`.
pub fn insert_audit(tx: &Tx, entry: &AuditEntry, keep_after: DateTime<Utc>) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO ops_audit (at, operator, role, action, company, tenant, detail, client) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            Arg::Date(entry.at),
            Arg::Text(&entry.operator),
            Arg::Text(&entry.role),
            Arg::Text(&entry.action),
            Arg::OptText(entry.company.as_deref()),
            Arg::OptText(entry.tenant.as_deref()),
            Arg::OptText(entry.detail.as_deref()),
            Arg::OptText(entry.client.as_deref()),
        ],
    )?;
    tx.execute("DELETE FROM ops_audit WHERE at < $1", &[Arg::Date(keep_after)])?;
    Ok(())
}

/// One page (from 1) of the audit log, newest first, and how many entries it has in all.
pub fn list_audit(tx: &Tx, page: u32, page_size: u32) -> Result<(u64, Vec<AuditEntry>), StoreError> {
    tx.page(
        "SELECT at, operator, role, action, company, tenant, detail, client",
        "FROM ops_audit",
        "id DESC",
        &[],
        (page, page_size),
        entry,
    )
}

fn entry(row: &Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        at: row.date("at")?,
        operator: row.text("operator")?,
        role: row.text("role")?,
        action: row.text("action")?,
        company: row.opt_text("company")?,
        tenant: row.opt_text("tenant")?,
        detail: row.opt_text("detail")?,
        client: row.opt_text("client")?,
    })
}
