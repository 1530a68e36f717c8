//! Server settings: their defaults, names, types and validation, and the immutable
//! [`Settings`] snapshot the connection path reads.
//!
//! Values come from `DATADIR/postgresql.conf` (see [`load`]) and the command line
//! (`-c name=value`, `-p`, `-h`, `-k`), which wins. Names and messages follow PostgreSQL's GUC
//! system, so a value PostgreSQL would refuse is refused with the same words; which names
//! exist is the profile's (`Behaviour::known_settings`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use openssl::ssl::SslVersion;

use crate::error::Error;
use crate::known_settings::KnownSettings;
use crate::profile::Profile;

pub mod file;
pub mod load;
pub mod value;

use value::{EnumOption, IntSpec, Unit, ValueError};

/// A TLS protocol version as `ssl_min_protocol_version` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// `TLSv1`.
    V1_0,
    /// `TLSv1.1`.
    V1_1,
    /// `TLSv1.2`.
    V1_2,
    /// `TLSv1.3`.
    V1_3,
}

impl TlsVersion {
    const ALL: [(Self, &'static str); 4] = [
        (Self::V1_0, "TLSv1"),
        (Self::V1_1, "TLSv1.1"),
        (Self::V1_2, "TLSv1.2"),
        (Self::V1_3, "TLSv1.3"),
    ];

    /// The setting's spelling.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(v, _)| *v == self)
            .map_or("", |(_, n)| n)
    }

    /// The OpenSSL version constant.
    pub fn to_openssl(self) -> SslVersion {
        match self {
            Self::V1_0 => SslVersion::TLS1,
            Self::V1_1 => SslVersion::TLS1_1,
            Self::V1_2 => SslVersion::TLS1_2,
            Self::V1_3 => SslVersion::TLS1_3,
        }
    }
}

/// Every setting the server reads, resolved and validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `-D`: the data directory; relative file settings are resolved against it.
    pub data_directory: PathBuf,
    /// `pgssl.profile`: which PostgreSQL to behave like.
    pub profile: Profile,
    /// `listen_addresses` (`-h`): host names or addresses, `*` for all, empty for none.
    pub listen_addresses: Vec<String>,
    /// `port` (`-p`). pgssl accepts 0: pick a free port and log it.
    pub port: u16,
    /// `unix_socket_directories` (`-k`).
    pub unix_socket_directories: Vec<PathBuf>,
    /// `max_connections`.
    pub max_connections: u32,
    /// `authentication_timeout`: the whole startup, TLS handshake included.
    pub authentication_timeout: Duration,
    /// `ssl`.
    pub ssl: bool,
    /// `ssl_cert_file`.
    pub ssl_cert_file: String,
    /// `ssl_key_file`.
    pub ssl_key_file: String,
    /// `ssl_ciphers` (TLS 1.2 and below).
    pub ssl_ciphers: String,
    /// `ssl_prefer_server_ciphers`.
    pub ssl_prefer_server_ciphers: bool,
    /// `ssl_min_protocol_version`.
    pub ssl_min_protocol_version: TlsVersion,
    /// `ssl_max_protocol_version` (`None`: no limit).
    pub ssl_max_protocol_version: Option<TlsVersion>,
    /// `ssl_ecdh_curve` (15) or `ssl_groups` (18): the key-exchange groups.
    pub ssl_groups: String,
    /// `ssl_tls13_ciphers` (18; empty: OpenSSL's default suites).
    pub ssl_tls13_ciphers: String,
    /// `ssl_ca_file` (empty: no client-certificate requests, unless the seed's `root.crt`).
    pub ssl_ca_file: String,
    /// `ssl_crl_file`.
    pub ssl_crl_file: String,
    /// `ssl_crl_dir`.
    pub ssl_crl_dir: String,
    /// `ssl_dh_params_file` (empty: the built-in 2048-bit group).
    pub ssl_dh_params_file: String,
    /// `ssl_passphrase_command` (empty: OpenSSL prompts on the terminal at start).
    pub ssl_passphrase_command: String,
    /// `ssl_passphrase_command_supports_reload`.
    pub ssl_passphrase_command_supports_reload: bool,
    /// `log_connections`.
    pub log_connections: bool,
    /// `trace_connection_negotiation` (18).
    pub trace_connection_negotiation: bool,
    /// Settings the profile's PostgreSQL knows that pgssl accepts and does not use.
    pub ignored: std::collections::BTreeSet<String>,
}

