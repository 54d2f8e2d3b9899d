//! End-to-end TLS: the HTTPS listener over HTTP/1.1 and HTTP/2 (ALPN), certificate reload
//! without dropping open connections, PEM problems as configuration errors, and a `wss://`
//! gateway trusted through a CA file (the mock gateway behind a TLS front).
//!
//! Certificates are generated per test with rcgen: a CA and a leaf for `127.0.0.1` and
//! `localhost` signed by it, written to a fresh temporary directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use clawshim_proxy::config::{Config, Settings};
use clawshim_tests::*;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use reqwest::Version;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

/// A CA and a leaf certificate it signed, as PEM files.
struct Pki {
    dir: PathBuf,
    ca_pem: String,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Pki {
    fn new(tag: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!(
            "clawshim-tls-test-{tag}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("clawshim test CA {tag}"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf_params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        let pki = Pki {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            ca_pem: ca_cert.pem(),
            dir,
        };
        std::fs::write(&pki.ca, &pki.ca_pem).unwrap();
        std::fs::write(&pki.cert, leaf.pem()).unwrap();
        std::fs::write(&pki.key, leaf_key.serialize_pem()).unwrap();
        // clawshim refuses a key other users can read.
        #[cfg(unix)]
        std::fs::set_permissions(
            &pki.key,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        pki
    }

    /// Put this leaf and key at `other`'s paths, as an operator renewing a certificate does.
    fn install_over(&self, other: &Pki) {
        std::fs::copy(&self.key, &other.key).unwrap();
        std::fs::copy(&self.cert, &other.cert).unwrap();
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An HTTPS client trusting only `ca_pem`.
fn https_client(ca_pem: &str, version: Option<Version>) -> reqwest::Client {
    let b = reqwest::Client::builder()
        .timeout(WAIT)
        .https_only(true)
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap());
    let b = match version {
        Some(Version::HTTP_11) => b.http1_only(),
        Some(Version::HTTP_2) => b.http2_prior_knowledge(),
        _ => b,
    };
    b.build().unwrap()
}

/// Start clawshim with a plain listener (for the harness' readiness check) and an HTTPS one.
async fn shim_with_tls(gateway_url: &str, pki: &Pki) -> (Shim, String) {
    shim_with_tls_and(gateway_url, pki, |_| {}).await
}

/// [`shim_with_tls`] with settings adjusted by `tweak`.
async fn shim_with_tls_and(
    gateway_url: &str,
    pki: &Pki,
    tweak: impl FnOnce(&mut Settings),
) -> (Shim, String) {
    let port = free_port();
    let (cert, key) = (pki.cert.clone(), pki.key.clone());
    let shim = Shim::start_with(
        gateway_url,
        |s| {
            s.listeners.tls_listen = Some(format!("127.0.0.1:{port}"));
            s.listeners.tls_cert = Some(cert);
            s.listeners.tls_key = Some(key);
            tweak(s);
        },
        true,
    )
    .await;
    (shim, format!("https://127.0.0.1:{port}"))
}

async fn chat(client: &reqwest::Client, base: &str, body: Value) -> reqwest::Response {
    tokio::time::timeout(
        WAIT,
        client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(TOKEN)
            .json(&body)
            .send(),
    )
    .await
    .expect("answer within the wait")
    .expect("request over TLS")
}

async fn non_stream_and_stream(client: &reqwest::Client, base: &str, want: Version) {
    let resp = chat(client, base, user_msg("openclaw/main", "hello over tls")).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), want);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "echo: hello over tls"
    );

    let mut body = user_msg("openclaw/main", "streamed over tls");
    body["stream"] = json!(true);
    let resp = chat(client, base, body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), want);
    let text = tokio::time::timeout(WAIT, resp.text())
        .await
        .unwrap()
        .unwrap();
    let events = parse_sse(&text);
    assert_eq!(events.last(), Some(&Sse::Done));
    assert_eq!(streamed_text(&events), "echo: streamed over tls");
}

