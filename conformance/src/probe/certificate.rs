//! The server's certificate chain: each certificate's key type and size, signature
//! algorithm, validity and names, and the findings on them and on the chain's verification
//! (made in `trust`).

use std::cmp::Ordering;
use std::net::IpAddr;

use openssl::asn1::Asn1Time;
use openssl::nid::Nid;
use openssl::pkey::Id;
use openssl::x509::{X509, X509NameRef};
use serde::Serialize;

use super::finding::{Finding, Severity};
use super::trust::Verification;
use crate::error::Error;

/// One certificate as the report shows it. The dates are kept for the human report only:
/// JSON and Markdown give the period, so a certificate made anew each run diffs the same.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// The issuer's name.
    pub issuer: String,
    /// Key size in bits.
    pub key_bits: u32,
    /// The curve of an EC key (`prime256v1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_curve: Option<String>,
    /// `RSA`, `EC`, `Ed25519`, `Ed448`, `DSA`, `RSA-PSS`, or the key's NID.
    pub key_type: String,
    /// Subject alternative names: `DNS:…`, `IP:…`, `email:…`, `URI:…`.
    pub san: Vec<String>,
    /// Whether subject and issuer are the same.
    pub self_signed: bool,
    /// The signature algorithm (`ecdsa-with-SHA256`, `sha256WithRSAEncryption`).
    pub signature_algorithm: String,
    /// The subject's name.
    pub subject: String,
    /// The validity: `valid`, `expired` or `not yet valid`.
    pub validity: String,
    /// Length of the validity period in whole days.
    pub validity_days: i32,
    /// Whether it expires within a week.
    #[serde(skip)]
    pub expires_soon: bool,
    /// notBefore and notAfter as OpenSSL prints them.
    #[serde(skip)]
    pub dates: (String, String),
}

/// A name as `CN=…, O=…`, in the certificate's order.
pub fn distinguished_name(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_else(|_| "?".into());
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One certificate's facts.
pub fn info(cert: &X509) -> Result<CertInfo, Error> {
    let key = cert.public_key()?;
    let (key_type, key_curve) = match key.id() {
        Id::RSA => ("RSA".to_owned(), None),
        Id::RSA_PSS => ("RSA-PSS".to_owned(), None),
        Id::DSA => ("DSA".to_owned(), None),
        Id::ED25519 => ("Ed25519".to_owned(), None),
        Id::ED448 => ("Ed448".to_owned(), None),
        Id::EC => {
            let curve = key
                .ec_key()
                .ok()
                .and_then(|k| k.group().curve_name())
                .and_then(|n| n.short_name().ok())
                .map(str::to_owned);
            ("EC".to_owned(), curve)
        }
        other => (
            Nid::from_raw(other.as_raw())
                .short_name()
                .unwrap_or("unknown")
                .to_owned(),
            None,
        ),
    };
    let now = Asn1Time::days_from_now(0)?;
    let week = Asn1Time::days_from_now(7)?;
    let validity = if now.compare(cert.not_before())? == Ordering::Less {
        "not yet valid"
    } else if now.compare(cert.not_after())? != Ordering::Less {
        "expired"
    } else {
        "valid"
    };
    let period = cert.not_before().diff(cert.not_after())?;
    let san = cert
        .subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| {
                    if let Some(d) = n.dnsname() {
                        Some(format!("DNS:{d}"))
                    } else if let Some(ip) = n.ipaddress() {
                        ip_text(ip).map(|ip| format!("IP:{ip}"))
                    } else if let Some(e) = n.email() {
                        Some(format!("email:{e}"))
                    } else {
                        n.uri().map(|u| format!("URI:{u}"))
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let subject = distinguished_name(cert.subject_name());
    let issuer = distinguished_name(cert.issuer_name());
    Ok(CertInfo {
        self_signed: subject == issuer,
        issuer,
        key_bits: key.bits(),
        key_curve,
        key_type,
        san,
        signature_algorithm: cert
            .signature_algorithm()
            .object()
            .nid()
            .long_name()
            .unwrap_or("unknown")
            .to_owned(),
        subject,
        validity: validity.into(),
        validity_days: period.days,
        expires_soon: validity == "valid" && week.compare(cert.not_after())? != Ordering::Less,
        dates: (cert.not_before().to_string(), cert.not_after().to_string()),
    })
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?).to_string()),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?).to_string()),
        _ => None,
    }
}

