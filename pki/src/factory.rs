//! The certificate factory: every test, bench, fuzz seed and harness certificate in the
//! workspace is made by [`CertBuilder`], self-signed or signed by a given CA (only
//! `pgssl-server init`, production code, keeps a generator of its own).
//!
//! ```
//! use pgssl_pki::{CertBuilder, KeyType, San};
//!
//! # fn main() -> Result<(), pgssl_pki::Error> {
//! // A self-signed P-256 server certificate for CN=localhost, valid from now for 30 days,
//! // serial 1 (the defaults), with SANs localhost and 127.0.0.1.
//! let server = CertBuilder::common_name("localhost")
//!     .subject_alt_names(&[San::Dns("localhost"), San::Ip("127.0.0.1")])
//!     .build()?;
//! // A CA, and a client certificate it signs.
//! let ca = CertBuilder::common_name("Test CA").ca_constraints().subject_key_id().build()?;
//! let client = CertBuilder::common_name("alice")
//!     .key_type(KeyType::Rsa2048)
//!     .random_serial()
//!     .issuer(&ca)
//!     .build()?;
//! assert_eq!(client.cert.issuer_name().to_der()?, ca.cert.subject_name().to_der()?);
//! # let _ = server;
//! # Ok(())
//! # }
//! ```
//!
//! Extensions are appended in the order their methods are called, so a caller that must
//! reproduce a certificate byte for byte (the fuzzers' fixed PKI) controls the encoding.

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Rsa;
use openssl::symm::Cipher;
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509Extension, X509Name, X509NameBuilder};

use crate::Error;

/// The type of a freshly generated key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// RSA, 2048 bits.
    Rsa2048,
    /// ECDSA on P-256 (prime256v1).
    P256,
    /// Ed25519 (certificates it signs carry no separate digest).
    Ed25519,
}

impl KeyType {
    /// A new private key of this type.
    pub fn generate(self) -> Result<PKey<Private>, Error> {
        Ok(match self {
            KeyType::Rsa2048 => PKey::from_rsa(Rsa::generate(2048)?)?,
            KeyType::P256 => {
                let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
                PKey::from_ec_key(EcKey::generate(&group)?)?
            }
            KeyType::Ed25519 => PKey::generate_ed25519()?,
        })
    }
}

/// One subjectAltName entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum San<'a> {
    /// A dNSName (taken as written, even if it looks like an address).
    Dns(&'a str),
    /// An iPAddress, IPv4 or IPv6 literal.
    Ip(&'a str),
    /// An rfc822Name.
    Email(&'a str),
}

impl<'a> San<'a> {
    /// An IP address if `name` parses as one, an email address if it has an `@`, else a DNS
    /// name.
    pub fn guess(name: &'a str) -> Self {
        if name.parse::<std::net::IpAddr>().is_ok() {
            San::Ip(name)
        } else if name.contains('@') {
            San::Email(name)
        } else {
            San::Dns(name)
        }
    }
}

/// A certificate and its private key.
#[derive(Clone)]
pub struct Identity {
    /// The certificate.
    pub cert: X509,
    /// Its private key.
    pub key: PKey<Private>,
}

impl Identity {
    /// The certificate as PEM.
    pub fn cert_pem(&self) -> Result<Vec<u8>, Error> {
        Ok(self.cert.to_pem()?)
    }

    /// The private key as unencrypted PKCS#8 PEM.
    pub fn key_pem(&self) -> Result<Vec<u8>, Error> {
        Ok(self.key.private_key_to_pem_pkcs8()?)
    }

    /// The private key as PKCS#8 PEM encrypted with `passphrase` (AES-256-CBC).
    pub fn encrypted_key_pem(&self, passphrase: &str) -> Result<Vec<u8>, Error> {
        Ok(self
            .key
            .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), passphrase.as_bytes())?)
    }

    /// As [`encrypted_key_pem`](Self::encrypted_key_pem), drawn again until `wrong` fails
    /// to decrypt it at the padding check (OpenSSL's `bad decrypt`).
    ///
    /// The salt and IV are random, so a wrong passphrase yields valid CBC padding about once
    /// in 256 encryptions; the key then fails later, with another reason (`wrong tag`,
    /// `unsupported`), and a test expecting PostgreSQL's `could not load private key file
    /// "…": bad decrypt` would fail by chance. Tests that give a wrong passphrase on purpose
    /// encrypt their keys with this.
    pub fn encrypted_key_pem_refusing(
        &self,
        passphrase: &str,
        wrong: &str,
    ) -> Result<Vec<u8>, Error> {
        encrypted_key_pem_refusing(&self.key, passphrase, wrong)
    }
}

