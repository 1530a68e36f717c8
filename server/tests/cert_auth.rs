//! Client-certificate authentication driven by the real `psql` (libpq 15), with PostgreSQL's
//! SSL test hierarchy and SSL/Server.pm's pg_hba.conf and pg_ident.conf (spec H3-H5, A6, A7,
//! Part D 001_ssltests.pl groups 15-18): the `cert` method, CN and DN mapping through
//! pg_ident, `clientcert=verify-full|verify-ca`, revoked and untrusted certificates.

use pgssl_testkit::*;

fn start(profile: &str) -> (Data, Running) {
    let data = ssl_data(SERVER_PM_HBA, SERVER_PM_IDENT);
    let settings = server_pm_settings(profile);
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    let server = Spawn::with(&settings).start(&data).running();
    (data, server)
}

fn connect(server: &Running, rest: &str) -> Psql {
    psql(
        &conninfo(server.port, &format!("sslmode=require {rest}")),
        &["select 1"],
    )
}

fn assert_fails(p: &Psql, fatal: &str) {
    assert!(!p.ok, "connected: {p:?}");
    assert!(
        p.err.contains(&format!("FATAL:  {fatal}")),
        "expected FATAL {fatal:?}, got {:?}",
        p.err
    );
}

#[test]
fn cert_method_authenticates_by_cn_and_logs_the_dn_as_identity() {
    if !have_psql() {
        return;
    }
    for profile in ["15", "18"] {
        let (data, server) = start(profile);
        let keys = ClientKeys::new();
        let p = connect(
            &server,
            &format!(
                "dbname=certdb user=ssltestuser {}",
                keys.cert_args("client")
            ),
        );
        assert!(p.ok, "{profile}: {p:?}");
        assert_eq!(p.out, "1");
        let hba = data.file("pg_hba.conf").display().to_string();
        server.wait_for_log(&format!(
            "LOG:  connection authenticated: identity=\"CN=ssltestuser\" method=cert ({hba}:5)"
        ));
        let authorized = server.wait_for_log("connection authorized: user=ssltestuser");
        assert!(
            authorized.starts_with(
                "LOG:  connection authorized: user=ssltestuser database=certdb application_name=psql SSL enabled (protocol=TLSv1.3, cipher="
            ),
            "{authorized}"
        );
    }
}

#[test]
fn cert_method_without_a_certificate_or_for_another_user_fails() {
    if !have_psql() {
        return;
    }
    let (_data, server) = start("15");
    let keys = ClientKeys::new();
    let p = connect(&server, "dbname=certdb user=ssltestuser");
    assert_fails(&p, "connection requires a valid client certificate");
    server.wait_for_log("FATAL:  connection requires a valid client certificate");

    let p = connect(
        &server,
        &format!(
            "dbname=certdb user=anotheruser {}",
            keys.cert_args("client")
        ),
    );
    assert_fails(
        &p,
        "certificate authentication failed for user \"anotheruser\"",
    );
    // The identity is logged before the mapping fails; the FATAL's DETAIL names the row.
    server.wait_for_log("identity=\"CN=ssltestuser\" method=cert");
    server.wait_for_log(
        "LOG:  provided user name (anotheruser) and authenticated user name (ssltestuser) do not match",
    );
    let log = server.log();
    let at = log
        .iter()
        .position(|l| l == "FATAL:  certificate authentication failed for user \"anotheruser\"")
        .expect("FATAL logged");
    assert_eq!(
        log[at + 1],
        "DETAIL:  Connection matched pg_hba.conf line 5: \"hostssl certdb       all            127.0.0.1/32 cert\""
    );
    // The client never sees the DETAIL.
    assert!(!p.err.contains("Connection matched"), "{}", p.err);
}

