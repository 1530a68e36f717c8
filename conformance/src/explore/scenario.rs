//! Scenarios: one server set-up and one client connection, drawn at random by the strategies
//! in `explore::strategy` and turned into an ordinary conformance case (`Scenario::to_case`),
//! so generated scenarios run through the same set-up, steps, traces and targets as the
//! catalogue.

use std::collections::BTreeMap;
use std::fmt;

use crate::case::{
    Case, CertKind, Expectation, FileOp, LibpqStep, Owner, Packet, PacketSpec, Setup, SslMode,
    Step, TlsStep, Version,
};
use crate::model::TlsProtocol;

/// One generated scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// The version whose rules apply.
    pub version: Version,
    /// The data directory and settings.
    pub server: ServerSide,
    /// The connection.
    pub client: ClientSide,
}

/// An OpenSSL configuration that lowers the default security level to 0.
const OPENSSL_CNF_SECLEVEL0: &str = "openssl_conf = openssl_init\n\n[openssl_init]\nssl_conf = ssl_sect\n\n[ssl_sect]\nsystem_default = system_default_sect\n\n[system_default_sect]\nCipherString = DEFAULT@SECLEVEL=0\n";

/// The server certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerCert {
    /// The harness's self-signed certificate for `localhost`, with a fresh key of this type.
    Generated(CertKind),
    /// The test PKI's `server-cn-only` (RSA, CN `common-name.pg-ssltest.test`, issued by the
    /// server CA, so `root+server_ca.crt` verifies it).
    Pki,
}

impl ServerCert {
    /// The certificate's key type.
    pub fn kind(self) -> CertKind {
        match self {
            Self::Generated(kind) => kind,
            Self::Pki => CertKind::Rsa,
        }
    }
}

/// How a file is present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileState {
    /// Present and well-formed.
    Valid,
    /// Absent.
    Missing,
    /// Present but not PEM.
    Garbage,
}

/// The private key file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFile {
    /// The certificate's own key.
    Matching,
    /// Absent.
    Missing,
    /// Not a key.
    Garbage,
    /// A key that does not belong to the certificate (the certificate is replaced by the PKI's
    /// RSA `server-cn-only.crt`; only with a generated certificate).
    Mismatched,
    /// The PKI's passphrase-protected copy of the certificate's key (only with the PKI
    /// certificate), unlocked as given.
    Protected(Passphrase),
    /// A directory where the key belongs.
    Directory,
}

/// How a protected key's passphrase is supplied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Passphrase {
    /// `ssl_passphrase_command = 'echo secret1'`.
    Right,
    /// `ssl_passphrase_command = 'echo wrongpassword'`.
    Wrong,
    /// `ssl_passphrase_command = 'false'`.
    CommandFails,
    /// No command and no terminal.
    None,
}

/// Who owns the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOwner {
    /// The server's user.
    Server,
    /// root, with the server's group.
    Root,
    /// Neither (`nobody`).
    Other,
}

/// `ssl_ciphers`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerCiphers {
    /// `HIGH:!aNULL`.
    High,
    /// Two TLS 1.2 AES-128 GCM suites, one per key type.
    Aes128Pair,
    /// `NULL-SHA` (no encryption; refused by OpenSSL's default security level).
    Null,
    /// `NULL-SHA:@SECLEVEL=0`.
    NullSeclevel0,
    /// `bogus`: names no cipher.
    Bogus,
}

impl ServerCiphers {
    /// The setting's value.
    pub fn value(self) -> &'static str {
        match self {
            Self::High => "HIGH:!aNULL",
            Self::Aes128Pair => "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256",
            Self::Null => "NULL-SHA",
            Self::NullSeclevel0 => "NULL-SHA:@SECLEVEL=0",
            Self::Bogus => "bogus",
        }
    }
}

