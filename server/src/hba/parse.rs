//! Tokenizing and parsing of `pg_hba.conf` and `pg_ident.conf` into rules,
//! following PostgreSQL's `src/backend/libpq/hba.c` (8.4, 15 and 18), plus the
//! per-profile dialect table ([`HbaDialect`]), the validation messages
//! ([`HbaError`], [`Diagnostic`]) and `Display` back to configuration text.

use std::fmt;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::rc::Rc;
use std::sync::Arc;

use regex::Regex;

use super::pattern::{CompileEach, PatternCompiler};
use crate::profile::Profile;

/// Maximum include / `@file` nesting depth (`CONF_FILE_MAX_DEPTH` in 16+).
pub const MAX_INCLUDE_DEPTH: usize = 10;

/// `gai_strerror(EAI_NONAME)` on glibc, used for non-numeric addresses/masks.
const EAI_NONAME_TEXT: &str = "Name or service not known";

// ---------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------

/// Connection type (first field of a pg_hba.conf row).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnType {
    Local,
    Host,
    HostSsl,
    HostNoSsl,
    HostGssEnc,
    HostNoGssEnc,
}

impl ConnType {
    pub fn keyword(self) -> &'static str {
        match self {
            ConnType::Local => "local",
            ConnType::Host => "host",
            ConnType::HostSsl => "hostssl",
            ConnType::HostNoSsl => "hostnossl",
            ConnType::HostGssEnc => "hostgssenc",
            ConnType::HostNoGssEnc => "hostnogssenc",
        }
    }

    pub fn from_keyword(s: &str) -> Option<ConnType> {
        Some(match s {
            "local" => ConnType::Local,
            "host" => ConnType::Host,
            "hostssl" => ConnType::HostSsl,
            "hostnossl" => ConnType::HostNoSsl,
            "hostgssenc" => ConnType::HostGssEnc,
            "hostnogssenc" => ConnType::HostNoGssEnc,
            _ => return None,
        })
    }
}

/// Authentication method. All are parsed; the server implements only
/// `trust`, `reject`, `password` and `cert` (see [`AuthMethod::is_implemented`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    Trust,
    Reject,
    Password,
    Md5,
    ScramSha256,
    Cert,
    Gss,
    Sspi,
    Ident,
    Peer,
    Ldap,
    Radius,
    Pam,
    Bsd,
    /// 8.4 only (removed in 9.4).
    Krb5,
    /// 18 only.
    OAuth,
}

impl AuthMethod {
    /// Name as written in pg_hba.conf and as printed by `hba_authname()`.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Trust => "trust",
            AuthMethod::Reject => "reject",
            AuthMethod::Password => "password",
            AuthMethod::Md5 => "md5",
            AuthMethod::ScramSha256 => "scram-sha-256",
            AuthMethod::Cert => "cert",
            AuthMethod::Gss => "gss",
            AuthMethod::Sspi => "sspi",
            AuthMethod::Ident => "ident",
            AuthMethod::Peer => "peer",
            AuthMethod::Ldap => "ldap",
            AuthMethod::Radius => "radius",
            AuthMethod::Pam => "pam",
            AuthMethod::Bsd => "bsd",
            AuthMethod::Krb5 => "krb5",
            AuthMethod::OAuth => "oauth",
        }
    }

    pub fn from_name(s: &str) -> Option<AuthMethod> {
        ALL_METHODS.iter().copied().find(|m| m.name() == s)
    }

    /// Whether pgssl-server actually implements the method's exchange.
    pub fn is_implemented(self) -> bool {
        matches!(
            self,
            AuthMethod::Trust | AuthMethod::Reject | AuthMethod::Password | AuthMethod::Cert
        )
    }
}

const ALL_METHODS: &[AuthMethod] = &[
    AuthMethod::Trust,
    AuthMethod::Reject,
    AuthMethod::Password,
    AuthMethod::Md5,
    AuthMethod::ScramSha256,
    AuthMethod::Cert,
    AuthMethod::Gss,
    AuthMethod::Sspi,
    AuthMethod::Ident,
    AuthMethod::Peer,
    AuthMethod::Ldap,
    AuthMethod::Radius,
    AuthMethod::Pam,
    AuthMethod::Bsd,
    AuthMethod::Krb5,
    AuthMethod::OAuth,
];

/// Client certificate verification level (`clientcert`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ClientCertMode {
    #[default]
    Off,
    VerifyCa,
    VerifyFull,
}

/// Which certificate field is compared with the user (`clientname`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ClientCertName {
    #[default]
    Cn,
    Dn,
}

/// The level a message is logged at, as PostgreSQL prints it (`LOG`, `WARNING`, `FATAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogLevel {
    Log,
    Warning,
    Fatal,
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Log => "LOG",
            LogLevel::Warning => "WARNING",
            LogLevel::Fatal => "FATAL",
        })
    }
}

/// Which optional features the emulated PostgreSQL build has. Methods whose
/// feature is off fail with `invalid authentication method "x": not supported
/// by this build`. Defaults to everything on ("parse all").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildFeatures {
    pub gssapi: bool,
    pub sspi: bool,
    pub pam: bool,
    pub bsd_auth: bool,
    pub ldap: bool,
    pub krb5: bool,
}

impl BuildFeatures {
    pub const ALL: BuildFeatures = BuildFeatures {
        gssapi: true,
        sspi: true,
        pam: true,
        bsd_auth: true,
        ldap: true,
        krb5: true,
    };

    fn supports(&self, m: AuthMethod) -> bool {
        match m {
            AuthMethod::Gss => self.gssapi,
            AuthMethod::Sspi => self.sspi,
            AuthMethod::Pam => self.pam,
            AuthMethod::Bsd => self.bsd_auth,
            AuthMethod::Ldap => self.ldap,
            AuthMethod::Krb5 => self.krb5,
            _ => true,
        }
    }
}

impl Default for BuildFeatures {
    fn default() -> Self {
        BuildFeatures::ALL
    }
}

// ---------------------------------------------------------------------------
// Per-profile dialect: the ONE place where Seed / Pg15 / Pg18 differ.
// ---------------------------------------------------------------------------

/// How a `hostssl` row is treated when `ssl = off`.
#[derive(Clone, Copy, Debug)]
pub struct SslOffRule {
    pub message: &'static str,
    pub hint: &'static str,
    /// 8.4 rejects the file; 15/18 only log (the row is kept but can never match).
    pub fatal: bool,
}

/// Wording of the error when an `@file` cannot be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtFileErrorStyle {
    /// `could not open secondary authentication file "@%s" as "%s": %m` (8.4 .. 15)
    Secondary,
    /// `could not open file "%s": %m` (16+)
    Generic,
}

/// Special handling of an authentication option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptionKind {
    /// Only valid for `methods`; value kept raw (some get value checks).
    Method,
    /// `clientcert`: only on hostssl rows, values from the dialect table.
    ClientCert,
    /// `clientname`: only on hostssl rows, `CN` or `DN`.
    ClientName,
}

/// One recognised `name=value` option.
#[derive(Clone, Copy, Debug)]
pub struct OptionSpec {
    pub name: &'static str,
    pub kind: OptionKind,
    pub methods: &'static [AuthMethod],
    /// Text used in `authentication option "%s" is only valid for authentication methods %s`.
    pub methods_text: &'static str,
}

/// One accepted `clientcert` value.
#[derive(Clone, Copy, Debug)]
pub struct ClientCertValue {
    pub value: &'static str,
    pub mode: ClientCertMode,
    /// Whether the value may be combined with `cert` authentication.
    pub allowed_with_cert: bool,
}

/// Everything that differs between the supported PostgreSQL behaviours.
/// Chosen by [`dialect`]; code elsewhere never tests the profile directly.
#[derive(Debug)]
pub struct HbaDialect {
    pub profile: Profile,
    // tokenizer
    pub line_continuation: bool,
    pub includes_allowed: bool,
    pub max_token_bytes: Option<usize>,
    pub at_file_error: AtFileErrorStyle,
    pub hba_open_error_prefix: &'static str,
    pub ident_open_error_prefix: &'static str,
    // pg_hba.conf rows
    pub conn_types: &'static [ConnType],
    pub methods: &'static [AuthMethod],
    pub regex_db_user: bool,
    pub replication_keyword: bool,
    pub address_keywords: bool,
    pub hostnames: bool,
    pub netmask_eol_hint: Option<&'static str>,
    pub mask_mismatch_with_location: bool,
    pub local_ident_becomes_peer: bool,
    pub unsupported_method_suffix: &'static str,
    pub ssl_off: SslOffRule,
    pub options: &'static [OptionSpec],
    pub unknown_option_prefix: &'static str,
    pub clientcert_values: &'static [ClientCertValue],
    pub clientcert_cert_conflict: &'static str,
    pub ldap_server_mandatory: bool,
    pub ldap_mix_message: &'static str,
    pub empty_file_is_error: bool,
    pub promote_v4_to_v6: bool,
    // pg_ident.conf
    pub ident_pg_user_keywords: bool,
    pub ident_missing_entry_with_location: bool,
    pub usermap_user_mismatch: fn(&str, &str) -> String,
    pub usermap_no_match: fn(&str, &str, &str) -> String,
    // postmaster-level messages
    pub hba_load_failed: fn(&str) -> String,
    pub hba_not_reloaded: fn(&str) -> (LogLevel, String),
    pub ident_not_reloaded: fn(&str) -> Option<(LogLevel, String)>,
    pub connection_authenticated_log: bool,
}

/// The dialect for a profile.
pub fn dialect(profile: Profile) -> &'static HbaDialect {
    match profile {
        Profile::Seed => &SEED,
        Profile::Pg15 => &PG15,
        Profile::Pg18 => &PG18,
    }
}

use AuthMethod as M;

const ALL_CONN_TYPES: &[ConnType] = &[
    ConnType::Local,
    ConnType::Host,
    ConnType::HostSsl,
    ConnType::HostNoSsl,
    ConnType::HostGssEnc,
    ConnType::HostNoGssEnc,
];

const LDAP: &[M] = &[M::Ldap];
const PAM: &[M] = &[M::Pam];
const RADIUS: &[M] = &[M::Radius];
const OAUTH: &[M] = &[M::OAuth];
const GSS_SSPI: &[M] = &[M::Gss, M::Sspi];
const SSPI: &[M] = &[M::Sspi];

const fn opt(name: &'static str, methods: &'static [M], methods_text: &'static str) -> OptionSpec {
    OptionSpec {
        name,
        kind: OptionKind::Method,
        methods,
        methods_text,
    }
}
const CLIENTCERT: OptionSpec = OptionSpec {
    name: "clientcert",
    kind: OptionKind::ClientCert,
    methods: &[],
    methods_text: "",
};
const CLIENTNAME: OptionSpec = OptionSpec {
    name: "clientname",
    kind: OptionKind::ClientName,
    methods: &[],
    methods_text: "",
};

const SEED_OPTIONS: &[OptionSpec] = &[
    opt(
        "map",
        &[M::Ident, M::Krb5, M::Gss, M::Sspi, M::Cert],
        "ident, krb5, gssapi, sspi and cert",
    ),
    CLIENTCERT,
    opt("pamservice", PAM, "pam"),
    opt("ldaptls", LDAP, "ldap"),
    opt("ldapserver", LDAP, "ldap"),
    opt("ldapport", LDAP, "ldap"),
    opt("ldapprefix", LDAP, "ldap"),
    opt("ldapsuffix", LDAP, "ldap"),
    opt("krb_server_hostname", &[M::Krb5], "krb5"),
    opt(
        "krb_realm",
        &[M::Krb5, M::Gss, M::Sspi],
        "krb5, gssapi and sspi",
    ),
    opt(
        "include_realm",
        &[M::Krb5, M::Gss, M::Sspi],
        "krb5, gssapi and sspi",
    ),
];

macro_rules! modern_options {
    ($map:expr, $map_text:expr $(, $extra:expr)*) => {
        &[
            opt("map", $map, $map_text),
            CLIENTCERT,
            CLIENTNAME,
            opt("pamservice", PAM, "pam"),
            opt("pam_use_hostname", PAM, "pam"),
            opt("ldapurl", LDAP, "ldap"),
            opt("ldaptls", LDAP, "ldap"),
            opt("ldapscheme", LDAP, "ldap"),
            opt("ldapserver", LDAP, "ldap"),
            opt("ldapport", LDAP, "ldap"),
            opt("ldapbinddn", LDAP, "ldap"),
            opt("ldapbindpasswd", LDAP, "ldap"),
            opt("ldapsearchattribute", LDAP, "ldap"),
            opt("ldapsearchfilter", LDAP, "ldap"),
            opt("ldapbasedn", LDAP, "ldap"),
            opt("ldapprefix", LDAP, "ldap"),
            opt("ldapsuffix", LDAP, "ldap"),
            opt("krb_realm", GSS_SSPI, "gssapi and sspi"),
            opt("include_realm", GSS_SSPI, "gssapi and sspi"),
            opt("compat_realm", SSPI, "sspi"),
            opt("upn_username", SSPI, "sspi"),
            opt("radiusservers", RADIUS, "radius"),
            opt("radiusports", RADIUS, "radius"),
            opt("radiussecrets", RADIUS, "radius"),
            opt("radiusidentifiers", RADIUS, "radius"),
            $($extra,)*
        ]
    };
}

const PG15_OPTIONS: &[OptionSpec] = modern_options!(
    &[M::Ident, M::Peer, M::Gss, M::Sspi, M::Cert],
    "ident, peer, gssapi, sspi, and cert"
);

const PG18_OPTIONS: &[OptionSpec] = modern_options!(
    &[M::Ident, M::Peer, M::Gss, M::Sspi, M::Cert, M::OAuth],
    "ident, peer, gssapi, sspi, cert, and oauth",
    opt("issuer", OAUTH, "oauth"),
    opt("scope", OAUTH, "oauth"),
    opt("validator", OAUTH, "oauth"),
    opt("delegate_ident_mapping", OAUTH, "oauth")
);

const MODERN_CLIENTCERT: &[ClientCertValue] = &[
    ClientCertValue {
        value: "verify-full",
        mode: ClientCertMode::VerifyFull,
        allowed_with_cert: true,
    },
    ClientCertValue {
        value: "verify-ca",
        mode: ClientCertMode::VerifyCa,
        allowed_with_cert: false,
    },
];

const SEED_CLIENTCERT: &[ClientCertValue] = &[
    ClientCertValue {
        value: "1",
        mode: ClientCertMode::VerifyCa,
        allowed_with_cert: true,
    },
    ClientCertValue {
        value: "0",
        mode: ClientCertMode::Off,
        allowed_with_cert: false,
    },
];

fn user_mismatch_modern(pg_user: &str, system_user: &str) -> String {
    format!(
        "provided user name ({pg_user}) and authenticated user name ({system_user}) do not match"
    )
}
fn user_mismatch_seed(pg_user: &str, system_user: &str) -> String {
    format!("provided username ({pg_user}) and authenticated username ({system_user}) don't match")
}
fn no_match_modern(map: &str, pg_user: &str, system_user: &str) -> String {
    format!(
        "no match in usermap \"{map}\" for user \"{pg_user}\" authenticated as \"{system_user}\""
    )
}
fn no_match_seed(_map: &str, pg_user: &str, system_user: &str) -> String {
    format!("no match in usermap for user \"{pg_user}\" authenticated as \"{system_user}\"")
}
fn load_failed_fixed(_path: &str) -> String {
    "could not load pg_hba.conf".to_string()
}
fn load_failed_path(path: &str) -> String {
    format!("could not load {path}")
}
fn not_reloaded_seed(_path: &str) -> (LogLevel, String) {
    (LogLevel::Warning, "pg_hba.conf not reloaded".to_string())
}
fn not_reloaded_15(_path: &str) -> (LogLevel, String) {
    (LogLevel::Log, "pg_hba.conf was not reloaded".to_string())
}
fn not_reloaded_path(path: &str) -> (LogLevel, String) {
    (LogLevel::Log, format!("{path} was not reloaded"))
}
fn ident_not_reloaded_seed(_path: &str) -> Option<(LogLevel, String)> {
    None
}
fn ident_not_reloaded_15(_path: &str) -> Option<(LogLevel, String)> {
    Some((LogLevel::Log, "pg_ident.conf was not reloaded".to_string()))
}
fn ident_not_reloaded_path(path: &str) -> Option<(LogLevel, String)> {
    Some((LogLevel::Log, format!("{path} was not reloaded")))
}