#[test]
fn dn_dnre_and_cn_maps() {
    if !have_psql() {
        return;
    }
    let (_data, server) = start("15");
    let keys = ClientKeys::new();
    let dn_cert = keys.cert_args("client-dn");
    for db in ["certdb_dn", "certdb_dn_re", "certdb_cn"] {
        let p = connect(&server, &format!("dbname={db} user=ssltestuser {dn_cert}"));
        assert!(p.ok, "{db}: {p:?}");
    }
    // The identity is the full DN even when the CN is what is mapped.
    let lines: Vec<_> = server
        .log()
        .into_iter()
        .filter(|l| l.contains("connection authenticated"))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    for l in &lines {
        assert!(
            l.contains(
                "identity=\"CN=ssltestuser-dn,OU=Testing,OU=Engineering,O=PGDG\" method=cert"
            ),
            "{l}"
        );
    }
    // A certificate whose DN the map does not list.
    let p = connect(
        &server,
        &format!(
            "dbname=certdb_dn user=ssltestuser {}",
            keys.cert_args("client")
        ),
    );
    assert_fails(
        &p,
        "certificate authentication failed for user \"ssltestuser\"",
    );
    server.wait_for_log(
        "LOG:  no match in usermap \"dn\" for user \"ssltestuser\" authenticated as \"CN=ssltestuser\"",
    );
}

#[test]
fn clientcert_verify_full_and_verify_ca_with_trust() {
    if !have_psql() {
        return;
    }
    let (_data, server) = start("15");
    let keys = ClientKeys::new();
    let cert = keys.cert_args("client");
    let p = connect(&server, &format!("dbname=verifydb user=ssltestuser {cert}"));
    assert!(p.ok, "{p:?}");
    let p = connect(&server, &format!("dbname=verifydb user=anotheruser {cert}"));
    assert_fails(
        &p,
        "\"trust\" authentication failed for user \"anotheruser\"",
    );
    server.wait_for_log(
        "LOG:  certificate validation (clientcert=verify-full) failed for user \"anotheruser\": CN mismatch",
    );
    // verify-ca only checks the chain.
    let p = connect(
        &server,
        &format!("dbname=verifydb user=yetanotheruser {cert}"),
    );
    assert!(p.ok, "{p:?}");
    let p = connect(&server, "dbname=verifydb user=yetanotheruser");
    assert_fails(&p, "connection requires a valid client certificate");
    // verify-full with trust sets no identity: nothing logged as authenticated in 15.
    assert!(
        !server
            .log()
            .iter()
            .any(|l| l.contains("connection authenticated")),
        "{:#?}",
        server.log()
    );
}

#[test]
fn eighteen_logs_trust_authentication_with_the_user() {
    if !have_psql() {
        return;
    }
    let (data, server) = start("18");
    let keys = ClientKeys::new();
    let p = connect(
        &server,
        &format!(
            "dbname=verifydb user=yetanotheruser {}",
            keys.cert_args("client")
        ),
    );
    assert!(p.ok, "{p:?}");
    let hba = data.file("pg_hba.conf").display().to_string();
    server.wait_for_log(&format!(
        "LOG:  connection authenticated: user=\"yetanotheruser\" method=trust ({hba}:4)"
    ));
}

#[test]
fn revoked_certificate_fails_the_handshake_via_ssl_crl_file() {
    if !have_psql() {
        return;
    }
    for profile in ["15", "18"] {
        let (_data, server) = start(profile);
        let keys = ClientKeys::new();
        // Whatever pg_hba says: trustdb needs no certificate at all.
        let p = connect(
            &server,
            &format!(
                "dbname=trustdb user=ssltestuser {}",
                keys.cert_args("client-revoked")
            ),
        );
        assert!(!p.ok, "{profile}: {p:?}");
        assert!(
            p.err.contains("certificate revoked"),
            "{profile}: {}",
            p.err
        );
        server.wait_for_log("could not accept SSL connection: certificate verify failed");
    }
}

#[test]
fn seed_profile_uses_root_crt_and_root_crl_for_clientcert_1() {
    if !have_psql() {
        return;
    }
    let hba = "\
hostssl certdb all 127.0.0.1/32 trust clientcert=1
hostssl all    all 127.0.0.1/32 trust
";
    let data = ssl_data(hba, "");
    // 8.4: root.crt and root.crl in the data directory, no settings.
    data.write(
        "root.crt",
        &std::fs::read(pki().path("root+client_ca.crt")).unwrap(),
    );
    data.write(
        "root.crl",
        &std::fs::read(pki().path("root+client.crl")).unwrap(),
    );
    let server = Spawn::with(&["ssl=on", "pgssl.profile=seed", "log_connections=on"])
        .start(&data)
        .running();
    let keys = ClientKeys::new();
    let p = connect(&server, "dbname=certdb user=ssltestuser");
    assert_fails(&p, "connection requires a valid client certificate");
    let p = connect(
        &server,
        &format!("dbname=certdb user=whoever {}", keys.cert_args("client")),
    );
    assert!(p.ok, "{p:?}");
    let p = connect(
        &server,
        &format!(
            "dbname=certdb user=ssltestuser {}",
            keys.cert_args("client-revoked")
        ),
    );
    assert!(!p.ok, "{p:?}");
    assert!(p.err.contains("certificate revoked"), "{}", p.err);
}

