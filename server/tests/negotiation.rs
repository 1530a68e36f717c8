//! Wire-level negotiation against the running binary, over real sockets: the replies to
//! SSLRequest and GSSENCRequest, pipelined and split requests, repeated requests, length
//! limits, protocol versions, cancel requests and the startup timeout (W1–W11, A2).

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use pgssl_testkit::*;

#[test]
fn ssl_request_answered_s_with_ssl_on_and_n_with_it_off() {
    for (profile, ssl, reply) in [
        ("15", "on", b'S'),
        ("18", "on", b'S'),
        ("seed", "on", b'S'),
        ("15", "off", b'N'),
    ] {
        let server = Server::start(&[&format!("pgssl.profile={profile}"), &format!("ssl={ssl}")]);
        let mut s = server.connect();
        send(&mut s, &ssl_request());
        assert_eq!(read_byte(&mut s), reply, "profile {profile} ssl={ssl}");
    }
}

#[test]
fn gssenc_request_answered_n_then_login_works() {
    let server = Server::start(&["ssl=on"]);
    let mut s = server.connect();
    send(&mut s, &gssenc_request());
    assert_eq!(read_byte(&mut s), b'N');
    // Either order: GSS refused, then SSL accepted.
    send(&mut s, &ssl_request());
    assert_eq!(read_byte(&mut s), b'S');
    let mut tls = tls_connect(s, &TlsOptions::default()).expect("handshake");
    send(&mut tls, &login());
    let msgs = read_messages(&mut tls);
    assert!(
        matches!(msgs.last(), Some(BackendMessage::ReadyForQuery(_))),
        "{msgs:?}"
    );
}

#[test]
fn unix_socket_never_offers_ssl() {
    let server = Server::start(&["ssl=on", "pgssl.profile=18"]);
    let mut s = UnixStream::connect(server.unix_path()).unwrap();
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    send(&mut s, &ssl_request());
    assert_eq!(read_byte(&mut s), b'N');
    send(&mut s, &gssenc_request());
    assert_eq!(read_byte(&mut s), b'N');
    send(&mut s, &login());
    let msgs = read_messages(&mut s);
    assert!(
        matches!(msgs.last(), Some(BackendMessage::ReadyForQuery(_))),
        "{msgs:?}"
    );
}

#[test]
fn split_and_overlong_ssl_requests_still_get_s() {
    let server = Server::start(&["ssl=on"]);
    let mut s = server.connect();
    let req = ssl_request();
    send(&mut s, &req[..3]);
    std::thread::sleep(Duration::from_millis(50));
    send(&mut s, &req[3..]);
    assert_eq!(read_byte(&mut s), b'S');
    // W6: the SSLRequest's length is not checked.
    let mut s = server.connect();
    send(
        &mut s,
        &StartupPacket::SslRequest { extra: vec![0; 4] }.to_bytes(),
    );
    assert_eq!(read_byte(&mut s), b'S');
}

#[test]
fn pipelined_startup_refused_over_tls_on_15() {
    let server = Server::start(&["ssl=on", "pgssl.profile=15"]);
    let mut s = server.connect();
    let mut bytes = ssl_request();
    bytes.extend_from_slice(&login());
    send(&mut s, &bytes);
    assert_eq!(read_byte(&mut s), b'S');
    let mut tls = tls_connect(s, &TlsOptions::default()).expect("handshake completes first");
    let e = only_error(&read_messages(&mut tls));
    assert_eq!(
        (e.code(), e.message()),
        ("08P01", "received unencrypted data after SSL request")
    );
    assert_eq!(
        e.detail(),
        Some(
            "This could be either a client-software bug or evidence of an attempted man-in-the-middle attack."
        )
    );
    server.wait_for_log("FATAL:  received unencrypted data after SSL request");
}

#[test]
fn pipelined_startup_breaks_the_handshake_on_18() {
    let server = Server::start(&["ssl=on", "pgssl.profile=18"]);
    let mut s = server.connect();
    let mut bytes = ssl_request();
    bytes.extend_from_slice(&login());
    send(&mut s, &bytes);
    assert_eq!(read_byte(&mut s), b'S');
    // The server fed the StartupMessage to TLS as if it were a record: no ErrorResponse.
    assert_eq!(read_to_end(&mut s), b"");
    server.wait_for_log("LOG:  could not accept SSL connection: wrong version number");
    server.wait_for_log(
        "HINT:  This may indicate that the client does not support any SSL protocol version between TLSv1.2 and TLSv1.3.",
    );
    server.wait_for_log("LOG:  buffered unencrypted data remains after negotiating SSL connection");
}

