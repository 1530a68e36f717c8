use proptest::prelude::*;

use super::*;
use crate::profile::Profile;
use crate::wire::{CancelRequest, StartupMessage};

fn config(profile: Profile, ssl: bool, socket: SocketKind) -> NegotiateConfig {
    NegotiateConfig {
        behaviour: profile.behaviour(),
        ssl_loaded: ssl,
        socket,
        tls_version_range: ("TLSv1.2".into(), "TLSv1.3".into()),
        trace: false,
    }
}

fn machine(profile: Profile, ssl: bool) -> Negotiator {
    Negotiator::new(config(profile, ssl, SocketKind::Tcp))
}

fn feed(m: &mut Negotiator, event: Event<'_>) -> Vec<Action> {
    m.handle(event);
    std::iter::from_fn(|| m.poll_action()).collect()
}

fn ssl_request() -> Vec<u8> {
    StartupPacket::ssl_request().to_bytes()
}

fn gssenc_request() -> Vec<u8> {
    StartupPacket::gssenc_request().to_bytes()
}

fn startup(version: ProtocolVersion, params: &[(&str, &str)]) -> Vec<u8> {
    StartupPacket::Startup(StartupMessage::new(version, params)).to_bytes()
}

fn login() -> Vec<u8> {
    startup(ProtocolVersion::V3_0, &[("user", "alice")])
}

fn error_of(action: &Action) -> ErrorFields {
    match action {
        Action::Send(bytes) => match BackendMessage::decode(bytes) {
            Ok(Some((BackendMessage::ErrorResponse(e), _))) => e,
            other => panic!("not an ErrorResponse: {other:?}"),
        },
        other => panic!("not a Send: {other:?}"),
    }
}

fn logs(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Log(r) => Some(r.lines().join(" | ")),
            _ => None,
        })
        .collect()
}

fn established(alpn: Option<&[u8]>) -> Event<'static> {
    Event::TlsEstablished {
        alpn: alpn.map(<[u8]>::to_vec),
        unread_prefix: 0,
    }
}

#[test]
fn ssl_request_gets_s_then_tls_starts() {
    for profile in Profile::ALL {
        let mut m = machine(profile, true);
        let actions = feed(&mut m, Event::Received(&ssl_request()));
        assert_eq!(
            actions,
            [
                Action::Send(vec![b'S']),
                Action::StartTls {
                    prefix: vec![],
                    direct: false
                }
            ]
        );
        assert!(m.is_handshaking());
        assert_eq!(feed(&mut m, established(None)), []);
        let actions = feed(&mut m, Event::Received(&login()));
        let Action::Startup(info) = &actions[0] else {
            panic!("{actions:?}")
        };
        assert!(info.ssl_in_use && !info.direct_ssl);
        assert_eq!(
            (info.user.as_str(), info.database.as_str()),
            ("alice", "alice")
        );
    }
}

#[test]
fn ssl_off_or_unix_socket_gets_n() {
    let mut off = machine(Profile::Pg15, false);
    assert_eq!(
        feed(&mut off, Event::Received(&ssl_request())),
        [Action::Send(vec![b'N'])]
    );
    let mut unix = Negotiator::new(config(Profile::Pg18, true, SocketKind::Unix));
    assert_eq!(
        feed(&mut unix, Event::Received(&ssl_request())),
        [Action::Send(vec![b'N'])]
    );
    // After `N` the client goes on in plaintext.
    let actions = feed(&mut unix, Event::Received(&login()));
    assert!(matches!(&actions[0], Action::Startup(info) if !info.ssl_in_use));
}

#[test]
fn request_split_across_writes_still_answered() {
    let bytes = ssl_request();
    let mut m = machine(Profile::Pg15, true);
    for b in &bytes[..7] {
        assert_eq!(feed(&mut m, Event::Received(std::slice::from_ref(b))), []);
    }
    assert_eq!(
        feed(&mut m, Event::Received(&bytes[7..]))[0],
        Action::Send(vec![b'S'])
    );
}