/// How many encryptions [`encrypted_key_pem_refusing`] draws before it gives up: each one
/// fails the padding check with probability of about 255/256, so 32 never all pass by chance.
const REFUSING_ATTEMPTS: usize = 32;

/// `key` as PKCS#8 PEM encrypted with `passphrase` (AES-256-CBC), such that decrypting it
/// with `wrong` fails at the padding check (`bad decrypt`); see
/// [`Identity::encrypted_key_pem_refusing`]. An error when no such encryption turned up,
/// which means `wrong` is `passphrase`.
pub fn encrypted_key_pem_refusing(
    key: &PKey<Private>,
    passphrase: &str,
    wrong: &str,
) -> Result<Vec<u8>, Error> {
    for _ in 0..REFUSING_ATTEMPTS {
        let pem =
            key.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), passphrase.as_bytes())?;
        let refused = match PKey::private_key_from_pem_passphrase(&pem, wrong.as_bytes()) {
            Ok(_) => false,
            Err(stack) => stack
                .errors()
                .iter()
                .any(|e| e.reason() == Some("bad decrypt")),
        };
        if refused {
            return Ok(pem);
        }
    }
    Err(Error::PassphraseNotRefused {
        wrong: wrong.to_owned(),
    })
}

enum Subject {
    Text(Vec<(String, String)>),
    Name(X509Name),
}

enum Key {
    Generate(KeyType),
    Given(PKey<Private>),
}

enum Serial {
    Small(u32),
    Big(BigNum),
    Random,
}

enum Validity {
    /// From now for this many days.
    Days(u32),
    /// Between two ASN.1 times (`YYYYMMDDHHMMSSZ`).
    Between(String, String),
}

enum OwnedSan {
    Dns(String),
    Ip(String),
    Email(String),
}

enum Extension {
    BasicConstraints { ca: bool },
    CaKeyUsage { critical: bool },
    SubjectKeyId,
    ClientAuth,
    Sans(Vec<OwnedSan>),
    Raw(X509Extension),
}

/// Builds one X.509 v3 certificate.
///
/// Defaults: a fresh P-256 key, serial 1, valid from now for 30 days, self-signed with
/// SHA-256 (no digest for Ed25519 signers), no extensions.
pub struct CertBuilder<'a> {
    subject: Subject,
    key: Key,
    serial: Serial,
    validity: Validity,
    issuer: Option<&'a Identity>,
    extensions: Vec<Extension>,
}

impl<'a> CertBuilder<'a> {
    fn with_subject(subject: Subject) -> Self {
        Self {
            subject,
            key: Key::Generate(KeyType::P256),
            serial: Serial::Small(1),
            validity: Validity::Days(30),
            issuer: None,
            extensions: Vec::new(),
        }
    }

    /// A certificate whose subject is `CN=<cn>`.
    pub fn common_name(cn: &str) -> Self {
        Self::subject(&[("CN", cn)])
    }

    /// A certificate whose subject is these `(field, value)` attributes in order, fields as
    /// OpenSSL names them (`"CN"`, `"OU"`, `"O"`, `"C"`, or a dotted OID), values UTF-8.
    pub fn subject(rdns: &[(&str, &str)]) -> Self {
        let rdns = rdns
            .iter()
            .map(|(f, v)| ((*f).to_owned(), (*v).to_owned()))
            .collect();
        Self::with_subject(Subject::Text(rdns))
    }

    /// A certificate with this subject name, built by the caller (string types, empty names).
    pub fn subject_name(name: X509Name) -> Self {
        Self::with_subject(Subject::Name(name))
    }

    /// A fresh key of this type (the default is [`KeyType::P256`]).
    pub fn key_type(mut self, kind: KeyType) -> Self {
        self.key = Key::Generate(kind);
        self
    }

