//! Driving connections: one complete connection in each [`Mode`], client threads repeating
//! them for a duration, and idle connections held open.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use openssl::ssl::{SslConnector, SslMethod, SslStream, SslVerifyMode, SslVersion};
use pgssl_server::wire::{BackendMessage, StartupPacket};

use crate::Error;

/// What the load looks like on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Plaintext startup.
    Plain,
    /// SSLRequest, then TLS, then the startup.
    PgTls,
    /// A TLS handshake and nothing else.
    BareTls,
}

impl Mode {
    /// The report's name: `disable`, `require` or `bare-tls`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "disable",
            Self::PgTls => "require",
            Self::BareTls => "bare-tls",
        }
    }
}

/// The one client TLS context every connection goes through: exactly `version`, no
/// verification, `groups` when given (else OpenSSL's, X25519 first, as libpq).
pub fn client_context(version: SslVersion, groups: Option<&str>) -> Result<SslConnector, Error> {
    let mut b = SslConnector::builder(SslMethod::tls_client())?;
    b.set_min_proto_version(Some(version))?;
    b.set_max_proto_version(Some(version))?;
    b.set_verify(SslVerifyMode::NONE);
    if let Some(g) = groups {
        b.set_groups_list(g)?;
    }
    Ok(b.build())
}

/// What the connections of one load completed.
#[derive(Debug, Default)]
pub struct Tally {
    /// Connections completed.
    pub ok: u64,
    /// Connections that failed.
    pub failures: u64,
    /// Latency of each completed connection, ms.
    pub latencies: Vec<f64>,
    /// The first failure.
    pub first_error: Option<Error>,
}

