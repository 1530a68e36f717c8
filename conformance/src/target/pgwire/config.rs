//! A case's PostgreSQL set-up as the configuration file of `pgssl-pgwire-server` (the crates.io
//! `pgwire` crate with rustls): `postgresql.conf` settings mapped where rustls or pgwire has
//! the concept, `pg_hba.conf` accepted only where it trusts every connection (pgwire's
//! `NoopStartupHandler` authenticates no one). What has no equivalent is an error naming it,
//! which makes the case not applicable; what maps is written so the server does what
//! PostgreSQL's defaults do where rustls can (TLS 1.2 and up, the same key-exchange groups,
//! the server's cipher-suite order).

use std::path::PathBuf;

use serde::Serialize;

use crate::target::product::conf::{self, PostgresDefaults, TIME_UNITS, boolean, in_dir};

/// Where the server listens and keeps its files (certificate, key, hba file, config).
pub type Layout = crate::target::product::workdir::Layout;

/// The PostgreSQL settings the mapping gives the server; a case setting any other is not
/// applicable to it.
const SETTINGS: &[&str] = &[
    "ssl",
    "ssl_cert_file",
    "ssl_key_file",
    "ssl_ca_file",
    "ssl_crl_file",
    "ssl_crl_dir",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "ssl_ecdh_curve",
    "ssl_groups",
    "ssl_prefer_server_ciphers",
    "log_connections",
    "authentication_timeout",
];

/// pgwire's startup timeout: `STARTUP_TIMEOUT_MILLIS` in its `src/tokio/server.rs`, fixed.
const PGWIRE_STARTUP_TIMEOUT_SECS: u64 = 60;

/// Why a setting PostgreSQL has cannot be given to the server.
fn missing(name: &str) -> String {
    match name {
        "ssl_ciphers" | "ssl_tls13_ciphers" => format!(
            "rustls takes no OpenSSL cipher list ({name}): its cipher suites are its crypto provider's"
        ),
        "ssl_passphrase_command" | "ssl_passphrase_command_supports_reload" => {
            format!("it has no {name}: rustls reads only unencrypted keys")
        }
        "ssl_dh_params_file" => {
            "rustls has no finite-field Diffie-Hellman key exchange, so no ssl_dh_params_file"
                .into()
        }
        _ => format!("it has no equivalent of the PostgreSQL setting {name}"),
    }
}

/// A PostgreSQL time setting whose default unit is seconds, in milliseconds.
fn milliseconds(name: &str, value: &str) -> Result<u64, String> {
    let (n, unit) = conf::time(name, value, TIME_UNITS)?;
    Ok(n.saturating_mul(unit))
}

/// A protocol version setting as the server's `"1.2"` / `"1.3"`.
fn tls_version(name: &str, value: &str) -> Result<&'static str, String> {
    match value.to_ascii_lowercase().as_str() {
        "tlsv1.2" => Ok("1.2"),
        "tlsv1.3" => Ok("1.3"),
        "tlsv1" | "tlsv1.1" => Err(format!(
            "rustls has no TLS 1.0 or 1.1, so {name} = {value:?} cannot be given"
        )),
        _ => Err(format!(
            "{name} = {value:?} is not a TLS version rustls can be limited to"
        )),
    }
}

/// An OpenSSL group name as rustls names it; a name neither knows is passed on as written,
/// for the server to refuse.
fn group(name: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "prime256v1" | "p-256" | "secp256r1" => "secp256r1".into(),
        "secp384r1" | "p-384" => "secp384r1".into(),
        "secp521r1" | "p-521" => "secp521r1".into(),
        "x25519" => "X25519".into(),
        "x448" => "X448".into(),
        _ => name.to_owned(),
    }
}

/// The server's configuration file (see products/pgwire-server/src/config.rs).
#[derive(Serialize)]
struct ServerConfig {
    listen_address: &'static str,
    port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    unix_socket: Option<PathBuf>,
    log_connections: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<TlsConfig>,
}

/// Its `[tls]` table.
#[derive(Serialize)]
struct TlsConfig {
    cert_file: PathBuf,
    key_file: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    ca_file: Option<PathBuf>,
    crl_files: Vec<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    crl_dir: Option<PathBuf>,
    min_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_version: Option<&'static str>,
    groups: Vec<String>,
    prefer_server_ciphers: bool,
}

