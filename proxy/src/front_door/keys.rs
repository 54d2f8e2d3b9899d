//! clawshim's own API keys: each has a name (for logs and metrics; the key itself is never
//! logged), the agents it may use, optional rate limits and an optional fixed session
//! namespace. Keys are stored as SHA-256 hashes in the config file; `clawshim gen-key`
//! prints a new key and the config block to add.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clawshim_core::gateway::{ProgressLevel, Secret};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One configured key.
#[derive(Debug)]
pub struct ApiKey {
    /// Name shown in logs and metrics.
    pub name: String,
    /// SHA-256 of the key.
    pub hash: [u8; 32],
    /// Agents the key may use; `None` = all.
    pub agents: Option<Vec<String>>,
    /// The key's session namespace: its sessions are `agent:<id>:<namespace>:...`, and it
    /// may name no other (see `clawshim_core::routing::session_key`).
    pub session_namespace: String,
    /// The key's own `client_tools` (the stricter of it and the server's applies).
    pub client_tools: Option<crate::run::client_tools::mode::ClientToolsMode>,
    /// Requests per minute, when limited.
    rate: Option<Mutex<TokenBucket>>,
    /// Concurrent runs, when limited.
    streams: Option<Arc<Semaphore>>,
    /// The limits as configured (the fleet-wide checks use them).
    per_minute: Option<u32>,
    max_runs: Option<usize>,
    /// Token budgets per UTC day and month ([`crate::usage`]).
    daily_tokens: Option<u64>,
    monthly_tokens: Option<u64>,
    /// The most of the agent's work its requests see; `None` = the server's setting.
    pub progress: Option<ProgressLevel>,
}

/// Settings of one key, as validated config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    pub name: String,
    pub sha256: [u8; 32],
    pub agents: Option<Vec<String>>,
    pub requests_per_minute: Option<u32>,
    pub max_concurrent_runs: Option<usize>,
    /// Tokens per UTC day and month; at least 1 when set.
    pub daily_token_budget: Option<u64>,
    pub monthly_token_budget: Option<u64>,
    /// Checked by `clawshim_core::routing::check_namespace`, unique across keys.
    pub session_namespace: String,
    /// The most of the agent's work the key's requests see (`None`: the server's setting).
    pub progress: Option<ProgressLevel>,
    pub client_tools: Option<crate::run::client_tools::mode::ClientToolsMode>,
}

impl ApiKey {
    /// Build a key with its limiter state.
    pub fn new(spec: &KeySpec) -> ApiKey {
        ApiKey {
            name: spec.name.clone(),
            hash: spec.sha256,
            agents: spec.agents.clone(),
            session_namespace: spec.session_namespace.clone(),
            client_tools: spec.client_tools,
            rate: spec
                .requests_per_minute
                .map(|rpm| Mutex::new(TokenBucket::per_minute(rpm))),
            streams: spec
                .max_concurrent_runs
                .map(|n| Arc::new(Semaphore::new(n))),
            per_minute: spec.requests_per_minute,
            max_runs: spec.max_concurrent_runs,
            daily_tokens: spec.daily_token_budget,
            monthly_tokens: spec.monthly_token_budget,
            progress: spec.progress,
        }
    }

    /// Whether the key may use `agent`.
    pub fn allows(&self, agent: &str) -> bool {
        self.agents
            .as_ref()
            .is_none_or(|list| list.iter().any(|a| a == agent))
    }

    /// The key's requests per minute, when limited.
    pub fn requests_per_minute(&self) -> Option<u32> {
        self.per_minute
    }

    /// The key's run slots, when limited.
    pub fn max_concurrent_runs(&self) -> Option<usize> {
        self.max_runs
    }

    /// The key's tokens per UTC day, when budgeted.
    pub fn daily_token_budget(&self) -> Option<u64> {
        self.daily_tokens
    }

    /// The key's tokens per UTC month, when budgeted.
    pub fn monthly_token_budget(&self) -> Option<u64> {
        self.monthly_tokens
    }

