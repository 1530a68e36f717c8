//! `pgssl-server`: start the reference server on a data directory, like `postgres -D`, or
//! create one with `pgssl-server init -D DIR`. See [`pgssl_server::cli`].

fn main() -> std::process::ExitCode {
    pgssl_server::cli::run(std::env::args_os())
}
