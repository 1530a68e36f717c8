//! A5: passphrase-protected keys — `ssl_passphrase_command` (`%p`, wrong passphrase, failing
//! command), the interactive prompt on a terminal (a pseudo-terminal here: the server waits
//! until the passphrase is typed), no terminal and no command, and the reload rules.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgssl_testkit::*;

const PASS: &str = "secret1";
/// The passphrase the refusal tests give; the key is encrypted so that it fails as
/// `bad decrypt` every time.
const WRONG: &str = "wrong";

fn protected() -> (Data, Identity) {
    let id = Identity::self_signed("localhost", ec_key());
    let data = Data::with(&id);
    data.write_mode("server.key", &id.encrypted_key_pem(PASS, WRONG), 0o600);
    (data, id)
}

#[test]
fn command_supplies_the_passphrase() {
    let (data, _) = protected();
    let server = Spawn::with(&["ssl=on", "ssl_passphrase_command=echo secret1"])
        .start(&data)
        .running();
    server.tls(|_| {}).expect("handshake");
    // %p is the prompt, %% a percent sign.
    let check = "ssl_passphrase_command=test \"%p\" = \"Enter PEM pass phrase:\" && test 100%% = 100% && echo secret1";
    Spawn::with(&["ssl=on", check]).start(&data).running();
}

#[test]
fn wrong_passphrase_and_failing_command_refuse_to_start() {
    let (data, _) = protected();
    let log = Spawn::with(&["ssl=on", &format!("ssl_passphrase_command=echo {WRONG}")])
        .start(&data)
        .refused();
    assert_log_ends_with(
        &log,
        &["FATAL:  could not load private key file \"server.key\": bad decrypt"],
    );
    let log = Spawn::with(&["ssl=on", "ssl_passphrase_command=false"])
        .start(&data)
        .refused();
    assert_log_ends_with(
        &log,
        &[
            "FATAL:  command \"false\" failed",
            "DETAIL:  child process exited with exit code 1",
        ],
    );
}

#[test]
fn no_terminal_and_no_command_refuses_to_start() {
    let (data, _) = protected();
    // setsid: no controlling terminal; stdin is /dev/null, so OpenSSL reads nothing.
    // OpenSSL 3 prompts twice on stderr, reads an empty passphrase and fails (as 15 does).
    let log = Spawn::with(&["ssl=on"]).start(&data).refused();
    assert_eq!(
        log.iter()
            .filter(|l| l.contains("Enter PEM pass phrase:"))
            .count(),
        2,
        "{log:?}"
    );
    assert_log_ends_with(
        &log,
        &["FATAL:  could not load private key file \"server.key\": processing error"],
    );
}

/// A pseudo-terminal: (master, slave).
fn openpty() -> (OwnedFd, OwnedFd) {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors into the locals; the other arguments may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

#[test]
fn terminal_prompt_waits_for_the_passphrase() {
    let (data, _) = protected();
    let (master, slave) = openpty();
    let mut cmd = Spawn::with(&["ssl=on"]).command(data.path());
    cmd.stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave));
    // SAFETY: setsid and ioctl are async-signal-safe; fd 0 is the pty's slave side.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            if libc::ioctl(0, libc::TIOCSCTTY as _, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn under a pty");
    let output = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&output);
    let mut reader = File::from(master.try_clone().unwrap());
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let wait_for = |needle: &str| {
        let start = Instant::now();
        while !output.lock().unwrap().contains(needle) {
            assert!(
                start.elapsed() < TIMEOUT,
                "no {needle:?} on the terminal:\n{}",
                output.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_for("Enter PEM pass phrase:");
    // The server does not start until the passphrase is entered.
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().unwrap().is_none());
    assert!(
        !output
            .lock()
            .unwrap()
            .contains("ready to accept connections")
    );
    let mut writer = File::from(master);
    writer.write_all(format!("{PASS}\n").as_bytes()).unwrap();
    wait_for("ready to accept connections");
    let text = output.lock().unwrap().clone();
    assert!(!text.contains(PASS), "the passphrase was echoed:\n{text}");
    let port: u16 = text
        .lines()
        .find_map(|l| l.split("port ").nth(1)?.trim().parse().ok())
        .expect("port in log");
    let _ = writer.as_raw_fd();
    // SAFETY: kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let _ = child.wait();
    assert!(port > 0);
}

#[test]
fn reload_of_a_protected_key_follows_supports_reload() {
    let (data, _) = protected();
    // No command at reload (the key was typed at start): the reload is refused.
    let server = Spawn::with(&[
        "ssl=on",
        "pgssl.profile=15",
        "ssl_passphrase_command=echo secret1",
    ])
    .start(&data)
    .running();
    let log = server.reload();
    assert!(
        log.windows(2).any(|w| w
            == [
                "LOG:  private key file \"server.key\" cannot be reloaded because it requires a passphrase",
                "LOG:  SSL configuration was not reloaded"
            ]),
        "{log:#?}"
    );
    server.tls(|_| {}).expect("old context still works");
    drop(server);
    // With supports_reload the command runs again and the reload succeeds.
    let server = Spawn::with(&[
        "ssl=on",
        "pgssl.profile=18",
        "ssl_passphrase_command=echo secret1",
        "ssl_passphrase_command_supports_reload=on",
    ])
    .start(&data)
    .running();
    let log = server.reload();
    assert!(!log.iter().any(|l| l.contains("not reloaded")), "{log:#?}");
    assert_eq!(
        log[0],
        "LOG:  received SIGHUP, reloading configuration files"
    );
}
