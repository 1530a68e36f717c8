//! Client-certificate identity, as PostgreSQL's `be-secure-openssl.c` reads it: the common
//! name and distinguished name used by `cert` authentication and `clientname=CN|DN`, the
//! fields `pg_stat_ssl` shows (`client_dn`, `client_serial`, `issuer_dn`), subject
//! alternative names, chain verification against the CA store (`ssl_ca_file`), and
//! revocation lookup in a CRL (`ssl_crl_file`).
//!
//! Everything here is a pure function over OpenSSL objects; nothing touches a socket or a
//! file. Where OpenSSL's Rust bindings lack a function PostgreSQL calls
//! (`X509_NAME_print_ex`, `ASN1_STRING_print_ex`, `X509_STORE_add_crl`), it is called
//! through [`crate::openssl_ffi`] exactly as PostgreSQL calls it, so the text matches byte for
//! byte.
//!
//! Embedded NULs (spec A13, the fix for CVE-2009-4034): PostgreSQL copies the common name
//! and the printed DN into C strings and refuses the connection when the string is shorter
//! than the data, logging `SSL certificate's common name contains embedded null` or
//! `SSL certificate's distinguished name contains embedded null`. [`common_name`] and
//! [`subject_dn`] return [`IdentityError::CommonNameEmbeddedNull`] and
//! [`IdentityError::DistinguishedNameEmbeddedNull`] for those cases.

use std::net::IpAddr;

use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::stack::Stack;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::{CrlStatus, X509, X509Crl, X509CrlRef, X509NameRef, X509Ref, X509StoreContext};

use crate::openssl_ffi;

/// Why an identity could not be read from a certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// The subject's common name has a NUL byte before its end (COMMERROR, 08P01).
    #[error("SSL certificate's common name contains embedded null")]
    CommonNameEmbeddedNull,
    /// The subject DN, printed in RFC 2253 form, has a NUL byte before its end.
    #[error("SSL certificate's distinguished name contains embedded null")]
    DistinguishedNameEmbeddedNull,
    /// A name entry whose type OpenSSL does not know (`X509_NAME_to_cstring`).
    #[error("could not get NID for ASN1_OBJECT object")]
    UnknownNameField,
    /// OpenSSL failed (allocation, printing, or a malformed field).
    #[error("{0}")]
    OpenSsl(#[from] ErrorStack),
}

/// Prints `name` with `X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253)`: the bytes as
/// OpenSSL writes them, before any NUL check.
pub fn name_rfc2253_bytes(name: &X509NameRef) -> Result<Vec<u8>, IdentityError> {
    Ok(openssl_ffi::name_print_rfc2253(name)?)
}

/// `name` in RFC 2253 form, as PostgreSQL prints the peer's DN for `clientname=DN` (e.g.
/// `CN=alice,O=Example,C=DE`: most specific first, special characters escaped, non-ASCII
/// as UTF-8). Fails with [`IdentityError::DistinguishedNameEmbeddedNull`] if the printed
/// form contains a NUL byte.
pub fn name_rfc2253(name: &X509NameRef) -> Result<String, IdentityError> {
    dn_text(name_rfc2253_bytes(name)?)
}

