//! The server's files at start (A3, A6, A7, A9, A10, A13) and postgresql.conf: each failure
//! refuses to start with PostgreSQL's message as the last log line(s).

use pgssl_testkit::*;

fn refused(data: &Data, settings: &[&str]) -> Vec<String> {
    Spawn::with(settings).start(data).refused()
}

const SSL15: &[&str] = &["ssl=on", "pgssl.profile=15"];

#[test]
fn a3_missing_and_garbage_certificate() {
    let data = Data::new();
    std::fs::remove_file(data.file("server.crt")).unwrap();
    assert_log_ends_with(
        &refused(&data, SSL15),
        &[
            "FATAL:  could not load server certificate file \"server.crt\": No such file or directory",
        ],
    );
    data.write("server.crt", b"garbage\n");
    assert_log_ends_with(
        &refused(&data, SSL15),
        &["FATAL:  could not load server certificate file \"server.crt\": no start line"],
    );
}

#[test]
fn a3_missing_garbage_and_mismatched_key() {
    let data = Data::new();
    std::fs::remove_file(data.file("server.key")).unwrap();
    assert_log_ends_with(
        &refused(&data, SSL15),
        &["FATAL:  could not access private key file \"server.key\": No such file or directory"],
    );
    data.write_mode("server.key", b"garbage\n", 0o600);
    let log = refused(&data, SSL15);
    let last = log.last().unwrap();
    assert!(
        last.starts_with("FATAL:  could not load private key file \"server.key\": "),
        "{last}"
    );
    let other = Identity::self_signed("other", ec_key());
    data.write_mode("server.key", &other.key_pem(), 0o600);
    assert_log_ends_with(
        &refused(&data, SSL15),
        &["FATAL:  could not load private key file \"server.key\": key values mismatch"],
    );
}

#[test]
fn a3_chain_after_the_leaf_is_sent_and_relative_and_absolute_names_work() {
    let ca = Identity::ca("Test CA");
    let leaf = Identity::issued_by("chained-leaf", &ca);
    let data = Data::empty();
    let mut chain = leaf.cert_pem();
    chain.extend(ca.cert_pem());
    data.write("certs-chain.crt", &chain);
    let key_dir = Data::empty();
    key_dir.write_mode("leaf.key", &leaf.key_pem(), 0o600);
    let key = format!("ssl_key_file={}", key_dir.file("leaf.key").display());
    let server = Spawn::with(&["ssl=on", "ssl_cert_file=certs-chain.crt", &key])
        .start(&data)
        .running();
    let tls = server.tls(|_| {}).expect("handshake");
    let chain = tls.ssl().peer_cert_chain().expect("chain");
    let names: Vec<_> = chain.iter().map(|c| cn(&c.to_owned())).collect();
    assert_eq!(names, ["chained-leaf", "Test CA"]);
}

#[test]
fn a6_ca_file_missing_and_ca_names_advertised() {
    let data = Data::new();
    assert_log_ends_with(
        &refused(&data, &["ssl=on", "ssl_ca_file=nonexistent.crt"]),
        &[
            "FATAL:  could not load root certificate file \"nonexistent.crt\": No such file or directory",
        ],
    );
    let ca = Identity::ca("Client CA one");
    data.write("root.crt", &ca.cert_pem());
    // 15: root.crt in the data directory means nothing without ssl_ca_file.
    let server = Spawn::with(SSL15).start(&data).running();
    let out = s_client(server.port, &[]);
    assert!(out.contains("No client certificate CA names sent"), "{out}");
    drop(server);
    // seed: root.crt is used implicitly.
    let server = Spawn::with(&["ssl=on"]).start(&data).running();
    let out = s_client(server.port, &[]);
    assert!(
        out.contains("Acceptable client certificate CA names"),
        "{out}"
    );
    assert!(out.contains("CN = Client CA one"), "{out}");
    drop(server);
    // The setting wins over the implicit file in the seed profile.
    let other = Identity::ca("Client CA two");
    data.write("other-ca.crt", &other.cert_pem());
    let server = Spawn::with(&["ssl=on", "ssl_ca_file=other-ca.crt"])
        .start(&data)
        .running();
    let out = s_client(server.port, &[]);
    assert!(out.contains("CN = Client CA two"), "{out}");
    assert!(!out.contains("CN = Client CA one"), "{out}");
}

