//! The server at the edge: listeners on TCP and Unix-domain sockets, one task per connection
//! driving the negotiation state machine over the socket, and shutdown when asked.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout_at};

use crate::auth;
use crate::config::Settings;
use crate::error::{Error, strerror};
use crate::files::LoadMode;
use crate::lockfile::{LockContent, SocketLock};
use crate::log::{LogRecord, Logger};
use crate::negotiate::{Action, Event, NegotiateConfig, Negotiator, SocketKind};
use crate::reload::Reloader;
use crate::session;
use crate::state::{Current, Shared, tls_requests_certificates};
use crate::tls::{self, PrefixedStream};
use crate::transport::{Peer, Transport};

/// Size of each read into the connection buffer: PostgreSQL's `PQ_RECV_BUFFER_SIZE`.
const RECV_BUFFER_SIZE: usize = 8192;

/// How long a listener waits after a failed `accept` before it tries again: PostgreSQL's
/// `pg_usleep(100000L)` after `could not accept new connection` (`StreamConnection` in
/// `src/backend/libpq/pqcomm.c` up to 16, `AcceptConnection` there from 17). Without it a
/// listen socket that stays readable (clients queued while descriptors run out, `EMFILE`)
/// makes every poll fail at once, and the loop spins writing the same line.
pub const ACCEPT_ERROR_DELAY: Duration = Duration::from_millis(100);

/// How the server is asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    /// SIGTERM: stop accepting, let sessions finish.
    Smart,
    /// SIGINT: stop accepting, end sessions now.
    Fast,
}

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

/// A bound server, ready to run; `start::Launch` starts it.
pub(crate) struct Server {
    current: Current,
    listeners: Vec<Listener>,
    /// The Unix sockets' lock files, removed after the sockets at shutdown.
    locks: Vec<SocketLock>,
    /// The settings as configured (before port 0 was resolved), for reloads to compare with.
    configured: Settings,
}

impl Server {
    /// Loads TLS (when `ssl` is on) and binds every listen address, as the postmaster does
    /// before it accepts connections. Any failure is the reason the server cannot start.
    pub async fn bind(settings: Settings, logger: Arc<Logger>) -> Result<Self, Error> {
        if !settings.data_directory.is_dir() {
            return Err(Error::NoDataDirectory {
                path: settings.data_directory.clone(),
            });
        }
        let own_pid = std::process::id();
        let tls = if settings.ssl {
            let mut notes = Vec::new();
            let built = tls::build_context(&settings, LoadMode::Start, &mut notes);
            for record in &notes {
                logger.write(own_pid, record);
            }
            Some(built?)
        } else {
            None
        };
        let configured = settings.clone();
        let mut settings = settings;
        let mut listeners = Vec::new();
        let mut any_tcp = false;
        for addr in resolve_listen_addresses(&settings)? {
            let addr = SocketAddr::new(addr, settings.port);
            let family = if addr.is_ipv4() { "IPv4" } else { "IPv6" };
            match TcpListener::bind(addr).await {
                Ok(l) => {
                    if settings.port == 0 {
                        settings.port = l
                            .local_addr()
                            .map_err(|e| Error::io("getsockname", &e))?
                            .port();
                    }
                    logger.write(
                        own_pid,
                        &LogRecord::log(format!(
                            "listening on {family} address \"{}\", port {}",
                            addr.ip(),
                            settings.port
                        )),
                    );
                    listeners.push(Listener::Tcp(l));
                    any_tcp = true;
                }
                Err(e) => logger.write(
                    own_pid,
                    &LogRecord::log(format!(
                        "could not bind {family} address \"{}\": {}",
                        addr.ip(),
                        strerror(&e)
                    )),
                ),
            }
        }
        if !settings.listen_addresses.is_empty() && !any_tcp {
            return Err(Error::NoListeners);
        }
        let mut locks = Vec::new();
        for dir in &settings.unix_socket_directories {
            let path = dir.join(format!(".s.PGSQL.{}", settings.port));
            // The interlock first (Lock_AF_UNIX): then a socket file still here is one left by
            // a server that is gone, safe to delete.
            locks.push(SocketLock::acquire(
                &path,
                &LockContent {
                    data_directory: &settings.data_directory,
                    port: settings.port,
                    socket_directory: dir,
                },
            )?);
            let _ = std::fs::remove_file(&path);
            let listener = UnixListener::bind(&path).map_err(|e| Error::Bind {
                family: "Unix",
                address: path.display().to_string(),
                reason: strerror(&e),
            })?;
            logger.write(
                own_pid,
                &LogRecord::log(format!("listening on Unix socket \"{}\"", path.display())),
            );
            listeners.push(Listener::Unix(listener, path));
        }
        if listeners.is_empty() {
            return Err(Error::NoListeners);
        }
        // The postmaster loads pg_hba.conf and pg_ident.conf after creating its sockets.
        let ca_store = tls.as_ref().is_some_and(tls_requests_certificates);
        let (rules, records) = auth::load_at_start(&settings, ca_store)?;
        for record in &records {
            logger.write(own_pid, record);
        }
        Ok(Self {
            current: Shared::first(settings, tls, rules, logger, own_pid),
            listeners,
            locks,
            configured,
        })
    }

