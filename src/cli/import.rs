//! `import --company C FILE`: a file of records written for a partner exactly as a POST would,
//! with a report and an exit code that says how much was written.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};

use super::Context;
use crate::import;
use crate::records::RecordKind;
use crate::store::Store;
use crate::telemetry;

#[derive(clap::Args)]
pub(super) struct Args {
    #[command(flatten)]
    tenant: super::TenantArgs,
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
    let (partner, scope) = args.tenant.resolve(context, &config)?;
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
    let outcome = import::import(&store, partner, scope, &prepared, config.history_retention)?;
    bar.finish_and_clear();
    for note in &prepared.notes {
        println!("{note}");
    }
    print!("{}", import::report(&outcome, prepared.csv_lines.as_deref()));
    Ok(ExitCode::from(import::exit_code(&outcome) as u8))
}
