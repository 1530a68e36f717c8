//! The case model: what a conformance case sets up on the server, what the client does, and
//! what each PostgreSQL version is expected to show. Cases are data, loaded from the TOML files
//! in `conformance/cases/` (one file per rule family); `cases/README.md` documents the format.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A PostgreSQL behaviour version a case can apply to.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Version {
    /// The 8.4 documentation's rules (the reference server's seed profile).
    #[serde(rename = "seed")]
    Seed,
    /// PostgreSQL 13.
    #[serde(rename = "13")]
    Pg13,
    /// PostgreSQL 14.
    #[serde(rename = "14")]
    Pg14,
    /// PostgreSQL 15.
    #[serde(rename = "15")]
    Pg15,
    /// PostgreSQL 16.
    #[serde(rename = "16")]
    Pg16,
    /// PostgreSQL 17.
    #[serde(rename = "17")]
    Pg17,
    /// PostgreSQL 18.
    #[serde(rename = "18")]
    Pg18,
}

impl Version {
    /// Every version, oldest rules first.
    pub const ALL: [Version; 7] = [
        Version::Seed,
        Version::Pg13,
        Version::Pg14,
        Version::Pg15,
        Version::Pg16,
        Version::Pg17,
        Version::Pg18,
    ];

    /// The name used in case files, profiles and snapshot suffixes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Seed => "seed",
            Self::Pg13 => "13",
            Self::Pg14 => "14",
            Self::Pg15 => "15",
            Self::Pg16 => "16",
            Self::Pg17 => "17",
            Self::Pg18 => "18",
        }
    }

    /// Parses `seed`, `13` … `18`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == s)
    }

    /// Every version's name, for messages that list what is known.
    pub fn known() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    /// The PostgreSQL major a real server of this version reports (`None` for the seed, which
    /// only the reference server plays).
    pub fn major(self) -> Option<u32> {
        match self {
            Self::Seed => None,
            _ => self.name().parse().ok(),
        }
    }

    /// The version a real server reports, by major number.
    pub fn from_major(major: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.major() == Some(major))
    }
}

/// Which versions an expectation key covers: `all`, one version (`15`), an inclusive range
/// (`13-16`, `seed-15`), or a version and everything after it (`17+`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionKey {
    /// `all`: every version without a key of its own.
    All,
    /// The versions from the first to the second, inclusive.
    Range(Version, Version),
}

impl VersionKey {
    /// Parses an expectation key; `None` when it names no known version or an empty range.
    pub fn parse(key: &str) -> Option<Self> {
        if key == "all" {
            return Some(Self::All);
        }
        if let Some(from) = key.strip_suffix('+') {
            return Some(Self::Range(Version::parse(from)?, Version::Pg18));
        }
        if let Some((from, to)) = key.split_once('-') {
            let (from, to) = (Version::parse(from)?, Version::parse(to)?);
            return (from < to).then_some(Self::Range(from, to));
        }
        let v = Version::parse(key)?;
        Some(Self::Range(v, v))
    }

