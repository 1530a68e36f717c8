use openssl::bn::{BigNum, BigNumRef};
use openssl::hash::MessageDigest;
use openssl::sign::Signer;
use openssl::x509::{X509Name, X509NameBuilder};
use pgssl_pki::der::tlv as der;
use pgssl_pki::{CertBuilder, Identity, San};

use super::*;

fn name(entries: &[(Nid, &str)]) -> X509Name {
    let mut b = X509NameBuilder::new().unwrap();
    for (nid, value) in entries {
        b.append_entry_by_nid(*nid, value).unwrap();
    }
    b.build()
}

/// A self-signed P-256 CA (critical `CA:TRUE`, nothing else), serial 1, 30 days.
fn ca(cn: &str) -> Identity {
    CertBuilder::subject_name(name(&[(Nid::COMMONNAME, cn)]))
        .ca_constraints()
        .build()
        .expect("CA certificate")
}

/// A P-256 leaf signed by `ca`, valid for 30 days, with `san` (IP literals as addresses).
fn leaf(ca: &Identity, subject: &X509Name, serial: &BigNum, san: Option<&[&str]>) -> X509 {
    let sans: Vec<San<'_>> = san
        .unwrap_or_default()
        .iter()
        .map(|n| San::guess(n))
        .collect();
    let subject = X509Name::from_der(&subject.to_der().expect("subject DER")).expect("subject");
    CertBuilder::subject_name(subject)
        .serial_bn(BigNumRef::to_owned(serial).expect("copy the serial"))
        .issuer(ca)
        .subject_alt_names(&sans)
        .build()
        .expect("leaf certificate")
        .cert
}

fn alice(ca: &Identity) -> X509 {
    let subject = name(&[
        (Nid::COUNTRYNAME, "DE"),
        (Nid::ORGANIZATIONNAME, "Example, Inc."),
        (Nid::COMMONNAME, "alice"),
    ]);
    leaf(
        ca,
        &subject,
        &BigNum::from_dec_str("123456789012345678901234567890").unwrap(),
        Some(&["db.example.com", "127.0.0.1", "::1"]),
    )
}

// The openssl crate has no CRL builder that leaves out the extensions: DER by hand.
fn der_integer(bn: &BigNum) -> Vec<u8> {
    pgssl_pki::der::unsigned_integer(&bn.to_vec())
}

/// A v2 CRL signed with ECDSA-SHA256, revoking `serials` (reasonCode extension omitted).
fn crl(ca: &Identity, serials: &[&BigNum]) -> X509Crl {
    let alg = der(
        0x30,
        &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02],
    );
    let time = der(0x17, b"260101000000Z");
    let next = der(0x17, b"491231235959Z");
    let mut tbs = Vec::new();
    tbs.extend(der(0x02, &[1]));
    tbs.extend(&alg);
    tbs.extend(ca.cert.subject_name().to_der().unwrap());
    tbs.extend(&time);
    tbs.extend(&next);
    if !serials.is_empty() {
        let entries: Vec<u8> = serials
            .iter()
            .flat_map(|s| der(0x30, &[der_integer(s), time.clone()].concat()))
            .collect();
        tbs.extend(der(0x30, &entries));
    }
    let tbs = der(0x30, &tbs);
    let mut signer = Signer::new(MessageDigest::sha256(), &ca.key).unwrap();
    signer.update(&tbs).unwrap();
    let sig = signer.sign_to_vec().unwrap();
    let bits = der(0x03, &[&[0u8][..], &sig].concat());
    X509Crl::from_der(&der(0x30, &[tbs, alg, bits].concat())).unwrap()
}

#[test]
fn identity_fields() {
    let ca = ca("Test Root");
    let cert = alice(&ca);
    let id = PeerIdentity::from_certificate(&cert).unwrap();
    assert_eq!(id.common_name.as_deref(), Some("alice"));
    // RFC 2253: reversed order, the comma escaped.
    assert_eq!(id.subject_dn, "CN=alice,O=Example\\, Inc.,C=DE");
    assert_eq!(issuer_dn(&cert).unwrap(), "CN=Test Root");
    // pg_stat_ssl form: certificate order, slash-separated.
    assert_eq!(id.client_dn, "/C=DE/O=Example\\, Inc./CN=alice");
    assert_eq!(id.issuer_dn, "/CN=Test Root");
    assert_eq!(id.serial, "123456789012345678901234567890");
    assert_eq!(id.san_dns, ["db.example.com"]);
    assert_eq!(
        id.san_ip,
        [
            "127.0.0.1".parse::<IpAddr>().unwrap(),
            "::1".parse().unwrap()
        ]
    );
}

#[test]
fn missing_cn_and_sans() {
    let ca = ca("Root");
    let cert = leaf(
        &ca,
        &name(&[(Nid::ORGANIZATIONNAME, "NoCN")]),
        &BigNum::from_u32(7).unwrap(),
        None,
    );
    assert_eq!(common_name(&cert).unwrap(), None);
    assert_eq!(subject_dn(&cert).unwrap(), "O=NoCN");
    assert!(san_dns_names(&cert).is_empty() && san_ip_addresses(&cert).is_empty());
    assert_eq!(serial_decimal(&cert).unwrap(), "7");
}