#[test]
fn certificate_from_an_unknown_ca_fails_the_handshake() {
    if !have_psql() {
        return;
    }
    let hba = "hostssl all all 127.0.0.1/32 trust\n";
    let data = ssl_data(hba, "");
    // The server trusts only the server CA: the client's chain is unknown to it.
    let server = Spawn::with(&["ssl=on", "pgssl.profile=15", "ssl_ca_file=server_ca.crt"])
        .start(&data)
        .running();
    let keys = ClientKeys::new();
    let p = connect(
        &server,
        &format!(
            "dbname=trustdb user=ssltestuser {}",
            keys.cert_args("client")
        ),
    );
    assert!(!p.ok, "{p:?}");
    assert!(p.err.contains("unknown ca"), "{}", p.err);
    server.wait_for_log("could not accept SSL connection: certificate verify failed");
}

#[test]
fn client_certificates_need_a_root_store() {
    if !have_psql() {
        return;
    }
    let data = ssl_data(SERVER_PM_HBA, SERVER_PM_IDENT);
    // root.crt in the data directory is not used by 15 (no ssl_ca_file).
    data.write(
        "root.crt",
        &std::fs::read(pki().path("root+client_ca.crt")).unwrap(),
    );
    let server = Spawn::with(&["ssl=on", "pgssl.profile=15"])
        .start(&data)
        .running();
    let keys = ClientKeys::new();
    for db in ["certdb", "verifydb"] {
        let p = connect(
            &server,
            &format!("dbname={db} user=ssltestuser {}", keys.cert_args("client")),
        );
        assert_fails(
            &p,
            "client certificates can only be checked if a root certificate store is available",
        );
    }
}

#[test]
fn encrypted_and_der_client_keys_work() {
    if !have_psql() {
        return;
    }
    let (_data, server) = start("15");
    let keys = ClientKeys::new();
    let crt = pki().path("client.crt").display().to_string();
    // client-encrypted-der.key is left out: pgssl-pki writes it as encrypted PKCS#8 DER,
    // which libpq cannot load ("unsupported"); PostgreSQL's own file is plain DER.
    for (key, extra) in [
        ("client-der.key", ""),
        ("client-encrypted-pem.key", "sslpassword=dUmmyP^#+"),
    ] {
        let p = connect(
            &server,
            &format!(
                "dbname=certdb user=ssltestuser sslcert={crt} sslkey={} {extra}",
                keys.key(key).display()
            ),
        );
        assert!(p.ok, "{key}: {p:?}");
    }
    // The passphrase never reaches the server, let alone its log.
    assert!(!server.log().iter().any(|l| l.contains("dUmmyP")));
}

#[test]
fn a13_common_name_with_an_embedded_nul_drops_the_connection() {
    if !have_psql() {
        return;
    }
    let ca = Identity::ca("NUL test CA");
    let client = Identity::issued_by("ssltestuser\0.evil.example", &ca);
    let data = ssl_data("hostssl all all 127.0.0.1/32 trust\n", "");
    data.write("nul_ca.crt", &ca.cert_pem());
    let server = Spawn::with(&["ssl=on", "pgssl.profile=15", "ssl_ca_file=nul_ca.crt"])
        .start(&data)
        .running();
    let dir = tempfile::tempdir().unwrap();
    let (crt, key) = (dir.path().join("c.crt"), dir.path().join("c.key"));
    std::fs::write(&crt, client.cert_pem()).unwrap();
    std::fs::write(&key, client.key_pem()).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let p = connect(
        &server,
        &format!(
            "dbname=x user=ssltestuser sslcert={} sslkey={}",
            crt.display(),
            key.display()
        ),
    );
    assert!(!p.ok, "{p:?}");
    server.wait_for_log("LOG:  SSL certificate's common name contains embedded null");
    assert!(
        !server
            .log()
            .iter()
            .any(|l| l.contains("connection authorized")),
        "{:#?}",
        server.log()
    );
}