    /// Whether this key names `version` explicitly (`all` does not).
    pub fn covers(self, version: Version) -> bool {
        match self {
            Self::All => false,
            Self::Range(from, to) => from <= version && version <= to,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The server side of a case: what the data directory holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// `postgresql.conf` lines (`name = value`), on top of the harness defaults
    /// (`ssl = on`, a P-256 server certificate, `log_connections = on`).
    #[serde(default)]
    pub conf: Vec<String>,
    /// The server certificate's key type.
    #[serde(default)]
    pub cert: CertKind,
    /// Changes to the data directory after the defaults are written, in order.
    #[serde(default)]
    pub files: Vec<FileOp>,
    /// `pg_hba.conf` lines (default: trust for local, 127.0.0.1/32 and ::1/128).
    #[serde(default)]
    pub hba: Option<Vec<String>>,
    /// `pg_ident.conf` lines.
    #[serde(default)]
    pub ident: Vec<String>,
    /// Environment variables for the server process; `{datadir}` is replaced.
    #[serde(default)]
    pub env: Vec<(String, String)>,
}

/// Who owns a file in the data directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Owner {
    /// The user the server runs as.
    Server,
    /// root (uid 0), with the server user's group.
    Root,
    /// root:root.
    RootRoot,
    /// Someone else (`nobody`).
    Nobody,
}

/// One change to the data directory. Paths are relative to it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum FileOp {
    /// Write text to a file (replacing it).
    Write {
        /// The file.
        path: String,
        /// Its content; `{datadir}` is replaced.
        text: String,
    },
    /// Append a line to a file (e.g. a setting to `postgresql.conf`).
    Append {
        /// The file.
        path: String,
        /// The line; `{datadir}` is replaced.
        line: String,
    },
    /// Remove a file.
    Remove(String),
    /// Replace a file with a directory.
    Dir(String),
    /// Copy a file of the test PKI (`pgssl-conform pki`) into the data directory.
    Pki {
        /// The PKI file, e.g. `server-cn-only.crt`.
        file: String,
        /// Its name in the data directory.
        to: String,
    },
    /// Set a file's mode (octal text, e.g. `"0644"`).
    Chmod {
        /// The file.
        path: String,
        /// The mode.
        mode: String,
    },
    /// Set a file's owner.
    Chown {
        /// The file.
        path: String,
        /// The owner.
        owner: Owner,
    },
}

impl Setup {
    /// True when the case needs nothing configured on the server beyond the defaults, so it
    /// can run against a server the harness does not control.
    pub fn is_default(&self) -> bool {
        self.conf.is_empty()
            && self.cert == CertKind::default()
            && self.files.is_empty()
            && self.hba.is_none()
            && self.ident.is_empty()
            && self.env.is_empty()
    }

    /// True when the set-up is the default but for `authentication_timeout`: a timeout case,
    /// which a server the harness cannot configure runs with its own timeout when the run
    /// gives a wait (`--wait`).
    pub fn only_sets_timeout(&self) -> bool {
        let mut rest = self.clone();
        rest.conf.retain(|line| {
            crate::setup::split_conf_line(line)
                .is_none_or(|(name, _)| name != "authentication_timeout")
        });
        !self.conf.is_empty() && rest.is_default()
    }
}

/// Key type of the generated server certificate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CertKind {
    /// ECDSA P-256.
    #[default]
    Ec,
    /// RSA 2048.
    Rsa,
}

/// One packet (or raw bytes) in a write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Packet {
    /// A named packet: `ssl_request`, `gssenc_request`, `startup` (user and database
    /// `postgres`, protocol 3.0), `terminate`, `query:<sql>`.
    Named(String),
    /// A packet with fields.
    Detailed(PacketSpec),
}

/// A packet with explicit fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum PacketSpec {
    /// A StartupMessage.
    Startup {
        /// `major.minor`, default `3.0`.
        #[serde(default)]
        version: Option<String>,
        /// Parameters in order; default `user=postgres`, `database=postgres`.
        #[serde(default)]
        params: Option<Vec<(String, String)>>,
        /// Drop the final terminator byte (a layout error).
        #[serde(default)]
        no_terminator: bool,
        /// Pad `application_name` so the whole packet is this many bytes.
        #[serde(default)]
        pad_to: Option<usize>,
    },
    /// A CancelRequest with this pid and key length (bytes of zeros), or the session's own
    /// pid and key (`own = true`, after a `login` step).
    Cancel {
        /// Process id.
        #[serde(default)]
        pid: u32,
        /// Key length in bytes.
        #[serde(default)]
        key_len: usize,
        /// Use the key from this connection's earlier BackendKeyData.
        #[serde(default)]
        own: bool,
        /// Flip the first key byte.
        #[serde(default)]
        wrong_key: bool,
    },
    /// An SSLRequest with extra bytes after the code (its length is not checked).
    SslRequestPadded {
        /// How many zero bytes to append.
        extra: usize,
    },
    /// A length word followed by `filler` zero bytes.
    Length {
        /// The length word.
        length: u32,
        /// Bytes after it.
        #[serde(default)]
        filler: usize,
    },
    /// Raw bytes, in hex.
    Hex(String),
    /// Raw text bytes.
    Text(String),
}

