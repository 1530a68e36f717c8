//! proptest strategies for whole scenarios, per version. Each choice lists its simplest value
//! first, so a failing scenario shrinks towards the harness defaults (ssl on, valid files,
//! mode 0600, no options) and shows only what matters. Settings a version does not have are
//! not drawn for it (the seed has no `ssl_ca_file`, no protocol range, no passphrase command).

use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};

use crate::case::{CertKind, SslMode, Version};
use crate::model::{TlsProtocol, expectations};

use super::scenario::{
    ClientCert, ClientCertOption, ClientName, ClientSide, ClientTls, Connect, Encryption,
    FileState, Groups, HbaRow, IdentLine, KeyFile, KeyOwner, Method, Passphrase, RowKind, Scenario,
    ServerCert, ServerCiphers, ServerSide, WriteMode,
};

/// One of `items`, by weight; shrinks towards the first.
fn weighted<T: Clone + std::fmt::Debug + 'static>(items: Vec<(u32, T)>) -> BoxedStrategy<T> {
    Union::new_weighted(
        items
            .into_iter()
            .map(|(w, x)| (w, Just(x).boxed()))
            .collect(),
    )
    .boxed()
}

/// Scenarios for `version`.
pub fn scenario(version: Version) -> BoxedStrategy<Scenario> {
    (server(version), client())
        .prop_map(move |(server, client)| Scenario {
            version,
            server,
            client,
        })
        .boxed()
}

fn key_for(cert: ServerCert, version: Version) -> BoxedStrategy<KeyFile> {
    let base = vec![
        (80, KeyFile::Matching),
        (4, KeyFile::Missing),
        (4, KeyFile::Garbage),
        (2, KeyFile::Directory),
    ];
    match cert {
        ServerCert::Generated(_) => {
            let mut v = base;
            v.push((8, KeyFile::Mismatched));
            weighted(v)
        }
        ServerCert::Pki => {
            let passphrases = if expectations(version).file_settings {
                vec![
                    (3, Passphrase::Right),
                    (1, Passphrase::Wrong),
                    (1, Passphrase::CommandFails),
                    (1, Passphrase::None),
                ]
            } else {
                vec![(1, Passphrase::None)]
            };
            prop_oneof![
                80 => weighted(base),
                20 => weighted(passphrases).prop_map(KeyFile::Protected),
            ]
            .boxed()
        }
    }
}

