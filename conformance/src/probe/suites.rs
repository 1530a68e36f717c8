//! TLS protocol versions and cipher suites as the probe names and judges them: IANA and
//! OpenSSL names, the code point, and the weak classes flagged (NULL, export, RC4, 3DES,
//! anonymous). Pure: no connection.

use openssl::ssl::{SslCipherRef, SslVersion};
use serde::Serialize;

use super::finding::Severity;

/// A protocol version the probe tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// SSL 3.0.
    Ssl3,
    /// TLS 1.0.
    Tls1,
    /// TLS 1.1.
    Tls1_1,
    /// TLS 1.2.
    Tls1_2,
    /// TLS 1.3.
    Tls1_3,
}

impl Version {
    /// Every version, oldest first.
    pub const ALL: [Self; 5] = [
        Self::Ssl3,
        Self::Tls1,
        Self::Tls1_1,
        Self::Tls1_2,
        Self::Tls1_3,
    ];

    /// OpenSSL's name for it (`TLSv1.2`), as PostgreSQL's settings and logs use it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ssl3 => "SSLv3",
            Self::Tls1 => "TLSv1",
            Self::Tls1_1 => "TLSv1.1",
            Self::Tls1_2 => "TLSv1.2",
            Self::Tls1_3 => "TLSv1.3",
        }
    }

    /// The id suffix of its findings (`tls1.2`).
    pub fn id(self) -> &'static str {
        match self {
            Self::Ssl3 => "ssl3",
            Self::Tls1 => "tls1.0",
            Self::Tls1_1 => "tls1.1",
            Self::Tls1_2 => "tls1.2",
            Self::Tls1_3 => "tls1.3",
        }
    }

    /// The `openssl` crate's constant.
    pub fn ssl_version(self) -> SslVersion {
        match self {
            Self::Ssl3 => SslVersion::SSL3,
            Self::Tls1 => SslVersion::TLS1,
            Self::Tls1_1 => SslVersion::TLS1_1,
            Self::Tls1_2 => SslVersion::TLS1_2,
            Self::Tls1_3 => SslVersion::TLS1_3,
        }
    }

    /// The version OpenSSL names as a suite's minimum (`SSL_CIPHER_get_version`).
    pub fn from_min_name(name: &str) -> Option<Self> {
        Some(match name {
            "SSLv3" => Self::Ssl3,
            "TLSv1.0" | "TLSv1" => Self::Tls1,
            "TLSv1.1" => Self::Tls1_1,
            "TLSv1.2" => Self::Tls1_2,
            "TLSv1.3" => Self::Tls1_3,
            _ => return None,
        })
    }

    /// The version's two wire bytes (`0x0303` for TLS 1.2).
    pub fn wire(self) -> u16 {
        match self {
            Self::Ssl3 => 0x0300,
            Self::Tls1 => 0x0301,
            Self::Tls1_1 => 0x0302,
            Self::Tls1_2 => 0x0303,
            Self::Tls1_3 => 0x0304,
        }
    }

    /// How much accepting it matters, and why.
    pub fn judged(self) -> (Severity, &'static str) {
        match self {
            Self::Ssl3 => (
                Severity::High,
                "SSL 3.0 is broken (POODLE, RFC 7568); no client should be able to use it",
            ),
            Self::Tls1 | Self::Tls1_1 => (
                Severity::Medium,
                "TLS 1.0 and 1.1 are deprecated (RFC 8996); PostgreSQL 13+ refuses them by default (ssl_min_protocol_version = TLSv1.2)",
            ),
            Self::Tls1_2 | Self::Tls1_3 => (Severity::Info, "a current protocol version"),
        }
    }
}

/// The TLS 1.3 suites the probe offers when the linked OpenSSL knows them: RFC 8446's five
/// and RFC 9150's two integrity-only (NULL-encryption) suites.
pub const TLS13_CANDIDATES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
    "TLS_SHA256_SHA256",
    "TLS_SHA384_SHA384",
];

/// A weak class of cipher suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Weakness {
    /// No encryption at all (the seed document's NULL-SHA / NULL-MD5 warning).
    Null,
    /// No server authentication: anyone in the middle can pose as the server.
    Anonymous,
    /// 40- or 56-bit export-grade keys.
    Export,
    /// The RC4 stream cipher (RFC 7465 prohibits it).
    Rc4,
    /// Triple DES: a 64-bit block (Sweet32).
    #[serde(rename = "3des")]
    TripleDes,
}

impl Weakness {
    /// Every class, worst first.
    pub const ALL: [Self; 5] = [
        Self::Null,
        Self::Anonymous,
        Self::Export,
        Self::Rc4,
        Self::TripleDes,
    ];

    /// The word the reports use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Null => "NULL",
            Self::Anonymous => "anonymous",
            Self::Export => "export",
            Self::Rc4 => "RC4",
            Self::TripleDes => "3DES",
        }
    }

    /// How much accepting a suite of this class matters.
    pub fn severity(self) -> Severity {
        match self {
            Self::Null | Self::Anonymous | Self::Export => Severity::High,
            Self::Rc4 => Severity::Medium,
            Self::TripleDes => Severity::Low,
        }
    }

    /// One line on why.
    pub fn why(self) -> &'static str {
        match self {
            Self::Null => {
                "NULL suites send everything in clear text; a man-in-the-middle can read and pass on the session (the seed document's warning)"
            }
            Self::Anonymous => {
                "anonymous suites authenticate no server, so anyone in the middle can pose as it"
            }
            Self::Export => "export suites use 40- or 56-bit keys that are broken in minutes",
            Self::Rc4 => "RC4 has exploitable biases; RFC 7465 forbids it in TLS",
            Self::TripleDes => "3DES has a 64-bit block, open to Sweet32 on long sessions",
        }
    }
}

