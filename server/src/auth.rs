//! Client authentication as PostgreSQL's `ClientAuthentication` (auth.c) runs it: the
//! pg_hba.conf and pg_ident.conf in force (loaded at start and on SIGHUP), the row that
//! applies to a connection, the client-certificate checks (H5) in PostgreSQL's order, the
//! `trust`, `reject`, `password` and `cert` methods, and `auth_failed`'s texts, SQLSTATEs and
//! log-only DETAIL.
//!
//! Everything here is sans-IO: [`check`] decides from the facts of a connection, and only a
//! `password` row needs a round trip ([`AuthStep::AskPassword`], then [`check_password`]).
//!
//! pgssl has no roles and so no stored passwords: a `password` row asks for the cleartext
//! password and then fails as PostgreSQL does for a role without one
//! (`password authentication failed for user "..."`, 28P01, with the log-only DETAIL
//! `User "..." has no password assigned.`).

use std::net::IpAddr;
use std::path::Path;

use openssl::x509::X509Ref;

use crate::config::Settings;
use crate::error::Error;
use crate::hba::{
    self, AuthMethod, ClientCertMode, ClientCertName, ConnFacts, ConnKind, Diagnostic, FsResolver,
    HbaConfig, HbaRow, IdentConfig, ParseOptions,
};
use crate::identity;
use crate::log::LogRecord;
use crate::profile::{AuthFailedDetail, Profile};
use crate::wire::{ErrorFields, Severity};

/// `ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION`.
const INVALID_AUTHORIZATION: &str = "28000";
/// `ERRCODE_INVALID_PASSWORD`.
const INVALID_PASSWORD: &str = "28P01";
/// `ERRCODE_CONFIG_FILE_ERROR`.
const CONFIG_FILE_ERROR: &str = "F0000";

/// The pg_hba.conf and pg_ident.conf rules in force.
#[derive(Clone, Debug)]
pub struct AuthRules {
    /// pg_hba.conf.
    pub hba: HbaConfig,
    /// pg_ident.conf (empty when it could not be loaded, as PostgreSQL starts without it).
    pub ident: IdentConfig,
}

/// `DATADIR/pg_hba.conf` and `DATADIR/pg_ident.conf`.
fn paths(settings: &Settings) -> (String, String) {
    let dir: &Path = &settings.data_directory;
    (
        dir.join("pg_hba.conf").display().to_string(),
        dir.join("pg_ident.conf").display().to_string(),
    )
}

/// A parser message as the server logs it: `LOG:  message`, `HINT:`, `CONTEXT:  line N of
/// configuration file "..."`.
fn record(d: &Diagnostic) -> LogRecord {
    let mut r = LogRecord::new(from_hba_level(d.level), d.message());
    if let Some(h) = d.hint {
        r = r.with_hint(h);
    }
    if let Some((file, line)) = &d.context {
        r = r.with_context(format!("line {line} of configuration file \"{file}\""));
    }
    r
}

fn from_hba_level(s: hba::LogLevel) -> Severity {
    match s {
        hba::LogLevel::Log => Severity::Log,
        hba::LogLevel::Warning => Severity::Warning,
        hba::LogLevel::Fatal => Severity::Fatal,
    }
}

fn options(settings: &Settings) -> ParseOptions<'static> {
    ParseOptions::new(settings.profile)
        .with_ssl(settings.ssl)
        .with_resolver(&FsResolver)
}

