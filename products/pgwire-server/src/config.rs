//! The configuration file (TOML): where to listen, whether to log connections, and the TLS
//! settings rustls takes. Unknown settings are errors, so a misspelt name is never ignored.
//!
//! ```toml
//! listen_address = "127.0.0.1"
//! port = 5432
//! unix_socket = "/tmp/.s.PGSQL.5432"   # optional: also serve a Unix-domain socket
//! log_connections = true               # optional, default false
//!
//! [tls]                                # absent: no TLS, every SSLRequest is answered N
//! cert_file = "server.crt"             # PEM, leaf first, intermediates may follow
//! key_file = "server.key"              # PEM: PKCS#8, PKCS#1 (RSA) or SEC1 (EC), unencrypted
//! ca_file = "root.crt"                 # optional: client certificates requested and verified
//! crl_files = ["root.crl"]             # optional: revoked client certificates refused
//! crl_dir = "crls"                     # optional: every file in it read as PEM CRLs at start
//! min_version = "1.2"                  # optional: "1.2" (default) or "1.3"
//! max_version = "1.3"                  # optional: "1.2" or "1.3" (default)
//! groups = ["secp256r1"]               # optional: key-exchange groups, default the provider's
//! prefer_server_ciphers = true         # optional: server's cipher-suite order, default false
//! ```
//!
//! Relative paths are taken from the configuration file's directory.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The IP address to listen on.
    pub listen_address: String,
    /// The TCP port (0: any free port, which the ready line names).
    pub port: u16,
    /// A Unix-domain socket to serve as well (plaintext only, as pgwire serves them).
    #[serde(default)]
    pub unix_socket: Option<PathBuf>,
    /// Log a line for every connection that completes its startup.
    #[serde(default)]
    pub log_connections: bool,
    /// TLS; absent, TLS is off.
    #[serde(default)]
    pub tls: Option<Tls>,
}

/// The `[tls]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// The certificate chain (PEM).
    pub cert_file: PathBuf,
    /// The private key (PEM).
    pub key_file: PathBuf,
    /// Roots that client certificates must chain to; set, a certificate is requested
    /// (not required) and a presented one verified.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// CRL files (PEM).
    #[serde(default)]
    pub crl_files: Vec<PathBuf>,
    /// A directory whose every regular file is PEM CRLs.
    #[serde(default)]
    pub crl_dir: Option<PathBuf>,
    /// The lowest TLS version.
    #[serde(default)]
    pub min_version: Option<String>,
    /// The highest TLS version.
    #[serde(default)]
    pub max_version: Option<String>,
    /// Key-exchange groups by rustls's names (`X25519`, `secp256r1`, ...), in order.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    /// Choose the cipher suite by the server's order rather than the client's.
    #[serde(default)]
    pub prefer_server_ciphers: bool,
}

/// A TLS version rustls can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl TlsVersion {
    /// `"1.2"` or `"1.3"`; anything else is an error naming `setting`.
    pub fn parse(setting: &'static str, value: &str) -> Result<Self, Error> {
        match value {
            "1.2" => Ok(Self::Tls12),
            "1.3" => Ok(Self::Tls13),
            other => Err(Error::BadSetting {
                setting,
                why: format!(
                    "{other:?} is not a TLS version rustls speaks: give \"1.2\" or \"1.3\""
                ),
            }),
        }
    }
}

impl std::fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tls12 => "TLSv1.2",
            Self::Tls13 => "TLSv1.3",
        })
    }
}

impl Config {
    /// Reads and parses `path`; relative paths in it become relative to its directory.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadConfig {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::parse(&text).map_err(|message| Error::ParseConfig {
            path: path.to_owned(),
            message,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve(base);
        Ok(config)
    }

    /// Parses configuration text.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())
    }

    fn resolve(&mut self, base: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(socket) = &mut self.unix_socket {
            join(socket);
        }
        if let Some(tls) = &mut self.tls {
            join(&mut tls.cert_file);
            join(&mut tls.key_file);
            tls.ca_file.iter_mut().for_each(join);
            tls.crl_files.iter_mut().for_each(join);
            tls.crl_dir.iter_mut().for_each(join);
        }
    }
}

impl Tls {
    /// The protocol versions from `min_version` to `max_version` (empty when min is above
    /// max: rustls then refuses the configuration).
    pub fn versions(&self) -> Result<Vec<TlsVersion>, Error> {
        let min = self
            .min_version
            .as_deref()
            .map(|v| TlsVersion::parse("tls.min_version", v))
            .transpose()?
            .unwrap_or(TlsVersion::Tls12);
        let max = self
            .max_version
            .as_deref()
            .map(|v| TlsVersion::parse("tls.max_version", v))
            .transpose()?
            .unwrap_or(TlsVersion::Tls13);
        Ok([TlsVersion::Tls12, TlsVersion::Tls13]
            .into_iter()
            .filter(|v| (min..=max).contains(v))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_and_full_files_parse() {
        let c = Config::parse("listen_address = \"127.0.0.1\"\nport = 5432\n").expect("parses");
        assert!(c.tls.is_none() && !c.log_connections && c.unix_socket.is_none());
        let mut c = Config::parse(
            "listen_address = \"127.0.0.1\"\nport = 0\nunix_socket = \"s/.s.PGSQL.0\"\n\
             [tls]\ncert_file = \"a.crt\"\nkey_file = \"/k/a.key\"\ncrl_files = [\"x.crl\"]\n\
             min_version = \"1.3\"\ngroups = [\"X25519\"]\n",
        )
        .expect("parses");
        c.resolve(Path::new("/d"));
        let tls = c.tls.expect("tls");
        assert_eq!(tls.cert_file, Path::new("/d/a.crt"));
        assert_eq!(tls.key_file, Path::new("/k/a.key"));
        assert_eq!(tls.crl_files, [Path::new("/d/x.crl")]);
        assert_eq!(c.unix_socket.as_deref(), Some(Path::new("/d/s/.s.PGSQL.0")));
        assert_eq!(tls.versions().expect("versions"), [TlsVersion::Tls13]);
    }

    #[test]
    fn unknown_and_wrong_settings_are_named() {
        let why =
            Config::parse("listen_address = \"x\"\nport = 1\nssl = true\n").expect_err("unknown");
        assert!(why.contains("ssl"), "{why}");
        let why = Config::parse("listen_address = \"x\"\nport = 70000\n").expect_err("range");
        assert!(why.contains("port"), "{why}");
    }

    #[test]
    fn version_ranges() {
        let tls = |min: Option<&str>, max: Option<&str>| Tls {
            cert_file: "c".into(),
            key_file: "k".into(),
            ca_file: None,
            crl_files: Vec::new(),
            crl_dir: None,
            min_version: min.map(str::to_owned),
            max_version: max.map(str::to_owned),
            groups: None,
            prefer_server_ciphers: false,
        };
        assert_eq!(
            tls(None, None).versions().expect("ok"),
            [TlsVersion::Tls12, TlsVersion::Tls13]
        );
        assert_eq!(
            tls(None, Some("1.2")).versions().expect("ok"),
            [TlsVersion::Tls12]
        );
        assert!(
            tls(Some("1.3"), Some("1.2"))
                .versions()
                .expect("ok")
                .is_empty()
        );
        let err = tls(Some("1.1"), None).versions().expect_err("1.1");
        assert!(err.to_string().contains("tls.min_version"), "{err}");
    }
}
