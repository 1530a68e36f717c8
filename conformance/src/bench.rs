//! `pgssl-conform bench`: a connection-rate load generator.
//!
//! N client threads open and complete connections as fast as they can (TCP connect,
//! SSLRequest, TLS handshake, StartupMessage, ... ReadyForQuery, Terminate; or bare TLS for
//! `external-tls:`), each through one shared client TLS context. For a server that is a local
//! process (found by its listening port), the server's CPU time comes from /proc: user+system
//! time of the process and its live descendants, plus the children it has reaped (PostgreSQL's
//! backends), as a delta over the measurement, divided by the connections completed.
//!
//! Every target gets the same certificate and key (generated once per run), the same key
//! exchange groups (`--groups`, default PostgreSQL 15's `prime256v1`), no session tickets,
//! `log_connections = off`. `--compare` runs the targets in alternation, prints the ratios to
//! the first target and the crypto ceiling of the certificate's key type from the local
//! OpenSSL.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use openssl::derive::Deriver;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::sign::Signer;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode, SslVersion};
use pgssl_server::wire::{BackendMessage, ProtocolVersion, StartupMessage, StartupPacket};

use crate::case::{CertKind, FileOp, Setup, Version};
use crate::target::{self, Running, Started, Target};

/// `pgssl-conform bench` arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// reference[:15|18] (run as a child process), postgres:BINDIR, external:HOST:PORT,
    /// external-tls:HOST:PORT (bare TLS), s_server[:PROGRAM] (`openssl s_server` started here
    /// with the same certificate; PROGRAM is the `openssl` to run, e.g. one built from the
    /// vendored OpenSSL's source by scripts/build-openssl-cli). Repeatable.
    #[arg(long = "target", short = 't')]
    pub targets: Vec<String>,
    /// Run these targets in alternation and print ratios to the first, plus the crypto limit.
    #[arg(long, num_args = 1..)]
    pub compare: Vec<String>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Seconds of load per target (per round with --compare).
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Rounds per target with --compare (alternating).
    #[arg(long, default_value_t = 2)]
    pub rounds: usize,
    /// disable (plaintext startup) or require (SSLRequest, then TLS).
    #[arg(long, value_enum, default_value_t = SslMode::Require)]
    pub sslmode: SslMode,
    /// The server certificate's key type.
    #[arg(long, value_enum, default_value_t = CertArg::Ec)]
    pub cert: CertArg,
    /// TLS version the client insists on.
    #[arg(long, value_enum, default_value_t = Tls::V13)]
    pub tls: Tls,
    /// Server key-exchange groups (ssl_ecdh_curve / ssl_groups / s_server -groups). One name
    /// for PostgreSQL 15 targets.
    #[arg(long, default_value = "prime256v1")]
    pub groups: String,
    /// Client groups (default: OpenSSL's, X25519 first, as libpq).
    #[arg(long)]
    pub client_groups: Option<String>,
    /// Idle TLS connections opened to measure memory per connection (0: skip).
    #[arg(long, default_value_t = 50)]
    pub idle: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Pin the server to CPU 0 and the load generator to CPU 1.
    #[arg(long)]
    pub pin: bool,
    /// User name in the StartupMessage.
    #[arg(long, default_value = "postgres")]
    pub user: String,
}

/// `--sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SslMode {
    /// Plaintext startup.
    Disable,
    /// SSLRequest, then TLS.
    Require,
}

/// `--cert`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CertArg {
    /// RSA 2048.
    Rsa,
    /// ECDSA P-256.
    Ec,
}

/// `--tls`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Tls {
    /// TLS 1.2.
    #[value(name = "1.2")]
    V12,
    /// TLS 1.3.
    #[value(name = "1.3")]
    V13,
}

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table.
    Human,
    /// One JSON object per target, in an array.
    Json,
}

/// What the load looks like on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Plain,
    PgTls,
    BareTls,
}

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

/// The crypto ceiling of one server handshake on this machine (one core).
#[derive(Clone, Debug, serde::Serialize)]
pub struct CryptoLimit {
    /// Key type.
    pub key: String,
    /// Signatures per second.
    pub sign_per_sec: f64,
    /// X25519 derivations per second.
    pub x25519_per_sec: f64,
    /// P-256 ECDH derivations per second.
    pub p256_ecdh_per_sec: f64,
    /// 1 / (t_sign + 2 t_x25519).
    pub handshakes_per_sec_x25519: f64,
    /// 1 / (t_sign + 2 t_p256).
    pub handshakes_per_sec_p256: f64,
}

