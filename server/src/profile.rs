//! Behaviour profiles: which PostgreSQL the reference server behaves like, and the one table
//! of rules in which those versions differ.
//!
//! Code that depends on the version asks the profile's [`Behaviour`] for a value; it never tests
//! the profile itself. Adding a version means adding one row here.

use crate::known_settings::{self, KnownSettings};
use crate::wire::ProtocolVersion;

/// Which PostgreSQL the server reproduces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Profile {
    /// The PostgreSQL 8.4 documentation (§17.8): implicit `root.crt`/`root.crl`, files read
    /// only at start. On the wire it behaves like PostgreSQL 15, since 8.4's protocol-2 era
    /// negotiation is not something current clients can speak.
    Seed,
    /// PostgreSQL 13.
    Pg13,
    /// PostgreSQL 14.
    Pg14,
    /// PostgreSQL 15.
    Pg15,
    /// PostgreSQL 16.
    Pg16,
    /// PostgreSQL 17.
    Pg17,
    /// PostgreSQL 18.
    Pg18,
}

/// Where the CVE-2021-23214 check looks for bytes that arrived before TLS started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PipelinedAfterSsl {
    /// 13 to 16: TLS reads the socket; bytes left in the plaintext buffer after the handshake are
    /// refused with an 08P01 error sent over TLS.
    RefuseAfterHandshake,
    /// 17+: buffered bytes are pushed into the TLS library as the start of the TLS stream;
    /// whatever TLS leaves unread fails the connection.
    FeedIntoTls,
}

/// How the startup-packet timeout (`authentication_timeout`) ends a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartupTimeoutExit {
    /// `proc_exit(1)`: the exit callbacks run, so TLS is shut down with `close_notify` (13).
    ProcExit,
    /// `_exit(1)`: the process ends at once and the socket just closes (14+).
    Immediate,
}

/// Which length rule a CancelRequest must meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelLength {
    /// Exactly 16 bytes in all; anything else is `invalid length of startup packet`.
    Fixed16,
    /// 3.2 keys of 1 to 256 bytes, with their own two messages.
    Variable,
}

/// What NegotiateProtocolVersion reports as the newest version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NegotiatedVersion {
    /// The server's newest version (13 to 17).
    Latest,
    /// The requested version capped at the newest (18).
    RequestedCapped,
}

/// What an encryption request that was answered `N` leaves allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestBookkeeping {
    /// 13 re-enters `ProcessStartupPacket(ssl_done, gss_done)` with both flags recomputed
    /// from the last reply: a refused GSSENCRequest re-opens SSLRequest and vice versa, so
    /// refused requests may alternate without limit.
    Recomputed,
    /// 14+ keep each flag once set: each request kind is answered once per connection (seen
    /// live on the npm 14.23, 15.18, 16.14, 17.10 and 18.4 builds, which have no GSSAPI).
    Sticky,
}

/// How `application_name` is cleaned of non-ASCII bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsciiCleaning {
    /// Each byte outside 0x20..=0x7E becomes `?` (13 to 15).
    QuestionMark,
    /// Each such byte becomes `\xNN` (16+).
    HexEscape,
}

/// How a bad `ssl_ecdh_curve` / `ssl_groups` value is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupsError {
    /// 13 to 17: one curve name, `ECDH: unrecognized curve name: %s`.
    UnrecognizedCurve,
    /// 18: a colon list, `could not set group names specified in ssl_groups: %s` + HINT.
    GroupsList,
}

/// Which private-key file permission rule applies (A4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPermissions {
    /// 8.4 (the seed document): any group or world permission refuses the key, whoever owns
    /// it, with DETAIL `Permissions should be u=rw (0600) or less.`
    NoGroupOrWorld,
    /// 9.6+: owned by the server user with 0600 or less, or by root with 0640 or less.
    OwnerOrRoot,
}

