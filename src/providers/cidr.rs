//! IP allow-lists for unsigned callbacks (Daraja): addresses and CIDR blocks, IPv4 and IPv6.

use std::{fmt, net::IpAddr, str::FromStr};

/// An address block such as `196.201.214.0/24`; a bare address is a block of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is inside the block. IPv4-mapped IPv6 peers (`::ffff:a.b.c.d`, as a
    /// dual-stack socket reports them) match IPv4 blocks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    /// Parses a comma-separated list (`MPESA_ALLOWED_IPS`); blanks are skipped.
    pub fn parse_list(list: &str) -> Result<Vec<Cidr>, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(str::parse)
            .collect()
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or CIDR block"))?;
        let network = network.to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= max)
                .ok_or_else(|| format!("`{text}` has a prefix length outside 0..={max}"))?,
        };
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Whether `ip` is in any block of `list`. An empty list allows nobody; leave the check off
/// instead (unset `MPESA_ALLOWED_IPS`) where callbacks come from anywhere, as in development.
pub fn ip_allowed(list: &[Cidr], ip: IpAddr) -> bool {
    list.iter().any(|block| block.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("literal address")
    }

    #[test]
    fn matches_addresses_and_blocks() {
        let list = Cidr::parse_list("196.201.214.200, 196.201.213.0/24,2001:db8::/32")
            .expect("valid list");
        assert!(ip_allowed(&list, ip("196.201.214.200")));
        assert!(!ip_allowed(&list, ip("196.201.214.201")));
        assert!(ip_allowed(&list, ip("196.201.213.114")));
        assert!(!ip_allowed(&list, ip("196.201.212.114")));
        assert!(ip_allowed(&list, ip("2001:db8:1::7")));
        assert!(!ip_allowed(&list, ip("2001:db9::7")));
        assert!(ip_allowed(&list, ip("::ffff:196.201.213.44")));
        assert!(!ip_allowed(&[], ip("196.201.214.200")));
    }

    #[test]
    fn edge_prefixes() {
        let all: Cidr = "0.0.0.0/0".parse().expect("valid");
        assert!(all.contains(ip("8.8.8.8")));
        assert!(!all.contains(ip("::1")));
        let odd: Cidr = "10.0.0.128/25".parse().expect("valid");
        assert!(odd.contains(ip("10.0.0.255")));
        assert!(!odd.contains(ip("10.0.0.127")));
    }

    #[test]
    fn rejects_garbage() {
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("::/129".parse::<Cidr>().is_err());
        assert!("example.com".parse::<Cidr>().is_err());
        assert!(Cidr::parse_list("10.0.0.1, nope").is_err());
    }
}
