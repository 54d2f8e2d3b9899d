//! Length limits on what a request may carry besides its body size, in one place.
//!
//! The body cap (`max_body_bytes`, 20 MiB by default) bounds the bytes; these bound what the
//! bytes may turn into. `model` is copied into every stream chunk, `user` and the session
//! header become a session key stored by the gateway, the agent header an agent id; and
//! every message and content part is a parsed struct, so their counts cap the memory one
//! body costs (a 20 MiB body of `[{},{},...]` would otherwise be millions of structs). Each
//! limit is far above what OpenAI clients send. Over a limit, the request gets a 400 naming
//! the parameter or header.

use crate::error::RequestError;

/// Longest `model`, in bytes (OpenAI model ids and `openclaw/<agent>` are far shorter).
pub const MAX_MODEL_BYTES: usize = 256;
/// Longest `user`, in bytes (it becomes part of a gateway session key).
pub const MAX_USER_BYTES: usize = 256;
/// Longest session header (`x-openclaw-session-key` and its aliases), in bytes.
pub const MAX_SESSION_HEADER_BYTES: usize = 512;
/// Longest agent header (`x-openclaw-agent-id` and its aliases), in bytes.
pub const MAX_AGENT_HEADER_BYTES: usize = 128;
/// Most entries in `messages`.
pub const MAX_MESSAGES: usize = 10_000;
/// Most items in a Responses `input` (as [`MAX_MESSAGES`] for chat).
pub const MAX_INPUT_ITEMS: usize = 10_000;
/// Most content parts across all messages (or Responses items) of one request.
pub const MAX_CONTENT_PARTS: usize = 10_000;
/// Longest `tools` read, in bytes of JSON (Open WebUI's 36 tools are about 40 KB; OpenAI
/// allows 128 tools).
pub const MAX_TOOLS_BYTES: usize = 512 * 1024;
/// Longest `tool_choice` read, in bytes of JSON.
pub const MAX_TOOL_CHOICE_BYTES: usize = 4 * 1024;

/// `Invalid '<param>': string too long. ...` when `value` is longer than `max` bytes.
pub fn check_string(param: &str, value: &str, max: usize) -> Result<(), RequestError> {
    if value.len() <= max {
        return Ok(());
    }
    Err(RequestError::new(
        format!(
            "Invalid '{param}': string too long. Expected a string with maximum length {max}, \
             but got a string with length {} instead.",
            value.len()
        ),
        Some(param.to_owned()),
    ))
}

/// `Invalid '<param>': ...` when `value` holds a control character (NUL, other C0 codes, DEL,
/// C1 codes). `user` and the session headers become gateway session keys, which are stored,
/// logged and compared as text; a NUL or a line break there is never meant.
pub fn check_no_control(param: &str, value: &str) -> Result<(), RequestError> {
    match value.char_indices().find(|(_, c)| c.is_control()) {
        None => Ok(()),
        Some((at, c)) => Err(RequestError::new(
            format!(
                "Invalid '{param}': control characters are not allowed (U+{:04X} at byte {at}).",
                u32::from(c)
            ),
            Some(param.to_owned()),
        )),
    }
}

/// `user`: at most [`MAX_USER_BYTES`], no control characters.
pub fn check_user(value: &str) -> Result<(), RequestError> {
    check_string("user", value, MAX_USER_BYTES)?;
    check_no_control("user", value)
}

/// Checks the routing headers (`header` reads one by name): every session header against
/// [`MAX_SESSION_HEADER_BYTES`], every agent header against [`MAX_AGENT_HEADER_BYTES`], both
/// for control characters. The error's `param` is the header's name.
pub fn check_headers(header: impl Fn(&str) -> Option<String>) -> Result<(), RequestError> {
    let groups = [
        (
            &crate::routing::SESSION_HEADERS[..],
            MAX_SESSION_HEADER_BYTES,
        ),
        (&crate::routing::AGENT_HEADERS[..], MAX_AGENT_HEADER_BYTES),
    ];
    for (names, max) in groups {
        for name in names {
            if let Some(value) = header(name) {
                check_string(name, &value, max)?;
                check_no_control(name, &value)?;
            }
        }
    }
    Ok(())
}

/// `Invalid '<param>': array too long. ...` for an array of `len` entries over `max`.
pub(crate) fn array_too_long(param: &str, len: usize, max: usize) -> RequestError {
    RequestError::new(
        format!(
            "Invalid '{param}': array too long. Expected an array with maximum length {max}, \
             but got an array with length {len} instead."
        ),
        Some(param.to_owned()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_up_to_the_limit_pass() {
        assert_eq!(
            check_string("user", &"u".repeat(MAX_USER_BYTES), MAX_USER_BYTES),
            Ok(())
        );
        let err =
            check_string("user", &"u".repeat(MAX_USER_BYTES + 1), MAX_USER_BYTES).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("user"));
        assert!(err.message.contains("maximum length 256"), "{err}");
        assert!(err.message.contains("length 257"), "{err}");
    }

    #[test]
    fn control_characters_in_session_keys_are_refused() {
        for bad in ["a\0b", "a\nb", "\t", "x\u{7f}", "x\u{85}"] {
            let err = check_user(bad).unwrap_err();
            assert_eq!(err.param.as_deref(), Some("user"), "{bad:?}");
            assert!(err.message.contains("control characters"), "{err}");
        }
        for ok in ["alice@example.com", "Zoë 🙂", "a b"] {
            assert_eq!(check_user(ok), Ok(()), "{ok:?}");
        }
        let err = check_headers(|name| (name == "x-openclaw-session-key").then(|| "a\tb".into()))
            .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("x-openclaw-session-key"));
    }

    #[test]
    fn headers_are_checked_by_group() {
        let long_session = "s".repeat(MAX_SESSION_HEADER_BYTES + 1);
        let err =
            check_headers(|name| (name == "x-openclaw-session-key").then(|| long_session.clone()))
                .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("x-openclaw-session-key"));
        let agent = "a".repeat(MAX_AGENT_HEADER_BYTES);
        assert_eq!(
            check_headers(|name| (name == "x-openclaw-agent-id").then(|| agent.clone())),
            Ok(())
        );
        let err =
            check_headers(|name| (name == "x-openclaw-agent-id").then(|| format!("{agent}a")))
                .unwrap_err();
        assert_eq!(err.param.as_deref(), Some("x-openclaw-agent-id"));
        assert_eq!(check_headers(|_| None), Ok(()));
    }
}