/// Everything that differs between the profiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Behaviour {
    /// The profile's name in settings, logs and snapshots: `seed`, `13` … `18`.
    pub name: &'static str,
    /// The private-key permission rule.
    pub key_permissions: KeyPermissions,
    /// `server_version` as reported to clients.
    pub server_version: &'static str,
    /// `server_version_num`.
    pub server_version_num: &'static str,
    /// The oldest protocol version (13: 2.0; 14 removed protocol 2).
    pub oldest_protocol: ProtocolVersion,
    /// The newest protocol version.
    pub latest_protocol: ProtocolVersion,
    /// Errors sent before the startup packet names a protocol (the CVE-2021-23214 refusal)
    /// use protocol 2's format, `E` and text (13: elog.c still checked `FrontendProtocol`,
    /// which is unset then; 14 speaks only protocol 3).
    pub pre_startup_errors_v2: bool,
    /// How pg_hba.conf refusals name the connection's encryption: 13 `SSL on` / `SSL off`,
    /// 14+ `SSL encryption` / `no encryption` (14 added GSS encryption to the wording).
    pub encryption_words: EncryptionWords,
    /// `log_connections`' SSL line ends with `, compression=off` (13; 14 removed SSL
    /// compression).
    pub log_ssl_compression: bool,
    /// From which protocol version BackendKeyData carries a 32-byte key (`None`: always 4).
    pub long_cancel_key_from: Option<ProtocolVersion>,
    /// The CVE-2021-23214 check.
    pub pipelined_after_ssl: PipelinedAfterSsl,
    /// The CancelRequest length rule.
    pub cancel_length: CancelLength,
    /// The version NegotiateProtocolVersion reports.
    pub negotiated_version: NegotiatedVersion,
    /// Direct SSL: a first byte of 0x16 starts TLS without an SSLRequest (17+).
    pub direct_ssl: bool,
    /// The ALPN callback: `postgresql` is selected, any other offer is a fatal alert (17+).
    pub alpn: bool,
    /// Which requests stay allowed after a refusal.
    pub request_bookkeeping: RequestBookkeeping,
    /// `application_name` cleaning.
    pub ascii_cleaning: AsciiCleaning,
    /// Range errors print the unit on the bounds too (17+: `(1 s .. 600 s)`; 16.14 still
    /// prints `(1 .. 600)`).
    pub unit_on_range_bounds: bool,
    /// `root.crt` and `root.crl` in the data directory are used without a setting (8.4).
    pub implicit_root_files: bool,
    /// SIGHUP re-reads certificate, key, CA and CRL files (10+).
    pub reload_ssl_files: bool,
    /// How a startup that outlives `authentication_timeout` ends.
    pub startup_timeout_exit: StartupTimeoutExit,
    /// `ssl`, `ssl_*` file and cipher settings need a restart (8.4: PGC_POSTMASTER); when
    /// false they are PGC_SIGHUP (10+).
    pub ssl_settings_need_restart: bool,
    /// GUC_REPORT parameters beyond 13's, which every profile sends, with their values.
    pub extra_reported: &'static [(&'static str, &'static str)],
    /// Every setting name this version knows (lower case); others are unrecognized.
    pub known_settings: KnownSettings,
    /// Old names accepted for a setting: (old, current).
    pub setting_aliases: &'static [(&'static str, &'static str)],
    /// How a bad groups value is reported.
    pub groups_error: GroupsError,
    /// The groups setting's default.
    pub groups_default: &'static str,
    /// The message when `ssl_ciphers` leaves no cipher.
    pub cipher_list_error: &'static str,
    /// The log-only DETAIL `auth_failed` adds, naming the pg_hba.conf row that matched
    /// (15: `Connection matched pg_hba.conf line N: "..."`, 16+: with the file; 8.4: none).
    pub auth_failed_detail: AuthFailedDetail,
    /// With `log_connections`, a successful authentication that set no identity (trust,
    /// `clientcert=verify-ca`) is logged as `connection authenticated: user="..." method=...`
    /// (17+).
    pub log_unidentified_authentication: bool,
    /// pg_hba.conf's `clientcert` needs a loaded root certificate store when the file is
    /// loaded (8.4: the row is an error, HINT `Make sure the root.crt file is present and
    /// readable.`); later versions check at connection time only.
    pub clientcert_store_checked_at_load: bool,
}

/// The words pg_hba.conf refusals use for the connection's encryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncryptionWords {
    /// Over TLS.
    pub ssl: &'static str,
    /// In plaintext.
    pub plain: &'static str,
}

