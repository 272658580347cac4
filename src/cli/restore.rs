//! `restore --from FILE`: a backup put in the SQLite database's place, with the server stopped.
//! The backup is checked first; the database as it was is kept beside it; serve migrates the
//! restored one at start if it is older than this build.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::Context;
use crate::config::Database;
use crate::store;

#[derive(clap::Args)]
pub(super) struct Args {
    /// The backup (a file `backup` made, or any copy of the database that SQLite reads whole).
    #[arg(long)]
    from: PathBuf,
}

pub(super) fn run(context: &Context, args: &Args) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    let database = match config.database()? {
        Database::Sqlite { path } => path,
        Database::Postgres { .. } => anyhow::bail!(
            "restore puts back an SQLite database; restore PostgreSQL with its own tools (pg_restore, \
             or your provider's snapshots)"
        ),
    };
    // A server of this build holds the database's lock (the store refuses then); one of a build
    // from before that lock is found by the address it listens on.
    if let Err(e) = std::net::TcpListener::bind(&config.bind)
        && e.kind() == std::io::ErrorKind::AddrInUse
    {
        anyhow::bail!(
            "something listens on server.bind {} (the server?): stop it before restoring {}",
            config.bind,
            database.display()
        );
    }
    let from = &args.from;
    let report = store::restore_database(from, database)
        .with_context(|| format!("cannot restore {} from {}", database.display(), from.display()))?;
    let at = match &report.schema.latest {
        Some(m) => m.to_string(),
        None => "from before migrations".to_owned(),
    };
    println!(
        "restored {} from {} ({} bytes; integrity ok; schema {at})",
        database.display(),
        from.display(),
        report.bytes
    );
    if let Some(kept) = &report.kept {
        println!(
            "the database as it was is kept as {}: remove it once the restored one serves as it should",
            kept.display()
        );
    }
    if let Some(carried @ 1..) = report.carried {
        println!(
            "it knows of the {carried} backup(s) made since it was copied, as the database as it was \
             did: the last backup made is still the last one known (check, /ops/server)"
        );
    }
    if !report.schema.newer.is_empty() {
        let latest = store::latest_migration();
        println!("a newer build migrated it, and its schema lets this build ({latest}) serve it");
    }
    if !report.schema.pending.is_empty() {
        let latest = store::latest_migration();
        println!("serve migrates it to this build's schema ({latest}) at start");
    }
    println!("start the server: batches taken after the backup was made are not in it");
    Ok(ExitCode::SUCCESS)
}
