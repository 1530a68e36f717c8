//! A case's PostgreSQL set-up as pgpool-II 4.3's `pgpool.conf` (raw mode, one backend over
//! its Unix socket): each `postgresql.conf` setting mapped to pgpool's own
//! (`src/config/pool_config_variables.c`, used in `src/utils/pool_ssl.c`). What has no
//! equivalent is an error naming it, which makes the case not applicable; what maps is
//! written so pgpool does what PostgreSQL's defaults do where it can (the same cipher list,
//! curve, server cipher preference, authentication timeout and connection limit).

use std::path::Path;

use crate::target::backend::BackendAddr;
use crate::target::product::conf::{
    self, POSTGRES_CIPHERS, PostgresDefaults, TIME_UNITS, boolean, in_dir,
};

/// Where pgpool listens, where its files go (certificate, key, hba file, pgpool.conf, pid
/// file, status file, PCP socket: all in [`Layout::dir`]) and where its backend is.
pub type Layout = crate::target::product::workdir::Layout<BackendAddr>;

/// PostgreSQL's `max_connections` default.
const POSTGRES_MAX_CONNECTIONS: u32 = 100;

/// PostgreSQL's `authentication_timeout` default, in seconds.
const POSTGRES_AUTHENTICATION_TIMEOUT: u64 = 60;

/// The PCP port: its socket is in [`Layout::dir`] and PCP takes no TCP connections, so every
/// pgpool can use the same number.
const PCP_PORT: u16 = 9898;

/// The PostgreSQL settings the mapping gives pgpool; a case setting any other is not
/// applicable to it.
const SETTINGS: &[&str] = &[
    "ssl",
    "ssl_cert_file",
    "ssl_key_file",
    "ssl_ca_file",
    "ssl_crl_file",
    "ssl_ciphers",
    "ssl_prefer_server_ciphers",
    "ssl_ecdh_curve",
    "ssl_groups",
    "ssl_dh_params_file",
    "ssl_passphrase_command",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "log_connections",
    "log_disconnections",
    "authentication_timeout",
    "max_connections",
];

/// Why a setting PostgreSQL has cannot be given to pgpool-II 4.3.
fn missing(name: &str) -> String {
    match name {
        "ssl_crl_dir" => {
            "it has only ssl_crl_file, no certificate revocation list directory (ssl_crl_dir)"
                .into()
        }
        "ssl_passphrase_command_supports_reload" => {
            "it has no ssl_passphrase_command_supports_reload: it never reloads its SSL files"
                .into()
        }
        _ => format!("it has no equivalent of the PostgreSQL setting {name}"),
    }
}

/// A PostgreSQL time setting whose default unit is seconds, in whole seconds (rounded up):
/// pgpool's `authentication_timeout` counts whole seconds.
fn seconds(name: &str, value: &str) -> Result<u64, String> {
    let units = [TIME_UNITS, &[("d", 86_400_000)]].concat();
    let (n, unit) = conf::time(name, value, &units)?;
    let ms = n
        .checked_mul(unit)
        .ok_or_else(|| format!("{name} = {value:?} is too large"))?;
    Ok(ms.div_ceil(1000))
}

/// A pgpool.conf string value, quoted: its lexer takes `'…'` with no line break and reads
/// backslashes as escapes, so a value with a quote, a backslash or a line break cannot be
/// written as PostgreSQL meant it.
fn quoted(name: &str, value: &str) -> Result<String, String> {
    if value.contains(['\'', '\\', '\n', '\r']) {
        return Err(format!(
            "{name} = {value:?} cannot be written as a pgpool.conf string"
        ));
    }
    Ok(format!("'{value}'"))
}

/// Checks that the protocol range is PostgreSQL's default, TLS 1.2 and up: pgpool 4.3 has no
/// protocol setting and allows what OpenSSL's defaults allow (on Debian 12, TLS 1.2 and 1.3),
/// so any other range has no equivalent.
fn check_protocol_range(min: Option<&str>, max: Option<&str>) -> Result<(), String> {
    if let Some(v) = min.filter(|v| !v.eq_ignore_ascii_case("TLSv1.2")) {
        return Err(format!(
            "it has no TLS protocol version setting (ssl_min_protocol_version = {v:?}): it allows what OpenSSL's defaults allow"
        ));
    }
    if let Some(v) = max.filter(|v| !v.is_empty()) {
        return Err(format!(
            "it has no TLS protocol version setting (ssl_max_protocol_version = {v:?}): it allows what OpenSSL's defaults allow"
        ));
    }
    Ok(())
}

/// The one ECDH curve for pgpool's `ssl_ecdh_curve` (it takes one curve name, as
/// PostgreSQL 13 to 17 do), from `ssl_groups` (18) or `ssl_ecdh_curve`.
fn curve<'a>(groups: Option<&'a str>, defaults: &'a PostgresDefaults) -> Result<&'a str, String> {
    match groups {
        Some(list) if list.contains([':', ',']) => Err(format!(
            "its ssl_ecdh_curve takes one curve, not the list {list:?}"
        )),
        Some(one) => Ok(one),
        // PostgreSQL's default ssl_ecdh_curve (13 to 17); 18's ssl_groups default,
        // X25519:prime256v1, is a list, and pgpool takes one curve (an EC one: its
        // EC_KEY_new_by_curve_name has no X25519), so it gets the other member.
        None => Ok(defaults
            .groups
            .split(':')
            .find(|g| !g.eq_ignore_ascii_case("X25519"))
            .unwrap_or(defaults.groups)),
    }
}

