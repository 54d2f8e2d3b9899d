//! Client authentication: `Authorization: Bearer <token>` checked against the shared tokens
//! and API keys (constant time, see [`KeyStore::authenticate`]), behind the failed-auth
//! limiter, then the key's request rate. Runs in `request_filter`, before any body is read
//! or gateway call is made.

use std::net::IpAddr;
use std::time::Instant;

use pingora::proxy::Session;

use crate::front_door::client_ip::Client;
use crate::front_door::keys::{bearer, KeyStore, Principal};
use crate::request::ctx::RequestCtx;
use crate::request::errors::{HttpError, Limit};
use crate::routes::table::Route;
use crate::state::ProxyState;

/// Authenticate routes that need it, apply per-IP failed-auth limiting and the key's request
/// rate. `Ok(None)` only for routes that need no auth. Passthrough is only checked against
/// the limiter: the gateway authenticates it, and its 401s count as failures
/// ([`count_gateway_refusal`]), so the gateway's login cannot be guessed through clawshim
/// either.
pub fn authorize(
    session: &Session,
    ctx: &mut RequestCtx,
    state: &ProxyState,
) -> Result<Option<Principal>, HttpError> {
    if ctx.route == Route::Passthrough {
        check_failed_auth(limiter_key(ctx), state)?;
        if let Some(Client::Unknown { .. }) = ctx.client_ip {
            // The gateway could not be told who this is; taking it for the proxy would make a
            // remote client local to the gateway.
            return Err(HttpError::Forbidden {
                message: "clawshim cannot tell this client's address (a trusted proxy's \
                          X-Forwarded-For entry for it is not an address), so the gateway's \
                          pages are not passed through for it."
                    .into(),
            });
        }
        return Ok(None);
    }
    if !ctx.route.needs_auth() {
        return Ok(None);
    }
    let ip = limiter_key(ctx);
    let now = Instant::now();
    check_failed_auth(ip, state)?;
    let header = session
        .req_header()
        .headers
        .get("authorization")
        .map(|v| v.as_bytes());
    let Some(principal) = authenticate(header, &state.keys) else {
        state.failed_auth.record_failure(ip, now);
        return Err(HttpError::Unauthorized);
    };
    ctx.key_name = principal.name().map(str::to_owned);
    if let Principal::Key(key) = &principal {
        key.take_request()
            .map_err(|retry| HttpError::TooManyRequests {
                limit: Limit::KeyRequestRate,
                retry_after_secs: retry.as_secs().max(1),
            })?;
    }
    Ok(Some(principal))
}

/// The principal a route that needs auth is served as. None there would be a bug in
/// [`authorize`]: refuse the request rather than treat it as the operator's full access.
pub fn require_principal(principal: Option<Principal>) -> Result<Principal, HttpError> {
    principal.ok_or(HttpError::Unauthorized)
}

/// A refused gateway login through passthrough counts like a refused key: an HTTP 401, or a
/// refused `connect` inside its WebSocket ([`crate::front_door::ws_login`]).
pub fn count_gateway_refusal(ctx: &RequestCtx, state: &ProxyState) {
    state
        .failed_auth
        .record_failure(limiter_key(ctx), Instant::now());
}

/// Whether the client's address is locked out by the failed-auth limiter now (for sockets
/// opened before the lockout).
pub fn locked_out(ctx: &RequestCtx, state: &ProxyState) -> bool {
    state
        .failed_auth
        .check(limiter_key(ctx), Instant::now())
        .is_err()
}

/// The address the failed-auth limiter counts for the client
/// ([`crate::front_door::client_ip::Client::limiter_ip`]).
fn limiter_key(ctx: &RequestCtx) -> IpAddr {
    ctx.client_ip
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.limiter_ip())
}

/// 429 while the client's address is blocked by the failed-auth limiter.
fn check_failed_auth(ip: IpAddr, state: &ProxyState) -> Result<(), HttpError> {
    state
        .failed_auth
        .check(ip, Instant::now())
        .map_err(|retry| HttpError::TooManyRequests {
            limit: Limit::FailedLogins,
            retry_after_secs: retry.as_secs().max(1),
        })
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

    #[test]
    fn a_missing_principal_is_refused_not_full_access() {
        assert!(matches!(
            require_principal(None),
            Err(HttpError::Unauthorized)
        ));
        assert!(matches!(
            require_principal(Some(Principal::Shared)),
            Ok(Principal::Shared)
        ));
    }
}
