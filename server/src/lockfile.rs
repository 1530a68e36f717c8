//! The Unix socket's lock file, `.s.PGSQL.<port>.lock`, as PostgreSQL's `CreateSocketLockFile`
//! and `CreateLockFile` (`src/backend/utils/init/miscinit.c`) keep it: taken before the socket
//! file is touched, so a second server on the same port and directory refuses to start instead
//! of deleting a live server's socket; a lock left by a dead process is taken over; the file is
//! removed when the server stops.
//!
//! The file holds the five lines PostgreSQL writes into both of its lock files: the server's
//! process id, its data directory, its start time (Unix seconds), the port and the socket
//! directory. PostgreSQL creates the file with `O_EXCL` and then writes it, so a crash in
//! between leaves an empty lock that stops the next start (`lock file "…" is empty`). pgssl
//! writes the content to a file of its own first and links it into place (`link` fails with
//! `EEXIST` exactly as `O_EXCL` does), so the lock appears whole or not at all; an empty or
//! malformed lock found anyway is refused with PostgreSQL's messages.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, strerror};

/// How often a lock found stale is removed and creation retried before giving up: PostgreSQL's
/// `ntries > 100`.
const MAX_TRIES: u32 = 100;

/// What the lock file records.
pub(crate) struct LockContent<'a> {
    /// The data directory.
    pub data_directory: &'a Path,
    /// The port.
    pub port: u16,
    /// The directory holding the socket.
    pub socket_directory: &'a Path,
}

/// A socket lock file this process holds; removed when dropped.
#[derive(Debug)]
pub(crate) struct SocketLock {
    path: PathBuf,
}

impl SocketLock {
    /// Takes the lock for the Unix socket at `socket`, as `CreateSocketLockFile` does: creates
    /// `<socket>.lock`; if one exists and names a live process other than this one or its
    /// parent, the server cannot start; if it names a dead one, it is removed and taken over.
    pub(crate) fn acquire(socket: &Path, content: &LockContent<'_>) -> Result<Self, Error> {
        let mut name = socket.as_os_str().to_owned();
        name.push(".lock");
        let path = PathBuf::from(name);
        let text = format!(
            "{}\n{}\n{}\n{}\n{}\n",
            std::process::id(),
            std::path::absolute(content.data_directory)
                .unwrap_or_else(|_| content.data_directory.to_path_buf())
                .display(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            content.port,
            content.socket_directory.display(),
        );
        let own = std::process::id();
        // SAFETY: getppid has no preconditions and cannot fail.
        let parent = unsafe { libc::getppid() };
        let mut tries = 0;
        loop {
            match publish(&path, &text) {
                Ok(()) => return Ok(Self { path }),
                Err(Publish::Write(e)) => return Err(lock_io("write", &path, &e)),
                Err(Publish::Create(e)) => {
                    let exists = e.kind() == ErrorKind::AlreadyExists
                        || e.raw_os_error() == Some(libc::EACCES);
                    if !exists || tries > MAX_TRIES {
                        return Err(lock_io("create", &path, &e));
                    }
                }
            }
            tries += 1;
            let found = match fs::read(&path) {
                Ok(bytes) => bytes,
                // Removed since: try again.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(lock_io("read", &path, &e)),
            };
            let owner = Owner::parse(&found).map_err(|problem| match problem {
                Malformed::Empty => Error::LockFileEmpty { path: path.clone() },
                Malformed::Bogus => Error::LockFileBogus {
                    path: path.clone(),
                    content: String::from_utf8_lossy(&found).into_owned(),
                },
            })?;
            let other = owner.pid();
            if i64::from(other) != i64::from(own) && other != parent && is_alive(other) {
                return Err(Error::LockFileExists {
                    path,
                    encoded_pid: owner.0,
                    socket: socket.to_path_buf(),
                });
            }
            // The creating process is gone: the lock is stale.
            if let Err(e) = fs::remove_file(&path)
                && e.kind() != ErrorKind::NotFound
            {
                return Err(Error::LockFileRemove {
                    path,
                    reason: strerror(&e),
                });
            }
        }
    }

    /// The lock file's path.
    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

enum Publish {
    /// The lock could not be created (`EEXIST`: someone holds it).
    Create(std::io::Error),
    /// The content could not be written.
    Write(std::io::Error),
}

/// Writes `text` to a private file beside `path`, then links it to `path`, which fails if
/// `path` exists; the private name is removed either way.
fn publish(path: &Path, text: &str) -> Result<(), Publish> {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{}.tmp", std::process::id()));
    let partial = PathBuf::from(name);
    let written = (|| {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)
            .map_err(Publish::Create)?;
        file.write_all(text.as_bytes())
            .and_then(|()| File::sync_all(&file))
            .map_err(Publish::Write)
    })();
    let linked = written.and_then(|()| fs::hard_link(&partial, path).map_err(Publish::Create));
    let _ = fs::remove_file(&partial);
    linked
}

/// The process id a lock file names, as PostgreSQL reads it (`atoi` of the first line; a
/// negative one is a standalone `postgres`, not a postmaster).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Owner(i32);

#[derive(Debug, PartialEq, Eq)]
enum Malformed {
    /// No bytes at all.
    Empty,
    /// No positive process id.
    Bogus,
}

impl Owner {
    fn parse(bytes: &[u8]) -> Result<Self, Malformed> {
        if bytes.is_empty() {
            return Err(Malformed::Empty);
        }
        let encoded = atoi(bytes);
        if encoded == 0 || encoded == i32::MIN {
            return Err(Malformed::Bogus);
        }
        Ok(Self(encoded))
    }