/// `load_hba`: the rules, or `Err` when the file did not load; with every message logged.
/// `ca_store` says whether a root certificate store is loaded, for profiles that check
/// `clientcert` against it when the file is read.
fn read_hba(settings: &Settings, ca_store: bool) -> (Result<HbaConfig, ()>, Vec<LogRecord>) {
    let load = hba::load_hba_file(&paths(settings).0, &options(settings));
    let mut log: Vec<LogRecord> = load.diagnostics.iter().map(record).collect();
    let mut result = load.into_result().map_err(|_| ());
    if let Ok(config) = &result {
        if settings
            .profile
            .behaviour()
            .clientcert_store_checked_at_load
            && !ca_store
        {
            let unchecked: Vec<LogRecord> = config
                .rows
                .iter()
                .filter(|r| r.option("clientcert").is_some())
                .map(|r| {
                    LogRecord::log(
                        "client certificates can only be checked if a root certificate store is available",
                    )
                    .with_hint("Make sure the root.crt file is present and readable.")
                    .with_context(format!(
                        "line {} of configuration file \"{}\"",
                        r.line, r.file
                    ))
                })
                .collect();
            if !unchecked.is_empty() {
                log.extend(unchecked);
                result = Err(());
            }
        }
    }
    (result, log)
}

/// `load_ident`, likewise.
fn read_ident(settings: &Settings) -> (Result<IdentConfig, ()>, Vec<LogRecord>) {
    let load = hba::load_ident_file(&paths(settings).1, &options(settings));
    let log = load.diagnostics.iter().map(record).collect();
    (load.into_result().map_err(|_| ()), log)
}

fn empty_ident(settings: &Settings) -> IdentConfig {
    IdentConfig {
        profile: settings.profile,
        path: paths(settings).1,
        rows: Vec::new(),
    }
}

/// Loads the rules at server start (`ca_store`: a root certificate store is loaded). A
/// pg_hba.conf that does not load (missing, unreadable, or with any error) stops the server: the per-line LOG records, then the profile's FATAL
/// `could not load pg_hba.conf`. pg_ident.conf problems are only logged (PostgreSQL starts
/// without the maps). Returns the rules and the records to log (warnings such as `hostssl`
/// with `ssl = off`, and pg_ident.conf problems).
pub fn load_at_start(
    settings: &Settings,
    ca_store: bool,
) -> Result<(AuthRules, Vec<LogRecord>), Error> {
    let (hba, mut log) = read_hba(settings, ca_store);
    let Ok(hba) = hba else {
        // The postmaster stops here, before it reads pg_ident.conf.
        return Err(Error::HbaFile {
            message: hba::hba_load_failed_message(settings.profile, &paths(settings).0),
            problems: log,
        });
    };
    let (ident, ident_log) = read_ident(settings);
    log.extend(ident_log);
    let ident = ident.unwrap_or_else(|()| empty_ident(settings));
    Ok((AuthRules { hba, ident }, log))
}

/// Reloads the rules on SIGHUP: each file that fails to load keeps its old rules, with the
/// profile's `... was not reloaded`.
pub fn reload(settings: &Settings, ca_store: bool, old: &AuthRules) -> (AuthRules, Vec<LogRecord>) {
    let (hba_path, ident_path) = paths(settings);
    let (hba, mut log) = read_hba(settings, ca_store);
    let hba = hba.unwrap_or_else(|()| {
        let (sev, msg) = hba::hba_not_reloaded_message(settings.profile, &hba_path);
        log.push(LogRecord::new(from_hba_level(sev), msg));
        old.hba.clone()
    });
    let (ident, ident_log) = read_ident(settings);
    log.extend(ident_log);
    let ident = ident.unwrap_or_else(|()| {
        if let Some((sev, msg)) = hba::ident_not_reloaded_message(settings.profile, &ident_path) {
            log.push(LogRecord::new(from_hba_level(sev), msg));
        }
        old.ident.clone()
    });
    (AuthRules { hba, ident }, log)
}

/// What ClientAuthentication knows about a connection.
#[derive(Clone, Copy)]
pub struct Client<'a> {
    /// The behaviour profile.
    pub profile: Profile,
    /// The client's address; `None` on a Unix-domain socket.
    pub addr: Option<IpAddr>,
    /// SSL is in use.
    pub ssl: bool,
    /// A physical replication connection (`replication=true`).
    pub physical_replication: bool,
    /// The requested user.
    pub user: &'a str,
    /// The requested database.
    pub database: &'a str,
    /// The client certificate, verified against the CA store (PostgreSQL's
    /// `peer_cert_valid`: a presented certificate that fails verification has already
    /// aborted the handshake).
    pub cert: Option<&'a X509Ref>,
    /// A root certificate store is loaded (`ssl_ca_file`, or the seed's `root.crt`).
    pub ca_store: bool,
    /// `log_connections`.
    pub log_connections: bool,
}