/// Options of a TLS handshake step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsStep {
    /// ALPN protocols offered (none when absent).
    #[serde(default)]
    pub alpn: Option<Vec<String>>,
    /// Lowest TLS version offered: `TLSv1`, `TLSv1.1`, `TLSv1.2`, `TLSv1.3`.
    #[serde(default)]
    pub min: Option<String>,
    /// Highest TLS version offered.
    #[serde(default)]
    pub max: Option<String>,
    /// OpenSSL cipher list for TLS 1.2 and below.
    #[serde(default)]
    pub ciphers: Option<String>,
    /// SNI host name.
    #[serde(default)]
    pub sni: Option<String>,
    /// Report the server certificate's subject (`peer=CN=...`).
    #[serde(default)]
    pub peer: bool,
    /// Offer the session of this case's previous handshake, and report whether it was
    /// resumed.
    #[serde(default)]
    pub resume: bool,
    /// A client certificate and key from the test PKI (`client.crt`, `client.key`).
    #[serde(default)]
    pub cert: Option<(String, String)>,
    /// Verify the server's certificate against this test-PKI file, as libpq's `sslrootcert`
    /// with `sslmode=verify-ca`; a failure is `tls failed: certificate verify failed`.
    #[serde(default)]
    pub verify: Option<String>,
    /// With `verify`, also check that the certificate names this host (`verify-full`).
    #[serde(default)]
    pub verify_host: Option<String>,
    /// Only when the last reply byte was `S`; otherwise the step does nothing, and the
    /// client goes on in plaintext.
    #[serde(default)]
    pub only_after_s: bool,
}

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    /// Plaintext only.
    Disable,
    /// Plaintext first; SSL when the server refuses the plaintext login.
    Allow,
    /// SSL first; plaintext when the server answers N, the handshake fails, or the server
    /// refuses the login over SSL.
    Prefer,
    /// SSL only, the server certificate unchecked.
    Require,
    /// SSL only, the server certificate checked against a root (`tls.verify`).
    VerifyCa,
    /// As verify-ca, and the certificate must name the host (`tls.verify_host`).
    VerifyFull,
}

impl SslMode {
    /// Every mode, weakest first.
    pub const ALL: [SslMode; 6] = [
        Self::Disable,
        Self::Allow,
        Self::Prefer,
        Self::Require,
        Self::VerifyCa,
        Self::VerifyFull,
    ];

    /// The name libpq uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// A connection made the way libpq makes it for an `sslmode`, fallbacks included, then a
/// login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LibpqStep {
    /// The mode.
    pub sslmode: SslMode,
    /// Options of the TLS handshakes it makes.
    #[serde(default)]
    pub tls: TlsStep,
    /// The user (default `postgres`).
    #[serde(default)]
    pub user: Option<String>,
    /// The database (default `postgres`).
    #[serde(default)]
    pub database: Option<String>,
}

/// One client action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Step {
    /// Send these packets in one write.
    Write(Vec<Packet>),
    /// Send these packets one write each, pausing between writes.
    WriteSplit {
        /// The bytes of these packets, concatenated...
        packets: Vec<Packet>,
        /// ...cut at these offsets.
        at: Vec<usize>,
    },
    /// Read the one-byte reply to an encryption request.
    ReadByte,
    /// Run a TLS client handshake on the connection.
    Tls(TlsStep),
    /// Read messages until ReadyForQuery, a FATAL error and the close, EOF, or timeout.
    Read,
    /// Read a protocol-2 error (`E` + text + NUL).
    ReadV2Error,
    /// Read until the server closes; any bytes are reported.
    ExpectClose,
    /// Send nothing more and wait, up to this many seconds, for the server to close: a
    /// close is recorded as `closed` (whenever it came within the bound), a server still
    /// holding the connection at the bound as `still open after N s`. For the handshake
    /// timeout (`authentication_timeout`, PgBouncer's `client_login_timeout`).
    AwaitClose(u64),
    /// Close our sending side.
    ShutdownWrite,
    /// Wait this many milliseconds.
    SleepMs(u64),
    /// Open a new connection (the previous one is dropped); `login = true` also logs in and
    /// records the BackendKeyData for `cancel { own = true }`.
    Reconnect {
        /// Log in on the new connection first.
        #[serde(default)]
        login: bool,
    },
    /// Open a new connection over the server's Unix-domain socket.
    ConnectUnix,
    /// Change files in the running server's data directory.
    Files(Vec<FileOp>),
    /// Ask the server to reload its configuration (SIGHUP) and wait until it has.
    Reload,
    /// Connect as libpq does for an sslmode (on the current connection, reconnecting for its
    /// fallbacks) and log in; the trace shows each attempt (`libpq: retry without SSL`...).
    Libpq(LibpqStep),
    /// Run `psql` (real libpq) with these connection parameters and this query.
    Psql {
        /// `key=value` connection parameters (host and port are added).
        conninfo: String,
        /// The query.
        query: String,
        /// Connect over the Unix-domain socket instead of TCP.
        #[serde(default)]
        unix: bool,
    },
}