    fn pid(self) -> libc::pid_t {
        self.0.abs()
    }
}

/// C's `atoi`: leading white space, an optional sign, then digits; 0 when there are none.
fn atoi(bytes: &[u8]) -> i32 {
    let mut rest = bytes
        .iter()
        .skip_while(|b| b" \t\n\x0b\x0c\r".contains(b))
        .peekable();
    let negative = match rest.peek() {
        Some(b'-') => {
            rest.next();
            true
        }
        Some(b'+') => {
            rest.next();
            false
        }
        _ => false,
    };
    let mut value: i64 = 0;
    for b in rest.take_while(|b| b.is_ascii_digit()) {
        value = (value * 10 + i64::from(b - b'0')).min(i64::from(i32::MAX) + 1);
    }
    let value = if negative { -value } else { value };
    i32::try_from(value).unwrap_or(i32::MIN)
}

/// PostgreSQL's test: `kill(pid, 0) == 0 || (errno != ESRCH && errno != EPERM)`. A process of
/// another user (`EPERM`) cannot be this server's predecessor, so it counts as gone.
fn is_alive(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    if unsafe { libc::kill(pid, 0) } == 0 {
        return true;
    }
    !matches!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::ESRCH | libc::EPERM)
    )
}

fn lock_io(action: &'static str, path: &Path, e: &std::io::Error) -> Error {
    Error::LockFileIo {
        action,
        path: path.to_path_buf(),
        reason: strerror(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(dir: &Path) -> LockContent<'_> {
        LockContent {
            data_directory: dir,
            port: 5432,
            socket_directory: dir,
        }
    }

    #[test]
    fn the_pid_is_read_as_atoi_reads_it() {
        assert_eq!(Owner::parse(b"4242\n/data\n"), Ok(Owner(4242)));
        assert_eq!(Owner::parse(b"  -17x"), Ok(Owner(-17)));
        assert_eq!(Owner::parse(b""), Err(Malformed::Empty));
        assert_eq!(Owner::parse(b"\n"), Err(Malformed::Bogus));
        assert_eq!(Owner::parse(b"pid"), Err(Malformed::Bogus));
        assert_eq!(Owner(-17).pid(), 17);
    }

    #[test]
    fn a_lock_is_written_whole_and_removed_when_dropped() {
        let dir = tempfile::tempdir().expect("dir");
        let socket = dir.path().join(".s.PGSQL.5432");
        let lock = SocketLock::acquire(&socket, &content(dir.path())).expect("lock");
        let text = fs::read_to_string(lock.path()).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text:?}");
        assert_eq!(lines[0], std::process::id().to_string());
        assert_eq!(lines[3], "5432");
        let path = lock.path().to_path_buf();
        drop(lock);
        assert!(!path.exists());
        assert_eq!(fs::read_dir(dir.path()).expect("list").count(), 0);
    }

    #[test]
    fn a_live_owner_keeps_its_lock_and_empty_or_bogus_locks_stop_the_start() {
        let dir = tempfile::tempdir().expect("dir");
        let socket = dir.path().join(".s.PGSQL.5432");
        let lock = dir.path().join(".s.PGSQL.5432.lock");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep");
        fs::write(&lock, format!("{}\n", child.id())).expect("write");
        let err = SocketLock::acquire(&socket, &content(dir.path())).expect_err("live owner");
        let _ = child.kill();
        let _ = child.wait();
        let hint = format!(
            "HINT:  Is another postmaster (PID {}) using socket file \"{}\"?",
            child.id(),
            socket.display()
        );
        assert_eq!(
            err.log_record().lines(),
            [
                format!("FATAL:  lock file \"{}\" already exists", lock.display()),
                hint
            ]
        );
        fs::write(&lock, "").expect("write");
        let err = SocketLock::acquire(&socket, &content(dir.path())).expect_err("empty");
        assert!(matches!(err, Error::LockFileEmpty { .. }), "{err}");
        fs::write(&lock, "garbage").expect("write");
        let err = SocketLock::acquire(&socket, &content(dir.path())).expect_err("bogus");
        assert_eq!(
            err.to_string(),
            format!(
                "bogus data in lock file \"{}\": \"garbage\"",
                lock.display()
            )
        );
        assert!(lock.exists());
    }

    #[test]
    fn a_lock_of_this_very_process_is_stale() {
        let dir = tempfile::tempdir().expect("dir");
        let socket = dir.path().join(".s.PGSQL.5432");
        let lock = dir.path().join(".s.PGSQL.5432.lock");
        fs::write(&lock, format!("{}\n", std::process::id())).expect("write");
        let taken = SocketLock::acquire(&socket, &content(dir.path())).expect("taken over");
        assert_eq!(taken.path(), lock);
    }
}