    /// A handle that reloads the configuration (SIGHUP) for this server; `cli` is the
    /// command line's assignments, which win over the file again.
    pub fn reloader(&self, cli: Vec<(String, String)>) -> Reloader {
        Reloader::new(Arc::clone(&self.current), self.configured.clone(), cli)
    }

    /// The TCP addresses the server listens on (with the port actually bound).
    pub fn tcp_addresses(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| match l {
                Listener::Tcp(t) => t.local_addr().ok(),
                Listener::Unix(..) => None,
            })
            .collect()
    }

    /// The Unix-domain socket paths.
    pub fn unix_paths(&self) -> Vec<PathBuf> {
        self.listeners
            .iter()
            .filter_map(|l| match l {
                Listener::Unix(_, p) => Some(p.clone()),
                Listener::Tcp(_) => None,
            })
            .collect()
    }

    /// Accepts connections until `shutdown` resolves, then stops as it asks: a smart shutdown
    /// waits for sessions to end, a fast one ends them.
    pub async fn run(self, shutdown: impl std::future::Future<Output = Shutdown>) {
        let own_pid = std::process::id();
        let current = self.current;
        let locks = self.locks;
        let shared = Shared::current(&current);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(Transport, Peer)>(64);
        let mut accepts = JoinSet::new();
        let mut paths = Vec::new();
        for listener in self.listeners {
            let (tx, shared) = (tx.clone(), Arc::clone(&shared));
            match listener {
                Listener::Tcp(l) => accepts.spawn(async move {
                    loop {
                        match l.accept().await {
                            Ok((socket, peer)) => {
                                let _ = socket.set_nodelay(true);
                                if tx
                                    .send((Transport::Tcp(socket), Peer::Tcp(peer)))
                                    .await
                                    .is_err()
                                {
                                    return;
                                }
                            }
                            Err(e) => accept_failed(&shared, own_pid, &e).await,
                        }
                    }
                }),
                Listener::Unix(l, path) => {
                    paths.push(path);
                    accepts.spawn(async move {
                        loop {
                            match l.accept().await {
                                Ok((socket, _)) => {
                                    if tx
                                        .send((Transport::Unix(socket), Peer::Local))
                                        .await
                                        .is_err()
                                    {
                                        return;
                                    }
                                }
                                Err(e) => accept_failed(&shared, own_pid, &e).await,
                            }
                        }
                    })
                }
            };
        }
        drop(tx);
        shared.log(
            own_pid,
            &LogRecord::log("database system is ready to accept connections"),
        );
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        let mode = loop {
            tokio::select! {
                mode = &mut shutdown => break mode,
                accepted = rx.recv() => match accepted {
                    Some((transport, peer)) => {
                        connections.spawn(serve_connection(Shared::current(&current), transport, peer));
                    }
                    None => break Shutdown::Fast,
                },
                // Reap finished connection tasks as we go.
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        };
        let message = match mode {
            Shutdown::Smart => "received smart shutdown request",
            Shutdown::Fast => "received fast shutdown request",
        };
        shared.log(own_pid, &LogRecord::log(message));
        accepts.abort_all();
        drop(rx);
        if mode == Shutdown::Fast {
            connections.abort_all();
        }
        while connections.join_next().await.is_some() {}
        for path in paths {
            let _ = std::fs::remove_file(path);
        }
        drop(locks);
        shared.log(own_pid, &LogRecord::log("database system is shut down"));
    }
}

