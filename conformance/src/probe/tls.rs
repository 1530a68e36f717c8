//! Protocol versions and cipher suites: for each version, every suite the probe's OpenSSL can
//! put in a ClientHello is offered; the server picks one, it is taken out, and the rest are
//! offered again until the server refuses, so each accepted suite costs one handshake. What
//! the probe's OpenSSL knows but cannot offer is listed, so "not accepted" is never claimed
//! for a suite that was not tried. The findings are in `tls_findings`.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use openssl::x509::X509;

use super::ffi::{self, kind};
use super::handshake::{self, EVERY_SUITE, Offer, Opening, Outcome};
use super::suites::{Suite, TLS13_CANDIDATES, Version, Weakness};
use crate::error::Error;

/// What the server did with one version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Support {
    /// The probe's OpenSSL cannot offer it: not tried.
    CannotOffer,
    /// Refused: how.
    Refused(String),
    /// Accepted with these suites (sorted by IANA name).
    Accepted(Vec<Suite>),
}

/// One version's result.
#[derive(Clone, Debug)]
pub struct VersionResult {
    /// The version.
    pub version: Version,
    /// What the server did.
    pub support: Support,
    /// How many suites were offered.
    pub offered: usize,
    /// Suites the probe's OpenSSL knows for this version but cannot offer (PSK and SRP
    /// suites need credentials; names of TLS 1.3 suites it does not implement).
    pub not_offered: Vec<String>,
}

/// What the first handshake of a version showed about the server's side.
#[derive(Clone, Debug)]
pub struct Peer {
    /// The version it ran.
    pub version: Version,
    /// The certificates the server sent, leaf first.
    pub chain: Vec<X509>,
    /// Whether it sent a CertificateRequest.
    pub cert_requested: bool,
    /// The CA names in it.
    pub ca_names: Vec<String>,
}

/// Every version's result, and the server side seen in the newest version accepted.
#[derive(Clone, Debug)]
pub struct Tls {
    /// Oldest version first.
    pub versions: Vec<VersionResult>,
    /// From the newest version accepted.
    pub peer: Option<Peer>,
    /// Weak classes and cipher families of which the probe's OpenSSL has no suite at all
    /// (`3DES`, `RC4`, `Camellia`, …): their acceptance is untested.
    pub untested: Vec<String>,
}

impl Tls {
    /// The versions accepted, oldest first.
    pub fn accepted(&self) -> Vec<Version> {
        self.versions
            .iter()
            .filter(|v| matches!(v.support, Support::Accepted(_)))
            .map(|v| v.version)
            .collect()
    }

    /// The suites accepted with `version`.
    pub fn suites(&self, version: Version) -> &[Suite] {
        self.versions
            .iter()
            .find(|v| v.version == version)
            .and_then(|v| match &v.support {
                Support::Accepted(s) => Some(s.as_slice()),
                _ => None,
            })
            .unwrap_or(&[])
    }
}

/// What the probe can offer for `version`: the suites, and those it knows but cannot offer.
pub fn offerable(version: Version) -> Result<(Vec<Suite>, Vec<String>), Error> {
    if version == Version::Tls1_3 {
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for name in TLS13_CANDIDATES {
            let mut b = openssl::ssl::SslContext::builder(openssl::ssl::SslMethod::tls_client())?;
            if b.set_ciphersuites(name).is_ok() {
                known.push(*name);
            } else {
                unknown.push((*name).to_owned());
            }
        }
        let offer = Offer {
            version: Some(version),
            suites13: Some(known.join(":")),
            ..Offer::default()
        };
        let ssl = connect_state(&offer)?;
        let offered = ffi::offered(&ssl);
        let names: BTreeSet<&str> = offered.iter().map(|s| s.iana.as_str()).collect();
        unknown.extend(
            known
                .iter()
                .filter(|k| !names.contains(*k))
                .map(|k| (*k).to_owned()),
        );
        return Ok((sorted(offered), unknown));
    }
    let offer = Offer {
        version: Some(version),
        ciphers: Some(EVERY_SUITE.into()),
        ..Offer::default()
    };
    let ssl = connect_state(&offer)?;
    let offered = ffi::offered(&ssl);
    let ids: BTreeSet<&str> = offered.iter().map(|s| s.id.as_str()).collect();
    let not_offered = ffi::configured(&ssl)
        .into_iter()
        .filter(|(s, min)| {
            Version::from_min_name(min).is_some_and(|m| m <= version && m != Version::Tls1_3)
                && !ids.contains(s.id.as_str())
        })
        .map(|(s, _)| s.openssl)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok((sorted(offered), not_offered))
}

fn connect_state(offer: &Offer) -> Result<openssl::ssl::Ssl, Error> {
    let ctx = handshake::context(offer)?;
    let mut ssl = openssl::ssl::Ssl::new(&ctx)?;
    ssl.set_connect_state();
    Ok(ssl)
}

fn sorted(mut suites: Vec<Suite>) -> Vec<Suite> {
    suites.sort();
    suites.dedup();
    suites
}

