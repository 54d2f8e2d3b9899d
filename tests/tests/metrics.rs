//! End-to-end: the Prometheus listener. Requests of every kind, then a scrape, checking the
//! series and their values.
//!
//! The series live in the process-wide registry, so this binary holds a single test: no
//! other shim in the process adds to the counts.

use std::collections::BTreeMap;

use clawshim_tests::*;

const KEY: &str = "csk-metrics-test-key";

/// One scrape: `name{label="value",...}` (labels sorted) -> value.
#[derive(Debug)]
struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut series = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (key, value) = line.rsplit_once(' ').expect("`series value`");
            let key = match key.split_once('{') {
                Some((name, labels)) => {
                    let labels = labels.trim_end_matches('}');
                    let mut pairs: Vec<&str> =
                        labels.split(',').filter(|p| !p.is_empty()).collect();
                    pairs.sort_unstable();
                    format!("{name}{{{}}}", pairs.join(","))
                }
                None => key.to_string(),
            };
            series.insert(key, value.parse().expect("numeric value"));
        }
        Scrape(series)
    }

    /// The value of a series, 0 when absent (a labelled counter not incremented yet).
    fn get(&self, series: &str) -> f64 {
        self.0.get(series).copied().unwrap_or(0.0)
    }
}

async fn scrape(url: &str) -> Scrape {
    let resp = client().get(url).send().await.expect("metrics answer");
    assert_eq!(resp.status(), 200);
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ctype.starts_with("text/plain"), "{ctype}");
    Scrape::parse(&resp.text().await.unwrap())
}

/// Scrape until `check` holds (values the shim updates just after a response ends).
async fn scrape_until(url: &str, what: &str, check: impl Fn(&Scrape) -> bool) -> Scrape {
    poll_until(what, || async {
        let s = scrape(url).await;
        if check(&s) {
            Ok(s)
        } else {
            Err(s)
        }
    })
    .await
}