/// Entry point of `pgssl-conform bench`.
pub fn main(args: BenchArgs) -> ExitCode {
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pgssl-conform bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A target brought up for the run.
struct Live {
    spec: String,
    addr: SocketAddr,
    mode: Mode,
    pid: Option<u32>,
    // Kept alive for the run.
    _running: Option<Box<dyn Running>>,
    _child: Option<ChildGuard>,
    _target: Option<Box<dyn Target>>,
}

struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(args: &BenchArgs) -> Result<(), String> {
    let compare = !args.compare.is_empty();
    let specs: Vec<String> = if compare {
        args.compare.clone()
    } else if args.targets.is_empty() {
        vec!["reference".into()]
    } else {
        args.targets.clone()
    };
    let kind = match args.cert {
        CertArg::Ec => CertKind::Ec,
        CertArg::Rsa => CertKind::Rsa,
    };
    let (cert, key) = crate::setup::server_certificate(kind).map_err(|e| e.to_string())?;
    let cert_pem =
        String::from_utf8(cert.to_pem().map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let key_pem = String::from_utf8(key.private_key_to_pem_pkcs8().map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let files = tempfile::Builder::new()
        .prefix("pgssl-bench-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    let mut live = Vec::new();
    for spec in &specs {
        live.push(start(spec, args, kind, &cert_pem, &key_pem, files.path())?);
    }
    if args.pin {
        for l in &live {
            if let Some(pid) = l.pid {
                pin_tree(pid, 0);
            }
        }
        pin_self(1);
    }
    let connector = client_context(args)?;
    let startup = StartupPacket::Startup(StartupMessage::new(
        ProtocolVersion(0x0003_0000),
        &[("user", args.user.as_str()), ("database", "postgres")],
    ))
    .to_bytes();
    let rounds = if compare { args.rounds.max(1) } else { 1 };
    let mut totals: Vec<Totals> = live.iter().map(|_| Totals::default()).collect();
    for round in 0..rounds {
        for (i, l) in live.iter().enumerate() {
            if args.format == Format::Human {
                eprintln!("round {}: {} ...", round + 1, l.spec);
            }
            // Warm-up: a few connections, not counted.
            let warm = load(l, args, &connector, &startup, Duration::from_millis(300));
            if warm.ok == 0 {
                return Err(format!(
                    "{}: no connection completed ({} failures; first error: {})",
                    l.spec,
                    warm.failures,
                    warm.first_error.unwrap_or_default()
                ));
            }
            let before = l.pid.and_then(cpu_ticks);
            let started = Instant::now();
            let r = load(
                l,
                args,
                &connector,
                &startup,
                Duration::from_secs_f64(args.duration),
            );
            let elapsed = started.elapsed().as_secs_f64();
            let after = l.pid.and_then(cpu_ticks);
            let t = &mut totals[i];
            t.ok += r.ok;
            t.failures += r.failures;
            t.seconds += elapsed;
            t.latencies.extend(r.latencies);
            if let (Some(b), Some(a)) = (before, after) {
                *t.cpu_ticks.get_or_insert(0) += a.saturating_sub(b);
            }
            if let Some(e) = r.first_error {
                t.first_error.get_or_insert(e);
            }
        }
    }
    let limit = if compare && args.sslmode == SslMode::Require {
        Some(crypto_limit(&key)?)
    } else {
        None
    };
    let ceiling = limit.as_ref().map(|l| {
        if args.groups.to_ascii_lowercase().starts_with("x25519") {
            l.handshakes_per_sec_x25519
        } else {
            l.handshakes_per_sec_p256
        }
    });
    let tick_ms = 1000.0 / clock_ticks_per_sec();
    let mut results = Vec::new();
    for (l, t) in live.iter().zip(totals.iter_mut()) {
        let (rss, pss) = if args.idle > 0 && l.mode != Mode::Plain {
            idle_memory(l, args, &connector, &startup)
        } else {
            (None, None)
        };
        t.latencies.sort_by(f64::total_cmp);
        let cpu_ms = t
            .cpu_ticks
            .filter(|_| t.ok > 0)
            .map(|ticks| ticks as f64 * tick_ms / t.ok as f64);
        let per_core = cpu_ms.filter(|ms| *ms > 0.0).map(|ms| 1000.0 / ms);
        results.push(Measured {
            target: l.spec.clone(),
            connections_per_sec: t.ok as f64 / t.seconds.max(1e-9),
            server_cpu_ms_per_connection: cpu_ms,
            p50_ms: percentile(&t.latencies, 0.50),
            p99_ms: percentile(&t.latencies, 0.99),
            failures: t.failures,
            connections: t.ok,
            server_cores_busy: t
                .cpu_ticks
                .map(|ticks| ticks as f64 * tick_ms / 1000.0 / t.seconds.max(1e-9)),
            connections_per_server_cpu_sec: per_core,
            crypto_limit_fraction: per_core.zip(ceiling).map(|(r, c)| r / c),
            rss_kib_per_idle_connection: rss,
            pss_kib_per_idle_connection: pss,
            cert: format!(
                "{} {}",
                match args.cert {
                    CertArg::Ec => "P-256",
                    CertArg::Rsa => "RSA-2048",
                },
                match args.tls {
                    Tls::V12 => "TLS1.2",
                    Tls::V13 => "TLS1.3",
                }
            ),
            mode: match l.mode {
                Mode::Plain => "disable",
                Mode::PgTls => "require",
                Mode::BareTls => "bare-tls",
            }
            .into(),
            groups: args.groups.clone(),
        });
        if let Some(e) = &t.first_error {
            eprintln!("{}: first failure: {e}", l.spec);
        }
    }
    match args.format {
        Format::Json => {
            let text = serde_json::to_string_pretty(&serde_json::json!({
                "results": results,
                "crypto_limit": limit,
                "clients": args.clients,
                "pinned": args.pin,
            }))
            .map_err(|e| e.to_string())?;
            println!("{text}");
        }
        Format::Human => print_human(&results, limit.as_ref(), ceiling, args),
    }
    Ok(())
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("-".into(), |v| format!("{v:.digits$}"))
}

fn print_human(
    results: &[Measured],
    limit: Option<&CryptoLimit>,
    ceiling: Option<f64>,
    args: &BenchArgs,
) {
    println!(
        "{} clients, {} s x {} round(s), {}, groups {}{}",
        args.clients,
        args.duration,
        if args.compare.is_empty() {
            1
        } else {
            args.rounds
        },
        results.first().map_or("", |r| r.cert.as_str()),
        args.groups,
        if args.pin {
            ", server on CPU 0, load on CPU 1"
        } else {
            ""
        }
    );
    println!(
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
    );
    let first = results.first();
    for r in results {
        let ratio = first.map(|f| r.connections_per_sec / f.connections_per_sec);
        let cpu_ratio = first
            .and_then(|f| f.server_cpu_ms_per_connection)
            .zip(r.server_cpu_ms_per_connection)
            .map(|(f, m)| m / f);
        println!(
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
        );
    }
    if let Some(l) = limit {
        println!(
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
        );
    }
    for r in results {
        if let Some(program) = s_server_program(&r.target) {
            let version = openssl_cli_version(&program).unwrap_or_else(|e| e);
            println!("{}: {version}", r.target);
        }
    }
    println!(
        "ratio: conn/s over the first target's; cpu ratio: server ms/conn over the first target's"
    );
}

/// The `openssl` program of an `s_server[:PROGRAM]` target.
fn s_server_program(spec: &str) -> Option<PathBuf> {
    match spec.strip_prefix("s_server") {
        Some("") => Some(PathBuf::from("openssl")),
        Some(rest) => rest
            .strip_prefix(':')
            .filter(|p| !p.is_empty())
            .map(PathBuf::from),
        None => None,
    }
}

/// What `openssl version` says of the program the s_server target runs.
fn openssl_cli_version(program: &Path) -> Result<String, String> {
    let out = Command::new(program)
        .arg("version")
        .output()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[derive(Default)]
struct Totals {
    ok: u64,
    failures: u64,
    seconds: f64,
    latencies: Vec<f64>,
    cpu_ticks: Option<u64>,
    first_error: Option<String>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn start(
    spec: &str,
    args: &BenchArgs,
    kind: CertKind,
    cert_pem: &str,
    key_pem: &str,
    files: &Path,
) -> Result<Live, String> {
    let mode = if args.sslmode == SslMode::Disable {
        Mode::Plain
    } else {
        Mode::PgTls
    };
    if let Some(program) = s_server_program(spec) {
        let crt = files.join("server.crt");
        let key = files.join("server.key");
        std::fs::write(&crt, cert_pem).map_err(|e| e.to_string())?;
        std::fs::write(&key, key_pem).map_err(|e| e.to_string())?;
        let port = target::spawned::free_port().map_err(|e| e.to_string())?;
        let child = Command::new(&program)
            .args(["s_server", "-quiet", "-www", "-num_tickets", "0", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&crt)
            .arg("-key")
            .arg(&key)
            .args(["-groups", &args.groups])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting {} s_server: {e}", program.display()))?;
        let pid = child.id();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_listening(addr)?;
        return Ok(Live {
            spec: spec.into(),
            addr,
            mode: Mode::BareTls,
            pid: Some(pid),
            _running: None,
            _child: Some(ChildGuard(child)),
            _target: None,
        });
    }
    if let Some(hostport) = spec.strip_prefix("external-tls:") {
        let addr = resolve(hostport)?;
        return Ok(Live {
            spec: spec.into(),
            addr,
            mode: Mode::BareTls,
            pid: listening_pid(addr),
            _running: None,
            _child: None,
            _target: None,
        });
    }
    let target: Box<dyn Target> = if spec == "reference" || spec.starts_with("reference:") {
        let version = match spec.strip_prefix("reference:") {
            Some(v) => Version::parse(v).ok_or_else(|| format!("bad target {spec}"))?,
            None => Version::Pg15,
        };
        let command = target::reference::ServerCommand::locate()
            .ok_or("cannot find pgssl-conform or pgssl-server to run the reference server")?;
        Box::new(target::reference::Reference::with_server_command(
            version,
            Some(command),
        ))
    } else {
        let mut t = target::parse(spec).map_err(|e| e.to_string())?;
        if t.len() != 1 {
            return Err(format!("{spec}: one target expected"));
        }
        t.remove(0)
    };
    let groups_setting = if target.version() == Version::Pg18 {
        "ssl_groups"
    } else {
        "ssl_ecdh_curve"
    };
    let setup = Setup {
        conf: vec![
            "log_connections = off".into(),
            format!("{groups_setting} = '{}'", args.groups),
            format!("ssl = {}", if mode == Mode::Plain { "off" } else { "on" }),
        ],
        cert: kind,
        files: vec![
            FileOp::Write {
                path: "server.crt".into(),
                text: cert_pem.into(),
            },
            FileOp::Write {
                path: "server.key".into(),
                text: key_pem.into(),
            },
        ],
        hba: None,
        ident: Vec::new(),
        // Forces the reference server into a child process of its own, so its CPU time is
        // measured apart from the load generator's.
        // With --pin the server has one core: one tokio worker (TOKIO_WORKER_THREADS from
        // the environment wins, for comparisons).
        env: bench_env(args.pin),
    };
    let running = match target.start(&setup).map_err(|e| e.to_string())? {
        Started::Running(r) => r,
        Started::Refused(lines) => {
            return Err(format!("{spec} refused to start: {}", lines.join(" / ")));
        }
    };
    let addr = running.addr();
    Ok(Live {
        spec: spec.into(),
        addr,
        mode,
        pid: listening_pid(addr),
        _running: Some(running),
        _child: None,
        _target: Some(target),
    })
}

/// The server's environment: `PGSSL_BENCH=1`, and one tokio worker when pinned to one core.
fn bench_env(pin: bool) -> Vec<(String, String)> {
    let mut env = vec![("PGSSL_BENCH".to_owned(), "1".to_owned())];
    match std::env::var("TOKIO_WORKER_THREADS") {
        Ok(n) => env.push(("TOKIO_WORKER_THREADS".into(), n)),
        Err(_) if pin => env.push(("TOKIO_WORKER_THREADS".into(), "1".into())),
        Err(_) => {}
    }
    env
}

fn resolve(hostport: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    hostport
        .to_socket_addrs()
        .map_err(|e| format!("{hostport}: {e}"))?
        .next()
        .ok_or_else(|| format!("{hostport}: no address"))
}

fn wait_listening(addr: SocketAddr) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("nothing listens on {addr}"))
}

fn client_context(args: &BenchArgs) -> Result<Arc<SslConnector>, String> {
    let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(|e| e.to_string())?;
    let v = match args.tls {
        Tls::V12 => SslVersion::TLS1_2,
        Tls::V13 => SslVersion::TLS1_3,
    };
    b.set_min_proto_version(Some(v))
        .map_err(|e| e.to_string())?;
    b.set_max_proto_version(Some(v))
        .map_err(|e| e.to_string())?;
    b.set_verify(SslVerifyMode::NONE);
    if let Some(g) = &args.client_groups {
        b.set_groups_list(g).map_err(|e| e.to_string())?;
    }
    Ok(Arc::new(b.build()))
}

#[derive(Default)]
struct LoadResult {
    ok: u64,
    failures: u64,
    latencies: Vec<f64>,
    first_error: Option<String>,
}

/// Runs `clients` threads for `duration`.
fn load(
    l: &Live,
    args: &BenchArgs,
    connector: &Arc<SslConnector>,
    startup: &[u8],
    duration: Duration,
) -> LoadResult {
    let deadline = Instant::now() + duration;
    let stop = AtomicBool::new(false);
    let results: Vec<LoadResult> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..args.clients.max(1))
            .map(|_| {
                let stop = &stop;
                s.spawn(move || {
                    let mut r = LoadResult::default();
                    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                        let t = Instant::now();
                        match connection(l.addr, l.mode, connector, startup) {
                            Ok(()) => {
                                r.ok += 1;
                                r.latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                            }
                            Err(e) => {
                                r.failures += 1;
                                r.first_error.get_or_insert(e);
                                if r.failures > 1000 && r.ok == 0 {
                                    stop.store(true, Ordering::Relaxed);
                                }
                            }
                        }
                    }
                    r
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut all = LoadResult::default();
    for r in results {
        all.ok += r.ok;
        all.failures += r.failures;
        all.latencies.extend(r.latencies);
        if all.first_error.is_none() {
            all.first_error = r.first_error;
        }
    }
    all
}

const TERMINATE: &[u8] = &[b'X', 0, 0, 0, 4];

/// One complete connection.
fn connection(
    addr: SocketAddr,
    mode: Mode,
    connector: &SslConnector,
    startup: &[u8],
) -> Result<(), String> {
    let mut tcp = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    match mode {
        Mode::Plain => {
            tcp.write_all(startup)
                .map_err(|e| format!("startup: {e}"))?;
            read_until_ready(&mut tcp)?;
            tcp.write_all(TERMINATE)
                .map_err(|e| format!("terminate: {e}"))
        }
        Mode::PgTls => {
            tcp.write_all(&StartupPacket::ssl_request().to_bytes())
                .map_err(|e| format!("SSLRequest: {e}"))?;
            let mut reply = [0u8; 1];
            tcp.read_exact(&mut reply)
                .map_err(|e| format!("SSLRequest reply: {e}"))?;
            if reply[0] != b'S' {
                return Err(format!("SSLRequest answered {:?}", reply[0] as char));
            }
            let mut ssl = tls_connect(connector, tcp)?;
            ssl.write_all(startup)
                .map_err(|e| format!("startup: {e}"))?;
            read_until_ready(&mut ssl)?;
            ssl.write_all(TERMINATE)
                .map_err(|e| format!("terminate: {e}"))?;
            let _ = ssl.shutdown();
            Ok(())
        }
        Mode::BareTls => {
            let mut ssl = tls_connect(connector, tcp)?;
            let _ = ssl.shutdown();
            Ok(())
        }
    }
}

fn tls_connect(
    connector: &SslConnector,
    tcp: TcpStream,
) -> Result<openssl::ssl::SslStream<TcpStream>, String> {
    connector
        .configure()
        .map_err(|e| e.to_string())?
        .verify_hostname(false)
        .connect("localhost", tcp)
        .map_err(|e| format!("TLS handshake: {e}"))
}

fn read_until_ready(stream: &mut impl Read) -> Result<(), String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let mut at = 0;
        while let Some((msg, used)) =
            BackendMessage::decode(&buf[at..]).map_err(|e| format!("bad message: {e}"))?
        {
            at += used;
            match msg {
                BackendMessage::ReadyForQuery(_) => return Ok(()),
                BackendMessage::ErrorResponse(e) => {
                    return Err(format!("server refused: {}", e.message()));
                }
                _ => {}
            }
        }
        buf.drain(..at);
        let n = stream.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("connection closed before ReadyForQuery".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Opens `args.idle` TLS connections through to ReadyForQuery (or the handshake, for bare
/// TLS), keeps them open, and returns the growth of the server's resident memory (sum of
/// VmRSS, and of Pss) per connection, in KiB.
fn idle_memory(
    l: &Live,
    args: &BenchArgs,
    connector: &SslConnector,
    startup: &[u8],
) -> (Option<f64>, Option<f64>) {
    let Some(pid) = l.pid else {
        return (None, None);
    };
    std::thread::sleep(Duration::from_millis(300));
    let before = memory_kib(pid);
    let mut held = Vec::new();
    for _ in 0..args.idle {
        let Ok(mut tcp) = TcpStream::connect(l.addr) else {
            break;
        };
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(3)));
        if l.mode == Mode::PgTls {
            if tcp
                .write_all(&StartupPacket::ssl_request().to_bytes())
                .is_err()
            {
                break;
            }
            let mut reply = [0u8; 1];
            if tcp.read_exact(&mut reply).is_err() || reply[0] != b'S' {
                break;
            }
        }
        let Ok(mut ssl) = tls_connect(connector, tcp) else {
            break;
        };
        if l.mode == Mode::PgTls
            && (ssl.write_all(startup).is_err() || read_until_ready(&mut ssl).is_err())
        {
            break;
        }
        held.push(ssl);
    }
    // A bare-TLS server such as s_server -www serves one connection at a time: its figure is
    // not comparable, so only a full set counts.
    if held.len() < args.idle {
        return (None, None);
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = memory_kib(pid);
    drop(held);
    let n = args.idle as f64;
    match (before, after) {
        (Some((r0, p0)), Some((r1, p1))) => (
            Some((r1 as f64 - r0 as f64) / n),
            Some((p1 as f64 - p0 as f64) / n),
        ),
        _ => (None, None),
    }
}

// ---------------------------------------------------------------------------
// /proc
// ---------------------------------------------------------------------------

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// Fields of /proc/PID/stat after the command name: (ppid, utime, stime, cutime, cstime).
fn stat(pid: u32) -> Option<(u32, u64, u64, u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16,
    // cstime 17.
    let n = |i: usize| f.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    Some((n(4)? as u32, n(14)?, n(15)?, n(16)?, n(17)?))
}

/// Every process id with its parent.
fn process_table() -> HashMap<u32, u32> {
    let mut table = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok())
                && let Some((ppid, ..)) = stat(pid)
            {
                table.insert(pid, ppid);
            }
        }
    }
    table
}

fn descendants(pid: u32) -> Vec<u32> {
    let table = process_table();
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(table.iter().filter(|(_, pp)| **pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out
}

/// CPU ticks of `pid`'s tree: its own and reaped children's, plus live descendants' own.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let (_, u, s, cu, cs) = stat(pid)?;
    let mut total = u + s + cu + cs;
    for d in descendants(pid).into_iter().skip(1) {
        if let Some((_, u, s, ..)) = stat(d) {
            total += u + s;
        }
    }
    Some(total)
}

/// Sum of VmRSS and of Pss over `pid`'s tree, KiB.
fn memory_kib(pid: u32) -> Option<(u64, u64)> {
    let mut rss = 0;
    let mut pss = 0;
    for p in descendants(pid) {
        let text = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")).ok()?;
        for line in text.lines() {
            let value = |l: &str| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            if line.starts_with("Rss:") {
                rss += value(line);
            } else if line.starts_with("Pss:") {
                pss += value(line);
            }
        }
    }
    Some((rss, pss))
}

/// The process listening on `addr` (a loopback TCP port), from /proc/net/tcp and the file
/// descriptors of every process; the topmost if several share the socket.
fn listening_pid(addr: SocketAddr) -> Option<u32> {
    let port = format!(":{:04X}", addr.port());
    let tcp = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let inodes: Vec<String> = tcp
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(1)?.ends_with(&port) && *f.get(3)? == "0A")
                .then(|| f.get(9).map(|s| (*s).to_owned()))?
        })
        .collect();
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    let mut holders = Vec::new();
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(e.path().join("fd")) else {
            continue;
        };
        if fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|t| wanted.iter().any(|w| t.as_os_str() == w.as_str()))
        }) {
            holders.push(pid);
        }
    }
    let table = process_table();
    holders
        .iter()
        .copied()
        .find(|p| table.get(p).is_none_or(|pp| !holders.contains(pp)))
}

