//! `partners`: the configured partners, a line each, and each of their secrets by position
//! (never its value) with when it stops verifying; a warning for each short secret and for each
//! one that ends within [`EXPIRY_WARNING_DAYS`].

use std::process::ExitCode;

use chrono::Utc;

use super::Context;
use crate::config::{Credential, MIN_SECRET_BYTES};

/// How far ahead a credential's end is warned about.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// Where a secret comes from, never its value.
fn source(c: &Credential) -> String {
    c.secret_env
        .as_ref()
        .map_or("inline".to_owned(), |v| format!("from ${v}"))
}

pub(super) fn run(context: &Context) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    let now = Utc::now();
    println!(
        "{:<24} {:>10} {:>6}  {:<20} {:<5}  secret",
        "company", "partner_id", "months", "timezone", "due"
    );
    let mut warnings = Vec::new();
    for p in config.partners.iter() {
        // When its nightly batch is due (expected_upload_by), in its zone.
        let due = p
            .expected_upload_by
            .map_or("-".to_owned(), |t| t.format("%H:%M").to_string());
        let more = match p.secrets.len() {
            1 => String::new(),
            n => format!(" (+{} more, below)", n - 1),
        };
        println!(
            "{:<24} {:>10} {:>6}  {:<20} {due:<5}  {}{more}",
            p.company,
            p.partner_id,
            p.plan_term_months,
            p.timezone.name(),
            source(&p.secrets[0])
        );
        let listed = p.secrets.len() > 1 || p.secrets.iter().any(|c| c.not_after.is_some());
        for (i, c) in p.secrets.iter().enumerate() {
            let end = c
                .not_after
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            if listed {
                let signs = if i == 0 { ", signs `token`'s tokens" } else { "" };
                let until = end.as_deref().map_or("no end".to_owned(), |e| format!("until {e}"));
                println!("    secret {}: {}, {until}{signs}", i + 1, source(c));
            }
            if c.is_short() {
                warnings.push(format!(
                    "the secret{} of {} is shorter than {MIN_SECRET_BYTES} bytes; use a long random one (openssl rand -hex 32)",
                    if p.secrets.len() > 1 { format!(" {}", i + 1) } else { String::new() },
                    p.company
                ));
            }
            match (c.not_after, end) {
                (Some(at), Some(end)) if at < now => warnings.push(format!(
                    "secret {} of {} stopped verifying tokens at {end}; remove it from the config",
                    i + 1,
                    p.company
                )),
                (Some(at), Some(end)) if at - now <= chrono::Duration::days(EXPIRY_WARNING_DAYS) => {
                    warnings.push(format!(
                        "secret {} of {} stops verifying tokens at {end}, within {EXPIRY_WARNING_DAYS} days",
                        i + 1,
                        p.company
                    ))
                }
                _ => {}
            }
        }
    }
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}
