//! The command line: one module per command, each with its flags (a clap `Args`) beside what it
//! does. `main.rs` parses and calls [`run`]; this module only dispatches.

mod backup;
mod check;
mod copy_data;
mod export;
mod import;
mod keygen;
mod migrate;
mod partners;
mod restore;
mod serve;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use anyhow::Context as _;

use crate::config::{CONFIG_ENV, Config, Partner};
use crate::scope::{Scope, Tenant};
use crate::telemetry::LogFormat;

/// Where the config file is looked for when neither --config nor WARRANTY_GATEWAY_CONFIG names
/// one: the current folder (a checkout), then the installed place.
const DEFAULT_CONFIGS: [&str; 2] = ["config.toml", "/etc/warranty-gateway/config.toml"];

/// A server for the ABS Partner Integration API v2.
#[derive(Parser)]
#[command(name = "warranty-gateway", version, about)]
pub struct Cli {
    /// The config file [default: ./config.toml, else /etc/warranty-gateway/config.toml].
    #[arg(long, global = true, env = CONFIG_ENV)]
    config: Option<PathBuf>,
    /// Log lines as text (the default) or JSON; overrides the config's server.log_format.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    /// Serve on this address (such as 0.0.0.0:8080) instead of the config's server.bind (as serve --bind).
    // Only `serve` listens: the option is its own (`serve --bind`, which reads the environment's
    // too), and here for the bare command, which serves.
    #[arg(long)]
    bind: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve(serve::Args),
    /// Print a bearer token the server accepts for a partner: v2 (HS256, with the partner's
    /// secret), or with --v3 a v3 token (ES256, signed with the partner's private key).
    Token(token::Args),
    /// Write a new P-256 key pair for a v3 partner into a folder: private.pem (for the
    /// partner, to sign its tokens) and public.pem (for v3_public_key_file in config.toml).
    Keygen(keygen::Args),
    /// List the configured partners and their credentials (never a secret), with each
    /// credential's end and when it last verified a token (read from the database).
    Partners,
    /// Bring the database up to this build's schema and exit (serve does it too, at start-up).
    Migrate,
    /// Say whether serve would start on this config, without starting it or changing anything:
    /// the config, the address, the HTTPS certificate, the database's schema (read, not
    /// migrated) and the partners' credentials. Exit code 0 when it would start, 1 when not
    /// (with --strict, also on a warning).
    Check(check::Args),
    /// Copy the database to a new file while the server runs (an online, consistent copy).
    Backup(backup::Args),
    /// Put a backup in the SQLite database's place, with the server stopped: the backup is
    /// checked first, and the database as it was is kept beside it (.before-restore-TIME).
    Restore(restore::Args),
    /// Copy the SQLite database (every record, the batch history, registration and batch ids)
    /// into an empty PostgreSQL database, to move to PostgreSQL. Stop the server first, or the
    /// batches it takes meanwhile stay behind.
    CopyData(copy_data::Args),
    /// Write a file of records for a partner, exactly as a POST would: a JSON batch (the POST
    /// body format) or a CSV file whose header row names the guide's fields, either of them
    /// gzip-compressed or not. Exit code 0 when every record was written (a file without
    /// records, said as such, included), 1 when some were, 2 when none were or the file is
    /// unusable.
    Import(import::Args),
    /// Write a partner's records of one type as CSV (the header row names the guide's fields, as
    /// import reads them back), optionally only those whose own date is within some days: for a
    /// report or a feed. Read in one snapshot, while the server runs.
    Export(export::Args),
}

/// `--company C [--test]`: a partner of the config, and which of its tenants (import, export).
#[derive(clap::Args)]
struct TenantArgs {
    /// The partner's company, as in config.toml.
    #[arg(long)]
    company: String,
    /// The partner's test tenant (what `<company>_test` reaches) instead of live.
    #[arg(long)]
    test: bool,
}

impl TenantArgs {
    /// The partner the config names `--company`, and the tenant's scope.
    fn resolve<'c>(&self, context: &Context, config: &'c Config) -> anyhow::Result<(&'c Partner, Scope)> {
        let company = &self.company;
        let partner = (config.partners.by_company(company))
            .with_context(|| format!("no partner {company:?} in {}", context.config_path.display()))?;
        let tenant = if self.test { Tenant::Test } else { Tenant::Live };
        let scope = Scope {
            partner_id: partner.partner_id,
            tenant,
        };
        Ok((partner, scope))
    }
}

/// What every command may need: the config, read when a command asks for it (keygen never does).
#[derive(Clone)]
struct Context {
    config_path: PathBuf,
    /// Neither --config nor WARRANTY_GATEWAY_CONFIG named it: it is the first of the defaults.
    config_by_default: bool,
    log_format: Option<LogFormat>,
    bind: Option<String>,
}

impl Context {
    /// The config file, with what the command line overrides (a reload reads it the same way).
    fn config(&self) -> anyhow::Result<Config> {
        if self.config_by_default && !self.config_path.exists() {
            anyhow::bail!(
                "no config file: there is neither ./{} nor {}; give --config FILE or set {CONFIG_ENV}",
                DEFAULT_CONFIGS[0],
                DEFAULT_CONFIGS[1]
            );
        }
        let mut config = Config::load(&self.config_path)?;
        if let Some(bind) = &self.bind {
            config.bind.clone_from(bind);
        }
        Ok(config)
    }

    /// `--log-format`, else the config's.
    fn log_format(&self, config: &Config) -> LogFormat {
        self.log_format.unwrap_or(config.log_format)
    }
}

/// Runs the command `cli` names: its exit code, or the error to print (exit code 2).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = match cli.command {
        Some(command) => command,
        None => Command::Serve(serve::Args::from_environment()?),
    };
    let context = Context {
        config_by_default: cli.config.is_none(),
        config_path: cli.config.unwrap_or_else(default_config),
        log_format: cli.log_format,
        // A --bind before the subcommand, else serve's (or the environment's).
        bind: match &command {
            Command::Serve(args) => cli.bind.or_else(|| args.bind.clone()),
            Command::Check(args) => cli.bind.or_else(|| args.bind.clone()),
            _ => None,
        },
    };
    match command {
        Command::Serve(_) => serve::run(&context),
        Command::Token(args) => token::run(&context, args),
        Command::Keygen(args) => keygen::run(args),
        Command::Partners => partners::run(&context),
        Command::Migrate => migrate::run(&context),
        Command::Check(args) => check::run(&context, &args),
        Command::Backup(args) => backup::run(&context, args),
        Command::Restore(args) => restore::run(&context, &args),
        Command::CopyData(args) => copy_data::run(&context, args),
        Command::Import(args) => import::run(&context, args),
        Command::Export(args) => export::run(&context, args),
    }
}

/// The first of [`DEFAULT_CONFIGS`] that exists; the first when none does (the error names it).
fn default_config() -> PathBuf {
    DEFAULT_CONFIGS
        .iter()
        .map(PathBuf::from)
        .find(|path| path.exists())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIGS[0]))
}
