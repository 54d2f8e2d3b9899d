//! Remote image URLs (`images.allow_urls`): refused by default; when enabled, fetched with a
//! size cap and a timeout, and never from an address that is not public, so a client cannot
//! use clawshim to reach into its LAN or the host itself (SSRF).
//!
//! The address rule is enforced where the connection is made: the client's resolver
//! ([`PublicOnly`]) resolves a host name once, refuses it when any of its addresses is not
//! public, and hands exactly those checked addresses to the connector, so a second DNS answer
//! (rebinding) is never consulted. Literal IP hosts skip resolvers, so they are checked before
//! the request and on every redirect ([`check_url`]); redirects are followed at most
//! [`MAX_REDIRECTS`] times, each hop checked again. System proxies are not used (a proxy would
//! make the connection on our behalf, past the check).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use clawshim_core::error::RequestError;
use clawshim_core::media::{Attachment, MediaError, RemoteImage};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Redirect hops followed per image.
pub const MAX_REDIRECTS: usize = 5;

/// `[images]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFetchConfig {
    /// Fetch `http(s)` image URLs; otherwise they are a 400.
    pub allow_urls: bool,
    /// Largest image accepted, bytes.
    pub max_bytes: u64,
    /// Limit for one fetch, redirects and body included.
    pub timeout: Duration,
}

/// Fetches remote images, or refuses them when fetching is off.
#[derive(Debug, Clone)]
pub struct ImageFetcher {
    /// `None` when fetching is off; the build error when the HTTP client could not be made
    /// (then every URL is refused with it).
    client: Option<Result<reqwest::Client, String>>,
    max_bytes: u64,
}

/// A host that resolved to an address that is not public.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {addr}, which is not a public address")]
struct Blocked {
    host: String,
    addr: IpAddr,
}

