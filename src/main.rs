use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use warranty_gateway::auth::issue_token;
use warranty_gateway::config::{CONFIG_ENV, Config};
use warranty_gateway::startup::Application;
use warranty_gateway::telemetry;

/// A server for the ABS Partner Integration API v2.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The config file.
    #[arg(long, global = true, env = CONFIG_ENV, default_value = "config.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Print a bearer token the server accepts for a partner.
    Token {
        /// The partner's company, as in config.toml.
        #[arg(long)]
        company: String,
        /// Make the token expire after this many days (by default it does not expire).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(&cli.config)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            telemetry::init();
            actix_web::rt::System::new().block_on(async {
                Application::build(config).await?.run_until_stopped().await?;
                Ok(())
            })
        }
        Command::Token {
            company,
            expires_in_days,
        } => {
            let partner = config
                .partners
                .by_company(&company)
                .with_context(|| format!("no partner {company:?} in {}", cli.config.display()))?;
            let lifetime = expires_in_days.map(|d| chrono::Duration::days(d.into()));
            println!("{}", issue_token(partner, chrono::Utc::now(), lifetime)?);
            Ok(())
        }
    }
}
