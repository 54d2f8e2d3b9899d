//! Zero-config on the gateway's host: find the local gateway's own config file the way its
//! CLI does, and read what clawshim needs from it (URL, credential, TLS). It feeds
//! [`super::merge`] as the lowest-precedence source, below the defaults for the gateway
//! settings it knows, and only when neither the flags, the environment nor clawshim's file
//! give a gateway credential.
//!
//! Where the file is, per the gateway source (`config/paths.js` of clawdbot 2026.1.24,
//! `src/config/paths.ts` + `state-dir.ts` of openclaw 2026.9.6): an explicit
//! `OPENCLAW_CONFIG_PATH` / `CLAWDBOT_CONFIG_PATH` is the only candidate; otherwise
//! `$OPENCLAW_STATE_DIR/{openclaw,clawdbot}.json`, `$CLAWDBOT_STATE_DIR/clawdbot.json`, then
//! `~/.openclaw/{openclaw,clawdbot}.json` and `~/.clawdbot/{openclaw,clawdbot}.json`
//! (`~` is `OPENCLAW_HOME`, else `HOME`); the first that exists wins. The file is JSON5;
//! string values may hold `${VAR}` (`$${VAR}` escapes it), as in `config/env-substitution`.
//! `$include` directives, non-`env` secret providers, `gateway.remote` (a config that points
//! the CLI at another host) and `OPENCLAW_PROFILE` (a per-profile port) are not followed; a
//! `tailnet` bind is dialled on 127.0.0.1, where the gateway also listens when it can. Set the
//! URL and credential explicitly in those cases.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The gateway's default port (`DEFAULT_GATEWAY_PORT` in both versions).
const DEFAULT_PORT: u16 = 18789;

/// What the local gateway's config says about reaching it.
#[derive(Clone, PartialEq, Eq)]
pub struct LocalGateway {
    /// The file read.
    pub path: PathBuf,
    /// The URL clawshim dials: `ws://127.0.0.1:PORT` (`wss://` with `gateway.tls.enabled`).
    pub url: String,
    /// `gateway.bind` as written (`loopback` when unset).
    pub bind: String,
    /// `gateway.auth` token or password.
    pub auth: Option<LocalAuth>,
    /// The gateway's TLS certificate, trusted as the CA of a `wss://` gateway.
    pub ca_file: Option<PathBuf>,
    /// `gateway.http.endpoints.chatCompletions.enabled`: the gateway's own OpenAI door.
    pub chat_completions_endpoint: bool,
    /// `gateway.http.endpoints.responses.enabled`.
    pub responses_endpoint: bool,
    /// Whether `tools.toolSearch` hides client tools from the model: openclaw's default
    /// (absent) and `true` do; `false` and an object with `mode: "directory"` do not
    /// (docs/client-tools.md).
    pub tool_search_hides_client_tools: bool,
}

/// The gateway's shared secret.
#[derive(Clone, PartialEq, Eq)]
pub enum LocalAuth {
    /// `gateway.auth.token`.
    Token(String),
    /// `gateway.auth.password`.
    Password(String),
}

impl std::fmt::Debug for LocalAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LocalAuth::Token(_) => "Token(<redacted>)",
            LocalAuth::Password(_) => "Password(<redacted>)",
        })
    }
}

impl std::fmt::Debug for LocalGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalGateway")
            .field("path", &self.path)
            .field("url", &self.url)
            .field("bind", &self.bind)
            .field("auth", &self.auth)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

