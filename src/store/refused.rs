//! Refused requests, on either engine.

use chrono::{DateTime, Utc};

use super::sql::{Arg, Row};
use super::{StoreError, Tx};
use crate::model::refused::{Refusal, RefusalFilter};
use crate::scope::Scope;

/// Adds a refused request, and forgets those from before `keep_after`.
pub fn insert_refusal(tx: &Tx, r: &Refusal, keep_after: DateTime<Utc>) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO refused_requests (at, partner_id, tenant, company, reason, detail, client, user_agent, method, path) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            Arg::Date(r.at),
            Arg::OptInt(r.partner_id),
            Arg::OptText(r.tenant.as_deref()),
            Arg::OptText(r.company.as_deref()),
            Arg::Text(&r.reason),
            Arg::OptText(r.detail.as_deref()),
            Arg::OptText(r.client.as_deref()),
            Arg::OptText(r.user_agent.as_deref()),
            Arg::Text(&r.method),
            Arg::Text(&r.path),
        ],
    )?;
    tx.execute("DELETE FROM refused_requests WHERE at < $1", &[Arg::Date(keep_after)])?;
    Ok(())
}

/// One page (from 1) of the refused requests the filter names, newest first (by when they were
/// refused: their writes may commit in another order), and how many it names in all.
pub fn list_refusals(
    tx: &Tx,
    filter: &RefusalFilter,
    page: u32,
    page_size: u32,
) -> Result<(u64, Vec<Refusal>), StoreError> {
    tx.page(
        "SELECT at, partner_id, tenant, company, reason, detail, client, user_agent, method, path",
        "FROM refused_requests WHERE ($1 IS NULL OR partner_id = $1) AND ($2 IS NULL OR at >= $2)",
        "at DESC, id DESC",
        &[Arg::OptInt(filter.partner_id), Arg::OptDate(filter.since)],
        (page, page_size),
        refusal,
    )
}

/// How many requests naming each partner's tenant were refused from `since` on.
pub fn refusals_since(tx: &Tx, since: DateTime<Utc>) -> Result<Vec<(Scope, u64)>, StoreError> {
    tx.rows(
        "SELECT partner_id, tenant, count(*) AS refused FROM refused_requests \
         WHERE at >= $1 AND partner_id IS NOT NULL AND tenant IS NOT NULL GROUP BY partner_id, tenant",
        &[Arg::Date(since)],
        |row| {
            let scope = Scope {
                partner_id: row.int("partner_id")?,
                tenant: super::batches::stored_tenant(row)?,
            };
            Ok((scope, row.count("refused")?))
        },
    )
}

fn refusal(row: &Row) -> Result<Refusal, StoreError> {
    Ok(Refusal {
        at: row.date("at")?,
        partner_id: row.opt_int("partner_id")?,
        tenant: row.opt_text("tenant")?,
        company: row.opt_text("company")?,
        reason: row.text("reason")?,
        detail: row.opt_text("detail")?,
        client: row.opt_text("client")?,
        user_agent: row.opt_text("user_agent")?,
        method: row.text("method")?,
        path: row.text("path")?,
    })
}
