//! `certificate`: PEM or DER certificate material as a client or `ssl_ca_file` would
//! supply it, through `pgssl_server::identity`.
//!
//! For every certificate parsed: the common name is refused exactly when its raw bytes
//! contain a NUL (`SSL certificate's common name contains embedded null`), and the RFC 2253
//! subject and issuer DNs exactly when their printed bytes do (`... distinguished name
//! contains embedded null`), otherwise the text has no NUL; `PeerIdentity` succeeds exactly
//! when every field does; the serial prints as a decimal integer; the DER re-parses to the
//! same bytes. The first certificate is then verified, with the rest as untrusted
//! intermediates, against the fixed test CA (with and without its CRL): a chain that
//! verifies must lead to the CA, and a certificate the CRL lists must not verify when the
//! CRL is checked. Nothing may panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use openssl::x509::store::X509Store;
use openssl::x509::{X509, X509Ref};
use pgssl_fuzz::pki;
use pgssl_server::identity::{self, IdentityError, PeerIdentity, Revocation};

struct Fixed {
    ca: X509,
    store: X509Store,
    store_with_crl: X509Store,
    crl: openssl::x509::X509Crl,
}

fn fixed() -> &'static Fixed {
    static FIXED: OnceLock<Fixed> = OnceLock::new();
    FIXED.get_or_init(|| {
        let ca = pki::ca();
        let crl = pki::crl();
        Fixed {
            store: identity::ca_store(std::slice::from_ref(&ca), &[], false).expect("store"),
            store_with_crl: identity::ca_store(std::slice::from_ref(&ca), &[&crl], true)
                .expect("store"),
            ca,
            crl,
        }
    })
}

fn check_dn(bytes: Result<Vec<u8>, IdentityError>, text: Result<String, IdentityError>) {
    match (bytes, text) {
        (Ok(b), Ok(t)) => {
            assert!(!b.contains(&0) && !t.contains('\0'));
            assert_eq!(t, String::from_utf8_lossy(&b));
        }
        (Ok(b), Err(IdentityError::DistinguishedNameEmbeddedNull)) => assert!(b.contains(&0)),
        (Err(_), Err(_)) => {}
        (b, t) => panic!("DN bytes {b:?} but text {t:?}"),
    }
}

fn check(cert: &X509Ref) {
    let cn = identity::common_name(cert);
    match (&cn, identity::common_name_bytes(cert)) {
        (Ok(None), None) => {}
        (Ok(Some(text)), Some(raw)) => {
            assert!(!raw.contains(&0));
            assert_eq!(*text, String::from_utf8_lossy(&raw));
        }
        (Err(IdentityError::CommonNameEmbeddedNull), Some(raw)) => assert!(raw.contains(&0)),
        (cn, raw) => panic!("common name {cn:?} from raw {raw:?}"),
    }
    let subject = identity::subject_dn(cert);
    let subject_ok = subject.is_ok();
    check_dn(identity::name_rfc2253_bytes(cert.subject_name()), subject);
    check_dn(
        identity::name_rfc2253_bytes(cert.issuer_name()),
        identity::issuer_dn(cert),
    );
    let client_dn = identity::name_to_cstring(cert.subject_name());
    let issuer = identity::name_to_cstring(cert.issuer_name());
    let serial = identity::serial_decimal(cert);
    if let Ok(s) = &serial {
        let digits = s.strip_prefix('-').unwrap_or(s);
        assert!(
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
            "{s}"
        );
    }
    let _ = identity::san_dns_names(cert);
    let _ = identity::san_ip_addresses(cert);
    let all_ok = cn.is_ok() && subject_ok && client_dn.is_ok() && issuer.is_ok() && serial.is_ok();
    match PeerIdentity::from_certificate(cert) {
        Ok(id) => {
            assert!(all_ok);
            assert_eq!(id.common_name, cn.ok().flatten());
        }
        Err(_) => assert!(!all_ok),
    }
    // OpenSSL accepts some encodings leniently that its own encoder then writes in a form
    // it refuses to read back (an AlgorithmIdentifier with a stray end-of-contents, found in
    // CI): that is OpenSSL's behaviour, not pgssl's, so only a re-read must re-encode the same.
    if let Ok(der) = cert.to_der()
        && let Ok(again) = X509::from_der(&der)
    {
        assert_eq!(again.to_der().ok(), Some(der));
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(certs) = identity::parse_certificates(data) else {
        return;
    };
    for cert in &certs {
        check(cert);
    }
    let Some((leaf, intermediates)) = certs.split_first() else {
        return;
    };
    let f = fixed();
    if let Ok(Ok(())) = identity::verify_chain(&f.store, leaf, intermediates) {
        // A verified chain ends at the CA: the leaf or one of the intermediates must be
        // the CA or be named as issued by it.
        let ca_name = f.ca.subject_name();
        let issued_by_ca =
            |c: &X509| c.issuer_name().try_cmp(ca_name).ok() == Some(std::cmp::Ordering::Equal);
        assert!(issued_by_ca(leaf) || intermediates.iter().any(issued_by_ca));
    }
    if let Ok(Ok(())) = identity::verify_chain(&f.store_with_crl, leaf, intermediates) {
        assert!(
            !matches!(
                identity::revocation_status(&f.crl, leaf),
                Revocation::Revoked { .. }
            ),
            "a revoked certificate verified"
        );
    }
});