impl Tally {
    /// Adds `other`'s figures; the first error stays the first.
    pub fn absorb(&mut self, other: Tally) {
        self.ok += other.ok;
        self.failures += other.failures;
        self.latencies.extend(other.latencies);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// One server as the connections see it.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint<'a> {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What a connection does.
    pub mode: Mode,
    /// The StartupMessage, encoded.
    pub startup: &'a [u8],
}

/// Runs `clients` threads (at least one) completing connections to `endpoint` for `duration`.
/// A thread whose first thousand connections all failed stops them all.
pub fn load(
    endpoint: Endpoint<'_>,
    clients: usize,
    connector: &SslConnector,
    duration: Duration,
) -> Tally {
    let deadline = Instant::now() + duration;
    let stop = AtomicBool::new(false);
    let tallies: Vec<Tally> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients.max(1))
            .map(|_| {
                let stop = &stop;
                s.spawn(move || {
                    let mut r = Tally::default();
                    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                        let t = Instant::now();
                        match connection(endpoint, connector) {
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
    let mut all = Tally::default();
    for r in tallies {
        all.absorb(r);
    }
    all
}

/// Terminate, as the frontend sends it.
pub const TERMINATE: &[u8] = &[b'X', 0, 0, 0, 4];

/// One complete connection.
pub fn connection(endpoint: Endpoint<'_>, connector: &SslConnector) -> Result<(), Error> {
    let mut tcp = TcpStream::connect(endpoint.addr).map_err(Error::io("connect"))?;
    tcp.set_nodelay(true).map_err(Error::SocketOption)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(Error::SocketOption)?;
    match endpoint.mode {
        Mode::Plain => {
            tcp.write_all(endpoint.startup)
                .map_err(Error::io("startup"))?;
            read_until_ready(&mut tcp)?;
            tcp.write_all(TERMINATE).map_err(Error::io("terminate"))
        }
        Mode::PgTls => {
            ssl_request(&mut tcp)?;
            let mut ssl = tls_connect(connector, tcp)?;
            ssl.write_all(endpoint.startup)
                .map_err(Error::io("startup"))?;
            read_until_ready(&mut ssl)?;
            ssl.write_all(TERMINATE).map_err(Error::io("terminate"))?;
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

/// Sends an SSLRequest and reads the one-byte reply, which must be `S`.
fn ssl_request(stream: &mut (impl Read + Write)) -> Result<(), Error> {
    stream
        .write_all(&StartupPacket::ssl_request().to_bytes())
        .map_err(Error::io("SSLRequest"))?;
    let mut reply = [0u8; 1];
    stream
        .read_exact(&mut reply)
        .map_err(Error::io("SSLRequest reply"))?;
    if reply[0] != b'S' {
        return Err(Error::SslRefused(reply[0]));
    }
    Ok(())
}

fn tls_connect(connector: &SslConnector, tcp: TcpStream) -> Result<SslStream<TcpStream>, Error> {
    connector
        .configure()?
        .verify_hostname(false)
        .connect("localhost", tcp)
        .map_err(|e| Error::Handshake(e.to_string()))
}

/// Reads backend messages until ReadyForQuery; an ErrorResponse, a malformed message or the
/// end of the stream first is the error.
pub fn read_until_ready(stream: &mut impl Read) -> Result<(), Error> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let mut at = 0;
        while let Some((msg, used)) = BackendMessage::decode(&buf[at..])? {
            at += used;
            match msg {
                BackendMessage::ReadyForQuery(_) => return Ok(()),
                BackendMessage::ErrorResponse(e) => {
                    return Err(Error::Refused(e.message().to_owned()));
                }
                _ => {}
            }
        }
        buf.drain(..at);
        let n = stream.read(&mut chunk).map_err(Error::io("read"))?;
        if n == 0 {
            return Err(Error::ClosedBeforeReady);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Opens up to `count` TLS connections to `endpoint` through to ReadyForQuery (or the
/// handshake, for bare TLS) and returns those that got there, open; stops at the first that
/// does not.
pub fn hold_idle(
    endpoint: Endpoint<'_>,
    count: usize,
    connector: &SslConnector,
) -> Vec<SslStream<TcpStream>> {
    let mut held = Vec::new();
    for _ in 0..count {
        let Ok(mut tcp) = TcpStream::connect(endpoint.addr) else {
            break;
        };
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(3)));
        if endpoint.mode == Mode::PgTls && ssl_request(&mut tcp).is_err() {
            break;
        }
        let Ok(mut ssl) = tls_connect(connector, tcp) else {
            break;
        };
        if endpoint.mode == Mode::PgTls
            && (ssl.write_all(endpoint.startup).is_err() || read_until_ready(&mut ssl).is_err())
        {
            break;
        }
        held.push(ssl);
    }
    held
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Backend messages as bytes: type, length (including itself), body.
    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn ready_for_query_ends_the_login() {
        let mut bytes = message(b'R', &0u32.to_be_bytes());
        bytes.extend(message(b'S', b"server_version\x0015\x00"));
        bytes.extend(message(b'Z', b"I"));
        assert!(read_until_ready(&mut bytes.as_slice()).is_ok());
    }

    #[test]
    fn an_error_response_is_the_servers_refusal() {
        let bytes = message(b'E', b"SFATAL\x00C28000\x00Mno pg_hba.conf entry\x00\x00");
        let e = read_until_ready(&mut bytes.as_slice()).unwrap_err();
        assert_eq!(e.to_string(), "server refused: no pg_hba.conf entry");
    }

    #[test]
    fn eof_before_ready_for_query_is_an_error() {
        let bytes = message(b'R', &0u32.to_be_bytes());
        let e = read_until_ready(&mut &bytes[..bytes.len() - 1]).unwrap_err();
        assert!(matches!(e, Error::ClosedBeforeReady), "{e}");
    }

    #[test]
    fn an_ssl_request_answered_n_is_refused() {
        struct Scripted(Vec<u8>, &'static [u8]);
        impl Read for Scripted {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.1.read(buf)
            }
        }
        impl Write for Scripted {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.write(buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut s = Scripted(Vec::new(), b"S");
        assert!(ssl_request(&mut s).is_ok());
        assert_eq!(s.0, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
        let mut n = Scripted(Vec::new(), b"N");
        assert!(matches!(ssl_request(&mut n), Err(Error::SslRefused(b'N'))));
    }

    #[test]
    fn tallies_add_up_and_keep_the_first_error() {
        let mut a = Tally {
            ok: 2,
            failures: 0,
            latencies: vec![1.0, 2.0],
            first_error: None,
        };
        a.absorb(Tally {
            ok: 1,
            failures: 1,
            latencies: vec![3.0],
            first_error: Some(Error::ClosedBeforeReady),
        });
        a.absorb(Tally {
            ok: 0,
            failures: 1,
            latencies: vec![],
            first_error: Some(Error::SslRefused(b'N')),
        });
        assert_eq!((a.ok, a.failures), (3, 2));
        assert_eq!(a.latencies, [1.0, 2.0, 3.0]);
        assert!(matches!(a.first_error, Some(Error::ClosedBeforeReady)));
    }
}
