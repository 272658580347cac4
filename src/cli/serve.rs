//! `serve` (the default): the API, until stopped.

use std::process::ExitCode;

use super::Context;
use crate::startup::Application;
use crate::telemetry;

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
