//! Who sent a request. The client's address is the TCP peer's: a `Forwarded` or
//! `X-Forwarded-For` header is anyone's to write, so it is believed only when the peer is a
//! proxy the operator named in `[server] trusted_proxies`, and then only back to the hop just
//! before the trusted proxies.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use actix_web::http::header::HeaderMap;
use anyhow::bail;
use ipnet::IpNet;

/// A request's client address, as the app's [`TrustedProxies`] (its app data, swapped whole by a
/// reload) judge it; `None` when unknown.
pub fn client_of(request: &actix_web::HttpRequest) -> Option<IpAddr> {
    let proxies = request
        .app_data::<actix_web::web::Data<crate::live::Live<TrustedProxies>>>()
        .map(|live| live.get())
        .unwrap_or_default();
    proxies.client(request.peer_addr(), request.headers())
}

/// The proxies whose forwarding headers are believed (none by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// The config's entries: CIDRs (`10.0.0.0/8`, `fd00::/8`) or single addresses.
    pub fn parse(entries: &[String]) -> anyhow::Result<TrustedProxies> {
        let mut nets = Vec::with_capacity(entries.len());
        for entry in entries {
            let text = entry.trim();
            let net = match (IpNet::from_str(text), IpAddr::from_str(text)) {
                (Ok(net), _) => net,
                (_, Ok(addr)) => IpNet::from(addr),
                _ => bail!(
                    "server.trusted_proxies: {entry:?} is neither an IP address nor a CIDR block (such as 10.0.0.0/8)"
                ),
            };
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request that came from `peer` with these headers: the peer itself,
    /// unless it is a trusted proxy; then the nearest hop the forwarding header names that is
    /// not a trusted proxy (read from the right: the hops further left are the client's to
    /// write). A hop that is not an address stops the walk at the last address known.
    pub fn client(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let mut client = canonical(peer?.ip());
        if !self.trusts(client) {
            return Some(client);
        }
        for hop in forwarded_hops(headers).iter().rev() {
            let Some(hop) = hop_address(hop) else { break };
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        Some(client)
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The hops a request passed, oldest first: the `for=` of each `Forwarded` element (RFC 7239)
/// when that header is sent, else the entries of `X-Forwarded-For`.
fn forwarded_hops(headers: &HeaderMap) -> Vec<String> {
    let joined = |name: &str| {
        let values: Vec<&str> = headers.get_all(name).filter_map(|v| v.to_str().ok()).collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    if let Some(forwarded) = joined("forwarded") {
        return forwarded
            .split(',')
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                    .map(|(_, value)| value.trim().to_owned())
                    .unwrap_or_default()
            })
            .collect();
    }
    joined("x-forwarded-for")
        .map(|xff| xff.split(',').map(|hop| hop.trim().to_owned()).collect())
        .unwrap_or_default()
}

/// A hop's address: `192.0.2.1`, `192.0.2.1:4711`, `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn hop_address(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = IpAddr::from_str(hop) {
        return Some(canonical(ip));
    }
    if let Ok(addr) = SocketAddr::from_str(hop) {
        return Some(canonical(addr.ip()));
    }
    // `[2001:db8::1]` without a port.
    let bracketed = hop.strip_prefix('[')?.strip_suffix(']')?;
    IpAddr::from_str(bracketed).ok().map(canonical)
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        map
    }

    fn proxies(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    const PEER: &str = "10.0.0.5:40000";

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let h = headers(&[("x-forwarded-for", "6.6.6.6"), ("forwarded", "for=7.7.7.7")]);
        assert_eq!(TrustedProxies::default().client(PEER.parse().ok(), &h), ip("10.0.0.5"));
        assert_eq!(
            proxies(&["192.168.0.0/16"]).client(PEER.parse().ok(), &h),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_hop_just_before_it() {
        let trusted = proxies(&["10.0.0.0/8", "172.16.0.1"]);
        let peer = PEER.parse().ok();
        // The client wrote 6.6.6.6 itself; the proxy appended the address it saw.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9")]);
        assert_eq!(trusted.client(peer, &h), ip("203.0.113.9"));
        // Two trusted proxies in a row: the hop before both.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 172.16.0.1")]);
        assert_eq!(trusted.client(peer, &h), ip("203.0.113.9"));
        // Several header lines are one list.
        let h = headers(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(trusted.client(peer, &h), ip("203.0.113.7"));
        // Forwarded wins over X-Forwarded-For, with ports, quotes and brackets.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", "for=6.6.6.6, for=\"[2001:db8::1]:4711\";proto=https"),
        ]);
        assert_eq!(trusted.client(peer, &h), ip("2001:db8::1"));
        let h = headers(&[("forwarded", "proto=https;For=198.51.100.2:80")]);
        assert_eq!(trusted.client(peer, &h), ip("198.51.100.2"));
        // No header, or a hop that is not an address: the last address known.
        assert_eq!(trusted.client(peer, &HeaderMap::new()), ip("10.0.0.5"));
        let h = headers(&[("x-forwarded-for", "6.6.6.6, unknown")]);
        assert_eq!(trusted.client(peer, &h), ip("10.0.0.5"));
        let h = headers(&[("forwarded", "for=_hidden, for=10.1.1.1")]);
        assert_eq!(trusted.client(peer, &h), ip("10.1.1.1"));
        assert_eq!(trusted.client(None, &h), None);
    }

    #[test]
    fn an_ipv4_mapped_peer_is_its_ipv4_address() {
        let trusted = proxies(&["127.0.0.1"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            trusted.client("[::ffff:127.0.0.1]:9".parse().ok(), &h),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn an_entry_that_is_not_an_address_or_block_is_refused_by_name() {
        let err = TrustedProxies::parse(&["10.0.0.0/8".into(), "proxy.internal".into()]).unwrap_err();
        assert!(err.to_string().contains("\"proxy.internal\""), "{err}");
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
    }
}
