//! A product server started for a set-up ([`Launch`]): its configuration written by the
//! product's mapping before it starts, the command it runs as, what its refusal of the default
//! set-up means, and a running server whose reload writes its configuration again.

use std::any::Any;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::workdir::Layout;
use crate::case::Setup;
use crate::error::Error;
use crate::setup::Ids;
use crate::target::spawned::{self, LogDialect};
use crate::target::{Running, Started};

/// The error saying `product` has no equivalent of a set-up (`why`): the case is not
/// applicable to it.
pub fn unmappable(product: &str, why: String) -> Error {
    Error::Unmappable {
        product: product.to_owned(),
        why,
    }
}

/// Makes `command` run in `dir` as `user` (when the harness runs as root), with `setup`'s
/// environment, `{datadir}` in it being `dir`.
fn in_setup(command: &mut Command, user: Option<Ids>, setup: &Setup, dir: &Path) {
    command.current_dir(dir);
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
    for (name, value) in &setup.env {
        command.env(name, value.replace("{datadir}", &dir.display().to_string()));
    }
}

/// `started`, except that `product` refusing the default set-up is its failure, not the
/// case's: the configuration written for it (`config`) should have worked. The error has the
/// last ten lines of its log.
fn refusal_of_default(
    started: Started,
    setup: &Setup,
    product: &str,
    config: &Path,
) -> Result<Started, Error> {
    match started {
        Started::Refused { fatal, log } if setup.is_default() => Err(Error::ProductFailed {
            product: product.to_owned(),
            config: config.to_owned(),
            why: format!(
                "it refused the configuration written for the default set-up ({})",
                fatal.join(" / ")
            ),
            log_tail: log
                .iter()
                .rev()
                .take(10)
                .rev()
                .cloned()
                .collect::<Vec<_>>()
                .join("\n"),
        }),
        started => Ok(started),
    }
}

/// What starting a product server for a set-up takes, but for its mapping and its command
/// (see [`Launch::start`]).
pub struct Launch<'a, B> {
    /// The target's label.
    pub label: String,
    /// How the product's log reads.
    pub log: LogDialect,
    /// The product and its version.
    pub product: &'a str,
    /// Who the server runs as, when the harness runs as root.
    pub user: Option<Ids>,
    /// Who owns the set-up's files: the server's user.
    pub owner: Ids,
    /// The set-up.
    pub setup: &'a Setup,
    /// Where the set-up's files are (no port yet).
    pub layout: Layout<B>,
    /// The configuration file in [`Layout::dir`] the error names when the product refuses
    /// the default set-up.
    pub config: &'static str,
}

impl<B: Clone + Send + Sync + 'static> Launch<'_, B> {
    /// Starts the server. `write` is the mapping: it writes the product's configuration for
    /// a layout from the set-up's files as they are then, or says why the product has no
    /// equivalent; it is called once before any process starts, so an unmappable set-up is
    /// not applicable, then for each port tried, and again on each reload. `command` is the
    /// product's command for a layout and what `write` returned for it; it runs in the
    /// set-up's directory, as the server's user, with the set-up's environment. `running` is
    /// given the running server.
    pub fn start<T>(
        self,
        write: impl Fn(&Layout<B>) -> Result<T, String> + Send + Sync + 'static,
        command: impl Fn(&Layout<B>, T) -> Command,
        running: impl FnOnce(Reconfigured) -> Result<Reconfigured, Error>,
    ) -> Result<Started, Error> {
        let Launch {
            label,
            log,
            product,
            user,
            owner,
            setup,
            layout,
            config,
        } = self;
        write(&layout).map_err(|why| unmappable(product, why))?;
        let make = |port: u16| -> Result<Command, Error> {
            let l = layout.at(port);
            let written = write(&l).map_err(|why| unmappable(product, why))?;
            let mut command = command(&l, written);
            in_setup(&mut command, user, setup, &l.dir);
            Ok(command)
        };
        let started = spawned::start(
            &label,
            log,
            &make,
            layout.dir.clone(),
            layout.sockets.clone(),
            owner,
        )?;
        match refusal_of_default(started, setup, product, &layout.dir.join(config))? {
            Started::Running(inner) => {
                let dir = layout.dir.clone();
                let rewrite: Rewrite = Box::new(move |port| write(&layout.at(port)).map(drop));
                let server = running(Reconfigured::new(inner, dir, owner, product, rewrite))?;
                Ok(Started::Running(Box::new(server)))
            }
            refused => Ok(refused),
        }
    }
}

/// Writes a product's configuration again for the port it listens on.
pub type Rewrite = Box<dyn Fn(u16) -> Result<(), String> + Send + Sync>;

