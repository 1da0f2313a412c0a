//! `tsh-issuer serve` (the default): settings → telemetry → `Application::build` → run until
//! stopped, with SIGHUP reloading the rules.

use super::{load_settings, Cli, CliError};
use crate::signals;
use crate::startup::{Application, StartupError};

/// Runs the service until it stops. A configuration problem found while starting (keys, TLS
/// files, rules) is reported like any other bad configuration: exit code 2, the key named.
pub fn run(cli: &Cli) -> Result<(), CliError> {
    let settings = load_settings(cli)?;
    crate::telemetry::init(settings.log.format, &settings.log.level, std::io::stdout);
    let result = actix_web::rt::System::new().block_on(async move {
        let hangups = signals::listen_for_hangups();
        let app = Application::build(settings).map_err(|e| match e {
            StartupError::Config { .. } => CliError::usage(e.to_string()),
            other => CliError::runtime(other.to_string()),
        })?;
        actix_web::rt::spawn(signals::reload_rules_on_sighup(
            app.services().into_inner(),
            hangups,
        ));
        app.run_until_stopped()
            .await
            .map_err(|e| CliError::runtime(e.to_string()))
    });
    if let Err(e) = &result {
        tracing::error!(error = %e.message, "service stopped with an error");
    }
    result
}
