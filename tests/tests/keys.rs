//! End-to-end: clawshim's own API keys (hashed in the config file), agent allowlists, rate
//! limits, session namespaces (every key has one; the owner's sessions are out of reach)
//! and failed-auth limiting per client IP.

use clawshim_tests::*;
use serde_json::{json, Value};

const KEY: &str = "csk-test-key-one";

fn config_file(body: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("clawshim-keys-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(&path, body).unwrap();
    path
}

/// A shim with `keys_toml`, and the gateway token listed as a shared token (once keys exist
/// it is a client credential only when listed).
async fn shim_with_keys(gw: &MockGateway, keys_toml: &str) -> Shim {
    let path = config_file(&format!("{keys_toml}\n[auth]\ntokens = [\"{TOKEN}\"]\n"));
    Shim::start_with(&gw.url(), move |s| s.config = Some(path), true).await
}

#[tokio::test]
async fn with_keys_the_gateway_token_is_a_client_credential_only_when_listed() {
    let gw = mock(Protocol::V4).await;
    let keys = format!(
        "[[keys]]\nname = \"laptop\"\nsha256 = \"{}\"\n",
        sha256_hex(KEY)
    );
    let path = config_file(&keys);
    let shim = Shim::start_with(&gw.url(), move |s| s.config = Some(path), true).await;
    assert_eq!(models_as(&shim, KEY).await.status(), 200);
    let r = models_as(&shim, TOKEN).await;
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_api_key", "{v}");
    drop(shim);
    let listed = shim_with_keys(&gw, &keys).await;
    assert_eq!(models_as(&listed, TOKEN).await.status(), 200);
    assert_eq!(models_as(&listed, KEY).await.status(), 200);
}

#[tokio::test]
async fn key_allowlist_limits_agents_and_models() {
    let gw = mock(Protocol::V4).await;
    let shim = shim_with_keys(
        &gw,
        &format!(
            "[[keys]]\nname = \"laptop\"\nsha256 = \"{}\"\nagents = [\"beta\"]\n",
            sha256_hex(KEY)
        ),
    )
    .await;
    assert_eq!(
        shim.chat_as(KEY, user_msg("openclaw/main", "hi"), &[])
            .await
            .status(),
        404
    );
    assert_eq!(
        shim.chat_as(KEY, user_msg("openclaw/beta", "hi"), &[])
            .await
            .status(),
        200
    );
    // No agent named: the key's first allowed agent, not the gateway default.
    assert_eq!(
        shim.chat_as(KEY, user_msg("gpt-4o", "hi"), &[])
            .await
            .status(),
        200
    );
    assert_eq!(run_params(&gw, "agentId"), vec!["beta", "beta"]);
    let list: Value = models_as(&shim, KEY).await.json().await.unwrap();
    let ids = model_ids(&list);
    assert!(
        ids.iter().any(|i| i == "openclaw/beta") && !ids.iter().any(|i| i == "openclaw/main"),
        "{ids:?}"
    );
    // The gateway token still works, for every agent.
    assert_eq!(
        shim.chat(user_msg("openclaw/main", "hi")).await.status(),
        200
    );
}

#[tokio::test]
async fn key_request_rate_gives_429_with_retry_after() {
    let gw = mock(Protocol::V3).await;
    let shim = shim_with_keys(
        &gw,
        &format!(
            "[[keys]]\nname = \"script\"\nsha256 = \"{}\"\nrequests_per_minute = 2\n",
            sha256_hex(KEY)
        ),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(
            shim.chat_as(KEY, user_msg("x", "hi"), &[]).await.status(),
            200
        );
    }
    let r = shim.chat_as(KEY, user_msg("x", "hi"), &[]).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "rate_limit_error");
    // The message names the limit that was hit, not runs in flight.
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("requests per minute"), "{v}");
    assert!(!message.contains("in flight"), "{v}");
}

#[tokio::test]
async fn key_concurrent_runs_limit() {
    let gw = mock(Protocol::V4).await;
    let shim = shim_with_keys(
        &gw,
        &format!(
            "[[keys]]\nname = \"one-at-a-time\"\nsha256 = \"{}\"\nmax_concurrent_runs = 1\n",
            sha256_hex(KEY)
        ),
    )
    .await;
    let hanging = shim.chat_as(KEY, stream_msg("x", "MOCK_HANG"), &[]).await;
    assert_eq!(hanging.status(), 200);
    let mut stream = BodyReader::new(hanging);
    stream.chunk().await;
    assert_eq!(
        shim.chat_as(KEY, user_msg("x", "hi"), &[]).await.status(),
        429
    );
    drop(stream);
    // The slot frees once the client is gone.
    poll_until("the key's run slot freed", || async {
        match shim.chat_as(KEY, user_msg("x", "hi"), &[]).await.status() {
            s if s == 200 => Ok(()),
            s => Err(s),
        }
    })
    .await;
}

