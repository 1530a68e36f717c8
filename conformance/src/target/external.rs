//! A server the harness can reach but not configure: `external:HOST:PORT[@VERSION]`.

use std::net::{SocketAddr, ToSocketAddrs};

use super::{Running, Started, Target};
use crate::case::{Setup, Version};
use crate::error::Error;

/// A server at a fixed address.
pub struct External {
    addr: SocketAddr,
    spec: String,
    version: Version,
}

impl External {
    /// Parses `HOST:PORT[@VERSION]`; without a version, 15's expectations apply.
    pub fn parse(spec: &str) -> Result<Self, Error> {
        let (hostport, version) = match spec.split_once('@') {
            Some((hp, v)) => (
                hp,
                Version::parse(v).ok_or_else(|| Error::BadTarget(format!("external:{spec}")))?,
            ),
            None => (spec, Version::Pg15),
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
        Ok(Self {
            addr,
            spec: spec.to_owned(),
            version,
        })
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

    fn start(&self, _setup: &Setup) -> Result<Started, Error> {
        Ok(Started::Running(Box::new(Fixed(self.addr))))
    }
}