static SEED: HbaDialect = HbaDialect {
    profile: Profile::Seed,
    line_continuation: false,
    includes_allowed: false,
    max_token_bytes: Some(254),
    at_file_error: AtFileErrorStyle::Secondary,
    hba_open_error_prefix: "could not open configuration file",
    ident_open_error_prefix: "could not open Ident usermap file",
    conn_types: &[
        ConnType::Local,
        ConnType::Host,
        ConnType::HostSsl,
        ConnType::HostNoSsl,
    ],
    methods: &[
        M::Trust,
        M::Ident,
        M::Password,
        M::Krb5,
        M::Gss,
        M::Sspi,
        M::Reject,
        M::Md5,
        M::Pam,
        M::Ldap,
        M::Cert,
    ],
    regex_db_user: false,
    replication_keyword: false,
    address_keywords: false,
    hostnames: false,
    netmask_eol_hint: None,
    mask_mismatch_with_location: true,
    local_ident_becomes_peer: false,
    unsupported_method_suffix: "not supported on this platform",
    ssl_off: SslOffRule {
        message: "hostssl requires SSL to be turned on",
        hint: "Set ssl = on in postgresql.conf.",
        fatal: true,
    },
    options: SEED_OPTIONS,
    unknown_option_prefix: "unknown authentication option name",
    clientcert_values: SEED_CLIENTCERT,
    clientcert_cert_conflict: "clientcert can not be set to 0 when using \"cert\" authentication",
    ldap_server_mandatory: true,
    ldap_mix_message: "",
    empty_file_is_error: false,
    promote_v4_to_v6: true,
    ident_pg_user_keywords: false,
    ident_missing_entry_with_location: true,
    usermap_user_mismatch: user_mismatch_seed,
    usermap_no_match: no_match_seed,
    hba_load_failed: load_failed_fixed,
    hba_not_reloaded: not_reloaded_seed,
    ident_not_reloaded: ident_not_reloaded_seed,
    connection_authenticated_log: false,
};

const MODERN_METHODS_15: &[AuthMethod] = &[
    M::Trust,
    M::Ident,
    M::Peer,
    M::Password,
    M::Gss,
    M::Sspi,
    M::Reject,
    M::Md5,
    M::ScramSha256,
    M::Pam,
    M::Bsd,
    M::Ldap,
    M::Cert,
    M::Radius,
];
const MODERN_METHODS_18: &[AuthMethod] = &[
    M::Trust,
    M::Ident,
    M::Peer,
    M::Password,
    M::Gss,
    M::Sspi,
    M::Reject,
    M::Md5,
    M::ScramSha256,
    M::Pam,
    M::Bsd,
    M::Ldap,
    M::Cert,
    M::Radius,
    M::OAuth,
];

static PG15: HbaDialect = HbaDialect {
    profile: Profile::Pg15,
    line_continuation: true,
    includes_allowed: false,
    max_token_bytes: Some(10239),
    at_file_error: AtFileErrorStyle::Secondary,
    hba_open_error_prefix: "could not open configuration file",
    ident_open_error_prefix: "could not open usermap file",
    conn_types: ALL_CONN_TYPES,
    methods: MODERN_METHODS_15,
    regex_db_user: false,
    replication_keyword: true,
    address_keywords: true,
    hostnames: true,
    netmask_eol_hint: Some(
        "Specify an address range in CIDR notation, or provide a separate netmask.",
    ),
    mask_mismatch_with_location: false,
    local_ident_becomes_peer: true,
    unsupported_method_suffix: "not supported by this build",
    ssl_off: SslOffRule {
        message: "hostssl record cannot match because SSL is disabled",
        hint: "Set ssl = on in postgresql.conf.",
        fatal: false,
    },
    options: PG15_OPTIONS,
    unknown_option_prefix: "unrecognized authentication option name",
    clientcert_values: MODERN_CLIENTCERT,
    clientcert_cert_conflict: "clientcert only accepts \"verify-full\" when using \"cert\" authentication",
    ldap_server_mandatory: false,
    ldap_mix_message: "cannot use ldapbasedn, ldapbinddn, ldapbindpasswd, ldapsearchattribute, ldapsearchfilter, or ldapurl together with ldapprefix",
    empty_file_is_error: true,
    promote_v4_to_v6: false,
    ident_pg_user_keywords: false,
    ident_missing_entry_with_location: false,
    usermap_user_mismatch: user_mismatch_modern,
    usermap_no_match: no_match_modern,
    hba_load_failed: load_failed_fixed,
    hba_not_reloaded: not_reloaded_15,
    ident_not_reloaded: ident_not_reloaded_15,
    connection_authenticated_log: true,
};

static PG18: HbaDialect = HbaDialect {
    profile: Profile::Pg18,
    line_continuation: true,
    includes_allowed: true,
    max_token_bytes: None,
    at_file_error: AtFileErrorStyle::Generic,
    hba_open_error_prefix: "could not open file",
    ident_open_error_prefix: "could not open file",
    conn_types: ALL_CONN_TYPES,
    methods: MODERN_METHODS_18,
    regex_db_user: true,
    replication_keyword: true,
    address_keywords: true,
    hostnames: true,
    netmask_eol_hint: Some(
        "Specify an address range in CIDR notation, or provide a separate netmask.",
    ),
    mask_mismatch_with_location: false,
    local_ident_becomes_peer: true,
    unsupported_method_suffix: "not supported by this build",
    ssl_off: SslOffRule {
        message: "hostssl record cannot match because SSL is disabled",
        hint: "Set \"ssl = on\" in postgresql.conf.",
        fatal: false,
    },
    options: PG18_OPTIONS,
    unknown_option_prefix: "unrecognized authentication option name",
    clientcert_values: MODERN_CLIENTCERT,
    clientcert_cert_conflict: "clientcert only accepts \"verify-full\" when using \"cert\" authentication",
    ldap_server_mandatory: false,
    ldap_mix_message: "cannot mix options for simple bind and search+bind modes",
    empty_file_is_error: true,
    promote_v4_to_v6: false,
    ident_pg_user_keywords: true,
    ident_missing_entry_with_location: false,
    usermap_user_mismatch: user_mismatch_modern,
    usermap_no_match: no_match_modern,
    hba_load_failed: load_failed_path,
    hba_not_reloaded: not_reloaded_path,
    ident_not_reloaded: ident_not_reloaded_path,
    connection_authenticated_log: true,
};

/// Startup failure after the per-line LOGs (logged at FATAL):
/// Seed/Pg15 `could not load pg_hba.conf`, Pg18 `could not load <path>`.
pub fn hba_load_failed_message(profile: Profile, path: &str) -> String {
    (dialect(profile).hba_load_failed)(path)
}

/// Reload (SIGHUP) failure for pg_hba.conf: Seed `WARNING pg_hba.conf not reloaded`,
/// Pg15 `LOG pg_hba.conf was not reloaded`, Pg18 `LOG <path> was not reloaded`.
pub fn hba_not_reloaded_message(profile: Profile, path: &str) -> (LogLevel, String) {
    (dialect(profile).hba_not_reloaded)(path)
}

/// Reload failure for pg_ident.conf (8.4 never reported one: `None`).
pub fn ident_not_reloaded_message(profile: Profile, path: &str) -> Option<(LogLevel, String)> {
    (dialect(profile).ident_not_reloaded)(path)
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

/// Every message the parser (and the ident matcher) can log. `Display` is the
/// verbatim PostgreSQL text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HbaError {
    // tokenizer / files
    #[error("authentication file token too long, skipping: \"{0}\"")]
    TokenTooLong(String),
    #[error("could not open file \"{path}\": {reason}")]
    CouldNotOpenFile { path: String, reason: String },
    #[error("{prefix} \"{path}\": {reason}")]
    CouldNotOpenTopFile {
        prefix: &'static str,
        path: String,
        reason: String,
    },
    #[error("could not open file \"{0}\": maximum nesting depth exceeded")]
    NestingTooDeep(String),
    #[error("could not open secondary authentication file \"@{inc}\" as \"{full}\": {reason}")]
    SecondaryFileOpen {
        inc: String,
        full: String,
        reason: String,
    },
    #[error("skipping missing authentication file \"{0}\"")]
    SkippingMissingFile(String),
    #[error("empty configuration directory name: \"{0}\"")]
    EmptyDirectoryName(String),
    #[error("could not open configuration directory \"{path}\": {reason}")]
    CouldNotOpenDirectory { path: String, reason: String },
    #[error("configuration file \"{0}\" contains no entries")]
    NoEntries(String),
    // connection type
    #[error("multiple values specified for connection type")]
    MultipleConnectionTypes,
    #[error("invalid connection type \"{0}\"")]
    InvalidConnectionType(String),
    #[error("{0}")]
    HostsslSslOff(&'static str),
    #[error("hostgssenc record cannot match because GSSAPI is not supported by this build")]
    HostgssencNotSupported,
    // database / role
    #[error("end-of-line before database specification")]
    EolBeforeDatabase,
    #[error("end-of-line before role specification")]
    EolBeforeRole,
    #[error("invalid regular expression \"{pattern}\": {reason}")]
    InvalidRegex { pattern: String, reason: String },
    // address
    #[error("end-of-line before IP address specification")]
    EolBeforeAddress,
    #[error("multiple values specified for host address")]
    MultipleHostAddresses,
    #[error("invalid IP address \"{addr}\": {reason}")]
    InvalidIpAddress { addr: String, reason: String },
    #[error("specifying both host name and CIDR mask is invalid: \"{0}\"")]
    HostnameWithCidr(String),
    #[error("invalid CIDR mask in address \"{0}\"")]
    InvalidCidrMask(String),
    #[error("end-of-line before netmask specification")]
    EolBeforeNetmask,
    #[error("multiple values specified for netmask")]
    MultipleNetmasks,
    #[error("invalid IP mask \"{mask}\": {reason}")]
    InvalidIpMask { mask: String, reason: String },
    #[error("IP address and mask do not match")]
    AddressMaskMismatch,
    #[error("IP address and mask do not match in file \"{file}\" line {line}")]
    AddressMaskMismatchAt { file: String, line: usize },
    // method
    #[error("end-of-line before authentication method")]
    EolBeforeMethod,
    #[error("multiple values specified for authentication type")]
    MultipleAuthTypes,
    #[error("invalid authentication method \"{0}\"")]
    InvalidAuthMethod(String),
    #[error("invalid authentication method \"{method}\": {suffix}")]
    UnsupportedAuthMethod {
        method: String,
        suffix: &'static str,
    },
    #[error("gssapi authentication is not supported on local sockets")]
    GssOnLocal,
    #[error("krb5 authentication is not supported on local sockets")]
    Krb5OnLocal,
    #[error("peer authentication is only supported on local sockets")]
    PeerNotLocal,
    #[error("cert authentication is only supported on hostssl connections")]
    CertNotHostssl,
    // options
    #[error("authentication option not in name=value format: {0}")]
    OptionNotNameValue(String),
    #[error("{prefix}: \"{name}\"")]
    UnrecognizedOption { prefix: &'static str, name: String },
    #[error("authentication option \"{name}\" is only valid for authentication methods {methods}")]
    OptionInvalidForMethod { name: String, methods: &'static str },
    #[error("clientcert can only be configured for \"hostssl\" rows")]
    ClientCertNotHostssl,
    #[error("invalid value for clientcert: \"{0}\"")]
    InvalidClientCert(String),
    #[error("{0}")]
    ClientCertWithCert(&'static str),
    #[error("clientname can only be configured for \"hostssl\" rows")]
    ClientNameNotHostssl,
    #[error("invalid value for clientname: \"{0}\"")]
    InvalidClientName(String),
    #[error("authentication method \"{method}\" requires argument \"{arg}\" to be set")]
    MissingArgument {
        method: &'static str,
        arg: &'static str,
    },
    #[error("{0}")]
    LdapMixedModes(&'static str),
    #[error(
        "authentication method \"ldap\" requires argument \"ldapbasedn\", \"ldapprefix\", or \"ldapsuffix\" to be set"
    )]
    LdapBaseRequired,
    #[error("cannot use ldapsearchattribute together with ldapsearchfilter")]
    LdapAttributeAndFilter,
    #[error("invalid LDAP port number: \"{0}\"")]
    InvalidLdapPort(String),
    #[error("invalid ldapscheme value: \"{0}\"")]
    InvalidLdapScheme(String),
    #[error("could not parse RADIUS server list \"{0}\"")]
    RadiusServerList(String),
    #[error("could not parse RADIUS port list \"{0}\"")]
    RadiusPortList(String),
    #[error("invalid RADIUS port number: \"{0}\"")]
    InvalidRadiusPort(String),
    #[error("could not parse RADIUS secret list \"{0}\"")]
    RadiusSecretList(String),
    #[error("could not parse RADIUS identifiers list \"{0}\"")]
    RadiusIdentifierList(String),
    #[error(
        "the number of RADIUS {what} ({count}) must be 1 or the same as the number of RADIUS servers ({servers})"
    )]
    RadiusCount {
        what: &'static str,
        count: usize,
        servers: usize,
    },
    #[error("map cannot be used in combination with delegate_ident_mapping")]
    OAuthMapWithDelegation,
    // pg_ident.conf
    #[error("missing entry at end of line")]
    IdentMissingEntry,
    #[error("missing entry in file \"{file}\" at end of line {line}")]
    IdentMissingEntryAt { file: String, line: usize },
    #[error("multiple values in ident field")]
    IdentMultipleValues,
    #[error(
        "regular expression \"{pattern}\" has no subexpressions as requested by backreference in \"{pg_user}\""
    )]
    RegexNoSubexpressions { pattern: String, pg_user: String },
}

/// One logged message: `LOG:  msg` [`HINT:  ..`] [`CONTEXT:  line N of configuration file "f"`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub level: LogLevel,
    /// `true` if this makes the file fail to load (PostgreSQL keeps the old rules).
    pub is_error: bool,
    pub error: HbaError,
    pub hint: Option<&'static str>,
    /// `(file, line)` for the `CONTEXT` line, when PostgreSQL prints one.
    pub context: Option<(String, usize)>,
}

impl Diagnostic {
    pub fn message(&self) -> String {
        self.error.to_string()
    }

    /// The lines PostgreSQL writes to the server log for this message.
    pub fn render(&self) -> String {
        self.to_string()
    }
}

/// [`Diagnostic::render`]'s lines: the message, then its HINT and CONTEXT lines if any.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:  {}", self.level, self.error)?;
        if let Some(h) = self.hint {
            write!(f, "\nHINT:  {h}")?;
        }
        if let Some((file, line)) = &self.context {
            write!(
                f,
                "\nCONTEXT:  line {line} of configuration file \"{file}\""
            )?;
        }
        Ok(())
    }
}

/// All of `diagnostics` as log text, each followed by a newline, into one string.
fn render_all(diagnostics: &[Diagnostic]) -> String {
    let mut log = String::with_capacity(diagnostics.len() * 128);
    for d in diagnostics {
        // (Writing to a String cannot fail.)
        let _ = writeln!(log, "{d}");
    }
    log
}

// ---------------------------------------------------------------------------
// Tokens, rows, configs
// ---------------------------------------------------------------------------

/// One token of a field: its dequoted text, whether it began with a quote
/// (quoted tokens are never keywords), and its compiled regex for `/...`
/// tokens where the profile supports them.
#[derive(Debug, Clone)]
pub struct AuthToken {
    pub text: String,
    pub quoted: bool,
    /// Shared, so that copies of a row use one compiled program and its search caches.
    regex: Option<Arc<Regex>>,
}

impl PartialEq for AuthToken {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
            && self.quoted == other.quoted
            && self.regex.is_some() == other.regex.is_some()
    }
}
impl Eq for AuthToken {}

impl AuthToken {
    pub fn new(text: impl Into<String>, quoted: bool) -> AuthToken {
        AuthToken {
            text: text.into(),
            quoted,
            regex: None,
        }
    }

    /// `!quoted && text == k`
    pub fn is_keyword(&self, k: &str) -> bool {
        !self.quoted && self.text == k
    }

    /// Unquoted `+role`.
    pub fn is_member_check(&self) -> bool {
        !self.quoted && self.text.starts_with('+')
    }

    pub fn regex(&self) -> Option<&Regex> {
        self.regex.as_deref()
    }

    /// Compile `/pattern` tokens (any other token is left alone) with `patterns`.
    fn compile(&mut self, patterns: &dyn PatternCompiler) -> Result<(), HbaError> {
        if let Some(pat) = self.text.strip_prefix('/') {
            match patterns.compile(pat) {
                Ok(re) => self.regex = Some(re),
                Err(reason) => {
                    return Err(HbaError::InvalidRegex {
                        pattern: pat.to_string(),
                        reason,
                    });
                }
            }
        }
        Ok(())
    }
}

/// Address field of a non-local row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HbaAddress {
    All,
    SameHost,
    SameNet,
    /// Address and mask (the mask need not be contiguous; PostgreSQL does not check).
    Cidr {
        addr: IpAddr,
        mask: IpAddr,
    },
    /// Host name or `.suffix`; matching needs DNS and is left to the caller.
    Hostname(String),
}

/// One parsed pg_hba.conf row.
#[derive(Debug, Clone)]
pub struct HbaRow {
    pub file: String,
    pub line: usize,
    pub raw_line: String,
    pub conn_type: ConnType,
    pub databases: Vec<AuthToken>,
    pub users: Vec<AuthToken>,
    /// `None` for `local` rows.
    pub address: Option<HbaAddress>,
    pub method: AuthMethod,
    /// Every `name=value` option in order (repeats kept; the last one wins).
    pub options: Vec<(String, String)>,
    pub clientcert: ClientCertMode,
    pub clientname: ClientCertName,
    pub map: Option<String>,
}

impl HbaRow {
    /// Last value given for an option.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `file:line`, as in `connection authenticated: ... (/path/pg_hba.conf:6)`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// Equal ignoring where the row came from.
    pub fn same_rule(&self, other: &HbaRow) -> bool {
        self.conn_type == other.conn_type
            && self.databases == other.databases
            && self.users == other.users
            && self.address == other.address
            && self.method == other.method
            && self.options == other.options
            && self.clientcert == other.clientcert
            && self.clientname == other.clientname
            && self.map == other.map
    }
}

/// The usable rows of one pg_hba.conf.
#[derive(Debug, Clone)]
pub struct HbaConfig {
    pub profile: Profile,
    pub path: String,
    pub rows: Vec<HbaRow>,
}