/// The resolver that only lets public addresses through (see the module docs).
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| !is_public(a.ip())) {
                return Err(Box::new(Blocked {
                    host,
                    addr: bad.ip(),
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

impl ImageFetcher {
    /// A fetcher for `config` (an HTTP client only when fetching is on).
    pub fn new(config: &ImageFetchConfig) -> ImageFetcher {
        let client = config.allow_urls.then(|| {
            let client = reqwest::Client::builder()
                .dns_resolver(Arc::new(PublicOnly))
                .no_proxy()
                .timeout(config.timeout)
                .connect_timeout(config.timeout)
                .redirect(reqwest::redirect::Policy::custom(|attempt| {
                    if attempt.previous().len() >= MAX_REDIRECTS {
                        return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
                    }
                    match check_url(attempt.url()) {
                        Ok(()) => attempt.follow(),
                        Err(why) => attempt.error(format!("redirect refused: {why}")),
                    }
                }))
                .user_agent(concat!("clawshim/", env!("CARGO_PKG_VERSION")))
                .build();
            client.map_err(|e| {
                tracing::error!(error = %e, "cannot build the image fetch client; image URLs will be refused");
                format!("the image fetch client could not be built ({e})")
            })
        });
        ImageFetcher {
            client,
            max_bytes: config.max_bytes,
        }
    }

    /// The image at `image.url` as an attachment (same checks as inline data), or why not:
    /// fetching off, a non-public address, a failed or non-2xx fetch, or a non-image (400);
    /// larger than the cap (413).
    pub async fn fetch(&self, image: RemoteImage) -> Result<Attachment, MediaError> {
        let fail = |why: String| {
            MediaError::Invalid(RequestError {
                message: format!("Could not fetch the image URL: {why}."),
                param: Some(image.param.clone()),
            })
        };
        let client = match &self.client {
            None => return Err(image.refused()),
            Some(Err(why)) => return Err(fail(why.clone())),
            Some(Ok(client)) => client,
        };
        let url = reqwest::Url::parse(&image.url).map_err(|e| fail(e.to_string()))?;
        check_url(&url).map_err(fail)?;
        let mut response = client
            .get(url)
            .send()
            .await
            .map_err(|e| fail(describe(&e)))?;
        if !response.status().is_success() {
            return Err(fail(format!("the server answered {}", response.status())));
        }
        let too_large = || MediaError::TooLarge {
            message: format!(
                "Image at the URL is larger than {} bytes, the most this server fetches.",
                self.max_bytes
            ),
            param: Some(image.param.clone()),
        };
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes)
        {
            return Err(too_large());
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| fail(describe(&e)))? {
            if (bytes.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        image.into_attachment(&bytes, content_type.as_deref())
    }
}

/// A fetch error in words, naming a refused address when that was the cause.
fn describe(e: &reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(blocked) = err.downcast_ref::<Blocked>() {
            return blocked.to_string();
        }
        source = err.source();
    }
    if e.is_timeout() {
        return "timed out".to_owned();
    }
    let text = e.to_string();
    match e.url() {
        // The URL is the client's own; keep the message short.
        Some(url) => text.replace(&format!(" ({url})"), ""),
        None => text,
    }
}

/// Only `http`/`https`, and a literal IP host must be public (host names are checked when
/// they are resolved).
pub fn check_url(url: &reqwest::Url) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme '{}' is not http or https", url.scheme()));
    }
    let host = url.host_str().ok_or("the URL has no host")?;
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        if !is_public(ip) {
            return Err(format!("{ip} is not a public address"));
        }
    }
    Ok(())
}

/// Whether `ip` is a public unicast address: not loopback, private, link-local, multicast,
/// unspecified, broadcast, shared (CGNAT), documentation, benchmarking or reserved, and not
/// an IPv6 form of one of those (IPv4-mapped, NAT64, 6to4 and Teredo embed IPv4 addresses).
pub fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

/// IPv6 is public only inside global unicast `2000::/3` (RFC 4291), minus its special
/// blocks, or as the well-known NAT64 prefix `64:ff9b::/96` standing for a public IPv4
/// address. Everything else is refused, so forms that embed or translate to local addresses
/// need no list of their own: IPv4-translated `::ffff:0:a.b.c.d` (RFC 2765), local-use NAT64
/// `64:ff9b:1::/48` (RFC 8215, translates to whatever the local network decides),
/// IPv4-compatible `::a.b.c.d`, discard-only `100::/64`, unique local, link-local, multicast.
fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        // NAT64 (64:ff9b::/96): the IPv4 address it stands for decides.
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    if s[0] & 0xe000 != 0x2000 {
        return false;
    }
    if s[0] == 0x2002 {
        // 6to4 (2002::/16) carries its IPv4 address in the next 32 bits.
        return is_public_v4(embedded_v4(s[1], s[2]));
    }
    match s[0] {
        // IETF protocol assignments 2001::/23 (Teredo, benchmarking, ORCHID, ...) and
        // documentation 2001:db8::/32.
        0x2001 => s[1] >= 0x0200 && s[1] != 0x0db8,
        // Documentation 3fff::/20 (RFC 9637).
        first => first & 0xfff0 != 0x3ff0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(s: &str) -> bool {
        is_public(s.parse().unwrap())
    }

    #[test]
    fn only_public_unicast_addresses_pass() {
        for ok in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
        ] {
            assert!(public(ok), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "2002:c0a8:0101::1",
            "2001:db8::1",
            // IPv4-translated (SIIT) and local-use NAT64 forms of local and public addresses.
            "::ffff:0:127.0.0.1",
            "::ffff:0:10.0.0.1",
            "::ffff:0:8.8.8.8",
            "64:ff9b:1::7f00:1",
            "64:ff9b:1::808:808",
            "64:ff9b:1:ffff::1",
            "2001::1",
            "2001:2::1",
            "2001:10::1",
            "3fff::1",
            "100::1",
            "::8.8.8.8",
            "4000::1",
        ] {
            assert!(!public(bad), "{bad}");
        }
    }

    #[test]
    fn urls_need_http_and_a_public_literal_host() {
        let check = |u: &str| check_url(&reqwest::Url::parse(u).unwrap());
        assert!(check("https://example.com/cat.png").is_ok());
        assert!(check("http://93.184.215.14/cat.png").is_ok());
        assert!(check("http://127.0.0.1:8080/cat.png").is_err());
        assert!(check("http://[::1]/cat.png").is_err());
        assert!(check("http://[::ffff:7f00:1]/cat.png").is_err());
        assert!(check("http://[::ffff:0:7f00:1]/cat.png").is_err());
        assert!(check("http://[64:ff9b:1::a00:1]/cat.png").is_err());
        assert!(check("http://0x7f000001/cat.png").is_err());
        assert!(check("file:///etc/passwd").is_err());
        assert!(check("ftp://example.com/cat.png").is_err());
    }

    fn remote(url: &str) -> RemoteImage {
        RemoteImage {
            url: url.to_owned(),
            param: "messages[0].content[1].image_url.url".to_owned(),
        }
    }

    fn fetcher(allow_urls: bool) -> ImageFetcher {
        ImageFetcher::new(&ImageFetchConfig {
            allow_urls,
            max_bytes: 1 << 20,
            timeout: Duration::from_secs(5),
        })
    }

    #[tokio::test]
    async fn urls_are_refused_when_fetching_is_off() {
        let err = fetcher(false)
            .fetch(remote("https://example.com/cat.png"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not enabled"), "{err}");
        assert_eq!(err.param(), Some("messages[0].content[1].image_url.url"));
    }

    #[tokio::test]
    async fn loopback_is_refused_even_when_fetching_is_on() {
        // A listener that would serve the request: the refusal must come before connecting.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let err = fetcher(true)
            .fetch(remote(&format!("http://127.0.0.1:{port}/cat.png")))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("not a public address"), "{err}");
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "clawshim connected to loopback");
    }

    #[tokio::test]
    async fn a_host_name_resolving_to_a_private_address_is_refused() {
        // `localhost` resolves to loopback on every host, offline too.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let err = fetcher(true)
            .fetch(remote(&format!("http://localhost:{port}/cat.png")))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("localhost resolves to"), "{err}");
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "clawshim connected to loopback");
    }
}
