//! Which handler a request goes to, from its method and path alone.
//!
//! clawshim's own routes are one table ([`OWN`]); a new route is one line there. A path is
//! matched in three steps, and only the last one can send a request to the gateway:
//!
//! 1. **Exact**: the path as sent is one of [`OWN`].
//! 2. **Non-canonical forms of our routes**, decided per form:
//!    - a trailing slash, repeated slashes and ASCII case (`/v1/chat/completions/`,
//!      `//v1/chat/completions`, `/V1/Chat/Completions`) are harmless spellings that SDKs
//!      with a `base_url` ending in `/` produce: *normalised*, served as the route;
//!    - percent-encoded characters, `\`, and `.` or `..` segments (`/v1/chat%2Fcompletions`,
//!      `/v1/./models`, `/x/../v1/models`) are never sent by a well-behaved client and would
//!      be read differently by different parsers: *refused* with 400.
//! 3. **Passthrough**: anything else goes to the gateway only when passthrough is on, the
//!    path is strict (no `//`, `\`, dot segments, or encoded `/`, `\` or `.`: the gateway's
//!    WHATWG URL parser would resolve them, so `/assets/../tools/invoke` would reach
//!    `/tools/invoke`) and it lies under the [`Allowlist`]; else 404. Only the methods the
//!    Control UI uses go through ([`passthrough_method`]); others are 405.

use http::Method;

use crate::front_door::passthrough::Allowlist;

/// The routes clawshim serves itself; everything else is passthrough or 404.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/chat/completions`.
    ChatCompletions,
    /// `POST /v1/responses`.
    Responses,
    /// `POST /v1/embeddings` (forwarded to the gateway after clawshim's auth).
    Embeddings,
    /// `GET /v1/models`.
    Models,
    /// `GET /v1/models/{id}` (id percent-decoded; may contain `/`).
    Model(String),
    /// `GET /healthz`: the process is up.
    Healthz,
    /// `GET /readyz`: the gateway connection is up.
    Readyz,
    /// A known path with the wrong method.
    WrongMethod { allow: &'static str },
    /// A non-canonical spelling of one of our routes that is refused (see the module docs).
    NonCanonical,
    /// Allowed passthrough: proxied to the gateway.
    Passthrough,
    /// Not ours, and not allowed through (or passthrough is off).
    NotFound,
}

impl Route {
    /// A bounded label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Route::ChatCompletions => "chat_completions",
            Route::Responses => "responses",
            Route::Embeddings => "embeddings",
            Route::Models => "models",
            Route::Model(_) => "model",
            Route::Healthz => "healthz",
            Route::Readyz => "readyz",
            Route::WrongMethod { .. } => "wrong_method",
            Route::NonCanonical => "non_canonical",
            Route::Passthrough => "passthrough",
            Route::NotFound => "not_found",
        }
    }

    /// The route's path template (`http.route` of its span); `None` for paths that are not
    /// ours (passthrough, not found, refused spellings).
    pub fn template(&self) -> Option<&'static str> {
        match self {
            Route::ChatCompletions => Some("/v1/chat/completions"),
            Route::Responses => Some("/v1/responses"),
            Route::Embeddings => Some("/v1/embeddings"),
            Route::Models => Some("/v1/models"),
            Route::Model(_) => Some("/v1/models/{id}"),
            Route::Healthz => Some("/healthz"),
            Route::Readyz => Some("/readyz"),
            Route::WrongMethod { .. }
            | Route::NonCanonical
            | Route::Passthrough
            | Route::NotFound => None,
        }
    }

    /// Whether the route needs a client bearer token.
    pub fn needs_auth(&self) -> bool {
        matches!(
            self,
            Route::ChatCompletions
                | Route::Responses
                | Route::Embeddings
                | Route::Models
                | Route::Model(_)
        )
    }
}

