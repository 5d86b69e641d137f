//! The SSRF guard (`docs/callbacks.md`, Which addresses): a callback URL is resolved once, every
//! address it resolves to is checked, and the POST then connects to the checked address
//! (pinned), so a name that resolves differently a moment later (DNS rebinding) cannot reach
//! an address the check refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The target an attempt may connect to: the URL's host, pinned to an address that passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub addr: SocketAddr,
}

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// Not retried: the address class does not change with time.
    #[error(
        "refused: {host} resolves to {addr}, a {class} address (set [server] callback_allow_private = true to allow it)"
    )]
    Refused {
        host: String,
        addr: IpAddr,
        class: &'static str,
    },
    #[error("refused: the callback URL is not an absolute http(s) URL with a host")]
    BadUrl,
    /// A failed attempt, retried: the name may resolve later.
    #[error("resolving {host} failed: {source}")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} resolves to no address")]
    NoAddress(String),
}

impl GuardError {
    /// Whether the target was refused for good (as opposed to a lookup that may work later).
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Refused { .. } | Self::BadUrl)
    }
}

/// Resolves `url`'s host and checks every address; the first is the one to connect to.
pub async fn check(url: &reqwest::Url, allow_private: bool) -> Result<Target, GuardError> {
    let host = url.host_str().ok_or(GuardError::BadUrl)?;
    let port = url.port_or_known_default().ok_or(GuardError::BadUrl)?;
    // `[::1]` comes back bracketed; the resolver wants the bare address.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|source| GuardError::Resolve {
            host: host.to_owned(),
            source,
        })?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| GuardError::NoAddress(host.to_owned()))?;
    if !allow_private {
        for addr in &addrs {
            if let Some(class) = forbidden(addr.ip()) {
                return Err(GuardError::Refused {
                    host: host.to_owned(),
                    addr: addr.ip(),
                    class,
                });
            }
        }
    }
    Ok(Target {
        host: bare.to_owned(),
        addr: first,
    })
}

/// The class of an address a callback may not reach, `None` for a public one.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(match () {
        () if ip.is_loopback() => "loopback",
        () if ip.is_unspecified() || a == 0 => "unspecified",
        () if ip.is_private() => "private",
        // 169.254.169.254, the cloud metadata service, is one of these.
        () if ip.is_link_local() => "link-local",
        () if a == 100 && (b & 0xc0) == 64 => "shared (CGNAT)",
        () if ip.is_multicast() => "multicast",
        () if ip.is_broadcast() => "broadcast",
        () if a >= 240 => "reserved",
        () => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(match () {
        () if ip.is_loopback() => "loopback",
        () if ip.is_unspecified() => "unspecified",
        () if (first & 0xfe00) == 0xfc00 => "private (unique local)",
        () if (first & 0xffc0) == 0xfe80 => "link-local",
        () if ip.is_multicast() => "multicast",
        // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
        () if ip.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] => {
            let [.., hi, lo] = ip.segments();
            let v4 = Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
            return forbidden_v4(v4);
        }
        () => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> Option<&'static str> {
        forbidden(s.parse().unwrap())
    }

    #[test]
    fn every_private_class_is_refused() {
        for (addr, expected) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("100.127.255.254", "shared (CGNAT)"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", "private (unique local)"),
            ("fd12:3456::1", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
        ] {
            assert_eq!(class(addr), Some(expected), "{addr}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for addr in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "169.253.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(class(addr), None, "{addr}");
        }
    }

    #[tokio::test]
    async fn a_loopback_url_is_refused_unless_private_targets_are_allowed() {
        let url = reqwest::Url::parse("http://127.0.0.1:9/hook").unwrap();
        let err = check(&url, false).await.unwrap_err();
        assert!(err.is_refusal(), "{err}");
        assert!(err.to_string().contains("loopback"), "{err}");
        let target = check(&url, true).await.unwrap();
        assert_eq!(target.addr, "127.0.0.1:9".parse().unwrap());
        let v6 = reqwest::Url::parse("http://[::1]:9/").unwrap();
        assert!(check(&v6, false).await.unwrap_err().is_refusal());
        // `localhost` is a name: it is resolved, and what it resolves to is refused.
        let named = reqwest::Url::parse("http://localhost:9/").unwrap();
        assert!(check(&named, false).await.unwrap_err().is_refusal());
    }
}