/// The key-exchange setting's value (`ssl_ecdh_curve` before 18, `ssl_groups` in 18).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Groups {
    /// `secp384r1`.
    Secp384r1,
    /// `X25519` (not an EC curve for `ssl_ecdh_curve`).
    X25519,
    /// `X25519:prime256v1` (18's default; a list, so 18 only).
    X25519P256,
    /// `bogus`.
    Bogus,
}

impl Groups {
    /// The setting's value.
    pub fn value(self) -> &'static str {
        match self {
            Self::Secp384r1 => "secp384r1",
            Self::X25519 => "X25519",
            Self::X25519P256 => "X25519:prime256v1",
            Self::Bogus => "bogus",
        }
    }
}

/// A pg_hba.conf row type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// `local`.
    Local,
    /// `host`.
    Host,
    /// `hostssl`.
    HostSsl,
    /// `hostnossl`.
    HostNoSsl,
    /// `hostgssenc` (12+): GSSAPI-encrypted TCP connections only, so never here.
    HostGssEnc,
    /// `hostnogssenc` (12+): TCP connections without GSSAPI encryption.
    HostNoGssEnc,
}

/// A pg_hba.conf method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `trust`.
    Trust,
    /// `reject`.
    Reject,
    /// `cert`.
    Cert,
}

/// The `clientcert` option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCertOption {
    /// `clientcert=verify-ca` (`clientcert=1` in 8.4).
    VerifyCa,
    /// `clientcert=verify-full` (12+).
    VerifyFull,
}

/// The `clientname` option (14+): which part of the certificate is the user name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientName {
    /// `clientname=CN`.
    Cn,
    /// `clientname=DN`: the subject in RFC 2253 form.
    Dn,
}

/// One pg_ident.conf line of map `m`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdentLine {
    /// The system user name: exact, or a regular expression after `/`.
    pub system: &'static str,
    /// The database user it may log in as.
    pub user: &'static str,
}

/// One pg_hba.conf row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HbaRow {
    /// Connection type.
    pub kind: RowKind,
    /// `all`, `sameuser` or a database name.
    pub database: &'static str,
    /// `all` or a user name.
    pub user: &'static str,
    /// Address (not for `local`).
    pub address: &'static str,
    /// Method.
    pub method: Method,
    /// Option.
    pub clientcert: Option<ClientCertOption>,
    /// `clientname=` (cert rows, 15 and 18).
    pub clientname: Option<ClientName>,
    /// `map=m` (cert rows).
    pub map: bool,
}

impl HbaRow {
    /// The row as pg_hba.conf spells it for `version`.
    pub fn line(&self, version: Version) -> String {
        let kind = match self.kind {
            RowKind::Local => "local",
            RowKind::Host => "host",
            RowKind::HostSsl => "hostssl",
            RowKind::HostNoSsl => "hostnossl",
            RowKind::HostGssEnc => "hostgssenc",
            RowKind::HostNoGssEnc => "hostnogssenc",
        };
        let method = match self.method {
            Method::Trust => "trust",
            Method::Reject => "reject",
            Method::Cert => "cert",
        };
        let mut line = match self.kind {
            RowKind::Local => format!("{kind} {} {} {method}", self.database, self.user),
            _ => format!(
                "{kind} {} {} {} {method}",
                self.database, self.user, self.address
            ),
        };
        if let Some(option) = self.clientcert {
            let value = match option {
                ClientCertOption::VerifyCa => {
                    crate::model::expectations(version).clientcert_verify_ca
                }
                ClientCertOption::VerifyFull => "verify-full",
            };
            line.push_str(&format!(" clientcert={value}"));
        }
        if let Some(name) = self.clientname {
            line.push_str(match name {
                ClientName::Cn => " clientname=CN",
                ClientName::Dn => " clientname=DN",
            });
        }
        if self.map {
            line.push_str(" map=m");
        }
        line
    }
}

