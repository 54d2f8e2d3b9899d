//! Who the client is: the peer address, or, when the peer is a proxy listed in
//! `server.trusted_proxies` (a tunnel or reverse proxy such as cloudflared, `tailscale serve`
//! or nginx in front of clawshim), the address that proxy reports in `X-Forwarded-For`.
//!
//! The header is read from the right, the way caddy's `trusted_proxies_strict` and
//! authentik's rightmost-untrusted rule do: each trusted proxy appends the address it saw,
//! so the entries on the right were written by proxies we trust and the first one (from the
//! right) that is not a trusted proxy is the client. Anything further left was written by
//! the client itself and is never believed. With no trusted proxies (the default) the header
//! is ignored. IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, what a dual-stack listener
//! reports for an IPv4 peer) are turned into IPv4 everywhere, so `::ffff:127.0.0.1` is
//! loopback and shares its bucket with `127.0.0.1`.
//!
//! When the walk meets an entry that is not an address (`unknown`, as nginx writes for a
//! client on a unix socket, an obfuscated name, an empty entry) before any untrusted address,
//! the client is [`Client::Unknown`]: a trusted proxy wrote it (the client only writes left of
//! the real entry, which the walk never reaches), and it means "I do not know". It is never
//! taken for the proxy itself, which may be local: an unknown client is not local. It is
//! counted by the failed-auth limiter under the address of the proxy that said so (all such
//! clients of that proxy share one budget), logged as `unknown`, and refused passthrough (403):
//! the gateway could not be told who it is. A trusted peer that sends no `X-Forwarded-For` at
//! all did not proxy the request (the proxies clawshim trusts append): the peer is the client.
//!
//! The result is used for passthrough attribution, the failed-auth limiter and the access
//! log, computed once per request in `request_filter`.

use std::net::IpAddr;
use std::str::FromStr;

use http::HeaderMap;
use ipnet::IpNet;
use pingora::proxy::Session;

/// The proxies whose `X-Forwarded-For` clawshim believes (`server.trusted_proxies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Trust the given networks.
    pub fn new(nets: Vec<IpNet>) -> Self {
        TrustedProxies(nets.into_iter().map(|n| n.trunc()).collect())
    }

    /// No proxy is trusted (the default).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` (normalised) is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = normalize(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Parse CIDRs (`10.0.0.0/8`, `::1/128`) or single addresses (`127.0.0.1`); the error
    /// names the first entry that is neither.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<TrustedProxies, String> {
        let mut nets = Vec::with_capacity(entries.len());
        for entry in entries {
            let text = entry.as_ref().trim();
            let net = IpNet::from_str(text)
                .or_else(|_| IpAddr::from_str(text).map(IpNet::from))
                .map_err(|_| {
                    format!("`{text}` is not an address or a CIDR such as 127.0.0.1/32 or fd00::/8")
                })?;
            // A mapped network such as ::ffff:127.0.0.1/128 would never match a normalised
            // address: store it as the IPv4 network it means.
            let net = match net {
                IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
                    Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96)
                        .map(IpNet::V4)
                        .unwrap_or(net),
                    None => net,
                },
                other => other,
            };
            nets.push(net);
        }
        Ok(TrustedProxies::new(nets))
    }
}

/// Who the client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Client {
    /// Its address.
    Addr(IpAddr),
    /// A trusted proxy said it does not know (see the module docs); `via` is that proxy.
    Unknown {
        /// The trusted hop whose entry for the client was not an address.
        via: IpAddr,
    },
}

impl Client {
    /// The address the failed-auth limiter counts: the client's, or for an unknown client
    /// the proxy's that reported it.
    pub fn limiter_ip(&self) -> IpAddr {
        match *self {
            Client::Addr(ip) | Client::Unknown { via: ip } => ip,
        }
    }

    /// The client's address, `None` when unknown.
    pub fn addr(&self) -> Option<IpAddr> {
        match *self {
            Client::Addr(ip) => Some(ip),
            Client::Unknown { .. } => None,
        }
    }
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Client::Addr(ip) => ip.fmt(f),
            Client::Unknown { via } => write!(f, "unknown(via {via})"),
        }
    }
}

/// `::ffff:a.b.c.d` becomes `a.b.c.d`; every other address is unchanged.
pub fn normalize(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// The client of a request that arrived from `peer` with `headers`: the rightmost address
/// in `X-Forwarded-For` that is not a trusted proxy when `peer` is one, else `peer`. When
/// every listed hop is trusted the leftmost of them is the client; an entry that does not
/// parse makes it [`Client::Unknown`], via the trusted hop right of it.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> Client {
    let mut client = normalize(peer);
    if trusted.is_empty() || !trusted.contains(client) {
        return Client::Addr(client);
    }
    // Several header lines form one list, in order (RFC 9110, 5.3).
    let lines: Vec<&[u8]> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    for line in lines.iter().rev() {
        for entry in line.rsplit(|&b| b == b',') {
            let Some(ip) = parse_entry(entry) else {
                return Client::Unknown { via: client };
            };
            client = ip;
            if !trusted.contains(ip) {
                return Client::Addr(client);
            }
        }
    }
    Client::Addr(client)
}

/// The client of a pingora session (`None` for a peer that is not an IP socket).
pub fn of_session(session: &Session, trusted: &TrustedProxies) -> Option<Client> {
    let peer = session.client_addr()?.as_inet()?.ip();
    Some(client_ip(peer, &session.req_header().headers, trusted))
}