/// What a version is expected to show.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The client-observable trace (`<` lines), exactly; a line ending in `*` matches any
    /// line starting with the rest. A ParameterStatus report is matched only when the list
    /// names a ParameterStatus line of its name.
    #[serde(default)]
    pub trace: Vec<String>,
    /// Server log lines (`LOG:  ...`, `FATAL:  ...`) that must appear, in order; a `FATAL`,
    /// `PANIC` or `ERROR` line in the case's window that is not listed fails the case.
    #[serde(default)]
    pub log: Vec<String>,
    /// Server log lines that must not appear in the case's window (a trailing `*` matches any
    /// line starting with the rest): what PostgreSQL deliberately does not log, such as an
    /// `incomplete startup packet` for a client that leaves after an answered request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_absent: Vec<String>,
}

/// One conformance case.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Stable identifier, `family/what-it-checks`.
    pub id: String,
    /// The spec rule ids it checks (`W4`, `B-17`, `F3`...).
    pub rules: Vec<String>,
    /// One line saying what is checked.
    pub title: String,
    /// Versions the case applies to (default: all).
    #[serde(default)]
    pub versions: Option<Vec<Version>>,
    /// Server-side set-up.
    #[serde(default)]
    pub setup: Setup,
    /// The client's steps.
    pub steps: Vec<Step>,
    /// Expectations by version key: a version (`15`), a range (`13-16`), a version and those
    /// after it (`17+`), or `all` for every version no other key covers.
    pub expect: BTreeMap<String, Expectation>,
    /// For a case guarding a security property: one line on what is at stake when a server
    /// gets further than PostgreSQL does here (accepts the connection, the bytes, the key or a
    /// weaker TLS). The divergence report classes such a divergence as security.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<String>,
}

impl Case {
    /// Whether the case applies to `version`.
    pub fn applies_to(&self, version: Version) -> bool {
        self.versions.as_ref().is_none_or(|v| v.contains(&version))
    }

    /// The expectation for `version`, if the case applies to it: the one key that covers the
    /// version (`validate` refuses overlapping keys), else `all`.
    pub fn expectation(&self, version: Version) -> Option<&Expectation> {
        if !self.applies_to(version) {
            return None;
        }
        self.expect
            .iter()
            .find(|(key, _)| VersionKey::parse(key).is_some_and(|k| k.covers(version)))
            .map(|(_, e)| e)
            .or_else(|| self.expect.get("all"))
    }

