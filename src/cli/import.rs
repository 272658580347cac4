//! `import --company C FILE`: a file of records written for a partner exactly as a POST would,
//! with a report and an exit code that says how much was written.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};

use super::Context;
use crate::import;
use crate::records::RecordKind;
use crate::scope::{Scope, Tenant};
use crate::store::Store;
use crate::telemetry;

#[derive(clap::Args)]
pub(super) struct Args {
    /// The partner's company, as in config.toml.
    #[arg(long)]
    company: String,
    /// Write to the partner's test tenant instead of live.
    #[arg(long)]
    test: bool,
    /// The record type of a CSV file (one type per file); without it, the type whose own date
    /// (PlanEnrollDate, SaleDate, ClaimDate or CancelDate) the header names.
    #[arg(long = "type", value_parser = import::record_kind)]
    record_type: Option<RecordKind>,
    /// The file.
    path: PathBuf,
}

pub(super) fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    // Only warnings: the report below is the output.
    telemetry::init_quiet(context.log_format(&config));
    let company = &args.company;
    let partner = config
        .partners
        .by_company(company)
        .with_context(|| format!("no partner {company:?} in {}", context.config_path.display()))?;
    let path = &args.path;
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    // Shown on a terminal only: indicatif draws nothing when stderr is redirected.
    let bar = ProgressBar::new(size)
        .with_style(ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes}").expect("a valid template"));
    bar.set_message("reading");
    let content = import::read_file(path, |f| Box::new(bar.wrap_read(f)))?;
    let prepared = import::prepare(path, content, args.record_type)?;
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("a valid template"));
    bar.set_message("checking and writing the records");
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let database = config.database()?;
    let store = Store::open(database).with_context(|| format!("cannot open the database {database}"))?;
    let scope = Scope {
        partner_id: partner.partner_id,
        tenant: if args.test { Tenant::Test } else { Tenant::Live },
    };
    let outcome = import::import(&store, partner, scope, &prepared, config.history_retention)?;
    bar.finish_and_clear();
    for note in &prepared.notes {
        println!("{note}");
    }
    print!("{}", import::report(&outcome, prepared.csv_lines.as_deref()));
    Ok(ExitCode::from(import::exit_code(&outcome) as u8))
}
