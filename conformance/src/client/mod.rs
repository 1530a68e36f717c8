//! The harness's client: carries out a case's steps over a real socket (raw bytes, single or
//! split writes, TLS handshakes with chosen options, startup, queries) and records what it sees
//! as a [`Trace`]. It speaks the protocol through `pgssl_server::wire`, the codec the reference
//! server uses; libpq steps run the real `psql`.
//!
//! This module is the step interpreter and the connection; each step family has its file:
//! `packet` encoding, `observe` reading and recording, `tls` handshakes, `libpq`'s
//! connection sequence, `psql` runs.

mod libpq;
mod observe;
pub(crate) mod packet;
mod psql;
pub(crate) mod tls;

pub(crate) use observe::io_reason;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use std::os::unix::net::UnixStream;

use openssl::ssl::{ShutdownState, SslSession, SslStream};

use crate::case::Step;
use crate::target::Running;
use crate::trace::Trace;
use observe::{RESET, Reader, Reading, Source, is_reset};
use packet::{default_startup, encode};

/// How long a read waits before the step records `timeout`.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(3);

/// Where to connect.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// TCP address.
    pub addr: SocketAddr,
}

enum Conn {
    Plain(TcpStream),
    Unix(UnixStream),
    Tls(Box<SslStream<TcpStream>>),
    Gone,
}

impl Conn {
    fn io(&mut self) -> Option<&mut dyn ReadWrite> {
        match self {
            Self::Plain(s) => Some(s),
            Self::Unix(s) => Some(s),
            Self::Tls(s) => Some(s.as_mut()),
            Self::Gone => None,
        }
    }
}

impl Source for Conn {
    fn read_some(&mut self, chunk: &mut [u8]) -> Option<io::Result<usize>> {
        self.io().map(|io| io.read(chunk))
    }

    fn set_read_wait(&mut self, wait: Duration) {
        let _ = match self {
            Self::Plain(s) => s.set_read_timeout(Some(wait)),
            Self::Unix(s) => s.set_read_timeout(Some(wait)),
            Self::Tls(s) => s.get_ref().set_read_timeout(Some(wait)),
            Self::Gone => Ok(()),
        };
    }

    fn close_notified(&mut self) -> bool {
        match self {
            Self::Tls(s) => s.get_shutdown().contains(ShutdownState::RECEIVED),
            _ => false,
        }
    }