/// The inspection methods the IO edge and the fuzz harness rely on: the handshake phase, and
/// what is buffered, before, during and after the negotiation.
#[test]
fn handshake_phase_and_buffer_are_reported() {
    for profile in Profile::ALL {
        let mut m = machine(profile, true);
        assert!(!m.is_handshaking());
        let request = ssl_request();
        assert_eq!(feed(&mut m, Event::Received(&request[..3])), []);
        assert_eq!(m.buffered_len(), 3);
        assert!(!m.is_handshaking());
        feed(&mut m, Event::Received(&request[3..]));
        assert_eq!(m.buffered_len(), 0);
        assert!(m.is_handshaking());
        assert_eq!(feed(&mut m, established(None)), []);
        assert!(!m.is_handshaking());
        let mut bytes = login();
        bytes.extend_from_slice(b"Qxyz");
        let actions = feed(&mut m, Event::Received(&bytes));
        assert!(
            matches!(actions.as_slice(), [Action::Startup(_)]),
            "{actions:?}"
        );
        assert!(m.is_finished() && !m.is_handshaking());
        assert_eq!(m.buffered_len(), 4, "{profile:?}");
        assert_eq!(m.take_buffered(), b"Qxyz");
        assert_eq!(m.buffered_len(), 0);
    }
}

#[test]
fn ssl_request_length_is_not_checked() {
    let long = StartupPacket::SslRequest {
        extra: vec![0, 0, 0, 0],
    }
    .to_bytes();
    assert_eq!(long.len(), 12);
    let mut m = machine(Profile::Pg15, true);
    assert_eq!(
        feed(&mut m, Event::Received(&long))[0],
        Action::Send(vec![b'S'])
    );
}

#[test]
fn pipelined_startup_refused_over_tls_on_15() {
    let mut bytes = ssl_request();
    bytes.extend_from_slice(&login());
    let mut m = machine(Profile::Pg15, true);
    let actions = feed(&mut m, Event::Received(&bytes));
    assert_eq!(
        actions,
        [
            Action::Send(vec![b'S']),
            Action::StartTls {
                prefix: vec![],
                direct: false
            }
        ]
    );
    let actions = feed(&mut m, established(None));
    let error = error_of(&actions[1]);
    assert_eq!(error.code(), "08P01");
    assert_eq!(
        error.message(),
        "received unencrypted data after SSL request"
    );
    assert_eq!(error.detail(), Some(MITM_DETAIL));
    assert_eq!(actions.last(), Some(&Action::Close));
}

#[test]
fn pipelined_startup_fed_into_tls_on_18() {
    let mut bytes = ssl_request();
    bytes.extend_from_slice(&login());
    let mut m = machine(Profile::Pg18, true);
    let actions = feed(&mut m, Event::Received(&bytes));
    assert_eq!(
        actions,
        [
            Action::Send(vec![b'S']),
            Action::StartTls {
                prefix: login(),
                direct: false
            }
        ]
    );
    let failed = Event::TlsFailed {
        failure: TlsFailure::Refused {
            reason: "wrong version number".into(),
            protocol_hint: true,
        },
        unread_prefix: 5,
    };
    let actions = feed(&mut m, failed);
    assert_eq!(
        logs(&actions),
        [
            "LOG:  could not accept SSL connection: wrong version number | HINT:  This may indicate that the client does not support any SSL protocol version between TLSv1.2 and TLSv1.3.",
            "LOG:  buffered unencrypted data remains after negotiating SSL connection",
        ]
    );
    assert_eq!(actions.last(), Some(&Action::Close));
    assert!(!actions.iter().any(|a| matches!(a, Action::Send(_))));
}

/// 17's be_tls_open_server check after a handshake that succeeded. No client reaches it over
/// the wire (the bytes it sent before `S` cannot include a Finished made after the server's
/// flight), so the catalogue cannot catch its loss; a surviving mutant showed that.
#[test]
fn handshake_leaving_prefix_bytes_unread_is_refused_on_18() {
    let mut bytes = ssl_request();
    bytes.extend_from_slice(&login());
    let mut m = machine(Profile::Pg18, true);
    feed(&mut m, Event::Received(&bytes));
    let leftover = Event::TlsEstablished {
        alpn: Some(ALPN_POSTGRESQL.to_vec()),
        unread_prefix: 2,
    };
    let actions = feed(&mut m, leftover);
    assert_eq!(
        logs(&actions),
        ["LOG:  buffered unencrypted data remains after negotiating SSL connection"]
    );
    assert_eq!(actions.last(), Some(&Action::Close));
    assert!(!actions.iter().any(|a| matches!(a, Action::Send(_))));
}