fn set_affinity(tid: i32, cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET and sched_setaffinity are given a valid
    // set and its size.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// Pins every thread of `pid` and of its descendants to `cpu` (children forked later
/// inherit it).
fn pin_tree(pid: u32, cpu: usize) {
    for p in descendants(pid) {
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for t in tasks.flatten() {
                if let Some(tid) = t.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) {
                    set_affinity(tid, cpu);
                }
            }
        }
    }
}

/// Pins this process's threads (and threads it starts later) to `cpu`; not its children.
fn pin_self(cpu: usize) {
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            if let Some(tid) = t.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) {
                set_affinity(tid, cpu);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Crypto ceiling
// ---------------------------------------------------------------------------

/// Operations per second of `op`, timed for about a second.
fn rate(mut op: impl FnMut() -> Result<(), openssl::error::ErrorStack>) -> Result<f64, String> {
    for _ in 0..10 {
        op().map_err(|e| e.to_string())?;
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        for _ in 0..10 {
            op().map_err(|e| e.to_string())?;
        }
        n += 10;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Sign and key-exchange rates through the openssl crate (OpenSSL's EVP layer, as the TLS
/// stack uses it).
pub fn crypto_limit(key: &PKey<Private>) -> Result<CryptoLimit, String> {
    let digest = [7u8; 32];
    let name = match key.id() {
        Id::RSA => "RSA-2048",
        Id::EC => "ECDSA P-256",
        _ => "key",
    };
    let sign_per_sec = rate(|| {
        let mut s = Signer::new(MessageDigest::sha256(), key)?;
        if key.id() == Id::RSA {
            s.set_rsa_padding(openssl::rsa::Padding::PKCS1_PSS)?;
        }
        s.update(&digest)?;
        s.sign_to_vec().map(|_| ())
    })?;
    let x_a = PKey::generate_x25519().map_err(|e| e.to_string())?;
    let x_b = PKey::generate_x25519().map_err(|e| e.to_string())?;
    let x25519_per_sec = rate(|| {
        let mut d = Deriver::new(&x_a)?;
        d.set_peer(&x_b)?;
        d.derive_to_vec().map(|_| ())
    })?;
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(|e| e.to_string())?;
    let p_a = PKey::from_ec_key(EcKey::generate(&group).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let p_b = PKey::from_ec_key(EcKey::generate(&group).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let p256_ecdh_per_sec = rate(|| {
        let mut d = Deriver::new(&p_a)?;
        d.set_peer(&p_b)?;
        d.derive_to_vec().map(|_| ())
    })?;
    let ceiling = |kex: f64| 1.0 / (1.0 / sign_per_sec + 2.0 / kex);
    Ok(CryptoLimit {
        key: name.into(),
        sign_per_sec,
        x25519_per_sec,
        p256_ecdh_per_sec,
        handshakes_per_sec_x25519: ceiling(x25519_per_sec),
        handshakes_per_sec_p256: ceiling(p256_ecdh_per_sec),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s_server_targets_name_their_openssl_program() {
        assert_eq!(s_server_program("s_server"), Some(PathBuf::from("openssl")));
        assert_eq!(
            s_server_program("s_server:target/openssl-cli/openssl"),
            Some(PathBuf::from("target/openssl-cli/openssl"))
        );
        assert_eq!(s_server_program("s_server:"), None);
        assert_eq!(s_server_program("reference"), None);
        assert_eq!(s_server_program("external-tls:127.0.0.1:4433"), None);
    }
}
