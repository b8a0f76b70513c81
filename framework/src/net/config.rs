//! How an interface gets its IPv4 address: DHCP by default, static when the command line says
//! `ip=A.B.C.D/N` (optionally with `gw=A.B.C.D`).

use core::fmt;

use smoltcp::wire::{Ipv4Address, Ipv4Cidr};

/// The IPv4 configuration asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpConfig {
    /// Ask a DHCP server (the default).
    Dhcp,
    /// A fixed address, and a default gateway if given.
    Static { address: Ipv4Cidr, gateway: Option<Ipv4Address> },
}

/// A malformed `ip=` or `gw=` word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadConfig(pub &'static str);

impl fmt::Display for BadConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

fn parse_addr(s: &str) -> Option<Ipv4Address> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for o in octets.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *o = p.parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(Ipv4Address::new(octets[0], octets[1], octets[2], octets[3]))
}

fn parse_cidr(s: &str) -> Option<Ipv4Cidr> {
    let (addr, len) = s.split_once('/')?;
    let addr = parse_addr(addr)?;
    if len.is_empty() || len.len() > 2 || !len.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let len: u8 = len.parse().ok()?;
    if len > 32 {
        return None;
    }
    Some(Ipv4Cidr::new(addr, len))
}

impl IpConfig {
    /// Reads `ip=A.B.C.D/N` and `gw=A.B.C.D` (or `ip=dhcp`) from a whitespace-separated command line;
    /// other words are ignored. No `ip=` means DHCP; `gw=` without a static `ip=` is an error.
    pub fn from_cmdline(cmdline: &str) -> Result<IpConfig, BadConfig> {
        let mut ip = None;
        let mut gw = None;
        for word in cmdline.split_whitespace() {
            if let Some(v) = word.strip_prefix("ip=") {
                ip = Some(v);
            } else if let Some(v) = word.strip_prefix("gw=") {
                gw = Some(v);
            }
        }
        match ip {
            None | Some("dhcp") => match gw {
                None => Ok(IpConfig::Dhcp),
                Some(_) => Err(BadConfig("gw= needs a static ip=A.B.C.D/N")),
            },
            Some(v) => {
                let address = parse_cidr(v).ok_or(BadConfig("ip= must be A.B.C.D/N (prefix 0..=32) or dhcp"))?;
                let a = address.address();
                if a.is_unspecified() || a.is_broadcast() || a.is_multicast() {
                    return Err(BadConfig("ip= must be a unicast address"));
                }
                let gateway = match gw {
                    None => None,
                    Some(g) => {
                        let g = parse_addr(g).ok_or(BadConfig("gw= must be A.B.C.D"))?;
                        if !address.contains_addr(&g) {
                            return Err(BadConfig("gw= must be inside the ip= network"));
                        }
                        Some(g)
                    }
                };
                Ok(IpConfig::Static { address, gateway })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dhcp_by_default() {
        assert_eq!(IpConfig::from_cmdline(""), Ok(IpConfig::Dhcp));
        assert_eq!(IpConfig::from_cmdline("verbose other=1"), Ok(IpConfig::Dhcp));
        assert_eq!(IpConfig::from_cmdline("ip=dhcp"), Ok(IpConfig::Dhcp));
    }

    #[test]
    fn static_address() {
        let c = IpConfig::from_cmdline("x ip=10.99.0.50/24 gw=10.99.0.1 y").unwrap();
        assert_eq!(
            c,
            IpConfig::Static {
                address: Ipv4Cidr::new(Ipv4Address::new(10, 99, 0, 50), 24),
                gateway: Some(Ipv4Address::new(10, 99, 0, 1)),
            }
        );
        let c = IpConfig::from_cmdline("ip=192.168.1.2/16").unwrap();
        assert_eq!(c, IpConfig::Static { address: Ipv4Cidr::new(Ipv4Address::new(192, 168, 1, 2), 16), gateway: None });
    }

    #[test]
    fn malformed() {
        for bad in [
            "ip=10.99.0.50",
            "ip=10.99.0.50/33",
            "ip=10.99.0/24",
            "ip=10.99.0.256/24",
            "ip=10.99.0.5.1/24",
            "ip=+1.2.3.4/8",
            "ip=1.2.3.4/",
            "ip=0.0.0.0/8",
            "ip=255.255.255.255/32",
            "ip=224.0.0.1/4",
            "gw=10.0.0.1",
            "ip=10.99.0.50/24 gw=10.98.0.1",
            "ip=10.99.0.50/24 gw=nope",
        ] {
            assert!(IpConfig::from_cmdline(bad).is_err(), "{bad}");
        }
    }
}
