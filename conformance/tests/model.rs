//! The rules model against the catalogue: for every catalogue case that a scenario can
//! express, the oracle's predicted trace must equal the case's hand-written expectation for
//! each version it applies to. The catalogue and the oracle are two readings of the same
//! rules; this keeps them from drifting apart.

use pgssl_conformance::case::{CertKind, SslMode, Version};
use pgssl_conformance::catalogue;
use pgssl_conformance::explore::oracle::predict;
use pgssl_conformance::explore::scenario::{
    ClientCert, ClientCertOption, ClientSide, Connect, Encryption, FileState, HbaRow, KeyFile,
    KeyOwner, Method, Passphrase, RowKind, Scenario, ServerCert, ServerCiphers, ServerSide,
    WriteMode,
};
use pgssl_conformance::model::TlsProtocol;

fn row(kind: RowKind, method: Method) -> HbaRow {
    HbaRow {
        kind,
        method,
        ..HbaRow::trust_all()
    }
}

/// `hostssl all all 127.0.0.1/32 trust clientcert=...`.
fn hostssl_trust(clientcert: ClientCertOption) -> HbaRow {
    HbaRow {
        kind: RowKind::HostSsl,
        clientcert: Some(clientcert),
        ..HbaRow::trust_all()
    }
}

fn ssl_request() -> ClientSide {
    ClientSide::new(Connect::Raw(Encryption::SslRequest, WriteMode::Whole))
}

fn plain() -> ClientSide {
    ClientSide::new(Connect::Raw(Encryption::Plain, WriteMode::Whole))
}

fn with_ca() -> ServerSide {
    ServerSide {
        ca: Some(FileState::Valid),
        ..ServerSide::default()
    }
}

