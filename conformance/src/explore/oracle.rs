//! The oracle: a scenario's expected trace for its version, predicted from the rules model
//! (`crate::model`). It decides in the order the rules apply: whether the server starts
//! (certificate, key file, key permissions, passphrase, key pair, protocol range, ciphers, CA,
//! CRL, then pg_hba.conf), what it answers to the client's request, how the handshake ends,
//! and what authentication does. Each decision records the rule ids it used, so the run can
//! report which rules the generated scenarios exercised.

use std::collections::BTreeSet;

use crate::case::{CertKind, Expectation, SslMode, Version};
use crate::model::{
    GroupsSetting, KeyPermissions, PipelinedAfterS, TlsProtocol, VersionExpectations, expectations,
    text,
};

use super::scenario::{
    ClientCert, ClientCertOption, ClientName, Connect, Encryption, FileState, Groups, KeyFile,
    KeyOwner, Method, Passphrase, RowKind, Scenario, ServerCert, ServerCiphers, WriteMode,
};

/// A prediction: the expected trace and the rule ids that decided it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prediction {
    /// What the client should observe.
    pub expectation: Expectation,
    /// The rule ids used, sorted.
    pub rules: BTreeSet<&'static str>,
}

/// Predicts `scenario`'s trace.
pub fn predict(scenario: &Scenario) -> Prediction {
    let mut o = Oracle {
        s: scenario,
        r: expectations(scenario.version),
        used: BTreeSet::new(),
        trace: Vec::new(),
    };
    o.run();
    let log = fatal_log_lines(&o.trace);
    Prediction {
        expectation: Expectation {
            trace: o.trace,
            log,
            log_absent: Vec::new(),
        },
        rules: o.used,
    }
}

/// The log lines a trace implies: every FATAL the client is sent is also logged, as
/// `FATAL:  message`, in the same order (the run's log check fails on an unlisted FATAL).
fn fatal_log_lines(trace: &[String]) -> Vec<String> {
    trace
        .iter()
        .filter_map(|l| {
            if let Some(rest) = l.strip_prefix("E FATAL ") {
                // "E FATAL CODE message"
                rest.split_once(' ').map(|(_, m)| format!("FATAL:  {m}"))
            } else {
                l.strip_prefix("v2 error: ")
                    .filter(|m| m.starts_with("FATAL:  "))
                    .map(|m| m.trim_end().to_owned())
            }
        })
        .collect()
}

struct Oracle<'a> {
    s: &'a Scenario,
    r: &'static VersionExpectations,
    used: BTreeSet<&'static str>,
    trace: Vec<String>,
}

/// Which connection a login arrives on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    Plain,
    Ssl,
    Unix,
}

/// How a login attempt ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Login {
    Ready,
    Refused,
    HandshakeFailed,
    Other,
}