#[tokio::test]
async fn key_session_namespace_confines_sessions() {
    let gw = mock(Protocol::V3).await;
    let shim = shim_with_keys(
        &gw,
        &format!(
            "[[keys]]\nname = \"bot\"\nsha256 = \"{}\"\nsession_namespace = \"bot\"\n",
            sha256_hex(KEY)
        ),
    )
    .await;
    let mut body = user_msg("x", "hi");
    body["user"] = json!("Carol");
    assert_eq!(shim.chat_as(KEY, body, &[]).await.status(), 200);
    assert_eq!(
        shim.chat_as(KEY, user_msg("x", "hi"), &[]).await.status(),
        200
    );
    let ok = shim
        .chat_as(
            KEY,
            user_msg("x", "hi"),
            &[("x-openclaw-session-key", "agent:main:bot:mine")],
        )
        .await;
    assert_eq!(ok.status(), 200);
    let outside = shim
        .chat_as(
            KEY,
            user_msg("x", "hi"),
            &[("x-openclaw-session-key", "agent:main:main")],
        )
        .await;
    assert_eq!(outside.status(), 403);
    let keys = run_params(&gw, "sessionKey");
    assert_eq!(keys[0], "agent:main:bot:user:carol");
    assert!(keys[1].starts_with("agent:main:bot:"));
    assert_eq!(keys[2], "agent:main:bot:mine");
    assert_eq!(keys.len(), 3);
}