/// One `X-Forwarded-For` entry: an address, optionally `[v6]` or with a port as some
/// proxies write it.
fn parse_entry(raw: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(raw).ok()?.trim();
    if let Ok(ip) = IpAddr::from_str(text) {
        return Some(normalize(ip));
    }
    if let Ok(sa) = std::net::SocketAddr::from_str(text) {
        return Some(normalize(sa.ip()));
    }
    let bracketed = text.strip_prefix('[')?.strip_suffix(']')?;
    IpAddr::from_str(bracketed).ok().map(normalize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for line in xff {
            h.append("x-forwarded-for", line.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let local = TrustedProxies::parse(&["127.0.0.1/32", "::1"]).unwrap();
        let chain = TrustedProxies::parse(&["127.0.0.0/8", "10.0.0.0/8"]).unwrap();
        let none = TrustedProxies::default();
        // (peer, X-Forwarded-For lines, trusted, client)
        let table: &[(&str, &[&str], &TrustedProxies, &str)] = &[
            // No trusted proxies: the header is ignored.
            ("192.0.2.9", &["203.0.113.7"], &none, "192.0.2.9"),
            ("127.0.0.1", &["203.0.113.7"], &none, "127.0.0.1"),
            // A peer that is not trusted: the header is ignored.
            ("192.0.2.9", &["203.0.113.7"], &local, "192.0.2.9"),
            // One trusted hop.
            ("127.0.0.1", &["203.0.113.7"], &local, "203.0.113.7"),
            ("::1", &["2001:db8::7"], &local, "2001:db8::7"),
            // A client-supplied entry left of the real one is not believed.
            (
                "127.0.0.1",
                &["6.6.6.6, 203.0.113.7"],
                &local,
                "203.0.113.7",
            ),
            // A chain of trusted proxies, over two header lines.
            (
                "127.0.0.1",
                &["6.6.6.6, 203.0.113.7", "10.1.2.3"],
                &chain,
                "203.0.113.7",
            ),
            // Every hop trusted: the furthest one.
            ("127.0.0.1", &["10.0.0.5, 10.1.2.3"], &chain, "10.0.0.5"),
            // No header from a trusted peer: the peer.
            ("127.0.0.1", &[], &local, "127.0.0.1"),
            // Ports and brackets as some proxies write them.
            ("127.0.0.1", &["203.0.113.7:5123"], &local, "203.0.113.7"),
            ("127.0.0.1", &["[2001:db8::7]:443"], &local, "2001:db8::7"),
            ("127.0.0.1", &["[2001:db8::7]"], &local, "2001:db8::7"),
            // Mapped addresses are IPv4, as peer, as trusted proxy and as entry.
            ("::ffff:127.0.0.1", &["203.0.113.7"], &local, "203.0.113.7"),
            ("::ffff:192.0.2.9", &[], &none, "192.0.2.9"),
            ("127.0.0.1", &["::ffff:203.0.113.7"], &local, "203.0.113.7"),
        ];
        for (peer, xff, trusted, want) in table {
            assert_eq!(
                client_ip(ip(peer), &headers(xff), trusted),
                Client::Addr(ip(want)),
                "peer {peer}, xff {xff:?}"
            );
        }
    }

    #[test]
    fn an_entry_that_is_not_an_address_makes_the_client_unknown_not_the_proxy() {
        let local = TrustedProxies::parse(&["127.0.0.1/32", "::1"]).unwrap();
        let chain = TrustedProxies::parse(&["127.0.0.0/8", "10.0.0.0/8"]).unwrap();
        // (peer, X-Forwarded-For lines, trusted, the hop that said it)
        let table: &[(&str, &[&str], &TrustedProxies, &str)] = &[
            ("127.0.0.1", &["203.0.113.9, unknown"], &local, "127.0.0.1"),
            ("127.0.0.1", &["unknown"], &local, "127.0.0.1"),
            ("127.0.0.1", &["203.0.113.9, "], &local, "127.0.0.1"),
            ("::1", &["_hidden"], &local, "::1"),
            ("127.0.0.1", &["unknown, 10.1.2.3"], &chain, "10.1.2.3"),
            (
                "127.0.0.1",
                &["203.0.113.7", "nonsense"],
                &chain,
                "127.0.0.1",
            ),
        ];
        for (peer, xff, trusted, via) in table {
            let client = client_ip(ip(peer), &headers(xff), trusted);
            assert_eq!(
                client,
                Client::Unknown { via: ip(via) },
                "peer {peer}, xff {xff:?}"
            );
            assert_eq!(client.addr(), None);
            assert_eq!(client.limiter_ip(), ip(via));
            assert!(client.to_string().starts_with("unknown"), "{client}");
        }
        // An unreadable entry left of the client's real one is never reached.
        assert_eq!(
            client_ip(ip("127.0.0.1"), &headers(&["unknown, 203.0.113.9"]), &local),
            Client::Addr(ip("203.0.113.9"))
        );
    }

    #[test]
    fn mapped_loopback_is_loopback() {
        assert!(normalize(ip("::ffff:127.0.0.1")).is_loopback());
        assert_eq!(normalize(ip("::ffff:10.0.0.1")), ip("10.0.0.1"));
        assert_eq!(normalize(ip("2001:db8::1")), ip("2001:db8::1"));
    }

    #[test]
    fn trusted_entries_are_parsed_once() {
        let t = TrustedProxies::parse(&[" 127.0.0.1 ", "10.0.0.0/8", "::ffff:192.168.0.0/112"])
            .unwrap();
        assert!(t.contains(ip("127.0.0.1")));
        assert!(!t.contains(ip("127.0.0.2")));
        assert!(t.contains(ip("10.200.0.1")));
        assert!(t.contains(ip("192.168.4.4")));
        assert!(t.contains(ip("::ffff:192.168.4.4")));
        let err = TrustedProxies::parse(&["10.0.0.0/33"]).unwrap_err();
        assert!(err.contains("10.0.0.0/33"), "{err}");
        assert!(TrustedProxies::parse(&["localhost"]).is_err());
    }
}
