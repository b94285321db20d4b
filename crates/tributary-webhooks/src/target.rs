//! Where deliveries may go: URL rules, and an address policy enforced at connect time.
//!
//! A webhook URL is chosen by a tenant, so it must not become a way into the deployment's own
//! network (SSRF). The rules:
//!
//! - `http` or `https` only, with a host, and no userinfo (`user:pass@` would leak into logs
//!   and the operator API, and is never how a receiver should authenticate us: the signature is).
//! - **Always refused:** unspecified (`0.0.0.0`, `::`, which Linux connects to the local host),
//!   multicast and broadcast addresses. Nothing legitimate listens there.
//! - **Refused unless `allow_link_local`:** link-local (`169.254.0.0/16`, `fe80::/10`), the
//!   deprecated site-local `fec0::/10`, and cloud metadata services (`169.254.169.254`, `fd00:ec2::254`, `100.100.100.200`,
//!   `metadata.google.internal`), which hand out the host's cloud credentials.
//! - **Allowed unless `allow_private_targets` is off:** loopback, RFC 1918, unique-local
//!   (`fc00::/7`) and carrier-grade NAT (`100.64.0.0/10`). Self-hosted deployments deliver to
//!   services on their own network, so this is the default; multi-tenant deployments that
//!   accept URLs from untrusted tenants should turn it off.
//!
//! The check runs at delivery time, on the addresses the host resolves to then, and the
//! connection is made to those very addresses: the HTTP client's DNS resolver is
//! [`GuardedResolver`], which drops refused addresses, so a name that re-binds to a metadata
//! address between a check and the connect still cannot reach it. IP-literal hosts never reach
//! a resolver and are checked by [`check_url`] before sending. IPv6 addresses that deliver to
//! an IPv4 address are judged as that IPv4 address: IPv4-mapped (`::ffff:a.b.c.d`),
//! IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`) and 6to4
//! (`2002::/16`), so `[::169.254.169.254]`, `[64:ff9b::a9fe:a9fe]` or `[2002:a9fe:a9fe::1]`
//! reach no metadata service. The client uses no proxy and
//! follows no redirects, either of which would send the request somewhere unchecked.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// Host names of metadata services, refused by name as well as by address.
const METADATA_HOSTS: &[&str] = &["metadata.google.internal", "metadata.goog"];

const METADATA_V4: &[Ipv4Addr] = &[
    Ipv4Addr::new(169, 254, 169, 254), // AWS, GCP, Azure, OpenStack, DigitalOcean
    Ipv4Addr::new(100, 100, 100, 200), // Alibaba Cloud
];
const METADATA_V6: &[Ipv6Addr] = &[
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254), // AWS IMDS over IPv6
];

/// Which addresses deliveries may reach. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Loopback, RFC 1918, unique-local and CGNAT addresses. Default: allowed.
    pub allow_private_targets: bool,
    /// Link-local and cloud metadata addresses. Default: refused.
    pub allow_link_local: bool,
}

impl Default for TargetPolicy {
    fn default() -> Self {
        Self {
            allow_private_targets: true,
            allow_link_local: false,
        }
    }
}

/// What kind of address an IP is, for the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Public,
    Loopback,
    Private,
    LinkLocal,
    Metadata,
    Unspecified,
    Multicast,
    Broadcast,
    /// Site-local `fec0::/10` (deprecated by RFC 3879 but still routed by some networks as
    /// their private space): judged like link-local.
    SiteLocal,
}

