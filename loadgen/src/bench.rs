//! A whole run: servers already listening, loaded in alternating rounds after a warm-up,
//! their CPU time sampled around each round, idle connections held to measure memory, and
//! the report printed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use openssl::pkey::{PKey, Private};
use openssl::ssl::SslVersion;
use pgssl_server::wire::{ProtocolVersion, StartupMessage, StartupPacket};

use crate::ceiling::crypto_limit;
use crate::drive::{self, Endpoint, Mode};
use crate::report::{self, Measured};
use crate::stats::Totals;
use crate::{Error, affinity, procfs};

/// A server to load, already listening.
#[derive(Clone, Debug)]
pub struct Server {
    /// Its name in the report (the target as given).
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// What a connection does.
    pub mode: Mode,
    /// Its process, when local: CPU time and memory are measured from it.
    pub pid: Option<u32>,
    /// A line the human report prints under the table (`NAME: NOTE`).
    pub note: Option<String>,
}

/// How to load and what to report.
#[derive(Clone, Debug)]
pub struct Options {
    /// Concurrent clients.
    pub clients: usize,
    /// Seconds of load per server and round.
    pub duration: f64,
    /// Rounds per server when comparing.
    pub rounds: usize,
    /// Alternate rounds, print ratios to the first server and the crypto ceiling.
    pub compare: bool,
    /// The load is plaintext (no crypto ceiling).
    pub plaintext: bool,
    /// The TLS version the client insists on.
    pub tls: SslVersion,
    /// The servers' key-exchange groups (for the report and the ceiling).
    pub groups: String,
    /// The client's groups; `None` for OpenSSL's.
    pub client_groups: Option<String>,
    /// Idle TLS connections opened to measure memory per connection (0: skip).
    pub idle: usize,
    /// The server on CPU 0, the load generator on CPU 1.
    pub pin: bool,
    /// User name in the StartupMessage.
    pub user: String,
    /// The certificate and TLS version, as the report names them (`P-256 TLS1.3`).
    pub cert: String,
    /// JSON rather than the table.
    pub json: bool,
}

/// Loads `servers` as `options` say and prints the report; `key` is the servers'
/// certificate key, for the crypto ceiling.
pub fn run(servers: &[Server], options: &Options, key: &PKey<Private>) -> Result<(), Error> {
    if options.pin {
        for s in servers {
            if let Some(pid) = s.pid {
                affinity::pin_tree(pid, 0);
            }
        }
        affinity::pin_self(1);
    }
    let connector = drive::client_context(options.tls, options.client_groups.as_deref())?;
    let startup = StartupPacket::Startup(StartupMessage::new(
        ProtocolVersion(0x0003_0000),
        &[("user", options.user.as_str()), ("database", "postgres")],
    ))
    .to_bytes();
    let endpoint = |s: &Server| Endpoint {
        addr: s.addr,
        mode: s.mode,
        startup: &startup,
    };
    let rounds = if options.compare {
        options.rounds.max(1)
    } else {
        1
    };
    let mut totals: Vec<Totals> = servers.iter().map(|_| Totals::default()).collect();
    for round in 0..rounds {
        for (s, t) in servers.iter().zip(totals.iter_mut()) {
            if !options.json {
                eprintln!("round {}: {} ...", round + 1, s.name);
            }
            // Warm-up: a few connections, not counted.
            let warm = drive::load(
                endpoint(s),
                options.clients,
                &connector,
                Duration::from_millis(300),
            );
            if warm.ok == 0 {
                return Err(Error::NothingCompleted {
                    server: s.name.clone(),
                    failures: warm.failures,
                    first: warm.first_error.map(Box::new),
                });
            }
            let before = s.pid.and_then(procfs::cpu_ticks);
            let started = Instant::now();
            let r = drive::load(
                endpoint(s),
                options.clients,
                &connector,
                Duration::from_secs_f64(options.duration),
            );
            let elapsed = started.elapsed().as_secs_f64();
            let after = s.pid.and_then(procfs::cpu_ticks);
            t.add_round(r, elapsed, (before, after));
        }
    }
    let limit = if options.compare && !options.plaintext {
        Some(crypto_limit(key)?)
    } else {
        None
    };
    let ceiling = limit.as_ref().map(|l| l.for_groups(&options.groups));
    let tick_ms = 1000.0 / procfs::clock_ticks_per_sec();
    let mut results = Vec::new();
    for (s, t) in servers.iter().zip(totals.iter_mut()) {
        let (rss, pss) = if options.idle > 0 && s.mode != Mode::Plain {
            idle_memory(s, endpoint(s), options.idle, &connector)
        } else {
            (None, None)
        };
        let f = t.figures(tick_ms);
        results.push(Measured {
            target: s.name.clone(),
            connections_per_sec: f.connections_per_sec,
            server_cpu_ms_per_connection: f.server_cpu_ms_per_connection,
            p50_ms: f.p50_ms,
            p99_ms: f.p99_ms,
            failures: t.failures,
            connections: t.ok,
            server_cores_busy: f.server_cores_busy,
            connections_per_server_cpu_sec: f.connections_per_server_cpu_sec,
            crypto_limit_fraction: f
                .connections_per_server_cpu_sec
                .zip(ceiling)
                .map(|(r, c)| r / c),
            rss_kib_per_idle_connection: rss,
            pss_kib_per_idle_connection: pss,
            cert: options.cert.clone(),
            mode: s.mode.name().into(),
            groups: options.groups.clone(),
        });
        if let Some(e) = &t.first_error {
            eprintln!("{}: first failure: {e}", s.name);
        }
    }
    if options.json {
        println!("{}", report::json(&results, limit.as_ref(), options)?);
    } else {
        let notes: Vec<(String, String)> = servers
            .iter()
            .filter_map(|s| Some((s.name.clone(), s.note.clone()?)))
            .collect();
        for line in report::human(&results, limit.as_ref(), ceiling, &notes, options) {
            println!("{line}");
        }
    }
    Ok(())
}

/// Holds `count` idle connections open and returns the growth of the server's resident
/// memory (sum of VmRSS, and of Pss) per connection, in KiB.
fn idle_memory(
    server: &Server,
    endpoint: Endpoint<'_>,
    count: usize,
    connector: &openssl::ssl::SslConnector,
) -> (Option<f64>, Option<f64>) {
    let Some(pid) = server.pid else {
        return (None, None);
    };
    std::thread::sleep(Duration::from_millis(300));
    let before = procfs::memory_kib(pid);
    let held = drive::hold_idle(endpoint, count, connector);
    // A bare-TLS server such as s_server -www serves one connection at a time: its figure is
    // not comparable, so only a full set counts.
    if held.len() < count {
        return (None, None);
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = procfs::memory_kib(pid);
    drop(held);
    let n = count as f64;
    match (before, after) {
        (Some((r0, p0)), Some((r1, p1))) => (
            Some((r1 as f64 - r0 as f64) / n),
            Some((p1 as f64 - p0 as f64) / n),
        ),
        _ => (None, None),
    }
}
