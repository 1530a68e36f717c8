//! TLS through the running binary: direct SSL and ALPN per profile (B-17, W11, W12), and how
//! handshake failures are logged (W5, A9).

use openssl::ssl::SslVersion;
use pgssl_testkit::*;

fn alpn(protocols: &[&'static str]) -> TlsOptions {
    TlsOptions {
        alpn: Some(protocols.to_vec()),
        ..TlsOptions::default()
    }
}

#[test]
fn direct_ssl_with_alpn_logs_in_inside_tls() {
    let server = Server::start(&["ssl=on", "pgssl.profile=18", "log_connections=on"]);
    for offer in [&["postgresql"][..], &["foo", "postgresql"]] {
        let mut tls = tls_connect(server.connect(), &alpn(offer)).expect("direct handshake");
        assert_eq!(tls.ssl().selected_alpn_protocol(), Some(&b"postgresql"[..]));
        send(&mut tls, &login());
        let msgs = read_messages(&mut tls);
        assert!(
            matches!(msgs.last(), Some(BackendMessage::ReadyForQuery(_))),
            "{msgs:?}"
        );
    }
    server.wait_for_log(
        "connection authorized: user=alice database=postgres SSL enabled (protocol=TLSv1.3",
    );
}

#[test]
fn direct_ssl_without_alpn_is_closed_after_the_handshake() {
    let server = Server::start(&[
        "ssl=on",
        "pgssl.profile=18",
        "trace_connection_negotiation=on",
    ]);
    let mut tls =
        tls_connect(server.connect(), &TlsOptions::default()).expect("handshake completes");
    // A clean close: close_notify, then EOF, and no ErrorResponse.
    let mut buf = [0u8; 16];
    let n = std::io::Read::read(&mut tls, &mut buf).unwrap_or(0);
    assert_eq!(n, 0);
    assert!(
        tls.get_shutdown()
            .contains(openssl::ssl::ShutdownState::RECEIVED),
        "close_notify received"
    );
    server.wait_for_log(
        "LOG:  received direct SSL connection request without ALPN protocol negotiation extension",
    );
    server.wait_for_log("LOG:  direct SSL connection rejected");
}

#[test]
fn wrong_alpn_is_a_fatal_alert_on_both_paths() {
    let server = Server::start(&["ssl=on", "pgssl.profile=18"]);
    let err = tls_connect(server.connect(), &alpn(&["http/1.1"])).expect_err("refused");
    assert!(err.to_string().contains("no application protocol"), "{err}");
    let mut s = server.connect();
    send(&mut s, &ssl_request());
    assert_eq!(read_byte(&mut s), b'S');
    let err = tls_connect(s, &alpn(&["foo"])).expect_err("refused");
    assert!(err.to_string().contains("no application protocol"), "{err}");
    server.wait_for_log("LOG:  could not accept SSL connection: no application protocol");
}

#[test]
fn alpn_on_the_ssl_request_path() {
    // 18 selects postgresql; 15 knows no ALPN and ignores the offer.
    for (profile, selected) in [("18", Some(&b"postgresql"[..])), ("15", None)] {
        let server = Server::start(&["ssl=on", &format!("pgssl.profile={profile}")]);
        let mut s = server.connect();
        send(&mut s, &ssl_request());
        assert_eq!(read_byte(&mut s), b'S');
        let mut tls = tls_connect(s, &alpn(&["foo", "postgresql"])).expect("handshake");
        assert_eq!(
            tls.ssl().selected_alpn_protocol(),
            selected,
            "profile {profile}"
        );
        send(&mut tls, &login());
        assert!(matches!(
            read_messages(&mut tls).last(),
            Some(BackendMessage::ReadyForQuery(_))
        ));
    }
    // No ALPN at all is fine on the SSLRequest path.
    let server = Server::start(&["ssl=on", "pgssl.profile=18"]);
    let mut s = server.connect();
    send(&mut s, &ssl_request());
    read_byte(&mut s);
    let mut tls = tls_connect(s, &TlsOptions::default()).expect("handshake");
    send(&mut tls, &login());
    assert!(matches!(
        read_messages(&mut tls).last(),
        Some(BackendMessage::ReadyForQuery(_))
    ));
}

#[test]
fn ssl_request_inside_direct_ssl_gets_encrypted_n() {
    let server = Server::start(&["ssl=on", "pgssl.profile=18"]);
    let mut tls = tls_connect(server.connect(), &alpn(&["postgresql"])).unwrap();
    send(&mut tls, &ssl_request());
    assert_eq!(read_byte(&mut tls), b'N');
    send(&mut tls, &ssl_request());
    let e = only_error(&read_messages(&mut tls));
    assert_eq!(
        e.message(),
        "unsupported frontend protocol 1234.5679: server supports 3.0 to 3.2"
    );
    // SSLRequest and StartupMessage in one TLS write: 18's false positive.
    let mut tls = tls_connect(server.connect(), &alpn(&["postgresql"])).unwrap();
    let mut both = ssl_request();
    both.extend_from_slice(&login());
    send(&mut tls, &both);
    assert_eq!(read_byte(&mut tls), b'N');
    let e = only_error(&read_messages(&mut tls));
    assert_eq!(
        (e.code(), e.message()),
        ("08P01", "received unencrypted data after SSL request")
    );
}

#[test]
fn direct_ssl_refused_without_ssl_and_by_15() {
    let server = Server::start(&["ssl=off", "pgssl.profile=18"]);
    let err = tls_connect(server.connect(), &alpn(&["postgresql"])).expect_err("closed");
    assert!(!err.to_string().is_empty());
    let server = Server::start(&["ssl=on", "pgssl.profile=15"]);
    assert!(tls_connect(server.connect(), &alpn(&["postgresql"])).is_err());
    server.wait_for_log("LOG:  invalid length of startup packet");
}

#[test]
fn handshake_failures_logged_with_the_protocol_hint() {
    let server = Server::start(&["ssl=on", "pgssl.profile=15"]);
    let mut s = server.connect();
    send(&mut s, &ssl_request());
    read_byte(&mut s);
    let old = TlsOptions {
        max: Some(SslVersion::TLS1_1),
        min: Some(SslVersion::TLS1),
        ..TlsOptions::default()
    };
    assert!(tls_connect(s, &old).is_err());
    server.wait_for_log("LOG:  could not accept SSL connection: unsupported protocol");
    server.wait_for_log("HINT:  This may indicate that the client does not support any SSL protocol version between TLSv1.2 and TLSv1.3.");
    // Plaintext where a ClientHello belongs.
    let mut s = server.connect();
    send(&mut s, &ssl_request());
    read_byte(&mut s);
    send(&mut s, &ssl_request());
    let _ = read_to_end(&mut s);
    server.wait_for_log("LOG:  could not accept SSL connection: wrong version number");
    // The client leaves mid-handshake.
    let mut s = server.connect();
    send(&mut s, &ssl_request());
    read_byte(&mut s);
    drop(s);
    server.wait_for_log("LOG:  could not accept SSL connection: EOF detected");
}

#[test]
fn tls_versions_negotiated() {
    let server = Server::start(&["ssl=on"]);
    for (version, name) in [
        (SslVersion::TLS1_2, "TLSv1.2"),
        (SslVersion::TLS1_3, "TLSv1.3"),
    ] {
        let mut s = server.connect();
        send(&mut s, &ssl_request());
        read_byte(&mut s);
        let opts = TlsOptions {
            min: Some(version),
            max: Some(version),
            ..TlsOptions::default()
        };
        let tls = tls_connect(s, &opts).expect("handshake");
        assert_eq!(tls.ssl().version_str(), name);
    }
}
