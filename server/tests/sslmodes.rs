//! Every libpq `sslmode` against `hostssl` and `hostnossl` rows (spec H1, Part D
//! 001_ssltests.pl group 3), with the real `psql` (libpq 15): libpq's retries (`allow` goes
//! on to SSL after a `no pg_hba.conf entry ... no encryption`, `prefer` falls back to plain
//! after `... SSL encryption`) only work if the server refuses with PostgreSQL's SQLSTATE
//! 28000 at the right moment.

use pgssl_testkit::*;

const HBA: &str = "\
hostssl   ssldb   all 127.0.0.1/32 trust
hostnossl plaindb all 127.0.0.1/32 trust
";

fn conn(server: &Running, mode: &str, db: &str) -> String {
    let root = server_root().display().to_string();
    // server-cn-only is issued to common-name.pg-ssltest.test.
    format!(
        "host=common-name.pg-ssltest.test hostaddr=127.0.0.1 port={} user=ssltestuser dbname={db} sslmode={mode} sslrootcert={root}",
        server.port
    )
}

const QUERY: &str = "select ssl from pg_stat_ssl where pid = pg_backend_pid()";

#[test]
fn every_sslmode_against_hostssl_and_hostnossl() {
    if !have_psql() {
        return;
    }
    for profile in ["seed", "15", "18"] {
        let data = ssl_data(HBA, "");
        let server = Spawn::with(&["ssl=on", &format!("pgssl.profile={profile}")])
            .start(&data)
            .running();
        // (sslmode, ssldb outcome, plaindb outcome): Some(ssl) on success, None on failure.
        let cases: [(&str, Option<&str>, Option<&str>); 6] = [
            ("disable", None, Some("f")),
            ("allow", Some("t"), Some("f")),
            ("prefer", Some("t"), Some("f")),
            ("require", Some("t"), None),
            ("verify-ca", Some("t"), None),
            ("verify-full", Some("t"), None),
        ];
        for (mode, ssldb, plaindb) in cases {
            for (db, expected) in [("ssldb", ssldb), ("plaindb", plaindb)] {
                let p = psql(&conn(&server, mode, db), &[QUERY]);
                match expected {
                    Some(ssl) => {
                        assert!(p.ok, "{profile} {mode} {db}: {p:?}");
                        assert_eq!(p.out, ssl, "{profile} {mode} {db}");
                    }
                    None => {
                        let enc = if mode == "disable" {
                            "no encryption"
                        } else {
                            "SSL encryption"
                        };
                        assert!(!p.ok, "{profile} {mode} {db}: {p:?}");
                        assert!(
                            p.err.contains(&format!(
                                "FATAL:  no pg_hba.conf entry for host \"127.0.0.1\", user \"ssltestuser\", database \"{db}\", {enc}"
                            )),
                            "{profile} {mode} {db}: {}",
                            p.err
                        );
                    }
                }
            }
        }
        // `allow` tried without SSL first: the refusal is in the log.
        server.wait_for_log(
            "FATAL:  no pg_hba.conf entry for host \"127.0.0.1\", user \"ssltestuser\", database \"ssldb\", no encryption",
        );
    }
}

#[test]
fn verify_modes_check_the_server_certificate() {
    if !have_psql() {
        return;
    }
    let data = ssl_data(HBA, "");
    let server = Spawn::with(&["ssl=on"]).start(&data).running();
    // The client CA does not sign the server certificate.
    let wrong_root = pki().path("client_ca.crt").display().to_string();
    let p = psql(
        &format!(
            "host=127.0.0.1 port={} user=u dbname=ssldb sslmode=verify-ca sslrootcert={wrong_root}",
            server.port
        ),
        &[QUERY],
    );
    assert!(!p.ok);
    assert!(p.err.contains("certificate verify failed"), "{}", p.err);
    // verify-full with a host name the certificate does not carry.
    let root = server_root().display().to_string();
    let p = psql(
        &format!(
            "host=wronghost.test hostaddr=127.0.0.1 port={} user=u dbname=ssldb sslmode=verify-full sslrootcert={root}",
            server.port
        ),
        &[QUERY],
    );
    assert!(!p.ok);
    assert!(
        p.err.contains(
            "server certificate for \"common-name.pg-ssltest.test\" does not match host name \"wronghost.test\""
        ),
        "{}",
        p.err
    );
}
