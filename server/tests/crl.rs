//! A6/A7 at handshake time: with a CA file, client certificates are requested and verified;
//! with a CRL (file, hashed directory, or the seed's implicit root.crl) a revoked client
//! certificate fails the handshake while a good one passes.

use std::io::Read;
use std::process::Command;

use openssl::asn1::Asn1Time;
use pgssl_testkit::*;

struct Pki {
    ca: Identity,
    good: Identity,
    revoked: Identity,
    crl: Vec<u8>,
}

fn pki() -> Pki {
    let ca = Identity::ca("Client CA");
    let good = Identity::issued_by("bob", &ca);
    let revoked = Identity::issued_by("alice", &ca);
    let (now, in_30_days) = (
        Asn1Time::days_from_now(0).expect("now"),
        Asn1Time::days_from_now(30).expect("in 30 days"),
    );
    let crl = pgssl_pki::revocation_list(&ca, &[revoked.cert.serial_number()], &now, &in_30_days)
        .expect("CRL")
        .to_pem()
        .expect("CRL PEM");
    Pki {
        ca,
        good,
        revoked,
        crl,
    }
}

/// A TLS handshake presenting `client`'s certificate, then one read (a TLS 1.3 server's
/// verdict on the client certificate arrives after the client's side of the handshake).
fn present(server: &Running, client: &Identity) -> Result<(), String> {
    let mut tls = server.tls(|b| {
        b.set_certificate(&client.cert).unwrap();
        b.set_private_key(&client.key).unwrap();
    })?;
    tls.get_ref()
        .set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .unwrap();
    let mut b = [0u8; 1];
    match tls.read(&mut b) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Ok(()),
        Err(e) => Err(e.to_string()),
        Ok(_) => Ok(()),
    }
}

fn assert_revoked(server: &Running, pki: &Pki) {
    present(server, &pki.good).expect("a good certificate passes");
    let err = present(server, &pki.revoked).expect_err("revoked");
    assert!(err.contains("certificate revoked"), "{err}");
    server.wait_for_log("could not accept SSL connection: certificate verify failed");
}

#[test]
fn crl_file_refuses_a_revoked_certificate() {
    let pki = pki();
    let data = Data::new();
    data.write("ca.crt", &pki.ca.cert_pem());
    data.write("ca.crl", &pki.crl);
    let server = Spawn::with(&[
        "ssl=on",
        "pgssl.profile=15",
        "ssl_ca_file=ca.crt",
        "ssl_crl_file=ca.crl",
    ])
    .start(&data)
    .running();
    assert_revoked(&server, &pki);
}

#[test]
fn crl_directory_is_read_lazily() {
    let pki = pki();
    let data = Data::new();
    data.write("ca.crt", &pki.ca.cert_pem());
    data.write("ca.crl", &pki.crl);
    let hash = Command::new("openssl")
        .args(["crl", "-hash", "-noout", "-in"])
        .arg(data.file("ca.crl"))
        .output()
        .expect("openssl crl -hash");
    let hash = String::from_utf8(hash.stdout).unwrap().trim().to_owned();
    // The directory is empty at start: OpenSSL looks into it only during verification.
    std::fs::create_dir(data.file("crls")).unwrap();
    let server = Spawn::with(&[
        "ssl=on",
        "pgssl.profile=18",
        "ssl_ca_file=ca.crt",
        "ssl_crl_dir=crls",
    ])
    .start(&data)
    .running();
    data.write(&format!("crls/{hash}.r0"), &pki.crl);
    assert_revoked(&server, &pki);
}

#[test]
fn seed_uses_root_crt_and_root_crl_implicitly() {
    let pki = pki();
    let data = Data::new();
    data.write("root.crt", &pki.ca.cert_pem());
    data.write("root.crl", &pki.crl);
    let server = Spawn::with(&["ssl=on"]).start(&data).running();
    assert_revoked(&server, &pki);
    drop(server);
    // 15 ignores both files: no certificate is requested, so nothing is checked.
    let server = Spawn::with(&["ssl=on", "pgssl.profile=15"])
        .start(&data)
        .running();
    present(&server, &pki.revoked).expect("not checked without ssl_ca_file");
}
