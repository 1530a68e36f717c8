//! The per-profile dialect table ([`HbaDialect`]): the ONE place where the readings of
//! pg_hba.conf / pg_ident.conf differ between the seed (8.4) and 13 to 18, with the load and
//! reload messages that depend on the profile. Each row after 15's names what its release
//! changed, as seen live on that release's build.

use super::diagnostic::LogLevel;
use super::vocabulary::{AuthMethod, ClientCertMode, ConnType};
use crate::profile::Profile;

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
        Profile::Pg13 => &PG13,
        Profile::Pg14 => &PG14,
        Profile::Pg15 => &PG15,
        Profile::Pg16 => &PG16,
        Profile::Pg17 => &PG17,
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

/// The options of 13 and later: `map` for `$map`, `$clientname` (`[CLIENTNAME]` from 14,
/// `[]` in 13), then those a later version adds (in `$extra`).
macro_rules! modern_options {
    ($map:expr, $map_text:expr, [$($clientname:expr)?] $(, $extra:expr)*) => {
        &[
            opt("map", $map, $map_text),
            CLIENTCERT,
            $($clientname,)?
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

/// 13 has no `clientname` (14 added it).
const PG13_OPTIONS: &[OptionSpec] = modern_options!(
    &[M::Ident, M::Peer, M::Gss, M::Sspi, M::Cert],
    "ident, peer, gssapi, sspi, and cert",
    []
);

const PG15_OPTIONS: &[OptionSpec] = modern_options!(
    &[M::Ident, M::Peer, M::Gss, M::Sspi, M::Cert],
    "ident, peer, gssapi, sspi, and cert",
    [CLIENTNAME]
);

const PG18_OPTIONS: &[OptionSpec] = modern_options!(
    &[M::Ident, M::Peer, M::Gss, M::Sspi, M::Cert, M::OAuth],
    "ident, peer, gssapi, sspi, cert, and oauth",
    [CLIENTNAME],
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

/// 13 still takes 8.4's `1` (as verify-ca) and `0` (as no-verify) beside the 12 spellings,
/// and lets `cert` rows name any of them but no-verify (a cert row is verify-full whatever it
/// says); 14 removed `1`, `0` and `no-verify` and allows only verify-full on cert rows.
const PG13_CLIENTCERT: &[ClientCertValue] = &[
    ClientCertValue {
        value: "verify-full",
        mode: ClientCertMode::VerifyFull,
        allowed_with_cert: true,
    },
    ClientCertValue {
        value: "verify-ca",
        mode: ClientCertMode::VerifyCa,
        allowed_with_cert: true,
    },
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
    ClientCertValue {
        value: "no-verify",
        mode: ClientCertMode::Off,
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

/// The methods of 15 and later, then those a later version adds (in `$extra`).
macro_rules! modern_methods {
    ($($extra:expr),*) => {
        &[
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
            $($extra,)*
        ]
    };
}

const MODERN_METHODS_15: &[AuthMethod] = modern_methods!();
const MODERN_METHODS_18: &[AuthMethod] = modern_methods!(M::OAuth);

const PG15_ROW: HbaDialect = HbaDialect {
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

const PG18_ROW: HbaDialect = HbaDialect {
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

static PG13: HbaDialect = HbaDialect {
    profile: Profile::Pg13,
    // 14 added backslash line continuation.
    line_continuation: false,
    options: PG13_OPTIONS,
    clientcert_values: PG13_CLIENTCERT,
    clientcert_cert_conflict: "clientcert cannot be set to \"no-verify\" when using \"cert\" authentication",
    // 14 added the `connection authenticated: identity=...` line.
    connection_authenticated_log: false,
    ..PG15_ROW
};
static PG14: HbaDialect = HbaDialect {
    profile: Profile::Pg14,
    ..PG15_ROW
};
static PG15: HbaDialect = PG15_ROW;
/// 16 brought include directives, regular expressions for databases and users, no token
/// limit, files named by path in its messages, and keywords in pg_ident.conf's user column;
/// 17 quoted the setting in the `ssl = off` HINT; 18 added oauth and reworded the LDAP mix.
static PG16: HbaDialect = HbaDialect {
    profile: Profile::Pg16,
    ssl_off: PG15_ROW.ssl_off,
    ..PG17_ROW
};
const PG17_ROW: HbaDialect = HbaDialect {
    profile: Profile::Pg17,
    options: PG15_OPTIONS,
    methods: MODERN_METHODS_15,
    ldap_mix_message: PG15_ROW.ldap_mix_message,
    ..PG18_ROW
};
static PG17: HbaDialect = PG17_ROW;
static PG18: HbaDialect = PG18_ROW;

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

#[cfg(test)]
mod tests;