/// The server side of a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSide {
    /// `ssl`.
    pub ssl: bool,
    /// The certificate.
    pub cert: ServerCert,
    /// Whether `server.crt` is there.
    pub cert_file: FileState,
    /// `server.key`.
    pub key: KeyFile,
    /// The key's mode.
    pub key_mode: u32,
    /// The key's owner.
    pub key_owner: KeyOwner,
    /// The CA file: `ssl_ca_file` (9.2+; `Missing` names a file that is not there) or the
    /// seed's implicit `root.crt`.
    pub ca: Option<FileState>,
    /// The CRL: `ssl_crl_file` or the seed's implicit `root.crl`.
    pub crl: Option<FileState>,
    /// `ssl_ciphers` (default when `None`).
    pub ciphers: Option<ServerCiphers>,
    /// `ssl_ecdh_curve` / `ssl_groups` (default when `None`).
    pub groups: Option<Groups>,
    /// The server runs with `OPENSSL_CONF` naming a file that lowers OpenSSL's security
    /// level to 0 (`CipherString = DEFAULT@SECLEVEL=0`).
    pub openssl_seclevel0: bool,
    /// `ssl_min_protocol_version`.
    pub min_tls: Option<TlsProtocol>,
    /// `ssl_max_protocol_version`.
    pub max_tls: Option<TlsProtocol>,
    /// pg_hba.conf.
    pub hba: Vec<HbaRow>,
    /// pg_ident.conf: the lines of map `m`.
    pub ident: Vec<IdentLine>,
}

/// A client certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCert {
    /// `client.crt`: CN `ssltestuser`, issued by the client CA.
    Good,
    /// `client-revoked.crt`: CN `ssltestuser`, revoked in `root+client.crl`.
    Revoked,
    /// `server-cn-only.crt`: from the server CA, which the server's CA file does not hold.
    UnknownCa,
}

impl ClientCert {
    /// The PKI certificate and key files.
    pub fn files(self) -> (&'static str, &'static str) {
        match self {
            Self::Good => ("client.crt", "client.key"),
            Self::Revoked => ("client-revoked.crt", "client-revoked.key"),
            Self::UnknownCa => ("server-cn-only.crt", "server-cn-only.key"),
        }
    }
}

/// A client's TLS options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// Lowest version offered.
    pub min: Option<TlsProtocol>,
    /// Highest version offered.
    pub max: Option<TlsProtocol>,
    /// TLS 1.2 cipher list.
    pub ciphers: Option<&'static str>,
    /// ALPN protocols offered.
    pub alpn: Option<Vec<&'static str>>,
    /// Client certificate.
    pub cert: Option<ClientCert>,
    /// Root the server certificate is verified against (verify-ca, verify-full).
    pub root: Option<&'static str>,
    /// Host name the certificate must carry (verify-full).
    pub host: Option<&'static str>,
}

impl ClientTls {
    /// Whether ALPN `postgresql` is offered.
    pub fn offers_postgresql(&self) -> bool {
        self.alpn
            .as_ref()
            .is_some_and(|a| a.contains(&"postgresql"))
    }

    fn step(&self, only_after_s: bool) -> TlsStep {
        TlsStep {
            alpn: self
                .alpn
                .as_ref()
                .map(|a| a.iter().map(|p| (*p).to_owned()).collect()),
            min: self.min.map(|v| v.name().to_owned()),
            max: self.max.map(|v| v.name().to_owned()),
            ciphers: self.ciphers.map(str::to_owned),
            cert: self.cert.map(|c| {
                let (crt, key) = c.files();
                (crt.to_owned(), key.to_owned())
            }),
            verify: self.root.map(str::to_owned),
            verify_host: self.host.map(str::to_owned),
            only_after_s,
            ..TlsStep::default()
        }
    }
}

/// How the first bytes are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteMode {
    /// One write per packet.
    Whole,
    /// The first packet split after its third byte.
    Split,
    /// SSLRequest and StartupMessage in one write (W4).
    Pipelined,
    /// An SSLRequest with four extra bytes, which its length word counts (W6).
    Padded,
}

/// What the client asks for before its startup packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encryption {
    /// Nothing: a plaintext startup.
    Plain,
    /// An SSLRequest; a handshake if the answer is S.
    SslRequest,
    /// A TLS ClientHello straight away (direct SSL).
    Direct,
}