/// Whether `name` is in a profile's `known_settings`.
fn is_known(known_settings: KnownSettings, name: &str) -> bool {
    known_settings.contains(name)
}

/// Every setting pgssl uses, in the order `init` writes them (the profile decides which of the
/// version-specific ones exist).
pub const SUPPORTED: &[&str] = &[
    "pgssl.profile",
    "listen_addresses",
    "port",
    "unix_socket_directories",
    "max_connections",
    "authentication_timeout",
    "ssl",
    "ssl_cert_file",
    "ssl_key_file",
    "ssl_ca_file",
    "ssl_crl_file",
    "ssl_crl_dir",
    "ssl_ciphers",
    "ssl_prefer_server_ciphers",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "ssl_ecdh_curve",
    "ssl_groups",
    "ssl_tls13_ciphers",
    "ssl_dh_params_file",
    "ssl_passphrase_command",
    "ssl_passphrase_command_supports_reload",
    "log_connections",
    "trace_connection_negotiation",
];

/// Settings that need a restart in every profile (PGC_POSTMASTER).
const RESTART_ONLY: &[&str] = &[
    "pgssl.profile",
    "listen_addresses",
    "port",
    "unix_socket_directories",
    "max_connections",
];

impl Settings {
    /// PostgreSQL's defaults for `profile`, with the given data directory.
    pub fn defaults(data_directory: impl Into<PathBuf>, profile: Profile) -> Self {
        Self {
            data_directory: data_directory.into(),
            profile,
            listen_addresses: vec!["localhost".into()],
            port: 5432,
            unix_socket_directories: vec![PathBuf::from("/tmp")],
            max_connections: 100,
            authentication_timeout: Duration::from_secs(60),
            ssl: false,
            ssl_cert_file: "server.crt".into(),
            ssl_key_file: "server.key".into(),
            ssl_ciphers: "HIGH:MEDIUM:+3DES:!aNULL".into(),
            ssl_prefer_server_ciphers: true,
            ssl_min_protocol_version: TlsVersion::V1_2,
            ssl_max_protocol_version: None,
            ssl_groups: default_groups(profile).into(),
            ssl_tls13_ciphers: String::new(),
            ssl_ca_file: String::new(),
            ssl_crl_file: String::new(),
            ssl_crl_dir: String::new(),
            ssl_dh_params_file: String::new(),
            ssl_passphrase_command: String::new(),
            ssl_passphrase_command_supports_reload: false,
            log_connections: false,
            trace_connection_negotiation: false,
            ignored: Default::default(),
        }
    }

