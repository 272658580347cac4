//! `partners`: the configured partners, a line each, never their secrets; a warning for each
//! short secret.

use std::process::ExitCode;

use super::Context;
use crate::config::MIN_SECRET_BYTES;

pub(super) fn run(context: &Context) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    println!(
        "{:<24} {:>10} {:>6}  {:<20} {:<5}  secret",
        "company", "partner_id", "months", "timezone", "due"
    );
    let mut short = Vec::new();
    for p in config.partners.iter() {
        let source = p
            .secret_env
            .as_ref()
            .map_or("inline".to_owned(), |v| format!("from ${v}"));
        // When its nightly batch is due (expected_upload_by), in its zone.
        let due = p
            .expected_upload_by
            .map_or("-".to_owned(), |t| t.format("%H:%M").to_string());
        println!(
            "{:<24} {:>10} {:>6}  {:<20} {due:<5}  {source}",
            p.company,
            p.partner_id,
            p.plan_term_months,
            p.timezone.name()
        );
        if p.secret_is_short() {
            short.push(p.company.clone());
        }
    }
    for company in short {
        eprintln!(
            "warning: the secret of {company} is shorter than {MIN_SECRET_BYTES} bytes; \
             use a long random one (openssl rand -hex 32)"
        );
    }
    Ok(ExitCode::SUCCESS)
}
