//! The reference server as a target, embedded in the harness's process: one server per set-up,
//! started on a loopback port with its log kept in memory.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use pgssl_server::config::Settings;
use pgssl_server::log::Logger;
use pgssl_server::server::{Server, Shutdown};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

use super::{Running, Started, Target};
use crate::case::{Setup, Version};
use crate::error::Error;
use crate::setup::{conf_lines, split_conf_line, write_server_files};

/// The reference server under one profile.
pub struct Reference {
    version: Version,
}

impl Reference {
    /// The reference server behaving as `version`.
    pub fn new(version: Version) -> Self {
        Self { version }
    }
}

fn runtime() -> Result<&'static Runtime, Error> {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::TargetUnavailable {
            target: "reference".into(),
            why: format!("could not start the async runtime: {e}"),
        })?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// A `Write` sink the server logs into, readable as lines.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

struct RunningReference {
    addr: SocketAddr,
    log: LogBuffer,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Running for RunningReference {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn log(&self) -> Option<Vec<String>> {
        Some(self.log.lines())
    }
}

impl Drop for RunningReference {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        crate::cleanup::forget_dir(self._dir.path());
    }
}

impl Target for Reference {
    fn label(&self) -> String {
        format!("reference-{}", self.version)
    }

    fn version(&self) -> Version {
        self.version
    }

    fn configurable(&self) -> bool {
        true
    }

    fn start(&self, setup: &Setup) -> Result<Started, Error> {
        let dir = tempfile::Builder::new()
            .prefix("pgssl-reference-")
            .tempdir()
            .map_err(|e| Error::io("creating a temporary directory in", std::env::temp_dir(), e))?;
        crate::cleanup::register_dir(dir.path().to_path_buf());
        write_server_files(dir.path(), setup.cert)?;
        let mut assignments = vec![("pgssl.profile".to_owned(), self.version.name().to_owned())];
        for line in conf_lines(setup) {
            if let Some(pair) = split_conf_line(&line) {
                assignments.push(pair);
            }
        }
        assignments.extend([
            ("listen_addresses".to_owned(), "127.0.0.1".to_owned()),
            ("port".to_owned(), "0".to_owned()),
            (
                "unix_socket_directories".to_owned(),
                dir.path().display().to_string(),
            ),
        ]);
        let settings = match Settings::from_assignments(dir.path(), &assignments) {
            Ok(s) => s,
            Err(e) => return Ok(Started::Refused(e.log_record().lines())),
        };
        let log = LogBuffer::default();
        let logger = Arc::new(Logger::to_writer(Box::new(log.clone())));
        let rt = runtime()?;
        let server = match rt.block_on(Server::bind(settings, logger)) {
            Ok(server) => server,
            Err(e) => return Ok(Started::Refused(e.log_record().lines())),
        };
        let addr =
            server
                .tcp_addresses()
                .into_iter()
                .next()
                .ok_or_else(|| Error::TargetUnavailable {
                    target: self.label(),
                    why: "the server bound no TCP address".into(),
                })?;
        let (stop, stopped) = oneshot::channel::<()>();
        rt.spawn(server.run(async move {
            let _ = stopped.await;
            Shutdown::Fast
        }));
        Ok(Started::Running(Box::new(RunningReference {
            addr,
            log,
            stop: Some(stop),
            _dir: dir,
        })))
    }
}