    /// The settings pgssl uses that exist in this profile, by their current names.
    pub fn supported_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        SUPPORTED.iter().copied().filter(|n| {
            *n == "pgssl.profile" || is_known(self.profile.behaviour().known_settings, n)
        })
    }

    /// Whether changing `name` needs a restart under this profile.
    pub fn needs_restart(&self, name: &str) -> bool {
        RESTART_ONLY.contains(&name)
            || (self.profile.behaviour().ssl_settings_need_restart && name.starts_with("ssl"))
    }

    /// The name `name` stands for in this profile (old aliases mapped), lower-cased, and
    /// whether PostgreSQL would accept it: `Err` as PostgreSQL words the refusal.
    pub fn canonical_name(&self, name: &str) -> Result<String, Error> {
        let lower = name.to_ascii_lowercase();
        let behaviour = self.profile.behaviour();
        let canonical = match behaviour
            .setting_aliases
            .iter()
            .find(|(old, _)| *old == lower)
        {
            Some((_, new)) => (*new).to_owned(),
            None => lower,
        };
        if canonical == "pgssl.profile" || is_known(behaviour.known_settings, &canonical) {
            return Ok(canonical);
        }
        match canonical.split_once('.') {
            Some(("pgssl", _)) => Err(Error::ReservedPrefix {
                name: name.to_owned(),
                prefix: "pgssl".into(),
            }),
            // PostgreSQL keeps any other two-part name as a placeholder for an extension.
            Some((a, b)) if valid_identifier(a) && b.split('.').all(valid_identifier) => {
                Ok(canonical)
            }
            _ => Err(Error::UnknownSetting { name: name.into() }),
        }
    }

    /// Copies one setting's value from `other` (used to keep restart-only settings on reload).
    pub fn copy_setting(&mut self, other: &Settings, name: &str) {
        match name {
            "pgssl.profile" => self.profile = other.profile,
            "listen_addresses" => self.listen_addresses = other.listen_addresses.clone(),
            "port" => self.port = other.port,
            "unix_socket_directories" => {
                self.unix_socket_directories = other.unix_socket_directories.clone()
            }
            "max_connections" => self.max_connections = other.max_connections,
            "ssl" => self.ssl = other.ssl,
            "ssl_cert_file" => self.ssl_cert_file = other.ssl_cert_file.clone(),
            "ssl_key_file" => self.ssl_key_file = other.ssl_key_file.clone(),
            "ssl_ca_file" => self.ssl_ca_file = other.ssl_ca_file.clone(),
            "ssl_crl_file" => self.ssl_crl_file = other.ssl_crl_file.clone(),
            "ssl_crl_dir" => self.ssl_crl_dir = other.ssl_crl_dir.clone(),
            "ssl_ciphers" => self.ssl_ciphers = other.ssl_ciphers.clone(),
            "ssl_prefer_server_ciphers" => {
                self.ssl_prefer_server_ciphers = other.ssl_prefer_server_ciphers
            }
            "ssl_min_protocol_version" => {
                self.ssl_min_protocol_version = other.ssl_min_protocol_version
            }
            "ssl_max_protocol_version" => {
                self.ssl_max_protocol_version = other.ssl_max_protocol_version
            }
            "ssl_ecdh_curve" | "ssl_groups" => self.ssl_groups = other.ssl_groups.clone(),
            "ssl_tls13_ciphers" => self.ssl_tls13_ciphers = other.ssl_tls13_ciphers.clone(),
            "ssl_dh_params_file" => self.ssl_dh_params_file = other.ssl_dh_params_file.clone(),
            "ssl_passphrase_command" => {
                self.ssl_passphrase_command = other.ssl_passphrase_command.clone()
            }
            "ssl_passphrase_command_supports_reload" => {
                self.ssl_passphrase_command_supports_reload =
                    other.ssl_passphrase_command_supports_reload
            }
            _ => {}
        }
    }

    /// Builds settings from `name=value` assignments applied in order over the defaults.
    /// `pgssl.profile` is applied first wherever it appears, since other defaults depend on it.
    pub fn from_assignments(
        data_directory: impl Into<PathBuf>,
        assignments: &[(String, String)],
    ) -> Result<Self, Error> {
        let mut profile = Profile::Seed;
        for (name, value) in assignments {
            if name.eq_ignore_ascii_case("pgssl.profile") {
                profile = parse_profile(value)?;
            }
        }
        let mut settings = Self::defaults(data_directory, profile);
        for (name, value) in assignments {
            settings.set(name, value)?;
        }
        Ok(settings)
    }

    /// Applies one setting, with PostgreSQL's validation and messages. Names the profile's
    /// PostgreSQL knows but pgssl does not use are recorded in [`Settings::ignored`].
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), Error> {
        let name = self.canonical_name(name)?;
        let lower = name.as_str();
        match lower {
            "pgssl.profile" => {
                let profile = parse_profile(value)?;
                if profile != self.profile {
                    self.ssl_groups = default_groups(profile).into();
                }
                self.profile = profile;
            }
            "listen_addresses" => self.listen_addresses = split_list(value),
            "port" => self.port = self.int(lower, value, 0, 65_535, Unit::None)? as u16,
            "unix_socket_directories" => {
                self.unix_socket_directories =
                    split_list(value).into_iter().map(PathBuf::from).collect()
            }
            "max_connections" => {
                self.max_connections = self.int(lower, value, 1, 262_143, Unit::None)? as u32
            }
            "authentication_timeout" => {
                let secs = self.int(lower, value, 1, 600, Unit::S)?;
                self.authentication_timeout = Duration::from_secs(secs as u64);
            }
            "ssl" => self.ssl = parse_bool_setting(lower, value)?,
            "ssl_cert_file" => self.ssl_cert_file = value.into(),
            "ssl_key_file" => self.ssl_key_file = value.into(),
            "ssl_ca_file" => self.ssl_ca_file = value.into(),
            "ssl_crl_file" => self.ssl_crl_file = value.into(),
            "ssl_crl_dir" => self.ssl_crl_dir = value.into(),
            "ssl_ciphers" => self.ssl_ciphers = value.into(),
            "ssl_prefer_server_ciphers" => {
                self.ssl_prefer_server_ciphers = parse_bool_setting(lower, value)?
            }
            "ssl_min_protocol_version" => {
                if let Some(v) = parse_tls_version(lower, value, false)? {
                    self.ssl_min_protocol_version = v;
                }
            }
            "ssl_max_protocol_version" => {
                self.ssl_max_protocol_version = parse_tls_version(lower, value, true)?
            }
            "ssl_ecdh_curve" | "ssl_groups" => self.ssl_groups = value.into(),
            "ssl_tls13_ciphers" => self.ssl_tls13_ciphers = value.into(),
            "ssl_dh_params_file" => self.ssl_dh_params_file = value.into(),
            "ssl_passphrase_command" => self.ssl_passphrase_command = value.into(),
            "ssl_passphrase_command_supports_reload" => {
                self.ssl_passphrase_command_supports_reload = parse_bool_setting(lower, value)?
            }
            "log_connections" => self.log_connections = parse_bool_setting(lower, value)?,
            "trace_connection_negotiation" => {
                self.trace_connection_negotiation = parse_bool_setting(lower, value)?
            }
            _ => {
                self.ignored.insert(name);
            }
        }
        Ok(())
    }

    /// A setting's value as `SHOW` prints it, by name (any case).
    pub fn show(&self, name: &str) -> Option<String> {
        let on_off = |b: bool| if b { "on" } else { "off" }.to_owned();
        let lower = name.to_ascii_lowercase();
        if lower == "ssl_library" {
            return Some("OpenSSL".into());
        }
        let name = self.canonical_name(&lower).ok()?;
        Some(match name.as_str() {
            "pgssl.profile" => self.profile.name().to_owned(),
            "data_directory" => self.data_directory.display().to_string(),
            "listen_addresses" => self.listen_addresses.join(","),
            "port" => self.port.to_string(),
            "unix_socket_directories" => self
                .unix_socket_directories
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(","),
            "max_connections" => self.max_connections.to_string(),
            "authentication_timeout" => format!("{}s", self.authentication_timeout.as_secs()),
            "ssl" => on_off(self.ssl),
            "ssl_cert_file" => self.ssl_cert_file.clone(),
            "ssl_key_file" => self.ssl_key_file.clone(),
            "ssl_ciphers" => self.ssl_ciphers.clone(),
            "ssl_prefer_server_ciphers" => on_off(self.ssl_prefer_server_ciphers),
            "ssl_min_protocol_version" => self.ssl_min_protocol_version.name().to_owned(),
            "ssl_max_protocol_version" => self
                .ssl_max_protocol_version
                .map_or(String::new(), |v| v.name().to_owned()),
            "ssl_ecdh_curve" | "ssl_groups" => self.ssl_groups.clone(),
            "ssl_tls13_ciphers" => self.ssl_tls13_ciphers.clone(),
            "ssl_ca_file" => self.ssl_ca_file.clone(),
            "ssl_crl_file" => self.ssl_crl_file.clone(),
            "ssl_crl_dir" => self.ssl_crl_dir.clone(),
            "ssl_dh_params_file" => self.ssl_dh_params_file.clone(),
            "ssl_passphrase_command" => self.ssl_passphrase_command.clone(),
            "ssl_passphrase_command_supports_reload" => {
                on_off(self.ssl_passphrase_command_supports_reload)
            }
            "log_connections" => on_off(self.log_connections),
            "trace_connection_negotiation" => on_off(self.trace_connection_negotiation),
            _ => return None,
        })
    }

    /// An integer setting, worded for the profile when out of range.
    fn int(&self, name: &str, value: &str, min: i32, max: i32, unit: Unit) -> Result<i32, Error> {
        value::validate_int(name, value, &IntSpec { min, max, unit }).map_err(|e| {
            let e = if self.profile.behaviour().unit_on_range_bounds {
                e
            } else {
                e.with_unitless_bounds()
            };
            Error::from(e)
        })
    }

    /// A file setting resolved against the data directory.
    pub fn resolve(&self, file: &str) -> PathBuf {
        let path = Path::new(file);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.data_directory.join(path)
        }
    }

    /// The protocol range the handshake-failure HINT names: the settings, or OpenSSL's
    /// limits where a setting is unset.
    pub fn tls_version_range(&self) -> (String, String) {
        let max = self.ssl_max_protocol_version.unwrap_or(TlsVersion::V1_3);
        (
            self.ssl_min_protocol_version.name().into(),
            max.name().into(),
        )
    }
}