/// The certificate findings.
pub fn findings(chain: &[CertInfo], v: &Verification) -> Vec<Finding> {
    let Some(leaf) = chain.first() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let (severity, why) = key_judgement(leaf);
    let curve = leaf
        .key_curve
        .as_deref()
        .map_or(String::new(), |c| format!(" ({c})"));
    out.push(Finding::new(
        "certificate.key",
        severity,
        format!("{} {} bits{curve}", leaf.key_type, leaf.key_bits),
        why,
    ));
    let weak_sig = ["md5", "sha1", "md2", "md4"]
        .iter()
        .any(|h| leaf.signature_algorithm.to_lowercase().contains(h));
    out.push(Finding::new(
        "certificate.signature",
        if weak_sig && !leaf.self_signed {
            Severity::Medium
        } else {
            Severity::Info
        },
        leaf.signature_algorithm.clone(),
        if weak_sig && !leaf.self_signed {
            "MD5 and SHA-1 signatures can be forged; clients at default security levels refuse them"
        } else {
            "the signature algorithm is current (a self-signed certificate's own signature proves nothing either way)"
        },
    ));
    let (severity, observation, why) = match leaf.validity.as_str() {
        "expired" => (
            Severity::High,
            format!("expired ({}-day period)", leaf.validity_days),
            "verifying clients refuse an expired certificate",
        ),
        "not yet valid" => (
            Severity::High,
            format!("not yet valid ({}-day period)", leaf.validity_days),
            "verifying clients refuse a certificate before its notBefore",
        ),
        _ if leaf.expires_soon => (
            Severity::Low,
            format!(
                "valid now, expires within 7 days ({}-day period)",
                leaf.validity_days
            ),
            "renew it before verifying clients start refusing it",
        ),
        _ => (
            Severity::Info,
            format!("valid now ({}-day period)", leaf.validity_days),
            "the certificate is within its validity period",
        ),
    };
    out.push(Finding::new(
        "certificate.validity",
        severity,
        observation,
        why,
    ));
    let detail = chain
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "{i}: subject {}; issuer {}; {} {} bits; {}; SAN {}",
                c.subject,
                c.issuer,
                c.key_type,
                c.key_bits,
                c.signature_algorithm,
                if c.san.is_empty() {
                    "none".to_owned()
                } else {
                    c.san.join(" ")
                }
            )
        })
        .collect();
    out.push(
        Finding::new(
            "certificate.chain",
            Severity::Info,
            format!(
                "{} certificate{} sent; leaf subject {}{}",
                chain.len(),
                if chain.len() == 1 { "" } else { "s" },
                leaf.subject,
                if leaf.self_signed {
                    " (self-signed)"
                } else {
                    ""
                }
            ),
            "what a client sees before it decides to trust the server",
        )
        .with_detail(detail),
    );
    let store = v.trust.describe();
    let (severity, observation, why) = match (&v.chain_error, v.name_matches) {
        (None, true) => (
            Severity::Info,
            format!("verifies against {store} and names {}", v.name),
            "sslmode=verify-full clients accept it",
        ),
        (None, false) => (
            Severity::Medium,
            format!(
                "verifies against {store} but does not name {} (SAN {})",
                v.name,
                leaf.san.join(" ")
            ),
            "sslmode=verify-full clients refuse it; verify-ca clients accept it for any host",
        ),
        (Some(e), matches) => (
            Severity::Medium,
            format!(
                "does not verify against {store}: {e}; it {} {}",
                if matches { "names" } else { "does not name" },
                v.name
            ),
            "verify-ca and verify-full clients refuse it; require and prefer clients accept any certificate, so anyone in the middle can pose as the server",
        ),
    };
    out.push(Finding::new(
        "certificate.verification",
        severity,
        observation,
        why,
    ));
    out
}

fn key_judgement(c: &CertInfo) -> (Severity, &'static str) {
    let weak = match c.key_type.as_str() {
        "RSA" | "RSA-PSS" | "DSA" => c.key_bits < 2048,
        "EC" => c.key_bits < 224,
        _ => false,
    };
    if weak {
        (
            Severity::High,
            "keys this small can be factored or broken; OpenSSL's default security level refuses them",
        )
    } else {
        (Severity::Info, "the key size meets current guidance")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::trust::Trust;

    fn leaf() -> CertInfo {
        CertInfo {
            issuer: "CN=localhost".into(),
            key_bits: 256,
            key_curve: Some("prime256v1".into()),
            key_type: "EC".into(),
            san: vec!["DNS:localhost".into(), "IP:127.0.0.1".into()],
            self_signed: true,
            signature_algorithm: "ecdsa-with-SHA256".into(),
            subject: "CN=localhost".into(),
            validity: "valid".into(),
            validity_days: 30,
            expires_soon: false,
            dates: (String::new(), String::new()),
        }
    }

    fn verification(chain_error: Option<&str>, name_matches: bool) -> Verification {
        Verification {
            trust: Trust::System("/etc/ssl/certs/ca-certificates.crt".into()),
            name: "127.0.0.1".into(),
            chain_error: chain_error.map(str::to_owned),
            name_matches,
        }
    }

    fn by_id<'a>(f: &'a [Finding], id: &str) -> &'a Finding {
        f.iter().find(|f| f.id == id).expect(id)
    }

    #[test]
    fn a_self_signed_certificate_is_reported_against_the_store_used() {
        let f = findings(
            &[leaf()],
            &verification(Some("self-signed certificate"), true),
        );
        let v = by_id(&f, "certificate.verification");
        assert_eq!(v.severity, Severity::Medium);
        assert_eq!(
            v.observation,
            "does not verify against the system store /etc/ssl/certs/ca-certificates.crt: self-signed certificate; it names 127.0.0.1"
        );
        assert_eq!(
            by_id(&f, "certificate.key").observation,
            "EC 256 bits (prime256v1)"
        );
        assert_eq!(by_id(&f, "certificate.key").severity, Severity::Info);
        assert_eq!(
            by_id(&f, "certificate.validity").observation,
            "valid now (30-day period)"
        );
    }

    #[test]
    fn small_keys_expired_and_sha1_signed_certificates_are_flagged() {
        let mut c = leaf();
        c.key_type = "RSA".into();
        c.key_bits = 1024;
        c.key_curve = None;
        c.validity = "expired".into();
        c.signature_algorithm = "sha1WithRSAEncryption".into();
        c.self_signed = false;
        let f = findings(&[c], &verification(None, false));
        assert_eq!(by_id(&f, "certificate.key").severity, Severity::High);
        assert_eq!(by_id(&f, "certificate.validity").severity, Severity::High);
        assert_eq!(
            by_id(&f, "certificate.signature").severity,
            Severity::Medium
        );
        let v = by_id(&f, "certificate.verification");
        assert!(v.observation.contains("does not name 127.0.0.1"));
    }
}