    /// This key instead of a fresh one.
    pub fn key(mut self, key: PKey<Private>) -> Self {
        self.key = Key::Given(key);
        self
    }

    /// Serial number `n` (the default is 1).
    pub fn serial(mut self, n: u32) -> Self {
        self.serial = Serial::Small(n);
        self
    }

    /// Any serial number, negative or longer than 64 bits included.
    pub fn serial_bn(mut self, n: BigNum) -> Self {
        self.serial = Serial::Big(n);
        self
    }

    /// A random 64-bit serial number.
    pub fn random_serial(mut self) -> Self {
        self.serial = Serial::Random;
        self
    }

    /// Valid from now for `days` days (the default is 30).
    pub fn valid_days(mut self, days: u32) -> Self {
        self.validity = Validity::Days(days);
        self
    }

    /// Valid between two ASN.1 times, e.g. `"20240101000000Z"`.
    pub fn valid_between(mut self, not_before: &str, not_after: &str) -> Self {
        self.validity = Validity::Between(not_before.to_owned(), not_after.to_owned());
        self
    }

    /// Signed by `issuer` (issuer name from its certificate, signature by its key) instead of
    /// self-signed.
    pub fn issuer(mut self, issuer: &'a Identity) -> Self {
        self.issuer = Some(issuer);
        self
    }

    /// basicConstraints, critical, `CA:TRUE`.
    pub fn ca_constraints(mut self) -> Self {
        self.extensions
            .push(Extension::BasicConstraints { ca: true });
        self
    }

    /// basicConstraints, critical, `CA:FALSE`.
    pub fn end_entity_constraints(mut self) -> Self {
        self.extensions
            .push(Extension::BasicConstraints { ca: false });
        self
    }

    /// keyUsage `keyCertSign, cRLSign`, critical or not.
    pub fn ca_key_usage(mut self, critical: bool) -> Self {
        self.extensions.push(Extension::CaKeyUsage { critical });
        self
    }

    /// subjectKeyIdentifier, the hash of the public key.
    pub fn subject_key_id(mut self) -> Self {
        self.extensions.push(Extension::SubjectKeyId);
        self
    }

    /// extendedKeyUsage `clientAuth`.
    pub fn client_auth(mut self) -> Self {
        self.extensions.push(Extension::ClientAuth);
        self
    }