/// The server's configuration for the settings in `conf` and the rows of `hba`, or why the
/// server cannot be given them.
pub fn server_config(
    conf: &str,
    hba: &str,
    layout: &Layout,
    defaults: &PostgresDefaults,
) -> Result<String, String> {
    let s = conf::settings(conf, SETTINGS, missing)?;
    let get = |name: &str| s.get(name).map(String::as_str);
    let set = |name: &str| get(name).filter(|v| !v.is_empty());
    let serves_unix = super::hba::check(hba)?;
    if let Some(v) = get("authentication_timeout") {
        let ms = milliseconds("authentication_timeout", v)?;
        if ms != PGWIRE_STARTUP_TIMEOUT_SECS * 1000 {
            return Err(format!(
                "its startup timeout is pgwire's fixed {PGWIRE_STARTUP_TIMEOUT_SECS} s (STARTUP_TIMEOUT_MILLIS in src/tokio/server.rs), so authentication_timeout = {v:?} cannot be given"
            ));
        }
    }
    let ssl = get("ssl").map_or(Ok(false), |v| boolean("ssl", v))?;
    let min_version = tls_version(
        "ssl_min_protocol_version",
        get("ssl_min_protocol_version").unwrap_or("TLSv1.2"),
    )?;
    let max_version = set("ssl_max_protocol_version")
        .map(|v| tls_version("ssl_max_protocol_version", v))
        .transpose()?;
    let groups = match (get("ssl_groups"), get("ssl_ecdh_curve")) {
        // 18's list; ssl_ecdh_curve is its old name, one curve before 18.
        (Some(list), _) => list.split(':').map(group).collect(),
        (None, Some(one)) => vec![group(one)],
        (None, None) => defaults.groups.split(':').map(group).collect(),
    };
    let prefer_server_ciphers = get("ssl_prefer_server_ciphers")
        .map_or(Ok(true), |v| boolean("ssl_prefer_server_ciphers", v))?;
    let log_connections =
        get("log_connections").map_or(Ok(false), |v| boolean("log_connections", v))?;
    let tls = ssl.then(|| TlsConfig {
        cert_file: in_dir(&layout.dir, get("ssl_cert_file").unwrap_or("server.crt")),
        key_file: in_dir(&layout.dir, get("ssl_key_file").unwrap_or("server.key")),
        ca_file: set("ssl_ca_file").map(|v| in_dir(&layout.dir, v)),
        crl_files: set("ssl_crl_file")
            .map(|v| in_dir(&layout.dir, v))
            .into_iter()
            .collect(),
        crl_dir: set("ssl_crl_dir").map(|v| in_dir(&layout.dir, v)),
        min_version,
        max_version,
        groups,
        prefer_server_ciphers,
    });
    let config = ServerConfig {
        listen_address: "127.0.0.1",
        port: layout.port,
        unix_socket: serves_unix.then(|| layout.socket()),
        log_connections,
        tls,
    };
    let text =
        toml::to_string(&config).map_err(|e| format!("cannot write its configuration: {e}"))?;
    Ok(format!(
        "# written by pgssl-conform from the case's postgresql.conf and pg_hba.conf\n{text}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::target::product::workdir::examples::layout;

    const PG15: PostgresDefaults = PostgresDefaults::of(crate::case::Version::Pg15);

    fn map(conf: &str) -> Result<String, String> {
        server_config(conf, crate::setup::DEFAULT_HBA, &layout(), &PG15)
    }

    #[test]
    fn postgres_defaults_become_server_settings() {
        let text = map("ssl = on\nlog_connections = on\n").expect("maps");
        for line in [
            "listen_address = \"127.0.0.1\"",
            "port = 6000",
            "unix_socket = \"/s/.s.PGSQL.6000\"",
            "log_connections = true",
            "cert_file = \"/d/server.crt\"",
            "key_file = \"/d/server.key\"",
            "min_version = \"1.2\"",
            "groups = [\"secp256r1\"]",
            "prefer_server_ciphers = true",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        assert!(
            !text.contains("ca_file") && !text.contains("max_version"),
            "{text}"
        );
        let off = map("ssl = on\nssl = off\n").expect("maps");
        assert!(!off.contains("[tls]"), "{off}");
    }

    #[test]
    fn case_settings_win_and_map() {
        let conf = "ssl = on\nssl_max_protocol_version = 'TLSv1.2'\nssl_ca_file = 'root.crt'\n\
                    ssl_crl_file = '/abs/x.crl'\nssl_crl_dir = 'crls'\nssl_ecdh_curve = 'X25519'\n\
                    ssl_prefer_server_ciphers = off\nauthentication_timeout = '1min'\n";
        let text = map(conf).expect("maps");
        for line in [
            "max_version = \"1.2\"",
            "ca_file = \"/d/root.crt\"",
            "crl_files = [\"/abs/x.crl\"]",
            "crl_dir = \"/d/crls\"",
            "groups = [\"X25519\"]",
            "prefer_server_ciphers = false",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        let pg18 = server_config(
            "ssl = on\n",
            crate::setup::DEFAULT_HBA,
            &layout(),
            &PostgresDefaults::of(crate::case::Version::Pg18),
        )
        .expect("maps");
        assert!(
            pg18.contains("groups = [\"X25519\", \"secp256r1\"]"),
            "{pg18}"
        );
        let bogus = map("ssl = on\nssl_ecdh_curve = 'bogus'\n")
            .expect("passed on for the server to refuse");
        assert!(bogus.contains("groups = [\"bogus\"]"), "{bogus}");
    }

    #[test]
    fn what_has_no_equivalent_is_named() {
        for (conf, needle) in [
            ("ssl_ciphers = 'HIGH'", "cipher list"),
            (
                "ssl_passphrase_command = 'echo x'",
                "ssl_passphrase_command",
            ),
            ("ssl_dh_params_file = 'dh.pem'", "Diffie-Hellman"),
            ("wal_level = minimal", "wal_level"),
            ("ssl_min_protocol_version = 'TLSv1.1'", "no TLS 1.0 or 1.1"),
            ("ssl_min_protocol_version = 'TLSv1.4'", "not a TLS version"),
            ("authentication_timeout = '2s'", "fixed 60 s"),
            ("nonsense", "not a `name = value`"),
            ("ssl = maybe", "Boolean"),
        ] {
            let why = map(conf).expect_err(conf);
            assert!(why.contains(needle), "{conf}: {why}");
        }
    }
}