    /// Take one request from the key's per-minute budget; `Err(retry_after)` when empty.
    pub fn take_request(&self) -> Result<(), Duration> {
        match &self.rate {
            Some(bucket) => bucket
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(Instant::now()),
            None => Ok(()),
        }
    }

    /// Hold one of the key's run slots for the life of the permit (`Ok(None)` when the key
    /// has no limit); `Err` when all are taken.
    pub fn acquire_run(&self) -> Result<Option<OwnedSemaphorePermit>, AllSlotsTaken> {
        match &self.streams {
            Some(sem) => sem
                .clone()
                .try_acquire_owned()
                .map(Some)
                .map_err(|_| AllSlotsTaken),
            None => Ok(None),
        }
    }
}

/// Every run slot of a key is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("all run slots of the key are in use")]
pub struct AllSlotsTaken;

/// Who a request authenticated as.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A shared token (the gateway token or `auth.tokens`): every agent, no limits.
    Shared,
    /// One of clawshim's API keys.
    Key(Arc<ApiKey>),
}

impl Principal {
    /// The most of the agent's work this caller's requests may see: the key's own setting,
    /// else the server's (`server_progress`).
    pub fn progress_ceiling(&self, server_progress: ProgressLevel) -> ProgressLevel {
        match self {
            Principal::Shared => server_progress,
            Principal::Key(k) => k.progress.unwrap_or(server_progress),
        }
    }

    /// The key name for logs and metrics.
    pub fn name(&self) -> Option<&str> {
        match self {
            Principal::Shared => None,
            Principal::Key(k) => Some(&k.name),
        }
    }

    /// The `client_tools` for this principal's requests: the server's, unless its key
    /// turns them off.
    pub fn client_tools(
        &self,
        server: crate::run::client_tools::mode::ClientToolsMode,
    ) -> crate::run::client_tools::mode::ClientToolsMode {
        match self {
            Principal::Shared => server,
            Principal::Key(k) => server.with_key(k.client_tools),
        }
    }

    /// Whether this principal may use `agent`.
    pub fn allows(&self, agent: &str) -> bool {
        match self {
            Principal::Shared => true,
            Principal::Key(k) => k.allows(agent),
        }
    }
}

/// All accepted credentials, each kept as its SHA-256 only.
#[derive(Debug, Default)]
pub struct KeyStore {
    /// SHA-256 of each shared token.
    shared: Vec<[u8; 32]>,
    keys: Vec<Arc<ApiKey>>,
}

impl KeyStore {
    /// Shared tokens plus API keys.
    pub fn new(shared: Vec<Secret>, keys: &[KeySpec]) -> KeyStore {
        KeyStore {
            shared: shared
                .iter()
                .map(|t| Sha256::digest(t.expose().as_bytes()).into())
                .collect(),
            keys: keys.iter().map(|k| Arc::new(ApiKey::new(k))).collect(),
        }
    }

    /// Who `token` is. The token is hashed first and every credential's hash is compared
    /// (no early exit) in constant time: comparing raw bytes stops at the first length
    /// difference, which tells an attacker a shared token's length.
    pub fn authenticate(&self, token: &[u8]) -> Option<Principal> {
        let digest: [u8; 32] = Sha256::digest(token).into();
        let mut shared = subtle::Choice::from(0);
        for t in &self.shared {
            shared |= t.ct_eq(&digest);
        }
        let mut found: Option<&Arc<ApiKey>> = None;
        for k in &self.keys {
            if bool::from(k.hash.ct_eq(&digest)) {
                found = Some(k);
            }
        }
        if bool::from(shared) {
            Some(Principal::Shared)
        } else {
            found.map(|k| Principal::Key(k.clone()))
        }
    }
}

/// The token of an `Authorization: Bearer ...` header value, if it has that form.
pub fn bearer(header: &[u8]) -> Option<&[u8]> {
    let header = header.trim_ascii();
    if header.len() < 7 || !header[..7].eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = header[7..].trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// A token bucket refilled continuously.
#[derive(Debug)]
struct TokenBucket {
    capacity: f64,
    tokens: f64,
    per_sec: f64,
    last: Instant,
}

impl TokenBucket {
    fn per_minute(rpm: u32) -> TokenBucket {
        let capacity = f64::from(rpm.max(1));
        TokenBucket {
            capacity,
            tokens: capacity,
            per_sec: capacity / 60.0,
            last: Instant::now(),
        }
    }

    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.capacity);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.per_sec))
        }
    }
}

