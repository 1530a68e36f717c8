//! The report: one [`Measured`] per server, printed as a table (with ratios to the first
//! server and the crypto ceiling) or as one JSON document.

use crate::Error;
use crate::bench::Options;
use crate::ceiling::CryptoLimit;

/// One target's figures.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Measured {
    /// The target as given.
    pub target: String,
    /// Completed connections per second.
    pub connections_per_sec: f64,
    /// Server CPU (user+system, with reaped children) per completed connection.
    pub server_cpu_ms_per_connection: Option<f64>,
    /// Median connection latency.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Connections that failed.
    pub failures: u64,
    /// Connections completed.
    pub connections: u64,
    /// Server CPU per second of load, in cores (1.0: one core busy).
    pub server_cores_busy: Option<f64>,
    /// The server's handshake rate per core: 1000 / server_cpu_ms_per_connection.
    pub connections_per_server_cpu_sec: Option<f64>,
    /// connections_per_server_cpu_sec / the crypto ceiling.
    pub crypto_limit_fraction: Option<f64>,
    /// Resident memory (sum of VmRSS over the server's processes) per idle TLS connection.
    pub rss_kib_per_idle_connection: Option<f64>,
    /// Proportional set size (Pss) per idle TLS connection: shared pages divided.
    pub pss_kib_per_idle_connection: Option<f64>,
    /// Certificate key type, TLS version and groups.
    pub cert: String,
    /// `require`, `disable` or `bare-tls`.
    pub mode: String,
    /// Server groups.
    pub groups: String,
}

/// The JSON document: the results, the crypto limit, the clients and whether pinned.
pub fn json(
    results: &[Measured],
    limit: Option<&CryptoLimit>,
    options: &Options,
) -> Result<String, Error> {
    Ok(serde_json::to_string_pretty(&serde_json::json!({
        "results": results,
        "crypto_limit": limit,
        "clients": options.clients,
        "pinned": options.pin,
    }))?)
}

/// `v` with `digits` decimals, or `-`.
fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

