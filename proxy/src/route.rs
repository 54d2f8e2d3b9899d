//! Which handler a request goes to, from its method and path alone.

use http::Method;

/// The routes clawshim serves itself; everything else is passthrough (or 404 when off).
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
    /// Not ours: proxied to the gateway.
    Passthrough,
    /// Not ours, and passthrough is off.
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
            Route::Passthrough => "passthrough",
            Route::NotFound => "not_found",
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

/// Classify a request.
pub fn classify(method: &Method, path: &str, passthrough: bool) -> Route {
    let only = |allowed: Method, allow: &'static str, route: Route| {
        if method == allowed {
            route
        } else {
            Route::WrongMethod { allow }
        }
    };
    match path {
        "/v1/chat/completions" => only(Method::POST, "POST", Route::ChatCompletions),
        "/v1/responses" => only(Method::POST, "POST", Route::Responses),
        "/v1/embeddings" => only(Method::POST, "POST", Route::Embeddings),
        "/v1/models" => only(Method::GET, "GET", Route::Models),
        "/healthz" => only(Method::GET, "GET", Route::Healthz),
        "/readyz" => only(Method::GET, "GET", Route::Readyz),
        _ => {
            if let Some(id) = path.strip_prefix("/v1/models/").filter(|id| !id.is_empty()) {
                return only(Method::GET, "GET", Route::Model(percent_decode(id)));
            }
            if passthrough {
                Route::Passthrough
            } else {
                Route::NotFound
            }
        }
    }
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

    #[test]
    fn openai_routes() {
        assert_eq!(
            classify(&Method::POST, "/v1/chat/completions", true),
            Route::ChatCompletions
        );
        assert_eq!(
            classify(&Method::GET, "/v1/chat/completions", true),
            Route::WrongMethod { allow: "POST" }
        );
        assert_eq!(classify(&Method::GET, "/v1/models", true), Route::Models);
        assert_eq!(
            classify(&Method::GET, "/v1/models/openclaw%2Fmain", true),
            Route::Model("openclaw/main".into())
        );
        assert_eq!(
            classify(&Method::GET, "/v1/models/openclaw/main", true),
            Route::Model("openclaw/main".into())
        );
        assert_eq!(
            classify(&Method::DELETE, "/v1/models/x", true),
            Route::WrongMethod { allow: "GET" }
        );
    }

    #[test]
    fn responses_and_embeddings_are_served_here() {
        assert_eq!(
            classify(&Method::POST, "/v1/responses", true),
            Route::Responses
        );
        assert_eq!(
            classify(&Method::GET, "/v1/responses", true),
            Route::WrongMethod { allow: "POST" }
        );
        assert_eq!(
            classify(&Method::POST, "/v1/embeddings", false),
            Route::Embeddings
        );
        assert!(Route::Responses.needs_auth() && Route::Embeddings.needs_auth());
    }

    #[test]
    fn everything_else_passes_through_unless_off() {
        assert_eq!(classify(&Method::GET, "/", true), Route::Passthrough);
        assert_eq!(
            classify(&Method::POST, "/v1/files", true),
            Route::Passthrough
        );
        assert_eq!(classify(&Method::GET, "/", false), Route::NotFound);
    }

    #[test]
    fn percent_decoding_is_lenient() {
        assert_eq!(percent_decode("a%2fb"), "a/b");
        assert_eq!(percent_decode("a%zzb"), "a%zzb");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%"), "%");
    }
}
