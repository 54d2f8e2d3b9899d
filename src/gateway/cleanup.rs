//! Whether clawshim removes its per-request sessions after their run, decided once per
//! handshake from what the gateway granted.
//!
//! On clawdbot 2026.1.x every `agent` run re-parses the agent's whole session store, twice
//! before `accepted` (gateway-lab PERF-NOTES), so each stateless request that leaves its
//! session behind makes every later run slower. `sessions.delete` is an admin method
//! (clawdbot 2026.1.24 `gateway/server-methods.js`), so deleting is only possible when the
//! connection holds `operator.admin`:
//! - v4 reports the granted scopes in `hello-ok.auth.scopes` (openclaw-lab README, token-only
//!   row: a loopback `gateway-client`/`backend` keeps `operator.admin`);
//! - v3 sends no `auth` without a device block and keeps the requested scopes of a
//!   token-only operator (gateway-lab README, Handshake), so asking for admin is enough.
//!
//! [`SessionCleanup::Auto`] (the default) deletes on protocol 3 only: openclaw keeps sessions
//! in SQLite, where a growing store costs a run nothing, while each delete is a locked write
//! on the gateway. It asks for admin only where asking cannot cost the connection: without a
//! device identity. A paired device asking for more than it was
//! approved for would need a new pairing approval, so with one `Auto` uses what was granted.

use std::fmt;
use std::str::FromStr;

use super::methods::{HelloOk, SCOPES, SCOPES_WITH_ADMIN};

/// Why `auto` keeps sessions on protocol 4 (not worth a warning).
pub(crate) const AUTO_KEEPS_V4: &str =
    "openclaw keeps sessions in SQLite: deleting them would cost more than it saves";

/// `gateway.delete_ephemeral_sessions`: `auto` (default), `true` (always ask for admin) or
/// `false` (keep every session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionCleanup {
    /// Never delete sessions; ask for no admin scope.
    Off,
    /// Delete when the handshake grants `operator.admin` (see the module doc).
    #[default]
    Auto,
    /// Always ask for `operator.admin`, and delete when granted.
    Always,
}

impl SessionCleanup {
    /// Whether sessions may be deleted at all (the per-request wish in `RunRequest`).
    pub fn enabled(self) -> bool {
        self != SessionCleanup::Off
    }

    /// The scopes `connect` asks for.
    pub(crate) fn scopes(self, has_device: bool) -> &'static [&'static str] {
        match self {
            SessionCleanup::Always => &SCOPES_WITH_ADMIN,
            SessionCleanup::Auto if !has_device => &SCOPES_WITH_ADMIN,
            SessionCleanup::Auto | SessionCleanup::Off => &SCOPES,
        }
    }

    /// Whether this connection may delete sessions, or why not.
    pub(crate) fn decide(self, hello: &HelloOk, requested: &[&str]) -> Result<(), &'static str> {
        if self == SessionCleanup::Off {
            return Err("gateway.delete_ephemeral_sessions is off");
        }
        if self == SessionCleanup::Auto && hello.protocol >= 4 {
            // SQLite store, no whole-store parse per run (gateway-lab PERF-NOTES, openclaw):
            // a locked delete per run would cost more than it saves.
            return Err(AUTO_KEEPS_V4);
        }
        let admin = "operator.admin";
        match &hello.auth {
            Some(auth) if auth.scopes.iter().any(|s| s == admin) => Ok(()),
            Some(_) if !requested.contains(&admin) => Err(
                "the device identity was not granted operator.admin and asking for it would need a new pairing approval (set gateway.delete_ephemeral_sessions = true and approve it)",
            ),
            Some(_) => Err("the gateway did not grant operator.admin"),
            // v3 without a device block: the requested scopes are kept.
            None if requested.contains(&admin) => Ok(()),
            None => Err("operator.admin was not requested"),
        }
    }
}

impl FromStr for SessionCleanup {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(SessionCleanup::Auto),
            "true" | "on" | "yes" | "1" => Ok(SessionCleanup::Always),
            "false" | "off" | "no" | "0" => Ok(SessionCleanup::Off),
            other => Err(format!("`{other}`: expected auto, true or false")),
        }
    }
}

impl fmt::Display for SessionCleanup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionCleanup::Off => "false",
            SessionCleanup::Auto => "auto",
            SessionCleanup::Always => "true",
        })
    }
}

impl<'de> serde::Deserialize<'de> for SessionCleanup {
    /// A TOML boolean or the string `"auto"`.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(true) => Ok(SessionCleanup::Always),
            Raw::Bool(false) => Ok(SessionCleanup::Off),
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(json: &str) -> HelloOk {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn auto_asks_for_admin_only_without_a_device() {
        assert!(SessionCleanup::Auto
            .scopes(false)
            .contains(&"operator.admin"));
        assert!(!SessionCleanup::Auto
            .scopes(true)
            .contains(&"operator.admin"));
        assert!(SessionCleanup::Always
            .scopes(true)
            .contains(&"operator.admin"));
        assert!(!SessionCleanup::Off
            .scopes(false)
            .contains(&"operator.admin"));
    }

    #[test]
    fn v3_keeps_requested_scopes_and_v4_reports_them() {
        let v3 = hello(r#"{"protocol":3}"#);
        let asked = SessionCleanup::Auto.scopes(false);
        assert_eq!(SessionCleanup::Auto.decide(&v3, asked), Ok(()));
        assert!(SessionCleanup::Auto.decide(&v3, &SCOPES).is_err());

        let v4_admin = hello(r#"{"protocol":4,"auth":{"scopes":["operator.admin"]}}"#);
        assert_eq!(
            SessionCleanup::Auto.decide(&v4_admin, asked),
            Err(AUTO_KEEPS_V4),
            "auto keeps openclaw's SQLite sessions"
        );
        assert_eq!(SessionCleanup::Always.decide(&v4_admin, asked), Ok(()));
        let v4_plain =
            hello(r#"{"protocol":4,"auth":{"scopes":["operator.read","operator.write"]}}"#);
        let why = SessionCleanup::Always.decide(&v4_plain, asked).unwrap_err();
        assert!(why.contains("did not grant"), "{why}");
        let why = SessionCleanup::Always
            .decide(&v4_plain, &SCOPES)
            .unwrap_err();
        assert!(why.contains("pairing"), "{why}");
        assert!(SessionCleanup::Off.decide(&v4_admin, asked).is_err());
    }

    #[test]
    fn parses_booleans_and_auto() {
        assert_eq!("auto".parse(), Ok(SessionCleanup::Auto));
        assert_eq!("TRUE".parse(), Ok(SessionCleanup::Always));
        assert_eq!("off".parse(), Ok(SessionCleanup::Off));
        assert!("sometimes".parse::<SessionCleanup>().is_err());
        #[derive(serde::Deserialize)]
        struct T {
            v: SessionCleanup,
        }
        let t: T = serde_json::from_str(r#"{"v":false}"#).unwrap();
        assert_eq!(t.v, SessionCleanup::Off);
        let t: T = serde_json::from_str(r#"{"v":"auto"}"#).unwrap();
        assert_eq!(t.v, SessionCleanup::Auto);
        assert!(serde_json::from_str::<T>(r#"{"v":"maybe"}"#).is_err());
        assert_eq!(SessionCleanup::Auto.to_string(), "auto");
    }
}