#[tokio::test]
async fn a_key_cannot_reach_the_owners_sessions() {
    let gw = mock(Protocol::V4).await;
    // No session_namespace: the key still gets one, from its name.
    let shim = shim_with_keys(
        &gw,
        &format!(
            "[[keys]]\nname = \"Open WebUI\"\nsha256 = \"{}\"\n",
            sha256_hex(KEY)
        ),
    )
    .await;
    for owner in [
        "agent:main:main",
        "main",
        "global",
        "agent:main:whatsapp:dm:+15551234567",
        "AGENT:MAIN:MAIN",
    ] {
        let r = shim
            .chat_as(
                KEY,
                user_msg("openclaw/main", "read the owner's chat"),
                &[("x-openclaw-session-key", owner)],
            )
            .await;
        assert_eq!(r.status(), 403, "{owner}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["type"], "permission_error", "{owner}");
        assert_eq!(v["error"]["code"], "permission_denied", "{owner}");
    }
    assert!(run_params(&gw, "sessionKey").is_empty(), "no run may start");
    // Inside its own namespace the key works.
    let own = shim
        .chat_as(
            KEY,
            user_msg("openclaw/main", "hi"),
            &[("x-openclaw-session-key", "agent:main:open-webui:notes")],
        )
        .await;
    assert_eq!(own.status(), 200);
    // The operator's shared token keeps reaching any session.
    let r = shim
        .chat_with(
            user_msg("openclaw/main", "hi"),
            &[("x-openclaw-session-key", "agent:main:main")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        run_params(&gw, "sessionKey"),
        vec!["agent:main:open-webui:notes", "agent:main:main"]
    );
}

#[tokio::test]
async fn two_keys_with_the_same_user_get_different_sessions() {
    const OTHER: &str = "csk-test-key-two";
    let gw = mock(Protocol::V3).await;
    let shim = shim_with_keys(
        &gw,
        &format!(
            "[[keys]]\nname = \"laptop\"\nsha256 = \"{}\"\n\
             [[keys]]\nname = \"phone\"\nsha256 = \"{}\"\n",
            sha256_hex(KEY),
            sha256_hex(OTHER)
        ),
    )
    .await;
    let mut body = user_msg("openclaw/main", "hi");
    body["user"] = json!("alice");
    for key in [KEY, OTHER, KEY] {
        assert_eq!(shim.chat_as(key, body.clone(), &[]).await.status(), 200);
    }
    let keys = run_params(&gw, "sessionKey");
    assert_eq!(
        keys,
        vec![
            "agent:main:laptop:user:alice",
            "agent:main:phone:user:alice",
            "agent:main:laptop:user:alice"
        ]
    );
}

#[test]
fn reserved_or_shared_namespaces_stop_the_start() {
    use clawshim_proxy::config::{Config, Settings};
    let hash = sha256_hex(KEY);
    for (entries, expected) in [
        (
            format!("[[keys]]\nname = \"main\"\nsha256 = \"{hash}\"\n"),
            "`main` is reserved",
        ),
        (
            format!(
                "[[keys]]\nname = \"a\"\nsha256 = \"{hash}\"\nsession_namespace = \"telegram\"\n"
            ),
            "`telegram` is reserved",
        ),
        (
            format!(
                "[[keys]]\nname = \"a\"\nsha256 = \"{hash}\"\nsession_namespace = \"b\"\n\
                 [[keys]]\nname = \"b\"\nsha256 = \"{hash}\"\n"
            ),
            "session namespace `b` is already another key's",
        ),
    ] {
        let path = config_file(&entries);
        let err = Config::load(&Settings {
            config: Some(path),
            gateway_token: Some("t".into()),
            ..Settings::default()
        })
        .expect_err("refused at start");
        assert!(err.to_string().contains(expected), "{err}");
    }
}

#[tokio::test]
async fn repeated_bad_credentials_from_one_ip_get_429() {
    let gw = mock(Protocol::V4).await;
    let path = config_file("[auth]\nmax_failed_attempts = 3\nfailed_window_secs = 60\n");
    let shim = Shim::start_with(&gw.url(), move |s| s.config = Some(path), true).await;
    for _ in 0..3 {
        assert_eq!(
            shim.chat_as("guess", user_msg("x", "hi"), &[])
                .await
                .status(),
            401
        );
    }
    // Blocked now, even with the right token, until the window ends.
    let r = shim.chat_as(TOKEN, user_msg("x", "hi"), &[]).await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn a_valid_credential_never_resets_the_failure_count() {
    // 9 bad guesses, 1 good request, then guessing again: the 10th failure blocks the
    // address; a success in between must not have cleared the first nine.
    let gw = mock(Protocol::V4).await;
    let path = config_file("[auth]\nmax_failed_attempts = 10\nfailed_window_secs = 600\n");
    let shim = Shim::start_with(&gw.url(), move |s| s.config = Some(path), true).await;
    for _ in 0..9 {
        let r = models_as(&shim, "guess").await;
        assert_eq!(r.status(), 401);
    }
    let r = models_as(&shim, TOKEN).await;
    assert_eq!(r.status(), 200);
    let r = models_as(&shim, "guess").await;
    assert_eq!(r.status(), 401);
    let r = models_as(&shim, "guess").await;
    assert_eq!(r.status(), 429, "the walk-around still works");
    let r = models_as(&shim, TOKEN).await;
    assert_eq!(r.status(), 429);
}

/// `GET /v1/models` with `token`, as a proxy on loopback forwarding for `forwarded_for`.
async fn models_via_proxy(shim: &Shim, token: &str, forwarded_for: &str) -> u16 {
    client()
        .get(shim.url("/v1/models"))
        .bearer_auth(token)
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn behind_a_trusted_proxy_failures_count_per_forwarded_client() {
    let gw = mock(Protocol::V4).await;
    let path = config_file(
        "[auth]\nmax_failed_attempts = 3\nfailed_window_secs = 600\n\
         [server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n",
    );
    let shim = Shim::start_with(&gw.url(), move |s| s.config = Some(path), true).await;
    for _ in 0..3 {
        // What the client put in the header itself (left) is not believed.
        assert_eq!(
            models_via_proxy(&shim, "guess", "198.51.100.1, 203.0.113.7").await,
            401
        );
    }
    assert_eq!(models_via_proxy(&shim, TOKEN, "203.0.113.7").await, 429);
    // Other clients of the same proxy, and the proxy's own host, are not blocked.
    assert_eq!(models_via_proxy(&shim, TOKEN, "198.51.100.1").await, 200);
    assert_eq!(models_via_proxy(&shim, TOKEN, "127.0.0.1").await, 200);
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    // No trusted proxies: a client cannot pick a fresh address per guess.
    let gw = mock(Protocol::V4).await;
    let path = config_file("[auth]\nmax_failed_attempts = 3\nfailed_window_secs = 600\n");
    let shim = Shim::start_with(&gw.url(), move |s| s.config = Some(path), true).await;
    for i in 0..3 {
        assert_eq!(
            models_via_proxy(&shim, "guess", &format!("203.0.113.{i}")).await,
            401
        );
    }
    assert_eq!(models_via_proxy(&shim, TOKEN, "203.0.113.99").await, 429);
}

#[test]
fn bad_key_entries_are_config_errors() {
    use clawshim_proxy::config::{Config, Settings};
    let path = config_file(
        "[[keys]]\nname = \"x\"\nsha256 = \"nothex\"\n[[keys]]\nname = \"x\"\nsha256 = \"00\"\n",
    );
    let err = Config::load(&Settings {
        config: Some(path),
        gateway_token: Some("t".into()),
        ..Settings::default()
    })
    .expect_err("invalid keys are refused");
    let text = err.to_string();
    assert!(text.contains("sha256 must be 64 hex digits"), "{text}");
    assert!(text.contains("duplicate name"), "{text}");
}

/// `GET /v1/models` with `token` as the bearer.
async fn models_as(shim: &Shim, token: &str) -> reqwest::Response {
    client()
        .get(shim.url("/v1/models"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}
