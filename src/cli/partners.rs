//! `partners`: the configured partners, a line each, and each of their credentials (secrets by
//! position, v3 keys by kid; never a value) with when it stops verifying; a warning for each
//! short secret, for the bundled demo secret, and for each credential that ends within
//! [`EXPIRY_WARNING_DAYS`].

use std::process::ExitCode;

use chrono::{DateTime, Utc};

use super::Context;
use crate::config::{CredentialKind, MIN_SECRET_BYTES, Partners};
use crate::wire::format_timestamp;

/// A credential as a warning names it: `secret 2`, `v3 key "2026-06"`.
fn named(kind: CredentialKind, id: &str) -> String {
    match kind {
        CredentialKind::Secret => format!("secret {id}"),
        CredentialKind::V3Key => format!("v3 key {id:?}"),
    }
}

/// How far ahead a credential's end is warned about.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

pub(super) fn run(context: &Context) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    let now = Utc::now();
    println!(
        "{:<24} {:>10} {:>6}  {:<20} {:<13}  secret",
        "company", "partner_id", "months", "timezone", "due"
    );
    for p in config.partners.iter() {
        // When its nightly batch is due (expected_upload_by, upload_days), in its zone.
        let due = p.upload_due.map_or("-".to_owned(), |due| due.to_string());
        let credentials = p.credentials();
        let more = match p.secrets.len() {
            1 => String::new(),
            n => format!(" (+{} more, below)", n - 1),
        };
        println!(
            "{:<24} {:>10} {:>6}  {:<20} {due:<13}  {}{more}",
            p.company,
            p.partner_id,
            p.plan_term_months,
            p.timezone.name(),
            credentials[0].source
        );
        if p.secrets.len() > 1 || credentials.iter().any(|c| c.not_after.is_some()) {
            for c in credentials {
                let signs = if c.kind == CredentialKind::Secret && c.id == "1" {
                    ", signs `token`'s tokens"
                } else {
                    ""
                };
                let until = c
                    .not_after
                    .map_or("no end".to_owned(), |e| format!("until {}", format_timestamp(&e)));
                println!("    {}: {}, {until}{signs}", named(c.kind, &c.id), c.source);
            }
        }
    }
    for warning in warnings(&config.partners, now) {
        eprintln!("warning: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}

/// What the partners' credentials need done (`partners` and `check` say it): the bundled demo
/// secret, short secrets, and credentials that ended or end within [`EXPIRY_WARNING_DAYS`] of
/// `now`.
pub(super) fn warnings(partners: &Partners, now: DateTime<Utc>) -> Vec<String> {
    let mut warnings = Vec::new();
    for p in partners.iter() {
        if p.has_public_secret() {
            warnings.push(format!(
                "{} has the bundled config.toml's demo secret, which anyone can read: serve only on loopback until it has its own (openssl rand -hex 32)",
                p.company
            ));
        }
        for (i, c) in p.secrets.iter().enumerate() {
            if c.is_short() {
                warnings.push(format!(
                    "the secret{} of {} is shorter than {MIN_SECRET_BYTES} bytes; use a long random one (openssl rand -hex 32)",
                    if p.secrets.len() > 1 { format!(" {}", i + 1) } else { String::new() },
                    p.company
                ));
            }
        }
        for c in p.credentials() {
            let name = named(c.kind, &c.id);
            match c.not_after {
                Some(at) if at < now => warnings.push(format!(
                    "{name} of {} stopped verifying tokens at {}; remove it from the config",
                    p.company,
                    format_timestamp(&at)
                )),
                Some(at) if at - now <= chrono::Duration::days(EXPIRY_WARNING_DAYS) => warnings.push(format!(
                    "{name} of {} stops verifying tokens at {}, within {EXPIRY_WARNING_DAYS} days \
                     (whether the partner still signs with it: GET /ops/partners, its credentials)",
                    p.company,
                    format_timestamp(&at)
                )),
                _ => {}
            }
        }
    }
    warnings
}
