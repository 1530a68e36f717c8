//! The rule ids a case can name: every rule of `shared/spec/postgres-ssl-behaviour.md` (parts
//! A, B, C, F), every behaviour-bearing sentence of the seed document (§17.8 of the 8.4 docs),
//! and the case groups of PostgreSQL's own SSL tests (part D). `pgssl-conform coverage` checks
//! each in-scope id against the catalogue.

/// One rule id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpecRule {
    /// The id cases name.
    pub id: &'static str,
    /// What it says, in a few words.
    pub title: &'static str,
    /// `None` when a server's behaviour can show it; otherwise why it is out of scope.
    pub out_of_scope: Option<&'static str>,
}

const fn rule(id: &'static str, title: &'static str) -> SpecRule {
    SpecRule {
        id,
        title,
        out_of_scope: None,
    }
}

const fn outside(id: &'static str, title: &'static str, why: &'static str) -> SpecRule {
    SpecRule {
        id,
        title,
        out_of_scope: Some(why),
    }
}

/// Every rule id, in spec order.
pub const SPEC_RULES: &[SpecRule] = &[
    // Part A: configuration and files.
    rule(
        "A1",
        "ssl = on enables SSL; reply S when loaded, N otherwise",
    ),
    rule(
        "A2",
        "same port for SSL and plain; never SSL on a Unix socket",
    ),
    rule(
        "A3",
        "server certificate and key files, load order and messages",
    ),
    rule("A4", "private-key file permissions"),
    rule("A5", "passphrase-protected key"),
    rule(
        "A6",
        "ssl_ca_file / root.crt and client-certificate requests",
    ),
    rule("A7", "ssl_crl_file and ssl_crl_dir"),
    rule("A8", "files re-read on reload"),
    rule("A9", "ssl_min_protocol_version / ssl_max_protocol_version"),
    rule("A10", "ciphers, ECDH, DH"),
    rule(
        "A11",
        "no tickets, no session cache, no compression, no renegotiation",
    ),
    rule("A12", "a failed reload keeps the old SSL context"),
    rule("A13", "ssl_library, pg_stat_ssl, sslinfo; embedded NULs"),
    // Part B: wire-level negotiation.
    rule(
        "W1",
        "length word: limits, incomplete packets, split packets",
    ),
    rule("W2", "CancelRequest"),
    rule("W3", "SSLRequest reply"),
    rule(
        "W4",
        "bytes pipelined after an encryption request (CVE-2021-23214)",
    ),
    rule(
        "W5",
        "after an SSLRequest: repeated requests, handshake failures",
    ),
    rule("W6", "SSLRequest length not validated"),
    rule(
        "WT",
        "authentication_timeout: a client that stalls before or during startup is closed at the deadline",
    ),
    rule("W7", "GSSENCRequest"),
    rule("W8", "protocol version check; v2-format error"),
    rule(
        "W9",
        "minor version and _pq_. options: NegotiateProtocolVersion",
    ),
    rule(
        "W10",
        "startup parameter parsing: layout, user, replication",
    ),
    rule("W11", "a direct ClientHello against 15"),
    rule("W12", "ALPN on 15: ignored"),
    rule(
        "B-17",
        "17+: direct SSL, ALPN callback, encrypted negotiation replies",
    ),
    // Part C: pg_hba and client certificates.
    rule("H1", "pg_hba row types and the no-entry / reject messages"),
    rule("H2", "hostssl while ssl = off"),
    rule("H3", "clientcert option values"),
    rule("H4", "cert method, clientname, map"),
    rule("H5", "connection-time certificate checks in order"),
    // Part F: PostgreSQL 18 observations.
    rule("F1", "18: direct SSL cases"),
    rule("F2", "18: ALPN on the SSLRequest path"),
    rule("F3", "18: SSLRequest + StartupMessage in one write"),
    rule("F4", "18: startup limits, protocol 3.2, cancel lengths"),
    rule("F5", "NULL ciphers on 15 and 18"),
    rule("F6", "18: key-file permissions"),
    rule("F7", "18: pg_hba clientcert and hostssl wording"),
    rule("F8", "18: reload"),
    // Release changes between 13 and 18, each established live on that release's build.
    rule(
        "V13",
        "13: protocol 2.0 still read; errors before the startup packet in protocol 2",
    ),
    rule(
        "V14",
        "14: protocol 2 removed; each encryption request answered once; new refusal wording",
    ),
    rule(
        "V16",
        "16: application_name escapes non-ASCII as \\xNN; pg_hba.conf named by path",
    ),
    rule(
        "V17",
        "17: out-of-range settings print the unit on both bounds",
    ),
    rule(
        "V17T",
        "17: trace_connection_negotiation logs each SSL, GSS and direct SSL decision",
    ),
    rule(
        "VR",
        "each release reports its own server_version, server_version_num and GUC_REPORT set",
    ),
    rule(
        "VS",
        "each release knows its own postgresql.conf settings: a later release's name is unrecognized and stops the start",
    ),
    // The seed document, §17.8 (PostgreSQL 8.4).
    rule(
        "S1",
        "ssl = on: SSL and plain connections on the same TCP port, at the client's option",
    ),
    rule(
        "S2",
        "OPENSSL_CONF names the OpenSSL configuration file read",
    ),
    rule("S3", "ssl_ciphers restricts the server's ciphers"),
    rule(
        "S4",
        "NULL-SHA / NULL-MD5 give authentication without encryption",
    ),
    rule(
        "S5",
        "server.crt and server.key must exist to start in SSL mode",
    ),
    rule("S6", "server.key must disallow group and world access"),
    rule(
        "S7",
        "a passphrase-protected key is prompted for; no start until entered",
    ),
    rule(
        "S8",
        "root.crt: client certificates requested; clientcert=1 requires a trusted one",
    ),
    rule(
        "S9",
        "the client certificate must be signed by a trusted CA",
    ),
    rule("S10", "root.crl entries are checked if the file exists"),
    rule(
        "S11",
        "clientcert only on hostssl rows; default: no verification",
    ),
    rule("S12", "the cert authentication method"),
    rule("S13", "server files are examined only at server start"),
    outside(
        "S14",
        "§17.8.3: creating a self-signed certificate with openssl req",
        "a client-side tool procedure; covered by the tests of `pgssl-server init`",
    ),
    outside(
        "S15",
        "§17.8.1: setting up certificates on the client (Section 30.17)",
        "client configuration, not server behaviour",
    ),
    // Part D: PostgreSQL's src/test/ssl groups.
    rule("D1.1", "001_ssltests: ssl_library"),
    rule(
        "D1.2",
        "001_ssltests: server start-up with passphrase and protocol range",
    ),
    rule(
        "D1.3",
        "001_ssltests: client checks of the server certificate",
    ),
    rule("D1.4", "001_ssltests: client-side CRL"),
    rule("D1.5", "001_ssltests: host-name verification"),
    rule("D1.6", "001_ssltests: IP in CN"),
    rule("D1.7", "001_ssltests: SAN matching"),
    rule("D1.8", "001_ssltests: IP SANs"),
    rule("D1.9", "001_ssltests: CN and SAN precedence"),
    rule("D1.10", "001_ssltests: no CN and no SAN"),
    rule("D1.11", "001_ssltests: server certificate revoked"),
    rule(
        "D1.12",
        "001_ssltests: pg_stat_ssl without a client certificate",
    ),
    rule("D1.13", "001_ssltests: libpq min/max protocol options"),
    outside(
        "D1.14",
        "001_ssltests (18): sslkeylogfile, sslcertmode, sslrootcert=system",
        "libpq 18 client options; the CI client is libpq 15",
    ),
    rule(
        "D1.15",
        "001_ssltests: server-side certificate authorization",
    ),
    rule("D1.16", "001_ssltests: clientcert on verifydb"),
    rule("D1.17", "001_ssltests: intermediate CA sent by the client"),
    rule("D1.18", "001_ssltests: server-side CRL directory"),
    rule("D3", "003_sslinfo: the sslinfo functions"),
];

/// The rule with this id.
pub fn find(id: &str) -> Option<&'static SpecRule> {
    SPEC_RULES.iter().find(|r| r.id == id)
}
