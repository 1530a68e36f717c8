//! pg_hba.conf and pg_ident.conf in the running server (spec H1-H3, H5, A13, Part F §7):
//! loading at start and on SIGHUP with each profile's wording, the connection-time refusals
//! a client sees and the server logs, `password` with no stored passwords, and
//! `max_connections`.

use std::io::Write;

use pgssl_testkit::*;

fn data_with(hba: &str) -> Data {
    let data = Data::new();
    data.write("pg_hba.conf", hba.as_bytes());
    data
}

#[test]
fn a_missing_pg_hba_conf_refuses_to_start() {
    let data = Data::new();
    std::fs::remove_file(data.file("pg_hba.conf")).unwrap();
    let path = data.file("pg_hba.conf").display().to_string();
    for (profile, open, fatal) in [
        (
            "15",
            "could not open configuration file",
            "FATAL:  could not load pg_hba.conf".to_owned(),
        ),
        (
            "18",
            "could not open file",
            format!("FATAL:  could not load {path}"),
        ),
    ] {
        let log = Spawn::with(&[&format!("pgssl.profile={profile}")])
            .start(&data)
            .refused();
        assert_log_ends_with(
            &strip(&log),
            &[
                &format!("LOG:  {open} \"{path}\": No such file or directory"),
                &fatal,
            ],
        );
    }
}

#[test]
fn a_parse_error_refuses_to_start_with_the_line() {
    let data =
        data_with("host all all 127.0.0.1/32 trust\nhostssl all all all trust clientcert=1\n");
    let path = data.file("pg_hba.conf").display().to_string();
    let log = Spawn::with(&["ssl=on", "pgssl.profile=15"])
        .start(&data)
        .refused();
    assert_log_ends_with(
        &strip(&log),
        &[
            "LOG:  invalid value for clientcert: \"1\"",
            &format!("CONTEXT:  line 2 of configuration file \"{path}\""),
            "FATAL:  could not load pg_hba.conf",
        ],
    );
    let log = Spawn::with(&["ssl=on", "pgssl.profile=18"])
        .start(&data)
        .refused();
    assert_log_ends_with(
        &strip(&log),
        &[
            "LOG:  invalid value for clientcert: \"1\"",
            &format!("CONTEXT:  line 2 of configuration file \"{path}\""),
            &format!("FATAL:  could not load {path}"),
        ],
    );
}

#[test]
fn hostssl_with_ssl_off_is_only_a_warning_in_15_and_18() {
    let data = data_with("hostssl all all all trust\nhost all all all trust\n");
    let path = data.file("pg_hba.conf").display().to_string();
    for (profile, hint) in [
        ("15", "HINT:  Set ssl = on in postgresql.conf."),
        ("18", "HINT:  Set \"ssl = on\" in postgresql.conf."),
    ] {
        let server = Spawn::with(&["ssl=off", &format!("pgssl.profile={profile}")])
            .start(&data)
            .running();
        let log = server.log();
        let at = log
            .iter()
            .position(|l| l == "LOG:  hostssl record cannot match because SSL is disabled")
            .unwrap_or_else(|| panic!("{profile}: {log:#?}"));
        assert_eq!(log[at + 1], hint);
        assert_eq!(
            log[at + 2],
            format!("CONTEXT:  line 1 of configuration file \"{path}\"")
        );
    }
    // 8.4 refused the file.
    let log = Spawn::with(&["ssl=off", "pgssl.profile=seed"])
        .start(&data)
        .refused();
    assert!(
        strip(&log)
            .iter()
            .any(|l| l == "LOG:  hostssl requires SSL to be turned on"),
        "{log:#?}"
    );
}

#[test]
fn reject_no_entry_and_password_as_a_client_sees_them() {
    if !have_psql() {
        return;
    }
    let data = data_with(
        "host rejectdb all 127.0.0.1/32 reject\nhost passworddb all 127.0.0.1/32 password\nhostssl all all 127.0.0.1/32 trust\n",
    );
    let server = Spawn::with(&["ssl=on", "pgssl.profile=15"])
        .start(&data)
        .running();
    let port = server.port;
    let p = psql(
        &conninfo(port, "sslmode=disable dbname=rejectdb user=alice"),
        &["select 1"],
    );
    assert!(
        p.err.contains("FATAL:  pg_hba.conf rejects connection for host \"127.0.0.1\", user \"alice\", database \"rejectdb\", no encryption"),
        "{}",
        p.err
    );
    let p = psql(
        &conninfo(port, "sslmode=disable dbname=other user=alice"),
        &["select 1"],
    );
    assert!(
        p.err.contains("FATAL:  no pg_hba.conf entry for host \"127.0.0.1\", user \"alice\", database \"other\", no encryption"),
        "{}",
        p.err
    );
    // No password to give: libpq gives up and closes; nothing is logged for that.
    let p = psql(
        &conninfo(port, "sslmode=disable dbname=passworddb user=alice"),
        &["select 1"],
    );
    assert!(p.err.contains("no password supplied"), "{}", p.err);
    let p = psql(
        &conninfo(
            port,
            "sslmode=disable dbname=passworddb user=alice password=secret",
        ),
        &["select 1"],
    );
    assert!(
        p.err
            .contains("FATAL:  password authentication failed for user \"alice\""),
        "{}",
        p.err
    );
    let line = server.wait_for_log("FATAL:  password authentication failed");
    server.wait_for_log("Connection matched pg_hba.conf line 2");
    let log = server.log();
    let at = log.iter().position(|l| *l == line).unwrap();
    assert_eq!(
        log[at + 1],
        "DETAIL:  User \"alice\" has no password assigned."
    );
    assert_eq!(
        log[at + 2],
        "\tConnection matched pg_hba.conf line 2: \"host passworddb all 127.0.0.1/32 password\""
    );
    assert!(!log.iter().any(|l| l.contains("secret")), "{log:#?}");
}

