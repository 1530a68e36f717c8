//! `pgssl-pgwire-server`: a small PostgreSQL-wire service on the crates.io `pgwire` crate, with
//! its rustls TLS, written the way pgwire's own examples embed it. It is the conformance
//! suite's `pgwire` target: what pgwire does with SSLRequest, GSSENCRequest, direct SSL,
//! CancelRequest and the startup packet is what gets judged.
//!
//! `pgssl-pgwire-server CONFIG.toml` serves (see [`config`] for the file), logging one line
//! containing `ready` on standard error once it listens; `--version` prints `pgwire X.Y.Z`,
//! the version of the pgwire crate it was built with. A configuration that does not load is
//! a `FATAL:` line naming what to fix, and exit status 1.

mod config;
mod error;
mod log;
mod server;
mod service;
mod tls;

use std::path::PathBuf;
use std::process::ExitCode;

use error::Error;

/// The pgwire crate's version, from its own default `server_version` parameter
/// (`16.6-pgwire-<CARGO_PKG_VERSION>`).
fn pgwire_version() -> Result<String, Error> {
    let reported = pgwire::api::auth::DefaultServerParameterProvider::default().server_version;
    match reported.rsplit_once("-pgwire-") {
        Some((_, v)) if !v.is_empty() => Ok(v.to_owned()),
        _ => Err(Error::PgwireVersion(reported)),
    }
}

const HELP: &str = "pgssl-pgwire-server CONFIG.toml: serve the PostgreSQL wire protocol with pgwire as CONFIG.toml says
pgssl-pgwire-server --version: print the pgwire crate's version";

enum Command {
    Version,
    Help,
    Serve(PathBuf),
}

fn command(args: &[String]) -> Result<Command, Error> {
    match args {
        [flag] if flag == "--version" || flag == "-V" => Ok(Command::Version),
        [flag] if flag == "--help" || flag == "-h" => Ok(Command::Help),
        [flag] if flag.starts_with('-') => Err(Error::Usage(format!("unknown option {flag:?}"))),
        [path] => Ok(Command::Serve(PathBuf::from(path))),
        [] => Err(Error::Usage("no configuration file given".into())),
        _ => Err(Error::Usage(format!(
            "one argument expected, got {}",
            args.len()
        ))),
    }
}

fn serve(path: PathBuf) -> Result<(), Error> {
    let config = config::Config::load(&path)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| Error::Runtime {
            what: "tokio runtime",
            source,
        })?;
    runtime.block_on(server::run(path, config))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = command(&args).and_then(|c| match c {
        Command::Version => pgwire_version().map(|v| println!("pgwire {v}")),
        Command::Help => {
            println!("{HELP}");
            Ok(())
        }
        Command::Serve(path) => serve(path),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::line("FATAL", &e.to_string());
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pgwire_version_is_the_crates() {
        let v = pgwire_version().expect("version");
        assert!(
            v.split('.').count() == 3 && v.split('.').all(|p| p.parse::<u32>().is_ok()),
            "{v}"
        );
    }

    #[test]
    fn command_lines() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(matches!(
            command(&args(&["--version"])),
            Ok(Command::Version)
        ));
        assert!(matches!(command(&args(&["c.toml"])), Ok(Command::Serve(_))));
        for bad in [&[][..], &["-x"], &["a", "b"]] {
            let e = command(&args(bad)).err().expect("usage error");
            assert!(e.to_string().contains("usage:"), "{e}");
        }
    }
}