/// The default key-exchange groups: `ssl_ecdh_curve`'s `prime256v1` up to 17, 18's
/// `ssl_groups` default.
fn default_groups(profile: Profile) -> &'static str {
    profile.behaviour().groups_default
}

impl From<ValueError> for Error {
    fn from(e: ValueError) -> Self {
        Error::InvalidSetting {
            name: e.name().to_owned(),
            message: e.message(),
            hint: e.hint().map(str::to_owned),
        }
    }
}

fn parse_profile(value: &str) -> Result<Profile, Error> {
    let options: Vec<_> = Profile::ALL
        .iter()
        .map(|p| EnumOption::new(p.name(), *p))
        .collect();
    Ok(value::validate_enum("pgssl.profile", value, &options)?)
}

fn parse_bool_setting(name: &str, value: &str) -> Result<bool, Error> {
    Ok(value::validate_bool(name, value)?)
}

const TLS_VERSIONS: [EnumOption<Option<TlsVersion>>; 4] = [
    EnumOption::new("TLSv1", Some(TlsVersion::V1_0)),
    EnumOption::new("TLSv1.1", Some(TlsVersion::V1_1)),
    EnumOption::new("TLSv1.2", Some(TlsVersion::V1_2)),
    EnumOption::new("TLSv1.3", Some(TlsVersion::V1_3)),
];

