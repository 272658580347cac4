//! `backup --to FILE`: an online, consistent copy of the SQLite database, checked.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::Context;
use crate::config::Database;
use crate::store;

#[derive(clap::Args)]
pub(super) struct Args {
    /// The new file.
    #[arg(long)]
    to: PathBuf,
}

pub(super) fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    let to = &args.to;
    let from = match config.database()? {
        Database::Sqlite { path } => path,
        Database::Postgres { .. } => anyhow::bail!(
            "backup copies an SQLite database; back PostgreSQL up with its own tools (pg_dump, or \
             your provider's snapshots)"
        ),
    };
    let report = store::backup_database(from, to)
        .with_context(|| format!("cannot back {} up to {}", from.display(), to.display()))?;
    println!(
        "backed up {} to {} ({} pages, {} bytes; integrity ok)",
        from.display(),
        to.display(),
        report.pages,
        report.bytes
    );
    Ok(ExitCode::SUCCESS)
}
