//! `pgssl-server`: start the reference server on a data directory, like `postgres -D`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use pgssl_server::config::Settings;
use pgssl_server::log::Logger;
use pgssl_server::server::{Server, Shutdown};

/// A PostgreSQL-compatible server for the startup and SSL phase.
///
/// Options mirror `postgres`: -D, -p, -h, -k, and -c NAME=VALUE for any setting
/// (e.g. -c ssl=on -c pgssl.profile=18). Unlike PostgreSQL, pgssl-server runs as root when
/// started as root. Logs go to standard error in PostgreSQL's format.
#[derive(Parser, Debug)]
#[command(name = "pgssl-server", version, disable_help_flag = true)]
struct Cli {
    /// Print help (-h is listen_addresses, as for postgres).
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Data directory (server.crt, server.key, ...).
    #[arg(short = 'D', value_name = "DATADIR")]
    data_directory: PathBuf,
    /// TCP port (0 picks a free one; the log says which).
    #[arg(short = 'p', value_name = "PORT")]
    port: Option<String>,
    /// Addresses to listen on (listen_addresses), comma-separated; '*' for all.
    #[arg(short = 'h', value_name = "ADDRESSES")]
    listen_addresses: Option<String>,
    /// Directories for the Unix-domain socket (unix_socket_directories); '' for none.
    #[arg(short = 'k', value_name = "SOCKETDIR")]
    socket_directories: Option<String>,
    /// Set a run-time setting, NAME=VALUE.
    #[arg(short = 'c', value_name = "NAME=VALUE")]
    settings: Vec<String>,
}

impl Cli {
    fn assignments(&self) -> Result<Vec<(String, String)>, pgssl_server::Error> {
        let mut out = Vec::new();
        for item in &self.settings {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| pgssl_server::Error::MissingValue(item.clone()))?;
            out.push((name.trim().to_owned(), value.to_owned()));
        }
        for (name, value) in [
            ("port", &self.port),
            ("listen_addresses", &self.listen_addresses),
            ("unix_socket_directories", &self.socket_directories),
        ] {
            if let Some(value) = value {
                out.push((name.to_owned(), value.clone()));
            }
        }
        Ok(out)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logger = Arc::new(Logger::stderr());
    let pid = std::process::id();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pgssl-server: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let settings = Settings::from_assignments(&cli.data_directory, &cli.assignments()?)?;
        let server = Server::bind(settings, Arc::clone(&logger)).await?;
        server.run(shutdown_signal(Arc::clone(&logger))).await;
        Ok::<(), pgssl_server::Error>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            logger.write(pid, &e.log_record());
            ExitCode::FAILURE
        }
    }
}

/// Waits for SIGTERM (smart shutdown) or SIGINT (fast shutdown). SIGHUP is acknowledged in the
/// log; pgssl reads its settings only from the command line, so there is nothing to reload.
async fn shutdown_signal(logger: Arc<Logger>) -> Shutdown {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        // Without signal handlers the server can still be killed; run until then.
        return std::future::pending().await;
    };
    loop {
        tokio::select! {
            _ = term.recv() => return Shutdown::Smart,
            _ = int.recv() => return Shutdown::Fast,
            _ = hup.recv() => logger.write(
                std::process::id(),
                &pgssl_server::log::LogRecord::log("received SIGHUP, reloading configuration files"),
            ),
        }
    }
}