impl Client<'_> {
    fn hostinfo(&self) -> String {
        self.addr
            .map_or_else(|| "[local]".to_owned(), |a| a.to_string())
    }

    fn encryption(&self) -> &'static str {
        let words = self.profile.behaviour().encryption_words;
        if self.ssl { words.ssl } else { words.plain }
    }
}

/// The outcome of authentication: what to log (in order, the final FATAL included) and, on
/// failure, the ErrorResponse for the client (which never carries the log-only DETAIL).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Records for the server log.
    pub log: Vec<LogRecord>,
    /// `Ok` to send AuthenticationOk; `Err` to send this FATAL and close.
    pub result: Result<(), ErrorFields>,
}

/// What [`check`] needs next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthStep {
    /// Authentication finished.
    Done(Verdict),
    /// A `password` row: send AuthenticationCleartextPassword, read the reply, then call
    /// [`check_password`].
    AskPassword,
}

/// Collects log records and ends in a verdict.
struct Run<'a> {
    client: &'a Client<'a>,
    log: Vec<LogRecord>,
}

impl Run<'_> {
    fn note(&mut self, message: impl Into<String>) {
        self.log.push(LogRecord::log(message));
    }

    fn fatal(mut self, code: &str, message: String, log_detail: Option<String>) -> Verdict {
        let error = ErrorFields::new(Severity::Fatal, code, message.clone());
        let mut rec = LogRecord::new(Severity::Fatal, message);
        rec.detail = log_detail;
        self.log.push(rec);
        Verdict {
            log: self.log,
            result: Err(error),
        }
    }

    fn ok(self) -> Verdict {
        Verdict {
            log: self.log,
            result: Ok(()),
        }
    }

    /// `auth_failed`: the method's text, with the matched row in the log-only DETAIL.
    fn auth_failed(self, row: &HbaRow, logdetail: Option<String>) -> Verdict {
        let user = self.client.user;
        let (code, message) = match row.method {
            AuthMethod::Reject => (
                INVALID_AUTHORIZATION,
                format!("authentication failed for user \"{user}\": host rejected"),
            ),
            AuthMethod::Trust => (
                INVALID_AUTHORIZATION,
                format!("\"trust\" authentication failed for user \"{user}\""),
            ),
            AuthMethod::Password | AuthMethod::Md5 | AuthMethod::ScramSha256 => (
                INVALID_PASSWORD,
                format!("password authentication failed for user \"{user}\""),
            ),
            AuthMethod::Cert => (
                INVALID_AUTHORIZATION,
                format!("certificate authentication failed for user \"{user}\""),
            ),
            _ => (
                INVALID_AUTHORIZATION,
                format!("authentication failed for user \"{user}\": invalid authentication method"),
            ),
        };
        let cdetail = match self.client.profile.behaviour().auth_failed_detail {
            AuthFailedDetail::None => None,
            AuthFailedDetail::Line => Some(format!(
                "Connection matched pg_hba.conf line {}: \"{}\"",
                row.line, row.raw_line
            )),
            AuthFailedDetail::FileAndLine => Some(format!(
                "Connection matched file \"{}\" line {}: \"{}\"",
                row.file, row.line, row.raw_line
            )),
        };
        let detail = match (logdetail, cdetail) {
            (Some(l), Some(c)) => Some(format!("{l}\n{c}")),
            (l, c) => l.or(c),
        };
        self.fatal(code, message, detail)
    }
}