/// A failed `accept`: logged at LOG as PostgreSQL logs it, then this listener backs off for
/// [`ACCEPT_ERROR_DELAY`] (the other listeners and the connections go on meanwhile; the
/// postmaster, being one process, stops everything for that time).
async fn accept_failed(shared: &Shared, own_pid: u32, e: &std::io::Error) {
    shared.log(own_pid, &accept_error(e));
    tokio::time::sleep(ACCEPT_ERROR_DELAY).await;
}

fn accept_error(e: &std::io::Error) -> LogRecord {
    LogRecord::log(format!("could not accept new connection: {}", strerror(e)))
}

/// `listen_addresses` resolved to IP addresses: `*` is every IPv4 and IPv6 address,
/// `localhost` and other names resolve through the system.
fn resolve_listen_addresses(settings: &Settings) -> Result<Vec<IpAddr>, Error> {
    let mut out: Vec<IpAddr> = Vec::new();
    for entry in &settings.listen_addresses {
        let found: Vec<IpAddr> = if entry == "*" {
            vec![IpAddr::from([0u8; 4]), IpAddr::from([0u16; 8])]
        } else if let Ok(ip) = entry.parse::<IpAddr>() {
            vec![ip]
        } else {
            use std::net::ToSocketAddrs;
            (entry.as_str(), settings.port)
                .to_socket_addrs()
                .map_err(|e| Error::Resolve {
                    host: entry.clone(),
                    port: settings.port,
                    reason: strerror(&e),
                })?
                .map(|a| a.ip())
                .collect()
        };
        for ip in found {
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    // IPv4 first, so that a port picked for port 0 comes from the address clients use most.
    out.sort_by_key(|ip| ip.is_ipv6());
    Ok(out)
}

/// A client certificate whose common name or distinguished name holds an embedded NUL
/// (A13, CVE-2009-4034): PostgreSQL logs it and drops the connection after the handshake.
fn peer_name_problem(ssl: &openssl::ssl::SslRef) -> Option<LogRecord> {
    use crate::identity::{self, IdentityError};
    let cert = ssl.peer_certificate()?;
    let problem = match identity::common_name(&cert) {
        Err(e) => Some(e),
        Ok(_) => identity::subject_dn(&cert).err(),
    };
    match problem {
        Some(
            e @ (IdentityError::CommonNameEmbeddedNull
            | IdentityError::DistinguishedNameEmbeddedNull),
        ) => Some(LogRecord::log(e.to_string())),
        _ => None,
    }
}

/// Drives one connection: negotiation through the state machine, then the session.
async fn serve_connection(shared: Arc<Shared>, transport: Transport, peer: Peer) {
    let pid = shared.next_pid();
    let settings = Arc::clone(&shared.settings);
    if settings.log_connections {
        let message = match peer {
            Peer::Tcp(a) => format!("connection received: host={} port={}", a.ip(), a.port()),
            Peer::Local => "connection received: host=[local]".to_owned(),
        };
        shared.log(pid, &LogRecord::log(message));
    }
    let kind = match transport {
        Transport::Unix(_) => SocketKind::Unix,
        Transport::Tcp(_) | Transport::Tls(_) => SocketKind::Tcp,
    };
    let mut machine = Negotiator::new(NegotiateConfig {
        behaviour: settings.profile.behaviour(),
        ssl_loaded: shared.tls.is_some(),
        socket: kind,
        tls_version_range: settings.tls_version_range(),
        trace: settings.trace_connection_negotiation,
    });
    // authentication_timeout covers the whole startup, TLS handshake and login included.
    let deadline = Instant::now() + settings.authentication_timeout;
    let mut transport = Some(transport);
    let mut buf = vec![0u8; RECV_BUFFER_SIZE];
    loop {
        while let Some(action) = machine.poll_action() {
            match action {
                Action::Send(bytes) => {
                    let Some(stream) = transport.as_mut() else {
                        return;
                    };
                    if stream.write_all(&bytes).await.is_err() || stream.flush().await.is_err() {
                        return;
                    }
                }
                Action::Log(record) => shared.log(pid, &record),
                Action::Cancel(request) => shared.cancel(pid, &request),
                Action::Close => {
                    if let Some(stream) = transport.take() {
                        stream.close().await;
                    }
                    return;
                }
                // Dropped without a TLS shutdown: the socket just closes.
                Action::Abandon => return,
                Action::StartTls { prefix, .. } => {
                    let (Some(Transport::Tcp(socket)), Some(ctx)) =
                        (transport.take(), shared.tls.as_ref())
                    else {
                        // The machine only asks for TLS on TCP with a loaded context.
                        return;
                    };
                    match timeout_at(
                        deadline,
                        tls::accept(ctx, PrefixedStream::new(prefix, socket), |socket| {
                            // The close then resets, as PostgreSQL's does (tls::accept).
                            let _ = socket.set_zero_linger();
                        }),
                    )
                    .await
                    {
                        Err(_) => machine.handle(Event::Timeout),
                        Ok(Ok(tls_stream)) => {
                            if let Some(record) = peer_name_problem(tls_stream.ssl()) {
                                // be_tls_open_server: COMMERROR, then the connection closes.
                                shared.log(pid, &record);
                                let _ = Transport::Tls(Box::new(tls_stream)).close().await;
                                return;
                            }
                            let unread_prefix = tls_stream.get_ref().unread_prefix();
                            let alpn = tls_stream
                                .ssl()
                                .selected_alpn_protocol()
                                .map(<[u8]>::to_vec);
                            transport = Some(Transport::Tls(Box::new(tls_stream)));
                            machine.handle(Event::TlsEstablished {
                                alpn,
                                unread_prefix,
                            });
                        }
                        Ok(Err(e)) => machine.handle(Event::TlsFailed {
                            failure: e.failure,
                            unread_prefix: e.unread_prefix,
                        }),
                    }
                }
                Action::Startup(info) => {
                    let Some(stream) = transport.take() else {
                        return;
                    };
                    let pending = machine.take_buffered();
                    session::run(&shared, stream, *info, pending, pid, peer, deadline).await;
                    return;
                }
            }
        }
        if machine.is_finished() {
            // Finished without a Close: the transport has already been handed on or dropped.
            return;
        }
        let Some(stream) = transport.as_mut() else {
            return;
        };
        match timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => machine.handle(Event::Timeout),
            Ok(Ok(0)) => machine.handle(Event::Eof),
            Ok(Ok(n)) => machine.handle(Event::Received(&buf[..n])),
            Ok(Err(e)) => {
                shared.log(
                    pid,
                    &LogRecord::log(format!(
                        "could not receive data from client: {}",
                        strerror(&e)
                    )),
                );
                machine.handle(Event::Eof);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_failures_are_logged_as_postgresql_logs_them() {
        let e = std::io::Error::from_raw_os_error(libc::EMFILE);
        assert_eq!(
            accept_error(&e).lines(),
            ["LOG:  could not accept new connection: Too many open files"]
        );
    }

    #[test]
    fn accept_failures_back_off_as_long_as_the_postmaster() {
        // pqcomm.c: pg_usleep(100000L) /* wait 0.1 sec */
        assert_eq!(ACCEPT_ERROR_DELAY, Duration::from_millis(100));
    }
}