/// Where to look and what the environment says, so tests can pass their own.
pub trait Environment {
    /// A variable's value; unset and empty are both `None`.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

/// The candidate files, in the order the gateway CLIs try them.
pub fn candidates(env: &dyn Environment) -> Vec<PathBuf> {
    let home = env
        .var("OPENCLAW_HOME")
        .or_else(|| env.var("HOME"))
        .map(PathBuf::from);
    let expand = |p: String| -> PathBuf {
        let p = p.trim().to_string();
        match (p.strip_prefix('~'), &home) {
            (Some(rest), Some(h)) if rest.is_empty() || rest.starts_with('/') => {
                h.join(rest.trim_start_matches('/'))
            }
            _ => PathBuf::from(p),
        }
    };
    for explicit in ["OPENCLAW_CONFIG_PATH", "CLAWDBOT_CONFIG_PATH"] {
        if let Some(p) = env.var(explicit) {
            return vec![expand(p)];
        }
    }
    let mut out = Vec::new();
    if let Some(dir) = env.var("OPENCLAW_STATE_DIR").map(expand) {
        out.push(dir.join("openclaw.json"));
        out.push(dir.join("clawdbot.json"));
    }
    if let Some(dir) = env.var("CLAWDBOT_STATE_DIR").map(expand) {
        out.push(dir.join("clawdbot.json"));
    }
    if let Some(home) = home {
        for dir in [".openclaw", ".clawdbot"] {
            out.push(home.join(dir).join("openclaw.json"));
            out.push(home.join(dir).join("clawdbot.json"));
        }
    }
    out
}

/// Find and read the local gateway's config: `Ok(None)` when there is none, `Err` when the
/// file found cannot be used (its path in the message, never a secret).
pub fn discover(env: &dyn Environment) -> Result<Option<LocalGateway>, String> {
    let Some(path) = candidates(env).into_iter().find(|p| p.is_file()) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("local gateway config {}: {e}", path.display()))?;
    read(&path, &text, env)
        .map(Some)
        .map_err(|e| format!("local gateway config {}: {e}", path.display()))
}

/// Read one config file's text.
pub fn read(path: &Path, text: &str, env: &dyn Environment) -> Result<LocalGateway, String> {
    let root: Value = json5::from_str(text).map_err(|e| format!("not valid JSON5: {e}"))?;
    let gateway = root.get("gateway").unwrap_or(&Value::Null);
    let string_at = |v: &Value, keys: &[&str]| -> Result<Option<String>, String> {
        let mut cur = v;
        for k in keys {
            cur = match cur.get(k) {
                Some(c) => c,
                None => return Ok(None),
            };
        }
        resolve_string(cur, env).map_err(|e| format!("gateway.{}: {e}", keys.join(".")))
    };
    let bool_at = |keys: &[&str]| {
        keys.iter()
            .try_fold(gateway, |cur, k| cur.get(k))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };

    let port = ["OPENCLAW_GATEWAY_PORT", "CLAWDBOT_GATEWAY_PORT"]
        .iter()
        .find_map(|v| env.var(v).and_then(|p| p.trim().parse::<u16>().ok()))
        .filter(|p| *p > 0)
        .or_else(|| {
            gateway
                .get("port")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
                .filter(|p| *p > 0)
        })
        .unwrap_or(DEFAULT_PORT);
    let bind = string_at(gateway, &["bind"])?.unwrap_or_else(|| "loopback".into());
    // loopback, lan and auto all listen on 127.0.0.1 (lan on every address); a custom bind
    // to one address is reachable only there (`resolveGatewayBindHost`).
    let host = match (bind.as_str(), string_at(gateway, &["customBindHost"])?) {
        ("custom", Some(h)) if !h.is_empty() && h != "0.0.0.0" => h,
        _ => "127.0.0.1".to_string(),
    };
    let tls = bool_at(&["tls", "enabled"]);
    let scheme = if tls { "wss" } else { "ws" };
    let url = format!("{scheme}://{host}:{port}");
    let ca_file = if tls {
        // The gateway's own certificate (default `<state dir>/gateway/tls/gateway-cert.pem`,
        // `infra/tls/gateway.js`), self-signed unless a real one is configured.
        let cert = match string_at(gateway, &["tls", "certPath"])? {
            Some(p) => PathBuf::from(p),
            None => path
                .parent()
                .unwrap_or(Path::new("."))
                .join("gateway/tls/gateway-cert.pem"),
        };
        cert.is_file().then_some(cert)
    } else {
        None
    };

    let mode = string_at(gateway, &["auth", "mode"])?;
    let token = string_at(gateway, &["auth", "token"])?
        .or_else(|| env.var("OPENCLAW_GATEWAY_TOKEN"))
        .or_else(|| env.var("CLAWDBOT_GATEWAY_TOKEN"));
    let password = string_at(gateway, &["auth", "password"])?
        .or_else(|| env.var("OPENCLAW_GATEWAY_PASSWORD"))
        .or_else(|| env.var("CLAWDBOT_GATEWAY_PASSWORD"));
    let auth = match mode.as_deref() {
        Some("password") => password.map(LocalAuth::Password),
        Some("token") => token.map(LocalAuth::Token),
        Some("none") => None,
        _ => token
            .map(LocalAuth::Token)
            .or(password.map(LocalAuth::Password)),
    };

    Ok(LocalGateway {
        path: path.to_path_buf(),
        url,
        bind,
        auth,
        ca_file,
        chat_completions_endpoint: bool_at(&["http", "endpoints", "chatCompletions", "enabled"]),
        responses_endpoint: bool_at(&["http", "endpoints", "responses", "enabled"]),
        tool_search_hides_client_tools: tool_search_hides_client_tools(&root),
    })
}

