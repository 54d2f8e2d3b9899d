//! Client authentication: `Authorization: Bearer <token>` checked against the shared tokens
//! and API keys (constant time, see [`KeyStore::authenticate`]), behind the failed-auth
//! limiter, then the key's request rate. Runs in `request_filter`, before any body is read
//! or gateway call is made. With shared state (`state.redis_url`) the failed-auth count and
//! the rate are the fleet's ([`crate::shared_state`]); the local counts are kept too and
//! decide whenever Redis does not answer within its bound.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use pingora::proxy::Session;

use crate::front_door::client_ip::Client;
use crate::front_door::failed_auth::Bucket;
use crate::front_door::keys::{bearer, ApiKey, KeyStore, Principal};
use crate::request::ctx::RequestCtx;
use crate::request::errors::{HttpError, Limit};
use crate::routes::table::Route;
use crate::state::ProxyState;

/// Authenticate routes that need it, apply per-IP failed-auth limiting and the key's request
/// rate. `Ok(None)` only for routes that need no auth. Passthrough is only checked against
/// the limiter: the gateway authenticates it, and its 401s count as failures
/// ([`count_gateway_refusal`]), so the gateway's login cannot be guessed through clawshim
/// either.
pub async fn authorize(
    session: &Session,
    ctx: &mut RequestCtx,
    state: &ProxyState,
) -> Result<Option<Principal>, HttpError> {
    if ctx.route == Route::Passthrough {
        check_failed_auth(limiter_key(ctx), state).await?;
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
    check_failed_auth(ip, state).await?;
    let header = session
        .req_header()
        .headers
        .get("authorization")
        .map(|v| v.as_bytes());
    let Some(principal) = authenticate(header, &state.keys) else {
        record_failure(ip, state).await;
        return Err(HttpError::Unauthorized);
    };
    ctx.key_name = principal.name().map(str::to_owned);
    if let Principal::Key(key) = &principal {
        take_request(key, state)
            .await
            .map_err(|retry| HttpError::TooManyRequests {
                limit: Limit::KeyRequestRate,
                retry_after_secs: retry.as_secs().max(1),
            })?;
    }
    Ok(Some(principal))
}

/// One request of the key's rate: the fleet's verdict when shared state answers, else the
/// local bucket's. The local bucket is charged either way, so a fallback starts from this
/// instance's recent traffic rather than a full bucket.
async fn take_request(key: &ApiKey, state: &ProxyState) -> Result<(), Duration> {
    let Some(per_minute) = key.requests_per_minute() else {
        return Ok(());
    };
    let local = key.take_request();
    match state.shared.take_request(&key.name, per_minute).await {
        Some(shared) => shared,
        None => local,
    }
}

/// The principal a route that needs auth is served as. None there would be a bug in
/// [`authorize`]: refuse the request rather than treat it as the operator's full access.
pub fn require_principal(principal: Option<Principal>) -> Result<Principal, HttpError> {
    principal.ok_or(HttpError::Unauthorized)
}

/// A refused gateway login through passthrough (an HTTP 401) counts like a refused key,
/// locally and fleet-wide before the answer goes out.
pub async fn count_gateway_refusal(ctx: &RequestCtx, state: &ProxyState) {
    record_failure(limiter_key(ctx), state).await;
}

/// A refused `connect` inside a passthrough WebSocket ([`crate::front_door::ws_login`])
/// counts the same; the body filter that sees it cannot wait, so the fleet-wide count is
/// sent from a task of its own (bounded by `state.timeout_ms` like every Redis call).
pub fn count_refused_ws_login(ctx: &RequestCtx, state: &ProxyState) {
    let ip = limiter_key(ctx);
    let limiter = &state.failed_auth;
    limiter.record_failure(ip, Instant::now());
    if limiter.max_failures() > 0 && state.shared.status().is_some() {
        let (shared, window) = (state.shared.clone(), limiter.window());
        tokio::spawn(async move {
            shared
                .failed_auth_record(&Bucket::of(ip).to_bytes(), window)
                .await;
        });
    }
}

/// One failure of `ip`'s bucket, locally and (when configured) fleet-wide.
async fn record_failure(ip: IpAddr, state: &ProxyState) {
    let limiter = &state.failed_auth;
    limiter.record_failure(ip, Instant::now());
    if limiter.max_failures() > 0 {
        let bucket = Bucket::of(ip).to_bytes();
        state
            .shared
            .failed_auth_record(&bucket, limiter.window())
            .await;
    }
}

/// Whether the client's address is locked out by this instance's failed-auth limiter now
/// (for sockets opened before the lockout; a body filter cannot wait on Redis).
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

/// 429 while the client's address is blocked by the failed-auth limiter: by the fleet's
/// count (when shared state answers) or by this instance's, whichever blocks: a Redis that
/// restarted empty gives no guesser a fresh budget on an instance that saw it.
async fn check_failed_auth(ip: IpAddr, state: &ProxyState) -> Result<(), HttpError> {
    let limiter = &state.failed_auth;
    if limiter.max_failures() == 0 {
        return Ok(());
    }
    let bucket = Bucket::of(ip).to_bytes();
    let shared = state
        .shared
        .failed_auth_check(&bucket, limiter.max_failures())
        .await;
    let verdict = match shared {
        Some(Err(retry)) => Err(retry),
        _ => limiter.check(ip, Instant::now()),
    };
    verdict.map_err(|retry| HttpError::TooManyRequests {
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