/// The machine's interface addresses and netmasks (`getifaddrs`), for `samehost` and
/// `samenet` rows, as PostgreSQL's `check_same_host_or_net` enumerates them.
fn interfaces() -> Vec<(IpAddr, IpAddr)> {
    fn ip(sa: *const libc::sockaddr) -> Option<IpAddr> {
        if sa.is_null() {
            return None;
        }
        // SAFETY: getifaddrs hands out sockaddrs of the size their family says.
        unsafe {
            match i32::from((*sa).sa_family) {
                libc::AF_INET => {
                    let sin = &*(sa as *const libc::sockaddr_in);
                    Some(IpAddr::from(
                        u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                    ))
                }
                libc::AF_INET6 => {
                    let sin6 = &*(sa as *const libc::sockaddr_in6);
                    Some(IpAddr::from(sin6.sin6_addr.s6_addr))
                }
                _ => None,
            }
        }
    }
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list freed below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getifaddrs returned.
        let ifa = unsafe { &*cur };
        if let (Some(addr), Some(mask)) = (ip(ifa.ifa_addr), ip(ifa.ifa_netmask)) {
            out.push((addr, mask));
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: head came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

fn facts(client: &Client<'_>, rules: &AuthRules) -> ConnFacts {
    let needs_interfaces = rules.hba.rows.iter().any(|r| {
        matches!(
            r.address,
            Some(hba::HbaAddress::SameHost | hba::HbaAddress::SameNet)
        )
    });
    let nets = if needs_interfaces && client.addr.is_some() {
        interfaces()
    } else {
        Vec::new()
    };
    ConnFacts {
        kind: if client.addr.is_some() {
            ConnKind::Host
        } else {
            ConnKind::Local
        },
        ssl: client.ssl,
        gss: false,
        addr: client.addr,
        user: client.user.to_owned(),
        database: client.database.to_owned(),
        user_groups: Vec::new(),
        replication: client.physical_replication,
        local_addrs: nets.iter().map(|(a, _)| *a).collect(),
        local_nets: nets,
        remote_hostname: None,
    }
}

/// The pg_hba.conf row that applies, if any.
pub fn matching_row<'r>(rules: &'r AuthRules, client: &Client<'_>) -> Option<&'r HbaRow> {
    hba::find_row(&rules.hba, &facts(client, rules))
}

/// `ClientAuthentication` up to the method's own exchange.
pub fn check(rules: &AuthRules, client: &Client<'_>) -> AuthStep {
    let run = Run {
        client,
        log: Vec::new(),
    };
    let host = client.hostinfo();
    let (user, db, enc) = (client.user, client.database, client.encryption());
    let Some(row) = matching_row(rules, client) else {
        let message = if client.physical_replication {
            format!(
                "no pg_hba.conf entry for replication connection from host \"{host}\", user \"{user}\", {enc}"
            )
        } else {
            format!(
                "no pg_hba.conf entry for host \"{host}\", user \"{user}\", database \"{db}\", {enc}"
            )
        };
        return AuthStep::Done(run.fatal(INVALID_AUTHORIZATION, message, None));
    };
    if row.clientcert != ClientCertMode::Off {
        if !client.ca_store {
            return AuthStep::Done(run.fatal(
                CONFIG_FILE_ERROR,
                "client certificates can only be checked if a root certificate store is available"
                    .into(),
                None,
            ));
        }
        if client.cert.is_none() {
            return AuthStep::Done(run.fatal(
                INVALID_AUTHORIZATION,
                "connection requires a valid client certificate".into(),
                None,
            ));
        }
    }
    match row.method {
        AuthMethod::Reject => {
            let message = if client.physical_replication {
                format!(
                    "pg_hba.conf rejects replication connection for host \"{host}\", user \"{user}\", {enc}"
                )
            } else {
                format!(
                    "pg_hba.conf rejects connection for host \"{host}\", user \"{user}\", database \"{db}\", {enc}"
                )
            };
            AuthStep::Done(run.fatal(INVALID_AUTHORIZATION, message, None))
        }
        AuthMethod::Password => AuthStep::AskPassword,
        AuthMethod::Trust | AuthMethod::Cert => AuthStep::Done(finish(run, rules, row)),
        // Methods pgssl parses but cannot run (md5 and SCRAM need stored passwords).
        _ => AuthStep::Done(run.auth_failed(row, None)),
    }
}

/// A `password` row after the client's reply: `None` when the client closed the connection
/// instead (PostgreSQL's STATUS_EOF: nothing is logged or sent).
pub fn check_password(
    rules: &AuthRules,
    client: &Client<'_>,
    password: Option<&[u8]>,
) -> Option<Verdict> {
    let row = matching_row(rules, client)?;
    password?;
    let run = Run {
        client,
        log: Vec::new(),
    };
    // No role has a password in pgssl: get_role_password's detail for such a role.
    let detail = format!("User \"{}\" has no password assigned.", client.user);
    Some(run.auth_failed(row, Some(detail)))
}

/// After the method succeeded: `CheckCertAuth` for `cert` and `clientcert=verify-full`, then
/// the 17+ `connection authenticated: user=...` line when no identity was set.
fn finish(mut run: Run<'_>, rules: &AuthRules, row: &HbaRow) -> Verdict {
    let client = run.client;
    let mut identified = false;
    if row.clientcert == ClientCertMode::VerifyFull || row.method == AuthMethod::Cert {
        match check_cert(&mut run, rules, row) {
            Ok(id) => identified = id,
            Err(logdetail) => return run.auth_failed(row, logdetail),
        }
    }
    if client.log_connections
        && !identified
        && client.profile.behaviour().log_unidentified_authentication
    {
        run.note(format!(
            "connection authenticated: user=\"{}\" method={} ({})",
            client.user,
            row.method.name(),
            row.location()
        ));
    }
    run.ok()
}

/// `CheckCertAuth`: the CN (or DN with `clientname=DN`) against the user, through the map.
/// `Ok(true)` when an identity was set (the `cert` method); `Err` to fail authentication.
fn check_cert(run: &mut Run<'_>, rules: &AuthRules, row: &HbaRow) -> Result<bool, Option<String>> {
    let client = run.client;
    let Some(cert) = client.cert else {
        return Err(None);
    };
    // Embedded NULs were refused when the handshake finished; read again defensively.
    let cn = identity::common_name(cert)
        .ok()
        .flatten()
        .unwrap_or_default();
    let dn = identity::subject_dn(cert).ok();
    let peer_username = match row.clientname {
        ClientCertName::Dn => dn.clone().unwrap_or_default(),
        ClientCertName::Cn => cn,
    };
    if peer_username.is_empty() {
        run.note(format!(
            "certificate authentication failed for user \"{}\": client certificate contains no user name",
            client.user
        ));
        return Err(None);
    }
    let mut identified = false;
    if row.method == AuthMethod::Cert {
        let Some(dn) = dn else {
            run.note(format!(
                "certificate authentication failed for user \"{}\": unable to retrieve subject DN",
                client.user
            ));
            return Err(None);
        };
        if client.log_connections {
            if let Some(line) = hba::connection_authenticated_message(&rules.hba, &dn, row) {
                run.note(line);
            }
        }
        identified = true;
    }
    let usermap = hba::check_usermap(
        &rules.ident,
        row.map.as_deref(),
        client.user,
        &peer_username,
        false,
        &[],
    );
    if let Some((sev, message)) = usermap.log {
        run.log.push(LogRecord::new(from_hba_level(sev), message));
    }
    if !usermap.authorized {
        if row.clientcert == ClientCertMode::VerifyFull && row.method != AuthMethod::Cert {
            let what = match row.clientname {
                ClientCertName::Dn => "DN",
                ClientCertName::Cn => "CN",
            };
            run.note(format!(
                "certificate validation (clientcert=verify-full) failed for user \"{}\": {what} mismatch",
                client.user
            ));
        }
        return Err(None);
    }
    Ok(identified)
}

#[cfg(test)]
mod tests;
