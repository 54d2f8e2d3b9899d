//! Client authentication: `Authorization: Bearer <token>` checked against the shared tokens
//! and API keys (constant time, see [`KeyStore::authenticate`]). Runs in `request_filter`,
//! before any body is read.

use crate::keys::{KeyStore, Principal};

/// The token of an `Authorization: Bearer ...` header value, if it has that form.
pub fn bearer(header: &[u8]) -> Option<&[u8]> {
    let header = header.trim_ascii();
    if header.len() < 7 || !header[..7].eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = header[7..].trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// Who the `Authorization` header belongs to, if anyone.
pub fn authenticate(header: Option<&[u8]>, store: &KeyStore) -> Option<Principal> {
    store.authenticate(header.and_then(bearer)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clawshim_core::gateway::Secret;

    #[test]
    fn accepts_any_configured_token() {
        let store = KeyStore::new(vec![Secret::new("one"), Secret::new("two")], &[]);
        assert!(authenticate(Some(b"Bearer two"), &store).is_some());
        assert!(authenticate(Some(b"bearer  one "), &store).is_some());
        assert!(authenticate(Some(b"Bearer three"), &store).is_none());
        assert!(authenticate(Some(b"Basic one"), &store).is_none());
        assert!(authenticate(Some(b"Bearer "), &store).is_none());
        assert!(authenticate(None, &store).is_none());
    }
}