impl AddressClass {
    /// How much harm a connection to it could do, to pick the worst of several readings.
    fn danger(self) -> u8 {
        match self {
            AddressClass::Public => 0,
            AddressClass::Private => 1,
            AddressClass::Loopback => 2,
            AddressClass::SiteLocal => 3,
            AddressClass::LinkLocal => 4,
            AddressClass::Metadata => 5,
            AddressClass::Multicast | AddressClass::Broadcast => 6,
            AddressClass::Unspecified => 7,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("not a URL: {0}")]
    Invalid(String),
    #[error("only http and https URLs are allowed, not `{0}`")]
    Scheme(String),
    #[error("the URL has no host")]
    NoHost,
    #[error("the URL must not carry a user name or password")]
    Userinfo,
    #[error("refused target {host}: {address} is a {class:?} address")]
    RefusedAddress {
        host: String,
        address: IpAddr,
        class: AddressClass,
    },
    #[error("refused target {0}: a cloud metadata service")]
    RefusedHost(String),
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
}

/// Judges an address; an IPv6 address that carries an IPv4 address is judged as the IPv4
/// address it reaches (see [`embedded_v4`]).
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Embedded::None => classify_v6(v6),
            Embedded::One(v4) => classify_v4(v4),
            // Refused as the most dangerous of them: which one a translator uses is its
            // configuration, not ours to guess.
            Embedded::Any(candidates) => candidates
                .iter()
                .map(|v4| classify_v4(*v4))
                .max_by_key(|class| class.danger())
                .unwrap_or(AddressClass::Unspecified),
        },
    }
}

/// The IPv4 address(es) an IPv6 address delivers to, through the host's own stack or through
/// a translator on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Embedded {
    None,
    One(Ipv4Addr),
    /// Several positions are possible (a local-use NAT64 prefix of unknown length).
    Any(Vec<Ipv4Addr>),
}