/// Result of loading pg_hba.conf: rows that parsed plus every logged message.
#[derive(Debug, Clone)]
pub struct HbaLoad {
    pub config: HbaConfig,
    pub diagnostics: Vec<Diagnostic>,
}

impl HbaLoad {
    /// PostgreSQL would accept the file (no error-level diagnostics).
    pub fn is_ok(&self) -> bool {
        !self.diagnostics.iter().any(|d| d.is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error)
    }

    /// `Ok(config)` if the file loads, else the diagnostics.
    pub fn into_result(self) -> Result<HbaConfig, Vec<Diagnostic>> {
        if self.is_ok() {
            Ok(self.config)
        } else {
            Err(self.diagnostics)
        }
    }

    /// All messages as log text, one block per message.
    pub fn render_log(&self) -> String {
        render_all(&self.diagnostics)
    }
}

/// One parsed pg_ident.conf row.
#[derive(Debug, Clone)]
pub struct IdentRow {
    pub file: String,
    pub line: usize,
    pub map: String,
    /// `/regex` (compiled) or a literal system user name.
    pub system_user: AuthToken,
    /// PG user; in 16+ may be `all`, `+group` or `/regex` as well.
    pub pg_user: AuthToken,
}

impl IdentRow {
    pub fn same_rule(&self, other: &IdentRow) -> bool {
        self.map == other.map
            && self.system_user == other.system_user
            && self.pg_user == other.pg_user
    }
}

/// The usable rows of one pg_ident.conf.
#[derive(Debug, Clone)]
pub struct IdentConfig {
    pub profile: Profile,
    pub path: String,
    pub rows: Vec<IdentRow>,
}

#[derive(Debug, Clone)]
pub struct IdentLoad {
    pub config: IdentConfig,
    pub diagnostics: Vec<Diagnostic>,
}

impl IdentLoad {
    pub fn is_ok(&self) -> bool {
        !self.diagnostics.iter().any(|d| d.is_error)
    }

    pub fn into_result(self) -> Result<IdentConfig, Vec<Diagnostic>> {
        if self.is_ok() {
            Ok(self.config)
        } else {
            Err(self.diagnostics)
        }
    }

    pub fn render_log(&self) -> String {
        render_all(&self.diagnostics)
    }
}

// ---------------------------------------------------------------------------
// File access for @file and include directives
// ---------------------------------------------------------------------------

/// Why an included file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveError {
    /// ENOENT (lets `include_if_exists` skip the file).
    pub not_found: bool,
    /// strerror text, e.g. `No such file or directory`.
    pub reason: String,
}

impl ResolveError {
    pub fn not_found() -> ResolveError {
        ResolveError {
            not_found: true,
            reason: "No such file or directory".to_string(),
        }
    }

    pub fn from_io(e: &std::io::Error) -> ResolveError {
        let not_found = e.kind() == std::io::ErrorKind::NotFound;
        let text = e.to_string();
        // std appends " (os error N)"; PostgreSQL prints bare strerror.
        let reason = match text.rfind(" (os error ") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        ResolveError { not_found, reason }
    }
}

/// Reads files named by `@file`, `include`, `include_if_exists` and
/// `include_dir`. Paths are already absolute (resolved against the including
/// file's directory).
pub trait IncludeResolver {
    fn read_file(&self, path: &str) -> Result<String, ResolveError>;

    /// File names (not paths) in a directory; sub-directories excluded.
    fn list_dir(&self, _path: &str) -> Result<Vec<String>, ResolveError> {
        Err(ResolveError::not_found())
    }
}

/// Includes disabled: every referenced file "does not exist".
#[derive(Debug, Clone, Copy, Default)]
pub struct NoIncludes;

impl IncludeResolver for NoIncludes {
    fn read_file(&self, _path: &str) -> Result<String, ResolveError> {
        Err(ResolveError::not_found())
    }
}

/// Real filesystem access.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsResolver;

impl IncludeResolver for FsResolver {
    fn read_file(&self, path: &str) -> Result<String, ResolveError> {
        std::fs::read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| ResolveError::from_io(&e))
    }

    fn list_dir(&self, path: &str) -> Result<Vec<String>, ResolveError> {
        let rd = std::fs::read_dir(path).map_err(|e| ResolveError::from_io(&e))?;
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| ResolveError::from_io(&e))?;
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
        Ok(out)
    }
}

/// In-memory files for tests and fuzzing: closure from absolute path to contents.
pub struct FnResolver<F>(pub F);

impl<F> IncludeResolver for FnResolver<F>
where
    F: Fn(&str) -> Option<String>,
{
    fn read_file(&self, path: &str) -> Result<String, ResolveError> {
        (self.0)(path).ok_or_else(ResolveError::not_found)
    }
}

/// Parser settings.
#[derive(Clone, Copy)]
pub struct ParseOptions<'a> {
    pub profile: Profile,
    /// `ssl = on` in postgresql.conf (affects the `hostssl` warning / 8.4 error).
    pub ssl_enabled: bool,
    pub build: BuildFeatures,
    pub resolver: &'a dyn IncludeResolver,
    /// What compiles `/regex` tokens.
    pub patterns: &'a dyn PatternCompiler,
}

impl ParseOptions<'static> {
    /// SSL on, every method supported, includes disabled, each `/regex` token compiled
    /// anew by the regex crate.
    pub fn new(profile: Profile) -> ParseOptions<'static> {
        ParseOptions::with_patterns(profile, &CompileEach)
    }
}

impl<'a> ParseOptions<'a> {
    /// As [`ParseOptions::new`], with `/regex` tokens compiled by `patterns`. (A program
    /// that never calls `new` links no regular-expression engine it does not pass here.)
    pub fn with_patterns(profile: Profile, patterns: &'a dyn PatternCompiler) -> ParseOptions<'a> {
        ParseOptions {
            profile,
            ssl_enabled: true,
            build: BuildFeatures::ALL,
            resolver: &NoIncludes,
            patterns,
        }
    }

    pub fn with_resolver<'b>(self, resolver: &'b dyn IncludeResolver) -> ParseOptions<'b>
    where
        'a: 'b,
    {
        ParseOptions {
            profile: self.profile,
            ssl_enabled: self.ssl_enabled,
            build: self.build,
            resolver,
            patterns: self.patterns,
        }
    }

    pub fn with_ssl(mut self, ssl_enabled: bool) -> ParseOptions<'a> {
        self.ssl_enabled = ssl_enabled;
        self
    }

    pub fn with_build(mut self, build: BuildFeatures) -> ParseOptions<'a> {
        self.build = build;
        self
    }
}

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

/// `AbsoluteConfigLocation`: absolute paths as-is, relative ones against the
/// directory of the including file.
pub fn absolute_config_location(location: &str, calling_file: &str) -> String {
    if location.starts_with('/') {
        return location.to_string();
    }
    let parent = match calling_file.rfind('/') {
        Some(0) => "/",
        Some(i) => &calling_file[..i],
        None => "",
    };
    let joined = if parent.is_empty() {
        location.to_string()
    } else {
        format!("{parent}/{location}")
    };
    canonicalize_path(&joined)
}

fn canonicalize_path(p: &str) -> String {
    let absolute = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if matches!(parts.last(), Some(last) if *last != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

// ---------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------

/// One logical line after tokenizing (continuations joined, `@file` expanded).
#[derive(Debug, Clone)]
pub struct TokenizedLine {
    /// Shared by the lines of one file.
    pub file: Rc<str>,
    pub line: usize,
    pub raw: String,
    pub fields: Vec<Vec<AuthToken>>,
    /// An error was already logged for this line; it is skipped by the parser.
    pub error: bool,
}

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t' || c == b'\r'
}

/// [`TOKEN_BYTE`]: a byte `next_token` adds to the token as it is, outside quotes (not NUL,
/// a blank, `#`, `,` or `"`).
const PLAIN: u8 = 1;
/// Such a byte inside quotes (not NUL or `"`).
const PLAIN_IN_QUOTES: u8 = 2;

/// Byte classes for `next_token`: one table lookup per byte of a token instead of the
/// comparisons of its general path.
static TOKEN_BYTE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c != 0 && c != b'"' {
            table[b] |= PLAIN_IN_QUOTES;
            if !matches!(c, b' ' | b'\t' | b'\r' | b'#' | b',') {
                table[b] |= PLAIN;
            }
        }
        b += 1;
    }
    table
};

/// A token's bytes as text. They are valid UTF-8 unless the length limit cut a character,
/// so the standard library's validator goes first (much faster than the lossy decoder).
fn lossy(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(text) => text.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// What [`Tokenizer::next_token`] found besides the text (left in `Tokenizer::token`).
struct RawToken {
    initial_quote: bool,
    terminating_comma: bool,
}

struct Tokenizer<'r> {
    d: &'static HbaDialect,
    resolver: &'r dyn IncludeResolver,
    diags: Vec<Diagnostic>,
    /// The current token's dequoted bytes (reused for every token).
    token: Vec<u8>,
}

impl Tokenizer<'_> {
    fn error(&mut self, error: HbaError, context: Option<(&str, usize)>) {
        self.diags.push(Diagnostic {
            level: LogLevel::Log,
            is_error: true,
            error,
            hint: None,
            context: context.map(|(f, l)| (f.to_string(), l)),
        });
    }

    /// `tokenize_auth_file`: appends the file's non-empty lines to `out`.
    fn tokenize(&mut self, file: &str, text: &str, depth: usize, out: &mut Vec<TokenizedLine>) {
        let mut phys = text.split_inclusive('\n');
        let mut line_number = 1usize;
        // One buffer for the whole file: a logical line is copied into it (its continuations
        // joined, cut at a NUL) and tokenized from there.
        let mut buf = String::new();
        let file_name: Rc<str> = Rc::from(file);
        loop {
            buf.clear();
            let mut got_any = false;
            let mut last_backslash = 0usize;
            let mut continuations = 0usize;
            for p in phys.by_ref() {
                got_any = true;
                buf.push_str(p);
                if let Some(nul) = buf.find('\0') {
                    buf.truncate(nul);
                }
                while buf.ends_with('\n') || buf.ends_with('\r') {
                    buf.pop();
                }
                if self.d.line_continuation && buf.len() > last_backslash && buf.ends_with('\\') {
                    buf.pop();
                    last_backslash = buf.len();
                    continuations += 1;
                    continue;
                }
                break;
            }
            if !got_any {
                break;
            }
            self.tokenize_line(&file_name, &buf, line_number, depth, out);
            line_number += continuations + 1;
        }
    }

    fn tokenize_line(
        &mut self,
        file_name: &Rc<str>,
        buf: &str,
        line: usize,
        depth: usize,
        out: &mut Vec<TokenizedLine>,
    ) {
        let file = &**file_name;
        let bytes = buf.as_bytes();
        let mut pos = 0usize;
        let mut fields: Vec<Vec<AuthToken>> = Vec::new();
        let mut error = false;
        while pos < bytes.len() && !error {
            let field = self.next_field(file, line, bytes, &mut pos, depth, &mut error);
            if !field.is_empty() {
                if fields.is_empty() {
                    // Room for a pg_hba.conf row with a few options, in one allocation.
                    fields.reserve_exact(8);
                }
                fields.push(field);
            }
        }
        if fields.is_empty() && !error {
            return;
        }
        if !error && self.d.includes_allowed && fields.len() == 2 {
            let first = fields[0].first().map(|t| t.text.as_str()).unwrap_or("");
            let second = fields[1]
                .first()
                .map(|t| t.text.clone())
                .unwrap_or_default();
            let ctx = (file, line);
            match first {
                "include" => {
                    if self.include_file(file, &second, depth + 1, false, ctx, out) {
                        return;
                    }
                    error = true;
                }
                "include_if_exists" => {
                    if self.include_file(file, &second, depth + 1, true, ctx, out) {
                        return;
                    }
                    error = true;
                }
                "include_dir" => {
                    if self.include_dir(file, &second, depth + 1, ctx, out) {
                        return;
                    }
                    error = true;
                }
                _ => {}
            }
        }
        out.push(TokenizedLine {
            file: Rc::clone(file_name),
            line,
            raw: buf.to_string(),
            fields,
            error,
        });
    }

    /// `next_token`: `Ok(None)` at end of line or comment. The token's text is left in
    /// `self.token`.
    fn next_token(&mut self, line: &[u8], pos: &mut usize) -> Result<Option<RawToken>, ()> {
        let at = |i: usize| line.get(i).copied().unwrap_or(0);
        let mut c = at(*pos);
        *pos += 1;
        while c != 0 && (is_blank(c) || c == b',') {
            c = at(*pos);
            *pos += 1;
        }
        let mut buf = std::mem::take(&mut self.token);
        buf.clear();
        let (mut in_quote, mut was_quote, mut saw_quote) = (false, false, false);
        let (mut initial_quote, mut terminating_comma) = (false, false);
        while c != 0 && (!is_blank(c) || in_quote) {
            // A run of bytes that are taken as they are goes in at once, up to the length
            // limit (the byte that reaches it takes the path below).
            let plain = if in_quote { PLAIN_IN_QUOTES } else { PLAIN };
            if TOKEN_BYTE[usize::from(c)] & plain != 0 {
                let start = *pos - 1;
                let run = line[start..]
                    .iter()
                    .take_while(|&&b| TOKEN_BYTE[usize::from(b)] & plain != 0)
                    .count();
                let room = self
                    .d
                    .max_token_bytes
                    .map_or(run, |max| max.saturating_sub(buf.len()));
                let take = run.min(room);
                if take > 0 {
                    buf.extend_from_slice(&line[start..start + take]);
                    was_quote = false;
                    c = at(start + take);
                    *pos = start + take + 1;
                    continue;
                }
            }
            if c == b'#' && !in_quote {
                // The rest of the line is a comment.
                let rest = line.get(*pos..).unwrap_or_default();
                *pos += rest.iter().position(|&b| b == 0).unwrap_or(rest.len()) + 1;
                break;
            }
            if self.d.max_token_bytes.is_some_and(|max| buf.len() >= max) {
                // 8.4 and 15 log this without a CONTEXT line.
                self.error(HbaError::TokenTooLong(lossy(&buf)), None);
                self.token = buf;
                *pos = line.len();
                return Err(());
            }
            if c == b',' && !in_quote {
                terminating_comma = true;
                break;
            }
            if c != b'"' || was_quote {
                buf.push(c);
            }
            if in_quote && c == b'"' {
                was_quote = !was_quote;
            } else {
                was_quote = false;
            }
            if c == b'"' {
                in_quote = !in_quote;
                saw_quote = true;
                if buf.is_empty() {
                    initial_quote = true;
                }
            }
            c = at(*pos);
            *pos += 1;
        }
        *pos -= 1;
        let found = saw_quote || !buf.is_empty();
        self.token = buf;
        Ok(found.then_some(RawToken {
            initial_quote,
            terminating_comma,
        }))
    }

    /// `next_field_expand`: one field (comma list), with `@file` expansion.
    fn next_field(
        &mut self,
        file: &str,
        line_no: usize,
        line: &[u8],
        pos: &mut usize,
        depth: usize,
        error: &mut bool,
    ) -> Vec<AuthToken> {
        let mut tokens = Vec::new();
        loop {
            let tok = match self.next_token(line, pos) {
                Err(()) => {
                    *error = true;
                    break;
                }
                Ok(None) => break,
                Ok(Some(t)) => t,
            };
            let text = &self.token;
            if !tok.initial_quote && text.len() > 1 && text[0] == b'@' {
                let inc = lossy(&text[1..]);
                match self.expand_file(file, &inc, depth + 1, (file, line_no)) {
                    Some(mut more) => tokens.append(&mut more),
                    None => *error = true,
                }
            } else {
                tokens.push(AuthToken::new(lossy(text), tok.initial_quote));
            }
            if !tok.terminating_comma || *error {
                break;
            }
        }
        tokens
    }

    /// `tokenize_expand_file`: all tokens of an `@file`, flattened.
    fn expand_file(
        &mut self,
        outer: &str,
        inc: &str,
        depth: usize,
        ctx: (&str, usize),
    ) -> Option<Vec<AuthToken>> {
        let full = absolute_config_location(inc, outer);
        if depth > MAX_INCLUDE_DEPTH {
            self.error(HbaError::NestingTooDeep(full), Some(ctx));
            return None;
        }
        let text = match self.resolver.read_file(&full) {
            Ok(t) => t,
            Err(e) => {
                let err = match self.d.at_file_error {
                    AtFileErrorStyle::Generic => HbaError::CouldNotOpenFile {
                        path: full,
                        reason: e.reason,
                    },
                    AtFileErrorStyle::Secondary => HbaError::SecondaryFileOpen {
                        inc: inc.to_string(),
                        full,
                        reason: e.reason,
                    },
                };
                self.error(err, Some(ctx));
                return None;
            }
        };
        let mut lines = Vec::new();
        self.tokenize(&full, &text, depth, &mut lines);
        let mut tokens = Vec::new();
        for l in lines {
            if l.error {
                return None;
            }
            for f in l.fields {
                tokens.extend(f);
            }
        }
        Some(tokens)
    }

    /// `tokenize_include_file`; true on success (or skipped missing file).
    fn include_file(
        &mut self,
        outer: &str,
        inc: &str,
        depth: usize,
        missing_ok: bool,
        ctx: (&str, usize),
        out: &mut Vec<TokenizedLine>,
    ) -> bool {
        let full = absolute_config_location(inc, outer);
        if depth > MAX_INCLUDE_DEPTH {
            self.error(HbaError::NestingTooDeep(full), Some(ctx));
            return false;
        }
        match self.resolver.read_file(&full) {
            Ok(text) => {
                self.tokenize(&full, &text, depth, out);
                true
            }
            Err(e) if e.not_found && missing_ok => {
                self.diags.push(Diagnostic {
                    level: LogLevel::Log,
                    is_error: false,
                    error: HbaError::SkippingMissingFile(full),
                    hint: None,
                    context: Some((ctx.0.to_string(), ctx.1)),
                });
                true
            }
            Err(e) => {
                self.error(
                    HbaError::CouldNotOpenFile {
                        path: full,
                        reason: e.reason,
                    },
                    Some(ctx),
                );
                false
            }
        }
    }

    /// `include_dir`: every `*.conf` (not hidden) in name order.
    fn include_dir(
        &mut self,
        outer: &str,
        dir: &str,
        depth: usize,
        ctx: (&str, usize),
        out: &mut Vec<TokenizedLine>,
    ) -> bool {
        if dir
            .bytes()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            self.error(HbaError::EmptyDirectoryName(dir.to_string()), Some(ctx));
            return false;
        }
        let full_dir = absolute_config_location(dir, outer);
        let names = match self.resolver.list_dir(&full_dir) {
            Ok(n) => n,
            Err(e) => {
                self.error(
                    HbaError::CouldNotOpenDirectory {
                        path: full_dir,
                        reason: e.reason,
                    },
                    Some(ctx),
                );
                return false;
            }
        };
        let mut files: Vec<String> = names
            .into_iter()
            .filter(|n| n.len() >= 6 && !n.starts_with('.') && n.ends_with(".conf"))
            .map(|n| canonicalize_path(&format!("{full_dir}/{n}")))
            .collect();
        files.sort();
        let mut ok = true;
        for f in files {
            ok &= self.include_file(outer, &f, depth, false, ctx, out);
        }
        ok
    }
}

