//! Gateway logins inside a passthrough WebSocket, seen from the bytes the gateway sends.
//!
//! The Control UI's socket is proxied byte for byte, so the gateway's login (`connect` with a
//! token or password) happens where clawshim's failed-auth limiter cannot see it unless it
//! reads the gateway's answer. Both gateways refuse a login the same way (gateway-lab and
//! openclaw-lab traces `wrong_token`): the `connect.challenge` event, then one `res` frame
//! with `ok:false` (`INVALID_REQUEST "unauthorized: gateway token mismatch ..."`, openclaw
//! adds `details.code` `AUTH_TOKEN_MISMATCH`), then close 1008.
//!
//! [`LoginWatch`] reads only the first few server frames of a socket, never more than
//! [`MAX_FRAMES`] frames of at most [`MAX_PAYLOAD`] bytes each, and stops at the first `res`:
//! the answer to `connect`, since the gateway takes no other request first. It copies at most
//! one frame's bytes and never changes what is forwarded. Anything it cannot read as plain
//! unfragmented text frames (compression, fragments, binary, a frame larger than a refusal
//! can be) ends the watch without a verdict.
//!
//! Only a refused *credential* counts ([`is_credential_refusal`]): a wrong token, password,
//! device token or setup code, and the gateway's own rate limit on those. A login with no
//! credential, a device waiting for pairing approval, or a protocol mismatch guesses no
//! secret, and counting it would lock out a browser that is only waiting to be approved.

use serde_json::Value;

/// Server frames read at most (the challenge comes first, then the answer to `connect`).
pub const MAX_FRAMES: u32 = 8;
/// Largest frame payload read; a refusal is a few hundred bytes (a `hello-ok` is larger and
/// is not a refusal either).
pub const MAX_PAYLOAD: usize = 16 * 1024;

/// What the watch decided about the socket's login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// Still waiting for the answer to `connect`.
    Pending,
    /// The gateway refused the credential: one failed login for the client.
    Refused,
    /// Accepted, refused for another reason, or nothing more to read: no verdict.
    Done,
}

/// Watches the gateway→client bytes of one passthrough WebSocket (see the module docs).
#[derive(Debug)]
pub struct LoginWatch {
    buf: Vec<u8>,
    frames: u32,
    state: Login,
}

impl Default for LoginWatch {
    fn default() -> Self {
        LoginWatch::new()
    }
}

impl LoginWatch {
    /// A watch for a socket just upgraded.
    pub fn new() -> LoginWatch {
        LoginWatch {
            buf: Vec::new(),
            frames: 0,
            state: Login::Pending,
        }
    }

    /// The verdict so far.
    pub fn state(&self) -> Login {
        self.state
    }

    /// Read the next bytes the gateway sent. Returns [`Login::Refused`] once, when the
    /// answer to `connect` refused a credential; after a verdict the bytes are not looked at.
    pub fn feed(&mut self, bytes: &[u8]) -> Login {
        if self.state != Login::Pending {
            return Login::Done;
        }
        self.buf.extend_from_slice(bytes);
        self.state = self.scan();
        if self.state != Login::Pending {
            self.buf = Vec::new();
        }
        self.state
    }

    /// Consume whole frames from the buffer until a verdict or an incomplete frame.
    fn scan(&mut self) -> Login {
        loop {
            let frame = match parse_frame(&self.buf) {
                Parsed::Incomplete => return Login::Pending,
                Parsed::Unreadable => return Login::Done,
                Parsed::Frame(frame) => frame,
            };
            self.frames += 1;
            let verdict = match frame.opcode {
                // Ping and pong: not the login.
                0x9 | 0xA => None,
                0x1 => {
                    let payload = frame.payload(&self.buf);
                    match serde_json::from_slice::<Value>(&payload) {
                        Ok(v) if v["type"] == "res" => Some(if is_credential_refusal(&v) {
                            Login::Refused
                        } else {
                            Login::Done
                        }),
                        Ok(_) => None,
                        Err(_) => Some(Login::Done),
                    }
                }
                // Close, binary, or anything else: the login is not in there.
                _ => Some(Login::Done),
            };
            if let Some(verdict) = verdict {
                return verdict;
            }
            if self.frames >= MAX_FRAMES {
                return Login::Done;
            }
            self.buf.drain(..frame.len);
        }
    }
}