/// IPv4 addresses inside IPv6 ones:
/// - IPv4-mapped `::ffff:a.b.c.d` (RFC 4291 2.5.5.2), which the host's dual stack connects
///   to over IPv4;
/// - IPv4-compatible `::a.b.c.d` (RFC 4291 2.5.5.1, deprecated), which some stacks still
///   route to the IPv4 address (`::` and `::1` excluded: unspecified and loopback);
/// - NAT64's well-known prefix `64:ff9b::/96` (RFC 6052), translated to the IPv4 address in
///   the last 32 bits, and the local-use prefix `64:ff9b:1::/48` (RFC 8215), whose operator
///   may use any RFC 6052 prefix length from /48 to /96 inside it;
/// - 6to4 `2002:AABB:CCDD::/48` (RFC 3056), relayed to `A.B.C.D`.
fn embedded_v4(ip: Ipv6Addr) -> Embedded {
    let s = ip.segments();
    let o = ip.octets();
    let tail = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Embedded::One(v4);
    }
    if s[..6] == [0; 6] && !ip.is_unspecified() && !ip.is_loopback() {
        return Embedded::One(tail);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Embedded::One(tail);
    }
    if s[..3] == [0x64, 0xff9b, 1] {
        // RFC 6052 2.2: the IPv4 bits skip bits 64-71 (the "u" octet).
        let at = |bytes: [usize; 4]| Ipv4Addr::new(o[bytes[0]], o[bytes[1]], o[bytes[2]], o[bytes[3]]);
        let candidates: Vec<Ipv4Addr> = [at([6, 7, 9, 10]), at([7, 9, 10, 11]), at([9, 10, 11, 12]), tail]
            .into_iter()
            // 0.0.0.0/8 there is the zero padding around an address at another position.
            .filter(|v4| v4.octets()[0] != 0)
            .collect();
        return match candidates.len() {
            0 => Embedded::One(Ipv4Addr::UNSPECIFIED),
            _ => Embedded::Any(candidates),
        };
    }
    if s[0] == 0x2002 {
        return Embedded::One(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    Embedded::None
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, ..] = ip.octets();
    if METADATA_V4.contains(&ip) {
        AddressClass::Metadata
    } else if ip.is_unspecified() || a == 0 {
        // 0.0.0.0/8 is "this network": connecting to it reaches the local host on Linux.
        AddressClass::Unspecified
    } else if ip.is_broadcast() {
        AddressClass::Broadcast
    } else if ip.is_multicast() {
        AddressClass::Multicast
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        AddressClass::Private
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let first = ip.segments()[0];
    if METADATA_V6.contains(&ip) {
        AddressClass::Metadata
    } else if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if ip.is_multicast() {
        AddressClass::Multicast
    } else if first & 0xffc0 == 0xfe80 {
        AddressClass::LinkLocal
    } else if first & 0xffc0 == 0xfec0 {
        AddressClass::SiteLocal
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if first & 0xfe00 == 0xfc00 {
        AddressClass::Private
    } else {
        AddressClass::Public
    }
}

impl TargetPolicy {
    /// Whether a connection to `ip` is allowed.
    pub fn allows(&self, ip: IpAddr) -> Result<(), AddressClass> {
        let class = classify(ip);
        let allowed = match class {
            AddressClass::Public => true,
            AddressClass::Loopback | AddressClass::Private => self.allow_private_targets,
            AddressClass::LinkLocal | AddressClass::SiteLocal | AddressClass::Metadata => self.allow_link_local,
            AddressClass::Unspecified | AddressClass::Multicast | AddressClass::Broadcast => false,
        };
        if allowed { Ok(()) } else { Err(class) }
    }

    fn check_ip(&self, host: &str, ip: IpAddr) -> Result<(), TargetError> {
        self.allows(ip).map_err(|class| TargetError::RefusedAddress {
            host: host.to_owned(),
            address: ip,
            class,
        })
    }
}

/// The URL rules that need no DNS: what endpoint creation should check, and what every
/// delivery checks again before sending (the policy may have changed since). IP-literal hosts
/// and metadata host names are judged here; other names at connect time by [`GuardedResolver`].
pub fn check_url(url: &str, policy: &TargetPolicy) -> Result<Url, TargetError> {
    let parsed = Url::parse(url).map_err(|e| TargetError::Invalid(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(TargetError::Scheme(parsed.scheme().to_owned()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(TargetError::Userinfo);
    }
    match parsed.host() {
        None => return Err(TargetError::NoHost),
        Some(Host::Ipv4(ip)) => policy.check_ip(&ip.to_string(), IpAddr::V4(ip))?,
        Some(Host::Ipv6(ip)) => policy.check_ip(&ip.to_string(), IpAddr::V6(ip))?,
        Some(Host::Domain(name)) => check_name(name, policy)?,
    }
    Ok(parsed)
}

fn check_name(name: &str, policy: &TargetPolicy) -> Result<(), TargetError> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if !policy.allow_link_local && METADATA_HOSTS.contains(&name.as_str()) {
        return Err(TargetError::RefusedHost(name));
    }
    Ok(())
}

/// Resolves `host` and keeps the addresses the policy allows; an error when none is left.
pub async fn resolve_allowed(host: &str, policy: &TargetPolicy) -> Result<Vec<SocketAddr>, TargetError> {
    check_name(host, policy)?;
    let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|e| TargetError::Resolve {
            host: host.to_owned(),
            reason: e.to_string(),
        })?
        .collect();
    let mut refused = None;
    let mut allowed = Vec::with_capacity(found.len());
    for addr in found {
        match policy.check_ip(host, addr.ip()) {
            Ok(()) => allowed.push(addr),
            Err(e) => refused = Some(e),
        }
    }
    match (allowed.is_empty(), refused) {
        (false, _) => Ok(allowed),
        (true, Some(e)) => Err(e),
        (true, None) => Err(TargetError::Resolve {
            host: host.to_owned(),
            reason: "no addresses".to_owned(),
        }),
    }
}

/// The HTTP client's DNS resolver: the system resolver, minus every address the policy
/// refuses. Because reqwest connects only to what this returns, the checked addresses are the
/// connected ones (no DNS-rebinding window).
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    pub policy: TargetPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let addrs = resolve_allowed(name.as_str(), &policy).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_addresses() {
        let cases = [
            ("8.8.8.8", AddressClass::Public),
            ("2606:4700::1111", AddressClass::Public),
            ("127.0.0.1", AddressClass::Loopback),
            ("::1", AddressClass::Loopback),
            ("10.1.2.3", AddressClass::Private),
            ("172.16.0.1", AddressClass::Private),
            ("192.168.1.1", AddressClass::Private),
            ("100.64.0.1", AddressClass::Private),
            ("fd12:3456::1", AddressClass::Private),
            ("169.254.1.1", AddressClass::LinkLocal),
            ("fe80::1", AddressClass::LinkLocal),
            ("febf::1", AddressClass::LinkLocal),
            ("169.254.169.254", AddressClass::Metadata),
            ("fd00:ec2::254", AddressClass::Metadata),
            ("100.100.100.200", AddressClass::Metadata),
            ("::ffff:169.254.169.254", AddressClass::Metadata),
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("0.0.0.0", AddressClass::Unspecified),
            ("0.1.2.3", AddressClass::Unspecified),
            ("::", AddressClass::Unspecified),
            ("224.0.0.1", AddressClass::Multicast),
            ("ff02::1", AddressClass::Multicast),
            ("255.255.255.255", AddressClass::Broadcast),
        ];
        for (addr, class) in cases {
            assert_eq!(classify(ip(addr)), class, "{addr}");
        }
    }

    /// The forms that got past the check (issue 12): IPv6 spellings of the metadata address
    /// and of link-local space, and site-local.
    #[test]
    fn ipv6_forms_carrying_ipv4_are_judged_as_the_ipv4_address() {
        let cases = [
            ("::169.254.169.254", AddressClass::Metadata),
            ("::a9fe:a9fe", AddressClass::Metadata),
            ("::127.0.0.1", AddressClass::Loopback),
            ("::10.0.0.1", AddressClass::Private),
            ("::8.8.8.8", AddressClass::Public),
            ("64:ff9b::a9fe:a9fe", AddressClass::Metadata),
            ("64:ff9b::169.254.1.1", AddressClass::LinkLocal),
            ("64:ff9b::8.8.8.8", AddressClass::Public),
            ("64:ff9b::7f00:1", AddressClass::Loopback),
            // Local-use NAT64 at /96 and at /48 (the "u" octet skipped).
            ("64:ff9b:1::a9fe:a9fe", AddressClass::Metadata),
            ("64:ff9b:1:a9fe:a9:fea9::", AddressClass::Metadata),
            ("64:ff9b:1::", AddressClass::Unspecified),
            ("64:ff9b:1::808:808", AddressClass::Public),
            ("64:ff9b:1:808:8:808::", AddressClass::Public),
            ("2002:a9fe:a9fe::1", AddressClass::Metadata),
            ("2002:a9fe:1::", AddressClass::LinkLocal),
            ("2002:7f00:1::", AddressClass::Loopback),
            ("2002:808:808::1", AddressClass::Public),
            ("fec0::1", AddressClass::SiteLocal),
            ("feff::1", AddressClass::SiteLocal),
            ("::1", AddressClass::Loopback),
            ("::", AddressClass::Unspecified),
        ];
        for (addr, class) in cases {
            assert_eq!(classify(ip(addr)), class, "{addr}");
        }
        let p = TargetPolicy::default();
        for hostile in [
            "http://[::169.254.169.254]/latest/meta-data/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[64:ff9b:1::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::1]/",
            "http://[fec0::1]/",
            "http://[::ffff:a9fe:a9fe]/",
        ] {
            assert!(
                matches!(check_url(hostile, &p), Err(TargetError::RefusedAddress { .. })),
                "{hostile} must be refused: {:?}",
                check_url(hostile, &p)
            );
        }
        // Still open where the operator opened link-local; public NAT64 and 6to4 stay allowed.
        let open = TargetPolicy {
            allow_private_targets: true,
            allow_link_local: true,
        };
        assert!(check_url("http://[fec0::1]/", &open).is_ok());
        assert!(check_url("http://[64:ff9b::808:808]/", &p).is_ok());
        assert!(check_url("http://[2002:808:808::1]/", &p).is_ok());
        let strict = TargetPolicy {
            allow_private_targets: false,
            allow_link_local: false,
        };
        assert!(check_url("http://[::127.0.0.1]/", &strict).is_err());
        assert!(check_url("http://[64:ff9b::a00:1]/", &strict).is_err());
    }

    #[test]
    fn default_policy_allows_private_refuses_link_local_and_metadata() {
        let p = TargetPolicy::default();
        for ok in ["127.0.0.1", "10.0.0.1", "fd12::1", "8.8.8.8"] {
            assert_eq!(p.allows(ip(ok)), Ok(()), "{ok}");
        }
        for refused in [
            "169.254.169.254",
            "169.254.10.10",
            "fe80::1",
            "fd00:ec2::254",
            "100.100.100.200",
        ] {
            assert!(p.allows(ip(refused)).is_err(), "{refused}");
        }
    }

    #[test]
    fn flags_widen_and_narrow_but_never_allow_unspecified() {
        let open = TargetPolicy {
            allow_private_targets: true,
            allow_link_local: true,
        };
        assert_eq!(open.allows(ip("169.254.169.254")), Ok(()));
        assert_eq!(open.allows(ip("fe80::1")), Ok(()));
        for never in ["0.0.0.0", "::", "224.0.0.1", "255.255.255.255"] {
            assert!(open.allows(ip(never)).is_err(), "{never}");
        }
        let strict = TargetPolicy {
            allow_private_targets: false,
            allow_link_local: false,
        };
        assert_eq!(strict.allows(ip("127.0.0.1")), Err(AddressClass::Loopback));
        assert_eq!(strict.allows(ip("192.168.0.1")), Err(AddressClass::Private));
        assert_eq!(strict.allows(ip("1.1.1.1")), Ok(()));
    }

    #[test]
    fn url_rules() {
        let p = TargetPolicy::default();
        assert!(check_url("https://hooks.example.com/tributary", &p).is_ok());
        assert!(check_url("http://127.0.0.1:8080/hook", &p).is_ok());
        assert_eq!(
            check_url("ftp://example.com/", &p),
            Err(TargetError::Scheme("ftp".into()))
        );
        assert_eq!(
            check_url("file:///etc/passwd", &p),
            Err(TargetError::Scheme("file".into()))
        );
        assert_eq!(
            check_url("https://user:pw@example.com/", &p),
            Err(TargetError::Userinfo)
        );
        assert_eq!(check_url("https://user@example.com/", &p), Err(TargetError::Userinfo));
        assert!(matches!(check_url("not a url", &p), Err(TargetError::Invalid(_))));
        assert!(matches!(
            check_url("http://169.254.169.254/latest/meta-data/", &p),
            Err(TargetError::RefusedAddress {
                class: AddressClass::Metadata,
                ..
            })
        ));
        assert!(matches!(
            check_url("http://[fe80::1]/", &p),
            Err(TargetError::RefusedAddress {
                class: AddressClass::LinkLocal,
                ..
            })
        ));
        assert!(matches!(
            check_url("http://[::ffff:169.254.169.254]/", &p),
            Err(TargetError::RefusedAddress { .. })
        ));
        assert_eq!(
            check_url("http://Metadata.Google.Internal./computeMetadata/v1/", &p),
            Err(TargetError::RefusedHost("metadata.google.internal".into()))
        );
        // Decimal and hex spellings of 169.254.169.254 are normalized by the URL parser.
        assert!(check_url("http://2852039166/", &p).is_err());
        assert!(check_url("http://0xa9fea9fe/", &p).is_err());
        assert!(check_url("http://0.0.0.0:8080/", &p).is_err());
    }

    #[tokio::test]
    async fn resolver_drops_refused_addresses() {
        let strict = GuardedResolver {
            policy: TargetPolicy {
                allow_private_targets: false,
                allow_link_local: false,
            },
        };
        let err = strict
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("refused");
        assert!(err.to_string().contains("refused target localhost"), "{err}");

        let default = GuardedResolver {
            policy: TargetPolicy::default(),
        };
        let addrs: Vec<_> = default
            .resolve("localhost".parse().unwrap())
            .await
            .expect("allowed")
            .collect();
        assert!(
            !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()),
            "{addrs:?}"
        );

        let err = default
            .resolve("metadata.google.internal".parse().unwrap())
            .await
            .err()
            .expect("refused by name");
        assert!(err.to_string().contains("metadata"), "{err}");
    }
}