/// A running product: its reload writes its configuration again first. Its log is in its own
/// format, so PostgreSQL's log expectations are not checked against it.
pub struct Reconfigured {
    /// The server, stopped when dropped: before [`Reconfigured::then_dropped`]'s value.
    inner: Box<dyn Running>,
    dir: PathBuf,
    owner: Ids,
    product: String,
    rewrite: Rewrite,
    /// Dropped once the server is stopped; never read.
    _then_dropped: Option<Box<dyn Any + Send + Sync>>,
}

impl Reconfigured {
    /// `inner`, a `product` server whose set-up directory `dir` is `owner`'s, whose reload
    /// calls `rewrite` first.
    pub fn new(
        inner: Box<dyn Running>,
        dir: PathBuf,
        owner: Ids,
        product: &str,
        rewrite: Rewrite,
    ) -> Self {
        Self {
            inner,
            dir,
            owner,
            product: product.to_owned(),
            rewrite,
            _then_dropped: None,
        }
    }

    /// The same server, with `value` dropped after it is stopped (what stops what the server
    /// leaves behind).
    pub fn then_dropped(self, value: impl Any + Send + Sync) -> Self {
        Self {
            _then_dropped: Some(Box::new(value)),
            ..self
        }
    }
}

impl Running for Reconfigured {
    fn addr(&self) -> std::net::SocketAddr {
        self.inner.addr()
    }

    fn log(&self) -> Option<Vec<String>> {
        None
    }

    fn unix_socket(&self) -> Option<PathBuf> {
        self.inner.unix_socket()
    }

    fn datadir(&self) -> Option<(PathBuf, Ids)> {
        Some((self.dir.clone(), self.owner))
    }

    fn reload(&self) -> Result<(), Error> {
        (self.rewrite)(self.inner.addr().port()).map_err(|why| unmappable(&self.product, why))?;
        self.inner.reload()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU16, Ordering};

    use super::*;

    /// A server that is always at 127.0.0.1:6000.
    struct Fake;

    impl Running for Fake {
        fn addr(&self) -> std::net::SocketAddr {
            "127.0.0.1:6000".parse().expect("an address")
        }

        fn log(&self) -> Option<Vec<String>> {
            Some(vec!["LOG:  x".into()])
        }

        fn reload(&self) -> Result<(), Error> {
            Ok(())
        }
    }

    #[test]
    fn a_refused_default_set_up_is_the_product_failing() {
        let refused = || Started::Refused {
            fatal: vec!["FATAL:  a".into(), "FATAL:  b".into()],
            log: (0..12).map(|i| format!("line {i}")).collect(),
        };
        let Err(Error::ProductFailed {
            product,
            config,
            why,
            log_tail,
        }) = refusal_of_default(refused(), &Setup::default(), "P 1", Path::new("/d/p.conf"))
        else {
            panic!("a failure");
        };
        assert_eq!(
            (product.as_str(), config),
            ("P 1", PathBuf::from("/d/p.conf"))
        );
        assert_eq!(
            why,
            "it refused the configuration written for the default set-up (FATAL:  a / FATAL:  b)"
        );
        assert_eq!(log_tail.lines().count(), 10);
        assert!(log_tail.starts_with("line 2\n") && log_tail.ends_with("line 11"));
        let other = Setup {
            conf: vec!["ssl = off".into()],
            ..Setup::default()
        };
        assert!(matches!(
            refusal_of_default(refused(), &other, "P 1", Path::new("/d/p.conf")),
            Ok(Started::Refused { .. })
        ));
    }

    #[test]
    fn a_reload_rewrites_for_the_port_first() {
        let port = Arc::new(AtomicU16::new(0));
        let seen = Arc::clone(&port);
        let server = Reconfigured::new(
            Box::new(Fake),
            "/d".into(),
            (1, 2),
            "P 1",
            Box::new(move |p| {
                seen.store(p, Ordering::Relaxed);
                Ok(())
            }),
        );
        assert_eq!(server.log(), None);
        assert_eq!(server.datadir(), Some((PathBuf::from("/d"), (1, 2))));
        server.reload().expect("reloads");
        assert_eq!(port.load(Ordering::Relaxed), 6000);
        let failing = Reconfigured::new(
            Box::new(Fake),
            "/d".into(),
            (1, 2),
            "P 1",
            Box::new(|_| Err("no".into())),
        );
        assert!(matches!(
            failing.reload(),
            Err(Error::Unmappable { product, why }) if product == "P 1" && why == "no"
        ));
    }

    #[test]
    fn dropped_after_the_server() {
        struct Flag(Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let server = Reconfigured::new(
            Box::new(Fake),
            "/d".into(),
            (1, 2),
            "P 1",
            Box::new(|_| Ok(())),
        )
        .then_dropped(Flag(Arc::clone(&dropped)));
        assert!(!dropped.load(Ordering::Relaxed));
        drop(server);
        assert!(dropped.load(Ordering::Relaxed));
    }
}