#[test]
fn a6_presented_certificate_from_unknown_ca_fails_the_handshake() {
    let data = Data::new();
    let ca = Identity::ca("Trusted CA");
    data.write("root.crt", &ca.cert_pem());
    let server = Spawn::with(&["ssl=on"]).start(&data).running();
    let stranger_ca = Identity::ca("Stranger CA");
    let client = Identity::issued_by("alice", &stranger_ca);
    let err = server
        .tls(|b| {
            b.set_certificate(&client.cert).unwrap();
            b.set_private_key(&client.key).unwrap();
        })
        .and_then(|mut s| {
            // TLS 1.3: the server's alert arrives after the client's handshake is done.
            use std::io::Read;
            let mut b = [0u8; 1];
            s.read(&mut b).map_err(|e| e.to_string()).map(|_| s)
        })
        .expect_err("refused");
    assert!(err.contains("unknown ca"), "{err}");
    server.wait_for_log("could not accept SSL connection: certificate verify failed");
}

#[test]
fn a7_crl_file_and_directory_messages() {
    let data = Data::new();
    assert_log_ends_with(
        &refused(&data, &["ssl=on", "ssl_crl_file=nonexistent.crl"]),
        &[
            "FATAL:  could not load SSL certificate revocation list file \"nonexistent.crl\": No such file or directory",
        ],
    );
    assert_log_ends_with(
        &refused(
            &data,
            &[
                "ssl=on",
                "ssl_crl_file=nonexistent.crl",
                "ssl_crl_dir=nonexistentdir",
            ],
        ),
        &[
            "FATAL:  could not load SSL certificate revocation list file \"nonexistent.crl\" or directory \"nonexistentdir\": No such file or directory",
        ],
    );
    // The directory is read lazily: a missing one does not stop the server.
    Spawn::with(&["ssl=on", "ssl_crl_dir=nonexistentdir"])
        .start(&data)
        .running();
    // seed: the implicit root.crl is read only into a root.crt store that loaded, and one
    // that does not load is logged and skipped, as 8.4 did; neither stops the server.
    data.write("root.crl", b"garbage\n");
    Spawn::with(&["ssl=on"]).start(&data).running();
    data.write("root.crt", &Identity::ca("CRL test CA").cert_pem());
    let server = Spawn::with(&["ssl=on"]).start(&data).running();
    let line = server.wait_for_log("not found, skipping");
    assert!(
        line.contains("SSL certificate revocation list file \"root.crl\" not found, skipping: "),
        "{line}"
    );
    // An implicit root.crt that does not load is only logged too.
    data.write("root.crt", b"garbage\n");
    let server = Spawn::with(&["ssl=on"]).start(&data).running();
    let line = server.wait_for_log("could not load root certificate file");
    assert!(line.contains("\"root.crt\": "), "{line}");
    // 15 looks at neither.
    Spawn::with(SSL15).start(&data).running();
}

#[test]
fn a9_protocol_range() {
    let data = Data::new();
    assert_log_ends_with(
        &refused(
            &data,
            &[
                "ssl=on",
                "ssl_min_protocol_version=TLSv1.3",
                "ssl_max_protocol_version=TLSv1.2",
            ],
        ),
        &[
            "FATAL:  could not set SSL protocol version range",
            "DETAIL:  \"ssl_min_protocol_version\" cannot be higher than \"ssl_max_protocol_version\"",
        ],
    );
    data.conf("ssl = on\nssl_min_protocol_version = 'TLSv1.4'\n");
    let conf = data.file("postgresql.conf");
    assert_log_ends_with(
        &refused(&data, &[]),
        &[
            "LOG:  invalid value for parameter \"ssl_min_protocol_version\": \"TLSv1.4\"",
            "HINT:  Available values: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3.",
            &format!(
                "FATAL:  configuration file \"{}\" contains errors",
                conf.display()
            ),
        ],
    );
    // A client below the range: alert, and the HINT naming the range.
    data.conf("ssl = on\n");
    let server = Spawn::with(&[]).start(&data).running();
    let err = server
        .tls(|b| {
            b.set_min_proto_version(Some(openssl::ssl::SslVersion::TLS1))
                .unwrap();
            b.set_max_proto_version(Some(openssl::ssl::SslVersion::TLS1_1))
                .unwrap();
            b.set_cipher_list("DEFAULT:@SECLEVEL=0").unwrap();
        })
        .expect_err("refused");
    assert!(
        err.contains("alert protocol version") || err.contains("protocol"),
        "{err}"
    );
    server.wait_for_log("HINT:  This may indicate that the client does not support any SSL protocol version between TLSv1.2 and TLSv1.3.");
}

