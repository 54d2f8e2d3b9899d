//! The Grafana dashboard and the Prometheus alerting rules in `monitoring/` query only
//! series clawshim really exports: a real clawshim in front of the mock gateway takes a short
//! load (completions, a stream, a failed run, a bad credential), its metrics are scraped,
//! and every metric name, grouping label and label value in the PromQL is looked up there.
//! `promtool` (Debian package `prometheus`) checks the rules file and runs its unit tests.
//!
//! The series live in the process-wide registry, so this binary starts a single shim.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use clawshim_tests::*;
use serde_json::{json, Value};

/// Labels Prometheus adds to every scraped series (target labels), not clawshim's own.
const TARGET_LABELS: &[&str] = &["instance", "job"];

fn monitoring(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../monitoring")
        .join(file)
}

/// One scrape: metric name (as exposed, `_bucket` etc. included) -> label name -> values.
#[derive(Debug, Default)]
struct Exported(BTreeMap<String, BTreeMap<String, BTreeSet<String>>>);

impl Exported {
    fn parse(text: &str) -> Exported {
        let mut out = Exported::default();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (series, _value) = line.rsplit_once(' ').expect("`series value`");
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            let entry = out.0.entry(name.to_string()).or_default();
            for pair in labels.trim_end_matches('}').split(',') {
                if let Some((label, value)) = pair.split_once('=') {
                    entry
                        .entry(label.to_string())
                        .or_default()
                        .insert(value.trim_matches('"').to_string());
                }
            }
        }
        out
    }

    fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    fn label_names(&self) -> BTreeSet<&str> {
        self.0
            .values()
            .flat_map(|labels| labels.keys().map(String::as_str))
            .collect()
    }

    fn label_values(&self, label: &str) -> BTreeSet<&str> {
        self.0
            .values()
            .filter_map(|labels| labels.get(label))
            .flatten()
            .map(String::as_str)
            .collect()
    }

    /// Metric families (`foo` for `foo_bucket`, `foo_sum`, `foo_count`).
    fn families(&self) -> BTreeSet<String> {
        self.0
            .keys()
            .map(|n| {
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| n.strip_suffix(s))
                    .filter(|base| self.has(&format!("{base}_bucket")))
                    .unwrap_or(n)
                    .to_string()
            })
            .collect()
    }
}

