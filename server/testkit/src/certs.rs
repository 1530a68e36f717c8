//! Keys and certificates for the tests, made by `pgssl_pki::CertBuilder`, with infallible
//! accessors (a test that cannot make a certificate has nothing to test).

use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use pgssl_pki::{CertBuilder, KeyType, San};

/// A key and its certificate (`.cert`, `.key` through [`pgssl_pki::Identity`]), with PEM
/// accessors that panic rather than return errors.
pub struct Identity(pub pgssl_pki::Identity);

impl std::ops::Deref for Identity {
    type Target = pgssl_pki::Identity;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// A fresh P-256 key.
pub fn ec_key() -> PKey<Private> {
    KeyType::P256.generate().expect("P-256 key")
}

/// A fresh RSA 2048 key.
pub fn rsa_key() -> PKey<Private> {
    KeyType::Rsa2048.generate().expect("RSA key")
}

/// Every test certificate: `CN=<cn>`, a random 64-bit serial, valid from now for 30 days.
fn builder(cn: &str) -> CertBuilder<'_> {
    CertBuilder::common_name(cn).random_serial().valid_days(30)
}

impl Identity {
    /// A server or client certificate for `cn` with SANs `localhost` and `127.0.0.1`,
    /// signed by `issuer` (self-signed when `None`).
    fn leaf(cn: &str, key: PKey<Private>, issuer: Option<&pgssl_pki::Identity>) -> Self {
        let b = builder(cn).key(key);
        let b = match issuer {
            Some(ca) => b.issuer(ca),
            None => b,
        };
        let id = b
            .subject_alt_names(&[San::Dns("localhost"), San::Ip("127.0.0.1")])
            .build()
            .expect("leaf certificate");
        Self(id)
    }

    /// A self-signed certificate for `cn` with `key`.
    pub fn self_signed(cn: &str, key: PKey<Private>) -> Self {
        Self::leaf(cn, key, None)
    }

    /// A self-signed P-256 CA (critical `CA:TRUE`, a subject key identifier).
    pub fn ca(cn: &str) -> Self {
        let id = builder(cn)
            .ca_constraints()
            .subject_key_id()
            .build()
            .expect("CA certificate");
        Self(id)
    }

    /// A P-256 certificate for `cn` signed by `issuer`.
    pub fn issued_by(cn: &str, issuer: &Identity) -> Self {
        Self::leaf(cn, ec_key(), Some(&issuer.0))
    }

    pub fn key_pem(&self) -> Vec<u8> {
        self.key.private_key_to_pem_pkcs8().expect("key PEM")
    }

    /// The key encrypted with `passphrase` (AES-256-CBC, PKCS#8) so that `wrong` is always
    /// refused at the padding check, with OpenSSL's `bad decrypt`
    /// ([`pgssl_pki::Identity::encrypted_key_pem_refusing`]).
    pub fn encrypted_key_pem(&self, passphrase: &str, wrong: &str) -> Vec<u8> {
        self.0
            .encrypted_key_pem_refusing(passphrase, wrong)
            .expect("encrypted key PEM")
    }

    pub fn cert_pem(&self) -> Vec<u8> {
        self.cert.to_pem().expect("certificate PEM")
    }
}

/// The first common name of `cert`'s subject ("" if none).
pub fn cn(cert: &X509) -> String {
    cert.subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .map(|e| String::from_utf8_lossy(e.data().as_slice()).into_owned())
        .unwrap_or_default()
}
