//! The Unix socket's lock file, `.s.PGSQL.<port>.lock`, as PostgreSQL keeps it: a second server
//! on the same port and socket directory refuses to start and leaves the first one's socket
//! alone; a lock left by a dead process is taken over; a clean shutdown removes it.

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;

use pgssl_testkit::*;

/// Starts the server on `data` with a Unix socket in `sockets` on `port`; with `tcp`, on
/// 127.0.0.1 too.
fn start(data: &Data, sockets: &Path, port: u16, tcp: bool) -> Started {
    let mut command = Command::new(server_binary());
    command
        .arg("-D")
        .arg(data.path())
        .args([
            "-p",
            &port.to_string(),
            "-h",
            if tcp { "127.0.0.1" } else { "" },
        ])
        .arg("-k")
        .arg(sockets);
    start_command(command)
}

/// The first line of the lock file: the owner's process id.
fn lock_owner(lock: &Path) -> String {
    let text = std::fs::read_to_string(lock).expect("read the lock file");
    text.lines().next().unwrap_or_default().to_owned()
}

fn answers_over_unix(socket: &Path) -> u8 {
    let mut s = UnixStream::connect(socket).expect("connect over the Unix socket");
    s.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
    send(&mut s, &ssl_request());
    read_byte(&mut s)
}

#[test]
fn a_second_server_on_the_same_socket_refuses_to_start() {
    let sockets = tempfile::tempdir().expect("socket directory");
    let (first_data, second_data) = (Data::new(), Data::new());
    let first = start(&first_data, sockets.path(), 0, true).running();
    let socket = sockets.path().join(format!(".s.PGSQL.{}", first.port));
    let lock = sockets.path().join(format!(".s.PGSQL.{}.lock", first.port));
    assert_eq!(lock_owner(&lock), first.child.id().to_string());

    let Started::Exited { status, log } = start(&second_data, sockets.path(), first.port, false)
    else {
        panic!("the second server started");
    };
    assert_eq!(status.code(), Some(1), "{log:#?}");
    assert_log_ends_with(
        &log,
        &[
            &format!("FATAL:  lock file \"{}\" already exists", lock.display()),
            &format!(
                "HINT:  Is another postmaster (PID {}) using socket file \"{}\"?",
                first.child.id(),
                socket.display()
            ),
        ],
    );
    // The first server's socket and lock are untouched: it still answers over the socket.
    assert_eq!(lock_owner(&lock), first.child.id().to_string());
    assert_eq!(answers_over_unix(&socket), b'N');
}

#[test]
fn a_stale_lock_of_a_dead_process_is_taken_over() {
    let sockets = tempfile::tempdir().expect("socket directory");
    let data = Data::new();
    // A free port, known before the server starts so that the stale lock can name it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut gone = Command::new("true").spawn().expect("spawn true");
    gone.wait().expect("wait for true");
    let lock = sockets.path().join(format!(".s.PGSQL.{port}.lock"));
    std::fs::write(
        &lock,
        format!("{}\n/elsewhere\n0\n{port}\n/tmp\n", gone.id()),
    )
    .expect("write a stale lock");
    let socket = sockets.path().join(format!(".s.PGSQL.{port}"));
    let server = start(&data, sockets.path(), port, true).running();
    assert_eq!(lock_owner(&lock), server.child.id().to_string());
    assert_eq!(answers_over_unix(&socket), b'N');
}

#[test]
fn a_clean_shutdown_removes_the_lock_file() {
    let sockets = tempfile::tempdir().expect("socket directory");
    let data = Data::new();
    let mut server = start(&data, sockets.path(), 0, true).running();
    let lock = sockets
        .path()
        .join(format!(".s.PGSQL.{}.lock", server.port));
    let socket = sockets.path().join(format!(".s.PGSQL.{}", server.port));
    assert!(lock.exists());
    server.signal(libc::SIGTERM);
    let status = server.child.wait().expect("server exit");
    assert!(status.success(), "{status}");
    assert!(!lock.exists(), "lock file left behind");
    assert!(!socket.exists(), "socket file left behind");
}