fn server(version: Version) -> BoxedStrategy<ServerSide> {
    let r = expectations(version);
    let cert = weighted(vec![
        (3, ServerCert::Generated(CertKind::Ec)),
        (1, ServerCert::Generated(CertKind::Rsa)),
        (2, ServerCert::Pki),
    ]);
    let cert_and_key = cert.prop_flat_map(move |c| (Just(c), key_for(c, version)));
    let cert_file = weighted(vec![
        (92, FileState::Valid),
        (4, FileState::Missing),
        (4, FileState::Garbage),
    ]);
    let key_mode = weighted(vec![
        (80, 0o600),
        (5, 0o400),
        (5, 0o640),
        (5, 0o644),
        (5, 0o660),
    ]);
    let key_owner = weighted(vec![
        (82, KeyOwner::Server),
        (15, KeyOwner::Root),
        (3, KeyOwner::Other),
    ]);
    let mut ca = vec![
        (50, None),
        (40, Some(FileState::Valid)),
        (4, Some(FileState::Garbage)),
    ];
    let mut crl = vec![(70, None), (25, Some(FileState::Valid))];
    if r.file_settings {
        ca.push((4, Some(FileState::Missing)));
        crl.push((3, Some(FileState::Missing)));
    }
    crl.push((2, Some(FileState::Garbage)));
    let ciphers = vec![
        (60, None),
        (10, Some(ServerCiphers::High)),
        (10, Some(ServerCiphers::Aes128Pair)),
        (5, Some(ServerCiphers::Null)),
        (5, Some(ServerCiphers::NullSeclevel0)),
    ];
    // No `bogus` list: OpenSSL 1.1.1 (every npm PostgreSQL build) accepts a list without TLS
    // 1.2 ciphers, OpenSSL 3 refuses it, so whether the server starts depends on the library.
    // It is a catalogue case with accepted differences per build, not a generated one.
    let mut groups = vec![
        (80, None),
        (8, Some(Groups::Secp384r1)),
        (6, Some(Groups::X25519)),
        (3, Some(Groups::Bogus)),
    ];
    if r.groups == crate::model::GroupsSetting::GroupsList {
        groups.push((6, Some(Groups::X25519P256)));
    }
    let range = if r.file_settings {
        weighted(vec![
            (80, None),
            (10, Some(TlsProtocol::Tls12)),
            (10, Some(TlsProtocol::Tls13)),
        ])
    } else {
        Just(None).boxed()
    };
    let hba = (
        prop::collection::vec(hba_row(version), 1..=3),
        weighted(vec![(6, true), (4, false)]),
    )
        .prop_map(|(mut rows, catch_all)| {
            if catch_all {
                rows.push(HbaRow::trust_all());
            }
            rows
        });
    let ident_line = (
        weighted(vec![
            (3, "ssltestuser"),
            (2, "CN=ssltestuser"),
            (2, "/^ssl"),
            (1, "/^CN=.*user$"),
        ]),
        weighted(vec![
            (2, "anotheruser"),
            (2, "ssltestuser"),
            (1, "postgres"),
        ]),
    )
        .prop_map(|(system, user)| IdentLine { system, user });
    let ident = prop::collection::vec(ident_line, 0..=2);
    (
        weighted(vec![(85, true), (15, false)]),
        cert_and_key,
        cert_file,
        (key_mode, key_owner),
        (
            weighted(ca),
            weighted(crl),
            weighted(ciphers),
            weighted(groups),
            weighted(vec![(95, false), (5, true)]),
        ),
        (range.clone(), range),
        (hba, ident),
    )
        .prop_map(
            |(
                ssl,
                (cert, key),
                cert_file,
                (key_mode, key_owner),
                (ca, crl, ciphers, groups, openssl_seclevel0),
                (min_tls, max_tls),
                (hba, ident),
            )| {
                // A root-owned key is mostly 0640 (readable through the group), the way
                // Debian's snakeoil key is installed; 0600 root-owned keys stay as 0400.
                let key_mode = match (key_owner, key_mode) {
                    (KeyOwner::Root, 0o600) => 0o640,
                    (_, m) => m,
                };
                ServerSide {
                    ssl,
                    cert,
                    cert_file,
                    key,
                    key_mode,
                    key_owner,
                    ca,
                    crl,
                    ciphers,
                    groups,
                    openssl_seclevel0,
                    min_tls,
                    max_tls,
                    hba,
                    ident,
                }
            },
        )
        .boxed()
}

fn hba_row(version: Version) -> BoxedStrategy<HbaRow> {
    let r = expectations(version);
    let mut kinds = vec![
        (4, RowKind::Host),
        (4, RowKind::HostSsl),
        (2, RowKind::HostNoSsl),
        (1, RowKind::Local),
    ];
    if r.clientcert_verify_full {
        kinds.push((1, RowKind::HostGssEnc));
        kinds.push((1, RowKind::HostNoGssEnc));
    }
    let kind = weighted(kinds);
    let clientname = if r.clientname {
        weighted(vec![
            (6, None),
            (2, Some(ClientName::Cn)),
            (2, Some(ClientName::Dn)),
        ])
    } else {
        Just(None).boxed()
    };
    let map = weighted(vec![(6, false), (4, true)]);
    let database = weighted(vec![
        (6, "all"),
        (2, "postgres"),
        (1, "template1"),
        (1, "sameuser"),
    ]);
    let user = weighted(vec![
        (6, "all"),
        (2, "postgres"),
        (2, "ssltestuser"),
        (1, "anotheruser"),
    ]);
    let address = weighted(vec![
        (6, "127.0.0.1/32"),
        (1, "0.0.0.0/0"),
        (1, "10.0.0.0/8"),
        (1, "::1/128"),
    ]);
    let method = weighted(vec![
        (6, Method::Trust),
        (1, Method::Reject),
        (3, Method::Cert),
    ]);
    let mut clientcert = vec![(8, None), (2, Some(ClientCertOption::VerifyCa))];
    if r.clientcert_verify_full {
        clientcert.push((2, Some(ClientCertOption::VerifyFull)));
    }
    (
        (kind, database, user, address, method),
        (weighted(clientcert), clientname, map),
    )
        .prop_map(
            |((kind, database, user, address, method), (clientcert, clientname, map))| {
                // clientcert on a non-hostssl row is an error the oracle predicts; keep it rare
                // and never on local rows, whose other options it would hide.
                let clientcert = match kind {
                    RowKind::HostSsl => clientcert,
                    RowKind::Host if database == "template1" => clientcert,
                    _ => None,
                };
                // Likewise cert on a row that is not hostssl.
                let method = match (method, kind) {
                    (Method::Cert, RowKind::HostSsl) => Method::Cert,
                    (Method::Cert, _) if user == "anotheruser" => Method::Cert,
                    (Method::Cert, _) => Method::Trust,
                    (m, _) => m,
                };
                // clientname and map only where they are valid: hostssl cert rows.
                let cert_row = method == Method::Cert && kind == RowKind::HostSsl;
                HbaRow {
                    kind,
                    database,
                    user,
                    address,
                    method,
                    clientcert,
                    clientname: clientname.filter(|_| cert_row),
                    map: map && cert_row,
                }
            },
        )
        .boxed()
}

