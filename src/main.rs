use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use warranty_gateway::auth::{generate_v3_key_pair, issue_token, issue_v3_token};
use warranty_gateway::config::{CONFIG_ENV, Config, Database, MIN_SECRET_BYTES};
use warranty_gateway::import;
use warranty_gateway::records::RecordKind;
use warranty_gateway::scope::{Scope, Tenant};
use warranty_gateway::startup::Application;
use warranty_gateway::store::{self, Store};
use warranty_gateway::telemetry::{self, LogFormat};

/// Rust's allocations go to mimalloc; SQLite keeps glibc's heap to itself. A batch makes and
/// drops hundreds of thousands of small values, and glibc spent a tenth of a 10k batch's
/// instructions sorting and merging their free chunks (callgrind: 100k instructions a record
/// became 92k).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A server for the ABS Partner Integration API v2.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
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
    Token {
        /// The partner's company, as in config.toml.
        #[arg(long)]
        company: String,
        /// Make the token expire after this many days (v2; by default it does not expire).
        #[arg(long, conflicts_with = "v3")]
        expires_in_days: Option<u32>,
        /// A v3 token: ES256, iss the partner's v3_issuer, aud the server's [v3] audience.
        #[arg(long, requires = "key")]
        v3: bool,
        /// v3: the partner's private key (PKCS#8 PEM, as `keygen` writes it).
        #[arg(long, requires = "v3")]
        key: Option<PathBuf>,
        /// v3: for the sandbox audience (the partner's test tenant).
        #[arg(long, requires = "v3")]
        sandbox: bool,
        /// v3: minutes until the token expires (at most 1440, 24 hours).
        #[arg(long, requires = "v3", default_value_t = 60,
              value_parser = clap::value_parser!(u32).range(1..=1440))]
        expires_in_minutes: u32,
    },
    /// Write a new P-256 key pair for a v3 partner into a folder: private.pem (for the
    /// partner, to sign its tokens) and public.pem (for v3_public_key_file in config.toml).
    Keygen {
        /// The folder (made if need be); existing key files are never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
    /// List the configured partners (never their secrets).
    Partners,
    /// Bring the database up to this build's schema and exit (serve does it too, at start-up).
    Migrate,
    /// Copy the database to a new file while the server runs (an online, consistent copy).
    Backup {
        /// The new file.
        #[arg(long)]
        to: PathBuf,
    },
    /// Copy the SQLite database (every record, the batch history, registration and batch ids)
    /// into an empty PostgreSQL database, to move to PostgreSQL. Stop the server first, or the
    /// batches it takes meanwhile stay behind.
    CopyData {
        /// The PostgreSQL database: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (it is
        /// migrated first; it must hold no records). Or from the environment.
        #[arg(long, env = "WARRANTY_GATEWAY_COPY_TO", hide_env_values = true)]
        to: String,
    },
    /// Write a file of records for a partner, exactly as a POST would: a JSON batch (the POST
    /// body format) or a CSV file whose header row names the guide's fields. Exit code 0 when
    /// every record was written, 1 when some were, 2 when none were or the file is unusable.
    Import {
        /// The partner's company, as in config.toml.
        #[arg(long)]
        company: String,
        /// Write to the partner's test tenant instead of live.
        #[arg(long)]
        test: bool,
        /// The record type of a CSV file (one type per file).
        #[arg(long = "type", value_parser = import::record_kind)]
        record_type: Option<RecordKind>,
        /// The file.
        path: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Keys are made before a partner is configured: no config needed.
    if let Some(Command::Keygen { out }) = &cli.command {
        keygen(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let config = Config::load(&cli.config)?;
    let log_format = cli.log_format.unwrap_or(config.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            telemetry::init(log_format);
            actix_web::rt::System::new().block_on(async {
                Application::build(config).await?.run_until_stopped().await?;
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Keygen { .. } => unreachable!("made above"),
        Command::Token {
            company,
            expires_in_days,
            v3,
            key,
            sandbox,
            expires_in_minutes,
        } => {
            let partner = config
                .partners
                .by_company(&company)
                .with_context(|| format!("no partner {company:?} in {}", cli.config.display()))?;
            if !v3 {
                let lifetime = expires_in_days.map(|d| chrono::Duration::days(d.into()));
                println!("{}", issue_token(partner, chrono::Utc::now(), lifetime)?);
                return Ok(ExitCode::SUCCESS);
            }
            let keys = partner.v3.as_ref().with_context(|| {
                format!("partner {company} is not on v3: give it v3_issuer and v3_public_key_file in config.toml")
            })?;
            let audiences = config.v3.as_ref().context("config.toml has no [v3] section")?;
            let audience = if sandbox {
                &audiences.sandbox_audience
            } else {
                &audiences.audience
            };
            let key = key.expect("clap requires --key with --v3");
            let pem = std::fs::read(&key).with_context(|| format!("cannot read {}", key.display()))?;
            let token = issue_v3_token(
                &keys.issuer,
                audience,
                &pem,
                chrono::Utc::now(),
                chrono::Duration::minutes(expires_in_minutes.into()),
            )
            .with_context(|| format!("{} is not a P-256 private key in PKCS#8 PEM", key.display()))?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Partners => {
            println!(
                "{:<24} {:>10} {:>6}  {:<20} secret",
                "company", "partner_id", "months", "timezone"
            );
            let mut short = Vec::new();
            for p in config.partners.iter() {
                let source = p
                    .secret_env
                    .as_ref()
                    .map_or("inline".to_owned(), |v| format!("from ${v}"));
                println!(
                    "{:<24} {:>10} {:>6}  {:<20} {source}",
                    p.company,
                    p.partner_id,
                    p.plan_term_months,
                    p.timezone.name()
                );
                if p.secret_is_short() {
                    short.push(p.company.clone());
                }
            }
            for company in short {
                eprintln!(
                    "warning: the secret of {company} is shorter than {MIN_SECRET_BYTES} bytes; \
                     use a long random one (openssl rand -hex 32)"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let database = &config.database;
            let applied =
                store::migrate(database).with_context(|| format!("cannot migrate the database {database}"))?;
            for m in &applied {
                println!("applied V{}__{}", m.version, m.name);
            }
            let latest = store::latest_migration();
            println!(
                "{database} is at V{}__{}{}",
                latest.version,
                latest.name,
                if applied.is_empty() { " (nothing to do)" } else { "" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::CopyData { to } => {
            let Database::Sqlite { path: from } = &config.database else {
                anyhow::bail!(
                    "copy-data copies from an SQLite database; {} is PostgreSQL already (use pg_dump to move it)",
                    config.database
                );
            };
            let target = Database::Postgres {
                url: to.clone(),
                pool_size: 1,
            };
            let report = store::copy_to_postgres(from, &to)
                .with_context(|| format!("cannot copy {} to {target}", from.display()))?;
            for (table, rows) in &report.tables {
                println!("{table}: {rows} rows");
            }
            println!("copied {} to {target}", from.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { to } => {
            let from = match &config.database {
                Database::Sqlite { path } => path,
                Database::Postgres { .. } => anyhow::bail!(
                    "backup copies an SQLite database; back PostgreSQL up with its own tools (pg_dump, or \
                     your provider's snapshots)"
                ),
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
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            company,
            test,
            record_type,
            path,
        } => {
            // Only warnings: the report below is the output.
            telemetry::init_quiet(log_format);
            let partner = config
                .partners
                .by_company(&company)
                .with_context(|| format!("no partner {company:?} in {}", cli.config.display()))?;
            let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            // Shown on a terminal only: indicatif draws nothing when stderr is redirected.
            let bar = ProgressBar::new(size).with_style(
                ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes}").expect("a valid template"),
            );
            bar.set_message("reading");
            let content = import::read_file(&path, |f| Box::new(bar.wrap_read(f)))?;
            let prepared = import::prepare(&path, content, record_type)?;
            bar.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("a valid template"));
            bar.set_message("checking and writing the records");
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            let store = Store::open(&config.database)
                .with_context(|| format!("cannot open the database {}", config.database))?;
            let scope = Scope {
                partner_id: partner.partner_id,
                tenant: if test { Tenant::Test } else { Tenant::Live },
            };
            let outcome = import::import(&store, partner, scope, &prepared, config.history_retention)?;
            bar.finish_and_clear();
            print!("{}", import::report(&outcome, prepared.csv_lines.as_deref()));
            Ok(ExitCode::from(import::exit_code(&outcome) as u8))
        }
    }
}

/// `keygen --out DIR`: a new P-256 key pair; the private key readable by its owner only.
fn keygen(out: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(out).with_context(|| format!("cannot make the folder {}", out.display()))?;
    let (private, public) = generate_v3_key_pair()?;
    for (name, pem, mode) in [("private.pem", &private, 0o600), ("public.pem", &public, 0o644)] {
        let path = out.join(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options
            .open(&path)
            .with_context(|| format!("cannot write {} (an existing key is never overwritten)", path.display()))?;
        file.write_all(pem.as_bytes())?;
        println!("wrote {}", path.display());
    }
    println!(
        "give private.pem to the partner (it signs their tokens); put public.pem in config.toml as \
         v3_public_key_file, with a v3_issuer"
    );
    Ok(())
}