#[tokio::test]
async fn scrape_reports_requests_runs_streams_bytes_and_the_gateway() {
    let gw = mock(Protocol::V4).await;
    let metrics_port = free_port();
    let conf = std::env::temp_dir().join(format!("clawshim-metrics-{}.toml", uuid::Uuid::new_v4()));
    std::fs::write(
        &conf,
        format!(
            "[[keys]]\nname = \"alice\"\nsha256 = \"{}\"\n[auth]\ntokens = [\"{TOKEN}\"]\n",
            sha256_hex(KEY)
        ),
    )
    .unwrap();
    let conf_path = conf.clone();
    let shim = Shim::start_with(
        &gw.url(),
        move |s| {
            s.config = Some(conf_path);
            s.listeners.metrics_listen = Some(format!("127.0.0.1:{metrics_port}"));
        },
        true,
    )
    .await;
    let _ = std::fs::remove_file(&conf);
    let murl = format!("http://127.0.0.1:{metrics_port}/metrics");

    // Every series is there from the start, the gateway is up, nothing has been counted.
    let s0 = scrape_until(&murl, "gateway connected", |s| {
        s.get("clawshim_gateway_connected") == 1.0
    })
    .await;
    for name in [
        "clawshim_active_streams",
        "clawshim_runs_started_total",
        "clawshim_gateway_reconnects_total",
    ] {
        assert_eq!(s0.get(name), 0.0, "{name}");
    }

    // Two plain completions with the shared token, one stream with the named key.
    let mut bytes_in = 0;
    let mut bytes_out = 0;
    for text in ["first", "second"] {
        let body = user_msg("openclaw/main", text);
        bytes_in += serde_json::to_vec(&body).unwrap().len();
        let resp = shim.chat(body).await;
        assert_eq!(resp.status(), 200);
        bytes_out += resp.bytes().await.unwrap().len();
    }
    let body = stream_msg("openclaw/main", "streamed");
    bytes_in += serde_json::to_vec(&body).unwrap().len();
    let resp = client()
        .post(shim.url("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert_eq!(parse_sse(&text).last(), Some(&Sse::Done));
    bytes_out += text.len();
    // One refused request and one run the gateway fails.
    let resp = client().get(shim.url("/v1/models")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = shim
        .chat(user_msg("openclaw/main", "MOCK_HTTP_500 please"))
        .await;
    assert!(resp.status().is_server_error(), "{}", resp.status());
    let _ = resp.bytes().await;

    // `logging` runs after each response has gone out, and a scrape can fall between two
    // counters of one request: wait until everything of all five is there.
    let s = scrape_until(&murl, "requests counted", |s| {
        s.get("clawshim_runs_started_total") == 4.0
            && s.get("clawshim_request_duration_seconds_count{route=\"models\"}") == 1.0
            && s.get("clawshim_request_duration_seconds_count{route=\"chat_completions\"}") == 4.0
            && s.0
                .keys()
                .any(|k| k.starts_with("clawshim_runs_failed_total{"))
    })
    .await;
    assert_eq!(
        s.get("clawshim_requests_total{key=\"-\",route=\"chat_completions\",status=\"200\"}"),
        2.0
    );
    assert_eq!(
        s.get("clawshim_requests_total{key=\"alice\",route=\"chat_completions\",status=\"200\"}"),
        1.0
    );
    assert_eq!(
        s.get("clawshim_requests_total{key=\"-\",route=\"models\",status=\"401\"}"),
        1.0
    );
    let failed: Vec<_> =
        s.0.iter()
            .filter(|(k, _)| k.starts_with("clawshim_runs_failed_total{"))
            .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(*failed[0].1, 1.0, "{failed:?}");
    assert_eq!(
        s.get("clawshim_request_duration_seconds_count{route=\"chat_completions\"}"),
        4.0
    );
    // Every answer, the failed run's error response included.
    assert_eq!(
        s.get("clawshim_time_to_first_byte_seconds_count{route=\"chat_completions\"}"),
        4.0
    );
    assert_eq!(
        s.get("clawshim_bytes_in_total{route=\"chat_completions\"}") as usize,
        bytes_in
            + serde_json::to_vec(&user_msg("openclaw/main", "MOCK_HTTP_500 please"))
                .unwrap()
                .len()
    );
    assert!(s.get("clawshim_bytes_out_total{route=\"chat_completions\"}") as usize > bytes_out);
    assert_eq!(s.get("clawshim_active_streams"), 0.0);

    // A stream in progress is counted while it lasts.
    let resp = shim
        .chat(stream_msg("openclaw/main", "MOCK_HANG hold on"))
        .await;
    assert_eq!(resp.status(), 200);
    let mut stream = BodyReader::new(resp);
    assert!(stream.chunk().await);
    scrape_until(&murl, "one active stream", |s| {
        s.get("clawshim_active_streams") == 1.0
    })
    .await;
    drop(stream);
    scrape_until(&murl, "stream gone", |s| {
        s.get("clawshim_active_streams") == 0.0
    })
    .await;

    // The gateway drops us: both sockets of the pool reconnect, and say so.
    gw.drop_clients().await;
    scrape_until(&murl, "each socket reconnected", |s| {
        s.get("clawshim_gateway_reconnects_total") == SOCKETS as f64
            && s.get("clawshim_gateway_connected") == 1.0
    })
    .await;

    // Passthrough requests (an allowed path) are counted with the gateway's status.
    let resp = client()
        .get(shim.url("/assets/app.js"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let _ = resp.bytes().await;
    let s = scrape_until(&murl, "passthrough counted", |s| {
        s.get("clawshim_request_duration_seconds_count{route=\"passthrough\"}") == 1.0
    })
    .await;
    assert_eq!(
        s.get(&format!(
            "clawshim_requests_total{{key=\"-\",route=\"passthrough\",status=\"{status}\"}}"
        )),
        1.0
    );
}