/// `tools.toolSearch` as openclaw 2026.9.6 reads it (`readToolSearchConfig`,
/// `resolveToolSearchConfig`): client tools are catalogued behind tool search unless it is
/// `false`, or an object that turns it off or sets `mode: "directory"`.
fn tool_search_hides_client_tools(root: &Value) -> bool {
    match root.get("tools").and_then(|t| t.get("toolSearch")) {
        None | Some(Value::Null) | Some(Value::Bool(true)) => true,
        Some(Value::Bool(false)) => false,
        Some(Value::Object(o)) => {
            o.get("enabled") != Some(&Value::Bool(false))
                && o.get("mode").and_then(Value::as_str) != Some("directory")
        }
        Some(_) => true,
    }
}

/// A string value with `${VAR}` substituted, or an openclaw secret reference
/// `{ "source": "env", "id": "VAR" }` resolved.
fn resolve_string(v: &Value, env: &dyn Environment) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => substitute(s, env).map(Some),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Object(o) => match (o.get("source").and_then(Value::as_str), o.get("id")) {
            (Some("env"), Some(Value::String(id))) => env
                .var(id)
                .map(Some)
                .ok_or_else(|| format!("environment variable {id} is not set")),
            (Some(source), _) => Err(format!(
                "secret source `{source}` is not read by clawshim; set the credential explicitly"
            )),
            _ => Err("expected a string".into()),
        },
        _ => Err("expected a string".into()),
    }
}