/// Tokenize a whole file (exposed for tests and the fuzz target).
pub fn tokenize_str(
    text: &str,
    path: &str,
    opts: &ParseOptions<'_>,
) -> (Vec<TokenizedLine>, Vec<Diagnostic>) {
    let mut tk = Tokenizer {
        d: dialect(opts.profile),
        resolver: opts.resolver,
        diags: Vec::new(),
        token: Vec::new(),
    };
    // (A guess that saves the first few regrowths of a short file.)
    let mut lines = Vec::with_capacity(8);
    tk.tokenize(path, text, 0, &mut lines);
    (lines, tk.diags)
}

// ---------------------------------------------------------------------------
// Address helpers
// ---------------------------------------------------------------------------

/// glibc `inet_aton` syntax (what `getaddrinfo(AI_NUMERICHOST)` accepts):
/// 1-4 parts, each decimal, octal (`0` prefix) or hex (`0x`).
fn parse_ipv4_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut vals = Vec::with_capacity(parts.len());
    for p in &parts {
        let v = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            if h.is_empty() {
                0
            } else {
                u64::from_str_radix(h, 16).ok()?
            }
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(&p[1..], 8).ok()?
        } else {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse::<u64>().ok()?
        };
        if v > u64::from(u32::MAX) {
            return None;
        }
        vals.push(v as u32);
    }
    let (last, head) = vals.split_last()?;
    let last_max: u64 = match head.len() {
        0 => 0xffff_ffff,
        1 => 0x00ff_ffff,
        2 => 0xffff,
        _ => 0xff,
    };
    if u64::from(*last) > last_max || head.iter().any(|v| *v > 0xff) {
        return None;
    }
    let mut n: u32 = 0;
    for (i, v) in head.iter().enumerate() {
        n |= v << (24 - 8 * i);
    }
    Some(Ipv4Addr::from(n | last))
}

/// Numeric host as `getaddrinfo(AI_NUMERICHOST, AF_UNSPEC)` would accept it.
pub fn parse_numeric_host(s: &str) -> Option<IpAddr> {
    if let Some(v4) = parse_ipv4_aton(s) {
        return Some(IpAddr::V4(v4));
    }
    s.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

/// `pg_sockaddr_cidr_mask`: `strtol` syntax, range 0..=32 / 0..=128.
fn cidr_mask(bits: &str, v6: bool) -> Option<IpAddr> {
    let t = bits.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if bits.is_empty() || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n: u64 = 0;
    for b in digits.bytes() {
        n = n.saturating_mul(10).saturating_add(u64::from(b - b'0'));
    }
    if neg && n != 0 {
        return None;
    }
    if v6 {
        if n > 128 {
            return None;
        }
        let m: u128 = if n == 0 { 0 } else { u128::MAX << (128 - n) };
        Some(IpAddr::V6(Ipv6Addr::from(m)))
    } else {
        if n > 32 {
            return None;
        }
        let m: u32 = if n == 0 { 0 } else { u32::MAX << (32 - n) };
        Some(IpAddr::V4(Ipv4Addr::from(m)))
    }
}

/// Prefix length if `mask` is contiguous ones followed by zeros.
pub fn mask_prefix_len(mask: IpAddr) -> Option<u32> {
    match mask {
        IpAddr::V4(m) => {
            let v = u32::from(m);
            let len = v.leading_ones();
            (v.checked_shl(len).unwrap_or(0) == 0).then_some(len)
        }
        IpAddr::V6(m) => {
            let v = u128::from(m);
            let len = v.leading_ones();
            (v.checked_shl(len).unwrap_or(0) == 0).then_some(len)
        }
    }
}

// ---------------------------------------------------------------------------
// Small helpers for option values
// ---------------------------------------------------------------------------

/// C `atoi`.
fn atoi(s: &str) -> i64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    for b in rest.bytes().take_while(|b| b.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg { -n } else { n }
}

/// `SplitGUCList(val, ',')`: `None` on syntax error.
fn split_guc_list(s: &str) -> Option<Vec<String>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0usize;
    let ws = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c');
    while i < b.len() && ws(b[i]) {
        i += 1;
    }
    if i == b.len() {
        return Some(out);
    }
    loop {
        let mut item = Vec::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            loop {
                if i >= b.len() {
                    return None; // unterminated quote
                }
                if b[i] == b'"' {
                    if b.get(i + 1) == Some(&b'"') {
                        item.push(b'"');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                item.push(b[i]);
                i += 1;
            }
        } else {
            let start = i;
            while i < b.len() && b[i] != b',' && !ws(b[i]) {
                i += 1;
            }
            if i == start {
                return None; // empty unquoted name
            }
            item.extend_from_slice(&b[start..i]);
        }
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
        out.push(lossy(&item));
        if i >= b.len() {
            return Some(out);
        }
        if b[i] != b',' {
            return None;
        }
        i += 1;
        while i < b.len() && ws(b[i]) {
            i += 1;
        }
    }
}

// ---------------------------------------------------------------------------
// pg_hba.conf parsing
// ---------------------------------------------------------------------------

struct LineParser<'x> {
    d: &'static HbaDialect,
    opts: &'x ParseOptions<'x>,
    tl: &'x TokenizedLine,
    diags: &'x mut Vec<Diagnostic>,
}

