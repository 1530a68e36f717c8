//! How long the server keeps a client that stops talking: one that sends nothing, one that
//! stops after the server's `S`, and one that completes TLS and sends no StartupMessage. The
//! three run at once, each bounded by `--wait`; times are rounded down to whole seconds.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use pgssl_server::wire::StartupPacket;

use super::conn::{self, End, Reply};
use super::finding::{Finding, Severity};
use super::handshake::{self, Offer, Outcome};
use crate::error::Error;

/// PostgreSQL's default `authentication_timeout`, plus a margin: a wait this long that ends
/// with the connection still open shows a server keeping stalled clients longer than it.
const BEYOND_POSTGRES: Duration = Duration::from_secs(65);

/// The most bytes kept from what a server sends before closing.
const MAX_KEPT: usize = 4096;

/// How a stall ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stalled {
    /// Whole seconds until the server closed, or `None` when it was still open at the end
    /// of the wait.
    pub closed_after: Option<u64>,
    /// How it closed.
    pub end: Option<End>,
    /// What it sent first, summed up.
    pub sent: Option<String>,
}

/// Reads from `io` until the server closes or `wait` has passed since `since`.
fn wait_close(io: &mut impl Read, socket: &TcpStream, since: Instant, wait: Duration) -> Stalled {
    let mut kept = Vec::new();
    loop {
        let left = wait.saturating_sub(since.elapsed());
        if left.is_zero() {
            return stalled(None, None, &kept);
        }
        let _ = socket.set_read_timeout(Some(left.max(Duration::from_millis(10))));
        let mut chunk = [0u8; 1024];
        match io.read(&mut chunk) {
            Ok(0) => return stalled(Some(since.elapsed()), Some(End::Closed), &kept),
            Ok(n) => {
                let room = MAX_KEPT.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
            Err(e) => match conn::end_of(&e) {
                End::Timeout => {}
                end => return stalled(Some(since.elapsed()), Some(end), &kept),
            },
        }
    }
}

fn stalled(after: Option<Duration>, end: Option<End>, kept: &[u8]) -> Stalled {
    let sent = (!kept.is_empty()).then(|| {
        let e = conn::read_messages(&mut &kept[..]);
        let mut e = e;
        e.end = None;
        conn::compact(&e)
    });
    Stalled {
        closed_after: after.map(|d| d.as_secs()),
        end,
        sent,
    }
}

/// The three stalls, concurrently.
pub fn findings(addr: SocketAddr, name: &str, wait: Duration) -> Result<Vec<Finding>, Error> {
    std::thread::scope(|s| {
        let none = s.spawn(move || no_bytes(addr, wait));
        let after_s = s.spawn(move || after_s(addr, wait));
        let after_tls = s.spawn(move || after_tls(addr, name, wait));
        let join = |h: std::thread::ScopedJoinHandle<'_, Result<Finding, Error>>| {
            h.join().unwrap_or_else(|_| {
                Err(Error::TargetUnavailable {
                    target: addr.to_string(),
                    why: "a stall thread panicked".into(),
                })
            })
        };
        Ok(vec![join(none)?, join(after_s)?, join(after_tls)?])
    })
}

fn connected(addr: SocketAddr) -> Result<(TcpStream, Instant), String> {
    conn::connect(addr)
        .map(|s| (s, Instant::now()))
        .map_err(|e| format!("connect failed: {e}"))
}

fn no_bytes(addr: SocketAddr, wait: Duration) -> Result<Finding, Error> {
    let id = "stall.no-bytes";
    Ok(match connected(addr) {
        Ok((mut s, since)) => {
            let socket = s
                .try_clone()
                .map_err(|e| Error::io("cloning", "a socket", e))?;
            judge(
                id,
                "connected, sent nothing",
                &wait_close(&mut s, &socket, since, wait),
                wait,
            )
        }
        Err(e) => Finding::new(id, Severity::Info, e, "not determined"),
    })
}

fn after_s(addr: SocketAddr, wait: Duration) -> Result<Finding, Error> {
    let id = "stall.after-s";
    let (mut s, _) = match connected(addr) {
        Ok(x) => x,
        Err(e) => return Ok(Finding::new(id, Severity::Info, e, "not determined")),
    };
    let reply = conn::request(&mut s, &StartupPacket::ssl_request().to_bytes());
    let what = match &reply {
        Reply::Byte(b'S') => "sent nothing after S".to_owned(),
        other => format!("SSLRequest answered {}; sent nothing more", other.text()),
    };
    let since = Instant::now();
    let socket = s
        .try_clone()
        .map_err(|e| Error::io("cloning", "a socket", e))?;
    Ok(judge(
        id,
        &what,
        &wait_close(&mut s, &socket, since, wait),
        wait,
    ))
}