#[tokio::test]
async fn https_serves_chat_over_http1_and_http2() {
    let pki = Pki::new("h1h2");
    let gw = mock(Protocol::V4).await;
    let (_shim, base) = shim_with_tls(&gw.url(), &pki).await;

    non_stream_and_stream(
        &https_client(&pki.ca_pem, Some(Version::HTTP_11)),
        &base,
        Version::HTTP_11,
    )
    .await;
    non_stream_and_stream(
        &https_client(&pki.ca_pem, Some(Version::HTTP_2)),
        &base,
        Version::HTTP_2,
    )
    .await;
    // A client that offers both gets HTTP/2 by ALPN.
    let resp = https_client(&pki.ca_pem, None)
        .get(format!("{base}/v1/models"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), Version::HTTP_2);
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_is_refused() {
    let pki = Pki::new("trusted");
    let stranger = Pki::new("stranger");
    let gw = mock(Protocol::V4).await;
    let (_shim, base) = shim_with_tls(&gw.url(), &pki).await;
    let err = https_client(&stranger.ca_pem, None)
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
}

#[tokio::test]
async fn reload_serves_the_new_certificate_and_keeps_open_connections() {
    let old = Pki::new("old");
    let new = Pki::new("new");
    let gw = mock(Protocol::V4).await;
    let (_shim, base) = shim_with_tls(&gw.url(), &old).await;

    // One HTTP/2 connection, opened with the old certificate and kept by the client.
    let before = https_client(&old.ca_pem, Some(Version::HTTP_2));
    let r = chat(&before, &base, user_msg("openclaw/main", "before")).await;
    assert_eq!(r.status(), 200);

    new.install_over(&old);
    assert_eq!(reload(&old.cert), Ok(()));

    // New handshakes present the new certificate...
    let after = https_client(&new.ca_pem, None);
    let r = chat(&after, &base, user_msg("openclaw/main", "after")).await;
    assert_eq!(r.status(), 200);
    let err = https_client(&old.ca_pem, None)
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "old CA must no longer verify: {err:?}");
    // ...while the connection opened before the reload still works: a new handshake from
    // this client would fail (it trusts only the old CA), so success means it was reused.
    let r = chat(&before, &base, user_msg("openclaw/main", "still here")).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "echo: still here");
}