/// The `pgpool.conf` for the settings in `conf`, or why pgpool cannot be given them.
pub fn pgpool_conf(
    conf: &str,
    layout: &Layout,
    defaults: &PostgresDefaults,
) -> Result<String, String> {
    let s = conf::settings(conf, SETTINGS, missing)?;
    let get = |name: &str| s.get(name).map(String::as_str);
    let flag = |name: &str, default: bool| -> Result<&'static str, String> {
        let on = get(name).map_or(Ok(default), |v| boolean(name, v))?;
        Ok(if on { "on" } else { "off" })
    };
    check_protocol_range(
        get("ssl_min_protocol_version"),
        get("ssl_max_protocol_version"),
    )?;
    let path =
        |name: &str, value: &str| quoted(name, &in_dir(&layout.dir, value).display().to_string());
    let dir = |p: &Path| quoted("a directory", &p.display().to_string());
    let mut out = String::new();
    out.push_str("# written by pgssl-conform from the case's postgresql.conf and pg_hba.conf\n");
    let mut set = |name: &str, value: String| out.push_str(&format!("{name} = {value}\n"));
    // Raw mode, one backend reached over its Unix socket; no health checks, no failover.
    set("backend_clustering_mode", "'raw'".into());
    set("backend_hostname0", dir(&layout.backend.socket_dir)?);
    set("backend_port0", layout.backend.port.to_string());
    set("backend_weight0", "1".into());
    set("backend_flag0", "'DISALLOW_TO_FAILOVER'".into());
    set("health_check_period", "0".into());
    set("failover_on_backend_error", "off".into());
    set("failover_on_backend_shutdown", "off".into());
    set("use_watchdog", "off".into());
    set("load_balance_mode", "off".into());
    set("memory_cache_enabled", "off".into());
    // Each client gets a backend connection of its own, as it would from PostgreSQL, so a
    // case's trace does not depend on which pre-forked child took the connection.
    set("connection_cache", "off".into());
    set("listen_addresses", "'127.0.0.1'".into());
    set("port", layout.port.to_string());
    set("socket_dir", dir(&layout.sockets)?);
    set("pcp_listen_addresses", "''".into());
    set("pcp_port", PCP_PORT.to_string());
    set("pcp_socket_dir", dir(&layout.dir)?);
    set("wd_ipc_socket_dir", dir(&layout.sockets)?);
    set(
        "pid_file_name",
        quoted(
            "pid_file_name",
            &layout.dir.join("pgpool.pid").display().to_string(),
        )?,
    );
    set("logdir", dir(&layout.dir)?);
    set("memqcache_oiddir", dir(&layout.dir)?);
    set("log_destination", "'stderr'".into());
    set("logging_collector", "off".into());
    // Roles are the backend's: pgpool checks pool_hba.conf, then the backend authenticates.
    set("enable_pool_hba", "on".into());
    set("pool_passwd", "''".into());
    set("ssl", flag("ssl", false)?.into());
    set(
        "ssl_cert",
        path(
            "ssl_cert_file",
            get("ssl_cert_file").unwrap_or("server.crt"),
        )?,
    );
    set(
        "ssl_key",
        path("ssl_key_file", get("ssl_key_file").unwrap_or("server.key"))?,
    );
    if let Some(ca) = get("ssl_ca_file").filter(|v| !v.is_empty()) {
        set("ssl_ca_cert", path("ssl_ca_file", ca)?);
    }
    if let Some(crl) = get("ssl_crl_file").filter(|v| !v.is_empty()) {
        set("ssl_crl_file", path("ssl_crl_file", crl)?);
    }
    set(
        "ssl_ciphers",
        quoted(
            "ssl_ciphers",
            get("ssl_ciphers").unwrap_or(POSTGRES_CIPHERS),
        )?,
    );
    // PostgreSQL's default is on; pgpool's is off.
    set(
        "ssl_prefer_server_ciphers",
        flag("ssl_prefer_server_ciphers", true)?.into(),
    );
    set(
        "ssl_ecdh_curve",
        quoted(
            "ssl_ecdh_curve",
            curve(get("ssl_groups").or(get("ssl_ecdh_curve")), defaults)?,
        )?,
    );
    if let Some(dh) = get("ssl_dh_params_file").filter(|v| !v.is_empty()) {
        set("ssl_dh_params_file", path("ssl_dh_params_file", dh)?);
    }
    if let Some(command) = get("ssl_passphrase_command").filter(|v| !v.is_empty()) {
        set(
            "ssl_passphrase_command",
            quoted("ssl_passphrase_command", command)?,
        );
    }
    set("log_connections", flag("log_connections", false)?.into());
    set(
        "log_disconnections",
        flag("log_disconnections", false)?.into(),
    );
    let timeout = match get("authentication_timeout") {
        Some(v) => seconds("authentication_timeout", v)?,
        None => POSTGRES_AUTHENTICATION_TIMEOUT,
    };
    set("authentication_timeout", timeout.to_string());
    let max: u32 = match get("max_connections") {
        Some(v) => v
            .parse()
            .map_err(|_| format!("max_connections = {v:?} is not a number"))?,
        None => POSTGRES_MAX_CONNECTIONS,
    };
    // One child more than PostgreSQL's limit, reserved: the connection past the limit is
    // refused ("too many clients") instead of queued until a child is free.
    let children = max
        .checked_add(1)
        .ok_or_else(|| format!("max_connections = {max} is too large"))?;
    set("num_init_children", children.to_string());
    set("reserved_connections", "1".into());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::target::product::workdir::examples::behind as layout;

    const PG15: PostgresDefaults = PostgresDefaults::of(crate::case::Version::Pg15);

    fn has(conf: &str, lines: &[&str]) {
        for line in lines {
            assert!(
                conf.lines().any(|l| l == *line),
                "{line} missing from\n{conf}"
            );
        }
    }

    #[test]
    fn postgres_defaults_become_pgpool_settings() {
        let conf = pgpool_conf("ssl = on\nlog_connections = on\n", &layout(), &PG15).expect("maps");
        has(
            &conf,
            &[
                "backend_clustering_mode = 'raw'",
                "backend_hostname0 = '/b'",
                "backend_port0 = 5000",
                "port = 6000",
                "socket_dir = '/s'",
                "pid_file_name = '/d/pgpool.pid'",
                "enable_pool_hba = on",
                "ssl = on",
                "ssl_cert = '/d/server.crt'",
                "ssl_key = '/d/server.key'",
                "ssl_ciphers = 'HIGH:MEDIUM:+3DES:!aNULL'",
                "ssl_prefer_server_ciphers = on",
                "ssl_ecdh_curve = 'prime256v1'",
                "log_connections = on",
                "log_disconnections = off",
                "authentication_timeout = 60",
                "num_init_children = 101",
                "reserved_connections = 1",
            ],
        );
        for absent in ["ssl_ca_cert", "ssl_crl_file", "ssl_passphrase_command"] {
            assert!(!conf.contains(absent), "{absent} in\n{conf}");
        }
    }

    #[test]
    fn case_settings_win_and_map() {
        let conf = "ssl = on\nssl = off  # comment\nssl_ca_file = 'root.crt'\n\
                    ssl_crl_file = '/abs/x.crl'\nauthentication_timeout = 1500ms\n\
                    ssl_groups = 'secp384r1'\nssl_passphrase_command = 'echo secret1'\n\
                    ssl_dh_params_file = 'dh.pem'\nmax_connections = 3\n\
                    ssl_min_protocol_version = 'TLSv1.2'\nssl_max_protocol_version = ''\n\
                    ssl_prefer_server_ciphers = off\n";
        let conf = pgpool_conf(conf, &layout(), &PG15).expect("maps");
        has(
            &conf,
            &[
                "ssl = off",
                "ssl_ca_cert = '/d/root.crt'",
                "ssl_crl_file = '/abs/x.crl'",
                "authentication_timeout = 2",
                "ssl_ecdh_curve = 'secp384r1'",
                "ssl_passphrase_command = 'echo secret1'",
                "ssl_dh_params_file = '/d/dh.pem'",
                "num_init_children = 4",
                "ssl_prefer_server_ciphers = off",
            ],
        );
    }

    #[test]
    fn the_default_curve_is_the_ec_one_of_postgres_defaults() {
        for version in [crate::case::Version::Pg15, crate::case::Version::Pg18] {
            let conf =
                pgpool_conf("ssl = on\n", &layout(), &PostgresDefaults::of(version)).expect("maps");
            has(&conf, &["ssl_ecdh_curve = 'prime256v1'"]);
        }
    }

    #[test]
    fn what_has_no_equivalent_is_named() {
        for (conf, needle) in [
            ("ssl_crl_dir = 'crls'", "ssl_crl_dir"),
            ("wal_level = minimal", "wal_level"),
            (
                "ssl_max_protocol_version = 'TLSv1.2'",
                "no TLS protocol version setting",
            ),
            (
                "ssl_min_protocol_version = 'TLSv1.3'",
                "ssl_min_protocol_version",
            ),
            ("nonsense", "not a `name = value`"),
            ("ssl_groups = 'X25519:prime256v1'", "takes one curve"),
            ("ssl = maybe", "Boolean"),
            (
                "ssl_passphrase_command = 'echo it''s'",
                "pgpool.conf string",
            ),
            ("authentication_timeout = '2 fortnights'", "unit"),
            ("max_connections = many", "not a number"),
        ] {
            let why = pgpool_conf(conf, &layout(), &PG15).expect_err(conf);
            assert!(why.contains(needle), "{conf}: {why}");
        }
    }
}
