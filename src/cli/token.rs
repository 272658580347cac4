//! `token --company C`: a bearer token the server accepts for a partner, v2 or v3;
//! `token --operator NAME`: one for an operator (the operators' routes).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::Context;
use crate::auth::{MAX_OPERATOR_TOKEN_HOURS, issue_operator_token, issue_token, issue_v3_token};
use crate::wire::format_timestamp;

#[derive(clap::Args)]
pub(super) struct Args {
    /// The partner's company, as in config.toml.
    #[arg(long, required_unless_present = "operator")]
    company: Option<String>,
    /// An operator's token instead: the operator's name, as in config.toml's [[operators]].
    #[arg(long, conflicts_with_all = ["company", "v3", "expires_in_days"])]
    operator: Option<String>,
    /// Operator: hours until the token expires (1 to 12).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=MAX_OPERATOR_TOKEN_HOURS))]
    expires_in_hours: u32,
    /// Make the token expire after this many days (v2; by default it does not expire).
    #[arg(long, conflicts_with = "v3")]
    expires_in_days: Option<u32>,
    /// A v3 token: ES256, iss the partner's v3_issuer, aud the server's [v3] audience.
    #[arg(long, requires = "key")]
    v3: bool,
    /// v3: the partner's private key (PKCS#8 PEM, as `keygen` writes it).
    #[arg(long, requires = "v3")]
    key: Option<PathBuf>,
    /// v3: for the sandbox audience (the partner's test tenant).
    #[arg(long, requires = "v3")]
    sandbox: bool,
    /// v3: the kid to put in the token's header (which of the partner's v3_public_keys it is
    /// signed with).
    #[arg(long, requires = "v3")]
    kid: Option<String>,
    /// v3: minutes until the token expires (at most 1440, 24 hours).
    #[arg(long, requires = "v3", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..=1440))]
    expires_in_minutes: u32,
}

pub(super) fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    if let Some(name) = &args.operator {
        let operator = config.operators.by_name(name).with_context(|| {
            format!(
                "no operator {name:?} in {}'s [[operators]]",
                context.config_path.display()
            )
        })?;
        let lifetime = chrono::Duration::hours(args.expires_in_hours.into());
        println!("{}", issue_operator_token(operator, chrono::Utc::now(), lifetime)?);
        return Ok(ExitCode::SUCCESS);
    }
    // clap requires --company without --operator.
    let company = args.company.as_deref().context("give --company (or --operator)")?;
    let partner = config
        .partners
        .by_company(company)
        .with_context(|| format!("no partner {company:?} in {}", context.config_path.display()))?;
    let now = chrono::Utc::now();
    if !args.v3 {
        let lifetime = args.expires_in_days.map(|d| chrono::Duration::days(d.into()));
        // Signed with the first secret: one past its end makes a token every request refuses.
        let first = &partner.secrets[0];
        if let Some(end) = first.not_after {
            let end_text = format_timestamp(&end);
            anyhow::ensure!(
                first.live_at(now),
                "secret 1 of {company} stopped verifying tokens at {end_text}: the server refuses a token \
                 signed with it (401, expired_credential). Put a live secret first in its secrets (or put \
                 off its not_after) and run token again"
            );
            if lifetime.is_none_or(|lifetime| now + lifetime > end) {
                eprintln!(
                    "note: secret 1 of {company}, which signs this token, stops verifying tokens at \
                     {end_text}: the token is refused from then"
                );
            }
        }
        println!("{}", issue_token(partner, now, lifetime)?);
        return Ok(ExitCode::SUCCESS);
    }
    // clap requires it with --v3 already.
    let key = args.key.context("--v3 needs --key, the partner's private key")?;
    let keys = partner.v3.as_ref().with_context(|| {
        format!("partner {company} is not on v3: give it v3_issuer and v3_public_key_file in config.toml")
    })?;
    let audiences = config.v3.as_ref().context("config.toml has no [v3] section")?;
    let audience = if args.sandbox {
        &audiences.sandbox_audience
    } else {
        &audiences.audience
    };
    let pem = std::fs::read(&key).with_context(|| format!("cannot read {}", key.display()))?;
    if let Some(kid) = &args.kid {
        let named = (keys.keys.iter())
            .find(|k| k.kid.as_deref() == Some(kid.as_str()))
            .with_context(|| {
                format!("partner {company} has no v3 key with kid {kid:?} in config.toml's v3_public_keys")
            })?;
        if let Some(end) = named.not_after.filter(|_| !named.live_at(now)) {
            anyhow::bail!(
                "v3 key {kid:?} of {company} stopped verifying tokens at {}: the server refuses a token \
                 with its kid (401, expired_credential). Sign with the partner's new key and its kid",
                format_timestamp(&end)
            );
        }
    }
    let token = issue_v3_token(
        &keys.issuer,
        audience,
        args.kid.as_deref(),
        &pem,
        now,
        chrono::Duration::minutes(args.expires_in_minutes.into()),
    )
    .with_context(|| format!("{} is not a P-256 private key in PKCS#8 PEM", key.display()))?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}
