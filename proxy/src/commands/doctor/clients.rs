//! The settings to paste into Open WebUI, Codex CLI, Continue and n8n for this instance, the
//! same as `docs/clients.md` with this instance's base URL filled in. The key is never
//! printed: it is named (`<your key>` or the gateway token it defaults to).

use std::io::{self, Write};

use clawshim_core::gateway::GatewayAuth;

use crate::config::Config;

/// The base URL clients use: HTTPS when it listens, else the plain listener; an unspecified
/// address becomes `<this host>`.
pub fn base_url(config: &Config) -> String {
    let (scheme, addr) = match (&config.tls, &config.listen) {
        (Some(tls), _) => ("https", tls.listen),
        (None, Some(addr)) => ("http", *addr),
        (None, None) => return "http://<this host>:8790/v1".into(),
    };
    let host = if addr.ip().is_unspecified() {
        "<this host>".to_string()
    } else {
        addr.ip().to_string()
    };
    let host = if addr.is_ipv6() && !addr.ip().is_unspecified() {
        format!("[{host}]")
    } else {
        host
    };
    format!("{scheme}://{host}:{}/v1", addr.port())
}

/// Print the client settings.
pub fn write(config: &Config, out: &mut dyn Write) -> io::Result<()> {
    let base = base_url(config);
    let key = if !config.keys.is_empty() {
        "<your key> (clawshim gen-key --name <client>)"
    } else if matches!(config.gateway.auth, GatewayAuth::Token(_))
        && config.api_tokens.len() == 1
        && config.gateway_discovered_from.is_none()
    {
        "<your key> (the gateway token, CLAWSHIM_GATEWAY_TOKEN)"
    } else if config.gateway_discovered_from.is_some() {
        "<your key> (the gateway's gateway.auth token, or an [auth] token / [[keys]] key)"
    } else {
        "<your key> (an [auth] token or a [[keys]] key)"
    };
    let model = "openclaw/main";
    writeln!(
        out,
        "\nClient settings for this instance (docs/clients.md has more):\n\
         \n  base URL  {base}\n  API key   {key}\n  models    {model}, openclaw/<agent id>, openclaw/default\n\
         \nOpen WebUI: Admin Panel > Settings > Connections > OpenAI API: URL {base}, key <your key>;\n  \
         or at first start: OPENAI_API_BASE_URL={base} OPENAI_API_KEY=<your key>\n\
         \nContinue (~/.continue/config.yaml):\n  \
         models:\n    - name: OpenClaw main\n      provider: openai\n      model: {model}\n      \
         apiBase: {base}\n      apiKey: <your key>\n      roles: [chat, edit, apply]\n\
         \nn8n: Credentials > New > OpenAI: API Key <your key>, Base URL {base};\n  \
         OpenAI Chat Model node, model {model}\n\
         \nCodex CLI (~/.codex/config.toml; Codex speaks the Responses API, see docs/clients.md):\n  \
         model = \"{model}\"\n  model_provider = \"clawshim\"\n  [model_providers.clawshim]\n  \
         name = \"clawshim\"\n  base_url = \"{base}\"\n  env_key = \"CLAWSHIM_API_KEY\"\n  \
         wire_api = \"responses\""
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::file::FileConfig;
    use crate::config::Settings;

    #[test]
    fn the_base_url_follows_the_listener() {
        let settings = Settings {
            gateway_token: Some("t".into()),
            listen: Some("0.0.0.0:9000".into()),
            ..Settings::default()
        };
        let c = Config::from_parts(&settings, FileConfig::default()).unwrap();
        assert_eq!(base_url(&c), "http://<this host>:9000/v1");
        let mut out = Vec::new();
        write(&c, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("apiBase: http://<this host>:9000/v1"),
            "{text}"
        );
        assert!(!text.contains(" t\n"), "{text}");
    }
}
