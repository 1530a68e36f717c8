//! What a client can inspect of its connection (spec A13, Part D 003_sslinfo.pl and
//! 001_ssltests.pl's pg_stat_ssl checks), through the real `psql`: `pg_stat_ssl` and the
//! sslinfo functions, formatted as PostgreSQL 15 formats them (checked against a live 15.18
//! server with the same PKI: `/CN=...` names, decimal serials, `ssl_extension_info()` rows).

use std::process::Command;

use pgssl_testkit::*;

fn start() -> (Data, Running) {
    let data = ssl_data(SERVER_PM_HBA, SERVER_PM_IDENT);
    let settings = server_pm_settings("15");
    let settings: Vec<&str> = settings.iter().map(String::as_str).collect();
    let server = Spawn::with(&settings).start(&data).running();
    (data, server)
}

const CLIENT_CA_DN: &str = "/CN=Test CA for PostgreSQL SSL regression test client certs";

#[test]
fn pg_stat_ssl_with_and_without_a_client_certificate() {
    if !have_psql() {
        return;
    }
    let (_data, server) = start();
    let keys = ClientKeys::new();
    let serial = pgssl_pki::Pki::serial("client").expect("serial");
    let p = psql(
        &conninfo(
            server.port,
            &format!(
                "sslmode=require dbname=certdb user=ssltestuser {}",
                keys.cert_args("client")
            ),
        ),
        &[
            "select pid = pg_backend_pid(), ssl, version, cipher, bits, client_dn, client_serial, issuer_dn from pg_stat_ssl where pid = pg_backend_pid()",
            "SELECT * FROM pg_stat_ssl WHERE pid = pg_backend_pid();",
        ],
    );
    assert!(p.ok, "{p:?}");
    let lines: Vec<&str> = p.out.lines().collect();
    assert_eq!(
        lines[0],
        format!("t|t|TLSv1.3|TLS_AES_256_GCM_SHA384|256|/CN=ssltestuser|{serial}|{CLIENT_CA_DN}")
    );
    assert!(
        lines[1].ends_with(&format!(
            "|t|TLSv1.3|TLS_AES_256_GCM_SHA384|256|/CN=ssltestuser|{serial}|{CLIENT_CA_DN}"
        )),
        "{}",
        lines[1]
    );

    // 001_ssltests.pl: without a certificate the client columns are NULL.
    let p = psql(
        &conninfo(
            server.port,
            "sslmode=require dbname=trustdb user=ssltestuser",
        ),
        &[
            "select ssl, client_dn is null, client_serial is null, issuer_dn is null from pg_stat_ssl where pid = pg_backend_pid()",
        ],
    );
    assert!(p.ok, "{p:?}");
    assert_eq!(p.out, "t|t|t|t");

    // And without SSL, ssl is false and the rest NULL.
    let p = psql(
        &conninfo(server.port, "sslmode=disable dbname=anydb user=ssltestuser"),
        &[
            "select ssl, version is null, cipher is null, bits is null from pg_stat_ssl where pid = pg_backend_pid()",
        ],
    );
    assert!(p.ok, "{p:?}");
    assert_eq!(p.out, "f|t|t|t");
}

