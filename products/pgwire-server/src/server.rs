//! Listening and serving, as pgwire's examples do: every accepted TCP connection is handed to
//! `pgwire::tokio::process_socket` with the TLS acceptor (or none, when TLS is off), every Unix
//! one to `process_socket_unix`. pgwire does the rest: SSLRequest and GSSENCRequest answers,
//! direct SSL, CancelRequest, the startup packet and its own fixed startup timeout.
//!
//! SIGHUP re-reads the configuration file and swaps the TLS acceptor and `log_connections`
//! for new connections (the listening addresses stay); a file that does not load keeps the
//! previous configuration. SIGINT and SIGTERM stop the server.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use pgwire::tokio::{TlsAcceptor, process_socket, process_socket_unix};
use tokio::net::{TcpListener, UnixListener};
use tokio::signal::unix::{SignalKind, signal};

use crate::config::Config;
use crate::error::Error;
use crate::log;
use crate::service::Service;
use crate::tls;

/// What a new connection is served with; replaced as a whole by a reload.
struct Live {
    tls: Option<TlsAcceptor>,
    log_connections: bool,
    summary: String,
}

impl Live {
    fn from_config(config: &Config) -> Result<Self, Error> {
        let (tls, summary) = match &config.tls {
            Some(t) => {
                let (acceptor, summary) = tls::acceptor(t)?;
                (Some(acceptor), summary)
            }
            None => (None, "TLS off".to_owned()),
        };
        Ok(Self {
            tls,
            log_connections: config.log_connections,
            summary,
        })
    }
}

type Shared = Arc<RwLock<Arc<Live>>>;

fn current(shared: &Shared) -> Arc<Live> {
    shared.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Loads everything, binds, logs the ready line, and serves until SIGINT or SIGTERM.
pub async fn run(path: PathBuf, config: Config) -> Result<(), Error> {
    let shared: Shared = Arc::new(RwLock::new(Arc::new(Live::from_config(&config)?)));
    let address = format!("{}:{}", config.listen_address, config.port);
    let tcp = TcpListener::bind(&address)
        .await
        .map_err(|source| Error::Listen {
            address: address.clone(),
            source,
        })?;
    let local = tcp.local_addr().map_err(|source| Error::Listen {
        address: address.clone(),
        source,
    })?;
    let unix = match &config.unix_socket {
        Some(p) => Some(UnixListener::bind(p).map_err(|source| Error::Listen {
            address: p.display().to_string(),
            source,
        })?),
        None => None,
    };
    let handler = |kind, what| signal(kind).map_err(|source| Error::Runtime { what, source });
    let mut hangup = handler(SignalKind::hangup(), "SIGHUP handler")?;
    let mut interrupt = handler(SignalKind::interrupt(), "SIGINT handler")?;
    let mut terminate = handler(SignalKind::terminate(), "SIGTERM handler")?;
    let socket_note = config
        .unix_socket
        .as_ref()
        .map(|p| format!(" and {}", p.display()))
        .unwrap_or_default();
    log::line(
        "LOG",
        &format!(
            "pgssl-pgwire-server ready: listening on {local}{socket_note}, {}",
            current(&shared).summary
        ),
    );
    loop {
        tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok((socket, peer)) => {
                    let live = current(&shared);
                    tokio::spawn(async move {
                        let service = Arc::new(Service::new(live.log_connections));
                        if let Err(e) = process_socket(socket, live.tls.clone(), service).await {
                            log::line("LOG", &format!("connection from {peer} ended: {e}"));
                        }
                    });
                }
                Err(e) => accept_failed(&address, &e).await,
            },
            accepted = accept_unix(unix.as_ref()) => match accepted {
                Ok(socket) => {
                    let live = current(&shared);
                    tokio::spawn(async move {
                        let service = Arc::new(Service::new(live.log_connections));
                        if let Err(e) = process_socket_unix(socket, service).await {
                            log::line("LOG", &format!("Unix-socket connection ended: {e}"));
                        }
                    });
                }
                Err(e) => accept_failed("the Unix socket", &e).await,
            },
            _ = hangup.recv() => reload(&path, &shared),
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
        }
    }
    if let Some(p) = &config.unix_socket {
        let _ = std::fs::remove_file(p);
    }
    log::line("LOG", "pgssl-pgwire-server shut down");
    Ok(())
}

async fn accept_unix(listener: Option<&UnixListener>) -> std::io::Result<tokio::net::UnixStream> {
    match listener {
        Some(l) => l.accept().await.map(|(socket, _)| socket),
        None => std::future::pending().await,
    }
}

/// A failed accept (descriptors exhausted) is logged, and that listener pauses.
async fn accept_failed(what: &str, e: &std::io::Error) {
    log::line(
        "LOG",
        &format!("could not accept a connection on {what}: {e}"),
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// SIGHUP: the configuration file again; on any error the previous one stays.
fn reload(path: &Path, shared: &Shared) {
    match Config::load(path).and_then(|c| Live::from_config(&c)) {
        Ok(live) => {
            let summary = live.summary.clone();
            *shared.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(live);
            log::line("LOG", &format!("SIGHUP: configuration reloaded, {summary}"));
        }
        Err(e) => log::line(
            "LOG",
            &format!("SIGHUP: configuration not reloaded, the previous one stays: {e}"),
        ),
    }
}