fn client() -> BoxedStrategy<ClientSide> {
    let connect = prop_oneof![
        5 => weighted(SslMode::ALL.iter().map(|m| (1, Connect::Libpq(*m))).collect()),
        1 => weighted(vec![(3, WriteMode::Whole), (1, WriteMode::Split)])
            .prop_map(|w| Connect::Raw(Encryption::Plain, w)),
        3 => weighted(vec![
            (4, WriteMode::Whole),
            (1, WriteMode::Split),
            (2, WriteMode::Pipelined),
            (1, WriteMode::Padded),
        ])
        .prop_map(|w| Connect::Raw(Encryption::SslRequest, w)),
        1 => Just(Connect::Raw(Encryption::Direct, WriteMode::Whole)),
        1 => Just(Connect::Unix),
    ];
    let range = weighted(vec![
        (70, (None, None)),
        (10, (None, Some(TlsProtocol::Tls12))),
        (5, (Some(TlsProtocol::Tls13), None)),
        (5, (Some(TlsProtocol::Tls12), Some(TlsProtocol::Tls12))),
        (5, (Some(TlsProtocol::Tls13), Some(TlsProtocol::Tls13))),
        (5, (Some(TlsProtocol::Tls12), None)),
    ]);
    let ciphers = weighted(vec![
        (80, None),
        (5, Some("ECDHE-ECDSA-AES128-GCM-SHA256")),
        (5, Some("ECDHE-RSA-AES128-GCM-SHA256")),
        (5, Some("AES256-SHA")),
        (5, Some("NULL-SHA:@SECLEVEL=0")),
    ]);
    let alpn = weighted(vec![
        (55, None),
        (30, Some(vec!["postgresql"])),
        (8, Some(vec!["http/1.1"])),
        (7, Some(vec!["foo", "postgresql"])),
    ]);
    let cert = weighted(vec![
        (60, None),
        (25, Some(ClientCert::Good)),
        (8, Some(ClientCert::Revoked)),
        (7, Some(ClientCert::UnknownCa)),
    ]);
    let root = weighted(vec![(3, "root+server_ca.crt"), (1, "root+client_ca.crt")]);
    let host = weighted(vec![
        (3, "common-name.pg-ssltest.test"),
        (1, "wrong.pg-ssltest.test"),
    ]);
    let user = weighted(vec![
        (4, "postgres"),
        (3, "ssltestuser"),
        (1, "anotheruser"),
    ]);
    let database = weighted(vec![(4, "postgres"), (1, "template1")]);
    (
        connect,
        (range, ciphers, alpn, cert),
        (root, host),
        (user, database),
    )
        .prop_map(
            |(connect, ((min, max), ciphers, alpn, cert), (root, host), (user, database))| {
                let mut tls = ClientTls {
                    min,
                    max,
                    ciphers,
                    alpn,
                    cert,
                    root: None,
                    host: None,
                };
                // A rejected client certificate is reported by a TLS 1.3 server after the
                // client's handshake has finished, racing the client's next read; TLS 1.2
                // makes the alert part of the handshake.
                if matches!(cert, Some(ClientCert::Revoked | ClientCert::UnknownCa)) {
                    tls.max = Some(TlsProtocol::Tls12);
                    if tls.min == Some(TlsProtocol::Tls13) {
                        tls.min = None;
                    }
                }
                match connect {
                    Connect::Libpq(SslMode::VerifyCa) => tls.root = Some(root),
                    Connect::Libpq(SslMode::VerifyFull) => {
                        tls.root = Some(root);
                        tls.host = Some(host);
                    }
                    _ => {}
                }
                ClientSide {
                    connect,
                    tls,
                    user,
                    database,
                }
            },
        )
        .boxed()
}