    fn lose(&mut self) {
        *self = Self::Gone;
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Runs `steps` against `endpoint`, returning the trace.
pub fn run_steps(endpoint: &Endpoint, steps: &[Step], server: Option<&dyn Running>) -> Trace {
    let mut client = Client {
        endpoint: endpoint.clone(),
        conn: Conn::Gone,
        reader: Reader::default(),
        trace: Trace::default(),
        server,
        session: None,
    };
    client.connect();
    for step in steps {
        client.step(step);
    }
    client.trace
}

/// The bytes each write step of `steps` sends, in order (a CancelRequest for the session's
/// own key uses a zero key here): seeds for the fuzzers' corpora.
pub fn written_bytes(steps: &[Step]) -> Vec<Vec<u8>> {
    let zero_key = (0, vec![0; 4]);
    let mut out = Vec::new();
    for step in steps {
        match step {
            Step::Write(packets) | Step::WriteSplit { packets, .. } => {
                out.push(encode(packets, Some(&zero_key)).0)
            }
            Step::Reconnect { login: true } => out.push(default_startup().to_bytes()),
            _ => {}
        }
    }
    out
}

struct Client<'a> {
    endpoint: Endpoint,
    conn: Conn,
    reader: Reader,
    trace: Trace,
    server: Option<&'a dyn Running>,
    session: Option<SslSession>,
}

impl Client<'_> {
    fn connect(&mut self) {
        self.reader.buf.clear();
        self.reader.last_reply = None;
        match TcpStream::connect_timeout(&self.endpoint.addr, STEP_TIMEOUT) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                let _ = s.set_read_timeout(Some(STEP_TIMEOUT));
                let _ = s.set_write_timeout(Some(STEP_TIMEOUT));
                self.conn = Conn::Plain(s);
            }
            Err(e) => {
                self.trace.saw(format!("connect failed: {}", io_reason(&e)));
                self.conn = Conn::Gone;
            }
        }
    }

    /// A read step over the current connection.
    fn reading(&mut self) -> Reading<'_> {
        Reading {
            state: &mut self.reader,
            source: &mut self.conn,
            trace: &mut self.trace,
        }
    }

    fn step(&mut self, step: &Step) {
        match step {
            Step::Write(packets) => {
                let (bytes, names) = encode(packets, self.reader.key.as_ref());
                self.trace.sent(format!("write {}", names.join("+")));
                self.write(&bytes);
            }
            Step::WriteSplit { packets, at } => {
                let (bytes, names) = encode(packets, self.reader.key.as_ref());
                self.trace
                    .sent(format!("write {} split at {at:?}", names.join("+")));
                let mut from = 0;
                for &cut in at.iter().chain(std::iter::once(&bytes.len())) {
                    let cut = cut.min(bytes.len());
                    if cut > from {
                        self.write(&bytes[from..cut]);
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    from = cut.max(from);
                }
            }
            Step::ReadByte => self.reading().read_byte(),
            Step::Tls(opts) => self.tls(opts),
            Step::Read => self.reading().read_messages(),
            Step::ReadV2Error => self.reading().read_v2(),
            Step::ExpectClose => self.reading().expect_close(),
            Step::AwaitClose(secs) => {
                self.trace
                    .sent(format!("wait up to {secs} s for the close"));
                self.reading().await_close(Duration::from_secs(*secs));
            }
            Step::ShutdownWrite => {
                self.trace.sent("shutdown write");
                match &self.conn {
                    Conn::Plain(s) => drop(s.shutdown(std::net::Shutdown::Write)),
                    Conn::Tls(s) => drop(s.get_ref().shutdown(std::net::Shutdown::Write)),
                    Conn::Unix(s) => drop(s.shutdown(std::net::Shutdown::Write)),
                    Conn::Gone => {}
                }
            }
            Step::SleepMs(ms) => std::thread::sleep(Duration::from_millis(*ms)),
            Step::Reconnect { login } => {
                self.trace.sent(if *login {
                    "reconnect and log in"
                } else {
                    "reconnect"
                });
                self.connect();
                if *login {
                    let bytes = default_startup().to_bytes();
                    self.write(&bytes);
                    self.reading().read_messages();
                }
            }
            Step::Libpq(step) => self.libpq(step),
            Step::Psql {
                conninfo,
                query,
                unix,
            } => self.psql(conninfo, query, *unix),
            Step::ConnectUnix => {
                self.trace.sent("connect over the Unix socket");
                self.reader.buf.clear();
                let path = self.server.and_then(|s| s.unix_socket());
                match path.map(UnixStream::connect) {
                    Some(Ok(s)) => {
                        let _ = s.set_read_timeout(Some(STEP_TIMEOUT));
                        self.conn = Conn::Unix(s);
                    }
                    Some(Err(e)) => {
                        self.trace.saw(format!("connect failed: {}", io_reason(&e)));
                        self.conn = Conn::Gone;
                    }
                    None => self.trace.harness_error("the target has no Unix socket"),
                }
            }
            Step::Files(ops) => {
                self.trace.sent("change files");
                match self.server.and_then(|s| s.datadir()) {
                    Some((dir, owner)) => {
                        if let Err(e) = crate::setup::apply_file_ops(ops, &dir, owner) {
                            self.trace.harness_error(format!("files failed: {e}"));
                        }
                    }
                    None => self.trace.harness_error("no data directory to change"),
                }
            }
            Step::Reload => {
                self.trace.sent("reload");
                match self.server.map(|s| s.reload()) {
                    Some(Ok(())) => {}
                    Some(Err(e)) => self.trace.harness_error(format!("reload failed: {e}")),
                    None => self.trace.harness_error("no server to reload"),
                }
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        let Some(io) = self.conn.io() else { return };
        if let Err(e) = io.write_all(bytes).and_then(|()| io.flush()) {
            let why = if is_reset(&e) {
                RESET.to_owned()
            } else {
                io_reason(&e)
            };
            self.trace.saw(format!("write failed: {why}"));
        }
    }
}