#[test]
fn non_ascii_and_special_characters() {
    let ca = ca("Root");
    let subject = name(&[(Nid::COMMONNAME, "Jürgen+\"x\";<y>")]);
    let cert = leaf(&ca, &subject, &BigNum::from_u32(2).unwrap(), None);
    assert_eq!(
        common_name(&cert).unwrap().as_deref(),
        Some("Jürgen+\"x\";<y>")
    );
    assert_eq!(
        subject_dn(&cert).unwrap(),
        "CN=J\\C3\\BCrgen\\+\\\"x\\\"\\;\\<y\\>"
    );
    // X509_NAME_to_cstring keeps UTF-8 (no ESC_MSB).
    assert_eq!(
        name_to_cstring(cert.subject_name()).unwrap(),
        "/CN=Jürgen\\+\\\"x\\\"\\;\\<y\\>"
    );
}

#[test]
fn embedded_nul_in_common_name_is_rejected() {
    let ca = ca("Root");
    let subject = name(&[(Nid::COMMONNAME, "admin\0.evil.example")]);
    let cert = leaf(&ca, &subject, &BigNum::from_u32(3).unwrap(), None);
    assert_eq!(
        common_name_bytes(&cert).as_deref(),
        Some(&b"admin\0.evil.example"[..])
    );
    let err = common_name(&cert).unwrap_err();
    assert!(matches!(err, IdentityError::CommonNameEmbeddedNull));
    assert_eq!(
        err.to_string(),
        "SSL certificate's common name contains embedded null"
    );
    assert!(PeerIdentity::from_certificate(&cert).is_err());
    // The RFC 2253 printer escapes the NUL, so the DN itself is usable text.
    assert_eq!(subject_dn(&cert).unwrap(), "CN=admin\\00.evil.example");
}

#[test]
fn embedded_nul_in_printed_dn_is_rejected() {
    let err = dn_text(b"CN=a\0b".to_vec()).unwrap_err();
    assert!(matches!(err, IdentityError::DistinguishedNameEmbeddedNull));
    assert_eq!(
        err.to_string(),
        "SSL certificate's distinguished name contains embedded null"
    );
    assert_eq!(dn_text(b"CN=a".to_vec()).unwrap(), "CN=a");
}

#[test]
fn negative_serial_keeps_sign() {
    let ca = ca("Root");
    let mut serial = BigNum::from_u32(42).unwrap();
    serial.set_negative(true);
    let cert = leaf(&ca, &name(&[(Nid::COMMONNAME, "n")]), &serial, None);
    assert_eq!(serial_decimal(&cert).unwrap(), "-42");
}

#[test]
fn parse_pem_and_der() {
    let ca = ca("Root");
    let cert = alice(&ca);
    let pem = [cert.to_pem().unwrap(), ca.cert.to_pem().unwrap()].concat();
    let parsed = parse_certificates(&pem).unwrap();
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed[0].to_der().unwrap(), cert.to_der().unwrap());
    let der = parse_certificates(&cert.to_der().unwrap()).unwrap();
    assert_eq!(der.len(), 1);
    assert!(parse_certificates(b"not a certificate").is_err());
    assert!(
        parse_certificates(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
            .is_err()
    );
}

#[test]
fn chain_verification() {
    let root = ca("Root");
    let other = ca("Other Root");
    let cert = alice(&root);
    let store = ca_store(std::slice::from_ref(&root.cert), &[], false).unwrap();
    assert_eq!(verify_chain(&store, &cert, &[]).unwrap(), Ok(()));
    let stranger = alice(&other);
    let err = verify_chain(&store, &stranger, &[]).unwrap().unwrap_err();
    assert_eq!(err.reason, "unable to get local issuer certificate");
    assert_eq!(err.depth, 0);
    // Sending the other root as an "intermediate" does not make it trusted.
    let err = verify_chain(&store, &stranger, std::slice::from_ref(&other.cert))
        .unwrap()
        .unwrap_err();
    assert_eq!(err.reason, "self-signed certificate in certificate chain");
}

#[test]
fn crl_lookup_and_verification() {
    let root = ca("Root");
    let cert = alice(&root);
    let bystander = leaf(
        &root,
        &name(&[(Nid::COMMONNAME, "bob")]),
        &BigNum::from_u32(99).unwrap(),
        None,
    );
    let revoking = crl(&root, &[&cert.serial_number().to_bn().unwrap()]);
    assert!(revoking.verify(&root.key).unwrap());
    assert!(matches!(
        revocation_status(&revoking, &cert),
        Revocation::Revoked { at } if at == "Jan  1 00:00:00 2026 GMT"
    ));
    assert_eq!(
        revocation_status(&revoking, &bystander),
        Revocation::NotRevoked
    );
    // PEM and DER both parse.
    let pem = revoking.to_pem().unwrap();
    assert_eq!(
        parse_crl(&pem).unwrap().to_der().unwrap(),
        revoking.to_der().unwrap()
    );
    assert!(parse_crl(b"\x30\x03\x02\x01\x01").is_err());

    let store = ca_store(std::slice::from_ref(&root.cert), &[&revoking], true).unwrap();
    let err = verify_chain(&store, &cert, &[]).unwrap().unwrap_err();
    assert_eq!(err.reason, "certificate revoked");
    assert_eq!(verify_chain(&store, &bystander, &[]).unwrap(), Ok(()));

    // With CRL checking on, a CA without a CRL fails verification.
    let empty = crl(&root, &[]);
    let other = ca("Other");
    let store = ca_store(&[root.cert.clone(), other.cert.clone()], &[&empty], false).unwrap();
    assert_eq!(verify_chain(&store, &bystander, &[]).unwrap(), Ok(()));
    let err = verify_chain(&store, &alice(&other), &[])
        .unwrap()
        .unwrap_err();
    assert_eq!(err.reason, "unable to get certificate CRL");
}