#[tokio::test]
async fn a_bad_certificate_file_on_reload_keeps_the_old_one() {
    let pki = Pki::new("keep");
    let gw = mock(Protocol::V4).await;
    let (_shim, base) = shim_with_tls(&gw.url(), &pki).await;
    std::fs::write(&pki.cert, "not a certificate\n").unwrap();
    let err = reload(&pki.cert).unwrap_err();
    assert!(err.contains("no PEM certificate"), "{err}");
    let r = https_client(&pki.ca_pem, None)
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// Reload every listener (other tests' too, which is harmless) and return this one's result.
fn reload(cert: &Path) -> Result<(), String> {
    clawshim_proxy::front_door::tls::reload_all()
        .into_iter()
        .find(|(path, _)| path == cert)
        .map(|(_, r)| r)
        .expect("a listener with this certificate")
}

fn settings_with_tls(cert: &Path, key: &Path) -> Settings {
    let mut s = Settings {
        gateway_token: Some(TOKEN.to_string()),
        ..Settings::default()
    };
    s.listeners.tls_listen = Some("127.0.0.1:8443".into());
    s.listeners.tls_cert = Some(cert.to_path_buf());
    s.listeners.tls_key = Some(key.to_path_buf());
    s
}

#[test]
fn bad_pem_paths_are_configuration_errors() {
    let err = Config::load(&settings_with_tls(
        Path::new("/nonexistent/clawshim/cert.pem"),
        Path::new("/nonexistent/clawshim/key.pem"),
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("invalid configuration"), "{err}");
    assert!(err.contains("/nonexistent/clawshim/cert.pem"), "{err}");

    let pki = Pki::new("badpem");
    let garbage = pki.dir.join("garbage.pem");
    std::fs::write(&garbage, "-----BEGIN NONSENSE-----\nxx\n").unwrap();
    let err = Config::load(&settings_with_tls(&garbage, &pki.key))
        .unwrap_err()
        .to_string();
    assert!(err.contains("garbage.pem"), "{err}");

    // A certificate with somebody else's key.
    let other = Pki::new("otherkey");
    let err = Config::load(&settings_with_tls(&pki.cert, &other.key))
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not fit"), "{err}");

    // A key file given as the certificate.
    let err = Config::load(&settings_with_tls(&pki.key, &pki.key))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no PEM certificate"), "{err}");

    // A CA file for a plain ws:// gateway, and an unreadable one for wss://.
    let mut s = settings_with_tls(&pki.cert, &pki.key);
    s.listeners.gateway_ca_file = Some(pki.ca.clone());
    let err = Config::load(&s).unwrap_err().to_string();
    assert!(err.contains("ws://"), "{err}");
    s.gateway_url = Some("wss://127.0.0.1:1/".into());
    s.listeners.gateway_ca_file = Some("/nonexistent/ca.pem".into());
    let err = Config::load(&s).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");

    // And the good pair loads, with or without the plain listener.
    s.listeners.gateway_ca_file = Some(pki.ca.clone());
    s.listen = Some("off".into());
    let c = Config::load(&s).unwrap();
    assert!(c.listen.is_none());
    assert_eq!(c.tls.unwrap().listen.port(), 8443);
}

/// A TLS terminator in front of the (plain) mock gateway: `wss://` for the shim.
struct TlsFront {
    addr: SocketAddr,
    /// Handshakes that failed (the client refused our certificate, or spoke no TLS).
    failures: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn tls_front(pki: &Pki, backend: SocketAddr) -> TlsFront {
    use rustls_pki_types::pem::PemObject;
    let certs = rustls_pki_types::CertificateDer::pem_file_iter(&pki.cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_file(&pki.key).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let failures = Arc::new(AtomicUsize::new(0));
    let fails = failures.clone();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let fails = fails.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    fails.fetch_add(1, Ordering::SeqCst);
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    TlsFront {
        addr,
        failures,
        task,
    }
}

#[tokio::test]
async fn wss_gateway_verified_with_a_ca_file() {
    let pki = Pki::new("gw");
    let gw = mock(Protocol::V4).await;
    let front = tls_front(&pki, gw.addr()).await;
    let ca = pki.ca.clone();
    let shim = Shim::start_with(
        &format!("wss://{}", front.addr),
        |s| s.listeners.gateway_ca_file = Some(ca),
        true,
    )
    .await;
    let resp = shim.chat(user_msg("openclaw/main", "over wss")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "echo: over wss");

    // Passthrough to the same gateway goes over TLS too, verified with the same CA: a
    // WebSocket client on the shim's plain port completes the gateway handshake.
    let hello = ws_connect_through(&shim.base).await;
    assert_eq!(hello["type"], "res");
    assert_eq!(hello["ok"], true, "{hello}");
    assert_eq!(front.failures.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn wss_gateway_with_an_untrusted_certificate_is_never_connected() {
    let pki = Pki::new("gwbad");
    let other = Pki::new("gwother");
    let gw = mock(Protocol::V4).await;
    let front = tls_front(&pki, gw.addr()).await;
    let ca = other.ca.clone();
    let shim = Shim::start_with(
        &format!("wss://{}", front.addr),
        |s| s.listeners.gateway_ca_file = Some(ca),
        false,
    )
    .await;
    // Wait for the shim's first refused handshake (the client aborts it with an alert).
    wait_until("a TLS attempt seen", || {
        front.failures.load(Ordering::SeqCst) > 0
    })
    .await;
    assert_eq!(gw.total_connects(), 0);
    let r = client().get(shim.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
}

/// Open a WebSocket to the gateway through the shim (`ws://shim/`), do the `connect`
/// handshake and return the `hello-ok` response frame.
async fn ws_connect_through(base: &str) -> Value {
    let url = base.replacen("http://", "ws://", 1) + "/";
    let mut ws = ws_open(url).await.expect("upgrade through the shim");
    let challenge = next_json(&mut ws).await.expect("challenge");
    assert_eq!(challenge["event"], "connect.challenge", "{challenge}");
    let connect = json!({
        "type": "req", "id": "c1", "method": "connect",
        "params": {
            "minProtocol": 3, "maxProtocol": 4,
            "client": {"id": "gateway-client", "version": "test", "platform": "linux", "mode": "backend"},
            "role": "operator", "scopes": ["operator.read", "operator.write"],
            "auth": {"token": TOKEN}
        }
    });
    send_json(&mut ws, &connect).await.expect("connect sent");
    response(&mut ws, "c1").await.expect("connect answered")
}

/// Poll `base/readyz` with `client` until it answers 200.
async fn ready_through(client: &reqwest::Client, base: &str, what: &str) {
    let url = format!("{base}/readyz");
    poll_until(what, || {
        let probe = client.get(&url).send();
        async move {
            match probe.await {
                Ok(r) if r.status() == 200 => Ok(()),
                Ok(r) => Err(r.status().to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
    })
    .await
}

/// A server run on its own thread with a shutdown channel (the harness' `Shim` cannot take
/// over sockets).
struct Running {
    shutdown: Option<tokio::sync::oneshot::Sender<pingora::server::ShutdownSignal>>,
    done: std::sync::mpsc::Receiver<()>,
}

impl Running {
    /// Build and run `settings` on a thread; with `--upgrade` the build itself waits for
    /// the old server's sockets, so it happens on that thread too.
    fn start(settings: Settings) -> Running {
        let config = Config::load(&settings).expect("valid config");
        let (watch, shutdown) = clawshim_proxy::ChannelShutdown::new();
        let (done_tx, done) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            clawshim_proxy::build_server(config).run(watch.into_run_args());
            let _ = done_tx.send(());
        });
        Running {
            shutdown: Some(shutdown),
            done,
        }
    }

    fn signal(&mut self, signal: pingora::server::ShutdownSignal) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(signal);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.signal(pingora::server::ShutdownSignal::FastShutdown);
        let _ = self.done.recv_timeout(WAIT);
    }
}

#[tokio::test]
async fn graceful_upgrade_hands_over_the_sockets_with_a_new_certificate() {
    let (old_pki, new_pki) = (Pki::new("upgrade-old"), Pki::new("upgrade-new"));
    // Slow deltas: a 200-delta reply outlasts pingora's 5 s hand-over window.
    let gw = mock_with(MockOptions {
        token: Some(TOKEN.to_string()),
        chunk_delay: std::time::Duration::from_millis(30),
        ..MockOptions::for_protocol(Protocol::V4)
    })
    .await;
    let (plain, https) = (free_port(), free_port());
    let sock = old_pki.dir.join("upgrade.sock");
    let pid_file = new_pki.dir.join("clawshim.pid");
    let settings = |pki: &Pki, upgrade: bool| {
        let mut s = Settings {
            listen: Some(format!("127.0.0.1:{plain}")),
            gateway_url: Some(gw.url()),
            gateway_token: Some(TOKEN.to_string()),
            threads: Some(2),
            grace_period_secs: Some(8),
            ..Settings::default()
        };
        s.listeners.tls_listen = Some(format!("127.0.0.1:{https}"));
        s.listeners.tls_cert = Some(pki.cert.clone());
        s.listeners.tls_key = Some(pki.key.clone());
        s.listeners.upgrade_sock = Some(sock.clone());
        s.listeners.upgrade = upgrade;
        if upgrade {
            s.listeners.pid_file = Some(pid_file.clone());
        }
        s
    };
    let base = format!("https://127.0.0.1:{https}");
    let mut old = Running::start(settings(&old_pki, false));
    let old_client = https_client(&old_pki.ca_pem, Some(Version::HTTP_11));
    ready_through(&old_client, &base, "old server ready").await;

    // A long stream on the old server, under way before the upgrade.
    let resp = chat(
        &old_client,
        &base,
        stream_msg("openclaw/main", "MOCK_LONG please"),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let mut stream = BodyReader::new(resp);
    stream.until("echo").await;

    // The new process's part: start with --upgrade (it waits for the sockets), then SIGQUIT
    // the old one.
    let _new = Running::start(settings(&new_pki, true));
    old.signal(pingora::server::ShutdownSignal::GracefulUpgrade);

    // New handshakes end up on the new server: it presents the new certificate.
    let new_client = https_client(&new_pki.ca_pem, None);
    ready_through(&new_client, &base, "new server serving").await;
    let r = chat(
        &new_client,
        &base,
        user_msg("openclaw/main", "after upgrade"),
    )
    .await;
    assert_eq!(r.status(), 200);
    let pid = std::fs::read_to_string(&pid_file).expect("pid file written");
    assert_eq!(pid.trim(), std::process::id().to_string());

    // The stream on the old server finished whole.
    let text = stream.to_end().await;
    let events = parse_sse(&text);
    assert_eq!(events.last(), Some(&Sse::Done), "{text}");
    assert!(streamed_text(&events).starts_with("echo: "));
    // And the old server exits once its last request is done.
    assert!(
        old.done.recv_timeout(WAIT).is_ok(),
        "old server still running"
    );
}

#[tokio::test]
async fn http2_client_that_resets_its_stream_aborts_the_run() {
    // On HTTP/2 a client leaving one stream sends RST_STREAM and keeps the connection: the
    // run must still be noticed as abandoned and aborted on the gateway.
    let pki = Pki::new("h2-abort");
    let gw = mock(Protocol::V4).await;
    let (_shim, base) = shim_with_tls(&gw.url(), &pki).await;
    let client = https_client(&pki.ca_pem, Some(Version::HTTP_2));
    let resp = chat(
        &client,
        &base,
        stream_msg("openclaw/main", "MOCK_HANG over h2"),
    )
    .await;
    assert_eq!(resp.version(), Version::HTTP_2);
    let run_id = resp.headers()["x-clawshim-run-id"]
        .to_str()
        .unwrap()
        .to_string();
    let mut stream = BodyReader::new(resp);
    stream.until("echo").await;
    // Dropping the body resets the stream (RST_STREAM).
    drop(stream);
    wait_aborted(&gw, &run_id).await;
    // The same connection still serves.
    let resp = chat(&client, &base, user_msg("openclaw/main", "still here")).await;
    assert_eq!(resp.status(), 200);
}

/// An HTTP/2 connection to `base` (ALPN `h2`), driven by its own task; the client side of the
/// connection's settings is read through the returned handle before it is spawned.
async fn h2_connect(
    pki: &Pki,
    base: &str,
) -> (
    h2::client::SendRequest<bytes::Bytes>,
    h2::client::Connection<tokio_rustls::client::TlsStream<TcpStream>, bytes::Bytes>,
) {
    h2::client::handshake(tls_h2(pki, base).await)
        .await
        .unwrap()
}

/// A TLS connection to `base` that negotiated `h2`, before any HTTP/2 byte.
async fn tls_h2(pki: &Pki, base: &str) -> tokio_rustls::client::TlsStream<TcpStream> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let addr = base.trim_start_matches("https://");
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_http2_connection_that_only_sends_its_preface_is_closed_when_idle() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pki = Pki::new("h2-preface");
    let gw = mock(Protocol::V4).await;
    let (_shim, base) = shim_with_tls_and(&gw.url(), &pki, |s| s.idle_timeout_secs = Some(1)).await;
    let mut tls = tls_h2(&pki, &base).await;
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    // Then nothing: the server closes the connection (it used to keep it open for good).
    let mut chunk = [0u8; 1024];
    let closed = tokio::time::timeout(WAIT, async {
        while let Ok(n) = tls.read(&mut chunk).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "a preface-only HTTP/2 connection still open after {WAIT:?}"
    );
    // A client that uses its connection is served.
    let (mut send, conn) = h2_connect(&pki, &base).await;
    tokio::spawn(conn);
    let (answer, _) = send.send_request(h2_get(&base, "/healthz"), true).unwrap();
    let answer = tokio::time::timeout(WAIT, answer).await.unwrap().unwrap();
    assert_eq!(answer.status(), 200);
}

fn h2_get(base: &str, path: &str) -> http::Request<()> {
    http::Request::get(format!("{base}{path}"))
        .body(())
        .unwrap()
}

#[tokio::test]
async fn http2_streams_per_connection_are_limited() {
    let pki = Pki::new("h2-streams");
    let gw = mock(Protocol::V4).await;
    let (_shim, base) =
        shim_with_tls_and(&gw.url(), &pki, |s| s.h2_max_concurrent_streams = Some(7)).await;
    let (mut send, mut conn) = h2_connect(&pki, &base).await;
    // The server's SETTINGS arrive before the first response.
    let (answer, _) = send.send_request(h2_get(&base, "/healthz"), true).unwrap();
    let resp = tokio::select! {
        r = answer => r.unwrap(),
        c = &mut conn => panic!("connection ended: {c:?}"),
    };
    assert_eq!(resp.status(), 200);
    assert_eq!(conn.max_concurrent_send_streams(), 7);
    tokio::spawn(async move {
        let _ = conn.await;
    });
    // 150 streams opened at once: the client may have 7 open at a time, and all are served.
    let mut answers = Vec::new();
    for _ in 0..150 {
        let mut send = send.clone().ready().await.unwrap();
        let (answer, _) = send.send_request(h2_get(&base, "/healthz"), true).unwrap();
        answers.push(answer);
    }
    for answer in answers {
        let resp = tokio::time::timeout(WAIT, answer).await.unwrap().unwrap();
        assert_eq!(resp.status(), 200);
    }
}

#[tokio::test]
async fn http2_default_allows_100_streams_per_connection() {
    let pki = Pki::new("h2-default");
    let gw = mock(Protocol::V4).await;
    let (_shim, base) = shim_with_tls(&gw.url(), &pki).await;
    let (mut send, mut conn) = h2_connect(&pki, &base).await;
    let (answer, _) = send.send_request(h2_get(&base, "/healthz"), true).unwrap();
    tokio::select! {
        r = answer => assert_eq!(r.unwrap().status(), 200),
        c = &mut conn => panic!("connection ended: {c:?}"),
    }
    assert_eq!(conn.max_concurrent_send_streams(), 100);
}

#[tokio::test]
async fn http2_header_lists_over_the_limit_are_refused() {
    let pki = Pki::new("h2-headers");
    let gw = mock(Protocol::V4).await;
    let (_shim, base) =
        shim_with_tls_and(&gw.url(), &pki, |s| s.h2_max_header_list_bytes = Some(4096)).await;
    let (mut send, conn) = h2_connect(&pki, &base).await;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let small = send
        .send_request(h2_get(&base, "/healthz"), true)
        .unwrap()
        .0;
    let resp = tokio::time::timeout(WAIT, small).await.unwrap().unwrap();
    assert_eq!(resp.status(), 200);
    let mut big = h2_get(&base, "/healthz");
    big.headers_mut()
        .insert("x-big", "b".repeat(8192).parse().unwrap());
    // Refused one way or another: the client may not send it at all (the server announced the
    // limit), the stream may be reset, or the answer is 431; never served.
    if let Ok((answer, _)) = send.send_request(big, true) {
        if let Ok(resp) = tokio::time::timeout(WAIT, answer).await.unwrap() {
            assert_eq!(resp.status(), 431, "an 8 KiB header list was served");
        }
    }
}
