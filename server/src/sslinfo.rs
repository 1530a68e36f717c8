//! What contrib `sslinfo` reads off the client certificate beyond what
//! [`crate::identity`] provides: one name field by name (`ssl_client_dn_field`,
//! `ssl_issuer_field`) and the extensions (`ssl_extension_info`), printed with the same
//! OpenSSL calls and flags as sslinfo.c, so the text matches PostgreSQL's.

use std::ffi::CString;

use openssl::error::ErrorStack;
use openssl::x509::{X509NameRef, X509Ref};

use crate::openssl_ffi;

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
    let nid = openssl_ffi::txt2nid(&c).ok_or_else(invalid)?;
    let Some(entry) = name.entries_by_nid(nid).next() else {
        return Ok(None);
    };
    let text = openssl_ffi::string_print_text(entry.data())?;
    Ok(Some(String::from_utf8_lossy(&text).into_owned()))
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
    let mut out = Vec::new();
    for (position, ext) in openssl_ffi::extensions(cert).into_iter().enumerate() {
        let unknown = || SslInfoError::UnknownExtension(position);
        let ext = ext.ok_or_else(unknown)?;
        let name = ext
            .nid()
            .ok_or_else(unknown)?
            .short_name()
            .map_err(|_| unknown())?
            .to_owned();
        let value = ext
            .print()?
            .ok_or(SslInfoError::CannotPrintExtension(position))?;
        out.push(Extension {
            name,
            value: String::from_utf8_lossy(&value).into_owned(),
            critical: ext.critical(),
        });
    }
    Ok(out)
}
