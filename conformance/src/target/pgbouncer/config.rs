//! A case's PostgreSQL set-up as PgBouncer 1.18 configuration: `postgresql.conf` settings
//! mapped to `pgbouncer.ini`, and `pg_hba.conf` checked against what PgBouncer's own hba
//! parser (`src/hba.c`) reads. What has no equivalent is an error naming it, which makes
//! the case not applicable; what maps is written so the product does what PostgreSQL's
//! defaults do (the same cipher list, protocol range and groups).

use crate::target::backend::BackendAddr;
use crate::target::product::conf::{
    self, POSTGRES_CIPHERS, PostgresDefaults, TIME_UNITS, boolean, in_dir,
};
use crate::target::product::hba;

/// Where PgBouncer listens and keeps its files (certificate, key, hba file, ini), and where
/// its backend is.
pub type Layout = crate::target::product::workdir::Layout<BackendAddr>;

/// The PostgreSQL settings the mapping gives PgBouncer; a case setting any other is not
/// applicable to it.
const SETTINGS: &[&str] = &[
    "ssl",
    "ssl_cert_file",
    "ssl_key_file",
    "ssl_ca_file",
    "ssl_ciphers",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "ssl_ecdh_curve",
    "ssl_groups",
    "log_connections",
    "log_disconnections",
    "authentication_timeout",
    "max_connections",
];

/// Why a setting PostgreSQL has cannot be given to PgBouncer 1.18.
fn missing(name: &str) -> String {
    match name {
        "ssl_crl_file" | "ssl_crl_dir" => {
            format!("it has no certificate revocation list setting ({name})")
        }
        "ssl_passphrase_command" | "ssl_passphrase_command_supports_reload" => {
            format!("it has no {name}: its key file must be unencrypted")
        }
        "ssl_dh_params_file" => {
            "its client_tls_dheparams takes none, auto or legacy, not a file (ssl_dh_params_file)"
                .into()
        }
        "ssl_prefer_server_ciphers" => {
            "it has no setting for who chooses the cipher (ssl_prefer_server_ciphers)".into()
        }
        _ => format!("it has no equivalent of the PostgreSQL setting {name}"),
    }
}

/// A PostgreSQL time setting whose default unit is seconds, in whole seconds (rounded up).
fn seconds(name: &str, value: &str) -> Result<u64, String> {
    let (n, unit) = conf::time(name, value, TIME_UNITS)?;
    Ok((n * unit).div_ceil(1000))
}

/// `TLSv1`, `TLSv1.1` … in PostgreSQL's spelling, as an index into [`TLS_VERSIONS`].
fn tls_index(name: &str, value: &str) -> Result<usize, String> {
    const NAMES: [&str; 4] = ["tlsv1", "tlsv1.1", "tlsv1.2", "tlsv1.3"];
    NAMES
        .iter()
        .position(|n| value.eq_ignore_ascii_case(n))
        .ok_or_else(|| {
            format!("{name} = {value:?} is not a TLS version PgBouncer can be limited to")
        })
}

/// PgBouncer's names for TLS 1.0 to 1.3 (`client_tls_protocols`).
const TLS_VERSIONS: [&str; 4] = ["tlsv1.0", "tlsv1.1", "tlsv1.2", "tlsv1.3"];

/// An ini value: PgBouncer reads the rest of the line, quotes included, so a value with a
/// line break or a comment character cannot be written.
fn raw(name: &str, value: &str) -> Result<String, String> {
    if value.contains(['\n', '\r', ';', '#']) {
        return Err(format!(
            "{name} = {value:?} cannot be written as a pgbouncer.ini value"
        ));
    }
    Ok(value.to_owned())
}

