//! The TLS findings and their machine-readable form: one finding per protocol version (its
//! suites, the weak ones flagged, the worst deciding the severity), what the probe could not
//! try, and the versions and suites as JSON.

use serde::Serialize;

use super::finding::{Finding, Severity};
use super::suites::{Suite, Weakness};
use super::tls::{Support, Tls, VersionResult};

/// The findings: one per version, and what could not be tried.
pub fn findings(tls: &Tls) -> Vec<Finding> {
    let mut out = Vec::new();
    for v in &tls.versions {
        out.push(version_finding(v));
    }
    if tls.accepted().is_empty() {
        out.push(Finding::new(
            "tls.none",
            Severity::Medium,
            "the server answered S but completed no TLS handshake with any version or suite the probe offered",
            "clients that ask for SSL cannot connect at all",
        ));
    }
    let mut limits = vec!["SSLv2: no OpenSSL 3 can offer it; not tried".to_owned()];
    let mut lists: Vec<(Vec<&str>, &[String])> = Vec::new();
    for v in &tls.versions {
        if v.support == Support::CannotOffer {
            limits.push(format!(
                "{}: the probe's OpenSSL cannot offer it; not tried",
                v.version.name()
            ));
        } else if !v.not_offered.is_empty() {
            match lists
                .iter_mut()
                .find(|(_, l)| *l == v.not_offered.as_slice())
            {
                Some((names, _)) => names.push(v.version.name()),
                None => lists.push((vec![v.version.name()], &v.not_offered)),
            }
        }
    }
    for (versions, list) in lists {
        limits.push(format!(
            "{}: {} suites the probe's OpenSSL knows but cannot offer (PSK and SRP suites need credentials): {}",
            versions.join(", "),
            list.len(),
            list.join(", ")
        ));
    }
    let observation = if tls.untested.is_empty() {
        "every weak class (NULL, anonymous, export, RC4, 3DES) had suites offered".to_owned()
    } else {
        format!(
            "the probe's OpenSSL has no {} suites, so their acceptance is untested",
            tls.untested.join(", ")
        )
    };
    out.push(
        Finding::new(
            "tls.limits",
            Severity::Info,
            observation,
            "only suites the probe could put in a ClientHello were tried; nothing is claimed about the rest",
        )
        .with_detail(limits),
    );
    out
}

fn version_finding(v: &VersionResult) -> Finding {
    let id = format!("tls.{}", v.version.id());
    let name = v.version.name();
    match &v.support {
        Support::CannotOffer => Finding::new(
            &id,
            Severity::Info,
            format!("{name} not tried: the probe's OpenSSL cannot offer it"),
            "the probe claims nothing about a version it could not offer",
        ),
        Support::Refused(why) => Finding::new(
            &id,
            Severity::Info,
            format!("{name} refused ({why}); {} suites offered", v.offered),
            "a refused version cannot be used by any client",
        ),
        Support::Accepted(suites) => {
            let (mut severity, mut why) = v.version.judged();
            let mut weak: Vec<String> = Vec::new();
            for w in Weakness::ALL {
                let n = suites.iter().filter(|s| s.flags.contains(&w)).count();
                if n > 0 {
                    weak.push(format!("{n} {}", w.name()));
                    if w.severity() > severity {
                        severity = w.severity();
                        why = w.why();
                    }
                }
            }
            let weak = if weak.is_empty() {
                String::new()
            } else {
                format!(", flagged: {}", weak.join(", "))
            };
            Finding::new(
                &id,
                severity,
                format!(
                    "{name} accepted with {} of {} suites offered{weak}",
                    suites.len(),
                    v.offered
                ),
                why,
            )
            .with_detail(suites.iter().map(suite_line).collect())
        }
    }
}

/// One suite as a detail line: code point, IANA and OpenSSL names, flags.
pub fn suite_line(s: &Suite) -> String {
    let flags: Vec<&str> = s.flags.iter().map(|w| w.name()).collect();
    let flags = if flags.is_empty() {
        String::new()
    } else {
        format!(" [{}]", flags.join(", "))
    };
    format!("{} {} ({}){flags}", s.id, s.iana, s.openssl)
}

