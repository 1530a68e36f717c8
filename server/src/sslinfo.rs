//! What contrib `sslinfo` reads off the client certificate beyond what
//! [`crate::identity`] provides: one name field by name (`ssl_client_dn_field`,
//! `ssl_issuer_field`) and the extensions (`ssl_extension_info`), printed with the same
//! OpenSSL calls and flags as sslinfo.c, so the text matches PostgreSQL's.

use std::ffi::{CString, c_int, c_ulong};

use foreign_types::ForeignTypeRef;
use openssl::error::ErrorStack;
use openssl::x509::{X509NameRef, X509Ref};

use crate::identity::MemBio;

mod ffi {
    use std::ffi::{c_char, c_int, c_ulong};

    use openssl_sys::{ASN1_STRING, BIO, X509_EXTENSION};

    unsafe extern "C" {
        pub fn ASN1_STRING_print_ex(out: *mut BIO, s: *const ASN1_STRING, flags: c_ulong) -> c_int;
        pub fn OBJ_txt2nid(s: *const c_char) -> c_int;
        pub fn X509V3_EXT_print(
            out: *mut BIO,
            ext: *mut X509_EXTENSION,
            flag: c_ulong,
            indent: c_int,
        ) -> c_int;
    }
}

// asn1.h: what sslinfo's ASN1_STRING_to_text passes:
// `(ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) | ASN1_STRFLGS_UTF8_CONVERT`.
const ASN1_STRFLGS_ESC_2253: c_ulong = 1;
const ASN1_STRFLGS_ESC_CTRL: c_ulong = 2;
const ASN1_STRFLGS_UTF8_CONVERT: c_ulong = 0x10;
const ASN1_STRFLGS_DUMP_UNKNOWN: c_ulong = 0x100;
const ASN1_STRFLGS_DUMP_DER: c_ulong = 0x200;
const TEXT_FLAGS: c_ulong = ASN1_STRFLGS_ESC_2253
    | ASN1_STRFLGS_ESC_CTRL
    | ASN1_STRFLGS_UTF8_CONVERT
    | ASN1_STRFLGS_DUMP_UNKNOWN
    | ASN1_STRFLGS_DUMP_DER;

/// Why a field could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SslInfoError {
    /// `OBJ_txt2nid` does not know the name (ERRCODE_INVALID_PARAMETER_VALUE, 22023).
    #[error("invalid X.509 field name: \"{0}\"")]
    InvalidFieldName(String),
    /// An extension whose type OpenSSL does not know.
    #[error("unknown OpenSSL extension in certificate at position {0}")]
    UnknownExtension(usize),
    /// `X509V3_EXT_print` failed.
    #[error("could not print extension value in certificate at position {0}")]
    CannotPrintExtension(usize),
    /// OpenSSL failed.
    #[error("{0}")]
    OpenSsl(#[from] ErrorStack),
}

/// `X509_NAME_field_to_text`: the first entry of `name` whose type is `field` (a short
/// name, long name or dotted OID, as `OBJ_txt2nid` reads it), or `None` if there is none.
pub fn name_field(name: &X509NameRef, field: &str) -> Result<Option<String>, SslInfoError> {
    let invalid = || SslInfoError::InvalidFieldName(field.to_owned());
    let c = CString::new(field).map_err(|_| invalid())?;
    // SAFETY: c is a valid NUL-terminated string for the call.
    let nid = unsafe { ffi::OBJ_txt2nid(c.as_ptr()) };
    if nid == 0 {
        // OBJ_txt2nid leaves its failure on the thread's error queue, where the next TLS
        // read or write on this thread would find it and fail the connection: drain it.
        drop(ErrorStack::get());
        return Err(invalid());
    }
    let nid = openssl::nid::Nid::from_raw(nid);
    let Some(entry) = name.entries_by_nid(nid).next() else {
        return Ok(None);
    };
    let bio = MemBio::new()?;
    // SAFETY: both pointers are live for the call; the function only reads the string.
    let written = unsafe {
        ffi::ASN1_STRING_print_ex(bio.as_ptr(), entry.data().as_ptr() as *const _, TEXT_FLAGS)
    };
    if written < 0 {
        return Err(ErrorStack::get().into());
    }
    Ok(Some(String::from_utf8_lossy(&bio.contents()).into_owned()))
}

/// One row of `ssl_extension_info()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// The extension's short name (`basicConstraints`).
    pub name: String,
    /// `X509V3_EXT_print`'s text (`CA:FALSE`).
    pub value: String,
    /// The critical flag.
    pub critical: bool,
}

/// `ssl_extension_info()`: every extension of `cert`, in certificate order.
pub fn extensions(cert: &X509Ref) -> Result<Vec<Extension>, SslInfoError> {
    let x = cert.as_ptr();
    // SAFETY: x is a live certificate for the whole function; the extension pointers it
    // hands out are borrowed from it and only read.
    let count = unsafe { openssl_sys::X509_get_ext_count(x) };
    let mut out = Vec::new();
    for i in 0..count.max(0) {
        let position = i as usize;
        unsafe {
            let ext = openssl_sys::X509_get_ext(x, i as c_int);
            if ext.is_null() {
                return Err(SslInfoError::UnknownExtension(position));
            }
            let nid = openssl_sys::OBJ_obj2nid(openssl_sys::X509_EXTENSION_get_object(ext));
            if nid == 0 {
                return Err(SslInfoError::UnknownExtension(position));
            }
            let name = openssl::nid::Nid::from_raw(nid)
                .short_name()
                .map_err(|_| SslInfoError::UnknownExtension(position))?
                .to_owned();
            let bio = MemBio::new()?;
            if ffi::X509V3_EXT_print(bio.as_ptr(), ext, 0, 0) <= 0 {
                drop(ErrorStack::get());
                return Err(SslInfoError::CannotPrintExtension(position));
            }
            let value = String::from_utf8_lossy(&bio.contents()).into_owned();
            let critical = openssl_sys::X509_EXTENSION_get_critical(ext) != 0;
            out.push(Extension {
                name,
                value,
                critical,
            });
        }
    }
    Ok(out)
}
