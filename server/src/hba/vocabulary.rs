//! The vocabulary of pg_hba.conf: connection types, authentication methods, client
//! certificate options, and which optional methods the emulated build has.

/// Connection type (first field of a pg_hba.conf row).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnType {
    Local,
    Host,
    HostSsl,
    HostNoSsl,
    HostGssEnc,
    HostNoGssEnc,
}

impl ConnType {
    pub fn keyword(self) -> &'static str {
        match self {
            ConnType::Local => "local",
            ConnType::Host => "host",
            ConnType::HostSsl => "hostssl",
            ConnType::HostNoSsl => "hostnossl",
            ConnType::HostGssEnc => "hostgssenc",
            ConnType::HostNoGssEnc => "hostnogssenc",
        }
    }

    pub fn from_keyword(s: &str) -> Option<ConnType> {
        Some(match s {
            "local" => ConnType::Local,
            "host" => ConnType::Host,
            "hostssl" => ConnType::HostSsl,
            "hostnossl" => ConnType::HostNoSsl,
            "hostgssenc" => ConnType::HostGssEnc,
            "hostnogssenc" => ConnType::HostNoGssEnc,
            _ => return None,
        })
    }
}

/// Authentication method. All are parsed; the server implements only
/// `trust`, `reject`, `password` and `cert` (see [`AuthMethod::is_implemented`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthMethod {
    Trust,
    Reject,
    Password,
    Md5,
    ScramSha256,
    Cert,
    Gss,
    Sspi,
    Ident,
    Peer,
    Ldap,
    Radius,
    Pam,
    Bsd,
    /// 8.4 only (removed in 9.4).
    Krb5,
    /// 18 only.
    OAuth,
}

impl AuthMethod {
    /// Name as written in pg_hba.conf and as printed by `hba_authname()`.
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Trust => "trust",
            AuthMethod::Reject => "reject",
            AuthMethod::Password => "password",
            AuthMethod::Md5 => "md5",
            AuthMethod::ScramSha256 => "scram-sha-256",
            AuthMethod::Cert => "cert",
            AuthMethod::Gss => "gss",
            AuthMethod::Sspi => "sspi",
            AuthMethod::Ident => "ident",
            AuthMethod::Peer => "peer",
            AuthMethod::Ldap => "ldap",
            AuthMethod::Radius => "radius",
            AuthMethod::Pam => "pam",
            AuthMethod::Bsd => "bsd",
            AuthMethod::Krb5 => "krb5",
            AuthMethod::OAuth => "oauth",
        }
    }

    pub fn from_name(s: &str) -> Option<AuthMethod> {
        ALL_METHODS.iter().copied().find(|m| m.name() == s)
    }

    /// Whether pgssl-server actually implements the method's exchange.
    pub fn is_implemented(self) -> bool {
        matches!(
            self,
            AuthMethod::Trust | AuthMethod::Reject | AuthMethod::Password | AuthMethod::Cert
        )
    }
}

const ALL_METHODS: &[AuthMethod] = &[
    AuthMethod::Trust,
    AuthMethod::Reject,
    AuthMethod::Password,
    AuthMethod::Md5,
    AuthMethod::ScramSha256,
    AuthMethod::Cert,
    AuthMethod::Gss,
    AuthMethod::Sspi,
    AuthMethod::Ident,
    AuthMethod::Peer,
    AuthMethod::Ldap,
    AuthMethod::Radius,
    AuthMethod::Pam,
    AuthMethod::Bsd,
    AuthMethod::Krb5,
    AuthMethod::OAuth,
];

/// Client certificate verification level (`clientcert`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ClientCertMode {
    #[default]
    Off,
    VerifyCa,
    VerifyFull,
}

/// Which certificate field is compared with the user (`clientname`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ClientCertName {
    #[default]
    Cn,
    Dn,
}

/// Which optional features the emulated PostgreSQL build has. Methods whose
/// feature is off fail with `invalid authentication method "x": not supported
/// by this build`. Defaults to everything on ("parse all").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildFeatures {
    pub gssapi: bool,
    pub sspi: bool,
    pub pam: bool,
    pub bsd_auth: bool,
    pub ldap: bool,
    pub krb5: bool,
}

impl BuildFeatures {
    pub const ALL: BuildFeatures = BuildFeatures {
        gssapi: true,
        sspi: true,
        pam: true,
        bsd_auth: true,
        ldap: true,
        krb5: true,
    };

    pub(super) fn supports(&self, m: AuthMethod) -> bool {
        match m {
            AuthMethod::Gss => self.gssapi,
            AuthMethod::Sspi => self.sspi,
            AuthMethod::Pam => self.pam,
            AuthMethod::Bsd => self.bsd_auth,
            AuthMethod::Ldap => self.ldap,
            AuthMethod::Krb5 => self.krb5,
            _ => true,
        }
    }
}

impl Default for BuildFeatures {
    fn default() -> Self {
        BuildFeatures::ALL
    }
}