/// How `auth_failed` names the matching pg_hba.conf row in its log-only DETAIL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailedDetail {
    /// 8.4: no DETAIL.
    None,
    /// 10-15: `Connection matched pg_hba.conf line %d: "%s"`.
    Line,
    /// 16+: `Connection matched file "%s" line %d: "%s"`.
    FileAndLine,
}

/// 14 made these two GUC_REPORT; 16 added `scram_iterations`, reported too (seen live in
/// each build's ParameterStatus messages after a trust login).
const REPORTED_SINCE_14: &[(&str, &str)] = &[
    ("default_transaction_read_only", "off"),
    ("in_hot_standby", "off"),
];
const REPORTED_SINCE_16: &[(&str, &str)] = &[
    ("default_transaction_read_only", "off"),
    ("in_hot_standby", "off"),
    ("scram_iterations", "4096"),
];
/// 18 made `search_path` GUC_REPORT.
const REPORTED_SINCE_18: &[(&str, &str)] = &[
    ("default_transaction_read_only", "off"),
    ("in_hot_standby", "off"),
    ("scram_iterations", "4096"),
    ("search_path", "\"$user\", public"),
];

/// PostgreSQL 13: the oldest row; each later row names only what its release changed.
const PG13: Behaviour = Behaviour {
    name: "13",
    key_permissions: KeyPermissions::OwnerOrRoot,
    server_version: "13.23 (pgssl)",
    server_version_num: "130023",
    // 13 still accepts protocol 2.0 (14 removed it).
    oldest_protocol: ProtocolVersion::V2_0,
    latest_protocol: ProtocolVersion::V3_0,
    pre_startup_errors_v2: true,
    encryption_words: EncryptionWords {
        ssl: "SSL on",
        plain: "SSL off",
    },
    log_ssl_compression: true,
    long_cancel_key_from: None,
    // The CVE-2021-23214 fix reached every branch (13.5, 14.1).
    pipelined_after_ssl: PipelinedAfterSsl::RefuseAfterHandshake,
    cancel_length: CancelLength::Fixed16,
    negotiated_version: NegotiatedVersion::Latest,
    direct_ssl: false,
    alpn: false,
    request_bookkeeping: RequestBookkeeping::Recomputed,
    ascii_cleaning: AsciiCleaning::QuestionMark,
    unit_on_range_bounds: false,
    implicit_root_files: false,
    reload_ssl_files: true,
    // 13's StartupPacketTimeoutHandler calls proc_exit(1); 14 made it _exit(1), as
    // process_startup_packet_die already was (seen live: 13.23 sends close_notify, 14.23
    // and later do not).
    startup_timeout_exit: StartupTimeoutExit::ProcExit,
    ssl_settings_need_restart: false,
    extra_reported: &[],
    known_settings: known_settings::PG13,
    setting_aliases: &[],
    groups_error: GroupsError::UnrecognizedCurve,
    groups_default: "prime256v1",
    cipher_list_error: "could not set the cipher list (no valid ciphers available)",
    auth_failed_detail: AuthFailedDetail::Line,
    log_unidentified_authentication: false,
    clientcert_store_checked_at_load: false,
};

const PG14: Behaviour = Behaviour {
    name: "14",
    server_version: "14.23 (pgssl)",
    server_version_num: "140023",
    // 14: protocol 2 removed (so every error is in protocol 3's format), SSL compression
    // removed, the encryption named in pg_hba.conf refusals, and an SSLRequest or
    // GSSENCRequest answered once per connection.
    oldest_protocol: ProtocolVersion::V3_0,
    pre_startup_errors_v2: false,
    encryption_words: EncryptionWords {
        ssl: "SSL encryption",
        plain: "no encryption",
    },
    log_ssl_compression: false,
    request_bookkeeping: RequestBookkeeping::Sticky,
    startup_timeout_exit: StartupTimeoutExit::Immediate,
    extra_reported: REPORTED_SINCE_14,
    known_settings: known_settings::PG14,
    ..PG13
};

const PG15: Behaviour = Behaviour {
    name: "15",
    server_version: "15.18 (pgssl)",
    server_version_num: "150018",
    known_settings: known_settings::PG15,
    ..PG14
};

