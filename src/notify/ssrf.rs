//! The SSRF guard: an endpoint URL chosen by a client must not reach malipo's own network.
//! Names are resolved on every attempt by the delivery client's resolver, which drops loopback,
//! private, link-local, shared, unspecified and cloud-metadata addresses (so a name that
//! re-resolves to 169.254.169.254 between attempts is still refused); IP literals are checked
//! before sending. `MALIPO_WEBHOOK_ALLOW_PRIVATE=true` (sandbox, tests) lifts both, and plain
//! http.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an endpoint URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefused {
    /// Not a URL at all.
    #[error("not a valid URL")]
    Invalid,
    /// Not https (plain http only where private targets are allowed).
    #[error("the URL must use https")]
    NotHttps,
    /// Credentials in the URL would be sent to whoever it points at.
    #[error("the URL must not carry a user name or password")]
    Credentials,
    /// The address is loopback, private, link-local or metadata.
    #[error("the URL's address {0} is not a public address")]
    NotPublic(IpAddr),
}

/// Checks an endpoint URL before it is stored or sent to.
pub fn check_url(url: &str, allow_private: bool) -> Result<reqwest::Url, UrlRefused> {
    let parsed = reqwest::Url::parse(url).map_err(|_| UrlRefused::Invalid)?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err(UrlRefused::NotHttps),
        _ => return Err(UrlRefused::Invalid),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlRefused::Credentials);
    }
    let host = parsed.host_str().ok_or(UrlRefused::Invalid)?;
    let literal = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    if let Some(ip) = literal
        && !allow_private
        && !is_public(ip)
    {
        return Err(UrlRefused::NotPublic(ip));
    }
    Ok(parsed)
}

/// Whether `ip` is an ordinary public address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // includes 169.254.169.254, the cloud metadata address
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)) // AWS metadata (IPv6)
}

/// The delivery client's resolver: the system's answer less every non-public address.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    /// Let every address through (sandbox, tests).
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|addr| allow_private || is_public(addr.ip()))
                .collect();
            if kept.is_empty() {
                let refused = found
                    .first()
                    .map_or_else(|| "no address".to_owned(), |a| a.ip().to_string());
                return Err(
                    format!("{host} resolves only to refused addresses ({refused})").into(),
                );
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_internal_targets_unless_allowed() {
        for url in [
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://192.168.0.1/hook",
            "https://172.16.5.5/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/hook",
            "https://[fe80::1]/hook",
            "https://[fd00:ec2::254]/",
            "https://[::ffff:127.0.0.1]/",
        ] {
            assert!(
                matches!(check_url(url, false), Err(UrlRefused::NotPublic(_))),
                "{url} must be refused"
            );
            assert!(
                check_url(url, true).is_ok(),
                "{url} allowed when private is"
            );
        }
        assert!(check_url("https://8.8.8.8/hook", false).is_ok());
        assert!(check_url("https://example.com/hook", false).is_ok());
    }

    #[test]
    fn requires_https_and_no_credentials() {
        assert_eq!(
            check_url("http://example.com/hook", false),
            Err(UrlRefused::NotHttps)
        );
        assert!(check_url("http://example.com/hook", true).is_ok());
        assert_eq!(
            check_url("ftp://example.com/", true),
            Err(UrlRefused::Invalid)
        );
        assert_eq!(check_url("not a url", true), Err(UrlRefused::Invalid));
        assert_eq!(
            check_url("https://user:pw@example.com/", false),
            Err(UrlRefused::Credentials)
        );
    }

    #[tokio::test]
    async fn the_resolver_drops_loopback_names() {
        let guarded = GuardedResolver {
            allow_private: false,
        };
        let name: Name = "localhost".parse().expect("name");
        assert!(guarded.resolve(name).await.is_err());
        let open = GuardedResolver {
            allow_private: true,
        };
        let name: Name = "localhost".parse().expect("name");
        assert!(open.resolve(name).await.is_ok());
    }
}
