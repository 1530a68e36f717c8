//! Running out of file descriptors: with `RLIMIT_NOFILE` low and more clients than it can hold,
//! the server logs each failed `accept` as PostgreSQL does and backs off between them
//! (`ACCEPT_ERROR_DELAY`, 100 ms) instead of spinning, and serves again once descriptors are
//! free.

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pgssl_testkit::*;

/// The descriptor limit the server runs under: room for the runtime, the listener and the TLS
/// files, and a few connections.
const NOFILE: libc::rlim_t = 40;

#[test]
fn accept_failures_back_off_and_the_server_recovers() {
    let data = Data::new();
    let mut cmd = Spawn::with(&["ssl=on"]).command(data.path());
    // SAFETY: setrlimit is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: NOFILE,
                rlim_max: NOFILE,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let log_file = tempfile::NamedTempFile::new().expect("log file");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file.reopen().expect("reopen the log file"))
        .spawn()
        .expect("spawn pgssl-server");
    let server = wait_started(child, Log::File(Arc::new(log_file))).running();

    // Twice as many clients as the server has descriptors, held for about a second.
    let flood = Instant::now();
    let held: Vec<TcpStream> = (0..2 * NOFILE)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", server.port)).ok())
        .collect();
    assert!(
        held.len() as libc::rlim_t > NOFILE,
        "{} clients",
        held.len()
    );
    server.wait_for_log("could not accept new connection");
    std::thread::sleep(Duration::from_secs(1));
    drop(held);
    let failing = flood.elapsed();

    let log = server.log();
    let failures: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("could not accept"))
        .collect();
    assert_eq!(
        failures[0], "LOG:  could not accept new connection: Too many open files",
        "{log:#?}"
    );
    // One listener, one line per 100 ms at most; a generous factor for a slow machine. Without
    // the back-off this is hundreds of thousands.
    let bound = (failing.as_secs_f64() / 0.1 + 1.0) * 4.0;
    assert!(
        (failures.len() as f64) <= bound,
        "{} accept failures in {failing:?} (bound {bound})",
        failures.len()
    );

    // Once the held connections are gone, a new client gets through the handshake.
    let start = Instant::now();
    loop {
        match server.tls(|_| {}) {
            Ok(_) => break,
            Err(e) => assert!(start.elapsed() < TIMEOUT, "no handshake: {e}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