/// The `pgbouncer.ini` for the settings in `conf`, or why PgBouncer cannot be given them.
pub fn ini(conf: &str, layout: &Layout, defaults: &PostgresDefaults) -> Result<String, String> {
    let s = conf::settings(conf, SETTINGS, missing)?;
    let get = |name: &str| s.get(name).map(String::as_str);
    let ssl = get("ssl").map_or(Ok(false), |v| boolean("ssl", v))?;
    // PostgreSQL's ssl = on offers TLS and lets pg_hba.conf decide who must use it, as
    // PgBouncer's prefer does; off answers N to every SSLRequest, as disable does.
    let sslmode = if ssl { "prefer" } else { "disable" };
    let file = |value: &str| in_dir(&layout.dir, value).display().to_string();
    let cert = file(get("ssl_cert_file").unwrap_or("server.crt"));
    let key = file(get("ssl_key_file").unwrap_or("server.key"));
    let min = tls_index(
        "ssl_min_protocol_version",
        get("ssl_min_protocol_version").unwrap_or("TLSv1.2"),
    )?;
    let max = match get("ssl_max_protocol_version") {
        None | Some("") => TLS_VERSIONS.len() - 1,
        Some(v) => tls_index("ssl_max_protocol_version", v)?,
    };
    if min > max {
        return Err(format!(
            "an empty protocol range ({} to {}) has no client_tls_protocols list",
            TLS_VERSIONS[min], TLS_VERSIONS[max]
        ));
    }
    let protocols = TLS_VERSIONS[min..=max].join(",");
    // PgBouncer's client_tls_ecdhcurve takes one curve or `auto` (OpenSSL's own list). 18's
    // default list, X25519:prime256v1, becomes auto, which offers both (and more); a list a
    // case sets has no equivalent.
    let groups = match get("ssl_groups").or(get("ssl_ecdh_curve")) {
        Some(list) if list.contains([':', ',']) => {
            return Err(format!(
                "its client_tls_ecdhcurve takes one curve, not the list {list:?}"
            ));
        }
        Some(one) => one,
        None if defaults.groups.contains(':') => "auto",
        None => defaults.groups,
    };
    let log = |name: &str, default: bool| -> Result<&'static str, String> {
        let on = get(name).map_or(Ok(default), |v| boolean(name, v))?;
        Ok(if on { "1" } else { "0" })
    };
    let mut out = String::new();
    out.push_str("; written by pgssl-conform from the case's postgresql.conf and pg_hba.conf\n");
    out.push_str("[databases]\n");
    out.push_str(&format!(
        "* = host={} port={}\n\n",
        layout.backend.socket_dir.display(),
        layout.backend.port
    ));
    out.push_str("[pgbouncer]\n");
    let mut set = |name: &str, value: String| out.push_str(&format!("{name} = {value}\n"));
    set("listen_addr", "127.0.0.1".into());
    set("listen_port", layout.port.to_string());
    set("unix_socket_dir", layout.sockets.display().to_string());
    set("auth_type", "hba".into());
    set(
        "auth_hba_file",
        layout.dir.join("pg_hba.conf").display().to_string(),
    );
    set(
        "auth_file",
        layout.dir.join("userlist.txt").display().to_string(),
    );
    // Roles are the backend's: PgBouncer looks up every user but this one there.
    set("auth_user", "postgres".into());
    set("client_tls_sslmode", sslmode.into());
    set("client_tls_cert_file", cert);
    set("client_tls_key_file", key);
    if let Some(ca) = get("ssl_ca_file").filter(|v| !v.is_empty()) {
        set("client_tls_ca_file", file(ca));
    }
    set(
        "client_tls_ciphers",
        raw(
            "ssl_ciphers",
            get("ssl_ciphers").unwrap_or(POSTGRES_CIPHERS),
        )?,
    );
    set("client_tls_protocols", protocols);
    set("client_tls_ecdhcurve", raw("ssl_groups", groups)?);
    set("server_tls_sslmode", "disable".into());
    set("log_connections", log("log_connections", false)?.into());
    set(
        "log_disconnections",
        log("log_disconnections", false)?.into(),
    );
    if let Some(v) = get("authentication_timeout") {
        set(
            "client_login_timeout",
            seconds("authentication_timeout", v)?.to_string(),
        );
    } else {
        // PostgreSQL's authentication_timeout default, 1 min.
        set("client_login_timeout", "60".into());
    }
    if let Some(v) = get("max_connections") {
        let n: u32 = v
            .parse()
            .map_err(|_| format!("max_connections = {v:?} is not a number"))?;
        set("max_client_conn", n.to_string());
    }
    Ok(out)
}

/// PgBouncer 1.18's hba methods (`parse_line` in src/hba.c).
const METHODS: &[&str] = &[
    "trust",
    "reject",
    "md5",
    "password",
    "peer",
    "cert",
    "scram-sha-256",
];