#[test]
fn pipelined_startup_after_n_refused_in_plaintext() {
    for profile in Profile::ALL {
        // 13 still words errors sent before the startup packet in protocol 2.
        let v2 = profile.behaviour().pre_startup_errors_v2;
        let text = |action: &Action, message: &str| match action {
            Action::Send(bytes) if v2 => {
                let (text, _) = crate::wire::backend::decode_v2_error(bytes).expect("a v2 error");
                assert_eq!(text, format!("FATAL:  {message}"), "{profile}");
            }
            action => assert_eq!(error_of(action).message(), message, "{profile}"),
        };
        let mut bytes = ssl_request();
        bytes.extend_from_slice(&login());
        let mut m = machine(profile, false);
        let actions = feed(&mut m, Event::Received(&bytes));
        assert_eq!(actions[0], Action::Send(vec![b'N']));
        text(&actions[2], "received unencrypted data after SSL request");
        let mut bytes = gssenc_request();
        bytes.extend_from_slice(&login());
        let mut m = machine(profile, true);
        let actions = feed(&mut m, Event::Received(&bytes));
        assert_eq!(actions[0], Action::Send(vec![b'N']));
        text(
            &actions[2],
            "received unencrypted data after GSSAPI encryption request",
        );
    }
}

#[test]
fn protocol_2_is_read_by_13_only() {
    // The v2 packet after its version word: database[64], user[32], options[64], 2 x [64].
    let v2_packet = |user: &str| {
        let mut body = vec![0u8; 288];
        body[64..64 + user.len()].copy_from_slice(user.as_bytes());
        let mut bytes = (296u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&0x0002_0000u32.to_be_bytes());
        bytes.extend_from_slice(&body);
        bytes
    };
    let v2_text = |actions: &[Action]| match &actions[1] {
        Action::Send(bytes) => {
            crate::wire::backend::decode_v2_error(bytes)
                .expect("a v2 error")
                .0
        }
        other => panic!("not a Send: {other:?}"),
    };
    let mut m = machine(Profile::Pg13, false);
    let actions = feed(&mut m, Event::Received(&v2_packet("")));
    assert_eq!(
        v2_text(&actions),
        "FATAL:  no PostgreSQL user name specified in startup packet"
    );
    let mut m = machine(Profile::Pg13, false);
    let actions = feed(&mut m, Event::Received(&v2_packet("alice")));
    assert!(v2_text(&actions).contains("pgssl does not run protocol 2.0 sessions"));
    let mut m = machine(Profile::Pg13, false);
    let actions = feed(
        &mut m,
        Event::Received(&startup(ProtocolVersion::new(4, 0), &[])),
    );
    assert_eq!(
        error_of(&actions[1]).message(),
        "unsupported frontend protocol 4.0: server supports 2.0 to 3.0"
    );
    let mut m = machine(Profile::Pg14, false);
    let actions = feed(&mut m, Event::Received(&v2_packet("alice")));
    assert_eq!(
        v2_text(&actions),
        "FATAL:  unsupported frontend protocol 2.0: server supports 3.0 to 3.0"
    );
}

#[test]
fn repeated_requests_fall_through_to_the_version_check() {
    for (profile, latest) in [(Profile::Pg15, "3.0"), (Profile::Pg18, "3.2")] {
        // A second SSLRequest after `N`.
        let mut m = machine(profile, false);
        feed(&mut m, Event::Received(&ssl_request()));
        let actions = feed(&mut m, Event::Received(&ssl_request()));
        let e = error_of(&actions[1]);
        assert_eq!(e.code(), "0A000");
        assert_eq!(
            e.message(),
            format!("unsupported frontend protocol 1234.5679: server supports 3.0 to {latest}")
        );
        // GSSENCRequest inside TLS after `S`.
        let mut m = machine(profile, true);
        feed(&mut m, Event::Received(&ssl_request()));
        feed(&mut m, established(None));
        let actions = feed(&mut m, Event::Received(&gssenc_request()));
        assert_eq!(
            error_of(&actions[1]).message(),
            format!("unsupported frontend protocol 1234.5680: server supports 3.0 to {latest}")
        );
    }
}

