//! `check`: whether `serve` would start on this config, and what needs doing, without starting
//! it or changing anything: the config, the address, the HTTPS certificate, the database's
//! schema (read, never migrated or made) and the partners' credentials. For a deploy script
//! before a restart, and for an operator on a new box. Exit code 0 when serve would start, 1
//! when it would not (with `--strict`, also when anything needs doing).

use std::net::{TcpListener, ToSocketAddrs};
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use super::Context;
use crate::config::{BIND_ENV, Config, Database};
use crate::model::backup::STALE_AFTER;
use crate::store::{self, Applied};

#[derive(clap::Args)]
pub(super) struct Args {
    /// The address serve would listen on, when not the config's server.bind (as serve --bind).
    #[arg(long, env = BIND_ENV)]
    pub bind: Option<String>,
    /// Exit code 1 for a warning too (a credential or certificate near its end, a port in use).
    #[arg(long)]
    strict: bool,
}

/// How a part stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    /// Serve starts, but something needs doing.
    Warning,
    /// Serve would not start.
    Failed,
}

/// One line of the report: a part of what serve needs, how it stands and why.
struct Finding {
    part: &'static str,
    verdict: Verdict,
    said: String,
}

impl Finding {
    fn new(part: &'static str, verdict: Verdict, said: impl Into<String>) -> Finding {
        Finding {
            part,
            verdict,
            said: said.into(),
        }
    }
}

pub(super) fn run(context: &Context, args: &Args) -> anyhow::Result<ExitCode> {
    let config_path = context.config_path.display().to_string();
    let findings = match context.config() {
        Ok(config) => {
            let mut findings = vec![Finding::new("config", Verdict::Ok, loaded(&config_path, &config))];
            findings.extend(examine(&config, Utc::now()));
            findings
        }
        // Nothing else can be read without it.
        Err(e) => vec![Finding::new("config", Verdict::Failed, format!("{e:#}"))],
    };
    let count = |v: Verdict| findings.iter().filter(|f| f.verdict == v).count();
    for f in &findings {
        let verdict = match f.verdict {
            Verdict::Ok => "ok",
            Verdict::Warning => "warning",
            Verdict::Failed => "FAILED",
        };
        println!("{:<9} {verdict:<8} {}", f.part, f.said);
    }
    let (failed, warnings) = (count(Verdict::Failed), count(Verdict::Warning));
    if failed > 0 {
        println!("serve would not start on {config_path}: {}", plural(failed, "failure"));
        return Ok(ExitCode::FAILURE);
    }
    match warnings {
        0 => println!("serve would start on {config_path}"),
        n => println!("serve would start on {config_path}, with {}", plural(n, "warning")),
    }
    Ok(match args.strict && warnings > 0 {
        true => ExitCode::FAILURE,
        false => ExitCode::SUCCESS,
    })
}

/// What the config holds, in a line.
fn loaded(path: &str, config: &Config) -> String {
    let partners = plural(config.partners.iter().count(), "partner");
    let operators = plural(config.operators.iter().count(), "operator");
    let v3 = match &config.v3 {
        Some(v3) => format!(", v3 for audience {:?}", v3.audience),
        None => String::new(),
    };
    format!("{path}: {partners}, {operators}{v3}")
}

/// `1 partner`, `2 partners`.
fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Every part serve needs beyond the config itself, as it stands at `now`.
fn examine(config: &Config, now: DateTime<Utc>) -> Vec<Finding> {
    let (database, reached) = database(config);
    let mut findings = vec![listening(config), https(config, now), database];
    // A database that cannot be reached is said once: each read below would wait for it again.
    if reached {
        findings.extend(durability(config));
        findings.extend(backup(config, now));
    }
    // Whether the partner still signs with a credential that ends, when one does.
    let ends = config
        .partners
        .iter()
        .any(|p| p.credentials().iter().any(|c| c.not_after.is_some()));
    let uses = (reached && ends)
        .then(|| super::partners::kept_uses(config).ok())
        .flatten();
    findings.extend(
        super::partners::warnings(&config.partners, now, uses.as_deref())
            .into_iter()
            .map(|w| Finding::new("partners", Verdict::Warning, w)),
    );
    findings
}