    /// Whether the case changes the running server (files, reload), so it needs a server of
    /// its own rather than one shared with other cases of the same set-up.
    pub fn changes_server(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, Step::Files(_) | Step::Reload))
    }

    /// The steps, with each wait for the server's close bounded by `secs` instead of the
    /// case's own bound (a target with its own timeout, run with `--wait`).
    pub fn steps_waiting(&self, secs: u64) -> Vec<Step> {
        self.steps
            .iter()
            .map(|s| match s {
                Step::AwaitClose(_) => Step::AwaitClose(secs),
                other => other.clone(),
            })
            .collect()
    }

    /// Whether the case needs more of the server than a TCP address: its files, a reload, or
    /// its Unix-domain socket.
    pub fn needs_control(&self) -> bool {
        self.changes_server()
            || self
                .steps
                .iter()
                .any(|s| matches!(s, Step::ConnectUnix | Step::Psql { unix: true, .. }))
    }

    /// Checks the case is well-formed: every applicable version has an expectation, keys name
    /// real versions.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |why: String| Error::InvalidCase {
            id: self.id.clone(),
            why,
        };
        if self.rules.is_empty() {
            return Err(bad("names no rule".into()));
        }
        if self.steps.is_empty() {
            return Err(bad("has no steps".into()));
        }
        for key in self.expect.keys() {
            if VersionKey::parse(key).is_none() {
                return Err(bad(format!(
                    "expectation key {key:?} is not `all`, a version, `V-W` or `V+` (versions: {})",
                    Version::known()
                )));
            }
        }
        for v in Version::ALL {
            let keys: Vec<&String> = self
                .expect
                .keys()
                .filter(|k| VersionKey::parse(k).is_some_and(|k| k.covers(v)))
                .collect();
            if keys.len() > 1 {
                return Err(bad(format!(
                    "expectation keys {keys:?} both cover version {v}"
                )));
            }
            if !keys.is_empty() && !self.applies_to(v) {
                return Err(bad(format!(
                    "expectation key {:?} covers version {v}, which the case does not apply to",
                    keys[0]
                )));
            }
        }
        for step in &self.steps {
            let packets = match step {
                Step::Write(p) | Step::WriteSplit { packets: p, .. } => p.as_slice(),
                _ => &[],
            };
            for packet in packets {
                if let Packet::Named(name) = packet {
                    let known = ["ssl_request", "gssenc_request", "startup", "terminate"];
                    if !known.contains(&name.as_str()) && !name.starts_with("query:") {
                        return Err(bad(format!(
                            "unknown packet {name:?} (known: {}, query:SQL)",
                            known.join(", ")
                        )));
                    }
                }
                if let Packet::Detailed(PacketSpec::Hex(hex)) = packet {
                    if hex.len() % 2 != 0 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                        return Err(bad(format!(
                            "hex packet {hex:?} is not an even run of hex digits"
                        )));
                    }
                }
            }
        }
        for v in Version::ALL {
            if self.applies_to(v) && self.expectation(v).is_none() {
                return Err(bad(format!("no expectation for version {v}")));
            }
        }
        Ok(())
    }
}

/// A case file: a rule family's cases.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// The family's description.
    pub family: String,
    /// Its cases.
    #[serde(rename = "case")]
    pub cases: Vec<Case>,
}

/// The JSON schema of a case file, as pretty JSON.
pub fn schema() -> String {
    let schema = schemars::schema_for!(CaseFile);
    serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(steps: &str) -> Result<(), Error> {
        let text = format!(
            "family = \"t\"\n[[case]]\nid = \"t/x\"\nrules = [\"W1\"]\ntitle = \"x\"\nsteps = {steps}\n[case.expect.all]\ntrace = []\n"
        );
        let file: CaseFile = toml::from_str(&text).map_err(|e| Error::CaseFile {
            file: "t".into(),
            message: e.to_string(),
        })?;
        file.cases[0].validate()
    }

    #[test]
    fn malformed_cases_are_refused() {
        assert!(case("[{ write = [\"ssl_request\"] }]").is_ok());
        let e = case("[{ write = [\"sslrequest\"] }]").unwrap_err();
        assert!(
            e.to_string().contains("unknown packet \"sslrequest\""),
            "{e}"
        );
        assert!(case("[{ write = [{ hex = \"0g\" }] }]").is_err());
        assert!(case("[]").is_err());
        assert!(case("[\"read_byte\", { nonsense = 1 }]").is_err());
    }

    #[test]
    fn a_timeout_set_up_is_the_default_but_for_authentication_timeout() {
        let conf = |lines: &[&str]| Setup {
            conf: lines.iter().map(|l| (*l).to_owned()).collect(),
            ..Setup::default()
        };
        assert!(conf(&["authentication_timeout = '2s'"]).only_sets_timeout());
        assert!(!Setup::default().only_sets_timeout());
        assert!(!conf(&["authentication_timeout = '2s'", "ssl = off"]).only_sets_timeout());
        let with_hba = Setup {
            hba: Some(vec!["host all all 0.0.0.0/0 trust".into()]),
            ..conf(&["authentication_timeout = '2s'"])
        };
        assert!(!with_hba.only_sets_timeout());
    }
}
