//! Client-certificate identity, as PostgreSQL's `be-secure-openssl.c` reads it: the common
//! name and distinguished name used by `cert` authentication and `clientname=CN|DN`, the
//! fields `pg_stat_ssl` shows (`client_dn`, `client_serial`, `issuer_dn`), subject
//! alternative names, chain verification against the CA store (`ssl_ca_file`), and
//! revocation lookup in a CRL (`ssl_crl_file`).
//!
//! Everything here is a pure function over OpenSSL objects; nothing touches a socket or a
//! file. Where OpenSSL's Rust bindings lack a function PostgreSQL calls
//! (`X509_NAME_print_ex`, `ASN1_STRING_print_ex`, `X509_STORE_add_crl`), it is declared
//! in [`ffi`] and called exactly as PostgreSQL calls it, so the text matches byte for byte.
//!
//! Embedded NULs (spec A13, the fix for CVE-2009-4034): PostgreSQL copies the common name
//! and the printed DN into C strings and refuses the connection when the string is shorter
//! than the data, logging `SSL certificate's common name contains embedded null` or
//! `SSL certificate's distinguished name contains embedded null`. [`common_name`] and
//! [`subject_dn`] return [`IdentityError::CommonNameEmbeddedNull`] and
//! [`IdentityError::DistinguishedNameEmbeddedNull`] for those cases.

use std::net::IpAddr;

use foreign_types::ForeignTypeRef;
use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::stack::Stack;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyFlags;
use openssl::x509::{CrlStatus, X509, X509Crl, X509CrlRef, X509NameRef, X509Ref, X509StoreContext};

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

/// Calls into libcrypto that the `openssl-sys` bindings do not declare. The symbols are
/// part of OpenSSL's stable API since 1.0 and are linked through `openssl-sys`.
mod ffi {
    use std::ffi::{c_int, c_ulong};

    use openssl_sys::{ASN1_STRING, BIO, X509_CRL, X509_NAME, X509_STORE};

    // asn1.h
    const ASN1_STRFLGS_ESC_2253: c_ulong = 1;
    const ASN1_STRFLGS_ESC_CTRL: c_ulong = 2;
    const ASN1_STRFLGS_ESC_MSB: c_ulong = 4;
    const ASN1_STRFLGS_UTF8_CONVERT: c_ulong = 0x10;
    const ASN1_STRFLGS_DUMP_UNKNOWN: c_ulong = 0x100;
    const ASN1_STRFLGS_DUMP_DER: c_ulong = 0x200;
    /// `ASN1_STRFLGS_RFC2253`.
    pub const ASN1_STRFLGS_RFC2253: c_ulong = ASN1_STRFLGS_ESC_2253
        | ASN1_STRFLGS_ESC_CTRL
        | ASN1_STRFLGS_ESC_MSB
        | ASN1_STRFLGS_UTF8_CONVERT
        | ASN1_STRFLGS_DUMP_UNKNOWN
        | ASN1_STRFLGS_DUMP_DER;
    /// What `X509_NAME_to_cstring` passes to `ASN1_STRING_print_ex`:
    /// `(ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) | ASN1_STRFLGS_UTF8_CONVERT`.
    pub const CSTRING_VALUE_FLAGS: c_ulong =
        (ASN1_STRFLGS_RFC2253 & !ASN1_STRFLGS_ESC_MSB) | ASN1_STRFLGS_UTF8_CONVERT;

    // x509.h
    const XN_FLAG_SEP_COMMA_PLUS: c_ulong = 1 << 16;
    const XN_FLAG_DN_REV: c_ulong = 1 << 20;
    const XN_FLAG_FN_SN: c_ulong = 0;
    const XN_FLAG_DUMP_UNKNOWN_FIELDS: c_ulong = 1 << 24;
    /// `XN_FLAG_RFC2253`.
    pub const XN_FLAG_RFC2253: c_ulong = ASN1_STRFLGS_RFC2253
        | XN_FLAG_SEP_COMMA_PLUS
        | XN_FLAG_DN_REV
        | XN_FLAG_FN_SN
        | XN_FLAG_DUMP_UNKNOWN_FIELDS;

    unsafe extern "C" {
        pub fn X509_NAME_print_ex(
            out: *mut BIO,
            nm: *const X509_NAME,
            indent: c_int,
            flags: c_ulong,
        ) -> c_int;
        pub fn ASN1_STRING_print_ex(out: *mut BIO, s: *const ASN1_STRING, flags: c_ulong) -> c_int;
        pub fn X509_STORE_add_crl(store: *mut X509_STORE, crl: *mut X509_CRL) -> c_int;
    }
}

/// An OpenSSL memory BIO, freed on drop (shared with `sslinfo`).
pub(crate) struct MemBio(*mut openssl_sys::BIO);

impl MemBio {
    pub(crate) fn new() -> Result<Self, ErrorStack> {
        // SAFETY: BIO_s_mem returns a static method table; BIO_new returns an owned BIO or
        // null (checked).
        let bio = unsafe { openssl_sys::BIO_new(openssl_sys::BIO_s_mem()) };
        if bio.is_null() {
            return Err(ErrorStack::get());
        }
        Ok(Self(bio))
    }

    pub(crate) fn as_ptr(&self) -> *mut openssl_sys::BIO {
        self.0
    }

    /// Everything written so far.
    pub(crate) fn contents(&self) -> Vec<u8> {
        let mut data = std::ptr::null_mut();
        // SAFETY: self.0 is a live memory BIO; the pointer it hands back stays valid until the
        // next write or free, and is copied out at once.
        unsafe {
            let len = openssl_sys::BIO_get_mem_data(self.0, &mut data);
            if data.is_null() || len <= 0 {
                return Vec::new();
            }
            std::slice::from_raw_parts(data as *const u8, len as usize).to_vec()
        }
    }
}

impl Drop for MemBio {
    fn drop(&mut self) {
        // SAFETY: the BIO is owned and freed once.
        unsafe { openssl_sys::BIO_free_all(self.0) }
    }
}

/// Prints `name` with `X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253)`: the bytes as
/// OpenSSL writes them, before any NUL check.
pub fn name_rfc2253_bytes(name: &X509NameRef) -> Result<Vec<u8>, IdentityError> {
    let bio = MemBio::new()?;
    // SAFETY: both pointers are live for the call; the function only reads `name`.
    let written =
        unsafe { ffi::X509_NAME_print_ex(bio.as_ptr(), name.as_ptr(), 0, ffi::XN_FLAG_RFC2253) };
    if written < 0 {
        return Err(ErrorStack::get().into());
    }
    Ok(bio.contents())
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
        let bio = MemBio::new()?;
        // SAFETY: both pointers are live for the call; the function only reads the string.
        let written = unsafe {
            ffi::ASN1_STRING_print_ex(
                bio.as_ptr(),
                entry.data().as_ptr() as *const _,
                ffi::CSTRING_VALUE_FLAGS,
            )
        };
        if written < 0 {
            return Err(ErrorStack::get().into());
        }
        out.extend_from_slice(&bio.contents());
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
        // SAFETY: X509_STORE_add_crl takes its own reference to the CRL; both pointers are
        // live for the call.
        let ok = unsafe { ffi::X509_STORE_add_crl(builder.as_ptr(), crl.as_ptr()) };
        if ok != 1 {
            return Err(ErrorStack::get());
        }
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
