//! `pgssl-conform probe HOST:PORT` (or `--target SPEC`): a black-box SSL report for any
//! server that speaks the PostgreSQL protocol, with no configuration.
//!
//! - [`finding`]: a finding (id, severity, observation, why) and the exit statuses;
//! - `conn`, `handshake`, `ffi`: connections, one TLS handshake, the libssl calls the
//!   `openssl` crate lacks;
//! - `negotiation`: request replies, pipelined bytes (CVE-2021-23214), repeated, split,
//!   padded and oversized requests, startup length limits;
//! - `stall`: how long silent clients are kept;
//! - [`suites`], `tls`, `tls_findings`: versions and cipher suites; `hello`, `session`: compression,
//!   renegotiation, tickets and resumption, ALPN, direct SSL, client certificates;
//! - `certificate`, `trust`: the chain, and whether it verifies for the host;
//! - `render`: human, Markdown and JSON.
//!
//! Unreachable targets and targets that do not speak the protocol get one line and their own
//! exit status; the exit status otherwise comes from the worst finding ([`finding::exit`]).

mod certificate;
mod conn;
mod ffi;
pub mod finding;
mod handshake;
mod hello;
mod negotiation;
mod render;
mod session;
mod stall;
pub mod suites;
mod tls;
mod tls_findings;
mod trust;

use std::io::Read;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::case::Setup;
use crate::error::Error;
use crate::target::{self, Running, Started};
use conn::{End, Reply};
use finding::{Finding, exit};
use handshake::Opening;

/// `pgssl-conform probe`'s arguments.
#[derive(clap::Args, Debug)]
pub struct ProbeArgs {
    /// The server, HOST:PORT.
    #[arg(required_unless_present = "target", conflicts_with = "target")]
    pub addr: Option<String>,
    /// Start this target with the default set-up and probe it: reference:VERSION,
    /// postgres:BINDIR, pgbouncer[:BINDIR] (as `run --target`; one target).
    #[arg(long)]
    pub target: Option<String>,
    /// Verify the certificate against this CA file (PEM) instead of the system store.
    #[arg(long, value_name = "FILE")]
    pub ca: Option<PathBuf>,
    /// The name the certificate must carry (and sent as SNI); default: HOST.
    #[arg(long, value_name = "NAME")]
    pub servername: Option<String>,
    /// How long each stalled client waits for the server to close it, in seconds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub wait: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ProbeFormat::Human)]
    pub format: ProbeFormat,
    /// Write DIR/<label>.json and DIR/<label>.md instead of printing (the label is the
    /// target's, e.g. reference-15; HOST:PORT is written as HOST_PORT). Created if missing.
    #[arg(long, value_name = "DIR", conflicts_with = "format")]
    pub out: Option<PathBuf>,
}

/// The report's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProbeFormat {
    /// Text for a terminal.
    Human,
    /// Markdown.
    Markdown,
    /// JSON (sorted, no timestamps).
    Json,
}

/// Why there is no report.
enum NoReport {
    /// Nothing to probe at that address: one line, exit 20.
    Unreachable(String),
    /// It does not speak the protocol: one line, exit 21.
    NotPostgres(String),
    /// Bad input or a harness failure: exit 2.
    Failed(Error),
}

impl From<Error> for NoReport {
    fn from(e: Error) -> Self {
        Self::Failed(e)
    }
}

/// Runs the probe and prints the report; the exit status is the worst finding's.
pub fn main(args: ProbeArgs) -> ExitCode {
    let what = args
        .addr
        .clone()
        .or_else(|| args.target.clone())
        .unwrap_or_default();
    match probe(&args) {
        Ok(report) if args.out.is_some() => {
            let dir = args.out.as_deref().unwrap_or(std::path::Path::new("."));
            match write(&report, dir) {
                Ok(paths) => {
                    for p in paths {
                        println!("wrote {}", p.display());
                    }
                    ExitCode::from(report.exit_status())
                }
                Err(e) => {
                    eprintln!("pgssl-conform probe: {e}");
                    ExitCode::from(exit::USAGE)
                }
            }
        }
        Ok(report) => {
            let text = match args.format {
                ProbeFormat::Human => render::human(&report),
                ProbeFormat::Markdown => render::markdown(&report),
                ProbeFormat::Json => render::json(&report),
            };
            print!("{text}");
            ExitCode::from(report.exit_status())
        }
        Err(NoReport::Unreachable(why)) => {
            println!("{what}: unreachable: {why}");
            ExitCode::from(exit::UNREACHABLE)
        }
        Err(NoReport::NotPostgres(why)) => {
            println!("{what}: does not speak the PostgreSQL protocol: {why}");
            ExitCode::from(exit::NOT_POSTGRES)
        }
        Err(NoReport::Failed(e)) => {
            eprintln!("pgssl-conform probe: {e}");
            ExitCode::from(exit::USAGE)
        }
    }
}