/// How the client connects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connect {
    /// libpq's sequence for an sslmode.
    Libpq(SslMode),
    /// A raw client.
    Raw(Encryption, WriteMode),
    /// Over the Unix-domain socket: an SSLRequest, then the startup packet.
    Unix,
}

/// The client side of a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientSide {
    /// How it connects.
    pub connect: Connect,
    /// TLS options.
    pub tls: ClientTls,
    /// User name.
    pub user: &'static str,
    /// Database name.
    pub database: &'static str,
}

impl ClientSide {
    fn startup(&self) -> Packet {
        Packet::Detailed(PacketSpec::Startup {
            version: None,
            params: Some(vec![
                ("user".to_owned(), self.user.to_owned()),
                ("database".to_owned(), self.database.to_owned()),
            ]),
            no_terminator: false,
            pad_to: None,
        })
    }

    /// The case steps.
    pub fn steps(&self) -> Vec<Step> {
        let startup = self.startup();
        let ssl_request = Packet::Named("ssl_request".to_owned());
        let first_write = |packets: Vec<Packet>, mode: WriteMode| match mode {
            WriteMode::Split => Step::WriteSplit {
                packets,
                at: vec![3],
            },
            _ => Step::Write(packets),
        };
        match self.connect {
            Connect::Libpq(sslmode) => vec![Step::Libpq(LibpqStep {
                sslmode,
                tls: self.tls.step(false),
                user: Some(self.user.to_owned()),
                database: Some(self.database.to_owned()),
            })],
            Connect::Unix => vec![
                Step::ConnectUnix,
                Step::Write(vec![ssl_request]),
                Step::ReadByte,
                Step::Write(vec![startup]),
                Step::Read,
            ],
            Connect::Raw(Encryption::Plain, mode) => {
                vec![first_write(vec![startup], mode), Step::Read]
            }
            Connect::Raw(Encryption::SslRequest, WriteMode::Pipelined) => vec![
                Step::Write(vec![ssl_request, startup]),
                Step::ReadByte,
                Step::Tls(self.tls.step(true)),
                Step::Read,
            ],
            Connect::Raw(Encryption::SslRequest, mode) => vec![
                first_write(
                    vec![if mode == WriteMode::Padded {
                        Packet::Detailed(PacketSpec::SslRequestPadded { extra: 4 })
                    } else {
                        ssl_request
                    }],
                    mode,
                ),
                Step::ReadByte,
                Step::Tls(self.tls.step(true)),
                Step::Write(vec![startup]),
                Step::Read,
            ],
            Connect::Raw(Encryption::Direct, _) => {
                let mut steps = vec![Step::Tls(self.tls.step(false))];
                // Without ALPN postgresql a direct-SSL server closes after the handshake:
                // only read.
                if self.tls.offers_postgresql() {
                    steps.push(Step::Write(vec![startup]));
                }
                steps.push(Step::Read);
                steps
            }
        }
    }
}

impl ServerSide {
    /// Whether the server's CA store is loaded (client certificates are requested), for a
    /// server that started.
    pub fn ca_loaded(&self) -> bool {
        self.ssl && self.ca == Some(FileState::Valid)
    }

