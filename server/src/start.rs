//! The one way to start the server: load the settings of a data directory, bind the listeners,
//! serve on the current tokio runtime, and keep a handle that says where it listens, reloads
//! the configuration and stops it. The command line (`cli.rs`), the conformance
//! harness's embedded target and the benchmarks all start the server here.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{Settings, load};
use crate::error::Error;
use crate::log::Logger;
use crate::reload::Reloader;
use crate::server::{Server, Shutdown};

/// A server whose settings are loaded, ready to [`start`](Launch::start).
pub struct Launch {
    settings: Settings,
    assignments: Vec<(String, String)>,
    logger: Arc<Logger>,
}

impl Launch {
    /// Reads `data_directory`'s `postgresql.conf` with `assignments` (the command line's
    /// `-c NAME=VALUE`, `-p`, `-h`, `-k`) over it, and writes what the load reports to
    /// `logger`, the server log from here on. The assignments win over the file again on
    /// every reload.
    pub fn load(
        data_directory: &Path,
        assignments: Vec<(String, String)>,
        logger: Arc<Logger>,
    ) -> Result<Self, Error> {
        let loaded = load::load(data_directory, &assignments)?;
        let pid = std::process::id();
        for record in &loaded.log {
            logger.write(pid, record);
        }
        Ok(Self {
            settings: loaded.settings,
            assignments,
            logger,
        })
    }

    /// The settings the server will start with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Loads TLS (when `ssl` is on), binds every listen address and loads pg_hba.conf and
    /// pg_ident.conf, as the postmaster does, then serves on a task of the current tokio
    /// runtime (call it within one). Any error is the reason the server cannot start.
    pub async fn start(self) -> Result<RunningServer, Error> {
        let server = Server::bind(self.settings, Arc::clone(&self.logger)).await?;
        let tcp = server.tcp_addresses();
        let unix = server.unix_paths();
        let reloader = Arc::new(server.reloader(self.assignments));
        let (stop, stopped) = oneshot::channel::<Shutdown>();
        // A handle dropped without a shutdown is a fast shutdown.
        let task = tokio::spawn(server.run(async move { stopped.await.unwrap_or(Shutdown::Fast) }));
        Ok(RunningServer {
            tcp,
            unix,
            reloader,
            logger: self.logger,
            stop: Some(stop),
            task,
        })
    }
}

/// A server accepting connections. Dropping the handle asks for a fast shutdown without
/// waiting for it.
pub struct RunningServer {
    tcp: Vec<SocketAddr>,
    unix: Vec<PathBuf>,
    reloader: Arc<Reloader>,
    logger: Arc<Logger>,
    stop: Option<oneshot::Sender<Shutdown>>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// The TCP addresses it listens on, with the port actually bound (port 0 resolved).
    pub fn tcp_addresses(&self) -> &[SocketAddr] {
        &self.tcp
    }

    /// Its Unix-domain socket paths.
    pub fn unix_paths(&self) -> &[PathBuf] {
        &self.unix
    }

    /// The server log.
    pub fn logger(&self) -> &Arc<Logger> {
        &self.logger
    }

    /// What reloads its configuration (SIGHUP), for callers that reload off this thread.
    pub fn reloader(&self) -> Arc<Reloader> {
        Arc::clone(&self.reloader)
    }

    /// Reloads the configuration now, as SIGHUP does. Reading files and running a passphrase
    /// command may block.
    pub fn reload(&self) {
        self.reloader.reload();
    }

    /// Asks the server to stop as `mode` says: it stops accepting at once; a smart shutdown
    /// lets sessions finish, a fast one ends them. Only the first request counts.
    pub fn shutdown(&mut self, mode: Shutdown) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(mode);
        }
    }

    /// Waits until the server has shut down (after [`shutdown`](Self::shutdown)); a panic in
    /// the server carries on here.
    pub async fn wait(self) {
        let Self { stop, task, .. } = self;
        let finished = task.await;
        drop(stop);
        match finished {
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Ok(()) | Err(_) => {}
        }
    }
}