    /// One subjectAltName extension with these entries, in order (none: no extension).
    pub fn subject_alt_names(mut self, names: &[San<'_>]) -> Self {
        if !names.is_empty() {
            let names = names
                .iter()
                .map(|n| match n {
                    San::Dns(d) => OwnedSan::Dns((*d).to_owned()),
                    San::Ip(i) => OwnedSan::Ip((*i).to_owned()),
                    San::Email(e) => OwnedSan::Email((*e).to_owned()),
                })
                .collect();
            self.extensions.push(Extension::Sans(names));
        }
        self
    }

    /// Any other extension, appended as given.
    pub fn extension(mut self, ext: X509Extension) -> Self {
        self.extensions.push(Extension::Raw(ext));
        self
    }

    /// Generates the key (unless given), builds and signs the certificate.
    pub fn build(self) -> Result<Identity, Error> {
        let key = match self.key {
            Key::Generate(kind) => kind.generate()?,
            Key::Given(key) => key,
        };
        let subject = match self.subject {
            Subject::Name(name) => name,
            Subject::Text(rdns) => {
                let mut b = X509NameBuilder::new()?;
                for (field, value) in &rdns {
                    b.append_entry_by_text(field, value)?;
                }
                b.build()
            }
        };
        let serial = match self.serial {
            Serial::Small(n) => BigNum::from_u32(n)?,
            Serial::Big(n) => n,
            Serial::Random => {
                let mut n = BigNum::new()?;
                n.rand(64, MsbOption::MAYBE_ZERO, false)?;
                n
            }
        };
        let (not_before, not_after) = match &self.validity {
            Validity::Days(days) => (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(*days)?),
            Validity::Between(nb, na) => (Asn1Time::from_str(nb)?, Asn1Time::from_str(na)?),
        };
        let mut b = X509Builder::new()?;
        b.set_version(2)?;
        b.set_serial_number(&*serial.to_asn1_integer()?)?;
        b.set_subject_name(&subject)?;
        b.set_issuer_name(self.issuer.map_or(&*subject, |ca| ca.cert.subject_name()))?;
        b.set_pubkey(&key)?;
        b.set_not_before(&not_before)?;
        b.set_not_after(&not_after)?;
        let issuer_cert = self.issuer.map(|ca| ca.cert.as_ref());
        for ext in self.extensions {
            let ext = match ext {
                Extension::BasicConstraints { ca: true } => {
                    BasicConstraints::new().critical().ca().build()?
                }
                Extension::BasicConstraints { ca: false } => {
                    BasicConstraints::new().critical().build()?
                }
                Extension::CaKeyUsage { critical } => {
                    let mut ku = KeyUsage::new();
                    if critical {
                        ku.critical();
                    }
                    ku.key_cert_sign().crl_sign().build()?
                }
                Extension::SubjectKeyId => {
                    SubjectKeyIdentifier::new().build(&b.x509v3_context(issuer_cert, None))?
                }
                Extension::ClientAuth => ExtendedKeyUsage::new().client_auth().build()?,
                Extension::Sans(names) => {
                    let mut san = SubjectAlternativeName::new();
                    for n in &names {
                        match n {
                            OwnedSan::Dns(d) => san.dns(d),
                            OwnedSan::Ip(i) => san.ip(i),
                            OwnedSan::Email(e) => san.email(e),
                        };
                    }
                    san.build(&b.x509v3_context(issuer_cert, None))?
                }
                Extension::Raw(ext) => ext,
            };
            b.append_extension(ext)?;
        }
        let signer = self.issuer.map_or(&key, |ca| &ca.key);
        b.sign(signer, digest_for(signer))?;
        Ok(Identity {
            cert: b.build(),
            key,
        })
    }
}

/// SHA-256, or none for the EdDSA keys (which hash internally).
fn digest_for(key: &PKey<Private>) -> MessageDigest {
    match key.id() {
        Id::ED25519 | Id::ED448 => MessageDigest::null(),
        _ => MessageDigest::sha256(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_issuer() {
        let ca = CertBuilder::common_name("CA")
            .ca_constraints()
            .build()
            .expect("ca");
        let leaf = CertBuilder::common_name("leaf")
            .key_type(KeyType::Ed25519)
            .serial(7)
            .issuer(&ca)
            .subject_alt_names(&[San::guess("127.0.0.1"), San::guess("localhost")])
            .build()
            .expect("leaf");
        assert!(leaf.cert.verify(&ca.key).expect("verify"));
        let serial = leaf.cert.serial_number().to_bn().expect("serial");
        assert_eq!(serial, BigNum::from_u32(7).expect("7"));
        assert_eq!(leaf.cert.subject_alt_names().map(|s| s.len()), Some(2));
        let ed = CertBuilder::common_name("ed")
            .key_type(KeyType::Ed25519)
            .build()
            .expect("self-signed ed25519");
        assert!(ed.cert.verify(&ed.key).expect("verify"));
    }

    #[test]
    fn a_refused_passphrase_always_fails_at_the_padding_check() {
        let id = CertBuilder::common_name("key")
            .build()
            .expect("certificate");
        // Plain encryption gives valid padding for a wrong passphrase about once in 256
        // draws; 600 draws would see about two.
        for _ in 0..600 {
            let pem = id
                .encrypted_key_pem_refusing("secret1", "wrong")
                .expect("encrypted");
            let refused = PKey::private_key_from_pem_passphrase(&pem, b"wrong")
                .expect_err("the wrong passphrase is refused");
            assert!(
                refused
                    .errors()
                    .iter()
                    .any(|e| e.reason() == Some("bad decrypt")),
                "{refused}"
            );
            PKey::private_key_from_pem_passphrase(&pem, b"secret1").expect("the right one works");
        }
        assert!(matches!(
            id.encrypted_key_pem_refusing("same", "same"),
            Err(Error::PassphraseNotRefused { .. })
        ));
    }
}