/// A cipher suite: its code point and names.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Suite {
    /// The weak classes it belongs to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Weakness>,
    /// The IANA (RFC) name, e.g. `TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384`.
    pub iana: String,
    /// The code point, `0xC02C`.
    pub id: String,
    /// OpenSSL's name, e.g. `ECDHE-ECDSA-AES256-GCM-SHA384`.
    pub openssl: String,
}

impl Suite {
    /// The suite OpenSSL describes with `cipher`.
    pub fn from_cipher(cipher: &SslCipherRef) -> Self {
        let [hi, lo] = cipher.protocol_id();
        let openssl = cipher.name().to_owned();
        let iana = cipher.standard_name().unwrap_or(cipher.name()).to_owned();
        let flags = flags(&iana, &cipher.description());
        Self {
            flags,
            iana,
            id: format!("0x{hi:02X}{lo:02X}"),
            openssl,
        }
    }
}

/// The weak classes of a suite from its IANA name and OpenSSL's description line
/// (`… Kx=ECDH Au=ECDSA Enc=AESGCM(256) Mac=AEAD`).
pub fn flags(iana: &str, description: &str) -> Vec<Weakness> {
    let field = |key: &str| {
        description
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap_or("")
            .to_owned()
    };
    let (au, enc) = (field("Au="), field("Enc="));
    let mut out = Vec::new();
    if iana.contains("_WITH_NULL_")
        || enc == "None"
        || matches!(iana, "TLS_SHA256_SHA256" | "TLS_SHA384_SHA384")
    {
        out.push(Weakness::Null);
    }
    if iana.contains("_anon_") || au == "None" {
        out.push(Weakness::Anonymous);
    }
    if iana.contains("_EXPORT") || description.split_whitespace().any(|w| w == "export") {
        out.push(Weakness::Export);
    }
    if iana.contains("_RC4_") || enc.starts_with("RC4") {
        out.push(Weakness::Rc4);
    }
    if iana.contains("3DES") || enc.starts_with("3DES") {
        out.push(Weakness::TripleDes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strong_suites_have_no_flags() {
        assert!(
            flags(
                "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                "ECDHE-ECDSA-AES256-GCM-SHA384  TLSv1.2 Kx=ECDH     Au=ECDSA Enc=AESGCM(256) Mac=AEAD\n"
            )
            .is_empty()
        );
        assert!(
            flags(
                "TLS_AES_128_GCM_SHA256",
                "TLS_AES_128_GCM_SHA256 TLSv1.3 Kx=any Au=any Enc=AESGCM(128) Mac=AEAD"
            )
            .is_empty()
        );
    }

    #[test]
    fn null_anonymous_export_rc4_and_3des_are_flagged() {
        assert_eq!(
            flags(
                "TLS_RSA_WITH_NULL_SHA",
                "NULL-SHA SSLv3 Kx=RSA Au=RSA Enc=None Mac=SHA1"
            ),
            [Weakness::Null]
        );
        assert_eq!(
            flags(
                "TLS_ECDH_anon_WITH_NULL_SHA",
                "AECDH-NULL-SHA TLSv1 Kx=ECDH Au=None Enc=None Mac=SHA1"
            ),
            [Weakness::Null, Weakness::Anonymous]
        );
        assert_eq!(
            flags(
                "TLS_DH_anon_WITH_AES_128_CBC_SHA",
                "ADH-AES128-SHA SSLv3 Kx=DH Au=None Enc=AES(128) Mac=SHA1"
            ),
            [Weakness::Anonymous]
        );
        assert_eq!(
            flags(
                "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
                "EXP-RC4-MD5 SSLv3 Kx=RSA(512) Au=RSA Enc=RC4(40) Mac=MD5 export"
            ),
            [Weakness::Export, Weakness::Rc4]
        );
        assert_eq!(
            flags(
                "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
                "ECDHE-RSA-DES-CBC3-SHA SSLv3 Kx=ECDH Au=RSA Enc=3DES(168) Mac=SHA1"
            ),
            [Weakness::TripleDes]
        );
        // RFC 9150's integrity-only TLS 1.3 suites encrypt nothing.
        assert_eq!(flags("TLS_SHA256_SHA256", ""), [Weakness::Null]);
    }

    #[test]
    fn flags_come_from_either_name_or_description() {
        // A description alone (a suite whose standard name is unknown) still flags.
        assert_eq!(
            flags(
                "RC4-SHA",
                "RC4-SHA SSLv3 Kx=RSA Au=RSA Enc=RC4(128) Mac=SHA1"
            ),
            [Weakness::Rc4]
        );
        // The name alone (another tool's report) too.
        assert_eq!(
            flags("TLS_RSA_WITH_3DES_EDE_CBC_SHA", ""),
            [Weakness::TripleDes]
        );
    }

    #[test]
    fn weak_classes_are_judged_worst_first() {
        let severities: Vec<Severity> = Weakness::ALL.iter().map(|w| w.severity()).collect();
        let mut sorted = severities.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(severities, sorted);
        assert_eq!(Weakness::Null.severity(), Severity::High);
        assert_eq!(Weakness::TripleDes.severity(), Severity::Low);
    }

    #[test]
    fn versions_name_parse_and_judge() {
        for v in Version::ALL {
            assert_eq!(Version::from_min_name(v.name()), Some(v));
        }
        assert_eq!(Version::from_min_name("TLSv1.0"), Some(Version::Tls1));
        assert_eq!(Version::from_min_name("DTLSv1"), None);
        assert_eq!(Version::Tls1_2.wire(), 0x0303);
        assert_eq!(Version::Tls1.judged().0, Severity::Medium);
        assert_eq!(Version::Tls1_3.judged().0, Severity::Info);
    }
}