    /// The set-up.
    pub fn setup(&self, version: Version) -> Setup {
        let implicit = crate::model::expectations(version).implicit_root_files;
        let mut conf = Vec::new();
        let mut files = Vec::new();
        let pki = |file: &str, to: &str| FileOp::Pki {
            file: file.to_owned(),
            to: to.to_owned(),
        };
        let garbage = |path: &str| FileOp::Write {
            path: path.to_owned(),
            text: "garbage\n".to_owned(),
        };
        if !self.ssl {
            conf.push("ssl = off".to_owned());
        }
        if self.cert == ServerCert::Pki {
            files.push(pki("server-cn-only.crt", "server.crt"));
            files.push(pki("server-cn-only.key", "server.key"));
        }
        match self.cert_file {
            FileState::Valid => {}
            FileState::Missing => files.push(FileOp::Remove("server.crt".to_owned())),
            FileState::Garbage => files.push(garbage("server.crt")),
        }
        match self.key {
            KeyFile::Matching => {}
            KeyFile::Missing => files.push(FileOp::Remove("server.key".to_owned())),
            KeyFile::Garbage => files.push(garbage("server.key")),
            KeyFile::Directory => files.push(FileOp::Dir("server.key".to_owned())),
            KeyFile::Mismatched => {
                if self.cert_file == FileState::Valid {
                    files.push(pki("server-cn-only.crt", "server.crt"));
                }
            }
            KeyFile::Protected(passphrase) => {
                files.push(pki("server-password.key", "server.key"));
                let command = match passphrase {
                    Passphrase::Right => Some("echo secret1"),
                    Passphrase::Wrong => Some("echo wrongpassword"),
                    Passphrase::CommandFails => Some("false"),
                    Passphrase::None => None,
                };
                if let Some(command) = command {
                    conf.push(format!("ssl_passphrase_command = '{command}'"));
                }
            }
        }
        if !matches!(self.key, KeyFile::Missing | KeyFile::Directory) {
            let owner = match self.key_owner {
                KeyOwner::Server => None,
                KeyOwner::Root => Some(Owner::Root),
                KeyOwner::Other => Some(Owner::Nobody),
            };
            if let Some(owner) = owner {
                files.push(FileOp::Chown {
                    path: "server.key".to_owned(),
                    owner,
                });
            }
            if self.key_mode != 0o600 || owner.is_some() {
                files.push(FileOp::Chmod {
                    path: "server.key".to_owned(),
                    mode: format!("{:04o}", self.key_mode),
                });
            }
        }
        // The seed reads root.crt and root.crl from the data directory by itself; 9.2+ need
        // the settings. A missing file is always named by the setting.
        let (ca_name, crl_name, garbage_ca, garbage_crl) = if implicit {
            ("root.crt", "root.crl", "root.crt", "root.crl")
        } else {
            (
                "root+client_ca.crt",
                "root+client.crl",
                "garbage.crt",
                "garbage.crl",
            )
        };
        // The CA file, then the CRL: the setting, the test-PKI file a valid one copies, its
        // name, the garbage file's name, the name a missing one is given.
        let roots = [
            (
                self.ca,
                "ssl_ca_file",
                "root+client_ca.crt",
                ca_name,
                garbage_ca,
                "nonexistent.crt",
            ),
            (
                self.crl,
                "ssl_crl_file",
                "root+client.crl",
                crl_name,
                garbage_crl,
                "nonexistent.crl",
            ),
        ];
        for (state, setting, source, valid, bad, missing) in roots {
            let named = match state {
                None => None,
                Some(FileState::Valid) => {
                    files.push(pki(source, valid));
                    (!implicit).then_some(valid)
                }
                Some(FileState::Garbage) => {
                    files.push(garbage(bad));
                    (!implicit).then_some(bad)
                }
                Some(FileState::Missing) => Some(missing),
            };
            if let Some(name) = named {
                conf.push(format!("{setting} = '{name}'"));
            }
        }
        if let Some(ciphers) = self.ciphers {
            conf.push(format!("ssl_ciphers = '{}'", ciphers.value()));
        }
        if let Some(groups) = self.groups {
            let name = match crate::model::expectations(version).groups {
                crate::model::GroupsSetting::EcdhCurve => "ssl_ecdh_curve",
                crate::model::GroupsSetting::GroupsList => "ssl_groups",
            };
            conf.push(format!("{name} = '{}'", groups.value()));
        }
        if let Some(v) = self.min_tls {
            conf.push(format!("ssl_min_protocol_version = '{}'", v.name()));
        }
        if let Some(v) = self.max_tls {
            conf.push(format!("ssl_max_protocol_version = '{}'", v.name()));
        }
        let mut env = Vec::new();
        if self.openssl_seclevel0 {
            files.push(FileOp::Write {
                path: "openssl.cnf".to_owned(),
                text: OPENSSL_CNF_SECLEVEL0.to_owned(),
            });
            env.push((
                "OPENSSL_CONF".to_owned(),
                "{datadir}/openssl.cnf".to_owned(),
            ));
        }
        Setup {
            conf,
            cert: match self.cert {
                ServerCert::Generated(kind) => kind,
                ServerCert::Pki => CertKind::Rsa,
            },
            files,
            hba: Some(self.hba.iter().map(|r| r.line(version)).collect()),
            ident: self
                .ident
                .iter()
                .map(|l| format!("m \"{}\" {}", l.system, l.user))
                .collect(),
            env,
        }
    }
}

