//! `migrate`: the database brought up to this build's schema (serve does it too, at start-up).

use std::process::ExitCode;

use anyhow::Context as _;

use super::Context;
use crate::store;

pub(super) fn run(context: &Context) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    let database = config.database()?;
    let migrated = store::migrate(database).with_context(|| format!("cannot migrate the database {database}"))?;
    for m in &migrated.applied {
        println!("applied {m}");
    }
    let latest = store::latest_migration();
    match migrated.newer.last() {
        // An instance not upgraded yet, in a rolling upgrade.
        Some(newer) => println!(
            "{database} is at {newer}, a newer build's schema, which this build ({latest}) may serve: nothing to do"
        ),
        None => {
            // Who may serve it now: in a rolling upgrade, whether the old build's instances may.
            let needs = store::needs_migration().context("cannot read what this build's schema needs")?;
            println!(
                "{database} is at {latest}{}; builds that know V{needs} or later may serve it",
                if migrated.applied.is_empty() {
                    " (nothing to do)"
                } else {
                    ""
                }
            )
        }
    }
    Ok(ExitCode::SUCCESS)
}
