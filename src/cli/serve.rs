//! `serve` (the default): the API, until stopped.

use std::process::ExitCode;

use super::Context;
use crate::startup::Application;
use crate::telemetry;

pub(super) fn run(context: &Context) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    telemetry::init(context.log_format(&config));
    let path = context.config_path.clone();
    actix_web::rt::System::new().block_on(async {
        let app = Application::build(config).await?;
        // SIGHUP re-reads the config file (partners, credentials, the certificate...).
        let reload = crate::startup::reload_on_hangup(app.reloader(), path);
        actix_web::rt::spawn(async move {
            if let Err(e) = reload.await {
                tracing::error!(error = %e, "SIGHUP cannot be listened for: reloads need a restart");
            }
        });
        app.run_until_stopped().await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
