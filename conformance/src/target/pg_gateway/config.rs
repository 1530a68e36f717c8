//! A case's PostgreSQL set-up as the JSON configuration of our pg-gateway server
//! (`products/pg-gateway/server.mjs`): `postgresql.conf` settings mapped to Node's TLS
//! options, with the authentication method [`super::hba`] reduces `pg_hba.conf` to. What has
//! no equivalent is an error naming it, which makes the case not applicable; what maps is
//! written so the server does what PostgreSQL's defaults do (the same cipher list, protocol
//! range and groups).
//!
//! pg-gateway 0.3.0-beta.4 hands Node's TLS only the key, certificate, CA and passphrase
//! (`createTlsSocketOptions` in `src/platforms/node/tls.ts`); the server sets the protocol
//! range, ciphers and groups as Node's process-wide defaults, which every TLS context starts
//! from. Node has no such default for DH parameters, server cipher preference or CRLs.

use serde_json::{Map, Value, json};

use crate::target::product::conf::{self, POSTGRES_CIPHERS, PostgresDefaults, boolean, in_dir};
use crate::target::product::hba::no_ident_maps;

/// Where the server listens (its TCP port on 127.0.0.1, and the Unix-domain socket
/// [`Layout::socket`] beside it) and where its files are (certificate, key, `pg_hba.conf`,
/// config).
pub type Layout = crate::target::product::workdir::Layout;

/// The PostgreSQL settings the mapping gives the server; a case setting any other is not
/// applicable to it.
const SETTINGS: &[&str] = &[
    "ssl",
    "ssl_cert_file",
    "ssl_key_file",
    "ssl_ca_file",
    "ssl_ciphers",
    "ssl_tls13_ciphers",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "ssl_ecdh_curve",
    "ssl_groups",
    "log_connections",
    "log_disconnections",
    "max_connections",
    // pg-gateway has no startup deadline at any value: a case giving one runs, and shows
    // that a client stalling before or during startup is kept (see `config`).
    "authentication_timeout",
];

/// Why a setting PostgreSQL has cannot be given to pg-gateway.
fn missing(name: &str) -> String {
    let no_default = |option: &str| {
        format!(
            "its tls option passes no {option} to Node's TLS, and Node has no process-wide default for one ({name})"
        )
    };
    match name {
        "ssl_crl_file" | "ssl_crl_dir" => no_default("certificate revocation list (crl)"),
        "ssl_passphrase_command" | "ssl_passphrase_command_supports_reload" => {
            format!("it has no {name}: Node's tls takes a static passphrase")
        }
        "ssl_dh_params_file" => no_default("DH parameters (dhparam)"),
        "ssl_prefer_server_ciphers" => no_default("server cipher preference (honorCipherOrder)"),
        _ => format!("it has no equivalent of the PostgreSQL setting {name}"),
    }
}

/// A protocol version in Node's spelling (`TLSv1` … `TLSv1.3`, which PostgreSQL reads without
/// regard to case); any other value is passed on as written, for Node to judge.
fn tls_version(value: &str) -> String {
    ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
        .into_iter()
        .find(|n| value.eq_ignore_ascii_case(n))
        .map_or_else(|| value.to_owned(), str::to_owned)
}

/// Node's `ciphers` list: the TLS 1.3 suites (`TLS_*` names, from 18's `ssl_tls13_ciphers`)
/// and then the TLS 1.2 list. Without 1.3 suites, Node keeps OpenSSL's, as PostgreSQL does.
fn ciphers(tls12: &str, tls13: Option<&str>) -> Result<String, String> {
    let Some(tls13) = tls13.filter(|v| !v.is_empty()) else {
        return Ok(tls12.to_owned());
    };
    if let Some(other) = tls13.split(':').find(|s| !s.starts_with("TLS_")) {
        return Err(format!(
            "ssl_tls13_ciphers = {tls13:?} names {other:?}, which Node's single cipher list would read as a TLS 1.2 cipher"
        ));
    }
    if tls12.split(':').any(|s| s.starts_with("TLS_")) {
        return Err(format!(
            "ssl_ciphers = {tls12:?} names TLS 1.3 suites, which Node's single cipher list would apply to TLS 1.3"
        ));
    }
    Ok(format!("{tls13}:{tls12}"))
}