#[test]
fn reload_applies_new_rules_and_keeps_old_ones_on_error() {
    if !have_psql() {
        return;
    }
    let data = data_with("host all all 127.0.0.1/32 trust\n");
    let server = Spawn::with(&["pgssl.profile=15"]).start(&data).running();
    let conn = conninfo(server.port, "sslmode=disable dbname=db user=alice");
    assert!(psql(&conn, &["select 1"]).ok);

    data.write(
        "pg_hba.conf",
        b"host all all 127.0.0.1/32 trust clientcert=verify-ca\n",
    );
    let log = server.reload();
    let path = data.file("pg_hba.conf").display().to_string();
    assert!(
        log.windows(3).any(|w| w[0]
            == "LOG:  clientcert can only be configured for \"hostssl\" rows"
            && w[1] == format!("CONTEXT:  line 1 of configuration file \"{path}\"")
            && w[2] == "LOG:  pg_hba.conf was not reloaded"),
        "{log:#?}"
    );
    assert!(psql(&conn, &["select 1"]).ok, "old rules still apply");

    data.write("pg_hba.conf", b"host all bob 127.0.0.1/32 trust\n");
    server.reload();
    let p = psql(&conn, &["select 1"]);
    assert!(
        p.err
            .contains("no pg_hba.conf entry for host \"127.0.0.1\", user \"alice\""),
        "{p:?}"
    );
}

#[test]
fn max_connections_refuses_the_extra_client() {
    if !have_psql() {
        return;
    }
    let data = Data::new();
    let server = Spawn::with(&["max_connections=1", "log_connections=on"])
        .start(&data)
        .running();
    // Hold the one slot with a raw session.
    let mut held = server.connect();
    let mut startup = Vec::new();
    let body = b"\x00\x03\x00\x00user\x00alice\x00\x00";
    startup.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    startup.extend_from_slice(body);
    held.write_all(&startup).unwrap();
    server.wait_for_log("connection received");
    std::thread::sleep(std::time::Duration::from_millis(200));
    let p = psql(
        &conninfo(server.port, "sslmode=disable dbname=db user=bob"),
        &["select 1"],
    );
    assert!(
        p.err.contains("FATAL:  sorry, too many clients already"),
        "{p:?}"
    );
    drop(held);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let p = psql(
        &conninfo(server.port, "sslmode=disable dbname=db user=bob"),
        &["select 1"],
    );
    assert!(p.ok, "the slot is free again: {p:?}");
}

#[test]
fn local_rows_apply_to_the_unix_socket() {
    if !have_psql() {
        return;
    }
    let data = data_with("local all alice trust\nhost all all 127.0.0.1/32 trust\n");
    let sockets = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(server_binary())
        .arg("-D")
        .arg(data.path())
        .args(["-p", "0", "-h", "127.0.0.1", "-c", "pgssl.profile=15", "-k"])
        .arg(sockets.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = capture(child.stderr.take().unwrap());
    let server = wait_started(child, log).running();
    let local = format!(
        "host={} port={} dbname=db",
        sockets.path().display(),
        server.port
    );
    let p = psql(
        &format!("{local} user=alice"),
        &["select ssl from pg_stat_ssl where pid = pg_backend_pid()"],
    );
    assert!(p.ok, "{p:?}");
    assert_eq!(p.out, "f");
    let p = psql(&format!("{local} user=bob"), &["select 1"]);
    assert!(
        p.err.contains(
            "FATAL:  no pg_hba.conf entry for host \"[local]\", user \"bob\", database \"db\", no encryption"
        ),
        "{p:?}"
    );
}

#[test]
fn seed_clientcert_1_needs_root_crt_when_pg_hba_conf_is_read() {
    let data = data_with("hostssl all all 127.0.0.1/32 trust clientcert=1\n");
    let path = data.file("pg_hba.conf").display().to_string();
    let log = Spawn::with(&["ssl=on", "pgssl.profile=seed"])
        .start(&data)
        .refused();
    assert_log_ends_with(
        &strip(&log),
        &[
            "LOG:  client certificates can only be checked if a root certificate store is available",
            "HINT:  Make sure the root.crt file is present and readable.",
            &format!("CONTEXT:  line 1 of configuration file \"{path}\""),
            "FATAL:  could not load pg_hba.conf",
        ],
    );
    // With root.crt in the data directory the same file loads.
    data.write("root.crt", &Identity::ca("Seed root").cert_pem());
    Spawn::with(&["ssl=on", "pgssl.profile=seed"])
        .start(&data)
        .running();
}