/// Whether serve could listen where it would: an address that resolves, that no demo secret
/// forbids, and that is free (a port in use may be the server this one is to replace).
fn listening(config: &Config) -> Finding {
    let part = "listen";
    let bind = &config.bind;
    let addresses = match bind.to_socket_addrs() {
        Ok(addresses) => addresses.collect::<Vec<_>>(),
        Err(e) => {
            let hint = crate::config::bind_hint(bind);
            return Finding::new(part, Verdict::Failed, format!("server.bind {bind:?}: {e}{hint}"));
        }
    };
    for address in addresses {
        if let Err(e) = crate::startup::refuse_public_secrets(config, address) {
            return Finding::new(part, Verdict::Failed, format!("{e:#}"));
        }
    }
    match TcpListener::bind(bind) {
        Ok(_) => Finding::new(part, Verdict::Ok, format!("{bind} is free")),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Finding::new(
            part,
            Verdict::Warning,
            format!("{bind} is in use now (by the server this one replaces?): serve needs it free"),
        ),
        Err(e) => Finding::new(part, Verdict::Failed, format!("cannot listen on {bind}: {e}")),
    }
}

/// The certificate and key, read as serve reads them, and how long the certificate has left.
fn https(config: &Config, now: DateTime<Utc>) -> Finding {
    let part = "https";
    let Some(files) = &config.tls else {
        return Finding::new(part, Verdict::Ok, "off: plain HTTP (no server.tls_cert_file)");
    };
    let certificate = match crate::https::Certificate::load(files) {
        Ok(certificate) => certificate,
        Err(e) => return Finding::new(part, Verdict::Failed, format!("{e:#}")),
    };
    let end = certificate.not_after();
    let until = crate::wire::format_timestamp(&end);
    let cert = files.cert.display();
    match crate::https::ending(end, now) {
        Some(said) => Finding::new(
            part,
            Verdict::Warning,
            format!("{cert}: the certificate {said} ({until}): renew it, then reload"),
        ),
        None => Finding::new(
            part,
            Verdict::Ok,
            format!("{cert}: valid until {until} ({} days)", (end - now).num_days()),
        ),
    }
}

/// Whether the instances of the build serving a database now at `at` may go on serving it once
/// it is migrated to a schema that `needs` a build to know that migration (a rolling upgrade).
fn after_migrating(at: &Applied, needs: i32) -> String {
    match needs <= at.version {
        true => format!("instances of the build at {at} may go on serving it (a rolling upgrade)"),
        false => format!("builds before V{needs} may not serve it then: stop every instance of them first"),
    }
}

/// The database reached as serve reaches it, and its schema against this build's; and whether
/// it was reached.
fn database(config: &Config) -> (Finding, bool) {
    let part = "database";
    let database = match config.database() {
        Ok(database) => database,
        Err(e) => return (Finding::new(part, Verdict::Failed, format!("{e:#}")), false),
    };
    let state = match store::schema_state(database) {
        Ok(state) => state,
        Err(e) => {
            let reached = e.unavailable().is_none() && !matches!(e, store::StoreError::Setup(_));
            return (Finding::new(part, Verdict::Failed, format!("{database}: {e}")), reached);
        }
    };
    (schema(database, &state), true)
}