/// A new random key (`csk-` + 64 hex digits) and its SHA-256 hex.
pub fn generate() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let key = format!("csk-{}", hex(&bytes));
    let hash = hex(&Sha256::digest(key.as_bytes()));
    (key, hash)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parse 64 hex digits.
pub fn parse_sha256_hex(s: &str) -> Option<[u8; 32]> {
    let s = s.trim();
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        let pair = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::client_tools::mode::ClientToolsMode;

    #[test]
    fn a_key_can_turn_client_tools_off_but_not_on() {
        let mut off = spec("off", "k1");
        off.client_tools = Some(ClientToolsMode::Off);
        let key = Principal::Key(Arc::new(ApiKey::new(&off)));
        assert_eq!(
            key.client_tools(ClientToolsMode::Auto),
            ClientToolsMode::Off
        );
        let mut on = spec("on", "k2");
        on.client_tools = Some(ClientToolsMode::Auto);
        let key = Principal::Key(Arc::new(ApiKey::new(&on)));
        assert_eq!(key.client_tools(ClientToolsMode::Off), ClientToolsMode::Off);
        assert_eq!(
            key.client_tools(ClientToolsMode::Auto),
            ClientToolsMode::Auto
        );
        assert_eq!(
            Principal::Shared.client_tools(ClientToolsMode::Off),
            ClientToolsMode::Off
        );
    }

    fn spec(name: &str, key: &str) -> KeySpec {
        KeySpec {
            name: name.into(),
            sha256: Sha256::digest(key.as_bytes()).into(),
            agents: Some(vec!["beta".into()]),
            requests_per_minute: Some(2),
            max_concurrent_runs: Some(1),
            daily_token_budget: None,
            monthly_token_budget: None,
            client_tools: None,
            session_namespace: name.into(),
            progress: None,
        }
    }

    #[test]
    fn shared_tokens_and_hashed_keys_authenticate() {
        let store = KeyStore::new(vec![Secret::new("gw")], &[spec("laptop", "csk-abc")]);
        assert!(matches!(store.authenticate(b"gw"), Some(Principal::Shared)));
        let p = store.authenticate(b"csk-abc").unwrap();
        assert_eq!(p.name(), Some("laptop"));
        assert!(p.allows("beta") && !p.allows("main"));
        assert!(store.authenticate(b"csk-abd").is_none());
    }

    #[test]
    fn shared_tokens_are_kept_and_compared_as_hashes() {
        let store = KeyStore::new(vec![Secret::new("gateway-token")], &[]);
        let digest: [u8; 32] = Sha256::digest(b"gateway-token").into();
        // Only the fixed-length hash is kept, so no comparison depends on the token's length.
        assert_eq!(store.shared, vec![digest]);
        assert!(store.authenticate(b"gateway-token").is_some());
        for wrong in [&b"gateway-toke"[..], b"gateway-token-", b"", b"g"] {
            assert!(store.authenticate(wrong).is_none());
        }
    }

    #[test]
    fn rate_and_concurrency_limits() {
        let key = ApiKey::new(&spec("k", "x"));
        assert!(key.take_request().is_ok());
        assert!(key.take_request().is_ok());
        let retry = key.take_request().unwrap_err();
        assert!(retry > Duration::from_secs(1) && retry <= Duration::from_secs(30));
        let permit = key.acquire_run().unwrap();
        assert!(key.acquire_run().is_err());
        drop(permit);
        assert!(key.acquire_run().is_ok());
    }

    #[test]
    fn generated_keys_hash_to_their_printed_hash() {
        let (key, hash) = generate();
        assert!(key.starts_with("csk-") && key.len() == 68);
        let parsed = parse_sha256_hex(&hash).unwrap();
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        assert_eq!(parsed, digest);
        assert!(parse_sha256_hex("zz").is_none());
    }
}