/// Catalogue case ids with the scenario that expresses them.
fn pairs() -> Vec<(&'static str, ServerSide, ClientSide)> {
    let d = ServerSide::default;
    let hostssl_cert = |s: ServerSide| ServerSide {
        hba: vec![row(RowKind::HostSsl, Method::Cert)],
        ..s
    };
    let as_user = |mut c: ClientSide, user: &'static str, cert: Option<ClientCert>| {
        c.user = user;
        c.tls.cert = cert;
        c
    };
    let tls = |mut c: ClientSide, min: Option<TlsProtocol>, max: Option<TlsProtocol>| {
        c.tls.min = min;
        c.tls.max = max;
        c
    };
    vec![
        ("negotiation/ssl-request-accepted", d(), ssl_request()),
        ("negotiation/plain-login-on-the-same-port", d(), plain()),
        (
            "negotiation/ssl-off-answers-n",
            ServerSide { ssl: false, ..d() },
            ssl_request(),
        ),
        (
            "negotiation/pipelined-startup-after-ssl-request",
            d(),
            ClientSide::new(Connect::Raw(Encryption::SslRequest, WriteMode::Pipelined)),
        ),
        (
            "negotiation/pipelined-startup-after-n",
            ServerSide { ssl: false, ..d() },
            ClientSide::new(Connect::Raw(Encryption::SslRequest, WriteMode::Pipelined)),
        ),
        (
            "files/missing-certificate",
            ServerSide {
                cert_file: FileState::Missing,
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/garbage-certificate",
            ServerSide {
                cert_file: FileState::Garbage,
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/missing-key",
            ServerSide {
                key: KeyFile::Missing,
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/garbage-key",
            ServerSide {
                key: KeyFile::Garbage,
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/key-does-not-match-certificate",
            ServerSide {
                cert: ServerCert::Generated(CertKind::Rsa),
                key: KeyFile::Mismatched,
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/key-type-does-not-match-certificate",
            ServerSide {
                key: KeyFile::Mismatched,
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/key-mode-0400",
            ServerSide {
                key_mode: 0o400,
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/key-mode-0640-owned-by-server-user",
            ServerSide {
                key_mode: 0o640,
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/key-mode-0644",
            ServerSide {
                key_mode: 0o644,
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/key-owned-by-root-0640",
            ServerSide {
                key_mode: 0o640,
                key_owner: KeyOwner::Root,
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/key-owned-by-root-0644",
            ServerSide {
                key_mode: 0o644,
                key_owner: KeyOwner::Root,
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/key-owned-by-root-0660",
            ServerSide {
                key_mode: 0o660,
                key_owner: KeyOwner::Root,
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/key-owned-by-root-unreadable",
            ServerSide {
                key_mode: 0o600,
                key_owner: KeyOwner::Root,
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/wrong-passphrase",
            ServerSide {
                cert: ServerCert::Pki,
                key: KeyFile::Protected(Passphrase::Wrong),
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/failing-passphrase-command",
            ServerSide {
                cert: ServerCert::Pki,
                key: KeyFile::Protected(Passphrase::CommandFails),
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/passphrase-without-terminal-or-command",
            ServerSide {
                cert: ServerCert::Pki,
                key: KeyFile::Protected(Passphrase::None),
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/key-is-a-directory",
            ServerSide {
                key: KeyFile::Directory,
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/key-owned-by-someone-else",
            ServerSide {
                key_owner: KeyOwner::Other,
                ..d()
            },
            ssl_request(),
        ),
        (
            "unix/ssl-request-answered-n",
            ServerSide {
                hba: vec![row(RowKind::Local, Method::Trust)],
                ..d()
            },
            ClientSide::new(Connect::Unix),
        ),
        (
            "files/missing-ca-file",
            ServerSide {
                ca: Some(FileState::Missing),
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/missing-crl-file",
            ServerSide {
                crl: Some(FileState::Missing),
                ..d()
            },
            ssl_request(),
        ),
        (
            "files/client-certificate-from-unknown-ca",
            with_ca(),
            tls(
                as_user(ssl_request(), "postgres", Some(ClientCert::UnknownCa)),
                None,
                Some(TlsProtocol::Tls12),
            ),
        ),
        (
            "files/revoked-client-certificate",
            ServerSide {
                crl: Some(FileState::Valid),
                ..with_ca()
            },
            tls(
                as_user(ssl_request(), "postgres", Some(ClientCert::Revoked)),
                None,
                Some(TlsProtocol::Tls12),
            ),
        ),
        (
            "tls/tls-1.2",
            d(),
            tls(
                ssl_request(),
                Some(TlsProtocol::Tls12),
                Some(TlsProtocol::Tls12),
            ),
        ),
        (
            "tls/max-tls-1.2",
            ServerSide {
                max_tls: Some(TlsProtocol::Tls12),
                ..d()
            },
            tls(ssl_request(), Some(TlsProtocol::Tls13), None),
        ),
        (
            "tls/min-above-max",
            ServerSide {
                min_tls: Some(TlsProtocol::Tls13),
                max_tls: Some(TlsProtocol::Tls12),
                ..d()
            },
            ssl_request(),
        ),
        (
            "tls/bogus-cipher-list",
            ServerSide {
                ciphers: Some(ServerCiphers::Bogus),
                ..d()
            },
            ssl_request(),
        ),
        (
            "hba/no-entry-for-ssl-connection",
            ServerSide {
                hba: vec![row(RowKind::HostNoSsl, Method::Trust)],
                ..d()
            },
            ssl_request(),
        ),
        (
            "hba/no-entry-for-plain-connection",
            ServerSide {
                hba: vec![row(RowKind::HostSsl, Method::Trust)],
                ..d()
            },
            plain(),
        ),
        (
            "hba/reject-row",
            ServerSide {
                hba: vec![row(RowKind::Host, Method::Reject)],
                ..d()
            },
            plain(),
        ),
        (
            "hba/hostssl-row-admits-ssl-without-certificate",
            ServerSide {
                hba: vec![row(RowKind::HostSsl, Method::Trust)],
                ..d()
            },
            ssl_request(),
        ),
        (
            "hba/hostssl-with-ssl-off",
            ServerSide {
                ssl: false,
                hba: vec![row(RowKind::HostSsl, Method::Trust), HbaRow::trust_all()],
                ..d()
            },
            plain(),
        ),
        (
            "hba/cert-on-host-row",
            ServerSide {
                hba: vec![row(RowKind::Host, Method::Cert)],
                ..d()
            },
            plain(),
        ),
        (
            "hba/cert-without-root-store",
            hostssl_cert(d()),
            ssl_request(),
        ),
        (
            "hba/cert-without-client-certificate",
            hostssl_cert(with_ca()),
            as_user(ssl_request(), "ssltestuser", None),
        ),
        (
            "hba/cert-authentication",
            hostssl_cert(with_ca()),
            as_user(ssl_request(), "ssltestuser", Some(ClientCert::Good)),
        ),
        (
            "hba/cert-for-another-user",
            hostssl_cert(with_ca()),
            as_user(ssl_request(), "anotheruser", Some(ClientCert::Good)),
        ),
        (
            "hba/verify-full-with-trust-mismatch",
            ServerSide {
                hba: vec![hostssl_trust(ClientCertOption::VerifyFull)],
                ..with_ca()
            },
            as_user(ssl_request(), "anotheruser", Some(ClientCert::Good)),
        ),
        (
            "hba/verify-ca-with-another-user",
            ServerSide {
                hba: vec![hostssl_trust(ClientCertOption::VerifyCa)],
                ..with_ca()
            },
            as_user(ssl_request(), "anotheruser", Some(ClientCert::Good)),
        ),
        (
            "direct/no-alpn",
            d(),
            ClientSide::new(Connect::Raw(Encryption::Direct, WriteMode::Whole)),
        ),
        ("direct/wrong-alpn", d(), {
            let mut c = ClientSide::new(Connect::Raw(Encryption::Direct, WriteMode::Whole));
            c.tls.alpn = Some(vec!["http/1.1"]);
            c
        }),
        ("direct/ssl-off", ServerSide { ssl: false, ..d() }, {
            let mut c = ClientSide::new(Connect::Raw(Encryption::Direct, WriteMode::Whole));
            c.tls.alpn = Some(vec!["postgresql"]);
            c
        }),
        ("direct/alpn-list-with-postgresql", d(), {
            let mut c = ClientSide::new(Connect::Raw(Encryption::Direct, WriteMode::Whole));
            c.tls.alpn = Some(vec!["foo", "postgresql"]);
            c
        }),
        ("direct/alpn-postgresql", d(), {
            let mut c = ClientSide::new(Connect::Raw(Encryption::Direct, WriteMode::Whole));
            c.tls.alpn = Some(vec!["postgresql"]);
            c
        }),
        ("startup/direct-client-hello-on-15", d(), {
            let mut c = ClientSide::new(Connect::Raw(Encryption::Direct, WriteMode::Whole));
            c.tls.alpn = Some(vec!["postgresql"]);
            c
        }),
        ("tls/wrong-alpn-on-ssl-request-path", d(), {
            let mut c = ssl_request();
            c.tls.alpn = Some(vec!["foo"]);
            c
        }),
    ]
}

/// Pairs that hold for one version only (the case's set-up means something else elsewhere).
fn versioned_pairs() -> Vec<(&'static str, Version, ServerSide, ClientSide)> {
    vec![(
        "hba/clientcert-1",
        Version::Seed,
        ServerSide {
            hba: vec![hostssl_trust(ClientCertOption::VerifyCa)],
            ..with_ca()
        },
        ssl_request(),
    )]
}

#[test]
fn the_oracle_predicts_what_the_catalogue_expects() {
    let cases = catalogue::load().expect("catalogue loads");
    let mut checked = 0;
    let mut wrong = Vec::new();
    let all = pairs()
        .into_iter()
        .map(|(id, s, c)| (id, None, s, c))
        .chain(
            versioned_pairs()
                .into_iter()
                .map(|(id, v, s, c)| (id, Some(v), s, c)),
        );
    for (id, only, server, client) in all {
        let case = cases
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no catalogue case {id}"));
        for version in Version::ALL {
            if only.is_some_and(|v| v != version) {
                continue;
            }
            let Some(expected) = case.expectation(version) else {
                continue;
            };
            let scenario = Scenario {
                version,
                server: server.clone(),
                client: client.clone(),
            };
            let predicted = predict(&scenario).expectation.trace;
            checked += 1;
            // A catalogue case may stop earlier (after the S byte, after the handshake): its
            // trace is then a prefix of the whole connection's.
            let generated_steps = scenario.to_case(Default::default(), Vec::new()).steps.len();
            let agrees = if case.steps.len() < generated_steps {
                predicted.starts_with(&expected.trace)
            } else {
                predicted == expected.trace
            };
            if !agrees {
                wrong.push(format!(
                    "{id} on {version}:\n  catalogue: {:?}\n  oracle:    {predicted:?}",
                    expected.trace
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(checked >= 100, "only {checked} case/version pairs checked");
}

#[test]
fn libpq_modes_fall_back_as_libpq_does() {
    let server = ServerSide {
        hba: vec![row(RowKind::HostNoSsl, Method::Trust)],
        ..ServerSide::default()
    };
    let trace = |mode| {
        predict(&Scenario {
            version: Version::Pg15,
            server: server.clone(),
            client: ClientSide::new(Connect::Libpq(mode)),
        })
        .expectation
        .trace
    };
    // prefer: refused over SSL, then a plaintext retry that succeeds.
    let prefer = trace(SslMode::Prefer);
    assert_eq!(prefer[0], "S");
    assert!(
        prefer.contains(&"libpq: retry without SSL".to_owned()),
        "{prefer:?}"
    );
    assert_eq!(prefer.last().map(String::as_str), Some("ReadyForQuery"));
    // require: no retry.
    let require = trace(SslMode::Require);
    assert!(
        !require.iter().any(|l| l.starts_with("libpq:")),
        "{require:?}"
    );
    assert_eq!(
        require.last().map(String::as_str),
        Some("closed (close_notify)")
    );
    // disable: plaintext straight away.
    assert_eq!(
        trace(SslMode::Disable).first().map(String::as_str),
        Some("AuthenticationOk")
    );
}
