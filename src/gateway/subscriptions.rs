//! Session-scoped events (protocol 4): the connection receives `agent` and `chat` events only
//! for the sessions it follows, instead of every run on the gateway.
//!
//! Every operator socket gets every run's events by default, so N clawshim instances on one
//! gateway each receive (and parse) every run of all N. openclaw 2026.9.6 lets a client opt out:
//! a socket that declares `caps:["session-scoped-events"]` in `connect` gets `agent`/`chat`
//! events only for sessions it subscribed to with `sessions.messages.subscribe {key}`
//! (openclaw-lab README, broadcast row, trace `broadcast_scoped`; `server-start-*.mjs`, the
//! broadcaster's `SESSION_SCOPED_EVENTS` check). clawdbot 2026.1.24 accepts `caps` and ignores
//! this one (`protocol/schema/frames.js`), so on v3 nothing is subscribed and the broadcast
//! path stays.
//!
//! Several runs may share a session (a `user` or session header), so the connection task
//! counts the runs per session: the first subscribes, the last unsubscribes. Subscriptions
//! live as long as the socket; a new socket starts with none.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::frame::ReqFrame;
use super::ids::RequestId;

/// Capabilities declared in `connect`.
pub(crate) const CLIENT_CAPS: [&str; 1] = ["session-scoped-events"];

/// First protocol on which [`CLIENT_CAPS`] scopes the events.
const SCOPED_FROM_PROTOCOL: u32 = 4;

/// `sessions.messages.subscribe` / `unsubscribe` params.
#[derive(Serialize)]
struct KeyParams<'a> {
    key: &'a str,
}

/// The sessions one socket follows, with the number of our runs in each.
#[derive(Debug, Default)]
pub(crate) struct Subscriptions {
    runs: HashMap<String, usize>,
}

impl Subscriptions {
    /// One more run in `key`: the subscribe request to send first, if any (the first run of
    /// a session on protocol 4).
    pub(crate) fn acquire(&mut self, key: &str, protocol: u32) -> Option<(RequestId, String)> {
        if protocol < SCOPED_FROM_PROTOCOL {
            return None;
        }
        let runs = self.runs.entry(key.to_string()).or_insert(0);
        *runs += 1;
        (*runs == 1).then(|| request("sessions.messages.subscribe", key))
    }

    /// One run fewer in `key`: the unsubscribe request to send, if it was the last.
    pub(crate) fn release(&mut self, key: &str) -> Option<(RequestId, String)> {
        let runs = self.runs.get_mut(key)?;
        *runs -= 1;
        if *runs > 0 {
            return None;
        }
        self.runs.remove(key);
        Some(request("sessions.messages.unsubscribe", key))
    }
}

/// Frames and bytes received from the gateway: what following only our own sessions saves.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    frames: AtomicU64,
    bytes: AtomicU64,
}

impl Traffic {
    /// One text frame of `len` bytes received.
    pub(crate) fn count(&self, len: usize) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(len as u64, Ordering::Relaxed);
    }

    /// (frames, bytes) so far.
    pub(crate) fn totals(&self) -> (u64, u64) {
        (
            self.frames.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

fn request(method: &str, key: &str) -> (RequestId, String) {
    let req_id = RequestId::new();
    let frame = ReqFrame::new(req_id.as_str(), method, &KeyParams { key }).to_json();
    (req_id, frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_run_subscribes_and_the_last_unsubscribes() {
        let mut subs = Subscriptions::default();
        let (_, frame) = subs.acquire("agent:main:openai:a", 4).unwrap();
        let v: serde_json::Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(v["method"], "sessions.messages.subscribe");
        assert_eq!(
            v["params"],
            serde_json::json!({"key": "agent:main:openai:a"})
        );
        assert!(subs.acquire("agent:main:openai:a", 4).is_none());
        assert!(subs.release("agent:main:openai:a").is_none());
        let (_, frame) = subs.release("agent:main:openai:a").unwrap();
        assert!(frame.contains("sessions.messages.unsubscribe"));
        assert!(
            subs.release("agent:main:openai:a").is_none(),
            "nothing left to release"
        );
    }

    #[test]
    fn traffic_counts_frames_and_bytes() {
        let traffic = Traffic::default();
        traffic.count(120);
        traffic.count(30);
        assert_eq!(traffic.totals(), (2, 150));
    }

    #[test]
    fn protocol_3_keeps_the_broadcast() {
        let mut subs = Subscriptions::default();
        assert!(subs.acquire("agent:main:openai:a", 3).is_none());
        assert!(subs.release("agent:main:openai:a").is_none());
    }
}
