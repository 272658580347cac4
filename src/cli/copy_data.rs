//! `copy-data --to URL`: the SQLite database copied into an empty PostgreSQL database.

use std::process::ExitCode;

use anyhow::Context as _;

use super::Context;
use crate::config::{Database, Redacted};
use crate::store;

#[derive(clap::Args)]
pub(super) struct Args {
    /// The PostgreSQL database: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (it is
    /// migrated first; it must hold no records). Or from the environment.
    #[arg(long, env = "WARRANTY_GATEWAY_COPY_TO", hide_env_values = true)]
    to: String,
}

pub(super) fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    let database = config.database()?;
    let Database::Sqlite { path: from } = database else {
        anyhow::bail!(
            "copy-data copies from an SQLite database; {database} is PostgreSQL already (use pg_dump to move it)"
        );
    };
    // Named in messages as the config names a database: its password never shown.
    let target = Database::Postgres {
        url: Redacted(args.to.clone()),
        pool_size: 1,
    };
    let report = store::copy_to_postgres(from, &args.to)
        .with_context(|| format!("cannot copy {} to {target}", from.display()))?;
    for (table, rows) in &report.tables {
        println!("{table}: {rows} rows");
    }
    println!("copied {} to {target}", from.display());
    Ok(ExitCode::SUCCESS)
}
