//! Everything clawshim does not serve itself goes to the gateway unchanged: the Control UI,
//! its WebSocket on `/` (pingora proxies the upgrade and then copies bytes both ways), and
//! the gateway's other HTTP endpoints. Bodies are streamed, never buffered.

use pingora::http::RequestHeader;
use pingora::upstreams::peer::HttpPeer;

use crate::config::Config;

/// Headers that attribute a request to a client. openclaw 2026.9 answers 403
/// `proxy_attribution_required` to any of them from a peer that is not in
/// `gateway.trustedProxies` (openclaw-lab README, forwarded headers), so by default they are
/// removed rather than passed on from client input.
const ATTRIBUTION_HEADERS: [&str; 6] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-real-ip",
];

/// The gateway as an HTTP peer (same host and port as its WebSocket).
pub fn peer(config: &Config) -> Box<HttpPeer> {
    let (hostport, tls) = &config.gateway_http;
    let sni = hostport
        .rsplit_once(':')
        .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
        .unwrap_or(hostport)
        .to_string();
    Box::new(HttpPeer::new(hostport.as_str(), *tls, sni))
}

/// Remove client-supplied attribution headers before the request goes upstream.
pub fn strip_attribution(req: &mut RequestHeader) {
    for name in ATTRIBUTION_HEADERS {
        req.remove_header(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribution_headers_are_removed() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        req.insert_header("x-forwarded-for", "203.0.113.7").unwrap();
        req.insert_header("forwarded", "for=203.0.113.7").unwrap();
        req.insert_header("x-real-ip", "203.0.113.7").unwrap();
        req.insert_header("accept", "*/*").unwrap();
        strip_attribution(&mut req);
        assert!(req.headers.get("x-forwarded-for").is_none());
        assert!(req.headers.get("forwarded").is_none());
        assert!(req.headers.get("x-real-ip").is_none());
        assert!(req.headers.get("accept").is_some());
    }
}