/// The machine-readable part of the report: versions and suites.
#[derive(Debug, Serialize)]
pub struct TlsJson {
    /// Suites accepted per version name.
    pub ciphers: std::collections::BTreeMap<String, Vec<Suite>>,
    /// Per version name, the suites (OpenSSL names) the probe knows but could not offer.
    pub not_offered: std::collections::BTreeMap<String, Vec<String>>,
    /// Weak classes and families the probe's OpenSSL has no suite of.
    pub untested: Vec<String>,
    /// Per version name: `accepted`, `refused` or `not tried`.
    pub versions: std::collections::BTreeMap<String, String>,
}

impl TlsJson {
    /// From the enumeration.
    pub fn new(tls: &Tls) -> Self {
        let mut ciphers = std::collections::BTreeMap::new();
        let mut versions = std::collections::BTreeMap::new();
        let mut not_offered = std::collections::BTreeMap::new();
        for v in &tls.versions {
            if !v.not_offered.is_empty() {
                not_offered.insert(v.version.name().to_owned(), v.not_offered.clone());
            }
            let state = match &v.support {
                Support::CannotOffer => "not tried",
                Support::Refused(_) => "refused",
                Support::Accepted(s) => {
                    ciphers.insert(v.version.name().to_owned(), s.clone());
                    "accepted"
                }
            };
            versions.insert(v.version.name().to_owned(), state.to_owned());
        }
        Self {
            ciphers,
            not_offered,
            untested: tls.untested.clone(),
            versions,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::suites::Version;

    fn suite(id: &str, iana: &str, flags: Vec<Weakness>) -> Suite {
        Suite {
            flags,
            iana: iana.into(),
            id: id.into(),
            openssl: iana.to_lowercase(),
        }
    }

    #[test]
    fn an_accepted_old_version_with_3des_is_medium() {
        let v = VersionResult {
            version: Version::Tls1,
            support: Support::Accepted(vec![
                suite(
                    "0x000A",
                    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
                    vec![Weakness::TripleDes],
                ),
                suite("0x002F", "TLS_RSA_WITH_AES_128_CBC_SHA", vec![]),
            ]),
            offered: 40,
            not_offered: vec![],
        };
        let f = version_finding(&v);
        assert_eq!(f.id, "tls.tls1.0");
        assert_eq!(f.severity, Severity::Medium);
        assert_eq!(
            f.observation,
            "TLSv1 accepted with 2 of 40 suites offered, flagged: 1 3DES"
        );
        assert_eq!(
            f.detail[0],
            "0x000A TLS_RSA_WITH_3DES_EDE_CBC_SHA (tls_rsa_with_3des_ede_cbc_sha) [3DES]"
        );
    }

    #[test]
    fn a_null_suite_makes_a_current_version_high() {
        let v = VersionResult {
            version: Version::Tls1_2,
            support: Support::Accepted(vec![suite(
                "0x0002",
                "TLS_RSA_WITH_NULL_SHA",
                vec![Weakness::Null],
            )]),
            offered: 90,
            not_offered: vec![],
        };
        let f = version_finding(&v);
        assert_eq!(f.severity, Severity::High);
        assert_eq!(f.explanation, Weakness::Null.why());
    }

    #[test]
    fn refused_and_untried_versions_are_info() {
        let refused = VersionResult {
            version: Version::Tls1_1,
            support: Support::Refused("alert protocol_version".into()),
            offered: 30,
            not_offered: vec![],
        };
        assert_eq!(version_finding(&refused).severity, Severity::Info);
        let tls = Tls {
            versions: vec![
                refused,
                VersionResult {
                    version: Version::Ssl3,
                    support: Support::CannotOffer,
                    offered: 0,
                    not_offered: vec![],
                },
            ],
            peer: None,
            untested: vec!["export".into(), "RC4".into()],
        };
        let all = findings(&tls);
        let none = all.iter().find(|f| f.id == "tls.none").expect("tls.none");
        assert_eq!(none.severity, Severity::Medium);
        let limits = all.iter().find(|f| f.id == "tls.limits").expect("limits");
        assert_eq!(
            limits.observation,
            "the probe's OpenSSL has no export, RC4 suites, so their acceptance is untested"
        );
        assert!(limits.detail.iter().any(|d| d.starts_with("SSLv3: ")));
        let json = TlsJson::new(&tls);
        assert_eq!(json.versions["SSLv3"], "not tried");
        assert_eq!(json.versions["TLSv1.1"], "refused");
        assert!(json.ciphers.is_empty());
    }
}