impl Oracle<'_> {
    fn rule(&mut self, ids: &[&'static str]) {
        self.used.extend(ids.iter().copied());
    }

    fn saw(&mut self, line: impl Into<String>) {
        self.trace.push(line.into());
    }

    fn run(&mut self) {
        if let Some(lines) = self.refusal() {
            for (severity, text) in lines {
                self.trace
                    .push(format!("start: refused: {severity}:  {text}"));
            }
            return;
        }
        let client = &self.s.client;
        match client.connect {
            Connect::Libpq(mode) => self.libpq(mode),
            Connect::Raw(Encryption::Plain, mode) => {
                if mode == WriteMode::Split {
                    self.rule(&["W1"]);
                }
                self.rule(&["S1", "A2"]);
                self.login(false, None);
            }
            Connect::Raw(Encryption::SslRequest, mode) => self.raw_ssl_request(mode),
            Connect::Raw(Encryption::Direct, _) => self.direct(),
            Connect::Unix => {
                // Never SSL on a Unix socket, whatever ssl says.
                self.rule(&["A2", "W3"]);
                self.saw("N");
                self.login_over(Via::Unix, None);
            }
        }
    }

    /// Why the server refuses to start, as (severity, text) lines; `None` when it starts.
    fn refusal(&mut self) -> Option<Vec<(&'static str, String)>> {
        let s = &self.s.server;
        let fatal = |t: String| Some(vec![("FATAL", t)]);
        if s.ssl {
            self.rule(&["A1", "A3", "S5"]);
            match s.cert_file {
                FileState::Missing => return fatal(text::cert_file("No such file or directory")),
                FileState::Garbage => return fatal(text::cert_file("no start line")),
                FileState::Valid => {}
            }
            if s.key == KeyFile::Missing {
                return fatal(text::key_access("No such file or directory"));
            }
            self.rule(&["A4", "S6"]);
            if s.key == KeyFile::Directory {
                return fatal(text::KEY_NOT_REGULAR.to_owned());
            }
            if self.s.version == Version::Pg18 {
                self.rule(&["F6"]);
            }
            let mode = s.key_mode;
            let too_open = match self.r.key_permissions {
                KeyPermissions::NoGroupOrWorld { detail } => (mode & 0o077 != 0).then_some(detail),
                KeyPermissions::OwnerOrRoot { detail } => {
                    let allowed = match s.key_owner {
                        KeyOwner::Server => 0o600,
                        KeyOwner::Root => 0o640,
                        KeyOwner::Other => return fatal(text::KEY_OWNER.to_owned()),
                    };
                    (mode & !allowed & 0o777 != 0).then_some(detail)
                }
            };
            if let Some(detail) = too_open {
                return Some(vec![
                    ("FATAL", text::KEY_GROUP_OR_WORLD.to_owned()),
                    ("DETAIL", detail.to_owned()),
                ]);
            }
            // The server reads the key through its group (root-owned) or not at all (owned by
            // someone else, which only 8.4's rule lets through to here).
            let readable = match s.key_owner {
                KeyOwner::Server => true,
                KeyOwner::Root => mode & 0o040 != 0,
                KeyOwner::Other => false,
            };
            if !readable {
                return fatal(text::key_load("Permission denied"));
            }
            match s.key {
                KeyFile::Garbage => return fatal(text::key_load("*")),
                KeyFile::Protected(passphrase) => {
                    self.rule(&["A5", "S7"]);
                    let passphrase = if self.r.file_settings {
                        passphrase
                    } else {
                        Passphrase::None
                    };
                    match passphrase {
                        Passphrase::Right => {}
                        Passphrase::Wrong => return fatal(text::key_load("bad decrypt")),
                        Passphrase::CommandFails => {
                            return Some(vec![
                                ("FATAL", "command \"false\" failed".to_owned()),
                                ("DETAIL", "child process exited with exit code 1".to_owned()),
                            ]);
                        }
                        Passphrase::None => return fatal(text::key_load("*")),
                    }
                }
                KeyFile::Mismatched => {
                    return match s.cert.kind() {
                        CertKind::Rsa => fatal(text::key_load("key values mismatch")),
                        CertKind::Ec => fatal(text::NO_CERTIFICATE_ASSIGNED.to_owned()),
                    };
                }
                KeyFile::Matching | KeyFile::Missing | KeyFile::Directory => {}
            }
            if let (Some(min), Some(max)) = (s.min_tls, s.max_tls) {
                self.rule(&["A9"]);
                if min > max {
                    return Some(vec![
                        ("FATAL", text::PROTOCOL_RANGE.to_owned()),
                        ("DETAIL", text::PROTOCOL_RANGE_DETAIL.to_owned()),
                    ]);
                }
            }
            if let Some(groups) = s.groups {
                self.rule(&["A10"]);
                match (self.r.groups, groups) {
                    (_, Groups::Secp384r1) | (GroupsSetting::GroupsList, _)
                        if groups != Groups::Bogus => {}
                    (GroupsSetting::EcdhCurve, Groups::X25519) => {
                        return fatal(text::ECDH_NO_KEY.to_owned());
                    }
                    (GroupsSetting::EcdhCurve, _) => {
                        return fatal(text::unrecognized_curve(groups.value()));
                    }
                    (GroupsSetting::GroupsList, _) => {
                        return Some(vec![
                            ("FATAL", text::GROUPS_FAILED.to_owned()),
                            ("HINT", text::GROUPS_HINT.to_owned()),
                        ]);
                    }
                }
            }
            if let Some(ciphers) = s.ciphers {
                self.rule(&["A10", "S3"]);
                if ciphers == ServerCiphers::Bogus {
                    return fatal(self.r.bad_cipher_list.to_owned());
                }
            }
            if self.r.file_settings {
                let implicit = self.r.implicit_root_files;
                // The CA file (A6), then the CRL (A7): the FATAL text, the names a missing and
                // a garbage file have.
                type Root = (
                    Option<FileState>,
                    &'static str,
                    fn(&str, &str) -> String,
                    &'static str,
                    &'static str,
                );
                let roots: [Root; 2] = [
                    (s.ca, "A6", text::ca_file, "nonexistent.crt", "garbage.crt"),
                    (
                        s.crl,
                        "A7",
                        text::crl_file,
                        "nonexistent.crl",
                        "garbage.crl",
                    ),
                ];
                for (state, rule, failed, missing, bad) in roots {
                    if state.is_some() {
                        self.rule(&[rule]);
                    }
                    match state {
                        Some(FileState::Missing) => {
                            return fatal(failed(missing, "No such file or directory"));
                        }
                        // The seed's implicit root.crt and root.crl: a bad one is only logged.
                        Some(FileState::Garbage) if !implicit => {
                            return fatal(failed(bad, "*"));
                        }
                        _ => {}
                    }
                }
            }
        }
        self.hba_refusal()
            .then(|| vec![("FATAL", self.r.hba_load_failed.to_owned())])
    }

    /// Whether pg_hba.conf fails to load (H2, H3, H5).
    fn hba_refusal(&mut self) -> bool {
        let s = &self.s.server;
        let version = self.s.version;
        let mut bad = false;
        for row in &s.hba {
            let hostssl = row.kind == RowKind::HostSsl;
            if row.method == Method::Cert && !hostssl {
                self.rule(&["H3", "H4"]);
                bad = true;
            }
            if row.clientcert.is_some() && !hostssl {
                self.rule(&["H3", "H5"]);
                bad = true;
            }
            if row.method == Method::Cert
                && row.clientcert == Some(ClientCertOption::VerifyCa)
                && self.r.cert_rows_refuse_verify_ca
            {
                self.rule(&["H3", "H5"]);
                bad = true;
            }
            if hostssl && !s.ssl {
                // 8.4: an error; 10+: a warning, and the row never matches.
                self.rule(&["H2"]);
                if self.s.version == Version::Pg18 {
                    self.rule(&["F7"]);
                }
                bad |= self.r.hostssl_needs_ssl;
            }
            // 8.4 checks clientcert=1 against the root store when it reads the file.
            if version == Version::Seed && row.clientcert.is_some() && hostssl && !s.ca_loaded() {
                self.rule(&["H3", "S8"]);
                bad = true;
            }
        }
        if bad {
            self.rule(&["H3"]);
        }
        bad
    }

    /// The S/N answer to an SSLRequest.
    fn answer(&mut self) -> bool {
        self.rule(&["W3", "A1"]);
        let ssl = self.s.server.ssl;
        self.saw(if ssl { "S" } else { "N" });
        ssl
    }

    fn raw_ssl_request(&mut self, mode: WriteMode) {
        match mode {
            WriteMode::Split => self.rule(&["W1"]),
            WriteMode::Padded => self.rule(&["W6"]),
            _ => {}
        }
        let s = self.answer();
        if mode == WriteMode::Pipelined {
            self.rule(&["W4"]);
            if !s {
                self.refuse_pipelined(false);
                return;
            }
            match self.r.pipelined_after_s {
                PipelinedAfterS::FedIntoTls => {
                    self.rule(&["F3"]);
                    self.saw("tls failed: closed");
                }
                PipelinedAfterS::RefusedAfterHandshake => {
                    if self.handshake(false) {
                        self.refuse_pipelined(true);
                    }
                }
            }
            return;
        }
        if s {
            if self.handshake(false) {
                self.login(true, self.s.client.tls.cert);
            }
        } else {
            self.login(false, None);
        }
    }

    fn refuse_pipelined(&mut self, ssl: bool) {
        if self.r.pre_startup_errors_v2 {
            self.saw(format!("v2 error: FATAL:  {}", text::UNENCRYPTED_AFTER_SSL));
        } else {
            self.saw(format!("E FATAL 08P01 {}", text::UNENCRYPTED_AFTER_SSL));
            self.saw(format!("  DETAIL: {}", text::MITM_DETAIL));
        }
        self.closed(ssl);
    }

    fn direct(&mut self) {
        self.rule(if self.r.direct_ssl {
            &["B-17", "F1"]
        } else {
            &["W11"]
        });
        if !self.r.direct_ssl || !self.s.server.ssl {
            self.saw("tls failed: closed");
            return;
        }
        if !self.handshake(true) {
            return;
        }
        if self.s.client.tls.offers_postgresql() {
            self.login(true, self.s.client.tls.cert);
        } else {
            self.saw("closed (close_notify)");
        }
    }

    /// The TLS handshake after S (or direct); records its line, returns whether it completed.
    fn handshake(&mut self, direct: bool) -> bool {
        let server = &self.s.server;
        let tls = &self.s.client.tls;
        self.rule(&["A9"]);
        let server_min = server.min_tls.unwrap_or(self.r.default_min_tls);
        let server_max = server.max_tls.unwrap_or(TlsProtocol::Tls13);
        let low = server_min.max(tls.min.unwrap_or(TlsProtocol::Tls10));
        let high = server_max.min(tls.max.unwrap_or(TlsProtocol::Tls13));
        if low > high {
            self.saw("tls failed: alert protocol_version");
            return false;
        }
        let cipher = if high == TlsProtocol::Tls13 {
            "TLS_AES_256_GCM_SHA384"
        } else {
            self.rule(&["A10"]);
            if server.openssl_seclevel0 {
                self.rule(&["S2"]);
            }
            match tls12_cipher(
                server.cert.kind(),
                server.ciphers,
                server.openssl_seclevel0,
                tls.ciphers,
            ) {
                Some(c) => c,
                None => {
                    if matches!(
                        server.ciphers,
                        Some(ServerCiphers::Null | ServerCiphers::NullSeclevel0)
                    ) {
                        self.rule(&["S4", "F5"]);
                    }
                    self.saw("tls failed: alert handshake_failure");
                    return false;
                }
            }
        };
        let mut line = format!("tls {} {cipher}", high.name());
        if cipher == "NULL-SHA" {
            self.rule(&["S4", "F5"]);
        }
        if tls.alpn.is_some() {
            self.rule(if !self.r.alpn {
                &["W12"]
            } else if direct {
                &["B-17"]
            } else {
                &["B-17", "F2"]
            });
        }
        if self.r.alpn && tls.alpn.is_some() {
            if tls.offers_postgresql() {
                line.push_str(" alpn=postgresql");
            } else {
                self.saw("tls failed: alert no_application_protocol");
                return false;
            }
        }
        if let Some(root) = tls.root {
            // The client checks the server's certificate (libpq verify-ca / verify-full).
            let chain_ok = server.cert == ServerCert::Pki && root == "root+server_ca.crt";
            let name_ok = tls.host.is_none_or(|h| h == "common-name.pg-ssltest.test");
            if !(chain_ok && name_ok) {
                self.saw("tls failed: certificate verify failed");
                return false;
            }
        }
        if server.ca_loaded() {
            self.rule(&["A6", "S8"]);
            line.push_str(" ca_names=2");
            match tls.cert {
                // OpenSSL completes the client's chain from its own trust store: a client
                // that trusts the server CA (verify-ca/verify-full against root+server_ca.crt)
                // sends the intermediate with its server-CA certificate, which then chains to
                // the root in the server's CA file -- unless a CRL is loaded: CRL_CHECK_ALL
                // then wants a CRL for the server CA too, which root+client.crl lacks.
                Some(ClientCert::UnknownCa)
                    if tls.root != Some("root+server_ca.crt")
                        || server.crl == Some(FileState::Valid) =>
                {
                    self.rule(&["S9"]);
                    self.saw("tls failed: alert unknown_ca");
                    return false;
                }
                Some(ClientCert::Revoked) if server.crl == Some(FileState::Valid) => {
                    self.rule(&["A7", "S10"]);
                    self.saw("tls failed: alert certificate_revoked");
                    return false;
                }
                Some(_) => self.rule(&["S9"]),
                None => {}
            }
        }
        self.saw(line);
        true
    }

    fn closed(&mut self, ssl: bool) {
        self.saw(if ssl {
            "closed (close_notify)"
        } else {
            "closed"
        });
    }

    /// The startup packet on a TCP connection and what authentication makes of it.
    fn login(&mut self, ssl: bool, cert: Option<ClientCert>) -> Login {
        self.login_over(if ssl { Via::Ssl } else { Via::Plain }, cert)
    }

    fn login_over(&mut self, via: Via, cert: Option<ClientCert>) -> Login {
        let s = self.s;
        let server = &s.server;
        let user = s.client.user;
        let database = s.client.database;
        let ssl = via == Via::Ssl;
        let host = if via == Via::Unix {
            "[local]"
        } else {
            "127.0.0.1"
        };
        // The certificate the server verified, if it asked for one.
        let cert = cert.filter(|_| ssl && server.ca_loaded());
        self.rule(&["H1"]);
        let row = server.hba.iter().find(|row| {
            let kind = match (row.kind, via) {
                (RowKind::Local, Via::Unix) => true,
                (_, Via::Unix) | (RowKind::Local, _) => false,
                (RowKind::Host, _) => true,
                (RowKind::HostSsl, _) => ssl,
                (RowKind::HostNoSsl, _) => !ssl,
                // No client here encrypts with GSSAPI.
                (RowKind::HostGssEnc, _) => false,
                (RowKind::HostNoGssEnc, _) => true,
            };
            let db = row.database == "all"
                || row.database == database
                || (row.database == "sameuser" && database == user);
            let who = row.user == "all" || row.user == user;
            let addr =
                row.kind == RowKind::Local || matches!(row.address, "127.0.0.1/32" | "0.0.0.0/0");
            kind && db && who && addr
        });
        let fatal = |o: &mut Self, code: &str, message: String| {
            o.saw(format!("E FATAL {code} {message}"));
            o.closed(ssl);
            Login::Refused
        };
        let words = self.r.encryption_words;
        let encryption = if ssl { words.0 } else { words.1 };
        let Some(row) = row else {
            return fatal(
                self,
                "28000",
                text::no_entry(host, user, database, encryption),
            );
        };
        if row.kind == RowKind::HostSsl {
            self.rule(&["S11"]);
        }
        // The clientcert checks (cert implies verify-full) come before the method, reject
        // included; the CN comparison after it.
        let wants_cert = row.method == Method::Cert || row.clientcert.is_some();
        if wants_cert {
            self.rule(&["H5"]);
            if !server.ca_loaded() {
                return fatal(self, "F0000", text::NO_ROOT_STORE.to_owned());
            }
            if cert.is_none() {
                self.rule(&["S12"]);
                return fatal(self, "28000", text::NEEDS_CLIENT_CERT.to_owned());
            }
        }
        if row.method == Method::Reject {
            return fatal(
                self,
                "28000",
                text::rejected(host, user, database, encryption),
            );
        }
        if wants_cert {
            // client.crt and client-revoked.crt carry only CN ssltestuser (DN
            // CN=ssltestuser); a server-CA certificate that verified (see `handshake`) carries
            // the server's name, which no user or map line here matches.
            let peer = match (cert, row.clientname) {
                (Some(ClientCert::Good | ClientCert::Revoked), Some(ClientName::Dn)) => {
                    "CN=ssltestuser"
                }
                (Some(ClientCert::Good | ClientCert::Revoked), _) => "ssltestuser",
                _ => "common-name.pg-ssltest.test",
            };
            let cn_matches = if row.map {
                self.rule(&["H4"]);
                server
                    .ident
                    .iter()
                    .any(|l| l.user == user && ident_matches(l.system, peer))
            } else {
                peer == user
            };
            if row.clientname.is_some() {
                self.rule(&["H4"]);
            }
            if row.method == Method::Cert {
                self.rule(&["H4", "S12"]);
                if !cn_matches {
                    return fatal(self, "28000", text::cert_failed(user));
                }
            } else if row.clientcert == Some(ClientCertOption::VerifyFull) && !cn_matches {
                return fatal(self, "28000", text::method_failed("trust", user));
            }
        }
        for line in text::LOGGED_IN {
            self.saw(line);
        }
        Login::Ready
    }

    /// libpq's sequence (see `client::Client::libpq`).
    fn libpq(&mut self, mode: SslMode) {
        self.rule(&["H1"]);
        let cert = self.s.client.tls.cert;
        match mode {
            SslMode::Disable => {
                self.login(false, None);
            }
            SslMode::Allow => {
                if self.login(false, None) == Login::Refused {
                    self.saw("libpq: retry with SSL");
                    self.ssl_login(true, cert);
                }
            }
            SslMode::Prefer => {
                if matches!(
                    self.ssl_login(true, cert),
                    Login::HandshakeFailed | Login::Refused
                ) {
                    self.saw("libpq: retry without SSL");
                    self.login(false, None);
                }
            }
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                self.ssl_login(false, cert);
            }
        }
    }

    /// SSLRequest, handshake and login; on N a plaintext login when `fall_back`. A refusal
    /// over SSL is `Refused` only then (prefer retries it).
    fn ssl_login(&mut self, fall_back: bool, cert: Option<ClientCert>) -> Login {
        if self.answer() {
            if !self.handshake(false) {
                return Login::HandshakeFailed;
            }
            self.login(true, cert)
        } else if fall_back {
            match self.login(false, None) {
                // A plaintext refusal after N is not retried.
                Login::Refused => Login::Other,
                other => other,
            }
        } else {
            self.saw(text::SSL_REQUIRED);
            Login::Other
        }
    }
}