#[test]
fn gss_then_ssl_in_either_order() {
    let mut m = machine(Profile::Pg15, true);
    assert_eq!(
        feed(&mut m, Event::Received(&gssenc_request())),
        [Action::Send(vec![b'N'])]
    );
    assert_eq!(
        feed(&mut m, Event::Received(&ssl_request()))[0],
        Action::Send(vec![b'S'])
    );
    let mut m = machine(Profile::Pg15, false);
    assert_eq!(
        feed(&mut m, Event::Received(&ssl_request())),
        [Action::Send(vec![b'N'])]
    );
    assert_eq!(
        feed(&mut m, Event::Received(&gssenc_request())),
        [Action::Send(vec![b'N'])]
    );
    // A second GSSENCRequest is no longer a request.
    let actions = feed(&mut m, Event::Received(&gssenc_request()));
    assert!(error_of(&actions[1]).message().contains("1234.5680"));
}

#[test]
fn refused_requests_alternate_on_13_but_not_on_14_and_later() {
    // 13 recomputes both flags from the last reply, so SSL and GSS refusals may alternate.
    let mut m = machine(Profile::Pg13, false);
    for _ in 0..3 {
        assert_eq!(
            feed(&mut m, Event::Received(&ssl_request())),
            [Action::Send(vec![b'N'])]
        );
        assert_eq!(
            feed(&mut m, Event::Received(&gssenc_request())),
            [Action::Send(vec![b'N'])]
        );
    }
    // 18 answers each kind once (observed live: SSL N, GSS N, then SSL is a protocol error).
    let mut m = machine(Profile::Pg18, false);
    assert_eq!(
        feed(&mut m, Event::Received(&ssl_request())),
        [Action::Send(vec![b'N'])]
    );
    assert_eq!(
        feed(&mut m, Event::Received(&gssenc_request())),
        [Action::Send(vec![b'N'])]
    );
    let actions = feed(&mut m, Event::Received(&ssl_request()));
    assert_eq!(
        error_of(&actions[1]).message(),
        "unsupported frontend protocol 1234.5679: server supports 3.0 to 3.2"
    );
}

#[test]
fn length_limits() {
    for (len, accepted) in [
        (7u32, false),
        (8, true),
        (10_004, true),
        (10_005, false),
        (u32::MAX, false),
    ] {
        let mut m = machine(Profile::Pg15, true);
        let actions = feed(&mut m, Event::Received(&len.to_be_bytes()));
        if accepted {
            assert_eq!(actions, [], "length {len}");
        } else {
            assert_eq!(
                actions,
                [
                    Action::Log(LogRecord::log("invalid length of startup packet")),
                    Action::Close
                ],
                "length {len}"
            );
        }
    }
}

#[test]
fn startup_timeout_ends_silently_with_tls_shut_down_only_on_13() {
    for profile in Profile::ALL {
        let mut m = machine(profile, true);
        feed(&mut m, Event::Received(&ssl_request()));
        feed(&mut m, established(None));
        let expected = if profile == Profile::Pg13 {
            Action::Close
        } else {
            Action::Abandon
        };
        assert_eq!(feed(&mut m, Event::Timeout), [expected], "{profile}");
        assert!(m.is_finished());
    }
}

#[test]
fn eof_before_a_whole_packet() {
    let mut m = machine(Profile::Pg15, true);
    assert_eq!(feed(&mut m, Event::Eof), [Action::Close]);
    let mut m = machine(Profile::Pg15, true);
    feed(&mut m, Event::Received(&[0, 0]));
    assert_eq!(
        logs(&feed(&mut m, Event::Eof)),
        ["LOG:  incomplete startup packet"]
    );
    let mut m = machine(Profile::Pg15, true);
    feed(&mut m, Event::Received(&login()[..10]));
    assert_eq!(
        logs(&feed(&mut m, Event::Eof)),
        ["LOG:  incomplete startup packet"]
    );
    // A partial length word after SSL was negotiated is not worth a line.
    let mut m = machine(Profile::Pg15, true);
    feed(&mut m, Event::Received(&ssl_request()));
    feed(&mut m, established(None));
    feed(&mut m, Event::Received(&[0]));
    assert_eq!(feed(&mut m, Event::Eof), [Action::Close]);
}

