//! A product target's working directory: for each set-up, a private directory laid out like
//! a data directory (certificate, key, `pg_hba.conf`, `pg_ident.conf`, `postgresql.conf`, the
//! case's file changes) and one for its sockets; and the files the mapping reads and writes
//! there.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::case::Setup;
use crate::error::Error;
use crate::setup::{Ids, conf_lines, write_data_directory};
use crate::target::backend::BackendAddr;
use crate::target::spawned;

/// A target's working directory (see [`spawned::target_base`]), forgotten by the Ctrl-C
/// clean-up and removed when dropped.
pub struct Workdir {
    base: tempfile::TempDir,
    counter: AtomicUsize,
}

/// Where a product listens and keeps its files, and where its backend is (`B`, a
/// [`BackendAddr`] for a product in front of PostgreSQL).
#[derive(Clone)]
pub struct Layout<B = ()> {
    /// The directory laid out like a data directory, which also holds the product's
    /// configuration.
    pub dir: PathBuf,
    /// The product's private Unix socket directory.
    pub sockets: PathBuf,
    /// The product's TCP port (0 until it has one).
    pub port: u16,
    /// Its backend.
    pub backend: B,
}

impl Workdir {
    /// A working directory `prefix…`.
    pub fn new(prefix: &str) -> Result<Self, Error> {
        Ok(Self {
            base: spawned::target_base(prefix)?,
            counter: AtomicUsize::new(0),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.base.path()
    }

    /// The directories of the next set-up, both private to `owner`: `conf-N` laid out like a
    /// data directory for `setup` (its `postgresql.conf` holding the set-up's settings only),
    /// and `sock-N` for the sockets; as a layout with no port yet.
    pub fn set_up(&self, setup: &Setup, owner: Ids) -> Result<Layout, Error> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let dir = self.path().join(format!("conf-{n}"));
        let sockets = self.path().join(format!("sock-{n}"));
        private_dir(&dir, owner)?;
        private_dir(&sockets, owner)?;
        let conf = conf_lines(setup).join("\n") + "\n";
        write_data_directory(setup, &dir, owner, Some(&conf))?;
        Ok(Layout {
            dir,
            sockets,
            port: 0,
            backend: (),
        })
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        crate::cleanup::forget_dir(self.base.path());
    }
}

impl<B: Clone> Layout<B> {
    /// The same layout with the product on `port`.
    pub fn at(&self, port: u16) -> Self {
        Self {
            port,
            ..self.clone()
        }
    }

    /// The product's Unix-domain socket, `.s.PGSQL.<port>` in [`Layout::sockets`].
    pub fn socket(&self) -> PathBuf {
        self.sockets.join(format!(".s.PGSQL.{}", self.port))
    }
}

impl Layout {
    /// The same layout, in front of `backend`.
    pub fn behind(self, backend: BackendAddr) -> Layout<BackendAddr> {
        Layout {
            dir: self.dir,
            sockets: self.sockets,
            port: self.port,
            backend,
        }
    }
}

/// A directory of the server's user, private to it.
fn private_dir(path: &Path, owner: Ids) -> Result<(), Error> {
    fs::create_dir(path).map_err(|e| Error::io("creating", path, e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
        .map_err(|e| Error::io("setting permissions on", path, e))?;
    crate::setup::chown_tree(path, owner)
}

/// The file `name` in `dir` as it is now, or why it cannot be read.
pub fn read(dir: &Path, name: &str) -> Result<String, String> {
    let path = dir.join(name);
    fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Writes `text` to `path`, or says why it cannot.
pub fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes `text` to `path` and gives the file to `owner` where the harness can.
pub fn write_owned(path: &Path, text: &str, owner: Ids) -> Result<(), String> {
    write(path, text)?;
    let _ = std::os::unix::fs::chown(path, Some(owner.0), Some(owner.1));
    Ok(())
}

/// Layouts for the mappings' tests.
#[cfg(test)]
pub mod examples {
    use super::*;

    /// `/d`, sockets in `/s`, port 6000.
    pub fn layout() -> Layout {
        Layout {
            dir: "/d".into(),
            sockets: "/s".into(),
            port: 6000,
            backend: (),
        }
    }

    /// [`layout`] in front of a backend in `/b` on port 5000.
    pub fn behind() -> Layout<BackendAddr> {
        layout().behind(BackendAddr {
            socket_dir: "/b".into(),
            port: 5000,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_moved_to_its_port() {
        let at = examples::layout().at(7000);
        assert_eq!((at.dir.as_path(), at.port), (Path::new("/d"), 7000));
        assert_eq!(at.socket(), PathBuf::from("/s/.s.PGSQL.7000"));
        let behind = examples::behind();
        assert_eq!((behind.port, behind.backend.port), (6000, 5000));
        assert_eq!(behind.at(7000).backend.socket_dir, PathBuf::from("/b"));
    }

    #[test]
    fn files_read_and_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.conf");
        write_owned(&path, "text\n", crate::setup::current_ids()).expect("writes");
        assert_eq!(read(dir.path(), "x.conf"), Ok("text\n".to_owned()));
        let why = read(dir.path(), "missing").expect_err("missing");
        assert!(why.starts_with("cannot read "), "{why}");
        let why = write(&dir.path().join("no/such"), "").expect_err("no directory");
        assert!(why.starts_with("cannot write "), "{why}");
    }
}
