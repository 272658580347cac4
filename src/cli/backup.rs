//! `backup --to FILE`, or `backup --into DIR [--keep N]`: an online, consistent copy of the
//! SQLite database, checked, and kept in the database's list of backups (for how old the last
//! one is: `/ops/server`, the metric, the alert). `--into` names the copy by the time it is made
//! and, with `--keep`, removes that folder's older copies past the newest N: what a daily timer
//! runs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDateTime, Utc};

use super::Context;
use crate::config::Database;
use crate::files;
use crate::store;

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["to", "into"]))]
pub(super) struct Args {
    /// The new file.
    #[arg(long)]
    to: Option<PathBuf>,
    /// A folder (made if need be) for a new file named by the time it is made, as
    /// warranty-gateway-20261207T031500Z.sqlite3.
    #[arg(long)]
    into: Option<PathBuf>,
    /// With --into: after the copy, remove the folder's older copies (by their names) past the
    /// newest N. Other files are never touched.
    #[arg(long, conflicts_with = "to", value_parser = clap::value_parser!(u32).range(1..))]
    keep: Option<u32>,
}

/// How a copy made with `--into` is named: its time, in UTC, to the second.
const NAMED: &str = "warranty-gateway-%Y%m%dT%H%M%SZ.sqlite3";

/// When a copy named as [`NAMED`] was made; `None` for any other name.
fn made_at(name: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(name, NAMED).ok().map(|t| t.and_utc())
}

pub(super) fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    let from = match config.database()? {
        Database::Sqlite { path } => path,
        Database::Postgres { .. } => anyhow::bail!(
            "backup copies an SQLite database; back PostgreSQL up with its own tools (pg_dump, or \
             your provider's snapshots)"
        ),
    };
    let to = match (&args.into, &args.to) {
        (Some(folder), _) => {
            files::make_private_folder(folder)
                .with_context(|| format!("cannot create the backup folder {}", folder.display()))?;
            folder.join(Utc::now().format(NAMED).to_string())
        }
        (None, Some(to)) => to.clone(),
        (None, None) => anyhow::bail!("give --to FILE or --into DIR"),
    };
    let report = store::backup_database(from, &to)
        .with_context(|| format!("cannot back {} up to {}", from.display(), to.display()))?;
    println!(
        "backed up {} to {} ({} pages, {} bytes; integrity ok)",
        from.display(),
        to.display(),
        report.pages,
        report.bytes
    );
    if !report.recorded {
        eprintln!(
            "warning: the database's schema is from before backups were kept in it (migrate it): \
             /ops/server and the metric do not know of this backup"
        );
    }
    if let (Some(folder), Some(keep)) = (&args.into, args.keep) {
        for removed in remove_older(folder, keep as usize)? {
            println!("removed {}", removed.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Removes the copies in `folder` named as [`NAMED`] past the newest `keep`, and what a killed
/// backup left of an older copy (its `.partial`): the paths removed. Nothing else is touched.
fn remove_older(folder: &Path, keep: usize) -> anyhow::Result<Vec<PathBuf>> {
    let mut copies = Vec::new();
    let mut partials = Vec::new();
    let entries = std::fs::read_dir(folder).with_context(|| format!("cannot list {}", folder.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", folder.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(at) = made_at(&name) {
            copies.push((at, entry.path()));
        } else if let Some(at) = name.strip_suffix(".partial").and_then(made_at) {
            partials.push((at, entry.path()));
        }
    }
    copies.sort();
    let newest = copies.last().map(|(at, _)| *at);
    let past = copies.len().saturating_sub(keep);
    let mut removed: Vec<PathBuf> = copies.into_iter().take(past).map(|(_, path)| path).collect();
    // A backup running now has a partial newer than every copy: it is left alone.
    removed.extend(
        partials
            .into_iter()
            .filter(|(at, _)| newest.is_some_and(|newest| *at < newest))
            .map(|(_, path)| path),
    );
    for path in &removed {
        std::fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_is_known_by_its_name_alone() {
        let at = made_at("warranty-gateway-20261207T031500Z.sqlite3").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-12-07T03:15:00+00:00");
        assert_eq!(
            made_at(&at.format(NAMED).to_string()),
            Some(at),
            "the name it is given is the name it is known by"
        );
        for other in [
            "warranty-gateway.sqlite3",
            "warranty-gateway-20261207T031500Z.sqlite3.partial",
            "warranty-gateway-20261207T031500Z.sqlite3-wal",
            "warranty-gateway-20261307T031500Z.sqlite3",
            "before-upgrade.sqlite3",
            "x-warranty-gateway-20261207T031500Z.sqlite3",
        ] {
            assert_eq!(made_at(other), None, "{other}");
        }
    }

    #[test]
    fn only_older_copies_past_the_newest_n_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "warranty-gateway-20261201T030000Z.sqlite3",
            "warranty-gateway-20261203T030000Z.sqlite3",
            "warranty-gateway-20261202T030000Z.sqlite3",
            "warranty-gateway-20261204T030000Z.sqlite3",
            // A killed backup's leftover, and one being written now.
            "warranty-gateway-20261202T040000Z.sqlite3.partial",
            "warranty-gateway-20261205T030000Z.sqlite3.partial",
            // Not ours.
            "before-upgrade.sqlite3",
            "notes.txt",
        ];
        for name in names {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let mut removed: Vec<String> = remove_older(dir.path(), 2)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        removed.sort();
        assert_eq!(
            removed,
            [
                "warranty-gateway-20261201T030000Z.sqlite3",
                "warranty-gateway-20261202T030000Z.sqlite3",
                "warranty-gateway-20261202T040000Z.sqlite3.partial",
            ]
        );
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "before-upgrade.sqlite3",
                "notes.txt",
                "warranty-gateway-20261203T030000Z.sqlite3",
                "warranty-gateway-20261204T030000Z.sqlite3",
                "warranty-gateway-20261205T030000Z.sqlite3.partial",
            ]
        );
        assert!(
            remove_older(dir.path(), 2).unwrap().is_empty(),
            "nothing more to remove"
        );
    }
}