/// A pg_ident.conf system-user field against the certificate's name: exact, or after `/` a
/// regular expression (only the anchored forms the strategies draw: `^prefix` and
/// `^CN=.*suffix$`).
fn ident_matches(system: &str, peer: &str) -> bool {
    match system.strip_prefix('/') {
        None => system == peer,
        Some(re) => {
            let re = re.strip_prefix('^').unwrap_or(re);
            match re.split_once(".*") {
                Some((head, tail)) => {
                    let tail = tail.strip_suffix('$').unwrap_or(tail);
                    peer.len() >= head.len() + tail.len()
                        && peer.starts_with(head)
                        && peer.ends_with(tail)
                }
                None => peer.starts_with(re),
            }
        }
    }
}

/// The TLS 1.2 cipher OpenSSL settles on, if any: the client's single cipher when both sides
/// allow it and the key can use it, else the strongest suite of the server's list for the key
/// type (client and server preference agree for the lists generated).
fn tls12_cipher(
    kind: CertKind,
    server: Option<ServerCiphers>,
    seclevel0: bool,
    client: Option<&'static str>,
) -> Option<&'static str> {
    let key_fits = |c: &str| match c {
        "ECDHE-ECDSA-AES128-GCM-SHA256" => kind == CertKind::Ec,
        "ECDHE-RSA-AES128-GCM-SHA256" | "AES256-SHA" | "NULL-SHA" => kind == CertKind::Rsa,
        _ => false,
    };
    let server_allows = |c: &str| match server {
        None | Some(ServerCiphers::High) => c != "NULL-SHA",
        Some(ServerCiphers::Aes128Pair) => {
            c == "ECDHE-ECDSA-AES128-GCM-SHA256" || c == "ECDHE-RSA-AES128-GCM-SHA256"
        }
        // Without @SECLEVEL=0 the server's security level rules NULL-SHA out, unless
        // OPENSSL_CONF lowered it: the level survives ssl_ciphers.
        Some(ServerCiphers::Null) => seclevel0 && c == "NULL-SHA",
        Some(ServerCiphers::Bogus) => false,
        Some(ServerCiphers::NullSeclevel0) => c == "NULL-SHA",
    };
    match client {
        Some(list) => {
            let c = list.split(':').next().unwrap_or(list);
            (key_fits(c) && server_allows(c)).then_some(c)
        }
        None => match (server, kind) {
            (None | Some(ServerCiphers::High), CertKind::Ec) => {
                Some("ECDHE-ECDSA-AES256-GCM-SHA384")
            }
            (None | Some(ServerCiphers::High), CertKind::Rsa) => {
                Some("ECDHE-RSA-AES256-GCM-SHA384")
            }
            (Some(ServerCiphers::Aes128Pair), CertKind::Ec) => {
                Some("ECDHE-ECDSA-AES128-GCM-SHA256")
            }
            (Some(ServerCiphers::Aes128Pair), CertKind::Rsa) => Some("ECDHE-RSA-AES128-GCM-SHA256"),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::fatal_log_lines;

    #[test]
    fn every_fatal_sent_is_a_fatal_logged_in_order() {
        let trace: Vec<String> = [
            "S",
            "E FATAL 28000 no pg_hba.conf entry for host \"127.0.0.1\"",
            "closed",
            "libpq: retry without SSL",
            "E ERROR 42601 not fatal",
            "v2 error: FATAL:  unsupported frontend protocol 2.0: server supports 3.0 to 3.0",
            "v2 error: not fatal",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            fatal_log_lines(&trace),
            [
                "FATAL:  no pg_hba.conf entry for host \"127.0.0.1\"",
                "FATAL:  unsupported frontend protocol 2.0: server supports 3.0 to 3.0",
            ]
        );
    }
}