/// The table, the crypto limit and the servers' notes, as lines.
pub fn human(
    results: &[Measured],
    limit: Option<&CryptoLimit>,
    ceiling: Option<f64>,
    notes: &[(String, String)],
    options: &Options,
) -> Vec<String> {
    let mut out = Vec::new();
    out.push(format!(
        "{} clients, {} s x {} round(s), {}, groups {}{}",
        options.clients,
        options.duration,
        if options.compare { options.rounds } else { 1 },
        results.first().map_or("", |r| r.cert.as_str()),
        options.groups,
        if options.pin {
            ", server on CPU 0, load on CPU 1"
        } else {
            ""
        }
    ));
    out.push(format!(
        "{:44} {:>9} {:>7} {:>9} {:>8} {:>8} {:>8} {:>6} {:>8} {:>8} {:>5}",
        "target",
        "conn/s",
        "ratio",
        "srv ms/c",
        "cpu ratio",
        "p50 ms",
        "p99 ms",
        "fail",
        "crypto%",
        "KiB/idle",
        "(pss)"
    ));
    let first = results.first();
    for r in results {
        let ratio = first.map(|f| r.connections_per_sec / f.connections_per_sec);
        let cpu_ratio = first
            .and_then(|f| f.server_cpu_ms_per_connection)
            .zip(r.server_cpu_ms_per_connection)
            .map(|(f, m)| m / f);
        out.push(format!(
            "{:44} {:>9.1} {:>7} {:>9} {:>8} {:>8.2} {:>8.2} {:>6} {:>8} {:>8} {:>5}",
            r.target,
            r.connections_per_sec,
            opt(ratio, 2),
            opt(r.server_cpu_ms_per_connection, 3),
            opt(cpu_ratio, 2),
            r.p50_ms,
            r.p99_ms,
            r.failures,
            opt(r.crypto_limit_fraction.map(|f| f * 100.0), 1),
            opt(r.rss_kib_per_idle_connection, 1),
            opt(r.pss_kib_per_idle_connection, 1),
        ));
    }
    if let Some(l) = limit {
        out.push(format!(
            "crypto limit ({} on one core, {}): sign {:.0}/s, X25519 {:.0}/s, P-256 ECDH {:.0}/s; \
             handshakes/s = 1/(t_sign + 2 t_kex): {:.0} with X25519, {:.0} with P-256 (used: {})",
            l.key,
            openssl::version::version(),
            l.sign_per_sec,
            l.x25519_per_sec,
            l.p256_ecdh_per_sec,
            l.handshakes_per_sec_x25519,
            l.handshakes_per_sec_p256,
            opt(ceiling, 0)
        ));
    }
    for (target, note) in notes {
        out.push(format!("{target}: {note}"));
    }
    out.push(
        "ratio: conn/s over the first target's; cpu ratio: server ms/conn over the first target's"
            .into(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(target: &str, rate: f64, cpu: Option<f64>) -> Measured {
        Measured {
            target: target.into(),
            connections_per_sec: rate,
            server_cpu_ms_per_connection: cpu,
            p50_ms: 1.234,
            p99_ms: 5.0,
            failures: 0,
            connections: 10,
            server_cores_busy: None,
            connections_per_server_cpu_sec: None,
            crypto_limit_fraction: Some(0.5),
            rss_kib_per_idle_connection: None,
            pss_kib_per_idle_connection: Some(12.34),
            cert: "P-256 TLS1.3".into(),
            mode: "require".into(),
            groups: "prime256v1".into(),
        }
    }

    fn options() -> Options {
        Options {
            clients: 4,
            duration: 0.5,
            rounds: 3,
            compare: true,
            plaintext: false,
            tls: openssl::ssl::SslVersion::TLS1_3,
            groups: "prime256v1".into(),
            client_groups: None,
            idle: 0,
            pin: false,
            user: "postgres".into(),
            cert: "P-256 TLS1.3".into(),
            json: false,
        }
    }

    #[test]
    fn the_table_gives_ratios_to_the_first_target() {
        let results = [
            measured("reference", 1000.0, Some(2.0)),
            measured("postgres:/usr/lib/postgresql/15/bin", 500.0, Some(3.0)),
        ];
        let notes = [("s_server".to_owned(), "OpenSSL 3.0".to_owned())];
        let lines = human(&results, None, None, &notes, &options());
        assert_eq!(
            lines[0],
            "4 clients, 0.5 s x 3 round(s), P-256 TLS1.3, groups prime256v1"
        );
        assert_eq!(
            lines[2],
            format!(
                "{:44} {:>9} {:>7} {:>9} {:>8} {:>8} {:>8} {:>6} {:>8} {:>8} {:>5}",
                "reference",
                "1000.0",
                "1.00",
                "2.000",
                "1.00",
                "1.23",
                "5.00",
                "0",
                "50.0",
                "-",
                "12.3"
            )
        );
        assert!(lines[3].starts_with("postgres:/usr/lib/postgresql/15/bin "));
        assert!(
            lines[3].contains(" 0.50 ") && lines[3].contains(" 1.50 "),
            "{}",
            lines[3]
        );
        assert_eq!(lines[4], "s_server: OpenSSL 3.0");
        assert_eq!(lines.len(), 6);
    }

    #[test]
    fn without_compare_one_round_is_reported() {
        let o = Options {
            compare: false,
            pin: true,
            ..options()
        };
        let lines = human(&[], None, None, &[], &o);
        assert_eq!(
            lines[0],
            "4 clients, 0.5 s x 1 round(s), , groups prime256v1, server on CPU 0, load on CPU 1"
        );
    }

    #[test]
    fn json_has_results_limit_clients_and_pinning() {
        let text = json(&[measured("reference", 1.0, None)], None, &options()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["clients"], 4);
        assert_eq!(v["pinned"], false);
        assert!(v["crypto_limit"].is_null());
        assert_eq!(v["results"][0]["target"], "reference");
        assert!(v["results"][0]["server_cpu_ms_per_connection"].is_null());
    }
}