#[test]
fn cancel_lengths_per_profile() {
    let cancel = |key: &[u8]| StartupPacket::Cancel(CancelRequest::new(1, key)).to_bytes();
    let short = StartupPacket::Cancel(CancelRequest {
        payload: vec![0, 0],
    })
    .to_bytes();
    let cases: [(Profile, Vec<u8>, Option<&str>); 8] = [
        (Profile::Pg15, cancel(&[0; 4]), None),
        (
            Profile::Pg15,
            cancel(&[]),
            Some("invalid length of startup packet"),
        ),
        (
            Profile::Pg15,
            cancel(&[0; 32]),
            Some("invalid length of startup packet"),
        ),
        (Profile::Pg18, cancel(&[0; 4]), None),
        (Profile::Pg18, cancel(&[0; 256]), None),
        (
            Profile::Pg18,
            cancel(&[]),
            Some("invalid length of cancel key in cancel request packet"),
        ),
        (
            Profile::Pg18,
            cancel(&[0; 257]),
            Some("invalid length of cancel key in cancel request packet"),
        ),
        (
            Profile::Pg18,
            short,
            Some("invalid length of cancel request packet"),
        ),
    ];
    for (profile, bytes, error) in cases {
        let mut m = machine(profile, true);
        let actions = feed(&mut m, Event::Received(&bytes));
        match error {
            None => assert!(matches!(actions[0], Action::Cancel(_)), "{actions:?}"),
            Some(msg) => assert_eq!(logs(&actions), [format!("LOG:  {msg}")]),
        }
        assert_eq!(actions.last(), Some(&Action::Close));
        assert!(!actions.iter().any(|a| matches!(a, Action::Send(_))));
    }
}

#[test]
fn protocol_two_gets_the_v2_error() {
    let mut m = machine(Profile::Pg15, true);
    let actions = feed(
        &mut m,
        Event::Received(&startup(ProtocolVersion::new(2, 0), &[("user", "a")])),
    );
    assert_eq!(
        actions[1],
        Action::Send(
            b"EFATAL:  unsupported frontend protocol 2.0: server supports 3.0 to 3.0\n\0".to_vec()
        )
    );
    let mut m = machine(Profile::Pg18, true);
    let actions = feed(
        &mut m,
        Event::Received(&startup(ProtocolVersion::new(4, 0), &[("user", "a")])),
    );
    let e = error_of(&actions[1]);
    assert_eq!(
        e.message(),
        "unsupported frontend protocol 4.0: server supports 3.0 to 3.2"
    );
    assert_eq!(e.code(), "0A000");
}

fn negotiated(actions: &[Action]) -> Option<(ProtocolVersion, Vec<String>)> {
    actions.iter().find_map(|a| match a {
        Action::Send(bytes) => match BackendMessage::decode(bytes) {
            Ok(Some((
                BackendMessage::NegotiateProtocolVersion {
                    newest,
                    unrecognized,
                },
                _,
            ))) => Some((newest, unrecognized)),
            _ => None,
        },
        _ => None,
    })
}

#[test]
fn minor_versions_and_pq_options() {
    let pq = [("user", "a"), ("_pq_.foo", "bar")];
    let plain = [("user", "a")];
    let v = ProtocolVersion::new;
    type Case<'a> = (
        Profile,
        ProtocolVersion,
        &'a [(&'a str, &'a str)],
        Option<(ProtocolVersion, Vec<String>)>,
    );
    let cases: [Case<'_>; 8] = [
        (Profile::Pg15, v(3, 0), &plain, None),
        (
            Profile::Pg15,
            v(3, 1),
            &pq,
            Some((v(3, 0), vec!["_pq_.foo".into()])),
        ),
        (Profile::Pg15, v(3, 2), &plain, Some((v(3, 0), vec![]))),
        (Profile::Pg18, v(3, 1), &plain, None),
        (Profile::Pg18, v(3, 2), &plain, None),
        (Profile::Pg18, v(3, 3), &plain, Some((v(3, 2), vec![]))),
        (
            Profile::Pg18,
            v(3, 3),
            &pq,
            Some((v(3, 2), vec!["_pq_.foo".into()])),
        ),
        (
            Profile::Pg18,
            v(3, 0),
            &pq,
            Some((v(3, 0), vec!["_pq_.foo".into()])),
        ),
    ];
    for (profile, version, params, expected) in cases {
        let mut m = machine(profile, true);
        let actions = feed(&mut m, Event::Received(&startup(version, params)));
        assert_eq!(negotiated(&actions), expected, "{profile} {version}");
        assert!(matches!(actions.last(), Some(Action::Startup(_))));
    }
}

