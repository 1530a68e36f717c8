//! Every direct call into libcrypto and libssl that the `openssl` crate does not wrap, with
//! the flags PostgreSQL passes, behind safe functions. Nothing else in the crate declares an
//! OpenSSL symbol or calls `openssl_sys`.
//!
//! The symbols declared here (`X509_NAME_print_ex`, `ASN1_STRING_print_ex`,
//! `X509_STORE_add_crl`, `OBJ_txt2nid`, `X509V3_EXT_print`) are part of OpenSSL's stable API
//! since 1.0 and are linked through `openssl-sys`; the rest come from `openssl-sys` itself.

use std::ffi::{CStr, c_char, c_int, c_ulong};
use std::marker::PhantomData;

use foreign_types::{ForeignType, ForeignTypeRef};
use openssl::asn1::Asn1StringRef;
use openssl::dh::Dh;
use openssl::error::ErrorStack;
use openssl::nid::Nid;
use openssl::pkey::Params;
use openssl::x509::store::X509StoreBuilderRef;
use openssl::x509::{X509CrlRef, X509NameRef, X509Ref};
use openssl_sys::{ASN1_STRING, BIO, X509_CRL, X509_EXTENSION, X509_NAME, X509_STORE};

// asn1.h
const ASN1_STRFLGS_ESC_2253: c_ulong = 1;
const ASN1_STRFLGS_ESC_CTRL: c_ulong = 2;
const ASN1_STRFLGS_ESC_MSB: c_ulong = 4;
const ASN1_STRFLGS_UTF8_CONVERT: c_ulong = 0x10;
const ASN1_STRFLGS_DUMP_UNKNOWN: c_ulong = 0x100;
const ASN1_STRFLGS_DUMP_DER: c_ulong = 0x200;
/// `ASN1_STRFLGS_RFC2253`.
const ASN1_STRFLGS_RFC2253: c_ulong = ASN1_STRFLGS_ESC_2253
    | ASN1_STRFLGS_ESC_CTRL
    | ASN1_STRFLGS_ESC_MSB
    | ASN1_STRFLGS_UTF8_CONVERT
    | ASN1_STRFLGS_DUMP_UNKNOWN
    | ASN1_STRFLGS_DUMP_DER;
/// What both `X509_NAME_to_cstring` (be-secure-openssl.c) and sslinfo's
/// `ASN1_STRING_to_text` pass to `ASN1_STRING_print_ex`:
/// `(ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) | ASN1_STRFLGS_UTF8_CONVERT`.
const TEXT_FLAGS: c_ulong =
    (ASN1_STRFLGS_RFC2253 & !ASN1_STRFLGS_ESC_MSB) | ASN1_STRFLGS_UTF8_CONVERT;

// x509.h
const XN_FLAG_SEP_COMMA_PLUS: c_ulong = 1 << 16;
const XN_FLAG_DN_REV: c_ulong = 1 << 20;
const XN_FLAG_FN_SN: c_ulong = 0;
const XN_FLAG_DUMP_UNKNOWN_FIELDS: c_ulong = 1 << 24;
/// `XN_FLAG_RFC2253`.
const XN_FLAG_RFC2253: c_ulong = ASN1_STRFLGS_RFC2253
    | XN_FLAG_SEP_COMMA_PLUS
    | XN_FLAG_DN_REV
    | XN_FLAG_FN_SN
    | XN_FLAG_DUMP_UNKNOWN_FIELDS;

// ssl.h
/// `OPENSSL_INIT_LOAD_CONFIG`.
const OPENSSL_INIT_LOAD_CONFIG: u64 = 0x0000_0040;

// dh.h
/// `DH_CHECK_P_NOT_PRIME`.
pub const DH_CHECK_P_NOT_PRIME: c_int = 0x01;
/// `DH_CHECK_P_NOT_SAFE_PRIME`.
pub const DH_CHECK_P_NOT_SAFE_PRIME: c_int = 0x02;
/// `DH_NOT_SUITABLE_GENERATOR`.
pub const DH_NOT_SUITABLE_GENERATOR: c_int = 0x08;

unsafe extern "C" {
    fn X509_NAME_print_ex(
        out: *mut BIO,
        nm: *const X509_NAME,
        indent: c_int,
        flags: c_ulong,
    ) -> c_int;
    fn ASN1_STRING_print_ex(out: *mut BIO, s: *const ASN1_STRING, flags: c_ulong) -> c_int;
    fn X509_STORE_add_crl(store: *mut X509_STORE, crl: *mut X509_CRL) -> c_int;
    fn OBJ_txt2nid(s: *const c_char) -> c_int;
    fn X509V3_EXT_print(
        out: *mut BIO,
        ext: *mut X509_EXTENSION,
        flag: c_ulong,
        indent: c_int,
    ) -> c_int;
}

/// An OpenSSL memory BIO, freed on drop.
struct MemBio(*mut BIO);

impl MemBio {
    fn new() -> Result<Self, ErrorStack> {
        // SAFETY: BIO_s_mem returns a static method table; BIO_new returns an owned BIO or
        // null (checked).
        let bio = unsafe { openssl_sys::BIO_new(openssl_sys::BIO_s_mem()) };
        if bio.is_null() {
            return Err(ErrorStack::get());
        }
        Ok(Self(bio))
    }

