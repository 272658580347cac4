//! `serve` (the default): the API, until stopped.

use std::process::ExitCode;

use super::Context;
use crate::startup::Application;
use crate::telemetry;

pub(super) fn run(context: &Context) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    telemetry::init(context.log_format(&config));
    actix_web::rt::System::new().block_on(async {
        Application::build(config).await?.run_until_stopped().await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