/// Writes the report as `<file_label>.json` and `.md` into `dir`, each staged and renamed.
fn write(report: &render::Report, dir: &std::path::Path) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
    let (json, md) = (
        format!("{}.json", report.file_label),
        format!("{}.md", report.file_label),
    );
    crate::matrix::write_staged(
        dir,
        &[
            (json.as_str(), render::json(report)),
            (md.as_str(), render::markdown(report)),
        ],
    )
}

/// Where the probe connects, what it calls the target, and (for `--target`) the server
/// kept running until the probe ends.
struct Resolved {
    addr: SocketAddr,
    label: String,
    file_label: String,
    host: String,
    // Dropped in this order: the server, then the target that owns its directories.
    _server: Option<Box<dyn Running>>,
    _target: Option<Box<dyn target::Target>>,
}

fn resolve(args: &ProbeArgs) -> Result<Resolved, NoReport> {
    if let Some(spec) = &args.target {
        let mut targets = target::parse(spec)?;
        if targets.len() != 1 {
            return Err(Error::TargetUnavailable {
                target: spec.clone(),
                why: "the probe takes one target: give one profile, e.g. reference:15".into(),
            }
            .into());
        }
        let t = targets.remove(0);
        let server = match t.start(&Setup::default())? {
            Started::Running(r) => r,
            Started::Refused { fatal, .. } => {
                return Err(Error::TargetUnavailable {
                    target: t.label(),
                    why: format!("it refused the default set-up: {}", fatal.join("; ")),
                }
                .into());
            }
        };
        let addr = server.addr();
        let label = match t.describe() {
            Some(d) => format!("{} ({d})", t.label()),
            None => t.label(),
        };
        return Ok(Resolved {
            addr,
            label,
            file_label: t.label(),
            host: addr.ip().to_string(),
            _server: Some(server),
            _target: Some(t),
        });
    }
    let given = args.addr.clone().unwrap_or_default();
    let bad = |why: &str| {
        NoReport::Failed(Error::TargetUnavailable {
            target: given.clone(),
            why: format!("{why}: give HOST:PORT, e.g. 127.0.0.1:5432, or --target SPEC"),
        })
    };
    let (host, port) = given.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    if port.parse::<u16>().is_err() {
        return Err(bad("the port is not a number from 0 to 65535"));
    }
    let addr = given
        .to_socket_addrs()
        .map_err(|e| NoReport::Unreachable(format!("cannot resolve {host}: {e}")))?
        .next()
        .ok_or_else(|| NoReport::Unreachable(format!("{host} resolves to no address")))?;
    Ok(Resolved {
        addr,
        label: given.clone(),
        file_label: given.replace([':', '/', '[', ']'], "_"),
        host: host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
        _server: None,
        _target: None,
    })
}

/// The first contact: is anything there, and does it answer an SSLRequest as a PostgreSQL
/// server does?
fn preflight(addr: SocketAddr) -> Result<Reply, NoReport> {
    let mut s =
        conn::connect(addr).map_err(|e| NoReport::Unreachable(crate::client::io_reason(&e)))?;
    let reply = conn::request(
        &mut s,
        &pgssl_server::wire::StartupPacket::ssl_request().to_bytes(),
    );
    match reply {
        Reply::Byte(b'S' | b'N') | Reply::Error(_) => Ok(reply),
        Reply::Byte(b) => {
            let mut more = [0u8; 31];
            let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
            let n = s.read(&mut more).unwrap_or(0);
            let mut bytes = vec![b];
            bytes.extend_from_slice(&more[..n]);
            Err(NoReport::NotPostgres(format!(
                "it answered an SSLRequest with {:?}",
                String::from_utf8_lossy(&bytes)
            )))
        }
        Reply::Bytes(hex) => Err(NoReport::NotPostgres(format!(
            "it answered an SSLRequest with bytes {hex}, no ErrorResponse"
        ))),
        Reply::Nothing(End::Timeout) => Err(NoReport::NotPostgres(format!(
            "no reply to an SSLRequest within {} s",
            conn::IO_TIMEOUT.as_secs()
        ))),
        Reply::Nothing(end) => Err(NoReport::NotPostgres(format!(
            "it ended the connection ({}) without replying to an SSLRequest",
            end.text()
        ))),
    }
}

type Checked = Result<Vec<Finding>, Error>;

fn joined(h: std::thread::ScopedJoinHandle<'_, Checked>) -> Checked {
    h.join().unwrap_or_else(|_| {
        Err(Error::TargetUnavailable {
            target: "probe".into(),
            why: "a probe thread panicked".into(),
        })
    })
}