/// Whether a `res` frame refused a guessed credential. openclaw says which in
/// `error.details.code` (its `ConnectErrorDetailCodes`); clawdbot 2026.1 only in the message
/// (`unauthorized: gateway token mismatch ...`), where a missing or unconfigured credential
/// is worded `missing` / `not configured`.
pub fn is_credential_refusal(res: &Value) -> bool {
    if res["ok"] != false {
        return false;
    }
    let error = &res["error"];
    if let Some(code) = error["details"]["code"].as_str() {
        return matches!(
            code,
            "AUTH_UNAUTHORIZED"
                | "AUTH_TOKEN_MISMATCH"
                | "AUTH_PASSWORD_MISMATCH"
                | "AUTH_DEVICE_TOKEN_MISMATCH"
                | "AUTH_BOOTSTRAP_TOKEN_INVALID"
                | "AUTH_SCOPE_MISMATCH"
                | "AUTH_RATE_LIMITED"
        );
    }
    let message = error["message"].as_str().unwrap_or_default();
    message.starts_with("unauthorized")
        && !message.contains("missing")
        && !message.contains("not configured")
}

/// One frame's header, read from the front of a buffer.
#[derive(Debug)]
struct Frame {
    opcode: u8,
    /// Where the payload starts.
    start: usize,
    /// Header and payload.
    len: usize,
    mask: Option<[u8; 4]>,
}

impl Frame {
    /// The payload, unmasked (server frames are not masked; a masked one is read anyway).
    fn payload(&self, buf: &[u8]) -> Vec<u8> {
        let data = &buf[self.start..self.len];
        match self.mask {
            None => data.to_vec(),
            Some(mask) => data
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4])
                .collect(),
        }
    }
}

enum Parsed {
    Frame(Frame),
    /// More bytes needed.
    Incomplete,
    /// Not a frame the watch reads (see the module docs).
    Unreadable,
}

