//! The `client_tools` setting, on its own so the configuration can name it without
//! importing how a request with tools is run.

/// The `client_tools` setting (file, flag, environment; and per key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientToolsMode {
    /// Run client tools where the gateway can (openclaw with its chat endpoint on).
    #[default]
    Auto,
    /// Never: tools are ignored and the agent answers.
    Off,
}

impl ClientToolsMode {
    /// The stricter of the server's setting and a key's own.
    pub fn with_key(self, key: Option<ClientToolsMode>) -> ClientToolsMode {
        match (self, key) {
            (ClientToolsMode::Off, _) | (_, Some(ClientToolsMode::Off)) => ClientToolsMode::Off,
            _ => ClientToolsMode::Auto,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_wins_from_either_side() {
        use ClientToolsMode::*;
        assert_eq!(Auto.with_key(None), Auto);
        assert_eq!(Auto.with_key(Some(Auto)), Auto);
        assert_eq!(Auto.with_key(Some(Off)), Off);
        assert_eq!(Off.with_key(Some(Auto)), Off);
        assert_eq!(Off.with_key(None), Off);
    }
}
