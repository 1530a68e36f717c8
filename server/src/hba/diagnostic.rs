//! What the parser and the ident matcher log: every message ([`HbaError`], verbatim
//! PostgreSQL text), its level ([`LogLevel`]) and the logged record with its HINT and
//! CONTEXT lines ([`Diagnostic`]).

use std::fmt;
use std::fmt::Write as _;

/// The level a message is logged at, as PostgreSQL prints it (`LOG`, `WARNING`, `FATAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogLevel {
    Log,
    Warning,
    Fatal,
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Log => "LOG",
            LogLevel::Warning => "WARNING",
            LogLevel::Fatal => "FATAL",
        })
    }
}
/// Every message the parser (and the ident matcher) can log. `Display` is the
/// verbatim PostgreSQL text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HbaError {
    // tokenizer / files
    #[error("authentication file token too long, skipping: \"{0}\"")]
    TokenTooLong(String),
    #[error("could not open file \"{path}\": {reason}")]
    CouldNotOpenFile { path: String, reason: String },
    #[error("{prefix} \"{path}\": {reason}")]
    CouldNotOpenTopFile {
        prefix: &'static str,
        path: String,
        reason: String,
    },
    #[error("could not open file \"{0}\": maximum nesting depth exceeded")]
    NestingTooDeep(String),
    #[error("could not open secondary authentication file \"@{inc}\" as \"{full}\": {reason}")]
    SecondaryFileOpen {
        inc: String,
        full: String,
        reason: String,
    },
    #[error("skipping missing authentication file \"{0}\"")]
    SkippingMissingFile(String),
    #[error("empty configuration directory name: \"{0}\"")]
    EmptyDirectoryName(String),
    #[error("could not open configuration directory \"{path}\": {reason}")]
    CouldNotOpenDirectory { path: String, reason: String },
    #[error("configuration file \"{0}\" contains no entries")]
    NoEntries(String),
    // connection type
    #[error("multiple values specified for connection type")]
    MultipleConnectionTypes,
    #[error("invalid connection type \"{0}\"")]
    InvalidConnectionType(String),
    #[error("{0}")]
    HostsslSslOff(&'static str),
    #[error("hostgssenc record cannot match because GSSAPI is not supported by this build")]
    HostgssencNotSupported,
    // database / role
    #[error("end-of-line before database specification")]
    EolBeforeDatabase,
    #[error("end-of-line before role specification")]
    EolBeforeRole,
    #[error("invalid regular expression \"{pattern}\": {reason}")]
    InvalidRegex { pattern: String, reason: String },
    // address
    #[error("end-of-line before IP address specification")]
    EolBeforeAddress,
    #[error("multiple values specified for host address")]
    MultipleHostAddresses,
    #[error("invalid IP address \"{addr}\": {reason}")]
    InvalidIpAddress { addr: String, reason: String },
    #[error("specifying both host name and CIDR mask is invalid: \"{0}\"")]
    HostnameWithCidr(String),
    #[error("invalid CIDR mask in address \"{0}\"")]
    InvalidCidrMask(String),
    #[error("end-of-line before netmask specification")]
    EolBeforeNetmask,
    #[error("multiple values specified for netmask")]
    MultipleNetmasks,
    #[error("invalid IP mask \"{mask}\": {reason}")]
    InvalidIpMask { mask: String, reason: String },
    #[error("IP address and mask do not match")]
    AddressMaskMismatch,
    #[error("IP address and mask do not match in file \"{file}\" line {line}")]
    AddressMaskMismatchAt { file: String, line: usize },
    // method
    #[error("end-of-line before authentication method")]
    EolBeforeMethod,
    #[error("multiple values specified for authentication type")]
    MultipleAuthTypes,
    #[error("invalid authentication method \"{0}\"")]
    InvalidAuthMethod(String),
    #[error("invalid authentication method \"{method}\": {suffix}")]
    UnsupportedAuthMethod {
        method: String,
        suffix: &'static str,
    },
    #[error("gssapi authentication is not supported on local sockets")]
    GssOnLocal,
    #[error("krb5 authentication is not supported on local sockets")]
    Krb5OnLocal,
    #[error("peer authentication is only supported on local sockets")]
    PeerNotLocal,
    #[error("cert authentication is only supported on hostssl connections")]
    CertNotHostssl,
    // options
    #[error("authentication option not in name=value format: {0}")]
    OptionNotNameValue(String),
    #[error("{prefix}: \"{name}\"")]
    UnrecognizedOption { prefix: &'static str, name: String },
    #[error("authentication option \"{name}\" is only valid for authentication methods {methods}")]
    OptionInvalidForMethod { name: String, methods: &'static str },
    #[error("clientcert can only be configured for \"hostssl\" rows")]
    ClientCertNotHostssl,
    #[error("invalid value for clientcert: \"{0}\"")]
    InvalidClientCert(String),
    #[error("{0}")]
    ClientCertWithCert(&'static str),
    #[error("clientname can only be configured for \"hostssl\" rows")]
    ClientNameNotHostssl,
    #[error("invalid value for clientname: \"{0}\"")]
    InvalidClientName(String),
    #[error("authentication method \"{method}\" requires argument \"{arg}\" to be set")]
    MissingArgument {
        method: &'static str,
        arg: &'static str,
    },
    #[error("{0}")]
    LdapMixedModes(&'static str),
    #[error(
        "authentication method \"ldap\" requires argument \"ldapbasedn\", \"ldapprefix\", or \"ldapsuffix\" to be set"
    )]
    LdapBaseRequired,
    #[error("cannot use ldapsearchattribute together with ldapsearchfilter")]
    LdapAttributeAndFilter,
    #[error("invalid LDAP port number: \"{0}\"")]
    InvalidLdapPort(String),
    #[error("invalid ldapscheme value: \"{0}\"")]
    InvalidLdapScheme(String),
    #[error("could not parse RADIUS server list \"{0}\"")]
    RadiusServerList(String),
    #[error("could not parse RADIUS port list \"{0}\"")]
    RadiusPortList(String),
    #[error("invalid RADIUS port number: \"{0}\"")]
    InvalidRadiusPort(String),
    #[error("could not parse RADIUS secret list \"{0}\"")]
    RadiusSecretList(String),
    #[error("could not parse RADIUS identifiers list \"{0}\"")]
    RadiusIdentifierList(String),
    #[error(
        "the number of RADIUS {what} ({count}) must be 1 or the same as the number of RADIUS servers ({servers})"
    )]
    RadiusCount {
        what: &'static str,
        count: usize,
        servers: usize,
    },
    #[error("map cannot be used in combination with delegate_ident_mapping")]
    OAuthMapWithDelegation,
    // pg_ident.conf
    #[error("missing entry at end of line")]
    IdentMissingEntry,
    #[error("missing entry in file \"{file}\" at end of line {line}")]
    IdentMissingEntryAt { file: String, line: usize },
    #[error("multiple values in ident field")]
    IdentMultipleValues,
    #[error(
        "regular expression \"{pattern}\" has no subexpressions as requested by backreference in \"{pg_user}\""
    )]
    RegexNoSubexpressions { pattern: String, pg_user: String },
}