/// The first frame of `buf` (RFC 6455, 5.2).
fn parse_frame(buf: &[u8]) -> Parsed {
    let [b0, b1, ..] = *buf else {
        return Parsed::Incomplete;
    };
    let fin = b0 & 0x80 != 0;
    let rsv = b0 & 0x70;
    let opcode = b0 & 0x0F;
    if !fin || rsv != 0 || opcode == 0 {
        // Fragmented or compressed (permessage-deflate sets RSV1).
        return Parsed::Unreadable;
    }
    let masked = b1 & 0x80 != 0;
    let (payload_len, mut at) = match b1 & 0x7F {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Parsed::Incomplete,
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let mut be = [0u8; 8];
                be.copy_from_slice(b);
                (u64::from_be_bytes(be), 10)
            }
            None => return Parsed::Incomplete,
        },
        n => (u64::from(n), 2),
    };
    if payload_len > MAX_PAYLOAD as u64 {
        return Parsed::Unreadable;
    }
    let mask = if masked {
        match buf.get(at..at + 4) {
            Some(m) => {
                at += 4;
                Some([m[0], m[1], m[2], m[3]])
            }
            None => return Parsed::Incomplete,
        }
    } else {
        None
    };
    let len = at + payload_len as usize;
    if buf.len() < len {
        return Parsed::Incomplete;
    }
    Parsed::Frame(Frame {
        opcode,
        start: at,
        len,
        mask,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An unmasked server frame.
    fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0x80 | opcode];
        match payload.len() {
            n if n < 126 => out.push(n as u8),
            n if n <= 0xFFFF => {
                out.push(126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(payload);
        out
    }

    fn text(v: Value) -> Vec<u8> {
        frame(0x1, v.to_string().as_bytes())
    }

    fn challenge() -> Vec<u8> {
        text(json!({"type":"event","event":"connect.challenge","payload":{"nonce":"n","ts":1}}))
    }

    /// openclaw-lab `wrong_token`, as sent.
    fn v4_wrong_token() -> Value {
        json!({"type":"res","id":"c","ok":false,"error":{"code":"INVALID_REQUEST",
            "message":"unauthorized: gateway token mismatch (provide gateway auth token)",
            "details":{"code":"AUTH_TOKEN_MISMATCH","authReason":"token_mismatch"}}})
    }

    /// gateway-lab `wrong_token` (clawdbot 2026.1.24): no details.
    fn v3_wrong_token() -> Value {
        json!({"type":"res","id":"c","ok":false,"error":{"code":"INVALID_REQUEST",
            "message":"unauthorized: gateway token mismatch (provide gateway auth token)"}})
    }

    fn close_1008() -> Vec<u8> {
        let mut p = 1008u16.to_be_bytes().to_vec();
        p.extend_from_slice(b"unauthorized");
        frame(0x8, &p)
    }

    #[test]
    fn a_refused_token_is_seen_on_both_gateways_in_any_split() {
        for refusal in [v4_wrong_token(), v3_wrong_token()] {
            let mut bytes = challenge();
            bytes.extend(text(refusal));
            bytes.extend(close_1008());
            // Whole, and split at every byte (TCP reads end anywhere).
            for split in 0..bytes.len() {
                let mut watch = LoginWatch::new();
                let first = watch.feed(&bytes[..split]);
                let second = watch.feed(&bytes[split..]);
                let verdicts = [first, second];
                assert_eq!(
                    verdicts.iter().filter(|v| **v == Login::Refused).count(),
                    1,
                    "split {split}: {verdicts:?}"
                );
                // Once decided, later bytes are not read.
                assert_eq!(watch.feed(&text(v4_wrong_token())), Login::Done);
            }
        }
    }

    #[test]
    fn other_answers_to_connect_count_nothing() {
        let hello =
            json!({"type":"res","id":"c","ok":true,"payload":{"type":"hello-ok","protocol":4}});
        let pairing = json!({"type":"res","id":"c","ok":false,"error":{"code":"NOT_PAIRED",
            "message":"device identity required","details":{"code":"DEVICE_IDENTITY_REQUIRED"}}});
        let missing = json!({"type":"res","id":"c","ok":false,"error":{"code":"INVALID_REQUEST",
            "message":"unauthorized: gateway token missing (provide gateway auth token)",
            "details":{"code":"AUTH_TOKEN_MISSING"}}});
        let missing_v3 = json!({"type":"res","id":"c","ok":false,"error":{"code":"INVALID_REQUEST",
            "message":"unauthorized: gateway token missing (provide gateway auth token)"}});
        let protocol = json!({"type":"res","id":"c","ok":false,"error":{"code":"INVALID_REQUEST",
            "message":"protocol mismatch","details":{"code":"PROTOCOL_MISMATCH"}}});
        for answer in [hello, pairing, missing, missing_v3, protocol] {
            let mut watch = LoginWatch::new();
            let mut bytes = challenge();
            bytes.extend(text(answer.clone()));
            assert_eq!(watch.feed(&bytes), Login::Done, "{answer}");
        }
    }

    #[test]
    fn unreadable_or_endless_streams_end_the_watch() {
        // Compressed (RSV1), fragmented, binary, oversized, not JSON, close first.
        let mut compressed = text(v4_wrong_token());
        compressed[0] |= 0x40;
        let mut fragment = text(v4_wrong_token());
        fragment[0] &= 0x7F;
        let big = frame(0x1, &vec![b' '; MAX_PAYLOAD + 1]);
        for bytes in [
            compressed,
            fragment,
            frame(0x2, b"\x00"),
            big[..20].to_vec(),
            frame(0x1, b"not json"),
            close_1008(),
        ] {
            let mut watch = LoginWatch::new();
            assert_eq!(watch.feed(&bytes), Login::Done);
            assert!(watch.buf.is_empty());
        }
        // Events only: the watch gives up after MAX_FRAMES frames.
        let mut watch = LoginWatch::new();
        let mut verdict = Login::Pending;
        for _ in 0..MAX_FRAMES {
            verdict = watch.feed(&challenge());
        }
        assert_eq!(verdict, Login::Done);
        // A masked frame (never sent by a server) is still read.
        let payload = v4_wrong_token().to_string().into_bytes();
        let mask = [1u8, 2, 3, 4];
        let mut masked = vec![0x81, 0x80 | 126];
        masked.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        masked.extend_from_slice(&mask);
        masked.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        assert_eq!(LoginWatch::new().feed(&masked), Login::Refused);
    }

    #[test]
    fn ping_frames_before_the_answer_are_skipped() {
        let mut bytes = frame(0x9, b"");
        bytes.extend(challenge());
        bytes.extend(text(v3_wrong_token()));
        assert_eq!(LoginWatch::new().feed(&bytes), Login::Refused);
    }
}