fn probe(args: &ProbeArgs) -> Result<render::Report, NoReport> {
    let trust = trust::Trust::choose(args.ca.as_deref());
    if let trust::Trust::CaFile(path) = &trust {
        std::fs::metadata(path).map_err(|e| Error::io("reading --ca", path, e))?;
    }
    let target = resolve(args)?;
    let addr = target.addr;
    let name = args
        .servername
        .clone()
        .unwrap_or_else(|| target.host.clone());
    let name = name.as_str();
    let wait = Duration::from_secs(args.wait);
    let ssl = preflight(addr)?;
    let mut certificate_info = Vec::new();
    let mut tls_json = None;
    let findings = std::thread::scope(|s| -> Checked {
        let ssl = &ssl;
        let stalls = s.spawn(move || stall::findings(addr, name, wait));
        let negotiation = s.spawn(move || negotiation_checks(addr, name, ssl));
        let direct = s.spawn(move || session::direct_ssl(addr, name));
        let mut out = vec![negotiation::ssl_request(ssl)];
        let (direct_finding, direct_works) = direct.join().unwrap_or_else(|_| {
            Err(Error::TargetUnavailable {
                target: addr.to_string(),
                why: "a probe thread panicked".into(),
            })
        })?;
        out.push(direct_finding);
        let opening = if *ssl == Reply::Byte(b'S') {
            Some(Opening::SslRequest)
        } else if direct_works {
            Some(Opening::Direct)
        } else {
            None
        };
        match opening {
            Some(opening) => {
                let (found, certs, json) = tls_checks(addr, opening, name, &trust)?;
                out.extend(found);
                certificate_info = certs;
                tls_json = Some(json);
            }
            None => out.push(Finding::new(
                "tls.none",
                finding::Severity::Info,
                format!(
                    "not tested: SSLRequest answered {} and direct SSL is not offered",
                    ssl.text()
                ),
                "with no TLS there are no versions, suites or certificate to judge",
            )),
        }
        if *ssl != Reply::Byte(b'S') {
            out.push(Finding::new(
                "alpn",
                finding::Severity::Info,
                format!("not tested: SSLRequest answered {}", ssl.text()),
                "ALPN on the SSLRequest path needs the server to accept the request",
            ));
        }
        out.extend(joined(negotiation)?);
        out.extend(joined(stalls)?);
        Ok(out)
    })?;
    let mut findings = findings;
    findings.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(render::Report {
        target: target.label.clone(),
        file_label: target.file_label.clone(),
        findings,
        tls: tls_json,
        certificate: certificate_info,
        openssl: openssl::version::version().to_owned(),
        wait_s: args.wait,
    })
}

/// Everything before TLS, each check on its own connection, at once.
fn negotiation_checks(addr: SocketAddr, name: &str, ssl: &Reply) -> Checked {
    std::thread::scope(|s| {
        let after_s = s.spawn(move || negotiation::injection_after_s(addr, name).map(|f| vec![f]));
        let repeated = s.spawn(move || negotiation::repeated(addr, name, ssl).map(|f| vec![f]));
        let padded = s.spawn(move || negotiation::padded(addr, name).map(|f| vec![f]));
        let limits = s.spawn(move || Ok(negotiation::startup_limits(addr)));
        let (gss_reply, gss) = negotiation::gssenc_request(addr);
        let mut out = vec![
            gss,
            negotiation::injection_after_n(addr, ssl, &gss_reply),
            negotiation::split(addr, ssl),
            negotiation::oversized(addr),
        ];
        for h in [after_s, repeated, padded, limits] {
            out.extend(joined(h)?);
        }
        Ok(out)
    })
}

/// Versions and suites, then the certificate, client certificates, sessions,
/// renegotiation, compression and ALPN.
fn tls_checks(
    addr: SocketAddr,
    opening: Opening,
    name: &str,
    trust: &trust::Trust,
) -> Result<
    (
        Vec<Finding>,
        Vec<certificate::CertInfo>,
        tls_findings::TlsJson,
    ),
    Error,
> {
    let tls = tls::enumerate(addr, opening, name)?;
    let mut out = tls_findings::findings(&tls);
    let json = tls_findings::TlsJson::new(&tls);
    let mut certs = Vec::new();
    if let Some(peer) = &tls.peer {
        for c in &peer.chain {
            certs.push(certificate::info(c)?);
        }
        let verification = trust::verify(&peer.chain, trust, name)?;
        out.extend(certificate::findings(&certs, &verification));
        out.push(session::client_certificate(peer));
    }
    let reach = session::Reach {
        addr,
        opening,
        name,
    };
    let tls = &tls;
    let more = std::thread::scope(|s| -> Checked {
        let versions = tls.accepted();
        let resumption: Vec<_> = versions
            .into_iter()
            .map(|v| s.spawn(move || session::resumption(reach, tls, v).map(|f| vec![f])))
            .collect();
        let reneg = s.spawn(move || session::renegotiation_and_compression(reach, tls));
        let alpn = (opening == Opening::SslRequest)
            .then(|| s.spawn(move || session::alpn(reach).map(|f| vec![f])));
        let mut out = Vec::new();
        for h in resumption {
            out.extend(joined(h)?);
        }
        out.extend(joined(reneg)?);
        if let Some(h) = alpn {
            out.extend(joined(h)?);
        }
        Ok(out)
    })?;
    out.extend(more);
    Ok((out, certs, json))
}