#[test]
fn a10_ciphers_groups_and_dh_messages() {
    let data = Data::new();
    assert_log_ends_with(
        &refused(&data, &["ssl=on", "ssl_ciphers=bogus"]),
        &["FATAL:  could not set the cipher list (no valid ciphers available)"],
    );
    assert_log_ends_with(
        &refused(&data, &["ssl=on", "ssl_ciphers=bogus", "pgssl.profile=18"]),
        &["FATAL:  could not set the TLSv1.2 cipher list (no valid ciphers available)"],
    );
    assert_log_ends_with(
        &refused(&data, &["ssl=on", "ssl_ecdh_curve=bogus"]),
        &["FATAL:  ECDH: unrecognized curve name: bogus"],
    );
    let log = refused(&data, &["ssl=on", "pgssl.profile=18", "ssl_groups=bogus"]);
    let n = log.len();
    assert!(
        log[n - 2].starts_with("FATAL:  could not set group names specified in ssl_groups: "),
        "{log:?}"
    );
    assert!(!log[n - 2].contains("no SSL error reported"), "{log:?}");
    assert_eq!(
        log[n - 1],
        "HINT:  Ensure that each group name is spelled correctly and supported by the installed version of OpenSSL."
    );
    assert_log_ends_with(
        &refused(
            &data,
            &["ssl=on", "pgssl.profile=18", "ssl_tls13_ciphers=bogus"],
        ),
        &["FATAL:  could not set the TLSv1.3 cipher suites (no valid ciphers available)"],
    );
    assert_log_ends_with(
        &refused(&data, &["ssl=on", "ssl_dh_params_file=nonexistent.pem"]),
        &[
            "FATAL:  could not open DH parameters file \"nonexistent.pem\": No such file or directory",
        ],
    );
    data.write("dh.pem", b"garbage\n");
    let log = refused(&data, &["ssl=on", "ssl_dh_params_file=dh.pem"]);
    assert!(
        log.last()
            .unwrap()
            .starts_with("FATAL:  could not load DH parameters file: "),
        "{log:?}"
    );
}

#[test]
fn a11_no_session_ticket_and_a13_ssl_library() {
    let data = Data::new();
    let server = Spawn::with(&["ssl=on"]).start(&data).running();
    let out = s_client(server.port, &["-tls1_2"]);
    assert!(out.contains("Protocol  : TLSv1.2"), "{out}");
    assert!(!out.contains("TLS session ticket:"), "{out}");
    assert!(out.contains("Compression: NONE"), "{out}");
    // TLS 1.3 tickets come after the handshake: keep the session open long enough to see
    // any (PostgreSQL 15 sends none either).
    let out = s_client_waiting(server.port, &["-tls1_3"]);
    assert!(out.contains("New, TLSv1.3, Cipher is"), "{out}");
    assert!(!out.contains("New Session Ticket"), "{out}");
    assert!(!out.contains("TLS session ticket:"), "{out}");
    let tls = server.tls(tls12).expect("handshake");
    assert!(!tls.ssl().session_reused());
    let out = psql_show(server.port, "ssl_library");
    if let Some(out) = out {
        assert_eq!(out.trim(), "OpenSSL");
    }
}

/// `SHOW name` through psql, if psql is installed.
fn psql_show(port: u16, name: &str) -> Option<String> {
    let out = std::process::Command::new("psql")
        .arg(format!(
            "host=127.0.0.1 port={port} user=alice dbname=postgres sslmode=require"
        ))
        .args(["-XAtc", &format!("SHOW {name}")])
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn config_file_names_and_ignored_settings() {
    let data = Data::new();
    data.conf("ssl = on\n# a comment\nbogus_setting = 1\n");
    let conf = data.file("postgresql.conf");
    assert_log_ends_with(
        &refused(&data, &[]),
        &[
            &format!(
                "LOG:  unrecognized configuration parameter \"bogus_setting\" in file \"{}\" line 3",
                conf.display()
            ),
            &format!(
                "FATAL:  configuration file \"{}\" contains errors",
                conf.display()
            ),
        ],
    );
    // 18's names are unknown to 15.
    data.conf("pgssl.profile = '15'\nssl_groups = 'X25519'\n");
    let log = refused(&data, &[]);
    assert!(
        log[0].contains("unrecognized configuration parameter \"ssl_groups\""),
        "{log:?}"
    );
    // Known but unused settings are listed once; the command line wins over the file.
    data.conf(
        "ssl = off\nshared_buffers = 1GB\nwork_mem = '4MB'\ninclude_if_exists 'extra.conf'\n",
    );
    let server = Spawn::with(&["ssl=on"]).start(&data).running();
    let ignored: Vec<_> = server
        .log()
        .into_iter()
        .filter(|l| l.contains("not used by pgssl"))
        .collect();
    assert_eq!(ignored.len(), 1, "{ignored:?}");
    assert!(
        ignored[0].ends_with("ignored: shared_buffers, work_mem"),
        "{ignored:?}"
    );
    assert_eq!(server.ssl_request().1, b'S');
}