#[test]
fn pipelined_startup_after_n_refused_in_plaintext() {
    for profile in ["15", "18"] {
        let server = Server::start(&["ssl=off", &format!("pgssl.profile={profile}")]);
        let mut s = server.connect();
        let mut bytes = ssl_request();
        bytes.extend_from_slice(&login());
        send(&mut s, &bytes);
        assert_eq!(read_byte(&mut s), b'N');
        let e = only_error(&read_messages(&mut s));
        assert_eq!(e.message(), "received unencrypted data after SSL request");
        assert_eq!(read_to_end(&mut s), b"");
        let mut s = server.connect();
        let mut bytes = gssenc_request();
        bytes.extend_from_slice(&login());
        send(&mut s, &bytes);
        assert_eq!(read_byte(&mut s), b'N');
        let e = only_error(&read_messages(&mut s));
        assert_eq!(
            e.message(),
            "received unencrypted data after GSSAPI encryption request"
        );
    }
}

#[test]
fn repeated_requests() {
    for (profile, latest) in [("15", "3.0"), ("18", "3.2")] {
        let server = Server::start(&["ssl=on", &format!("pgssl.profile={profile}")]);
        // A second SSLRequest inside TLS: an encrypted 0A000.
        let mut s = server.connect();
        send(&mut s, &ssl_request());
        assert_eq!(read_byte(&mut s), b'S');
        let mut tls = tls_connect(s, &TlsOptions::default()).unwrap();
        send(&mut tls, &ssl_request());
        let e = only_error(&read_messages(&mut tls));
        assert_eq!(e.code(), "0A000");
        assert_eq!(
            e.message(),
            format!("unsupported frontend protocol 1234.5679: server supports 3.0 to {latest}")
        );
        // GSSENCRequest inside TLS.
        let mut s = server.connect();
        send(&mut s, &ssl_request());
        read_byte(&mut s);
        let mut tls = tls_connect(s, &TlsOptions::default()).unwrap();
        send(&mut tls, &gssenc_request());
        let e = only_error(&read_messages(&mut tls));
        assert_eq!(
            e.message(),
            format!("unsupported frontend protocol 1234.5680: server supports 3.0 to {latest}")
        );
    }
    // A second SSLRequest after `N`, in plaintext.
    let server = Server::start(&["ssl=off"]);
    let mut s = server.connect();
    send(&mut s, &ssl_request());
    assert_eq!(read_byte(&mut s), b'N');
    send(&mut s, &ssl_request());
    let e = only_error(&read_messages(&mut s));
    assert_eq!(
        e.message(),
        "unsupported frontend protocol 1234.5679: server supports 3.0 to 3.0"
    );
}

#[test]
fn length_limits() {
    let server = Server::start(&["ssl=on"]);
    for len in [7u32, 10_005] {
        let mut s = server.connect();
        let mut bytes = len.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0; 8]);
        send(&mut s, &bytes);
        assert_eq!(read_to_end(&mut s), b"", "length {len}: no bytes sent back");
    }
    let lines = server.wait_for_count("invalid length of startup packet", 2);
    assert_eq!(lines.len(), 2, "{lines:?}");
    // 10004 in total is the largest accepted packet.
    let filler = "x".repeat(10_004 - 8 - "user\0alice\0application_name\0\0\0".len());
    let packet = startup(
        ProtocolVersion::V3_0,
        &[("user", "alice"), ("application_name", &filler)],
    );
    assert_eq!(packet.len(), 10_004);
    let mut s = server.connect();
    send(&mut s, &packet);
    let msgs = read_messages(&mut s);
    assert!(
        matches!(msgs.last(), Some(BackendMessage::ReadyForQuery(_))),
        "{msgs:?}"
    );
}

#[test]
fn incomplete_packets_and_silent_probes() {
    let server = Server::start(&["ssl=on"]);
    // Connect and leave: nothing logged.
    drop(server.connect());
    // Two bytes of a length word.
    let mut s = server.connect();
    send(&mut s, &[0, 0]);
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut s), b"");
    // A body shorter than announced.
    let mut s = server.connect();
    send(&mut s, &login()[..12]);
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut s), b"");
    assert_eq!(
        server.wait_for_count("incomplete startup packet", 2).len(),
        2
    );
    assert_eq!(server.log_messages("invalid length").len(), 0);
}