/// One logged message: `LOG:  msg` [`HINT:  ..`] [`CONTEXT:  line N of configuration file "f"`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub level: LogLevel,
    /// `true` if this makes the file fail to load (PostgreSQL keeps the old rules).
    pub is_error: bool,
    pub error: HbaError,
    pub hint: Option<&'static str>,
    /// `(file, line)` for the `CONTEXT` line, when PostgreSQL prints one.
    pub context: Option<(String, usize)>,
}

impl Diagnostic {
    pub fn message(&self) -> String {
        self.error.to_string()
    }

    /// The lines PostgreSQL writes to the server log for this message.
    pub fn render(&self) -> String {
        self.to_string()
    }
}

/// [`Diagnostic::render`]'s lines: the message, then its HINT and CONTEXT lines if any.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:  {}", self.level, self.error)?;
        if let Some(h) = self.hint {
            write!(f, "\nHINT:  {h}")?;
        }
        if let Some((file, line)) = &self.context {
            write!(
                f,
                "\nCONTEXT:  line {line} of configuration file \"{file}\""
            )?;
        }
        Ok(())
    }
}

/// All of `diagnostics` as log text, each followed by a newline, into one string.
pub(super) fn render_all(diagnostics: &[Diagnostic]) -> String {
    let mut log = String::with_capacity(diagnostics.len() * 128);
    for d in diagnostics {
        // (Writing to a String cannot fail.)
        let _ = writeln!(log, "{d}");
    }
    log
}