/// What one of our paths leads to.
enum Target {
    /// The path itself.
    Exact(Route),
    /// The path is a prefix; the rest (percent-decoded, non-empty) is the parameter.
    Param(fn(String) -> Route),
}

/// One of clawshim's own routes.
struct Own {
    path: &'static str,
    method: &'static str,
    target: Target,
}

/// clawshim's own routes. Paths are lower case; a `Param` path ends with `/`.
const OWN: &[Own] = &[
    Own {
        path: "/v1/chat/completions",
        method: "POST",
        target: Target::Exact(Route::ChatCompletions),
    },
    Own {
        path: "/v1/responses",
        method: "POST",
        target: Target::Exact(Route::Responses),
    },
    Own {
        path: "/v1/embeddings",
        method: "POST",
        target: Target::Exact(Route::Embeddings),
    },
    Own {
        path: "/v1/models",
        method: "GET",
        target: Target::Exact(Route::Models),
    },
    Own {
        path: "/v1/models/",
        method: "GET",
        target: Target::Param(Route::Model),
    },
    Own {
        path: "/healthz",
        method: "GET",
        target: Target::Exact(Route::Healthz),
    },
    Own {
        path: "/readyz",
        method: "GET",
        target: Target::Exact(Route::Readyz),
    },
];

/// Classify a request; `passthrough` is the allowlist, `None` when passthrough is off.
pub fn classify(method: &Method, path: &str, passthrough: Option<&Allowlist>) -> Route {
    if let Some(route) = own(method, path) {
        return route;
    }
    if let Some(tidy) = tidy(path) {
        if let Some(route) = own(method, &tidy) {
            return route;
        }
    }
    if resolves_to_own(path) {
        return Route::NonCanonical;
    }
    match passthrough {
        Some(allow) if strict(path) && allow.allows(path) => passthrough_method(method, path),
        _ => Route::NotFound,
    }
}

/// The one passthrough path the Control UI POSTs to: openclaw's assistant-media metadata
/// (`?meta=1&allow=1`, `handleControlUiAssistantMediaRequest`, which serves nothing else on
/// POST).
const ASSISTANT_MEDIA: &str = "/__openclaw__/assistant-media";

/// Passthrough for the methods the Control UI uses: `GET` and `HEAD` (pages, files, the
/// WebSocket upgrade; the gateways' Control UI handlers serve nothing else) and `POST` on
/// [`ASSISTANT_MEDIA`] only. `TRACE`, `DELETE`, `PUT` and the rest never reach the gateway.
fn passthrough_method(method: &Method, path: &str) -> Route {
    if *method == Method::GET || *method == Method::HEAD {
        return Route::Passthrough;
    }
    if path == ASSISTANT_MEDIA {
        return if *method == Method::POST {
            Route::Passthrough
        } else {
            Route::WrongMethod {
                allow: "GET, HEAD, POST",
            }
        };
    }
    Route::WrongMethod { allow: "GET, HEAD" }
}

/// The route of `path` when it is spelled exactly as in [`OWN`].
fn own(method: &Method, path: &str) -> Option<Route> {
    OWN.iter().find_map(|own| {
        let route = match &own.target {
            Target::Exact(route) if path == own.path => route.clone(),
            Target::Param(make) => {
                let rest = path.strip_prefix(own.path).filter(|r| !r.is_empty())?;
                make(percent_decode(rest))
            }
            Target::Exact(_) => return None,
        };
        Some(if method.as_str() == own.method {
            route
        } else {
            Route::WrongMethod { allow: own.method }
        })
    })
}