#[test]
fn protocol_versions() {
    let server = Server::start(&["pgssl.profile=15"]);
    // 2.0: the headerless v2 error.
    let mut s = server.connect();
    send(
        &mut s,
        &startup(ProtocolVersion::new(2, 0), &[("user", "alice")]),
    );
    assert_eq!(
        read_to_end(&mut s),
        b"EFATAL:  unsupported frontend protocol 2.0: server supports 3.0 to 3.0\n\0"
    );
    // 4.0: a v3 ErrorResponse.
    let mut s = server.connect();
    send(
        &mut s,
        &startup(ProtocolVersion::new(4, 0), &[("user", "alice")]),
    );
    let e = only_error(&read_messages(&mut s));
    assert_eq!(
        (e.code(), e.message()),
        (
            "0A000",
            "unsupported frontend protocol 4.0: server supports 3.0 to 3.0"
        )
    );
    // 3.1 with a _pq_ option: NegotiateProtocolVersion, then a normal login.
    let mut s = server.connect();
    send(
        &mut s,
        &startup(
            ProtocolVersion::new(3, 1),
            &[("user", "alice"), ("_pq_.foo", "bar")],
        ),
    );
    let msgs = read_messages(&mut s);
    assert_eq!(
        msgs[0],
        BackendMessage::NegotiateProtocolVersion {
            newest: ProtocolVersion::V3_0,
            unrecognized: vec!["_pq_.foo".into()]
        }
    );
    assert!(matches!(
        msgs.last(),
        Some(BackendMessage::ReadyForQuery(_))
    ));

    let server = Server::start(&["pgssl.profile=18"]);
    for (minor, negotiated, key_len) in [
        (0u16, None, 4usize),
        (1, None, 4),
        (2, None, 32),
        (3, Some(2u16), 32),
    ] {
        let mut s = server.connect();
        send(
            &mut s,
            &startup(ProtocolVersion::new(3, minor), &[("user", "alice")]),
        );
        let msgs = read_messages(&mut s);
        let v = msgs.iter().find_map(|m| match m {
            BackendMessage::NegotiateProtocolVersion { newest, .. } => Some(newest.minor()),
            _ => None,
        });
        assert_eq!(v, negotiated, "3.{minor}");
        let key = msgs.iter().find_map(|m| match m {
            BackendMessage::BackendKeyData { key, .. } => Some(key.len()),
            _ => None,
        });
        assert_eq!(key, Some(key_len), "3.{minor}");
    }
}

#[test]
fn startup_parameter_errors() {
    let server = Server::start(&[]);
    let mut s = server.connect();
    send(
        &mut s,
        &startup(ProtocolVersion::V3_0, &[("database", "postgres")]),
    );
    let e = only_error(&read_messages(&mut s));
    assert_eq!(
        (e.code(), e.message()),
        (
            "28000",
            "no PostgreSQL user name specified in startup packet"
        )
    );
    let mut s = server.connect();
    let mut bad = StartupMessage::new(ProtocolVersion::V3_0, &[("user", "alice")]);
    bad.raw_parameters.pop();
    send(&mut s, &StartupPacket::Startup(bad).to_bytes());
    let e = only_error(&read_messages(&mut s));
    assert_eq!(
        (e.code(), e.message()),
        (
            "08P01",
            "invalid startup packet layout: expected terminator as last byte"
        )
    );
}

fn backend_key(server: &Server) -> (std::net::TcpStream, u32, Vec<u8>) {
    let mut s = server.connect();
    send(&mut s, &login());
    let msgs = read_messages(&mut s);
    let (pid, key) = msgs
        .iter()
        .find_map(|m| match m {
            BackendMessage::BackendKeyData { pid, key } => Some((*pid, key.clone())),
            _ => None,
        })
        .expect("BackendKeyData");
    (s, pid, key)
}

