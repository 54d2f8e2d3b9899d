//! Client authentication: `Authorization: Bearer <token>` compared in constant time with
//! every accepted token. Runs in `request_filter`, before any body is read.

use clawshim_core::gateway::client::Secret;
use subtle::ConstantTimeEq;

/// The token of an `Authorization: Bearer ...` header value, if it has that form.
pub fn bearer(header: &[u8]) -> Option<&[u8]> {
    let header = header.trim_ascii();
    if header.len() < 7 || !header[..7].eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = header[7..].trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// Whether the header carries one of `accepted`. Compares against every token (no early
/// exit), so timing tells nothing about which one nearly matched.
pub fn check(header: Option<&[u8]>, accepted: &[Secret]) -> bool {
    let Some(token) = header.and_then(bearer) else {
        return false;
    };
    accepted
        .iter()
        .fold(subtle::Choice::from(0), |ok, t| {
            ok | t.expose().as_bytes().ct_eq(token)
        })
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_any_configured_token() {
        let accepted = [Secret::new("one"), Secret::new("two")];
        assert!(check(Some(b"Bearer two"), &accepted));
        assert!(check(Some(b"bearer  one "), &accepted));
        assert!(!check(Some(b"Bearer three"), &accepted));
        assert!(!check(Some(b"Basic one"), &accepted));
        assert!(!check(Some(b"Bearer "), &accepted));
        assert!(!check(None, &accepted));
    }
}
