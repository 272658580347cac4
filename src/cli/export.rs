//! `export --company C --type KIND [--from DAY] [--to DAY] [--out FILE]`: a partner's records
//! of one type as CSV that `import` reads back, read in one snapshot while the server runs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::NaiveDate;

use super::Context;
use crate::config::Database;
use crate::export::{self, DaySpan};
use crate::files;
use crate::query::Rec;
use crate::store::{self, Store};
use crate::telemetry;

#[derive(clap::Args)]
pub(super) struct Args {
    #[command(flatten)]
    tenant: super::TenantArgs,
    /// The record type, registrations, claims, sales or cancellations (as import reads them
    /// back); or registrationstatus, each registration's status now (as a GET's
    /// rec=registrationstatus answers it).
    #[arg(long = "type", value_parser = export::rec)]
    rec: Rec,
    /// Only the records whose own date (PlanEnrollDate, SaleDate, ClaimDate or CancelDate) is
    /// on this day or after: YYYY-MM-DD, a calendar day in the partner's time zone.
    #[arg(long, value_parser = export::day)]
    from: Option<NaiveDate>,
    /// Only the records whose own date is on this day or before (as --from).
    #[arg(long, value_parser = export::day)]
    to: Option<NaiveDate>,
    /// Write the CSV to this file instead of standard output: private (0600), and in its place
    /// only once it is whole.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(super) fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    telemetry::init_quiet(context.log_format(&config));
    let (partner, scope) = args.tenant.resolve(context, &config)?;
    let days = DaySpan {
        from: args.from,
        to: args.to,
    };
    if let (Some(from), Some(to)) = (days.from, days.to)
        && from > to
    {
        anyhow::bail!("--from {from} is after --to {to}: no day is both");
    }
    let database = config.database()?;
    if let Database::Sqlite { path } = database
        && !path.exists()
    {
        anyhow::bail!("there is no database at {}: nothing to export", path.display());
    }
    // A read changes nothing: a database of another build's schema is said, not migrated.
    let schema = store::schema_state(database).with_context(|| format!("cannot read the database {database}"))?;
    // A newer build's schema may keep what this build's export would leave out.
    if let Some(newer) = schema.newer.last() {
        anyhow::bail!(
            "the database {database} was migrated by a newer warranty-gateway ({newer}): export with that build"
        );
    }
    if let Some(next) = schema.pending.first() {
        anyhow::bail!(
            "the database {database} is not at this build's schema ({next} is still to be applied): \
             export with the build that serves it, or migrate it first"
        );
    }
    let store = Store::open(database).with_context(|| format!("cannot open the database {database}"))?;
    let rec = args.rec;
    let now = chrono::Utc::now();
    let export = |out: &mut dyn Write| export::export(&store, partner, scope, (rec, days), now, out);
    let (written, to) = match &args.out {
        Some(path) => (write_file(path, export)?, path.display().to_string()),
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let written = export(&mut out).and_then(|written| {
                out.flush().context("cannot write the export")?;
                Ok(written)
            });
            match written {
                Ok(written) => (written, "standard output".to_owned()),
                // `export ... | head`: the reader has what it wanted. Stopped quietly, with the
                // status of a command that SIGPIPE ended.
                Err(e) if reader_gone(&e) => return Ok(ExitCode::from(141)),
                Err(e) => return Err(e),
            }
        }
    };
    let dated = match (days.from, days.to) {
        (None, None) => String::new(),
        (from, to) => {
            let day = |d: Option<NaiveDate>| d.map_or_else(|| "any day".to_owned(), |d| d.to_string());
            let kind = export::dated_by(rec);
            let own = kind.own_date().map_or("date", |at| kind.fields()[at].name);
            format!(" with {own} from {} to {} ({})", day(from), day(to), partner.timezone)
        }
    };
    eprintln!(
        "exported {written} {} of {} ({}){dated} to {to}",
        export::rows(rec),
        partner.company,
        scope.tenant.into_str()
    );
    Ok(ExitCode::SUCCESS)
}

/// Whether the export stopped because the reader of standard output went away.
fn reader_gone(e: &anyhow::Error) -> bool {
    let broken = |io: &std::io::Error| io.kind() == std::io::ErrorKind::BrokenPipe;
    e.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(broken)
            || (cause.downcast_ref::<csv::Error>())
                .is_some_and(|e| matches!(e.kind(), csv::ErrorKind::Io(io) if broken(io)))
    })
}

/// Writes the export to `path` whole or not at all ([`files::write_whole`]): a file under
/// `path` is always a whole export, private to its owner.
fn write_file(path: &Path, export: impl FnOnce(&mut dyn Write) -> anyhow::Result<u64>) -> anyhow::Result<u64> {
    files::write_whole(path, |file| -> anyhow::Result<_> {
        let mut out = std::io::BufWriter::new(file);
        let written = export(&mut out)?;
        let file = out.into_inner().context("cannot write the export")?;
        Ok((written, file))
    })
    .with_context(|| format!("cannot write {}", path.display()))
}