#[test]
fn cancel_requests_get_no_reply() {
    let server = Server::start(&["pgssl.profile=15"]);
    let (_session, pid, key) = backend_key(&server);
    let cancel = |payload: CancelRequest| {
        let mut s = server.connect();
        send(&mut s, &StartupPacket::Cancel(payload).to_bytes());
        assert_eq!(
            read_to_end(&mut s),
            b"",
            "a cancel request is never answered"
        );
    };
    cancel(CancelRequest::new(1, &[0; 4]));
    server.wait_for_log("LOG:  PID 1 in cancel request did not match any process");
    cancel(CancelRequest::new(
        pid,
        &[key[0] ^ 0xFF, key[1], key[2], key[3]],
    ));
    server.wait_for_log(&format!(
        "LOG:  wrong key in cancel request for process {pid}"
    ));
    cancel(CancelRequest::new(pid, &key));
    cancel(CancelRequest::new(1, &[]));
    server.wait_for_log("LOG:  invalid length of startup packet");
    assert_eq!(
        server.log_messages("wrong key").len(),
        1,
        "the right key is accepted silently"
    );

    let server = Server::start(&["pgssl.profile=18"]);
    let cancel = |payload: CancelRequest| {
        let mut s = server.connect();
        send(&mut s, &StartupPacket::Cancel(payload).to_bytes());
        assert_eq!(read_to_end(&mut s), b"");
    };
    cancel(CancelRequest::new(1, &[]));
    server.wait_for_log("LOG:  invalid length of cancel key in cancel request packet");
    cancel(CancelRequest {
        payload: vec![0, 0, 0],
    });
    server.wait_for_log("LOG:  invalid length of cancel request packet");
    cancel(CancelRequest::new(1, &[0; 256]));
    server.wait_for_log("LOG:  PID 1 in cancel request did not match any process");
}

#[test]
fn cancel_inside_tls() {
    let server = Server::start(&["ssl=on"]);
    let mut s = server.connect();
    send(&mut s, &ssl_request());
    read_byte(&mut s);
    let mut tls = tls_connect(s, &TlsOptions::default()).unwrap();
    send(
        &mut tls,
        &StartupPacket::Cancel(CancelRequest::new(1, &[0; 4])).to_bytes(),
    );
    assert_eq!(read_to_end(&mut tls), b"");
    server.wait_for_log("PID 1 in cancel request did not match any process");
}

#[test]
fn stalled_startup_times_out_silently() {
    let server = Server::start(&["ssl=on", "authentication_timeout=1", "log_connections=on"]);
    // Nothing at all.
    let mut idle = server.connect();
    // Stalled after `S`, in the handshake.
    let mut after_s = server.connect();
    send(&mut after_s, &ssl_request());
    assert_eq!(read_byte(&mut after_s), b'S');
    let start = Instant::now();
    assert_eq!(read_to_end(&mut idle), b"");
    assert_eq!(read_to_end(&mut after_s), b"");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
    server.wait_for_count("connection received", 2);
    // Give a (wrong) timeout line time to arrive through the pipe.
    std::thread::sleep(Duration::from_millis(300));
    // Only the two "connection received" lines: the timeout itself is silent.
    let lines: Vec<_> = server
        .log()
        .into_iter()
        .filter(|l| l.contains("] ") && !l.contains("listening") && !l.contains("ready"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
}

#[test]
fn simple_queries_after_login() {
    let server = Server::start(&["ssl=on"]);
    let mut s = server.connect();
    send(&mut s, &login());
    read_messages(&mut s);
    let mut q = Vec::new();
    pgssl_server::wire::FrontendMessage::Query(b"SELECT 1;".to_vec()).encode(&mut q);
    send(&mut s, &q);
    let msgs = read_messages(&mut s);
    assert_eq!(msgs[1], BackendMessage::DataRow(vec![Some(b"1".to_vec())]));
    assert_eq!(msgs[2], BackendMessage::CommandComplete("SELECT 1".into()));
    let mut q = Vec::new();
    pgssl_server::wire::FrontendMessage::Query(b"select nonsense".to_vec()).encode(&mut q);
    send(&mut s, &q);
    let msgs = read_messages(&mut s);
    assert!(matches!(&msgs[0], BackendMessage::ErrorResponse(e) if e.code() == "0A000"));
    let mut x = Vec::new();
    pgssl_server::wire::FrontendMessage::Terminate.encode(&mut x);
    s.write_all(&x).unwrap();
    assert_eq!(read_to_end(&mut s), b"");
}