/// The server's JSON configuration for the files in `layout.dir`: `postgresql.conf`,
/// `pg_hba.conf` and `pg_ident.conf` as they are now; or why pg-gateway cannot be given them.
pub fn config(
    conf: &str,
    hba: &str,
    ident: &str,
    layout: &Layout,
    defaults: &PostgresDefaults,
) -> Result<Value, String> {
    no_ident_maps(
        ident,
        "it reads no pg_ident.conf: its cert method compares the certificate's CN with the user name, with no maps",
    )?;
    let s = conf::settings(conf, SETTINGS, missing)?;
    let get = |name: &str| s.get(name).map(String::as_str);
    let ssl = get("ssl").map_or(Ok(false), |v| boolean("ssl", v))?;
    let auth = super::hba::method(hba, ssl)?;
    let mut out = Map::new();
    out.insert("port".into(), json!(layout.port));
    out.insert(
        "socket".into(),
        json!(layout.socket().display().to_string()),
    );
    out.insert("auth".into(), json!(auth));
    let log_connections =
        get("log_connections").map_or(Ok(false), |v| boolean("log_connections", v))?;
    out.insert("logConnections".into(), json!(log_connections));
    // The server writes no disconnection line; its log is not judged for this target.
    get("log_disconnections")
        .map(|v| boolean("log_disconnections", v))
        .transpose()?;
    if let Some(v) = get("max_connections") {
        let n: u32 = v
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("max_connections = {v:?} is not a positive number"))?;
        out.insert("maxConnections".into(), json!(n));
    }
    if ssl {
        let mut tls = Map::new();
        let file = |value: &str| in_dir(&layout.dir, value).display().to_string();
        tls.insert(
            "key".into(),
            json!(file(get("ssl_key_file").unwrap_or("server.key"))),
        );
        tls.insert(
            "cert".into(),
            json!(file(get("ssl_cert_file").unwrap_or("server.crt"))),
        );
        if let Some(ca) = get("ssl_ca_file").filter(|v| !v.is_empty()) {
            tls.insert("ca".into(), json!(file(ca)));
        }
        let min = get("ssl_min_protocol_version").unwrap_or("TLSv1.2");
        tls.insert("minVersion".into(), json!(tls_version(min)));
        // PostgreSQL's empty maximum is "no limit", Node's default (TLSv1.3).
        if let Some(max) = get("ssl_max_protocol_version").filter(|v| !v.is_empty()) {
            tls.insert("maxVersion".into(), json!(tls_version(max)));
        }
        let list = ciphers(
            get("ssl_ciphers").unwrap_or(POSTGRES_CIPHERS),
            get("ssl_tls13_ciphers"),
        )?;
        tls.insert("ciphers".into(), json!(list));
        let groups = get("ssl_groups")
            .or(get("ssl_ecdh_curve"))
            .unwrap_or(defaults.groups);
        tls.insert("ecdhCurve".into(), json!(groups));
        out.insert("tls".into(), Value::Object(tls));
    } else {
        out.insert("tls".into(), Value::Null);
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::target::product::workdir::examples::layout;

    const PG15: PostgresDefaults = PostgresDefaults::of(crate::case::Version::Pg15);
    const DEFAULT_HBA: &str = crate::setup::DEFAULT_HBA;

    fn map(conf: &str, hba: &str) -> Result<Value, String> {
        config(conf, hba, "\n", &layout(), &PG15)
    }

    #[test]
    fn postgres_defaults_become_node_options() {
        let c = map("ssl = on\nlog_connections = on\n", DEFAULT_HBA).expect("maps");
        assert_eq!(
            c,
            json!({
                "port": 6000,
                "socket": "/s/.s.PGSQL.6000",
                "auth": "trust",
                "logConnections": true,
                "tls": {
                    "key": "/d/server.key",
                    "cert": "/d/server.crt",
                    "minVersion": "TLSv1.2",
                    "ciphers": "HIGH:MEDIUM:+3DES:!aNULL",
                    "ecdhCurve": "prime256v1",
                },
            })
        );
    }

    #[test]
    fn case_settings_win_and_map() {
        let conf = "ssl = on\nssl_min_protocol_version = 'tlsv1.1'\n\
                    ssl_max_protocol_version = 'TLSv1.2'\nssl_ca_file = 'root.crt'\n\
                    ssl_groups = 'X25519'\nmax_connections = 3\nssl_ciphers = 'NULL-SHA'\n\
                    ssl_tls13_ciphers = 'TLS_AES_128_GCM_SHA256'\nauthentication_timeout = 2s\n";
        let c = map(conf, "hostssl all all 127.0.0.1/32 cert\n").expect("maps");
        assert_eq!(c["auth"], "cert");
        assert_eq!(c["maxConnections"], 3);
        let tls = &c["tls"];
        assert_eq!(tls["minVersion"], "TLSv1.1");
        assert_eq!(tls["maxVersion"], "TLSv1.2");
        assert_eq!(tls["ca"], "/d/root.crt");
        assert_eq!(tls["ecdhCurve"], "X25519");
        assert_eq!(tls["ciphers"], "TLS_AES_128_GCM_SHA256:NULL-SHA");
        // Values Node judges are passed as written.
        let c = map(
            "ssl = on\nssl_min_protocol_version = 'TLSv1.4'",
            DEFAULT_HBA,
        )
        .expect("maps");
        assert_eq!(c["tls"]["minVersion"], "TLSv1.4");
        let c = map("ssl = off", DEFAULT_HBA).expect("maps");
        assert_eq!(c["tls"], Value::Null);
    }

    #[test]
    fn what_has_no_equivalent_is_named() {
        for (conf, needle) in [
            ("ssl_crl_file = 'x.crl'", "revocation"),
            ("ssl_crl_dir = 'x'", "revocation"),
            ("ssl_passphrase_command = 'echo x'", "static passphrase"),
            ("ssl_dh_params_file = 'dh.pem'", "dhparam"),
            ("ssl_prefer_server_ciphers = off", "honorCipherOrder"),
            ("wal_level = minimal", "wal_level"),
            ("nonsense", "not a `name = value`"),
            ("ssl = maybe", "Boolean"),
            ("max_connections = lots", "positive number"),
            (
                "ssl = on\nssl_tls13_ciphers = 'AES128-SHA'",
                "TLS 1.2 cipher",
            ),
        ] {
            let why = map(conf, DEFAULT_HBA).expect_err(conf);
            assert!(why.contains(needle), "{conf}: {why}");
        }
        let why = config("", DEFAULT_HBA, "m CN=x u\n", &layout(), &PG15).expect_err("ident");
        assert!(why.contains("pg_ident.conf"), "{why}");
    }
}