fn after_tls(addr: SocketAddr, name: &str, wait: Duration) -> Result<Finding, Error> {
    let id = "stall.after-tls";
    let (mut s, _) = match connected(addr) {
        Ok(x) => x,
        Err(e) => return Ok(Finding::new(id, Severity::Info, e, "not determined")),
    };
    let reply = conn::request(&mut s, &StartupPacket::ssl_request().to_bytes());
    if reply != Reply::Byte(b'S') {
        return Ok(Finding::new(
            id,
            Severity::Info,
            format!("not testable: SSLRequest answered {}", reply.text()),
            "no TLS, so no stall inside it",
        ));
    }
    let ctx = handshake::context(&Offer::default())?;
    let mut up = match handshake::over(s, &ctx, name, None)? {
        Outcome::Up(up) => up,
        Outcome::Refused(why) => {
            return Ok(Finding::new(
                id,
                Severity::Info,
                format!("not testable: the handshake failed ({why})"),
                "no TLS, so no stall inside it",
            ));
        }
    };
    let since = Instant::now();
    let socket = up
        .stream
        .get_ref()
        .try_clone()
        .map_err(|e| Error::io("cloning", "a socket", e))?;
    let mut result = wait_close(&mut up.stream, &socket, since, wait);
    if result.end == Some(End::Closed)
        && up
            .stream
            .get_shutdown()
            .contains(openssl::ssl::ShutdownState::RECEIVED)
    {
        result.end = Some(End::CloseNotify);
    }
    Ok(judge(id, "TLS up, sent no StartupMessage", &result, wait))
}

/// The finding for one stall.
pub fn judge(id: &str, what: &str, r: &Stalled, wait: Duration) -> Finding {
    let sent = r
        .sent
        .as_ref()
        .map_or(String::new(), |s| format!(", having sent {s}"));
    match (r.closed_after, &r.end) {
        (Some(secs), Some(end)) => Finding::new(
            id,
            Severity::Info,
            format!("{what}: {} after {secs} s{sent}", end.text()),
            "the server bounds how long a silent client holds a connection slot",
        ),
        _ if wait >= BEYOND_POSTGRES => Finding::new(
            id,
            Severity::Low,
            format!("{what}: still open after {} s{sent}", wait.as_secs()),
            "kept longer than PostgreSQL's default authentication_timeout (60 s): silent clients can hold connection slots",
        ),
        _ => Finding::new(
            id,
            Severity::Info,
            format!("{what}: still open after {} s{sent}", wait.as_secs()),
            "PostgreSQL keeps such a client up to authentication_timeout (60 s by default); a longer --wait (70) shows whether this server closes at all",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_within_the_wait_is_reported_in_whole_seconds() {
        let r = stalled(Some(Duration::from_millis(2_040)), Some(End::Closed), &[]);
        assert_eq!(r.closed_after, Some(2));
        let f = judge(
            "stall.after-s",
            "sent nothing after S",
            &r,
            Duration::from_secs(5),
        );
        assert_eq!(f.severity, Severity::Info);
        assert_eq!(f.observation, "sent nothing after S: closed after 2 s");
    }

    #[test]
    fn still_open_is_info_within_postgres_timeout_and_low_beyond() {
        let open = stalled(None, None, &[]);
        let short = judge("stall.no-bytes", "x", &open, Duration::from_secs(5));
        assert_eq!(short.severity, Severity::Info);
        assert_eq!(short.observation, "x: still open after 5 s");
        let long = judge("stall.no-bytes", "x", &open, Duration::from_secs(70));
        assert_eq!(long.severity, Severity::Low);
    }

    #[test]
    fn what_the_server_sent_before_closing_is_summed_up() {
        let msg = pgssl_server::wire::BackendMessage::ErrorResponse(
            pgssl_server::wire::ErrorFields::new(
                pgssl_server::wire::Severity::Fatal,
                "08P01",
                "client_login_timeout",
            ),
        )
        .to_bytes();
        let r = stalled(Some(Duration::from_secs(3)), Some(End::Closed), &msg);
        assert_eq!(
            judge("stall.after-tls", "TLS up", &r, Duration::from_secs(5)).observation,
            "TLS up: closed after 3 s, having sent E FATAL 08P01 client_login_timeout"
        );
    }
}
