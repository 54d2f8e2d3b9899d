//! `clawshim doctor` end to end against the mock gateway: the exit status and the report's
//! lines for a good set-up, a wrong token, an unreachable gateway, a gateway whose frame
//! limit is below clawshim's body limit, and a zero-config set-up whose gateway also serves
//! its own OpenAI endpoint.

use std::collections::HashMap;
use std::path::PathBuf;

use clawshim_proxy::commands::doctor::diagnose;
use clawshim_proxy::config::discover::Environment;
use clawshim_proxy::config::Settings;
use clawshim_proxy::run::client_tools::ClientToolsMode;
use clawshim_tests::{free_port, mock, mock_with, MockOptions, Protocol, TOKEN, WAIT};

/// An environment without the machine's own gateway config.
struct Vars(HashMap<&'static str, String>);

impl Environment for Vars {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn no_local_gateway() -> Vars {
    Vars(HashMap::from([(
        "HOME",
        "/nonexistent-clawshim-doctor-home".to_string(),
    )]))
}

fn settings(gateway_url: &str, token: &str) -> Settings {
    Settings {
        listen: Some(format!("127.0.0.1:{}", free_port())),
        gateway_url: Some(gateway_url.to_string()),
        gateway_token: Some(token.to_string()),
        gateway_connect_timeout_secs: Some(5),
        threads: Some(1),
        ..Settings::default()
    }
}

/// Run the doctor (bounded by [`WAIT`]); the exit status and the report.
async fn doctor(settings: &Settings, env: &Vars) -> (i32, String) {
    let mut out = Vec::new();
    let status = tokio::time::timeout(WAIT, diagnose(settings, env, &mut out))
        .await
        .expect("doctor finishes");
    (status, String::from_utf8(out).expect("utf-8 report"))
}

fn line<'a>(report: &'a str, prefix: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{report}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_good_setup_passes_every_check_and_prints_client_settings() {
    let token = format!("tok-{}", uuid::Uuid::new_v4().simple());
    let gw = mock_with(MockOptions {
        protocol: Protocol::V4,
        token: Some(token.clone()),
        ..MockOptions::default()
    })
    .await;
    let s = settings(&gw.url(), &token);
    let (status, report) = doctor(&s, &no_local_gateway()).await;
    assert_eq!(status, 0, "{report}");
    assert!(
        line(&report, "[ok]   config:").contains(&gw.url()),
        "{report}"
    );
    line(&report, "[ok]   gateway reachable:");
    assert!(
        line(&report, "[ok]   protocol:").contains("protocol 4"),
        "{report}"
    );
    assert!(
        line(&report, "[ok]   credentials:").contains("token"),
        "{report}"
    );
    line(&report, "[ok]   device pairing:");
    assert!(
        line(&report, "[ok]   scopes:").contains("operator.admin"),
        "{report}"
    );
    assert!(
        line(&report, "[ok]   frame limit:").contains("25 MiB"),
        "{report}"
    );
    assert!(
        line(&report, "[ok]   listeners:").contains("this host only"),
        "{report}"
    );
    line(&report, "[ok]   client keys:");
    line(&report, "[skip] certificate:");
    line(&report, "[skip] built-in endpoints:");
    assert!(
        line(&report, "[ok]   real run:").contains("openclaw/default"),
        "{report}"
    );
    assert!(!report.contains("[FAIL]"), "{report}");
    line(&report, "All checks passed.");
    let base = format!(
        "{}/v1",
        s.listen.as_deref().map(|l| format!("http://{l}")).unwrap()
    );
    assert!(report.contains(&format!("apiBase: {base}")), "{report}");
    assert!(report.contains("OPENAI_API_BASE_URL="), "{report}");
    assert!(report.contains("[model_providers.clawshim]"), "{report}");
    assert!(report.contains("n8n:"), "{report}");
    assert!(
        !report.contains(&token),
        "the report shows a secret:\n{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_token_fails_the_credentials_check_with_its_fix() {
    let gw = mock(Protocol::V4).await;
    let (status, report) = doctor(&settings(&gw.url(), "wrong-token"), &no_local_gateway()).await;
    assert_eq!(status, 1, "{report}");
    line(&report, "[ok]   gateway reachable:");
    line(&report, "[FAIL] credentials:");
    assert!(
        line(&report, "       fix: set CLAWSHIM_GATEWAY_TOKEN").contains("gateway.auth.token"),
        "{report}"
    );
    line(&report, "[skip] real run:");
    line(&report, "1 check failed");
    assert!(!report.contains("wrong-token"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_gateway_fails_with_where_it_looked() {
    let port = free_port();
    let (status, report) = doctor(
        &settings(&format!("ws://127.0.0.1:{port}"), TOKEN),
        &no_local_gateway(),
    )
    .await;
    assert_eq!(status, 1, "{report}");
    assert!(
        line(&report, "[FAIL] gateway reachable:").contains(&format!("127.0.0.1:{port}")),
        "{report}"
    );
    assert!(
        line(&report, "       fix: start the gateway").contains("gateway.url"),
        "{report}"
    );
    line(&report, "[skip] scopes:");
    line(&report, "[skip] real run:");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frame_limit_below_the_body_limit_is_reported() {
    let gw = mock(Protocol::V3).await;
    let (status, report) = doctor(&settings(&gw.url(), TOKEN), &no_local_gateway()).await;
    assert_eq!(status, 1, "{report}");
    assert!(
        line(&report, "[ok]   protocol:").contains("protocol 3"),
        "{report}"
    );
    assert!(
        line(&report, "[FAIL] frame limit:").contains("512 KiB"),
        "{report}"
    );
    line(
        &report,
        "       fix: set limits.max_body_bytes (CLAWSHIM_MAX_BODY_BYTES) to 458752",
    );
    line(&report, "[ok]   real run:");

    let mut fitted = settings(&gw.url(), TOKEN);
    fitted.max_body_bytes = Some(458_752);
    let (status, report) = doctor(&fitted, &no_local_gateway()).await;
    assert_eq!(status, 0, "{report}");
    line(&report, "[ok]   frame limit:");
}

#[tokio::test(flavor = "multi_thread")]
async fn zero_config_finds_the_gateway_and_flags_its_own_openai_endpoint() {
    let gw = mock(Protocol::V4).await;
    let port = gw
        .url()
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches('/')
        .to_string();
    let home: PathBuf = std::env::temp_dir().join(format!(
        "clawshim-doctor-home-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(home.join(".openclaw")).unwrap();
    let file = home.join(".openclaw/openclaw.json");
    std::fs::write(
        &file,
        format!(
            "// written by the test\n{{ gateway: {{ port: {port}, bind: 'loopback',\n  \
             auth: {{ mode: 'token', token: '${{DOCTOR_GW_TOKEN}}' }},\n  \
             http: {{ endpoints: {{ chatCompletions: {{ enabled: true }}, }} }}, }} }}\n"
        ),
    )
    .unwrap();
    let env = Vars(HashMap::from([
        ("HOME", home.display().to_string()),
        ("DOCTOR_GW_TOKEN", TOKEN.to_string()),
    ]));
    // With client tools off, the chat endpoint is only a second door.
    let s = Settings {
        listen: Some(format!("127.0.0.1:{}", free_port())),
        threads: Some(1),
        client_tools: Some(ClientToolsMode::Off),
        ..Settings::default()
    };
    let (status, report) = doctor(&s, &env).await;
    assert_eq!(status, 1, "{report}");
    assert!(
        line(&report, "[ok]   config:").contains(&file.display().to_string()),
        "{report}"
    );
    line(&report, "[ok]   credentials:");
    line(&report, "[ok]   real run:");
    assert!(
        line(&report, "[FAIL] built-in endpoints:").contains("/v1/chat/completions"),
        "{report}"
    );
    assert!(
        line(
            &report,
            "       fix: set gateway.http.endpoints.chatCompletions.enabled to false"
        )
        .contains(&file.display().to_string()),
        "{report}"
    );
    let _ = std::fs::remove_dir_all(&home);
}

/// `client tools`: an openclaw with its chat endpoint on (the mock's, answering the probe)
/// whose config on this host leaves tool search on fails with the fix; with tool search off
/// it passes, and `built-in endpoints` passes too (the endpoint is what client tools use).
#[tokio::test(flavor = "multi_thread")]
async fn client_tools_need_the_chat_endpoint_and_tool_search_off() {
    let gw = mock_with(MockOptions {
        http_endpoint: true,
        ..MockOptions::for_protocol(Protocol::V4)
    })
    .await;
    let port = gw.addr().port();
    for (tools, ok) in [("", false), ("tools: { toolSearch: false },", true)] {
        let home: PathBuf = std::env::temp_dir().join(format!(
            "clawshim-doctor-home-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(home.join(".openclaw")).unwrap();
        std::fs::write(
            home.join(".openclaw/openclaw.json"),
            format!(
                "{{ {tools} gateway: {{ port: {port}, bind: 'loopback', auth: {{ mode: 'token', token: '{TOKEN}' }},\n  \
                 http: {{ endpoints: {{ chatCompletions: {{ enabled: true }} }} }} }} }}\n"
            ),
        )
        .unwrap();
        let env = Vars(HashMap::from([("HOME", home.display().to_string())]));
        let s = Settings {
            listen: Some(format!("127.0.0.1:{}", free_port())),
            threads: Some(1),
            ..Settings::default()
        };
        let (status, report) = doctor(&s, &env).await;
        line(&report, "[ok]   built-in endpoints:");
        if ok {
            assert_eq!(status, 0, "{report}");
            line(&report, "[ok]   client tools:");
        } else {
            assert_eq!(status, 1, "{report}");
            line(&report, "[FAIL] client tools:");
            line(&report, "       fix: set tools.toolSearch to false");
        }
        let _ = std::fs::remove_dir_all(&home);
    }
    // A gateway without the endpoint: tools are ignored, said as a skip with the way to turn
    // them on.
    let plain = mock(Protocol::V4).await;
    let (status, report) = doctor(&settings(&plain.url(), TOKEN), &no_local_gateway()).await;
    assert_eq!(status, 0, "{report}");
    assert!(
        line(&report, "[skip] client tools:")
            .contains("gateway.http.endpoints.chatCompletions.enabled"),
        "{report}"
    );
}