/// The normalised spelling of a path that differs from ours only by slashes or case: repeated
/// slashes collapsed, a trailing slash dropped, the fixed part lower-cased (a `Param` route's
/// parameter keeps its case). `None` when the path holds anything that is refused instead
/// (`%`, `\`, dot segments).
fn tidy(path: &str) -> Option<String> {
    if path.contains(['%', '\\']) || has_dot_segment(path) {
        return None;
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let joined = format!("/{}", segments.join("/"));
    let lower = joined.to_ascii_lowercase();
    // Lower-case only what matches a route's fixed part, so a model id keeps its case.
    for own in OWN {
        if let Target::Param(_) = own.target {
            if lower.starts_with(own.path) {
                return Some(format!("{}{}", own.path, &joined[own.path.len()..]));
            }
        }
    }
    Some(lower)
}

/// Whether `path`, read the loosest way a parser could (percent-decoded, `\` as `/`, dot
/// segments resolved, any case), names one of our routes.
fn resolves_to_own(path: &str) -> bool {
    let decoded = percent_decode(path).replace('\\', "/").to_ascii_lowercase();
    let mut resolved: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                resolved.pop();
            }
            s => resolved.push(s),
        }
    }
    let loose = format!("/{}", resolved.join("/"));
    OWN.iter().any(|own| match own.target {
        Target::Exact(_) => loose == own.path,
        Target::Param(_) => loose.starts_with(own.path) || loose == own.path.trim_end_matches('/'),
    })
}

/// Whether a path is safe to pass through as it is: no empty segment but a trailing one, no
/// `\`, no dot segment, no encoded `/`, `\` or `.`.
fn strict(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    path.starts_with('/')
        && !path.contains('\\')
        && !path.trim_end_matches('/').contains("//")
        && !path.ends_with("//")
        && !has_dot_segment(path)
        && !["%2f", "%5c", "%2e"].iter().any(|e| lower.contains(e))
}

fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|s| s == "." || s == "..")
}

