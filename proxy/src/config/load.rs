//! Loading the configuration: the file and the flags merged ([`super::merge`]) over the
//! local gateway's config ([`super::discover`]) and validated once ([`super::validate`]).

use std::path::Path;

use super::cli::Settings;
use super::discover;
use super::file::FileConfig;
use super::merge;
use super::validate;
use super::{Config, ConfigError};

impl Config {
    /// Load from the settings (flags/env) and the file they name, if any; when neither sets
    /// a gateway credential, the local gateway's own config ([`discover`]) is the lowest
    /// source.
    pub fn load(settings: &Settings) -> Result<Config, ConfigError> {
        Config::load_with(settings, &discover::ProcessEnv)
    }

    /// [`Config::load`] with the gateway's config looked up in `env`.
    pub fn load_with(
        settings: &Settings,
        env: &dyn discover::Environment,
    ) -> Result<Config, ConfigError> {
        let file = match &settings.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        if merge::has_explicit_credential(settings, &file) {
            return Config::from_parts(settings, file);
        }
        let local = discover::discover(env).map_err(|e| ConfigError(vec![e]))?;
        let result = Config::from_sources(settings, file, local.as_ref());
        match (result, local) {
            (Err(mut e), None) => {
                let looked: Vec<String> = discover::candidates(env)
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                e.0.push(format!(
                    "no local gateway config found (looked for {}); `clawshim demo` runs \
                     without a gateway",
                    looked.join(", ")
                ));
                Err(e)
            }
            (result, _) => result,
        }
    }

    /// Merge `settings` over `file` and validate (no local gateway config).
    pub fn from_parts(settings: &Settings, file: FileConfig) -> Result<Config, ConfigError> {
        Config::from_sources(settings, file, None)
    }

    /// Merge `settings` over `file` over the local gateway's config and validate.
    pub fn from_sources(
        settings: &Settings,
        file: FileConfig,
        local: Option<&discover::LocalGateway>,
    ) -> Result<Config, ConfigError> {
        validate::validate(merge::merge(settings, file, local))
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(vec![format!("config file {}: {e}", path.display())]))?;
    toml::from_str(&text)
        .map_err(|e| ConfigError(vec![format!("config file {}: {e}", path.display())]))
}
