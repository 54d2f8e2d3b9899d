//! `clawshim demo`: clawshim in front of the built-in in-process echo gateway, so a fresh
//! machine shows a working endpoint with no gateway installed. The echo gateway replays frame
//! sequences recorded from real gateways (protocol v4), so the shim runs its real code path.

use std::thread;

use clawshim_mock_gateway::{MockGateway, MockOptions, Protocol};

use crate::config::{Config, Settings};

/// Client token of the demo (also the echo gateway's token).
pub const DEMO_TOKEN: &str = "demo";

/// Start the echo gateway on its own thread and return settings pointing at it.
pub fn start(settings: &Settings) -> Result<(Settings, thread::JoinHandle<()>), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = thread::Builder::new()
        .name("demo-gateway".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("demo runtime");
            rt.block_on(async move {
                let opts = MockOptions {
                    protocol: Protocol::V4,
                    token: Some(DEMO_TOKEN.to_string()),
                    ..MockOptions::default()
                };
                match MockGateway::start(opts).await {
                    Ok(gw) => {
                        let _ = tx.send(Ok(gw.url()));
                        std::future::pending::<()>().await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                    }
                }
            });
        })
        .map_err(|e| e.to_string())?;
    let url = rx
        .recv()
        .map_err(|_| "demo gateway thread died".to_string())??;
    // Everything the user set still applies, except what points at a real gateway.
    let demo = Settings {
        gateway_url: Some(url),
        gateway_token: Some(DEMO_TOKEN.to_string()),
        gateway_password: None,
        // The in-process demo gateway is local: no device identity.
        device_identity: None,
        api_tokens: Some(vec![DEMO_TOKEN.to_string()]),
        passthrough: Some(false),
        config: None,
        ..settings.clone()
    };
    Ok((demo, handle))
}

/// Tell the user how to try it.
pub fn print_banner(config: &Config) {
    let base = match (&config.listen, &config.tls) {
        (Some(addr), _) => format!("http://{addr}"),
        (None, Some(tls)) => format!("https://{}", tls.listen),
        (None, None) => String::new(),
    };
    println!(
        "clawshim demo: an OpenAI-compatible endpoint backed by a built-in echo gateway.\n\
         \n  curl -s {base}/v1/chat/completions -H 'Authorization: Bearer {DEMO_TOKEN}' \\\n    \
         -H 'Content-Type: application/json' \\\n    \
         -d '{{\"model\":\"openclaw/main\",\"messages\":[{{\"role\":\"user\",\"content\":\"hello\"}}]}}'\n\
         \n  OpenAI SDKs: base_url={base}/v1  api_key={DEMO_TOKEN}\n"
    );
}