/// Decode `%XX` escapes (`openclaw%2Fmain` -> `openclaw/main`); invalid escapes stay as-is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow() -> Allowlist {
        Allowlist::parse(&["/".into(), "/assets".into(), "/avatar/".into()]).unwrap()
    }

    fn route(method: Method, path: &str) -> Route {
        classify(&method, path, Some(&allow()))
    }

    #[test]
    fn openai_routes() {
        let cases = [
            (Method::POST, "/v1/chat/completions", Route::ChatCompletions),
            (
                Method::GET,
                "/v1/chat/completions",
                Route::WrongMethod { allow: "POST" },
            ),
            (Method::GET, "/v1/models", Route::Models),
            (
                Method::GET,
                "/v1/models/openclaw%2Fmain",
                Route::Model("openclaw/main".into()),
            ),
            (
                Method::GET,
                "/v1/models/openclaw/main",
                Route::Model("openclaw/main".into()),
            ),
            (
                Method::DELETE,
                "/v1/models/x",
                Route::WrongMethod { allow: "GET" },
            ),
            (Method::GET, "/healthz", Route::Healthz),
            (Method::GET, "/readyz", Route::Readyz),
            (Method::POST, "/v1/responses", Route::Responses),
            (
                Method::GET,
                "/v1/responses",
                Route::WrongMethod { allow: "POST" },
            ),
            (Method::POST, "/v1/embeddings", Route::Embeddings),
            (Method::POST, "/V1/Responses/", Route::Responses),
        ];
        for (method, path, want) in cases {
            assert_eq!(route(method.clone(), path), want, "{method} {path}");
        }
    }

    #[test]
    fn slash_and_case_variants_of_our_routes_are_normalised() {
        let cases = [
            (
                Method::POST,
                "/v1/chat/completions/",
                Route::ChatCompletions,
            ),
            (
                Method::POST,
                "//v1/chat/completions",
                Route::ChatCompletions,
            ),
            (
                Method::POST,
                "/v1//chat/completions",
                Route::ChatCompletions,
            ),
            (Method::POST, "/V1/Chat/Completions", Route::ChatCompletions),
            (
                Method::GET,
                "/V1/Chat/Completions/",
                Route::WrongMethod { allow: "POST" },
            ),
            (Method::GET, "/v1/models/", Route::Models),
            (Method::GET, "/V1/MODELS", Route::Models),
            (Method::GET, "/HEALTHZ", Route::Healthz),
            (
                Method::GET,
                "/V1//Models/Agent-X",
                Route::Model("Agent-X".into()),
            ),
        ];
        for (method, path, want) in cases {
            assert_eq!(route(method.clone(), path), want, "{method} {path}");
        }
    }

    #[test]
    fn encoded_and_dot_forms_of_our_routes_are_refused() {
        for path in [
            "/v1/chat%2Fcompletions",
            "/v1/chat%2fcompletions",
            "/v1/chat/completion%73",
            "%2Fv1/chat/completions",
            "/v1/./chat/completions",
            "/v1/chat/completions/.",
            "/x/../v1/chat/completions",
            "/v1/chat/x/%2E%2E/completions",
            "/v1\\chat\\completions",
            "/v1/models%2F",
            "/assets/../v1/models",
        ] {
            assert_eq!(route(Method::POST, path), Route::NonCanonical, "{path}");
        }
    }

    #[test]
    fn only_allowed_strict_paths_pass_through() {
        let cases = [
            ("/", Route::Passthrough),
            ("/assets", Route::Passthrough),
            ("/assets/index-abc.js", Route::Passthrough),
            ("/assets/", Route::Passthrough),
            ("/avatar/main", Route::Passthrough),
            ("/tools/invoke", Route::NotFound),
            ("/hooks/agent", Route::NotFound),
            ("/assetsx", Route::NotFound),
            ("/ASSETS/x.js", Route::NotFound),
            ("/assets/../tools/invoke", Route::NotFound),
            ("/assets/%2e%2e/tools/invoke", Route::NotFound),
            ("/assets/..%2Ftools/invoke", Route::NotFound),
            ("/assets\\..\\tools/invoke", Route::NotFound),
            ("//assets/x.js", Route::NotFound),
            ("/assets//x.js", Route::NotFound),
            ("//tools/invoke", Route::NotFound),
        ];
        for (path, want) in cases {
            assert_eq!(route(Method::GET, path), want, "{path}");
        }
    }

    #[test]
    fn passthrough_takes_only_the_control_uis_methods() {
        let media = Allowlist::parse(&["/".into(), ASSISTANT_MEDIA.into()]).unwrap();
        let route = |m: Method, p: &str| classify(&m, p, Some(&media));
        assert_eq!(route(Method::GET, "/"), Route::Passthrough);
        assert_eq!(route(Method::HEAD, "/"), Route::Passthrough);
        assert_eq!(route(Method::POST, ASSISTANT_MEDIA), Route::Passthrough);
        for m in [
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::TRACE,
            Method::OPTIONS,
        ] {
            assert_eq!(
                route(m.clone(), "/"),
                Route::WrongMethod { allow: "GET, HEAD" },
                "{m}"
            );
        }
        let custom = Method::from_bytes(b"PROPFIND").unwrap();
        assert_eq!(
            route(custom, "/"),
            Route::WrongMethod { allow: "GET, HEAD" }
        );
        assert_eq!(
            route(Method::DELETE, ASSISTANT_MEDIA),
            Route::WrongMethod {
                allow: "GET, HEAD, POST"
            }
        );
        // Not allowed at all is still 404, whatever the method.
        assert_eq!(route(Method::TRACE, "/tools/invoke"), Route::NotFound);
    }

    #[test]
    fn nothing_passes_through_when_off() {
        assert_eq!(classify(&Method::GET, "/", None), Route::NotFound);
        assert_eq!(
            classify(&Method::POST, "/v1/chat/completions", None),
            Route::ChatCompletions
        );
    }

    #[test]
    fn percent_decoding_is_lenient() {
        assert_eq!(percent_decode("a%2fb"), "a/b");
        assert_eq!(percent_decode("a%zzb"), "a%zzb");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%"), "%");
    }
}
