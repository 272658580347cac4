//! `serve` (the default): the API, until stopped.

use std::process::ExitCode;

use super::Context;
use crate::config::BIND_ENV;
use crate::startup::Application;
use crate::telemetry;

#[derive(clap::Args)]
pub(super) struct Args {
    /// Listen on this address (such as 0.0.0.0:8080) instead of the config's server.bind.
    #[arg(long, env = BIND_ENV)]
    pub bind: Option<String>,
}

impl Args {
    /// The bare command's, which serves: no flags, so what the environment sets.
    pub fn from_environment() -> Result<Args, clap::Error> {
        use clap::{Args as _, FromArgMatches};
        let matches = Args::augment_args(clap::Command::new("serve")).try_get_matches_from(["serve"])?;
        Args::from_arg_matches(&matches)
    }
}

pub(super) fn run(context: &Context) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    telemetry::init(context.log_format(&config));
    let reread = context.clone();
    actix_web::rt::System::new().block_on(async {
        let hangups = crate::startup::hangups();
        let app = Application::build(config).await?;
        // SIGHUP re-reads the config file (partners, credentials, the certificate...), with the
        // command line's overrides as at start.
        match hangups {
            Ok(hangups) => {
                actix_web::rt::spawn(crate::startup::reload_on_hangup(hangups, app.reloader(), move || {
                    reread.config()
                }));
            }
            Err(e) => tracing::error!(error = %e, "SIGHUP cannot be listened for: reloads need a restart"),
        }
        app.run_until_stopped().await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