#[test]
fn sslinfo_functions_of_003_sslinfo() {
    if !have_psql() {
        return;
    }
    let (_data, server) = start();
    let keys = ClientKeys::new();
    let with_cert = conninfo(
        server.port,
        &format!(
            "sslmode=require dbname=certdb user=ssltestuser {}",
            keys.cert_args("client_ext")
        ),
    );
    let one = |conn: &str, q: &str| {
        let p = psql(conn, &[q]);
        assert!(p.ok, "{q}: {p:?}");
        p.out
    };
    assert_eq!(one(&with_cert, "SELECT ssl_is_used();"), "t");
    assert_eq!(one(&with_cert, "SELECT ssl_version();"), "TLSv1.3");
    assert_eq!(
        one(
            &with_cert,
            "SELECT ssl_cipher() = cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid();"
        ),
        "t"
    );
    assert_eq!(one(&with_cert, "SELECT ssl_client_cert_present();"), "t");
    assert_eq!(
        one(
            &with_cert,
            "SELECT ssl_client_serial() = client_serial FROM pg_stat_ssl WHERE pid = pg_backend_pid();"
        ),
        "t"
    );
    assert_eq!(
        one(
            &with_cert,
            "SELECT ssl_issuer_dn() = issuer_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid();"
        ),
        "t"
    );
    assert_eq!(
        one(
            &with_cert,
            "SELECT '/CN=' || ssl_client_dn_field('commonName') = client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid();"
        ),
        "t"
    );
    assert_eq!(
        one(
            &with_cert,
            "SELECT '/CN=' || ssl_issuer_field('commonName') = issuer_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid();"
        ),
        "t"
    );
    assert_eq!(
        one(&with_cert, "SELECT ssl_client_dn();"),
        "/CN=ssltestuser"
    );
    assert_eq!(one(&with_cert, "SELECT ssl_issuer_dn();"), CLIENT_CA_DN);
    assert_eq!(
        one(
            &with_cert,
            "SELECT ssl_client_dn_field('CN'), ssl_client_dn_field('O') IS NULL;"
        ),
        "ssltestuser|t"
    );
    assert_eq!(
        one(
            &with_cert,
            "SELECT value, critical FROM ssl_extension_info() WHERE name = 'basicConstraints';"
        ),
        "CA:FALSE|t"
    );
    assert_eq!(
        one(&with_cert, "SELECT * FROM ssl_extension_info();"),
        "basicConstraints|CA:FALSE|t\nextendedKeyUsage|TLS Web Client Authentication|f"
    );
    // An unknown field name is an error (psql exits 1 with ON_ERROR_STOP) and the session
    // goes on.
    let p = psql(&with_cert, &["SELECT ssl_client_dn_field('invalid');"]);
    assert!(!p.ok);
    assert!(
        p.err
            .contains("ERROR:  invalid X.509 field name: \"invalid\""),
        "{}",
        p.err
    );
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", "-w", &with_cert])
        .args([
            "-c",
            "\\set VERBOSITY verbose",
            "-c",
            "select ssl_client_dn_field('invalid')",
            "-c",
            "select 1",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ERROR:  22023: invalid X.509 field name"),
        "{err}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1");

    // Without a certificate.
    let no_cert = conninfo(
        server.port,
        "sslmode=require dbname=trustdb user=ssltestuser",
    );
    assert_eq!(
        one(
            &no_cert,
            "SELECT ssl_is_used(), ssl_client_cert_present(), ssl_client_serial() IS NULL, ssl_client_dn() IS NULL, ssl_client_dn_field('invalid') IS NULL;"
        ),
        "t|f|t|t|t"
    );
    assert_eq!(one(&no_cert, "SELECT * FROM ssl_extension_info();"), "");
    // Without SSL.
    let plain = conninfo(server.port, "sslmode=disable dbname=anydb user=ssltestuser");
    assert_eq!(
        one(
            &plain,
            "SELECT ssl_is_used(), ssl_version() IS NULL, ssl_cipher() IS NULL;"
        ),
        "f|t|t"
    );
}

#[test]
fn other_queries_are_refused_and_the_session_goes_on() {
    if !have_psql() {
        return;
    }
    let (_data, server) = start();
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", "-w"])
        .arg(conninfo(
            server.port,
            "sslmode=require dbname=trustdb user=ssltestuser",
        ))
        .args([
            "-c",
            "create table t (a int)",
            "-c",
            "select version()",
            "-c",
            "show ssl",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ERROR:  pgssl does not support this query"),
        "{err}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("PostgreSQL 15.18"), "{stdout}");
    assert_eq!(lines[1], "on");
}

/// The done-when: a data directory made by `init`, and psql with sslmode=require.
#[test]
fn done_when_init_then_pg_stat_ssl_over_require() {
    if !have_psql() {
        return;
    }
    let parent = Data::empty();
    let dir = parent.file("data");
    let out = Command::new(server_binary())
        .args(["init", "-D"])
        .arg(&dir)
        .args(["--profile", "15"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Spawn::default().start_at(&dir).running();
    let p = psql(
        &format!("host=127.0.0.1 port={} sslmode=require", server.port),
        &["select ssl, version, cipher from pg_stat_ssl where pid = pg_backend_pid()"],
    );
    assert!(p.ok, "{p:?}");
    let fields: Vec<&str> = p.out.split('|').collect();
    assert_eq!(fields[0], "t");
    assert!(fields[1].starts_with("TLSv1."), "{}", p.out);
    assert!(!fields[2].is_empty(), "{}", p.out);
}