    /// Everything written so far.
    fn contents(&self) -> Vec<u8> {
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

/// `X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253)`: the bytes as OpenSSL writes them.
pub fn name_print_rfc2253(name: &X509NameRef) -> Result<Vec<u8>, ErrorStack> {
    let bio = MemBio::new()?;
    // SAFETY: both pointers are live for the call; the function only reads `name`.
    let written = unsafe { X509_NAME_print_ex(bio.0, name.as_ptr(), 0, XN_FLAG_RFC2253) };
    if written < 0 {
        return Err(ErrorStack::get());
    }
    Ok(bio.contents())
}

/// `ASN1_STRING_print_ex` with the flags PostgreSQL prints name values with (RFC 2253
/// escaping, non-ASCII kept as UTF-8).
pub fn string_print_text(s: &Asn1StringRef) -> Result<Vec<u8>, ErrorStack> {
    let bio = MemBio::new()?;
    // SAFETY: both pointers are live for the call; the function only reads the string.
    let written = unsafe { ASN1_STRING_print_ex(bio.0, s.as_ptr(), TEXT_FLAGS) };
    if written < 0 {
        return Err(ErrorStack::get());
    }
    Ok(bio.contents())
}

/// `X509_STORE_add_crl`: the store takes its own reference to `crl`.
pub fn store_add_crl(store: &mut X509StoreBuilderRef, crl: &X509CrlRef) -> Result<(), ErrorStack> {
    // SAFETY: X509_STORE_add_crl takes its own reference to the CRL; both pointers are live
    // for the call.
    let ok = unsafe { X509_STORE_add_crl(store.as_ptr(), crl.as_ptr()) };
    if ok != 1 {
        return Err(ErrorStack::get());
    }
    Ok(())
}

/// `OBJ_txt2nid`: a short name, long name or dotted OID; `None` if OpenSSL does not know it
/// (the failure it leaves on the thread's error queue is drained, so that the next TLS read
/// or write on this thread does not find it and fail the connection).
pub fn txt2nid(text: &CStr) -> Option<Nid> {
    // SAFETY: text is a valid NUL-terminated string for the call.
    let nid = unsafe { OBJ_txt2nid(text.as_ptr()) };
    if nid == 0 {
        drop(ErrorStack::get());
        return None;
    }
    Some(Nid::from_raw(nid))
}

/// `OBJ_sn2nid`: a short name only; `None` if OpenSSL does not know it.
pub fn sn2nid(short_name: &CStr) -> Option<Nid> {
    // SAFETY: OBJ_sn2nid reads a NUL-terminated string and returns 0 when unknown.
    let nid = unsafe { openssl_sys::OBJ_sn2nid(short_name.as_ptr()) };
    (nid != 0).then(|| Nid::from_raw(nid))
}

/// `OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, NULL)`: loads the configuration `OPENSSL_CONF`
/// names; later calls do nothing.
pub fn init_ssl_load_config() {
    // SAFETY: OPENSSL_init_ssl is thread-safe and may be called more than once.
    unsafe {
        openssl_sys::OPENSSL_init_ssl(OPENSSL_INIT_LOAD_CONFIG, std::ptr::null_mut());
    }
}

/// `DH_check`: `Ok` with the `DH_CHECK_*` / `DH_NOT_*` bits, or the error when the check
/// itself failed.
pub fn dh_check(dh: &Dh<Params>) -> Result<c_int, ErrorStack> {
    let mut codes: c_int = 0;
    // SAFETY: `dh` is a valid DH object for the duration of the call; `codes` is a local.
    let ok = unsafe { openssl_sys::DH_check(dh.as_ptr(), &mut codes) };
    if ok != 1 {
        return Err(ErrorStack::get());
    }
    Ok(codes)
}

/// One extension of a certificate, borrowed from it.
pub struct ExtensionRef<'a> {
    ext: *mut X509_EXTENSION,
    _cert: PhantomData<&'a X509Ref>,
}

impl ExtensionRef<'_> {
    /// The extension's type, `None` when OpenSSL does not know it.
    pub fn nid(&self) -> Option<Nid> {
        // SAFETY: ext is live while the certificate is borrowed; both calls only read it.
        let nid =
            unsafe { openssl_sys::OBJ_obj2nid(openssl_sys::X509_EXTENSION_get_object(self.ext)) };
        (nid != 0).then(|| Nid::from_raw(nid))
    }

    /// The critical flag.
    pub fn critical(&self) -> bool {
        // SAFETY: ext is live while the certificate is borrowed.
        unsafe { openssl_sys::X509_EXTENSION_get_critical(self.ext) != 0 }
    }

    /// `X509V3_EXT_print(bio, ext, 0, 0)`'s text; `Ok(None)` (error queue drained) when
    /// OpenSSL cannot print it.
    pub fn print(&self) -> Result<Option<Vec<u8>>, ErrorStack> {
        let bio = MemBio::new()?;
        // SAFETY: both pointers are live for the call; the extension is only read.
        if unsafe { X509V3_EXT_print(bio.0, self.ext, 0, 0) } <= 0 {
            drop(ErrorStack::get());
            return Ok(None);
        }
        Ok(Some(bio.contents()))
    }
}

/// The extensions of `cert` in certificate order (`None` where `X509_get_ext` returns null).
pub fn extensions(cert: &X509Ref) -> Vec<Option<ExtensionRef<'_>>> {
    let x = cert.as_ptr();
    // SAFETY: x is a live certificate for the borrow; the extension pointers it hands out
    // are borrowed from it and only read.
    let count = unsafe { openssl_sys::X509_get_ext_count(x) };
    (0..count.max(0))
        .map(|i| {
            // SAFETY: as above; i is within 0..count.
            let ext = unsafe { openssl_sys::X509_get_ext(x, i) };
            (!ext.is_null()).then_some(ExtensionRef {
                ext,
                _cert: PhantomData,
            })
        })
        .collect()
}