/// PostgreSQL's check on the printed DN: `strlen` must reach the end of the buffer. (With
/// `XN_FLAG_RFC2253` OpenSSL escapes control characters, so a NUL in a name prints as
/// `\00`; the check is kept for parity and for OpenSSL builds that behave otherwise.)
fn dn_text(bytes: Vec<u8>) -> Result<String, IdentityError> {
    if bytes.contains(&0) {
        return Err(IdentityError::DistinguishedNameEmbeddedNull);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The certificate subject's DN in RFC 2253 form (`port->peer_dn`).
pub fn subject_dn(cert: &X509Ref) -> Result<String, IdentityError> {
    name_rfc2253(cert.subject_name())
}

/// The certificate issuer's DN in RFC 2253 form.
pub fn issuer_dn(cert: &X509Ref) -> Result<String, IdentityError> {
    name_rfc2253(cert.issuer_name())
}

/// The subject's first common name as raw bytes (`X509_NAME_get_text_by_NID` copies the
/// string's data without conversion), or `None` when the subject has no CN.
pub fn common_name_bytes(cert: &X509Ref) -> Option<Vec<u8>> {
    cert.subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .map(|entry| entry.data().as_slice().to_vec())
}

/// The subject's common name (`port->peer_cn`), or `None` when the subject has none.
///
/// Like PostgreSQL, the raw string data is used (a BMPString's UCS-2 bytes contain NULs and
/// are therefore rejected); bytes that are not UTF-8 are replaced. A CN containing a NUL
/// byte fails with [`IdentityError::CommonNameEmbeddedNull`].
pub fn common_name(cert: &X509Ref) -> Result<Option<String>, IdentityError> {
    match common_name_bytes(cert) {
        None => Ok(None),
        Some(bytes) if bytes.contains(&0) => Err(IdentityError::CommonNameEmbeddedNull),
        Some(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
    }
}

/// `name` as PostgreSQL's `X509_NAME_to_cstring` prints it for `pg_stat_ssl.client_dn` and
/// `issuer_dn` (and `sslinfo`): `/SN=value` per entry in certificate order, values escaped
/// per RFC 2253 except that non-ASCII stays UTF-8. PostgreSQL then copies it into a
/// `NAMEDATALEN` buffer; truncation is left to the caller.
pub fn name_to_cstring(name: &X509NameRef) -> Result<String, IdentityError> {
    let mut out = Vec::new();
    for entry in name.entries() {
        let nid = entry.object().nid();
        if nid == Nid::UNDEF {
            return Err(IdentityError::UnknownNameField);
        }
        let field = nid.short_name().or_else(|_| nid.long_name())?;
        out.push(b'/');
        out.extend_from_slice(field.as_bytes());
        out.push(b'=');
        out.extend_from_slice(&openssl_ffi::string_print_text(entry.data())?);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The serial number in decimal, as `pg_stat_ssl.client_serial` shows it
/// (`ASN1_INTEGER_to_BN` then `BN_bn2dec`; negative serials keep their sign).
pub fn serial_decimal(cert: &X509Ref) -> Result<String, IdentityError> {
    let bn = cert.serial_number().to_bn()?;
    Ok(bn.to_dec_str()?.to_string())
}

/// The subject alternative names of type dNSName, in certificate order (names that are not
/// valid UTF-8 are skipped).
pub fn san_dns_names(cert: &X509Ref) -> Vec<String> {
    cert.subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.dnsname().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The subject alternative names of type iPAddress, in certificate order (entries that are
/// neither 4 nor 16 bytes long are skipped).
pub fn san_ip_addresses(cert: &X509Ref) -> Vec<IpAddr> {
    cert.subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.ipaddress())
                .filter_map(|raw| match raw.len() {
                    4 => <[u8; 4]>::try_from(raw).ok().map(IpAddr::from),
                    16 => <[u8; 16]>::try_from(raw).ok().map(IpAddr::from),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Everything the server records about a verified client certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    /// Subject CN (`None` if the subject has none).
    pub common_name: Option<String>,
    /// Subject DN, RFC 2253 form (`clientname=DN`).
    pub subject_dn: String,
    /// Subject as `pg_stat_ssl.client_dn` shows it (`/CN=...`).
    pub client_dn: String,
    /// Serial in decimal (`pg_stat_ssl.client_serial`).
    pub serial: String,
    /// Issuer as `pg_stat_ssl.issuer_dn` shows it (`/CN=...`).
    pub issuer_dn: String,
    /// dNSName SANs.
    pub san_dns: Vec<String>,
    /// iPAddress SANs.
    pub san_ip: Vec<IpAddr>,
}

impl PeerIdentity {
    /// Reads every field, failing as PostgreSQL fails on an embedded NUL in the CN or DN.
    pub fn from_certificate(cert: &X509Ref) -> Result<Self, IdentityError> {
        Ok(Self {
            common_name: common_name(cert)?,
            subject_dn: subject_dn(cert)?,
            client_dn: name_to_cstring(cert.subject_name())?,
            serial: serial_decimal(cert)?,
            issuer_dn: name_to_cstring(cert.issuer_name())?,
            san_dns: san_dns_names(cert),
            san_ip: san_ip_addresses(cert),
        })
    }
}

/// Parses certificates from PEM (every `CERTIFICATE` block, in order) or, when the input
/// holds no PEM block, from a single DER certificate. PostgreSQL reads `ssl_ca_file` as PEM
/// and receives client certificates as DER inside TLS.
pub fn parse_certificates(input: &[u8]) -> Result<Vec<X509>, ErrorStack> {
    if contains(input, b"-----BEGIN") {
        X509::stack_from_pem(input)
    } else {
        X509::from_der(input).map(|c| vec![c])
    }
}

/// Parses a CRL from PEM or, when the input holds no PEM block, DER.
pub fn parse_crl(input: &[u8]) -> Result<X509Crl, ErrorStack> {
    if contains(input, b"-----BEGIN") {
        X509Crl::from_pem(input)
    } else {
        X509Crl::from_der(input)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Builds the trust store from `ssl_ca_file`'s certificates and, if given, `ssl_crl_file`'s
/// CRLs. With CRLs, the leaf is checked against them (`X509_V_FLAG_CRL_CHECK`), and with
/// `check_whole_chain` every certificate in the chain is (`X509_V_FLAG_CRL_CHECK_ALL`), as
/// PostgreSQL sets both flags once a CRL is loaded.
pub fn ca_store(
    cas: &[X509],
    crls: &[&X509CrlRef],
    check_whole_chain: bool,
) -> Result<X509Store, ErrorStack> {
    let mut builder = X509StoreBuilder::new()?;
    for ca in cas {
        builder.add_cert(ca.clone())?;
    }
    for crl in crls {
        openssl_ffi::store_add_crl(&mut builder, crl)?;
    }
    if !crls.is_empty() {
        let mut flags = X509VerifyFlags::CRL_CHECK;
        if check_whole_chain {
            flags |= X509VerifyFlags::CRL_CHECK_ALL;
        }
        builder.set_flags(flags)?;
    }
    Ok(builder.build())
}

/// Why a certificate chain did not verify: OpenSSL's reason (as PostgreSQL puts it after
/// `certificate verify failed` in the client's error) and the depth it concerns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason} (depth {depth})")]
pub struct VerifyError {
    /// `X509_verify_cert_error_string`, e.g. `unable to get local issuer certificate`.
    pub reason: String,
    /// `X509_V_*` code.
    pub code: i32,
    /// Position in the chain, the leaf being 0.
    pub depth: u32,
}

/// Verifies `leaf` (with the untrusted intermediates the client sent) against `store`.
pub fn verify_chain(
    store: &X509Store,
    leaf: &X509Ref,
    intermediates: &[X509],
) -> Result<Result<(), VerifyError>, ErrorStack> {
    let mut chain = Stack::new()?;
    for cert in intermediates {
        chain.push(cert.clone())?;
    }
    let mut ctx = X509StoreContext::new()?;
    ctx.init(store, leaf, &chain, |ctx| {
        if ctx.verify_cert()? {
            Ok(Ok(()))
        } else {
            let error = ctx.error();
            Ok(Err(VerifyError {
                reason: error.error_string().to_owned(),
                code: error.as_raw(),
                depth: ctx.error_depth(),
            }))
        }
    })
}

/// A certificate's entry in a CRL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// Not listed (or the CRL is from another issuer).
    NotRevoked,
    /// Listed as revoked at the given time (OpenSSL's `Mon DD HH:MM:SS YYYY GMT`).
    Revoked {
        /// Revocation date.
        at: String,
    },
    /// Listed with reason `removeFromCRL` (a hold lifted by a delta CRL).
    RemoveFromCrl,
}

/// Looks `cert` up in `crl` by issuer name and serial (`X509_CRL_get0_by_cert`). The CRL's
/// signature is not checked here; [`verify_chain`] with a store from [`ca_store`] does that.
pub fn revocation_status(crl: &X509CrlRef, cert: &X509Ref) -> Revocation {
    let cert = cert.to_owned();
    match crl.get_by_cert(&cert) {
        CrlStatus::NotRevoked => Revocation::NotRevoked,
        CrlStatus::Revoked(entry) => Revocation::Revoked {
            at: entry.revocation_date().to_string(),
        },
        CrlStatus::RemoveFromCrl(_) => Revocation::RemoveFromCrl,
    }
}

#[cfg(test)]
mod tests;