#[test]
fn layout_user_and_replication_checks() {
    let mut m = machine(Profile::Pg15, true);
    let mut bad = StartupMessage::new(ProtocolVersion::V3_0, &[("user", "a")]);
    bad.raw_parameters.pop();
    let actions = feed(
        &mut m,
        Event::Received(&StartupPacket::Startup(bad).to_bytes()),
    );
    let e = error_of(&actions[1]);
    assert_eq!(
        (e.code(), e.message()),
        (
            "08P01",
            "invalid startup packet layout: expected terminator as last byte"
        )
    );

    let mut m = machine(Profile::Pg15, true);
    let actions = feed(
        &mut m,
        Event::Received(&startup(ProtocolVersion::V3_0, &[("database", "d")])),
    );
    let e = error_of(&actions[1]);
    assert_eq!(
        (e.code(), e.message()),
        (
            "28000",
            "no PostgreSQL user name specified in startup packet"
        )
    );

    let mut m = machine(Profile::Pg15, true);
    let actions = feed(
        &mut m,
        Event::Received(&startup(
            ProtocolVersion::V3_0,
            &[("user", "a"), ("replication", "maybe")],
        )),
    );
    let e = error_of(&actions[1]);
    assert_eq!(
        e.message(),
        "invalid value for parameter \"replication\": \"maybe\""
    );
    assert_eq!(
        e.hint(),
        Some("Valid values are: \"false\", 0, \"true\", 1, \"database\".")
    );
}

#[test]
fn names_truncated_and_application_name_cleaned() {
    let long = "u".repeat(100);
    for (profile, cleaned) in [(Profile::Pg15, "app?"), (Profile::Pg18, "app\\xff")] {
        let mut m = machine(profile, true);
        let params: Vec<(&[u8], &[u8])> = vec![
            (b"user", long.as_bytes()),
            (b"application_name", b"app\xff"),
        ];
        let packet =
            StartupPacket::Startup(StartupMessage::new(ProtocolVersion::V3_0, &params)).to_bytes();
        let actions = feed(&mut m, Event::Received(&packet));
        let Action::Startup(info) = &actions[0] else {
            panic!()
        };
        assert_eq!(info.user.len(), 63);
        assert_eq!(info.database, info.user);
        assert_eq!(info.application_name.as_deref(), Some(cleaned));
    }
}

#[test]
fn direct_ssl_on_18() {
    let hello = [0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5];
    let mut m = machine(Profile::Pg18, true);
    assert_eq!(
        feed(&mut m, Event::Received(&hello)),
        [Action::StartTls {
            prefix: hello.to_vec(),
            direct: true
        }]
    );
    // No ALPN: refused after the handshake, with a close_notify.
    let actions = feed(&mut m, established(None));
    assert_eq!(
        logs(&actions),
        [
            "LOG:  received direct SSL connection request without ALPN protocol negotiation extension"
        ]
    );
    assert_eq!(actions.last(), Some(&Action::Close));

    // With ALPN: startup inside TLS, where an SSLRequest is answered `N` once.
    let mut m = machine(Profile::Pg18, true);
    feed(&mut m, Event::Received(&hello));
    assert_eq!(feed(&mut m, established(Some(b"postgresql"))), []);
    assert_eq!(
        feed(&mut m, Event::Received(&ssl_request())),
        [Action::Send(vec![b'N'])]
    );
    let actions = feed(&mut m, Event::Received(&ssl_request()));
    assert!(
        error_of(&actions[1])
            .message()
            .contains("1234.5679: server supports 3.0 to 3.2")
    );

    // SSLRequest and StartupMessage in one TLS write: the 18 false positive.
    let mut m = machine(Profile::Pg18, true);
    feed(&mut m, Event::Received(&hello));
    feed(&mut m, established(Some(b"postgresql")));
    let mut both = ssl_request();
    both.extend_from_slice(&login());
    let actions = feed(&mut m, Event::Received(&both));
    assert_eq!(actions[0], Action::Send(vec![b'N']));
    assert_eq!(error_of(&actions[2]).code(), "08P01");

    // GSSENCRequest inside direct SSL: `N`, then a login works.
    let mut m = machine(Profile::Pg18, true);
    feed(&mut m, Event::Received(&hello));
    feed(&mut m, established(Some(b"postgresql")));
    assert_eq!(
        feed(&mut m, Event::Received(&gssenc_request())),
        [Action::Send(vec![b'N'])]
    );
    let actions = feed(&mut m, Event::Received(&login()));
    assert!(matches!(&actions[0], Action::Startup(i) if i.ssl_in_use && i.direct_ssl));
}

