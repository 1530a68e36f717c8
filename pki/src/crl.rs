//! Certificate revocation lists: [`revocation_list`] makes the v2 CRLs of the hierarchy and
//! of the tests, signed by a CA from the factory.

use openssl::asn1::{Asn1IntegerRef, Asn1Object, Asn1OctetString, Asn1TimeRef};
use openssl::hash::MessageDigest;
use openssl::x509::{X509Crl, X509CrlBuilder, X509Extension, X509RevokedBuilder};

use crate::{Error, Identity, der};

/// A non-critical extension from its DER contents.
fn der_extension(oid: &str, der: &[u8]) -> Result<X509Extension, Error> {
    let oid = Asn1Object::from_str(oid)?;
    let contents = Asn1OctetString::new_from_bytes(der)?;
    Ok(X509Extension::new_from_der(&oid, false, &contents)?)
}

/// A v2 CRL issued by `ca` for `this_update`..`next_update`, revoking `serials` (each as of
/// `this_update`, entries sorted), with authorityKeyIdentifier (the CA's subject key
/// identifier, empty if it has none) and cRLNumber 1, signed with SHA-256.
pub fn revocation_list(
    ca: &Identity,
    serials: &[&Asn1IntegerRef],
    this_update: &Asn1TimeRef,
    next_update: &Asn1TimeRef,
) -> Result<X509Crl, Error> {
    let mut b = X509CrlBuilder::new()?;
    // authorityKeyIdentifier: SEQUENCE { [0] the CA's subject key identifier }.
    let keyid = ca
        .cert
        .subject_key_id()
        .map(|k| k.as_slice().to_vec())
        .unwrap_or_default();
    let aki = der::tlv(0x30, &der::tlv(0x80, &keyid));
    b.append_extension(der_extension("2.5.29.35", &aki)?)?;
    // cRLNumber 1.
    b.append_extension(der_extension("2.5.29.20", &[0x02, 0x01, 0x01])?)?;
    b.set_issuer_name(ca.cert.subject_name())?;
    b.set_last_update(this_update)?;
    b.set_next_update(next_update)?;
    for serial in serials {
        let mut r = X509RevokedBuilder::new()?;
        r.set_serial_number(serial)?;
        r.set_revocation_date(this_update)?;
        b.add_revoked(r.build())?;
    }
    b.sort()?;
    b.sign(&ca.key, MessageDigest::sha256())?;
    Ok(b.build()?)
}