/// The parts of a PromQL expression these checks need.
#[derive(Debug, Default)]
struct Query {
    metrics: BTreeSet<String>,
    grouping_labels: BTreeSet<String>,
    /// `label="value"` matchers with a literal value.
    equal_matchers: BTreeSet<(String, String)>,
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

/// A small PromQL scanner: identifiers outside strings, `by`/`without` label lists and
/// label matchers. Enough for expressions a dashboard and alert rules use.
fn parse_promql(expr: &str) -> Query {
    let mut query = Query::default();
    let chars: Vec<char> = expr.chars().collect();
    let mut tokens: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            tokens.push(format!("\"{}", chars[start..i].iter().collect::<String>()));
            i += 1;
        } else if is_ident(c) {
            let start = i;
            while i < chars.len() && is_ident(chars[i]) {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == '=' && chars.get(i + 1) == Some(&'~') {
            tokens.push("=~".into());
            i += 2;
        } else if !c.is_whitespace() {
            tokens.push(c.to_string());
            i += 1;
        } else {
            i += 1;
        }
    }
    let mut depth_braces = 0;
    let mut in_grouping = false;
    for (n, tok) in tokens.iter().enumerate() {
        match tok.as_str() {
            "{" => depth_braces += 1,
            "}" => depth_braces -= 1,
            "(" if n > 0 && matches!(tokens[n - 1].as_str(), "by" | "without") => {
                in_grouping = true
            }
            ")" => in_grouping = false,
            _ if in_grouping && tok != "," => {
                query.grouping_labels.insert(tok.clone());
            }
            _ if depth_braces > 0 && tokens.get(n + 1).map(String::as_str) == Some("=") => {
                let value = tokens.get(n + 2).and_then(|v| v.strip_prefix('"'));
                if let Some(value) = value.filter(|v| !v.contains('$')) {
                    query
                        .equal_matchers
                        .insert((tok.clone(), value.to_string()));
                }
            }
            _ if depth_braces > 0 => {}
            _ if tok.starts_with("clawshim_") => {
                query.metrics.insert(tok.clone());
            }
            _ => {}
        }
    }
    query
}

/// Every PromQL expression of the dashboard: panel targets and template variable queries.
fn dashboard_exprs() -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("expr" | "definition", Value::String(s)) => out.push(s.clone()),
                        ("query", Value::String(s)) if s.contains('(') => out.push(s.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let text = std::fs::read_to_string(monitoring("grafana-dashboard.json")).unwrap();
    let dashboard: Value = serde_json::from_str(&text).expect("dashboard is JSON");
    let mut out = Vec::new();
    walk(&dashboard, &mut out);
    out
}

/// Every `expr:` of the rules file (plain scalars and `|` blocks; promtool checks that the
/// file as a whole is valid YAML), with the alert count to cross-check.
fn rule_exprs() -> (Vec<String>, usize) {
    let text = std::fs::read_to_string(monitoring("alerts.yml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut exprs = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        let Some(rest) = line.trim_start().strip_prefix("expr:") else {
            continue;
        };
        let rest = rest.trim();
        if rest == "|" || rest == ">" || rest == "|-" || rest == ">-" {
            let mut block = Vec::new();
            while i < lines.len() && (lines[i].trim().is_empty() || indent(lines[i]) > indent(line))
            {
                block.push(lines[i].trim());
                i += 1;
            }
            exprs.push(block.join(" "));
        } else {
            exprs.push(rest.to_string());
        }
    }
    let alerts = lines
        .iter()
        .filter(|l| l.trim_start().starts_with("- alert:"))
        .count();
    (exprs, alerts)
}

async fn scrape(url: &str) -> String {
    let resp = client().get(url).send().await.expect("metrics answer");
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

#[tokio::test]
async fn dashboard_and_alerts_query_only_series_clawshim_exports() {
    let gw = mock(Protocol::V4).await;
    let metrics_port = free_port();
    // A key with a token budget (its usage kept in a file), besides the suites' token.
    let dir = std::env::temp_dir().join(format!("clawshim-monitoring-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("clawshim.toml");
    let budgeted = "csk-monitoring-budget";
    std::fs::write(
        &config,
        format!(
            "[[keys]]\nname = \"budgeted\"\nsha256 = \"{}\"\ndaily_token_budget = 1000000\n\n\
             [auth]\ntokens = [\"{TOKEN}\"]\n\n[state]\nusage_file = \"{}\"\n",
            sha256_hex(budgeted),
            dir.join("usage.redb").display()
        ),
    )
    .unwrap();
    let shim = Shim::start_with(
        &gw.url(),
        |s| {
            s.listeners.metrics_listen = Some(format!("127.0.0.1:{metrics_port}"));
            s.config = Some(config);
        },
        true,
    )
    .await;
    let murl = format!("http://127.0.0.1:{metrics_port}/metrics");

    // A short load: one completion (and one on the budgeted key), one stream, the model list, a bad credential and a run
    // the gateway fails.
    let resp = shim.chat(user_msg("openclaw/main", "hello")).await;
    assert_eq!(resp.status(), 200);
    let _ = resp.bytes().await;
    let resp = client()
        .post(shim.url("/v1/chat/completions"))
        .bearer_auth(budgeted)
        .json(&user_msg("openclaw/main", "on a budget"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let _ = resp.bytes().await;
    let mut body = user_msg("openclaw/main", "streamed");
    body["stream"] = json!(true);
    let resp = shim.chat(body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        parse_sse(&resp.text().await.unwrap()).last(),
        Some(&Sse::Done)
    );
    let models = client()
        .get(shim.url("/v1/models"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(models.status(), 200);
    let refused = client()
        .get(shim.url("/v1/models"))
        .bearer_auth("wrong-key")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let failed = shim
        .chat(user_msg("openclaw/main", "MOCK_HTTP_500 please"))
        .await;
    assert!(failed.status().is_server_error(), "{}", failed.status());
    let _ = failed.bytes().await;

    // `logging` counts each request just after its response: wait for all five.
    let deadline = tokio::time::Instant::now() + WAIT;
    let exported = loop {
        let exported = Exported::parse(&scrape(&murl).await);
        let statuses = exported.label_values("status");
        if exported.has("clawshim_runs_failed_total")
            && exported.has("clawshim_tokens_total")
            && exported.has("clawshim_token_budget_remaining")
            && statuses.contains("401")
            && statuses.contains("200")
            && statuses.iter().any(|s| s.starts_with('5'))
            && exported.label_values("route").contains("models")
        {
            break exported;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "load never fully counted: {exported:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let dashboard = dashboard_exprs();
    let (rules, alert_count) = rule_exprs();
    assert!(dashboard.len() >= 10, "dashboard queries: {dashboard:?}");
    assert_eq!(rules.len(), alert_count, "one expr per alert: {rules:?}");

    let known_labels: BTreeSet<&str> = exported
        .label_names()
        .into_iter()
        .chain(TARGET_LABELS.iter().copied())
        .collect();
    let mut used_families = BTreeSet::new();
    for expr in dashboard.iter().chain(&rules) {
        let q = parse_promql(expr);
        assert!(!q.metrics.is_empty(), "queries no clawshim series: {expr}");
        for metric in &q.metrics {
            assert!(exported.has(metric), "`{metric}` is not exported: {expr}");
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| metric.strip_suffix(s))
                .unwrap_or(metric);
            used_families.insert(family.to_string());
        }
        for label in &q.grouping_labels {
            assert!(
                known_labels.contains(label.as_str()),
                "groups by unknown label `{label}`: {expr}"
            );
        }
        for (label, value) in &q.equal_matchers {
            assert!(
                exported.label_values(label).contains(value.as_str()),
                "no series has {label}=\"{value}\": {expr}"
            );
        }
    }
    // And the dashboard shows every series clawshim exports.
    let dashboard_families: BTreeSet<String> = dashboard
        .iter()
        .flat_map(|e| parse_promql(e).metrics)
        .map(|m| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| m.strip_suffix(s))
                .unwrap_or(&m)
                .to_string()
        })
        .collect();
    let clawshim_families: BTreeSet<String> = exported
        .families()
        .into_iter()
        .filter(|f| f.starts_with("clawshim_"))
        .collect();
    let missing: Vec<_> = clawshim_families.difference(&dashboard_families).collect();
    assert!(missing.is_empty(), "not on the dashboard: {missing:?}");
    assert!(used_families.is_subset(&clawshim_families));
    drop(shim);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn promql_scanner_finds_metrics_groupings_and_matchers() {
    let q = parse_promql(
        r#"sum by (instance, le) (rate(clawshim_x_bucket{route="chat",status=~"5..",key="$k"}[5m])) / on (instance) clawshim_y"#,
    );
    assert_eq!(
        q.metrics,
        BTreeSet::from(["clawshim_x_bucket".into(), "clawshim_y".into()])
    );
    assert_eq!(
        q.grouping_labels,
        BTreeSet::from(["instance".into(), "le".into()])
    );
    assert_eq!(
        q.equal_matchers,
        BTreeSet::from([("route".into(), "chat".into())])
    );
}

fn promtool(args: &[&str]) {
    let found = Command::new("sh")
        .args(["-c", "command -v promtool"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`promtool` is missing: apt-get install prometheus (./test.sh does this)"
    );
    let out = Command::new("promtool")
        .args(args)
        .current_dir(monitoring(""))
        .output()
        .expect("promtool runs");
    assert!(
        out.status.success(),
        "promtool {args:?}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_accepts_the_rules_and_their_unit_tests_pass() {
    promtool(&["check", "rules", "alerts.yml"]);
    promtool(&["test", "rules", "alerts.test.yml"]);
}
