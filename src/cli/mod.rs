//! The command line: one module per command, each with its flags (a clap `Args`) beside what it
//! does. `main.rs` parses and calls [`run`]; this module only dispatches.

mod backup;
mod copy_data;
mod import;
mod keygen;
mod migrate;
mod partners;
mod serve;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{CONFIG_ENV, Config};
use crate::telemetry::LogFormat;

/// A server for the ABS Partner Integration API v2.
#[derive(Parser)]
#[command(name = "warranty-gateway", version, about)]
pub struct Cli {
    /// The config file.
    #[arg(long, global = true, env = CONFIG_ENV, default_value = "config.toml")]
    config: PathBuf,
    /// Log lines as text (the default) or JSON; overrides the config's server.log_format.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Print a bearer token the server accepts for a partner: v2 (HS256, with the partner's
    /// secret), or with --v3 a v3 token (ES256, signed with the partner's private key).
    Token(token::Args),
    /// Write a new P-256 key pair for a v3 partner into a folder: private.pem (for the
    /// partner, to sign its tokens) and public.pem (for v3_public_key_file in config.toml).
    Keygen(keygen::Args),
    /// List the configured partners (never their secrets).
    Partners,
    /// Bring the database up to this build's schema and exit (serve does it too, at start-up).
    Migrate,
    /// Copy the database to a new file while the server runs (an online, consistent copy).
    Backup(backup::Args),
    /// Copy the SQLite database (every record, the batch history, registration and batch ids)
    /// into an empty PostgreSQL database, to move to PostgreSQL. Stop the server first, or the
    /// batches it takes meanwhile stay behind.
    CopyData(copy_data::Args),
    /// Write a file of records for a partner, exactly as a POST would: a JSON batch (the POST
    /// body format) or a CSV file whose header row names the guide's fields. Exit code 0 when
    /// every record was written, 1 when some were, 2 when none were or the file is unusable.
    Import(import::Args),
}

/// What every command may need: the config, read when a command asks for it (keygen never does).
struct Context {
    config_path: PathBuf,
    log_format: Option<LogFormat>,
}

impl Context {
    fn config(&self) -> anyhow::Result<Config> {
        Config::load(&self.config_path)
    }

    /// `--log-format`, else the config's.
    fn log_format(&self, config: &Config) -> LogFormat {
        self.log_format.unwrap_or(config.log_format)
    }
}

/// Runs the command `cli` names: its exit code, or the error to print (exit code 2).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let context = Context {
        config_path: cli.config,
        log_format: cli.log_format,
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve::run(&context),
        Command::Token(args) => token::run(&context, args),
        Command::Keygen(args) => keygen::run(args),
        Command::Partners => partners::run(&context),
        Command::Migrate => migrate::run(&context),
        Command::Backup(args) => backup::run(&context, args),
        Command::CopyData(args) => copy_data::run(&context, args),
        Command::Import(args) => import::run(&context, args),
    }
}
