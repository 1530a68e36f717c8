//! Real libpq clients against the binary: `psql` with each profile, over TLS and not, showing
//! what was negotiated through `pg_stat_ssl`.

use std::process::Command;

use pgssl_testkit::*;

/// Runs psql; without psql the test fails with the install hint (`None`, a skip, with
/// `PGSSL_ALLOW_MISSING=1`).
fn psql(conninfo: &str, query: &str) -> Option<(bool, String, String)> {
    let out = match Command::new("psql")
        .args([conninfo, "-X", "-A", "-t", "-c", query])
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            missing(&format!("psql is not installed ({e})"));
            return None;
        }
    };
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    ))
}

#[test]
fn psql_select_1_over_tls_13() {
    for profile in ["seed", "15", "18"] {
        let server = Server::start(&["ssl=on", &format!("pgssl.profile={profile}")]);
        let conninfo = format!(
            "host=127.0.0.1 port={} user=alice dbname=postgres sslmode=require",
            server.port
        );
        let Some((ok, out, err)) = psql(&conninfo, "select 1") else {
            return;
        };
        assert!(ok, "profile {profile}: {err}");
        assert_eq!(out, "1");
        let (ok, out, err) = psql(
            &conninfo,
            "select ssl, version from pg_stat_ssl where pid = pg_backend_pid()",
        )
        .unwrap();
        assert!(ok, "{err}");
        assert_eq!(out, "t|TLSv1.3", "profile {profile}");
    }
}

#[test]
fn psql_without_tls_and_over_the_unix_socket() {
    let server = Server::start(&["ssl=on"]);
    let tcp = format!(
        "host=127.0.0.1 port={} user=alice sslmode=disable",
        server.port
    );
    let Some((ok, out, err)) = psql(
        &tcp,
        "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
    ) else {
        return;
    };
    assert!(ok, "{err}");
    assert_eq!(out, "f");
    // sslmode=prefer over the Unix socket: the server answers N and psql goes on in plaintext.
    let unix = format!(
        "host={} port={} user=alice sslmode=prefer",
        server.socket_dir.display(),
        server.port
    );
    let (ok, out, err) = psql(
        &unix,
        "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
    )
    .unwrap();
    assert!(ok, "{err}");
    assert_eq!(out, "f");
    // sslmode=require against a server with SSL off fails in libpq.
    let off = Server::start(&["ssl=off"]);
    let conninfo = format!(
        "host=127.0.0.1 port={} user=alice sslmode=require",
        off.port
    );
    let (ok, _, err) = psql(&conninfo, "select 1").unwrap();
    assert!(!ok);
    assert!(err.contains("server does not support SSL"), "{err}");
}

#[test]
fn psql_show_and_version() {
    let server = Server::start(&["ssl=on", "pgssl.profile=18"]);
    let conninfo = format!(
        "host=127.0.0.1 port={} user=alice sslmode=require",
        server.port
    );
    let Some((ok, out, err)) = psql(&conninfo, "show ssl") else {
        return;
    };
    assert!(ok, "{err}");
    assert_eq!(out, "on");
    let (ok, out, _) = psql(&conninfo, "show pgssl.profile").unwrap();
    assert!(ok);
    assert_eq!(out, "18");
    let (ok, out, _) = psql(&conninfo, "select version()").unwrap();
    assert!(ok);
    assert!(out.starts_with("PostgreSQL 18.4"), "{out}");
}