/// Checks that every `pg_hba.conf` row is one PgBouncer 1.18 reads as PostgreSQL does: its
/// parser skips a line it cannot read (PostgreSQL refuses the whole file), so a row it does
/// not know would silently change which rows exist.
pub fn check_hba(text: &str) -> Result<(), String> {
    let quoted = "quoted names and continued lines are read differently by its hba parser";
    for row in hba::plain_rows(text, quoted) {
        let row = row?;
        let unmappable = |why: String| row.unmappable(why);
        let (kind, rest) = row
            .fields
            .split_first()
            .ok_or_else(|| unmappable("empty".into()))?;
        let address_fields = match *kind {
            "local" => 0,
            "host" | "hostssl" | "hostnossl" => 1,
            "hostgssenc" | "hostnogssenc" => {
                return Err(unmappable(format!("it has no {kind} rows (no GSSAPI)")));
            }
            other if other.starts_with("include") => {
                return Err(unmappable(format!("its hba file has no {other} directive")));
            }
            other => return Err(unmappable(format!("{other:?} is not a row type it reads"))),
        };
        if rest.len() < 2 + address_fields + 1 {
            return Err(unmappable("a row with missing fields".into()));
        }
        for names in &rest[..2] {
            for name in names.split(',') {
                if matches!(name, "samerole" | "samegroup" | "replication") || name.starts_with('+')
                {
                    return Err(unmappable(format!("it does not support {name:?}")));
                }
                if name.starts_with('/') {
                    return Err(unmappable(format!(
                        "it has no regular expressions ({name:?})"
                    )));
                }
            }
        }
        let mut i = 2;
        if address_fields == 1 {
            let address = rest[i];
            let ip = address.split('/').next().unwrap_or(address);
            if ip.parse::<std::net::IpAddr>().is_err() {
                return Err(unmappable(format!(
                    "it takes only IP addresses, not {address:?}"
                )));
            }
            i += 1;
            if !address.contains('/') {
                // A separate netmask.
                i += 1;
            }
        }
        let Some(method) = rest.get(i) else {
            return Err(unmappable("a row with no method".into()));
        };
        if !METHODS.contains(method) {
            return Err(unmappable(format!("it has no {method} method")));
        }
        if let Some(option) = rest.get(i + 1) {
            return Err(unmappable(format!(
                "its hba rows take no options ({option})"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::target::product::workdir::examples::behind as layout;

    const PG15: PostgresDefaults = PostgresDefaults::of(crate::case::Version::Pg15);

    #[test]
    fn postgres_defaults_become_pgbouncer_settings() {
        let ini = ini("ssl = on\nlog_connections = on\n", &layout(), &PG15).expect("maps");
        for line in [
            "* = host=/b port=5000",
            "listen_port = 6000",
            "client_tls_sslmode = prefer",
            "client_tls_cert_file = /d/server.crt",
            "client_tls_ciphers = HIGH:MEDIUM:+3DES:!aNULL",
            "client_tls_protocols = tlsv1.2,tlsv1.3",
            "client_tls_ecdhcurve = prime256v1",
            "log_connections = 1",
            "client_login_timeout = 60",
        ] {
            assert!(ini.lines().any(|l| l == line), "{line} missing from\n{ini}");
        }
        assert!(!ini.contains("client_tls_ca_file"));
    }

    #[test]
    fn case_settings_win_and_map() {
        let conf = "ssl = on\nssl = off  # comment\nssl_min_protocol_version = 'TLSv1.1'\n\
                    ssl_max_protocol_version = 'TLSv1.2'\nssl_ca_file = 'root.crt'\n\
                    authentication_timeout = 1500ms\nssl_groups = 'X25519'\n";
        let ini = ini(conf, &layout(), &PG15).expect("maps");
        for line in [
            "client_tls_sslmode = disable",
            "client_tls_protocols = tlsv1.1,tlsv1.2",
            "client_tls_ca_file = /d/root.crt",
            "client_login_timeout = 2",
            "client_tls_ecdhcurve = X25519",
        ] {
            assert!(ini.lines().any(|l| l == line), "{line} missing from\n{ini}");
        }
    }

    #[test]
    fn what_has_no_equivalent_is_named() {
        for (conf, needle) in [
            ("ssl_crl_file = 'x.crl'", "revocation"),
            (
                "ssl_passphrase_command = 'echo x'",
                "ssl_passphrase_command",
            ),
            ("wal_level = minimal", "wal_level"),
            (
                "ssl_min_protocol_version = 'TLSv1.3'\nssl_max_protocol_version = 'TLSv1.2'",
                "empty protocol range",
            ),
            ("nonsense", "not a `name = value`"),
            ("ssl_groups = 'X25519:prime256v1'", "takes one curve"),
            ("ssl = maybe", "Boolean"),
        ] {
            let why = ini(conf, &layout(), &PG15).expect_err(conf);
            assert!(why.contains(needle), "{conf}: {why}");
        }
    }

    #[test]
    fn hba_rows_pgbouncer_reads() {
        check_hba("local all all trust\nhost all all 127.0.0.1/32 trust\nhostssl db,other u 127.0.0.1 255.255.255.255 cert\n# c\n")
            .expect("readable");
        for (row, needle) in [
            (
                "hostssl all all 127.0.0.1/32 cert clientcert=verify-full",
                "no options",
            ),
            ("hostgssenc all all 127.0.0.1/32 trust", "hostgssenc"),
            ("host all all localhost trust", "only IP addresses"),
            ("host all all 127.0.0.1/32 ident", "no ident method"),
            ("host replication all 127.0.0.1/32 trust", "replication"),
            ("include other.conf", "include"),
            ("host all +group 127.0.0.1/32 trust", "+group"),
            ("host \"all\" all 127.0.0.1/32 trust", "quoted"),
        ] {
            let why = check_hba(row).expect_err(row);
            assert!(why.contains(needle), "{row}: {why}");
            assert!(why.starts_with("pg_hba.conf line 1"), "{why}");
        }
    }
}