/// `${VAR}` -> its value (an error when unset, as the gateway does), `$${VAR}` -> `${VAR}`.
fn substitute(s: &str, env: &dyn Environment) -> Result<String, String> {
    let valid = |name: &str| {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
            && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    };
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let (escaped, body) = match tail.strip_prefix("$${") {
            Some(b) => (true, b),
            None => match tail.strip_prefix("${") {
                Some(b) => (false, b),
                None => {
                    out.push('$');
                    rest = &tail[1..];
                    continue;
                }
            },
        };
        match body.find('}').map(|end| (&body[..end], &body[end + 1..])) {
            Some((name, after)) if valid(name) => {
                if escaped {
                    out.push_str(&format!("${{{name}}}"));
                } else {
                    let value = env
                        .var(name)
                        .ok_or_else(|| format!("environment variable {name} is not set"))?;
                    out.push_str(&value);
                }
                rest = after;
            }
            _ => {
                out.push('$');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether `url` dials the same gateway as `local` (same scheme and port, a loopback or the
/// same host), so its credential may be used for it.
pub fn same_gateway(url: &str, local: &LocalGateway) -> bool {
    fn parts(url: &str) -> Option<(&str, String, String)> {
        let (scheme, rest) = url.split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        let (host, port) = authority.rsplit_once(':')?;
        let host = host.trim_matches(['[', ']']);
        let host = match host {
            "localhost" | "127.0.0.1" | "::1" => "loopback".to_string(),
            h => h.to_ascii_lowercase(),
        };
        Some((scheme, host, port.to_string()))
    }
    matches!((parts(url), parts(&local.url)), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Vars(HashMap<String, String>);

    impl Environment for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned().filter(|v| !v.is_empty())
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        Vars(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "clawshim-discover-{tag}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The interop harness's template, filled the way `tests/interop/run.sh` fills it.
    fn interop_template(version: &str, file: &str, port: u16) -> String {
        let path = format!(
            "{}/../tests/interop/{version}/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(path)
            .unwrap()
            .replace("__GATEWAY_PORT__", &port.to_string())
            .replace("__MOCK_PORT__", "18999")
            .replace("__STATE_DIR__", "/tmp/state")
            .replace("__LOG_DIR__", "/tmp/logs")
            .replace("__GATEWAY_TOKEN__", "interop-token")
    }

    #[test]
    fn the_v3_interop_config_in_a_home_is_found() {
        let home = temp_dir("v3");
        std::fs::create_dir_all(home.join(".clawdbot")).unwrap();
        let file = home.join(".clawdbot/clawdbot.json");
        std::fs::write(
            &file,
            interop_template("v3", "clawdbot.template.json", 18951),
        )
        .unwrap();
        let home_s = home.display().to_string();
        let found = discover(&vars(&[("HOME", &home_s)])).unwrap().unwrap();
        assert_eq!(found.path, file);
        assert_eq!(found.url, "ws://127.0.0.1:18951");
        assert_eq!(found.auth, Some(LocalAuth::Token("interop-token".into())));
        assert!(found.chat_completions_endpoint);
        assert!(!found.responses_endpoint);
        assert!(!format!("{found:?}").contains("interop-token"));
        let _ = std::fs::remove_dir_all(&home);
    }

    #[test]
    fn the_v4_interop_config_in_a_state_dir_wins_over_the_home() {
        let home = temp_dir("v4-home");
        std::fs::create_dir_all(home.join(".openclaw")).unwrap();
        std::fs::write(home.join(".openclaw/openclaw.json"), "{gateway:{port:1}}").unwrap();
        let state = temp_dir("v4-state");
        std::fs::write(
            state.join("openclaw.json"),
            interop_template("v4", "openclaw.template.json", 18952),
        )
        .unwrap();
        let (h, s) = (home.display().to_string(), state.display().to_string());
        let found = discover(&vars(&[("HOME", &h), ("OPENCLAW_STATE_DIR", &s)]))
            .unwrap()
            .unwrap();
        assert_eq!(found.path, state.join("openclaw.json"));
        assert_eq!(found.url, "ws://127.0.0.1:18952");
        assert_eq!(found.bind, "loopback");
        assert_eq!(found.auth, Some(LocalAuth::Token("interop-token".into())));
        // The interop gateway gives client tools to the model (docs/client-tools.md).
        assert!(found.chat_completions_endpoint && !found.tool_search_hides_client_tools);
        // The gateway's port variable wins over the file, as in `resolveGatewayPort`.
        let found = discover(&vars(&[
            ("HOME", &h),
            ("OPENCLAW_STATE_DIR", &s),
            ("OPENCLAW_GATEWAY_PORT", "18953"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(found.url, "ws://127.0.0.1:18953");
        let _ = std::fs::remove_dir_all(&home);
        let _ = std::fs::remove_dir_all(&state);
    }

    #[test]
    fn tool_search_hides_client_tools_unless_off_or_directory() {
        let cases = [
            ("{}", true),
            ("{tools:{}}", true),
            ("{tools:{toolSearch:true}}", true),
            ("{tools:{toolSearch:false}}", false),
            ("{tools:{toolSearch:{mode:'tools'}}}", true),
            ("{tools:{toolSearch:{mode:'code'}}}", true),
            ("{tools:{toolSearch:{mode:'directory'}}}", false),
            ("{tools:{toolSearch:{enabled:false}}}", false),
        ];
        for (text, hides) in cases {
            let found = read(Path::new("/x/openclaw.json"), text, &vars(&[])).unwrap();
            assert_eq!(found.tool_search_hides_client_tools, hides, "{text}");
        }
    }

    #[test]
    fn an_explicit_config_path_is_the_only_candidate() {
        let c = candidates(&vars(&[
            ("HOME", "/home/u"),
            ("CLAWDBOT_CONFIG_PATH", "~/gw/clawdbot.json"),
            ("OPENCLAW_STATE_DIR", "/srv/oc"),
        ]));
        assert_eq!(c, vec![PathBuf::from("/home/u/gw/clawdbot.json")]);
        let c = candidates(&vars(&[("HOME", "/home/u"), ("OPENCLAW_HOME", "/opt/oc")]));
        assert_eq!(c[0], PathBuf::from("/opt/oc/.openclaw/openclaw.json"));
        assert_eq!(c.len(), 4);
        assert!(discover(&vars(&[("HOME", "/nonexistent-clawshim-home")]))
            .unwrap()
            .is_none());
    }

    #[test]
    fn json5_comments_trailing_commas_and_unquoted_keys_are_read() {
        let text = r#"
            // the gateway
            {
              gateway: {
                port: 19001, /* not the default */
                bind: 'lan',
                auth: { mode: "password", password: "${GW_PASS}", token: "unused", },
                tls: { enabled: true, certPath: "/nonexistent/cert.pem" },
                http: { endpoints: { responses: { enabled: true, }, }, },
              },
            }
        "#;
        let env = vars(&[("GW_PASS", "from-env")]);
        let found = read(Path::new("/x/openclaw.json"), text, &env).unwrap();
        assert_eq!(found.url, "wss://127.0.0.1:19001");
        assert_eq!(found.bind, "lan");
        assert_eq!(found.auth, Some(LocalAuth::Password("from-env".into())));
        assert_eq!(found.ca_file, None);
        assert!(found.responses_endpoint);
        assert!(!found.chat_completions_endpoint);
    }

    #[test]
    fn env_substitution_follows_the_gateway() {
        let env = vars(&[("A", "1"), ("B_2", "two")]);
        assert_eq!(substitute("x${A}y${B_2}", &env).unwrap(), "x1ytwo");
        assert_eq!(
            substitute("$${A} $5 ${lower}", &env).unwrap(),
            "${A} $5 ${lower}"
        );
        assert!(substitute("${MISSING}", &env)
            .unwrap_err()
            .contains("MISSING"));
        let secret_ref = serde_json::json!({"source": "env", "id": "A"});
        assert_eq!(resolve_string(&secret_ref, &env).unwrap(), Some("1".into()));
    }

    #[test]
    fn defaults_custom_binds_and_bad_files() {
        let env = vars(&[]);
        let found = read(Path::new("/x/c.json"), "{}", &env).unwrap();
        assert_eq!(found.url, "ws://127.0.0.1:18789");
        assert_eq!(found.auth, None);
        let custom = r#"{gateway:{bind:"custom",customBindHost:"10.0.0.5",auth:{token:"t"}}}"#;
        let found = read(Path::new("/x/c.json"), custom, &env).unwrap();
        assert_eq!(found.url, "ws://10.0.0.5:18789");
        assert!(same_gateway("ws://10.0.0.5:18789/", &found));
        assert!(!same_gateway("ws://10.0.0.6:18789", &found));
        let found = read(Path::new("/x/c.json"), "{gateway:{}}", &env).unwrap();
        assert!(same_gateway("ws://localhost:18789", &found));
        assert!(!same_gateway("wss://127.0.0.1:18789", &found));
        assert!(read(Path::new("/x/c.json"), "{gateway:", &env)
            .unwrap_err()
            .contains("JSON5"));
    }
}