impl Scenario {
    /// The scenario as a case for its version, expecting `expect`.
    pub fn to_case(&self, expect: Expectation, rules: Vec<String>) -> Case {
        let mut expectations = BTreeMap::new();
        expectations.insert(self.version.name().to_owned(), expect);
        Case {
            id: format!("explore/{}", self.slug()),
            rules,
            title: self.to_string(),
            versions: Some(vec![self.version]),
            setup: self.server.setup(self.version),
            steps: self.client.steps(),
            expect: expectations,
            security: None,
        }
    }

    /// A short stable name built from the scenario's content.
    pub fn slug(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        format!("{self:?}").hash(&mut h);
        format!("{}-{:08x}", self.version, h.finish() as u32)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.server;
        let c = &self.client;
        write!(f, "generated: ssl={}", if s.ssl { "on" } else { "off" })?;
        write!(f, ", cert {:?}/{:?}, key {:?}", s.cert, s.cert_file, s.key)?;
        if s.key_mode != 0o600 || s.key_owner != KeyOwner::Server {
            write!(f, " {:04o} {:?}", s.key_mode, s.key_owner)?;
        }
        if let Some(ca) = s.ca {
            write!(f, ", CA {ca:?}")?;
        }
        if let Some(crl) = s.crl {
            write!(f, ", CRL {crl:?}")?;
        }
        if let Some(c) = s.ciphers {
            write!(f, ", ssl_ciphers {}", c.value())?;
        }
        if let Some(g) = s.groups {
            write!(f, ", groups {}", g.value())?;
        }
        if s.openssl_seclevel0 {
            write!(f, ", OPENSSL_CONF at security level 0")?;
        }
        write!(f, ", {} hba rows; client {:?}", s.hba.len(), c.connect)?;
        write!(f, " as {}/{}", c.user, c.database)
    }
}

impl Default for ServerSide {
    /// The harness defaults: ssl on, a generated P-256 certificate, its key at 0600, no CA,
    /// no CRL, default ciphers and range, `host all all 127.0.0.1/32 trust`.
    fn default() -> Self {
        Self {
            ssl: true,
            cert: ServerCert::Generated(CertKind::Ec),
            cert_file: FileState::Valid,
            key: KeyFile::Matching,
            key_mode: 0o600,
            key_owner: KeyOwner::Server,
            ca: None,
            crl: None,
            ciphers: None,
            groups: None,
            openssl_seclevel0: false,
            min_tls: None,
            max_tls: None,
            hba: vec![HbaRow::trust_all()],
            ident: Vec::new(),
        }
    }
}

impl HbaRow {
    /// `host all all 127.0.0.1/32 trust`.
    pub fn trust_all() -> Self {
        Self {
            kind: RowKind::Host,
            database: "all",
            user: "all",
            address: "127.0.0.1/32",
            method: Method::Trust,
            clientcert: None,
            clientname: None,
            map: false,
        }
    }
}

impl ClientSide {
    /// A client connecting as `postgres` to `postgres`, no TLS options.
    pub fn new(connect: Connect) -> Self {
        Self {
            connect,
            tls: ClientTls::default(),
            user: "postgres",
            database: "postgres",
        }
    }
}