impl LineParser<'_> {
    fn ctx(&self) -> Option<(String, usize)> {
        Some((self.tl.file.to_string(), self.tl.line))
    }

    fn fail(&mut self, error: HbaError, hint: Option<&'static str>) -> Option<HbaRow> {
        let context = self.ctx();
        self.diags.push(Diagnostic {
            level: LogLevel::Log,
            is_error: true,
            error,
            hint,
            context,
        });
        None
    }

    fn warn(&mut self, error: HbaError, hint: Option<&'static str>) {
        let context = self.ctx();
        self.diags.push(Diagnostic {
            level: LogLevel::Log,
            is_error: false,
            error,
            hint,
            context,
        });
    }

    fn compile_tokens(&mut self, mut tokens: Vec<AuthToken>) -> Result<Vec<AuthToken>, HbaError> {
        if self.d.regex_db_user {
            for t in &mut tokens {
                t.compile(self.opts.patterns)?;
            }
        }
        Ok(tokens)
    }

    /// Parses the line; `fields` and `raw` are the line's (moved out of `self.tl`, so that
    /// what the row keeps is not copied).
    fn parse(&mut self, fields: Vec<Vec<AuthToken>>, raw: String) -> Option<HbaRow> {
        let tl = self.tl;
        let mut fields = fields.into_iter();

        // connection type
        let Some(f) = fields.next() else {
            return self.fail(HbaError::InvalidConnectionType(String::new()), None);
        };
        if f.len() > 1 {
            return self.fail(
                HbaError::MultipleConnectionTypes,
                Some("Specify exactly one connection type per line."),
            );
        }
        let ct_text = f.first().map(|t| t.text.as_str()).unwrap_or("");
        let conn_type = match ConnType::from_keyword(ct_text) {
            Some(ct) if self.d.conn_types.contains(&ct) => ct,
            _ => return self.fail(HbaError::InvalidConnectionType(ct_text.to_string()), None),
        };
        if conn_type == ConnType::HostSsl && !self.opts.ssl_enabled {
            let rule = self.d.ssl_off;
            if rule.fatal {
                return self.fail(HbaError::HostsslSslOff(rule.message), Some(rule.hint));
            }
            self.warn(HbaError::HostsslSslOff(rule.message), Some(rule.hint));
        }
        if conn_type == ConnType::HostGssEnc && !self.opts.build.gssapi {
            self.warn(HbaError::HostgssencNotSupported, None);
        }

        // databases and roles
        let Some(f) = fields.next() else {
            return self.fail(HbaError::EolBeforeDatabase, None);
        };
        let databases = match self.compile_tokens(f) {
            Ok(t) => t,
            Err(e) => return self.fail(e, None),
        };
        let Some(f) = fields.next() else {
            return self.fail(HbaError::EolBeforeRole, None);
        };
        let users = match self.compile_tokens(f) {
            Ok(t) => t,
            Err(e) => return self.fail(e, None),
        };

        // address
        let mut address = None;
        if conn_type != ConnType::Local {
            let Some(f) = fields.next() else {
                return self.fail(HbaError::EolBeforeAddress, None);
            };
            if f.len() > 1 {
                return self.fail(
                    HbaError::MultipleHostAddresses,
                    Some("Specify one address range per line."),
                );
            }
            let Some(tok) = f.first() else {
                return self.fail(HbaError::EolBeforeAddress, None);
            };
            if self.d.address_keywords && tok.is_keyword("all") {
                address = Some(HbaAddress::All);
            } else if self.d.address_keywords && tok.is_keyword("samehost") {
                address = Some(HbaAddress::SameHost);
            } else if self.d.address_keywords && tok.is_keyword("samenet") {
                address = Some(HbaAddress::SameNet);
            } else {
                let (host, cidr) = match tok.text.find('/') {
                    Some(i) => (&tok.text[..i], Some(&tok.text[i + 1..])),
                    None => (tok.text.as_str(), None),
                };
                let addr = parse_numeric_host(host);
                if addr.is_none() && !self.d.hostnames {
                    return self.fail(
                        HbaError::InvalidIpAddress {
                            addr: host.to_string(),
                            reason: EAI_NONAME_TEXT.to_string(),
                        },
                        None,
                    );
                }
                match (addr, cidr) {
                    (None, Some(_)) => {
                        return self.fail(HbaError::HostnameWithCidr(tok.text.clone()), None);
                    }
                    (None, None) => address = Some(HbaAddress::Hostname(host.to_string())),
                    (Some(a), Some(bits)) => match cidr_mask(bits, a.is_ipv6()) {
                        Some(mask) => address = Some(HbaAddress::Cidr { addr: a, mask }),
                        None => {
                            return self.fail(HbaError::InvalidCidrMask(tok.text.clone()), None);
                        }
                    },
                    (Some(a), None) => {
                        let Some(f) = fields.next() else {
                            return self.fail(HbaError::EolBeforeNetmask, self.d.netmask_eol_hint);
                        };
                        if f.len() > 1 {
                            return self.fail(HbaError::MultipleNetmasks, None);
                        }
                        let mtext = f.first().map(|t| t.text.clone()).unwrap_or_default();
                        let Some(mask) = parse_numeric_host(&mtext) else {
                            return self.fail(
                                HbaError::InvalidIpMask {
                                    mask: mtext,
                                    reason: EAI_NONAME_TEXT.to_string(),
                                },
                                None,
                            );
                        };
                        if mask.is_ipv6() != a.is_ipv6() {
                            if self.d.mask_mismatch_with_location {
                                let e = HbaError::AddressMaskMismatchAt {
                                    file: tl.file.to_string(),
                                    line: tl.line,
                                };
                                self.diags.push(Diagnostic {
                                    level: LogLevel::Log,
                                    is_error: true,
                                    error: e,
                                    hint: None,
                                    context: None,
                                });
                                return None;
                            }
                            return self.fail(HbaError::AddressMaskMismatch, None);
                        }
                        address = Some(HbaAddress::Cidr { addr: a, mask });
                    }
                }
            }
        }

        // method
        let Some(f) = fields.next() else {
            return self.fail(HbaError::EolBeforeMethod, None);
        };
        if f.len() > 1 {
            return self.fail(
                HbaError::MultipleAuthTypes,
                Some("Specify exactly one authentication type per line."),
            );
        }
        let mtext = f.first().map(|t| t.text.as_str()).unwrap_or("");
        let mut method = match AuthMethod::from_name(mtext) {
            Some(m) if self.d.methods.contains(&m) => m,
            _ => return self.fail(HbaError::InvalidAuthMethod(mtext.to_string()), None),
        };
        if !self.opts.build.supports(method) {
            return self.fail(
                HbaError::UnsupportedAuthMethod {
                    method: mtext.to_string(),
                    suffix: self.d.unsupported_method_suffix,
                },
                None,
            );
        }
        if self.d.local_ident_becomes_peer
            && conn_type == ConnType::Local
            && method == AuthMethod::Ident
        {
            method = AuthMethod::Peer;
        }
        if conn_type == ConnType::Local && method == AuthMethod::Krb5 {
            return self.fail(HbaError::Krb5OnLocal, None);
        }
        if conn_type == ConnType::Local && method == AuthMethod::Gss {
            return self.fail(HbaError::GssOnLocal, None);
        }
        if conn_type != ConnType::Local && method == AuthMethod::Peer {
            return self.fail(HbaError::PeerNotLocal, None);
        }
        if conn_type != ConnType::HostSsl && method == AuthMethod::Cert {
            return self.fail(HbaError::CertNotHostssl, None);
        }

        let mut row = HbaRow {
            file: tl.file.to_string(),
            line: tl.line,
            raw_line: raw,
            conn_type,
            databases,
            users,
            address,
            method,
            options: Vec::new(),
            clientcert: ClientCertMode::Off,
            clientname: ClientCertName::Cn,
            map: None,
        };

        // options
        for f in fields {
            for tok in f {
                let Some((name, val)) = tok.text.split_once('=') else {
                    return self.fail(HbaError::OptionNotNameValue(tok.text.clone()), None);
                };
                if let Err((e, warn_only)) = self.parse_option(&mut row, name, val) {
                    if warn_only {
                        self.warn(e, None);
                    } else {
                        return self.fail(e, None);
                    }
                }
                let value = val.to_string();
                // The token's own text becomes the name.
                let mut name = tok.text;
                name.truncate(name.len() - value.len() - 1);
                row.options.push((name, value));
            }
        }

        if let Err(e) = self.check_mandatory(&row) {
            return self.fail(e, None);
        }
        if row.method == AuthMethod::Cert {
            row.clientcert = ClientCertMode::VerifyFull;
        }
        Some(row)
    }

    /// `parse_hba_auth_opt`. `Err((e, true))` is a LOG that does not fail the line.
    fn parse_option(
        &mut self,
        row: &mut HbaRow,
        name: &str,
        val: &str,
    ) -> Result<(), (HbaError, bool)> {
        let fail = |e| Err((e, false));
        let Some(spec) = self.d.options.iter().find(|o| o.name == name) else {
            return fail(HbaError::UnrecognizedOption {
                prefix: self.d.unknown_option_prefix,
                name: name.to_string(),
            });
        };
        match spec.kind {
            OptionKind::ClientCert => {
                if row.conn_type != ConnType::HostSsl {
                    return fail(HbaError::ClientCertNotHostssl);
                }
                let Some(v) = self.d.clientcert_values.iter().find(|v| v.value == val) else {
                    return fail(HbaError::InvalidClientCert(val.to_string()));
                };
                if row.method == AuthMethod::Cert && !v.allowed_with_cert {
                    return fail(HbaError::ClientCertWithCert(
                        self.d.clientcert_cert_conflict,
                    ));
                }
                row.clientcert = v.mode;
            }
            OptionKind::ClientName => {
                if row.conn_type != ConnType::HostSsl {
                    return fail(HbaError::ClientNameNotHostssl);
                }
                row.clientname = match val {
                    "CN" => ClientCertName::Cn,
                    "DN" => ClientCertName::Dn,
                    _ => return fail(HbaError::InvalidClientName(val.to_string())),
                };
            }
            OptionKind::Method => {
                if !spec.methods.contains(&row.method) {
                    return fail(HbaError::OptionInvalidForMethod {
                        name: name.to_string(),
                        methods: spec.methods_text,
                    });
                }
                match name {
                    "map" => row.map = Some(val.to_string()),
                    "ldapport" if atoi(val) == 0 => {
                        return fail(HbaError::InvalidLdapPort(val.to_string()));
                    }
                    "ldapscheme" if val != "ldap" && val != "ldaps" => {
                        return Err((HbaError::InvalidLdapScheme(val.to_string()), true));
                    }
                    "radiusservers" if split_guc_list(val).is_none() => {
                        return fail(HbaError::RadiusServerList(val.to_string()));
                    }
                    "radiusports" => match split_guc_list(val) {
                        None => return fail(HbaError::RadiusPortList(val.to_string())),
                        Some(ports) if ports.iter().any(|p| atoi(p) == 0) => {
                            return fail(HbaError::InvalidRadiusPort(val.to_string()));
                        }
                        Some(_) => {}
                    },
                    "radiussecrets" if split_guc_list(val).is_none() => {
                        return fail(HbaError::RadiusSecretList(val.to_string()));
                    }
                    "radiusidentifiers" if split_guc_list(val).is_none() => {
                        return fail(HbaError::RadiusIdentifierList(val.to_string()));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// Checks done after all options (mandatory arguments, conflicts).
    fn check_mandatory(&self, row: &HbaRow) -> Result<(), HbaError> {
        let has = |n: &str| row.option(n).is_some();
        let list_len = |n: &str| {
            row.option(n)
                .and_then(split_guc_list)
                .map(|l| l.len())
                .unwrap_or(0)
        };
        match row.method {
            AuthMethod::Ldap => {
                if self.d.ldap_server_mandatory {
                    if !has("ldapserver") {
                        return Err(HbaError::MissingArgument {
                            method: "ldap",
                            arg: "ldapserver",
                        });
                    }
                    return Ok(());
                }
                let basedn =
                    has("ldapbasedn") || row.option("ldapurl").is_some_and(ldap_url_has_dn);
                if has("ldapprefix") || has("ldapsuffix") {
                    if basedn
                        || has("ldapbinddn")
                        || has("ldapbindpasswd")
                        || has("ldapsearchattribute")
                        || has("ldapsearchfilter")
                    {
                        return Err(HbaError::LdapMixedModes(self.d.ldap_mix_message));
                    }
                } else if !basedn {
                    return Err(HbaError::LdapBaseRequired);
                }
                if has("ldapsearchattribute") && has("ldapsearchfilter") {
                    return Err(HbaError::LdapAttributeAndFilter);
                }
            }
            AuthMethod::Radius => {
                let servers = list_len("radiusservers");
                if servers == 0 {
                    return Err(HbaError::MissingArgument {
                        method: "radius",
                        arg: "radiusservers",
                    });
                }
                let secrets = list_len("radiussecrets");
                if secrets == 0 {
                    return Err(HbaError::MissingArgument {
                        method: "radius",
                        arg: "radiussecrets",
                    });
                }
                if !(secrets == 1 || secrets == servers) {
                    return Err(HbaError::RadiusCount {
                        what: "secrets",
                        count: secrets,
                        servers,
                    });
                }
                for (what, opt) in [
                    ("ports", "radiusports"),
                    ("identifiers", "radiusidentifiers"),
                ] {
                    let n = list_len(opt);
                    if !(n == 0 || n == 1 || n == servers) {
                        return Err(HbaError::RadiusCount {
                            what,
                            count: n,
                            servers,
                        });
                    }
                }
            }
            AuthMethod::OAuth => {
                if !has("scope") {
                    return Err(HbaError::MissingArgument {
                        method: "oauth",
                        arg: "scope",
                    });
                }
                if !has("issuer") {
                    return Err(HbaError::MissingArgument {
                        method: "oauth",
                        arg: "issuer",
                    });
                }
                if row.option("delegate_ident_mapping") == Some("1") && row.map.is_some() {
                    return Err(HbaError::OAuthMapWithDelegation);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Whether an `ldap[s]://host[:port]/dn?...` URL carries a base DN.
fn ldap_url_has_dn(url: &str) -> bool {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    match rest.split_once('/') {
        Some((_, path)) => !path.split('?').next().unwrap_or("").is_empty(),
        None => false,
    }
}

/// Parse pg_hba.conf text. `path` names the file in messages and rows and is
/// the base for relative `@file`/include paths, which go through
/// `opts.resolver` (never the filesystem unless it is [`FsResolver`]).
pub fn parse_hba_str(text: &str, path: &str, opts: &ParseOptions<'_>) -> HbaLoad {
    let d = dialect(opts.profile);
    let (lines, mut diagnostics) = tokenize_str(text, path, opts);
    let mut rows = Vec::new();
    let mut ok = true;
    for mut tl in lines {
        if tl.error {
            ok = false;
            continue;
        }
        let fields = std::mem::take(&mut tl.fields);
        let raw = std::mem::take(&mut tl.raw);
        let tl = &tl;
        let mut lp = LineParser {
            d,
            opts,
            tl,
            diags: &mut diagnostics,
        };
        match lp.parse(fields, raw) {
            Some(r) => rows.push(r),
            None => ok = false,
        }
    }
    if ok && rows.is_empty() && d.empty_file_is_error {
        diagnostics.push(Diagnostic {
            level: LogLevel::Log,
            is_error: true,
            error: HbaError::NoEntries(path.to_string()),
            hint: None,
            context: None,
        });
    }
    HbaLoad {
        config: HbaConfig {
            profile: opts.profile,
            path: path.to_string(),
            rows,
        },
        diagnostics,
    }
}

/// Read pg_hba.conf from disk (the top file via `std::fs`; includes through
/// `opts.resolver`, pass `&FsResolver` for real ones).
pub fn load_hba_file(path: &str, opts: &ParseOptions<'_>) -> HbaLoad {
    match std::fs::read(path) {
        Ok(b) => parse_hba_str(&String::from_utf8_lossy(&b), path, opts),
        Err(e) => HbaLoad {
            config: HbaConfig {
                profile: opts.profile,
                path: path.to_string(),
                rows: Vec::new(),
            },
            diagnostics: vec![open_failure(
                dialect(opts.profile).hba_open_error_prefix,
                path,
                &e,
            )],
        },
    }
}

fn open_failure(prefix: &'static str, path: &str, e: &std::io::Error) -> Diagnostic {
    Diagnostic {
        level: LogLevel::Log,
        is_error: true,
        error: HbaError::CouldNotOpenTopFile {
            prefix,
            path: path.to_string(),
            reason: ResolveError::from_io(e).reason,
        },
        hint: None,
        context: None,
    }
}

// ---------------------------------------------------------------------------
// pg_ident.conf parsing
// ---------------------------------------------------------------------------

/// `fields` are `tl`'s, moved out of it so that the tokens the row keeps are not copied.
fn parse_ident_line(
    tl: &TokenizedLine,
    fields: Vec<Vec<AuthToken>>,
    d: &'static HbaDialect,
    patterns: &dyn PatternCompiler,
) -> Result<IdentRow, (HbaError, bool)> {
    // (error, has CONTEXT line)
    let missing = || {
        if d.ident_missing_entry_with_location {
            (
                HbaError::IdentMissingEntryAt {
                    file: tl.file.to_string(),
                    line: tl.line,
                },
                false,
            )
        } else {
            (HbaError::IdentMissingEntry, true)
        }
    };
    let mut fields = fields.into_iter();
    let mut single = || -> Result<AuthToken, (HbaError, bool)> {
        let f = fields.next().ok_or_else(missing)?;
        if f.len() > 1 {
            return Err((HbaError::IdentMultipleValues, true));
        }
        f.into_iter().next().ok_or_else(missing)
    };
    let map = single()?;
    let mut system_user = single()?;
    let mut pg_user = single()?;
    system_user.compile(patterns).map_err(|e| (e, true))?;
    if d.ident_pg_user_keywords {
        pg_user.compile(patterns).map_err(|e| (e, true))?;
    }
    Ok(IdentRow {
        file: tl.file.to_string(),
        line: tl.line,
        map: map.text,
        system_user,
        pg_user,
    })
}

/// Parse pg_ident.conf text (same conventions as [`parse_hba_str`]).
pub fn parse_ident_str(text: &str, path: &str, opts: &ParseOptions<'_>) -> IdentLoad {
    let d = dialect(opts.profile);
    let (lines, mut diagnostics) = tokenize_str(text, path, opts);
    let mut rows = Vec::new();
    for mut tl in lines {
        if tl.error {
            continue;
        }
        let fields = std::mem::take(&mut tl.fields);
        match parse_ident_line(&tl, fields, d, opts.patterns) {
            Ok(r) => rows.push(r),
            Err((error, with_context)) => diagnostics.push(Diagnostic {
                level: LogLevel::Log,
                is_error: true,
                error,
                hint: None,
                context: with_context.then(|| (tl.file.to_string(), tl.line)),
            }),
        }
    }
    IdentLoad {
        config: IdentConfig {
            profile: opts.profile,
            path: path.to_string(),
            rows,
        },
        diagnostics,
    }
}

/// Read pg_ident.conf from disk.
pub fn load_ident_file(path: &str, opts: &ParseOptions<'_>) -> IdentLoad {
    match std::fs::read(path) {
        Ok(b) => parse_ident_str(&String::from_utf8_lossy(&b), path, opts),
        Err(e) => IdentLoad {
            config: IdentConfig {
                profile: opts.profile,
                path: path.to_string(),
                rows: Vec::new(),
            },
            diagnostics: vec![open_failure(
                dialect(opts.profile).ident_open_error_prefix,
                path,
                &e,
            )],
        },
    }
}

// ---------------------------------------------------------------------------
// Display (round-trips through the parser)
// ---------------------------------------------------------------------------

/// Characters the tokenizer would split or strip on outside quotes. A backslash is
/// ordinary inside a line; only at the very end of a line does it join the next one, which
/// the row printers avoid (see [`end_row`]).
fn needs_quoting(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n' | ',' | '#' | '"')
}

/// The tokenizer's length limit also applies when it reads a closing quote, so a quoted
/// token holds one byte less than a bare one. Tokens shorter than the smallest limit (8.4's
/// 254 bytes) are quoted whole (but for a bare first character), for readability; longer
/// ones only from the first to the last character that needs it, so that any token that
/// parsed prints back within the limit.
const WHOLE_QUOTING_MAX_LEN: usize = 253;

/// Write a token so that the tokenizer gives back the same text and `quoted` flag.
///
/// `open_at`: the token ends its line, and the dialect's token limit is this many bytes.
/// The tokenizer checks its limit on the closing quote too, so a token that needs quoting
/// up to a character at or past the limit can only have been read from a quote left open
/// to the end of the line; it is printed the same way.
fn write_token(
    f: &mut impl fmt::Write,
    text: &str,
    quoted: bool,
    open_at: Option<usize>,
) -> fmt::Result {
    let from_start = quoted
        || text.is_empty()
        || (text.len() > 1 && text.starts_with('@'))
        || text.starts_with(needs_quoting);
    let last_special_end = text
        .char_indices()
        .rev()
        .find(|&(_, c)| needs_quoting(c))
        .map(|(i, c)| i + c.len_utf8());
    if !from_start && last_special_end.is_none() {
        return f.write_str(text);
    }
    // Unless the token is quoted, its first character stays bare so that it does not
    // count as quoted.
    let first_len = text.chars().next().map_or(0, char::len_utf8);
    let (start, end) = if text.len() <= WHOLE_QUOTING_MAX_LEN {
        (if from_start { 0 } else { first_len }, text.len())
    } else {
        let start = if from_start {
            0
        } else {
            text.find(needs_quoting).unwrap_or(0).max(first_len)
        };
        (start, last_special_end.unwrap_or(0).max(start))
    };
    if open_at.is_some_and(|max| end >= max) {
        return write!(
            f,
            "{}\"{}",
            &text[..start],
            text[start..].replace('"', "\"\"")
        );
    }
    write!(
        f,
        "{}\"{}\"{}",
        &text[..start],
        text[start..end].replace('"', "\"\""),
        &text[end..]
    )
}

fn write_list(f: &mut impl fmt::Write, toks: &[AuthToken]) -> fmt::Result {
    for (i, t) in toks.iter().enumerate() {
        if i > 0 {
            f.write_str(",")?;
        }
        write_token(f, &t.text, t.quoted, None)?;
    }
    Ok(())
}

/// What the row printers need to know of the dialect that will read the text back.
#[derive(Clone, Copy, Debug)]
struct PrintDialect {
    /// The token limit, if the last token of a row may be printed with its quote open.
    max_token_bytes: Option<usize>,
    line_continuation: bool,
}

impl PrintDialect {
    /// For a row printed on its own: readable by every profile, quotes always closed.
    const ANY: PrintDialect = PrintDialect {
        max_token_bytes: None,
        line_continuation: true,
    };

    fn of(profile: Profile) -> PrintDialect {
        let d = dialect(profile);
        PrintDialect {
            max_token_bytes: d.max_token_bytes,
            line_continuation: d.line_continuation,
        }
    }
}

/// Finishes a printed row: a trailing tab if it ends in a backslash that would otherwise
/// continue the line (15 and later; never after a quote left open, where a tab would be part
/// of the token and where the tokenizer could not have read a trailing backslash).
fn end_row(f: &mut impl fmt::Write, mut line: String, d: PrintDialect) -> fmt::Result {
    if d.line_continuation && line.ends_with('\\') {
        line.push('\t');
    }
    f.write_str(&line)
}

impl fmt::Display for HbaAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HbaAddress::All => f.write_str("all"),
            HbaAddress::SameHost => f.write_str("samehost"),
            HbaAddress::SameNet => f.write_str("samenet"),
            HbaAddress::Hostname(h) => {
                let kw = matches!(h.as_str(), "all" | "samehost" | "samenet");
                write_token(f, h, kw, None)
            }
            HbaAddress::Cidr { addr, mask } => match mask_prefix_len(*mask) {
                Some(len) => write!(f, "{addr}/{len}"),
                None => write!(f, "{addr}\t{mask}"),
            },
        }
    }
}

impl HbaRow {
    fn print(&self, f: &mut impl fmt::Write, d: PrintDialect) -> fmt::Result {
        let mut line = String::new();
        line.push_str(self.conn_type.keyword());
        line.push('\t');
        write_list(&mut line, &self.databases)?;
        line.push('\t');
        write_list(&mut line, &self.users)?;
        if let Some(a) = &self.address {
            write!(line, "\t{a}")?;
        }
        write!(line, "\t{}", self.method.name())?;
        for (i, (n, v)) in self.options.iter().enumerate() {
            line.push('\t');
            let open_at = d.max_token_bytes.filter(|_| i + 1 == self.options.len());
            write_token(&mut line, &format!("{n}={v}"), false, open_at)?;
        }
        end_row(f, line, d)
    }
}

impl fmt::Display for HbaRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.print(f, PrintDialect::ANY)
    }
}

/// The rows, one per line, as the configuration's profile reads them back.
impl fmt::Display for HbaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        print_rows(f, self.profile, &self.rows, |r, f, d| r.print(f, d))
    }
}

/// Prints `rows`, one per line, for `profile` to read back.
fn print_rows<R>(
    f: &mut fmt::Formatter<'_>,
    profile: Profile,
    rows: &[R],
    print: impl Fn(&R, &mut fmt::Formatter<'_>, PrintDialect) -> fmt::Result,
) -> fmt::Result {
    let d = PrintDialect::of(profile);
    for r in rows {
        print(r, f, d)?;
        f.write_str("\n")?;
    }
    Ok(())
}

impl IdentRow {
    fn print(&self, f: &mut impl fmt::Write, d: PrintDialect) -> fmt::Result {
        let mut line = String::new();
        write_token(&mut line, &self.map, false, None)?;
        line.push('\t');
        write_token(
            &mut line,
            &self.system_user.text,
            self.system_user.quoted,
            None,
        )?;
        line.push('\t');
        let (pg_user, quoted) = (&self.pg_user.text, self.pg_user.quoted);
        write_token(&mut line, pg_user, quoted, d.max_token_bytes)?;
        end_row(f, line, d)
    }
}

impl fmt::Display for IdentRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.print(f, PrintDialect::ANY)
    }
}

/// The rows, one per line, as the configuration's profile reads them back.
impl fmt::Display for IdentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        print_rows(f, self.profile, &self.rows, |r, f, d| r.print(f, d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/data/pg_hba.conf";

    fn hba(profile: Profile, text: &str) -> HbaLoad {
        parse_hba_str(text, PATH, &ParseOptions::new(profile))
    }

    /// Message of the first error-level diagnostic.
    fn err(profile: Profile, text: &str) -> String {
        let load = hba(profile, text);
        match load.errors().next() {
            Some(d) => d.message(),
            None => panic!(
                "expected an error for {text:?}, got rows {:?}",
                load.config.rows
            ),
        }
    }

    fn all_profiles() -> [Profile; 3] {
        [Profile::Seed, Profile::Pg15, Profile::Pg18]
    }

    fn files(
        map: &'static [(&'static str, &'static str)],
    ) -> FnResolver<impl Fn(&str) -> Option<String>> {
        FnResolver(move |p: &str| {
            map.iter()
                .find(|(k, _)| *k == p)
                .map(|(_, v)| v.to_string())
        })
    }

    struct DirResolver;
    impl IncludeResolver for DirResolver {
        fn read_file(&self, path: &str) -> Result<String, ResolveError> {
            match path {
                "/data/conf.d/10-a.conf" => Ok("host all alice 10.0.0.1/32 trust\n".into()),
                "/data/conf.d/20-b.conf" => Ok("host all bob 10.0.0.2/32 reject\n".into()),
                _ => Err(ResolveError::not_found()),
            }
        }
        fn list_dir(&self, path: &str) -> Result<Vec<String>, ResolveError> {
            if path == "/data/conf.d" {
                Ok(vec![
                    "20-b.conf".into(),
                    ".hidden.conf".into(),
                    "10-a.conf".into(),
                    "notes.txt".into(),
                ])
            } else {
                Err(ResolveError {
                    not_found: true,
                    reason: "No such file or directory".into(),
                })
            }
        }
    }

    // ----- tokenizer -------------------------------------------------------

    #[test]
    fn regex_cache_gives_the_same_answers() {
        let text = "m /^(.*)@EXAMPLE$ \\1\nm /(bad x\nm /^(.*)@EXAMPLE$ y\n";
        let cache = crate::hba::pattern::RegexCache::new();
        let uncached = parse_ident_str(text, PATH, &ParseOptions::new(Profile::Pg18));
        for _ in 0..2 {
            let opts = ParseOptions::with_patterns(Profile::Pg18, &cache);
            let load = parse_ident_str(text, PATH, &opts);
            assert_eq!(load.diagnostics, uncached.diagnostics);
            assert_eq!(
                load.diagnostics[0].message(),
                "invalid regular expression \"(bad\": parentheses () not balanced"
            );
            assert_eq!(load.config.rows.len(), 2);
            for (a, b) in load.config.rows.iter().zip(&uncached.config.rows) {
                assert!(a.same_rule(b));
            }
            // One compiled program for both rows.
            let (a, b) = (&load.config.rows[0], &load.config.rows[1]);
            assert!(std::ptr::eq(
                a.system_user.regex().unwrap(),
                b.system_user.regex().unwrap()
            ));
            assert_eq!(
                crate::hba::map_identity(&load.config, "m", "joe@EXAMPLE", "joe", false),
                Ok(true)
            );
        }
        assert_eq!(cache.len(), 2);
    }

    /// `next_token` as it was written first, byte by byte after PostgreSQL's C: the
    /// reference for the table-driven one. `Err` carries the too-long prefix.
    #[allow(clippy::type_complexity)]
    fn next_token_reference(
        line: &[u8],
        pos: &mut usize,
        max_token_bytes: Option<usize>,
    ) -> Result<Option<(Vec<u8>, bool, bool)>, Vec<u8>> {
        let at = |i: usize| line.get(i).copied().unwrap_or(0);
        let mut c = at(*pos);
        *pos += 1;
        while c != 0 && (is_blank(c) || c == b',') {
            c = at(*pos);
            *pos += 1;
        }
        let mut buf: Vec<u8> = Vec::new();
        let (mut in_quote, mut was_quote, mut saw_quote) = (false, false, false);
        let (mut initial_quote, mut terminating_comma) = (false, false);
        while c != 0 && (!is_blank(c) || in_quote) {
            if c == b'#' && !in_quote {
                while c != 0 {
                    c = at(*pos);
                    *pos += 1;
                }
                break;
            }
            if max_token_bytes.is_some_and(|max| buf.len() >= max) {
                *pos = line.len();
                return Err(buf);
            }
            if c == b',' && !in_quote {
                terminating_comma = true;
                break;
            }
            if c != b'"' || was_quote {
                buf.push(c);
            }
            if in_quote && c == b'"' {
                was_quote = !was_quote;
            } else {
                was_quote = false;
            }
            if c == b'"' {
                in_quote = !in_quote;
                saw_quote = true;
                if buf.is_empty() {
                    initial_quote = true;
                }
            }
            c = at(*pos);
            *pos += 1;
        }
        *pos -= 1;
        Ok((saw_quote || !buf.is_empty()).then_some((buf, initial_quote, terminating_comma)))
    }

    #[test]
    fn next_token_agrees_with_the_reference() {
        let alphabet = b"ab\xc3\xa9 \t\r,#\"=/@\\";
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000 {
            let len = (next() % 40) as usize + if round % 50 == 0 { 250 } else { 0 };
            let line: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            for profile in all_profiles() {
                let d = dialect(profile);
                let mut tk = Tokenizer {
                    d,
                    resolver: &NoIncludes,
                    diags: Vec::new(),
                    token: Vec::new(),
                };
                let (mut pos, mut ref_pos) = (0, 0);
                loop {
                    let ours = tk.next_token(&line, &mut pos);
                    let theirs = next_token_reference(&line, &mut ref_pos, d.max_token_bytes);
                    let ctx = String::from_utf8_lossy(&line);
                    assert_eq!(pos, ref_pos, "{profile:?} {ctx:?}");
                    match (ours, theirs) {
                        (Ok(None), Ok(None)) => break,
                        (Ok(Some(t)), Ok(Some((text, initial_quote, comma)))) => {
                            assert_eq!(tk.token, text, "{profile:?} {ctx:?}");
                            assert_eq!(t.initial_quote, initial_quote, "{profile:?} {ctx:?}");
                            assert_eq!(t.terminating_comma, comma, "{profile:?} {ctx:?}");
                        }
                        (Err(()), Err(prefix)) => {
                            let expected = HbaError::TokenTooLong(lossy(&prefix));
                            assert_eq!(tk.diags.last().map(|d| &d.error), Some(&expected));
                            break;
                        }
                        (a, b) => panic!(
                            "{profile:?} {ctx:?}: {:?} vs {b:?}",
                            a.map(|t| t.map(|_| ()))
                        ),
                    }
                    if pos >= line.len() {
                        break;
                    }
                }
            }
        }
    }

    #[test]
    fn list_tokens_with_quotes() {
        let opts = ParseOptions::new(Profile::Pg15);
        let (lines, diags) = tokenize_str(
            "local a,b,\"c d\",\"all\" x\"y z\" \"q\"\"q\" # comment\n",
            PATH,
            &opts,
        );
        assert!(diags.is_empty());
        assert_eq!(lines.len(), 1);
        let f = &lines[0].fields;
        let texts: Vec<(&str, bool)> = f[1].iter().map(|t| (t.text.as_str(), t.quoted)).collect();
        assert_eq!(
            texts,
            [("a", false), ("b", false), ("c d", true), ("all", true)]
        );
        assert_eq!((f[2][0].text.as_str(), f[2][0].quoted), ("xy z", false));
        assert_eq!((f[3][0].text.as_str(), f[3][0].quoted), ("q\"q", true));
        assert_eq!(f.len(), 4);
    }

    #[test]
    fn comma_space_continues_list_but_space_comma_does_not() {
        let opts = ParseOptions::new(Profile::Pg18);
        let (lines, _) = tokenize_str("a, b ,c\n", PATH, &opts);
        let f = &lines[0].fields;
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].len(), 2);
        assert_eq!(f[1][0].text, "c");
    }

    #[test]
    fn quoted_all_is_a_user_named_all() {
        let load = hba(Profile::Pg15, "local all \"all\" trust\n");
        assert!(load.is_ok());
        let row = &load.config.rows[0];
        assert!(row.databases[0].is_keyword("all"));
        assert!(!row.users[0].is_keyword("all"));
        assert_eq!(row.users[0].text, "all");
    }

    #[test]
    fn at_file_expands_relative_to_including_file() {
        let r = files(&[
            ("/data/users.txt", "alice, bob\n# c\ncarol\n"),
            ("/data/sub/dbs", "@../more"),
        ]);
        let r2 = files(&[("/data/more", "db1 db2")]);
        let opts = ParseOptions::new(Profile::Pg15).with_resolver(&r);
        let load = parse_hba_str(
            "local all @users.txt,dave trust\nlocal \"@users.txt\" all trust\n",
            PATH,
            &opts,
        );
        assert!(load.is_ok(), "{}", load.render_log());
        let users: Vec<&str> = load.config.rows[0]
            .users
            .iter()
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(users, ["alice", "bob", "carol", "dave"]);
        assert_eq!(load.config.rows[1].databases[0].text, "@users.txt");
        // nested @file in a sub directory
        let _ = r2;
        let r3 = files(&[("/data/sub/dbs", "@../more"), ("/data/more", "db1 db2")]);
        let opts = ParseOptions::new(Profile::Pg18).with_resolver(&r3);
        let load = parse_hba_str("local @sub/dbs all trust\n", PATH, &opts);
        let dbs: Vec<&str> = load.config.rows[0]
            .databases
            .iter()
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(dbs, ["db1", "db2"]);
    }

    #[test]
    fn at_file_open_errors_per_profile() {
        assert_eq!(
            err(Profile::Pg15, "local all @nobody trust\n"),
            "could not open secondary authentication file \"@nobody\" as \"/data/nobody\": No such file or directory"
        );
        assert_eq!(
            err(Profile::Pg18, "local all @nobody trust\n"),
            "could not open file \"/data/nobody\": No such file or directory"
        );
        let r = files(&[("/data/loop", "@loop")]);
        let opts = ParseOptions::new(Profile::Pg18).with_resolver(&r);
        let load = parse_hba_str("local all @loop trust\n", PATH, &opts);
        assert_eq!(
            load.errors()
                .next()
                .map(Diagnostic::message)
                .unwrap_or_default(),
            "could not open file \"/data/loop\": maximum nesting depth exceeded"
        );
    }

    #[test]
    fn line_continuation_is_15_plus() {
        let text = "host all all \\\n  127.0.0.1/32 trust\nlocal all all trust\n";
        for p in [Profile::Pg15, Profile::Pg18] {
            let load = hba(p, text);
            assert!(load.is_ok(), "{}", load.render_log());
            assert_eq!(load.config.rows[0].line, 1);
            assert_eq!(load.config.rows[1].line, 3);
        }
        // 8.4: the backslash is an ordinary token.
        let load = hba(Profile::Seed, text);
        assert_eq!(
            load.errors()
                .next()
                .map(Diagnostic::message)
                .unwrap_or_default(),
            "invalid IP address \"\\\": Name or service not known"
        );
    }

    #[test]
    fn include_directives_only_in_18() {
        let r = files(&[("/data/extra.conf", "host all all 10.0.0.0/8 reject\n")]);
        let text = "include extra.conf\ninclude_if_exists missing.conf\nlocal all all trust\n";
        let opts = ParseOptions::new(Profile::Pg18).with_resolver(&r);
        let load = parse_hba_str(text, PATH, &opts);
        assert!(load.is_ok(), "{}", load.render_log());
        assert_eq!(load.config.rows.len(), 2);
        assert_eq!(load.config.rows[0].location(), "/data/extra.conf:1");
        assert_eq!(load.config.rows[1].location(), "/data/pg_hba.conf:3");
        assert_eq!(
            load.render_log(),
            "LOG:  skipping missing authentication file \"/data/missing.conf\"\nCONTEXT:  line 2 of configuration file \"/data/pg_hba.conf\"\n"
        );
        let load = parse_hba_str("include nothere.conf\nlocal all all trust\n", PATH, &opts);
        assert_eq!(
            load.errors()
                .next()
                .map(Diagnostic::render)
                .unwrap_or_default(),
            "LOG:  could not open file \"/data/nothere.conf\": No such file or directory\nCONTEXT:  line 1 of configuration file \"/data/pg_hba.conf\""
        );
        for p in [Profile::Seed, Profile::Pg15] {
            let opts = ParseOptions::new(p).with_resolver(&r);
            let load = parse_hba_str("include extra.conf\n", PATH, &opts);
            assert_eq!(
                load.errors()
                    .next()
                    .map(Diagnostic::message)
                    .unwrap_or_default(),
                "invalid connection type \"include\""
            );
        }
    }

    #[test]
    fn include_dir_sorted_and_filtered() {
        let opts = ParseOptions::new(Profile::Pg18).with_resolver(&DirResolver);
        let load = parse_hba_str("include_dir conf.d\n", PATH, &opts);
        assert!(load.is_ok(), "{}", load.render_log());
        let users: Vec<&str> = load
            .config
            .rows
            .iter()
            .map(|r| r.users[0].text.as_str())
            .collect();
        assert_eq!(users, ["alice", "bob"]);
        assert_eq!(
            err(Profile::Pg18, "include_dir \" \"\n"),
            "empty configuration directory name: \" \""
        );
        let load = parse_hba_str("include_dir nodir\n", PATH, &opts);
        assert_eq!(
            load.errors()
                .next()
                .map(Diagnostic::message)
                .unwrap_or_default(),
            "could not open configuration directory \"/data/nodir\": No such file or directory"
        );
    }

    #[test]
    fn token_too_long_in_15_not_18() {
        let long = "x".repeat(10240);
        let text = format!("local {long} all trust\n");
        let load = hba(Profile::Pg15, &text);
        let d = load
            .errors()
            .next()
            .map(Diagnostic::render)
            .unwrap_or_default();
        assert!(
            d.starts_with("LOG:  authentication file token too long, skipping: \"xxx"),
            "{d}"
        );
        assert!(hba(Profile::Pg18, &text).is_ok());
        assert!(
            hba(
                Profile::Pg15,
                &format!("local {} all trust\n", "x".repeat(10239))
            )
            .is_ok()
        );
    }

    // ----- row validation messages ----------------------------------------

    #[test]
    fn render_has_log_and_context() {
        let load = hba(Profile::Pg15, "# comment\n\nfoo all all trust\n");
        assert_eq!(
            load.render_log(),
            "LOG:  invalid connection type \"foo\"\nCONTEXT:  line 3 of configuration file \"/data/pg_hba.conf\"\n"
        );
        assert!(!load.is_ok());
    }

    #[test]
    fn end_of_line_messages() {
        for p in all_profiles() {
            assert_eq!(
                err(p, "local\n"),
                "end-of-line before database specification"
            );
            assert_eq!(
                err(p, "local all\n"),
                "end-of-line before role specification"
            );
            assert_eq!(
                err(p, "host all all\n"),
                "end-of-line before IP address specification"
            );
            assert_eq!(
                err(p, "local all all\n"),
                "end-of-line before authentication method"
            );
            assert_eq!(
                err(p, "host all all 127.0.0.1/32\n"),
                "end-of-line before authentication method"
            );
            assert_eq!(
                err(p, "host all all 127.0.0.1\n"),
                "end-of-line before netmask specification"
            );
        }
        let d = hba(Profile::Pg15, "host all all 127.0.0.1\n");
        assert_eq!(
            d.errors().next().and_then(|d| d.hint),
            Some("Specify an address range in CIDR notation, or provide a separate netmask.")
        );
        assert_eq!(
            hba(Profile::Seed, "host all all 127.0.0.1\n")
                .errors()
                .next()
                .and_then(|d| d.hint),
            None
        );
    }

    #[test]
    fn multiple_values_messages() {
        for p in all_profiles() {
            let load = hba(p, "local,host all all trust\n");
            let d = load.errors().next().cloned();
            assert_eq!(
                d.as_ref().map(Diagnostic::message).unwrap_or_default(),
                "multiple values specified for connection type"
            );
            assert_eq!(
                d.and_then(|d| d.hint),
                Some("Specify exactly one connection type per line.")
            );
            assert_eq!(
                err(p, "host all all 127.0.0.1/32,::1/128 trust\n"),
                "multiple values specified for host address"
            );
            assert_eq!(
                err(p, "host all all 127.0.0.1 255.0.0.0,255.0.0.0 trust\n"),
                "multiple values specified for netmask"
            );
            assert_eq!(
                err(p, "local all all trust,reject\n"),
                "multiple values specified for authentication type"
            );
        }
        let load = hba(Profile::Pg18, "host all all 1.2.3.4/32,5.6.7.8/32 trust\n");
        assert_eq!(
            load.errors().next().and_then(|d| d.hint),
            Some("Specify one address range per line.")
        );
        let load = hba(Profile::Pg18, "local all all trust,reject\n");
        assert_eq!(
            load.errors().next().and_then(|d| d.hint),
            Some("Specify exactly one authentication type per line.")
        );
    }

    #[test]
    fn connection_types_per_profile() {
        for p in all_profiles() {
            assert_eq!(
                err(p, "hostx all all all trust\n"),
                "invalid connection type \"hostx\""
            );
        }
        assert_eq!(
            err(Profile::Seed, "hostgssenc all all 1.2.3.4/32 trust\n"),
            "invalid connection type \"hostgssenc\""
        );
        for p in [Profile::Pg15, Profile::Pg18] {
            for ct in ["host", "hostssl", "hostnossl", "hostgssenc", "hostnogssenc"] {
                assert!(hba(p, &format!("{ct} all all all trust\n")).is_ok(), "{ct}");
            }
        }
    }

    #[test]
    fn address_messages() {
        for p in all_profiles() {
            assert_eq!(
                err(p, "host all all 127.0.0.1/33 trust\n"),
                "invalid CIDR mask in address \"127.0.0.1/33\""
            );
            assert_eq!(
                err(p, "host all all ::1/129 trust\n"),
                "invalid CIDR mask in address \"::1/129\""
            );
            assert_eq!(
                err(p, "host all all 127.0.0.1/x trust\n"),
                "invalid CIDR mask in address \"127.0.0.1/x\""
            );
            assert_eq!(
                err(p, "host all all 127.0.0.1 255.255.0.x trust\n"),
                "invalid IP mask \"255.255.0.x\": Name or service not known"
            );
        }
        for p in [Profile::Pg15, Profile::Pg18] {
            assert_eq!(
                err(p, "host all all 127.0.0.1 ffff:: trust\n"),
                "IP address and mask do not match"
            );
            assert_eq!(
                err(p, "host all all db.example.com/24 trust\n"),
                "specifying both host name and CIDR mask is invalid: \"db.example.com/24\""
            );
            let load = hba(
                p,
                "host all all .example.com trust\nhost all all \"all\" trust\n",
            );
            assert!(load.is_ok());
            assert_eq!(
                load.config.rows[0].address,
                Some(HbaAddress::Hostname(".example.com".into()))
            );
            assert_eq!(
                load.config.rows[1].address,
                Some(HbaAddress::Hostname("all".into()))
            );
        }
        // 8.4: no host names or keywords, and the older mismatch wording.
        assert_eq!(
            err(Profile::Seed, "host all all db.example.com trust\n"),
            "invalid IP address \"db.example.com\": Name or service not known"
        );
        assert_eq!(
            err(Profile::Seed, "host all all all trust\n"),
            "invalid IP address \"all\": Name or service not known"
        );
        let load = hba(Profile::Seed, "host all all 127.0.0.1 ffff:: trust\n");
        assert_eq!(
            load.render_log(),
            "LOG:  IP address and mask do not match in file \"/data/pg_hba.conf\" line 1\n"
        );
    }

    #[test]
    fn addresses_parse_like_getaddrinfo() {
        let load = hba(
            Profile::Pg15,
            "host all all 127.1/32 trust\nhost all all 10.0.0.0 255.0.255.0 trust\nhost all all fe80::/10 trust\n",
        );
        assert!(load.is_ok(), "{}", load.render_log());
        let rows = &load.config.rows;
        assert_eq!(
            rows[0].address,
            Some(HbaAddress::Cidr {
                addr: "127.0.0.1".parse().unwrap(),
                mask: "255.255.255.255".parse().unwrap()
            })
        );
        assert_eq!(
            rows[1].address,
            Some(HbaAddress::Cidr {
                addr: "10.0.0.0".parse().unwrap(),
                mask: "255.0.255.0".parse().unwrap()
            })
        );
        assert_eq!(mask_prefix_len("255.0.255.0".parse().unwrap()), None);
        assert_eq!(mask_prefix_len("ffc0::".parse().unwrap()), Some(10));
    }

    #[test]
    fn method_messages() {
        for p in all_profiles() {
            assert_eq!(
                err(p, "local all all magic\n"),
                "invalid authentication method \"magic\""
            );
            assert_eq!(
                err(p, "host all all 127.0.0.1/32 cert\n"),
                "cert authentication is only supported on hostssl connections"
            );
            assert_eq!(
                err(p, "local all all gss\n"),
                "gssapi authentication is not supported on local sockets"
            );
        }
        for p in [Profile::Pg15, Profile::Pg18] {
            assert_eq!(
                err(p, "host all all all peer\n"),
                "peer authentication is only supported on local sockets"
            );
            assert_eq!(
                err(p, "local all all krb5\n"),
                "invalid authentication method \"krb5\""
            );
            let load = hba(p, "local all all ident\n");
            assert_eq!(load.config.rows[0].method, AuthMethod::Peer);
        }
        assert_eq!(
            err(Profile::Seed, "local all all krb5\n"),
            "krb5 authentication is not supported on local sockets"
        );
        assert_eq!(
            err(Profile::Seed, "local all all scram-sha-256\n"),
            "invalid authentication method \"scram-sha-256\""
        );
        assert_eq!(
            err(Profile::Pg15, "host all all all oauth\n"),
            "invalid authentication method \"oauth\""
        );
        assert_eq!(
            hba(Profile::Seed, "local all all ident\n").config.rows[0].method,
            AuthMethod::Ident
        );

        let no_sspi = BuildFeatures {
            sspi: false,
            ..BuildFeatures::ALL
        };
        let opts = ParseOptions::new(Profile::Pg15).with_build(no_sspi);
        let load = parse_hba_str("host all all all sspi\n", PATH, &opts);
        assert_eq!(
            load.errors()
                .next()
                .map(Diagnostic::message)
                .unwrap_or_default(),
            "invalid authentication method \"sspi\": not supported by this build"
        );
        let opts = ParseOptions::new(Profile::Seed).with_build(no_sspi);
        let load = parse_hba_str("host all all 0.0.0.0/0 sspi\n", PATH, &opts);
        assert_eq!(
            load.errors()
                .next()
                .map(Diagnostic::message)
                .unwrap_or_default(),
            "invalid authentication method \"sspi\": not supported on this platform"
        );
        // every listed method parses somewhere
        for m in [
            "trust",
            "reject",
            "password",
            "md5",
            "scram-sha-256",
            "gss",
            "sspi",
            "ident",
            "pam",
            "bsd",
        ] {
            assert!(
                hba(Profile::Pg15, &format!("host all all all {m}\n")).is_ok(),
                "{m}"
            );
        }
        assert!(hba(Profile::Pg15, "hostssl all all all cert\n").is_ok());
        assert!(hba(Profile::Pg15, "local all all peer\n").is_ok());
    }

    #[test]
    fn option_messages() {
        for p in all_profiles() {
            assert_eq!(
                err(p, "hostssl all all 0.0.0.0/0 md5 clientcert\n"),
                "authentication option not in name=value format: clientcert"
            );
            assert_eq!(
                err(p, "host all all 0.0.0.0/0 md5 clientcert=1\n"),
                "clientcert can only be configured for \"hostssl\" rows"
            );
        }
        for p in [Profile::Pg15, Profile::Pg18] {
            assert_eq!(
                err(p, "host all all all md5 foo=bar\n"),
                "unrecognized authentication option name: \"foo\""
            );
            assert_eq!(
                err(p, "hostssl all all all md5 clientcert=1\n"),
                "invalid value for clientcert: \"1\""
            );
            assert_eq!(
                err(p, "hostssl all all all md5 clientcert=0\n"),
                "invalid value for clientcert: \"0\""
            );
            assert_eq!(
                err(p, "hostssl all all all md5 clientcert=no-verify\n"),
                "invalid value for clientcert: \"no-verify\""
            );
            assert_eq!(
                err(p, "hostssl all all all cert clientcert=verify-ca\n"),
                "clientcert only accepts \"verify-full\" when using \"cert\" authentication"
            );
            assert_eq!(
                err(p, "host all all all md5 clientname=CN\n"),
                "clientname can only be configured for \"hostssl\" rows"
            );
            assert_eq!(
                err(p, "hostssl all all all md5 clientname=cn\n"),
                "invalid value for clientname: \"cn\""
            );
            assert_eq!(
                err(p, "host all all all md5 ldapserver=x\n"),
                "authentication option \"ldapserver\" is only valid for authentication methods ldap"
            );
            let load = hba(
                p,
                "hostssl all all all md5 clientcert=verify-ca clientname=DN\nhostssl all all all cert map=m\n",
            );
            assert!(load.is_ok(), "{}", load.render_log());
            assert_eq!(load.config.rows[0].clientcert, ClientCertMode::VerifyCa);
            assert_eq!(load.config.rows[0].clientname, ClientCertName::Dn);
            assert_eq!(load.config.rows[1].clientcert, ClientCertMode::VerifyFull);
            assert_eq!(load.config.rows[1].map.as_deref(), Some("m"));
        }
        assert_eq!(
            err(Profile::Pg15, "host all all all md5 map=x\n"),
            "authentication option \"map\" is only valid for authentication methods ident, peer, gssapi, sspi, and cert"
        );
        assert_eq!(
            err(Profile::Pg18, "host all all all md5 map=x\n"),
            "authentication option \"map\" is only valid for authentication methods ident, peer, gssapi, sspi, cert, and oauth"
        );
        // 8.4 semantics
        assert_eq!(
            err(Profile::Seed, "host all all 0.0.0.0/0 md5 foo=bar\n"),
            "unknown authentication option name: \"foo\""
        );
        assert_eq!(
            err(
                Profile::Seed,
                "hostssl all all 0.0.0.0/0 md5 clientcert=verify-ca\n"
            ),
            "invalid value for clientcert: \"verify-ca\""
        );
        assert_eq!(
            err(
                Profile::Seed,
                "hostssl all all 0.0.0.0/0 md5 clientcert=verify-full\n"
            ),
            "invalid value for clientcert: \"verify-full\""
        );
        assert_eq!(
            err(
                Profile::Seed,
                "hostssl all all 0.0.0.0/0 md5 clientname=CN\n"
            ),
            "unknown authentication option name: \"clientname\""
        );
        assert_eq!(
            err(
                Profile::Seed,
                "hostssl all all 0.0.0.0/0 cert clientcert=0\n"
            ),
            "clientcert can not be set to 0 when using \"cert\" authentication"
        );
        let load = hba(
            Profile::Seed,
            "hostssl all all 0.0.0.0/0 md5 clientcert=1\nhostssl all all 0.0.0.0/0 md5 clientcert=0\nhostssl all all 0.0.0.0/0 cert\n",
        );
        assert!(load.is_ok(), "{}", load.render_log());
        let modes: Vec<ClientCertMode> = load.config.rows.iter().map(|r| r.clientcert).collect();
        assert_eq!(
            modes,
            [
                ClientCertMode::VerifyCa,
                ClientCertMode::Off,
                ClientCertMode::VerifyFull
            ]
        );
    }

    #[test]
    fn method_specific_option_checks() {
        let p = Profile::Pg15;
        assert_eq!(
            err(p, "host all all all ldap ldapserver=h\n"),
            "authentication method \"ldap\" requires argument \"ldapbasedn\", \"ldapprefix\", or \"ldapsuffix\" to be set"
        );
        assert_eq!(
            err(p, "host all all all ldap ldapprefix=a ldapbasedn=b\n"),
            "cannot use ldapbasedn, ldapbinddn, ldapbindpasswd, ldapsearchattribute, ldapsearchfilter, or ldapurl together with ldapprefix"
        );
        assert_eq!(
            err(
                Profile::Pg18,
                "host all all all ldap ldapprefix=a ldapbasedn=b\n"
            ),
            "cannot mix options for simple bind and search+bind modes"
        );
        assert_eq!(
            err(
                p,
                "host all all all ldap ldapbasedn=b ldapsearchattribute=uid ldapsearchfilter=x\n"
            ),
            "cannot use ldapsearchattribute together with ldapsearchfilter"
        );
        assert_eq!(
            err(p, "host all all all ldap ldapbasedn=b ldapport=abc\n"),
            "invalid LDAP port number: \"abc\""
        );
        assert_eq!(
            err(Profile::Seed, "host all all 0.0.0.0/0 ldap ldapprefix=a\n"),
            "authentication method \"ldap\" requires argument \"ldapserver\" to be set"
        );
        let load = hba(p, "host all all all ldap ldapbasedn=b ldapscheme=http\n");
        assert!(load.is_ok());
        assert_eq!(
            load.diagnostics[0].message(),
            "invalid ldapscheme value: \"http\""
        );
        assert!(hba(p, "host all all all ldap \"ldapurl=ldap://h/dc=x?uid\"\n").is_ok());

        assert_eq!(
            err(p, "host all all all radius radiussecrets=s\n"),
            "authentication method \"radius\" requires argument \"radiusservers\" to be set"
        );
        assert_eq!(
            err(p, "host all all all radius radiusservers=a\n"),
            "authentication method \"radius\" requires argument \"radiussecrets\" to be set"
        );
        assert_eq!(
            err(
                p,
                "host all all all radius \"radiusservers=a,b,c\" \"radiussecrets=x,y\"\n"
            ),
            "the number of RADIUS secrets (2) must be 1 or the same as the number of RADIUS servers (3)"
        );
        assert_eq!(
            err(
                p,
                "host all all all radius \"radiusservers=a, b\" radiussecrets=x \"radiusports=1,2,3\"\n"
            ),
            "the number of RADIUS ports (3) must be 1 or the same as the number of RADIUS servers (2)"
        );
        assert_eq!(
            err(
                p,
                "host all all all radius radiusservers=a radiussecrets=x \"radiusidentifiers=i,j\"\n"
            ),
            "the number of RADIUS identifiers (2) must be 1 or the same as the number of RADIUS servers (1)"
        );
        assert_eq!(
            err(
                p,
                "host all all all radius radiusservers=a radiussecrets=x radiusports=0\n"
            ),
            "invalid RADIUS port number: \"0\""
        );
        assert_eq!(
            err(p, "host all all all radius \"radiusservers=a,,b\"\n"),
            "could not parse RADIUS server list \"a,,b\""
        );
        assert_eq!(
            err(
                p,
                "host all all all radius radiusservers=a \"radiusports=\"\"1\"\n"
            ),
            "could not parse RADIUS port list \"\"1\""
        );
        assert_eq!(
            err(
                p,
                "host all all all radius radiusservers=a \"radiussecrets=\"\"x\"\n"
            ),
            "could not parse RADIUS secret list \"\"x\""
        );
        assert_eq!(
            err(
                p,
                "host all all all radius radiusservers=a \"radiusidentifiers=\"\"x\"\n"
            ),
            "could not parse RADIUS identifiers list \"\"x\""
        );

        let p = Profile::Pg18;
        assert_eq!(
            err(p, "host all all all oauth issuer=i\n"),
            "authentication method \"oauth\" requires argument \"scope\" to be set"
        );
        assert_eq!(
            err(p, "host all all all oauth scope=s\n"),
            "authentication method \"oauth\" requires argument \"issuer\" to be set"
        );
        assert_eq!(
            err(
                p,
                "host all all all oauth scope=s issuer=i delegate_ident_mapping=1 map=m\n"
            ),
            "map cannot be used in combination with delegate_ident_mapping"
        );
    }

    #[test]
    fn hostssl_with_ssl_off() {
        let text = "hostssl all all all md5\n";
        let t15 = text;
        for (p, hint) in [
            (Profile::Pg15, "Set ssl = on in postgresql.conf."),
            (Profile::Pg18, "Set \"ssl = on\" in postgresql.conf."),
        ] {
            let opts = ParseOptions::new(p).with_ssl(false);
            let load = parse_hba_str(t15, PATH, &opts);
            assert!(load.is_ok(), "only a warning");
            assert_eq!(load.config.rows.len(), 1);
            assert_eq!(
                load.render_log(),
                format!(
                    "LOG:  hostssl record cannot match because SSL is disabled\nHINT:  {hint}\nCONTEXT:  line 1 of configuration file \"/data/pg_hba.conf\"\n"
                )
            );
        }
        let opts = ParseOptions::new(Profile::Seed).with_ssl(false);
        let load = parse_hba_str("hostssl all all 0.0.0.0/0 md5\n", PATH, &opts);
        assert!(!load.is_ok());
        assert_eq!(
            load.diagnostics[0].message(),
            "hostssl requires SSL to be turned on"
        );
        assert_eq!(
            load.diagnostics[0].hint,
            Some("Set ssl = on in postgresql.conf.")
        );

        let opts = ParseOptions::new(Profile::Pg15).with_build(BuildFeatures {
            gssapi: false,
            ..BuildFeatures::ALL
        });
        let load = parse_hba_str("hostgssenc all all all md5\n", PATH, &opts);
        assert!(load.is_ok());
        assert_eq!(
            load.diagnostics[0].message(),
            "hostgssenc record cannot match because GSSAPI is not supported by this build"
        );
    }

    #[test]
    fn regex_fields_are_16_plus() {
        let text = "local \"/^db\\d+$\" /^app_ trust\n";
        let load = hba(Profile::Pg18, text);
        assert!(load.is_ok(), "{}", load.render_log());
        assert!(load.config.rows[0].databases[0].regex().is_some());
        assert!(load.config.rows[0].users[0].regex().is_some());
        let load = hba(Profile::Pg15, text);
        assert!(load.config.rows[0].users[0].regex().is_none());
        assert_eq!(
            err(Profile::Pg18, "local /( all trust\n"),
            "invalid regular expression \"(\": parentheses () not balanced"
        );
        assert!(hba(Profile::Pg15, "local /( all trust\n").is_ok());
    }

    #[test]
    fn empty_file() {
        for p in [Profile::Pg15, Profile::Pg18] {
            let load = hba(p, "# nothing\n");
            assert_eq!(
                load.render_log(),
                "LOG:  configuration file \"/data/pg_hba.conf\" contains no entries\n"
            );
            assert!(!load.is_ok());
        }
        assert!(hba(Profile::Seed, "").is_ok());
    }

    #[test]
    fn errors_on_several_lines_are_all_reported() {
        let load = hba(
            Profile::Pg15,
            "local all all trust\nfoo\nlocal all all magic\nlocal all all reject\n",
        );
        let lines: Vec<usize> = load
            .errors()
            .filter_map(|d| d.context.as_ref().map(|c| c.1))
            .collect();
        assert_eq!(lines, [2, 3]);
        assert_eq!(load.config.rows.len(), 2);
    }

    #[test]
    fn load_and_reload_messages() {
        let path = "/var/lib/pgsql/data/pg_hba.conf";
        assert_eq!(
            hba_load_failed_message(Profile::Pg15, path),
            "could not load pg_hba.conf"
        );
        assert_eq!(
            hba_load_failed_message(Profile::Pg18, path),
            "could not load /var/lib/pgsql/data/pg_hba.conf"
        );
        assert_eq!(
            hba_load_failed_message(Profile::Seed, path),
            "could not load pg_hba.conf"
        );
        assert_eq!(
            hba_not_reloaded_message(Profile::Pg15, path),
            (LogLevel::Log, "pg_hba.conf was not reloaded".into())
        );
        assert_eq!(
            hba_not_reloaded_message(Profile::Pg18, path),
            (
                LogLevel::Log,
                "/var/lib/pgsql/data/pg_hba.conf was not reloaded".into()
            )
        );
        assert_eq!(
            hba_not_reloaded_message(Profile::Seed, path),
            (LogLevel::Warning, "pg_hba.conf not reloaded".into())
        );
        let ipath = "/d/pg_ident.conf";
        assert_eq!(
            ident_not_reloaded_message(Profile::Pg15, ipath),
            Some((LogLevel::Log, "pg_ident.conf was not reloaded".into()))
        );
        assert_eq!(
            ident_not_reloaded_message(Profile::Pg18, ipath),
            Some((LogLevel::Log, "/d/pg_ident.conf was not reloaded".into()))
        );
        assert_eq!(ident_not_reloaded_message(Profile::Seed, ipath), None);
    }

    #[test]
    fn missing_top_level_file() {
        let opts = ParseOptions::new(Profile::Pg15);
        let load = load_hba_file("/nonexistent/dir/pg_hba.conf", &opts);
        assert_eq!(
            load.render_log(),
            "LOG:  could not open configuration file \"/nonexistent/dir/pg_hba.conf\": No such file or directory\n"
        );
        let opts = ParseOptions::new(Profile::Pg18);
        let load = load_ident_file("/nonexistent/dir/pg_ident.conf", &opts);
        assert_eq!(
            load.render_log(),
            "LOG:  could not open file \"/nonexistent/dir/pg_ident.conf\": No such file or directory\n"
        );
    }

    #[test]
    fn real_files_with_fs_resolver() {
        let dir = std::env::temp_dir().join(format!("pgssl-hba-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("users"), "alice bob\n").unwrap();
        std::fs::write(
            dir.join("pg_hba.conf"),
            "host all @users 127.0.0.1/32 trust\n",
        )
        .unwrap();
        let path = dir.join("pg_hba.conf").to_string_lossy().into_owned();
        let opts = ParseOptions::new(Profile::Pg15).with_resolver(&FsResolver);
        let load = load_hba_file(&path, &opts);
        assert!(load.is_ok(), "{}", load.render_log());
        assert_eq!(load.config.rows[0].users.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // ----- pg_ident.conf ---------------------------------------------------

    #[test]
    fn ident_parse_messages() {
        let ipath = "/data/pg_ident.conf";
        for p in [Profile::Pg15, Profile::Pg18] {
            let o = ParseOptions::new(p);
            let load = parse_ident_str("m1 alice\n", ipath, &o);
            assert_eq!(
                load.render_log(),
                "LOG:  missing entry at end of line\nCONTEXT:  line 1 of configuration file \"/data/pg_ident.conf\"\n"
            );
            assert_eq!(
                parse_ident_str("m1\n", ipath, &o).diagnostics[0].message(),
                "missing entry at end of line"
            );
            assert_eq!(
                parse_ident_str("m1,m2 a b\n", ipath, &o).diagnostics[0].message(),
                "multiple values in ident field"
            );
            assert_eq!(
                parse_ident_str("m1 a b,c\n", ipath, &o).diagnostics[0].message(),
                "multiple values in ident field"
            );
            assert_eq!(
                parse_ident_str("m1 /(a b\n", ipath, &o).diagnostics[0].message(),
                "invalid regular expression \"(a\": parentheses () not balanced"
            );
        }
        let o = ParseOptions::new(Profile::Seed);
        assert_eq!(
            parse_ident_str("\nm1 alice\n", ipath, &o).render_log(),
            "LOG:  missing entry in file \"/data/pg_ident.conf\" at end of line 2\n"
        );
        // pg user regex only compiled in 16+
        assert!(
            parse_ident_str("m /^(.*)$ /(\n", ipath, &ParseOptions::new(Profile::Pg15)).is_ok()
        );
        assert!(
            !parse_ident_str("m /^(.*)$ /(\n", ipath, &ParseOptions::new(Profile::Pg18)).is_ok()
        );
    }

    // ----- Display round trip ---------------------------------------------

    const ROUND_TRIP_15: &str = r#"
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             postgres                                peer
local   "all",sameuser  "+admins",+ops,"a b"                    trust
host    all             all             127.0.0.1/32            scram-sha-256
host    db1,"db 2"      "with""quote"   10.0.0.0  255.0.255.0   md5
host    all             all             ::1/128                 trust
host    replication     all             samenet                 md5
hostssl all             all             0.0.0.0/0               cert map=certmap clientname=DN
hostssl all             all             all                     password "clientcert=verify-ca"
hostnossl all           all             .example.com            reject
host    all             all             "samehost"              reject
hostgssenc all          all             samehost                gss include_realm=0 "krb_realm=EXAMPLE.COM"
hostnogssenc all        all             all                     ldap ldapserver=h "ldapbasedn=dc=example, dc=com"
host    all             all             all                     radius "radiusservers=a,b" radiussecrets=s "radiusports=1812"
host    all             all             all                     pam pamservice=x\
                                                                map=x
"#;

    fn assert_round_trip(profile: Profile, text: &str) {
        let first = hba(profile, text);
        assert!(
            first.is_ok() || profile == Profile::Pg15,
            "{}",
            first.render_log()
        );
        let printed = first.config.to_string();
        let second = hba(profile, &printed);
        assert_eq!(
            first.config.rows.len(),
            second.config.rows.len(),
            "{printed}"
        );
        for (a, b) in first.config.rows.iter().zip(&second.config.rows) {
            assert!(a.same_rule(b), "{a:?}\n!=\n{b:?}\nprinted:\n{printed}");
        }
        assert_eq!(printed, second.config.to_string());
    }

    #[test]
    fn round_trip_15() {
        let load = hba(Profile::Pg15, ROUND_TRIP_15);
        // pam map= is not valid for pam: the last row fails, the rest round-trip.
        assert_eq!(
            load.errors().map(Diagnostic::message).collect::<Vec<_>>(),
            [
                "authentication option \"map\" is only valid for authentication methods ident, peer, gssapi, sspi, and cert"
            ]
        );
        assert_eq!(load.config.rows.len(), 13);
        assert_round_trip(Profile::Pg15, ROUND_TRIP_15);
        let printed = load.config.to_string();
        assert!(printed.contains("\"with\"\"quote\""), "{printed}");
        assert!(printed.contains("10.0.0.0\t255.0.255.0"), "{printed}");
        assert!(
            printed.contains("l\"dapbasedn=dc=example, dc=com\""),
            "{printed}"
        );
    }

    #[test]
    fn round_trip_18_and_seed() {
        let t18 = "local \"/^db\\d+$\",x /^app_,\"+g\" trust\nhost all all all oauth scope=s issuer=i\nhostssl all all all cert clientcert=verify-full \"map=a\\\"\n";
        assert_round_trip(Profile::Pg18, t18);
        let seed = "local all all ident map=m\nhost all \"all\" 192.168.0.0 255.255.0.0 md5\nhostssl all all 0.0.0.0/0 md5 clientcert=1\nhost all all 127.0.0.1/32 krb5 krb_server_hostname=h\n";
        assert_round_trip(Profile::Seed, seed);
    }

    #[test]
    fn display_escapes_awkward_tokens() {
        let row = HbaRow {
            file: PATH.into(),
            line: 1,
            raw_line: String::new(),
            conn_type: ConnType::Local,
            databases: vec![
                AuthToken::new("", true),
                AuthToken::new("a,b#c", false),
                AuthToken::new("x\\", false),
            ],
            users: vec![AuthToken::new("\\", false), AuthToken::new("@f", true)],
            address: None,
            method: AuthMethod::Trust,
            options: Vec::new(),
            clientcert: ClientCertMode::Off,
            clientname: ClientCertName::Cn,
            map: None,
        };
        let text = format!("{row}\n");
        let load = hba(Profile::Pg18, &text);
        assert!(load.is_ok(), "{text}: {}", load.render_log());
        assert!(row.same_rule(&load.config.rows[0]), "{text}");
    }

    #[test]
    fn ident_round_trip() {
        let text =
            "certmap /^(.*)@example\\.com$ \\1\ncertmap \"CN=a b\" \"all\"\nm2 bob +admins\n";
        for p in all_profiles() {
            let o = ParseOptions::new(p);
            let a = parse_ident_str(text, "/d/pg_ident.conf", &o);
            assert!(a.is_ok(), "{}", a.render_log());
            let printed = a.config.to_string();
            let b = parse_ident_str(&printed, "/d/pg_ident.conf", &o);
            assert_eq!(a.config.rows.len(), b.config.rows.len());
            for (x, y) in a.config.rows.iter().zip(&b.config.rows) {
                assert!(x.same_rule(y), "{printed}");
            }
        }
    }

    fn assert_ident_round_trip(profile: Profile, text: &str) {
        let o = ParseOptions::new(profile);
        let a = parse_ident_str(text, "/d/pg_ident.conf", &o);
        assert!(a.is_ok(), "{}", a.render_log());
        let printed = a.config.to_string();
        let b = parse_ident_str(&printed, "/d/pg_ident.conf", &o);
        assert!(b.is_ok(), "{printed:?}: {}", b.render_log());
        assert_eq!(a.config.rows.len(), b.config.rows.len(), "{printed:?}");
        for (x, y) in a.config.rows.iter().zip(&b.config.rows) {
            assert!(x.same_rule(y), "{printed:?}");
        }
    }

    /// Found by the `hba` fuzz target: a bare token of exactly 8.4's 254-byte limit with
    /// backslashes in it was printed quoted, and the closing quote went over the limit.
    #[test]
    fn long_tokens_print_within_the_token_limit() {
        let regex = format!("/{}b", "\\".repeat(252));
        assert_eq!(regex.len(), 254);
        assert_ident_round_trip(Profile::Seed, &format!("m {regex} ann\n"));
        // A short quoted run early in a long token: only the run is quoted.
        let token = format!("a\" \"{}", "x".repeat(252));
        let text = format!("local all {token} trust\n");
        let first = hba(Profile::Seed, &text);
        assert!(first.is_ok(), "{}", first.render_log());
        assert_eq!(first.config.rows[0].users[0].text.len(), 254);
        assert_round_trip(Profile::Seed, &text);
        assert!(
            first
                .config
                .to_string()
                .contains(&format!("a\" \"{}", "x".repeat(252)))
        );
    }

    /// Found by the `hba_literal` fuzz target: a quote left open to the end of the line
    /// reads a last token of 8.4's full 254 bytes, ending in a blank; printed with its
    /// closing quote, that quote went over the limit ("token too long, skipping"). The last
    /// token of a row is now printed with its quote open when that is the only way it fits,
    /// in pg_ident.conf (the PostgreSQL user) and pg_hba.conf (the last option).
    #[test]
    fn last_token_at_the_limit_keeps_its_quote_open() {
        let user = format!("{} ", "u".repeat(253));
        let text = format!("m sys \"{user}\n");
        let first = parse_ident_str(&text, "/d/pg_ident.conf", &ParseOptions::new(Profile::Seed));
        assert_eq!(first.config.rows[0].pg_user.text, user);
        for p in all_profiles() {
            assert_ident_round_trip(p, &text);
        }
        let option = format!("ldapprefix= {}", "p".repeat(242));
        let text = format!(
            "host all all 127.0.0.1/32 ldap ldapserver=h \"{option}\nlocal all all trust\n"
        );
        let first = hba(Profile::Seed, &text);
        assert!(first.is_ok(), "{}", first.render_log());
        assert_eq!(
            first.config.rows[0].options[1].1.len() + "ldapprefix=".len(),
            254
        );
        assert_round_trip(Profile::Seed, &text);
        // 8.4 has no line continuation: a trailing backslash stays in the open quote.
        let user = format!("{}\\", "u".repeat(253));
        assert_ident_round_trip(Profile::Seed, &format!("m sys \"{user}\n"));
        // Found next: under 15's longer limit, a long token whose quote closes after a
        // carriage return keeps its closing quote (left open, the line's end would drop it).
        let text = format!("m sys \"{} \r\"", "u".repeat(300));
        assert_ident_round_trip(Profile::Pg15, &text);
        // A shorter last token, or one that is not last, keeps its closing quote.
        assert_ident_round_trip(Profile::Seed, "m \"a b\" \"c d\"\n");
        assert!(
            parse_ident_str(
                "m \"a b\" \"c d\n",
                "/d/pg_ident.conf",
                &ParseOptions::new(Profile::Seed)
            )
            .config
            .to_string()
            .ends_with("\"c d\"\n")
        );
    }

    #[test]
    fn trailing_backslash_does_not_continue_the_printed_line() {
        for p in all_profiles() {
            assert_ident_round_trip(p, "m sys user\\ \nm2 a b\n");
            assert_ident_round_trip(p, "m sys\\ user\n");
        }
        let text = "host all all all ldap ldapprefix=x\\ \nlocal all all trust\n";
        assert_round_trip(Profile::Pg15, text);
        assert!(
            hba(Profile::Pg15, text)
                .config
                .to_string()
                .contains("x\\\t\n")
        );
    }

    /// Deterministic pseudo-random lines: parsing never panics, and whatever
    /// parses prints back to text that parses to the same rules.
    #[test]
    fn random_lines_round_trip() {
        const PIECES: &[&str] = &[
            "local",
            "host",
            "hostssl",
            "hostnossl",
            "hostgssenc",
            "all",
            "\"all\"",
            "sameuser",
            "+g",
            "\"+g\"",
            "replication",
            "a,b",
            "\"x y\"",
            "\"q\"\"q\"",
            "127.0.0.1/32",
            "::1/128",
            "10.0.0.0",
            "255.0.0.0",
            "samenet",
            ".example.com",
            "trust",
            "reject",
            "password",
            "cert",
            "md5",
            "ident",
            "peer",
            "clientcert=verify-ca",
            "clientcert=1",
            "map=m",
            "\"map=a b\"",
            "#c",
            ",",
            "\\",
            "\"",
            "/^r",
            "@f",
            "include",
            "x\"y\"",
            " ",
            "\t",
            "\n",
            "\\\n",
            "m\"ap=z\"",
            "clientname=DN",
        ];
        let resolver = FnResolver(|p: &str| (p == "/data/f").then(|| "u1 \"u 2\"\n".to_string()));
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut parsed_rows = 0;
        const CT: &[&str] = &[
            "local",
            "host",
            "hostssl",
            "hostnossl",
            "hostgssenc",
            "\"host\"",
        ];
        const NAMES: &[&str] = &[
            "all",
            "\"all\"",
            "sameuser",
            "+g",
            "\"+g\"",
            "a,b",
            "\"x y\"",
            "x\"y, z\"",
            "/^r",
            "@f",
            "\"q\"\"q\"",
            "\"\"",
        ];
        const ADDR: &[&str] = &[
            "127.0.0.1/32",
            "::1/128",
            "10.0.0.0 255.0.0.0",
            "samenet",
            ".example.com",
            "all",
            "\"samehost\"",
            "1.2.3.4 255.0.255.0",
        ];
        const METH: &[&str] = &[
            "trust", "reject", "password", "cert", "md5", "ident", "peer", "gss",
        ];
        const OPTS: &[&str] = &[
            "clientcert=verify-ca",
            "clientcert=1",
            "map=m",
            "\"map=a b\"",
            "m\"ap=z#\"",
            "clientname=DN",
            "map=x\\",
        ];
        for _ in 0..3000 {
            let mut pick = |set: &[&'static str]| -> &'static str {
                if next() % 12 == 0 {
                    PIECES[(next() % PIECES.len() as u64) as usize]
                } else {
                    set[(next() % set.len() as u64) as usize]
                }
            };
            let ct = pick(CT);
            let mut fields = vec![ct, pick(NAMES), pick(NAMES)];
            if ct != "local" {
                fields.push(pick(ADDR));
            }
            fields.push(pick(METH));
            for _ in 0..(pick(&["", "x", "xx"]).len() % 3) {
                fields.push(pick(OPTS));
            }
            let sep = if pick(&["a", "b"]) == "a" {
                " "
            } else {
                "\t \\\n"
            };
            let mut text = fields.join(sep);
            text.push('\n');
            for p in all_profiles() {
                let opts = ParseOptions::new(p).with_resolver(&resolver);
                let first = parse_hba_str(&text, PATH, &opts);
                let _ = parse_ident_str(&text, PATH, &opts);
                let printed = first.config.to_string();
                let second = parse_hba_str(&printed, PATH, &opts);
                assert_eq!(
                    first.config.rows.len(),
                    second.config.rows.len(),
                    "{text:?} -> {printed:?}"
                );
                for (a, b) in first.config.rows.iter().zip(&second.config.rows) {
                    assert!(a.same_rule(b), "{text:?} -> {printed:?}");
                }
                parsed_rows += first.config.rows.len();
            }
        }
        assert!(parsed_rows > 1000, "generator too weak: {parsed_rows}");
    }

    #[test]
    fn nul_and_crlf_are_harmless() {
        let load = hba(
            Profile::Pg15,
            "local all all trust\r\nlocal all\0 junk\nlocal x y reject\n",
        );
        assert!(load.errors().next().is_some());
        assert_eq!(load.config.rows.len(), 2);
    }
}
