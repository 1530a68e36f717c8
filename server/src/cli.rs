//! The `pgssl-server` command line: `-D -p -h -k -c` as for `postgres`, and `init`. The
//! binary is a thin wrapper around [`run`], so other binaries (the conformance harness) can
//! run the same server as a child process.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::log::{LogRecord, Logger};
use crate::profile::Profile;
use crate::reload::Reloader;
use crate::server::Shutdown;
use crate::start::Launch;
use clap::{Parser, Subcommand};

/// A PostgreSQL-compatible server for the startup and SSL phase.
///
/// Options mirror `postgres`: -D, -p, -h, -k, and -c NAME=VALUE for any setting
/// (e.g. -c ssl=on -c pgssl.profile=18), over DATADIR/postgresql.conf. Unlike PostgreSQL,
/// pgssl-server runs as root when started as root. Logs go to standard error in PostgreSQL's
/// format. `pgssl-server init -D DIR` creates a data directory.
#[derive(Parser, Debug)]
#[command(
    name = "pgssl-server",
    version,
    disable_help_flag = true,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
struct Cli {
    /// Print help (-h is listen_addresses, as for postgres).
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Data directory (postgresql.conf, server.crt, server.key, ...).
    #[arg(short = 'D', value_name = "DATADIR", required = true)]
    data_directory: Option<PathBuf>,
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
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a data directory: postgresql.conf, pg_hba.conf, pg_ident.conf, and a
    /// self-signed certificate and key for localhost.
    Init {
        /// The directory to create (or an existing empty one).
        #[arg(short = 'D', value_name = "DATADIR")]
        data_directory: PathBuf,
        /// The behaviour profile written into postgresql.conf: seed, 13, 14, 15, 16, 17 or 18.
        #[arg(long, default_value = "seed")]
        profile: String,
    },
}

impl Cli {
    fn assignments(&self) -> Result<Vec<(String, String)>, crate::Error> {
        let mut out = Vec::new();
        for item in &self.settings {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| crate::Error::MissingValue(item.clone()))?;
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

/// Runs `pgssl-server` with these arguments (the first is the program name): starts the
/// server on a data directory, or `init`s one. Returns when the server has shut down.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    // First of all, as PostgreSQL does: OpenSSL reads OPENSSL_CONF now, once per process.
    crate::tls::init_openssl();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if let Some(Command::Init {
        data_directory,
        profile,
    }) = &cli.command
    {
        return init(data_directory, profile);
    }
    let Some(data_directory) = cli.data_directory.clone() else {
        eprintln!("pgssl-server: -D DATADIR is required");
        return ExitCode::FAILURE;
    };
    let logger = Arc::new(Logger::stderr());
    let pid = std::process::id();
    let runtime = match runtime_builder().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pgssl-server: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let assignments = cli.assignments()?;
        let launch = Launch::load(&data_directory, assignments, Arc::clone(&logger))?;
        // Installed before the server says it is ready: a SIGHUP that arrives right after
        // "ready to accept connections" must reload, not end the process (SIGHUP's default).
        let signals = Signals::install();
        let mut server = launch.start().await?;
        let mode = signals.wait(server.reloader()).await;
        server.shutdown(mode);
        server.wait().await;
        Ok::<(), crate::Error>(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            for record in e.log_records() {
                logger.write(pid, &record);
            }
            ExitCode::FAILURE
        }
    }
}

fn init(dir: &std::path::Path, profile: &str) -> ExitCode {
    let Some(profile) = Profile::from_name(profile) else {
        let known: Vec<&str> = Profile::ALL.iter().map(|p| p.name()).collect();
        eprintln!(
            "pgssl-server init: unknown profile \"{profile}\" (known: {})",
            known.join(", ")
        );
        return ExitCode::FAILURE;
    };
    match crate::init::init(dir, profile) {
        Ok(()) => {
            println!(
                "Created data directory \"{}\" (profile {profile}, ssl = on).\n\
                 Start the server with:\n    pgssl-server -D {}\n\
                 and connect with sslmode=verify-full sslrootcert={}",
                dir.display(),
                dir.display(),
                dir.join("server.crt").display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pgssl-server init: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The server's signal handlers: SIGTERM (smart shutdown), SIGINT (fast shutdown), SIGHUP
/// (reload, as the profile says).
struct Signals(Option<[tokio::signal::unix::Signal; 3]>);

impl Signals {
    /// Installs the handlers (inside the runtime).
    fn install() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(term), Ok(int), Ok(hup)) => Self(Some([term, int, hup])),
            // Without signal handlers the server can still be killed; it runs until then.
            _ => Self(None),
        }
    }

    /// Reloads on each SIGHUP until SIGTERM or SIGINT says how to shut down.
    async fn wait(self, reloader: Arc<Reloader>) -> Shutdown {
        let Some([mut term, mut int, mut hup]) = self.0 else {
            return std::future::pending().await;
        };
        loop {
            tokio::select! {
                _ = term.recv() => return Shutdown::Smart,
                _ = int.recv() => return Shutdown::Fast,
                _ = hup.recv() => {
                    let reloader = Arc::clone(&reloader);
                    // Reading files and running a passphrase command may block.
                    if tokio::task::spawn_blocking(move || reloader.reload()).await.is_err() {
                        let record = LogRecord::log("reload failed unexpectedly");
                        Logger::stderr().write(std::process::id(), &record);
                    }
                }
            }
        }
    }
}

fn runtime_builder() -> tokio::runtime::Builder {
    let workers = std::env::var("TOKIO_WORKER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()));
    if workers == Some(1) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
}