/// What the database's schema `state` means for serve, and for the instances serving it now.
fn schema(database: &Database, state: &store::SchemaState) -> Finding {
    let part = "database";
    let ours = store::latest_migration().to_string();
    let said = match (&state.latest, state.pending.as_slice()) {
        _ if matches!(database, Database::Sqlite { path } if !path.exists()) => {
            format!("{database} does not exist yet: serve makes it, at {ours}")
        }
        (None, _) => format!("{database} has no migration yet: serve (or migrate) brings it to {ours}"),
        (Some(at), []) if !state.newer.is_empty() => {
            let said = format!(
                "{database} is at {at}, a newer build's schema, which this build ({ours}) may serve: upgrade this instance"
            );
            return Finding::new(part, Verdict::Warning, said);
        }
        (Some(at), []) => format!("{database} is at {at}, this build's schema"),
        (Some(at), pending) => {
            let applies = format!(
                "{database} is at {at}: serve (or migrate) applies {} at start",
                pending.iter().map(Applied::to_string).collect::<Vec<_>>().join(", ")
            );
            match store::needs_migration() {
                Ok(needs) => format!("{applies}; {}", after_migrating(at, needs)),
                Err(e) => return Finding::new(part, Verdict::Failed, format!("{database}: {e}")),
            }
        }
    };
    Finding::new(part, Verdict::Ok, said)
}

/// Whether a batch answered 200 survives a crash of the PostgreSQL server's machine: its fsync
/// and full_page_writes (a warning when off: the gateway cannot set them), and its
/// synchronous_commit (the gateway's writes set it on where the database's is off). Nothing on
/// SQLite, or when the database cannot be read (its line says why).
fn durability(config: &Config) -> Option<Finding> {
    let part = "durable";
    let settings = store::durability(config.database().ok()?).ok()??;
    let commit = match settings.commits_asynchronously() {
        true => "synchronous_commit is off for this database, and the gateway's writes set it on".to_owned(),
        false => format!("synchronous_commit is {}", settings.synchronous_commit),
    };
    let warnings = settings.warnings();
    Some(match warnings.is_empty() {
        true => Finding::new(
            part,
            Verdict::Ok,
            format!("fsync and full_page_writes are on, {commit}: a batch answered 200 is on disk"),
        ),
        false => Finding::new(part, Verdict::Warning, format!("{}; {commit}", warnings.join("; "))),
    })
}

/// How old the last backup is, as the database records it (SQLite's: PostgreSQL is backed up by
/// its own tools). Nothing is said when the database cannot be read: its line says why.
fn backup(config: &Config, now: DateTime<Utc>) -> Option<Finding> {
    let part = "backup";
    let database = config.database().ok()?;
    if let Database::Postgres { .. } = database {
        return Some(Finding::new(
            part,
            Verdict::Ok,
            "PostgreSQL: back it up with its own tools (pg_dump, or the provider's backups)",
        ));
    }
    let Some(last) = store::recorded_backup(database).ok()? else {
        return Some(Finding::new(
            part,
            Verdict::Ok,
            "none recorded yet (the daily timer, or warranty-gateway backup --into DIR, makes one)",
        ));
    };
    let age = now - last.finished_at;
    let said = format!(
        "the last, {}, finished {} ({} hours ago)",
        last.file,
        crate::wire::format_timestamp(&last.finished_at),
        age.num_hours()
    );
    Some(match age > STALE_AFTER {
        true => Finding::new(
            part,
            Verdict::Warning,
            format!(
                "{said}: over {} hours; is the backup timer running?",
                STALE_AFTER.num_hours()
            ),
        ),
        false => Finding::new(part, Verdict::Ok, said),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_migration_is_rolling_when_the_build_serving_the_database_may_serve_what_it_makes() {
        let at = Applied {
            version: 17,
            name: "a_table".into(),
        };
        assert_eq!(
            after_migrating(&at, 16),
            "instances of the build at V17__a_table may go on serving it (a rolling upgrade)"
        );
        assert_eq!(
            after_migrating(&at, 17),
            "instances of the build at V17__a_table may go on serving it (a rolling upgrade)"
        );
        assert_eq!(
            after_migrating(&at, 18),
            "builds before V18 may not serve it then: stop every instance of them first"
        );
    }
}