/// Tries every version (in parallel) and enumerates its suites.
pub fn enumerate(addr: SocketAddr, opening: Opening, name: &str) -> Result<Tls, Error> {
    let results: Vec<Result<(VersionResult, Option<Peer>), Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = Version::ALL
            .into_iter()
            .map(|v| s.spawn(move || one_version(addr, opening, name, v)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::TargetUnavailable {
                        target: addr.to_string(),
                        why: "a probe thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    let mut versions = Vec::new();
    let mut peer = None;
    for r in results {
        let (v, p) = r?;
        if p.is_some() {
            peer = p;
        }
        versions.push(v);
    }
    let untested = untested()?;
    Ok(Tls {
        versions,
        peer,
        untested,
    })
}

/// Cipher families by a word of their IANA names, for saying which ones the probe's OpenSSL
/// was built without.
const FAMILIES: &[(&str, &str)] = &[
    ("Camellia", "_CAMELLIA_"),
    ("SEED", "_SEED_"),
    ("IDEA", "_IDEA_"),
    ("single DES", "_DES_CBC_"),
    ("GOST", "GOST"),
];

/// The weak classes no offerable suite belongs to, and the families the probe's OpenSSL
/// has no suite of.
fn untested() -> Result<Vec<String>, Error> {
    let mut flags = BTreeSet::new();
    let mut names = BTreeSet::new();
    for v in Version::ALL {
        let (offered, _) = offerable(v)?;
        flags.extend(offered.iter().flat_map(|s| s.flags.iter().copied()));
        names.extend(offered.into_iter().map(|s| s.iana));
    }
    let ssl = connect_state(&Offer::default())?;
    names.extend(ffi::configured(&ssl).into_iter().map(|(s, _)| s.iana));
    let mut out: Vec<String> = Weakness::ALL
        .into_iter()
        .filter(|w| !flags.contains(w))
        .map(|w| w.name().to_owned())
        .collect();
    out.extend(
        FAMILIES
            .iter()
            .filter(|(_, word)| !names.iter().any(|n| n.contains(word)))
            .map(|(family, _)| (*family).to_owned()),
    );
    Ok(out)
}

fn one_version(
    addr: SocketAddr,
    opening: Opening,
    name: &str,
    version: Version,
) -> Result<(VersionResult, Option<Peer>), Error> {
    let (offered, not_offered) = offerable(version)?;
    let mut result = VersionResult {
        version,
        support: Support::CannotOffer,
        offered: offered.len(),
        not_offered,
    };
    if offered.is_empty() {
        result.not_offered.clear();
        return Ok((result, None));
    }
    let mut remaining = offered;
    let mut accepted = Vec::new();
    let mut peer = None;
    while !remaining.is_empty() {
        let offer = if version == Version::Tls1_3 {
            Offer {
                version: Some(version),
                suites13: Some(join(&remaining, |s| &s.iana)),
                ..Offer::default()
            }
        } else {
            Offer {
                version: Some(version),
                ciphers: Some(format!("{}:@SECLEVEL=0", join(&remaining, |s| &s.openssl))),
                ..Offer::default()
            }
        };
        let ctx = handshake::context(&offer)?;
        match handshake::connect(addr, opening, &ctx, name, None)? {
            Outcome::Up(up) => {
                let ssl = up.stream.ssl();
                let Some(chosen) = ssl.current_cipher().map(Suite::from_cipher) else {
                    break;
                };
                if peer.is_none() {
                    let seen = handshake::snapshot(&up.seen);
                    peer = Some(Peer {
                        version,
                        chain: ssl
                            .peer_cert_chain()
                            .map(|c| c.iter().map(|x| x.to_owned()).collect())
                            .unwrap_or_default(),
                        cert_requested: seen.got(kind::CERTIFICATE_REQUEST),
                        ca_names: ffi::client_ca_names(ssl),
                    });
                }
                let before = remaining.len();
                remaining.retain(|s| s.id != chosen.id);
                accepted.push(chosen);
                if remaining.len() == before {
                    // The server chose a suite that was not offered: stop rather than loop.
                    break;
                }
            }
            Outcome::Refused(why) => {
                if accepted.is_empty() {
                    result.support = Support::Refused(why);
                }
                break;
            }
        }
    }
    if !accepted.is_empty() {
        result.support = Support::Accepted(sorted(accepted));
    }
    Ok((result, peer))
}

fn join(suites: &[Suite], name: impl Fn(&Suite) -> &String) -> String {
    suites
        .iter()
        .map(|s| name(s).as_str())
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probes_openssl_offers_current_suites_for_each_current_version() {
        let (tls12, _) = offerable(Version::Tls1_2).expect("TLS 1.2 offer");
        assert!(
            tls12
                .iter()
                .any(|s| s.iana == "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
        );
        assert!(tls12.iter().any(|s| s.flags.contains(&Weakness::Null)));
        let (tls13, _) = offerable(Version::Tls1_3).expect("TLS 1.3 offer");
        assert!(tls13.iter().any(|s| s.iana == "TLS_AES_128_GCM_SHA256"));
        let (tls10, _) = offerable(Version::Tls1).expect("TLS 1.0 offer");
        assert!(tls10.iter().all(|s| !s.iana.contains("GCM")));
    }
}
