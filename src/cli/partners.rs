//! `partners`: the configured partners, a line each, and each of their credentials (secrets by
//! position, v3 keys by kid; never a value; a lone secret on its partner's line) with when it
//! stops verifying and when it last verified a token (on any instance, as the database keeps
//! it: read, never migrated); a warning for each short secret, for the bundled demo secret, and
//! for each credential that ends within [`EXPIRY_WARNING_DAYS`], saying whether the partner
//! still signs with it.

use std::process::ExitCode;

use chrono::{DateTime, Utc};

use super::Context;
use crate::config::{Config, CredentialInfo, CredentialKind, MIN_SECRET_BYTES, Partners};
use crate::model::credential::CredentialUse;
use crate::store;
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
    let uses = kept_uses(&config);
    if let Err(reason) = &uses {
        eprintln!("warning: when each credential last verified a token is not shown: {reason}");
    }
    let uses = uses.ok();
    println!(
        "{:<24} {:>10} {:>6}  {:<20} {:<13}  secret",
        "company", "partner_id", "months", "timezone", "due"
    );
    for p in config.partners.iter() {
        // When its nightly batch is due (expected_upload_by, upload_days), in its zone.
        let due = p.upload_due.map_or("-".to_owned(), |due| due.to_string());
        let credentials = p.credentials_used(uses.as_deref().unwrap_or_default());
        let used = |c: &CredentialInfo| match (&uses, c.last_used_at) {
            (None, _) => String::new(),
            (Some(_), Some(at)) => format!(", last verified a token at {}", format_timestamp(&at)),
            (Some(_), None) => ", no token verified with it on record".to_owned(),
        };
        // One secret without an end is said on the partner's line; more, or one that ends, below.
        let below = credentials.len() > 1 || credentials.iter().any(|c| c.not_after.is_some());
        let more = match (below, p.secrets.len()) {
            (false, _) => used(&credentials[0]),
            (true, 1) => String::new(),
            (true, n) => format!(" (+{} more, below)", n - 1),
        };
        println!(
            "{:<24} {:>10} {:>6}  {:<20} {due:<13}  {}{more}",
            p.company,
            p.partner_id,
            p.plan_term_months,
            p.timezone.name(),
            credentials[0].source
        );
        if below {
            for c in &credentials {
                let signs = if c.kind == CredentialKind::Secret && c.id == "1" {
                    ", signs `token`'s tokens"
                } else {
                    ""
                };
                let until = c
                    .not_after
                    .map_or("no end".to_owned(), |e| format!("until {}", format_timestamp(&e)));
                println!("    {}: {}, {until}{}{signs}", named(c.kind, &c.id), c.source, used(c));
            }
        }
    }
    for warning in warnings(&config.partners, now, uses.as_deref()) {
        eprintln!("warning: {warning}");
    }
    Ok(ExitCode::SUCCESS)
}

/// When each credential last verified a token, on any instance, as the config's database keeps
/// it (none yet: no database, or one from before uses were kept); why not, when it cannot be
/// read.
pub(super) fn kept_uses(config: &Config) -> Result<Vec<CredentialUse>, String> {
    let database = config.database().map_err(|e| format!("{e:#}"))?;
    match store::read_existing(database, "credential_uses", store::credential_uses) {
        Ok(uses) => Ok(uses.unwrap_or_default()),
        Err(e) => Err(format!("cannot read the database {database}: {}", store::chain(&e))),
    }
}

/// What the partners' credentials need done (`partners` and `check` say it): the bundled demo
/// secret, short secrets, and credentials that ended or end within [`EXPIRY_WARNING_DAYS`] of
/// `now`; for those that end, whether the partner still signs with them, when the database's
/// `uses` could be read.
pub(super) fn warnings(partners: &Partners, now: DateTime<Utc>, uses: Option<&[CredentialUse]>) -> Vec<String> {
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
        for c in p.credentials_used(uses.unwrap_or_default()) {
            let name = named(c.kind, &c.id);
            let still_used = match (uses, c.last_used_at) {
                (None, _) => "whether the partner still signs with it: GET /ops/partners, its credentials".to_owned(),
                (Some(_), Some(at)) => format!("the partner last signed with it at {}", format_timestamp(&at)),
                (Some(_), None) => "no token signed with it is on record".to_owned(),
            };
            match c.not_after {
                Some(at) if at < now => warnings.push(format!(
                    "{name} of {} stopped verifying tokens at {}; remove it from the config",
                    p.company,
                    format_timestamp(&at)
                )),
                Some(at) if at - now <= chrono::Duration::days(EXPIRY_WARNING_DAYS) => warnings.push(format!(
                    "{name} of {} stops verifying tokens at {}, within {EXPIRY_WARNING_DAYS} days ({still_used})",
                    p.company,
                    format_timestamp(&at)
                )),
                _ => {}
            }
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::credential::fingerprint;

    const NEW: &str = "new-secret-0123456789abcdef0123456789abc";
    const OLD: &str = "old-secret-0123456789abcdef0123456789abc";

    /// Whether the partner still signs with the secret that ends is said from the database's
    /// uses when they could be read (that secret's, of that partner), and pointed to otherwise.
    #[test]
    fn an_ending_secret_is_said_in_use_or_not_from_the_kept_uses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            format!(
                "[database]\npath = \"db.sqlite3\"\n\n\
                 [[partners]]\ncompany = \"tirecompany\"\npartner_id = 1001\nplan_term_months = 36\n\
                 secrets = [ {{ secret = \"{NEW}\" }}, {{ secret = \"{OLD}\", not_after = \"2026-12-10\" }} ]\n"
            ),
        )
        .unwrap();
        let config = Config::load(&path).unwrap();
        let now = "2026-12-08T00:00:00Z".parse().unwrap();
        let said = |uses: Option<&[CredentialUse]>| {
            let warnings = warnings(&config.partners, now, uses);
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            let ending = "secret 2 of tirecompany stops verifying tokens at 2026-12-10T23:59:59Z, within 14 days";
            assert!(warnings[0].starts_with(ending), "{warnings:?}");
            warnings[0][ending.len()..].to_owned()
        };
        let used = |partner_id, secret: &str, at: &str| CredentialUse {
            partner_id,
            kind: CredentialKind::Secret,
            fingerprint: fingerprint(secret.as_bytes()),
            at: at.parse().unwrap(),
        };

        assert_eq!(
            said(None),
            " (whether the partner still signs with it: GET /ops/partners, its credentials)"
        );
        assert_eq!(said(Some(&[])), " (no token signed with it is on record)");
        // The new secret's use, and another partner's of the same secret, are not the old one's.
        let others = [
            used(1001, NEW, "2026-12-07T02:00:00Z"),
            used(2002, OLD, "2026-12-07T02:00:00Z"),
        ];
        assert_eq!(said(Some(&others)), " (no token signed with it is on record)");
        let uses = [
            used(1001, OLD, "2026-12-06T02:00:00Z"),
            used(1001, NEW, "2026-12-07T02:00:00Z"),
            used(1001, OLD, "2026-12-07T02:10:00Z"),
        ];
        assert_eq!(
            said(Some(&uses)),
            " (the partner last signed with it at 2026-12-07T02:10:00Z)"
        );
    }
}
