//! Redis key names: `<prefix><kind>:<hex SHA-256 of the kind and the id>`.
//!
//! Nothing a client or an operator writes reaches a key name as written: a key's name, an
//! address or a run id is hashed together with its kind, so no id can spell another id's key
//! (no escaping to get wrong, no `:` or glob characters, fixed length), and ids of two kinds
//! never meet even when their bytes are equal. The prefix is the one readable part; it keeps
//! clawshim's keys apart from anything else in the database and lets two clawshim fleets
//! share one Redis.

use sha2::{Digest, Sha256};

/// The kinds of shared state, each its own key space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A key's request rate (GCRA: its theoretical arrival time).
    Rate,
    /// A key's runs in flight (a sorted set of leases).
    Runs,
    /// Failed-auth count of a client bucket (an IPv4 address or an IPv6 /64).
    FailedAuth,
    /// The client reading an `Idempotency-Key` run (a lease set of one).
    IdempotentReader,
    /// An account's tokens (a hash: the current day's and month's totals).
    Usage,
}

impl Kind {
    /// The readable part of the key name; also hashed with the id.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Rate => "rate",
            Kind::Runs => "runs",
            Kind::FailedAuth => "failed-auth",
            Kind::IdempotentReader => "idem-reader",
            Kind::Usage => "usage",
        }
    }
}

/// Builds every Redis key clawshim uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyNames {
    prefix: String,
}

impl KeyNames {
    /// Key names under `prefix` (validated config: 1 to 64 visible ASCII characters).
    pub fn new(prefix: &str) -> KeyNames {
        KeyNames {
            prefix: prefix.to_string(),
        }
    }

    /// The Redis key of `id` in `kind`.
    pub fn key(&self, kind: Kind, id: &[u8]) -> String {
        let digest = Sha256::new()
            .chain_update(b"clawshim shared state v1\0")
            .chain_update(kind.as_str().as_bytes())
            .chain_update(b"\0")
            .chain_update(id)
            .finalize();
        let mut key = String::with_capacity(self.prefix.len() + 16 + 64);
        key.push_str(&self.prefix);
        key.push_str(kind.as_str());
        key.push(':');
        for b in digest {
            key.push_str(&format!("{b:02x}"));
        }
        key
    }
}

/// A prefix that is safe and readable as the start of every key: 1 to 64 visible ASCII
/// characters, none of Redis's glob characters (so `SCAN MATCH <prefix>*` finds exactly ours).
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() || prefix.len() > 64 {
        return Err("state.key_prefix: 1 to 64 characters".into());
    }
    if !prefix
        .bytes()
        .all(|b| b.is_ascii_graphic() && !b"*?[]\\".contains(&b))
    {
        return Err(
            "state.key_prefix: visible ASCII characters only, without * ? [ ] or \\".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_that_look_like_other_keys_get_their_own() {
        let names = KeyNames::new("clawshim:");
        let victim = names.key(Kind::Runs, b"alice");
        // Names and addresses crafted to spell, extend or glob another key.
        let hostile: [&[u8]; 8] = [
            b"alice:",
            b"alice\0",
            b"ALICE",
            b"*",
            victim.as_bytes(),
            b"runs:alice",
            b"clawshim:runs:alice",
            b"",
        ];
        let mut seen = HashSet::from([victim.clone()]);
        for id in hostile {
            for kind in [
                Kind::Rate,
                Kind::Runs,
                Kind::FailedAuth,
                Kind::IdempotentReader,
                Kind::Usage,
            ] {
                let key = names.key(kind, id);
                assert!(seen.insert(key.clone()), "{kind:?} {id:?} collided");
                assert!(key.starts_with("clawshim:"));
                assert_eq!(key.len(), "clawshim:".len() + kind.as_str().len() + 1 + 64);
                assert!(key.bytes().all(|b| b.is_ascii_graphic()));
            }
        }
        // The same id in two kinds is two keys with two different hashes.
        let (a, b) = (names.key(Kind::Rate, b"x"), names.key(Kind::Runs, b"x"));
        assert_ne!(a.rsplit(':').next(), b.rsplit(':').next());
    }

    #[test]
    fn prefixes_keep_fleets_apart_and_refuse_globs() {
        assert_ne!(
            KeyNames::new("a:").key(Kind::Rate, b"k"),
            KeyNames::new("b:").key(Kind::Rate, b"k")
        );
        assert!(check_prefix("clawshim:").is_ok());
        for bad in ["", "a b", "a*", "x?", "[x]", "a\\b", &"p".repeat(65), "é"] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }
}
