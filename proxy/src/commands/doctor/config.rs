//! The first check: the configuration loads and validates, the way `clawshim` itself loads
//! it (flags, environment, file, then the local gateway's config).

use super::check::Check;
use crate::config::discover::Environment;
use crate::config::{Config, Settings};

/// `config`: valid, and where the gateway settings came from.
pub fn check(settings: &Settings, env: &dyn Environment) -> (Check, Option<Config>) {
    match Config::load_with(settings, env) {
        Ok(config) => {
            let source = match (&config.gateway_discovered_from, &settings.config) {
                (Some(path), _) => format!(
                    "valid; gateway {} with the credential from the gateway's own config {}",
                    config.gateway.url,
                    path.display()
                ),
                (None, Some(file)) => {
                    format!("valid ({}); gateway {}", file.display(), config.gateway.url)
                }
                (None, None) => format!("valid; gateway {}", config.gateway.url),
            };
            (Check::pass("config", source), Some(config))
        }
        Err(e) => (
            Check::fail(
                "config",
                e.0.join("; "),
                "correct the settings named above (`clawshim --check-config` checks them alone); \
                 README \"Configuration\" lists every key",
            ),
            None,
        ),
    }
}
