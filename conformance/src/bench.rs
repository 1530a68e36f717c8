//! `pgssl-conform bench`: the connection-rate load generator of `pgssl-loadgen` pointed at
//! the harness's targets. This module owns the wiring only: the command line, the one
//! certificate and key every target gets (generated once per run), and bringing each target
//! up as a [`pgssl_loadgen::Server`] — the reference server as a child process,
//! `postgres:BINDIR`, `external:` and `external-tls:` servers, and `openssl s_server`.
//!
//! Every target gets the same certificate and key, the same key exchange groups (`--groups`,
//! default PostgreSQL 15's `prime256v1`), no session tickets, `log_connections = off`.
//! `--compare` runs the targets in alternation, prints the ratios to the first target and the
//! crypto ceiling of the certificate's key type from the local OpenSSL.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use openssl::ssl::SslVersion;
use pgssl_loadgen::procfs::listening_pid;
use pgssl_loadgen::{Mode, Options, Server};

use crate::case::{CertKind, FileOp, Setup, Version};
use crate::target::{self, Running, Started, Target};

/// `pgssl-conform bench` arguments.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// reference[:VERSION] (run as a child process), postgres:BINDIR, external:HOST:PORT,
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
    server: Server,
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

/// The load generator's options from the command line.
fn options(args: &BenchArgs) -> Options {
    Options {
        clients: args.clients,
        duration: args.duration,
        rounds: args.rounds,
        compare: !args.compare.is_empty(),
        plaintext: args.sslmode == SslMode::Disable,
        tls: match args.tls {
            Tls::V12 => SslVersion::TLS1_2,
            Tls::V13 => SslVersion::TLS1_3,
        },
        groups: args.groups.clone(),
        client_groups: args.client_groups.clone(),
        idle: args.idle,
        pin: args.pin,
        user: args.user.clone(),
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
        json: args.format == Format::Json,
    }
}

fn run(args: &BenchArgs) -> Result<(), String> {
    let specs: Vec<String> = if !args.compare.is_empty() {
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
    let servers: Vec<Server> = live.iter().map(|l| l.server.clone()).collect();
    pgssl_loadgen::run(&servers, &options(args), &key).map_err(|e| e.to_string())
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
    let server = |addr: SocketAddr, mode: Mode, pid: Option<u32>| Server {
        name: spec.into(),
        addr,
        mode,
        pid,
        note: None,
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
        // The human report says which OpenSSL served.
        let note = (args.format == Format::Human)
            .then(|| openssl_cli_version(&program).unwrap_or_else(|e| e));
        return Ok(Live {
            server: Server {
                note,
                ..server(addr, Mode::BareTls, Some(pid))
            },
            _running: None,
            _child: Some(ChildGuard(child)),
            _target: None,
        });
    }
    if let Some(hostport) = spec.strip_prefix("external-tls:") {
        let addr = resolve(hostport)?;
        return Ok(Live {
            server: server(addr, Mode::BareTls, listening_pid(addr)),
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
    let groups_setting = match crate::model::expectations(target.version()).groups {
        crate::model::GroupsSetting::GroupsList => "ssl_groups",
        crate::model::GroupsSetting::EcdhCurve => "ssl_ecdh_curve",
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
        Started::Refused { fatal: lines, .. } => {
            return Err(format!("{spec} refused to start: {}", lines.join(" / ")));
        }
    };
    let addr = running.addr();
    Ok(Live {
        server: server(addr, mode, listening_pid(addr)),
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