#[test]
fn direct_ssl_refused_without_ssl_and_on_15() {
    let hello = [0x16, 0x03, 0x01, 0x00, 0x05];
    let mut m = machine(Profile::Pg18, false);
    assert_eq!(feed(&mut m, Event::Received(&hello)), [Action::Close]);
    let mut m = machine(Profile::Pg15, true);
    assert_eq!(
        logs(&feed(&mut m, Event::Received(&hello))),
        ["LOG:  invalid length of startup packet"]
    );
}

#[test]
fn trace_lines_on_18() {
    let mut cfg = config(Profile::Pg18, false, SocketKind::Tcp);
    cfg.trace = true;
    let mut m = Negotiator::new(cfg);
    assert_eq!(
        logs(&feed(&mut m, Event::Received(&ssl_request()))),
        ["LOG:  SSLRequest rejected"]
    );
    assert_eq!(
        logs(&feed(&mut m, Event::Received(&gssenc_request()))),
        ["LOG:  GSSENCRequest rejected"]
    );
}

#[test]
fn tls_failures_are_logged_as_postgres_does() {
    let cases = [
        (
            TlsFailure::Eof,
            "LOG:  could not accept SSL connection: EOF detected",
        ),
        (
            TlsFailure::Refused {
                reason: "no shared cipher".into(),
                protocol_hint: false,
            },
            "LOG:  could not accept SSL connection: no shared cipher",
        ),
        (
            TlsFailure::Io("Connection reset by peer".into()),
            "LOG:  could not accept SSL connection: Connection reset by peer",
        ),
    ];
    for (failure, line) in cases {
        let mut m = machine(Profile::Pg15, true);
        feed(&mut m, Event::Received(&ssl_request()));
        let actions = feed(
            &mut m,
            Event::TlsFailed {
                failure,
                unread_prefix: 0,
            },
        );
        assert_eq!(logs(&actions), [line]);
        assert_eq!(actions.last(), Some(&Action::Close));
    }
}

#[test]
fn timeout_ends_silently_and_finishes() {
    // 14+: the process exits at once (see the 13 case above).
    let mut m = machine(Profile::Pg15, true);
    feed(&mut m, Event::Received(&ssl_request()));
    assert_eq!(feed(&mut m, Event::Timeout), [Action::Abandon]);
    assert!(m.is_finished());
    assert_eq!(feed(&mut m, Event::Received(&login())), []);
}

#[test]
fn pipelined_query_after_startup_stays_buffered() {
    let mut bytes = login();
    bytes.extend_from_slice(b"Q\0\0\0\x0dselect 1\0");
    let mut m = machine(Profile::Pg15, true);
    let actions = feed(&mut m, Event::Received(&bytes));
    assert!(matches!(actions[0], Action::Startup(_)));
    assert_eq!(m.take_buffered(), b"Q\0\0\0\x0dselect 1\0");
}

/// A client's possible moves, for the property tests.
#[derive(Clone, Debug)]
enum Move {
    Bytes(Vec<u8>),
    Packet(Vec<u8>),
    Eof,
    Timeout,
}