const PG16: Behaviour = Behaviour {
    name: "16",
    server_version: "16.14 (pgssl)",
    server_version_num: "160014",
    // 16: pg_clean_ascii escapes as \xNN; auth_failed names the pg_hba.conf file (include
    // files arrived in 16).
    ascii_cleaning: AsciiCleaning::HexEscape,
    extra_reported: REPORTED_SINCE_16,
    known_settings: known_settings::PG16,
    auth_failed_detail: AuthFailedDetail::FileAndLine,
    ..PG15
};

const PG17: Behaviour = Behaviour {
    name: "17",
    server_version: "17.10 (pgssl)",
    server_version_num: "170010",
    // 17 (backend_startup.c): direct SSL with mandatory ALPN, and bytes buffered before
    // TLS are handed to the TLS library instead of checked after the handshake.
    pipelined_after_ssl: PipelinedAfterSsl::FeedIntoTls,
    direct_ssl: true,
    alpn: true,
    // 17: GUC range errors print the unit on both bounds (16.14 still prints `(0 .. 100)`).
    unit_on_range_bounds: true,
    known_settings: known_settings::PG17,
    log_unidentified_authentication: true,
    ..PG16
};

const PG18: Behaviour = Behaviour {
    name: "18",
    server_version: "18.4 (pgssl)",
    server_version_num: "180004",
    // 18: protocol 3.2 with 32-byte cancel keys and variable-length CancelRequests, and
    // NegotiateProtocolVersion reports the requested minor capped at 3.2.
    latest_protocol: ProtocolVersion::V3_2,
    long_cancel_key_from: Some(ProtocolVersion::V3_2),
    cancel_length: CancelLength::Variable,
    negotiated_version: NegotiatedVersion::RequestedCapped,
    extra_reported: REPORTED_SINCE_18,
    known_settings: known_settings::PG18,
    // 18: ssl_groups replaces ssl_ecdh_curve (kept as an alias) and takes a colon list;
    // the TLS 1.2 cipher list has its own message.
    setting_aliases: &[("ssl_ecdh_curve", "ssl_groups")],
    groups_error: GroupsError::GroupsList,
    groups_default: "X25519:prime256v1",
    cipher_list_error: "could not set the TLSv1.2 cipher list (no valid ciphers available)",
    ..PG17
};

const SEED: Behaviour = Behaviour {
    name: "seed",
    key_permissions: KeyPermissions::NoGroupOrWorld,
    server_version: "15.18 (pgssl seed profile)",
    implicit_root_files: true,
    reload_ssl_files: false,
    ssl_settings_need_restart: true,
    auth_failed_detail: AuthFailedDetail::None,
    clientcert_store_checked_at_load: true,
    ..PG15
};

impl Profile {
    /// Every profile, oldest first.
    pub const ALL: [Profile; 7] = [
        Profile::Seed,
        Profile::Pg13,
        Profile::Pg14,
        Profile::Pg15,
        Profile::Pg16,
        Profile::Pg17,
        Profile::Pg18,
    ];

    /// What this profile's version does, row by row of the profile table.
    pub fn behaviour(self) -> &'static Behaviour {
        match self {
            Self::Seed => &SEED,
            Self::Pg13 => &PG13,
            Self::Pg14 => &PG14,
            Self::Pg15 => &PG15,
            Self::Pg16 => &PG16,
            Self::Pg17 => &PG17,
            Self::Pg18 => &PG18,
        }
    }

    /// The profile named `name` (`seed`, `13` … `18`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.behaviour().name.eq_ignore_ascii_case(name))
    }

    /// The profile's name.
    pub fn name(self) -> &'static str {
        self.behaviour().name
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_as_its_name() {
        // `pgssl-server init` and error texts print a profile with `{}`.
        for p in Profile::ALL {
            assert_eq!(p.to_string(), p.behaviour().name);
        }
    }

    #[test]
    fn names_round_trip() {
        for p in Profile::ALL {
            assert_eq!(Profile::from_name(p.name()), Some(p));
        }
        assert_eq!(Profile::from_name("12"), None);
    }

    #[test]
    fn seed_rides_on_fifteens_wire_rules() {
        let (seed, pg15) = (Profile::Seed.behaviour(), Profile::Pg15.behaviour());
        assert_eq!(seed.pipelined_after_ssl, pg15.pipelined_after_ssl);
        assert_eq!(seed.latest_protocol, pg15.latest_protocol);
        assert!(seed.implicit_root_files && !pg15.implicit_root_files);
    }
}