/// `ssl_min_protocol_version` / `ssl_max_protocol_version`; only the maximum may be empty.
fn parse_tls_version(
    name: &str,
    value: &str,
    allow_empty: bool,
) -> Result<Option<TlsVersion>, Error> {
    if allow_empty && value.is_empty() {
        return Ok(None);
    }
    Ok(value::validate_enum(name, value, &TLS_VERSIONS)?)
}

/// An identifier as `valid_custom_variable_name` accepts a part: a letter or `_`, then
/// letters, digits, `_` or `$`.
fn valid_identifier(part: &str) -> bool {
    let mut chars = part.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Splits a comma-separated list setting, trimming blanks and dropping empty entries.
fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, Error> {
        let pairs: Vec<_> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        Settings::from_assignments("/data", &pairs)
    }

    #[test]
    fn every_profile_knows_its_own_settings_only() {
        for profile in Profile::ALL {
            let known = profile.behaviour().known_settings;
            assert!(known.names().all(|n| is_known(known, n)), "{profile:?}");
            assert!(!is_known(known, "no_such_setting"));
        }
    }

    #[test]
    fn defaults_follow_the_profile() {
        let s = settings(&[("pgssl.profile", "18")]).unwrap();
        assert_eq!(s.ssl_groups, "X25519:prime256v1");
        let s = settings(&[("ssl", "on"), ("pgssl.profile", "15")]).unwrap();
        assert!(s.ssl);
        assert_eq!(s.ssl_groups, "prime256v1");
        assert_eq!(settings(&[]).unwrap().profile, Profile::Seed);
    }

    #[test]
    fn postgres_wording_for_bad_values() {
        let e = settings(&[("ssl_min_protocol_version", "TLSv1.4")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value for parameter \"ssl_min_protocol_version\": \"TLSv1.4\""
        );
        let e = settings(&[("ssl_min_protocol_version", "")]).unwrap_err();
        assert!(e.to_string().contains("\"\""));
        let e = settings(&[("ssl", "maybe")]).unwrap_err();
        assert_eq!(e.to_string(), "parameter \"ssl\" requires a Boolean value");
        let e = settings(&[("bogus_setting", "1")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unrecognized configuration parameter \"bogus_setting\""
        );
        // 15 prints the bounds bare, 18 with their unit (both observed live).
        let e = settings(&[("pgssl.profile", "15"), ("authentication_timeout", "2h")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "7200 s is outside the valid range for parameter \"authentication_timeout\" (1 .. 600)"
        );
        let e = settings(&[("pgssl.profile", "18"), ("authentication_timeout", "2h")]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "7200 s is outside the valid range for parameter \"authentication_timeout\" (1 s .. 600 s)"
        );
        let e = settings(&[("pgssl.profile", "7")]).unwrap_err();
        assert_eq!(
            e.log_record().hint.as_deref(),
            Some("Available values: seed, 13, 14, 15, 16, 17, 18.")
        );
        // Version-specific names.
        assert!(settings(&[("ssl_groups", "X25519")]).is_err());
        assert!(settings(&[("pgssl.profile", "18"), ("ssl_groups", "X25519")]).is_ok());
        // 18 keeps ssl_ecdh_curve as an old name of ssl_groups (map_old_guc_names).
        let s = settings(&[("pgssl.profile", "18"), ("ssl_ecdh_curve", "prime256v1")]).unwrap();
        assert_eq!(s.show("ssl_groups").as_deref(), Some("prime256v1"));
        assert!(settings(&[("ssl_tls13_ciphers", "TLS_AES_128_GCM_SHA256")]).is_err());
        // Known to PostgreSQL but unused by pgssl: accepted and remembered.
        let s = settings(&[("shared_buffers", "128MB"), ("myext.knob", "1")]).unwrap();
        assert_eq!(
            s.ignored.iter().collect::<Vec<_>>(),
            ["myext.knob", "shared_buffers"]
        );
        let e = settings(&[("pgssl.bogus", "1")]).unwrap_err();
        assert_eq!(
            e.log_record().lines(),
            [
                "FATAL:  invalid configuration parameter name \"pgssl.bogus\"",
                "DETAIL:  \"pgssl\" is a reserved prefix."
            ]
        );
    }

    #[test]
    fn time_units() {
        // PostgreSQL rounds half to even: 500ms is 0 s (out of range), 1500ms is 2 s.
        assert!(settings(&[("authentication_timeout", "500ms")]).is_err());
        for (v, secs) in [
            ("60", 60),
            ("1min", 60),
            ("501ms", 1),
            ("1500ms", 2),
            ("2 s", 2),
        ] {
            let s = settings(&[("authentication_timeout", v)]).unwrap();
            assert_eq!(s.authentication_timeout, Duration::from_secs(secs), "{v}");
        }
        assert!(settings(&[("authentication_timeout", "5 parsecs")]).is_err());
    }

    #[test]
    fn relative_files_resolve_against_the_data_directory() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.resolve("server.crt"), PathBuf::from("/data/server.crt"));
        assert_eq!(s.resolve("/etc/x.crt"), PathBuf::from("/etc/x.crt"));
    }
}