fn arb_move() -> impl Strategy<Value = Move> {
    prop_oneof![
        Just(Move::Packet(ssl_request())),
        Just(Move::Packet(gssenc_request())),
        Just(Move::Packet(login())),
        Just(Move::Packet(
            StartupPacket::Cancel(CancelRequest::new(7, &[1, 2, 3, 4])).to_bytes()
        )),
        Just(Move::Packet(vec![0x16, 0x03, 0x01, 0x00, 0x10])),
        proptest::collection::vec(any::<u8>(), 1..24).prop_map(Move::Bytes),
        Just(Move::Eof),
        Just(Move::Timeout),
    ]
}

fn arb_profile() -> impl Strategy<Value = Profile> {
    prop_oneof![
        Just(Profile::Seed),
        Just(Profile::Pg15),
        Just(Profile::Pg18)
    ]
}

proptest! {
    /// Whatever the client does, the machine never panics, answers each request kind at most
    /// once per negotiation round, never hands pre-TLS bytes to the post-TLS startup, and
    /// reaches a finished state once the peer has gone.
    #[test]
    fn negotiation_invariants(
        profile in arb_profile(),
        ssl in any::<bool>(),
        unix in any::<bool>(),
        moves in proptest::collection::vec(arb_move(), 0..8),
        tls_ok in any::<bool>(),
        alpn in any::<bool>(),
    ) {
        let socket = if unix { SocketKind::Unix } else { SocketKind::Tcp };
        let mut m = Negotiator::new(config(profile, ssl, socket));
        let mut sent_before_tls = 0usize;
        let mut tls_started_at: Option<usize> = None;
        let mut total_sent = 0usize;
        let mut replies = 0usize;
        let mut requests = 0usize;
        for mv in moves.iter().chain(std::iter::once(&Move::Eof)) {
            let event = match mv {
                Move::Bytes(b) | Move::Packet(b) => {
                    if b == &ssl_request() || b == &gssenc_request() {
                        requests += 1;
                    }
                    total_sent += b.len();
                    Event::Received(b)
                }
                Move::Eof => Event::Eof,
                Move::Timeout => Event::Timeout,
            };
            m.handle(event);
            while let Some(action) = m.poll_action() {
                match action {
                    Action::Send(bytes) if bytes.len() == 1 => replies += 1,
                    Action::StartTls { prefix, direct } => {
                        prop_assert!(ssl && !unix, "TLS started though SSL is unavailable");
                        prop_assert!(direct || prefix.is_empty() || profile == Profile::Pg18);
                        sent_before_tls = total_sent;
                        tls_started_at = Some(total_sent);
                        let event = if tls_ok {
                            Event::TlsEstablished { alpn: alpn.then(|| b"postgresql".to_vec()), unread_prefix: 0 }
                        } else {
                            Event::TlsFailed { failure: TlsFailure::Eof, unread_prefix: 0 }
                        };
                        m.handle(event);
                    }
                    Action::Startup(info) => {
                        if let Some(at) = tls_started_at {
                            prop_assert!(info.ssl_in_use);
                            // The startup packet itself arrived after TLS began.
                            prop_assert!(total_sent > at);
                            prop_assert!(sent_before_tls <= at);
                        }
                    }
                    _ => {}
                }
            }
        }
        prop_assert!(replies <= requests, "{replies} replies to {requests} requests");
        prop_assert!(m.is_finished());
    }

    /// Feeding any bytes in any chunking never panics and never sends bytes in reply to a
    /// packet whose length is out of range.
    #[test]
    fn arbitrary_bytes(profile in arb_profile(), bytes in proptest::collection::vec(any::<u8>(), 0..64), cut in 0usize..64) {
        let mut m = machine(profile, true);
        let cut = cut.min(bytes.len());
        m.handle(Event::Received(&bytes[..cut]));
        m.handle(Event::Received(&bytes[cut..]));
        m.handle(Event::Eof);
        let actions: Vec<_> = std::iter::from_fn(|| m.poll_action()).collect();
        if let PacketFrame::InvalidLength { .. } = frame_startup_packet(&bytes) {
            if bytes.first() != Some(&TLS_HANDSHAKE_RECORD) || profile != Profile::Pg18 {
                prop_assert!(!actions.iter().any(|a| matches!(a, Action::Send(_))));
            }
        }
        prop_assert!(m.is_finished() || m.is_handshaking());
    }
}
