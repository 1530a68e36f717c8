//! A server the harness can reach but not configure: `external:HOST:PORT[@VERSION]`. Only
//! cases with the default set-up run on it, and with `--wait SECONDS` the timeout cases too,
//! each waiting that long for the server's own timeout.

use std::net::{SocketAddr, ToSocketAddrs};

use super::{Running, Started, Target};
use crate::case::{Setup, Version};
use crate::error::Error;

/// A server at a fixed address.
pub struct External {
    addr: SocketAddr,
    spec: String,
    version: Version,
    wait: Option<u64>,
}

impl External {
    /// Parses `HOST:PORT[@VERSION]`; without a version, the server's `server_version` (read
    /// from a plaintext login as `postgres`) says which expectations apply.
    pub fn parse(spec: &str) -> Result<Self, Error> {
        let (hostport, version) = match spec.split_once('@') {
            Some((hp, v)) => (
                hp,
                Some(super::known_version(&format!("external:{spec}"), v)?),
            ),
            None => (spec, None),
        };
        let addr = hostport
            .to_socket_addrs()
            .map_err(|e| Error::TargetUnavailable {
                target: format!("external:{spec}"),
                why: format!("cannot resolve {hostport}: {e}"),
            })?
            .next()
            .ok_or_else(|| Error::TargetUnavailable {
                target: format!("external:{spec}"),
                why: format!("{hostport} resolves to no address"),
            })?;
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3)).map_err(
            |e| Error::TargetUnavailable {
                target: format!("external:{spec}"),
                why: format!("cannot connect to {addr}: {e}"),
            },
        )?;
        let version = match version {
            Some(v) => v,
            None => server_version(addr).map_err(|why| Error::TargetUnavailable {
                target: format!("external:{spec}"),
                why: format!("{why}; name the version as external:{hostport}@15 or @18"),
            })?,
        };
        Ok(Self {
            addr,
            spec: spec.to_owned(),
            version,
            wait: None,
        })
    }

    /// The target with `--wait SECONDS`: timeout cases run on it, each waiting up to `secs`
    /// for the server's own timeout (whatever the case's set-up asks of a configured one).
    pub fn waiting(mut self, secs: u64) -> Self {
        self.wait = Some(secs);
        self
    }
}

/// Logs in (plaintext, user `postgres`) and maps the reported `server_version`'s major number
/// to the expectations that apply.
fn server_version(addr: SocketAddr) -> Result<Version, String> {
    use std::io::{Read, Write};

    use pgssl_server::wire::{BackendMessage, ProtocolVersion, StartupMessage, StartupPacket};

    let mut s = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3))
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(3)));
    let startup = StartupPacket::Startup(StartupMessage::new(
        ProtocolVersion::V3_0,
        &[("user", "postgres"), ("database", "postgres")],
    ));
    s.write_all(&startup.to_bytes())
        .map_err(|e| format!("cannot send a startup packet: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Ok(Some((msg, used))) = BackendMessage::decode(&buf) {
            buf.drain(..used);
            match msg {
                BackendMessage::ParameterStatus { name, value } if name == "server_version" => {
                    let major: u32 = value
                        .split(|c: char| !c.is_ascii_digit())
                        .next()
                        .and_then(|m| m.parse().ok())
                        .ok_or_else(|| format!("unreadable server_version {value:?}"))?;
                    return Version::from_major(major).ok_or_else(|| {
                        format!(
                            "server_version {value:?} is not a version the suite knows (known: {}); name one with @VERSION",
                            Version::known()
                        )
                    });
                }
                BackendMessage::ErrorResponse(e) => {
                    return Err(format!(
                        "the server refused a plaintext login as postgres: {}",
                        e.message()
                    ));
                }
                BackendMessage::ReadyForQuery(_) => {
                    return Err("no server_version reported".into());
                }
                _ => {}
            }
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => {
                return Err("the server closed before reporting server_version".into());
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

struct Fixed(SocketAddr);

impl Running for Fixed {
    fn addr(&self) -> SocketAddr {
        self.0
    }

    fn log(&self) -> Option<Vec<String>> {
        None
    }
}

impl Target for External {
    fn label(&self) -> String {
        format!(
            "external-{}-{}",
            self.spec.replace([':', '@', '/'], "_"),
            self.version
        )
    }

    fn version(&self) -> Version {
        self.version
    }

    fn configurable(&self) -> bool {
        false
    }

    fn timeout_wait(&self) -> Option<u64> {
        self.wait
    }

    fn start(&self, _setup: &Setup) -> Result<Started, Error> {
        Ok(Started::Running(Box::new(Fixed(self.addr))))
    }
}
